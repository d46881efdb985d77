// JS heap held by one instrument's attribute cache (js/src/attributes.js): how much memory the
// cache costs per cached set, the figure that decides how many sets it may hold. N distinct
// 3-attribute sets recorded into one counter at the default limits, heap measured after a full GC
// before and after. Run with --expose-gc; optional second argument: another dist directory (A/B).
//
//   node --expose-gc bench/cache-heap.mjs [N=1999] [DIST]
const gc = globalThis.gc;
if (typeof gc !== 'function') throw new Error('run with node --expose-gc');
const [nArg = '1999', dist = '../dist'] = process.argv.slice(2);
const n = Number(nArg);
const { Metrics } = await import(new URL(`${dist}/node.js`, import.meta.url).href);
const sets = Array.from({ length: n }, (_, i) => ({ route: `/r${i}`, method: 'GET', status: 200 }));
const m = new Metrics({ endpoint: 'http://127.0.0.1:9', serviceName: 'heap' });
const c = m.counter('c');
c.add(1, { route: '/first', method: 'GET', status: 200 });
gc();
gc();
const before = process.memoryUsage().heapUsed;
for (let i = 0; i < n; i++) c.add(1, sets[i]);
gc();
gc();
const held = process.memoryUsage().heapUsed - before;
console.log(JSON.stringify({ sets: n, heap_bytes: held, per_set: Math.round(held / n) }));
m.close();
