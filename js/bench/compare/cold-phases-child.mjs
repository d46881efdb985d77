// One fresh Node process for cold-phases.mjs: the first invocation of the default entry
// (edgemetrics: OTLP protobuf, node:http) split into phases with performance.now() marks taken
// HERE, in the bench, never in the shipped code. What happens inside `new Metrics()` is timed by
// wrapping, in this process only, the calls the entry makes to the platform: fs.readFileSync (the
// wasm file), new WebAssembly.Module (the sync compile), new WebAssembly.Instance (instantiate);
// the rest of the constructor is "before the module" (option checks, env, resource) and "after"
// (Core::new, configure, the flush loop's object). Prints one JSON line.
// Usage: node cold-phases-child.mjs <receiver base URL> [floor]   (EDGEMETRICS_DIST=DIR: another dist)
//   setup: stop after the first add (cold-phases.mjs --prof profiles only that).
//   floor: only import an empty ES module (the loader's fixed cost in a fresh process), for scale.
const [url, mode] = process.argv.slice(2);
const now = () => performance.now();
const spans = []; // [name, start, end]
const wrapFn = (obj, key, name) => {
  const orig = obj[key];
  obj[key] = function (...a) {
    const s = now();
    try {
      return orig.apply(this, a);
    } finally {
      spans.push([name, s, now()]);
    }
  };
};
const fs = process.getBuiltinModule?.('node:fs');
if (fs) wrapFn(fs, 'readFileSync', 'read');
const { Module, Instance } = WebAssembly;
WebAssembly.Module = function (b) {
  const s = now();
  const m = new Module(b);
  spans.push(['compile', s, now()]);
  return m;
};
WebAssembly.Module.prototype = Module.prototype;
Object.setPrototypeOf(WebAssembly.Module, Module);
WebAssembly.Instance = function (m, i) {
  const s = now();
  const r = new Instance(m, i);
  spans.push(['instantiate', s, now()]);
  return r;
};
WebAssembly.Instance.prototype = Instance.prototype;

const t0 = now();
if (mode === 'floor') {
  await import('data:text/javascript,export const x = 1;');
  console.log(JSON.stringify({ import: now() - t0 }));
  process.exit(0);
}
const dist = process.env.EDGEMETRICS_DIST ? new URL(`file://${process.env.EDGEMETRICS_DIST}/`) : new URL('../../dist/', import.meta.url);
const lib = await import(new URL('otlp/node.js', dist).href);
const t1 = now();
const opts = { endpoint: url, format: 'otlp-proto', serviceName: 'bench', selfMetrics: false };
const m = new lib.Metrics(opts);
const t2 = now();
const c = m.counter('bench.requests');
const t3 = now();
c.add(1, { route: '/a' });
const t4 = now();
if (mode === 'setup') {
  // --prof: the profile covers the setup only (import to the first add).
  console.log(JSON.stringify({ setup: t4 - t0 }));
  process.exit(0);
}
c.add(1, { route: '/b' });
const t5 = now();
const r = await m.flush();
const t6 = now();
if (!r.sent) throw new Error(r.error);
// The same work again in this process (JS compiled, module loaded): what of the first is one-time.
const t7 = now();
const m2 = new lib.Metrics({ ...opts, serviceName: 'bench2' });
const t8 = now();
m2.counter('bench.requests').add(1, { route: '/a' });
const t9 = now();
const inM = (name) => spans.filter(([n, s]) => n === name && s >= t1 && s < t2).reduce((a, [, s, e]) => a + e - s, 0);
const inside = spans.filter(([, s]) => s >= t1 && s < t2);
const first = inside.length ? Math.min(...inside.map(([, s]) => s)) : t2;
const last = inside.length ? Math.max(...inside.map(([, , e]) => e)) : t2;
console.log(
  JSON.stringify({
    import: t1 - t0,
    metrics: t2 - t1,
    before: first - t1,
    read: inM('read'),
    compile: inM('compile'),
    instantiate: inM('instantiate'),
    after: t2 - last,
    counter: t3 - t2,
    add1: t4 - t3,
    add2: t5 - t4,
    flush: t6 - t5,
    setup: t4 - t0,
    metrics2: t8 - t7,
    counterAdd2: t9 - t8,
  }),
);
process.exit(0);
