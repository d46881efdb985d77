// Types of `edgemetrics/vercel`.
import type { AutoMetrics, Metrics, MetricsOptions } from './index.js';

/** Wraps a fetch-style handler: begin per call, the Metrics as an extra last argument, the flush
 * handed to `waitUntil(promise, ...args)` (awaited when there is none or it throws). */
export function withWaitUntil<A extends unknown[], R>(
  handler: (...args: [...A, Metrics]) => R | Promise<R>,
  metricsOrOptions: Metrics | MetricsOptions | (() => MetricsOptions),
  options?: { waitUntil?: (promise: Promise<unknown>, ...args: A) => unknown; auto?: AutoMetrics },
): ((...args: A) => Promise<R>) & { metrics?: Metrics };
