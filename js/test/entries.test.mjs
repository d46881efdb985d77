// Why this file: the package has one entry per wire format, each with its own wasm module, so
// that a worker ships only the encoders it uses (`edgemetrics` = OTLP protobuf, plus
// `edgemetrics/remote-write`, `/pushgateway`, `/compact` and `/all`). Each entry is imported here
// by its package name (Node resolves the package's own `exports` from inside it, `node`
// condition) and must deliver its format to a receiver on 127.0.0.1; asking an entry for a
// format its module lacks must be a FormatUnavailableError naming the entry to import.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { decodeOtlp, startReceiver } from './helpers.mjs';

const ENTRIES = {
  edgemetrics: { format: 'otlp-proto', path: '/v1/metrics', ct: 'application/x-protobuf' },
  'edgemetrics/remote-write': { format: 'remote-write', path: '/api/v1/write', ct: 'application/x-protobuf' },
  'edgemetrics/pushgateway': { format: 'pushgateway', path: '/metrics/job/entries/instance/i-1', ct: 'text/plain; version=0.0.4; charset=utf-8' },
  'edgemetrics/compact': { format: 'compact', path: '/v1/compact', ct: 'application/vnd.edgemetrics.compact' },
};
const FORMATS = ['otlp-proto', 'otlp-json', 'remote-write', 'pushgateway', 'compact', 'emf'];
const opts = (endpoint, format) => ({ endpoint, format, serviceName: 'entries', selfMetrics: false, resource: { 'service.instance.id': 'i-1' } });

test('each format entry delivers its own format and refuses the others with a FormatUnavailableError', async () => {
  const rx = await startReceiver();
  try {
    for (const [entry, { format, path, ct }] of Object.entries(ENTRIES)) {
      const mod = await import(entry);
      const m = new mod.Metrics(opts(rx.url, format));
      m.counter('entry.requests').add(2, { route: '/x' });
      const n = rx.requests.length;
      const r = await m.flush();
      assert.equal(r.sent, true, `${entry}: ${JSON.stringify(r)}`);
      const req = rx.requests[n];
      assert.deepEqual([req.url, req.headers['content-type']], [path, ct], entry);
      if (format === 'otlp-proto') assert.equal(decodeOtlp(req).metrics['entry.requests'].points[0].value, 2);
      m.close();
      for (const other of FORMATS.filter((f) => f !== format)) {
        const want = other === 'otlp-proto' ? 'edgemetrics' : (Object.entries(ENTRIES).find(([, e]) => e.format === other)?.[0] ?? 'edgemetrics/all');
        assert.throws(
          () => new mod.Metrics(opts(rx.url, other)),
          (e) =>
            e instanceof mod.FormatUnavailableError &&
            e instanceof TypeError &&
            e.code === 'EDGEMETRICS_FORMAT_UNAVAILABLE' &&
            e.format === other &&
            e.entry === want &&
            e.message.includes(`import { Metrics } from '${want}'`),
          `${entry} with format ${other}`,
        );
      }
    }
  } finally {
    await rx.close();
  }
});

test('every entry has an inline export (wasm inlined) with its own formats', async () => {
  for (const [entry, { format }] of Object.entries({ ...ENTRIES, 'edgemetrics/all': { format: 'otlp-json' } })) {
    const mod = await import(`${entry}/inline`);
    new mod.Metrics(opts('http://127.0.0.1:9', format)).close();
  }
  const { Metrics, FormatUnavailableError } = await import('edgemetrics/inline');
  assert.throws(() => new Metrics(opts('http://127.0.0.1:9', 'compact')), FormatUnavailableError);
});

test("'edgemetrics/all' has every format; the default entry's wasm is the smallest", async () => {
  const all = await import('edgemetrics/all');
  for (const format of FORMATS) new all.Metrics(opts('http://127.0.0.1:9', format)).close();
  const { statSync } = await import('node:fs');
  const size = (dir) => statSync(new URL(`../dist/${dir}edgemetrics_wasm_bg.wasm`, import.meta.url)).size;
  for (const dir of ['remote-write/', 'pushgateway/', 'compact/', '']) assert.ok(size('otlp/') < size(dir), dir);
});

test('a wrapper configured (by the environment) for a format its entry lacks disables metrics and names the entry', async () => {
  const { wrapLambda } = await import('edgemetrics');
  const warnings = [];
  const warn = console.warn;
  console.warn = (m) => warnings.push(String(m));
  try {
    const handler = wrapLambda(async (_event, _ctx, metrics) => metrics.enabled, { endpoint: 'http://127.0.0.1:9', format: 'remote-write' });
    assert.equal(await handler({}, {}), false);
  } finally {
    console.warn = warn;
  }
  assert.ok(
    warnings.some((w) => w.includes("'edgemetrics/remote-write'")),
    warnings.join('\n'),
  );
});

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..');
const DIRS = { edgemetrics: 'otlp', 'edgemetrics/remote-write': 'remote-write', 'edgemetrics/pushgateway': 'pushgateway', 'edgemetrics/compact': 'compact' };

/** Runs `cmd args` (bounded, own process group); resolves { code, out }. */
function runBounded(cmd, args, timeoutMs = 60_000) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: here, detached: true });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

test('every format entry delivers in Deno (deno and browser entries), Bun and Node (inline entry)', async () => {
  const rx = await startReceiver();
  try {
    for (const [entry, dir] of Object.entries(DIRS)) {
      const { format, path, ct } = ENTRIES[entry];
      const url = (f) => pathToFileURL(join(pkg, 'dist', dir, f)).href;
      const deno = [
        join(pkg, 'node_modules', '.bin', 'deno'),
        'run',
        '--no-config',
        '--no-lock',
        '--allow-net=127.0.0.1',
        `--allow-read=${pkg}`,
        'fixtures/entry.mjs',
      ];
      const runs = {
        deno: [...deno, url('deno.js')],
        'deno (browser entry)': [...deno, url('browser.js')],
        bun: [join(pkg, 'node_modules', '.bin', 'bun'), 'fixtures/entry.mjs', url('node.js')],
        'node (inline entry)': [process.execPath, 'fixtures/entry.mjs', url('inline.js')],
      };
      for (const [runtime, [cmd, ...args]] of Object.entries(runs)) {
        const n = rx.requests.length;
        const r = await runBounded(cmd, [...args, rx.url, format]);
        assert.equal(r.code, 0, `${entry} in ${runtime}: ${r.out}`);
        assert.equal(JSON.parse(r.out.trim().split('\n').pop()).sent, true, `${entry} in ${runtime}: ${r.out}`);
        assert.equal(rx.requests.length, n + 1);
        assert.deepEqual([rx.requests[n].url, rx.requests[n].headers['content-type']], [path, ct], `${entry} in ${runtime}`);
      }
    }
  } finally {
    await rx.close();
  }
});

test('the Node entry sends with node:http (the global fetch is never called); options.fetch still wins', async () => {
  const rx = await startReceiver((req) => (req.url === '/v1/metrics' ? { status: 429, body: 'slow down' } : {}));
  const saved = globalThis.fetch;
  let globalCalls = 0;
  globalThis.fetch = (...a) => {
    globalCalls++;
    return saved(...a);
  };
  try {
    const { Metrics } = await import('edgemetrics');
    const m = new Metrics({ ...opts(rx.url, 'otlp-proto'), retry: { maxAttempts: 1 } });
    m.counter('via.node.http').add(1);
    const r = await m.flush();
    assert.equal(r.status, 429, JSON.stringify(r));
    assert.match(r.error, /slow down/);
    assert.equal(rx.requests[0].headers['content-type'], 'application/x-protobuf');
    assert.equal(Number(rx.requests[0].headers['content-length']), r.bytes);
    m.close();
    let own = 0;
    const custom = new Metrics({ ...opts(rx.url, 'otlp-proto'), retry: { maxAttempts: 1 }, fetch: (...a) => (own++, saved(...a)) });
    custom.counter('via.options.fetch').add(1);
    await custom.flush();
    custom.close();
    assert.equal(own, 1);
    assert.equal(globalCalls, 0);
    // A refused connection is classified as such through node:http too.
    const down = new Metrics({ ...opts('http://127.0.0.1:9', 'otlp-proto'), retry: { maxAttempts: 1 } });
    down.counter('c').add(1);
    const d = await down.flush();
    assert.equal(d.sent, false);
    assert.match(d.error, /ECONNREFUSED|refused/i, d.error);
  } finally {
    globalThis.fetch = saved;
    await rx.close();
  }
});

test("transport 'tail' works from edgemetrics/compact (one log line, no request) and is refused by the default entry", async () => {
  const compact = await import('edgemetrics/compact');
  const lines = [];
  const log = console.log;
  console.log = (l) => lines.push(String(l));
  try {
    const m = new compact.Metrics({ transport: 'tail', serviceName: 'producer', selfMetrics: false, fetch: () => assert.fail('no request') });
    m.counter('tail.requests').add(3);
    const r = await m.flush();
    assert.equal(r.sent, true, JSON.stringify(r));
    m.close();
  } finally {
    console.log = log;
  }
  assert.equal(lines.length, 1);
  assert.ok(lines[0].startsWith('edgemetrics:compact:1:'), lines[0].slice(0, 40));
  const { Metrics, FormatUnavailableError } = await import('edgemetrics');
  assert.throws(
    () => new Metrics({ transport: 'tail', serviceName: 'producer' }),
    (e) => e instanceof FormatUnavailableError && e.entry === 'edgemetrics/compact',
  );
});

/**
 * Bundles `source` (an app in test/fixtures, so `edgemetrics` resolves to this package) with
 * esbuild for workerd (the conditions wrangler uses), the .wasm files copied into the output as
 * files; returns the package files (relative to js/dist) and the .wasm modules the bundle holds.
 */
async function bundleApp(source) {
  const { build } = await import('esbuild');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { relative } = await import('node:path');
  const out = mkdtempSync(join(tmpdir(), 'em-app-'));
  try {
    const r = await build({
      stdin: { contents: source, resolveDir: join(here, 'fixtures'), sourcefile: 'app.mjs' },
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      conditions: ['workerd', 'worker', 'browser', 'import'],
      external: ['cloudflare:*'],
      loader: { '.wasm': 'file' },
      outdir: out,
      metafile: true,
      write: true,
      logLevel: 'error',
    });
    const dist = join(pkg, 'dist');
    const inputs = Object.keys(r.metafile.inputs)
      .map((f) => relative(dist, join(process.cwd(), f)))
      .filter((f) => !f.startsWith('..'))
      .sort();
    return { js: inputs.filter((f) => f.endsWith('.js')), wasm: inputs.filter((f) => f.endsWith('.wasm')) };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const USE_ALL = (entry, integ) => `
import { Metrics } from '${entry}';
import { metricsMiddleware } from '${integ}hono';
import { withWaitUntil } from '${integ}vercel';
import { instrumentDurableObject, pagesFunction } from '${integ}workers';
import { EdgeMeterProvider } from 'edgemetrics/otel';
export default { Metrics, metricsMiddleware, withWaitUntil, instrumentDurableObject, pagesFunction, EdgeMeterProvider };
`;

test('a worker using an entry and the integrations bundles only that entry (one module, its wasm)', async () => {
  const integrations = (dir) => ['hono.js', 'vercel.js', 'workers.js'].map((f) => join(dir, f));
  // The default entry with edgemetrics/hono, /vercel, /workers, /otel: the OTLP module only.
  assert.deepEqual(await bundleApp(USE_ALL('edgemetrics', 'edgemetrics/')), {
    js: [...integrations('otlp'), 'otel.js', 'otlp/workerd.js'].sort(),
    wasm: ['otlp/edgemetrics_wasm_bg.wasm'],
  });
  // Each other entry with its own integrations: that entry's module only.
  for (const [entry, dir] of [
    ['edgemetrics/remote-write', 'remote-write'],
    ['edgemetrics/pushgateway', 'pushgateway'],
    ['edgemetrics/compact', 'compact'],
    ['edgemetrics/all', ''],
  ]) {
    assert.deepEqual(
      await bundleApp(USE_ALL(entry, `${entry}/`)),
      { js: [...integrations(dir), 'otel.js', join(dir, 'workerd.js')].sort(), wasm: [join(dir, 'edgemetrics_wasm_bg.wasm')] },
      entry,
    );
  }
  // An integration alone brings its entry (the loader of the wasm module) with it.
  assert.deepEqual(await bundleApp(`export { metricsMiddleware } from 'edgemetrics/hono';`), {
    js: ['otlp/hono.js', 'otlp/workerd.js'],
    wasm: ['otlp/edgemetrics_wasm_bg.wasm'],
  });
  // edgemetrics/otel loads no entry: it works with the Metrics of whichever entry the app has.
  assert.deepEqual(await bundleApp(`export { EdgeMeterProvider } from 'edgemetrics/otel';`), { js: ['otel.js'], wasm: [] });
});

test("an integration builds its Metrics from its own entry: '<entry>/hono' delivers that entry's format", async () => {
  const { Hono } = await import('hono');
  const rx = await startReceiver();
  const warn = console.warn;
  const warnings = [];
  console.warn = (m) => warnings.push(String(m));
  try {
    for (const [entry, { format, path }] of Object.entries(ENTRIES)) {
      const { metricsMiddleware } = await import(entry === 'edgemetrics' ? 'edgemetrics/hono' : `${entry}/hono`);
      const app = new Hono();
      app.use(metricsMiddleware(opts(rx.url, format)));
      app.get('/x', (c) => c.text('ok'));
      const n = rx.requests.length;
      assert.equal((await app.request('/x')).status, 200);
      assert.equal(rx.requests.length, n + 1, `${entry}/hono pushed nothing: ${warnings.join('\n')}`);
      assert.equal(rx.requests[n].url, path, entry);
    }
    // The default entry's middleware asked for a format its module lacks: metrics off for the
    // isolate, one warning naming the entry to use, the request served.
    const { metricsMiddleware } = await import('edgemetrics/hono');
    const app = new Hono();
    app.use(metricsMiddleware(opts(rx.url, 'remote-write')));
    app.get('/x', (c) => c.text('ok'));
    assert.equal((await app.request('/x')).status, 200);
    assert.ok(
      warnings.some((w) => w.includes("'edgemetrics/remote-write'")),
      warnings.join('\n'),
    );
  } finally {
    console.warn = warn;
    await rx.close();
  }
});

test('the Node entry reads and compiles its wasm in the background from import on; without the file the first Metrics says what is missing', async () => {
  const { copyFileSync, mkdirSync, mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'em-node-entry-'));
  /** Imports `<d>/node.js`, waits `waitMs`, removes the .wasm if there, then creates the first Metrics. */
  const script = (d, waitMs) => `
    const { rmSync } = await import('node:fs');
    const { Metrics } = await import(${JSON.stringify(pathToFileURL(join(dir, d, 'node.js')).href)});
    await new Promise((r) => setTimeout(r, ${waitMs}));
    rmSync(${JSON.stringify(join(dir, d, 'edgemetrics_wasm_bg.wasm'))}, { force: true });
    try {
      const m = new Metrics({ endpoint: 'http://127.0.0.1:9', selfMetrics: false });
      m.counter('c').add(1);
      console.log(JSON.stringify({ ok: m.prepare(0).body.length > 0 }));
    } catch (e) {
      console.log(JSON.stringify({ error: e.message }));
    }`;
  const last = (r) => JSON.parse(r.out.trim().split('\n').pop());
  try {
    for (const d of ['with', 'without']) mkdirSync(join(dir, d));
    copyFileSync(join(pkg, 'dist', 'otlp', 'node.js'), join(dir, 'with', 'node.js'));
    copyFileSync(join(pkg, 'dist', 'otlp', 'edgemetrics_wasm_bg.wasm'), join(dir, 'with', 'edgemetrics_wasm_bg.wasm'));
    copyFileSync(join(pkg, 'dist', 'otlp', 'node.js'), join(dir, 'without', 'node.js'));
    // The file removed a second after the import: the first Metrics uses the module compiled in
    // the background and reads nothing.
    const r = await runBounded(process.execPath, ['--input-type=module', '-e', script('with', 1000)]);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(last(r), { ok: true }, r.out);
    // No file at all (a bundle without its .wasm): the import succeeds, the first Metrics throws
    // the explanation.
    const r2 = await runBounded(process.execPath, ['--input-type=module', '-e', script('without', 50)]);
    assert.equal(r2.code, 0, r2.out);
    assert.match(last(r2).error ?? r2.out, /cannot read edgemetrics_wasm_bg\.wasm next to .*edgemetrics\/inline/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the Node entry starts no timer and opens no connection at import, construction or recording; the first flush does both', async () => {
  // A fresh process counts what the package asks of the platform: every timer through the
  // globals, every fetch, every TCP connect (node:net, under node:http). The flush at the end
  // shows the counting catches the package's own timers and connections.
  const script = `
    const net = process.getBuiltinModule('node:net');
    const calls = { timers: 0, fetch: 0, connect: 0 };
    for (const name of ['setTimeout', 'setInterval', 'setImmediate']) {
      const orig = globalThis[name];
      globalThis[name] = function (...a) { calls.timers++; return orig.apply(this, a); };
    }
    const origFetch = globalThis.fetch;
    globalThis.fetch = (...a) => { calls.fetch++; return origFetch(...a); };
    const origConnect = net.Socket.prototype.connect;
    net.Socket.prototype.connect = function (...a) { calls.connect++; return origConnect.apply(this, a); };
    const { Metrics } = await import(${JSON.stringify(pathToFileURL(join(pkg, 'dist', 'otlp', 'node.js')).href)});
    const atImport = { ...calls };
    const m = new Metrics({ endpoint: 'http://127.0.0.1:9', selfMetrics: false, timeoutMs: 2000 });
    m.counter('c').add(1, { route: '/a' });
    m.histogram('h').bind({ route: '/b' }).record(0.5);
    m.gauge('g').set(3);
    const beforeFlush = { ...calls };
    const r = await m.flush();
    console.log(JSON.stringify({ atImport, beforeFlush, afterFlush: calls, sent: r.sent }));
    process.exit(0);`;
  const r = await runBounded(process.execPath, ['--input-type=module', '-e', script]);
  assert.equal(r.code, 0, r.out);
  const got = JSON.parse(r.out.trim().split('\n').pop());
  const none = { timers: 0, fetch: 0, connect: 0 };
  assert.deepEqual(got.atImport, none, 'import');
  assert.deepEqual(got.beforeFlush, none, 'construction and recording');
  // Port 9 refuses: the flush connects (node:http, never the global fetch) and times its attempts.
  assert.equal(got.sent, false);
  assert.ok(got.afterFlush.connect >= 1, JSON.stringify(got));
  assert.ok(got.afterFlush.timers >= 1, JSON.stringify(got));
  assert.equal(got.afterFlush.fetch, 0, JSON.stringify(got));
});
