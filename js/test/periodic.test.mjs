// startPeriodicFlush (long-running servers) in Node, Deno and Bun, against a real HTTP receiver:
// the process exits by itself with the periodic timer active (unref'd) and its last data is
// delivered by the beforeExit flush; the timer pushes while the process works; a SIGTERM'd server
// flushes its data and exits with 143. Each child is bounded in time and killed by PID group.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
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
function start(t, [cmd, args], timeoutMs = 20_000) {
  const t0 = Date.now();
  const child = spawn(cmd, args, { cwd: here, detached: true, env: { ...process.env, NO_COLOR: '1' } });
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

  test(`${runtime}: a SIGTERM'd server flushes its data and exits with 143`, async (t) => {
    const rx = await startReceiver();
    t.after(() => rx.close());
    const p = start(t, argv([rx.url, 'sigterm', '600000']));
    assert.ok(await waitFor(() => p.stdout().includes('ready'), { timeoutMs: 15_000 }), 'the server did not start');
    assert.equal(rx.requests.length, 0, 'nothing pushed before the signal');
    process.kill(p.child.pid, 'SIGTERM');
    const r = await p.done;
    assert.equal(r.code, 143, `exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`);
    assert.equal(total(rx), 7);
  });
}
