// Instruction counts of the JS record paths under callgrind, for a loaded machine where timings
// are not comparable (bench/record.mjs times the same paths): N calls of one mode in a fresh
// process; the difference of two counts (N = 40000 minus N = 20000), divided by 20000, is the
// cost of one call including what V8 spends on it (JIT code, GC).
//
//   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --predictable bench/record-cost.mjs MODE N
//
// Modes: `cached` (counter, 3 attributes, 8 sets cycling: cache hits), `bound` (one bound handle),
// `fresh` (a set never seen per call, cardinality 100000), `overflow` (cardinality 100 reached by 100 sets, then a set never
// seen per call: each value goes into the overflow series), `overflow-default` (the same at the
// default limits: cardinality 2000 reached by 1999 sets). Optional third argument: another
// dist directory (A/B against a copy of an older build).
const [mode = 'cached', nArg = '20000', dist = '../dist'] = process.argv.slice(2);
const n = Number(nArg);
const { Metrics } = await import(new URL(`${dist}/node.js`, import.meta.url).href);
const sets = Array.from({ length: 40_000 }, (_, i) => ({ route: `/r${i}`, method: 'GET', status: 200 }));
const cached = Array.from({ length: 8 }, (_, i) => ({ route: `/w${i}`, method: 'GET', status: 200 }));
const limits = mode === 'overflow' ? { cardinality: 100 } : mode === 'overflow-default' ? {} : { cardinality: 100_000, maxSeries: 100_000 };
const m = new Metrics({ endpoint: 'http://127.0.0.1:9', serviceName: 'cost', limits });
const c = m.counter('c');
const warm = mode === 'overflow' ? 100 : mode === 'overflow-default' ? 1999 : 0;
for (let i = 0; i < warm; i++) c.add(1, { route: `/warm${i}`, method: 'GET', status: 200 });
if (mode === 'cached') for (let i = 0; i < n; i++) c.add(1, cached[i & 7]);
else if (mode === 'bound') {
  const b = c.bind(cached[0]);
  for (let i = 0; i < n; i++) b.add(1);
} else for (let i = 0; i < n; i++) c.add(1, sets[i]);
// No prepare() here: its encode would scale with the number of series (mode `fresh`).
if (!m.enabled) throw new Error('metrics disabled');
