// Tiny worker (bundle-size entry): prom-client registry, pushed as a Pushgateway body.
import { Registry, Counter, Histogram } from 'prom-client';

export default {
  async fetch(request, env, ctx) {
    const registry = new Registry();
    const labelNames = ['route', 'status'];
    const counter = new Counter({ name: 'bench_requests_total', help: 'requests', labelNames, registers: [registry] });
    const hist = new Histogram({ name: 'bench_duration_ms', help: 'duration', labelNames, registers: [registry] });
    const route = new URL(request.url).pathname;
    counter.inc({ route, status: 200 }, 1);
    hist.observe({ route, status: 200 }, 12);
    ctx.waitUntil(
      registry
        .metrics()
        .then((body) => fetch(env.METRICS_URL + '/metrics/job/bench', { method: 'POST', headers: { 'content-type': registry.contentType }, body })),
    );
    return new Response('ok');
  },
};
