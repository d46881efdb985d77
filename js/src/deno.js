// Deno entry: the wasm file is read and compiled synchronously when the first Metrics is created.
import { initSync } from './edgemetrics_wasm.js';
import { setLoader } from './metrics.js';

setLoader(() => initSync({ module: Deno.readFileSync(new URL('./edgemetrics_wasm_bg.wasm', import.meta.url)) }));

/** Nothing to do here (the module loads synchronously on first use); kept for a uniform API. */
export async function init() {}
export { FormatUnavailableError, Metrics, attributeKey } from './metrics.js';
export { withMetrics, wrapLambda } from './wrappers.js';
export { startPeriodicFlush } from './periodic.js';
export { HTTP_DURATION_BUCKETS_SECONDS } from './semconv.js';
/** @internal What edgemetrics/hono, /vercel and /workers use of this entry (integration.js). */
export { INTEGRATION } from './integration.js';
