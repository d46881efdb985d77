// Reads what the core's getters answer. Why a file of its own: the getters that answer text or
// bytes (error, body, headers, reqUrl, reqBody, report, ...) return a length and leave the bytes
// in the wasm module's memory at `core.outPtr()` (bindings/src/lib.rs, `Core::out_ptr`), valid
// until the next call into that core. Returning a String or Vec through wasm-bindgen instead
// costs, per method, a generated wrapper function in the wasm and a generated getter in the glue
// (plus a copy and a free in the module): about 1.2 KB gzip of the default entry (measured).
// metrics.js and flush.js read every answer through these three functions.

/** The instantiated module's memory (set by metrics.js when the module is loaded). */
export let memory = null;

/** @internal */
export function setMemory(m) {
  memory = m;
}

// As the glue decodes: no BOM stripping, invalid UTF-8 replaced (the core only writes valid UTF-8).
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** The `len` bytes `core` answered, copied out of the module's memory. */
export const bytes = (core, len) => new Uint8Array(memory.buffer, core.outPtr(), len).slice();

/** The `len` bytes `core` answered, as text. */
export const text = (core, len) => (len === 0 ? '' : decoder.decode(new Uint8Array(memory.buffer, core.outPtr(), len)));

/** The `len` doubles `core` answered (8-byte aligned), copied out. */
export const doubles = (core, len) => new Float64Array(memory.buffer, core.outPtr(), len).slice();
