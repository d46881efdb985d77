// `edgemetrics/workers`: metrics around the Workers handler shapes that `withMetrics` (an object
// of handlers) cannot wrap: Pages Functions (`onRequest(context)`), Durable Object classes and
// `WorkerEntrypoint` classes, whose
// handler methods (`fetch`, `alarm`, `webSocketMessage`, ...) and RPC methods are called on an
// instance with `this.env` and `this.ctx`. Why a file of its own: the class shape needs a
// subclass whose methods begin a window and flush through `this.ctx.waitUntil`, and it must keep
// synchronous methods synchronous (a sync RPC method stays sync for callers inside the class).
// The JS layer comes from ONE package entry: build.mjs turns the import of ./integration.js into
// an import of the entry this copy is built for (`edgemetrics/workers` uses `edgemetrics`, the
// default; `edgemetrics/remote-write/workers` uses `edgemetrics/remote-write`, ...), so the app
// ships that entry's wasm and no other. A Metrics object passed in may come from any entry.
import { INTEGRATION } from './integration.js';
import { isMetrics } from './symbols.js';

const { autoOptions, checkSource, flushVia, invocationEnd, invocationStart, metricsFor, runInvocation, triggerOfHandler } = INTEGRATION;

/** Base classes whose methods are the runtime's, not the user's: the walk stops there. */
const RUNTIME_BASES = new Set(['DurableObject', 'WorkerEntrypoint', 'WorkflowEntrypoint', 'RpcTarget']);

/** Own and inherited method names of a class, up to the runtime's base class. */
function methodNames(Class) {
  const names = new Set();
  for (let proto = Class.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    if (proto !== Class.prototype && RUNTIME_BASES.has(proto.constructor?.name)) break;
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || name === 'metrics') continue;
      const d = Object.getOwnPropertyDescriptor(proto, name);
      if (d && typeof d.value === 'function') names.add(name);
    }
  }
  return names;
}

/** The `{ auto }` options of these wrappers (auto.js), validated. */
function wrapperAuto(options, who, known = ['auto']) {
  if (options === null || typeof options !== 'object') throw new TypeError(`edgemetrics/workers: ${who} options must be an object`);
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) throw new TypeError(`edgemetrics/workers: ${who} has no option ${JSON.stringify(k)} (known: ${known.join(', ')})`);
  }
  return autoOptions(options.auto, who);
}

/** The Request of a class method call when the method is fetch-shaped, else undefined. */
const requestOf = (name, args) => (name === 'fetch' ? args[0] : undefined);

function instrumentClass(Class, metricsOrOptions, who, options) {
  if (typeof Class !== 'function' || typeof Class.prototype !== 'object') throw new TypeError(`edgemetrics/workers: ${who} needs a class`);
  checkSource(metricsOrOptions, who);
  const auto = wrapperAuto(options, who);
  let metrics = isMetrics(metricsOrOptions) ? metricsFor(metricsOrOptions) : null;
  const metricsOf = (self) => {
    if (!metrics) metrics = metricsFor(metricsOrOptions, self?.env);
    return metrics;
  };
  const Instrumented = class extends Class {
    /** The isolate's Metrics of this class (built from `options(this.env)` at the first use). */
    get metrics() {
      return metricsOf(this);
    }
  };
  Object.defineProperty(Instrumented, 'name', { value: Class.name });
  for (const name of methodNames(Class)) {
    const original = Class.prototype[name];
    const wrapped = function (...args) {
      const m = metricsOf(this);
      m.begin(Date.now());
      const token = invocationStart(m, auto, triggerOfHandler(name), requestOf(name, args));
      let result;
      try {
        result = original.apply(this, args);
      } catch (e) {
        invocationEnd(token, { threw: true, error: e });
        flushVia(this.ctx, m);
        throw e;
      }
      if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
        const ctx = this.ctx;
        return Promise.resolve(result).then(
          (value) => {
            invocationEnd(token, { result: value });
            const p = flushVia(ctx, m);
            return p ? p.then(() => value) : value;
          },
          (error) => {
            invocationEnd(token, { threw: true, error });
            const p = flushVia(ctx, m);
            if (p) return p.then(() => Promise.reject(error));
            throw error;
          },
        );
      }
      // A synchronous method stays synchronous: its flush runs on (waitUntil or not awaited; a
      // flush never rejects).
      invocationEnd(token, { result });
      flushVia(this.ctx, m);
      return result;
    };
    Object.defineProperty(wrapped, 'name', { value: name });
    Object.defineProperty(Instrumented.prototype, name, { value: wrapped, writable: true, configurable: true, enumerable: false });
  }
  return Instrumented;
}

/**
 * Returns a subclass of a Durable Object class whose methods (handlers such as `fetch` and
 * `alarm`, and RPC methods) each begin a window and flush through `this.ctx.waitUntil`. The
 * Metrics is `this.metrics`. Automatic metrics (auto.js): FaaS metrics for every method call
 * (`faas.trigger` http for `fetch`, timer for `alarm`, other for RPC and WebSocket handlers) and
 * the HTTP server metrics for `fetch`; `{ auto: { http: false, faas: false } }` turns them off.
 */
export function instrumentDurableObject(Class, metricsOrOptions, options = {}) {
  return instrumentClass(Class, metricsOrOptions, 'instrumentDurableObject', options);
}

/** The same for a `WorkerEntrypoint` class (service-binding RPC and its handlers). */
export function instrumentEntrypoint(Class, metricsOrOptions, options = {}) {
  return instrumentClass(Class, metricsOrOptions, 'instrumentEntrypoint', options);
}

/**
 * Wraps a Pages Function (`onRequest(context)`, `onRequestGet`, ...): begins a window, passes the
 * Metrics as a second argument (and as `context.data.metrics`), and hands the flush to
 * `context.waitUntil`. The options function gets `context.env`. Automatic metrics (auto.js): the
 * HTTP server metrics and the FaaS metrics (`faas.trigger` http); the third argument's `route`
 * (the file's route template, e.g. `/users/:id`) becomes `http.route` (Pages gives the function
 * only the matched path, never the template), `auto: ...` turns a group off.
 */
export function pagesFunction(handler, metricsOrOptions, options = {}) {
  if (typeof handler !== 'function') throw new TypeError('edgemetrics/workers: pagesFunction needs a function');
  checkSource(metricsOrOptions, 'pagesFunction');
  const auto = wrapperAuto(options, 'pagesFunction', ['auto', 'route']);
  const route = options.route;
  if (route !== undefined && typeof route !== 'string')
    throw new TypeError('edgemetrics/workers: pagesFunction option route must be a string (the route template, e.g. "/users/:id")');
  let metrics = isMetrics(metricsOrOptions) ? metricsFor(metricsOrOptions) : null;
  return async function (context) {
    if (!metrics) metrics = metricsFor(metricsOrOptions, context?.env);
    try {
      if (context?.data && typeof context.data === 'object') context.data.metrics = metrics;
    } catch {
      // a frozen data object: the second argument still carries the Metrics
    }
    return runInvocation(
      metrics,
      auto,
      'http',
      requestOfContext(context),
      () => handler.call(this, context, metrics),
      () => flushVia(context, metrics),
      route,
    );
  };
}

function requestOfContext(context) {
  try {
    return context?.request ?? undefined;
  } catch {
    return undefined;
  }
}
