// Tiny worker (bundle-size entry): imports the package's default entry, workerd build (OTLP-only wasm, as a module).
import { Metrics } from '../../../dist/otlp/workerd.js';

export default {
  async fetch(request, env, ctx) {
    const metrics = new Metrics({ endpoint: env.METRICS_URL, serviceName: 'bench' });
    const route = new URL(request.url).pathname;
    metrics.counter('bench.requests').add(1, { route, status: 200 });
    metrics.histogram('bench.duration', { unit: 'ms' }).record(12, { route, status: 200 });
    ctx.waitUntil(metrics.flush());
    return new Response('ok');
  },
};
