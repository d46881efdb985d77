// Phase table of the first invocation in a fresh Node process (issue 12): N fresh processes of
// cold-phases-child.mjs (default entry, OTLP protobuf, node:http), each importing the SDK,
// creating the first Metrics, its first counter, two adds and one flush to a receiver on
// 127.0.0.1 started here; prints the median and min of each phase as a Markdown table.
// Usage: node cold-phases.mjs [N=21] [--against DIR] [--prof DIR]
//   --against DIR: the same from another build's dist (e.g. main's, `node build.mjs --out DIR`),
//   interleaved with this one in the same run (an A/B); columns `this` and `DIR`.
//   --compile: also two more processes of this build (stopped after the first add): one with V8's
//   function-event log (parse and compile time of the entry's script and of the functions first
//   called, as V8 reports them) and one with --trace-wasm-compilation-times (the wasm functions
//   compiled lazily on their first call: how many, how many body bytes).
//   --prof DIR: also one more process of this build under `node --cpu-prof --cpu-prof-interval 50`,
//   stopped after the first add, its .cpuprofile written to DIR and its top self-time functions printed.
import { checkDist, startSink, takeFlag } from './cold-common.mjs';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const flag = (name) => takeFlag(argv, name);
const against = checkDist(flag('--against'));
const prof = flag('--prof');
const ci = argv.indexOf('--compile');
const compileDetail = ci >= 0;
if (compileDetail) argv.splice(ci, 1);
const N = Number(argv[0] ?? 21);
const { server, url } = await startSink();
const once = (dist, extraArgs = [], mode) =>
  new Promise((resolve, reject) => {
    const env = dist ? { ...process.env, EDGEMETRICS_DIST: dist } : process.env;
    const args = [...extraArgs, join(here, 'cold-phases-child.mjs'), url, ...(mode ? [mode] : [])];
    const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exited ${code}`))));
  });
/** One setup-only process of this build with extra V8 flags; resolves to its stdout. */
const raw = (extraArgs) =>
  new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [...extraArgs, join(here, 'cold-phases-child.mjs'), url, 'setup'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`child exited ${code}`))));
  });
const columns = [['this', null], ...(against ? [[against, against]] : [])];
const rows = Object.fromEntries(columns.map(([k]) => [k, []]));
const floor = [];
const load0 = loadavg()[0];
// Interleaved, so that load changes on the shared machine hit every build alike.
for (let i = 0; i < N; i++) {
  for (const [k, d] of columns) rows[k].push(await once(d));
  floor.push((await once(null, [], 'floor')).import);
}
let profNote = '';
if (prof) {
  const before = new Set(readdirSync(prof));
  await once(null, ['--cpu-prof', '--cpu-prof-interval', '50', '--cpu-prof-dir', prof], 'setup');
  const file = readdirSync(prof).find((f) => !before.has(f) && f.endsWith('.cpuprofile'));
  const p = JSON.parse(readFileSync(join(prof, file), 'utf8'));
  // Self time per function (samples × interval), the top 25 by time.
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]);
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}:${f.columnNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  }
  // The profiler slows the process many times over (and starves its own sampler on a loaded
  // machine): shares of the profiled run, not milliseconds of an unprofiled one.
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 25);
  profNote =
    `\nCPU profile of the setup (${join(prof, file)}; ${p.samples.length} samples over ${total.toFixed(0)} ms profiled), self time share, top 25:\n` +
    top.map(([k, ms]) => `  ${((100 * ms) / total).toFixed(1).padStart(5)} %  ${k}`).join('\n');
}
let compileNote = '';
if (compileDetail) {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'cold-phases-'));
  const log = join(dir, 'v8.log');
  await raw(['--log-function-events', `--logfile=${log}`, '--no-logfile-per-isolate']);
  // Lines `script-details,<id>,<url>` name the scripts; `function,<event>,<id>,<start>,<end>,<ms>,...`.
  const lines = readFileSync(log, 'utf8').split('\n');
  const ids = new Set(lines.filter((l) => l.startsWith('script-details,') && l.includes('/otlp/node.js')).map((l) => l.split(',')[1]));
  const sum = {};
  for (const l of lines) {
    const f = l.split(',');
    if (f[0] !== 'function' || !ids.has(f[2])) continue;
    sum[f[1]] ??= { n: 0, ms: 0 };
    sum[f[1]].n++;
    sum[f[1]].ms += Number(f[5]) || 0;
  }
  rmSync(dir, { recursive: true, force: true });
  const trace = await raw(['--trace-wasm-compilation-times']);
  const lazy = [...trace.matchAll(/using Liftoff.*bodysize (\d+)/g)].map((m) => Number(m[1]));
  compileNote =
    `\nV8's function events for the entry's script (one process, logging on, ms as V8 reports them): ` +
    Object.entries(sum)
      .filter(([e]) => e !== 'first-execution')
      .map(([e, v]) => `${e} ${v.ms.toFixed(2)} ms (${v.n})`)
      .join(', ') +
    `\nwasm functions compiled lazily (Liftoff) by the setup: ${lazy.length}, ${lazy.reduce((a, b) => a + b, 0)} body bytes`;
}
server.close();
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cell = (xs) => `${med(xs).toFixed(2)} / ${Math.min(...xs).toFixed(2)}`;
const PHASES = [
  ['import', 'import of the entry (loader: resolve, read, parse, evaluate)'],
  ['metrics', '`new Metrics()`, all of it'],
  ['before', '… before the wasm (option checks, env/OTEL_*, resource)'],
  ['read', '… reading the .wasm (readFileSync)'],
  ['compile', '… sync compile (new WebAssembly.Module)'],
  ['instantiate', '… instantiate (new WebAssembly.Instance)'],
  ['after', '… after (wbindgen start, Core::new, configure, flush loop object)'],
  ['counter', 'first `counter()` (instrument creation)'],
  ['add1', 'first `add()` (first bind of a set)'],
  ['add2', 'second `add()`, a new set'],
  ['setup', '**import + Metrics + counter + first add**'],
  ['flush', 'first `flush()` (node:http to 127.0.0.1)'],
  ['metrics2', 'a second `new Metrics()` in the same process'],
  ['counterAdd2', 'its `counter()` + `add()`'],
];
console.log(
  `First invocation in a fresh Node process, phases: ${N} processes per build, interleaved; Node ${process.version}; ` +
    `load ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}; an empty ES module's import for scale: ${cell(floor)} ms\n`,
);
console.log(`| phase | ${columns.map(([k]) => `${k}: median / min (ms)`).join(' | ')} |`);
console.log(`|---|${columns.map(() => '---:').join('|')}|`);
for (const [k, label] of PHASES) console.log(`| ${label} | ${columns.map(([c]) => cell(rows[c].map((r) => r[k]))).join(' | ')} |`);
console.log(compileNote);
console.log(profNote);
