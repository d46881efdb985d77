// Resource detection as the workerd entry (dist/*/workerd.js) bundles it, in place of resource.js:
// that module loads only in workerd (wrangler and miniflare import its `.wasm` as a compiled
// module), where navigator.userAgent is 'Cloudflare-Workers', so resource.js's detection of the
// other runtimes (Lambda, Vercel, Deno Deploy; Node, Bun, Deno, edge) is dead code there: 369 B
// of the default entry's workerd.js, gzip -9 (edgemetrics/tail's tail.js is bundled the same
// way). For that user agent this returns what resource.js returns, whatever the environment
// holds (test/resource-workerd.test.mjs compares the two).
// Without it (a worker whose compatibility date predates the `navigator` global, 2022-03-21)
// only the telemetry.sdk.* attributes are detected, with language `webjs`.
import { SDK_VERSION } from './resource.js';

export { SDK_VERSION };

/**
 * Attributes for a worker in workerd (same signature as resource.js `detectResource`).
 * @param {(name: string) => string | undefined} _lookup unused: workerd's attributes come from the user agent
 * @param {{ userAgent?: string, runtime?: string }} [host]
 */
export function detectResource(_lookup, host = {}) {
  const r = {
    'telemetry.sdk.name': 'edgemetrics',
    'telemetry.sdk.language': host.runtime === 'node' || host.runtime === 'bun' ? 'nodejs' : 'webjs',
    'telemetry.sdk.version': SDK_VERSION,
  };
  if ((host.userAgent ?? globalThis.navigator?.userAgent) === 'Cloudflare-Workers') {
    r['cloud.provider'] = 'cloudflare';
    r['cloud.platform'] = 'cloudflare.workers';
  }
  return r;
}
