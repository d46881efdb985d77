// The JS↔wasm boundary has one table per side (bindings/src/abi.rs, js/src/abi.js): this test
// fails when they disagree, and checks that errors cross as classes, not message prefixes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../dist/modules/node.js';
import { Core } from '../dist/modules/edgemetrics_wasm.js';
import { text } from '../dist/modules/answers.js';
import { abiText, ERROR, errorClass } from '../dist/modules/abi.js';

test('the Rust and JS tables of the boundary are identical', () => {
  new Metrics({ endpoint: 'http://127.0.0.1:9' }); // instantiates the wasm module
  const core = new Core();
  const rust = text(core, core.abiTable()).trim().split('\n').sort();
  core.free();
  const js = abiText().trim().split('\n').sort();
  assert.deepEqual(js, rust);
  assert.ok(rust.length > 40, `${rust.length} entries`);
});

test('error classes map to TypeError and RangeError by code', () => {
  assert.equal(errorClass(ERROR.type), TypeError);
  assert.equal(errorClass(ERROR.range), RangeError);
  // A core-side range error (limits) and type error (bad name) arrive typed.
  const few = new Metrics({ endpoint: 'http://127.0.0.1:9', limits: { maxInstruments: 1 } });
  few.counter('a');
  assert.throws(() => few.counter('b'), RangeError);
  assert.throws(() => few.counter('bad name'), TypeError);
});
