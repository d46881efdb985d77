// A module worker instrumented with edgemetrics: the stable OpenTelemetry HTTP server duration
// histogram (seconds, the advised buckets) per request, pushed as one OTLP/HTTP batch per
// invocation through ctx.waitUntil (withMetrics does it). No options: the OTEL_* wrangler vars
// and secrets configure it (see wrangler.toml).
import { HTTP_DURATION_BUCKETS_SECONDS, withMetrics } from 'edgemetrics';

export default withMetrics({
  async fetch(request, env, ctx, metrics) {
    const t0 = performance.now();
    const url = new URL(request.url);
    const response = new Response(`hello from ${url.pathname}\n`);
    metrics
      .histogram('http.server.request.duration', { unit: 's', description: 'Duration of HTTP server requests', bounds: HTTP_DURATION_BUCKETS_SECONDS })
      .record((performance.now() - t0) / 1000, {
        'http.request.method': request.method,
        'http.route': url.pathname,
        'http.response.status_code': response.status,
      });
    return response;
  },
});
