// Browser / default entry: fetching the .wasm is IO, so it is never done at import time. Call
// `await init()` (optionally with a URL, Response, bytes or WebAssembly.Module) before creating
// a Metrics.
import initWasm from './edgemetrics_wasm.js';
import { markLoaded } from './metrics.js';

let ready = null;
/** Loads the wasm module (once). */
export function init(input) {
  ready ??= initWasm({ module_or_path: input ?? new URL('./edgemetrics_wasm_bg.wasm', import.meta.url) }).then(markLoaded);
  return ready;
}
export { FormatUnavailableError, Metrics, attributeKey } from './metrics.js';
export { withMetrics, wrapLambda } from './wrappers.js';
export { HTTP_DURATION_BUCKETS_SECONDS } from './semconv.js';
/** @internal What edgemetrics/hono, /vercel and /workers use of this entry (integration.js). */
export { INTEGRATION } from './integration.js';
