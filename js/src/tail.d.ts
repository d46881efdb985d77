// Types of `edgemetrics/tail`.
import type { Metrics, MetricsOptions } from './index.js';

/** What starts the log line a producer with `transport: 'tail'` writes (then the compact batch in base64). */
export const TAIL_PREFIX: string;

/** The compact batch in one tail log message part; null when it is not ours, undefined when ours but not base64. */
export function decodeTailLine(part: unknown): Uint8Array | null | undefined;

/** Counters of a tail handler since its isolate started. */
export interface TailStats {
  events: number;
  batches: number;
  malformed: number;
  refused: number;
  pushes: number;
}

/** A Tail Worker `tail(events, env, ctx)` handler that merges producers' batches and pushes one per window. */
export interface TailHandler<Env = any> {
  (events: readonly unknown[], env: Env, ctx: { waitUntil(p: Promise<unknown>): void }): Promise<void>;
  readonly stats: TailStats;
  readonly metrics?: Metrics;
}

export function tailHandler<Env = any>(
  metricsOrOptions?: Metrics | MetricsOptions | ((env: Env) => MetricsOptions),
  opts?: { window?: number; maxAgeMs?: number },
): TailHandler<Env>;
