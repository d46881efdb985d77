// The first request of a fresh worker in local workerd, side by side: edgemetrics (the default
// entry's workerd build), OpenTelemetry JS (sdk-metrics + OTLP/HTTP protobuf exporter) and the
// plain-JS floor, each the tiny worker of workers/*.js bundled as for the bundle-size figure
// (esbuild, minified ESM; the .wasm a compiled module of its own, as wrangler uploads it).
// Why: issue 12 asks that our first request in an isolate be no slower than OpenTelemetry JS's in
// the same run; on Workers the first request of an isolate is what a user's latency graph shows
// after every deploy and every isolate eviction.
//
// Each round starts one workerd process per contestant (miniflare; the order rotates per round),
// and records, from the parent process:
//   startup_ms        new Miniflare() → ready (workerd boot, script parse and top-level run, wasm
//                     compile of the module's CompiledWasm)
//   first_request_ms  the first request's round trip (handler runs the first time: SDK setup,
//                     one counter + one histogram record, flush handed to waitUntil)
//   first_batch_ms    ready → the batch has arrived at the receiver (setup + encode + send)
//   second_request_ms the second request (warm isolate), for scale
// The receiver is an http server on 127.0.0.1 in this process; every request is checked to have
// pushed exactly one batch. workerd's own dispatch cost is the floor's row.
//
// Usage: node workerd-cold.mjs [rounds=8] [--against DIR]   (writes workerd-cold.json next to this file)
//   --against DIR: also the edgemetrics worker built from another build's dist (e.g. main's, built
//   with `node build.mjs --out DIR`), row `edgemetrics@DIR`, in the same rotation: an A/B in one run.
//   --phases: only workers/edgemetrics-phases.js (the same worker with marks between the steps of
//   its handler, answered as JSON); prints the mean, median and max of each step over the rounds,
//   first request (fresh isolate) and second (warm). Writes nothing.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const at = argv.indexOf('--against');
const against = at >= 0 ? argv.splice(at, 2)[1] : null;
const ph = argv.indexOf('--phases');
const phases = ph >= 0;
if (phases) argv.splice(ph, 1);
const ROUNDS = Number(argv[0] ?? 8);
const NAMES = phases ? ['edgemetrics-phases'] : ['edgemetrics', 'otel', 'floor', ...(against ? [`edgemetrics@${against}`] : [])];
const DIST = join(here, '..', '..', 'dist');

async function bundleWorker(contestant) {
  const [name, dist = DIST] = contestant.split('@');
  const dir = mkdtempSync(join(tmpdir(), `em-cold-${name}-`));
  const outfile = join(dir, 'worker.js');
  await build({
    entryPoints: [join(here, 'workers', `${name}.js`)],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    external: ['*.wasm'],
    outfile,
    logLevel: 'error',
    // The worker imports this repository's dist/otlp/workerd.js; `@DIR` takes DIR's instead.
    plugins: [{ name: 'dist', setup: (b) => b.onResolve({ filter: /dist\/otlp\/workerd\.js$/ }, () => ({ path: join(dist, 'otlp', 'workerd.js') })) }],
  });
  if (name.startsWith('edgemetrics')) copyFileSync(join(dist, 'otlp', 'edgemetrics_wasm_bg.wasm'), join(dir, 'edgemetrics_wasm_bg.wasm'));
  return { dir, outfile };
}

function startReceiver() {
  const arrivals = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      arrivals.push(performance.now());
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${server.address().port}`, arrivals, close: () => new Promise((r) => server.close(r)) }),
    ),
  );
}

async function waitFor(pred, ms) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out waiting for the batch');
    await new Promise((r) => setTimeout(r, 1));
  }
}

async function one(worker, receiver) {
  receiver.arrivals.length = 0;
  const t0 = performance.now();
  const mf = new Miniflare({
    rootPath: worker.dir,
    modulesRoot: worker.dir,
    scriptPath: worker.outfile,
    modules: true,
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2025-01-01',
    bindings: { METRICS_URL: receiver.url },
    handleRuntimeStdio(stdout, stderr) {
      stdout.resume();
      stderr.resume();
    },
  });
  try {
    await mf.ready;
    const t1 = performance.now();
    const r1 = await mf.dispatchFetch('http://localhost/a');
    const body1 = await r1.text();
    if (r1.status !== 200 || (!phases && body1 !== 'ok')) throw new Error(`first request: status ${r1.status}`);
    const t2 = performance.now();
    await waitFor(() => receiver.arrivals.length >= 1, 10_000);
    const t3 = receiver.arrivals[0];
    const t4 = performance.now();
    const r2 = await mf.dispatchFetch('http://localhost/a');
    const body2 = await r2.text();
    const t5 = performance.now();
    await waitFor(() => receiver.arrivals.length >= 2, 10_000);
    await new Promise((r) => setTimeout(r, 50));
    if (receiver.arrivals.length !== 2) throw new Error(`expected exactly 2 batches, got ${receiver.arrivals.length}`);
    const times = { startup_ms: t1 - t0, first_request_ms: t2 - t1, first_batch_ms: t3 - t1, second_request_ms: t5 - t4 };
    return phases ? { ...times, first: JSON.parse(body1), second: JSON.parse(body2) } : times;
  } finally {
    await mf.dispose();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const workers = {};
for (const n of NAMES) workers[n] = await bundleWorker(n);
const receiver = await startReceiver();
const samples = Object.fromEntries(NAMES.map((n) => [n, []]));
try {
  // One unmeasured start first (the floor's when comparing; the measured worker's with --phases): the first workerd process of a run pays the binary's page-in.
  await one(workers[phases ? NAMES[0] : 'floor'], receiver);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < NAMES.length; i++) {
      const n = NAMES[(r + i) % NAMES.length];
      samples[n].push(await one(workers[n], receiver));
    }
  }
} finally {
  await receiver.close();
  for (const w of Object.values(workers)) rmSync(w.dir, { recursive: true, force: true });
}

if (phases) {
  const xs = samples[NAMES[0]];
  const steps = Object.keys(xs[0].first);
  const stat = (v) => {
    const s = [...v].sort((a, b) => a - b);
    return `${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(2)} / ${s[Math.floor(s.length / 2)].toFixed(2)} / ${s[s.length - 1].toFixed(2)}`;
  };
  console.log(
    `workerd (miniflare), ${ROUNDS} fresh workerd processes; steps of the handler (workers/edgemetrics-phases.js), mean / median / max ms (the worker's clock has 1 ms steps: the mean is the estimate)\n`,
  );
  console.log('| step | first request (fresh isolate) | second request |\n|---|---:|---:|');
  for (const k of steps) console.log(`| ${k} | ${stat(xs.map((x) => x.first[k]))} | ${stat(xs.map((x) => x.second[k]))} |`);
  console.log(`| startup (parent: new Miniflare → ready) | ${stat(xs.map((x) => x.startup_ms))} | |`);
  console.log(`| request round trip (parent) | ${stat(xs.map((x) => x.first_request_ms))} | ${stat(xs.map((x) => x.second_request_ms))} |`);
  process.exit(0);
}
const keys = ['startup_ms', 'first_request_ms', 'first_batch_ms', 'second_request_ms'];
const summary = {};
for (const n of NAMES) {
  summary[n] = {};
  for (const k of keys) {
    const xs = samples[n].map((s) => s[k]);
    summary[n][k] = { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
  }
}
const f = (x) => x.toFixed(2);
const lines = [
  `workerd (miniflare), ${ROUNDS} rounds, a fresh workerd process per sample; median (min–max) ms`,
  '',
  '| contestant | startup (ms) | first request (ms) | first batch arrived (ms after ready) | second request (ms) |',
  '|---|---:|---:|---:|---:|',
  ...NAMES.map((n) => `| ${n} | ${keys.map((k) => `${f(summary[n][k].median)} (${f(summary[n][k].min)}–${f(summary[n][k].max)})`).join(' | ')} |`),
];
console.log(lines.join('\n'));
writeFileSync(join(here, 'workerd-cold.json'), JSON.stringify({ rounds: ROUNDS, summary, samples }, null, 1) + '\n');
