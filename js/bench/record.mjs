// Record cost from JS, measured in one run (Node):
//   * bound handle: `bound.add(1)` (one wasm call, numbers only),
//   * attributes object: `counter.add(1, { route, method, status })` (key string + Map lookup +
//     one wasm call),
//   * baseline: a plain JS Map keyed by a string built from the same three values, adding into a
//     number (what a pure-JS aggregator's hot path costs at least),
//   * histograms: `record(v)` through a bound handle, explicit buckets and exponential,
// plus first-seen attribute sets and values into the overflow series (per call), and import +
// instantiate time (import of the entry module, then the first `new Metrics`, which
// compiles and instantiates the wasm module synchronously).
//
// Usage: node bench/record.mjs [iterations] [dist]   (default 2e6 and ../dist, relative to this
// file: another build for an A/B run; prints one JSON line at the end)
const t0 = performance.now();
const { Metrics } = await import(new URL(`${process.argv[3] ?? '../dist'}/node.js`, import.meta.url).href);
const t1 = performance.now();
const metrics = new Metrics({ endpoint: 'http://127.0.0.1:9', format: 'otlp-proto', serviceName: 'bench' });
const t2 = performance.now();

const N = Number(process.argv[2] ?? 2_000_000);
const counter = metrics.counter('bench.requests');
const bound = counter.bind({ route: '/a', method: 'GET', status: 200 });
const routes = ['/a', '/b', '/c', '/d'];
const methods = ['GET', 'POST'];
const attrs = [];
for (const route of routes) for (const method of methods) attrs.push({ route, method, status: 200 });

function timeIt(fn) {
  fn(Math.min(N, 100_000)); // warm up (JIT)
  const best = [];
  for (let r = 0; r < 5; r++) {
    const s = process.hrtime.bigint();
    fn(N);
    best.push(Number(process.hrtime.bigint() - s) / N);
  }
  return Math.min(...best);
}

const boundNs = timeIt((n) => {
  for (let i = 0; i < n; i++) bound.add(1);
});
const attrsNs = timeIt((n) => {
  for (let i = 0; i < n; i++) counter.add(1, attrs[i & 7]);
});
// Histograms: the same values (0..699) into an explicit and an exponential histogram, both
// through bound handles (one wasm call each: the difference is the aggregator's own cost).
const hist = metrics.histogram('bench.latency', { unit: 'ms' }).bind({ route: '/a' });
const expHist = metrics.histogram('bench.latency.exp', { unit: 'ms', aggregation: 'exponential' }).bind({ route: '/a' });
const histNs = timeIt((n) => {
  for (let i = 0; i < n; i++) hist.record(i % 700);
});
const expHistNs = timeIt((n) => {
  for (let i = 0; i < n; i++) expHist.record(i % 700);
});
const map = new Map();
let sink = 0;
const mapNs = timeIt((n) => {
  for (let i = 0; i < n; i++) {
    const a = attrs[i & 7];
    const key = a.route + '\u0000' + a.method + '\u0000' + a.status;
    map.set(key, (map.get(key) ?? 0) + 1);
  }
  sink += map.size;
});
// First-seen attribute sets (issue 12): every call carries a set this instrument has not seen
// (key built, cache insert, one bind in the core), in a fresh instrument per repetition so that no
// set is ever a cache hit; and values into the overflow series: an instrument whose cardinality
// limit (100) is reached, fed sets it has never seen (each is folded into the overflow series;
// with the cache holding all 99 own series, through the shortcut that skips the attribute work).
const FRESH = 20_000;
const freshSets = Array.from({ length: FRESH }, (_, i) => ({ route: `/r${i}`, method: 'GET', status: 200 }));
function bestOf(make, run) {
  const best = [];
  for (let r = 0; r < 5; r++) {
    const m = make();
    const s = process.hrtime.bigint();
    run(m);
    best.push(Number(process.hrtime.bigint() - s) / FRESH);
    m.close?.();
  }
  return Math.min(...best);
}
const firstSeenNs = bestOf(
  () => new Metrics({ endpoint: 'http://127.0.0.1:9', serviceName: 'bench', limits: { cardinality: 100_000, maxSeries: 100_000 } }),
  (m) => {
    const c = m.counter('first.seen');
    for (let i = 0; i < FRESH; i++) c.add(1, freshSets[i]);
  },
);
const overflowNs = bestOf(
  () => {
    const m = new Metrics({ endpoint: 'http://127.0.0.1:9', serviceName: 'bench', limits: { cardinality: 100 } });
    const c = m.counter('overflow');
    for (let i = 0; i < 100; i++) c.add(1, { route: `/warm${i}`, method: 'GET', status: 200 });
    return m;
  },
  (m) => {
    const c = m.counter('overflow');
    for (let i = 0; i < FRESH; i++) c.add(1, freshSets[i]);
  },
);
// The same at the default limits (cardinality 2000, attribute cache 2000 sets): the cache holds
// the instrument's 1999 own series, so the shortcut into the overflow series (which needs the
// cache to hold every own series) applies. (With the 1000-set cache before, it did not and each
// value took the slow path.)
const overflowDefaultNs = bestOf(
  () => {
    const m = new Metrics({ endpoint: 'http://127.0.0.1:9', serviceName: 'bench' });
    const c = m.counter('overflow');
    for (let i = 0; i < 1999; i++) c.add(1, { route: `/warm${i}`, method: 'GET', status: 200 });
    return m;
  },
  (m) => {
    const c = m.counter('overflow');
    for (let i = 0; i < FRESH; i++) c.add(1, freshSets[i]);
  },
);
// Keep the work observable so nothing is optimised away, and check the totals are right.
const req = metrics.prepare();
const result = {
  node: process.version,
  iterations: N,
  import_ms: +(t1 - t0).toFixed(2),
  instantiate_ms: +(t2 - t1).toFixed(2),
  bound_ns_per_call: +boundNs.toFixed(1),
  attrs3_ns_per_call: +attrsNs.toFixed(1),
  js_map_baseline_ns_per_call: +mapNs.toFixed(1),
  histogram_bound_ns_per_call: +histNs.toFixed(1),
  exp_histogram_bound_ns_per_call: +expHistNs.toFixed(1),
  first_seen_set_ns_per_call: +firstSeenNs.toFixed(1),
  overflow_series_ns_per_call: +overflowNs.toFixed(1),
  overflow_default_limits_ns_per_call: +overflowDefaultNs.toFixed(1),
  batch_points: req?.points ?? 0,
  map_entries: sink,
};
console.log(JSON.stringify(result));
