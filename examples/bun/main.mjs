// edgemetrics in Bun: Bun.serve handler, one flush per request to a local receiver.
import { HTTP_DURATION_BUCKETS_SECONDS, Metrics } from 'edgemetrics';

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
// The hot path: one wasm call with two numbers.
const bound = duration.bind({ 'http.request.method': 'GET', 'http.route': '/hot', 'http.response.status_code': 200 });

const app = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  async fetch(req) {
    metrics.begin();
    const t0 = performance.now();
    bound.record((performance.now() - t0) / 1000);
    const result = await metrics.flush();
    return new Response(JSON.stringify(result) + '\n');
  },
});

for (let i = 0; i < 3; i++) process.stdout.write(await (await fetch(`http://127.0.0.1:${app.port}/hot`)).text());
console.log('receiver got', received.length, 'batches:', received);
app.stop(true);
receiver.stop(true);
