// Why this file: Metrics.close() / [Symbol.dispose]() must give an instance's wasm memory back so
// that later instances reuse it (a Metrics created per invocation must not grow the module's
// memory without bound), and a closed object must stay harmless (records nothing, never throws,
// flush() resolves with error 'closed'). Measured on the real module under Node, delivering to a
// receiver started here on 127.0.0.1.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Metrics } from '../dist/modules/node.js';
import { initSync } from '../dist/modules/edgemetrics_wasm.js';
import { decodeOtlp, startReceiver } from './helpers.mjs';

const opts = { endpoint: 'http://127.0.0.1:9', serviceName: 'memory', selfMetrics: false };

/** One invocation's work: `sets` attribute sets on a counter and a histogram, then one encode. */
function workload(m, sets) {
  const c = m.counter('requests');
  const h = m.histogram('duration', { unit: 'ms' });
  for (let i = 0; i < sets; i++) {
    const a = { route: `/r${i % 10}`, status: 200 + (i % 5), region: `region-${Math.floor(i / 50)}` };
    c.add(1, a);
    h.record(i * 0.5, a);
  }
  const req = m.prepare(1_700_000_000_000);
  assert.ok(req && req.body.length > 0);
}

/** The module's memory (the loader instantiated it at the first `new Metrics`; initSync returns it). */
function memory() {
  return initSync({ module: readFileSync(new URL('../dist/modules/edgemetrics_wasm_bg.wasm', import.meta.url)) }).memory;
}

test('1000 Metrics created, used and closed in a loop leave the wasm memory where one leaves it', () => {
  const first = new Metrics(opts);
  workload(first, 1000);
  first.close();
  const mem = memory();
  const afterOne = mem.buffer.byteLength;
  for (let i = 0; i < 1000; i++) {
    const m = new Metrics(opts);
    workload(m, 1000 - (i % 3) * 300);
    m.close();
  }
  const afterThousand = mem.buffer.byteLength;
  console.log(`wasm memory: ${afterOne} B after one M=1000 instance, ${afterThousand} B after 1000 more (closed)`);
  assert.equal(afterThousand, afterOne, 'memory grew although every instance was closed');
  // Memory never shrinks, so `afterOne` is the peak of one M = 1000 instance (load + record + encode).
  assert.ok(afterOne <= 1024 * 1024, `one M=1000 instance took ${afterOne} B of wasm memory (goal: at most 1 MiB)`);
});

test('[Symbol.dispose] closes, close() is idempotent, a closed Metrics records nothing and never throws', async () => {
  assert.equal(typeof Symbol.dispose, 'symbol', 'Node 20 defines Symbol.dispose');
  const m = new Metrics(opts);
  const c = m.counter('c');
  const bound = c.bind({ a: 1 });
  c.add(1, { a: 1 });
  m[Symbol.dispose]();
  assert.equal(m.enabled, false);
  m.close();
  c.add(1, { a: 2 });
  bound.add(5);
  m.histogram('h').record(1, { x: 'y' });
  assert.equal(m.prepare(), null);
  const r = await m.flush();
  assert.equal(r.sent, false);
  assert.equal(r.error, 'closed');
});

test('close() during a flush in flight frees the state only after the flight delivered', async () => {
  const rx = await startReceiver(() => ({ delayMs: 150 }));
  try {
    const m = new Metrics({ ...opts, endpoint: rx.url });
    m.counter('inflight').add(3, { k: 'v' });
    const p = m.flush();
    m.close();
    const r = await p;
    assert.equal(r.sent, true, JSON.stringify(r));
    assert.equal(rx.requests.length, 1);
    assert.equal(decodeOtlp(rx.requests[0]).metrics.inflight.points[0].value, 3);
  } finally {
    await rx.close();
  }
});
