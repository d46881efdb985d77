// The package's internal symbols and `isMetrics`, in a module that loads no wasm. Why a file of
// its own: every package entry bundles its own copy of the JS layer (build.mjs), and the
// integrations accept a Metrics object from any entry, so these are registered symbols
// (Symbol.for), identical in every copy; and edgemetrics/otel, which never creates a Metrics,
// imports them from here without pulling in an entry's wasm.

/** @internal Token for a Metrics object that records nothing (a wrapper's configuration failed). */
export const DISABLED = Symbol.for('edgemetrics.disabled');
/** @internal Switches a Metrics object to "never throw" (wrappers call it). */
export const LENIENT = Symbol.for('edgemetrics.lenient');
/** @internal edgemetrics/tail: merges another isolate's compact batch into the next flush. */
export const INGEST = Symbol.for('edgemetrics.ingest');
/** @internal Creates one instrument the lenient way (no-op + warning + counted), whatever the mode. */
export const LENIENT_INSTRUMENT = Symbol.for('edgemetrics.lenientInstrument');
/** @internal Registers a function run at the start of every flush() and prepare() (otel.js observables). */
export const BEFORE_COLLECT = Symbol.for('edgemetrics.beforeCollect');

/** @internal Whether `m` is a Metrics object of any entry of this package. */
export function isMetrics(m) {
  return typeof m?.[LENIENT_INSTRUMENT] === 'function';
}
