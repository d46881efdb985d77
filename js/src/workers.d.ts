// Types of `edgemetrics/workers`.
import type { AutoMetrics, Metrics, MetricsOptions } from './index.js';

type Class<T> = abstract new (...args: any[]) => T;

/** A subclass whose methods begin a window and flush via `this.ctx.waitUntil`; `this.metrics` is the Metrics. */
export function instrumentDurableObject<T extends object, Env = any>(
  Base: Class<T> & { prototype: T },
  metricsOrOptions: Metrics | MetricsOptions | ((env: Env) => MetricsOptions),
  options?: { auto?: AutoMetrics },
): Class<T & { readonly metrics: Metrics }>;
export function instrumentEntrypoint<T extends object, Env = any>(
  Base: Class<T> & { prototype: T },
  metricsOrOptions: Metrics | MetricsOptions | ((env: Env) => MetricsOptions),
  options?: { auto?: AutoMetrics },
): Class<T & { readonly metrics: Metrics }>;

/** Wraps a Pages Function: the Metrics as a second argument and `context.data.metrics`, flush via `context.waitUntil`. */
export function pagesFunction<C extends { env: any; waitUntil(p: Promise<unknown>): void; data?: any }, R>(
  handler: (context: C, metrics: Metrics) => R | Promise<R>,
  metricsOrOptions: Metrics | MetricsOptions | ((env: C['env']) => MetricsOptions),
  options?: { auto?: AutoMetrics; route?: string },
): (context: C) => Promise<R>;
