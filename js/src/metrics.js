// The runtime-independent part of the `edgemetrics` package. Each entry point (workerd.js,
// node.js, deno.js, browser.js) gives `setLoader` a function that instantiates the wasm module
// synchronously the first time a `Metrics` is created. Nothing here runs IO or timers at module
// scope.
import { Core } from './edgemetrics_wasm.js';

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
        s += k.length + ':' + k + (Number.isSafeInteger(v) ? 'i' : 'd') + v + ';';
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

class Instrument {
  constructor(metrics, id, name, kind) {
    this.name = name;
    this.kind = kind;
    this._c = metrics._core;
    this._id = id;
    this._cache = new Map();
    this._cacheMax = metrics._cacheMax;
  }
  /** Handle for `attrs`, or -1 when the cache is full (then record by key). */
  _rec(value, attrs) {
    try {
      if (typeof value !== 'number') value = num(value);
      const key = attrs === undefined || attrs === null || typeof attrs !== 'object' ? '' : attributeKey(attrs);
      let h = this._cache.get(key);
      if (h === undefined) {
        if (this._cache.size >= this._cacheMax) {
          this._c.record(this._id, value, key);
          return;
        }
        h = this._c.bind(this._id, key);
        this._cache.set(key, h);
      }
      this._c.recordBound(h, value);
    } catch {
      // Recording never throws.
    }
  }
  /** Binds an attribute set; the returned handle's calls skip all attribute work. */
  bind(attrs) {
    const key = attrs === undefined || attrs === null || typeof attrs !== 'object' ? '' : attributeKey(attrs);
    let h = this._cache.get(key);
    if (h === undefined) {
      h = this._c.bind(this._id, key);
      if (this._cache.size < this._cacheMax) this._cache.set(key, h);
    }
    return new Bound(this._c, h);
  }
}

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
    const resource = checkAttrs('options.resource', options.resource);
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
    this._gzip = compression === 'gzip' && (format === 'otlp-proto' || format === 'otlp-json');
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new RangeError(`edgemetrics: options.timeoutMs must be a positive number; got ${String(timeoutMs)}`);
    this._timeoutMs = timeoutMs;
    if (options.fetch !== undefined && typeof options.fetch !== 'function') throw new TypeError('edgemetrics: options.fetch must be a function');
    this._fetch = options.fetch;
    this._cacheMax = Math.min(DEFAULT_CACHE, lim[0] || DEFAULT_CACHE);
    ensureLoaded();
    const { 'service.name': _ignored, ...rest } = resource;
    try {
      this._core = new Core(FORMATS[format], serviceName, attributeKey(rest), temporality === 'cumulative', options.selfMetrics ?? true, lim);
    } catch (e) {
      throw new RangeError(`edgemetrics: ${typeof e === 'string' ? e : e?.message}`);
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
   * Collects, encodes and sends what was recorded since the last flush: exactly one request,
   * or none when nothing was recorded. Never rejects.
   * @param {{ deadline?: number }} [opts] unix ms by which the flush must be over
   */
  /**
   * Collects and encodes what was recorded since the last flush without sending it, for hosts
   * with their own transport. Returns `null` when there is nothing to send. Never throws.
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
      return { method: this._core.method(), url: this.endpoint + this._core.path(), headers, body: this._core.body(), points };
    } catch {
      return null;
    }
  }

  /**
   * Collects, encodes and sends what was recorded since the last flush: exactly one request,
   * or none when nothing was recorded. Never rejects.
   * @param {{ deadline?: number }} [opts] unix ms by which the flush must be over
   */
  async flush(opts) {
    const result = { sent: false, status: 0, bytes: 0, attempts: 0, dropped: 0 };
    let points = 0;
    try {
      const now = Date.now();
      const req = this.prepare(now);
      if (req === null) {
        const err = this._core.error();
        if (err) result.error = err;
        return result;
      }
      points = req.points;
      let body = req.body;
      const { method, url } = req;
      const headers = new Headers(req.headers);
      if (this._gzip && typeof CompressionStream === 'function') {
        body = new Uint8Array(await new Response(new Blob([body]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer());
        headers.set('Content-Encoding', 'gzip');
      }
      result.bytes = body.length;
      const deadline = Math.min(now + this._timeoutMs, opts?.deadline ?? Infinity);
      // --- delivery -------------------------------------------------------------------------
      // Single attempt. When the core's push plan (src/push.rs) is available, this block
      // becomes: loop { fetch; decision = core.judge(status, retryAfter, now);
      // done | retry at T (sleep until T, within the deadline) | give up }.
      result.attempts = 1;
      const res = await this._send(url, method, headers, body, deadline - Date.now());
      result.status = res.status;
      try {
        await res.arrayBuffer();
      } catch {
        // the body is not needed for a single attempt
      }
      result.sent = res.status >= 200 && res.status < 300;
      if (!result.sent) {
        result.dropped = points;
        result.error = `HTTP ${res.status}`;
      }
      return result;
    } catch (e) {
      result.dropped = points;
      result.error = String(e?.message ?? e);
      return result;
    }
  }

  async _send(url, method, headers, body, budgetMs) {
    if (!(budgetMs > 0)) throw new Error('deadline passed before sending');
    const f = this._fetch ?? globalThis.fetch;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error(`timed out after ${Math.round(budgetMs)} ms`)), budgetMs);
    try {
      return await f(url, { method, headers, body, signal: ac.signal });
    } finally {
      clearTimeout(timer);
    }
  }
}

function metricsFor(m, env) {
  if (m instanceof Metrics) return m;
  return new Metrics(typeof m === 'function' ? m(env) : m);
}

/**
 * Wraps a module worker (`{ fetch, scheduled, queue, ... }`): each handler call begins a window,
 * and the flush is handed to `ctx.waitUntil` (awaited when there is no `waitUntil`). The Metrics
 * object (or one built from `options`, or from `options(env)` at the first invocation) is passed
 * as an extra last argument and is also available as `wrapped.metrics` once created.
 */
export function withMetrics(handler, metricsOrOptions) {
  let metrics = metricsOrOptions instanceof Metrics ? metricsOrOptions : null;
  if (!metrics && (metricsOrOptions === null || (typeof metricsOrOptions !== 'object' && typeof metricsOrOptions !== 'function'))) {
    throw new TypeError('edgemetrics: withMetrics needs a Metrics object, options, or a function (env) => options');
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
