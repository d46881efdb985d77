// Bundles a test worker and its npm dependencies (hono, @hono/otel, @opentelemetry/api) with
// esbuild into a temporary directory, next to a copy of the wasm module, for miniflare (which
// loads modules as they are, without resolving bare imports) and for the edge-runtime VM (one
// script). Returns the directory and the bundle's path; the caller removes the directory.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const dist = join(here, '..', 'dist');

export async function bundle(entry, { format = 'esm', globalName, conditions = ['workerd', 'worker', 'browser', 'import'], wasmDir = dist } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'em-bundle-'));
  const outfile = join(dir, 'worker.js');
  await build({
    entryPoints: [join(here, 'fixtures', entry)],
    bundle: true,
    format,
    globalName,
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions,
    external: ['*.wasm', 'cloudflare:*'],
    // The `edge-light` entry imports `edgemetrics_wasm_bg.wasm?module`; like Vercel's bundler,
    // turn it into the binding the platform provides (tests set globalThis.EDGEMETRICS_WASM).
    plugins: [
      {
        name: 'wasm-module-binding',
        setup(b) {
          b.onResolve({ filter: /\.wasm\?module$/ }, (args) => ({ path: args.path, namespace: 'wasm-binding' }));
          b.onLoad({ filter: /.*/, namespace: 'wasm-binding' }, () => ({ contents: 'export default globalThis.EDGEMETRICS_WASM;', loader: 'js' }));
        },
      },
    ],
    outfile,
    logLevel: 'error',
  });
  // `wasmDir`: dist/tail for a Tail Worker (edgemetrics/tail's module has the decoder).
  copyFileSync(join(wasmDir, 'edgemetrics_wasm_bg.wasm'), join(dir, 'edgemetrics_wasm_bg.wasm'));
  return { dir, outfile };
}
