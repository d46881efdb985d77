// format 'emf' in a Lambda-style Node process: why a test file of its own is that the promise is
// about the process, not a request — `wrapLambda(handler, { format: 'emf' })` must make no network
// use at all (fixtures/emf-lambda.mjs counts fetch, socket connects, DNS lookups and http(s)
// requests, and makes fetch throw), and every stdout line must be an EMF document CloudWatch
// accepts. The checks below are the EMF specification's rules (root `_aws` with an integer
// `Timestamp` and `CloudWatchMetrics`; each directive's Namespace 1-255 characters, dimension sets
// of at most 30 names each referencing a string member, at most 100 metric definitions whose Name
// references a number, an array of at most 100 numbers, or a Values/Counts object; Unit one of
// CloudWatch's units; no extra members; one event ≤ 256 KiB), then the totals are summed back.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const UNITS = new Set(
  'Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second Terabits/Second Count/Second None'.split(
    ' ',
  ),
);
const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

/** The EMF specification's rules for one log event; returns [{ name, dims, value }]. */
export function validateEmf(line) {
  assert.ok(Buffer.byteLength(line) <= 256 * 1024 - 26, 'event size');
  const root = JSON.parse(line);
  assert.equal(typeof root, 'object');
  const aws = root._aws;
  assert.deepEqual(Object.keys(aws).sort(), ['CloudWatchMetrics', 'Timestamp']);
  assert.ok(Number.isInteger(aws.Timestamp) && aws.Timestamp > 1.6e12, 'Timestamp in ms');
  assert.ok(Array.isArray(aws.CloudWatchMetrics) && aws.CloudWatchMetrics.length > 0);
  const out = [];
  for (const d of aws.CloudWatchMetrics) {
    for (const k of Object.keys(d)) assert.ok(['Namespace', 'Dimensions', 'Metrics'].includes(k), k);
    assert.ok(typeof d.Namespace === 'string' && d.Namespace.length >= 1 && d.Namespace.length <= 255);
    const dims = {};
    for (const set of d.Dimensions) {
      assert.ok(Array.isArray(set) && set.length <= 30);
      for (const name of set) {
        assert.equal(typeof root[name], 'string', `dimension ${name} references a string member`);
        assert.ok(root[name].trim().length > 0 && root[name].length <= 1024);
        dims[name] = root[name];
      }
    }
    assert.ok(d.Metrics.length >= 1 && d.Metrics.length <= 100);
    const names = new Set();
    for (const m of d.Metrics) {
      for (const k of Object.keys(m)) assert.ok(['Name', 'Unit', 'StorageResolution'].includes(k), k);
      assert.ok(typeof m.Name === 'string' && m.Name.length >= 1 && m.Name.length <= 255);
      assert.ok(!names.has(m.Name));
      names.add(m.Name);
      if (m.Unit !== undefined) assert.ok(UNITS.has(m.Unit), m.Unit);
      const v = root[m.Name];
      if (Array.isArray(v)) assert.ok(v.length <= 100 && v.every(isNum));
      else if (typeof v === 'object') {
        assert.ok(v.Values.length >= 1 && v.Values.length <= 100 && v.Values.length === v.Counts.length);
        assert.ok(v.Values.every(isNum) && v.Counts.every(Number.isInteger));
        assert.equal(
          v.Counts.reduce((a, b) => a + b, 0),
          v.Count,
        );
        assert.ok(v.Values.every((x) => x >= v.Min && x <= v.Max) && isNum(v.Sum));
      } else assert.ok(isNum(v), `metric ${m.Name} value`);
      out.push({ name: m.Name, dims, value: v });
    }
  }
  return out;
}

test("wrapLambda with format 'emf' writes valid EMF lines to stdout and touches no network", () => {
  const n = 40;
  const r = spawnSync(process.execPath, [join(here, 'fixtures', 'emf-lambda.mjs'), String(n)], { cwd: here, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stderr.trim().split('\n').pop());
  assert.deepEqual(report.network, { fetch: 0, connect: 0, lookup: 0, request: 0 });
  assert.equal(report.probe, 1, 'the connect counter sees a connect');
  assert.equal(report.flushes.length, n);
  for (const f of report.flushes) {
    assert.equal(f.sent, true, f.error);
    assert.ok(f.bytes > 0);
  }
  const lines = r.stdout.split('\n').filter((l) => l.length > 0);
  assert.ok(
    lines.every((l) => l.startsWith('{"_aws":')),
    'stdout holds only EMF documents',
  );
  let orders = 0;
  let count = 0;
  let sum = 0;
  let lastQueue = null;
  const regions = new Set();
  for (const line of lines) {
    for (const { name, dims, value } of validateEmf(line)) {
      if (name === 'orders') {
        orders += value;
        regions.add(dims.region);
      } else if (name === 'latency') {
        count += value.Count;
        sum += value.Sum;
      } else if (name === 'queue.depth') lastQueue = value;
      assert.ok(JSON.parse(line)['service.name'] === 'emf-demo', 'resource attributes are plain members');
      assert.equal(JSON.parse(line)._aws.CloudWatchMetrics[0].Namespace, 'emf-demo', 'namespace = service.name');
    }
  }
  let expectOrders = 0;
  let expectSum = 0;
  for (let i = 0; i < n; i++) {
    expectOrders += 1 + (i % 3);
    expectSum += (i * 37) % 700;
  }
  assert.equal(orders, expectOrders);
  assert.equal(count, n);
  assert.equal(sum, expectSum);
  assert.equal(lastQueue, n - 1);
  assert.deepEqual([...regions].sort(), ['eu', 'us']);
});

test("format 'emf': a batch EMF cannot hold fails the flush with the encoder's reason and writes nothing", async () => {
  const { Metrics } = await import('edgemetrics/all');
  const metrics = new Metrics({ format: 'emf', serviceName: 'emf-bad', selfMetrics: false });
  assert.equal(metrics.endpoint, '', 'no endpoint is needed');
  metrics.counter('route').add(1, { route: '/a' });
  const r = await metrics.flush();
  assert.equal(r.sent, false);
  assert.match(r.error, /attribute of the same name/);
});
