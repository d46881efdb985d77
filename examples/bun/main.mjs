// edgemetrics in a long-running Bun server: Bun.serve handlers only record (through a bound
// handle: one wasm call with two numbers); startPeriodicFlush pushes one batch every 10 s from an
// unref'd timer and once more on SIGINT/SIGTERM, on beforeExit, or when stopped — not one request
// per user request. js/test/periodic.test.mjs runs this file.
import { HTTP_DURATION_BUCKETS_SECONDS, Metrics, startPeriodicFlush } from 'edgemetrics';

const received = [];
const receiver = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  async fetch(req) {
    received.push(`${req.method} ${new URL(req.url).pathname} ${req.headers.get('content-type')}`);
    await req.arrayBuffer();
    return new Response('{}');
  },
});

const metrics = new Metrics({ endpoint: `http://127.0.0.1:${receiver.port}`, format: 'otlp-proto', serviceName: 'bun-example' });
const duration = metrics.histogram('http.server.request.duration', { unit: 's', bounds: HTTP_DURATION_BUCKETS_SECONDS });
const bound = duration.bind({ 'http.request.method': 'GET', 'http.route': '/hot', 'http.response.status_code': 200 });
const stop = startPeriodicFlush(metrics, { intervalMs: 10_000 });

const app = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch() {
    const t0 = performance.now();
    const res = new Response('ok\n');
    bound.record((performance.now() - t0) / 1000);
    return res;
  },
});

for (let i = 0; i < 3; i++) process.stdout.write(await (await fetch(`http://127.0.0.1:${app.port}/hot`)).text());
console.log('receiver got', received.length, 'batches before shutdown');
app.stop(true);
const last = await stop();
console.log('final flush:', JSON.stringify({ sent: last.sent, status: last.status }));
console.log('receiver got', received.length, 'batches:', received);
receiver.stop(true);
