// Validation of `new Metrics(options)`: every option is checked here, before the wasm module is
// touched, and a mistake is a TypeError (wrong type, unknown key) or RangeError (value out of
// range, a combination that can never work) whose message names the option. Why a file of its
// own: wrappers turn these errors into "metrics off + one warning", so they must all come from
// one place, with the same wording. The checked options become the one buffer the core reads
// (abi.js names its keys).
import { FORMAT } from './abi.js';
import { attributeKey } from './attributes.js';
import { hostLookup, showUrl } from './env.js';
import { detectResource } from './resource.js';

const KNOWN = [
  'endpoint',
  'format',
  'serviceName',
  'resource',
  'temporality',
  'headers',
  'compression',
  'timeoutMs',
  'limits',
  'retry',
  'fetch',
  'selfMetrics',
  'remoteWrite',
  'pushgateway',
  'onFlush',
  'detectResource',
  'flush',
  'transport',
];
/** The endpoint the core's push plan is given when the batch goes to a log, never to a URL. */
const LOG_ENDPOINT = 'http://log.invalid';
/** What starts the line a producer writes for its Tail Worker (then the compact batch in base64). */
export const TAIL_PREFIX = 'edgemetrics:compact:1:';
const LIMIT_KEYS = ['cardinality', 'maxInstruments', 'maxSeries', 'maxAttributeBytes', 'maxAttributes', 'maxKeyLength', 'maxValueLength'];
const LIMIT_DEFAULTS = { maxAttributes: 32, maxKeyLength: 128, maxValueLength: 1024 };
const RETRY_KEYS = ['maxAttempts', 'attemptTimeoutMs', 'backoffBaseMs', 'backoffCapMs'];
const GZIP_FORMATS = ['otlp-proto', 'otlp-json'];

const typeName = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const show = (v) => {
  try {
    return typeof v === 'string' ? JSON.stringify(v) : typeof v === 'bigint' ? `${v}n` : String(v);
  } catch {
    return typeName(v);
  }
};

/** The TypeError of an option of the wrong type (one template for every option). */
const wrongType = (name, what, v) => new TypeError(`edgemetrics: options.${name} must be ${what}, got ${typeName(v)}`);

function plainObject(name, v) {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw wrongType(name, 'an object', v);
  return v;
}

/** `options.remoteWrite` and `options.pushgateway` belong to their own format. */
function needsFormat(name, needed, format) {
  if (format !== needed) throw new TypeError(`edgemetrics: options.${name} needs format '${needed}' (format is '${format}')`);
}

/** A boolean option (`dflt` when unset). */
function bool(name, v, dflt) {
  v ??= dflt;
  if (typeof v !== 'boolean') throw wrongType(name, 'a boolean', v);
  return v;
}

/** A function option (or unset). */
function fn(name, v) {
  if (v !== undefined && typeof v !== 'function') throw wrongType(name, 'a function', v);
  return v;
}

function unknownKeys(name, obj, known) {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) throw new RangeError(`edgemetrics: unknown option ${name}${k} (known: ${known.join(', ')})`);
  }
}

function str(name, v) {
  if (typeof v !== 'string') throw wrongType(name, 'a string', v);
  return v;
}

function oneOf(name, v, allowed) {
  if (!allowed.includes(v))
    throw new RangeError(`edgemetrics: options.${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}; got ${show(v)}`);
  return v;
}

function positiveInt(name, v) {
  if (typeof v !== 'number') throw wrongType(name, 'a number', v);
  if (!Number.isSafeInteger(v) || v < 1 || v > 0xffffffff)
    throw new RangeError(`edgemetrics: options.${name} must be a positive integer (at most 4294967295); got ${show(v)}`);
  return v;
}

function stringMap(name, v) {
  const o = plainObject(name, v);
  const out = {};
  for (const k of Object.keys(o)) out[k] = str(`${name}.${k}`, o[k]);
  return out;
}

/** Default `flush.maxAgeMs`: no invocation's end leaves data older than this unflushed. */
export const DEFAULT_MAX_AGE_MS = 10_000;
const FLUSH_KEYS = ['everyInvocations', 'maxAgeMs', 'whenIdle'];

/**
 * The flush policy (when an invocation's end pushes): `'adaptive'` (default: when no other
 * invocation is in flight, or the unflushed data is `maxAgeMs` old), `'invocation'` (every
 * invocation), or `{ everyInvocations?, maxAgeMs?, whenIdle? }` (count limit, default none; age
 * limit, default 10 s; flush when idle, default true). Returns the core's three numbers.
 */
export function checkFlush(v) {
  if (v === undefined || v === 'adaptive') return { everyInvocations: 0, maxAgeMs: DEFAULT_MAX_AGE_MS, whenIdle: true };
  if (v === 'invocation') return { everyInvocations: 1, maxAgeMs: 0, whenIdle: false };
  if (typeof v === 'string') throw new RangeError(`edgemetrics: options.flush must be 'adaptive', 'invocation' or an object; got ${show(v)}`);
  const o = plainObject('flush', v);
  unknownKeys('flush.', o, FLUSH_KEYS);
  const everyInvocations = o.everyInvocations === undefined ? 0 : positiveInt('flush.everyInvocations', o.everyInvocations);
  const maxAgeMs = o.maxAgeMs === undefined ? DEFAULT_MAX_AGE_MS : positiveInt('flush.maxAgeMs', o.maxAgeMs);
  const whenIdle = bool('flush.whenIdle', o.whenIdle, true);
  return { everyInvocations, maxAgeMs, whenIdle };
}

/**
 * Checks `options` and returns what the Metrics object needs: the options buffer for the core
 * (`buffer`), the remote write / Pushgateway settings, and the JS-side settings.
 */
export function checkOptions(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new TypeError(`edgemetrics: options must be an object, got ${typeName(options)}`);
  unknownKeys('', options, KNOWN);
  // transport 'tail': the batch is written as one log line for the worker's Tail Worker
  // (edgemetrics/tail), in the compact format; format 'emf': JSON lines on stdout. Neither sends
  // a request, so neither needs an endpoint.
  const transport = oneOf('transport', options.transport ?? 'fetch', ['fetch', 'tail']);
  if (transport === 'tail' && options.format !== undefined && options.format !== 'compact')
    throw new RangeError(
      `edgemetrics: options.transport 'tail' writes compact batches for edgemetrics/tail; options.format must be 'compact' or unset (got ${show(options.format)})`,
    );
  const toLog = transport === 'tail' || options.format === 'emf';
  const endpoint = toLog && options.endpoint === undefined ? LOG_ENDPOINT : str('endpoint', options.endpoint);
  let url;
  try {
    url = new URL(endpoint);
  } catch {
    throw new TypeError(`edgemetrics: options.endpoint is not a valid URL: ${showUrl(endpoint)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError(`edgemetrics: options.endpoint must be an http(s) URL, got ${showUrl(endpoint)}`);
  const format = oneOf('format', options.format ?? (transport === 'tail' ? 'compact' : 'otlp-proto'), Object.keys(FORMAT));
  const promFamily = format === 'remote-write' || format === 'pushgateway';
  const temporality = oneOf('temporality', options.temporality ?? (promFamily ? 'cumulative' : 'delta'), ['delta', 'cumulative']);
  if (promFamily && temporality === 'delta') {
    throw new RangeError(
      `edgemetrics: options.temporality 'delta' cannot be sent with format '${format}' (Prometheus stores running totals); use 'cumulative' or an OTLP format`,
    );
  }
  const compression = oneOf('compression', options.compression ?? 'none', ['none', 'gzip']);
  if (compression === 'gzip' && !GZIP_FORMATS.includes(format)) {
    throw new RangeError(`edgemetrics: options.compression 'gzip' is not available with format '${format}' (only ${GZIP_FORMATS.join(', ')})`);
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (typeof timeoutMs !== 'number') throw wrongType('timeoutMs', 'a number', timeoutMs);
  // At most 2^31 - 1 ms: Node fires a longer timer after 1 ms, so every flush would end at once.
  if (!(timeoutMs > 0 && timeoutMs < 2 ** 31))
    throw new RangeError(`edgemetrics: options.timeoutMs must be a positive number of at most 2147483647; got ${show(timeoutMs)}`);
  const fetch = fn('fetch', options.fetch);
  const onFlush = fn('onFlush', options.onFlush);
  const selfMetrics = bool('selfMetrics', options.selfMetrics, true);
  const headers = stringMap('headers', options.headers);
  // Detected platform attributes (telemetry.sdk.*, cloud.*, faas.*) under the explicit ones;
  // `detectResource: false` leaves them out (e.g. to compare bytes with a reference encoding).
  const detect = bool('detectResource', options.detectResource, true);
  const resource = { ...(detect ? detectResource(hostLookup(undefined)) : {}), ...plainObject('resource', options.resource) };
  const serviceName = str(
    options.serviceName === undefined && resource['service.name'] !== undefined ? 'resource.service.name' : 'serviceName',
    options.serviceName ?? resource['service.name'] ?? 'unknown_service',
  );

  // The buffer: an attribute key whose names are abi.js OPTION names.
  const buf = {
    format: FORMAT[format],
    serviceName,
    endpoint: endpoint.replace(/\/+$/, ''),
    cumulative: temporality === 'cumulative',
    selfMetrics,
    gzip: compression === 'gzip',
  };
  const limits = plainObject('limits', options.limits);
  unknownKeys('limits.', limits, LIMIT_KEYS);
  const attrLimits = { ...LIMIT_DEFAULTS };
  for (const k of Object.keys(limits)) {
    buf[`limits.${k}`] = positiveInt(`limits.${k}`, limits[k]);
    if (k in attrLimits) attrLimits[k] = limits[k];
  }
  const retry = plainObject('retry', options.retry);
  unknownKeys('retry.', retry, RETRY_KEYS);
  for (const k of Object.keys(retry)) buf[`retry.${k}`] = positiveInt(`retry.${k}`, retry[k]);
  for (const k of Object.keys(resource)) {
    if (k === 'service.name') continue;
    const v = resource[k];
    const t = typeof v;
    if (t !== 'string' && t !== 'boolean' && !(t === 'number' && Number.isFinite(v)) && t !== 'bigint') {
      throw wrongType(`resource[${JSON.stringify(k)}]`, 'a string, finite number, bigint or boolean', v);
    }
    buf[`resource.${k}`] = v;
  }
  for (const k of Object.keys(headers)) buf[`headers.${k}`] = headers[k];

  let remoteWrite = null;
  if (options.remoteWrite !== undefined) {
    needsFormat('remoteWrite', 'remote-write', format);
    const rw = plainObject('remoteWrite', options.remoteWrite);
    unknownKeys('remoteWrite.', rw, ['path', 'externalLabels']);
    remoteWrite = {
      path: rw.path === undefined ? undefined : str('remoteWrite.path', rw.path),
      labels: attributeKey(stringMap('remoteWrite.externalLabels', rw.externalLabels)),
    };
  }
  let pushgateway = null;
  if (options.pushgateway !== undefined) {
    needsFormat('pushgateway', 'pushgateway', format);
    const pg = plainObject('pushgateway', options.pushgateway);
    unknownKeys('pushgateway.', pg, ['job', 'grouping', 'method']);
    const job = pg.job === undefined ? undefined : str('pushgateway.job', pg.job);
    const method = oneOf('pushgateway.method', pg.method ?? 'PUT', ['PUT', 'POST']);
    if (job === undefined && pg.grouping !== undefined) throw new TypeError('edgemetrics: options.pushgateway.grouping needs options.pushgateway.job');
    pushgateway = { job, grouping: attributeKey(stringMap('pushgateway.grouping', pg.grouping)), put: method === 'PUT' };
  }
  const flush = checkFlush(options.flush);
  return {
    buffer: attributeKey(buf),
    flush,
    endpoint: toLog && options.endpoint === undefined ? '' : buf.endpoint,
    format,
    temporality,
    headers: Object.entries(headers),
    timeoutMs,
    fetch,
    onFlush,
    attrLimits,
    cardinality: limits.cardinality,
    remoteWrite,
    pushgateway,
    // Where a batch goes: 'fetch' (HTTP), 'tail' (one log line), 'stdout' (EMF lines).
    transport: transport === 'tail' ? 'tail' : format === 'emf' ? 'stdout' : 'fetch',
  };
}
