// API, errors and edge cases in Node, against receivers started here on 127.0.0.1.
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Metrics, attributeKey, withMetrics, wrapLambda } from '../dist/node.js';
import { decodeOtlp, startReceiver } from './helpers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const vectors = join(here, '..', '..', 'tests', 'vectors');

const m = (extra = {}) => new Metrics({ endpoint: 'http://127.0.0.1:9', serviceName: 'api', ...extra });

test('bad instrument names throw TypeError with the core message', () => {
  const metrics = m();
  for (const bad of ['', '1abc', 'a b', 'x'.repeat(256), 'é']) {
    assert.throws(
      () => metrics.counter(bad),
      (e) => e instanceof TypeError && /invalid instrument name/.test(e.message),
      bad,
    );
  }
  assert.throws(() => metrics.counter(42), TypeError);
  assert.throws(
    () => metrics.histogram('h', { unit: 'ü' }),
    (e) => e instanceof TypeError && /invalid unit/.test(e.message),
  );
  metrics.counter('same');
  assert.throws(
    () => metrics.gauge('same'),
    (e) => e instanceof TypeError && /already exists as a counter/.test(e.message),
  );
});

test('bad bounds and limits throw RangeError; bad config throws at creation', () => {
  const metrics = m();
  assert.throws(
    () => metrics.histogram('h1', { bounds: [1, 1] }),
    (e) => e instanceof RangeError && /strictly increasing/.test(e.message),
  );
  assert.throws(() => metrics.histogram('h2', { bounds: [1, Infinity] }), RangeError);
  assert.throws(() => metrics.histogram('h3', { bounds: ['a'] }), TypeError);
  assert.throws(() => new Metrics(), TypeError);
  assert.throws(() => new Metrics({ endpoint: 'not a url' }), TypeError);
  assert.throws(() => new Metrics({ endpoint: 'ftp://x' }), TypeError);
  assert.throws(() => m({ format: 'xml' }), RangeError);
  assert.throws(() => m({ temporality: 'weekly' }), RangeError);
  assert.throws(() => m({ limits: { cardinality: -1 } }), RangeError);
  assert.throws(() => m({ limits: { nope: 1 } }), RangeError);
  assert.throws(() => m({ headers: { a: 1 } }), TypeError);
  assert.throws(() => m({ format: 'remote-write', remoteWrite: { externalLabels: { 'bad-name': 'x' } } }), TypeError);
  assert.throws(() => m({ format: 'pushgateway', pushgateway: { job: '' } }), TypeError);
  const few = m({ limits: { maxInstruments: 2 } });
  few.counter('a');
  few.counter('b');
  assert.throws(
    () => few.counter('c'),
    (e) => e instanceof RangeError && /too many instruments/.test(e.message),
  );
});

test('record calls never throw; NaN, negative and non-number values are counted', async () => {
  const rx = await startReceiver();
  try {
    const metrics = new Metrics({ endpoint: rx.url, format: 'otlp-json', serviceName: 'api' });
    metrics.begin();
    const c = metrics.counter('c');
    const h = metrics.histogram('h');
    const b = c.bind({ k: 'v' });
    c.add(NaN);
    c.add(-1, { k: 'v' });
    c.add('3');
    c.add(undefined, null);
    c.add(1, 'not an object');
    c.add(1, { sym: Symbol('s'), nul: null, undef: undefined, arr: [1, 2] });
    b.add(Infinity);
    b.add(Symbol('x'));
    b.add(2n);
    h.record(-5);
    h.record(5, { deep: { a: 1 } });
    const r = await metrics.flush();
    assert.equal(r.sent, true);
    const d = decodeOtlp(rx.requests[0]);
    const rej = Object.fromEntries(d.metrics['edgemetrics.sdk.values.rejected'].points.map((p) => [p.attrs.reason, p.value]));
    // NaN, "3", undefined, Infinity and a Symbol are non-finite; -1 and -5 negative.
    assert.deepEqual(rej, { non_finite: 5, negative: 2 });
    const cp = Object.fromEntries(d.metrics.c.points.map((p) => [JSON.stringify(p.attrs), p.value]));
    // bigint 2n is converted; no-attribute and non-object attributes share the empty set.
    assert.equal(cp[JSON.stringify({ k: 'v' })], 2);
    assert.equal(cp[JSON.stringify({})], 1);
    // A Symbol attribute value is stringified, null/undefined ones are dropped, arrays stringified.
    assert.equal(cp[JSON.stringify({ arr: '1,2', sym: 'Symbol(s)' })], 1);
    assert.deepEqual(d.metrics.h.points[0].attrs, { deep: '[object Object]' });
  } finally {
    await rx.close();
  }
});

test('flush sends nothing when nothing was recorded, exactly one request otherwise', async () => {
  const rx = await startReceiver();
  try {
    const metrics = new Metrics({ endpoint: rx.url + '/', format: 'otlp-proto', serviceName: 'api', headers: { Authorization: 'Bearer t' } });
    metrics.counter('c');
    assert.deepEqual(await metrics.flush(), { sent: false, status: 0, bytes: 0, attempts: 0, dropped: 0, carried: 0 });
    metrics.counter('c').add(1);
    const r = await metrics.flush();
    assert.equal(r.sent, true);
    assert.equal(rx.requests.length, 1);
    assert.equal(rx.requests[0].url, '/v1/metrics');
    assert.equal(rx.requests[0].headers.authorization, 'Bearer t');
    assert.equal(rx.requests[0].headers['content-type'], 'application/x-protobuf');
    assert.equal(decodeOtlp(rx.requests[0]).metrics.c.points[0].value, 1);
    assert.deepEqual(await metrics.flush(), { sent: false, status: 0, bytes: 0, attempts: 0, dropped: 0, carried: 0 });
    assert.equal(rx.requests.length, 1);
  } finally {
    await rx.close();
  }
});

async function closedPort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  return port;
}

test('flush never rejects: endpoint down, HTTP 400/500, fetch throws, timeout, no budget', async () => {
  const fast = { maxAttempts: 2, backoffBaseMs: 1, backoffCapMs: 5 };
  const down = new Metrics({ endpoint: `http://127.0.0.1:${await closedPort()}`, serviceName: 'api', retry: fast });
  down.counter('c').add(1);
  const r1 = await down.flush();
  assert.equal(r1.sent, false);
  assert.equal(r1.attempts, 2, 'connection refused is retried');
  assert.equal(r1.dropped, 0);
  assert.ok(r1.carried >= 1, 'undelivered data is carried over');
  assert.match(r1.error, /exhausted \(refused\)/);

  const rx = await startReceiver((req) => ({ status: req.url.startsWith('/v1') ? 500 : 400 }));
  try {
    const e500 = new Metrics({ endpoint: rx.url, serviceName: 'api', retry: fast });
    e500.counter('c').add(1);
    const r2 = await e500.flush();
    // OTLP: 500 is not retryable; the batch is dropped and counted.
    assert.deepEqual({ ...r2, bytes: 0 }, { sent: false, status: 500, bytes: 0, attempts: 1, dropped: 1, carried: 0, error: 'rejected (HTTP 500): {}' }); // the receiver's answer follows the reason
    assert.equal(rx.requests.length, 1);
  } finally {
    await rx.close();
  }

  for (const fetch of [
    () => {
      throw new Error('sync boom');
    },
    async () => {
      throw new Error('async boom');
    },
    () => null,
  ]) {
    const x = new Metrics({ endpoint: 'http://127.0.0.1:9', serviceName: 'api', fetch, retry: fast });
    x.counter('c').add(1);
    const r = await x.flush();
    assert.equal(r.sent, false);
    assert.equal(r.attempts, 2);
    assert.match(r.error, /exhausted \(other\)/);
  }

  const slow = await startReceiver(() => ({ never: true }));
  try {
    const t = new Metrics({ endpoint: slow.url, serviceName: 'api', timeoutMs: 400, retry: { maxAttempts: 1, attemptTimeoutMs: 150 } });
    t.counter('c').add(1);
    const t0 = Date.now();
    const r = await t.flush();
    assert.ok(Date.now() - t0 < 3000);
    assert.equal(r.sent, false);
    assert.match(r.error, /\(timeout\)/);
    // An already-passed deadline: no request at all, the data is carried.
    t.counter('c').add(1);
    const before = slow.requests.length;
    const r2 = await t.flush({ deadline: Date.now() - 1 });
    assert.equal(r2.sent, false);
    assert.equal(r2.attempts, 0);
    assert.match(r2.error, /deadline/);
    assert.equal(slow.requests.length, before);
  } finally {
    await slow.close();
  }
});

test('push plan: 503 then 200 is retried with the same batch id; Retry-After honoured; 401 never retried; carry-over', async () => {
  let answers = [];
  const rx = await startReceiver(() => answers.shift() ?? {});
  try {
    const metrics = new Metrics({ endpoint: rx.url, format: 'otlp-json', serviceName: 'api', retry: { backoffBaseMs: 1, backoffCapMs: 10 } });
    const c = metrics.counter('c');
    c.add(1);
    answers = [{ status: 503 }, { status: 200 }];
    const r = await metrics.flush();
    assert.equal(r.sent, true, JSON.stringify(r));
    assert.equal(r.attempts, 2);
    assert.equal(rx.requests.length, 2);
    const ids = rx.requests.map((q) => q.headers['x-edgemetrics-batch-id']);
    assert.match(ids[0], /^[0-9a-f]{32}$/);
    assert.equal(ids[0], ids[1], 'same idempotency key on every attempt');
    assert.deepEqual(rx.requests[0].body, rx.requests[1].body);

    // 429 without Retry-After: retried after a jittered backoff.
    c.add(1);
    answers = [{ status: 429 }];
    const n0 = rx.requests.length;
    const t0 = Date.now();
    const r2 = await metrics.flush();
    assert.equal(r2.sent, true);
    assert.equal(rx.requests.length, n0 + 2);
    assert.notEqual(rx.requests[n0].headers['x-edgemetrics-batch-id'], ids[0], 'a new batch gets a new id');
    assert.ok(Date.now() - t0 < 5000);

    // 401: permanent, not retried, dropped.
    c.add(1);
    answers = [{ status: 401 }];
    const n1 = rx.requests.length;
    const r3 = await metrics.flush();
    assert.equal(r3.sent, false);
    assert.equal(r3.attempts, 1);
    assert.equal(rx.requests.length, n1 + 1);
    assert.match(r3.error, /unauthorized/);
    assert.ok(r3.dropped >= 1);

    // Exhausted retries carry the data into the next flush.
    c.add(5, { k: 'carried' });
    answers = [{ status: 503 }, { status: 503 }, { status: 503 }];
    const r4 = await metrics.flush();
    assert.equal(r4.sent, false);
    assert.ok(r4.carried >= 1);
    const n2 = rx.requests.length;
    // Nothing new recorded, but carried data exists: one request with it.
    const r5 = await metrics.flush();
    assert.equal(r5.sent, true);
    assert.equal(rx.requests.length, n2 + 1);
    const body = JSON.parse(rx.requests[n2].body.toString());
    const pts = body.resourceMetrics[0].scopeMetrics[0].metrics.find((m) => m.name === 'c').sum.dataPoints;
    assert.equal(pts.find((p) => p.attributes?.[0]?.value.stringValue === 'carried').asDouble, 5);
  } finally {
    await rx.close();
  }
});

test('push plan: Retry-After seconds are waited for', async () => {
  let n = 0;
  const http = await import('node:http');
  const times = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      times.push(Date.now());
      n += 1;
      if (n === 1) {
        res.writeHead(503, { 'retry-after': '1' });
        res.end();
      } else {
        res.writeHead(200);
        res.end('{}');
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const metrics = new Metrics({
      endpoint: `http://127.0.0.1:${server.address().port}`,
      format: 'otlp-json',
      serviceName: 'api',
      retry: { backoffBaseMs: 1, backoffCapMs: 2 },
    });
    metrics.counter('c').add(1);
    const r = await metrics.flush();
    assert.equal(r.sent, true);
    assert.equal(r.attempts, 2);
    assert.ok(times[1] - times[0] >= 900, `waited ${times[1] - times[0]} ms`);
  } finally {
    server.closeAllConnections?.();
    await new Promise((r) => server.close(r));
  }
});

test('concurrent flushes (overlapping invocations) are serialised: one batch each, nothing carried twice', async () => {
  const rx = await startReceiver(() => ({ delayMs: 100 }));
  try {
    const metrics = new Metrics({ endpoint: rx.url, format: 'otlp-json', serviceName: 'api' });
    const c = metrics.counter('c');
    c.add(1, { inv: 1 });
    const f1 = metrics.flush();
    c.add(2, { inv: 2 });
    const f2 = metrics.flush();
    const [r1, r2] = await Promise.all([f1, f2]);
    assert.equal(r1.sent, true);
    assert.equal(r2.sent, true);
    assert.equal(r1.carried + r2.carried, 0);
    assert.equal(rx.requests.length, 2);
    const values = rx.requests.map((q) => decodeOtlp(q).metrics.c.points.map((p) => [p.attrs.inv, p.value]));
    assert.deepEqual(values, [[[1, 1]], [[2, 2]]]);
  } finally {
    await rx.close();
  }
});

test('gzip compression (CompressionStream) for OTLP', async () => {
  const rx = await startReceiver();
  try {
    const metrics = new Metrics({ endpoint: rx.url, format: 'otlp-json', serviceName: 'api', compression: 'gzip' });
    const c = metrics.counter('c');
    for (let i = 0; i < 50; i++) c.add(i, { route: `/r${i % 5}` });
    const r = await metrics.flush();
    assert.equal(r.sent, true);
    assert.equal(rx.requests[0].headers['content-encoding'], 'gzip');
    assert.equal(Number(rx.requests[0].headers['content-length']), r.bytes);
    const d = decodeOtlp(rx.requests[0]); // the receiver gunzipped it
    assert.equal(d.metrics.c.points.length, 5);
  } finally {
    await rx.close();
  }
});

test('every format produces one request with its method, path and content type', async () => {
  const rx = await startReceiver();
  try {
    const want = {
      'otlp-proto': ['POST', '/v1/metrics', 'application/x-protobuf'],
      'otlp-json': ['POST', '/v1/metrics', 'application/json'],
      'remote-write': ['POST', '/api/v1/write', 'application/x-protobuf'],
      pushgateway: ['PUT', '/metrics/job/api/instance/i-1', 'text/plain; version=0.0.4; charset=utf-8'],
      compact: ['POST', '/v1/compact', 'application/vnd.edgemetrics.compact'],
    };
    for (const [format, [method, path, ct]] of Object.entries(want)) {
      const metrics = new Metrics({ endpoint: rx.url, format, serviceName: 'api', resource: { 'service.instance.id': 'i-1' } });
      metrics.counter('http.requests').add(2, { route: '/x' });
      const n = rx.requests.length;
      const r = await metrics.flush();
      assert.equal(r.sent, true, `${format}: ${JSON.stringify(r)}`);
      assert.equal(rx.requests.length, n + 1);
      const req = rx.requests[n];
      assert.deepEqual([req.method, req.url, req.headers['content-type']], [method, path, ct], format);
    }
    const pg = rx.requests.find((q) => q.method === 'PUT').body.toString();
    assert.match(pg, /^http_requests_total\{route="\/x"\} 2$/m);
    const rw = rx.requests.find((q) => q.url === '/api/v1/write');
    assert.equal(rw.headers['content-encoding'], 'snappy');
    assert.equal(rw.headers['x-prometheus-remote-write-version'], '0.1.0');
    // Pushgateway with an explicit grouping key, POST.
    const metrics = new Metrics({
      endpoint: rx.url,
      format: 'pushgateway',
      serviceName: 'api',
      pushgateway: { job: 'j', grouping: { path: 'a/b' }, method: 'POST' },
    });
    metrics.gauge('g').set(1);
    await metrics.flush();
    assert.equal(rx.requests.at(-1).method, 'POST');
    assert.equal(rx.requests.at(-1).url, '/metrics/job/j/path@base64/YS9i');
  } finally {
    await rx.close();
  }
});

test('prepare(): a request for your own transport, without batch id or instance id; nothing is sent by the SDK', async () => {
  const rx = await startReceiver();
  try {
    for (const format of ['otlp-json', 'pushgateway', 'remote-write']) {
      const metrics = new Metrics({ endpoint: rx.url, format, serviceName: 'api', headers: { Authorization: 'Bearer t' } });
      metrics.counter('c').add(2);
      const before = rx.requests.length;
      const req = metrics.prepare();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(rx.requests.length, before, 'prepare sends nothing');
      assert.equal(metrics.instanceId, '', `${format}: no instance id drawn`);
      assert.equal(req.headers.Authorization, 'Bearer t');
      assert.ok(!Object.keys(req.headers).some((h) => /batch-id/i.test(h)), `${format}: ${JSON.stringify(Object.keys(req.headers))}`);
      if (format === 'pushgateway') assert.equal(new URL(req.url).pathname, '/metrics/job/api', 'no instance in the grouping key');
      if (format === 'otlp-json') {
        // Sent by the caller's own transport, the request is a valid OTLP export.
        const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body });
        assert.equal(res.status, 200);
        const d = decodeOtlp(rx.requests[0]);
        assert.equal(d.metrics.c.points[0].value, 2);
        assert.equal(d.resource['service.instance.id'], undefined);
        assert.equal(rx.requests[0].headers['x-edgemetrics-batch-id'], undefined);
      }
      assert.equal(metrics.prepare(), null, 'nothing recorded since');
    }
    // The instance id belongs to the object, drawn by its first flush(): a later prepare() carries it.
    const mixed = new Metrics({ endpoint: rx.url, format: 'pushgateway', serviceName: 'api' });
    mixed.counter('c').add(1);
    await mixed.flush();
    mixed.counter('c').add(1);
    assert.match(mixed.instanceId, /^[0-9a-f]{16}$/);
    assert.equal(new URL(mixed.prepare().url).pathname, `/metrics/job/api/instance/${mixed.instanceId}`);
  } finally {
    await rx.close();
  }
});

test('an endpoint with a query: the format path is joined on its path part, the query kept after it (flush and prepare())', async () => {
  const rx = await startReceiver();
  try {
    const cases = [
      // [endpoint tail, format, the request URL the receiver must see]
      ['/v1/metrics?tenant=a', 'otlp-proto', '/v1/metrics?tenant=a'],
      ['/base?x=1', 'otlp-json', '/base/v1/metrics?x=1'],
      ['/?next=/v1/metrics', 'otlp-proto', '/v1/metrics?next=/v1/metrics'],
      ['/prom?db=x', 'remote-write', '/prom/api/v1/write?db=x'],
    ];
    for (const [tail, format, want] of cases) {
      const metrics = new Metrics({ endpoint: rx.url + tail, format, serviceName: 'api' });
      metrics.counter('c').add(1);
      const prepared = metrics.prepare();
      assert.equal(prepared.url, rx.url + want, `prepare(), ${tail}`);
      metrics.counter('c').add(1);
      const r = await metrics.flush();
      assert.equal(r.status, 200, `${tail}: ${JSON.stringify(r)}`);
      const got = new URL(rx.requests.at(-1).url, rx.url);
      assert.equal(rx.requests.at(-1).url, want, `flush, ${tail}`);
      if (tail === '/v1/metrics?tenant=a') {
        assert.equal(got.pathname, '/v1/metrics');
        assert.equal(got.searchParams.get('tenant'), 'a');
      }
    }
  } finally {
    await rx.close();
  }
});

test('attribute keys are injective and order-insensitive in the core', async () => {
  assert.notEqual(attributeKey({ a: 'b:c' }), attributeKey({ 'a:b': 'c' }));
  assert.notEqual(attributeKey({ a: '1' }), attributeKey({ a: 1 }));
  assert.notEqual(attributeKey({ a: 1 }), attributeKey({ a: 1.5 }));
  const metrics = m({ format: 'otlp-json' });
  const c = metrics.counter('c');
  c.add(1, { a: 1, b: 'x' });
  c.add(1, { b: 'x', a: 1 });
  c.add(1, { a: '😀', b: 'é' });
  const req = metrics.prepare(1_700_000_000_000);
  const d = decodeOtlp({ headers: { 'content-type': 'application/json' }, body: Buffer.from(req.body) });
  const pts = Object.fromEntries(d.metrics.c.points.map((p) => [JSON.stringify(p.attrs), p.value]));
  assert.deepEqual(pts, { '{"a":1,"b":"x"}': 2, '{"a":"😀","b":"é"}': 1 });
});

test('cardinality limit: extra attribute sets go to the overflow series, totals stay exact', () => {
  const metrics = m({ format: 'otlp-json', limits: { cardinality: 4 } });
  const c = metrics.counter('c');
  for (let i = 0; i < 50; i++) c.add(1, { user: `u${i}` });
  const req = metrics.prepare();
  const d = decodeOtlp({ headers: { 'content-type': 'application/json' }, body: Buffer.from(req.body) });
  const total = d.metrics.c.points.reduce((s, p) => s + p.value, 0);
  assert.equal(total, 50);
  assert.equal(d.metrics.c.points.length, 4);
  assert.ok(d.metrics.c.points.some((p) => p.attrs['otel.metric.overflow'] === true));
});

test('withMetrics: begin + flush through ctx.waitUntil; wrapLambda: flush awaited in finally within the budget', async () => {
  const rx = await startReceiver();
  try {
    const waited = [];
    const worker = withMetrics(
      {
        async fetch(req, env, ctx, metrics) {
          metrics.counter('hits').add(1, { path: new URL(req.url).pathname });
          return new Response('ok');
        },
        async scheduled(ev, env, ctx, metrics) {
          metrics.counter('cron').add(1);
          throw new Error('handler failed');
        },
      },
      (env) => ({ endpoint: env.URL, format: 'otlp-json', serviceName: 'w' }),
    );
    const env = { URL: rx.url };
    const ctx = { waitUntil: (p) => waited.push(p) };
    const res = await worker.fetch(new Request('http://x/p'), env, ctx);
    assert.equal(await res.text(), 'ok');
    assert.equal(waited.length, 1);
    assert.equal((await waited[0]).sent, true);
    await assert.rejects(worker.scheduled({}, env, ctx), /handler failed/);
    assert.equal((await waited[1]).sent, true, 'flushed even when the handler throws');
    assert.equal(rx.requests.length, 2);
    assert.equal(decodeOtlp(rx.requests[1]).metrics.cron.points[0].value, 1);

    const lambda = wrapLambda(
      async (event, context, metrics) => {
        metrics.histogram('work', { unit: 'ms' }).record(event.ms);
        return { statusCode: 200 };
      },
      { endpoint: rx.url, format: 'otlp-json', serviceName: 'l' },
    );
    const out = await lambda({ ms: 12 }, { getRemainingTimeInMillis: () => 3000 });
    assert.deepEqual(out, { statusCode: 200 });
    assert.equal(rx.requests.length, 3, 'flush awaited before the handler result is returned');
    assert.equal(decodeOtlp(rx.requests[2]).metrics.work.points[0].sum, 12);
    // No budget left: the flush gives up without a request, the handler result is unaffected.
    await lambda({ ms: 1 }, { getRemainingTimeInMillis: () => 50 });
    assert.equal(rx.requests.length, 3);
    assert.throws(() => withMetrics({}, null), TypeError);
    assert.throws(() => wrapLambda(null, {}), TypeError);
  } finally {
    await rx.close();
  }
});

test('the package resolves through its exports map (node condition)', async () => {
  const mod = await import('edgemetrics');
  assert.equal(typeof mod.Metrics, 'function');
  const pkg = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8'));
  for (const cond of ['workerd', 'worker', 'node', 'deno', 'bun', 'browser', 'default', 'types']) {
    assert.ok(pkg.exports['.'][cond], cond);
    assert.ok(existsSync(join(here, '..', pkg.exports['.'][cond])), `${cond} → ${pkg.exports['.'][cond]} is built`);
  }
});

// Golden vectors written by the Rust tests: replay tests/vectors/scenario.json through the JS API
// and compare bytes.
const scenarioPath = join(vectors, 'scenario.json');
const formatFiles = {
  'otlp-proto': 'otlp.pb',
  'otlp-json': 'otlp.json',
  'remote-write': 'remote_write.bin.snappy',
  pushgateway: 'pushgateway.txt',
  compact: 'compact.bin',
};

function replay(s, format) {
  const attrsOf = (list) => {
    const o = {};
    for (const a of list) {
      if ('string' in a) o[a.key] = a.string;
      else if ('int' in a) o[a.key] = Number.isSafeInteger(Number(a.int)) ? Number(a.int) : BigInt(a.int);
      else if ('double' in a) o[a.key] = a.double;
      else o[a.key] = a.bool;
    }
    return o;
  };
  const { config } = s;
  const { 'service.name': _s, ...resource } = attrsOf(config.resource);
  const temporality = format === 'remote-write' || format === 'pushgateway' ? 'cumulative' : config.temporality;
  const metrics = new Metrics({
    endpoint: 'http://127.0.0.1:9',
    format,
    serviceName: config.service_name,
    resource,
    temporality,
    selfMetrics: config.self_metrics,
    detectResource: false,
  });
  const kinds = { counter: 'counter', up_down_counter: 'upDownCounter', gauge: 'gauge', histogram: 'histogram' };
  const inst = {};
  for (const i of s.instruments) {
    const opts = { unit: i.unit, description: i.description };
    if (i.bounds) opts.bounds = i.bounds;
    inst[i.name] = metrics[kinds[i.kind]](i.name, opts);
  }
  const ms = (t) => {
    const n = BigInt(t);
    assert.equal(n % 1_000_000n, 0n, 'scenario times are whole milliseconds');
    return Number(n / 1_000_000n);
  };
  let last = null;
  for (const st of s.steps) {
    if (st.op === 'begin') metrics.begin(ms(st.time));
    else if (st.op === 'record') {
      const x = inst[st.instrument];
      const a = attrsOf(st.attributes);
      if (x.kind === 'gauge') x.set(st.value, a);
      else if (x.kind === 'histogram') x.record(st.value, a);
      else x.add(st.value, a);
    } else if (st.op === 'collect') last = metrics.prepare(ms(st.time));
  }
  return last;
}

test('golden vectors: the scenario replayed through the JS API gives identical bytes', () => {
  const s = JSON.parse(readFileSync(scenarioPath, 'utf8'));
  let compared = 0;
  for (const [format, file] of Object.entries(formatFiles)) {
    const p = join(vectors, file);
    if (!existsSync(p)) continue;
    const req = replay(s, format);
    assert.ok(req, format);
    const want = readFileSync(p);
    assert.equal(Buffer.compare(Buffer.from(req.body), want), 0, `${format}: bytes differ from ${file}`);
    compared++;
  }
  assert.ok(compared >= 2, `compared ${compared} vectors`);
});
