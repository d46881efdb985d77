// Wrappers that put metrics around a user's handler: `withMetrics` (module workers: fetch,
// scheduled, queue, ...) and `wrapLambda` ((event, context) handlers). Why a file of its own: the
// promise they keep is that metrics never break the function they observe. A configuration
// mistake turns metrics off for the isolate with one console.warn naming the option (the handler
// runs unchanged, with a Metrics object that records nothing); instrument mistakes inside the
// handler give no-op instruments (warned once, counted); a flush never throws or rejects into the
// handler and never holds it longer than its budget.
import { hostLookup, resolveOptions } from './env.js';
import { DISABLED, LENIENT, Metrics, isMetrics } from './metrics.js';
import { autoOptions, invocationEnd, invocationStart, triggerOfHandler, triggerOfLambdaEvent } from './auto.js';

/** Default flush budget of `wrapLambda`: what a receiver outage may add to one invocation. */
export const LAMBDA_FLUSH_BUDGET_MS = 1000;

function disabledMetrics(e, reason) {
  try {
    console.warn(
      `edgemetrics: metrics are off for this isolate: ${String(e?.message ?? e).replace(/^edgemetrics: /, '')}. Fix the option named here (see the package README); the handler runs without metrics until then.`,
    );
  } catch {
    // a broken console cannot break the handler
  }
  return new Metrics(DISABLED, reason);
}

/** The Metrics object of a wrapper: built once, never throwing (a failure gives a disabled one). */
export function metricsFor(m, env) {
  let metrics;
  try {
    if (isMetrics(m)) metrics = m;
    else {
      // Explicit options (an object, or a function of the Workers `env`) over the OTEL_* /
      // EDGEMETRICS_* environment (env.js); no endpoint, OTEL_SDK_DISABLED or an invalid
      // variable: metrics off, the reason in every flush result.
      const { options, reason } = resolveOptions((typeof m === 'function' ? m(env) : m) ?? {}, hostLookup(env));
      if (reason !== undefined) return disabledMetrics(new Error(reason), reason);
      metrics = new Metrics(options);
    }
  } catch (e) {
    return disabledMetrics(e);
  }
  metrics[LENIENT]();
  return metrics;
}

export function checkSource(metricsOrOptions, who) {
  if (isMetrics(metricsOrOptions)) return;
  if (metricsOrOptions === undefined) return; // configured by the environment alone
  if (metricsOrOptions === null || (typeof metricsOrOptions !== 'object' && typeof metricsOrOptions !== 'function')) {
    throw new TypeError(`edgemetrics: ${who} needs a Metrics object, options, a function (env) => options, or nothing (OTEL_* environment)`);
  }
}

/**
 * Wraps a module worker (`{ fetch, scheduled, queue, ... }`): each handler call begins a window,
 * and the flush is handed to `ctx.waitUntil` (awaited when there is no `waitUntil`). The Metrics
 * object (or one built from `options`, or from `options(env)` at the first invocation) is passed
 * as an extra last argument and is also available as `wrapped.metrics` once created.
 *
 * Automatic metrics (auto.js): every invocation records the FaaS metrics (`faas.trigger` http,
 * timer for `scheduled`, pubsub for `queue`, other for the rest) and `fetch` the HTTP server
 * metrics; `{ auto: { http: false, faas: false } }` as the third argument turns a group off.
 */
export function withMetrics(handler, metricsOrOptions, options = {}) {
  checkSource(metricsOrOptions, 'withMetrics');
  if (options === null || typeof options !== 'object') throw new TypeError('edgemetrics: withMetrics options must be an object');
  for (const k of Object.keys(options)) if (k !== 'auto') throw new TypeError(`edgemetrics: withMetrics has no option ${JSON.stringify(k)} (known: auto)`);
  const auto = autoOptions(options.auto, 'withMetrics');
  let metrics = isMetrics(metricsOrOptions) ? metricsFor(metricsOrOptions) : null;
  const wrapped = {};
  for (const name of ['fetch', 'scheduled', 'queue', 'email', 'tail', 'trace']) {
    if (typeof handler?.[name] !== 'function') continue;
    wrapped[name] = async function (event, env, ctx) {
      if (!metrics) metrics = metricsFor(metricsOrOptions, env);
      wrapped.metrics = metrics;
      return runInvocation(
        metrics,
        auto,
        triggerOfHandler(name),
        name === 'fetch' ? event : undefined,
        () => handler[name].call(handler, event, env, ctx, metrics),
        () => flushVia(ctx, metrics),
      );
    };
  }
  if (metrics) wrapped.metrics = metrics;
  return wrapped;
}

/**
 * Wraps a `(event, context) => result` handler (AWS Lambda style): begins a window, runs the
 * handler, and awaits the flush in `finally`, bounded by `flushBudgetMs` (default 1000 ms) and by
 * `context.getRemainingTimeInMillis()` less `marginMs` (default 100). What does not get through
 * in time is carried over to the next invocation's batch. The Metrics object is passed as a third
 * argument. Automatic FaaS metrics (auto.js) with `faas.trigger` read from the event's shape
 * (or `opts.trigger`); `opts.auto: { faas: false }` turns them off.
 */
export function wrapLambda(handler, metricsOrOptions, opts = {}) {
  if (typeof handler !== 'function') throw new TypeError('edgemetrics: wrapLambda needs a function');
  checkSource(metricsOrOptions, 'wrapLambda');
  const { marginMs = 100, flushBudgetMs = LAMBDA_FLUSH_BUDGET_MS, trigger } = opts ?? {};
  const auto = autoOptions(opts?.auto, 'wrapLambda');
  if (trigger !== undefined && typeof trigger !== 'string') throw new TypeError('edgemetrics: wrapLambda trigger must be a string (faas.trigger)');
  if (typeof marginMs !== 'number' || !Number.isFinite(marginMs) || marginMs < 0)
    throw new RangeError(`edgemetrics: wrapLambda marginMs must be a finite number ≥ 0; got ${String(marginMs)}`);
  if (typeof flushBudgetMs !== 'number' || !Number.isFinite(flushBudgetMs) || !(flushBudgetMs > 0)) {
    throw new RangeError(`edgemetrics: wrapLambda flushBudgetMs must be a positive finite number; got ${String(flushBudgetMs)}`);
  }
  let metrics = isMetrics(metricsOrOptions) ? metricsFor(metricsOrOptions) : null;
  const wrapped = async function (event, context) {
    if (!metrics) metrics = metricsFor(metricsOrOptions, undefined);
    wrapped.metrics = metrics;
    return runInvocation(
      metrics,
      auto,
      trigger ?? triggerOfLambdaEvent(event),
      undefined,
      () => handler.call(this, event, context, metrics),
      () => {
        let deadline = Date.now() + flushBudgetMs;
        try {
          const left = context?.getRemainingTimeInMillis?.();
          if (typeof left === 'number' && Number.isFinite(left)) deadline = Math.min(deadline, Date.now() + left - marginMs);
        } catch {
          // no budget information
        }
        return metrics.end({ deadline });
      },
    );
  };
  if (metrics) wrapped.metrics = metrics;
  return wrapped;
}

/**
 * One invocation, the same in every wrapper: `begin`, the automatic metrics' start, the user's
 * call (its result or exception passed through unchanged, the very same object), the automatic
 * metrics' end, then `finish()`: the flush handed to the platform (`waitUntil`) or a promise to
 * await (Lambda, no `waitUntil`). `route`: the route template when the wrapper knows it.
 */
export async function runInvocation(metrics, auto, trigger, request, call, finish, route) {
  metrics.begin(Date.now());
  const token = invocationStart(metrics, auto, trigger, request);
  let outcome;
  try {
    const result = await call();
    outcome = { result, route };
    return result;
  } catch (error) {
    outcome = { threw: true, error, route };
    throw error;
  } finally {
    invocationEnd(token, outcome);
    const p = finish();
    if (p) await p;
  }
}

/** Hands the flush to `ctx.waitUntil`; returns the promise to await when there is none. */
export function flushVia(ctx, metrics) {
  const p = metrics.end();
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
