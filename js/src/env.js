// OpenTelemetry environment configuration: turns OTEL_* (and EDGEMETRICS_* for what OpenTelemetry
// has no name for) into Metrics options, so `withMetrics(handler)` works from the platform's
// environment alone. Pure: `parseEnv` reads through a lookup function and never throws; the
// table of cases in tests/vectors/env-cases.json is shared with the Rust parser (src/env.rs), so
// both hosts read one scheme the same way.

/** Every variable name the parser reads (hosts that must ask per name, like Deno, use this). */
export const ENV_NAMES = [
  'OTEL_SDK_DISABLED',
  'OTEL_SERVICE_NAME',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_METRICS_HEADERS',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL',
  'OTEL_EXPORTER_OTLP_COMPRESSION',
  'OTEL_EXPORTER_OTLP_METRICS_COMPRESSION',
  'OTEL_EXPORTER_OTLP_TIMEOUT',
  'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT',
  'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE',
  'EDGEMETRICS_FORMAT',
  'EDGEMETRICS_ENDPOINT',
  'EDGEMETRICS_HEADERS',
  'EDGEMETRICS_MAX_ATTEMPTS',
  'EDGEMETRICS_CARDINALITY_LIMIT',
  'EDGEMETRICS_MAX_SERIES',
  'EDGEMETRICS_FLUSH_POLICY',
];

const FORMATS = ['otlp-proto', 'otlp-json', 'remote-write', 'pushgateway', 'compact', 'emf'];

/** A URL quoted in an error message, its query (which may carry an API key) redacted. */
export const showUrl = (u) => JSON.stringify(u.includes('?') ? stripQuery(u) + '?<redacted>' : u);

/**
 * Reads the configuration through `lookup(name) → string | undefined`. Unset and empty mean the
 * same (the OpenTelemetry rule). Returns
 * `{ disabled, options, errors }`: `options` holds only what the environment set (ready to be
 * merged under explicit options); `errors` lists every invalid variable with the reason, and
 * names the variable. `disabled` is true for `OTEL_SDK_DISABLED=true`.
 */
export function parseEnv(lookup) {
  const get = (name) => {
    let v;
    try {
      v = lookup(name);
    } catch {
      v = undefined;
    }
    if (v === undefined || v === null) return undefined;
    v = String(v).trim();
    return v === '' ? undefined : v;
  };
  // OTEL_EXPORTER_OTLP_METRICS_<what> when it is set, else the generic OTEL_EXPORTER_OTLP_<what>.
  const otlpName = (what) => (get(`OTEL_EXPORTER_OTLP_METRICS_${what}`) !== undefined ? `OTEL_EXPORTER_OTLP_METRICS_${what}` : `OTEL_EXPORTER_OTLP_${what}`);
  const errors = [];
  const options = {};
  const disabled = (get('OTEL_SDK_DISABLED') ?? '').toLowerCase() === 'true';

  // Format: EDGEMETRICS_FORMAT names any format; the OTLP protocol picks between the two OTLP ones.
  let format;
  const ef = get('EDGEMETRICS_FORMAT');
  if (ef !== undefined) {
    if (FORMATS.includes(ef.toLowerCase())) format = ef.toLowerCase();
    else errors.push(`EDGEMETRICS_FORMAT must be one of ${FORMATS.join(', ')}; got ${JSON.stringify(ef)}`);
  }
  const protoName = otlpName('PROTOCOL');
  const proto = get(protoName);
  if (proto !== undefined && (format === undefined || format.startsWith('otlp'))) {
    if (proto === 'http/protobuf') format = 'otlp-proto';
    else if (proto === 'http/json') format = 'otlp-json';
    else errors.push(`${protoName} must be http/protobuf or http/json (grpc is not supported); got ${JSON.stringify(proto)}`);
  }
  if (format !== undefined) options.format = format;
  const fmt = format ?? 'otlp-proto';
  const otlp = fmt.startsWith('otlp');

  // Endpoint: for OTLP the signal-specific URL is used as is, the generic one is a base that
  // gets /v1/metrics (before its query); EDGEMETRICS_ENDPOINT is the base URL of the other
  // formats' receivers. An OTLP endpoint's #fragment is dropped: it is never sent.
  let endpoint;
  let endpointVar;
  const metricsEndpoint = otlp ? get('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT')?.split('#')[0] : undefined;
  const baseEndpoint = otlp ? get('OTEL_EXPORTER_OTLP_ENDPOINT')?.split('#')[0] : undefined;
  if (metricsEndpoint !== undefined) {
    if (!/\/v1\/metrics\/?$/.test(stripQuery(metricsEndpoint))) {
      errors.push(`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT must end in /v1/metrics (other paths are not supported); got ${showUrl(metricsEndpoint)}`);
    } else [endpoint, endpointVar] = [metricsEndpoint, 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'];
  } else if (baseEndpoint !== undefined) {
    endpointVar = 'OTEL_EXPORTER_OTLP_ENDPOINT';
    const path = stripQuery(baseEndpoint);
    // The path goes before the query: /otlp?tenant=a → /otlp/v1/metrics?tenant=a.
    endpoint = /\/v1\/metrics\/?$/.test(path) ? baseEndpoint : path.replace(/\/+$/, '') + '/v1/metrics' + baseEndpoint.slice(path.length);
  } else {
    const e = get('EDGEMETRICS_ENDPOINT');
    // A base URL (the format's path is appended) or a full URL ending in it (used as is).
    if (e !== undefined) [endpoint, endpointVar] = [e, 'EDGEMETRICS_ENDPOINT'];
  }
  if (endpoint !== undefined) {
    if (!/^https?:\/\/[^/?#\s]+/.test(endpoint)) errors.push(`${endpointVar} must be an http(s) URL; got ${showUrl(endpoint)}`);
    else options.endpoint = endpoint;
  }

  // Headers: the generic list, then the metrics one (wins per name), then EDGEMETRICS_HEADERS.
  const headers = {};
  for (const name of otlp ? ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_METRICS_HEADERS', 'EDGEMETRICS_HEADERS'] : ['EDGEMETRICS_HEADERS']) {
    const v = get(name);
    if (v === undefined) continue;
    const pairs = parsePairs(v);
    if (pairs === null) errors.push(`${name} must be a comma-separated list of key=value (URL-encoded); got an invalid list`);
    else for (const [k, val] of pairs) headers[k] = val;
  }
  if (Object.keys(headers).length > 0) options.headers = headers;

  const compName = otlpName('COMPRESSION');
  const comp = otlp ? get(compName) : undefined;
  if (comp !== undefined) {
    if (comp === 'gzip' || comp === 'none') options.compression = comp;
    else errors.push(`${compName} must be gzip or none; got ${JSON.stringify(comp)}`);
  }

  // At most 2^31 - 1 ms: Node fires a longer timer after 1 ms (the Rust parser has the same range).
  const toName = otlpName('TIMEOUT');
  const timeout = positiveInt(get(toName));
  if (timeout === null || timeout >= 2 ** 31)
    errors.push(`${toName} must be a positive integer of at most 2147483647 (milliseconds); got ${JSON.stringify(get(toName))}`);
  else if (timeout !== undefined) options.timeoutMs = timeout;

  const pref = get('OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE');
  if (pref !== undefined) {
    const p = pref.toLowerCase();
    // lowmemory asks for delta counters and histograms: with one temporality per batch, delta.
    if (p === 'delta' || p === 'lowmemory') options.temporality = 'delta';
    else if (p === 'cumulative') options.temporality = 'cumulative';
    else errors.push(`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE must be cumulative, delta or lowmemory; got ${JSON.stringify(pref)}`);
  }

  // Resource: OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME (which wins for service.name).
  const ra = get('OTEL_RESOURCE_ATTRIBUTES');
  const resource = {};
  if (ra !== undefined) {
    const pairs = parsePairs(ra);
    if (pairs === null) errors.push('OTEL_RESOURCE_ATTRIBUTES must be a comma-separated list of key=value (URL-encoded); got an invalid list');
    else for (const [k, v] of pairs) resource[k] = v;
  }
  const service = get('OTEL_SERVICE_NAME');
  if (service !== undefined) resource['service.name'] = service;
  if (resource['service.name'] !== undefined) options.serviceName = resource['service.name'];
  delete resource['service.name'];
  if (Object.keys(resource).length > 0) options.resource = resource;

  const attempts = positiveInt(get('EDGEMETRICS_MAX_ATTEMPTS'));
  if (attempts === null) errors.push(`EDGEMETRICS_MAX_ATTEMPTS must be a positive integer; got ${JSON.stringify(get('EDGEMETRICS_MAX_ATTEMPTS'))}`);
  else if (attempts !== undefined) options.retry = { maxAttempts: attempts };
  const limits = {};
  for (const [name, key] of [
    ['EDGEMETRICS_CARDINALITY_LIMIT', 'cardinality'],
    ['EDGEMETRICS_MAX_SERIES', 'maxSeries'],
  ]) {
    const n = positiveInt(get(name));
    if (n === null) errors.push(`${name} must be a positive integer; got ${JSON.stringify(get(name))}`);
    else if (n !== undefined) limits[key] = n;
  }
  if (Object.keys(limits).length > 0) options.limits = limits;
  const policy = get('EDGEMETRICS_FLUSH_POLICY');
  if (policy !== undefined) {
    const p = policy.toLowerCase();
    if (p === 'adaptive' || p === 'invocation') options.flush = p;
    else errors.push(`EDGEMETRICS_FLUSH_POLICY must be adaptive or invocation; got ${JSON.stringify(policy)}`);
  }
  return { disabled, options, errors };
}

function stripQuery(url) {
  const i = url.indexOf('?');
  return i < 0 ? url : url.slice(0, i);
}

/** `undefined` when unset, `null` when invalid, else the integer. */
function positiveInt(v) {
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v)) return null;
  const n = Number(v);
  return n >= 1 && n <= 0xffffffff ? n : null;
}

/**
 * `k=v,k=v` with keys and values URL-decoded and trimmed (the W3C Baggage-like list of the
 * OpenTelemetry specification). Empty members are skipped; a member without `=`, with an empty
 * key or with a broken %-escape makes the whole list invalid (`null`): half a credential list
 * is worse than none.
 */
export function parsePairs(s) {
  const out = [];
  for (const member of s.split(',')) {
    if (member.trim() === '') continue;
    const i = member.indexOf('=');
    if (i <= 0) return null;
    let k;
    let v;
    try {
      k = decodeURIComponent(member.slice(0, i).trim());
      v = decodeURIComponent(member.slice(i + 1).trim());
    } catch {
      return null;
    }
    if (k === '') return null;
    out.push([k, v]);
  }
  return out;
}

/**
 * A lookup over every environment the host can see, first hit wins: the Workers `env` object
 * (vars and secrets, strings only), then `process.env` (Node, Bun, Lambda, Vercel), then
 * `Deno.env` (asked per name; a denied permission is treated as unset, never thrown).
 */
export function hostLookup(workerEnv) {
  const deno = globalThis.Deno?.env;
  // In Deno, process.env is Deno.env without the permission check below (it could prompt).
  const proc = deno ? undefined : globalThis.process?.env;
  return (name) => {
    const w = workerEnv !== null && typeof workerEnv === 'object' ? workerEnv[name] : undefined;
    if (typeof w === 'string') return w;
    try {
      // Deno's process.env may throw for a name without --allow-env.
      if (proc && typeof proc[name] === 'string') return proc[name];
    } catch {
      // unset
    }
    if (deno && typeof deno.get === 'function') {
      try {
        // Ask only when already granted: a bare Deno.env.get would prompt on a terminal.
        const q = globalThis.Deno.permissions?.querySync?.({ name: 'env', variable: name });
        if (q && q.state !== 'granted') return undefined;
        return deno.get(name) ?? undefined;
      } catch {
        return undefined; // --allow-env not granted for this name
      }
    }
    return undefined;
  };
}

/**
 * Explicit options over the environment's: every explicit key wins; `headers`, `resource`,
 * `limits` and `retry` are merged per key (explicit wins).
 */
export function mergeOptions(fromEnv, explicit) {
  const out = { ...fromEnv, ...explicit };
  for (const k of ['headers', 'resource', 'limits', 'retry']) {
    if (fromEnv[k] !== undefined && explicit[k] !== undefined && explicit[k] !== null && typeof explicit[k] === 'object') {
      out[k] = { ...fromEnv[k], ...explicit[k] };
    }
  }
  // An explicit service.name inside resource beats OTEL_SERVICE_NAME.
  if (explicit.serviceName === undefined && explicit.resource?.['service.name'] !== undefined) delete out.serviceName;
  return out;
}

/**
 * What a wrapper (`withMetrics`, `wrapLambda`) builds its Metrics from: the environment's options
 * under the explicit ones. `reason` is set when metrics must stay off (OTEL_SDK_DISABLED, an
 * invalid variable, or no endpoint anywhere); the handler then runs with a Metrics that records
 * and discards.
 */
export function resolveOptions(explicit, lookup) {
  const { disabled, options, errors } = parseEnv(lookup);
  const merged = mergeOptions(options, explicit ?? {});
  let reason;
  if (disabled) reason = 'metrics disabled by OTEL_SDK_DISABLED=true';
  else if (errors.length > 0) reason = `invalid metrics environment: ${errors.join('; ')}`;
  // EMF lines go to stdout and tail batches to the log: no endpoint needed.
  else if (merged.endpoint === undefined && merged.format !== 'emf' && merged.transport !== 'tail')
    reason = 'metrics disabled: no endpoint (options.endpoint is unset, and so is OTEL_EXPORTER_OTLP_ENDPOINT, or EDGEMETRICS_ENDPOINT for the other formats)';
  return { options: merged, reason };
}
