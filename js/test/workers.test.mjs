// edgemetrics/workers in workerd (miniflare): a Durable Object class (RPC methods, a synchronous
// one calling another method, and its fetch handler) and a WorkerEntrypoint class reached through
// a service binding (RPC). Every call records through `this.metrics` and its batch reaches the
// receiver on 127.0.0.1, decoded with the official OTLP code (JSON here).
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { Miniflare } from 'miniflare';
import { decodeOtlp, startReceiver, waitFor } from './helpers.mjs';
import { bundle } from './bundle.mjs';

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
    rootPath: dir,
    modulesRoot: dir,
    scriptPath: outfile,
    modules: true,
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2025-01-01',
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
});
