// Issue 6's fault-injection matrix for the JS host, in Node and in workerd (miniflare): the same
// cases as the native suite (tests/delivery.rs), driven through the JS API against a
// fault-injecting receiver on 127.0.0.1. Each case is one invocation that adds a distinct power of
// two to the counter `faults.value` (selfMetrics off, so every batch is exactly one point) and
// flushes once. Per case the test checks: the retry / no-retry decision of the OTLP policy
// (src/push/config.rs `Protocol::classify`: 2xx delivered, 401/403 unauthorized, 429 and 502..504
// retried, every other status, OTLP 500 included, dropped; transport errors retried), the batch id
// (one per batch, the same on every attempt, new for the next batch), the deadline (elapsed time),
// that flush() resolves (never rejects; in workerd the handler's response is the normal one), and
// the accounting: FlushResult.dropped / carried / rejected against what the receiver stored (only
// bodies it answered with 2xx). At the end the receiver is healthy again and
// received + dropped == recorded, exactly.
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { Miniflare } from 'miniflare';
import { Metrics } from '../dist/node.js';
import { controlTimer, decodeOtlp, fixtureWorker } from './helpers.mjs';

const require = createRequire(import.meta.url);
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');
const ExportMetricsServiceResponse = root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse;

// Small settings so the whole file stays well under a minute. With these, a slow receiver makes
// attempt 1 time out at 1500 ms and attempt 2 (timeout min(1500, 2000 - ~1520)) at the deadline.
const TIMEOUT_MS = 2000;
const RETRY = { maxAttempts: 3, attemptTimeoutMs: 1500, backoffBaseMs: 20, backoffCapMs: 80 };
const SLOW_MS = 2600; // > TIMEOUT_MS: the slow answer (a 504) comes after the client gave up
const METRIC = 'faults.value';
const BATCH_ID = /^[0-9a-f]{32}$/;

const partialSuccessBody = (n) =>
  Buffer.from(ExportMetricsServiceResponse.encode({ partialSuccess: { rejectedDataPoints: n, errorMessage: `${n} point too old` } }).finish());

/**
 * A fault-injecting OTLP receiver on 127.0.0.1. Each request takes the next fault of `script`
 * (then `ok`): `ok` (200, empty ExportMetricsServiceResponse), `partial` (200 + partial success),
 * `status` (code + headers), `reset` (socket destroyed after the request was read), `slow` (the
 * status after `ms`). Every request is recorded with the case tag current at arrival; `stored` is
 * set only when it is answered 2xx. Every response says `Connection: close`, so one attempt is
 * one connection and no pooled socket can turn a later case's attempt into a spurious reset.
 */
async function startFaultReceiver() {
  const requests = [];
  const sockets = new Set();
  const timers = new Set();
  let script = [];
  let tag = '';
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const r = {
        tag,
        at: Date.now(),
        batchId: req.headers['x-edgemetrics-batch-id'],
        headers: req.headers,
        url: req.url,
        body: Buffer.concat(chunks),
        stored: false,
      };
      requests.push(r);
      const fault = script.shift() ?? { kind: 'ok' };
      r.fault = fault.kind;
      const answer = (status, headers = {}, body = Buffer.alloc(0)) => {
        if (res.destroyed) return;
        res.writeHead(status, { connection: 'close', 'content-type': 'application/x-protobuf', ...headers });
        res.end(body);
        if (status >= 200 && status < 300) r.stored = true;
      };
      switch (fault.kind) {
        case 'ok':
          return answer(200);
        case 'partial':
          return answer(200, {}, partialSuccessBody(fault.rejected));
        case 'status':
          return answer(fault.status, fault.headers);
        case 'reset':
          return req.socket.destroy();
        case 'slow': {
          const timer = setTimeout(() => {
            timers.delete(timer);
            answer(fault.status);
          }, fault.ms);
          timers.add(timer);
          return;
        }
        default:
          throw new Error(`unknown fault ${fault.kind}`);
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const listen = (port) =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stop = async () => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
    for (const s of sockets) s.destroy();
    if (server.listening) await new Promise((resolve) => server.close(resolve));
  };
  await listen(0);
  const port = server.address().port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setCase(name, faults) {
      tag = name;
      script = [...faults];
    },
    /** Nothing listens on the port any more: connections are refused. */
    stop,
    /** Listens again on the same port. */
    restart: () => listen(port),
    close: stop,
  };
}

const ok = { kind: 'ok' };
const st = (status, headers = {}) => ({ kind: 'status', status, headers });

/**
 * The matrix. `attempts`: requests made (for `refused`, all of them refused, none received);
 * `outcome`: 'sent' (2xx), 'dropped' (permanent: the batch is lost and counted), 'carried'
 * (retryable failure: kept for the next batch). `error` matches FlushResult.error when not sent.
 */
function cases() {
  return [
    { name: '200', faults: [ok], attempts: 1, outcome: 'sent', status: 200 },
    { name: '200 partial success (1 rejected)', faults: [{ kind: 'partial', rejected: 1 }], attempts: 1, outcome: 'sent', status: 200, rejected: 1 },
    { name: '400', faults: [st(400)], attempts: 1, outcome: 'dropped', status: 400, error: /^rejected \(HTTP 400\)$/ },
    { name: '401', faults: [st(401)], attempts: 1, outcome: 'dropped', status: 401, error: /^unauthorized \(HTTP 401\)$/ },
    { name: '403', faults: [st(403)], attempts: 1, outcome: 'dropped', status: 403, error: /^unauthorized \(HTTP 403\)$/ },
    { name: '413', faults: [st(413)], attempts: 1, outcome: 'dropped', status: 413, error: /^rejected \(HTTP 413\)$/ },
    // Carried from here into the 500 below, where the merged point is dropped with it.
    {
      name: '503 x3: exhausted, carried',
      faults: [st(503), st(503), st(503)],
      attempts: 3,
      outcome: 'carried',
      status: 503,
      error: /^exhausted \(HTTP 503\)$/,
    },
    { name: '500 (OTLP: not retried)', faults: [st(500)], attempts: 1, outcome: 'dropped', status: 500, error: /^rejected \(HTTP 500\)$/ },
    { name: '429 Retry-After: 1', faults: [st(429, { 'retry-after': '1' }), ok], attempts: 2, outcome: 'sent', status: 200, minGapMs: 950 },
    {
      name: '429 Retry-After: HTTP date',
      // The date is computed when the receiver answers (second resolution, 0.5..1.5 s ahead).
      faults: [{ kind: 'date429' }, ok],
      attempts: 2,
      outcome: 'sent',
      status: 200,
      honoursDate: true,
    },
    {
      name: '429 Retry-After past the deadline: give up at once, carried',
      faults: [st(429, { 'retry-after': '30' })],
      attempts: 1,
      outcome: 'carried',
      status: 429,
      error: /^deadline \(HTTP 429\)$/,
      maxMs: 500,
    },
    { name: '502', faults: [st(502), ok], attempts: 2, outcome: 'sent', status: 200 },
    { name: '503', faults: [st(503), ok], attempts: 2, outcome: 'sent', status: 200 },
    { name: '504', faults: [st(504), ok], attempts: 2, outcome: 'sent', status: 200 },
    {
      name: 'slow response past the deadline',
      faults: [
        { kind: 'slow', ms: SLOW_MS, status: 504 },
        { kind: 'slow', ms: SLOW_MS, status: 504 },
      ],
      attempts: [1, 2],
      outcome: 'carried',
      status: 0,
      error: /^deadline \(timeout\)$/,
    },
    { name: 'connection reset, then 200', faults: [{ kind: 'reset' }, ok], attempts: 2, outcome: 'sent', status: 200 },
    {
      name: 'connection reset x3: exhausted, carried',
      faults: [{ kind: 'reset' }, { kind: 'reset' }, { kind: 'reset' }],
      attempts: 3,
      outcome: 'carried',
      status: 0,
      error: /^exhausted \(reset\)$/,
      workerdError: /^exhausted \(other\)$/,
    },
    {
      name: 'connection refused (closed port): exhausted, carried',
      refused: true,
      faults: [],
      attempts: 3,
      outcome: 'carried',
      status: 0,
      error: /^exhausted \(refused\)$/,
      workerdError: /^exhausted \(other\)$/,
    },
    { name: 'healthy again: carried data arrives', faults: [ok], attempts: 1, outcome: 'sent', status: 200 },
  ];
}

/** Sum of `faults.value` in a stored OTLP protobuf body. */
function valueIn(req) {
  const m = decodeOtlp({ headers: { 'content-type': 'application/x-protobuf' }, body: req.body }).metrics[METRIC];
  assert.ok(m, `body without ${METRIC}`);
  assert.equal(m.kind, 'counter');
  assert.equal(m.points.length, 1, 'one point per batch (carried data merges into it)');
  return m.points.reduce((s, p) => s + p.value, 0);
}

/**
 * Runs the matrix. `invoke(v, i)` performs one invocation recording `v` and resolves
 * `{ settled: {ok, result|error}, elapsedMs }`; `slackMs` is the timing margin of the runtime.
 */
async function runMatrix(rx, invoke, { runtime, slackMs }) {
  const list = cases();
  let recorded = 0;
  let pending = 0; // value carried, not yet delivered
  let lostByResults = 0; // value of the batches FlushResult reported dropped
  const ids = [];
  for (const [i, c] of list.entries()) {
    const v = 2 ** i;
    const label = `${runtime}: ${c.name}`;
    // The HTTP-date fault needs the time of the answer: a `status` fault whose headers are
    // computed when the receiver answers.
    let dateMs = 0;
    const faults = c.faults.map((f) => {
      if (f.kind !== 'date429') return f;
      return {
        kind: 'status',
        status: 429,
        get headers() {
          const d = new Date(Date.now() + 1500);
          dateMs = Math.floor(d.getTime() / 1000) * 1000;
          return { 'retry-after': d.toUTCString() };
        },
      };
    });
    rx.setCase(c.name, faults);
    if (c.refused) await rx.stop();
    recorded += v;
    // A plain timer started with the invocation: a loaded machine fires every timer late, and the
    // deadline assertions below allow the invocation that lateness too (read only when the
    // invocation took longer than its bound; otherwise there is nothing to excuse).
    const control = controlTimer(TIMEOUT_MS);
    const { settled, elapsedMs } = await invoke(v, i);
    const bound = Math.min(TIMEOUT_MS, c.maxMs ?? TIMEOUT_MS) + slackMs;
    const lateMs = elapsedMs < bound ? (control.cancel(), 0) : await control.late();
    if (c.refused) await rx.restart();
    assert.ok(settled.ok, `${label}: flush() rejected: ${settled.error}`);
    const r = settled.result;

    // Deadline kept (retries and waits included).
    const lateNote = `a setTimeout(${TIMEOUT_MS}) started with it was ${lateMs} ms late`;
    assert.ok(elapsedMs < TIMEOUT_MS + slackMs + lateMs, `${label}: took ${elapsedMs} ms (budget ${TIMEOUT_MS} ms; ${lateNote})`);
    if (c.maxMs) assert.ok(elapsedMs < c.maxMs + slackMs + lateMs, `${label}: gave up after ${elapsedMs} ms (${lateNote})`);

    // Retry / no retry.
    const got = rx.requests.filter((q) => q.tag === c.name);
    const [lo, hi] = Array.isArray(c.attempts) ? c.attempts : [c.attempts, c.attempts];
    assert.ok(r.attempts >= lo && r.attempts <= hi, `${label}: attempts ${r.attempts} ${JSON.stringify(r)}`);
    assert.equal(got.length, c.refused ? 0 : r.attempts, `${label}: requests received`);
    assert.equal(r.status, c.status, `${label}: status ${JSON.stringify(r)}`);
    if (c.minGapMs) assert.ok(got[1].at - got[0].at >= c.minGapMs, `${label}: Retry-After honoured (${got[1].at - got[0].at} ms)`);
    if (c.honoursDate) {
      assert.ok(dateMs > 0);
      assert.ok(got[1].at >= dateMs - 25, `${label}: retried ${dateMs - got[1].at} ms before the Retry-After date`);
    }

    // One batch id per batch: the same on every attempt, new for every batch.
    for (const q of got) {
      assert.match(q.batchId ?? '', BATCH_ID, `${label}: batch id header`);
      assert.equal(q.batchId, got[0].batchId, `${label}: same batch id on every attempt`);
      // Retries resend the byte-identical body (a Prometheus-family store takes an exact
      // duplicate as a no-op); carried data travels in the next batch, under a new id (below).
      assert.ok(q.body.equals(got[0].body), `${label}: retry body differs from the first attempt`);
    }
    if (got.length > 0) {
      assert.ok(!ids.includes(got[0].batchId), `${label}: a new batch id for a new batch`);
      ids.push(got[0].batchId);
    }

    // What the receiver stored (2xx only) against what the result counts.
    const storedNow = got.filter((q) => q.stored).reduce((s, q) => s + valueIn(q), 0);
    if (c.outcome === 'sent') {
      assert.equal(r.sent, true, `${label}: ${JSON.stringify(r)}`);
      assert.equal(r.error, undefined);
      assert.equal(r.dropped, 0);
      assert.equal(r.carried, 0);
      assert.equal(r.rejected, c.rejected, `${label}: rejected`);
      assert.equal(got.filter((q) => q.stored).length, 1, `${label}: stored once`);
      assert.equal(storedNow, v + pending, `${label}: this value plus everything carried`);
      pending = 0;
    } else {
      assert.equal(r.sent, false, `${label}: ${JSON.stringify(r)}`);
      // workerd's fetch says "Network connection lost." for both a reset and a refused
      // connection: the host cannot tell them apart and reports `other` (still retried).
      assert.match(r.error ?? '', (runtime === 'workerd' && c.workerdError) || c.error, `${label}: error`);
      assert.equal(r.rejected, undefined);
      assert.equal(storedNow, 0, `${label}: nothing stored`);
      if (c.outcome === 'dropped') {
        assert.equal(r.dropped, 1, `${label}: the batch's one point is counted as dropped`);
        assert.equal(r.carried, 0);
        lostByResults += v + pending; // carried data merged into this batch is lost with it
        pending = 0;
      } else {
        assert.equal(r.carried, 1, `${label}: the batch's one point is carried`);
        assert.equal(r.dropped, 0);
        pending += v;
      }
    }
  }
  assert.equal(pending, 0, 'the last (healthy) flush delivered everything carried');
  assert.equal(new Set(ids).size, ids.length);
  const received = rx.requests.filter((q) => q.stored).reduce((s, q) => s + valueIn(q), 0);
  // Exact: the values are distinct powers of two, so this also says which invocations arrived.
  assert.equal(received + lostByResults, recorded, `${runtime}: received ${received} + dropped ${lostByResults} == recorded ${recorded}`);
  assert.equal(lostByResults, 2 ** 2 + 2 ** 3 + 2 ** 4 + 2 ** 5 + 2 ** 6 + 2 ** 7, 'exactly 400, 401, 403, 413, and 503x3 (carried) + 500');
}

test('node: fault matrix (every status class, Retry-After, slow, reset, refused) through Metrics.flush', async (t) => {
  const rx = await startFaultReceiver();
  t.after(() => rx.close());
  const metrics = new Metrics({ endpoint: rx.url, format: 'otlp-proto', serviceName: 'faults', selfMetrics: false, timeoutMs: TIMEOUT_MS, retry: RETRY });
  const counter = metrics.counter(METRIC);
  const t0 = Date.now();
  await runMatrix(
    rx,
    async (v) => {
      metrics.begin();
      counter.add(v);
      const start = performance.now();
      const settled = await metrics.flush().then(
        (result) => ({ ok: true, result }),
        (e) => ({ ok: false, error: String(e?.stack ?? e) }),
      );
      return { settled, elapsedMs: performance.now() - start };
    },
    { runtime: 'node', slackMs: 250 },
  );
  assert.ok(Date.now() - t0 < 25_000, 'the matrix is bounded in time');
});

test('workerd (miniflare): fault matrix through withMetrics + ctx.waitUntil', async (t) => {
  const rx = await startFaultReceiver();
  t.after(() => rx.close());
  const mf = new Miniflare(fixtureWorker('faults-worker.mjs', { ENDPOINT: rx.url, TIMEOUT_MS: String(TIMEOUT_MS), RETRY: JSON.stringify(RETRY) }));
  t.after(() => mf.dispose());
  // Start workerd before the clock of the first case runs (a loaded machine took 3.6 s).
  await mf.ready;
  const results = async () => (await mf.dispatchFetch('http://localhost/results')).json();
  const t0 = Date.now();
  await runMatrix(
    rx,
    async (v, i) => {
      const start = performance.now();
      const res = await mf.dispatchFetch(`http://localhost/?v=${v}&seq=${i}`);
      // No exception reached the handler: its normal response.
      assert.equal(res.status, 200);
      assert.equal(await res.text(), `recorded ${v}`);
      // The flush runs in waitUntil after the response: poll (bounded) for its outcome.
      let list = [];
      for (let k = 0; k < 1000 && list.length <= i && performance.now() - start < 10_000; k++) {
        list = await results();
        if (list.length <= i) await new Promise((r) => setTimeout(r, 10));
      }
      const elapsedMs = performance.now() - start;
      assert.equal(list.length, i + 1, `workerd: outcome of invocation ${i} never arrived`);
      assert.equal(list[i].seq, String(i));
      return { settled: list[i], elapsedMs };
    },
    { runtime: 'workerd', slackMs: 700 },
  );
  assert.ok(Date.now() - t0 < 30_000, 'the matrix is bounded in time');
});
