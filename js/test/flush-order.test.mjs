// A flush in workerd collects in the call and starts its encode and request from a 0 ms timer
// (js/src/workerd.js, flush.js `setFlightDefer`), so that a handler's Response does not wait for
// the first flush's work. Why a test of its own: the deferral must not change what each flush
// sends — what is recorded after the flush() call goes out with the next flush, whether the
// handler awaits the flush or hands it to waitUntil (the receiver decodes with the official
// OTLP protobuf decoder). A log transport has nothing to defer: its lines are written inside the
// flush() call ('tail', and 'emf', which workerd writes with console.log).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { Miniflare } from 'miniflare';
import { bundle } from './bundle.mjs';
import { bundledWorker, decodeOtlp, startReceiver, waitFor } from './helpers.mjs';

/** The fixture worker, bundled and started in workerd with ENDPOINT; stopped after the test. */
async function orderWorker(t, endpoint) {
  const w = await bundle('flush-order-worker.mjs');
  t.after(() => rmSync(w.dir, { recursive: true, force: true }));
  const mf = new Miniflare({ ...bundledWorker(w.dir, w.outfile), bindings: { ENDPOINT: endpoint } });
  t.after(() => mf.dispose());
  return mf;
}

const values = (requests) => requests.map((r) => decodeOtlp(r).metrics['order.n']?.points.map((p) => p.value));

test('workerd: a flush sends what was recorded until its call, not what the handler recorded after it', async (t) => {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const mf = await orderWorker(t, receiver.url);

  const res = await mf.dispatchFetch('http://localhost/');
  assert.deepEqual(await res.json(), { first: true, second: true });
  assert.deepEqual(values(receiver.requests), [[1], [10]]);

  const res2 = await mf.dispatchFetch('http://localhost/?waitUntil');
  assert.equal(await res2.text(), 'returned');
  assert.ok(await waitFor(() => receiver.requests.length >= 4, { timeoutMs: 10_000 }), `${receiver.requests.length} requests`);
  assert.deepEqual(values(receiver.requests.slice(2)), [[1], [10]]);
});

test('workerd: transport tail writes its line inside the flush() call (no timer), awaited or not', async (t) => {
  const mf = await orderWorker(t, 'http://127.0.0.1:9');
  const res = await mf.dispatchFetch('http://localhost/?tail');
  const body = await res.json();
  assert.equal(body.lines, 1, JSON.stringify(body));
  assert.equal(body.prefix, 'edgemetrics:compact:1:'.slice(0, 16));
});

test("workerd: format 'emf' writes its lines with console.log (no process.stdout) inside the flush() call, awaited or not", async (t) => {
  const mf = await orderWorker(t, 'http://127.0.0.1:9');
  const res = await mf.dispatchFetch('http://localhost/?emf');
  const body = await res.json();
  assert.equal(body.process, 'undefined', 'this workerd has no process object');
  assert.ok(body.lines.length >= 1, JSON.stringify(body));
  const values = {};
  for (const line of body.lines) {
    const doc = JSON.parse(line); // one EMF document per console.log line
    assert.equal(typeof doc._aws?.Timestamp, 'number', line);
    for (const d of doc._aws.CloudWatchMetrics) for (const m of d.Metrics) if (m.Name === 'order.n') values[doc.route] = doc['order.n'];
  }
  assert.deepEqual(values, { '/a': 3, '/b': 4 });
  assert.equal(body.result.sent, true, JSON.stringify(body.result));
});
