// The host loop of the JS package: drives the core's push plan (sans-IO) with `fetch`, timers and
// `CompressionStream`. Why a file of its own: this is the host-loop contract of the core
// (src/push, followed by the workers-rs host too), and its guarantees must hold whatever the
// receiver does:
//
// * One delivery ("flight") at a time per Metrics. A flush() that finds a flight in progress does
//   not start a second one: it joins the one follow-up flight that starts when the current one
//   ends and collects everything recorded until then (coalescing: at most the flight in progress
//   plus one follow-up, whatever the number of callers).
// * Every flush() promise settles within its own budget (`timeoutMs`, or less with a deadline) of
//   the call, whatever is queued: when its flight is not over by then, it resolves with
//   `{ sent: false, pending: true, error: 'still in flight ...' }` and the flight goes on.
// * A flight not settled after twice its budget (a fetch that ignores its abort signal, a task
//   the runtime stopped) is abandoned and counted (`stale`): the next flight starts and the core
//   carries the abandoned batch into it.
// * Transport errors are classified as timeout / refused / reset (ambiguous: the receiver may
//   have stored the batch) / other (abi.js TRANSPORT), the core decides retries.
// * Retries resend the same bytes with the same batch id (the core plans them; a gzipped body is
//   compressed once per flight); carried data travels in a new batch.
import { ACTION, OUTCOME, REPORT, TRANSPORT } from './abi.js';
import { bytes, doubles, text } from './answers.js';

export class TimeoutError extends Error {
  constructor(message) {
    super(message);
    this.name = 'TimeoutError';
  }
}

/** Maps a failed fetch to the core's transport error classes. */
export function transportErrorKind(e) {
  if (e instanceof TimeoutError || e?.name === 'TimeoutError' || e?.name === 'AbortError') return TRANSPORT.timeout;
  const text = `${e?.message ?? ''} ${e?.cause?.code ?? ''} ${e?.cause?.message ?? ''} ${e?.code ?? ''}`;
  if (/ECONNREFUSED|refused/i.test(text)) return TRANSPORT.refused;
  if (/ECONNRESET|reset|socket hang up|UND_ERR_SOCKET|other side closed/i.test(text)) return TRANSPORT.reset;
  return TRANSPORT.other;
}

export async function gzip(bytes) {
  if (typeof CompressionStream !== 'function') return null;
  return new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer());
}

/** The fields of a flush result before anything happened (flush.js and metrics.js share it). */
export const emptyResult = () => ({ sent: false, status: 0, bytes: 0, attempts: 0, dropped: 0, carried: 0 });
/** The host loop's counters at zero (a disabled Metrics answers `flushStats` with these). */
export const zeroStats = () => ({ flushes: 0, flights: 0, coalesced: 0, stale: 0, settledAtDeadline: 0 });
/** `opts.deadline` when it is a number (not NaN), else no deadline. */
export const deadlineOf = (opts) => (typeof opts?.deadline === 'number' && !Number.isNaN(opts.deadline) ? opts.deadline : Infinity);
/**
 * The `Name: value` lines the core answers for a request's headers, each given to `set(name,
 * value)` (flush.js fills a Headers, `Metrics.prepare` a plain object).
 */
export function eachHeader(lines, set) {
  for (const line of lines.split('\n')) {
    const i = line.indexOf(': ');
    if (i > 0) set(line.slice(0, i), line.slice(i + 2));
  }
}
const ABANDONED = 'abandoned (flight exceeded twice its budget)';

/**
 * How a flight's work after the collect (encode, the push plan, the first fetch) is started:
 * `null` runs it in the flush() call itself; an entry may give a function that runs its argument
 * later (workerd.js: a timer of 0 ms, so that a handler's response is not held back by the first
 * flush's encode). The collect itself always happens in the call (`core.start` with collect_only
 * true): a flush sends what was recorded until it was called, never what is recorded after.
 */
let deferFlight = null;

/** @internal Set by an entry point (see `deferFlight`). */
export function setFlightDefer(fn) {
  deferFlight = fn;
}

/** Words of credentials that never appear in an error text, whatever the receiver echoes. */
function redact(text, secrets) {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  return out.replace(/(authorization|api[-_]?key|token|password|secret)(["']?\s*[:=]\s*["']?)([^\s"',;&]+)/gi, '$1$2[redacted]');
}

/** First 200 bytes of a response body as text (for error messages). */
function snippet(bytes, secrets) {
  if (!bytes || bytes.length === 0) return '';
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 200));
  return redact(text.replace(/\s+/g, ' ').trim(), secrets);
}

function readReport(core, result) {
  const r = doubles(core, core.report());
  result.attempts = r[REPORT.attempts];
  result.status = r[REPORT.lastStatus];
  result.dropped = r[REPORT.dropped];
  result.carried = r[REPORT.carried];
  if (r[REPORT.rejected] > 0) result.rejected = r[REPORT.rejected];
  result.sent = r[REPORT.outcome] === OUTCOME.delivered;
  return r[REPORT.outcome];
}

export class Flusher {
  // Private fields and methods: only the fields Metrics reads (core, timeoutMs, fetch, seed,
  // flight, followUp, stats) are properties; the rest is renamed freely by the minifier.
  #secrets;
  #onFlight;
  #writeLog;
  #gen;
  /**
   * @param {object} core the wasm Core
   * @param {{ timeoutMs: number, fetch?: Function, secrets: string[], seed: () => void }} opts
   */
  constructor(core, opts) {
    this.core = core;
    this.timeoutMs = opts.timeoutMs;
    this.fetch = opts.fetch;
    this.#secrets = opts.secrets;
    this.seed = opts.seed;
    this.#onFlight = opts.onFlight;
    // A log transport (EMF on stdout, a compact line for a Tail Worker): called with the body
    // instead of fetch; a write that returns is a delivery (status 200), one that throws a
    // transport error.
    this.#writeLog = opts.writeLog;
    this.flight = null; // { done: Promise<result>, started, budget, gen }
    this.followUp = null; // { deadline, promise }
    this.#gen = 0;
    this.stats = zeroStats();
  }

  /** One flush() call: see the contract at the top of this file. Never rejects. */
  flush(opts) {
    this.stats.flushes++;
    const now = Date.now();
    const deadline = Math.min(now + this.timeoutMs, deadlineOf(opts));
    if (this.flight && now - this.flight.started > 2 * this.flight.budget) this.#abandon();
    let p;
    if (!this.flight) {
      // A follow-up still waiting for the previous flight's end (in workerd the continuation of
      // another request's promise can run after this call) is detached: this flight collects its
      // callers' data too, and callers arriving during this flight must join a follow-up of this
      // flight, not that one (which would hand them this flight's result without their data).
      this.followUp = null;
      p = this.#startFlight(now, deadline);
    } else {
      this.stats.coalesced++;
      if (this.followUp) {
        this.followUp.deadline = Math.max(this.followUp.deadline, deadline);
      } else {
        const fu = { deadline };
        const current = this.flight;
        fu.promise = current.ended.then(() => {
          if (this.followUp === fu) this.followUp = null;
          const t = Date.now();
          if (fu.deadline <= t) {
            // Every caller of this follow-up has had its answer: what it would have sent stays
            // in the registry for the next flush.
            return { ...emptyResult(), pending: true, error: 'deadline passed before the follow-up flight could start' };
          }
          return this.flight ? this.flight.done : this.#startFlight(t, fu.deadline);
        });
        this.followUp = fu;
      }
      p = this.followUp.promise;
    }
    return this.#capped(p, deadline);
  }

  /** `p`, or a "still in flight" result at `deadline`, whichever comes first. */
  #capped(p, deadline) {
    const ms = deadline - Date.now();
    if (ms === Infinity) return p;
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.stats.settledAtDeadline++;
          resolve({ ...emptyResult(), pending: true, error: 'still in flight at the flush deadline (the flight goes on; its result is in lastFlush)' });
        },
        Math.max(0, ms),
      );
      p.then((r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  }

  #abandon() {
    this.stats.stale++;
    this.#gen++;
    const f = this.flight;
    this.flight = null;
    f?.abandon();
  }

  #startFlight(now, deadline) {
    this.seed();
    const gen = ++this.#gen;
    // The flight ends a little before the callers' deadline, so that its own result (not the
    // "still in flight" one) reaches them when the receiver is merely slow.
    const grace = Math.min(100, (deadline - now) / 10);
    const budget = Math.max(0, Math.floor(deadline - now - grace));
    let abandon;
    const abandoned = new Promise((r) => (abandon = r));
    let run;
    // A log transport ('tail', EMF on stdout) writes its line in the call, as everywhere: there is
    // no request to start, and a line from a flush() nobody awaits must not depend on a timer.
    if (deferFlight === null || this.#writeLog) run = this.#run(gen, now, budget);
    else {
      this.core.start(now, budget, true);
      run = new Promise((r) => deferFlight(r)).then(() => this.#run(gen, now, budget));
    }
    const done = run.then((r) => {
      try {
        this.#onFlight?.(r);
      } catch {
        // a reporting hook cannot break the loop
      }
      return r;
    });
    // Ends when the flight settles, or when it is abandoned (then `done` may never settle).
    let staleTimer;
    const ended = Promise.race([
      done,
      abandoned,
      new Promise((r) => {
        staleTimer = setTimeout(r, 2 * budget + 1);
      }),
    ]).then(() => {
      clearTimeout(staleTimer);
      if (this.flight === flight) {
        if (this.#gen === gen && Date.now() - now > 2 * budget) this.#abandon();
        else this.flight = null;
      }
    });
    const flight = { done, ended, started: now, budget, gen, abandon };
    this.flight = flight;
    this.stats.flights++;
    return done;
  }

  async #run(gen, now, budget) {
    const result = emptyResult();
    const core = this.core;
    try {
      if (!core.start(now, budget, false)) {
        const err = text(core, core.error());
        if (err) {
          result.error = err;
          readReport(core, result);
        }
        return result;
      }
      let gzipped = null;
      let answer = '';
      // Bounded: the plan allows a few attempts and waits only within the deadline; the step cap
      // is a second fence against a plan that would never finish.
      for (let step = 0; step < 100; step++) {
        if (this.#gen !== gen) return { ...result, error: ABANDONED };
        const action = core.next(Date.now());
        if (action === ACTION.send && this.#writeLog) {
          const body = bytes(core, core.reqBody());
          result.bytes = body.length;
          try {
            this.#writeLog(body);
            core.onResponse(200, undefined, new Uint8Array(0), Date.now());
            delete result.error;
          } catch (e) {
            core.onError(TRANSPORT.other, Date.now());
            result.error = redact(String(e?.message ?? e), this.#secrets);
          }
        } else if (action === ACTION.send) {
          const body = core.reqGzip() ? (gzipped ??= await gzip(bytes(core, core.reqBody()))) : bytes(core, core.reqBody());
          // A sender may bring its own Headers class (node.js: Node's global Headers loads its
          // fetch implementation on first use, tens of ms in a fresh process).
          const headers = new (this.fetch?.Headers ?? Headers)();
          eachHeader(text(core, core.reqHeaders()), (k, v) => headers.set(k, v));
          if (core.reqGzip() && body === null) headers.delete('Content-Encoding');
          const sent = body ?? bytes(core, core.reqBody());
          result.bytes = sent.length;
          if (this.#gen !== gen) return { ...result, error: ABANDONED };
          try {
            const res = await this.#send(text(core, core.reqUrl()), text(core, core.reqMethod()), headers, sent, core.reqTimeout());
            let resBody = new Uint8Array(0);
            try {
              resBody = new Uint8Array(await res.arrayBuffer());
            } catch {
              // an unreadable body is judged as empty
            }
            if (this.#gen !== gen) return { ...result, error: ABANDONED };
            answer = res.status >= 300 ? snippet(resBody, this.#secrets) : '';
            core.onResponse(res.status, res.headers.get('retry-after') ?? undefined, resBody, Date.now());
            delete result.error;
          } catch (e) {
            if (this.#gen !== gen) return { ...result, error: ABANDONED };
            core.onError(transportErrorKind(e), Date.now());
            result.error = redact(String(e?.message ?? e), this.#secrets);
          }
        } else if (action === ACTION.wait) {
          const ms = Math.max(0, core.waitUntil() - Date.now());
          await new Promise((r) => setTimeout(r, ms));
        } else break;
      }
      const outcome = readReport(core, result);
      if (outcome === OUTCOME.failed) {
        result.error = text(core, core.reportReason()) + (answer ? `: ${answer}` : '');
      } else if (outcome === OUTCOME.delivered) delete result.error;
      return result;
    } catch (e) {
      result.error = redact(String(e?.message ?? e), this.#secrets);
      return result;
    }
  }

  async #send(url, method, headers, body, timeoutMs) {
    const f = this.fetch ?? globalThis.fetch;
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort(new TimeoutError(`timed out after ${Math.round(timeoutMs)} ms`));
    }, timeoutMs);
    try {
      const res = await f(url, { method, headers, body, signal: ac.signal });
      if (!res || typeof res.status !== 'number') throw new Error('fetch returned no response');
      return res;
    } catch (e) {
      // workerd's fetch rejects with a copy of the abort reason (a plain Error with the same
      // message), not the TimeoutError itself. Our own timer firing is what makes it a timeout.
      if (timedOut && !(e instanceof TimeoutError)) throw new TimeoutError(`timed out after ${Math.round(timeoutMs)} ms`);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }
}
