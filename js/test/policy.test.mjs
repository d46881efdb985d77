// The flush policy (option `flush`) in workerd (miniflare): 'invocation' pushes once per
// invocation; 'adaptive' (the default) pushes once per invocation when requests are sequential,
// far fewer times under overlapping load, never holds data past `maxAgeMs` while the isolate stays
// busy, and loses nothing (the invocation that leaves the isolate idle pushes). Totals are read at
// a real HTTP receiver with the official OTLP decoding, and each batch says how many invocations it
// covers (`edgemetrics.sdk.invocations`).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { Miniflare } from 'miniflare';
import { Metrics } from '../dist/node.js';
import { decodeOtlp, startReceiver, waitFor, bundledWorker } from './helpers.mjs';
import { bundle } from './bundle.mjs';

const sum = (batches, name) => batches.flatMap((d) => d.metrics[name]?.points ?? []).reduce((s, p) => s + p.value, 0);

async function setup(t, policy, vars = {}) {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const { dir, outfile } = await bundle('policy-worker.mjs');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bindings = { ENDPOINT: rx.url, ...vars };
  if (policy !== undefined) bindings.POLICY = JSON.stringify(policy);
  const mf = new Miniflare({ ...bundledWorker(dir, outfile), bindings });
  t.after(() => mf.dispose());
  const get = async (ms = 0) => (await mf.dispatchFetch(`http://localhost/?ms=${ms}`)).text();
  const batches = () => rx.requests.map(decodeOtlp);
  // Everything sent: the counts at the receiver reach `n` and stay there.
  const settled = async (n) => {
    assert.ok(await waitFor(() => sum(batches(), 'policy.hits') >= n, { timeoutMs: 10_000 }), `only ${sum(batches(), 'policy.hits')} of ${n} hits arrived`);
    await new Promise((r) => setTimeout(r, 300));
    return batches();
  };
  return { rx, get, settled };
}

const N = 12;

for (const policy of ['invocation', undefined]) {
  test(`workerd: ${policy ?? 'adaptive (default)'}: ${N} sequential invocations → ${N} pushes`, async (t) => {
    const { rx, get, settled } = await setup(t, policy);
    for (let i = 0; i < N; i++) assert.equal(await get(), 'in flight 1');
    const b = await settled(N);
    assert.equal(rx.requests.length, N, 'one push per invocation');
    assert.equal(sum(b, 'policy.hits'), N);
    assert.deepEqual(
      b.map((d) => sum([d], 'edgemetrics.sdk.invocations')),
      Array(N).fill(1),
      'each batch covers one invocation',
    );
  });
}

test(`workerd: under a burst of overlapping invocations 'adaptive' pushes once or twice, 'invocation' more; exact totals under both`, async (t) => {
  const K = 40;
  const pushes = {};
  for (const policy of ['invocation', 'adaptive']) {
    await t.test(policy, async (t2) => {
      // 'invocation' comes from the environment variable (a wrangler var), 'adaptive' is the default.
      const { rx, get, settled } = await setup(t2, undefined, policy === 'invocation' ? { EDGEMETRICS_FLUSH_POLICY: 'invocation' } : {});
      const answers = await Promise.all(Array.from({ length: K }, (_, i) => get(50 + (i % 5) * 10)));
      assert.ok(
        answers.some((a) => a !== 'in flight 1'),
        'requests overlapped in the isolate',
      );
      const b = await settled(K);
      assert.equal(sum(b, 'policy.hits'), K, 'exact total at the receiver');
      assert.equal(sum(b, 'edgemetrics.sdk.invocations'), K, 'every invocation counted in exactly one batch');
      pushes[policy] = rx.requests.length;
    });
  }
  console.log(`${K} overlapping invocations: ${pushes.invocation} pushes ('invocation'), ${pushes.adaptive} ('adaptive'); exact totals under both`);
  // 'adaptive' pushes only when the isolate goes idle: once (twice when a flush coincides with
  // the end of the burst). 'invocation' pushes a flight and one follow-up at a time, repeatedly.
  assert.ok(pushes.adaptive <= 2, `adaptive: ${pushes.adaptive} pushes for ${K} overlapping invocations`);
  assert.ok(pushes.adaptive < pushes.invocation, `adaptive ${pushes.adaptive} vs invocation ${pushes.invocation}`);
});

test('workerd: adaptive never holds data past maxAgeMs while the isolate stays busy, and the final idle invocation pushes the rest', async (t) => {
  const maxAgeMs = 300;
  const { rx, get, settled } = await setup(t, { maxAgeMs });
  // Continuous overlapping load for ~2.4 s: a new 200 ms request every 40 ms, so the isolate is
  // never idle until the end.
  const pending = [];
  const t0 = Date.now();
  let n = 0;
  while (Date.now() - t0 < 2400 && n < 150) {
    pending.push(get(200));
    n++;
    await new Promise((r) => setTimeout(r, 40));
  }
  await Promise.all(pending);
  const b = await settled(n);
  assert.equal(sum(b, 'policy.hits'), n, 'nothing lost');
  assert.equal(sum(b, 'edgemetrics.sdk.invocations'), n);
  console.log(`${n} overlapping invocations over 2.4 s with maxAgeMs ${maxAgeMs}: ${rx.requests.length} pushes`);
  // Age-triggered pushes while busy (about 2400/(300+200) ≈ 4, at least 2 on a loaded machine)
  // plus the final one, and far fewer than one per invocation.
  assert.ok(rx.requests.length >= 3, `${rx.requests.length} pushes: the age limit did not trigger`);
  assert.ok(rx.requests.length <= n / 3, `${rx.requests.length} pushes for ${n} invocations`);
  // No batch's window is older than maxAgeMs plus one invocation (the 200 ms wait) plus slack.
  for (const d of b) {
    const p = d.metrics['policy.hits'].points[0];
    const spanMs = Number((BigInt(p.time) - BigInt(p.start)) / 1_000_000n);
    assert.ok(spanMs <= maxAgeMs + 200 + 250, `a batch spans ${spanMs} ms`);
  }
});

test('node: option flush is checked (RangeError/TypeError naming it); end() defers while invocations overlap, then flushes; flush() always pushes', async (t) => {
  for (const [flush, cls, re] of [
    ['hourly', RangeError, /options\.flush must be 'adaptive', 'invocation' or an object/],
    [{ maxAgeMs: 0 }, RangeError, /options\.flush\.maxAgeMs must be a positive integer/],
    [{ everyInvocations: 1.5 }, RangeError, /options\.flush\.everyInvocations/],
    [{ whenIdle: 'yes' }, TypeError, /options\.flush\.whenIdle must be a boolean/],
    [{ every: 3 }, RangeError, /unknown option flush\.every/],
    [7, TypeError, /options\.flush must be an object/],
  ]) {
    assert.throws(
      () => new Metrics({ endpoint: 'http://127.0.0.1:9', flush }),
      (e) => e instanceof cls && re.test(e.message),
      JSON.stringify(flush),
    );
  }
  const rx = await startReceiver();
  t.after(() => rx.close());
  const m = new Metrics({ endpoint: rx.url, format: 'otlp-json', serviceName: 'end' });
  const c = m.counter('end.hits');
  m.begin();
  m.begin();
  c.add(1);
  assert.equal(m.inFlight, 2);
  const first = await m.end();
  assert.equal(first.deferred, true, 'another invocation is in flight: deferred');
  assert.equal(rx.requests.length, 0);
  c.add(1);
  const second = await m.end();
  assert.equal(second.sent, true, 'the last one leaves the isolate idle: pushed');
  assert.equal(m.inFlight, 0);
  assert.equal(rx.requests.length, 1);
  const d = decodeOtlp(rx.requests[0]);
  assert.equal(d.metrics['end.hits'].points[0].value, 2);
  assert.equal(d.metrics['edgemetrics.sdk.invocations'].points[0].value, 2, 'the batch covers two invocations');
  // flush() always pushes, whatever the policy and the invocations in flight.
  m.begin();
  m.begin();
  c.add(5);
  const forced = await m.flush();
  assert.equal(forced.sent, true, JSON.stringify(forced));
  assert.equal(forced.deferred, undefined);
  assert.equal(m.inFlight, 2, 'flush() does not end an invocation');
  assert.equal(rx.requests.length, 2);
  assert.equal(decodeOtlp(rx.requests[1]).metrics['end.hits'].points[0].value, 5);
  assert.equal((await m.end()).deferred, true, 'the policy still applies to end()');
  assert.equal((await m.end()).sent, false, 'nothing recorded since the flush: nothing to push');
  assert.equal(m.inFlight, 0);
  // everyInvocations without whenIdle: every 3rd end pushes, even when idle.
  const f = new Metrics({ endpoint: rx.url, format: 'otlp-json', serviceName: 'every', flush: { everyInvocations: 3, whenIdle: false } });
  const pushed = [];
  for (let i = 0; i < 6; i++) {
    f.begin();
    f.counter('every.hits').add(1);
    pushed.push((await f.end()).sent === true);
  }
  assert.deepEqual(pushed, [false, false, true, false, false, true]);
});
