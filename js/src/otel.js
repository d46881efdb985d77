// `edgemetrics/otel`: a MeterProvider for the OpenTelemetry API (`@opentelemetry/api`) backed by a
// `Metrics` object. Why it exists: code already instrumented with the API (the user's own, or a
// third-party package such as `@hono/otel`) records into edgemetrics once
// `metrics.setGlobalMeterProvider(new EdgeMeterProvider(m))` is called, and the batch is pushed
// by the same flush as the rest (one request per invocation). The API's contract is that
// instrumentation never throws into its host: nothing here throws after construction.
//
// This file does not import `@opentelemetry/api`: the API's interfaces are structural, so the
// provider works with whichever copy of the API the application loads.
//
// Scopes: a meter's name and version are its instruments' instrumentation scope in the core, so
// they reach the batch: one OTLP ScopeMetrics per meter, `otel_scope_name` / `otel_scope_version`
// labels with remote write and Pushgateway (the core's encoders do both). The same instrument name
// in two meters is two instruments. A meter with an empty name uses the default scope.
// No package entry (and so no wasm) is loaded by this module: it only reaches a Metrics object it
// is given, through the registered symbols, so one `edgemetrics/otel` serves every entry.
import { BEFORE_COLLECT, LENIENT_INSTRUMENT, isMetrics } from './symbols.js';
import { attributeKey } from './attributes.js';

/** ValueType.INT of the API. */
const INT = 0;
/** Attribute sets whose last observed value an observable counter remembers (per instrument). */
const MAX_OBSERVED_SETS = 10_000;

function warn(message) {
  try {
    console.warn(message);
  } catch {
    // a broken console cannot break the caller
  }
}

/** The INT value type truncates non-integers, as the OpenTelemetry SDK does. */
function valueOf(value, int) {
  if (int && typeof value === 'number' && !Number.isInteger(value)) return Math.trunc(value);
  return value;
}

function checkBounds(b) {
  if (!Array.isArray(b) || b.length === 0) return false;
  for (let i = 0; i < b.length; i++) {
    if (typeof b[i] !== 'number' || !Number.isFinite(b[i])) return false;
    if (i > 0 && !(b[i] > b[i - 1])) return false;
  }
  return true;
}

class SyncInstrument {
  #inst;
  #int;
  constructor(inst, int) {
    this.#inst = inst;
    this.#int = int;
  }
  add(value, attributes) {
    this.#inst._rec(valueOf(value, this.#int), attributes);
  }
  record(value, attributes) {
    this.#inst._rec(valueOf(value, this.#int), attributes);
  }
}

/**
 * An asynchronous instrument. Gauges set the observed value. Counters and up-down counters
 * observe running totals (that is the API's meaning): each observation adds the difference to
 * the attribute set's previous observation, so delta batches (OTLP) carry what changed and
 * cumulative ones (Prometheus) the total. A counter observed lower than before was reset: the
 * new value is added.
 */
class ObservableInstrument {
  constructor(meter, inst, kind, int) {
    this.meter = meter;
    this.inst = inst;
    this.kind = kind;
    this.int = int;
    this.callbacks = [];
    this.last = kind === 'gauge' ? null : new Map();
    this.warnedFull = false;
  }
  addCallback(cb) {
    if (typeof cb !== 'function' || this.callbacks.includes(cb)) return;
    this.callbacks.push(cb);
    this.meter.provider._watch();
  }
  removeCallback(cb) {
    const i = this.callbacks.indexOf(cb);
    if (i >= 0) this.callbacks.splice(i, 1);
  }
  /** One observation (from an ObservableResult or a batch callback). Never throws. */
  observe(value, attributes) {
    try {
      value = valueOf(value, this.int);
      const attrs = attributes;
      if (this.last === null) {
        this.inst._rec(value, attrs);
        return;
      }
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        this.inst._rec(value, attrs); // counted as rejected by the core
        return;
      }
      const key = attributeKey(attrs);
      const prev = this.last.get(key);
      if (prev === undefined && this.last.size >= MAX_OBSERVED_SETS) {
        if (!this.warnedFull) {
          this.warnedFull = true;
          warn(`edgemetrics/otel: ${this.inst.name} observed more than ${MAX_OBSERVED_SETS} attribute sets; new sets are not recorded`);
        }
        return;
      }
      this.last.set(key, value);
      let diff = value - (prev ?? 0);
      if (this.kind === 'counter' && diff < 0) diff = value; // a reset
      this.inst._rec(diff, attrs);
    } catch {
      // never throws
    }
  }
}

class Meter {
  constructor(provider, name, version) {
    this.provider = provider;
    this.name = name;
    this.version = version;
    /** The instruments' scope in the core; null (the default scope) for an empty name. */
    this.scope = name ? { name, version } : null;
  }
  #make(kind, name, options) {
    const o = options !== null && typeof options === 'object' ? options : {};
    const opts = {};
    if (typeof o.unit === 'string') opts.unit = o.unit;
    if (typeof o.description === 'string') opts.description = o.description;
    if (kind === 'histogram' && o.advice?.explicitBucketBoundaries !== undefined) {
      const b = o.advice.explicitBucketBoundaries;
      if (checkBounds(b)) opts.bounds = b;
      else warn(`edgemetrics/otel: ${String(name)}: advice.explicitBucketBoundaries must be finite, strictly increasing numbers; the default buckets are used`);
    }
    return this.provider.metrics[LENIENT_INSTRUMENT](kind, name, opts, this.scope);
  }
  #sync(kind, name, options) {
    try {
      return new SyncInstrument(this.#make(kind, name, options), options?.valueType === INT);
    } catch {
      return new SyncInstrument(NOOP, false);
    }
  }
  #observable(kind, name, options) {
    try {
      const obs = new ObservableInstrument(this, this.#make(kind, name, options), kind, options?.valueType === INT);
      this.provider.observables.add(obs);
      return obs;
    } catch {
      return new ObservableInstrument(this, NOOP, kind, false);
    }
  }
  createCounter(name, options) {
    return this.#sync('counter', name, options);
  }
  createUpDownCounter(name, options) {
    return this.#sync('upDownCounter', name, options);
  }
  createHistogram(name, options) {
    return this.#sync('histogram', name, options);
  }
  createGauge(name, options) {
    return this.#sync('gauge', name, options);
  }
  createObservableCounter(name, options) {
    return this.#observable('counter', name, options);
  }
  createObservableUpDownCounter(name, options) {
    return this.#observable('upDownCounter', name, options);
  }
  createObservableGauge(name, options) {
    return this.#observable('gauge', name, options);
  }
  /** Runs `callback` at every collect with a result that observes any of `observables`. */
  addBatchObservableCallback(callback, observables) {
    if (typeof callback !== 'function' || !Array.isArray(observables)) return;
    const own = observables.filter((o) => o instanceof ObservableInstrument);
    const batches = this.provider.batches;
    if (batches.some((b) => b.callback === callback && b.meter === this)) return;
    batches.push({ meter: this, callback, observables: new Set(own) });
    this.provider._watch();
  }
  removeBatchObservableCallback(callback) {
    const batches = this.provider.batches;
    const i = batches.findIndex((b) => b.callback === callback && b.meter === this);
    if (i >= 0) batches.splice(i, 1);
  }
}

/** Stands in for an instrument that could not be created (never reached in practice: creation is lenient). */
const NOOP = { name: '', _rec() {} };

/**
 * A MeterProvider for `@opentelemetry/api` that records into `metrics`. Observable callbacks run
 * when a flush (or prepare) starts, before anything is collected.
 */
export class EdgeMeterProvider {
  /**
   * @param {Metrics} metrics
   * @param {{}} [options] none today (an unknown option is a TypeError).
   */
  constructor(metrics, options = {}) {
    if (!isMetrics(metrics)) throw new TypeError('edgemetrics/otel: EdgeMeterProvider needs a Metrics object');
    if (options === null || typeof options !== 'object') throw new TypeError('edgemetrics/otel: options must be an object');
    for (const k of Object.keys(options)) throw new TypeError(`edgemetrics/otel: unknown option ${JSON.stringify(k)}`);
    this.metrics = metrics;
    this.meters = new Map();
    this.observables = new Set();
    this.batches = [];
    this.unwatch = null;
  }

  /** The meter of a scope (one per name and version). Never throws. */
  getMeter(name, version, _options) {
    const n = typeof name === 'string' ? name : '';
    const v = typeof version === 'string' ? version : '';
    const key = n + '\0' + v;
    let m = this.meters.get(key);
    if (!m) {
      m = new Meter(this, n, v);
      this.meters.set(key, m);
    }
    return m;
  }

  /** @internal registers the collect hook when the first callback arrives. */
  _watch() {
    if (this.unwatch === null) this.unwatch = this.metrics[BEFORE_COLLECT](() => this.collect());
  }

  /**
   * Runs every observable callback now (the flush does this itself). Returns a promise when a
   * callback returned one (the flush waits for it at most a quarter of its budget; what such a
   * callback observes later is recorded into the next batch).
   */
  collect() {
    const waits = [];
    const run = (fn, result) => {
      try {
        const r = fn(result);
        if (r && typeof r.then === 'function') waits.push(Promise.resolve(r).then(done(result), done(result)));
        else result.open = false;
      } catch (e) {
        result.open = false;
        warn(`edgemetrics/otel: an observable callback threw (ignored): ${String(e?.message ?? e)}`);
      }
    };
    const done = (result) => () => {
      result.open = false;
    };
    for (const obs of this.observables) {
      for (const cb of obs.callbacks.slice()) {
        const result = {
          open: true,
          observe(value, attributes) {
            if (result.open) obs.observe(value, attributes);
          },
        };
        run(cb, result);
      }
    }
    for (const b of this.batches.slice()) {
      const result = {
        open: true,
        observe(observable, value, attributes) {
          if (result.open && b.observables.has(observable)) observable.observe(value, attributes);
        },
      };
      run(b.callback, result);
    }
    return waits.length === 0 ? undefined : Promise.all(waits);
  }

  /** Flushes the Metrics (callbacks run first). */
  forceFlush() {
    return this.metrics.flush();
  }

  /** Stops running callbacks at collect (the Metrics object is left as it is). */
  shutdown() {
    this.unwatch?.();
    this.unwatch = null;
    this.observables.clear();
    this.batches.length = 0;
    return Promise.resolve();
  }
}
