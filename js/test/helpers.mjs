// Test helpers: a receiver on 127.0.0.1, OTLP decoding (JSON.parse for OTLP/JSON; the protobufjs
// code that OpenTelemetry JS generated from the official .proto files for OTLP/protobuf), and the
// expected content of one invocation of the shared scenario (fixtures/scenario.mjs).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const require = createRequire(import.meta.url);
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');
const ExportMetricsServiceRequest = root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;

/**
 * Starts an HTTP receiver on 127.0.0.1 (random port). `respond(req, body)` may return
 * `{ status, body, delayMs }`; default 200 `{}`. Every request is kept in `requests`.
 */
export async function startReceiver(respond = () => ({})) {
  const requests = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const r = { method: req.method, url: req.url, headers: req.headers, body };
      requests.push(r);
      const out = respond(r) ?? {};
      const send = () => {
        res.writeHead(out.status ?? 200, { 'content-type': 'application/json' });
        res.end(out.body ?? '{}');
      };
      if (out.never) return; // never answers (timeout tests)
      if (out.delayMs) setTimeout(send, out.delayMs);
      else send();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Each flush promise settles within `timeoutMs` of its call, allowing it only the lateness that a
 * plain `setTimeout(timeoutMs)` started at the same moment showed (a loaded machine fires every
 * timer late: a fixed slack made this a timed test). `settled` and `control` are `{ i, ms }` per
 * invocation `i`; 50 ms covers the work between the two timers being set and clock granularity.
 */
export function assertWithinControl(settled, control, timeoutMs, slackMs = 50) {
  const controlMs = new Map(control.map((c) => [c.i, c.ms]));
  assert.equal(controlMs.size, settled.length, 'one control timer per flush');
  for (const s of settled) {
    const late = Math.max(0, controlMs.get(s.i) - timeoutMs);
    assert.ok(
      s.ms <= timeoutMs + late + slackMs,
      `flush ${s.i} settled after ${s.ms} ms; a setTimeout(${timeoutMs}) started with it fired after ${controlMs.get(s.i)} ms`,
    );
  }
}

/**
 * A plain `setTimeout(ms)` started now, as a control for a timed call started at the same moment:
 * `await late()` is how many ms later than asked it fired (0 or more); `cancel()` stops it when
 * the call ended well within its bound (nothing to excuse). A loaded machine fires every timer
 * late; a bound on the call's duration may allow it that lateness.
 */
export function controlTimer(ms) {
  const t0 = Date.now();
  let timer;
  const fired = new Promise((resolve) => (timer = setTimeout(() => resolve(Math.max(0, Date.now() - t0 - ms)), ms)));
  return { late: () => fired, cancel: () => clearTimeout(timer) };
}

/** Waits (bounded) until `cond()` is true. */
export async function waitFor(cond, { timeoutMs = 10_000, stepMs = 20 } = {}) {
  const end = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < end && i < timeoutMs / stepMs + 1; i++) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return cond();
}

function anyValue(v) {
  if (v.stringValue !== undefined && v.stringValue !== null) return v.stringValue;
  if (v.intValue !== undefined && v.intValue !== null) return Number(v.intValue);
  if (v.doubleValue !== undefined && v.doubleValue !== null) return v.doubleValue;
  if (v.boolValue !== undefined && v.boolValue !== null) return v.boolValue;
  return undefined;
}
function attrs(list) {
  const o = {};
  for (const kv of list ?? []) o[kv.key] = anyValue(kv.value);
  return o;
}

/** Decodes an OTLP request body (JSON or protobuf by content type) into a plain summary. */
export function decodeOtlp(req) {
  const ct = req.headers['content-type'];
  let msg;
  if (ct === 'application/json') msg = JSON.parse(req.body.toString('utf8'));
  else if (ct === 'application/x-protobuf') {
    msg = ExportMetricsServiceRequest.toObject(ExportMetricsServiceRequest.decode(req.body), { longs: String, enums: Number, arrays: true });
  } else throw new Error(`unexpected content type ${ct}`);
  assert.equal(msg.resourceMetrics.length, 1);
  const rm = msg.resourceMetrics[0];
  const out = { resource: attrs(rm.resource.attributes), scope: rm.scopeMetrics[0].scope, scopes: [], metrics: {} };
  for (const sm of rm.scopeMetrics) {
    // Every ScopeMetrics in order: its scope and the names of its metrics.
    const scope = { name: sm.scope?.name ?? '', version: sm.scope?.version ?? '' };
    out.scopes.push({ ...scope, metrics: (sm.metrics ?? []).map((m) => m.name) });
    for (const m of sm.metrics ?? []) {
      const e = { unit: m.unit ?? '', description: m.description ?? '', scope, points: [] };
      const num = (p) => ({ attrs: attrs(p.attributes), value: p.asDouble ?? Number(p.asInt), start: p.startTimeUnixNano, time: p.timeUnixNano });
      if (m.sum) {
        e.kind = m.sum.isMonotonic ? 'counter' : 'upDownCounter';
        e.temporality = m.sum.aggregationTemporality;
        e.points = m.sum.dataPoints.map(num);
      } else if (m.gauge) {
        e.kind = 'gauge';
        e.points = m.gauge.dataPoints.map(num);
      } else if (m.histogram) {
        e.kind = 'histogram';
        e.temporality = m.histogram.aggregationTemporality;
        e.points = m.histogram.dataPoints.map((p) => ({
          attrs: attrs(p.attributes),
          count: Number(p.count),
          sum: p.sum,
          min: p.min,
          max: p.max,
          bounds: p.explicitBounds,
          buckets: p.bucketCounts.map(Number),
        }));
      }
      out.metrics[m.name] = e;
    }
  }
  return out;
}

const byAttrs = (points) => Object.fromEntries(points.map((p) => [JSON.stringify(Object.entries(p.attrs).sort()), p]));

/** Asserts that `req` holds exactly one invocation `i` of fixtures/scenario.mjs (delta). */
export function assertScenario(req, i, { serviceName = 'scenario' } = {}) {
  assert.equal(req.method, 'POST');
  assert.equal(req.url, '/v1/metrics');
  const d = decodeOtlp(req);
  assert.equal(d.resource['service.name'], serviceName);
  assert.equal(d.resource['deployment.environment'], 'test');
  assert.equal(d.scope.name, 'edgemetrics');
  const reqs = d.metrics['http.server.requests'];
  assert.equal(reqs.kind, 'counter');
  assert.equal(reqs.unit, '{request}');
  assert.equal(reqs.temporality, 1, 'delta');
  const rp = byAttrs(reqs.points);
  assert.equal(Object.keys(rp).length, 3);
  assert.equal(
    rp[
      JSON.stringify([
        ['route', '/a'],
        ['status', 200],
      ])
    ].value,
    3,
  );
  assert.equal(
    rp[
      JSON.stringify([
        ['route', '/b'],
        ['status', 500],
      ])
    ].value,
    2,
  );
  assert.equal(
    rp[
      JSON.stringify([
        ['cold', i === 1],
        ['route', '/ü "x"\n'],
      ])
    ].value,
    1.5,
  );
  const lat = d.metrics['http.server.duration'];
  assert.equal(lat.kind, 'histogram');
  assert.equal(lat.points.length, 1);
  const h = lat.points[0];
  assert.deepEqual(h.attrs, { route: '/a' });
  assert.deepEqual(h.bounds, [10, 100]);
  assert.deepEqual(h.buckets, [1, 1, 1]);
  assert.equal(h.count, 3);
  assert.equal(h.sum, 555);
  assert.equal(h.min, 5);
  assert.equal(h.max, 500);
  const g = d.metrics['inflight'];
  assert.equal(g.kind, 'gauge');
  assert.deepEqual(
    g.points.map((p) => p.value),
    [i],
  );
  const q = d.metrics['queue.depth'];
  assert.equal(q.kind, 'upDownCounter');
  assert.deepEqual(
    q.points.map((p) => p.value),
    [-2.5],
  );
  const rej = byAttrs(d.metrics['edgemetrics.sdk.values.rejected'].points);
  assert.equal(rej[JSON.stringify([['reason', 'non_finite']])].value, 1);
  assert.equal(rej[JSON.stringify([['reason', 'negative']])].value, 1);
  // Start and end times are real clock times of this invocation (nanoseconds as decimal strings).
  const t = BigInt(reqs.points[0].time);
  const now = BigInt(Date.now()) * 1_000_000n;
  assert.ok(t <= now && now - t < 120_000_000_000n, `point time ${t} is not recent (now ${now})`);
  assert.ok(BigInt(reqs.points[0].start) <= t);
}

/**
 * Miniflare options for a worker in test/fixtures that imports the package's `dist` as it is (no
 * bundler): its modules as ES modules and its `.wasm` as a compiled module.
 */
export function fixtureWorker(fixture, bindings = {}) {
  const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
  return {
    rootPath: pkg,
    modulesRoot: pkg,
    scriptPath: join(pkg, 'test', 'fixtures', fixture),
    modules: true,
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2025-01-01',
    bindings,
  };
}

/** Miniflare options for a worker bundled into `dir` (`outfile` its entry): ES modules and the
 * `.wasm` as a compiled module, as wrangler uploads them. */
export function bundledWorker(dir, outfile) {
  return {
    rootPath: dir,
    modulesRoot: dir,
    scriptPath: outfile,
    modules: true,
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2025-01-01',
  };
}

/**
 * Starts wrangler (`node_modules/.bin/wrangler`) in its own process group, with `args(port)` (the
 * port picked here; the inspector gets port + 1) in `cwd`, and stops the whole group (workerd
 * children included) when the test ends. Returns the port and a reader of everything it printed.
 */
export function startWrangler(t, cwd, args) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.bin', 'wrangler'), args(port), {
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise((r) => child.on('exit', r));
  t.after(async () => {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  });
  return { port, log: () => log };
}
