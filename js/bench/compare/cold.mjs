// Cold path, side by side in one run: for each variant, N fresh Node processes (cold-child.mjs),
// each importing the SDK, setting it up, recording one value and flushing once to a receiver on
// 127.0.0.1 started here; prints the medians (min-max) per phase as a Markdown table.
// Usage: node cold.mjs [N=9]
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const N = Number(process.argv[2] ?? 9);
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}`;
const variants = ['edgemetrics', 'edgemetrics-gap', 'edgemetrics-fetch', 'edgemetrics-all', 'otel'];
const rows = Object.fromEntries(variants.map((v) => [v, []]));
// Interleaved, so that load changes on the shared machine hit every variant alike. spawnSync
// would block the receiver: the children run asynchronously one at a time instead.
const { spawn } = await import('node:child_process');
const once = (v) =>
  new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [join(here, 'cold-child.mjs'), v, url], { stdio: ['ignore', 'pipe', 'inherit'] });
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
