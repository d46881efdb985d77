// Types of the `edgemetrics` npm package (every entry point exports the same API).

/** An attribute value. Integers (safe) and bigints within int64 are sent as int, other numbers
 * as double; other values are converted with `String(v)`. `null`, `undefined`, a bigint outside
 * int64 and a value that cannot be read drop that attribute alone, counted in
 * `edgemetrics.sdk.attributes.dropped`. Only own enumerable string keys are read. */
export type AttributeValue = string | number | boolean | bigint;
export type Attributes = Record<string, AttributeValue | null | undefined>;

export type Format = 'otlp-proto' | 'otlp-json' | 'remote-write' | 'pushgateway' | 'compact' | 'emf';

export interface Limits {
  /** Series per instrument, the overflow series included (default 2000). */
  cardinality?: number;
  /** Instruments per Metrics (default 256). */
  maxInstruments?: number;
  /** Series across all instruments (default 20000). */
  maxSeries?: number;
  /** Bytes of attribute keys across all series (default 4 MiB). */
  maxAttributeBytes?: number;
  /** Attributes kept per set (default 32). */
  maxAttributes?: number;
  /** Longest attribute key in bytes (default 128). */
  maxKeyLength?: number;
  /** Longest string attribute value in bytes (default 1024; longer ones are truncated). */
  maxValueLength?: number;
}

export interface MetricsOptions {
  /** Receiver base URL (http or https). OTLP appends `/v1/metrics`, remote write
   * `/api/v1/write` (see `remoteWrite.path`), Pushgateway `/metrics/job/...`, to the URL's path
   * (a query string stays after it: `https://h/base?x=1` sends to `https://h/base/v1/metrics?x=1`);
   * a URL whose path already ends in it is used as is. No fragment. Not needed (and not used) with
   * format `'emf'` or transport `'tail'`. */
  endpoint?: string;
  /** Wire format (default `'otlp-proto'`; `'compact'` with transport `'tail'`). `'emf'`: CloudWatch
   * Embedded Metric Format lines written to stdout, no request. */
  format?: Format;
  /** `'fetch'` (default) sends each batch; `'tail'` writes it as one log line for the worker's
   * Tail Worker (`edgemetrics/tail`) and makes no request. */
  transport?: 'fetch' | 'tail';
  /** Extra request headers (e.g. `Authorization`). */
  headers?: Record<string, string>;
  /** Resource attributes; they win over the detected ones. Without `service.instance.id`, a
   * random per-isolate id is added at the first flush (it becomes Prometheus `instance` and the
   * Pushgateway grouping). */
  resource?: Attributes;
  /** Add `telemetry.sdk.*` and the platform's `cloud.*` / `faas.*` attributes (default true). */
  detectResource?: boolean;
  /** `service.name` (default: `resource['service.name']`, else `unknown_service`). */
  serviceName?: string;
  /** Default `'delta'` for OTLP and compact, `'cumulative'` for remote write and Pushgateway. */
  temporality?: 'delta' | 'cumulative';
  limits?: Limits;
  /** Emit `edgemetrics.sdk.*` self-metrics (default true). */
  selfMetrics?: boolean;
  /** `'gzip'` compresses OTLP bodies with CompressionStream (default `'none'`). */
  compression?: 'none' | 'gzip';
  /** Upper bound of one flush in ms, retries included (default 10000): every `flush()` promise
   * settles within it, however many are queued. At most 2147483647 (2^31 - 1; a longer timer fires
   * at once in Node). */
  timeoutMs?: number;
  /** Delivery plan settings (defaults: 3 attempts, 5000 ms per attempt, backoff 100..2000 ms
   * with full jitter; `Retry-After` wins). */
  retry?: { maxAttempts?: number; attemptTimeoutMs?: number; backoffBaseMs?: number; backoffCapMs?: number };
  /** The fetch to use (default `globalThis.fetch`). */
  fetch?: typeof globalThis.fetch;
  remoteWrite?: { path?: string; externalLabels?: Record<string, string> };
  /** Default grouping key: `job` from service.name, `instance` from service.instance.id. */
  pushgateway?: { job?: string; grouping?: Record<string, string>; method?: 'PUT' | 'POST' };
  /** Called with every flush result (never able to break the flush or the handler). */
  onFlush?: (result: FlushResult) => void;
  /** When the end of an invocation (`end()`, i.e. every wrapper) pushes. `'adaptive'` (default):
   * when no other invocation is in flight in the isolate, or the unflushed data is `maxAgeMs`
   * (10000) old. `'invocation'`: at every invocation's end. An object: `everyInvocations` (count
   * limit, default none), `maxAgeMs` (default 10000), `whenIdle` (default true). */
  flush?: 'adaptive' | 'invocation' | FlushPolicyOptions;
}

export interface FlushPolicyOptions {
  everyInvocations?: number;
  maxAgeMs?: number;
  whenIdle?: boolean;
}

export interface InstrumentOptions {
  /** UCUM unit, e.g. `ms`, `By`, `{request}`. */
  unit?: string;
  description?: string;
}
export interface HistogramOptions extends InstrumentOptions {
  /** Bucket upper bounds, finite and strictly increasing (default: the OpenTelemetry ones).
   * Explicit-bucket histograms only. */
  bounds?: readonly number[] | Float64Array;
  /** `'explicit'` (default): buckets between `bounds`. `'exponential'`: base-2 exponential
   * buckets (OpenTelemetry exponential histogram, Prometheus native histogram) that need no
   * bounds and keep a relative error below `2^(2^-scale) - 1` at any magnitude. */
  aggregation?: 'explicit' | 'exponential';
  /** Exponential only: most buckets per sign, 2..16384 (default 160). */
  maxSize?: number;
  /** Exponential only: the scale each window starts at, -10..20 (default 20). */
  maxScale?: number;
}

/** A handle to one attribute set: each call is a single wasm call with numbers only. */
export interface BoundInstrument {
  add(value: number): void;
  record(value: number): void;
  set(value: number): void;
}

interface InstrumentBase {
  readonly name: string;
  /** Binds an attribute set once; use the handle on hot paths. */
  bind(attributes?: Attributes): BoundInstrument;
}
export interface Counter extends InstrumentBase {
  readonly kind: 'counter';
  /** Adds a finite, non-negative value. Never throws; bad values are counted. */
  add(value: number, attributes?: Attributes): void;
}
export interface UpDownCounter extends InstrumentBase {
  readonly kind: 'upDownCounter';
  add(value: number, attributes?: Attributes): void;
}
export interface Gauge extends InstrumentBase {
  readonly kind: 'gauge';
  set(value: number, attributes?: Attributes): void;
  record(value: number, attributes?: Attributes): void;
}
export interface Histogram extends InstrumentBase {
  readonly kind: 'histogram';
  record(value: number, attributes?: Attributes): void;
}

export interface FlushResult {
  /** The receiver acknowledged the batch (2xx). */
  sent: boolean;
  /** HTTP status of the last attempt (0: no response). */
  status: number;
  /** Body bytes sent (after compression). */
  bytes: number;
  /** Requests made (0 when there was nothing to send). */
  attempts: number;
  /** Points dropped for good (permanent rejection, 401/403, encode failure, carry limit). */
  dropped: number;
  /** Points kept for the next flush after a retryable failure (deadline, attempts exhausted). */
  carried: number;
  /** Points the receiver refused in a 2xx answer (OTLP partial success). */
  rejected?: number;
  /** Why the batch was not delivered, e.g. `exhausted (refused)`, `rejected (HTTP 400): <the
   * first 200 bytes of the receiver's answer, credentials redacted>`. */
  error?: string;
  /** The flush's budget ran out while its delivery was still in flight (the delivery goes on;
   * `lastFlush` gets its result). */
  pending?: boolean;
  /** `end()` only: the flush policy kept the data for a later invocation's push (no request). */
  deferred?: boolean;
}

export interface FlushStats {
  /** `flush()` calls. */
  flushes: number;
  /** Deliveries started. */
  flights: number;
  /** Calls that joined a delivery in progress or its one follow-up. */
  coalesced: number;
  /** Deliveries abandoned after twice their budget (their data is carried). */
  stale: number;
  /** Calls answered at their deadline with `pending: true`. */
  settledAtDeadline: number;
}

export interface PreparedRequest {
  method: 'POST' | 'PUT';
  url: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /** Points in the batch. */
  points: number;
}

export class Metrics {
  /** @throws TypeError / RangeError for bad options (unknown keys, wrong types, non-finite
   * numbers, delta with remote write or Pushgateway, gzip with a format that cannot carry it),
   * with a message naming the option. The wrappers catch it: metrics off, one warning. */
  constructor(options: MetricsOptions);
  readonly endpoint: string;
  readonly format: Format;
  readonly temporality: 'delta' | 'cumulative';
  /** `false` for the stand-in a wrapper uses after a configuration error. */
  readonly enabled: boolean;
  /** The random `service.instance.id` set at the first flush ('' before, or when given). */
  readonly instanceId: string;
  /** The result of the last flush (`null` before the first). */
  readonly lastFlush: FlushResult | null;
  /** Counters of the flush loop. */
  readonly flushStats: FlushStats;
  /** @throws TypeError for a bad name, unit or a kind conflict (inside `withMetrics` /
   * `wrapLambda`: a no-op instrument, one warning, its values counted as rejected). */
  counter(name: string, options?: InstrumentOptions): Counter;
  upDownCounter(name: string, options?: InstrumentOptions): UpDownCounter;
  gauge(name: string, options?: InstrumentOptions): Gauge;
  /** @throws RangeError for bad bounds. */
  histogram(name: string, options?: HistogramOptions): Histogram;
  /** Marks the start of an invocation (unix ms, default `Date.now()`). The wrappers call it. */
  begin(nowMs?: number): void;
  /** Marks the end of an invocation begun with `begin()`: `flush(options)` when the flush policy
   * says so, else resolves at once with `{ sent: false, deferred: true }`. The wrappers call it. */
  end(options?: { deadline?: number }): Promise<FlushResult>;
  /** Invocations begun and not yet ended. */
  readonly inFlight: number;
  /** Collects and encodes without sending; `null` when there is nothing to send. */
  prepare(nowMs?: number): PreparedRequest | null;
  /** Sends what was recorded since the last flush: one request, or none. Never rejects. */
  flush(options?: { deadline?: number }): Promise<FlushResult>;
  /**
   * Releases the wasm state (later Metrics reuse the memory); unflushed data is discarded.
   * Idempotent. Where the runtime defines `Symbol.dispose`, `[Symbol.dispose]()` does the same
   * (not declared here, so that projects without the `esnext.disposable` lib still compile).
   */
  close(): void;
}

/**
 * Thrown by `new Metrics()` when `options.format` is not compiled into the imported entry's wasm
 * module (`edgemetrics` has OTLP protobuf only; `edgemetrics/remote-write`, `/pushgateway`,
 * `/compact` their format; `edgemetrics/all` every format). `entry` names the one to import.
 */
export class FormatUnavailableError extends TypeError {
  readonly code: 'EDGEMETRICS_FORMAT_UNAVAILABLE';
  readonly format: string;
  readonly entry: string;
}

/** Loads the wasm module. Required before `new Metrics()` only in the browser/default entry. */
export function init(input?: string | URL | Response | BufferSource | WebAssembly.Module): Promise<void>;

/** The attribute key used for caching and for the wasm boundary (exposed for tests). */
export function attributeKey(attributes: Attributes): string;

type WorkerHandler<E, Env, Ctx, R> = (event: E, env: Env, ctx: Ctx, metrics: Metrics) => R;
export interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void;
}
export interface ModuleWorker<Env = any> {
  fetch?: WorkerHandler<Request, Env, ExecutionContextLike, Response | Promise<Response>>;
  scheduled?: WorkerHandler<any, Env, ExecutionContextLike, void | Promise<void>>;
  queue?: WorkerHandler<any, Env, ExecutionContextLike, void | Promise<void>>;
  [handler: string]: any;
}
/** What `withMetrics` returns: the handlers with the Workers signature `(event, env, ctx)`
 * (assignable to `ExportedHandler<Env>` of `@cloudflare/workers-types`). */
export interface WrappedWorker<Env = any> {
  fetch?(request: Request, env: Env, ctx: ExecutionContextLike): Promise<Response>;
  scheduled?(controller: any, env: Env, ctx: ExecutionContextLike): Promise<void>;
  queue?(batch: any, env: Env, ctx: ExecutionContextLike): Promise<void>;
  email?(message: any, env: Env, ctx: ExecutionContextLike): Promise<void>;
  tail?(events: any, env: Env, ctx: ExecutionContextLike): Promise<void>;
  trace?(traces: any, env: Env, ctx: ExecutionContextLike): Promise<void>;
  /** The Metrics object, once created (at the first invocation when built from options). */
  metrics?: Metrics;
}
/** Options read by the wrappers: like `MetricsOptions`, but `endpoint` may come from the
 * environment (`OTEL_EXPORTER_OTLP_ENDPOINT`, ...). Explicit values win. */
export type WrapperOptions = Partial<MetricsOptions>;
/** Automatic metrics of the wrappers: `true` (default) records the HTTP server metrics
 * (fetch-shaped handlers) and the FaaS metrics (every invocation); `false` none; or per group. */
export type AutoMetrics = boolean | { http?: boolean; faas?: boolean };
/** Wraps a module worker: `begin` at each invocation, flush via `ctx.waitUntil`. Without
 * options (or for what they leave out) the OTEL_* / EDGEMETRICS_* variables of `env`,
 * `process.env` or `Deno.env` configure it. */
export function withMetrics<Env = any>(
  handler: ModuleWorker<Env>,
  metricsOrOptions?: Metrics | WrapperOptions | ((env: Env) => WrapperOptions),
  options?: { auto?: AutoMetrics },
): WrappedWorker<Env>;

/** Advised bucket boundaries (seconds) for `http.server.request.duration`:
 * `[0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]`. */
export const HTTP_DURATION_BUCKETS_SECONDS: readonly number[];

/** Wraps a `(event, context)` handler: flush awaited in `finally`, bounded by `flushBudgetMs`
 * (default 1000: what a receiver outage adds to an invocation at most) and by
 * `context.getRemainingTimeInMillis()` less `marginMs` (default 100); what does not get through
 * is carried to the next invocation. */
export function wrapLambda<E, C extends { getRemainingTimeInMillis?: () => number } | undefined, R>(
  handler: (event: E, context: C, metrics: Metrics) => R | Promise<R>,
  metricsOrOptions?: Metrics | WrapperOptions,
  options?: { marginMs?: number; flushBudgetMs?: number; auto?: AutoMetrics; trigger?: string },
): ((event: E, context: C) => Promise<R>) & { metrics?: Metrics };

/** Long-running servers (Node, Bun and Deno entries only): flushes every `intervalMs` (default
 * 10000) from an unref'd timer, on `beforeExit` (Deno: `beforeunload`) and on SIGINT/SIGTERM
 * (then exits with 130/143 unless `exitOnSignal: false`). Returns `stop()`, which removes the
 * timer and handlers and resolves with a final flush. */
export function startPeriodicFlush(metrics: Metrics, options?: { intervalMs?: number; signals?: string[]; exitOnSignal?: boolean }): () => Promise<FlushResult>;
