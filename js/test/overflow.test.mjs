// Model-based test of the attribute cache and its overflow shortcut (js/src/attributes.js): a
// seeded random workload of warm attribute sets (recorded in every window, in any key order, also
// through uncacheable variants the core normalises to the same set), fresh "attack" sets past the
// cardinality limit and generations of warm sets replacing each other, checked window by window
// against an independent model of what each series must hold: every warm set its exact total in
// its own series, every other value in the `otel.metric.overflow` series, nothing else.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../dist/node.js';
import { decodeOtlp } from './helpers.mjs';

/** A small seeded generator (mulberry32), so a failure is reproducible from its seed. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const canon = (attrs) => JSON.stringify(Object.entries(attrs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** `attrs` with its keys in a random order (a new object each time). */
function shuffled(attrs, r) {
  const e = Object.entries(attrs);
  for (let i = e.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [e[i], e[j]] = [e[j], e[i]];
  }
  return Object.fromEntries(e);
}

function collect(metrics) {
  const req = metrics.prepare();
  if (req === null) return {};
  const d = decodeOtlp({ headers: { 'content-type': 'application/json' }, body: Buffer.from(req.body) });
  const out = {};
  for (const p of d.metrics.c?.points ?? []) {
    const key = p.attrs['otel.metric.overflow'] === true ? 'overflow' : canon(p.attrs);
    assert.equal(out[key], undefined, `one point per series (${key})`);
    out[key] = p.value;
  }
  return out;
}

/** `defaults`: no `limits` option given (`cardinality` is then the default limit, for the model). */
function run(seed, { cardinality, windows, generationEvery, opsPerWindow, shuffle, cumulative = false, defaults = false }) {
  const r = rng(seed);
  const metrics = new Metrics({
    endpoint: 'http://127.0.0.1:9',
    format: 'otlp-json',
    serviceName: 'model',
    ...(defaults ? {} : { limits: { cardinality } }),
    temporality: cumulative ? 'cumulative' : 'delta',
  });
  const c = metrics.counter('c');
  const warmCount = cardinality - 1; // the overflow series takes the last slot
  let attack = 0;
  const oldAttacks = [];
  let shortcutWindows = 0;
  // Cumulative: points carry running totals, so the model keeps its totals across windows.
  let model = new Map(); // canonical set -> total in its own series
  let overflow = 0;
  for (let w = 0; w < windows; w++) {
    const g = Math.floor(w / generationEvery);
    const warm = Array.from({ length: warmCount }, (_, i) => ({ route: `/g${g}/${i}`, method: i % 2 ? 'GET' : 'POST', status: 200 }));
    if (!cumulative) {
      model = new Map();
      overflow = 0;
    }
    const own = (attrs, v) => model.set(canon(attrs), (model.get(canon(attrs)) ?? 0) + v);
    // Every warm set first, so that each has its series before any attack in this window.
    for (const a of warm) {
      c.add(1, a);
      own(a, 1);
    }
    for (let i = 0; i < opsPerWindow; i++) {
      const v = 1 + Math.floor(r() * 5);
      const x = r();
      const a = warm[Math.floor(r() * warm.length)];
      if (x < 0.35) {
        // A warm set, in its usual key order or (when shuffling) any order.
        c.add(v, shuffle ? shuffled(a, r) : { ...a });
        own(a, v);
      } else if (x < 0.45) {
        // The same set through a variant the core normalises: a dropped (undefined) attribute.
        c.add(v, { ...a, dropped: undefined });
        own(a, v);
      } else if (x < 0.75) {
        const s = { route: `/x${attack++}`, method: 'GET', status: 200 };
        oldAttacks.push(s);
        c.add(v, s);
        overflow += v;
      } else if (x < 0.85) {
        // An attack set seen before (in this or an earlier window).
        c.add(v, { ...oldAttacks[Math.floor(r() * oldAttacks.length)] });
        overflow += v;
      } else if (x < 0.95) {
        // Same keys and values as a warm set but one of another type: a different set.
        c.add(v, { ...a, status: '200' });
        overflow += v;
      } else {
        // A warm set with an extra key: a different set.
        c.add(v, { ...a, extra: true });
        overflow += v;
      }
    }
    const got = collect(metrics);
    const want = Object.fromEntries(model);
    if (overflow > 0) want.overflow = overflow;
    assert.deepEqual(got, want, `seed ${seed}, window ${w} (generation ${g})`);
    if (overflow > 0) shortcutWindows++;
  }
  metrics.close();
  return shortcutWindows;
}

test('model: warm sets keep exact totals in their own series, everything else in the overflow series (delta, churn)', () => {
  for (let seed = 1; seed <= 12; seed++) {
    run(seed, { cardinality: 8, windows: 24, generationEvery: 4, opsPerWindow: 400, shuffle: seed % 2 === 0 });
  }
});

test('model: a larger instrument, one generation per window (every window reclaims the previous sets)', () => {
  for (let seed = 100; seed <= 103; seed++) {
    run(seed, { cardinality: 50, windows: 8, generationEvery: 1, opsPerWindow: 2000, shuffle: seed % 2 === 1 });
  }
});

test('model: cumulative temporality (series are never reclaimed; one generation of warm sets)', () => {
  for (let seed = 200; seed <= 203; seed++) {
    run(seed, { cardinality: 12, windows: 6, generationEvery: 6, opsPerWindow: 500, shuffle: seed % 2 === 0, cumulative: true });
  }
});

test('model: the default limits (cardinality 2000; the attribute cache holds every own series of a full instrument)', () => {
  for (let seed = 300; seed <= 301; seed++) {
    run(seed, { cardinality: 2000, defaults: true, windows: 4, generationEvery: 2, opsPerWindow: 6000, shuffle: seed % 2 === 0 });
  }
});

test('overflow shortcut at the default limits: a new set on a full instrument is read once per attribute, no attribute key built', () => {
  const metrics = new Metrics({ endpoint: 'http://127.0.0.1:9', format: 'otlp-json', serviceName: 'model' });
  const c = metrics.counter('c');
  for (let i = 0; i < 1999; i++) c.add(1, { route: `/r${i}`, status: 200 });
  c.add(1, { route: '/first', status: 200 }); // the first miss on the full instrument: overflow series
  let reads = 0;
  const attack = (i) => ({
    route: `/x${i}`,
    get status() {
      reads++;
      return 200;
    },
  });
  for (let i = 0; i < 100; i++) c.add(2, attack(i));
  // The shortcut reads each value once (to check that the core would keep the set as given);
  // building the attribute key would read it again.
  assert.equal(reads, 100);
  c.add(5, { status: 200, route: '/r7' });
  const got = collect(metrics);
  assert.equal(got.overflow, 201);
  assert.equal(got[canon({ route: '/r7', status: 200 })], 6);
  assert.equal(Object.keys(got).length, 2000, '1999 own series and the overflow series');
  metrics.close();
});

test('overflow shortcut: a set already cached under another key order, or hidden by an enumerable Object.prototype key, keeps its own series', () => {
  const metrics = new Metrics({ endpoint: 'http://127.0.0.1:9', format: 'otlp-json', serviceName: 'model', limits: { cardinality: 3 } });
  const c = metrics.counter('c');
  c.add(1, { a: 1, b: 'x' });
  c.add(1, { a: 2, b: 'x' });
  c.add(1, { a: 3, b: 'x' }); // over the limit: overflow, the shortcut is armed
  c.add(1, { a: 4, b: 'x' }); // through the shortcut
  // An enumerable key on Object.prototype makes the cache miss a cached set (for…in lists it);
  // the shortcut must not read that miss as a new set. (Left polluted-aware for this process:
  // the test is the last one of its file.)
  Object.defineProperty(Object.prototype, 'polluted', { value: 1, enumerable: true, configurable: true });
  try {
    c.add(100, { a: 2, b: 'x' });
  } finally {
    delete Object.prototype.polluted;
  }
  c.add(10, { b: 'x', a: 1 }); // another key order of a cached set
  c.add(1000, { a: 5, b: 'x' });
  assert.deepEqual(collect(metrics), { [canon({ a: 1, b: 'x' })]: 11, [canon({ a: 2, b: 'x' })]: 101, overflow: 1002 });
});

test('attribute cache: sets that extend one another (a leaf of one is a node of the next) keep their own series', () => {
  const sets = [{ a: 1 }, { a: 1, b: 2 }, {}, { a: 1, b: 2, c: 3 }, { a: 1, b: 3 }, { a: 2 }];
  // Each set's first value is a miss (bound and cached), the later ones hits; a fresh instrument
  // per order of first appearance, so that a shorter set is cached both before and after a longer one.
  for (const order of [
    [0, 1, 2, 3, 4, 5],
    [3, 1, 0, 5, 4, 2],
    [5, 4, 3, 2, 1, 0],
  ]) {
    const metrics = new Metrics({ endpoint: 'http://127.0.0.1:9', format: 'otlp-json', serviceName: 'model' });
    const c = metrics.counter('c');
    const want = {};
    for (let round = 0; round < 3; round++) {
      for (const i of order) {
        c.add(i + 1, { ...sets[i] });
        want[canon(sets[i])] = (want[canon(sets[i])] ?? 0) + i + 1;
      }
    }
    assert.deepEqual(collect(metrics), want, `order ${order}`);
    metrics.close();
  }
});

test('attribute cache: sets that share part of a cached set (its tail split at any pair), NaN and ±0 values, keep their own series and hit the cache', () => {
  const sets = [
    { a: 1, b: 2, c: 3, d: 4 },
    { a: 1, b: 2, c: 3, d: 5 },
    { a: 1, b: 2, c: 9, d: 4 },
    { a: 1, b: 7, c: 3, d: 4 },
    { a: 1, b: 2, c: 3 },
    { a: 1, b: 2 },
    { a: 1, b: 2, e: 3 },
    { a: 1, b: 2, c: 3, d: 4, e: 5 },
    { a: NaN, b: 'x' },
    { a: NaN, b: 'y' },
    { z: 0, y: 1 },
  ];
  // A getter counts the reads of an attribute: a cache hit reads each value once, a miss more.
  let reads = 0;
  const counted = (set) => {
    const o = {};
    for (const [k, v] of Object.entries(set)) {
      Object.defineProperty(o, k, {
        enumerable: true,
        get() {
          reads++;
          return v;
        },
      });
    }
    return o;
  };
  // How a set reads back from OTLP JSON: NaN as the string "NaN", -0 as 0 (one series with 0).
  const decoded = (set) => canon(Object.fromEntries(Object.entries(set).map(([k, v]) => [k, Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? 0 : v])));
  for (const order of [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    [7, 4, 5, 0, 6, 3, 2, 1, 10, 9, 8],
    [5, 6, 4, 7, 1, 2, 3, 0, 9, 8, 10],
  ]) {
    const metrics = new Metrics({ endpoint: 'http://127.0.0.1:9', format: 'otlp-json', serviceName: 'model' });
    const c = metrics.counter('c');
    const want = {};
    for (const i of order) {
      c.add(i + 1, { ...sets[i] });
      want[decoded(sets[i])] = i + 1;
    }
    for (let round = 0; round < 2; round++) {
      for (const i of order) {
        reads = 0;
        c.add(100, counted(sets[i]));
        assert.equal(reads, Object.keys(sets[i]).length, `a hit for ${decoded(sets[i])} (order ${order})`);
        want[decoded(sets[i])] += 100;
      }
    }
    // -0 is the same attribute value as 0 (for the core and for a Map): the same series, a hit.
    reads = 0;
    c.add(1000, counted({ z: -0, y: 1 }));
    assert.equal(reads, 2, 'a hit for -0');
    want[decoded({ z: -0, y: 1 })] += 1000;
    assert.deepEqual(collect(metrics), want, `order ${order}`);
    metrics.close();
  }
});
