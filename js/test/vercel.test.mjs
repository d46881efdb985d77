// edgemetrics/vercel: withWaitUntil under the `edge-runtime` package (Vercel's Edge runtime, pinned:
// the function gets the wasm module precompiled and hands the flush to the FetchEvent's
// waitUntil) and in Node (no waitUntil: awaited; a throwing waitUntil: awaited; the handler's
// result and error unchanged; waitUntil gets the handler's arguments after the flush, as Netlify's
// `(p, req, ctx) => ctx.waitUntil(p)` needs). Batches go to a receiver on 127.0.0.1.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EdgeRuntime } from 'edge-runtime';
import { Metrics } from 'edgemetrics';
import { withWaitUntil } from 'edgemetrics/vercel';
import { decodeOtlp, startReceiver } from './helpers.mjs';
import { bundle, dist } from './bundle.mjs';

const requestsOf = (req) => decodeOtlp(req).metrics['edge.requests'].points.map((p) => [p.attrs.path, p.value]);

test('edge-runtime: the flush goes to event.waitUntil, one batch per invocation; a handler error still flushes', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  // Vercel's bundler resolves the "edge-light" condition: the edge-light entry, whose
  // `.wasm?module` import becomes the precompiled module the platform provides (EDGEMETRICS_WASM).
  const { dir, outfile } = await bundle('edge-handler.mjs', { format: 'iife', conditions: ['edge-light', 'browser'] });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The platform hands the handler a module compiled in the sandbox's own realm (initSync checks
  // `instanceof WebAssembly.Module`): the prelude stands for that, before the bundle runs.
  const prelude = 'globalThis.EDGEMETRICS_WASM = new WebAssembly.Module(globalThis.EDGEMETRICS_WASM_BYTES);\n';
  const runtime = new EdgeRuntime({
    initialCode: prelude + readFileSync(outfile, 'utf8'),
    extend: (context) =>
      Object.assign(context, {
        EDGEMETRICS_WASM_BYTES: readFileSync(join(dist, 'edgemetrics_wasm_bg.wasm')),
        ENDPOINT: rx.url,
      }),
  });
  for (const [i, path] of ['/a', '/b', '/fail'].entries()) {
    const res = await runtime.dispatchFetch(`http://localhost${path}`);
    assert.equal(res.status, path === '/fail' ? 500 : 200);
    assert.equal(await res.text(), path === '/fail' ? 'caught: handler failure' : `ok ${path}`);
    const [flush] = await res.waitUntil(); // the runtime's record of what was handed to waitUntil
    assert.equal(flush.sent, true, JSON.stringify(flush));
    assert.equal(rx.requests.length, i + 1);
    assert.deepEqual(requestsOf(rx.requests[i]), [[path, 1]]);
  }
});

test('node: without waitUntil the flush is awaited; a throwing waitUntil falls back to awaiting; results and errors unchanged', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const h = withWaitUntil(
    (request, m) => {
      m.counter('edge.requests').add(1, { path: new URL(request.url).pathname });
      if (request.url.endsWith('/fail')) throw new Error('handler failure');
      return new Response('ok');
    },
    { endpoint: rx.url, format: 'otlp-proto' },
  );
  assert.equal(await (await h(new Request('http://localhost/a'))).text(), 'ok');
  assert.equal(rx.requests.length, 1, 'awaited before the result');
  await assert.rejects(h(new Request('http://localhost/fail')), /handler failure/);
  assert.equal(rx.requests.length, 2);
  assert.deepEqual(requestsOf(rx.requests[1]), [['/fail', 1]]);

  const handed = [];
  const m = new Metrics({ endpoint: rx.url, format: 'otlp-proto' });
  const viaAfter = withWaitUntil((request, metrics) => (metrics.counter('edge.requests').add(2, { path: '/after' }), 'done'), m, {
    waitUntil: (p) => handed.push(p), // the shape of @vercel/functions waitUntil and Next's after(promise)
  });
  assert.equal(await viaAfter(new Request('http://localhost/after')), 'done');
  assert.equal(handed.length, 1);
  assert.equal((await handed[0]).sent, true);
  assert.deepEqual(requestsOf(rx.requests[2]), [['/after', 2]]);

  const throwing = withWaitUntil((request, metrics) => (metrics.counter('edge.requests').add(1, { path: '/x' }), 'x'), m, {
    waitUntil: () => {
      throw new Error('waitUntil called outside a request scope');
    },
  });
  assert.equal(await throwing(new Request('http://localhost/x')), 'x');
  assert.equal(rx.requests.length, 4, 'awaited when waitUntil threw');

  // Netlify's shape, as the README shows it: waitUntil gets the flush and the handler's own
  // arguments, and the handler gets the Metrics after them.
  const netlifyCtx = { waited: [], waitUntil: (p) => netlifyCtx.waited.push(p) };
  let gotMetrics = null;
  const netlify = withWaitUntil(
    (request, context, metrics) => {
      gotMetrics = metrics;
      metrics.counter('edge.requests').add(1, { path: '/netlify' });
      return new Response('netlify');
    },
    m,
    { waitUntil: (p, req, ctx) => ctx.waitUntil(p) },
  );
  const req = new Request('http://localhost/netlify');
  assert.equal(await (await netlify(req, netlifyCtx)).text(), 'netlify');
  assert.equal(gotMetrics, m, 'the Metrics is the extra last argument');
  assert.equal(netlifyCtx.waited.length, 1, 'the context passed to the handler got the flush');
  assert.equal((await netlifyCtx.waited[0]).sent, true);
  assert.deepEqual(requestsOf(rx.requests[4]), [['/netlify', 1]]);
});

test('withWaitUntil rejects misuse at setup', () => {
  assert.throws(() => withWaitUntil(null, { endpoint: 'http://x' }), TypeError);
  assert.throws(() => withWaitUntil(() => {}, { endpoint: 'http://x' }, { waitUntil: 1 }), /waitUntil must be a function/);
  assert.throws(() => withWaitUntil(() => {}, { endpoint: 'http://x' }, { wait: () => {} }), /unknown option "wait"/);
});
