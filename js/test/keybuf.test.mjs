// Attribute keys reach the core through its key buffer: the JS layer writes a key as UTF-8 into
// the core's memory (`writeKey` in js/src/attributes.js: one `encodeInto`) and passes its length
// (`Core::keyed` in bindings/src/lib.rs) instead of a string argument. Why a file of its own: the
// buffer is shared by every instrument of a core, grows with the longest key and must be found
// again when the module's memory grows; these tests hold the cache's path (a miss) to `bind()`'s
// on every kind of value, on keys longer than the buffer, and on getters that record meanwhile.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../dist/node.js';
import { decodeOtlp } from './helpers.mjs';

const make = (limits = {}) => new Metrics({ endpoint: 'http://127.0.0.1:9', format: 'otlp-json', serviceName: 's', limits });
const points = (metrics, name = 'c') => {
  const req = metrics.prepare(1_700_000_000_000);
  const d = decodeOtlp({ headers: { 'content-type': 'application/json' }, body: Buffer.from(req.body) });
  return { d, pts: d.metrics[name]?.points ?? [] };
};
const dropped = (d) => (d.metrics['edgemetrics.sdk.attributes.dropped']?.points ?? []).reduce((s, p) => s + p.value, 0);

test('a set recorded by the cache lands in the series bind() finds for it, for every kind of value', () => {
  const metrics = make({ maxValueLength: 30_000 });
  const c = metrics.counter('c');
  const long = 'v'.repeat(1234);
  const sets = [
    { route: '/a', method: 'GET', status: 200 },
    { n: -42, f: 1.5, z: -0, big: Number.MAX_SAFE_INTEGER, tiny: 5e-324, inf: Infinity, t: true, u: false },
    { ké: 'é', emoji: '😀', mixed: 'a😀b', cjk: '漢字' },
    { lone: '\uD800x', tail: 'y\uDC00', key: 'k' },
    { ['\uDBFF']: 1 },
    { [`k${'x'.repeat(11)}`]: 'y'.repeat(123), long },
    // Past the first buffer (1024 bytes): the buffer grows and the key is written again.
    { wide: 'é'.repeat(3000), after: 'ok' },
    { wider: '😀'.repeat(4000) },
  ];
  for (const s of sets) c.add(1, s); // misses of the cache
  for (const s of sets) c.add(1, s); // hits of the cache
  for (const s of sets) c.bind(s).add(1); // bind's own path
  const { d, pts } = points(metrics);
  assert.equal(pts.length, sets.length, 'one series per set: both paths wrote the same key');
  for (const p of pts) assert.equal(p.value, 3);
  const byAttrs = new Set(pts.map((p) => JSON.stringify(p.attrs)));
  assert.ok(byAttrs.has(JSON.stringify({ key: 'k', lone: '\uFFFDx', tail: 'y\uFFFD' })), 'lone surrogates become U+FFFD');
  assert.ok(byAttrs.has(JSON.stringify({ ['\uFFFD']: 1 })));
  assert.ok(byAttrs.has(JSON.stringify({ after: 'ok', wide: 'é'.repeat(3000) })));
  assert.ok(byAttrs.has(JSON.stringify({ cjk: '漢字', emoji: '😀', ké: 'é', mixed: 'a😀b' })));
  assert.equal(dropped(d), 0);
});

test('a getter that records while its set is read: every value lands in its own series, nothing lost', () => {
  const metrics = make();
  const c = metrics.counter('c');
  const other = metrics.counter('other');
  let calls = 0;
  const sneaky = {
    a: 'x',
    get b() {
      calls++;
      // Misses of both instruments while `sneaky` is read (its checks, its key, its cache entry);
      // the second grows the module's memory now and then (the key buffer's view is detached).
      c.add(5, { inner: `i${calls}` });
      for (let i = 0; i < 50; i++) other.add(1, { i: `${calls}-${i}`, pad: 'p'.repeat(200) });
      return 'y';
    },
  };
  for (let i = 0; i < 20; i++) c.add(1, { a: 'x', b: `y${i}` });
  c.add(100, sneaky);
  const { d, pts } = points(metrics);
  const by = Object.fromEntries(pts.map((p) => [JSON.stringify(p.attrs), p.value]));
  assert.equal(by[JSON.stringify({ a: 'x', b: 'y' })], 100);
  for (let i = 1; i <= calls; i++) assert.equal(by[JSON.stringify({ inner: `i${i}` })], 5);
  assert.equal(
    pts.reduce((s, p) => s + p.value, 0),
    20 + 100 + 5 * calls,
  );
  assert.ok(calls >= 3, 'the getter ran for the checks, the key and the cache entry');
  assert.equal(d.metrics.other.points.length, 50 * calls);
  assert.equal(dropped(d), 0);
});

test('memory grown between misses: later keys are written into the new memory', () => {
  const metrics = make({ cardinality: 100_000, maxSeries: 100_000 });
  const c = metrics.counter('c');
  const n = 30_000;
  for (let i = 0; i < n; i++) c.add(1, { route: `/r${i}`, pad: 'q'.repeat(i % 40) });
  const { d, pts } = points(metrics);
  assert.equal(pts.length, n);
  assert.ok(pts.every((p) => p.value === 1 && p.attrs.pad.length === Number(p.attrs.route.slice(2)) % 40));
  assert.equal(dropped(d), 0);
});
