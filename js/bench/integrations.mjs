// Record cost through the integrations, next to the direct API, measured in one Node run:
//   * direct:      counter.add(1, attrs) / histogram.record(v, attrs) on a Metrics instrument,
//   * otel API:    the same through @opentelemetry/api's global MeterProvider (EdgeMeterProvider),
//   * otel API, remote write: the same with a Prometheus format, where the meter's scope becomes
//                  otel_scope_* labels in the core's encoder (no per-call cost left in JS),
//   * hono:        one request through a Hono app (`app.request`) with and without the
//                  edgemetrics/hono middleware (flush: false, so no network), and with @hono/otel
//                  over EdgeMeterProvider; the difference is the middleware's cost per request.
//   * withMetrics: one fetch invocation through withMetrics (begin, handler, flush awaited
//                  through a `fetch` option that answers 200 at once: encoding included, no
//                  network), with the automatic HTTP + FaaS metrics (the default) and with
//                  `auto: false` (the handler records one counter point in both, so both send
//                  one batch per request); the difference is what the automatic metrics cost per
//                  request: recording and encoding their 4 extra metrics.
//   * auto record:  invocationStart + invocationEnd of auto.js alone (HTTP + FaaS, a Request and a
//                  200 Response), no flush: the recording part of that difference.
// Best of 5 runs after a warm-up; ns per call. The numbers move with the machine's load.
//
// Usage: node bench/integrations.mjs [iterations]   (default 1e6; prints one JSON line)
import { metrics as otel } from '@opentelemetry/api';
import { httpInstrumentationMiddleware } from '@hono/otel';
import { Hono } from 'hono';
import { Metrics, withMetrics } from '../dist/node.js';
import { EdgeMeterProvider } from '../dist/otel.js';
import { metricsMiddleware } from '../dist/hono.js';
import { invocationEnd, invocationStart } from '../dist/modules/auto.js';

const N = Number(process.argv[2] ?? 1_000_000);
const attrs = [];
for (const route of ['/a', '/b', '/c', '/d'])
  for (const method of ['GET', 'POST']) attrs.push({ 'http.route': route, 'http.request.method': method, 'http.response.status_code': 200 });

function timeIt(fn, n = N) {
  fn(Math.min(n, 50_000));
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const s = process.hrtime.bigint();
    fn(n);
    runs.push(Number(process.hrtime.bigint() - s) / n);
  }
  return +Math.min(...runs).toFixed(1);
}
/** Interleaved rounds (A, B, C, A, B, C, ...) so that load changes hit every variant alike. */
async function timeAsyncAll(fns, n) {
  for (const fn of fns) for (let i = 0; i < Math.min(n, 2000); i++) await fn();
  const best = fns.map(() => Infinity);
  for (let r = 0; r < 7; r++) {
    for (const [k, fn] of fns.entries()) {
      const s = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await fn();
      best[k] = Math.min(best[k], Number(process.hrtime.bigint() - s) / n);
    }
  }
  return best.map((x) => Math.round(x));
}

const direct = new Metrics({ endpoint: 'http://127.0.0.1:9', format: 'otlp-proto' });
const dCounter = direct.counter('bench.requests');
const dHist = direct.histogram('bench.duration', { unit: 's' });

const viaApi = new Metrics({ endpoint: 'http://127.0.0.1:9', format: 'otlp-proto' });
otel.setGlobalMeterProvider(new EdgeMeterProvider(viaApi));
const meter = otel.getMeter('bench', '1.0.0');
const oCounter = meter.createCounter('bench.requests');
const oHist = meter.createHistogram('bench.duration', { unit: 's' });

const scoped = new Metrics({ endpoint: 'http://127.0.0.1:9', format: 'remote-write' });
const sCounter = new EdgeMeterProvider(scoped).getMeter('bench', '1.0.0').createCounter('bench.requests');

const result = { node: process.version, iterations: N };
result.direct_counter_ns = timeIt((n) => {
  for (let i = 0; i < n; i++) dCounter.add(1, attrs[i & 7]);
});
result.otel_api_counter_ns = timeIt((n) => {
  for (let i = 0; i < n; i++) oCounter.add(1, attrs[i & 7]);
});
result.otel_api_remote_write_counter_ns = timeIt((n) => {
  for (let i = 0; i < n; i++) sCounter.add(1, attrs[i & 7]);
});
result.direct_histogram_ns = timeIt((n) => {
  for (let i = 0; i < n; i++) dHist.record(i & 1023, attrs[i & 7]);
});
result.otel_api_histogram_ns = timeIt((n) => {
  for (let i = 0; i < n; i++) oHist.record(i & 1023, attrs[i & 7]);
});

const R = Math.max(1000, Math.floor(N / 50));
const bare = new Hono();
bare.get('/users/:id', (c) => c.text('u'));
const withMw = new Hono();
withMw.use(metricsMiddleware(new Metrics({ endpoint: 'http://127.0.0.1:9', format: 'otlp-proto' }), { flush: false }));
withMw.get('/users/:id', (c) => c.text('u'));
const withHonoOtel = new Hono();
withHonoOtel.use(httpInstrumentationMiddleware({ serviceName: 'bench' }));
withHonoOtel.get('/users/:id', (c) => c.text('u'));
result.hono_requests = R;
[result.hono_bare_ns_per_request, result.hono_edgemetrics_middleware_ns_per_request, result.hono_otel_middleware_via_provider_ns_per_request] =
  await timeAsyncAll([() => bare.request('/users/1'), () => withMw.request('/users/1'), () => withHonoOtel.request('/users/1')], R);
const instant = async () => new Response('{}');
const autoOpts = { endpoint: 'http://127.0.0.1:9', format: 'otlp-proto', fetch: instant, selfMetrics: false };
// The handler records one point of its own, so both variants send a batch per request.
const handler = {
  fetch: async (request, env, ctx, metrics) => {
    metrics.counter('bench.requests').add(1, attrs[0]);
    return new Response('u');
  },
};
const autoOn = withMetrics(handler, autoOpts);
const autoOff = withMetrics(handler, autoOpts, { auto: false });
const req = new Request('http://bench/users/1');
[result.with_metrics_auto_ns_per_request, result.with_metrics_no_auto_ns_per_request] = await timeAsyncAll(
  [() => autoOn.fetch(req, {}, undefined), () => autoOff.fetch(req, {}, undefined)],
  R,
);
const recOnly = new Metrics({ endpoint: 'http://127.0.0.1:9', format: 'otlp-proto' });
const both = { http: true, faas: true };
const res200 = new Response('u');
result.auto_record_only_ns_per_request = timeIt(
  (n) => {
    for (let i = 0; i < n; i++) invocationEnd(invocationStart(recOnly, both, 'http', req), { result: res200 });
  },
  Math.max(1000, Math.floor(N / 10)),
);
result.with_metrics_auto_batches = [autoOn.metrics.flushStats.flights, autoOff.metrics.flushStats.flights];
// Keep the recorded data observable and check it is there.
result.points = [direct, viaApi, scoped, recOnly].map((m) => m.prepare()?.points ?? 0);
console.log(JSON.stringify(result));
