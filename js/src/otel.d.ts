// Types of `edgemetrics/otel`: a MeterProvider for `@opentelemetry/api` backed by a Metrics.
import type { Meter, MeterOptions, MeterProvider } from '@opentelemetry/api';
import type { FlushResult, Metrics } from './index.js';

/** No options today: a meter's name and version are its instruments' instrumentation scope
 * (one OTLP ScopeMetrics per meter; `otel_scope_name` / `otel_scope_version` labels with
 * remote write and Pushgateway). */
export type EdgeMeterProviderOptions = Record<string, never>;

export class EdgeMeterProvider implements MeterProvider {
  /** @throws TypeError when `metrics` is not a Metrics or an option is unknown or mistyped. */
  constructor(metrics: Metrics, options?: EdgeMeterProviderOptions);
  readonly metrics: Metrics;
  /** One meter per name and version. Never throws. */
  getMeter(name: string, version?: string, options?: MeterOptions): Meter;
  /** Runs every observable callback now (a flush does it itself). */
  collect(): Promise<unknown> | undefined;
  /** `metrics.flush()`. */
  forceFlush(): Promise<FlushResult>;
  /** Stops running observable callbacks. */
  shutdown(): Promise<void>;
}
