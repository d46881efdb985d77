// edgemetrics/hono: the middleware in a real Hono app (hono pinned), in workerd (miniflare,
// flush through c.executionCtx.waitUntil) and in Node (@hono/node-server on 127.0.0.1, flush
// awaited): stable HTTP server metrics with the matched route template, status code, error.type
// on exceptions, no http.route when nothing matched, c.get('metrics') in handlers, exactly one
// batch per request, decoded with the official OTLP protobuf code.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Miniflare } from 'miniflare';
import { Metrics } from 'edgemetrics';
import { HTTP_DURATION_BUCKETS, metricsMiddleware } from 'edgemetrics/hono';
import { decodeOtlp, startReceiver, waitFor, bundledWorker } from './helpers.mjs';
import { bundle } from './bundle.mjs';

const ADVISED = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** The one duration point of a decoded batch (one request per batch). */
function onePoint(req) {
  const d = decodeOtlp(req);
  const dur = d.metrics['http.server.request.duration'];
  assert.equal(dur.kind, 'histogram');
  assert.equal(dur.unit, 's');
  assert.equal(dur.points.length, 1);
  const p = dur.points[0];
  assert.equal(p.count, 1);
  assert.deepEqual(p.bounds, ADVISED);
  assert.ok(p.sum >= 0 && p.sum < 10, `duration ${p.sum} s`);
  const active = d.metrics['http.server.active_requests'];
  assert.equal(active.kind, 'upDownCounter');
  assert.equal(active.unit, '{request}');
  assert.equal(
    active.points.reduce((s, q) => s + q.value, 0),
    0,
  );
  return { attrs: p.attrs, d };
}

class BoomError extends Error {
  constructor() {
    super('boom');
    this.name = 'BoomError';
  }
}

/** The requests both runtimes make, and what each batch must say. */
const CASES = [
  {
    path: '/users/7',
    init: {},
    status: 200,
    body: 'user 7',
    attrs: { 'http.request.method': 'GET', 'url.scheme': 'http', 'http.route': '/users/:id', 'http.response.status_code': 200 },
    lookups: 1,
  },
  {
    path: '/items',
    init: { method: 'POST' },
    status: 201,
    body: 'created',
    attrs: { 'http.request.method': 'POST', 'url.scheme': 'http', 'http.route': '/items', 'http.response.status_code': 201 },
  },
  {
    path: '/boom',
    init: {},
    status: 500,
    attrs: { 'http.request.method': 'GET', 'url.scheme': 'http', 'http.route': '/boom', 'http.response.status_code': 500, 'error.type': 'BoomError' },
  },
  { path: '/nowhere', init: {}, status: 404, attrs: { 'http.request.method': 'GET', 'url.scheme': 'http', 'http.response.status_code': 404 } },
  {
    path: '/users/8',
    init: { method: 'PROPFIND' },
    status: 404,
    attrs: { 'http.request.method': '_OTHER', 'url.scheme': 'http', 'http.response.status_code': 404 },
  },
];

function checkBatches(requests) {
  assert.equal(requests.length, CASES.length, 'exactly one batch per request');
  CASES.forEach((c, i) => {
    const { attrs, d } = onePoint(requests[i]);
    assert.deepEqual(attrs, c.attrs, c.path);
    if (c.lookups) assert.equal(d.metrics['app.lookups'].points[0].value, c.lookups, 'c.get("metrics") in the handler');
  });
}

test('HTTP_DURATION_BUCKETS are the advised ones', () => assert.deepEqual(HTTP_DURATION_BUCKETS, ADVISED));

test('node (@hono/node-server on 127.0.0.1): HTTP server metrics, flush awaited per request', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const app = new Hono();
  app.use(metricsMiddleware({ endpoint: rx.url, format: 'otlp-proto', serviceName: 'hono-node' }));
  app.get('/users/:id', (c) => {
    c.get('metrics').counter('app.lookups').add(1, { kind: 'user' });
    return c.text(`user ${c.req.param('id')}`);
  });
  app.post('/items', (c) => c.text('created', 201));
  app.get('/boom', () => {
    throw new BoomError();
  });
  const server = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  t.after(() => new Promise((r) => server.close(r)));
  const base = `http://127.0.0.1:${server.address().port}`;
  for (const [i, c] of CASES.entries()) {
    const res = await fetch(base + c.path, c.init);
    assert.equal(res.status, c.status, c.path);
    if (c.body) assert.equal(await res.text(), c.body);
    else await res.arrayBuffer();
    // Without an execution context the flush was awaited before the response.
    assert.equal(rx.requests.length, i + 1, `flushed before ${c.path} answered`);
  }
  checkBatches(rx.requests);
});

test('node: a receiver that is down never changes the response; a Metrics object can be passed', async () => {
  const m = new Metrics({ endpoint: 'http://127.0.0.1:9', format: 'otlp-proto', timeoutMs: 500, retry: { maxAttempts: 1 } });
  const app = new Hono();
  app.use(metricsMiddleware(m));
  app.get('/', (c) => c.text('fine'));
  const res = await app.request('/');
  assert.equal(await res.text(), 'fine');
  assert.equal(m.lastFlush.sent, false);
  assert.ok(m.lastFlush.carried > 0, JSON.stringify(m.lastFlush));
});

test('metricsMiddleware rejects misuse at setup', () => {
  assert.throws(() => metricsMiddleware(null), TypeError);
  assert.throws(() => metricsMiddleware({ endpoint: 'http://x' }, { flsh: true }), /unknown option "flsh"/);
});

test('workerd (miniflare): HTTP server metrics, flush through c.executionCtx.waitUntil', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const { dir, outfile } = await bundle('hono-worker.mjs');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const mf = new Miniflare({
    ...bundledWorker(dir, outfile),
    bindings: { ENDPOINT: rx.url },
  });
  t.after(() => mf.dispose());
  for (const [i, c] of CASES.entries()) {
    const res = await mf.dispatchFetch('http://localhost' + c.path, c.init);
    assert.equal(res.status, c.status, c.path);
    if (c.body) assert.equal(await res.text(), c.body);
    else await res.arrayBuffer();
    assert.ok(await waitFor(() => rx.requests.length >= i + 1), `flush of ${c.path} never arrived`);
  }
  await new Promise((r) => setTimeout(r, 200));
  checkBatches(rx.requests);
});
