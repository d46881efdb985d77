// Compiled with `tsc --noEmit` by test/types.test.mjs against @cloudflare/workers-types (no DOM
// lib): what withMetrics returns is an ExportedHandler<Env>, with or without options.
import { HTTP_DURATION_BUCKETS_SECONDS, withMetrics } from 'edgemetrics';

interface Env {
  OTEL_EXPORTER_OTLP_ENDPOINT: string;
  CACHE: KVNamespace;
}

const fromEnvOnly: ExportedHandler<Env> = withMetrics<Env>({
  async fetch(request, env, ctx, metrics) {
    const t0 = Date.now();
    const cached = await env.CACHE.get('k');
    const response = new Response(cached ?? 'ok');
    metrics
      .histogram('http.server.request.duration', { unit: 's', bounds: HTTP_DURATION_BUCKETS_SECONDS })
      .record((Date.now() - t0) / 1000, { 'http.request.method': request.method, 'http.response.status_code': response.status });
    ctx.waitUntil(Promise.resolve());
    return response;
  },
  async scheduled(controller, env, ctx, metrics) {
    metrics.counter('jobs.runs').add(1);
  },
});

const withOptions = withMetrics<Env>(
  {
    async fetch() {
      return new Response('ok');
    },
  },
  (env) => ({ endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT, format: 'otlp-json' }),
) satisfies ExportedHandler<Env>;

export default fromEnvOnly;
export { withOptions };
