// Newcomer test, Vercel Edge style: `export default (request, context)`, the batch handed to
// `context.waitUntil`. Bundled for the `edge-light` condition, so the package's entry imports the
// .wasm as a module (`?module`) instead of compiling bytes at run time.
import { HTTP_DURATION_BUCKETS_SECONDS, Metrics } from 'edgemetrics';

export const config = { runtime: 'edge' };

let metrics;
export default async function handler(request, context) {
  metrics ??= new Metrics({ endpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: 'newcomer-edge' });
  metrics.begin();
  const start = performance.now();
  const response = new Response('ok');
  metrics.histogram('http.server.request.duration', { unit: 's', bounds: HTTP_DURATION_BUCKETS_SECONDS }).record((performance.now() - start) / 1000, {
    'http.request.method': request.method,
    'http.route': new URL(request.url).pathname,
    'http.response.status_code': response.status,
  });
  context.waitUntil(metrics.flush());
  return response;
}
