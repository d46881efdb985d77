// The automatic metrics of the wrappers (src/auto.js), counted exactly at a receiver on 127.0.0.1
// and decoded as OTLP/JSON: in workerd (miniflare) fetch, scheduled, queue and email handlers of
// withMetrics and a Tail Worker's tail handler; in Node wrapLambda (a fresh process = one
// isolate) and the per-group off switches. Cold starts are 1 per isolate, errors are counted and
// the user's exception reaches the caller unchanged (identity).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { withMetrics, wrapLambda } from '../dist/node.js';
import { decodeOtlp, fixtureWorker, startReceiver, waitFor } from './helpers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** Every point of `name` in the batches of `service`, with its metric entry. */
function points(requests, service, name) {
  const out = [];
  for (const d of requests.map(decodeOtlp)) {
    if (service !== undefined && d.resource['service.name'] !== service) continue;
    const m = d.metrics[name];
    if (m) for (const p of m.points) out.push({ ...p, metric: m });
  }
  return out;
}
const matches = (p, attrs) => Object.entries(attrs).every(([k, v]) => p.attrs[k] === v);
/** Sum of values (counters) or counts (histograms) of `name` whose attributes include `attrs`. */
function total(requests, service, name, attrs = {}) {
  return points(requests, service, name)
    .filter((p) => matches(p, attrs))
    .reduce((s, p) => s + (p.count ?? p.value), 0);
}

function workerdOptions(script, rx, extra = {}) {
  return { ...fixtureWorker(script, { ENDPOINT: rx.url }), ...extra };
}

const EMAIL = [
  'From: sender@example.com',
  'To: metrics@example.com',
  'Subject: hello',
  'Message-ID: <auto-test-1@example.com>',
  'Date: Wed, 02 Dec 2026 00:00:00 +0000',
  'Content-Type: text/plain',
  '',
  'hello',
  '',
].join('\r\n');

test('workerd (miniflare): withMetrics records HTTP and FaaS metrics for fetch, scheduled, queue and email', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const mf = new Miniflare({ ...workerdOptions('auto-worker.mjs', rx), unsafeTriggerHandlers: true });
  t.after(() => mf.dispose());
  const worker = await mf.getWorker();
  let sent = 0;
  const delivered = (n) => waitFor(() => rx.requests.length >= n, { timeoutMs: 15_000 });
  for (let i = 0; i < 5; i++) {
    const r = await mf.dispatchFetch('http://localhost/ok');
    assert.equal(await r.text(), 'ok');
  }
  sent += 5;
  for (let i = 0; i < 3; i++) {
    const r = await mf.dispatchFetch('http://localhost/boom', { method: 'POST' });
    assert.equal(r.status, 500);
    assert.deepEqual(await r.json(), { same: true, name: 'BoomError', message: 'boom from the handler' }, "the handler's own error reached the caller");
  }
  sent += 3;
  for (let i = 0; i < 2; i++) assert.equal((await mf.dispatchFetch('http://localhost/busy')).status, 503);
  sent += 2;
  assert.ok(await delivered(sent), `fetch batches: ${rx.requests.length} of ${sent}`);

  assert.equal((await worker.scheduled({ cron: '*/5 * * * *', scheduledTime: new Date() })).outcome, 'ok');
  const failed = await worker.scheduled({ cron: 'fail', scheduledTime: new Date() });
  assert.equal(failed.outcome, 'exception', "the scheduled handler's exception still fails the invocation");
  const q = await worker.queue('jobs', [
    { id: 'a', timestamp: new Date(), body: 'x', attempts: 1 },
    { id: 'b', timestamp: new Date(), body: 'y', attempts: 1 },
  ]);
  assert.equal(q.outcome, 'ok');
  sent += 3;
  assert.ok(await delivered(sent), `scheduled/queue batches: ${rx.requests.length} of ${sent}`);

  // Email, delivered locally as `wrangler dev` does (miniflare's /cdn-cgi/handler/email).
  const mail = await mf.dispatchFetch('http://localhost/cdn-cgi/handler/email?from=sender@example.com&to=metrics@example.com', {
    method: 'POST',
    body: EMAIL,
  });
  assert.equal(mail.status, 200, await mail.text());
  sent += 1;
  assert.ok(await delivered(sent), `email batch: ${rx.requests.length} of ${sent}`);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(rx.requests.length, sent, 'one batch per invocation');
  const R = rx.requests;

  // HTTP server metrics: exact counts per status, error.type from the exception or the 5xx code.
  const dur = points(R, 'auto', 'http.server.request.duration');
  assert.equal(dur[0].metric.unit, 's');
  assert.deepEqual(dur[0].bounds, BUCKETS);
  assert.equal(total(R, 'auto', 'http.server.request.duration'), 10);
  const ok = { 'http.request.method': 'GET', 'url.scheme': 'http', 'http.response.status_code': 200 };
  assert.equal(total(R, 'auto', 'http.server.request.duration', ok), 5);
  assert.ok(
    points(R, 'auto', 'http.server.request.duration')
      .filter((p) => matches(p, ok))
      .every((p) => p.attrs['error.type'] === undefined && p.attrs['http.route'] === undefined),
  );
  assert.equal(
    total(R, 'auto', 'http.server.request.duration', { 'http.request.method': 'POST', 'http.response.status_code': 500, 'error.type': 'BoomError' }),
    3,
  );
  assert.equal(total(R, 'auto', 'http.server.request.duration', { 'http.response.status_code': 503, 'error.type': '503' }), 2);
  assert.ok(
    dur.every((p) => p.min >= 0.004),
    'durations in seconds, covering the 5 ms timer',
  );
  assert.equal(total(R, 'auto', 'http.server.active_requests'), 0, 'every request that started ended');
  assert.equal(points(R, 'auto', 'http.server.active_requests')[0].metric.kind, 'upDownCounter');

  // FaaS: invocations are the successful ones, errors the thrown ones, per trigger.
  assert.equal(total(R, 'auto', 'faas.invocations', { 'faas.trigger': 'http' }), 7);
  assert.equal(total(R, 'auto', 'faas.errors', { 'faas.trigger': 'http' }), 3);
  assert.equal(total(R, 'auto', 'faas.invocations', { 'faas.trigger': 'timer' }), 1);
  assert.equal(total(R, 'auto', 'faas.errors', { 'faas.trigger': 'timer' }), 1);
  assert.equal(total(R, 'auto', 'faas.invocations', { 'faas.trigger': 'pubsub' }), 1);
  assert.equal(total(R, 'auto', 'faas.invocations', { 'faas.trigger': 'other' }), 1, 'email');
  assert.equal(total(R, 'auto', 'faas.invocations'), 10);
  assert.equal(total(R, 'auto', 'faas.errors'), 4);
  assert.equal(total(R, 'auto', 'faas.coldstarts'), 1, 'one cold start in the isolate');
  assert.deepEqual(
    points(R, 'auto', 'faas.coldstarts').map((p) => p.attrs),
    [{ 'faas.trigger': 'http' }],
  );
  assert.equal(total(R, 'auto', 'faas.invoke_duration'), 14, 'one duration per invocation');
  assert.deepEqual(points(R, 'auto', 'faas.invoke_duration')[0].bounds, BUCKETS);
  assert.equal(points(R, 'auto', 'faas.invoke_duration')[0].metric.unit, 's');
  assert.equal(points(R, 'auto', 'faas.invocations')[0].metric.unit, '{invocation}');
  // The user's own instruments are still there.
  assert.equal(total(R, 'auto', 'cron.runs'), 2);
  assert.equal(total(R, 'auto', 'email.received', { to: 'metrics@example.com' }), 1);
});

test('workerd (miniflare): a Tail Worker wrapped by withMetrics records each delivery with the automatic FaaS metrics', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const base = workerdOptions('tail-producer-worker.mjs', rx);
  const mf = new Miniflare({
    workers: [
      { ...base, name: 'producer', tails: ['tailer'] },
      { ...workerdOptions('tail-consumer-worker.mjs', rx), name: 'tailer' },
    ],
  });
  t.after(() => mf.dispose());
  for (let i = 0; i < 3; i++) assert.equal(await (await mf.dispatchFetch('http://localhost/')).text(), 'produced');
  const events = () => total(rx.requests, 'tailer', 'tail.events');
  assert.ok(await waitFor(() => events() >= 3, { timeoutMs: 15_000 }), `tail events: ${events()} (batches ${rx.requests.length})`);
  await new Promise((r) => setTimeout(r, 300));
  // Deliveries are counted by the handler itself: two deliveries that overlap in the isolate may
  // share one batch (adaptive flush policy), so the number of batches is not the number of calls.
  const deliveries = total(rx.requests, 'tailer', 'tail.calls');
  assert.equal(events(), 3);
  assert.ok(deliveries >= 1 && deliveries <= 3, `${deliveries} deliveries for 3 events`);
  assert.ok(rx.requests.length <= deliveries, `${rx.requests.length} batches for ${deliveries} deliveries`);
  assert.equal(total(rx.requests, 'tailer', 'faas.invocations', { 'faas.trigger': 'other' }), deliveries, 'one invocation per tail delivery');
  assert.equal(total(rx.requests, 'tailer', 'faas.coldstarts'), 1);
  assert.equal(total(rx.requests, 'tailer', 'http.server.request.duration'), 0, 'tail is not fetch-shaped');
});

test('Node: wrapLambda records FaaS metrics with the trigger read from the event; one cold start per process; errors propagate unchanged', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  // Asynchronously: the receiver runs in this process.
  const { stdout: out } = await promisify(execFile)(process.execPath, [join(here, 'fixtures', 'lambda-auto.mjs'), rx.url], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.deepEqual(JSON.parse(out.trim().split('\n').pop()), { same: 2, returned: 5 });
  assert.equal(rx.requests.length, 8, 'one batch per invocation (flush awaited)');
  const R = rx.requests;
  assert.equal(total(R, 'lambda-auto', 'faas.invocations', { 'faas.trigger': 'http' }), 2);
  assert.equal(total(R, 'lambda-auto', 'faas.errors', { 'faas.trigger': 'http' }), 1);
  assert.equal(total(R, 'lambda-auto', 'faas.invocations', { 'faas.trigger': 'pubsub' }), 1);
  assert.equal(total(R, 'lambda-auto', 'faas.errors', { 'faas.trigger': 'pubsub' }), 1);
  assert.equal(total(R, 'lambda-auto', 'faas.invocations', { 'faas.trigger': 'timer' }), 1);
  assert.equal(total(R, 'lambda-auto', 'faas.invocations', { 'faas.trigger': 'other' }), 1);
  assert.equal(total(R, 'lambda-auto', 'faas.invoke_duration'), 7);
  assert.equal(total(R, undefined, 'faas.coldstarts'), 1, 'one cold start in the process, whatever the wrapper');
  assert.equal(total(R, 'lambda-auto', 'faas.coldstarts', { 'faas.trigger': 'http' }), 1);
  assert.equal(total(R, 'lambda-auto-2', 'faas.invocations'), 1);
  assert.equal(total(R, undefined, 'http.server.request.duration'), 0, 'wrapLambda records no HTTP server metrics');
});

test('Node: auto options turn each group off; bad values throw a TypeError naming the option', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const opts = (serviceName) => ({ endpoint: rx.url, format: 'otlp-json', serviceName });
  const fetchHandler = { fetch: async () => new Response('x') };
  const req = () => new Request('https://example.com/a');
  await withMetrics(fetchHandler, opts('no-http'), { auto: { http: false } }).fetch(req(), {}, undefined);
  await withMetrics(fetchHandler, opts('no-faas'), { auto: { faas: false } }).fetch(req(), {}, undefined);
  await withMetrics({ fetch: async (r, e, c, m) => (m.counter('mine').add(1), new Response('x')) }, opts('none'), { auto: false }).fetch(req(), {}, undefined);
  await wrapLambda(async (e, c, m) => m.counter('mine').add(1), opts('lambda-none'), { auto: { faas: false } })({}, undefined);
  assert.ok(await waitFor(() => rx.requests.length >= 4));
  const R = rx.requests;
  assert.equal(total(R, 'no-http', 'faas.invocations', { 'faas.trigger': 'http' }), 1);
  assert.equal(points(R, 'no-http', 'http.server.request.duration').length, 0);
  assert.equal(total(R, 'no-faas', 'http.server.request.duration', { 'url.scheme': 'https', 'http.response.status_code': 200 }), 1);
  assert.equal(points(R, 'no-faas', 'faas.invocations').length, 0);
  for (const s of ['none', 'lambda-none']) {
    const d = R.map(decodeOtlp).find((x) => x.resource['service.name'] === s);
    // Self-metrics (edgemetrics.sdk.*, e.g. the invocations each batch covers) are not auto metrics.
    const own = Object.keys(d.metrics).filter((k) => !k.startsWith('edgemetrics.sdk.'));
    assert.deepEqual(own.sort(), ['mine'], `${s}: only the user's instrument`);
  }
  assert.throws(() => withMetrics(fetchHandler, opts('x'), { auto: { http: 'no' } }), { name: 'TypeError', message: /auto\.http must be a boolean/ });
  assert.throws(() => withMetrics(fetchHandler, opts('x'), { auto: { cpu: false } }), { name: 'TypeError', message: /unknown key "cpu"/ });
  assert.throws(() => withMetrics(fetchHandler, opts('x'), { atuo: false }), { name: 'TypeError', message: /no option "atuo"/ });
  assert.throws(() => wrapLambda(async () => {}, opts('x'), { auto: 1 }), { name: 'TypeError', message: /option auto must be/ });
});

test('Node: a Hono app with metricsMiddleware inside withMetrics (same Metrics) records each request once, with the route; withWaitUntil records HTTP metrics', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const { Hono } = await import('hono');
  const { metricsMiddleware } = await import('edgemetrics/hono');
  const { withWaitUntil } = await import('edgemetrics/all/vercel'); // OTLP JSON: the every-format entry's integration
  const { Metrics } = await import('edgemetrics/all'); // OTLP JSON: the every-format entry
  const metrics = new Metrics({ endpoint: rx.url, format: 'otlp-json', serviceName: 'hono-in-wrapper' });
  const app = new Hono();
  app.use(metricsMiddleware(metrics, { flush: false }));
  app.get('/items/:id', (c) => c.text(`item ${c.req.param('id')}`));
  app.get('/fail', () => {
    throw new RangeError('bad');
  });
  const worker = withMetrics({ fetch: (req, env, ctx) => app.fetch(req, env, ctx) }, metrics);
  assert.equal(await (await worker.fetch(new Request('http://h/items/1'), {}, undefined)).text(), 'item 1');
  assert.equal(await (await worker.fetch(new Request('http://h/items/2'), {}, undefined)).text(), 'item 2');
  assert.equal((await worker.fetch(new Request('http://h/fail'), {}, undefined)).status, 500, "Hono's onError answers 500");
  const edge = withWaitUntil(async (req) => new Response(req.method), { endpoint: rx.url, format: 'otlp-json', serviceName: 'edge' });
  assert.equal(await (await edge(new Request('https://e/x', { method: 'PUT' }))).text(), 'PUT');
  assert.ok(await waitFor(() => rx.requests.length >= 4));
  const R = rx.requests;
  const route = { 'http.route': '/items/:id', 'http.response.status_code': 200 };
  assert.equal(total(R, 'hono-in-wrapper', 'http.server.request.duration', route), 2);
  assert.equal(
    total(R, 'hono-in-wrapper', 'http.server.request.duration', { 'http.route': '/fail', 'http.response.status_code': 500, 'error.type': 'RangeError' }),
    1,
  );
  assert.equal(total(R, 'hono-in-wrapper', 'http.server.request.duration'), 3, 'one record per request, not two');
  assert.equal(total(R, 'hono-in-wrapper', 'http.server.active_requests'), 0);
  assert.equal(total(R, 'hono-in-wrapper', 'faas.invocations', { 'faas.trigger': 'http' }), 3);
  assert.equal(total(R, 'edge', 'http.server.request.duration', { 'http.request.method': 'PUT', 'url.scheme': 'https', 'http.response.status_code': 200 }), 1);
  assert.equal(total(R, 'edge', 'faas.invocations', { 'faas.trigger': 'http' }), 1);
});

test('faas.trigger: every Lambda event shape and handler name the README lists; wrapLambda { trigger } overrides', async (t) => {
  const { triggerOfHandler, triggerOfLambdaEvent } = await import('../dist/modules/auto.js');
  const cases = [
    [{ requestContext: { http: { method: 'GET' } } }, 'http'], // API Gateway HTTP API / function URL
    [{ httpMethod: 'GET', resource: '/x' }, 'http'], // API Gateway REST
    [{ requestContext: { elb: { targetGroupArn: 'arn' } }, httpMethod: 'GET' }, 'http'], // ALB
    [{ Records: [{ eventSource: 'aws:sqs' }] }, 'pubsub'],
    [{ Records: [{ EventSource: 'aws:sns' }] }, 'pubsub'],
    [{ Records: [{ eventSource: 'aws:kinesis' }] }, 'pubsub'],
    [{ Records: [{ eventSource: 'aws:s3' }] }, 'datasource'],
    [{ Records: [{ eventSource: 'aws:dynamodb' }] }, 'datasource'],
    [{ source: 'aws.events', 'detail-type': 'Scheduled Event' }, 'timer'],
    [{ source: 'aws.scheduler' }, 'timer'],
    [{ source: 'aws.events', 'detail-type': 'Something Else' }, 'other'],
    [{}, 'other'],
    [null, 'other'],
    ['text', 'other'],
  ];
  for (const [event, want] of cases) assert.equal(triggerOfLambdaEvent(event), want, JSON.stringify(event));
  const hostile = new Proxy(
    {},
    {
      get() {
        throw new Error('no');
      },
    },
  );
  assert.equal(triggerOfLambdaEvent(hostile), 'other', 'an unreadable event never throws');
  for (const [name, want] of [
    ['fetch', 'http'],
    ['scheduled', 'timer'],
    ['alarm', 'timer'],
    ['queue', 'pubsub'],
    ['email', 'other'],
    ['tail', 'other'],
    ['webSocketMessage', 'other'],
    ['increment', 'other'],
  ]) {
    assert.equal(triggerOfHandler(name), want, name);
  }
  const rx = await startReceiver();
  t.after(() => rx.close());
  await wrapLambda(
    async () => 'x',
    { endpoint: rx.url, format: 'otlp-json', serviceName: 'forced' },
    { trigger: 'datasource' },
  )({ httpMethod: 'GET' }, undefined);
  assert.equal(total(rx.requests, 'forced', 'faas.invocations', { 'faas.trigger': 'datasource' }), 1);
  assert.throws(() => wrapLambda(async () => {}, {}, { trigger: 1 }), { name: 'TypeError', message: /trigger must be a string/ });
});
