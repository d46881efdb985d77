// Issue 12's figures (weight) as Markdown, appended to results.md by run.mjs (or run alone):
// the worker bundle of every package entry (its wasm + its bundled workerd.js module,
// concatenated, gzip -9, as tests/size.sh counts it), the wasm memory of one M = 1000 instance
// and after 300 more created and closed, and the cold path next to OpenTelemetry JS (cold.mjs).
// The figures also go to weight.json beside this file (run.mjs reads them for the issue 12 goals).
// Usage: node weight.mjs [cold processes per variant = 7]
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', '..', 'dist');
const N = process.argv[2] ?? '7';
// What a worker loads of an entry: its runtime module for workerd (one bundled file) and its wasm.
const MODULES = ['edgemetrics_wasm_bg.wasm', 'workerd.js'];
const json = { entries: {}, apps: [] };
const L = ['', '## Weight (issue 12): bundles per entry, wasm memory, cold path', ''];
L.push('| entry | wasm raw (B) | wasm gzip -9 (B) | worker bundle: wasm + workerd.js (one module: JS layer + glue), gzip -9 (B) |', '|---|---:|---:|---:|');
for (const [entry, dir] of [
  ['edgemetrics (OTLP protobuf)', 'otlp'],
  ['edgemetrics/remote-write', 'remote-write'],
  ['edgemetrics/pushgateway', 'pushgateway'],
  ['edgemetrics/compact', 'compact'],
  ['edgemetrics/all', '.'],
]) {
  const files = MODULES.map((f) => readFileSync(join(dist, dir, f)));
  const wasm = files[0];
  const e = (json.entries[dir] = {
    entry,
    wasm_raw: wasm.length,
    wasm_gzip9: gzipSync(wasm, { level: 9 }).length,
    bundle_gzip9: gzipSync(Buffer.concat(files), { level: 9 }).length,
  });
  L.push(`| ${entry} | ${e.wasm_raw} | ${e.wasm_gzip9} | ${e.bundle_gzip9} |`);
}
// What a worker app ships once its bundler is done (esbuild, workerd conditions, minified, the
// .wasm files as separate outputs): an entry alone and with the integrations, counting the wasm
// modules that end up in the bundle.
const { build } = await import('esbuild');
const APPS = [
  ['`edgemetrics` (Metrics only)', "import { Metrics } from 'edgemetrics'; export default { Metrics };"],
  [
    '`edgemetrics` + `edgemetrics/hono`',
    "import { Metrics } from 'edgemetrics'; import { metricsMiddleware } from 'edgemetrics/hono'; export default { Metrics, metricsMiddleware };",
  ],
  [
    '`edgemetrics` + `/hono`, `/vercel`, `/workers`, `/otel`',
    "import { Metrics } from 'edgemetrics'; import { metricsMiddleware } from 'edgemetrics/hono'; import { withWaitUntil } from 'edgemetrics/vercel'; import { pagesFunction } from 'edgemetrics/workers'; import { EdgeMeterProvider } from 'edgemetrics/otel'; export default { Metrics, metricsMiddleware, withWaitUntil, pagesFunction, EdgeMeterProvider };",
  ],
  [
    '`edgemetrics/remote-write` + its `/hono`, `/vercel`, `/workers`, `/otel`',
    "import { Metrics } from 'edgemetrics/remote-write'; import { metricsMiddleware } from 'edgemetrics/remote-write/hono'; import { withWaitUntil } from 'edgemetrics/remote-write/vercel'; import { pagesFunction } from 'edgemetrics/remote-write/workers'; import { EdgeMeterProvider } from 'edgemetrics/otel'; export default { Metrics, metricsMiddleware, withWaitUntil, pagesFunction, EdgeMeterProvider };",
  ],
];
L.push('', '| app bundled by esbuild (workerd, minified) | wasm modules | JS gzip -9 (B) | wasm gzip -9 (B) | total (B) |', '|---|---:|---:|---:|---:|');
for (const [name, contents] of APPS) {
  const r = await build({
    // Resolved from js/, so that `edgemetrics` is this package (its own `exports`).
    stdin: { contents, resolveDir: join(here, '..', '..'), sourcefile: 'app.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser', 'import'],
    loader: { '.wasm': 'file' },
    minify: true,
    outdir: join(here, 'app-out'),
    write: false,
    logLevel: 'error',
  });
  const gz9 = (files) => files.reduce((a, f) => a + gzipSync(f.contents, { level: 9 }).length, 0);
  const js = gz9(r.outputFiles.filter((f) => f.path.endsWith('.js')));
  const wasm = r.outputFiles.filter((f) => f.path.endsWith('.wasm'));
  const w = gz9(wasm);
  json.apps.push({ name, wasm_modules: wasm.length, js_gzip9: js, wasm_gzip9: w });
  L.push(`| ${name} | ${wasm.length} | ${js} | ${w} | ${js + w} |`);
}
// wasm memory in a fresh process: default entry, one M = 1000 instance (record + encode), closed;
// then 300 more created, used and closed.
const memScript = `
const { Metrics } = await import(${JSON.stringify(pathToFileURL(join(dist, 'otlp', 'modules', 'node.js')).href)});
const { initSync } = await import(${JSON.stringify(pathToFileURL(join(dist, 'otlp', 'modules', 'edgemetrics_wasm.js')).href)});
const { readFileSync } = await import('node:fs');
const o = { endpoint: 'http://127.0.0.1:9', serviceName: 'm', selfMetrics: false };
const work = (m) => { const c = m.counter('c'), h = m.histogram('h'); for (let i = 0; i < 1000; i++) { const a = { route: '/r' + (i % 10), status: 200 + (i % 5), region: 'g' + Math.floor(i / 50) }; c.add(1, a); h.record(i, a); } m.prepare(); };
const first = new Metrics(o);
const mem = initSync({ module: readFileSync(${JSON.stringify(join(dist, 'otlp', 'edgemetrics_wasm_bg.wasm'))}) }).memory;
const atLoad = mem.buffer.byteLength;
work(first); const one = mem.buffer.byteLength; first.close();
for (let i = 0; i < 300; i++) { const m = new Metrics(o); work(m); m.close(); }
console.log(JSON.stringify({ atLoad, one, after: mem.buffer.byteLength }));`;
const mem = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', memScript]).toString());
L.push(
  '',
  `wasm memory (default entry, fresh process): ${mem.atLoad} B after the first \`new Metrics\`, ${mem.one} B after one M = 1000 instance recorded and encoded (goal ≤ 1 MB), ${mem.after} B after 300 more created, used and closed.`,
  '',
);
L.push(
  execFileSync(process.execPath, [join(here, 'cold.mjs'), N])
    .toString()
    .trim(),
);
json.mem = mem;
writeFileSync(join(here, 'weight.json'), JSON.stringify(json, null, 1) + '\n');
console.log(L.join('\n'));
