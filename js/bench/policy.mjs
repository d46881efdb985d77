// Requests, bytes and producer CPU per 1000 invocations for each flush policy ('invocation',
// 'adaptive'), through `withMetrics` in Node with a `waitUntil` that keeps the flush promises, as
// a Workers isolate does. Why a bench of its own: the policy's point is fewer requests under
// concurrent load at no cost when traffic is sequential, and that is measured here, not claimed.
//
// The receiver runs in a child process (a node:http server counting requests and body bytes), so
// this process's CPU time (process.cpuUsage, user + system) is the producer's: recording, collect,
// encode, and the fetch calls. Each invocation records a counter with two attribute sets and a
// histogram value. Patterns:
//   sequential  one invocation at a time, its push finished before the next (sparse traffic);
//   bursts      waves of 20 concurrent invocations (each awaiting 5 ms), pushes finished between
//               waves (bursty traffic; the isolate goes idle between bursts);
//   continuous  20 invocations always in flight (a new one starts when one ends; each awaits
//               5 ms), nothing awaited until the end (the isolate is never idle).
//
// Usage: node bench/policy.mjs [invocations=1000]   (prints a markdown table and one JSON line)
import { spawn } from 'node:child_process';
import { withMetrics } from '../dist/node.js';

const N = Number(process.argv[2] ?? 1000);
const WAVE = 20;

const receiverSrc = `
const http = require('node:http');
let requests = 0, bytes = 0;
const s = http.createServer((req, res) => {
  if (req.url === '/stats') return res.end(JSON.stringify({ requests, bytes }));
  req.on('data', (c) => (bytes += c.length));
  req.on('end', () => { requests++; res.end('{}'); });
});
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
`;
const rx = spawn(process.execPath, ['-e', receiverSrc], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve) => rx.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
const stats = async () => (await fetch(`http://127.0.0.1:${port}/stats`)).json();

async function run(policy, pattern) {
  const worker = withMetrics(
    {
      async fetch(request, env, ctx, metrics) {
        if (pattern !== 'sequential') await new Promise((r) => setTimeout(r, 5));
        const i = Number(new URL(request.url).searchParams.get('i'));
        metrics.counter('bench.requests').add(1, { route: i % 2 ? '/a' : '/b', status: 200 });
        metrics.histogram('bench.duration', { unit: 'ms' }).record(i % 97);
        return new Response('ok');
      },
    },
    { endpoint: `http://127.0.0.1:${port}`, format: 'otlp-proto', serviceName: 'bench', flush: policy },
  );
  const pending = [];
  const ctx = { waitUntil: (p) => pending.push(p) };
  const invoke = (i) => worker.fetch(new Request(`http://x/?i=${i}`), {}, ctx);
  await invoke(-1); // warm-up: module instantiation, first fetch
  await Promise.all(pending.splice(0));
  const before = await stats();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (pattern === 'sequential') {
    for (let i = 0; i < N; i++) {
      await invoke(i);
      await Promise.all(pending.splice(0));
    }
  } else if (pattern === 'bursts') {
    for (let i = 0; i < N; i += WAVE) {
      await Promise.all(Array.from({ length: Math.min(WAVE, N - i) }, (_, k) => invoke(i + k)));
      await Promise.all(pending.splice(0));
    }
  } else {
    let next = 0;
    const lane = async () => {
      while (next < N) await invoke(next++);
    };
    await Promise.all(Array.from({ length: WAVE }, lane));
  }
  while (pending.length > 0) await Promise.all(pending.splice(0));
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  const after = await stats();
  const per = 1000 / N;
  return {
    policy,
    pattern,
    requestsPer1000: Math.round((after.requests - before.requests) * per),
    bytesPer1000: Math.round((after.bytes - before.bytes) * per),
    cpuMsPer1000: Math.round(((cpu.user + cpu.system) / 1000) * per),
    wallMs: Math.round(wallMs),
  };
}

// Each (pattern, policy) runs twice, in the order invocation, adaptive, adaptive, invocation, and
// the run with less CPU is kept: the first runs of a process pay JIT warm-up, which would
// otherwise be charged to whichever policy comes first.
const rows = [];
for (const pattern of ['sequential', 'bursts', 'continuous']) {
  const got = {};
  for (const policy of ['invocation', 'adaptive', 'adaptive', 'invocation']) {
    const r = await run(policy, pattern);
    if (!got[policy] || r.cpuMsPer1000 < got[policy].cpuMsPer1000) got[policy] = r;
  }
  rows.push(got.invocation, got.adaptive);
}
rx.kill();
console.log('| pattern | policy | requests per 1000 invocations | body bytes per 1000 | producer CPU ms per 1000 |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.pattern} | ${r.policy} | ${r.requestsPer1000} | ${r.bytesPer1000} | ${r.cpuMsPer1000} |`);
console.log(JSON.stringify({ invocations: N, wave: WAVE, rows }));
