// Why a value into the overflow series costs 2.7-3.1x a cached record when timed (bench/record.mjs)
// but 1.28x in instructions (bench/record-cost.mjs under callgrind): the two rows of record.mjs do
// not only take different paths, they feed different objects. The cached row cycles 8 sets (hot in
// the CPU cache, their strings hashed long ago); the overflow row feeds 20,000 objects never seen
// before, each with a string never hashed (V8 hashes a string on its first Map lookup and keeps the
// hash). This bench times the same two paths with the inputs made alike step by step, in one
// process, at the default limits (the cache holds the instrument's 1999 own series):
//
//   cached-8         cached record, 8 sets cycling (record.mjs attrs3_ns_per_call)
//   cached-1999      cached record cycling over the 1999 cached sets (distinct objects)
//   overflow-8       overflow shortcut, 8 never-cached sets cycling (hot, hashed)
//   overflow-hashed  overflow shortcut, 20,000 fresh objects whose strings were hashed beforehand
//   overflow-fresh   overflow shortcut, 20,000 fresh objects, strings never hashed (record.mjs row)
//   overflow-cold    as overflow-fresh, with 64 MB of other memory walked before each run (the
//                    objects evicted from the CPU caches)
//   overflow-inline  each call's object and route string built in the loop, as a handler builds
//                    them from a request (hot in the CPU cache, the string never hashed), minus
//   build-only       the same loop handing the object to a no-op instead (what building costs)
//
// Each row: best of REPS runs of 20,000 calls (ns per call), and the V8 GC time counted during the
// best run (PerformanceObserver 'gc': the pauses that started within it). Differences between rows attribute the gap:
// overflow-fresh - overflow-hashed = string hashing; overflow-hashed - overflow-8 = memory (cache
// misses on distinct objects); overflow-8 - cached-8 = the path itself; overflow-inline -
// build-only = what a handler that builds its attributes per request pays for an overflowed value.
//
// Usage: node bench/overflow-gap.mjs [reps] [dist]   (default 15 and ../dist; one JSON line last)
import { PerformanceObserver } from 'node:perf_hooks';

const REPS = Number(process.argv[2] ?? 15);
const { Metrics } = await import(new URL(`${process.argv[3] ?? '../dist'}/node.js`, import.meta.url).href);
const CALLS = 20_000;

// GC pauses reported so far, by start time: a run's share is those that started within it.
const gcs = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push([e.startTime, e.duration]);
}).observe({ entryTypes: ['gc'] });
const gcWithin = (from, to) => gcs.reduce((ms, [at, d]) => (at >= from && at <= to ? ms + d : ms), 0);

function full() {
  const m = new Metrics({ endpoint: 'http://127.0.0.1:9', serviceName: 'gap' });
  const c = m.counter('gap');
  const own = Array.from({ length: 1999 }, (_, i) => ({ route: `/own${i}`, method: 'GET', status: 200 }));
  for (const a of own) c.add(1, a);
  // The first miss after the cache holds every own series lands in the overflow series through the
  // slow path and arms the shortcut (AttrCache.full).
  c.add(1, { route: '/arm', method: 'GET', status: 200 });
  return { m, c, own };
}

let stamp = 0;
function freshSets(hashed) {
  stamp++;
  const sets = Array.from({ length: CALLS }, (_, i) => ({ route: `/f${stamp}-${i}`, method: 'GET', status: 200 }));
  if (hashed) {
    const probe = new Map();
    for (const s of sets) probe.get(s.route);
  }
  return sets;
}

const sink = new Float64Array(1 << 23); // 64 MB
function evictCaches() {
  let x = 0;
  for (let i = 0; i < sink.length; i += 8) x += sink[i]++;
  return x;
}

let kept = 0;
/** Stands in for `add` in build-only: keeps the object observable, never inlined away. */
function noop(v, a) {
  if (a.status === 201) kept += v;
}

const rows = {
  'cached-8': (t) => {
    const hot = t.own.slice(0, 8);
    return () => {
      for (let i = 0; i < CALLS; i++) t.c.add(1, hot[i & 7]);
    };
  },
  'cached-1999': (t) => () => {
    for (let i = 0; i < CALLS; i++) t.c.add(1, t.own[i % 1999]);
  },
  'overflow-8': (t) => {
    const hot = Array.from({ length: 8 }, (_, i) => ({ route: `/hot${i}`, method: 'GET', status: 200 }));
    return () => {
      for (let i = 0; i < CALLS; i++) t.c.add(1, hot[i & 7]);
    };
  },
  'overflow-hashed': (t) => {
    const sets = freshSets(true);
    return () => {
      for (let i = 0; i < CALLS; i++) t.c.add(1, sets[i]);
    };
  },
  'overflow-fresh': (t) => {
    const sets = freshSets(false);
    return () => {
      for (let i = 0; i < CALLS; i++) t.c.add(1, sets[i]);
    };
  },
  'overflow-inline': (t) => () => {
    stamp++;
    for (let i = 0; i < CALLS; i++) t.c.add(1, { route: `/i${stamp}-${i}`, method: 'GET', status: 200 });
  },
  'build-only': () => () => {
    stamp++;
    for (let i = 0; i < CALLS; i++) noop(1, { route: `/i${stamp}-${i}`, method: 'GET', status: 200 });
  },
  'overflow-cold': (t) => {
    const sets = freshSets(false);
    evictCaches();
    return () => {
      for (let i = 0; i < CALLS; i++) t.c.add(1, sets[i]);
    };
  },
};

const best = {};
const gcAtBest = {};
const t = full();
for (const make of Object.values(rows)) make(t)(); // warm up every path (JIT)
for (let r = 0; r < REPS; r++) {
  // Rows interleaved, so that load on the machine spreads over all of them.
  for (const [name, make] of Object.entries(rows)) {
    const run = make(t);
    const from = performance.now();
    const s = process.hrtime.bigint();
    run();
    const ns = Number(process.hrtime.bigint() - s) / CALLS;
    const to = performance.now();
    await new Promise((res) => setTimeout(res, 1)); // let the gc observer report
    if (!(ns >= best[name])) {
      best[name] = ns;
      gcAtBest[name] = (gcWithin(from, to) * 1e6) / CALLS;
    }
  }
}
// Every value is counted: 1999 own sets once, the arming miss, then every run's calls.
const totals = t.m.prepare();
if (!totals) throw new Error('nothing to send');

const base = best['cached-8'];
console.log('| row | ns/call | × cached-8 | GC ns/call in that run |');
console.log('|---|---:|---:|---:|');
for (const name of Object.keys(rows)) {
  console.log(`| ${name} | ${best[name].toFixed(1)} | ${(best[name] / base).toFixed(2)} | ${gcAtBest[name].toFixed(1)} |`);
}
const inline = best['overflow-inline'] - best['build-only'];
console.log(`overflow-inline - build-only: ${inline.toFixed(1)} ns = ${(inline / base).toFixed(2)}× cached-8`);
console.log(JSON.stringify({ reps: REPS, ns_per_call: best, gc_ns_per_call: gcAtBest, inline_overflow_ns: inline, kept }));
