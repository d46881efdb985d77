// The tiny worker of workers/edgemetrics.js with performance.now() marks between the steps of
// its handler, answered as JSON (workerd-cold.mjs --phases): where the first request's setup goes
// in a fresh isolate. The marks are taken here, in the bench's worker, never in the shipped code.
// Local workerd's clock advances during execution but in whole milliseconds: one request's marks
// are quantized, the mean over many fresh processes is what the bench reports.
import { Metrics } from '../../../dist/otlp/workerd.js';

export default {
  async fetch(request, env, ctx) {
    const t0 = performance.now();
    const metrics = new Metrics({ endpoint: env.METRICS_URL, serviceName: 'bench' });
    const t1 = performance.now();
    const route = new URL(request.url).pathname;
    const counter = metrics.counter('bench.requests');
    const t2 = performance.now();
    counter.add(1, { route, status: 200 });
    const t3 = performance.now();
    metrics.histogram('bench.duration', { unit: 'ms' }).record(12, { route, status: 200 });
    const t4 = performance.now();
    const flushed = metrics.flush();
    const t5 = performance.now();
    ctx.waitUntil(flushed);
    return new Response(JSON.stringify({ metrics: t1 - t0, counter: t2 - t1, add: t3 - t2, histogram: t4 - t3, flush_start: t5 - t4, handler: t5 - t0 }));
  },
};
