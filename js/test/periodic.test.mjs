// startPeriodicFlush (long-running servers) in Node, Deno and Bun, against a real HTTP receiver:
// the process exits by itself with the periodic timer active (unref'd) and its last data is
// delivered by the beforeExit flush; the timer pushes while the process works; a SIGTERM'd
// (SIGINT'd) server flushes its data and exits with 143 (130), or keeps running with
// `exitOnSignal: false`, its handlers removed; a receiver that never answers does not keep the
// process from exiting. Each child is bounded in time and killed by PID group.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { decodeOtlp, startReceiver, waitFor } from './helpers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..');
const dist = (f) => pathToFileURL(join(pkg, 'dist', f)).href;
const bin = (name) => join(pkg, 'node_modules', '.bin', name);

const RUNTIMES = {
  node: (args) => [process.execPath, ['fixtures/periodic-server.mjs', dist('node.js'), ...args]],
  deno: (args) => [
    bin('deno'),
    ['run', '--no-config', '--no-lock', '--allow-net=127.0.0.1', `--allow-read=${pkg}`, 'fixtures/periodic-server.mjs', dist('deno.js'), ...args],
  ],
  bun: (args) => [bin('bun'), ['fixtures/periodic-server.mjs', dist('node.js'), ...args]],
};

/** Starts a child in its own process group; `done` resolves { code, signal, stdout, stderr, ms }. */
function start(t, [cmd, args], timeoutMs = 20_000, cwd = here) {
  const t0 = Date.now();
  const child = spawn(cmd, args, { cwd, detached: true, env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const kill = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(kill, timeoutMs);
  const done = new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    }),
  );
  t.after(kill);
  return { child, done, stdout: () => stdout };
}

const total = (rx) =>
  rx.requests
    .map(decodeOtlp)
    .flatMap((d) => d.metrics['periodic.work']?.points ?? [])
    .reduce((s, p) => s + p.value, 0);

for (const [runtime, argv] of Object.entries(RUNTIMES)) {
  test(`${runtime}: the process exits by itself with the periodic timer active; beforeExit delivers its data`, async (t) => {
    const rx = await startReceiver();
    t.after(() => rx.close());
    // A 10-minute interval: only the exit flush can deliver within the test.
    const r = await start(t, argv([rx.url, 'exit', '600000'])).done;
    assert.equal(r.code, 0, `exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`);
    assert.ok(r.ms < 15_000, `took ${r.ms} ms to exit`);
    assert.equal(total(rx), 5);
    assert.equal(rx.requests.length, 1, 'one push at exit');
  });

  test(`${runtime}: the timer pushes while the process works, the exit flush sends the rest`, async (t) => {
    const rx = await startReceiver();
    t.after(() => rx.close());
    const r = await start(t, argv([rx.url, 'ticks', '150'])).done;
    assert.equal(r.code, 0, `exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`);
    assert.equal(total(rx), 12, 'exact total');
    // ~600 ms of work with a 150 ms interval: several timer pushes, not one per record.
    assert.ok(rx.requests.length >= 2 && rx.requests.length <= 8, `${rx.requests.length} pushes`);
  });

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ]) {
    test(`${runtime}: a ${signal}'d server flushes its data and exits with ${code}`, async (t) => {
      const rx = await startReceiver();
      t.after(() => rx.close());
      const p = start(t, argv([rx.url, 'signal', '600000']));
      assert.ok(await waitFor(() => p.stdout().includes('ready'), { timeoutMs: 15_000 }), 'the server did not start');
      assert.equal(rx.requests.length, 0, 'nothing pushed before the signal');
      process.kill(p.child.pid, signal);
      const r = await p.done;
      assert.equal(r.code, code, `exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`);
      assert.equal(total(rx), 7);
    });
  }

  // A receiver that never answers cannot keep the process alive: the exit flush (and the signal's)
  // ends within the Metrics' timeoutMs (1 s here), then the process exits as it would without it.
  test(`${runtime}: against a receiver that never answers, the process still exits by itself, and on SIGTERM with 143`, async (t) => {
    const rx = await startReceiver(() => ({ never: true }));
    t.after(() => rx.close());
    const exit = await start(t, argv([rx.url, 'exit', '600000', '1000'])).done;
    assert.equal(exit.code, 0, `exit ${exit.code} ${exit.signal ?? ''}\n${exit.stderr}`);
    assert.ok(exit.ms < 8000, `${exit.ms} ms to exit`);
    assert.equal(rx.requests.length, 1, 'the exit flush was sent (and never answered)');
    const p = start(t, argv([rx.url, 'signal', '600000', '1000']));
    assert.ok(await waitFor(() => p.stdout().includes('ready'), { timeoutMs: 15_000 }), 'the server did not start');
    const t0 = Date.now();
    process.kill(p.child.pid, 'SIGTERM');
    const r = await p.done;
    const afterSignal = Date.now() - t0;
    t.diagnostic(`${runtime}: process exit ${exit.ms} ms after start; SIGTERM to exit ${afterSignal} ms (timeoutMs 1000)`);
    assert.equal(r.code, 143, `exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`);
    assert.ok(afterSignal < 6000, `${afterSignal} ms from SIGTERM to exit`);
    assert.equal(rx.requests.length, 2);
  });

  test(`${runtime}: signals ['SIGHUP']: SIGHUP flushes and exits with 129; SIGTERM is then left to the runtime (no flush)`, async (t) => {
    const rx = await startReceiver();
    t.after(() => rx.close());
    const extra = JSON.stringify({ signals: ['SIGHUP'] });
    const p = start(t, argv([rx.url, 'signal', '600000', '', extra]));
    assert.ok(await waitFor(() => p.stdout().includes('ready'), { timeoutMs: 15_000 }), 'the server did not start');
    process.kill(p.child.pid, 'SIGHUP');
    const r = await p.done;
    assert.equal(r.code, 129, `exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`);
    assert.equal(total(rx), 7);
    const q = start(t, argv([rx.url, 'signal', '600000', '', extra]));
    assert.ok(await waitFor(() => q.stdout().includes('ready'), { timeoutMs: 15_000 }), 'the second server did not start');
    process.kill(q.child.pid, 'SIGTERM');
    const r2 = await q.done;
    assert.ok(r2.signal === 'SIGTERM' || r2.code === 143, `exit ${r2.code} ${r2.signal ?? ''}\n${r2.stderr}`);
    assert.equal(rx.requests.length, 1, 'SIGTERM is not in signals: no flush');
  });

  test(`${runtime}: exitOnSignal false: the signal flushes and the server keeps running; its handlers are gone (the next signal ends it the default way)`, async (t) => {
    const rx = await startReceiver();
    t.after(() => rx.close());
    const p = start(t, argv([rx.url, 'signal', '600000', '', JSON.stringify({ exitOnSignal: false })]));
    assert.ok(await waitFor(() => p.stdout().includes('ready'), { timeoutMs: 15_000 }), 'the server did not start');
    let exited = null;
    p.done.then((r) => (exited = r));
    process.kill(p.child.pid, 'SIGTERM');
    assert.ok(await waitFor(() => total(rx) === 7, { timeoutMs: 10_000 }), `only ${total(rx)} of 7 arrived`);
    // Still serving well after the flush: a control timer of 500 ms, then the process must be alive.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(exited, null, `the process exited after the signal: ${JSON.stringify(exited)}`);
    assert.equal(rx.requests.length, 1, 'one push, at the signal');
    // stop() removed the handlers: SIGTERM now terminates the process as it would without them.
    process.kill(p.child.pid, 'SIGTERM');
    const r = await p.done;
    assert.ok(r.signal === 'SIGTERM' || r.code === 143, `exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`);
    assert.equal(rx.requests.length, 1, 'no second flush: the handler is gone');
  });
}

// The server examples use the periodic mode: three requests, no push before shutdown, one at stop().
// Node and Bun examples import `edgemetrics`: they run from a copy with the package linked into
// its node_modules, as an installed dependency.
const EXAMPLES = {
  'node (examples/node/server.mjs)': ['node', 'server.mjs', () => [process.execPath, ['server.mjs']]],
  'bun (examples/bun/main.mjs)': ['bun', 'main.mjs', () => [bin('bun'), ['main.mjs']]],
  'deno (examples/deno/main.ts)': [
    'deno',
    'main.ts',
    (dir) => [bin('deno'), ['run', '--no-config', '--no-lock', '--allow-net=127.0.0.1', `--allow-read=${join(dir, '..', '..')},${pkg}`, 'main.ts']],
  ],
};
for (const [name, [folder, file, argv]] of Object.entries(EXAMPLES)) {
  test(`${name}: the server records per request and pushes once, at shutdown`, async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'em-example-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    // examples/<folder> copied two levels down, so that the Deno example's ../../js/dist resolves.
    const dir = join(root, 'examples', folder);
    mkdirSync(dir, { recursive: true });
    cpSync(join(pkg, '..', 'examples', folder, file), join(dir, file));
    symlinkSync(pkg, join(root, 'js'), 'dir');
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(pkg, join(dir, 'node_modules', 'edgemetrics'), 'dir');
    const r = await start(t, argv(dir), 30_000, dir).done;
    assert.equal(r.code, 0, `exit ${r.code} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /receiver got 0 batches before shutdown/);
    assert.match(r.stdout, /final flush: \{"sent":true,"status":200\}/);
    assert.match(r.stdout, /receiver got 1 batches/);
  });
}
