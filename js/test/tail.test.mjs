// Tail Worker aggregation in local workerd (miniflare runs the workerd binary, with the producer's
// `tails` pointing at the consumer, as `tail_consumers` does in wrangler.toml): why a test file
// of its own is that the promise spans two workers and a receiver — N producer invocations with
// `transport: 'tail'` make no request, the Tail Worker (`edgemetrics/tail`) pushes at most
// ⌈N/window⌉ OTLP requests, and the totals the receiver decodes (official OTLP protobuf decoder)
// are exactly what the producer recorded, also when producers log lines that carry the batch
// prefix but no batch (counted in `handler.stats`). The direct-push mode runs the same producer for the
// request and byte comparison printed at the end.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { Miniflare } from 'miniflare';
import { join } from 'node:path';
import { bundle, dist } from './bundle.mjs';
import { bundledWorker, decodeOtlp, startReceiver, waitFor } from './helpers.mjs';

const WINDOW = 10;

function expected(from, to) {
  const e = { requests: { '/a': 0, '/b': 0 }, count: { '/a': 0, '/b': 0 }, sum: { '/a': 0, '/b': 0 }, last: to - 1 };
  for (let i = from; i < to; i++) {
    const route = i % 2 ? '/a' : '/b';
    e.requests[route] += 1 + (i % 3);
    e.count[route] += 1;
    e.sum[route] += (i * 7) % 150;
  }
  return e;
}

function totals(requests) {
  const t = { requests: { '/a': 0, '/b': 0 }, count: { '/a': 0, '/b': 0 }, sum: { '/a': 0, '/b': 0 }, last: null, lastTime: 0n };
  for (const req of requests) {
    const m = decodeOtlp(req);
    for (const p of m.metrics.requests?.points ?? []) t.requests[p.attrs.route] += p.value;
    for (const p of m.metrics.latency?.points ?? []) {
      t.count[p.attrs.route] += p.count;
      t.sum[p.attrs.route] += p.sum;
    }
    for (const p of m.metrics['last.i']?.points ?? []) {
      if (BigInt(p.time) >= t.lastTime) [t.last, t.lastTime] = [p.value, BigInt(p.time)];
    }
  }
  delete t.lastTime;
  return t;
}

async function workers(t, mode, receiver, second = false, consumer = 'tail-consumer.mjs') {
  const p = await bundle('tail-producer.mjs');
  const c = await bundle(consumer, { wasmDir: join(dist, 'tail') });
  t.after(() => {
    rmSync(p.dir, { recursive: true, force: true });
    rmSync(c.dir, { recursive: true, force: true });
  });
  const mf = new Miniflare({
    workers: [
      { ...bundledWorker(p.dir, p.outfile), name: 'producer', bindings: { MODE: mode, ENDPOINT: receiver.url }, tails: ['consumer'] },
      { ...bundledWorker(c.dir, c.outfile), name: 'consumer', bindings: { ENDPOINT: receiver.url } },
      ...(second ? [{ ...bundledWorker(p.dir, p.outfile), name: 'billing', bindings: { MODE: mode, SERVICE: 'billing' }, tails: ['consumer'] }] : []),
    ],
    // workerd echoes every console.log (the producer's batch lines) on its stdout: drained here.
    handleRuntimeStdio(stdout, stderr) {
      stdout.resume();
      stderr.resume();
    },
  });
  t.after(async () => {
    try {
      await mf.dispose();
    } catch {
      // already disposed by the test
    }
  });
  await mf.ready;
  return mf;
}

async function invoke(mf, from, to, worker) {
  for (let i = from; i < to; i++) {
    const res = worker ? await (await mf.getWorker(worker)).fetch(`http://localhost/?i=${i}`) : await mf.dispatchFetch(`http://localhost/?i=${i}`);
    assert.equal(await res.text(), 'ok');
  }
}

test('transport tail: N producer invocations give ≤ ⌈N/window⌉ pushes from the Tail Worker with exact totals', async (t) => {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const mf = await workers(t, 'tail', receiver);
  const n = 30;
  let t0 = Date.now();
  await invoke(mf, 0, n);
  t.diagnostic(`invoked in ${Date.now() - t0} ms`);
  t0 = Date.now();
  await waitFor(() => receiver.requests.length >= n / WINDOW, { timeoutMs: 15_000 });
  t.diagnostic(`pushes arrived after ${Date.now() - t0} ms`);
  // Nothing else arrives: the producer itself sent nothing.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(receiver.requests.length, Math.ceil(n / WINDOW));
  for (const req of receiver.requests) {
    assert.equal(req.url, '/v1/metrics');
    assert.equal(decodeOtlp(req).resource['service.name'], 'producer', "the producer's resource is kept");
  }
  assert.deepEqual(totals(receiver.requests), expected(0, n));
  const tailBytes = receiver.requests.reduce((a, r) => a + r.body.length, 0);

  // A partial window is pushed at the first tail event after maxAgeMs (4 s).
  await invoke(mf, n, n + 3);
  await new Promise((r) => setTimeout(r, 4100));
  await invoke(mf, n + 3, n + 4);
  await waitFor(() => receiver.requests.length >= 4, { timeoutMs: 15_000 });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(receiver.requests.length, Math.ceil((n + 4) / WINDOW));
  assert.deepEqual(totals(receiver.requests), expected(0, n + 4));
  t.diagnostic(`tail mode: ${n} invocations -> ${n / WINDOW} requests, ${tailBytes} body bytes (window ${WINDOW})`);
});

test('direct mode, same producer: about one request per invocation (the comparison)', async (t) => {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const mf = await workers(t, 'direct', receiver);
  const n = 30;
  await invoke(mf, 0, n);
  // Sequential invocations push one by one; when a push is still in flight as the next invocation
  // ends, that invocation's data joins the follow-up (the host-loop contract), so a loaded machine
  // may see slightly fewer requests than invocations. The totals are exact either way.
  const exact = JSON.stringify(expected(0, n));
  await waitFor(() => JSON.stringify(totals(receiver.requests)) === exact, { timeoutMs: 15_000 });
  assert.deepEqual(totals(receiver.requests), expected(0, n));
  assert.ok(receiver.requests.length <= n, `${receiver.requests.length} requests for ${n} invocations`);
  assert.ok(receiver.requests.length >= n - 5, `${receiver.requests.length} requests: far fewer than one per invocation`);
  const bytes = receiver.requests.reduce((a, r) => a + r.body.length, 0);
  t.diagnostic(`direct mode: ${n} invocations -> ${receiver.requests.length} requests, ${bytes} body bytes`);
});

test('two producer services behind one Tail Worker: each pushed in batches of its own, totals exact per service', async (t) => {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const mf = await workers(t, 'tail', receiver, true);
  // 5 shop invocations (half a window), then 10 billing ones: the first billing batch pushes
  // shop's window, the 10th billing event its own.
  await invoke(mf, 0, 5, 'producer');
  await invoke(mf, 0, 10, 'billing');
  await waitFor(() => receiver.requests.length >= 2, { timeoutMs: 15_000 });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(receiver.requests.length, 2);
  const by = {};
  for (const req of receiver.requests) {
    const service = decodeOtlp(req).resource['service.name'];
    (by[service] ??= []).push(req);
  }
  assert.deepEqual(Object.keys(by).sort(), ['billing', 'producer']);
  assert.deepEqual(totals(by.producer), expected(0, 5));
  assert.deepEqual(totals(by.billing), expected(0, 10));
});

test('lines with the batch prefix but no batch are counted as malformed in handler.stats; the batches around them keep exact totals', async (t) => {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const mf = await workers(t, 'tail', receiver);
  // One window of invocations; every other one also logs three malformed lines and one of its own.
  for (let i = 0; i < WINDOW; i++) {
    const res = await mf.dispatchFetch(`http://localhost/?i=${i}${i % 2 ? '&bad' : ''}`);
    assert.equal(await res.text(), 'ok');
  }
  const consumer = await mf.getWorker('consumer');
  const stats = async () => (await consumer.fetch('http://localhost/stats')).json();
  // Tail events arrive after the invocations: asked for at most 15 s.
  for (let k = 0; k < 150 && (await stats()).events < WINDOW; k++) await new Promise((r) => setTimeout(r, 100));
  await waitFor(() => receiver.requests.length >= 1, { timeoutMs: 15_000 });
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(await stats(), { events: WINDOW, batches: WINDOW, malformed: 3 * (WINDOW / 2), refused: 0, pushes: 1 });
  assert.equal(receiver.requests.length, 1, 'one push for the window');
  assert.deepEqual(totals(receiver.requests), expected(0, WINDOW));
});

test('a Tail Worker stopped mid-window loses what it merged since its last push (the documented bound)', async (t) => {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const mf = await workers(t, 'tail', receiver);
  await invoke(mf, 0, WINDOW + 5);
  await waitFor(() => receiver.requests.length >= 1, { timeoutMs: 15_000 });
  await mf.dispose();
  await new Promise((r) => setTimeout(r, 300));
  // One push for the first window; the 5 batches merged after it went with the isolate.
  assert.equal(receiver.requests.length, 1);
  assert.deepEqual(totals(receiver.requests), expected(0, WINDOW));
  t.diagnostic(`stopped mid-window: ${5} of ${WINDOW + 5} invocations lost (window ${WINDOW})`);
});

test('tailHandler without options pushes once per 100 tail events (the documented default window)', async (t) => {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const mf = await workers(t, 'tail', receiver, false, 'tail-consumer-defaults.mjs');
  const consumer = await mf.getWorker('consumer');
  const stats = async () => (await consumer.fetch('http://localhost/stats')).json();
  const eventsAtLeast = async (n) => {
    for (let k = 0; k < 150 && (await stats()).events < n; k++) await new Promise((r) => setTimeout(r, 100));
    return (await stats()).events;
  };
  await invoke(mf, 0, 99);
  assert.equal(await eventsAtLeast(99), 99);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(receiver.requests.length, 0, '99 events: below the default window');
  assert.equal((await stats()).pushes, 0);
  await invoke(mf, 99, 100);
  assert.equal(await eventsAtLeast(100), 100);
  assert.ok(await waitFor(() => receiver.requests.length >= 1, { timeoutMs: 15_000 }), 'the 100th event did not push');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(receiver.requests.length, 1);
  assert.deepEqual(totals(receiver.requests), expected(0, 100));
});
