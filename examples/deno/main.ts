// edgemetrics in Deno: a Deno.serve handler records per request and flushes once per request
// (awaited before answering). A receiver and three requests are started here for the demo.
// deno-lint-ignore-file no-explicit-any
import { Metrics } from '../../js/dist/deno.js';

const received: string[] = [];
const receiver = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen() {} }, async (req) => {
  const body = await req.json();
  received.push(body.resourceMetrics[0].scopeMetrics[0].metrics.map((m: any) => m.name).join(', '));
  return new Response('{}');
});

const metrics = new Metrics({ endpoint: `http://127.0.0.1:${receiver.addr.port}`, format: 'otlp-json', serviceName: 'deno-example' });
const active = metrics.upDownCounter('http.server.active_requests', { unit: '{request}' });

const app = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen() {} }, async (req) => {
  metrics.begin();
  active.add(1, { 'http.request.method': req.method });
  const res = new Response('ok\n');
  active.add(-1, { 'http.request.method': req.method });
  const result = await metrics.flush();
  console.log('flush:', JSON.stringify(result));
  return res;
});

for (const path of ['/a', '/b', '/a']) await (await fetch(`http://127.0.0.1:${app.addr.port}${path}`)).text();
console.log('receiver got', received.length, 'batches:', received);
await app.shutdown();
await receiver.shutdown();
