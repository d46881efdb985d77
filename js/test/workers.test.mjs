// edgemetrics/workers in workerd (miniflare): a Durable Object class (RPC methods, a synchronous
// one calling another method, and its fetch handler) and a WorkerEntrypoint class reached through
// a service binding (RPC). Every call records through `this.metrics` and its batch reaches the
// receiver on 127.0.0.1, decoded with the official OTLP code (JSON here). And a Pages Function
// (file-based route) under `wrangler pages dev`.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { decodeOtlp, startReceiver, startWrangler, waitFor, bundledWorker } from './helpers.mjs';
import { bundle } from './bundle.mjs';

const here = dirname(fileURLToPath(import.meta.url));

/** Histogram counts of `name` in the batches of `service` whose attributes include `attrs`. */
const count = (requests, service, name, attrs = {}) =>
  requests
    .map(decodeOtlp)
    .filter((d) => d.resource['service.name'] === service)
    .flatMap((d) => d.metrics[name]?.points ?? [])
    .filter((p) => Object.entries(attrs).every(([k, v]) => p.attrs[k] === v))
    .reduce((s, p) => s + (p.count ?? p.value), 0);

const total = (requests, service, name) =>
  requests
    .map(decodeOtlp)
    .filter((d) => d.resource['service.name'] === service)
    .flatMap((d) => d.metrics[name]?.points ?? [])
    .reduce((s, p) => s + p.value, 0);

test('workerd (miniflare): Durable Object and WorkerEntrypoint methods record and flush', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const { dir, outfile } = await bundle('classes-worker.mjs');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const mf = new Miniflare({
    name: 'main',
    ...bundledWorker(dir, outfile),
    bindings: { ENDPOINT: rx.url },
    durableObjects: { COUNTER: 'Counter' },
    serviceBindings: { API: { name: 'main', entrypoint: 'Api' } },
  });
  t.after(() => mf.dispose());
  for (let i = 1; i <= 2; i++) {
    const res = await mf.dispatchFetch('http://localhost/do');
    assert.deepEqual(await res.json(), { doubled: 6, label: 'label:4', text: 'from the object' });
    const rpc = await mf.dispatchFetch('http://localhost/rpc');
    assert.deepEqual(await rpc.json(), { sum: 5 });
    assert.ok(
      await waitFor(
        () =>
          total(rx.requests, 'do', 'do.increments') === 3 * i && total(rx.requests, 'do', 'do.fetches') === i && total(rx.requests, 'rpc', 'rpc.adds') === i,
      ),
      `invocation ${i}: ${rx.requests.length} batches`,
    );
  }
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(total(rx.requests, 'do', 'do.increments'), 6);
  assert.equal(total(rx.requests, 'do', 'do.labels'), 2, 'the synchronous RPC method records too');
  assert.equal(total(rx.requests, 'do', 'do.fetches'), 2);
  assert.equal(total(rx.requests, 'rpc', 'rpc.adds'), 2);
  for (const q of rx.requests) assert.equal(q.url, '/v1/metrics');
  // Automatic metrics: the object's fetch is HTTP-shaped, the other methods are RPC (trigger other).
  const ok200 = { 'http.request.method': 'GET', 'http.response.status_code': 200 };
  assert.equal(count(rx.requests, 'do', 'http.server.request.duration', ok200), 2);
  assert.equal(count(rx.requests, 'do', 'http.server.request.duration'), 2, 'only fetch records HTTP metrics');
  assert.equal(count(rx.requests, 'do', 'faas.invocations', { 'faas.trigger': 'http' }), 2);
  // increment, label and twice (called by label through the instrumented prototype) per /do.
  assert.equal(count(rx.requests, 'do', 'faas.invocations', { 'faas.trigger': 'other' }), 6);
  assert.equal(count(rx.requests, 'rpc', 'faas.invocations', { 'faas.trigger': 'other' }), 2);
  assert.equal(count(rx.requests, 'do', 'faas.errors') + count(rx.requests, 'rpc', 'faas.errors'), 0);
  assert.equal(count(rx.requests, 'do', 'faas.coldstarts') + count(rx.requests, 'rpc', 'faas.coldstarts'), 1, 'one cold start in the isolate');
});

test('workerd (wrangler pages dev): a Pages Function wrapped by pagesFunction records and flushes via context.waitUntil', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  // A copy outside the repository (wrangler would otherwise pick up the repository's own
  // wrangler.toml), with `edgemetrics` linked into its node_modules as an installed package.
  const cwd = mkdtempSync(join(tmpdir(), 'em-pages-'));
  t.after(() => rmSync(cwd, { recursive: true, force: true }));
  cpSync(join(here, 'fixtures', 'pages'), cwd, { recursive: true });
  mkdirSync(join(cwd, 'node_modules'));
  symlinkSync(join(here, '..'), join(cwd, 'node_modules', 'edgemetrics'), 'dir');
  const { port, log } = startWrangler(t, cwd, (port) => [
    'pages',
    'dev',
    'public',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--inspector-port',
    String(port + 1),
    '--compatibility-date',
    '2025-01-01',
    '--binding',
    `ENDPOINT=${rx.url}`,
  ]);
  let first = '';
  for (let i = 0; i < 300 && first === ''; i++) {
    await new Promise((r) => setTimeout(r, 200));
    first = await fetch(`http://127.0.0.1:${port}/users/1`).then(
      (r) => (r.ok ? r.text() : ''),
      () => '',
    );
  }
  assert.equal(first, 'user 1 true', `wrangler pages dev did not answer within 60 s:\n${log()}`);
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/users/2`)).text(), 'user 2 true');
  const lookups = () =>
    rx.requests
      .map(decodeOtlp)
      .flatMap((d) => d.metrics['pages.lookups']?.points ?? [])
      .map((p) => [p.attrs.id, p.value]);
  assert.ok(await waitFor(() => lookups().length >= 2, { timeoutMs: 20_000 }), `batches never arrived:\n${log()}`);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(lookups(), [
    ['1', 1],
    ['2', 1],
  ]);
  assert.equal(rx.requests.length, 2, 'one batch per request');
  const http = rx.requests
    .map(decodeOtlp)
    .flatMap((d) => d.metrics['http.server.request.duration']?.points ?? [])
    .map((p) => [p.attrs['http.route'], p.attrs['http.response.status_code'], p.count]);
  assert.deepEqual(http, [
    ['/users/:id', 200, 1],
    ['/users/:id', 200, 1],
  ]);
  const faas = rx.requests.map(decodeOtlp).flatMap((d) => d.metrics['faas.invocations']?.points ?? []);
  assert.deepEqual(
    faas.map((p) => [p.attrs['faas.trigger'], p.value]),
    [
      ['http', 1],
      ['http', 1],
    ],
  );
});
