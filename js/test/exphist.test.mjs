// Exponential histograms from JS: histogram(name, { aggregation: 'exponential', maxSize, maxScale })
// through the bindings' typed boundary; options validated with TypeError/RangeError before the core;
// pushed to a receiver on 127.0.0.1 as OTLP protobuf and JSON and decoded with the protobufjs code
// OpenTelemetry JS generated from the official .proto files; bucket counts and scale compared with a
// plain reference written here from the specification.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { Metrics } from '../dist/node.js';
import { decodeOtlp, startReceiver } from './helpers.mjs';

const require = createRequire(import.meta.url);
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');
const ExportMetricsServiceRequest = root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;

const m = (o = {}) => new Metrics({ endpoint: 'http://127.0.0.1:9', serviceName: 'exp', selfMetrics: false, ...o });

/** Reference bucket index at scale s: ceil(log2(v) · 2^s) - 1; exact powers of two close their bucket. */
function refIndex(v, s) {
  const l = Math.log2(v);
  if (Number.isInteger(l) && 2 ** l === v) return s >= 0 ? l * 2 ** s - 1 : Math.floor((l - 1) / 2 ** -s);
  return s >= 0 ? Math.ceil(l * 2 ** s) - 1 : Math.floor(Math.floor(l) / 2 ** -s);
}

/** Reference aggregation: the largest scale ≤ maxScale at which the index range fits maxSize. */
function reference(values, maxSize, maxScale) {
  const pos = values.filter((v) => v > 0);
  for (let s = maxScale; ; s--) {
    const idx = pos.map((v) => refIndex(v, s));
    const lo = Math.min(...idx);
    const hi = Math.max(...idx);
    if (pos.length === 0 || hi - lo + 1 <= maxSize || s === -10) {
      const counts = new Map();
      for (const i of idx) counts.set(i, (counts.get(i) ?? 0) + 1);
      return { scale: s, zero: values.length - pos.length, offset: lo, counts };
    }
  }
}

function decode(req) {
  const ct = req.headers['content-type'];
  const msg =
    ct === 'application/json'
      ? JSON.parse(req.body.toString('utf8'))
      : ExportMetricsServiceRequest.toObject(ExportMetricsServiceRequest.decode(req.body), { longs: String, enums: Number, arrays: true, defaults: true });
  return Object.fromEntries(msg.resourceMetrics[0].scopeMetrics[0].metrics.map((x) => [x.name, x]));
}

test('exponential options are validated with typed errors before reaching the core', () => {
  const metrics = m();
  assert.throws(
    () => metrics.histogram('a', { aggregation: 'log' }),
    (e) => e instanceof TypeError && /aggregation must be/.test(e.message),
  );
  assert.throws(
    () => metrics.histogram('b', { aggregation: 'exponential', maxSize: 1 }),
    (e) => e instanceof RangeError && /maxSize/.test(e.message),
  );
  assert.throws(() => metrics.histogram('c', { aggregation: 'exponential', maxSize: 16385 }), RangeError);
  assert.throws(
    () => metrics.histogram('d', { aggregation: 'exponential', maxScale: 21 }),
    (e) => e instanceof RangeError && /maxScale/.test(e.message),
  );
  assert.throws(() => metrics.histogram('e', { aggregation: 'exponential', maxScale: -11 }), RangeError);
  assert.throws(() => metrics.histogram('f', { aggregation: 'exponential', maxSize: 2.5 }), TypeError);
  assert.throws(() => metrics.histogram('g', { aggregation: 'exponential', maxScale: '3' }), TypeError);
  assert.throws(
    () => metrics.histogram('h', { aggregation: 'exponential', bounds: [1, 2] }),
    (e) => e instanceof TypeError && /bounds/.test(e.message),
  );
  assert.throws(
    () => metrics.histogram('i', { maxSize: 10 }),
    (e) => e instanceof TypeError && /exponential/.test(e.message),
  );
  // Valid: explicit stays the default, exponential with and without sizes.
  metrics.histogram('ok1', { aggregation: 'explicit', bounds: [1, 2] });
  metrics.histogram('ok2', { aggregation: 'exponential' });
  metrics.histogram('ok3', { aggregation: 'exponential', maxSize: 2, maxScale: -10 });
});

for (const format of ['otlp-proto', 'otlp-json']) {
  test(`exponential histograms reach an OTLP receiver (${format}) and decode with the official types`, async () => {
    const rx = await startReceiver();
    try {
      const metrics = m({ endpoint: rx.url, format });
      const lat = metrics.histogram('latency', { unit: 'ms', aggregation: 'exponential' });
      const small = metrics.histogram('small', { aggregation: 'exponential', maxSize: 8, maxScale: 6 });
      const values = [0, 5e-324, 0.001, 1, 2, 3.5, 12.5, 12.5, 1024, 1e300];
      for (const v of values) lat.record(v, { route: '/cart' });
      const bound = lat.bind({ route: '/bound' });
      bound.record(3);
      const sizes = [1, 3, 1000, 1e6];
      for (const v of sizes) small.record(v);
      lat.record(-1, { route: '/cart' }); // refused: histograms take non-negative values
      const r = await metrics.flush();
      assert.equal(r.sent, true);
      assert.equal(rx.requests.length, 1);
      const got = decode(rx.requests[0]);
      for (const [name, vals, maxSize, maxScale, route] of [
        ['latency', values, 160, 20, '/cart'],
        ['small', sizes, 8, 6, undefined],
      ]) {
        const eh = got[name].exponentialHistogram;
        assert.ok(eh, `${name} is an exponential histogram`);
        assert.equal(eh.aggregationTemporality, 1);
        const p = eh.dataPoints.find((d) => (route ? d.attributes.some((a) => a.value.stringValue === route) : true));
        const want = reference(vals, maxSize, maxScale);
        assert.equal(Number(p.count), vals.length, name);
        assert.equal(
          p.sum,
          vals.reduce((a, b) => a + b, 0),
          name,
        );
        assert.equal(p.scale ?? 0, want.scale, `${name} scale`);
        assert.equal(Number(p.zeroCount ?? 0), want.zero, `${name} zero count`);
        assert.equal(p.min, Math.min(...vals));
        assert.equal(p.max, Math.max(...vals));
        const counts = p.positive.bucketCounts.map(Number);
        const offset = p.positive.offset ?? 0;
        const nonzero = new Map(counts.map((c, k) => [offset + k, c]).filter(([, c]) => c > 0));
        assert.deepEqual(nonzero, want.counts, `${name} buckets`);
      }
      const b = got.latency.exponentialHistogram.dataPoints.find((d) => d.attributes.some((a) => a.value.stringValue === '/bound'));
      assert.equal(Number(b.count), 1);
      assert.equal(b.scale ?? 0, 20);
    } finally {
      await rx.close();
    }
  });
}

test('an exponential histogram refuses negative and non-finite values and counts each in edgemetrics.sdk.values.rejected', async () => {
  const rx = await startReceiver();
  try {
    const metrics = m({ endpoint: rx.url, format: 'otlp-json', selfMetrics: true });
    const lat = metrics.histogram('latency', { aggregation: 'exponential' });
    for (const v of [-1, -0.5, NaN, Infinity, 2]) lat.record(v, { route: '/a' });
    lat.bind({ route: '/a' }).record(-3);
    assert.equal((await metrics.flush()).sent, true);
    const d = decodeOtlp(rx.requests[0]);
    const rejected = Object.fromEntries(d.metrics['edgemetrics.sdk.values.rejected'].points.map((p) => [p.attrs.reason, p.value]));
    assert.deepEqual(rejected, { negative: 3, non_finite: 2 });
    const eh = decode(rx.requests[0]).latency.exponentialHistogram.dataPoints[0];
    assert.equal(Number(eh.count), 1, 'only the 2 was recorded');
    assert.equal(eh.negative?.bucketCounts?.length ?? 0, 0, 'no negative buckets');
  } finally {
    await rx.close();
  }
});
