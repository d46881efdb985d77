// A module worker instrumented with edgemetrics: withMetrics records the stable OpenTelemetry
// HTTP server metrics (`http.server.request.duration` in seconds with the advised buckets,
// `http.server.active_requests`) and the FaaS invocation metrics by itself, and pushes one
// OTLP/HTTP batch per invocation through ctx.waitUntil; the handler adds one counter of its own.
// No options: the OTEL_* wrangler vars and secrets configure it (see wrangler.toml).
import { withMetrics } from 'edgemetrics';

export default withMetrics({
  async fetch(request, env, ctx, metrics) {
    const url = new URL(request.url);
    metrics.counter('app.greetings', { unit: '{greeting}' }).add(1, { path: url.pathname });
    return new Response(`hello from ${url.pathname}\n`);
  },
});
