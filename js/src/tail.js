// `edgemetrics/tail`: the Tail Worker side of Tail Worker aggregation on Cloudflare. Why a file
// of its own: a producer worker created with `transport: 'tail'` makes no network call at all; it
// writes each invocation's batch as one console.log line (TAIL_PREFIX + the compact batch in
// base64), which workerd delivers to the worker's Tail Worker in the tail event's `logs`. This
// handler decodes those lines, merges the batches of many invocations (the core's delta merge:
// sums and histogram buckets add, min/max combine, gauges keep the last write) and pushes one batch
// per window with the ordinary delivery plan (any format, retries, carry-over), from
// `ctx.waitUntil`.
//
// Window rule: a push starts when `window` tail events carrying batches have been merged since the
// last push, or when a tail event arrives and the oldest merged batch is `maxAgeMs` old. A Tail
// Worker runs only when a tail event arrives, so the age bound holds while producers are invoked;
// what a Tail Worker isolate holds when it is evicted (at most `window` events' batches) is lost.
import { checkSource, metricsFor } from './wrappers.js';
import { INGEST } from './metrics.js';
import { TAIL_PREFIX } from './options.js';
// The workerd entry of this module's own directory: build.mjs ships tail.js in dist/tail/, next to
// a wasm module that has the compact decoder (the package's main module does not).
import { Metrics } from './workerd.js';

export { TAIL_PREFIX };

/** The compact batch in one tail log message part, or null when it is not one of ours. */
export function decodeTailLine(part) {
  if (typeof part !== 'string' || !part.startsWith(TAIL_PREFIX)) return null;
  try {
    const bin = atob(part.slice(TAIL_PREFIX.length));
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes;
  } catch {
    return undefined; // ours, but not base64: counted as malformed
  }
}

function positive(name, v, dflt) {
  const x = v ?? dflt;
  if (typeof x !== 'number' || !Number.isFinite(x) || !(x > 0))
    throw new RangeError(`edgemetrics: tailHandler ${name} must be a positive finite number; got ${String(x)}`);
  return x;
}

/**
 * A Tail Worker's `tail(events, env, ctx)` handler that aggregates the batches producers wrote
 * with `transport: 'tail'` and pushes one batch per window.
 * @param metricsOrOptions a Metrics object, its options, a function `(env) => options`, or nothing
 *   (OTEL_* / EDGEMETRICS_* variables of the Tail Worker's env): where and how the merged batches go
 * @param {{ window?: number, maxAgeMs?: number }} [opts] tail events per push (default 100) and the
 *   age of the oldest merged batch that forces a push at the next tail event (default 60000 ms)
 */
export function tailHandler(metricsOrOptions, opts = {}) {
  checkSource(metricsOrOptions, 'tailHandler');
  if (metricsOrOptions?.constructor?.name === 'Metrics' && !(metricsOrOptions instanceof Metrics)) {
    throw new TypeError(
      "edgemetrics: tailHandler runs over its own wasm module (with the decoder): pass options or (env) => options, not a Metrics object from 'edgemetrics'",
    );
  }
  const window = Math.floor(positive('window', opts?.window, 100));
  const maxAgeMs = positive('maxAgeMs', opts?.maxAgeMs, 60_000);
  let metrics = metricsOrOptions instanceof Metrics ? metricsFor(metricsOrOptions) : null;
  let pendingEvents = 0;
  let firstAt = null;
  /** Batches that could not join the window while a push was still starting (retried first). */
  let deferred = [];
  const stats = { events: 0, batches: 0, malformed: 0, refused: 0, pushes: 0 };

  const push = () => {
    pendingEvents = 0;
    firstAt = null;
    stats.pushes++;
    return metrics.flush();
  };
  const ingest = (bytes, flushes) => {
    let r = metrics[INGEST](bytes);
    if (r.code === 1) {
      // Another resource (another producer service): push the window first.
      flushes.push(push());
      r = metrics[INGEST](bytes);
      if (r.code === 1) {
        deferred.push(bytes);
        return false;
      }
    }
    if (r.code === 0) {
      stats.batches++;
      firstAt ??= Date.now();
      return true;
    }
    if (r.code === 2) stats.malformed++;
    else stats.refused++;
    return false;
  };

  const tail = async function (events, env, ctx) {
    if (!metrics) metrics = metricsFor(metricsOrOptions, env);
    tail.metrics = metrics;
    const flushes = [];
    try {
      const again = deferred;
      deferred = [];
      for (const bytes of again) ingest(bytes, flushes);
      for (const ev of Array.isArray(events) ? events : []) {
        stats.events++;
        let had = false;
        for (const log of Array.isArray(ev?.logs) ? ev.logs : []) {
          for (const part of Array.isArray(log?.message) ? log.message : []) {
            const bytes = decodeTailLine(part);
            if (bytes === null) continue;
            if (bytes === undefined) stats.malformed++;
            else if (ingest(bytes, flushes)) had = true;
          }
        }
        if (had) pendingEvents++;
        if (pendingEvents >= window) flushes.push(push());
      }
      if (firstAt !== null && Date.now() - firstAt >= maxAgeMs) flushes.push(push());
    } catch (e) {
      // A broken event cannot break the Tail Worker; what was merged is pushed with the next window.
      stats.refused++;
      try {
        console.warn(`edgemetrics/tail: ${String(e?.message ?? e)}`);
      } catch {
        // a broken console cannot break the handler
      }
    }
    if (flushes.length === 0) return;
    const p = Promise.all(flushes);
    try {
      if (ctx && typeof ctx.waitUntil === 'function') {
        ctx.waitUntil(p);
        return;
      }
    } catch {
      // a waitUntil that throws: await the pushes instead
    }
    await p;
  };
  tail.stats = stats;
  if (metrics) tail.metrics = metrics;
  return tail;
}
