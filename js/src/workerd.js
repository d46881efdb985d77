// Cloudflare Workers (workerd) entry: the .wasm is imported as a compiled WebAssembly.Module
// (wrangler's and miniflare's default rule for *.wasm), instantiated synchronously when the first
// Metrics is created.
import wasmModule from './edgemetrics_wasm_bg.wasm';
import { initSync } from './edgemetrics_wasm.js';
import { setLoader } from './metrics.js';
import { setFlightDefer } from './flush.js';

setLoader(() => initSync({ module: wasmModule }));
// A flight's encode, push plan and first fetch run from a 0 ms timer, not inside flush() (which
// only collects): the handler that called flush() (or withMetrics, which hands it to waitUntil)
// returns its Response without waiting for that work, which on an isolate's first request
// includes compiling the encoder and the push plan (workerd-cold.mjs --phases: flush_start).
setFlightDefer((go) => setTimeout(go, 0));

/** Nothing to do here (the module loads synchronously on first use); kept for a uniform API. */
export async function init() {}
export { FormatUnavailableError, Metrics, attributeKey } from './metrics.js';
export { withMetrics, wrapLambda } from './wrappers.js';
export { HTTP_DURATION_BUCKETS_SECONDS } from './semconv.js';
/** @internal What edgemetrics/hono, /vercel and /workers use of this entry (integration.js). */
export { INTEGRATION } from './integration.js';
