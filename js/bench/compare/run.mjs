// Comparative benchmark: edgemetrics vs OpenTelemetry JS (sdk-metrics + OTLP proto exporter,
// delta) vs prom-client (Pushgateway text) vs a plain-JS floor, all in the same run.
//
//   cd js/bench/compare && npm ci && node run.mjs
//
// Writes results.json, results.md and results.svg next to this file. Every figure is measured in
// this run; nothing is hard-coded. See README.md for the method.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { loadavg, cpus } from 'node:os';
import { CONTESTANTS, attributeSets, values, post } from './contestants.mjs';
import { issue12Extras, issue12Markdown, previousResults } from './issue12.mjs';

const here = dirname(fileURLToPath(import.meta.url));

async function main() {
  const dist = resolve(here, '../../dist/node.js');
  if (!existsSync(dist)) {
    console.error(`missing ${dist}: build the package first (cd js && node build.mjs)`);
    process.exit(1);
  }
  const QUICK = process.argv.includes('--quick');
  // Fingerprint of the package under test, checked again at the end (a rebuild of js/dist during
  // the run would mix two builds in one result).
  const distPrint = () =>
    createHash('sha256')
      .update(readFileSync(resolve(here, '../../dist/otlp/edgemetrics_wasm_bg.wasm')))
      .update(readFileSync(resolve(here, '../../dist/otlp/node.js')))
      .digest('hex')
      .slice(0, 16);
  const printStart = distPrint();
  const previous = previousResults();
  const started = performance.now();
  const log = (...a) => console.log(`[${((performance.now() - started) / 1000).toFixed(1)}s]`, ...a);
  const names = Object.keys(CONTESTANTS);
  const sets = attributeSets();
  const vals = values();
  const env = {
    node: process.version,
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model,
    loadavg_start: loadavg().map((x) => +x.toFixed(2)),
    date: new Date().toISOString(),
    versions: peerVersions(),
  };
  log('load average at start', env.loadavg_start.join(' '), `(${env.cpus} cpus)`);

  // ---- receiver: 127.0.0.1 only, counts requests and bytes, keeps the last body per path ----
  const rx = { requests: 0, bytes: 0, last: new Map() };
  const server = createServer((req, res) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n <= 64 << 20) chunks.push(c);
    });
    req.on('end', () => {
      if (req.url === '/_warmup') {
        res.writeHead(204);
        res.end();
        return;
      }
      rx.requests += 1;
      rx.bytes += n;
      rx.last.set(req.url.split('?')[0], Buffer.concat(chunks));
      res.writeHead(200, { 'content-length': '0' });
      res.end();
    });
  });
  // No idle timeout: a socket closed by the server while a long record phase runs would make the
  // next request on it fail with ECONNRESET (the clients reuse keep-alive sockets).
  server.keepAliveTimeout = 0;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  log('receiver on', url);

  const results = { env, fresh: [], warm: [], encode: [], bundle: {}, notes: [] };

  // ---- phase 1: fresh process per contestant (import+init, first-invocation encode, heap) ----
  const FRESH_R = 10_000;
  const freshReps = QUICK ? { 10: 1, 1000: 2 } : { 10: 3, 1000: 5 };
  for (const M of [1000, 10]) {
    for (let rep = 0; rep < freshReps[M]; rep++) {
      for (const name of rotate(names, rep)) {
        const before = rx.requests;
        const out = await runChild(name, FRESH_R, M, url);
        if (rx.requests !== before + 1) throw new Error(`${name}: fresh invocation sent ${rx.requests - before} requests, expected 1`);
        results.fresh.push(out);
      }
    }
    log(`fresh processes done for M=${M}`);
  }

  // ---- phase 2: warm invocations in this process, each one creating the SDK objects and sending
  // ONE batch through the SDK's own path (ours: flush(); OTel: collect + exporter.export; prom:
  // registry.metrics() POSTed; floor: JSON POSTed) ----
  const REPS = QUICK ? { 100: 5, 10000: 3, 1000000: 1 } : { 100: 30, 10000: 10, 1000000: 3 };
  const CELL_BUDGET_MS = 25_000; // per (contestant, R, M, mode): stop adding repetitions after this
  const SUITE_BUDGET_MS = 270_000; // past this, every remaining cell gets one repetition only
  let budgetHit = false;
  const Rs = [100, 10_000, 1_000_000];
  const Ms = [10, 1000];
  for (const R of Rs) {
    for (const M of Ms) {
      for (const mode of ['attrs', 'bound']) {
        const active = names.filter((n) => mode === 'attrs' || n !== 'otel');
        // warm-up (JIT) invocations, not counted
        for (const name of active) for (let w = 0; w < 2; w++) await invocation(name, Math.min(R, 10_000), M, mode);
        const spent = Object.fromEntries(active.map((n) => [n, 0])); // this contestant's own time in the cell
        for (let rep = 0; rep < REPS[R]; rep++) {
          for (const name of rotate(active, rep)) {
            if (rep > 0 && spent[name] > CELL_BUDGET_MS) continue;
            if (rep > 0 && performance.now() - started > SUITE_BUDGET_MS) {
              if (!budgetHit) results.notes.push(`suite time budget reached at R=${R} M=${M} ${mode}: remaining cells ran fewer repetitions`);
              budgetHit = true;
              continue;
            }
            const before = { req: rx.requests, bytes: rx.bytes };
            const t = performance.now();
            const r = await invocation(name, R, M, mode);
            spent[name] += performance.now() - t;
            if (rx.requests !== before.req + 1) throw new Error(`${name}: invocation sent ${rx.requests - before.req} requests, expected 1`);
            results.warm.push({ contestant: name, R, M, mode, rep, ...r, bytes: rx.bytes - before.bytes });
          }
        }
      }
      log(`warm R=${R} M=${M} done`);
    }
  }

  // ---- phase 3: warm encode only (collect + encode, no IO), then the body is POSTed ----
  const ENC_R = 10_000;
  const encReps = QUICK ? 3 : 10;
  for (const M of Ms) {
    for (const name of names) for (let w = 0; w < 3; w++) await encodeInvocation(name, ENC_R, M);
    for (let rep = 0; rep < encReps; rep++) {
      for (const name of rotate(names, rep)) {
        const before = rx.requests;
        const r = await encodeInvocation(name, ENC_R, M);
        if (rx.requests !== before + 1) throw new Error(`${name}: encode invocation sent ${rx.requests - before} requests`);
        results.encode.push({ contestant: name, R: ENC_R, M, rep, ...r });
      }
    }
  }
  log('warm encode done');

  // payload sizes: the last body each contestant sent for M=10 and M=1000 at R=10 000
  results.payload = {};
  for (const M of Ms) {
    for (const name of names) {
      const b = results.lastBody?.[name]?.[M];
      if (!b) continue;
      results.payload[`${name}/${M}`] = { raw: b.length, gzip: gzipSync(b).length, gzip9: gzipSync(b, { level: 9 }).length };
    }
  }
  delete results.lastBody;

  // ---- phase 4: worker bundles (esbuild, minified, gzip -9) ----
  results.bundle = await bundles();
  log('bundles done');

  server.close();
  server.closeAllConnections?.();
  env.loadavg_end = loadavg().map((x) => +x.toFixed(2));
  env.dist_sha256_16 = printStart;
  if (distPrint() !== printStart) {
    results.notes.push('js/dist changed during the run (rebuilt by someone else): the figures mix two builds; rerun');
    console.warn('WARNING: js/dist changed during the run');
  }
  env.duration_s = +((performance.now() - started) / 1000).toFixed(1);
  env.receiver = { requests: rx.requests, bytes: rx.bytes };
  env.reps = { fresh: freshReps, warm: REPS, encode: encReps, cell_budget_ms: CELL_BUDGET_MS, suite_budget_ms: SUITE_BUDGET_MS, quick: QUICK };

  const summary = summarise(results);
  results.summary = summary;
  results.native = process.argv.includes('--no-native') ? null : nativeBenches(QUICK);
  writeFileSync(join(here, 'results.json'), JSON.stringify(results, null, 1) + '\n');
  // Issue 12 (weight): bundles per entry, wasm memory, cold path (fresh processes, after the rest).
  const weight = execFileSync(process.execPath, [join(here, 'weight.mjs'), QUICK ? '3' : '7']).toString();
  // Issue 16: requests per 1000 invocations for each flush policy (Node, withMetrics) and for the
  // Tail Worker mode against direct push (local workerd). Counts do not depend on the load; CPU does.
  const policy = execFileSync(process.execPath, [join(here, '..', 'policy.mjs'), '1000']).toString();
  const tail = JSON.parse(
    execFileSync(process.execPath, [join(here, '..', 'tail-workerd.mjs'), '1000'])
      .toString()
      .trim()
      .split('\n')
      .pop(),
  );
  // Issue 12: the first request of a fresh worker in local workerd, side by side (workerd-cold.mjs,
  // a fresh workerd process per sample).
  const workerdRounds = QUICK ? 6 : 12;
  const workerdCold = execFileSync(process.execPath, [join(here, 'workerd-cold.mjs'), String(workerdRounds)]).toString();
  const workerdMd =
    '\n## First request of a fresh worker in local workerd (issue 12)\n\n' +
    `\`node js/bench/compare/workerd-cold.mjs ${workerdRounds}\` (miniflare; the tiny workers of workers/*.js bundled ` +
    'as for the bundle figure; a fresh workerd process per sample, contestants in rotating order; median (min–max) ms). ' +
    'Startup = new Miniflare() to ready (workerd boot, script evaluation, wasm compile); first request = its round ' +
    'trip (SDK setup, one counter and one histogram record, flush handed to waitUntil); first batch = ready to the ' +
    'batch at the receiver.\n\n' +
    workerdCold
      .split('\n')
      .filter((l) => l.startsWith('|'))
      .join('\n') +
    '\n';
  const per1000 = (x) => Math.round((x * 1000) / tail.invocations);
  const requestsMd =
    '\n## Requests per 1000 invocations (flush policies; Tail Worker mode)\n\n' +
    'Flush policies: `node js/bench/policy.mjs 1000` (Node, `withMetrics`, receiver in a child process; ' +
    'producer CPU = this process, user + system).\n\n' +
    policy
      .split('\n')
      .filter((l) => l.startsWith('|'))
      .join('\n') +
    '\n\nTail Worker mode: `node js/bench/tail-workerd.mjs 1000` (local workerd, window ' +
    tail.window +
    ' tail events, OTLP protobuf).\n\n' +
    '| mode | requests per 1000 invocations | body bytes per 1000 |\n| --- | --- | --- |\n' +
    `| tail (producer logs, Tail Worker pushes) | ${per1000(tail.tail.requests)} | ${per1000(tail.tail.bodyBytes)} |\n` +
    `| direct push from the producer | ${per1000(tail.direct.requests)} | ${per1000(tail.direct.bodyBytes)} |\n`;
  // Issue 12: every goal in one table (first-seen and overflow costs, the native peer, workers-rs).
  results.issue12 = issue12Extras({ quick: QUICK, native: !process.argv.includes('--no-native'), workersRs: !process.argv.includes('--no-workers-rs') });
  writeFileSync(join(here, 'results.json'), JSON.stringify(results, null, 1) + '\n');
  const goalsMd = issue12Markdown({ summary, previous, extras: results.issue12 });
  const md = markdown(results, summary) + goalsMd + nativeMarkdown(results.native) + weight + requestsMd + workerdMd;
  writeFileSync(join(here, 'results.md'), md);
  writeFileSync(join(here, 'results.svg'), svg(summary, env));
  console.log(md);
  log('wrote results.md, results.json, results.svg');

  // ---------------------------------------------------------------------------------------------
  async function invocation(name, R, M, mode) {
    const c = CONTESTANTS[name];
    const lib = await libOf(name);
    global.gc();
    const t0 = performance.now();
    const s = c.create(lib, url);
    const t1 = performance.now();
    let handles = null;
    if (mode === 'bound') handles = s.bindAll(M, sets);
    const t2 = performance.now();
    if (mode === 'bound') s.loopBound(R, M, handles, vals);
    else s.loopAttrs(R, M, sets, vals);
    const t3 = performance.now();
    await s.flushOwn();
    const t4 = performance.now();
    await s.close();
    return { init_ms: t1 - t0, bind_ms: t2 - t1, record_ns: ((t3 - t2) * 1e6) / (2 * R), flush_ms: t4 - t3, total_ms: t4 - t0 };
  }

  async function encodeInvocation(name, R, M) {
    const c = CONTESTANTS[name];
    const lib = await libOf(name);
    global.gc();
    const s = c.create(lib, url);
    s.loopAttrs(R, M, sets, vals);
    const t0 = performance.now();
    const req = await s.encode();
    const t1 = performance.now();
    await post(url + req.path, req.method, req.type, req.body);
    const t2 = performance.now();
    await s.close();
    const body = typeof req.body === 'string' ? Buffer.from(req.body) : Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength);
    ((results.lastBody ??= {})[name] ??= {})[M] = Buffer.from(body);
    return { encode_ms: t1 - t0, send_ms: t2 - t1, bytes: body.length };
  }
}

const libs = new Map();
/** Runs the core's criterion benches (record, encode) in this run and reads their medians. */
function nativeBenches(quick) {
  const root = join(here, '..', '..', '..');
  const args = ['bench', '-j2', '--bench', 'record', '--bench', 'encode', '--', '--warm-up-time', '1', '--measurement-time', quick ? '1' : '3'];
  console.log(`native: cargo ${args.join(' ')}`);
  const r = spawnSync('cargo', args, { cwd: root, encoding: 'utf8', timeout: 15 * 60_000 });
  if (r.status !== 0) {
    return { error: `cargo bench failed (exit ${r.status}): ${(r.stderr || '').slice(-2000)}` };
  }
  const crit = join(process.env.CARGO_TARGET_DIR || join(root, 'target'), 'criterion');
  const rows = [];
  for (const [group, names] of [
    ['record', ['counter_add_3_attrs', 'histogram_record_3_attrs', 'counter_add_bound', 'histogram_record_bound']],
    ['collect', ['1000_series_counter_histogram_delta', '1000_series_counter_histogram_cumulative']],
    ['encode_1000_series', ['otlp_protobuf', 'otlp_json', 'compact', 'remote_write_protobuf', 'remote_write_snappy', 'pushgateway_text']],
  ]) {
    for (const name of names) {
      const f = join(crit, group, name, 'new', 'estimates.json');
      if (!existsSync(f)) {
        rows.push({ group, name, error: 'no estimates.json' });
        continue;
      }
      const e = JSON.parse(readFileSync(f, 'utf8'));
      rows.push({
        group,
        name,
        median_ns: e.median.point_estimate,
        lo_ns: e.median.confidence_interval.lower_bound,
        hi_ns: e.median.confidence_interval.upper_bound,
      });
    }
  }
  return { rows, loadavg: loadavg().map((x) => +x.toFixed(2)) };
}

function nativeMarkdown(native) {
  if (!native) return '';
  if (native.error) return `\n## Native core (criterion)\n\n${native.error}\n`;
  const unit = (ns) => (ns >= 1e6 ? `${fmt(ns / 1e6, 3)} ms` : ns >= 1e3 ? `${fmt(ns / 1e3, 3)} µs` : `${fmt(ns, 3)} ns`);
  let md = '\n## Native core (criterion, same run)\n\n';
  md += `\`cargo bench --bench record --bench encode\` run by this suite; median with its 95 % confidence interval; load average after: ${native.loadavg.join(' ')}.\n\n`;
  md += '| group | bench | median | 95 % CI |\n|---|---|---:|---:|\n';
  for (const r of native.rows) {
    md += r.error ? `| ${r.group} | ${r.name} | ${r.error} | |\n` : `| ${r.group} | ${r.name} | ${unit(r.median_ns)} | ${unit(r.lo_ns)} – ${unit(r.hi_ns)} |\n`;
  }
  return md;
}

async function libOf(name) {
  if (!libs.has(name)) libs.set(name, await CONTESTANTS[name].load());
  return libs.get(name);
}

function rotate(arr, k) {
  const n = arr.length;
  return arr.map((_, i) => arr[(i + k) % n]);
}

function peerVersions() {
  const v = {};
  for (const p of [
    '@opentelemetry/sdk-metrics',
    '@opentelemetry/exporter-metrics-otlp-proto',
    '@opentelemetry/api',
    '@opentelemetry/resources',
    '@opentelemetry/otlp-transformer',
    'prom-client',
    'esbuild',
  ]) {
    try {
      v[p] = JSON.parse(readFileSync(join(here, 'node_modules', p, 'package.json'), 'utf8')).version;
    } catch {
      v[p] = null;
    }
  }
  try {
    v.edgemetrics = JSON.parse(readFileSync(join(here, '../../package.json'), 'utf8')).version;
    v.edgemetrics_build = JSON.parse(readFileSync(join(here, '../../dist/BUILD_INFO.json'), 'utf8'));
  } catch {
    // informational only
  }
  return v;
}

/** One fresh Node process (own PID, bounded by a timeout, stopped by PID). */
function runChild(name, R, M, url) {
  return new Promise((resolveP, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', join(here, 'child.mjs'), name, String(R), String(M), url], {
      cwd: here,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop();
      if (code !== 0 || !line) return reject(new Error(`child ${name} (pid ${child.pid}) exited ${code}: ${err.slice(0, 2000)}`));
      try {
        resolveP(JSON.parse(line));
      } catch (e) {
        reject(e);
      }
    });
  });
}

// ---- bundles ----------------------------------------------------------------------------------
async function bundles() {
  const esbuild = await import('esbuild');
  const out = {};
  for (const name of Object.keys(CONTESTANTS)) {
    const entry = join(here, 'workers', `${name}.js`);
    const wasm = [];
    // .wasm imports stay modules of their own (as wrangler uploads them); their size is added.
    const wasmPlugin = {
      name: 'wasm-module',
      setup(b) {
        b.onResolve({ filter: /\.wasm$/ }, (a) => {
          wasm.push(resolve(a.resolveDir, a.path));
          return { path: a.path, external: true };
        });
      },
    };
    const base = { entryPoints: [entry], bundle: true, minify: true, format: 'esm', write: false, logLevel: 'silent', plugins: [wasmPlugin], metafile: true };
    const measure = (r) => {
      const js = Buffer.from(r.outputFiles[0].contents);
      const wasmBytes = [...new Set(wasm)].map((p) => readFileSync(p));
      const wasmRaw = wasmBytes.reduce((s, b) => s + b.length, 0);
      const wasmGz = wasmBytes.reduce((s, b) => s + gzipSync(b, { level: 9 }).length, 0);
      return {
        js_raw: js.length,
        js_gzip9: gzipSync(js, { level: 9 }).length,
        wasm_raw: wasmRaw,
        wasm_gzip9: wasmGz,
        total_gzip9: gzipSync(js, { level: 9 }).length + wasmGz,
        inputs: Object.keys(r.metafile.inputs).length,
      };
    };
    try {
      const r = await esbuild.build({ ...base, platform: 'browser', conditions: ['workerd', 'worker', 'browser'] });
      out[name] = { ok: true, target: 'workers (browser platform, workerd/worker/browser conditions)', ...measure(r) };
    } catch (e) {
      const errs = (e.errors ?? []).map((x) => `${x.text} (${x.location?.file ?? '?'})`);
      const missing = [...new Set((e.errors ?? []).map((x) => /Could not resolve "([^"]+)"/.exec(x.text)?.[1]).filter(Boolean))].sort();
      out[name] = { ok: false, error_count: errs.length, errors: errs.slice(0, 20), missing_modules: missing };
      // Size anyway as a Node-compat build (Workers' nodejs_compat flag), so the cost is visible.
      try {
        wasm.length = 0;
        const r = await esbuild.build({ ...base, platform: 'node', conditions: ['workerd', 'worker'] });
        out[name].nodejs_compat = { target: 'node platform, node built-ins left external (nodejs_compat)', ...measure(r) };
      } catch (e2) {
        out[name].nodejs_compat = { error: String(e2.message ?? e2).slice(0, 500) };
      }
    }
  }
  return out;
}

// ---- statistics -------------------------------------------------------------------------------
function stats(xs) {
  const a = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((p, q) => p - q);
  if (!a.length) return null;
  const mid = a.length >> 1;
  const median = a.length % 2 ? a[mid] : (a[mid - 1] + a[mid]) / 2;
  return { median, min: a[0], max: a[a.length - 1], n: a.length };
}

function summarise(res) {
  const names = Object.keys(CONTESTANTS);
  const s = { contestants: {}, grid: [] };
  for (const name of names) {
    const f = (M, k) => stats(res.fresh.filter((x) => x.contestant === name && x.M === M).map((x) => x[k]));
    const w = (R, M, mode, k) => stats(res.warm.filter((x) => x.contestant === name && x.R === R && x.M === M && x.mode === mode).map((x) => x[k]));
    const e = (M, k) => stats(res.encode.filter((x) => x.contestant === name && x.M === M).map((x) => x[k]));
    const b = res.bundle[name];
    const importInit = res.fresh.filter((x) => x.contestant === name).map((x) => x.import_ms + x.init_ms);
    s.contestants[name] = {
      record_attrs_ns: w(1_000_000, 1000, 'attrs', 'record_ns'),
      record_attrs_ns_m10: w(1_000_000, 10, 'attrs', 'record_ns'),
      record_bound_ns: w(1_000_000, 1000, 'bound', 'record_ns'),
      record_bound_ns_m10: w(1_000_000, 10, 'bound', 'record_ns'),
      encode_warm_ms: e(1000, 'encode_ms'),
      encode_warm_ms_m10: e(10, 'encode_ms'),
      encode_first_ms: f(1000, 'encode_first_ms'),
      encode_first_ms_m10: f(10, 'encode_first_ms'),
      flush_warm_ms: w(10_000, 1000, 'attrs', 'flush_ms'),
      payload_raw: res.payload[`${name}/1000`]?.raw ?? null,
      payload_gzip: res.payload[`${name}/1000`]?.gzip ?? null,
      payload_raw_m10: res.payload[`${name}/10`]?.raw ?? null,
      payload_gzip_m10: res.payload[`${name}/10`]?.gzip ?? null,
      heap_held_kb: stats(res.fresh.filter((x) => x.contestant === name && x.M === 1000).map((x) => x.heap_held_bytes / 1024)),
      heap_ext_held_kb: stats(res.fresh.filter((x) => x.contestant === name && x.M === 1000).map((x) => x.heap_external_held_bytes / 1024)),
      array_buffers_held_kb: stats(res.fresh.filter((x) => x.contestant === name && x.M === 1000).map((x) => x.array_buffers_held_bytes / 1024)),
      heap_ext_held_kb_m10: stats(res.fresh.filter((x) => x.contestant === name && x.M === 10).map((x) => x.heap_external_held_bytes / 1024)),
      import_ms: stats(res.fresh.filter((x) => x.contestant === name).map((x) => x.import_ms)),
      init_ms: stats(res.fresh.filter((x) => x.contestant === name).map((x) => x.init_ms)),
      import_init_ms: stats(importInit),
      bundle_gzip_kb: b?.ok ? b.total_gzip9 / 1024 : null,
      bundle_nodecompat_gzip_kb: !b?.ok && b?.nodejs_compat?.total_gzip9 ? b.nodejs_compat.total_gzip9 / 1024 : null,
    };
  }
  for (const R of [100, 10_000, 1_000_000]) {
    for (const M of [10, 1000]) {
      for (const name of names) {
        const q = (mode, k) => stats(res.warm.filter((x) => x.contestant === name && x.R === R && x.M === M && x.mode === mode).map((x) => x[k]));
        s.grid.push({
          contestant: name,
          R,
          M,
          record_attrs_ns: q('attrs', 'record_ns'),
          record_bound_ns: q('bound', 'record_ns'),
          flush_ms: q('attrs', 'flush_ms'),
          total_ms: q('attrs', 'total_ms'),
          total_bound_ms: q('bound', 'total_ms'),
          bytes: q('attrs', 'bytes'),
        });
      }
    }
  }
  // goals: ratios in this run
  const c = s.contestants;
  const med = (x) => (x && typeof x === 'object' ? x.median : x);
  const ours = c.edgemetrics;
  const g = [];
  const goal = (id, text, value, target, met, unit = '') => g.push({ id, text, value, target, met, unit });
  const rOtelAttrs = med(c.otel.record_attrs_ns) / med(ours.record_attrs_ns);
  goal('record_vs_otel', 'record with attributes ≥ 5× faster than OTel JS (R=10⁶, M=1000)', rOtelAttrs, 5, rOtelAttrs >= 5, '×');
  const rOtelAttrs10 = med(c.otel.record_attrs_ns_m10) / med(ours.record_attrs_ns_m10);
  goal('record_vs_otel_m10', 'record with attributes ≥ 5× faster than OTel JS (R=10⁶, M=10)', rOtelAttrs10, 5, rOtelAttrs10 >= 5, '×');
  const rFloor = med(ours.record_attrs_ns) / med(c.floor.record_attrs_ns);
  goal('record_vs_floor', 'record with attributes ≤ 1.2× the floor (R=10⁶, M=1000)', rFloor, 1.2, rFloor <= 1.2, '×');
  const rFloor10 = med(ours.record_attrs_ns_m10) / med(c.floor.record_attrs_ns_m10);
  goal('record_vs_floor_m10', 'record with attributes ≤ 1.2× the floor (R=10⁶, M=10)', rFloor10, 1.2, rFloor10 <= 1.2, '×');
  goal('bound', 'bound handle ≤ 15 ns per call (R=10⁶, M=1000)', med(ours.record_bound_ns), 15, med(ours.record_bound_ns) <= 15, 'ns');
  goal('bound_m10', 'bound handle ≤ 15 ns per call (R=10⁶, M=10)', med(ours.record_bound_ns_m10), 15, med(ours.record_bound_ns_m10) <= 15, 'ns');
  const rEncW = med(c.otel.encode_warm_ms) / med(ours.encode_warm_ms);
  goal('encode_warm', 'encode M=1000 ≥ 8× faster than OTel, warm', rEncW, 8, rEncW >= 8, '×');
  const rEncF = med(c.otel.encode_first_ms) / med(ours.encode_first_ms);
  goal('encode_first', 'encode M=1000 ≥ 30× faster than OTel, first invocation', rEncF, 30, rEncF >= 30, '×');
  const rHeap = med(ours.heap_ext_held_kb) / med(c.otel.heap_ext_held_kb);
  goal('heap', 'heap held ≤ 1/4 of OTel (JS heap + external incl. wasm memory, M=1000)', rHeap, 0.25, rHeap <= 0.25, '×');
  const rHeapJs = med(ours.heap_held_kb) / med(c.otel.heap_held_kb);
  goal('heap_js', 'heap held ≤ 1/4 of OTel (JS heap only, M=1000)', rHeapJs, 0.25, rHeapJs <= 0.25, '×');
  goal('import_init', 'import + init ≤ 5 ms (fresh process)', med(ours.import_init_ms), 5, med(ours.import_init_ms) <= 5, 'ms');
  goal('bundle', 'worker bundle ≤ 20 KB gzip (JS + wasm)', ours.bundle_gzip_kb, 20, ours.bundle_gzip_kb !== null && ours.bundle_gzip_kb <= 20, 'KB');
  s.goals = g;
  return s;
}

// ---- Markdown ---------------------------------------------------------------------------------
function fmt(x, digits) {
  if (x === null || x === undefined || Number.isNaN(x)) return 'n/a';
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : Math.abs(x) >= 1 ? 2 : 3);
  return x.toFixed(d);
}
function cell(v) {
  if (v === null || v === undefined) return 'n/a';
  if (typeof v === 'number') return fmt(v);
  return v.n > 1 ? `${fmt(v.median)} (${fmt(v.min)}–${fmt(v.max)})` : fmt(v.median);
}
const medianOf = (v) => (v === null || v === undefined ? null : typeof v === 'number' ? v : v.median);

const COLUMNS = [
  ['record_attrs_ns', 'record, attrs (ns/call)'],
  ['record_bound_ns', 'record, bound (ns/call)'],
  ['encode_warm_ms', 'encode warm (ms)'],
  ['encode_first_ms', 'encode 1st invocation (ms)'],
  ['flush_warm_ms', 'flush warm, own path (ms)'],
  ['payload_raw', 'payload raw (B)'],
  ['payload_gzip', 'payload gzip (B)'],
  ['heap_held_kb', 'heap held, JS (KB)'],
  ['heap_ext_held_kb', 'heap held, JS+external (KB)'],
  ['import_init_ms', 'import + init (ms)'],
  ['bundle_gzip_kb', 'worker bundle gzip -9 (KB)'],
];

function markdown(res, s) {
  const names = Object.keys(CONTESTANTS);
  const e = res.env;
  const L = [];
  L.push('# edgemetrics vs peers — comparative benchmark (one run)');
  L.push('');
  L.push(
    `Run ${e.date}, Node ${e.node}, ${e.cpus} CPUs (${e.cpu_model}), load average at start ${e.loadavg_start.join(' ')}, at end ${e.loadavg_end.join(' ')}; the run took ${e.duration_s} s.`,
  );
  L.push(`Package under test: js/dist fingerprint ${e.dist_sha256_16} (sha-256 of the default entry's wasm + node.js, first 16 hex digits).`);
  L.push(
    `Versions: ${Object.entries(e.versions)
      .filter(([k]) => k !== 'edgemetrics_build')
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
  );
  L.push(
    'Regenerate: `cd js/bench/compare && npm ci && node run.mjs`. Figures are medians with (min–max) over the repetitions; the machine is shared, so they are noisy.',
  );
  L.push('');
  L.push(
    'Workload: one invocation creates the SDK objects, records R × (counter add + histogram record) over M attribute sets (route × status × region; 15 OTel default bounds), then encodes and sends ONE batch to a receiver on 127.0.0.1. ',
  );
  L.push(
    `Repetitions: fresh processes ${e.reps.fresh[1000]} per contestant for M=1000 (${e.reps.fresh[10]} for M=10); warm invocations ${e.reps.warm[100]} for R=100, ${e.reps.warm[10000]} for R=10⁴, **only ${e.reps.warm[1000000]} for R=10⁶** (time bound), after 2 warm-up invocations per cell; warm encode ${e.reps.encode}.`,
  );
  L.push('');
  L.push('## Headline (M = 1000)');
  L.push('');
  L.push(
    "record: R = 10⁶ (ns per call = phase time / 2R); encode / first encode / heap / payload: R = 10⁴; encode = collect + serialise, no IO; flush = the SDK's own collect + encode + send + response; bound: ours `bind()`, prom-client `labels()` child, OTel has none.",
  );
  L.push('');
  L.push('| contestant | ' + COLUMNS.map((c) => c[1]).join(' | ') + ' |');
  L.push('|---|' + COLUMNS.map(() => '---:').join('|') + '|');
  for (const n of names) {
    const c = s.contestants[n];
    const row = COLUMNS.map(([k]) => {
      if (k === 'bundle_gzip_kb' && c[k] === null)
        return c.bundle_nodecompat_gzip_kb ? `fails for workers (${fmt(c.bundle_nodecompat_gzip_kb)} with nodejs_compat)` : 'fails';
      return cell(c[k]);
    });
    L.push(`| ${n} | ${row.join(' | ')} |`);
  }
  L.push('');
  for (const ref of ['otel', 'floor']) {
    L.push(`### Ratio of each column to ${ref} (median / median; < 1 = smaller/faster than ${ref})`);
    L.push('');
    L.push('| contestant | ' + COLUMNS.map((c) => c[1]).join(' | ') + ' |');
    L.push('|---|' + COLUMNS.map(() => '---:').join('|') + '|');
    for (const n of names) {
      const c = s.contestants[n];
      const r = s.contestants[ref];
      L.push(
        `| ${n} | ${COLUMNS.map(([k]) => {
          const a = medianOf(c[k]);
          const b = medianOf(r[k]);
          return a === null || b === null || b === 0 ? 'n/a' : fmt(a / b, 3);
        }).join(' | ')} |`,
      );
    }
    L.push('');
  }
  L.push('## Goals (ratios in this run)');
  L.push('');
  L.push('| goal | measured | target | met |');
  L.push('|---|---:|---:|:---:|');
  for (const g of s.goals)
    L.push(
      `| ${g.text} | ${fmt(g.value)} ${g.unit} | ${g.id.startsWith('heap') ? '≤ ' : g.id.startsWith('record_vs_otel') || g.id.startsWith('encode') ? '≥ ' : '≤ '}${g.target} ${g.unit} | ${g.met ? 'yes' : '**no**'} |`,
    );
  L.push('');
  if (res.notes.length) {
    L.push('Notes: ' + res.notes.join('; '));
    L.push('');
  }
  L.push('## All cells (warm, in-process)');
  L.push('');
  L.push(
    '| R | M | contestant | record attrs (ns/call) | record bound (ns/call) | flush own path (ms) | invocation total, attrs (ms) | invocation total, bound (ms) | bytes sent |',
  );
  L.push('|---:|---:|---|---:|---:|---:|---:|---:|---:|');
  for (const g of s.grid)
    L.push(
      `| ${g.R} | ${g.M} | ${g.contestant} | ${cell(g.record_attrs_ns)} | ${cell(g.record_bound_ns)} | ${cell(g.flush_ms)} | ${cell(g.total_ms)} | ${cell(g.total_bound_ms)} | ${cell(g.bytes)} |`,
    );
  L.push('');
  L.push('## M = 10 (R = 10⁴ unless noted)');
  L.push('');
  L.push(
    '| contestant | record attrs, R=10⁶ (ns) | record bound, R=10⁶ (ns) | encode warm (ms) | encode 1st (ms) | payload raw (B) | payload gzip (B) | heap held JS+ext (KB) |',
  );
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const n of names) {
    const c = s.contestants[n];
    L.push(
      `| ${n} | ${cell(c.record_attrs_ns_m10)} | ${cell(c.record_bound_ns_m10)} | ${cell(c.encode_warm_ms_m10)} | ${cell(c.encode_first_ms_m10)} | ${cell(c.payload_raw_m10)} | ${cell(c.payload_gzip_m10)} | ${cell(c.heap_ext_held_kb_m10)} |`,
    );
  }
  L.push('');
  L.push('## Fresh process details (R = 10⁴)');
  L.push('');
  L.push('| contestant | import (ms) | init (ms) | import + init (ms) | ArrayBuffers held after the invocation, M=1000 (KB; wasm memory is one) |');
  L.push('|---|---:|---:|---:|---:|');
  for (const n of names) {
    const c = s.contestants[n];
    L.push(`| ${n} | ${cell(c.import_ms)} | ${cell(c.init_ms)} | ${cell(c.import_init_ms)} | ${cell(c.array_buffers_held_kb)} |`);
  }
  L.push('');
  L.push('## Worker bundles (esbuild, minified ESM, gzip -9; wasm counted separately and added)');
  L.push('');
  L.push('| contestant | bundles for workers | JS raw (B) | JS gzip (B) | wasm raw (B) | wasm gzip (B) | total gzip (B) | inputs | note |');
  L.push('|---|:---:|---:|---:|---:|---:|---:|---:|---|');
  for (const n of names) {
    const b = res.bundle[n];
    if (b.ok) L.push(`| ${n} | yes | ${b.js_raw} | ${b.js_gzip9} | ${b.wasm_raw} | ${b.wasm_gzip9} | ${b.total_gzip9} | ${b.inputs} | |`);
    else {
      const nc = b.nodejs_compat ?? {};
      L.push(
        `| ${n} | **no** | ${nc.js_raw ?? 'n/a'} | ${nc.js_gzip9 ?? 'n/a'} | ${nc.wasm_raw ?? 'n/a'} | ${nc.wasm_gzip9 ?? 'n/a'} | ${nc.total_gzip9 ?? 'n/a'} | ${nc.inputs ?? 'n/a'} | ${b.error_count} unresolved imports of Node built-ins (${b.missing_modules.join(', ')}); sizes are a node-platform build with those left external (needs nodejs_compat) |`,
      );
    }
  }
  L.push('');
  return L.join('\n');
}

// ---- SVG chart (hand-written): one panel per figure, grouped bars, log scale -------------------
function svg(s, env) {
  const names = Object.keys(CONTESTANTS);
  const colors = { edgemetrics: '#1f77b4', otel: '#ff7f0e', 'prom-client': '#2ca02c', floor: '#7f7f7f' };
  const c = s.contestants;
  const panels = [
    {
      title: 'record (ns per call, R=10⁶, M=1000)',
      groups: [
        ['attrs', 'record_attrs_ns'],
        ['bound', 'record_bound_ns'],
      ],
    },
    {
      title: 'encode M=1000 (ms)',
      groups: [
        ['warm', 'encode_warm_ms'],
        ['1st invocation', 'encode_first_ms'],
      ],
    },
    {
      title: 'payload M=1000 (bytes)',
      groups: [
        ['raw', 'payload_raw'],
        ['gzip', 'payload_gzip'],
      ],
    },
    {
      title: 'heap held after invocation, M=1000 (KB)',
      groups: [
        ['JS heap', 'heap_held_kb'],
        ['JS + external', 'heap_ext_held_kb'],
      ],
    },
    {
      title: 'import + init (fresh process) / flush warm (ms)',
      groups: [
        ['import+init', 'import_init_ms'],
        ['flush warm M=1000', 'flush_warm_ms'],
      ],
    },
    {
      title: 'worker bundle, gzip -9 (KB)',
      groups: [
        ['workers', 'bundle_gzip_kb'],
        ['nodejs_compat only', 'bundle_nodecompat_gzip_kb'],
      ],
    },
  ];
  const PW = 420;
  const PH = 260;
  const cols = 3;
  const W = PW * cols + 20;
  const H = Math.ceil(panels.length / cols) * PH + 90;
  const esc = (t) => String(t).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const o = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  o.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  o.push(`<text x="10" y="20" font-size="15" font-weight="bold">edgemetrics vs peers — medians, min–max whiskers, log scale (lower is better)</text>`);
  o.push(
    `<text x="10" y="38" fill="#444">${esc(`Node ${env.node}, ${env.cpus} CPUs, load ${env.loadavg_start.join(' ')} → ${env.loadavg_end.join(' ')}, ${env.date}`)}</text>`,
  );
  names.forEach((n, i) => {
    o.push(`<rect x="${10 + i * 130}" y="48" width="12" height="12" fill="${colors[n]}"/><text x="${26 + i * 130}" y="58">${esc(n)}</text>`);
  });
  panels.forEach((p, pi) => {
    const ox = 10 + (pi % cols) * PW;
    const oy = 70 + Math.floor(pi / cols) * PH;
    const x0 = ox + 50;
    const y0 = oy + 30;
    const w = PW - 70;
    const h = PH - 80;
    const vals = [];
    for (const [, k] of p.groups)
      for (const n of names) {
        const v = c[n][k];
        if (v === null || v === undefined) continue;
        if (typeof v === 'number') vals.push(v);
        else vals.push(v.min, v.max);
      }
    const pos = vals.filter((v) => v > 0);
    let lo = Math.floor(Math.log10(Math.min(...pos, 1)));
    let hi = Math.ceil(Math.log10(Math.max(...pos, 10)));
    if (hi <= lo) hi = lo + 1;
    const y = (v) => y0 + h - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * h;
    o.push(`<text x="${ox + 5}" y="${oy + 15}" font-size="12" font-weight="bold">${esc(p.title)}</text>`);
    for (let d = lo; d <= hi; d++) {
      const yy = y(10 ** d);
      o.push(`<line x1="${x0}" x2="${x0 + w}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
      o.push(`<text x="${x0 - 4}" y="${yy + 4}" text-anchor="end" fill="#555">${d >= 0 ? (10 ** d).toLocaleString('en') : (10 ** d).toFixed(-d)}</text>`);
    }
    o.push(
      `<line x1="${x0}" x2="${x0}" y1="${y0}" y2="${y0 + h}" stroke="#333"/><line x1="${x0}" x2="${x0 + w}" y1="${y0 + h}" y2="${y0 + h}" stroke="#333"/>`,
    );
    const gw = w / p.groups.length;
    const bw = (gw - 20) / names.length;
    p.groups.forEach(([label, k], gi) => {
      const gx = x0 + gi * gw + 10;
      o.push(`<text x="${gx + (gw - 20) / 2}" y="${y0 + h + 16}" text-anchor="middle">${esc(label)}</text>`);
      names.forEach((n, ni) => {
        const v = c[n][k];
        const bx = gx + ni * bw;
        const m = medianOf(v);
        if (m === null || !(m > 0)) {
          o.push(`<text x="${bx + bw / 2}" y="${y0 + h - 4}" text-anchor="middle" font-size="9" fill="#999">n/a</text>`);
          return;
        }
        const top = y(m);
        o.push(
          `<rect x="${bx + 1}" y="${top}" width="${bw - 2}" height="${Math.max(0, y0 + h - top)}" fill="${colors[n]}"><title>${esc(`${n} ${label}: ${fmt(m)}`)}</title></rect>`,
        );
        if (typeof v === 'object' && v.n > 1) {
          const cx = bx + bw / 2;
          o.push(`<line x1="${cx}" x2="${cx}" y1="${y(v.max)}" y2="${y(v.min)}" stroke="black"/>`);
        }
        o.push(`<text x="${bx + bw / 2}" y="${top - 3}" text-anchor="middle" font-size="8">${esc(fmt(m))}</text>`);
      });
    });
  });
  o.push('</svg>');
  return o.join('\n') + '\n';
}

// Re-run under --expose-gc (needed for the heap figures and to take GC out of the timed loops).
if (typeof global.gc !== 'function') {
  const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  const stop = () => child.kill('SIGTERM');
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  child.on('exit', (code, sig) => process.exit(code ?? (sig ? 1 : 0)));
} else {
  await main();
}
