// Periodic flushing for long-running servers (Node, Deno, Bun), exported by their entries. Why a
// file of its own: a server is not an invocation — nothing calls `end()` after a request that the
// process outlives — so its pushes come from a timer instead, and that timer must neither keep the
// process alive (unref'd: Node/Bun `timer.unref()`, Deno `Deno.unrefTimer`) nor let the last
// window die with the process (a final flush on SIGINT/SIGTERM and on `beforeExit`). Serverless
// hosts never use it: a timer there either never fires (frozen) or is not allowed.

const SIGNALS = ['SIGINT', 'SIGTERM'];
/** Numbers POSIX fixes for every platform; others come from Node/Bun's `os.constants.signals`. */
const SIGNAL_NUMBERS = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 };

function unref(timer) {
  try {
    if (typeof timer?.unref === 'function') timer.unref();
    else if (typeof globalThis.Deno?.unrefTimer === 'function') globalThis.Deno.unrefTimer(timer);
  } catch {
    // a runtime without unref: the stop function still clears the timer
  }
}

/**
 * Flushes `metrics` every `intervalMs` (default 10000) from a timer that does not keep the
 * process alive, and once more on `beforeExit` (Node, Bun) and on SIGINT/SIGTERM or the
 * `signals` given (then the process exits with 128 + the signal's number after that flush: 130,
 * 143, as it would without the handler, unless `exitOnSignal: false`). A flush already running is never doubled: a tick that finds one skips.
 * Returns `stop()`: removes the timer and the handlers and resolves with a final flush's result.
 *
 * @param {import('./index.d.ts').Metrics} metrics
 * @param {{ intervalMs?: number, signals?: string[], exitOnSignal?: boolean }} [options]
 * @returns {() => Promise<object>}
 */
export function startPeriodicFlush(metrics, options = {}) {
  if (!metrics || typeof metrics.flush !== 'function') throw new TypeError('edgemetrics: startPeriodicFlush needs a Metrics object');
  if (options === null || typeof options !== 'object') throw new TypeError('edgemetrics: startPeriodicFlush options must be an object');
  for (const k of Object.keys(options)) {
    if (!['intervalMs', 'signals', 'exitOnSignal'].includes(k)) throw new RangeError(`edgemetrics: unknown startPeriodicFlush option ${JSON.stringify(k)}`);
  }
  const intervalMs = options.intervalMs ?? 10_000;
  if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs < 10 || intervalMs > 2 ** 31 - 1) {
    throw new RangeError(`edgemetrics: startPeriodicFlush intervalMs must be a number of milliseconds between 10 and 2147483647; got ${String(intervalMs)}`);
  }
  const signals = options.signals ?? SIGNALS;
  if (!Array.isArray(signals) || !signals.every((s) => typeof s === 'string'))
    throw new TypeError('edgemetrics: startPeriodicFlush signals must be an array of signal names');
  const exitOnSignal = options.exitOnSignal ?? true;

  let running = null;
  let stopped = false;
  let armed = true;
  const flushOnce = () => {
    if (running) return running;
    running = metrics.flush().finally(() => {
      running = null;
    });
    return running;
  };

  const timer = setInterval(() => {
    if (stopped) return;
    armed = true;
    flushOnce();
  }, intervalMs);
  unref(timer);

  const proc = globalThis.Deno ? null : globalThis.process;
  const deno = globalThis.Deno;
  const removers = [];
  const onSignal = (sig) => {
    // 128 + the signal's number, as a shell reports a process the signal ended (130, 143).
    const code = 128 + (SIGNAL_NUMBERS[sig] ?? proc?.getBuiltinModule?.('node:os')?.constants?.signals?.[sig] ?? 0);
    stop().then(() => {
      if (!exitOnSignal) return;
      if (deno) deno.exit(code);
      else proc?.exit(code);
    });
  };
  for (const sig of signals) {
    const handler = () => onSignal(sig);
    try {
      if (deno && typeof deno.addSignalListener === 'function') {
        deno.addSignalListener(sig, handler);
        removers.push(() => deno.removeSignalListener(sig, handler));
      } else if (proc && typeof proc.on === 'function') {
        proc.on(sig, handler);
        removers.push(() => proc.off(sig, handler));
      }
    } catch {
      // a signal this platform cannot listen to
    }
  }
  // beforeExit (Node, Bun) / beforeunload (Deno): the event loop is empty (the unref'd timer does
  // not count). A flush with data schedules I/O and the process stays for it; then the event comes
  // again and, with no tick in between, nothing is flushed and the process exits (so a receiver
  // that is down cannot keep the process alive in a loop of retries).
  const onBeforeExit = () => {
    if (stopped || !armed) return;
    armed = false;
    flushOnce();
  };
  if (proc && typeof proc.on === 'function') {
    proc.on('beforeExit', onBeforeExit);
    removers.push(() => proc.off('beforeExit', onBeforeExit));
  } else if (deno && typeof globalThis.addEventListener === 'function') {
    const onUnload = (e) => {
      if (stopped || !armed) return;
      e.preventDefault?.(); // Deno: keep the loop alive for the flush
      onBeforeExit();
    };
    globalThis.addEventListener('beforeunload', onUnload);
    removers.push(() => globalThis.removeEventListener('beforeunload', onUnload));
  }

  let final = null;
  function stop() {
    if (final) return final;
    stopped = true;
    clearInterval(timer);
    for (const r of removers) {
      try {
        r();
      } catch {
        // already removed
      }
    }
    // After a running flush, one more for what was recorded meanwhile.
    final = Promise.resolve(running)
      .catch(() => {})
      .then(() => metrics.flush());
    return final;
  }
  return stop;
}
