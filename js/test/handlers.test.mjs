// withMetrics around `scheduled` and `queue` handlers in workerd (miniflare's getWorker()
// triggers them as the runtime does): each invocation records and its batch reaches the
// receiver on 127.0.0.1 through ctx.waitUntil.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Miniflare } from 'miniflare';
import { decodeOtlp, fixtureWorker, startReceiver, waitFor } from './helpers.mjs';

test('workerd (miniflare): scheduled and queue handlers wrapped by withMetrics flush one batch each', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const mf = new Miniflare(fixtureWorker('handlers-worker.mjs', { ENDPOINT: rx.url }));
  t.after(() => mf.dispose());
  const worker = await mf.getWorker();
  const cron = await worker.scheduled({ cron: '*/5 * * * *', scheduledTime: new Date() });
  assert.equal(cron.outcome, 'ok');
  assert.ok(await waitFor(() => rx.requests.length >= 1), 'scheduled batch never arrived');
  const q = await worker.queue('jobs', [
    { id: 'a', timestamp: new Date(), body: 'x', attempts: 1 },
    { id: 'b', timestamp: new Date(), body: 'y', attempts: 1 },
  ]);
  assert.equal(q.outcome, 'ok');
  assert.ok(await waitFor(() => rx.requests.length >= 2), 'queue batch never arrived');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(rx.requests.length, 2, 'one batch per invocation');
  const [d1, d2] = rx.requests.map(decodeOtlp);
  assert.deepEqual(
    d1.metrics['cron.runs'].points.map((p) => [p.attrs.cron, p.value]),
    [['*/5 * * * *', 1]],
  );
  assert.deepEqual(
    d2.metrics['queue.messages'].points.map((p) => [p.attrs.queue, p.value]),
    [['jobs', 2]],
  );
});
