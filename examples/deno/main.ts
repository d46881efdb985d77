// edgemetrics in a long-running Deno server: Deno.serve handlers only record; startPeriodicFlush
// pushes one batch every 10 s from an unref'd timer (it never keeps the process alive) and once
// more on SIGINT/SIGTERM or when stopped — not one request per user request. A receiver and three
// requests are started here for the demo; js/test/periodic.test.mjs runs this file.
// deno-lint-ignore-file no-explicit-any
import { Metrics, startPeriodicFlush } from '../../js/dist/deno.js';

const received: string[] = [];
const receiver = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen() {} }, async (req) => {
  const body = await req.json();
  const metrics = body.resourceMetrics[0].scopeMetrics[0].metrics;
  const served = metrics.find((m: any) => m.name === 'http.server.requests');
  received.push(`${served.sum.dataPoints.map((p: any) => `${p.attributes[0].value.stringValue}=${p.asDouble}`).join(' ')}`);
  return new Response('{}');
});

const metrics = new Metrics({ endpoint: `http://127.0.0.1:${receiver.addr.port}`, format: 'otlp-json', serviceName: 'deno-example' });
const requests = metrics.counter('http.server.requests', { unit: '{request}' });
const stop = startPeriodicFlush(metrics, { intervalMs: 10_000 });

const app = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen() {} }, (req) => {
  requests.add(1, { 'url.path': new URL(req.url).pathname });
  return new Response('ok\n');
});

for (const path of ['/a', '/b', '/a']) await (await fetch(`http://127.0.0.1:${app.addr.port}${path}`)).text();
console.log('receiver got', received.length, 'batches before shutdown');
// Shutting down: stop() removes the timer and the signal handlers and sends what is left.
await app.shutdown();
const last = await stop();
console.log('final flush:', JSON.stringify({ sent: last.sent, status: last.status }));
console.log('receiver got', received.length, 'batches:', received);
await receiver.shutdown();
