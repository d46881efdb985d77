// The JS↔wasm boundary, defined once on this side: every number that crosses it and the names of
// the options sent to the core in one buffer. Why a file of its own: these codes used to be
// written out separately here and in Rust; `bindings/src/abi.rs` holds the same table, exports it
// as `Core.abiTable()` (in the every-format module), and test/abi.test.mjs fails when the two disagree.
// The tables are marked pure so that a bundle drops the ones it does not read (the workerd entry
// reads neither OPTION nor OPTION_PREFIXES: they exist for abiText and the comparison test).

/** Wire formats (`options.format`). */
export const FORMAT = /* @__PURE__ */ Object.freeze({ 'otlp-proto': 0, 'otlp-json': 1, 'remote-write': 2, pushgateway: 3, compact: 4, emf: 5 });
/** Instrument kinds. */
export const KIND = /* @__PURE__ */ Object.freeze({ counter: 0, upDownCounter: 1, gauge: 2, histogram: 3 });
/** Results of `core.next(now)`. */
export const ACTION = /* @__PURE__ */ Object.freeze({ idle: 0, send: 1, wait: 2, done: 3, awaiting: 4 });
/** Outcomes in report slot `outcome`. */
export const OUTCOME = /* @__PURE__ */ Object.freeze({ none: 0, delivered: 1, empty: 2, failed: 3 });
/** Slots of the array `core.report()` returns. */
export const REPORT = /* @__PURE__ */ Object.freeze({
  outcome: 0,
  attempts: 1,
  retries: 2,
  lastStatus: 3,
  dropped: 4,
  carried: 5,
  rejected: 6,
  points: 7,
  carriedIn: 8,
  ambiguous: 9,
});
/** Transport error classes for `core.onError(kind, now)` (the host-loop contract's classes). */
export const TRANSPORT = /* @__PURE__ */ Object.freeze({ refused: 0, reset: 1, timeout: 2, other: 3 });
/** Error classes returned by `core.configure()` and (negated) by `core.instrument()`. */
export const ERROR = /* @__PURE__ */ Object.freeze({ ok: 0, type: 1, range: 2 });

/** Options of the buffer `core.configure()` reads: `s` string, `i` integer ≥ 0, `b` boolean. */
export const OPTION = /* @__PURE__ */ Object.freeze({
  format: 'i',
  serviceName: 's',
  endpoint: 's',
  cumulative: 'b',
  selfMetrics: 'b',
  gzip: 'b',
  'limits.cardinality': 'i',
  'limits.maxInstruments': 'i',
  'limits.maxSeries': 'i',
  'limits.maxAttributeBytes': 'i',
  'limits.maxAttributes': 'i',
  'limits.maxKeyLength': 'i',
  'limits.maxValueLength': 'i',
  'retry.maxAttempts': 'i',
  'retry.attemptTimeoutMs': 'i',
  'retry.backoffBaseMs': 'i',
  'retry.backoffCapMs': 'i',
  resource: '-',
  headers: '-',
});
/** Open-ended option names: `resource.<key>` (any attribute value), `headers.<name>` (string). */
export const OPTION_PREFIXES = /* @__PURE__ */ Object.freeze(['resource.', 'headers.']);

/** The table in the text form `Core.abiTable()` answers, for the comparison test. */
export function abiText() {
  let s = '';
  const groups = { format: FORMAT, kind: KIND, action: ACTION, outcome: OUTCOME, report: REPORT, transport: TRANSPORT, error: ERROR };
  for (const [g, t] of Object.entries(groups)) for (const [k, v] of Object.entries(t)) s += `${g}.${k}=${v}\n`;
  for (const [k, v] of Object.entries(OPTION)) s += `option.${k}=${v}\n`;
  for (const p of OPTION_PREFIXES) s += `prefix.${p}=*\n`;
  return s;
}

/** The Error class for a code of {@link ERROR}. */
export function errorClass(code) {
  return code === ERROR.range ? RangeError : TypeError;
}
