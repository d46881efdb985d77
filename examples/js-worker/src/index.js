// A module worker instrumented with edgemetrics: one counter and one histogram per request,
// pushed as one OTLP/HTTP batch per invocation through ctx.waitUntil (withMetrics does it).
import { Metrics, withMetrics } from 'edgemetrics';

// Module scope: no IO, no timers. Creating instruments here is fine (validation only).
let metrics;
let requests;
let latency;

export default withMetrics(
  {
    async fetch(request, env, ctx, m) {
      if (m !== metrics) {
        metrics = m;
        requests = m.counter('http.server.requests', { unit: '{request}', description: 'Requests served' });
        latency = m.histogram('http.server.duration', { unit: 'ms', bounds: [1, 5, 10, 50, 100, 500] });
      }
      const t0 = Date.now();
      const url = new URL(request.url);
      const body = `hello from ${url.pathname}\n`;
      requests.add(1, { route: url.pathname, method: request.method });
      latency.record(Date.now() - t0, { route: url.pathname });
      return new Response(body);
    },
  },
  // Options may depend on env (secrets, vars): built at the first invocation.
  (env) => ({
    endpoint: env.OTLP_ENDPOINT,
    format: env.OTLP_FORMAT ?? 'otlp-json',
    serviceName: 'js-worker-example',
    headers: env.OTLP_TOKEN ? { Authorization: `Bearer ${env.OTLP_TOKEN}` } : {},
  }),
);
