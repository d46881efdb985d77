// One cold start in a fresh Node process (spawned by cold.mjs): import the SDK, set it up (for
// edgemetrics this includes compiling and instantiating the wasm module), record one value and
// flush ONE batch to the receiver with the SDK's own sender; prints the phases as one JSON line.
// No warm-up of anything: this is what the first invocation of a Lambda-like function pays.
// Usage: node cold-child.mjs <variant> <receiver base URL>   (EDGEMETRICS_DIST=DIR: another build's dist)
//   variants: edgemetrics (default entry: OTLP only, node:http), edgemetrics-fetch (the same with
//   options.fetch = globalThis.fetch), edgemetrics-all (the every-format entry), edgemetrics-gap
//   (the default entry, 20 ms between the import and the first Metrics, not counted: a process
//   that does something else first, as a Lambda runtime fetching its first event; the Node entry
//   compiles the wasm in the background from import on), otel
import { CONTESTANTS } from './contestants.mjs';

const [variant, url] = process.argv.slice(2);
const t0 = performance.now();
let lib;
let state;
let t1;
let t2;
let tImported;
if (variant.startsWith('edgemetrics')) {
  const dist = process.env.EDGEMETRICS_DIST ? new URL(`file://${process.env.EDGEMETRICS_DIST}/`) : new URL('../../dist/', import.meta.url);
  lib = await import(new URL(variant === 'edgemetrics-all' ? 'node.js' : 'otlp/node.js', dist).href);
  tImported = performance.now();
  if (variant === 'edgemetrics-gap') await new Promise((r) => setTimeout(r, 20));
  t1 = performance.now();
  const opts = { endpoint: url, format: 'otlp-proto', serviceName: 'bench', selfMetrics: false };
  if (variant === 'edgemetrics-fetch') opts.fetch = globalThis.fetch;
  const m = new lib.Metrics(opts);
  m.counter('bench.requests').add(1, { route: '/a' });
  t2 = performance.now();
  state = {
    async flushOwn() {
      const r = await m.flush();
      if (!r.sent) throw new Error(r.error);
    },
  };
} else {
  const c = CONTESTANTS[variant];
  lib = await c.load();
  t1 = performance.now();
  tImported = t1;
  state = c.create(lib, url);
  state.loopAttrs(1, 1, [{ route: '/a' }], [1]);
  t2 = performance.now();
}
await state.flushOwn();
const t3 = performance.now();
const gap = variant === 'edgemetrics-gap' ? t1 - tImported : 0;
console.log(JSON.stringify({ variant, import_ms: tImported - t0, setup_ms: t2 - t1, first_flush_ms: t3 - t2, total_ms: t3 - t0 - gap }));
process.exit(0);
