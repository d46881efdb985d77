// edgemetrics in Bun: Bun.serve handler, one flush per request to a local receiver.
import { Metrics } from 'edgemetrics';

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
const hits = metrics.counter('http.server.requests', { unit: '{request}' });
const bound = hits.bind({ route: '/hot' }); // the hot path: one wasm call with two numbers

const app = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  async fetch(req) {
    metrics.begin();
    bound.add(1);
    const result = await metrics.flush();
    return new Response(JSON.stringify(result) + '\n');
  },
});

for (let i = 0; i < 3; i++) process.stdout.write(await (await fetch(`http://127.0.0.1:${app.port}/hot`)).text());
console.log('receiver got', received.length, 'batches:', received);
app.stop(true);
receiver.stop(true);
