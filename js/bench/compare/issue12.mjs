// Issue 12's goals in one table, from figures of the same run.mjs run: the bundles, the cold
// path and the wasm memory (weight.mjs, cold.mjs), the first workerd request (workerd-cold.mjs),
// the record costs of first-seen sets and of the overflow series (../record.mjs, run here), the
// native record path next to opentelemetry_sdk (benches/otel-native, both sides taking turns) and
// the bytes edgemetrics adds to a workers-rs worker (examples/rust-worker/size.sh). "No
// regression" compares this run's record and encode figures with the previous results.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');

/** The previous run's results.json (read before this run overwrites it), or null. */
export function previousResults() {
  const f = join(here, 'results.json');
  try {
    return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : null;
  } catch {
    return null;
  }
}

/**
 * Runs what the goals need beyond the main suite. `native: false` skips the opentelemetry_sdk
 * bench (a crate of its own; its first build takes minutes), `workersRs: false` the workers-rs
 * builds. Each part that fails reports its error instead of a figure.
 */
export function issue12Extras({ quick, native, workersRs }) {
  const out = {};
  const run = (label, fn) => {
    console.log(`issue 12: ${label}`);
    try {
      out[label] = fn();
    } catch (e) {
      out[label] = { error: String(e?.message ?? e).slice(0, 500) };
    }
  };
  run('record', () => {
    const text = execFileSync(process.execPath, [join(here, '..', 'record.mjs'), quick ? '500000' : '2000000']).toString();
    return JSON.parse(text.trim().split('\n').pop());
  });
  if (native) {
    run('interleaved', () => {
      const r = spawnSync('cargo', ['bench', '-j2', '--bench', 'interleaved'], {
        cwd: join(root, 'benches', 'otel-native'),
        encoding: 'utf8',
        env: { ...process.env, ROUNDS: quick ? '10' : '30' },
        timeout: 20 * 60_000,
      });
      if (r.status !== 0) throw new Error(`cargo bench --bench interleaved exited ${r.status}: ${(r.stderr || '').slice(-400)}`);
      const rows = {};
      for (const line of r.stdout.split('\n')) {
        const m = line.match(/^(\w+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$/);
        if (m) rows[m[1]] = { ours_ns: +m[3], theirs_ns: +m[5], ratio: +m[6] };
      }
      return { rows, rounds: quick ? 10 : 30, header: r.stdout.split('\n')[0] };
    });
  }
  if (workersRs) {
    run('workersRs', () => {
      const r = spawnSync('bash', [join(root, 'examples', 'rust-worker', 'size.sh')], { encoding: 'utf8', timeout: 20 * 60_000 });
      if (r.status !== 0) throw new Error(`examples/rust-worker/size.sh exited ${r.status}: ${(r.stderr || '').slice(-400)}`);
      const every = r.stdout.match(/adds (\d+) B gzip -9 .*every format \((\d+) B without/);
      const otlp = r.stdout.match(/adds (\d+) B gzip -9 .*OTLP only \((\d+) B without/);
      if (!every || !otlp) throw new Error(`unexpected size.sh output: ${r.stdout.slice(-400)}`);
      return { every: +every[1], every_no_names: +every[2], otlp: +otlp[1], otlp_no_names: +otlp[2] };
    });
  }
  return out;
}

const readJson = (name) => {
  const f = join(here, name);
  return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : null;
};

/** The goals table (Markdown). `summary` is run.mjs's summary of this run. */
export function issue12Markdown({ summary, previous, extras }) {
  const weight = readJson('weight.json');
  const cold = readJson('cold.json');
  const workerd = readJson('workerd-cold.json');
  const rows = [];
  const n = (x, d = 1) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '—');
  const B = (x) => (typeof x === 'number' ? `${x.toLocaleString('en-US')} B` : '—');
  const row = (goal, ours, peer, target, met, how) => rows.push({ goal, ours, peer, target, met, how });
  const missedBy = (ours, target, unit) =>
    ours > target ? ` (missed by ${unit === 'B' ? B(ours - target) : `${n(ours - target, unit === 'ns' ? 0 : 1)} ${unit}`})` : '';

  // Bundles (tests/size.sh counts the same bytes: the entry's wasm + its workerd.js, gzip -9).
  const otelBundle = summary.contestants.otel?.bundle_gzip_kb * 1024;
  const def = weight?.entries?.otlp?.bundle_gzip9;
  const all = weight?.entries?.['.']?.bundle_gzip9;
  row(
    'worker bundle, default entry (OTLP protobuf), gzip -9',
    B(def) + missedBy(def, 20_000, 'B'),
    `OTel JS ${B(Math.round(otelBundle))}`,
    '≤ 20,000 B',
    def <= 20_000,
    'weight.mjs',
  );
  row('worker bundle, every format (`edgemetrics/all`), gzip -9', B(all) + missedBy(all, 32_000, 'B'), '', '≤ 32,000 B', all <= 32_000, 'weight.mjs');
  // Cold path in fresh Node processes (cold.mjs).
  const cm = cold?.medians ?? {};
  const setup = cm.edgemetrics?.import_setup_ms;
  row(
    'first invocation setup, fresh Node process (import + first `Metrics`), median',
    `${n(setup)} ms${missedBy(setup, 5, 'ms')}`,
    `OTel JS ${n(cm.otel?.import_setup_ms)} ms`,
    '≤ 5 ms',
    setup <= 5,
    `cold.mjs, ${cold?.processes} processes`,
  );
  const ff = cm.edgemetrics?.first_flush_ms;
  row(
    'first flush, fresh Node process, median',
    `${n(ff)} ms`,
    `OTel JS ${n(cm.otel?.first_flush_ms)} ms`,
    '≤ OTel JS',
    ff <= cm.otel?.first_flush_ms,
    `cold.mjs, ${cold?.processes} processes`,
  );
  // workerd first request (workerd-cold.mjs).
  const wf = workerd?.summary?.edgemetrics?.first_request_ms?.median;
  const wo = workerd?.summary?.otel?.first_request_ms?.median;
  row(
    'first request of a fresh worker in local workerd (round trip), median',
    `${n(wf, 2)} ms${wf > wo ? ` (missed by ${n(wf - wo, 2)} ms)` : ''}`,
    `OTel JS ${n(wo, 2)} ms`,
    '≤ OTel JS',
    wf <= wo,
    `workerd-cold.mjs, ${workerd?.rounds} rounds`,
  );
  // wasm memory (weight.mjs).
  const mem = weight?.mem;
  row('wasm memory after one M = 1000 instance recorded and encoded', B(mem?.one), '', '≤ 1,048,576 B', mem?.one <= 1 << 20, 'weight.mjs');
  row('wasm memory after 300 more instances created, used and closed', B(mem?.after), '', '= after one instance', mem?.after === mem?.one, 'weight.mjs');
  // Record costs from JS (record.mjs).
  const rec = extras.record ?? {};
  if (rec.error) row('first-seen set / overflow (record.mjs)', rec.error, '', '', false, 'record.mjs');
  else {
    const fs = rec.first_seen_set_ns_per_call;
    row('first-seen attribute set, per call', `${n(fs, 0)} ns${missedBy(fs, 1000, 'ns')}`, '', '≤ 1,000 ns', fs <= 1000, 'record.mjs');
    const cached = rec.attrs3_ns_per_call;
    const ov = rec.overflow_default_limits_ns_per_call;
    row(
      'value into the overflow series at the default limits, per call',
      `${n(ov, 0)} ns = ${n(ov / cached, 2)}× a cached record (${n(cached, 0)} ns)`,
      '',
      '≤ 2× cached',
      ov <= 2 * cached,
      'record.mjs',
    );
    const ovs = rec.overflow_series_ns_per_call;
    row(
      'value into the overflow series at cardinality 100, per call',
      `${n(ovs, 0)} ns = ${n(ovs / cached, 2)}× cached`,
      '',
      '≤ 2× cached',
      ovs <= 2 * cached,
      'record.mjs',
    );
  }
  // workers-rs (size.sh).
  const wr = extras.workersRs;
  if (!wr) row('workers-rs: bytes added, OTLP only', 'not run (--no-workers-rs)', '', '≤ 25,000 B', null, 'examples/rust-worker/size.sh');
  else if (wr.error) row('workers-rs: bytes added, OTLP only', wr.error, '', '≤ 25,000 B', false, 'examples/rust-worker/size.sh');
  else {
    row(
      'workers-rs: bytes added to a worker, OTLP only, gzip -9',
      `${B(wr.otlp)}${missedBy(wr.otlp, 25_000, 'B')}; ${B(wr.otlp_no_names)} without the name section`,
      '',
      '≤ 25,000 B',
      wr.otlp <= 25_000,
      'examples/rust-worker/size.sh',
    );
  }
  // Native record path next to opentelemetry_sdk (both sides taking turns).
  const il = extras.interleaved;
  if (!il) row('native record path vs opentelemetry_sdk', 'not run (--no-native)', '', '', null, 'benches/otel-native');
  else if (il.error) row('native record path vs opentelemetry_sdk', il.error, '', '', false, 'benches/otel-native');
  else {
    for (const [k, label, target] of [
      ['counter_add_3_attrs', 'native counter add, 3 attributes (unbound)', 0.5],
      ['histogram_record_3_attrs', 'native histogram record, 3 attributes (unbound)', 0.5],
      ['counter_add_bound', 'native counter add, bound', 1],
      ['histogram_record_bound', 'native histogram record, bound', 1],
    ]) {
      const r = il.rows[k];
      if (!r) continue;
      row(
        label,
        `${n(r.ours_ns, 1)} ns = ${n(r.ratio, 2)}× opentelemetry_sdk`,
        `opentelemetry_sdk ${n(r.theirs_ns, 1)} ns`,
        `≤ ${target}×`,
        r.ratio <= target,
        'interleaved (taking turns)',
      );
    }
  }
  // No regression: this run against the previous results.json (another run, another load).
  const now = summary.contestants.edgemetrics;
  const before = previous?.summary?.contestants?.edgemetrics;
  const med = (x) => (x && typeof x === 'object' ? x.median : x);
  if (before) {
    for (const [k, label, d] of [
      ['record_attrs_ns', 'record with attributes, R=10⁶, M=1000 (ns)', 1],
      ['record_bound_ns', 'record through a bound handle, R=10⁶, M=1000 (ns)', 1],
      ['encode_warm_ms', 'encode warm, M=1000 (ms)', 2],
      ['payload_gzip', 'payload gzip, M=1000 (B)', 0],
    ]) {
      const a = med(now[k]);
      const b = med(before[k]);
      // 15 %: what the same build moves between runs on this shared machine (see the ranges above).
      row(
        `no regression: ${label}`,
        `${n(a, d)} (previous run ${n(b, d)}, ${n(a / b, 3)}×)`,
        `OTel JS ${n(med(summary.contestants.otel?.[k]), d)}`,
        '≤ 1.15× the previous run',
        a <= b * 1.15,
        `previous run ${previous.env?.date ?? '?'}, dist ${previous.env?.dist_sha256_16 ?? '?'}`,
      );
    }
  }
  let md = '\n## Issue 12 goals, figures of this run\n\n';
  md +=
    'Each figure is the median of this run (the section named in the last column has its range). "no regression" compares with the previous `results.json` (another run: load differs between runs, hence the 15 % band).\n\n';
  md += '| goal | edgemetrics | peer, same run | target | met | from |\n|---|---|---|---|:---:|---|\n';
  for (const r of rows) md += `| ${r.goal} | ${r.ours} | ${r.peer} | ${r.target} | ${r.met === null ? 'not run' : r.met ? 'yes' : '**no**'} | ${r.how} |\n`;
  if (il?.header) md += `\nNative rows: \`cd benches/otel-native && ROUNDS=${il.rounds} cargo bench --bench interleaved\` (${il.header}).\n`;
  return md;
}
