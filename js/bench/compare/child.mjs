// One contestant's FIRST invocation in a fresh process (spawned by run.mjs with --expose-gc):
// import, init, record R pairs over M attribute sets, encode, send one batch, and report
//   import_ms, init_ms, record_ms, encode_ms (first), send_ms, heap held (JS heap and JS heap +
//   external memory, i.e. ArrayBuffers and wasm memories), as one JSON line on stdout.
// Usage: node --expose-gc child.mjs <contestant> <R> <M> <receiver base URL>
import { CONTESTANTS, attributeSets, values, post } from './contestants.mjs';

const [name, rArg, mArg, url] = process.argv.slice(2);
const c = CONTESTANTS[name];
if (!c || !url || typeof global.gc !== 'function') {
  console.error('usage: node --expose-gc child.mjs <contestant> <R> <M> <url>');
  process.exit(2);
}
const R = Number(rArg);
const M = Number(mArg);
const sets = attributeSets();
const vals = values();
const mem = () => {
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
};

// fetch (undici) loads lazily on first use; warm it up so that neither the heap baseline nor the
// send time of whoever is measured includes Node's own HTTP client start-up (the receiver does
// not count /_warmup).
await (await fetch(url + '/_warmup')).arrayBuffer();

const t0 = performance.now();
const lib = await c.load();
const t1 = performance.now();
global.gc();
global.gc();
const m0 = mem();
const t2 = performance.now();
const state = c.create(lib, url);
const t3 = performance.now();
state.loopAttrs(R, M, sets, vals);
const t4 = performance.now();
const req = await state.encode();
const t5 = performance.now();
await post(url + req.path, req.method, req.type, req.body);
const t6 = performance.now();
global.gc();
global.gc();
const m1 = mem();
// `state` is still referenced here: what is measured is what the SDK holds after one invocation.
const out = {
  contestant: name,
  R,
  M,
  import_ms: t1 - t0,
  init_ms: t3 - t2,
  record_ms: t4 - t3,
  encode_first_ms: t5 - t4,
  send_ms: t6 - t5,
  heap_held_bytes: m1.heap - m0.heap,
  heap_external_held_bytes: m1.heap + m1.external - (m0.heap + m0.external),
  array_buffers_held_bytes: m1.arrayBuffers - m0.arrayBuffers, // ArrayBuffers (wasm memory included)
  alive: typeof state.encode === 'function',
};
process.stdout.write(JSON.stringify(out) + '\n');
await state.close();
