// Issue 11 in Node: metrics never break the function they observe, and nothing is lost silently.
// One test per numbered problem of the issue (workerd variants are in isolates.test.mjs), against
// receivers started here on 127.0.0.1.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import util from 'node:util';
import { Metrics, withMetrics, wrapLambda } from '../dist/node.js';
import { assertWithinControl, controlTimer, decodeOtlp, startReceiver } from './helpers.mjs';

/** Runs `fn` with console.warn captured; returns [result, warnings]. */
async function captureWarn(fn) {
  const warnings = [];
  const orig = console.warn;
  console.warn = (...a) => warnings.push(util.format(...a));
  try {
    return [await fn(), warnings];
  } finally {
    console.warn = orig;
  }
}

const selfMetric = (d, name) => d.metrics[`edgemetrics.sdk.${name}`]?.points ?? [];
const rejectedBy = (d) => Object.fromEntries(selfMetric(d, 'values.rejected').map((p) => [p.attrs.reason, p.value]));
const dropped = (d) => selfMetric(d, 'attributes.dropped').reduce((s, p) => s + p.value, 0);
const prepared = (metrics) => {
  const req = metrics.prepare();
  return req && decodeOtlp({ headers: { 'content-type': 'application/json' }, body: Buffer.from(req.body) });
};

test('1. a configuration error turns metrics off with one warning naming the option; the handler runs unchanged', async () => {
  const worker = withMetrics(
    {
      async fetch(req, env, ctx, metrics) {
        metrics.counter('hits').add(1);
        metrics.histogram('bad name!').record(1);
        return new Response(`ok ${metrics.enabled}`);
      },
    },
    (env) => ({ endpoint: env.OTLP_ENDPOINT, serviceName: 'w' }),
  );
  const [texts, warnings] = await captureWarn(async () => {
    const out = [];
    for (let i = 0; i < 3; i++) {
      const waited = [];
      const res = await worker.fetch(new Request('http://x/'), {}, { waitUntil: (p) => waited.push(p) });
      out.push(await res.text());
      const r = await waited[0];
      assert.equal(r.sent, false);
      assert.match(r.error, /disabled/);
    }
    return out;
  });
  assert.deepEqual(texts, ['ok false', 'ok false', 'ok false']);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  // endpoint unset in the options and in the environment (OTEL_EXPORTER_OTLP_ENDPOINT)
  assert.match(warnings[0], /options\.endpoint is unset/);
  assert.match(warnings[0], /metrics are off/);

  // The same for wrapLambda (options given directly), and for an options function that throws.
  const [out, w2] = await captureWarn(async () => {
    const lambda = wrapLambda(async (e) => e * 2, { endpoint: 'http://127.0.0.1:9', temporality: 'weekly' });
    const a = await lambda(21, {});
    const b = await wrapLambda(
      async () => 'fine',
      () => {
        throw new Error('boom in options');
      },
    )(0, {});
    return [a, b];
  });
  assert.deepEqual(out, [42, 'fine']);
  assert.equal(w2.length, 2);
  assert.match(w2[0], /options\.temporality/);
  assert.match(w2[1], /boom in options/);
});

test('1b. a bad instrument inside a handler: a no-op instrument, one warning, its values counted as rejected', async () => {
  const rx = await startReceiver();
  try {
    const worker = withMetrics(
      {
        async fetch(req, env, ctx, metrics) {
          metrics.counter('bad name!').add(5);
          metrics.histogram('h', { bounds: [2, 1] }).record(1);
          metrics.counter('good').add(1);
          return new Response('ok');
        },
      },
      { endpoint: rx.url, format: 'otlp-json', serviceName: 'w' },
    );
    const [, warnings] = await captureWarn(async () => {
      for (let i = 0; i < 2; i++) {
        const waited = [];
        const res = await worker.fetch(new Request('http://x/'), {}, { waitUntil: (p) => waited.push(p) });
        assert.equal(await res.text(), 'ok');
        assert.equal((await waited[0]).sent, true);
      }
    });
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(warnings[0], /invalid instrument name/);
    assert.match(warnings[1], /strictly increasing/);
    for (const q of rx.requests) {
      const d = decodeOtlp(q);
      assert.equal(d.metrics.good.points[0].value, 1);
      assert.deepEqual(rejectedBy(d), { invalid_handle: 2 }, 'both values of the no-op instruments are counted');
    }
  } finally {
    await rx.close();
  }
});

test('2. a random service.instance.id per Metrics (per isolate), seeded at the first flush, unless the user gives one', async () => {
  const rx = await startReceiver();
  const orig = globalThis.crypto.getRandomValues;
  try {
    // Construction and recording use no randomness (a worker's global scope forbids it).
    globalThis.crypto.getRandomValues = () => {
      throw new Error('randomness at construction');
    };
    const a = new Metrics({ endpoint: rx.url, format: 'otlp-json', serviceName: 's' });
    const b = new Metrics({ endpoint: rx.url, format: 'otlp-json', serviceName: 's' });
    a.counter('c').add(1);
    b.counter('c').add(1);
    assert.equal(a.instanceId, '');
    globalThis.crypto.getRandomValues = orig;
    await a.flush();
    await b.flush();
    a.counter('c').add(1);
    await a.flush();
    const ids = rx.requests.map((q) => decodeOtlp(q).resource['service.instance.id']);
    assert.match(ids[0], /^[0-9a-f]{16}$/);
    assert.notEqual(ids[0], ids[1], 'two isolates, two ids');
    assert.equal(ids[2], ids[0], 'stable for the life of the isolate');
    assert.equal(a.instanceId, ids[0]);
    const given = new Metrics({ endpoint: rx.url, format: 'otlp-json', resource: { 'service.instance.id': 'mine' } });
    given.counter('c').add(1);
    await given.flush();
    assert.equal(decodeOtlp(rx.requests[3]).resource['service.instance.id'], 'mine');
    // Pushgateway: the id is the grouping key's instance.
    const pg = new Metrics({ endpoint: rx.url, format: 'pushgateway', serviceName: 'svc' });
    pg.counter('c').add(1);
    await pg.flush();
    assert.equal(rx.requests[4].url, `/metrics/job/svc/instance/${pg.instanceId}`);
  } finally {
    globalThis.crypto.getRandomValues = orig;
    await rx.close();
  }
});

test('3. every flush promise settles within timeoutMs of its call: 20 invocations against a receiver answering after 10 s', async () => {
  const rx = await startReceiver(() => ({ delayMs: 10_000 }));
  try {
    const TIMEOUT = 1500;
    const metrics = new Metrics({ endpoint: rx.url, format: 'otlp-json', serviceName: 's', timeoutMs: TIMEOUT });
    const c = metrics.counter('c');
    const settle = [];
    const control = [];
    const all = [];
    for (let i = 0; i < 20; i++) {
      c.add(1);
      const t0 = Date.now();
      all.push(metrics.flush().then((r) => settle.push({ i, ms: Date.now() - t0, r })));
      all.push(new Promise((r) => setTimeout(r, TIMEOUT)).then(() => control.push({ i, ms: Date.now() - t0 })));
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(all);
    const worst = Math.max(...settle.map((s) => s.ms));
    console.log(`flush settle times (ms, timeoutMs ${TIMEOUT}): max ${worst}, all ${settle.map((s) => s.ms).join(' ')}`);
    assertWithinControl(settle, control, TIMEOUT);
    for (const { r } of settle) assert.equal(r.sent, false);
    const st = metrics.flushStats;
    assert.equal(st.flushes, 20);
    assert.ok(st.coalesced >= 10, JSON.stringify(st));
    assert.ok(rx.requests.length <= 4, `${rx.requests.length} requests for 20 flushes (coalesced)`);
    assert.equal(metrics.lastFlush.sent, false);
  } finally {
    await rx.close();
  }
});

test('3b. a flight that never settles is abandoned after twice its budget and counted; the next flush goes out', async () => {
  let hang = true;
  const rx = await startReceiver();
  const fetchThatIgnoresAbort = (url, init) => (hang ? new Promise(() => {}) : fetch(url, init));
  const metrics = new Metrics({ endpoint: rx.url, format: 'otlp-json', serviceName: 's', timeoutMs: 200, fetch: fetchThatIgnoresAbort });
  try {
    metrics.counter('c').add(1);
    const r1 = await metrics.flush();
    assert.equal(r1.pending, true);
    await new Promise((r) => setTimeout(r, 450));
    hang = false;
    metrics.counter('c').add(2);
    const r2 = await metrics.flush();
    assert.equal(r2.sent, true, JSON.stringify(r2));
    assert.equal(metrics.flushStats.stale, 1);
    const d = decodeOtlp(rx.requests[0]);
    assert.equal(
      d.metrics.c.points.reduce((s, p) => s + p.value, 0),
      3,
      'the abandoned batch was carried into the next',
    );
  } finally {
    await rx.close();
  }
});

test('4. fresh attribute sets never pin series: 1000 invocations x 1000 fresh sets, 0 overflowed values', () => {
  const metrics = new Metrics({ endpoint: 'http://127.0.0.1:9', format: 'otlp-json', serviceName: 's' });
  const c = metrics.counter('c');
  let overflowed = 0;
  let points = 0;
  for (let inv = 0; inv < 1000; inv++) {
    metrics.begin();
    for (let i = 0; i < 1000; i++) c.add(1, { id: `${inv}-${i}` });
    const req = metrics.prepare();
    const d = JSON.parse(Buffer.from(req.body).toString());
    for (const m of d.resourceMetrics[0].scopeMetrics[0].metrics) {
      if (m.name === 'edgemetrics.sdk.values.overflowed') overflowed += m.sum.dataPoints.reduce((s, p) => s + Number(p.asInt ?? p.asDouble), 0);
      if (m.name === 'c') points += m.sum.dataPoints.length;
    }
  }
  console.log(`1000 invocations x 1000 fresh sets: overflowed ${overflowed}, points ${points}`);
  assert.equal(overflowed, 0);
  assert.equal(points, 1_000_000);
});

test('5. attributes: own keys only, the first 32 in key order kept, every drop counted, bad values drop alone', () => {
  const metrics = new Metrics({ endpoint: 'http://127.0.0.1:9', format: 'otlp-json', serviceName: 's' });
  const c = metrics.counter('c');
  const big = {};
  for (let i = 9999; i >= 0; i--) big[`k${String(i).padStart(5, '0')}`] = i;
  c.add(1, big);
  let d = prepared(metrics);
  assert.equal(dropped(d), 9968);
  const kept = Object.keys(d.metrics.c.points[0].attrs);
  assert.equal(kept.length, 32);
  assert.equal(kept.sort()[0], 'k00000');
  assert.equal(kept.sort()[31], 'k00031');

  c.add(1, { a: 2n ** 70n, b: 'kept', z: -(2n ** 64n), n: 7n });
  d = prepared(metrics);
  assert.deepEqual(d.metrics.c.points[0].attrs, { b: 'kept', n: 7 });
  assert.equal(dropped(d), 2);

  const proto = { inherited: 'no' };
  const own = Object.create(proto);
  own.mine = 'yes';
  Object.defineProperty(own, 'hidden', { value: 'no', enumerable: false });
  c.add(1, own);
  c.add(1, own);
  d = prepared(metrics);
  assert.deepEqual(d.metrics.c.points[0].attrs, { mine: 'yes' });
  assert.equal(d.metrics.c.points[0].value, 2);
});

test('5b. attributes at the byte limits: keys up to 128 UTF-8 bytes, values cut to 1024 bytes at a character boundary, each loss counted', () => {
  const metrics = new Metrics({ endpoint: 'http://127.0.0.1:9', format: 'otlp-json', serviceName: 's' });
  const c = metrics.counter('c');
  const truncated = (d) => selfMetric(d, 'attributes.truncated').reduce((s, p) => s + p.value, 0);
  // The limits are in UTF-8 bytes, not UTF-16 units: 64 × 'é' is 64 units but 128 bytes (kept);
  // 127 ASCII + 'é' is 128 units but 129 bytes (its attribute dropped, on every recording).
  const k128 = 'é'.repeat(64);
  const k129 = 'a'.repeat(127) + 'é';
  c.add(1, { [k128]: 'kept', [k129]: 'lost', z: 1 });
  c.add(1, { [k128]: 'kept', [k129]: 'lost', z: 1 });
  let d = prepared(metrics);
  assert.deepEqual(
    d.metrics.c.points.map((p) => [p.attrs, p.value]),
    [[{ [k128]: 'kept', z: 1 }, 2]],
  );
  assert.equal(dropped(d), 2);
  assert.equal(truncated(d), 0);

  // Values: exactly 1024 bytes kept whole; 1022 bytes then a 4-byte character (a surrogate pair in
  // JS) cut before it, never half of it; a lone surrogate (written as U+FFFD, 3 bytes) across the
  // limit cut before it too. Each truncated recording counts once.
  const whole = 'a'.repeat(1024);
  const pair = 'a'.repeat(1022) + '😀tail';
  const lone = 'a'.repeat(1023) + '\uD800x';
  c.add(1, { v: whole });
  c.add(1, { v: pair });
  c.add(2, { v: pair });
  c.add(1, { v: lone });
  d = prepared(metrics);
  const byLength = Object.fromEntries(d.metrics.c.points.map((p) => [Buffer.byteLength(p.attrs.v), [p.attrs.v, p.value]]));
  assert.deepEqual(byLength, { 1024: [whole, 1], 1022: ['a'.repeat(1022), 3], 1023: ['a'.repeat(1023), 1] });
  assert.equal(truncated(d), 3);
  assert.equal(dropped(d), 0);
});

test('6. unreadable attributes: the value is still recorded, the attribute counted as dropped; bind() never throws', () => {
  const metrics = new Metrics({ endpoint: 'http://127.0.0.1:9', format: 'otlp-json', serviceName: 's' });
  const c = metrics.counter('c');
  const getter = {
    ok: 'x',
    get bad() {
      throw new Error('getter');
    },
  };
  const trap = new Proxy(
    {},
    {
      ownKeys() {
        throw new Error('trap');
      },
    },
  );
  const str = {
    ok: 'x',
    obj: {
      toString: () => {
        throw new Error('toString');
      },
    },
  };
  c.add(1, getter);
  c.add(1, trap);
  c.add(1, str);
  const b1 = c.bind(getter);
  const b2 = c.bind(trap);
  b1.add(10);
  b2.add(100);
  const d = prepared(metrics);
  const total = d.metrics.c.points.reduce((s, p) => s + p.value, 0);
  assert.equal(total, 113, 'no value vanished');
  assert.equal(dropped(d), 5, 'getter, trap, toString, and the two binds');
  const byKey = Object.fromEntries(d.metrics.c.points.map((p) => [JSON.stringify(p.attrs), p.value]));
  assert.deepEqual(byKey, { '{"ok":"x"}': 12, '{}': 101 });
});

test('7. options that can never work are refused at construction, naming the option', () => {
  const base = { endpoint: 'http://127.0.0.1:9' };
  const cases = [
    [{ serviceNmae: 'x' }, RangeError, /serviceNmae/],
    [{ format: 'remote-write', temporality: 'delta' }, RangeError, /temporality 'delta'.*remote-write/],
    [{ format: 'pushgateway', temporality: 'delta' }, RangeError, /temporality 'delta'.*pushgateway/],
    [{ format: 'remote-write', compression: 'gzip' }, RangeError, /compression 'gzip'.*remote-write/],
    [{ format: 'compact', compression: 'gzip' }, RangeError, /compression/],
    [{ selfMetrics: 'yes' }, TypeError, /options\.selfMetrics must be a boolean/],
    [{ timeoutMs: Infinity }, RangeError, /options\.timeoutMs/],
    [{ timeoutMs: NaN }, RangeError, /options\.timeoutMs/],
    [{ timeoutMs: '100' }, TypeError, /options\.timeoutMs/],
    // 2^31 ms and more: Node clamps such a timer to 1 ms, so every flush would time out at once.
    [{ timeoutMs: 2 ** 31 }, RangeError, /options\.timeoutMs must be a positive number of at most 2147483647/],
    [{ timeoutMs: 2 ** 32 }, RangeError, /options\.timeoutMs must be a positive number of at most 2147483647/],
    [{ limits: { cardinality: 1.5 } }, RangeError, /limits\.cardinality/],
    [{ limits: { cardinality: '10' } }, TypeError, /limits\.cardinality/],
    [{ retry: { maxAttempts: Infinity } }, RangeError, /retry\.maxAttempts/],
    [{ retry: { tries: 3 } }, RangeError, /retry\.tries/],
    [{ onFlush: 'log' }, TypeError, /options\.onFlush/],
    [{ headers: { a: 1 } }, TypeError, /options\.headers\.a/],
    [{ resource: { r: {} } }, TypeError, /options\.resource/],
    [{ remoteWrite: { path: '/x' } }, TypeError, /options\.remoteWrite needs format/],
    [{ format: 'pushgateway', pushgateway: { job: 'j', method: 'GET' } }, RangeError, /pushgateway\.method/],
  ];
  for (const [extra, cls, re] of cases) {
    assert.throws(
      () => new Metrics({ ...base, ...extra }),
      (e) => e instanceof cls && re.test(e.message),
      JSON.stringify(extra),
    );
  }
  // The longest timer the runtimes keep is accepted (construction starts no timer).
  assert.equal(new Metrics({ ...base, timeoutMs: 2 ** 31 - 1 }).close(), undefined);
});

test('8. header values never appear in util.inspect, console.log, JSON.stringify or errors', async () => {
  const SECRET = 'Bearer s3cr3t-t0ken-value';
  const rx = await startReceiver((req) => ({ status: 400, body: `bad request; you sent authorization: ${req.headers.authorization} and more` }));
  try {
    const metrics = new Metrics({ endpoint: rx.url, format: 'otlp-json', headers: { Authorization: SECRET, 'X-Api-Key': 'k3y-k3y-k3y' } });
    metrics.counter('c').add(1);
    const r = await metrics.flush();
    const shown = [
      util.inspect(metrics, { showHidden: true, depth: 5 }),
      util.format('%o', metrics),
      util.format(metrics),
      JSON.stringify(metrics),
      JSON.stringify(r),
      r.error,
      String(Object.keys(metrics)),
    ];
    for (const s of shown) {
      assert.ok(!s.includes('s3cr3t'), s);
      assert.ok(!s.includes('k3y-k3y'), s);
    }
    assert.match(util.inspect(metrics), /Authorization/);
    assert.match(r.error, /HTTP 400/);
    assert.match(r.error, /bad request; you sent authorization: \[redacted\]/);
    assert.equal(rx.requests[0].headers.authorization, SECRET, 'the header itself is sent');
  } finally {
    await rx.close();
  }
});

test('9. wrapLambda: a receiver that never answers adds about 1 s to an invocation; the data is carried to the next', async () => {
  let never = true;
  const rx = await startReceiver(() => (never ? { never: true } : {}));
  try {
    const lambda = wrapLambda(
      async (event, context, metrics) => {
        metrics.counter('work').add(event.n);
        return 'done';
      },
      { endpoint: rx.url, format: 'otlp-json', serviceName: 'l' },
      { auto: false }, // the carried count below is the user's one point
    );
    const t0 = Date.now();
    const control = controlTimer(1000);
    assert.equal(await lambda({ n: 1 }, { getRemainingTimeInMillis: () => 60_000 }), 'done');
    const took = Date.now() - t0;
    const lateMs = await control.late();
    console.log(`wrapLambda invocation against a receiver that never answers: ${took} ms (a control setTimeout(1000) was ${lateMs} ms late)`);
    assert.ok(took >= 800 && took <= 1300 + lateMs, `${took} ms; a setTimeout(1000) started with it was ${lateMs} ms late`);
    assert.equal(lambda.metrics.lastFlush.sent, false);
    // Two points carried: `work` and the self-metric edgemetrics.sdk.invocations.
    assert.equal(lambda.metrics.lastFlush.carried, 2);
    never = false;
    await lambda({ n: 2 }, {});
    const last = rx.requests.at(-1);
    assert.equal(
      decodeOtlp(last).metrics.work.points.reduce((s, p) => s + p.value, 0),
      3,
      'carried value arrives with the next batch',
    );
  } finally {
    await rx.close();
  }
});

test('9b. wrapLambda: the flush ends by flushBudgetMs and by getRemainingTimeInMillis() less marginMs, whichever comes first', async () => {
  const rx = await startReceiver(() => ({ never: true }));
  try {
    const lambdaWith = (opts) =>
      wrapLambda(
        async (event, context, metrics) => {
          metrics.counter('work').add(1);
          return 'done';
        },
        { endpoint: rx.url, format: 'otlp-json', serviceName: 'l' },
        { auto: false, ...opts },
      );
    // [wrapLambda options, time left in the context, the bound the flush must end by (ms)]
    const noClock = () => {
      throw new Error('no clock');
    };
    const cases = [
      [{ flushBudgetMs: 300 }, () => 60_000, 300],
      [{}, () => 500, 400], // default margin 100 ms
      [{ marginMs: 300 }, () => 500, 200],
      // A context whose clock throws or lies: the budget alone bounds the flush.
      [{ flushBudgetMs: 300 }, noClock, 300],
      [{ flushBudgetMs: 300 }, () => NaN, 300],
    ];
    for (const [opts, getRemainingTimeInMillis, bound] of cases) {
      const context = { getRemainingTimeInMillis };
      const lambda = lambdaWith(opts);
      const t0 = Date.now();
      const control = controlTimer(bound);
      assert.equal(await lambda({}, context), 'done');
      const took = Date.now() - t0;
      const controlMs = bound + (await control.late());
      const label = `${JSON.stringify(opts)}, bound ${bound} ms: ${took} ms, control ${controlMs} ms`;
      console.log(`wrapLambda against a receiver that never answers, ${label}`);
      assert.ok(took >= bound - 100, `ended well before its bound: ${label}`);
      assert.ok(took <= controlMs + 250, `ended after its bound: ${label}`);
      assert.equal(lambda.metrics.lastFlush.sent, false);
      assert.ok(lambda.metrics.lastFlush.carried >= 1, 'what did not get through is carried');
    }
    for (const [opts, re] of [
      [{ marginMs: -1 }, /marginMs/],
      [{ marginMs: Infinity }, /marginMs/],
      [{ flushBudgetMs: 0 }, /flushBudgetMs/],
      [{ flushBudgetMs: '1000' }, /flushBudgetMs/],
    ]) {
      assert.throws(
        () => wrapLambda(async () => {}, { endpoint: rx.url }, opts),
        (e) => e instanceof RangeError && re.test(e.message),
        JSON.stringify(opts),
      );
    }
  } finally {
    await rx.close();
  }
});

test('10. onFlush sees every result (and cannot break anything); lastFlush; errors carry status and the receiver answer', async () => {
  const answer = 'x'.repeat(150) + ' series has out-of-order samples ' + 'y'.repeat(300);
  const rx = await startReceiver(() => ({ status: 400, body: answer }));
  try {
    const seen = [];
    const metrics = new Metrics({
      endpoint: rx.url,
      format: 'otlp-json',
      onFlush: (r) => {
        seen.push(r);
        throw new Error('a logging hook that throws');
      },
    });
    assert.equal(metrics.lastFlush, null);
    const worker = withMetrics(
      {
        async fetch(req, env, ctx, m) {
          m.counter('c').add(1);
          return new Response('ok');
        },
      },
      metrics,
    );
    const waited = [];
    const res = await worker.fetch(new Request('http://x/'), {}, { waitUntil: (p) => waited.push(p) });
    assert.equal(await res.text(), 'ok');
    const r = await waited[0];
    assert.equal(seen.length, 1);
    assert.equal(seen[0], r);
    assert.equal(metrics.lastFlush, r);
    assert.equal(r.status, 400);
    assert.equal(r.error, `rejected (HTTP 400): ${answer.slice(0, 200)}`);
    await metrics.flush(); // nothing recorded: still reported
    assert.equal(seen.length, 2);
  } finally {
    await rx.close();
  }
});
