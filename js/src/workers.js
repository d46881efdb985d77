// `edgemetrics/workers`: metrics around the Workers handler shapes that `withMetrics` (an object
// of handlers) cannot wrap: Pages Functions (`onRequest(context)`), Durable Object classes and
// `WorkerEntrypoint` classes, whose
// handler methods (`fetch`, `alarm`, `webSocketMessage`, ...) and RPC methods are called on an
// instance with `this.env` and `this.ctx`. Why a file of its own: the class shape needs a
// subclass whose methods begin a window and flush through `this.ctx.waitUntil`, and it must keep
// synchronous methods synchronous (a sync RPC method stays sync for callers inside the class).
import { checkSource, metricsFor } from './wrappers.js';
// Through the package's own name, so that the runtime's entry (the one that loads the wasm
// module) is part of the worker whenever this module is.
// `edgemetrics/all`: the entry whose modules are the ones next to this file (dist/, every format);
// a Metrics object passed in may come from any entry.
import 'edgemetrics/all';
import { isMetrics } from './metrics.js';

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

/** Hands the flush to `ctx.waitUntil`; returns the promise to await when there is none. */
function flushVia(ctx, metrics) {
  const p = metrics.flush();
  try {
    if (ctx && typeof ctx.waitUntil === 'function') {
      ctx.waitUntil(p);
      return null;
    }
  } catch {
    // a waitUntil that throws: the caller awaits the flush instead
  }
  return p;
}

function instrumentClass(Class, metricsOrOptions, who) {
  if (typeof Class !== 'function' || typeof Class.prototype !== 'object') throw new TypeError(`edgemetrics/workers: ${who} needs a class`);
  checkSource(metricsOrOptions, who);
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
      let result;
      try {
        result = original.apply(this, args);
      } catch (e) {
        flushVia(this.ctx, m);
        throw e;
      }
      if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
        const ctx = this.ctx;
        return Promise.resolve(result).finally(() => flushVia(ctx, m) ?? undefined);
      }
      // A synchronous method stays synchronous: its flush runs on (waitUntil or not awaited; a
      // flush never rejects).
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
 * Metrics is `this.metrics`.
 */
export function instrumentDurableObject(Class, metricsOrOptions) {
  return instrumentClass(Class, metricsOrOptions, 'instrumentDurableObject');
}

/** The same for a `WorkerEntrypoint` class (service-binding RPC and its handlers). */
export function instrumentEntrypoint(Class, metricsOrOptions) {
  return instrumentClass(Class, metricsOrOptions, 'instrumentEntrypoint');
}

/**
 * Wraps a Pages Function (`onRequest(context)`, `onRequestGet`, ...): begins a window, passes the
 * Metrics as a second argument (and as `context.data.metrics`), and hands the flush to
 * `context.waitUntil`. The options function gets `context.env`.
 */
export function pagesFunction(handler, metricsOrOptions) {
  if (typeof handler !== 'function') throw new TypeError('edgemetrics/workers: pagesFunction needs a function');
  checkSource(metricsOrOptions, 'pagesFunction');
  let metrics = isMetrics(metricsOrOptions) ? metricsFor(metricsOrOptions) : null;
  return async function (context) {
    if (!metrics) metrics = metricsFor(metricsOrOptions, context?.env);
    metrics.begin(Date.now());
    try {
      if (context?.data && typeof context.data === 'object') context.data.metrics = metrics;
    } catch {
      // a frozen data object: the second argument still carries the Metrics
    }
    try {
      return await handler.call(this, context, metrics);
    } finally {
      const p = flushVia(context, metrics);
      if (p) await p;
    }
  };
}
