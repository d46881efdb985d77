// The runtime-independent part of the `edgemetrics` package. Each entry point (workerd.js,
// node.js, deno.js, browser.js) gives `setLoader` a function that instantiates the wasm module
// synchronously the first time a `Metrics` is created. Nothing here runs IO or timers at module
// scope.
import { Core } from './edgemetrics_wasm.js';
import { hostLookup, resolveOptions } from './env.js';
import { detectResource } from './resource.js';

let loader = null;
let loaded = false;

/** @internal */
export function setLoader(fn) {
  loader = fn;
}

/** @internal */
export function markLoaded() {
  loaded = true;
}

function ensureLoaded() {
  if (loaded) return;
  if (!loader) throw new Error('edgemetrics: the wasm module is not initialised; call `await init()` first');
  loader();
  loaded = true;
}

const FORMATS = { 'otlp-proto': 0, 'otlp-json': 1, 'remote-write': 2, pushgateway: 3, compact: 4 };
const KIND = { counter: 0, upDownCounter: 1, gauge: 2, histogram: 3 };
const RETRY_KEYS = ['maxAttempts', 'attemptTimeoutMs', 'backoffBaseMs', 'backoffCapMs'];
/** 128 bits for the push plan's generator (batch ids, jitter). */
function seed() {
  const w = new Uint32Array(4);
  globalThis.crypto.getRandomValues(w);
  return w;
}
const LIMIT_KEYS = ['cardinality', 'maxInstruments', 'maxSeries', 'maxAttributeBytes', 'maxAttributes', 'maxKeyLength', 'maxValueLength'];
/** Attribute sets cached per instrument (each one is bound, i.e. pinned, in the core). */
const DEFAULT_CACHE = 1000;

/**
 * Builds the attribute key (format in bindings/src/lib.rs): injective thanks to the length
 * prefixes, so it is both the JS cache key and what the core decodes.
 */
export function attributeKey(attrs) {
  let s = '';
  for (const k in attrs) {
    const v = attrs[k];
    switch (typeof v) {
      case 'string':
        s += k.length + ':' + k + 's' + v.length + ':' + v;
        break;
      case 'number':
        s += k.length + ':' + k + (Number.isSafeInteger(v) ? 'i' + v + ';' : 'd' + doubleHex(v));
        break;
      case 'boolean':
        s += k.length + ':' + k + (v ? 't' : 'f');
        break;
      case 'bigint':
        s += k.length + ':' + k + 'i' + v + ';';
        break;
      case 'undefined':
        break;
      default: {
        if (v === null) break;
        const t = String(v);
        s += k.length + ':' + k + 's' + t.length + ':' + t;
      }
    }
  }
  return s;
}

const f64view = new DataView(new ArrayBuffer(8));
/** IEEE-754 bits of `v` as 16 hex digits (big-endian): exact, and cheap for the core to read. */
function doubleHex(v) {
  f64view.setFloat64(0, v);
  return f64view.getUint32(0).toString(16).padStart(8, '0') + f64view.getUint32(4).toString(16).padStart(8, '0');
}

const num = (v) => (typeof v === 'bigint' ? Number(v) : NaN);

/** A handle to one attribute set of one instrument: every call is one wasm call with numbers. */
class Bound {
  constructor(core, handle) {
    this._c = core;
    this._h = handle;
  }
  add(value) {
    try {
      this._c.recordBound(this._h, typeof value === 'number' ? value : num(value));
    } catch {
      // Recording never throws; a failure here can only be a broken module.
    }
  }
  record(value) {
    this.add(value);
  }
  set(value) {
    this.add(value);
  }
}

/** Marks the handle stored in a trie node. */
const LEAF = Symbol('handle');

class Instrument {
  constructor(metrics, id, name, kind) {
    this.name = name;
    this.kind = kind;
    this._c = metrics._core;
    this._id = id;
    // Attribute-set cache: a trie of Maps, attribute key → Map(value → next node), the bound
    // handle under LEAF. A hit costs two Map lookups per attribute with the caller's own
    // (usually interned) strings and numbers as keys: no string is built, nothing allocated.
    this._trie = new Map();
    this._cached = 0;
    this._cacheMax = metrics._cacheMax;
  }
  /** Bound handle for `attrs`, binding on a miss; -1 when the cache is full. */
  _handle(attrs) {
    let node = this._trie;
    if (attrs !== undefined && attrs !== null && typeof attrs === 'object') {
      for (const k in attrs) {
        const v = attrs[k];
        // Objects and functions would be cached by identity: build their key instead.
        if ((typeof v === 'object' && v !== null) || typeof v === 'function') return this._miss(attrs);
        const values = node.get(k);
        if (values === undefined) return this._miss(attrs);
        node = values.get(v);
        if (node === undefined) return this._miss(attrs);
      }
    }
    const h = node.get(LEAF);
    return h === undefined ? this._miss(attrs) : h;
  }
  _miss(attrs) {
    const key = keyOf(attrs);
    if (this._cached >= this._cacheMax) return -1;
    const h = this._c.bind(this._id, key);
    let cacheable = true;
    let node = this._trie;
    if (attrs !== undefined && attrs !== null && typeof attrs === 'object') {
      for (const k in attrs) {
        const v = attrs[k];
        if ((typeof v === 'object' && v !== null) || typeof v === 'function') {
          cacheable = false;
          break;
        }
        let values = node.get(k);
        if (values === undefined) node.set(k, (values = new Map()));
        let next = values.get(v);
        if (next === undefined) values.set(v, (next = new Map()));
        node = next;
      }
    }
    if (cacheable && !node.has(LEAF)) {
      node.set(LEAF, h);
      this._cached++;
    }
    return h;
  }
  _rec(value, attrs) {
    try {
      if (typeof value !== 'number') value = num(value);
      const h = this._handle(attrs);
      if (h >= 0) this._c.recordBound(h, value);
      else this._c.record(this._id, value, keyOf(attrs));
    } catch {
      // Recording never throws.
    }
  }
  /** Binds an attribute set; the returned handle's calls skip all attribute work. */
  bind(attrs) {
    let h = this._handle(attrs);
    if (h < 0) h = this._c.bind(this._id, keyOf(attrs));
    return new Bound(this._c, h);
  }
}

const keyOf = (attrs) => (attrs === undefined || attrs === null || typeof attrs !== 'object' ? '' : attributeKey(attrs));

class Counter extends Instrument {
  add(value, attrs) {
    this._rec(value, attrs);
  }
}
class UpDownCounter extends Instrument {
  add(value, attrs) {
    this._rec(value, attrs);
  }
}
class Gauge extends Instrument {
  set(value, attrs) {
    this._rec(value, attrs);
  }
  record(value, attrs) {
    this._rec(value, attrs);
  }
}
class Histogram extends Instrument {
  record(value, attrs) {
    this._rec(value, attrs);
  }
}
const CLASSES = { counter: Counter, upDownCounter: UpDownCounter, gauge: Gauge, histogram: Histogram };

function checkString(what, v, optional) {
  if (v === undefined && optional) return '';
  if (typeof v !== 'string') throw new TypeError(`edgemetrics: ${what} must be a string, got ${v === null ? 'null' : typeof v}`);
  return v;
}

function stringPairs(what, v) {
  const o = checkAttrs(what, v);
  for (const k in o) if (typeof o[k] !== 'string') throw new TypeError(`edgemetrics: ${what}.${k} must be a string`);
  return attributeKey(o);
}

function checkAttrs(what, v) {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TypeError(`edgemetrics: ${what} must be an object of attributes`);
  return v;
}

export class Metrics {
  /**
   * @param {object} options see index.d.ts
   */
  constructor(options = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('edgemetrics: options must be an object');
    const endpoint = checkString('options.endpoint', options.endpoint);
    let url;
    try {
      url = new URL(endpoint);
    } catch {
      throw new TypeError(`edgemetrics: options.endpoint is not a valid URL: ${JSON.stringify(endpoint)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`edgemetrics: options.endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
    }
    this.endpoint = endpoint.replace(/\/+$/, '');
    const format = options.format ?? 'otlp-proto';
    if (!Object.hasOwn(FORMATS, format)) {
      throw new RangeError(`edgemetrics: options.format must be one of ${Object.keys(FORMATS).join(', ')}; got ${JSON.stringify(format)}`);
    }
    this.format = format;
    const promFamily = format === 'remote-write' || format === 'pushgateway';
    const temporality = options.temporality ?? (promFamily ? 'cumulative' : 'delta');
    if (temporality !== 'delta' && temporality !== 'cumulative') {
      throw new RangeError(`edgemetrics: options.temporality must be 'delta' or 'cumulative'; got ${JSON.stringify(temporality)}`);
    }
    this.temporality = temporality;
    const headers = checkAttrs('options.headers', options.headers);
    this._headers = [];
    for (const k in headers) {
      if (typeof headers[k] !== 'string') throw new TypeError(`edgemetrics: header ${JSON.stringify(k)} must be a string`);
      this._headers.push([k, headers[k]]);
    }
    // Detected platform attributes (telemetry.sdk.*, cloud.*, faas.*) under the explicit ones.
    // `detectResource: false` leaves them out (e.g. to compare bytes with a reference encoding).
    const detected = options.detectResource === false ? {} : detectResource(hostLookup(undefined));
    const resource = { ...detected, ...checkAttrs('options.resource', options.resource) };
    const serviceName = checkString('options.serviceName', options.serviceName ?? resource['service.name'] ?? 'unknown_service');
    const limits = checkAttrs('options.limits', options.limits);
    const lim = new Uint32Array(LIMIT_KEYS.length);
    for (const k in limits) {
      const i = LIMIT_KEYS.indexOf(k);
      if (i < 0) throw new RangeError(`edgemetrics: unknown limit ${JSON.stringify(k)}; known: ${LIMIT_KEYS.join(', ')}`);
      const v = limits[k];
      if (!Number.isSafeInteger(v) || v < 1 || v > 0xffffffff) throw new RangeError(`edgemetrics: limits.${k} must be a positive integer; got ${String(v)}`);
      lim[i] = v;
    }
    const compression = options.compression ?? 'none';
    if (compression !== 'none' && compression !== 'gzip') {
      throw new RangeError(`edgemetrics: options.compression must be 'none' or 'gzip'; got ${JSON.stringify(compression)}`);
    }
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new RangeError(`edgemetrics: options.timeoutMs must be a positive number; got ${String(timeoutMs)}`);
    this._timeoutMs = timeoutMs;
    if (options.fetch !== undefined && typeof options.fetch !== 'function') throw new TypeError('edgemetrics: options.fetch must be a function');
    this._fetch = options.fetch;
    this._cacheMax = Math.min(DEFAULT_CACHE, lim[0] || DEFAULT_CACHE);
    const retryOpts = checkAttrs('options.retry', options.retry);
    const retry = new Uint32Array(RETRY_KEYS.length);
    for (const k in retryOpts) {
      const i = RETRY_KEYS.indexOf(k);
      if (i < 0) throw new RangeError(`edgemetrics: unknown retry option ${JSON.stringify(k)}; known: ${RETRY_KEYS.join(', ')}`);
      const v = retryOpts[k];
      if (!Number.isSafeInteger(v) || v < 1 || v > 0xffffffff) throw new RangeError(`edgemetrics: retry.${k} must be a positive integer; got ${String(v)}`);
      retry[i] = v;
    }
    ensureLoaded();
    const { 'service.name': _ignored, ...rest } = resource;
    try {
      this._core = new Core(
        FORMATS[format],
        serviceName,
        attributeKey(rest),
        temporality === 'cumulative',
        options.selfMetrics ?? true,
        lim,
        this.endpoint,
        attributeKey(Object.fromEntries(this._headers)),
        compression === 'gzip',
        retry,
        seed(),
      );
    } catch (e) {
      const msg = typeof e === 'string' ? e : String(e?.message ?? e);
      throw msg.startsWith('invalid push configuration') ? new TypeError(`edgemetrics: ${msg}`) : new RangeError(`edgemetrics: ${msg}`);
    }
    if (format === 'remote-write' && options.remoteWrite !== undefined) {
      const rw = checkAttrs('options.remoteWrite', options.remoteWrite);
      const path = rw.path === undefined ? undefined : checkString('remoteWrite.path', rw.path);
      const labels = stringPairs('remoteWrite.externalLabels', rw.externalLabels);
      if (!this._core.configureRemoteWrite(path, labels)) throw new TypeError(`edgemetrics: ${this._core.error()}`);
    }
    if (format === 'pushgateway' && options.pushgateway !== undefined) {
      const pg = checkAttrs('options.pushgateway', options.pushgateway);
      const job = pg.job === undefined ? undefined : checkString('pushgateway.job', pg.job);
      const method = pg.method ?? 'PUT';
      if (method !== 'PUT' && method !== 'POST') throw new RangeError(`edgemetrics: pushgateway.method must be 'PUT' or 'POST'; got ${JSON.stringify(method)}`);
      if (job === undefined && pg.grouping !== undefined) throw new TypeError('edgemetrics: pushgateway.grouping needs pushgateway.job');
      if (!this._core.configurePushgateway(job, stringPairs('pushgateway.grouping', pg.grouping), method === 'PUT')) {
        throw new TypeError(`edgemetrics: ${this._core.error()}`);
      }
    }
    this._instruments = new Map();
    this._inFlight = 0;
    this._queue = null;
  }

  _instrument(kind, name, opts) {
    if (typeof name !== 'string') throw new TypeError(`edgemetrics: instrument name must be a string, got ${name === null ? 'null' : typeof name}`);
    const key = kind + '\0' + name;
    const existing = this._instruments.get(key);
    if (existing) return existing;
    if (opts === null || (opts !== undefined && typeof opts !== 'object')) throw new TypeError('edgemetrics: instrument options must be an object');
    const unit = checkString('unit', opts?.unit, true);
    const description = checkString('description', opts?.description, true);
    let bounds = new Float64Array(0);
    const hasBounds = kind === 'histogram' && opts?.bounds !== undefined;
    if (hasBounds) {
      if (!Array.isArray(opts.bounds) && !(opts.bounds instanceof Float64Array)) throw new TypeError('edgemetrics: bounds must be an array of numbers');
      if (!Array.from(opts.bounds).every((b) => typeof b === 'number')) throw new TypeError('edgemetrics: bounds must be an array of numbers');
      bounds = Float64Array.from(opts.bounds);
    }
    const id = this._core.instrument(KIND[kind], name, unit, description, hasBounds, bounds);
    if (id < 0) {
      const msg = `edgemetrics: ${this._core.error()}`;
      throw id === -2 ? new RangeError(msg) : new TypeError(msg);
    }
    const inst = new CLASSES[kind](this, id, name, kind);
    this._instruments.set(key, inst);
    return inst;
  }
  counter(name, opts) {
    return this._instrument('counter', name, opts);
  }
  upDownCounter(name, opts) {
    return this._instrument('upDownCounter', name, opts);
  }
  gauge(name, opts) {
    return this._instrument('gauge', name, opts);
  }
  histogram(name, opts) {
    return this._instrument('histogram', name, opts);
  }

  /** Marks the start of an invocation (unix ms; default `Date.now()`). */
  begin(nowMs) {
    try {
      this._core.begin(typeof nowMs === 'number' ? nowMs : Date.now());
    } catch {
      // never throws
    }
  }

  /**
   * Collects and encodes what was recorded since the last flush without sending it, for hosts
   * with their own transport (no retries, no idempotency header: the push plan is bypassed).
   * Returns `null` when there is nothing to send. Never throws.
   * @param {number} [nowMs] end of the window, unix ms (default `Date.now()`)
   */
  prepare(nowMs) {
    try {
      const points = this._core.prepare(typeof nowMs === 'number' ? nowMs : Date.now());
      if (points === 0) return null;
      const headers = {};
      for (const line of this._core.headers().split('\n')) {
        const i = line.indexOf(': ');
        if (i > 0) headers[line.slice(0, i)] = line.slice(i + 2);
      }
      for (const [k, v] of this._headers) headers[k] = v;
      return { method: this._core.method(), url: this.endpoint.endsWith(this._core.path()) ? this.endpoint : this.endpoint + this._core.path(), headers, body: this._core.body(), points };
    } catch {
      return null;
    }
  }

  /**
   * Collects, encodes and delivers what was recorded since the last flush (plus data a failed
   * earlier flush carried over): one batch, or nothing when nothing was recorded. The core's push
   * plan decides everything (retry on 429/5xx/transport errors with backoff and jitter or
   * `Retry-After`, same idempotency key on every attempt, give up before the deadline, carry the
   * batch over or drop it); JS only fetches, sleeps and gzips. Never rejects.
   *
   * Flushes of one Metrics run one after the other (concurrent invocations in one isolate, as in
   * workerd, each get their own batch): a flush that starts while another is in flight waits for
   * it, instead of abandoning its batch into the next one.
   * @param {{ deadline?: number }} [opts] unix ms by which the flush must be over
   * @returns {Promise<object>}
   */
  flush(opts) {
    const run = () => this._flushNow(opts);
    // Idle: collect now (synchronously, so the batch holds exactly what was recorded before
    // this call). Busy: queue behind the flush in flight; the batch is collected when it starts.
    const p = this._inFlight > 0 ? this._queue.then(run) : run();
    this._inFlight = (this._inFlight ?? 0) + 1;
    this._queue = p.then((r) => {
      this._inFlight -= 1;
      return r;
    });
    return p;
  }

  async _flushNow(opts) {
    const result = { sent: false, status: 0, bytes: 0, attempts: 0, dropped: 0, carried: 0 };
    const core = this._core;
    try {
      const now = Date.now();
      const deadline = Math.min(now + this._timeoutMs, typeof opts?.deadline === 'number' ? opts.deadline : Infinity);
      if (!core.start(now, Math.max(0, Math.floor(deadline - now)))) {
        const err = core.error();
        if (err) {
          result.error = err;
          readReport(core, result);
        }
        return result;
      }
      let gzipped = null;
      // Bounded: the plan allows a few attempts and waits only within the deadline; the step cap
      // is a second fence against a plan that would never finish.
      for (let step = 0; step < 100; step++) {
        const action = core.next(Date.now());
        if (action === 1) {
          const body = core.reqGzip() ? (gzipped ??= await gzip(core.reqBody())) : core.reqBody();
          const headers = new Headers();
          for (const line of core.reqHeaders().split('\n')) {
            const i = line.indexOf(': ');
            if (i > 0) headers.set(line.slice(0, i), line.slice(i + 2));
          }
          if (core.reqGzip() && body === null) headers.delete('Content-Encoding');
          const sent = body ?? core.reqBody();
          result.bytes = sent.length;
          try {
            const res = await this._send(core.reqUrl(), core.reqMethod(), headers, sent, core.reqTimeout());
            let resBody = new Uint8Array(0);
            try {
              resBody = new Uint8Array(await res.arrayBuffer());
            } catch {
              // an unreadable body is judged as empty
            }
            core.onResponse(res.status, res.headers.get('retry-after') ?? undefined, resBody, Date.now());
          } catch (e) {
            core.onError(transportErrorKind(e), Date.now());
            result.error = String(e?.message ?? e);
          }
        } else if (action === 2) {
          const ms = Math.max(0, core.waitUntil() - Date.now());
          await new Promise((r) => setTimeout(r, ms));
        } else break;
      }
      readReport(core, result);
      return result;
    } catch (e) {
      result.error = String(e?.message ?? e);
      return result;
    }
  }

  async _send(url, method, headers, body, timeoutMs) {
    const f = this._fetch ?? globalThis.fetch;
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort(new TimeoutError(`timed out after ${Math.round(timeoutMs)} ms`));
    }, timeoutMs);
    try {
      const res = await f(url, { method, headers, body, signal: ac.signal });
      if (!res || typeof res.status !== 'number') throw new Error('fetch returned no response');
      return res;
    } catch (e) {
      // workerd's fetch rejects with a copy of the abort reason (a plain Error with the same
      // message), not the TimeoutError itself, so a timeout was reported to the core as `other`
      // (found by test/faults.test.mjs). Our own timer firing is what makes it a timeout.
      if (timedOut && !(e instanceof TimeoutError)) throw new TimeoutError(`timed out after ${Math.round(timeoutMs)} ms`);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }
}

class TimeoutError extends Error {}

/** Maps a failed fetch to the core's transport error kinds: 0 refused, 1 reset, 2 timeout, 3 other. */
function transportErrorKind(e) {
  if (e instanceof TimeoutError || e?.name === 'TimeoutError' || e?.name === 'AbortError') return 2;
  const text = `${e?.message ?? ''} ${e?.cause?.code ?? ''} ${e?.cause?.message ?? ''} ${e?.code ?? ''}`;
  if (/ECONNREFUSED|refused/i.test(text)) return 0;
  if (/ECONNRESET|reset|socket hang up|UND_ERR_SOCKET|other side closed/i.test(text)) return 1;
  return 3;
}

async function gzip(bytes) {
  if (typeof CompressionStream !== 'function') return null;
  return new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer());
}

function readReport(core, result) {
  const r = core.report();
  result.attempts = r[1];
  result.status = r[3];
  result.dropped = r[4];
  result.carried = r[5];
  if (r[6] > 0) result.rejected = r[6];
  result.sent = r[0] === 1;
  if (r[0] === 3) result.error = core.reportReason();
  else if (r[0] === 1) delete result.error;
}

/**
 * The wrappers' Metrics: explicit options (an object, or a function of the Workers `env`) over
 * the OTEL_* / EDGEMETRICS_* environment (env.js). When metrics must stay off (see
 * `resolveOptions`), a Metrics that records and discards: its flush sends nothing and reports why.
 */
function metricsFor(m, env) {
  if (m instanceof Metrics) return m;
  const explicit = typeof m === 'function' ? m(env) : m;
  const { options, reason } = resolveOptions(explicit ?? {}, hostLookup(env));
  if (reason === undefined) return new Metrics(options);
  let off;
  try {
    off = new Metrics({ ...options, endpoint: 'http://127.0.0.1/' });
  } catch {
    off = new Metrics({ endpoint: 'http://127.0.0.1/' });
  }
  if (!warned) {
    warned = true;
    console.warn(`edgemetrics: ${reason}`);
  }
  off.flush = async () => {
    off.prepare();
    return { sent: false, status: 0, bytes: 0, attempts: 0, dropped: 0, carried: 0, error: reason };
  };
  return off;
}
let warned = false;

/**
 * Wraps a module worker (`{ fetch, scheduled, queue, ... }`): each handler call begins a window,
 * and the flush is handed to `ctx.waitUntil` (awaited when there is no `waitUntil`). The Metrics
 * object (or one built from `options`, or from `options(env)` at the first invocation) is passed
 * as an extra last argument and is also available as `wrapped.metrics` once created.
 */
export function withMetrics(handler, metricsOrOptions) {
  let metrics = metricsOrOptions instanceof Metrics ? metricsOrOptions : null;
  if (!metrics && (metricsOrOptions === null || (typeof metricsOrOptions !== 'object' && typeof metricsOrOptions !== 'function' && metricsOrOptions !== undefined))) {
    throw new TypeError('edgemetrics: withMetrics needs a Metrics object, options, a function (env) => options, or nothing (OTEL_* environment)');
  }
  const wrapped = {};
  for (const name of ['fetch', 'scheduled', 'queue', 'email', 'tail', 'trace']) {
    if (typeof handler[name] !== 'function') continue;
    wrapped[name] = async function (event, env, ctx) {
      if (!metrics) metrics = metricsFor(metricsOrOptions, env);
      wrapped.metrics = metrics;
      metrics.begin(Date.now());
      try {
        return await handler[name].call(handler, event, env, ctx, metrics);
      } finally {
        const p = metrics.flush();
        if (ctx && typeof ctx.waitUntil === 'function') ctx.waitUntil(p);
        else await p;
      }
    };
  }
  if (metrics) wrapped.metrics = metrics;
  return wrapped;
}

/**
 * Wraps a `(event, context) => result` handler (AWS Lambda style): begins a window, runs the
 * handler, and awaits the flush in `finally`, bounded by `context.getRemainingTimeInMillis()`
 * (less `marginMs`, default 100) when present. The Metrics object is passed as a third argument.
 */
export function wrapLambda(handler, metricsOrOptions, { marginMs = 100 } = {}) {
  if (typeof handler !== 'function') throw new TypeError('edgemetrics: wrapLambda needs a function');
  let metrics = metricsOrOptions instanceof Metrics ? metricsOrOptions : null;
  const wrapped = async function (event, context) {
    if (!metrics) metrics = metricsFor(metricsOrOptions, undefined);
    wrapped.metrics = metrics;
    metrics.begin(Date.now());
    try {
      return await handler.call(this, event, context, metrics);
    } finally {
      let deadline;
      try {
        const left = context?.getRemainingTimeInMillis?.();
        if (typeof left === 'number') deadline = Date.now() + left - marginMs;
      } catch {
        // no budget information
      }
      await metrics.flush({ deadline });
    }
  };
  if (metrics) wrapped.metrics = metrics;
  return wrapped;
}
