// Issue 11 in workerd (miniflare), against the real receivers: a Metrics object created at a
// worker's global scope loads (no randomness before the first flush), three workerd processes
// (three isolates) each get their own service.instance.id, so cumulative remote write into
// Prometheus and Pushgateway groups never overwrite each other; and a configuration error leaves
// the worker answering normally.
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { assertWithinControl, fixtureWorker, startReceiver } from './helpers.mjs';
import { startPrometheus, startPushgateway } from './receivers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const ISOLATES = 3;

/** Calls `read` until `done(value)` (bounded: 10 s); returns the last value. */
async function poll(read, done) {
  let v;
  for (let i = 0, end = Date.now() + 10_000; i < 200 && Date.now() < end; i++) {
    v = await read();
    if (done(v)) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  return v;
}

function miniflare(scriptPath, bindings = {}) {
  return new Miniflare(fixtureWorker(basename(scriptPath), bindings));
}

/** Starts ISOLATES workerd processes running fixtures/isolate-worker.mjs against `endpoint`. */
async function isolates(t, endpoint, format) {
  const src = readFileSync(join(here, 'fixtures', 'isolate-worker.mjs'), 'utf8')
    .replace('__ENDPOINT__', endpoint)
    .replace('__FORMAT__', format);
  const out = [];
  for (let k = 0; k < ISOLATES; k++) {
    const file = join(here, 'fixtures', `.gen-isolate-${process.pid}-${format}-${k}.mjs`);
    writeFileSync(file, src);
    t.after(() => rmSync(file, { force: true }));
    const mf = miniflare(file);
    t.after(() => mf.dispose());
    out.push(mf);
  }
  return out;
}

/** Three rounds of one request per isolate; returns the total recorded and the instance ids. */
async function drive(mfs) {
  let total = 0;
  const ids = new Set();
  for (let round = 1; round <= 3; round++) {
    for (const [k, mf] of mfs.entries()) {
      const n = 10 ** k * round;
      total += n;
      const res = await mf.dispatchFetch(`http://localhost/?n=${n}`);
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.match(text, /^ok /);
      if (round > 1) ids.add(text.slice(3));
    }
    // Let each isolate's flush (in waitUntil) go out before the next round.
    await new Promise((r) => setTimeout(r, 150));
  }
  return { total, ids };
}

test('workerd: three isolates push cumulative remote write to Prometheus; sum without(instance) equals everything recorded', async (t) => {
  const prom = await startPrometheus();
  t.after(() => prom.stop());
  const mfs = await isolates(t, prom.url, 'remote-write');
  const { total, ids } = await drive(mfs);
  assert.equal(ids.size, ISOLATES, `instance ids: ${[...ids].join(', ')}`);
  for (const id of ids) assert.match(id, /^[0-9a-f]{16}$/);
  const sum = async () => Number((await prom.query('sum without(instance) (isolate_work_total)'))[0]?.value[1] ?? NaN);
  const last = await poll(sum, (v) => v === total);
  assert.equal(last, total, `sum without(instance) = ${last}, recorded ${total}`);
  const series = await prom.query('isolate_work_total');
  assert.equal(series.length, ISOLATES, 'one series per isolate');
  assert.deepEqual(new Set(series.map((s) => s.metric.instance)), ids);
  for (const s of series) assert.equal(s.metric.job, 'isolates');
});

test('workerd: three isolates push to the Pushgateway; their three groups coexist', async (t) => {
  const pg = await startPushgateway();
  t.after(() => pg.stop());
  const mfs = await isolates(t, pg.url, 'pushgateway');
  const { total, ids } = await drive(mfs);
  const read = async () => {
    const text = await (await fetch(`${pg.url}/metrics`)).text();
    return [...text.matchAll(/^isolate_work_total\{instance="([0-9a-f]+)",job="isolates"\} (\S+)$/gm)].map((m) => [m[1], Number(m[2])]);
  };
  const groups = await poll(read, (g) => g.reduce((s, [, v]) => s + v, 0) === total);
  assert.equal(groups.length, ISOLATES, JSON.stringify(groups));
  assert.deepEqual(new Set(groups.map(([id]) => id)), ids);
  assert.equal(
    groups.reduce((s, [, v]) => s + v, 0),
    total,
  );
});

test('workerd: an unset endpoint variable turns metrics off; every request is answered by the handler', async (t) => {
  const mf = miniflare(join(here, 'fixtures', 'config-error-worker.mjs'));
  t.after(() => mf.dispose());
  for (let i = 0; i < 3; i++) {
    const res = await mf.dispatchFetch('http://localhost/');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'handler ran, metrics off');
  }
});

test('workerd: 20 invocations against a receiver answering after 10 s: every waitUntil flush promise settles within timeoutMs', async (t) => {
  const rx = await startReceiver(() => ({ delayMs: 10_000 }));
  t.after(() => rx.close());
  const TIMEOUT = 1500;
  const mf = miniflare(join(here, 'fixtures', 'slow-flush-worker.mjs'), { ENDPOINT: rx.url, TIMEOUT_MS: String(TIMEOUT) });
  t.after(() => mf.dispose());
  for (let i = 0; i < 20; i++) {
    const res = await mf.dispatchFetch('http://localhost/');
    assert.equal(await res.text(), 'ok');
    await new Promise((r) => setTimeout(r, 100));
  }
  const stats = await poll(
    async () => (await mf.dispatchFetch('http://localhost/stats')).json(),
    (s) => s.settled.length === 20 && s.control.length === 20,
  );
  assert.equal(stats.settled.length, 20, JSON.stringify(stats));
  const worst = Math.max(...stats.settled.map((s) => s.ms));
  console.log(`workerd flush settle times (ms, timeoutMs ${TIMEOUT}): max ${worst}, all ${stats.settled.map((s) => s.ms).join(' ')}`);
  assertWithinControl(stats.settled, stats.control, TIMEOUT);
  assert.equal(stats.stats.flushes, 20);
  assert.ok(stats.stats.coalesced >= 10, JSON.stringify(stats.stats));
});
