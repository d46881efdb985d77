// Node and Bun entry: the wasm file is read and compiled in the background from import on (see
// below), synchronously by the first Metrics when that has not finished yet. Under Node, batches are sent with node:http / node:https instead
// of the global fetch, whose first use in a process loads and starts its HTTP client (undici):
// tens of milliseconds on the first flush of a fresh process (a Lambda cold start). Bun and
// Deno (which may load this entry) keep their own fetch; `options.fetch` always wins.
// Node's built-ins are taken with process.getBuiltinModule (Node >= 20.16, Bun) where it exists:
// a static `import ... from 'node:fs'` alone adds ~1.8 ms to this module's import in a fresh
// process (the ES-module facade of the built-in; measured side by side, Node 20), require()
// through createRequire is the fallback for older Node.
import { createRequire } from 'node:module';
import { initSync } from './edgemetrics_wasm.js';
import { setHostFetch, setLoader } from './metrics.js';

/** A Node built-in module (`node:fs`, `node:http`, ...) without an ES-module import of it. */
function builtin(name) {
  return globalThis.process.getBuiltinModule?.(name) ?? createRequire(import.meta.url)(name);
}

/**
 * The part of `fetch` the flush loop uses, over node:http(s): `(url, { method, headers, body,
 * signal })` resolves to `{ status, headers: { get }, arrayBuffer() }` once the whole response
 * body has arrived; rejects with the abort reason when `signal` aborts, or with Node's socket
 * error (its `code`, e.g. ECONNREFUSED, classifies it).
 */
async function nodeFetch(url, { method = 'GET', headers, body, signal } = {}) {
  const u = new URL(url);
  // Loaded at the first send, only the one needed (node:https brings TLS: not paid at import).
  const { request } = builtin(u.protocol === 'https:' ? 'node:https' : 'node:http');
  return new Promise((resolve, reject) => {
    const h = {};
    if (headers) for (const [k, v] of typeof headers[Symbol.iterator] === 'function' ? headers : Object.entries(headers)) h[k] = v;
    if (body != null) h['content-length'] = String(body.length);
    const req = request(u, { method, headers: h });
    const abort = () => req.destroy(signal.reason ?? new Error('aborted'));
    if (signal) {
      if (signal.aborted) return abort();
      signal.addEventListener('abort', abort, { once: true });
    }
    const done = () => signal?.removeEventListener('abort', abort);
    req.on('error', (e) => {
      done();
      reject(e);
    });
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', (e) => {
        done();
        reject(e);
      });
      res.on('end', () => {
        done();
        const bytes = Buffer.concat(chunks);
        resolve({
          status: res.statusCode,
          headers: { get: (name) => res.headers[name.toLowerCase()] ?? null },
          arrayBuffer: async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
        });
      });
    });
    req.end(body == null ? undefined : body);
  });
}

/** The headers the flush loop builds for nodeFetch: what it uses of `Headers`, without loading Node's fetch. */
class NodeHeaders extends Map {
  set(k, v) {
    return super.set(String(k).toLowerCase(), String(v));
  }
  get(k) {
    return super.get(String(k).toLowerCase()) ?? null;
  }
  has(k) {
    return super.has(String(k).toLowerCase());
  }
  delete(k) {
    return super.delete(String(k).toLowerCase());
  }
}
nodeFetch.Headers = NodeHeaders;

if (!globalThis.Bun && !globalThis.Deno) setHostFetch(nodeFetch);

/** The wasm file next to this module (throws a clear error when it is not there). */
function readWasm() {
  try {
    return builtin('node:fs').readFileSync(new URL('./edgemetrics_wasm_bg.wasm', import.meta.url));
  } catch (e) {
    // Typically a single-file bundle without the .wasm next to it.
    throw new Error(
      `edgemetrics: cannot read edgemetrics_wasm_bg.wasm next to ${import.meta.url} (${e?.code ?? e}); ` +
        "in a single-file bundle import from 'edgemetrics/inline' (wasm inlined), or copy " +
        `${new URL('./edgemetrics_wasm_bg.wasm', import.meta.url).pathname} (this entry's module) next to the bundle`,
    );
  }
}

// The file is read and compiled in the background from import on (fs.readFile, then
// WebAssembly.compile, which V8 runs off the main thread), so that the work overlaps whatever the
// process does before its first Metrics (the rest of the app's imports, a Lambda runtime fetching
// the first event); nothing blocks at import. A Metrics created before that finished reads and
// compiles synchronously, as before; a missing file is reported by that first Metrics.
let compiled = null; // the WebAssembly.Module, once the background compile finished
let loading = true;
builtin('node:fs').readFile(new URL('./edgemetrics_wasm_bg.wasm', import.meta.url), (err, bytes) => {
  if (!err && loading)
    WebAssembly.compile(bytes).then(
      // Kept only while no Metrics has loaded the module (a late result is dropped).
      (m) => {
        if (loading) compiled = m;
      },
      () => {},
    );
});

setLoader(() => {
  loading = false;
  const wasm = initSync({ module: compiled ?? readWasm() });
  compiled = null;
  return wasm;
});

/** Nothing to wait for here (the first Metrics loads the module if needed); kept for a uniform API. */
export async function init() {}
export { FormatUnavailableError, Metrics, attributeKey } from './metrics.js';
export { withMetrics, wrapLambda } from './wrappers.js';
export { startPeriodicFlush } from './periodic.js';
export { HTTP_DURATION_BUCKETS_SECONDS } from './semconv.js';
/** @internal What edgemetrics/hono, /vercel and /workers use of this entry (integration.js). */
export { INTEGRATION } from './integration.js';
