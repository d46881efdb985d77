// One command demo: starts a receiver on 127.0.0.1:4318, `wrangler dev` (workerd) in its own
// process group, sends three requests to the worker, prints what the receiver got, and stops
// everything it started. Uses the wrangler installed in ../../js (the package's devDependency).
import { spawn } from 'node:child_process';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wrangler = join(here, '..', '..', 'js', 'node_modules', '.bin', 'wrangler');
const PORT = Number(process.env.PORT ?? 8787);

const received = [];
const receiver = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    received.push({ url: req.url, type: req.headers['content-type'], body: Buffer.concat(chunks).toString() });
    res.end('{}');
  });
});
await new Promise((r) => receiver.listen(4318, '127.0.0.1', r));

const child = spawn(wrangler, ['dev', '--ip', '127.0.0.1', '--port', String(PORT), '--inspector-port', String(PORT + 1000)], {
  cwd: here,
  detached: true,
  stdio: ['ignore', 'pipe', 'pipe'],
  env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
});
let log = '';
child.stdout.on('data', (d) => (log += d));
child.stderr.on('data', (d) => (log += d));
const stop = () => {
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    // already gone
  }
};
let code = 0;
try {
  let up = false;
  for (let i = 0; i < 150 && !up; i++) {
    await new Promise((r) => setTimeout(r, 200));
    up = await fetch(`http://127.0.0.1:${PORT}/health`).then((r) => r.ok, () => false);
  }
  if (!up) throw new Error(`wrangler dev did not start:\n${log}`);
  // The readiness probe was an invocation too: wait (bounded) for its batch before counting.
  for (let i = 0; i < 100 && received.length < 1; i++) await new Promise((r) => setTimeout(r, 50));
  const before = received.length;
  for (const path of ['/a', '/b', '/a']) console.log((await (await fetch(`http://127.0.0.1:${PORT}${path}`)).text()).trim());
  for (let i = 0; i < 100 && received.length < before + 3; i++) await new Promise((r) => setTimeout(r, 50));
  for (const r of received.slice(before)) {
    const metrics = JSON.parse(r.body).resourceMetrics[0].scopeMetrics[0].metrics;
    console.log(`receiver: ${r.url} ${r.type}:`, metrics.map((m) => m.name).join(', '));
  }
  if (received.length - before !== 3) throw new Error(`expected 3 batches, got ${received.length - before}`);
} catch (e) {
  console.error(e.message);
  code = 1;
} finally {
  stop();
  receiver.close();
}
process.exit(code);
