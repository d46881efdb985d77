// Producer-side cost of the Tail Worker mode against direct push, per 1000 invocations (Node):
// CPU time (process.cpuUsage, user + system) of N invocations of the same `withMetrics` handler
// (a counter, a histogram and a gauge per invocation, as test/fixtures/tail-producer.mjs), in
//   * bare:   the handler without edgemetrics (the baseline subtracted from the others),
//   * tail:   transport 'tail' (collect + compact encode + base64 + one console.log line),
//   * direct: OTLP/protobuf pushed with fetch to a receiver in a child process (so the receiver's
//             CPU is not counted), each flush awaited before the next invocation.
// Lines written by console.log go to stdout: run with stdout redirected (`> /dev/null`) so the
// terminal does not slow it down; results are one JSON line on stderr. The machine this runs on
// may be loaded: compare the rows of one run, not runs of different machines.
//
// Usage: node bench/tail.mjs [invocations=2000] > /dev/null
import { spawn } from 'node:child_process';
import { withMetrics } from '../dist/node.js';

const N = Number(process.argv[2] ?? 2000);
const receiver = spawn(
  process.execPath,
  [
    '-e',
    `require('http').createServer((q, s) => { q.resume(); q.on('end', () => s.end('{}')); }).listen(0, '127.0.0.1', function () { process.stdout.write(String(this.address().port) + '\\n'); });`,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const port = await new Promise((resolve) => receiver.stdout.once('data', (d) => resolve(Number(String(d).trim()))));

const work = (i, metrics) => {
  const route = i % 2 ? '/a' : '/b';
  if (metrics) {
    metrics.counter('requests').add(1 + (i % 3), { route });
    metrics.histogram('latency', { unit: 'ms', bounds: [10, 100] }).record((i * 7) % 150, { route });
    metrics.gauge('last.i').set(i);
  }
  return new Response('ok');
};
const handlers = {
  bare: { fetch: async (req) => work(Number(req.headers.get('x-i')), null) },
  tail: withMetrics(
    { fetch: async (req, env, ctx, m) => work(Number(req.headers.get('x-i')), m) },
    { transport: 'tail', serviceName: 'bench', selfMetrics: false },
  ),
  direct: withMetrics(
    { fetch: async (req, env, ctx, m) => work(Number(req.headers.get('x-i')), m) },
    { endpoint: `http://127.0.0.1:${port}`, serviceName: 'bench', selfMetrics: false },
  ),
};

async function run(h, n) {
  const req = new Request('http://localhost/');
  const before = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const waits = [];
    req.headers.set('x-i', String(i));
    await h.fetch(req, {}, { waitUntil: (p) => waits.push(p) });
    await Promise.all(waits);
  }
  const d = process.cpuUsage(before);
  return (d.user + d.system) / 1000; // ms
}

const out = { invocations: N };
for (const name of ['bare', 'tail', 'direct']) await run(handlers[name], 200); // warm up (JIT, first fetch)
for (const name of ['bare', 'tail', 'direct']) out[`${name}CpuMs`] = await run(handlers[name], N);
out.tailCpuMsPer1000 = +(((out.tailCpuMs - out.bareCpuMs) * 1000) / N).toFixed(1);
out.directCpuMsPer1000 = +(((out.directCpuMs - out.bareCpuMs) * 1000) / N).toFixed(1);
out.tailLastFlush = handlers.tail.metrics.lastFlush;
out.directLastFlush = handlers.direct.metrics.lastFlush;
receiver.kill();
process.stderr.write(JSON.stringify(out) + '\n');
