// Tiny worker (bundle-size entry): OpenTelemetry JS SDK + OTLP/HTTP protobuf exporter, delta,
// exported once per request through a manual (timer-less) reader.
import { MeterProvider, MetricReader, AggregationTemporality } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';

class ManualReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
  }
  async onForceFlush() {}
  async onShutdown() {}
}

export default {
  async fetch(request, env, ctx) {
    const exporter = new OTLPMetricExporter({ url: env.METRICS_URL + '/v1/metrics' });
    const reader = new ManualReader();
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'bench' }), readers: [reader] });
    const meter = provider.getMeter('bench');
    const route = new URL(request.url).pathname;
    meter.createCounter('bench.requests').add(1, { route, status: 200 });
    meter.createHistogram('bench.duration', { unit: 'ms' }).record(12, { route, status: 200 });
    ctx.waitUntil(reader.collect().then(({ resourceMetrics }) => new Promise((resolve) => exporter.export(resourceMetrics, resolve))));
    return new Response('ok');
  },
};
