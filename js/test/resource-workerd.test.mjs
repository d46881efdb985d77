// The workerd entry bundles resource-workerd.js instead of resource.js (build.mjs): in workerd it
// must detect exactly what resource.js detects there, whatever the environment holds, and the
// other entries must keep the full detection. Checked on the functions, on the built modules, and
// in workerd itself (miniflare) against a receiver on 127.0.0.1.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { detectResource as full, SDK_VERSION } from '../dist/modules/resource.js';
import { detectResource as workerd } from '../dist/modules/resource-workerd.js';
import { decodeOtlp, fixtureWorker, startReceiver, waitFor } from './helpers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..');
const lookupOf = (env) => (name) => env[name];

const ENVS = [
  {},
  { AWS_LAMBDA_FUNCTION_NAME: 'f', AWS_REGION: 'eu-west-1', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512' },
  { VERCEL: '1', VERCEL_REGION: 'fra1', VERCEL_ENV: 'preview' },
  { DENO_DEPLOYMENT_ID: 'abc', DENO_REGION: 'r' },
];

test('with the Cloudflare-Workers user agent, resource-workerd.js detects what resource.js detects', () => {
  for (const env of ENVS) {
    // 'workerd' is what resource.js's own runtime detection answers for that user agent.
    for (const runtime of ['workerd', 'node', 'bun']) {
      const host = { runtime, userAgent: 'Cloudflare-Workers' };
      assert.deepEqual(workerd(lookupOf(env), host), full(lookupOf(env), host), JSON.stringify({ env, runtime }));
    }
  }
  assert.equal(workerd(lookupOf({}), { userAgent: 'Cloudflare-Workers' })['telemetry.sdk.version'], SDK_VERSION);
});

test("only the workerd modules leave out the other platforms' detection", () => {
  for (const dir of ['dist', 'dist/otlp', 'dist/remote-write']) {
    const read = (f) => readFileSync(join(pkg, dir, f), 'utf8');
    assert.ok(!read('workerd.js').includes('AWS_LAMBDA_FUNCTION_NAME'), `${dir}/workerd.js`);
    assert.ok(!read('workerd.js').includes('DENO_DEPLOYMENT_ID'), `${dir}/workerd.js`);
    for (const f of ['node.js', 'deno.js', 'edge-light.js', 'browser.js']) assert.ok(read(f).includes('AWS_LAMBDA_FUNCTION_NAME'), `${dir}/${f}`);
  }
  assert.ok(!readFileSync(join(pkg, 'dist', 'tail', 'tail.js'), 'utf8').includes('AWS_LAMBDA_FUNCTION_NAME'), 'dist/tail/tail.js');
});

test('workerd (miniflare): the default entry sends the Cloudflare resource attributes', async (t) => {
  const rx = await startReceiver();
  t.after(() => rx.close());
  const mf = new Miniflare(fixtureWorker('resource-worker.mjs', { ENDPOINT: rx.url }));
  t.after(() => mf.dispose());
  const res = await mf.dispatchFetch('http://localhost/');
  assert.deepEqual(await res.json(), { sent: true, ua: 'Cloudflare-Workers' });
  assert.ok(await waitFor(() => rx.requests.length >= 1), 'no request arrived');
  const { resource } = decodeOtlp(rx.requests[0]);
  assert.deepEqual(resource, {
    'service.name': 'resource-test',
    'service.instance.id': resource['service.instance.id'],
    'telemetry.sdk.name': 'edgemetrics',
    'telemetry.sdk.language': 'webjs',
    'telemetry.sdk.version': SDK_VERSION,
    'cloud.provider': 'cloudflare',
    'cloud.platform': 'cloudflare.workers',
  });
  assert.equal(typeof resource['service.instance.id'], 'string');
});
