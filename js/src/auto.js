// Automatic metrics that every wrapper records around the invocation it already brackets. Why a
// module of its own: withMetrics, wrapLambda, the Workers class/Pages wrappers, withWaitUntil and
// the Hono middleware all know when an invocation starts, ends, throws, and whether it is the
// first one in the isolate; they share this one implementation of the semantic conventions:
//
//   HTTP server (fetch-shaped handlers), stable conventions:
//     http.server.request.duration  histogram, s, the advised buckets
//     http.server.active_requests   up-down counter, {request}
//     attributes: http.request.method (`_OTHER` outside the registry), url.scheme, http.route
//     (when the wrapper knows the route template), http.response.status_code, error.type (the
//     exception's name, or the status code for 5xx)
//   FaaS (every invocation; fetch-shaped ones have faas.trigger=http):
//     faas.invocations      counter, {invocation}  successful invocations (the handler returned)
//     faas.errors           counter, {error}       invocations whose handler threw / rejected
//     faas.coldstarts       counter, {coldstart}   1 at the first invocation in the isolate
//     faas.invoke_duration  histogram, s, the advised buckets
//     attribute: faas.trigger (http, timer, pubsub, datasource, other)
//
// Clocks: durations use `performance.now()`. On Cloudflare Workers the clock does not advance
// while JavaScript runs (a Spectre mitigation): it moves only across I/O, so these durations
// cover the time spent waiting on I/O (subrequests, KV, ...), not CPU time.
//
// Nothing here throws into the handler: recording failures are swallowed (the core counts
// rejected values itself).
import { HTTP_DURATION_BUCKETS_SECONDS } from './semconv.js';

const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE', 'QUERY']);
const BUCKETS = Array.from(HTTP_DURATION_BUCKETS_SECONDS);

const now = typeof performance === 'object' && typeof performance.now === 'function' ? () => performance.now() : () => Date.now();

/**
 * What every copy of this module in the isolate shares: each package entry bundles its own copy
 * (build.mjs), and an app may load two (say `withMetrics` from `edgemetrics/all` around a
 * middleware from `edgemetrics/hono`). `coldStartPending`: whether the next invocation is the
 * isolate's first. `inFlight`: see below.
 */
const SHARED = (globalThis[Symbol.for('edgemetrics.auto')] ??= { coldStartPending: true, inFlight: new WeakMap() });

/** Instruments per Metrics object (created once; lenient: a disabled Metrics gives no-ops). */
const httpInstruments = new WeakMap();
const faasInstruments = new WeakMap();

/**
 * Requests whose HTTP metrics a wrapper is recording: a Hono middleware running inside the
 * wrapper, with the same Metrics, hands its route and error to the wrapper's record instead of
 * recording a second time.
 */
const inFlight = SHARED.inFlight;

/**
 * Validates a wrapper's `auto` option: `undefined`/`true` (all groups on), `false` (all off), or
 * `{ http?: boolean, faas?: boolean }`. Throws a TypeError naming the option.
 * @returns {{ http: boolean, faas: boolean }}
 */
export function autoOptions(auto, who) {
  if (auto === undefined || auto === true) return { http: true, faas: true };
  if (auto === false) return { http: false, faas: false };
  if (auto === null || typeof auto !== 'object') throw new TypeError(`edgemetrics: ${who} option auto must be a boolean or { http?: boolean, faas?: boolean }`);
  for (const k of Object.keys(auto)) {
    if (k !== 'http' && k !== 'faas') throw new TypeError(`edgemetrics: ${who} option auto has an unknown key ${JSON.stringify(k)} (known: http, faas)`);
    if (typeof auto[k] !== 'boolean') throw new TypeError(`edgemetrics: ${who} option auto.${k} must be a boolean`);
  }
  return { http: auto.http ?? true, faas: auto.faas ?? true };
}

function httpOf(metrics) {
  let i = httpInstruments.get(metrics);
  if (!i) {
    i = {
      duration: metrics.histogram('http.server.request.duration', {
        unit: 's',
        description: 'Duration of HTTP server requests.',
        bounds: BUCKETS,
      }),
      active: metrics.upDownCounter('http.server.active_requests', {
        unit: '{request}',
        description: 'Number of active HTTP server requests.',
      }),
    };
    httpInstruments.set(metrics, i);
  }
  return i;
}

function faasOf(metrics) {
  let i = faasInstruments.get(metrics);
  if (!i) {
    i = {
      invocations: metrics.counter('faas.invocations', { unit: '{invocation}', description: 'Number of successful invocations.' }),
      errors: metrics.counter('faas.errors', { unit: '{error}', description: 'Number of invocation errors.' }),
      coldstarts: metrics.counter('faas.coldstarts', { unit: '{coldstart}', description: 'Number of invocation cold starts.' }),
      duration: metrics.histogram('faas.invoke_duration', {
        unit: 's',
        description: "Measures the duration of the function's logic execution.",
        bounds: BUCKETS,
      }),
    };
    faasInstruments.set(metrics, i);
  }
  return i;
}

/** The `error.type` of an exception: its name (or constructor name), else `_OTHER`. */
export function errorType(e) {
  try {
    const n = e?.name ?? e?.constructor?.name;
    return typeof n === 'string' && n !== '' ? n : '_OTHER';
  } catch {
    return '_OTHER';
  }
}

/**
 * Starts the HTTP server metrics of one request (`request`: a Fetch `Request` or anything with
 * `method` and `url`). Returns a state for `httpEnd`, or null when nothing could be started.
 * With `delegate`, a wrapper already recording this request with the same Metrics takes the
 * route/error from the caller instead (see `httpEnd`).
 */
export function httpStart(metrics, request, delegate = false) {
  try {
    if (delegate && request !== null && typeof request === 'object') {
      const outer = inFlight.get(request);
      if (outer && outer.metrics === metrics) return { metrics, outer, start: 0, base: null, request: null, route: undefined, error: undefined };
    }
    let method = 'GET';
    let scheme = 'http';
    try {
      const m = request.method;
      method = KNOWN_METHODS.has(m) ? m : '_OTHER';
      scheme = String(request.url).startsWith('https:') ? 'https' : 'http';
    } catch {
      // keep the defaults
    }
    const base = { 'http.request.method': method, 'url.scheme': scheme };
    httpOf(metrics).active.add(1, base);
    const s = { metrics, outer: null, start: now(), base, request: null, route: undefined, error: undefined };
    if (request !== null && typeof request === 'object') {
      try {
        inFlight.set(request, s);
        s.request = request;
      } catch {
        // not a usable key: no delegation for this request
      }
    }
    return s;
  } catch {
    return null;
  }
}

/**
 * Ends what `httpStart` began: `status` (the response's status; 500 when the handler threw),
 * `route` (the route template, when known), `error` (the exception, if any). Never throws.
 */
export function httpEnd(s, { status, route, error } = {}) {
  if (!s) return;
  try {
    if (s.outer) {
      // The wrapper outside records this request: hand it what only the caller knows.
      if (route !== undefined) s.outer.route = route;
      if (error !== undefined && error !== null) s.outer.error = error;
      return;
    }
    if (s.request) inFlight.delete(s.request);
    const attrs = { ...s.base };
    const r = route ?? s.route;
    if (r !== undefined) attrs['http.route'] = r;
    const code = typeof status === 'number' && Number.isInteger(status) ? status : 500;
    attrs['http.response.status_code'] = code;
    const err = error ?? s.error;
    if (err !== undefined && err !== null) attrs['error.type'] = errorType(err);
    else if (code >= 500) attrs['error.type'] = String(code);
    const i = httpOf(s.metrics);
    i.duration.record((now() - s.start) / 1000, attrs);
    i.active.add(-1, s.base);
  } catch {
    // recording never breaks the request
  }
}

/** The status of a handler's result when it is a Response (or Response-like), else undefined. */
export function statusOf(result) {
  try {
    const s = result?.status;
    return typeof s === 'number' ? s : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts the automatic metrics of one invocation. `auto` from `autoOptions`; `trigger` the
 * `faas.trigger` value; `request` the Request for fetch-shaped handlers (HTTP metrics), else
 * undefined. Returns a token for `invocationEnd` (null when both groups are off). Never throws.
 */
export function invocationStart(metrics, auto, trigger, request) {
  if (!auto.http && !auto.faas) return null;
  try {
    const t = { metrics, auto, trigger, start: now(), http: null };
    if (auto.faas && SHARED.coldStartPending) {
      SHARED.coldStartPending = false;
      faasOf(metrics).coldstarts.add(1, { 'faas.trigger': trigger });
    }
    if (auto.http && request !== undefined && request !== null) t.http = httpStart(metrics, request);
    return t;
  } catch {
    return null;
  }
}

/**
 * Ends an invocation: `threw` with `error` when the handler threw or rejected, else `result` (a
 * Response gives the status). `route` when the wrapper knows it. Never throws.
 */
export function invocationEnd(t, { threw = false, error, result, route } = {}) {
  if (!t) return;
  try {
    if (t.http) httpEnd(t.http, { status: threw ? 500 : statusOf(result), route, error: threw ? error : undefined });
    if (t.auto.faas) {
      const i = faasOf(t.metrics);
      const attrs = { 'faas.trigger': t.trigger };
      (threw ? i.errors : i.invocations).add(1, attrs);
      i.duration.record((now() - t.start) / 1000, attrs);
    }
  } catch {
    // recording never breaks the invocation
  }
}

/** `faas.trigger` of a module-worker handler name. */
export function triggerOfHandler(name) {
  switch (name) {
    case 'fetch':
      return 'http';
    case 'scheduled':
    case 'alarm':
      return 'timer';
    case 'queue':
      return 'pubsub';
    default:
      return 'other';
  }
}

/** `faas.trigger` of an AWS Lambda event, from its shape (API Gateway/ALB/function URL, SQS, ...). */
export function triggerOfLambdaEvent(event) {
  try {
    if (event === null || typeof event !== 'object') return 'other';
    if (event.requestContext?.http || typeof event.httpMethod === 'string' || event.requestContext?.elb) return 'http';
    const first = Array.isArray(event.Records) ? event.Records[0] : undefined;
    const source = first?.eventSource ?? first?.EventSource;
    if (typeof source === 'string') {
      if (source === 'aws:sqs' || source === 'aws:sns' || source === 'aws:kinesis' || source === 'aws:kafka' || source === 'aws:mq') return 'pubsub';
      if (source === 'aws:s3' || source === 'aws:dynamodb') return 'datasource';
    }
    if (event.source === 'aws.events' && event['detail-type'] === 'Scheduled Event') return 'timer';
    if (event.source === 'aws.scheduler') return 'timer';
    return 'other';
  } catch {
    return 'other';
  }
}
