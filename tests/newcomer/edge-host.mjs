// Newcomer test: plays Vercel's part for edge.mjs. Bundles it with esbuild for the `edge-light`
// condition; like Next.js, a `*.wasm?module` import becomes a binding the platform provides as a
// WebAssembly.Module compiled at deploy time (here: by this host, outside the sandbox). Runs the
// bundle in the `edge-runtime` sandbox (EdgeVM) with Vercel's variables in process.env, calls the
// handler once and waits for what it passed to waitUntil. Compiling wasm from bytes is made to
// throw inside the sandbox (as on Vercel), so the test fails if the entry ever does it.
//
//   node edge-host.mjs <receiver url>
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { EdgeVM } from '@edge-runtime/vm';

const wasmFiles = [];
const wasmModule = {
  name: 'wasm-module',
  setup(build) {
    build.onResolve({ filter: /\.wasm\?module$/ }, (args) => ({ path: resolve(args.resolveDir, args.path.replace(/\?module$/, '')), namespace: 'wasm-module' }));
    build.onLoad({ filter: /.*/, namespace: 'wasm-module' }, (args) => {
      wasmFiles.push(args.path);
      return { contents: `export default globalThis[${JSON.stringify('wasm_' + (wasmFiles.length - 1))}];`, loader: 'js' };
    });
  },
};
const out = await esbuild.build({
  entryPoints: ['edge.mjs'],
  bundle: true,
  write: false,
  platform: 'neutral',
  conditions: ['edge-light'],
  format: 'iife',
  globalName: '__edge',
  plugins: [wasmModule],
  logLevel: 'warning',
});
if (wasmFiles.length !== 1) throw new Error(`expected one .wasm?module import, got ${wasmFiles.length}`);

const vm = new EdgeVM({
  extend: (context) => {
    context.process = { env: { OTEL_EXPORTER_OTLP_ENDPOINT: process.argv[2], VERCEL: '1', VERCEL_REGION: 'fra1', VERCEL_ENV: 'preview' } };
    return context;
  },
});
// The platform compiles the module (inside the sandbox's realm, so the glue's
// `instanceof WebAssembly.Module` holds) before any request code runs.
vm.context.wasm_0 = vm.evaluate('(bytes) => new WebAssembly.Module(bytes)')(new vm.context.Uint8Array(readFileSync(wasmFiles[0])));
// From here on, like Vercel's Edge runtime, compiling wasm from bytes at run time throws; only
// the provided module may be instantiated.
vm.evaluate(`{
  const M = WebAssembly.Module;
  const forbidden = () => { throw new EvalError('compiling WebAssembly from bytes at run time is forbidden here'); };
  WebAssembly.Module = new Proxy(M, { construct: forbidden });
  WebAssembly.compile = async () => forbidden();
  WebAssembly.compileStreaming = async () => forbidden();
  WebAssembly.instantiateStreaming = async () => forbidden();
  const instantiate = WebAssembly.instantiate;
  WebAssembly.instantiate = (m, imports) => (m instanceof M ? instantiate(m, imports) : forbidden());
}`);
// The fence holds: an 8-byte empty module cannot be compiled any more.
let fenced = false;
try {
  vm.evaluate('new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))');
} catch (e) {
  fenced = e?.name === 'EvalError';
}
if (!fenced) throw new Error('the sandbox still compiles wasm from bytes');
vm.evaluate(out.outputFiles[0].text);
const waits = [];
const res = await vm.evaluate('__edge.default')(new vm.context.Request('https://newcomer.vercel.app/api/hello'), { waitUntil: (p) => waits.push(p) });
if ((await res.text()) !== 'ok') throw new Error('handler response');
const results = await Promise.all(waits);
console.log(JSON.stringify(results));
if (results.length !== 1 || !results[0].sent) process.exit(1);
