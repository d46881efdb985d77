// `edgemetrics/hono`: Hono middleware recording the stable OpenTelemetry HTTP server metrics and
// flushing once per request. Why it exists: Hono is the most used framework on Workers, and every
// Hono app otherwise hand-writes the same duration histogram, in-flight counter and flush. It
// does not import `hono`: it reads only the context (`c.req`, `c.res`, `c.error`, `c.env`,
// `c.executionCtx`), so it works with the app's own copy of Hono.
//
//   http.server.request.duration  histogram, seconds, the semantic conventions' advised buckets
//   http.server.active_requests   up-down counter, {request}
//
// Attributes (semantic conventions): `http.request.method` (`_OTHER` for methods outside the
// registry), `url.scheme`, `http.route` (the matched route template, `c.req.routePath` after the
// handlers ran; absent when no route matched), `http.response.status_code`, `error.type` (the
// exception's name when the handler threw, else the status code for 5xx).
import { HTTP_DURATION_BUCKETS_SECONDS } from './semconv.js';
// The JS layer comes from ONE package entry: build.mjs turns the import of ./integration.js into
// an import of the entry this copy is built for (`edgemetrics/hono` uses `edgemetrics`, the
// default; `edgemetrics/remote-write/hono` uses `edgemetrics/remote-write`, ...), so the app
// ships that entry's wasm and no other. A Metrics object passed in may come from any entry.
import { INTEGRATION } from './integration.js';
import { isMetrics } from './symbols.js';

const { checkSource, httpEnd, httpStart, metricsFor } = INTEGRATION;

/** The bucket boundaries the HTTP semantic conventions advise for http.server.request.duration. */
export const HTTP_DURATION_BUCKETS = Array.from(HTTP_DURATION_BUCKETS_SECONDS);

/**
 * Hono middleware: records the HTTP server metrics of every request, exposes the Metrics as
 * `c.get('metrics')`, and flushes after the response through `c.executionCtx.waitUntil` (awaited
 * before the response when there is no execution context, as in Node).
 *
 * @param {Metrics | object | ((env: any) => object)} metricsOrOptions as for `withMetrics`
 * @param {{ flush?: boolean }} [options] `flush: false` leaves flushing to the caller (e.g. when
 *   the app is also wrapped with `withMetrics`)
 */
export function metricsMiddleware(metricsOrOptions, options = {}) {
  checkSource(metricsOrOptions, 'metricsMiddleware');
  if (options === null || typeof options !== 'object') throw new TypeError('edgemetrics/hono: options must be an object');
  for (const k of Object.keys(options)) if (k !== 'flush') throw new TypeError(`edgemetrics/hono: unknown option ${JSON.stringify(k)}`);
  if (options.flush !== undefined && typeof options.flush !== 'boolean') throw new TypeError('edgemetrics/hono: options.flush must be a boolean');
  const flush = options.flush ?? true;
  let metrics = isMetrics(metricsOrOptions) ? metricsFor(metricsOrOptions) : null;

  const middleware = async function edgemetricsHono(c, next) {
    if (!metrics) metrics = metricsFor(metricsOrOptions, c.env);
    try {
      c.set('metrics', metrics);
    } catch {
      // a context without variables: the handler can still use the Metrics it created
    }
    // With `flush: false` the caller (e.g. withMetrics) begins and ends the invocation.
    if (flush) metrics.begin(Date.now());
    let raw;
    try {
      raw = c.req.raw;
    } catch {
      raw = undefined;
    }
    // The shared HTTP server metrics (auto.js). Inside a wrapper (withMetrics, ...) that already
    // records this request with the same Metrics, only the route and error are handed to it.
    const state = httpStart(metrics, raw ?? { method: safe(() => c.req.method), url: safe(() => c.req.url) }, true);
    let thrown;
    let threw = false;
    try {
      await next();
    } catch (e) {
      threw = true;
      thrown = e;
    }
    let status = 500;
    if (!threw) {
      try {
        status = c.res.status;
      } catch {
        status = 500;
      }
    }
    // Hono's compose catches handler errors, calls onError and keeps the error in `c.error`.
    httpEnd(state, { status, route: routeOf(c, middleware), error: threw ? thrown : safe(() => c.error) });
    if (flush) {
      const p = metrics.end();
      let handed = false;
      try {
        const ctx = c.executionCtx; // Hono throws when the runtime gave no execution context
        if (ctx && typeof ctx.waitUntil === 'function') {
          ctx.waitUntil(p);
          handed = true;
        }
      } catch {
        // no execution context (Node): await the flush below
      }
      if (!handed) await p;
    }
    if (threw) throw thrown;
  };
  return middleware;
}

/** The matched route template, or undefined when no route after this middleware handled the request. */
function routeOf(c, self) {
  try {
    const i = c.req.routeIndex;
    const routes = c.req.matchedRoutes;
    const r = Array.isArray(routes) ? routes[i] : undefined;
    if (r && r.handler === self) return undefined; // nothing after us ran: not found
    const p = c.req.routePath;
    return typeof p === 'string' && p !== '' ? p : undefined;
  } catch {
    return undefined;
  }
}

function safe(f) {
  try {
    return f();
  } catch {
    return undefined;
  }
}
