// edgemetrics in a long-running Node server (node:http): handlers only record; startPeriodicFlush
// pushes one batch every 10 s from an unref'd timer (it never keeps the process alive) and once
// more on SIGINT/SIGTERM, on beforeExit, or when stopped — not one backend request per user
// request. A receiver and three requests are started here for the demo; js/test/periodic.test.mjs
// runs this file.
import http from 'node:http';
import { Metrics, startPeriodicFlush } from 'edgemetrics';

const received = [];
const receiver = http.createServer((req, res) => {
  let n = 0;
  req.on('data', (c) => (n += c.length));
  req.on('end', () => {
    received.push(`${req.method} ${req.url} ${n} bytes`);
    res.end();
  });
});
await new Promise((r) => receiver.listen(0, '127.0.0.1', r));

const metrics = new Metrics({ endpoint: `http://127.0.0.1:${receiver.address().port}`, format: 'otlp-proto', serviceName: 'node-server-example' });
const requests = metrics.counter('http.server.requests', { unit: '{request}' });
const stop = startPeriodicFlush(metrics, { intervalMs: 10_000 });

const app = http.createServer((req, res) => {
  requests.add(1, { 'url.path': req.url });
  res.end('ok\n');
});
await new Promise((r) => app.listen(0, '127.0.0.1', r));

for (const path of ['/a', '/b', '/a']) await (await fetch(`http://127.0.0.1:${app.address().port}${path}`)).text();
console.log('receiver got', received.length, 'batches before shutdown');
// Shutting down: stop() removes the timer and the signal handlers and sends what is left.
await new Promise((r) => app.close(r));
const last = await stop();
console.log('final flush:', JSON.stringify({ sent: last.sent, status: last.status }));
console.log('receiver got', received.length, 'batches:', received);
receiver.close();
