// Node and Bun entry: the wasm file is read and compiled synchronously when the first Metrics is
// created (not at import time).
import { readFileSync } from 'node:fs';
import { initSync } from './edgemetrics_wasm.js';
import { setLoader } from './metrics.js';

setLoader(() => {
  let bytes;
  try {
    bytes = readFileSync(new URL('./edgemetrics_wasm_bg.wasm', import.meta.url));
  } catch (e) {
    // Typically a single-file bundle without the .wasm next to it.
    throw new Error(
      `edgemetrics: cannot read edgemetrics_wasm_bg.wasm next to ${import.meta.url} (${e?.code ?? e}); ` +
        "in a single-file bundle import from 'edgemetrics/inline' (wasm inlined), or copy " +
        'node_modules/edgemetrics/dist/edgemetrics_wasm_bg.wasm next to the bundle',
    );
  }
  initSync({ module: bytes });
});

/** Nothing to do here (the module loads synchronously on first use); kept for a uniform API. */
export async function init() {}
export { FormatUnavailableError, Metrics, attributeKey } from './metrics.js';
export { withMetrics, wrapLambda } from './wrappers.js';
export { HTTP_DURATION_BUCKETS_SECONDS } from './semconv.js';
