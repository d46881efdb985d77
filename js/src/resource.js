// Resource detection: the OpenTelemetry `telemetry.sdk.*` attributes always, and the `cloud.*` /
// `faas.*` attributes of the platform the function runs on, where the platform makes them
// visible. Pure: reads a lookup function (see env.js `hostLookup`) and the runtime's user agent,
// so each platform is tested by setting its variables. Explicit resource attributes and
// OTEL_RESOURCE_ATTRIBUTES are merged over these by the caller.

/** The package version, sent as `telemetry.sdk.version` (checked against package.json by a test). */
export const SDK_VERSION = '0.1.0';

/**
 * Attributes for the current platform.
 * @param {(name: string) => string | undefined} lookup environment variables
 * @param {{ userAgent?: string, runtime?: 'node' | 'bun' | 'deno' | 'workerd' | 'edge' | 'browser' }} [host]
 */
export function detectResource(lookup, host = {}) {
  const get = (name) => {
    try {
      const v = lookup(name);
      return typeof v === 'string' && v !== '' ? v : undefined;
    } catch {
      return undefined;
    }
  };
  const runtime = host.runtime ?? detectRuntime();
  // telemetry.sdk.language has no value for Deno or workerd: `nodejs` for Node and Bun (Node
  // APIs), `webjs` for the web-platform runtimes.
  const r = {
    'telemetry.sdk.name': 'edgemetrics',
    'telemetry.sdk.language': runtime === 'node' || runtime === 'bun' ? 'nodejs' : 'webjs',
    'telemetry.sdk.version': SDK_VERSION,
  };
  const ua = host.userAgent ?? globalThis.navigator?.userAgent;
  if (ua === 'Cloudflare-Workers') {
    r['cloud.provider'] = 'cloudflare';
    r['cloud.platform'] = 'cloudflare.workers';
  } else if (get('AWS_LAMBDA_FUNCTION_NAME') !== undefined) {
    r['cloud.provider'] = 'aws';
    r['cloud.platform'] = 'aws_lambda';
    r['faas.name'] = get('AWS_LAMBDA_FUNCTION_NAME');
    const version = get('AWS_LAMBDA_FUNCTION_VERSION');
    if (version) r['faas.version'] = version;
    const region = get('AWS_REGION');
    if (region) r['cloud.region'] = region;
    const instance = get('AWS_LAMBDA_LOG_STREAM_NAME');
    if (instance) r['faas.instance'] = instance;
    const mb = get('AWS_LAMBDA_FUNCTION_MEMORY_SIZE');
    // faas.max_memory is in bytes; Lambda gives MiB.
    if (mb && /^[0-9]+$/.test(mb)) r['faas.max_memory'] = Number(mb) * 1024 * 1024;
  } else if (get('VERCEL') === '1' || get('VERCEL_REGION') !== undefined) {
    // `vercel` is not (yet) a value of the cloud.provider enumeration; the key is the standard one.
    r['cloud.provider'] = 'vercel';
    const region = get('VERCEL_REGION');
    if (region) r['cloud.region'] = region;
    const env = get('VERCEL_ENV');
    if (env) r['deployment.environment.name'] = env;
  } else if (get('DENO_DEPLOYMENT_ID') !== undefined) {
    r['cloud.provider'] = 'deno';
    r['cloud.platform'] = 'deno.deploy';
    r['deployment.id'] = get('DENO_DEPLOYMENT_ID');
    const region = get('DENO_REGION');
    if (region) r['cloud.region'] = region;
  }
  return r;
}

/** The variables detectResource reads (for hosts that must ask per name). */
export const RESOURCE_ENV_NAMES = [
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_REGION',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'VERCEL',
  'VERCEL_REGION',
  'VERCEL_ENV',
  'DENO_DEPLOYMENT_ID',
  'DENO_REGION',
];

function detectRuntime() {
  const g = globalThis;
  if (g.navigator?.userAgent === 'Cloudflare-Workers') return 'workerd';
  if (typeof g.EdgeRuntime === 'string') return 'edge';
  if (typeof g.Deno === 'object' && g.Deno?.version) return 'deno';
  if (typeof g.Bun === 'object') return 'bun';
  if (g.process?.versions?.node) return 'node';
  return 'browser';
}
