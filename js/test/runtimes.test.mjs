// The same scenario (fixtures/scenario.mjs) in workerd (miniflare), Node, Deno and Bun: each
// invocation records, flushes, and the receiver started here sees exactly one request per
// invocation whose decoded content matches what was recorded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Miniflare } from 'miniflare';
import { assertScenario, decodeOtlp, fixtureWorker, startReceiver, startWrangler, waitFor } from './helpers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..');
const bin = (name) => join(pkg, 'node_modules', '.bin', name);
const INVOCATIONS = 3;

/** Runs a command with a time bound; resolves { code, stdout, stderr }. */
function runBounded(cmd, args, { timeoutMs = 60_000, env = {} } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: here, env: { ...process.env, ...env }, detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

async function runtimeScenario(t, cmd, args, format) {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const r = await runBounded(cmd, [...args, rx.url, format, String(INVOCATIONS)]);
  assert.equal(r.code, 0, `exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`);
  const results = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(results.length, INVOCATIONS);
  for (const res of results) {
    assert.equal(res.sent, true, JSON.stringify(res));
    assert.equal(res.status, 200);
    assert.equal(res.attempts, 1);
    assert.equal(res.dropped, 0);
    assert.ok(res.bytes > 100);
  }
  assert.equal(rx.requests.length, INVOCATIONS, 'exactly one request per invocation');
  rx.requests.forEach((req, k) => {
    assert.equal(Number(req.headers['content-length']), results[k].bytes);
    assertScenario(req, k + 1);
  });
}

const dist = (f) => pathToFileURL(join(pkg, 'dist', f)).href;

for (const format of ['otlp-json', 'otlp-proto']) {
  test(`node: scenario, ${format}`, (t) => runtimeScenario(t, process.execPath, ['fixtures/run.mjs', dist('node.js')], format));

  test(`deno: scenario, ${format}`, (t) =>
    runtimeScenario(
      t,
      bin('deno'),
      ['run', '--no-config', '--no-lock', '--allow-net=127.0.0.1', `--allow-read=${pkg}`, 'fixtures/run.mjs', dist('deno.js')],
      format,
    ));

  test(`deno: scenario through the browser entry (await init()), ${format}`, (t) =>
    runtimeScenario(
      t,
      bin('deno'),
      ['run', '--no-config', '--no-lock', '--allow-net=127.0.0.1', `--allow-read=${pkg}`, 'fixtures/run.mjs', dist('browser.js')],
      format,
    ));

  test(`bun: scenario, ${format}`, (t) => runtimeScenario(t, bin('bun'), ['fixtures/run.mjs', dist('node.js')], format));

  test(`workerd (miniflare): scenario through withMetrics + ctx.waitUntil, ${format}`, async (t) => {
    const rx = await startReceiver();
    t.after(() => rx.close());
    const mf = new Miniflare(fixtureWorker('worker.mjs', { ENDPOINT: rx.url, FORMAT: format }));
    t.after(() => mf.dispose());
    for (let i = 1; i <= INVOCATIONS; i++) {
      const res = await mf.dispatchFetch('http://localhost/');
      assert.equal(await res.text(), `invocation ${i}`);
      // The flush runs in waitUntil after the response: wait (bounded) for its request.
      assert.ok(await waitFor(() => rx.requests.length >= i), `request ${i} never arrived`);
    }
    // No late extra request.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(rx.requests.length, INVOCATIONS, 'exactly one request per invocation');
    rx.requests.forEach((req, k) => assertScenario(req, k + 1));
  });
}

test('workerd (miniflare): concurrent invocations in one isolate: totals exact, at most one request each', async (t) => {
  const rx = await startReceiver(() => ({ delayMs: 30 }));
  t.after(() => rx.close());
  const mf = new Miniflare(fixtureWorker('worker.mjs', { ENDPOINT: rx.url, FORMAT: 'otlp-json' }));
  t.after(() => mf.dispose());
  const N = 6;
  const texts = await Promise.all(Array.from({ length: N }, () => mf.dispatchFetch('http://localhost/').then((r) => r.text())));
  assert.equal(new Set(texts).size, N);
  // Every invocation flushes once; a flush that finds the registry already emptied by a
  // concurrent one sends nothing. Wait (bounded) until the /a,200 total reaches 3 per invocation.
  const total = () =>
    rx.requests
      .flatMap((q) => decodeOtlp(q).metrics['http.server.requests']?.points ?? [])
      .filter((p) => p.attrs.route === '/a' && p.attrs.status === 200)
      .reduce((s, p) => s + p.value, 0);
  assert.ok(await waitFor(() => total() >= 3 * N), `total ${total()}`);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(total(), 3 * N, 'no value lost or sent twice');
  assert.ok(rx.requests.length >= 1 && rx.requests.length <= N, `${rx.requests.length} requests`);
  for (const q of rx.requests) assert.equal(q.headers['x-edgemetrics-batch-id'].length, 32);
  assert.equal(new Set(rx.requests.map((q) => q.headers['x-edgemetrics-batch-id'])).size, rx.requests.length);
});

test('workerd (wrangler dev): scenario through withMetrics, otlp-proto', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const { port, log } = startWrangler(t, join(here, 'fixtures'), (port) => [
    'dev',
    '--config',
    join(here, 'fixtures', 'wrangler.toml'),
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--inspector-port',
    String(port + 1),
    '--var',
    `ENDPOINT:${rx.url}`,
    '--var',
    'FORMAT:otlp-proto',
  ]);
  let up = false;
  let first = '';
  for (let i = 0; i < 300 && !up; i++) {
    await new Promise((r) => setTimeout(r, 200));
    first = await fetch(`http://127.0.0.1:${port}/`).then(
      (r) => r.text(),
      () => '',
    );
    up = first.startsWith('invocation');
  }
  assert.ok(up, `wrangler dev did not start within 60 s:\n${log()}`);
  assert.equal(first, 'invocation 1');
  // The readiness probe was invocation 1 (it may have taken several tries to get an answer, but
  // only answered requests reach the worker).
  assert.ok(await waitFor(() => rx.requests.length >= 1, { timeoutMs: 20_000 }), `batch of the readiness probe never arrived:\n${log()}`);
  for (let i = 2; i <= INVOCATIONS; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await res.text(), `invocation ${i}`);
    assert.ok(await waitFor(() => rx.requests.length >= i, { timeoutMs: 20_000 }), `request ${i} never arrived:\n${log()}`);
  }
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(rx.requests.length, INVOCATIONS, 'exactly one request per invocation');
  rx.requests.forEach((req, k) => assertScenario(req, k + 1));
});
