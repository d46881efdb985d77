// The `Metrics` class and its instruments: the runtime-independent part of the `edgemetrics`
// package. Each entry point (workerd.js, node.js, deno.js, browser.js) gives `setLoader` a
// function that instantiates the wasm module synchronously the first time a `Metrics` is created.
// Nothing here runs IO, timers or randomness at construction: a `new Metrics()` at a worker's
// global scope is allowed (the isolate's random id and the batch-id generator are seeded at the
// first flush). Attribute encoding and caching live in attributes.js, option checks in
// options.js, the flush loop in flush.js, the wrappers in wrappers.js.
import { Core } from './edgemetrics_wasm.js';
import { ERROR, KIND, errorClass } from './abi.js';
import { AttrCache, attributeKey, writeKey } from './attributes.js';
import { Flusher, deadlineOf, eachHeader, emptyResult, zeroStats } from './flush.js';
import { TAIL_PREFIX, checkOptions } from './options.js';
import { FORMATS } from './variant.js';
import { BEFORE_COLLECT, DISABLED, INGEST, LENIENT, LENIENT_INSTRUMENT } from './symbols.js';
import { bytes, setMemory, text } from './answers.js';

export { attributeKey };
// The internal symbols (symbols.js: registered, shared by every entry's copy of this module).
export { BEFORE_COLLECT, DISABLED, INGEST, LENIENT, LENIENT_INSTRUMENT, isMetrics } from './symbols.js';

/** The package entry whose wasm module has each format (every entry has one; `edgemetrics/all` all). */
const ENTRY_OF = {
  'otlp-proto': 'edgemetrics',
  'otlp-json': 'edgemetrics/all',
  'remote-write': 'edgemetrics/remote-write',
  pushgateway: 'edgemetrics/pushgateway',
  compact: 'edgemetrics/compact',
  emf: 'edgemetrics/all',
};

/**
 * The configuration error for a format the loaded wasm module was built without: each package
 * entry ships only its own encoders. A TypeError (as every other option error), with `code`
 * 'EDGEMETRICS_FORMAT_UNAVAILABLE', the `format` asked for and the `entry` to import instead.
 */
export class FormatUnavailableError extends TypeError {
  constructor(format) {
    const entry = ENTRY_OF[format];
    super(
      `edgemetrics: format '${format}' is not in this entry point's wasm module (it has ${FORMATS.join(', ')}); ` +
        `import { Metrics } from '${entry}'` +
        (entry === 'edgemetrics/all' ? '' : ` (or 'edgemetrics/all' for every format)`),
    );
    this.name = 'FormatUnavailableError';
    this.code = 'EDGEMETRICS_FORMAT_UNAVAILABLE';
    this.format = format;
    this.entry = entry;
  }
}

let loader = null;
let loaded = false;

/** @internal */
export function setLoader(fn) {
  loader = fn;
}

let hostFetch = null;

/** @internal The entry's sender when `options.fetch` is not given (Node: node:http, see node.js). */
export function setHostFetch(fn) {
  hostFetch = fn;
}

/** @internal The module was instantiated (asynchronously, browser.js); `wasm`: its exports. */
export function markLoaded(wasm) {
  setMemory(wasm.memory);
  loaded = true;
}

function ensureLoaded() {
  if (loaded) return;
  if (!loader) throw new Error('edgemetrics: the wasm module is not initialised; call `await init()` first');
  // Every loader returns the instance's exports (what the glue's initSync returns).
  setMemory(loader().memory);
  loaded = true;
}

/**
 * Attribute sets cached per instrument (each holds one bind of its series until the cache is
 * cleared): the default cardinality limit, so that at the default limits the cache can hold every
 * own series of a full instrument and the overflow shortcut (attributes.js) applies.
 */
const DEFAULT_CACHE = 2000;
/** An instrument id the core does not know: values recorded with it are counted as rejected. */
const NO_INSTRUMENT = 0xffffffff;
const noop = () => {};

const num = (v) => (typeof v === 'bigint' ? Number(v) : NaN);

/** Base64 of `bytes` (btoa exists in workerd, Node ≥ 16, Deno, Bun and browsers). */
function base64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** transport 'tail': the batch as one console.log line, which workerd hands to the Tail Worker. */
function writeTailLine(bytes) {
  console.log(TAIL_PREFIX + base64(bytes));
}

/**
 * format 'emf': the documents (one per line) written as they are to stdout. process.stdout.write,
 * not console.log: on Lambda, console.log adds a timestamp / request id / level prefix to the
 * line (text log format) or wraps it in a JSON envelope (JSON log format); stdout carries the
 * document itself, and each line written there is one log event.
 */
function writeStdout(bytes) {
  const text = new TextDecoder().decode(bytes);
  const out = globalThis.process?.stdout;
  if (out && typeof out.write === 'function') out.write(text);
  else for (const line of text.split('\n')) if (line) console.log(line);
}

/** A handle to one attribute set of one instrument: every call is one wasm call with numbers. */
class Bound {
  #core;
  #h;
  constructor(core, handle) {
    this.#core = core;
    this.#h = handle >>> 0;
  }
  add(value) {
    try {
      this.#core?.recordBound(this.#h, typeof value === 'number' ? value : num(value));
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
  #core;
  #id;
  #cache;
  constructor(core, id, name, kind, cacheMax, attrLimits) {
    this.name = name;
    this.kind = kind;
    this.#core = core;
    this.#id = id;
    this.#cache = core && id !== NO_INSTRUMENT ? new AttrCache(core, id, cacheMax, attrLimits) : null;
  }
  /** @internal Metrics.close(): later calls record nothing and reach no freed wasm state. */
  _close() {
    this.#core = null;
    this.#cache = null;
  }
  _rec(value, attrs) {
    if (typeof value !== 'number') value = num(value);
    const cache = this.#cache;
    if (cache !== null) {
      try {
        // The hot path: a cached set is two Map lookups per attribute and one wasm call.
        const h = cache.lookup(attrs);
        if (h >= 0) {
          this.#core.recordBound(h, value);
          return;
        }
      } catch {
        // An unreadable attribute object: the key builder below counts what it cannot read.
      }
    }
    this.#miss(value, attrs);
  }
  #miss(value, attrs) {
    const core = this.#core;
    if (!core) return;
    try {
      const cache = this.#cache;
      if (cache !== null) {
        try {
          if (cache.record(value, attrs)) return;
        } catch {
          // An unreadable attribute object (nothing recorded yet): the key builder below counts
          // what it cannot read.
        }
      }
      core.keyed(0, this.#id, value, writeKey(core, attributeKey(attrs))); // 0: record
    } catch {
      // Recording never throws.
    }
  }
  /** Binds an attribute set; the returned handle's calls skip all attribute work. Never throws. */
  bind(attrs) {
    const core = this.#core;
    let h = -1;
    try {
      if (core) h = core.keyed(1, this.#id, 0, writeKey(core, attributeKey(attrs))); // 1: bind
    } catch {
      h = -1;
    }
    // -1 (an unknown instrument) becomes an invalid handle: its values are counted as rejected.
    return new Bound(core, h);
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
/**
 * A histogram's `aggregation` option: `null` for explicit buckets, else the exponential sizes
 * (`maxSize` 2..16384, default 160; `maxScale` -10..20, default 20). Wrong types are TypeErrors,
 * out-of-range integers RangeErrors, both thrown before anything reaches the core.
 */
function exponentialOptions(opts) {
  const a = opts?.aggregation;
  if (a === undefined || a === 'explicit') {
    if (opts?.maxSize !== undefined || opts?.maxScale !== undefined) {
      throw new TypeError("edgemetrics: maxSize and maxScale need aggregation: 'exponential'");
    }
    return null;
  }
  if (a !== 'exponential') throw new TypeError(`edgemetrics: aggregation must be 'explicit' or 'exponential', got ${JSON.stringify(a)}`);
  if (opts.bounds !== undefined) throw new TypeError('edgemetrics: bounds do not apply to exponential histograms');
  const int = (name, v, dflt, lo, hi) => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`edgemetrics: ${name} must be an integer`);
    if (v < lo || v > hi) throw new RangeError(`edgemetrics: ${name} must be between ${lo} and ${hi}, got ${v}`);
    return v;
  };
  return { maxSize: int('maxSize', opts.maxSize, 160, 2, 16384), maxScale: int('maxScale', opts.maxScale, 20, -10, 20) };
}

const CLASSES = { counter: Counter, upDownCounter: UpDownCounter, gauge: Gauge, histogram: Histogram };

function checkString(what, v, optional) {
  if (v === undefined && optional) return '';
  if (typeof v !== 'string') throw new TypeError(`edgemetrics: ${what} must be a string, got ${v === null ? 'null' : typeof v}`);
  return v;
}

function randomWords() {
  const w = new Uint32Array(4);
  globalThis.crypto.getRandomValues(w);
  return w;
}

export class Metrics {
  #core = null;
  #headers = [];
  #flusher = null;
  #onFlush = noop;
  #lastFlush = null;
  #lenient = false;
  #warned = new Set();
  #disabledReason = null;
  #instruments = new Map();
  #cacheMax = DEFAULT_CACHE;
  #attrLimits = null;
  #instanceId = '';
  #beforeCollect = [];
  #inFlight = 0;

  /**
   * @param {object} options see index.d.ts. Throws a TypeError or RangeError naming the option
   * when the options can never work.
   */
  constructor(options = {}, disabledReason = undefined) {
    if (options === DISABLED) {
      this.#disabledReason = disabledReason ?? 'metrics are disabled (configuration error)';
      this.#lenient = true;
      this.endpoint = '';
      this.format = 'otlp-proto';
      this.temporality = 'delta';
      return;
    }
    const o = checkOptions(options);
    if (!FORMATS.includes(o.format)) throw new FormatUnavailableError(o.format);
    this.endpoint = o.endpoint;
    this.format = o.format;
    this.temporality = o.temporality;
    this.#headers = o.headers;
    this.#attrLimits = o.attrLimits;
    this.#cacheMax = Math.min(DEFAULT_CACHE, o.cardinality || DEFAULT_CACHE);
    if (o.onFlush) this.#onFlush = o.onFlush;
    ensureLoaded();
    const core = new Core();
    const code = core.configure(o.buffer);
    if (code !== ERROR.ok) throw new (errorClass(code))(`edgemetrics: ${text(core, core.error())}`);
    if (o.remoteWrite && !core.configureRemoteWrite(o.remoteWrite.path, o.remoteWrite.labels)) {
      throw new TypeError(`edgemetrics: options.remoteWrite: ${text(core, core.error())}`);
    }
    if (o.pushgateway && !core.configurePushgateway(o.pushgateway.job, o.pushgateway.grouping, o.pushgateway.put)) {
      throw new TypeError(`edgemetrics: options.pushgateway: ${text(core, core.error())}`);
    }
    core.configureFlush(o.flush.everyInvocations, o.flush.maxAgeMs, o.flush.whenIdle);
    this.#core = core;
    this.#flusher = new Flusher(core, {
      timeoutMs: o.timeoutMs,
      fetch: o.fetch ?? hostFetch ?? undefined,
      secrets: o.headers.map(([, v]) => v),
      seed: () => this.#seed(),
      writeLog: o.transport === 'tail' ? writeTailLine : o.transport === 'stdout' ? writeStdout : undefined,
      onFlight: (r) => {
        this.#lastFlush = r;
      },
    });
  }

  /** The first flush seeds the generator and the isolate's random `service.instance.id`. */
  #seed() {
    if (this.#core.seeded()) return;
    this.#instanceId = text(this.#core, this.#core.seed(randomWords()));
  }

  /**
   * @internal edgemetrics/tail: decodes a compact batch and merges it into the window the next
   * flush pushes. Returns 0 merged, 1 its resource differs from the window's (flush, then retry),
   * 2 malformed (with the reason), -1 this object is disabled or its module has no decoder.
   */
  [INGEST](bytes) {
    if (!this.#core || typeof this.#core.ingest !== 'function') return { code: -1, error: this.#disabledReason ?? 'this build has no compact decoder' };
    this.#seed();
    const code = this.#core.ingest(bytes);
    return code === 2 ? { code, error: text(this.#core, this.#core.error()) } : { code };
  }

  /** @internal edgemetrics/tail: points waiting in the window of ingested batches. */
  get [Symbol.for('edgemetrics.windowPoints')]() {
    return this.#core?.windowPoints?.() ?? 0;
  }

  /** @internal wrappers: instrument mistakes return a no-op instrument instead of throwing. */
  [LENIENT]() {
    this.#lenient = true;
  }

  /** Whether this object records and sends (false after a wrapper's configuration error). */
  get enabled() {
    return this.#core !== null;
  }

  /** This isolate's random `service.instance.id` (set at the first flush when the resource has none), or ''. */
  get instanceId() {
    return this.#instanceId;
  }

  /** The result of the last flush (or `null` before the first one). */
  get lastFlush() {
    return this.#lastFlush;
  }

  /** Counters of the host loop: flushes, flights, coalesced, stale (abandoned), settledAtDeadline. */
  get flushStats() {
    return { ...(this.#flusher?.stats ?? zeroStats()) };
  }

  #warnOnce(key, message) {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    try {
      console.warn(message);
    } catch {
      // a broken console cannot break the caller
    }
  }

  /** @internal see LENIENT_INSTRUMENT */
  [LENIENT_INSTRUMENT](kind, name, opts, scope = null) {
    return this._instrument(kind, name, opts, true, scope);
  }

  /**
   * @internal Adds `fn` to the functions run when a flush or prepare starts, before anything is
   * collected. `fn` may return a promise: flush() waits for such promises at most a quarter of
   * its budget. Exceptions are swallowed. Returns a function that removes `fn`.
   */
  [BEFORE_COLLECT](fn) {
    this.#beforeCollect.push(fn);
    return () => {
      const i = this.#beforeCollect.indexOf(fn);
      if (i >= 0) this.#beforeCollect.splice(i, 1);
    };
  }

  /** Runs the before-collect functions; returns the promises they returned (never throws). */
  #runBeforeCollect() {
    const waits = [];
    for (const fn of this.#beforeCollect.slice()) {
      try {
        const r = fn();
        if (r && typeof r.then === 'function') waits.push(Promise.resolve(r).catch(noop));
      } catch {
        // a hook cannot break the flush
      }
    }
    return waits;
  }

  /** `scope`: `{ name, version }` of an instrumentation scope (edgemetrics/otel's meters), or null. */
  _instrument(kind, name, opts, lenient = this.#lenient, scope = null) {
    const key = scope === null ? kind + '\0' + String(name) : kind + '\0' + String(name) + '\0' + scope.name + '\0' + scope.version;
    const existing = this.#instruments.get(key);
    if (existing) return existing;
    try {
      const inst = this.#create(kind, name, opts, scope);
      this.#instruments.set(key, inst);
      return inst;
    } catch (e) {
      if (!lenient) throw e;
      this.#warnOnce(
        key,
        `${e.message} — the ${kind} ${JSON.stringify(String(name))} records nothing; its values are counted in edgemetrics.sdk.values.rejected{reason="invalid_handle"}`,
      );
      const inst = new CLASSES[kind](this.#core, NO_INSTRUMENT, String(name), kind, 0, null);
      this.#instruments.set(key, inst);
      return inst;
    }
  }

  #create(kind, name, opts, scope = null) {
    if (typeof name !== 'string') throw new TypeError(`edgemetrics: instrument name must be a string, got ${name === null ? 'null' : typeof name}`);
    if (opts === null || (opts !== undefined && typeof opts !== 'object')) throw new TypeError('edgemetrics: instrument options must be an object');
    const unit = checkString('unit', opts?.unit, true);
    const description = checkString('description', opts?.description, true);
    const exp = kind === 'histogram' ? exponentialOptions(opts) : null;
    let bounds = new Float64Array(0);
    const hasBounds = kind === 'histogram' && opts?.bounds !== undefined;
    if (hasBounds) {
      if (!Array.isArray(opts.bounds) && !(opts.bounds instanceof Float64Array)) throw new TypeError('edgemetrics: bounds must be an array of numbers');
      if (!Array.from(opts.bounds).every((b) => typeof b === 'number')) throw new TypeError('edgemetrics: bounds must be an array of numbers');
      bounds = Float64Array.from(opts.bounds);
    }
    if (!this.#core) return new CLASSES[kind](null, NO_INSTRUMENT, name, kind, 0, null);
    // One string for the name, unit, description and scope (Core.newInstrument splits it by
    // these UTF-16 lengths): one copy into the module instead of five.
    const scopeName = scope?.name ?? '';
    const id = this.#core.newInstrument(
      KIND[kind],
      name + unit + description + scopeName + (scope?.version ?? ''),
      name.length,
      unit.length,
      description.length,
      scopeName.length,
      exp !== null,
      exp?.maxSize ?? 0,
      exp?.maxScale ?? 0,
      hasBounds,
      bounds,
    );
    if (id < 0) throw new (errorClass(-id))(`edgemetrics: ${text(this.#core, this.#core.error())}`);
    return new CLASSES[kind](this.#core, id, name, kind, this.#cacheMax, this.#attrLimits);
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

  /**
   * Marks the start of an invocation (unix ms; default `Date.now()`): counts it as in flight
   * until its `end()`. Never throws.
   */
  begin(nowMs) {
    this.#inFlight++;
    try {
      this.#core?.begin(typeof nowMs === 'number' ? nowMs : Date.now());
    } catch {
      // never throws
    }
  }

  /** Invocations begun and not yet ended in this isolate. */
  get inFlight() {
    return this.#inFlight;
  }

  /**
   * Marks the end of an invocation begun with `begin()` and applies the flush policy (option
   * `flush`): when it says so, this is `flush(opts)`; otherwise the data stays in the isolate for
   * a later invocation's push and the promise resolves at once with `{ sent: false, deferred:
   * true }` (not passed to `onFlush`). The wrappers call it in `finally`. Never rejects.
   * @param {{ deadline?: number }} [opts]
   */
  end(opts) {
    if (this.#inFlight > 0) this.#inFlight--;
    let due = true;
    try {
      if (this.#core) due = this.#core.endInvocation(Date.now(), this.#inFlight);
    } catch {
      due = true;
    }
    if (due) return this.flush(opts);
    return Promise.resolve({ sent: false, deferred: true, ...emptyResult() });
  }

  /**
   * Collects and encodes what was recorded since the last flush without sending it, for hosts
   * with their own transport (no retries, no idempotency header, no instance id added: the push
   * plan is bypassed). Returns `null` when there is nothing to send. Never throws.
   * @param {number} [nowMs] end of the window, unix ms (default `Date.now()`)
   */
  prepare(nowMs) {
    try {
      const core = this.#core;
      if (!core) return null;
      if (this.#beforeCollect.length > 0) this.#runBeforeCollect();
      const points = core.prepare(typeof nowMs === 'number' ? nowMs : Date.now());
      if (points === 0) return null;
      const headers = {};
      eachHeader(text(core, core.headers()), (k, v) => (headers[k] = v));
      for (const [k, v] of this.#headers) headers[k] = v;
      return {
        method: text(core, core.method()),
        // Joined by the core as a flush joins it (a query in the endpoint stays after the path);
        // '' for a batch meant for a log (no endpoint).
        url: this.endpoint && text(core, core.url()),
        headers,
        body: bytes(core, core.body()),
        points,
      };
    } catch {
      return null;
    }
  }

  /**
   * Collects, encodes and delivers what was recorded since the last flush (plus data a failed
   * earlier flush carried over), following the host-loop contract in flush.js: one flight at a
   * time, concurrent flushes coalesced into at most one follow-up, and the promise settles within
   * `timeoutMs` (or `deadline`) of this call. Never rejects; `onFlush` sees every result.
   * @param {{ deadline?: number }} [opts] unix ms by which the flush must be over
   * @returns {Promise<object>}
   */
  flush(opts) {
    if (!this.#flusher) {
      const r = { ...emptyResult(), error: this.#disabledReason ?? 'disabled' };
      return Promise.resolve(this.#settle(r));
    }
    let p;
    try {
      const waits = this.#beforeCollect.length > 0 ? this.#runBeforeCollect() : [];
      if (waits.length === 0) p = this.#flusher.flush(opts);
      else {
        // Asynchronous observable callbacks: wait for them at most a quarter of this flush's
        // budget, then flush with the deadline of the original call (the promise still settles
        // within `timeoutMs` of the call).
        const now = Date.now();
        const deadline = Math.min(now + this.#flusher.timeoutMs, deadlineOf(opts));
        const waitMs = Math.max(0, (deadline - now) / 4);
        let timer;
        const bounded = new Promise((resolve) => {
          timer = setTimeout(resolve, waitMs);
        });
        p = Promise.race([Promise.all(waits), bounded]).then(() => {
          clearTimeout(timer);
          return this.#flusher.flush({ deadline });
        });
      }
    } catch (e) {
      p = Promise.resolve({ ...emptyResult(), error: String(e?.message ?? e) });
    }
    return p.then((r) => this.#settle(r));
  }

  #settle(result) {
    if (!result.pending || this.#lastFlush === null) this.#lastFlush = result;
    try {
      const r = this.#onFlush(result);
      if (r && typeof r.then === 'function') r.then(noop, noop);
    } catch {
      // onFlush cannot break the flush or the handler
    }
    return result;
  }

  /**
   * Releases this object's wasm state (its registry, buffers and pending data) so that later
   * `Metrics` objects reuse that memory. Idempotent; never throws. Afterwards `enabled` is false,
   * instruments and bound handles record nothing and `flush()` resolves `{ sent: false, error:
   * 'closed' }`. What was not flushed is discarded: call `await flush()` first. A flush in flight
   * keeps the state until it ends.
   */
  close() {
    const core = this.#core;
    if (!core) return;
    this.#core = null;
    this.#disabledReason = 'closed';
    const flusher = this.#flusher;
    this.#flusher = null;
    for (const inst of this.#instruments.values()) inst._close?.();
    this.#instruments.clear();
    this.#beforeCollect = [];
    const free = () => {
      try {
        core.free();
      } catch {
        // already freed: nothing to release
      }
    };
    // Waits out the flight and a queued follow-up (which may start another flight).
    const drain = () => {
      const busy = flusher?.flight?.ended ?? flusher?.followUp?.promise;
      if (busy) busy.then(drain, drain);
      else free();
    };
    drain();
  }

  /** What `console.log` / `util.inspect` show: never header values. */
  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `Metrics { endpoint: ${JSON.stringify(this.endpoint)}, format: '${this.format}', temporality: '${this.temporality}', enabled: ${this.enabled}, headers: [${this.#headers.map(([k]) => JSON.stringify(k)).join(', ')}] (values hidden) }`;
  }

  /** What `JSON.stringify` shows: never header values. */
  toJSON() {
    return { endpoint: this.endpoint, format: this.format, temporality: this.temporality, enabled: this.enabled, headers: this.#headers.map(([k]) => k) };
  }
}

// `using m = new Metrics(...)` (explicit resource management) calls close(); only where the
// runtime defines Symbol.dispose.
if (typeof Symbol.dispose === 'symbol') Metrics.prototype[Symbol.dispose] = Metrics.prototype.close;
