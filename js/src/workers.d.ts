// Types of `edgemetrics/workers`.
import type { Metrics, MetricsOptions } from './index.js';

type Class<T> = abstract new (...args: any[]) => T;

/** A subclass whose methods begin a window and flush via `this.ctx.waitUntil`; `this.metrics` is the Metrics. */
export function instrumentDurableObject<T extends object, Env = any>(
  Base: Class<T> & { prototype: T },
  metricsOrOptions: Metrics | MetricsOptions | ((env: Env) => MetricsOptions),
): Class<T & { readonly metrics: Metrics }>;
export function instrumentEntrypoint<T extends object, Env = any>(
  Base: Class<T> & { prototype: T },
  metricsOrOptions: Metrics | MetricsOptions | ((env: Env) => MetricsOptions),
): Class<T & { readonly metrics: Metrics }>;
