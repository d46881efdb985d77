// edgemetrics/otel: the OpenTelemetry API (@opentelemetry/api, pinned) records into edgemetrics
// through EdgeMeterProvider: the unmodified @hono/otel middleware in a Hono app in workerd
// (miniflare) and in Node (@hono/node-server on 127.0.0.1), every instrument kind of the API
// with its options, observable callbacks at collect (one throwing, one async, a batch callback),
// and the meter as the OTLP scope and as otel_scope_* labels in a real Prometheus (remote write). Batches are decoded
// with the official OTLP protobuf code.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { metrics as otelMetrics, ValueType } from '@opentelemetry/api';
import { httpInstrumentationMiddleware } from '@hono/otel';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Miniflare } from 'miniflare';
import { Metrics } from 'edgemetrics';
// Remote write comes from its own entry (its own wasm); the provider takes a Metrics of any entry.
import { Metrics as RwMetrics } from 'edgemetrics/remote-write';
import { Metrics as AllMetrics } from 'edgemetrics/all';
import { EdgeMeterProvider } from 'edgemetrics/otel';
import { controlTimer, decodeOtlp, startReceiver, waitFor, bundledWorker } from './helpers.mjs';
import { startPrometheus } from './receivers.mjs';
import { bundle } from './bundle.mjs';

const sum = (points) => points.reduce((s, p) => s + (p.count ?? p.value), 0);

function assertHonoOtel(decoded, { requests, route, status, method = 'GET' }) {
  const d = decoded.metrics['http.server.request.duration'];
  assert.equal(d.kind, 'histogram');
  assert.equal(d.unit, 's');
  const pts = d.points.filter(
    (p) => p.attrs['http.route'] === route && p.attrs['http.response.status_code'] === status && p.attrs['http.request.method'] === method,
  );
  assert.equal(sum(pts), requests, JSON.stringify(d.points));
  // @hono/otel's advice.explicitBucketBoundaries reach the batch.
  assert.deepEqual(pts[0].bounds, [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]);
  assert.ok(pts[0].sum >= 0 && pts[0].sum < 10);
  // The meter @hono/otel asks for (getMeter(its package name)) is the metric's OTLP scope.
  assert.deepEqual(d.scope, { name: '@hono/otel', version: '' });
}

test('node: @hono/otel (unmodified) in a Hono app served on 127.0.0.1 records through the global EdgeMeterProvider', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const m = new Metrics({ endpoint: rx.url, format: 'otlp-proto', serviceName: 'otel-node' });
  const provider = new EdgeMeterProvider(m);
  assert.equal(otelMetrics.setGlobalMeterProvider(provider), true);
  t.after(() => otelMetrics.disable());
  const app = new Hono();
  app.use(httpInstrumentationMiddleware({ serviceName: 'otel-node' }));
  app.get('/users/:id', (c) => c.text(`user ${c.req.param('id')}`));
  app.post('/items', (c) => c.text('created', 201));
  const server = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  t.after(() => new Promise((r) => server.close(r)));
  const base = `http://127.0.0.1:${server.address().port}`;
  for (let i = 0; i < 3; i++) assert.equal(await (await fetch(`${base}/users/${i}`)).text(), `user ${i}`);
  assert.equal((await fetch(`${base}/items`, { method: 'POST' })).status, 201);
  const r = await m.flush();
  assert.equal(r.sent, true, JSON.stringify(r));
  assert.equal(rx.requests.length, 1);
  const dec = decodeOtlp(rx.requests[0]);
  assert.equal(dec.scope.name, 'edgemetrics', 'one scope per batch: the meter name is not the OTLP scope');
  assertHonoOtel(dec, { requests: 3, route: '/users/:id', status: 200 });
  assertHonoOtel(dec, { requests: 1, route: '/items', status: 201, method: 'POST' });
  const active = dec.metrics['http.server.active_requests'];
  assert.equal(active.kind, 'upDownCounter');
  assert.equal(sum(active.points), 0, 'every request ended');
});

test('workerd (miniflare): @hono/otel (unmodified) records through EdgeMeterProvider; withMetrics flushes via waitUntil', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const { dir, outfile } = await bundle('otel-worker.mjs');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const mf = new Miniflare({
    ...bundledWorker(dir, outfile),
    bindings: { ENDPOINT: rx.url },
  });
  t.after(() => mf.dispose());
  for (let i = 1; i <= 3; i++) {
    const res = await mf.dispatchFetch(`http://localhost/users/${i}`);
    assert.equal(await res.text(), `user ${i}`);
    assert.ok(await waitFor(() => rx.requests.length >= i), `flush ${i} never arrived`);
  }
  const res = await mf.dispatchFetch('http://localhost/items', { method: 'POST' });
  assert.equal(res.status, 201);
  await res.text();
  assert.ok(await waitFor(() => rx.requests.length >= 4));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(rx.requests.length, 4, 'one request per invocation');
  const decoded = rx.requests.map(decodeOtlp);
  decoded.slice(0, 3).forEach((d) => assertHonoOtel(d, { requests: 1, route: '/users/:id', status: 200 }));
  assertHonoOtel(decoded[3], { requests: 1, route: '/items', status: 201, method: 'POST' });
});

test('node: every API instrument kind, options, INT truncation, observable and batch callbacks at collect', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const m = new Metrics({ endpoint: rx.url, format: 'otlp-proto', serviceName: 'otel-api' });
  const provider = new EdgeMeterProvider(m);
  const warns = [];
  const warn = console.warn;
  console.warn = (msg) => warns.push(String(msg));
  t.after(() => (console.warn = warn));
  const meter = provider.getMeter('my-lib', '1.2.3');
  assert.equal(provider.getMeter('my-lib', '1.2.3'), meter, 'one meter per name and version');
  meter.createCounter('api.requests', { unit: '{request}', description: 'Requests.' }).add(2, { route: '/a' });
  meter.createCounter('api.bytes', { valueType: ValueType.INT }).add(2.9);
  meter.createUpDownCounter('api.inflight').add(-3);
  meter.createHistogram('api.latency', { unit: 'ms', advice: { explicitBucketBoundaries: [1, 10] } }).record(5);
  meter.createHistogram('api.bad_advice', { advice: { explicitBucketBoundaries: [10, 1] } }).record(5);
  meter.createGauge('api.temperature').record(21.5, { room: 'a' });
  // API misuse never throws into the caller.
  assert.doesNotThrow(() => meter.createCounter('').add(1));
  assert.doesNotThrow(() => meter.createCounter('api.requests').add(-1));
  assert.doesNotThrow(() => meter.createHistogram('api.requests').record(1));

  let total = 10;
  const seen = [];
  meter.createObservableCounter('api.cpu', { unit: 's' }).addCallback((r) => {
    seen.push('counter');
    r.observe(total, { core: 0 });
  });
  meter.createObservableGauge('api.queue').addCallback(async (r) => {
    await new Promise((res) => setTimeout(res, 5));
    r.observe(7);
  });
  meter.createObservableUpDownCounter('api.connections').addCallback(() => {
    throw new Error('callback failure');
  });
  const heap = meter.createObservableGauge('api.heap');
  const conns = meter.createObservableUpDownCounter('api.open');
  const batch = (r) => {
    r.observe(heap, 100);
    r.observe(conns, 4);
  };
  meter.addBatchObservableCallback(batch, [heap, conns]);

  const r1 = await m.flush();
  assert.equal(r1.sent, true, JSON.stringify(r1));
  assert.ok(
    warns.some((w) => /observable callback threw/.test(w)),
    warns.join('\n'),
  );
  assert.ok(
    warns.some((w) => /explicitBucketBoundaries/.test(w)),
    warns.join('\n'),
  );
  const d1 = decodeOtlp(rx.requests[0]);
  assert.equal(d1.metrics['api.requests'].points[0].value, 2);
  assert.equal(d1.metrics['api.requests'].unit, '{request}');
  assert.equal(d1.metrics['api.bytes'].points[0].value, 2, 'INT truncates');
  assert.equal(d1.metrics['api.inflight'].points[0].value, -3);
  assert.deepEqual(d1.metrics['api.latency'].points[0].bounds, [1, 10]);
  assert.equal(d1.metrics['api.bad_advice'].points[0].count, 1);
  assert.equal(d1.metrics['api.bad_advice'].points[0].bounds.length, 15, 'bad advice: default buckets');
  assert.equal(d1.metrics['api.temperature'].points[0].value, 21.5);
  assert.deepEqual(d1.metrics['api.temperature'].points[0].attrs, { room: 'a' });
  assert.equal(d1.metrics['api.cpu'].kind, 'counter');
  assert.equal(d1.metrics['api.cpu'].points[0].value, 10);
  assert.equal(d1.metrics['api.queue'].points[0].value, 7, 'async callback awaited');
  assert.equal(d1.metrics['api.heap'].points[0].value, 100);
  assert.equal(d1.metrics['api.open'].points[0].value, 4);
  assert.equal(d1.metrics['api.connections'], undefined, 'a throwing callback observes nothing');
  const rejected = d1.metrics['edgemetrics.sdk.values.rejected'].points;
  assert.ok(sum(rejected) >= 2, 'negative counter add and the kind conflict are counted');

  // Second collect: the observable counter sends the difference (delta), the gauge its value.
  total = 25;
  await m.flush();
  const d2 = decodeOtlp(rx.requests[1]);
  assert.equal(d2.metrics['api.cpu'].points[0].value, 15);
  assert.equal(d2.metrics['api.heap'].points[0].value, 100);
  assert.equal(d2.metrics['api.open'].points[0].value, 0, 'unchanged up-down total: a zero delta');
  assert.deepEqual(seen, ['counter', 'counter']);

  // Removed callbacks no longer run; shutdown stops them all.
  meter.removeBatchObservableCallback(batch, [heap, conns]);
  await provider.shutdown();
  total = 30;
  await m.flush();
  assert.deepEqual(seen, ['counter', 'counter']);
});

test('prometheus (remote write): meter name and version become otel_scope_name / otel_scope_version labels', async (t) => {
  const prom = await startPrometheus();
  t.after(() => prom.stop());
  const m = new RwMetrics({ endpoint: prom.url, format: 'remote-write', serviceName: 'otel-prom' });
  const provider = new EdgeMeterProvider(m);
  provider.getMeter('lib-a', '1.0.0').createCounter('scoped.events').add(3, { kind: 'x' });
  provider.getMeter('lib-b').createCounter('scoped.events').add(4, { kind: 'x' });
  const r = await m.flush();
  assert.equal(r.sent, true, JSON.stringify(r));
  let result = [];
  for (let i = 0; i < 50 && result.length < 2; i++) {
    result = await prom.query('scoped_events_total');
    if (result.length < 2) await new Promise((res) => setTimeout(res, 100));
  }
  const byScope = Object.fromEntries(result.map((s) => [s.metric.otel_scope_name, s]));
  assert.equal(byScope['lib-a'].value[1], '3');
  assert.equal(byScope['lib-a'].metric.otel_scope_version, '1.0.0');
  assert.equal(byScope['lib-b'].value[1], '4');
  assert.equal(byScope['lib-b'].metric.otel_scope_version, undefined);
  assert.equal(byScope['lib-a'].metric.kind, 'x');
});

test('otlp (protobuf and JSON): each meter is its own ScopeMetrics; the same name in two meters is two metrics', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  for (const format of ['otlp-proto', 'otlp-json']) {
    // The default entry has OTLP protobuf only; JSON is in edgemetrics/all.
    const M = format === 'otlp-json' ? AllMetrics : Metrics;
    const m = new M({ endpoint: rx.url, format, serviceName: 'otel-scopes', selfMetrics: false });
    const provider = new EdgeMeterProvider(m);
    provider.getMeter('lib-a', '1.0.0').createCounter('events').add(3);
    provider.getMeter('lib-a', '1.0.0').createCounter('events').add(1); // the same instrument
    provider.getMeter('lib-b').createCounter('events').add(5);
    provider.getMeter('lib-b').createHistogram('wait', { unit: 's' }).record(0.5);
    provider.getMeter('').createCounter('plain').add(1); // no name: the default scope
    m.counter('direct').add(2);
    const r = await m.flush();
    assert.equal(r.sent, true, JSON.stringify(r));
    const d = decodeOtlp(rx.requests.at(-1));
    const rows = d.scopes.map((s) => [s.name, s.version, s.metrics]);
    assert.equal(rows[0][0], 'edgemetrics');
    assert.deepEqual(rows[0][2], ['plain', 'direct'], format);
    assert.deepEqual(
      rows.slice(1),
      [
        ['lib-a', '1.0.0', ['events']],
        ['lib-b', '', ['events', 'wait']],
      ],
      format,
    );
    // decodeOtlp keys metrics by name: the last `events` is lib-b's.
    assert.equal(d.metrics.events.points[0].value, 5);
  }
  // A meter name the core refuses (over 255 bytes): its instruments record nothing, never throw,
  // warn once, and their values are counted as rejected (invalid_handle).
  const m = new Metrics({ endpoint: rx.url, format: 'otlp-proto', serviceName: 'otel-scopes' });
  const warned = [];
  const origWarn = console.warn;
  console.warn = (msg) => warned.push(String(msg));
  try {
    new EdgeMeterProvider(m).getMeter('x'.repeat(300), '1').createCounter('long.scope').add(2);
  } finally {
    console.warn = origWarn;
  }
  assert.equal(warned.length, 1, JSON.stringify(warned));
  assert.match(warned[0], /instrumentation scope/);
  const r = await m.flush();
  assert.equal(r.sent, true, JSON.stringify(r));
  const d = decodeOtlp(rx.requests.at(-1));
  assert.equal(d.metrics['long.scope'], undefined);
  const rejected = d.metrics['edgemetrics.sdk.values.rejected'].points.find((p) => p.attrs.reason === 'invalid_handle');
  assert.equal(rejected.value, 1);
});

test('an async callback that never settles holds the flush at most a quarter of its budget', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const m = new Metrics({ endpoint: rx.url, format: 'otlp-proto', timeoutMs: 800 });
  const provider = new EdgeMeterProvider(m);
  const meter = provider.getMeter('lib-c', '2.0.0');
  meter.createObservableGauge('hang.gauge').addCallback(() => new Promise(() => {}));
  meter.createObservableGauge('sync.gauge').addCallback((r) => r.observe(1));
  const start = Date.now();
  const control = controlTimer(200);
  const r = await m.flush();
  const took = Date.now() - start;
  const lateMs = await control.late();
  assert.equal(r.sent, true, JSON.stringify(r));
  assert.ok(took >= 190 && took < 700 + lateMs, `flush took ${took} ms; a setTimeout(200) started with it was ${lateMs} ms late`);
  const d = decodeOtlp(rx.requests[0]);
  assert.deepEqual(d.metrics['sync.gauge'].points[0].attrs, {});
  assert.deepEqual(d.metrics['sync.gauge'].scope, { name: 'lib-c', version: '2.0.0' });
  assert.equal(d.metrics['hang.gauge'], undefined);
  assert.throws(() => new EdgeMeterProvider(m, { scopeLabels: true }), TypeError, 'no options today');
  assert.throws(() => new EdgeMeterProvider({}), TypeError);
});

test('node: in cumulative temporality an observable counter and up-down counter send their running totals', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const m = new Metrics({ endpoint: rx.url, format: 'otlp-proto', serviceName: 'otel-cum', temporality: 'cumulative', selfMetrics: false });
  const meter = new EdgeMeterProvider(m).getMeter('cum-lib');
  const observed = [10, 25, 25, 30];
  const open = [4, 6, 6, 1];
  let i = 0;
  meter.createObservableCounter('cum.cpu', { unit: 's' }).addCallback((r) => r.observe(observed[i]));
  meter.createObservableUpDownCounter('cum.open').addCallback((r) => r.observe(open[i]));
  const cpu = [];
  const conns = [];
  for (; i < observed.length; i++) {
    assert.equal((await m.flush()).sent, true);
    const d = decodeOtlp(rx.requests.at(-1));
    cpu.push(d.metrics['cum.cpu'].points[0].value);
    conns.push(d.metrics['cum.open'].points[0].value);
    assert.equal(d.metrics['cum.cpu'].temporality, 2, 'cumulative');
  }
  assert.deepEqual(cpu, observed, 'the counter: each observation as the total');
  assert.deepEqual(conns, open, 'the up-down counter: each observation as the total');
});
