// OTEL_* / EDGEMETRICS_* configuration and resource detection: the shared table of cases
// (tests/vectors/env-cases.json, also run by the Rust parser), the precedence of explicit
// options, the per-platform resource attributes, and wrappers configured by the environment
// alone pushing to a real receiver on 127.0.0.1.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Metrics, withMetrics, wrapLambda } from '../dist/node.js';
import { mergeOptions, parseEnv, parsePairs, resolveOptions } from '../dist/modules/env.js';
import { detectResource, SDK_VERSION } from '../dist/modules/resource.js';
import { decodeOtlp, startReceiver } from './helpers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const table = JSON.parse(readFileSync(join(here, '..', '..', 'tests', 'vectors', 'env-cases.json'), 'utf8'));
const lookupOf = (env) => (name) => env[name];

for (const c of table.cases) {
  test(`env table: ${c.name}`, () => {
    const r = parseEnv(lookupOf(c.env));
    assert.equal(r.disabled, c.expect.disabled);
    assert.deepEqual(r.options, c.expect.options);
    assert.equal(r.errors.length, c.expect.errors.length, r.errors.join('\n'));
    c.expect.errors.forEach((name, i) => assert.ok(r.errors[i].startsWith(name), `${r.errors[i]} should name ${name}`));
  });
}

test('a throwing lookup reads as unset (never throws)', () => {
  const r = parseEnv(() => {
    throw new Error('permission denied');
  });
  assert.deepEqual(r, { disabled: false, options: {}, errors: [] });
});

test('parsePairs decodes keys and values', () => {
  assert.deepEqual(parsePairs('a%3Db=c%3Dd, e = f '), [
    ['a=b', 'c=d'],
    ['e', 'f'],
  ]);
  assert.equal(parsePairs('=x'), null);
});

test('explicit options win over the environment; maps merge per key', () => {
  const env = parseEnv(
    lookupOf({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env',
      OTEL_EXPORTER_OTLP_HEADERS: 'a=1,b=2',
      OTEL_SERVICE_NAME: 'env-svc',
      OTEL_RESOURCE_ATTRIBUTES: 'x=1,y=2',
    }),
  ).options;
  const m = mergeOptions(env, { endpoint: 'http://explicit', headers: { b: 'B' }, resource: { y: 'Y' } });
  assert.equal(m.endpoint, 'http://explicit');
  assert.deepEqual(m.headers, { a: '1', b: 'B' });
  assert.deepEqual(m.resource, { x: '1', y: 'Y' });
  assert.equal(m.serviceName, 'env-svc');
  // service.name given explicitly inside resource beats OTEL_SERVICE_NAME
  assert.equal(mergeOptions(env, { resource: { 'service.name': 'mine' } }).serviceName, undefined);
});

test('resolveOptions says why metrics stay off', () => {
  assert.match(resolveOptions({}, lookupOf({})).reason, /no endpoint/);
  assert.match(resolveOptions({}, lookupOf({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x' })).reason, /OTEL_SDK_DISABLED/);
  assert.match(
    resolveOptions({}, lookupOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).reason,
    /OTEL_EXPORTER_OTLP_PROTOCOL/,
  );
  assert.equal(resolveOptions({ endpoint: 'http://x' }, lookupOf({})).reason, undefined);
});

const sdk = { 'telemetry.sdk.name': 'edgemetrics', 'telemetry.sdk.version': SDK_VERSION };

test('telemetry.sdk.* always; the version is the package version', () => {
  const pkg = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8'));
  assert.equal(SDK_VERSION, pkg.version);
  assert.deepEqual(detectResource(lookupOf({}), { runtime: 'node', userAgent: 'Node.js/20' }), { ...sdk, 'telemetry.sdk.language': 'nodejs' });
  assert.deepEqual(detectResource(lookupOf({}), { runtime: 'deno', userAgent: 'Deno/2' }), { ...sdk, 'telemetry.sdk.language': 'webjs' });
});

test('resource: Cloudflare Workers (user agent)', () => {
  assert.deepEqual(detectResource(lookupOf({}), { runtime: 'workerd', userAgent: 'Cloudflare-Workers' }), {
    ...sdk,
    'telemetry.sdk.language': 'webjs',
    'cloud.provider': 'cloudflare',
    'cloud.platform': 'cloudflare.workers',
  });
});

test('resource: AWS Lambda (its variables; memory in bytes)', () => {
  const env = {
    AWS_LAMBDA_FUNCTION_NAME: 'checkout',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_REGION: 'eu-west-1',
    AWS_LAMBDA_LOG_STREAM_NAME: '2026/12/01/[$LATEST]abc',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
  };
  assert.deepEqual(detectResource(lookupOf(env), { runtime: 'node', userAgent: 'Node.js/20' }), {
    ...sdk,
    'telemetry.sdk.language': 'nodejs',
    'cloud.provider': 'aws',
    'cloud.platform': 'aws_lambda',
    'faas.name': 'checkout',
    'faas.version': '$LATEST',
    'cloud.region': 'eu-west-1',
    'faas.instance': '2026/12/01/[$LATEST]abc',
    'faas.max_memory': 536870912,
  });
});

test('resource: Vercel', () => {
  assert.deepEqual(detectResource(lookupOf({ VERCEL: '1', VERCEL_REGION: 'fra1', VERCEL_ENV: 'preview' }), { runtime: 'edge', userAgent: '' }), {
    ...sdk,
    'telemetry.sdk.language': 'webjs',
    'cloud.provider': 'vercel',
    'cloud.region': 'fra1',
    'deployment.environment.name': 'preview',
  });
});

test('resource: Deno Deploy', () => {
  assert.deepEqual(detectResource(lookupOf({ DENO_DEPLOYMENT_ID: 'abc123', DENO_REGION: 'gcp-europe-west3' }), { runtime: 'deno', userAgent: 'Deno/2' }), {
    ...sdk,
    'telemetry.sdk.language': 'webjs',
    'cloud.provider': 'deno',
    'cloud.platform': 'deno.deploy',
    'deployment.id': 'abc123',
    'cloud.region': 'gcp-europe-west3',
  });
});

/** Runs `fn` with `vars` set in process.env, restoring it after. */
async function withProcessEnv(vars, fn) {
  const saved = {};
  for (const k of Object.keys(vars)) {
    saved[k] = process.env[k];
    process.env[k] = vars[k];
  }
  try {
    return await fn();
  } finally {
    for (const k of Object.keys(vars)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

test('wrapLambda(handler) with no options: configured by process.env alone (Lambda variables → resource)', async () => {
  const rx = await startReceiver();
  try {
    await withProcessEnv(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
        OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=s%3Dcret',
        OTEL_SERVICE_NAME: 'env-lambda',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
        AWS_LAMBDA_FUNCTION_NAME: 'fn1',
        AWS_REGION: 'us-east-1',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
      },
      async () => {
        const h = wrapLambda(async (event, context, metrics) => {
          metrics.counter('jobs', { unit: '{job}' }).add(2, { kind: 'a' });
          return event.n + 1;
        });
        assert.equal(await h({ n: 1 }, {}), 2);
      },
    );
    assert.equal(rx.requests.length, 1);
    const req = rx.requests[0];
    assert.equal(req.url, '/v1/metrics');
    assert.equal(req.headers['x-api-key'], 's=cret');
    const d = decodeOtlp(req);
    assert.equal(d.resource['service.name'], 'env-lambda');
    assert.equal(d.resource['deployment.environment.name'], 'test');
    assert.equal(d.resource['cloud.platform'], 'aws_lambda');
    assert.equal(d.resource['faas.name'], 'fn1');
    assert.equal(d.resource['faas.max_memory'], 128 * 1024 * 1024);
    assert.equal(d.resource['telemetry.sdk.name'], 'edgemetrics');
    assert.equal(d.metrics.jobs.points[0].value, 2);
  } finally {
    await rx.close();
  }
});

test('withMetrics(handler): Workers env vars configure it; explicit options win', async () => {
  const rx = await startReceiver();
  try {
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${rx.url}/v1/metrics`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'from-env',
    };
    const w = withMetrics({
      async fetch(req, env, ctx, m) {
        m.counter('hits').add(1);
        return new Response('ok');
      },
    });
    await w.fetch(new Request('http://x/'), env, undefined);
    const w2 = withMetrics(
      {
        async fetch(req, env, ctx, m) {
          m.counter('hits').add(1);
          return new Response('ok');
        },
      },
      (_env) => ({ serviceName: 'explicit', format: 'otlp-proto' }),
    );
    await w2.fetch(new Request('http://x/'), env, undefined);
    assert.equal(rx.requests.length, 2);
    assert.equal(rx.requests[0].url, '/v1/metrics');
    assert.equal(rx.requests[0].headers['content-type'], 'application/json');
    assert.equal(decodeOtlp(rx.requests[0]).resource['service.name'], 'from-env');
    assert.equal(rx.requests[1].headers['content-type'], 'application/x-protobuf');
    assert.equal(decodeOtlp(rx.requests[1]).resource['service.name'], 'explicit');
  } finally {
    await rx.close();
  }
});

test('no endpoint, OTEL_SDK_DISABLED or a bad variable: the handler runs, nothing is sent, the flush says why', async () => {
  for (const env of [
    {},
    { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' },
    { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_EXPORTER_OTLP_TIMEOUT: 'soon' },
  ]) {
    const w = withMetrics({
      async fetch(req, env, ctx, m) {
        m.counter('hits').add(1);
        return new Response('ok');
      },
    });
    let flushed;
    const res = await w.fetch(new Request('http://x/'), env, { waitUntil: (p) => (flushed = p) });
    assert.equal(await res.text(), 'ok');
    const r = await flushed;
    assert.equal(r.sent, false);
    assert.match(r.error, /no endpoint|OTEL_SDK_DISABLED|OTEL_EXPORTER_OTLP_TIMEOUT/);
  }
});

test('detectResource: false leaves the detected attributes out', async () => {
  const rx = await startReceiver();
  try {
    for (const detect of [true, false]) {
      const m = new Metrics({ endpoint: rx.url, serviceName: 's', detectResource: detect });
      m.counter('c').add(1);
      await m.flush();
    }
    const [on, off] = rx.requests.map((r) => decodeOtlp(r).resource);
    assert.equal(on['telemetry.sdk.name'], 'edgemetrics');
    assert.equal(off['service.name'], 's');
    assert.deepEqual(
      Object.keys(off).filter((k) => k.startsWith('telemetry.') || k.startsWith('cloud.')),
      [],
    );
  } finally {
    await rx.close();
  }
});

test('a refused endpoint is quoted without its query (an API key may travel there), from the environment and from options', () => {
  const secret = 'q-s3cr3t';
  for (const [name, url] of [
    ['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', `https://otlp.example/x?api_key=${secret}`],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', `ftp://otlp.example/otlp?api_key=${secret}`],
  ]) {
    const r = parseEnv((k) => (k === name ? url : undefined));
    assert.equal(r.errors.length, 1, JSON.stringify(r.errors));
    assert.ok(r.errors[0].startsWith(name) && r.errors[0].includes('?<redacted>'), r.errors[0]);
    assert.ok(!r.errors[0].includes(secret), r.errors[0]);
  }
  assert.throws(
    () => new Metrics({ endpoint: `ftp://h/x?api_key=${secret}` }),
    (e) => e instanceof TypeError && e.message.includes('"ftp://h/x?<redacted>"') && !e.message.includes(secret),
  );
});
