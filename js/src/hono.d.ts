// Types of `edgemetrics/hono`.
import type { MiddlewareHandler } from 'hono';
import type { Metrics, MetricsOptions } from './index.js';

/** Bucket boundaries (seconds) advised by the HTTP semantic conventions. */
export const HTTP_DURATION_BUCKETS: number[];

/** Records `http.server.request.duration` and `http.server.active_requests`, sets
 * `c.get('metrics')`, and flushes via `c.executionCtx.waitUntil` (awaited without one). */
export function metricsMiddleware<B extends object = any>(
  metricsOrOptions: Metrics | MetricsOptions | ((env: B) => MetricsOptions),
  options?: { flush?: boolean },
): MiddlewareHandler<{ Bindings: B; Variables: { metrics: Metrics } }>;
