// `edgemetrics/vercel`: wraps a fetch-style handler `(request, ...rest) => Response` for platforms
// whose "keep working after the response" hook is a function rather than a `ctx` argument:
// `waitUntil` from `@vercel/functions`, Next.js's `after()`, Netlify's `context.waitUntil`, the
// Edge runtime's `event.waitUntil`. Why a file of its own: `withMetrics` finds `ctx.waitUntil` in
// the Workers signature; here the caller says where it is.
// The JS layer comes from ONE package entry: build.mjs turns the import of ./integration.js into
// an import of the entry this copy is built for (`edgemetrics/vercel` uses `edgemetrics`, the
// default; `edgemetrics/remote-write/vercel` uses `edgemetrics/remote-write`, ...), so the app
// ships that entry's wasm and no other. A Metrics object passed in may come from any entry.
import { INTEGRATION } from './integration.js';
import { isMetrics } from './symbols.js';

const { autoOptions, checkSource, metricsFor, runInvocation } = INTEGRATION;

/**
 * Wraps `handler`: each call begins a window, the handler gets the Metrics as an extra last
 * argument, and the flush is handed to `waitUntil(promise, ...handlerArgs)` after the handler
 * returned or threw. Without `waitUntil` (or when it throws) the flush is awaited before the
 * result is returned. The flush never rejects and never changes the handler's result or error.
 * Automatic metrics (auto.js): the HTTP server metrics when the first argument is a Request, and
 * the FaaS metrics (`faas.trigger` http); `auto: { http: false, faas: false }` turns them off.
 *
 * @param {(...args: any[]) => any} handler
 * @param {Metrics | object | (() => object)} metricsOrOptions
 * @param {{ waitUntil?: (promise: Promise<unknown>, ...args: any[]) => void, auto?: boolean | { http?: boolean, faas?: boolean } }} [options]
 */
export function withWaitUntil(handler, metricsOrOptions, options = {}) {
  if (typeof handler !== 'function') throw new TypeError('edgemetrics/vercel: withWaitUntil needs a handler function');
  checkSource(metricsOrOptions, 'withWaitUntil');
  if (options === null || typeof options !== 'object') throw new TypeError('edgemetrics/vercel: options must be an object');
  for (const k of Object.keys(options)) if (k !== 'waitUntil' && k !== 'auto') throw new TypeError(`edgemetrics/vercel: unknown option ${JSON.stringify(k)}`);
  const { waitUntil } = options;
  const auto = autoOptions(options.auto, 'withWaitUntil');
  if (waitUntil !== undefined && typeof waitUntil !== 'function') throw new TypeError('edgemetrics/vercel: options.waitUntil must be a function');
  let metrics = isMetrics(metricsOrOptions) ? metricsFor(metricsOrOptions) : null;
  const wrapped = async function (...args) {
    if (!metrics) metrics = metricsFor(metricsOrOptions, undefined);
    wrapped.metrics = metrics;
    return runInvocation(
      metrics,
      auto,
      'http',
      isRequest(args[0]) ? args[0] : undefined,
      () => handler.call(this, ...args, metrics),
      () => {
        const p = metrics.end();
        if (!waitUntil) return p;
        try {
          const r = waitUntil(p, ...args);
          // after() and some waitUntil()s return nothing; one that returns a promise must not reject unseen.
          if (r && typeof r.then === 'function') r.then(undefined, () => {});
          return null;
        } catch {
          // waitUntil unavailable here (e.g. outside a request scope): await the flush instead
          return p;
        }
      },
    );
  };
  if (metrics) wrapped.metrics = metrics;
  return wrapped;
}

function isRequest(x) {
  try {
    return x !== null && typeof x === 'object' && typeof x.method === 'string' && (typeof x.url === 'string' || typeof x.url === 'object');
  } catch {
    return false;
  }
}
