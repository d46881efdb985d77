// Cold path, side by side in one run: for each variant, N fresh Node processes (cold-child.mjs),
// each importing the SDK, setting it up, recording one value and flushing once to a receiver on
// 127.0.0.1 started here; prints the medians (min-max) per phase as a Markdown table.
// The medians also go to cold.json beside this file (run.mjs reads them for the issue 12 goals).
// Usage: node cold.mjs [N=9] [--against DIR] [--only-edgemetrics]
//   --against DIR: also the same edgemetrics variants from another build's dist (e.g. main's, built
//   with `node build.mjs --out DIR`), rows marked `@DIR`, interleaved with these: an A/B in one run.
//   --only-edgemetrics: leave out edgemetrics-all and otel (faster A/B runs).
import { checkDist, startSink, takeFlag } from './cold-common.mjs';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const flag = (name) => takeFlag(argv, name);
const against = checkDist(flag('--against'));
const only = argv.indexOf('--only-edgemetrics');
if (only >= 0) argv.splice(only, 1);
const N = Number(argv[0] ?? 9);
const { server, url } = await startSink();
const own = only >= 0 ? ['edgemetrics', 'edgemetrics-gap'] : ['edgemetrics', 'edgemetrics-gap', 'edgemetrics-fetch', 'edgemetrics-all', 'otel'];
const variants = [...own, ...(against ? own.filter((v) => v !== 'otel').map((v) => `${v}@${against}`) : [])];
const rows = Object.fromEntries(variants.map((v) => [v, []]));
// Interleaved, so that load changes on the shared machine hit every variant alike. spawnSync
// would block the receiver: the children run asynchronously one at a time instead.
const { spawn } = await import('node:child_process');
const once = (v) =>
  new Promise((resolve, reject) => {
    const [name, dist] = v.split('@');
    const env = dist ? { ...process.env, EDGEMETRICS_DIST: dist } : process.env;
    const c = spawn(process.execPath, [join(here, 'cold-child.mjs'), name, url], { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${v} exited ${code}`))));
  });
for (let i = 0; i < N; i++) for (const v of variants) rows[v].push(await once(v));
server.close();
const med = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const f = (xs) => `${med(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
console.log(
  `Cold path, ${N} fresh processes per variant, Node ${process.version}, load ${(await import('node:os'))
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
console.log(
  '\n| variant | import (ms) | setup: first Metrics incl. wasm compile (ms) | import + setup (ms) | first flush (ms) | total (ms) |\n|---|---:|---:|---:|---:|---:|',
);
for (const v of variants) {
  const r = rows[v];
  console.log(
    `| ${v} | ${f(r.map((x) => x.import_ms))} | ${f(r.map((x) => x.setup_ms))} | ${f(r.map((x) => x.import_ms + x.setup_ms))} | ${f(r.map((x) => x.first_flush_ms))} | ${f(r.map((x) => x.total_ms))} |`,
  );
}
const medians = {};
for (const v of variants) {
  const r = rows[v];
  medians[v] = {
    import_ms: med(r.map((x) => x.import_ms)),
    setup_ms: med(r.map((x) => x.setup_ms)),
    import_setup_ms: med(r.map((x) => x.import_ms + x.setup_ms)),
    first_flush_ms: med(r.map((x) => x.first_flush_ms)),
    total_ms: med(r.map((x) => x.total_ms)),
  };
}
writeFileSync(join(here, 'cold.json'), JSON.stringify({ processes: N, node: process.version, medians }, null, 1) + '\n');
