//! A recorder for the [`metrics`] crate facade (feature `metrics-rs`).
//!
//! Why this exists: much Rust code is already instrumented with `metrics`' `counter!`, `gauge!`
//! and `histogram!` macros, in applications and in libraries. [`MetricsRecorder`] implements
//! [`metrics::Recorder`] on top of an edgemetrics [`Registry`], so those calls aggregate into the
//! same batches as the registry's own instruments and are pushed by the same hosts, with the same
//! limits, overflow series and counted rejections.
//!
//! ```
//! use edgemetrics::metrics_rs::MetricsRecorder;
//! use edgemetrics::{Config, MetricData, Registry};
//!
//! let recorder = MetricsRecorder::new(Registry::new(Config::new("checkout").self_metrics(false)));
//! recorder.begin(1_000);
//! metrics::with_local_recorder(&recorder, || {
//!     metrics::describe_histogram!("db.query.duration", metrics::Unit::Seconds, "Query latency");
//!     metrics::counter!("http.requests", "route" => "/cart").increment(2);
//!     metrics::gauge!("queue.depth").increment(5.0);
//!     metrics::gauge!("queue.depth").decrement(2.0);
//!     metrics::histogram!("db.query.duration").record(0.004);
//! });
//! let batch = recorder.collect(2_000);
//!
//! let requests = batch.metric("http.requests").unwrap();
//! let MetricData::Sum { points, monotonic: true, .. } = &requests.data else { panic!() };
//! assert_eq!((points[0].value, points[0].attributes[0].key.as_str()), (2.0, "route"));
//! let MetricData::Gauge { points } = &batch.metric("queue.depth").unwrap().data else { panic!() };
//! assert_eq!(points[0].value, 3.0); // 5 - 2: increments are applied to the series' value
//! let duration = batch.metric("db.query.duration").unwrap();
//! assert_eq!((&*duration.unit, &*duration.description), ("s", "Query latency"));
//! ```
//!
//! # Mapping
//!
//! | `metrics` | edgemetrics |
//! |---|---|
//! | key name | instrument name (OpenTelemetry name rule, see [`validate_name`](crate::registry::validate_name)) |
//! | labels | string attributes (the registry's attribute limits apply) |
//! | `counter!` `increment(n)` | [`Counter`](crate::Counter) `add(n)` |
//! | `counter!` `absolute(n)` | the facade's "set to at least `n`" (a `fetch_max`): the recorder keeps each series' running total and adds `n - total` when `n` is larger; a smaller `n` changes nothing |
//! | `gauge!` `set` / `increment` / `decrement` | [`Gauge`](crate::Gauge): the recorder keeps each series' current value, applies the change to it and sets the gauge to the result (last value in the window) |
//! | `histogram!` `record` | [`Histogram`](crate::Histogram) with [`DEFAULT_BOUNDS`](crate::DEFAULT_BOUNDS), or the bounds given by [`MetricsRecorder::histogram_bounds`] |
//! | `describe_*!(name, unit, text)` | the instrument's unit ([`Unit`] → UCUM: `s`, `ms`, `By`, `%`, …) and description |
//!
//! Counter increments are `u64`; the registry sums `f64`, exact up to 2^53.
//!
//! **Descriptions.** A `describe_*!` call creates the instrument with that unit and description
//! when it does not exist yet. The registry keeps an instrument's first unit and description (as
//! for its own instruments), so a description given *after* the instrument was first used or
//! described is not applied; it is counted in [`RecorderStats::descriptions_ignored`]. Describe at
//! start-up, before recording.
//!
//! **Gauges and delta temporality.** A delta batch holds the gauge series that were set or changed
//! in its window; the value kept by the recorder persists across windows, so an `increment` in a
//! later window starts from the last value.
//!
//! # Refusals never panic
//!
//! A name the registry refuses (invalid, a kind conflict, the instrument limit) yields a handle
//! whose every recording is counted by the registry as a rejected value (reason `invalid_handle`
//! in `edgemetrics.sdk.*`), and the typed [`Error`] is kept in [`MetricsRecorder::errors`].
//! Negative or non-finite values are refused and counted as the registry does for its own
//! instruments.
//!
//! # Sharing the registry
//!
//! The recorder owns the [`Registry`] behind a [`std::sync::Mutex`] (the facade needs a
//! `Send + Sync + 'static` recorder for [`metrics::set_global_recorder`]); on
//! wasm32-unknown-unknown, which has no threads, that lock is never contended. Clones of a
//! [`MetricsRecorder`] share the registry: use [`install`](MetricsRecorder::install) (global) or
//! [`metrics::with_local_recorder`] (scoped), and call [`begin`](MetricsRecorder::begin),
//! [`collect`](MetricsRecorder::collect) or [`with_registry`](MetricsRecorder::with_registry)
//! (for the registry's own instruments) on the recorder or any clone. The lock is held inside a
//! [`with_registry`](MetricsRecorder::with_registry) closure: `metrics` calls made there are
//! dropped and counted ([`RecorderStats::reentrant_dropped`]) instead of deadlocking.
//!
//! # Cost
//!
//! Each distinct key (name + labels) is resolved once: the recorder caches a handle per key,
//! bound to its series ([`Registry::bind`]), found by the hash the facade already computed for the
//! key. A macro call then costs one cache lookup and two short lock acquisitions (registration,
//! then the recording); recording through a handle kept by the caller (`let c = counter!(...)`)
//! costs one lock and a bound record. Keys hold their series for the
//! recorder's lifetime; past the registry's limits new keys record into the overflow series as
//! usual (totals stay exact). At most [`Limits::max_series`](crate::Limits::max_series) keys are
//! cached; further keys are resolved on each call (counted in [`RecorderStats::keys_uncached`]).

use std::boxed::Box;
use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::string::{String, ToString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::vec::Vec;

use metrics::{Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, SharedString, Unit};

use crate::attr::{Attr, AttrValue};
use crate::model::{Batch, InstrumentKind};
use crate::registry::{validate_bounds, Bound, InstrumentId, InstrumentOptions, Registry};
use crate::Error;

/// The UCUM unit for a facade [`Unit`] (what OpenTelemetry and the Prometheus translation expect).
pub fn ucum(unit: Unit) -> &'static str {
    match unit {
        Unit::Count => "{count}",
        Unit::Percent => "%",
        Unit::Seconds => "s",
        Unit::Milliseconds => "ms",
        Unit::Microseconds => "us",
        Unit::Nanoseconds => "ns",
        Unit::Tebibytes => "TiBy",
        Unit::Gibibytes => "GiBy",
        Unit::Mebibytes => "MiBy",
        Unit::Kibibytes => "KiBy",
        Unit::Bytes => "By",
        Unit::TerabitsPerSecond => "Tbit/s",
        Unit::GigabitsPerSecond => "Gbit/s",
        Unit::MegabitsPerSecond => "Mbit/s",
        Unit::KilobitsPerSecond => "kbit/s",
        Unit::BitsPerSecond => "bit/s",
        Unit::CountPerSecond => "{count}/s",
    }
}

/// What the recorder itself refused or could not do (the registry counts refused values).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecorderStats {
    /// Registrations (macro calls) whose name the registry refused; see [`MetricsRecorder::errors`].
    pub instruments_refused: u64,
    /// `describe_*!` calls for an instrument that already existed: not applied.
    pub descriptions_ignored: u64,
    /// Registrations of keys past the cache limit (resolved on every call).
    pub keys_uncached: u64,
    /// Facade calls (recordings, registrations, descriptions) made inside a
    /// [`MetricsRecorder::with_registry`] closure, where the registry is locked: dropped.
    pub reentrant_dropped: u64,
}

/// A [`metrics::Recorder`] that records into an edgemetrics [`Registry`]. See the
/// [module docs](self).
#[derive(Clone)]
pub struct MetricsRecorder {
    owner: Arc<Owner>,
}

/// Held only by [`MetricsRecorder`] clones: when the last one goes, the handle caches (which point
/// back at [`Shared`]) are cleared so nothing leaks; handles still held by callers keep working.
struct Owner {
    shared: Arc<Shared>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.cache = [HashMap::default(), HashMap::default(), HashMap::default()];
    }
}

struct Shared {
    state: Mutex<State>,
    /// Facade calls made inside [`MetricsRecorder::with_registry`]'s closure (lock held): dropped.
    reentrant: AtomicU64,
}

std::thread_local! {
    /// Set while this thread runs a [`MetricsRecorder::with_registry`] closure.
    static IN_REGISTRY: Cell<bool> = const { Cell::new(false) };
}

impl Shared {
    /// The lock for a facade call, or `None` (counted) when this thread already holds it inside
    /// `with_registry`: locking again would deadlock (native) or panic (wasm32 without threads).
    fn facade_lock(&self) -> Option<MutexGuard<'_, State>> {
        if IN_REGISTRY.with(Cell::get) {
            self.reentrant.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.lock())
    }

    /// A poisoned lock (a panic elsewhere while it was held) is taken over: the registry's state is
    /// consistent between calls, and recording must never panic.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The identity hasher for the `u64` hash the facade stored in each [`Key`].
#[derive(Default)]
struct KeyHash(u64);

impl Hasher for KeyHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not reached for the `u64` keys (they call `write_u64`); folds bytes in for any other use.
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Key hash → the keys with that hash and their handles. Found by [`Key::get_hash`] and compared
/// with [`same_key`]: the facade's own `Key` equality sorts both label lists on every comparison
/// (about half the cost of a macro call when measured), which an in-order comparison avoids.
type KeyMap = HashMap<u64, Vec<(Key, Arc<Handle>)>, BuildHasherDefault<KeyHash>>;

/// Key equality: name and labels in the same order (the common case: one call site), else the
/// facade's order-insensitive equality.
fn same_key(a: &Key, b: &Key) -> bool {
    a.get_hash() == b.get_hash() && ((a.name() == b.name() && a.labels().eq(b.labels())) || a == b)
}

const KINDS: usize = 3;

fn slot(kind: InstrumentKind) -> usize {
    match kind {
        InstrumentKind::Counter => 0,
        InstrumentKind::Gauge => 1,
        _ => 2,
    }
}

struct State {
    registry: Registry,
    /// Per kind: name → instrument (or the refusal), at most `max_names` entries.
    names: [HashMap<String, Result<InstrumentId, Error>>; KINDS],
    /// Per kind: key → handle bound to its series.
    cache: [KeyMap; KINDS],
    cached: usize,
    max_keys: usize,
    max_names: usize,
    bounds: Vec<(String, Vec<f64>)>,
    default_bounds: Option<Vec<f64>>,
    stats: RecorderStats,
    errors: Vec<Error>,
}

/// Where a handle's recordings go.
enum Target {
    Series(Bound),
    /// Past the key cache: the instrument and the labels, resolved on each recording.
    Unbound(InstrumentId, Box<[(String, String)]>),
    /// The name was refused: every recording is counted as rejected.
    Refused,
}

/// One key's handle. `value` is the counter's running total (`u64`) or the gauge's current value
/// (`f64` bits); it is read and written only while the registry lock is held, so updates and the
/// recordings they cause happen in one order.
struct Handle {
    shared: Arc<Shared>,
    target: Target,
    value: AtomicU64,
}

impl Handle {
    fn record(&self, st: &mut State, value: f64) {
        match &self.target {
            Target::Series(b) => st.registry.record_bound(*b, value),
            Target::Unbound(id, labels) => {
                let attrs: Vec<Attr<'_>> = labels.iter().map(|(k, v)| (k.as_str(), AttrValue::Str(v))).collect();
                st.registry.record(*id, value, &attrs)
            }
            // An id the registry does not know: counted as an `invalid_handle` rejection.
            Target::Refused => st.registry.record(InstrumentId(u32::MAX), value, &[]),
        }
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        let Some(mut st) = self.shared.facade_lock() else { return };
        let total = self.value.load(Ordering::Relaxed);
        self.value.store(total.saturating_add(value), Ordering::Relaxed);
        self.record(&mut st, value as f64);
    }
    fn absolute(&self, value: u64) {
        let Some(mut st) = self.shared.facade_lock() else { return };
        let total = self.value.load(Ordering::Relaxed);
        if value > total {
            self.value.store(value, Ordering::Relaxed);
            self.record(&mut st, (value - total) as f64);
        }
    }
}

impl Handle {
    fn gauge(&self, f: impl FnOnce(f64) -> f64) {
        let Some(mut st) = self.shared.facade_lock() else { return };
        let next = f(f64::from_bits(self.value.load(Ordering::Relaxed)));
        // A non-finite result is refused (and counted) by the registry; the kept value stays.
        if next.is_finite() {
            self.value.store(next.to_bits(), Ordering::Relaxed);
        }
        self.record(&mut st, next);
    }
}

impl GaugeFn for Handle {
    fn increment(&self, value: f64) {
        self.gauge(|v| v + value)
    }
    fn decrement(&self, value: f64) {
        self.gauge(|v| v - value)
    }
    fn set(&self, value: f64) {
        self.gauge(|_| value)
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        let Some(mut st) = self.shared.facade_lock() else { return };
        Handle::record(self, &mut st, value);
    }
    fn record_many(&self, value: f64, count: usize) {
        let Some(mut st) = self.shared.facade_lock() else { return };
        for _ in 0..count {
            Handle::record(self, &mut st, value);
        }
    }
}

impl MetricsRecorder {
    /// A recorder that owns `registry`.
    pub fn new(registry: Registry) -> Self {
        let limits = registry.config().limits;
        let state = State {
            registry,
            names: Default::default(),
            cache: Default::default(),
            cached: 0,
            max_keys: limits.max_series,
            max_names: limits.max_instruments.saturating_mul(2),
            bounds: Vec::new(),
            default_bounds: None,
            stats: RecorderStats::default(),
            errors: Vec::new(),
        };
        let shared = Shared { state: Mutex::new(state), reentrant: AtomicU64::new(0) };
        MetricsRecorder { owner: Arc::new(Owner { shared: Arc::new(shared) }) }
    }

    /// Bucket bounds for the histogram `name` (`None`: for every histogram without its own), used
    /// when the histogram is created, i.e. set them before it is first used or described.
    /// Invalid bounds are [`Error::InvalidBounds`].
    ///
    /// ```
    /// # use edgemetrics::{metrics_rs::MetricsRecorder, Config, MetricData, Registry};
    /// let r = MetricsRecorder::new(Registry::new(Config::new("svc")))
    ///     .histogram_bounds(Some("latency"), &[0.1, 1.0])
    ///     .unwrap();
    /// metrics::with_local_recorder(&r, || metrics::histogram!("latency").record(0.5));
    /// let batch = r.collect(1);
    /// let MetricData::Histogram { bounds, points, .. } = &batch.metric("latency").unwrap().data else { panic!() };
    /// assert_eq!((&bounds[..], &points[0].bucket_counts[..]), (&[0.1, 1.0][..], &[0, 1, 0][..]));
    /// ```
    pub fn histogram_bounds(self, name: Option<&str>, bounds: &[f64]) -> Result<Self, Error> {
        validate_bounds(bounds)?;
        {
            let mut st = self.owner.shared.lock();
            match name {
                Some(n) => {
                    st.bounds.retain(|(k, _)| k != n);
                    st.bounds.push((n.to_string(), bounds.to_vec()));
                }
                None => st.default_bounds = Some(bounds.to_vec()),
            }
        }
        Ok(self)
    }

    /// Installs a clone as the process-wide recorder ([`metrics::set_global_recorder`]). Fails if
    /// one is installed already.
    pub fn install(&self) -> Result<(), metrics::SetRecorderError<MetricsRecorder>> {
        metrics::set_global_recorder(self.clone())
    }

    /// Runs `f` with the registry (to create and record the registry's own instruments, to
    /// configure it, or to read its stats). The registry is locked meanwhile: `metrics` facade
    /// calls made inside `f` on this thread are dropped and counted
    /// ([`RecorderStats::reentrant_dropped`]); calling this recorder's own methods inside `f`
    /// would deadlock (or panic on wasm32), as with any [`Mutex`].
    pub fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        let mut st = self.owner.shared.lock();
        /// Clears the flag however `f` ends (a panic included).
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                IN_REGISTRY.with(|c| c.set(false));
            }
        }
        IN_REGISTRY.with(|c| c.set(true));
        let _reset = Reset;
        f(&mut st.registry)
    }

    /// [`Registry::begin`].
    pub fn begin(&self, now_unix_nano: u64) {
        self.owner.shared.lock().registry.begin(now_unix_nano)
    }

    /// [`Registry::collect`].
    pub fn collect(&self, now_unix_nano: u64) -> Batch {
        self.owner.shared.lock().registry.collect(now_unix_nano)
    }

    /// What the recorder refused or did not apply.
    pub fn stats(&self) -> RecorderStats {
        let shared = &self.owner.shared;
        RecorderStats { reentrant_dropped: shared.reentrant.load(Ordering::Relaxed), ..shared.lock().stats }
    }

    /// The distinct refusals of instrument names (at most one per name and kind, at most twice
    /// [`Limits::max_instruments`](crate::Limits::max_instruments) in all).
    pub fn errors(&self) -> Vec<Error> {
        self.owner.shared.lock().errors.clone()
    }

    fn register(&self, kind: InstrumentKind, key: &Key) -> Arc<Handle> {
        let shared = &self.owner.shared;
        let Some(mut st) = shared.facade_lock() else {
            // Inside `with_registry`: a handle whose later recordings count as rejected.
            return Arc::new(Handle { shared: shared.clone(), target: Target::Refused, value: AtomicU64::new(0) });
        };
        if let Some(h) =
            st.cache[slot(kind)].get(&key.get_hash()).and_then(|v| v.iter().find(|(k, _)| same_key(k, key)))
        {
            return h.1.clone();
        }
        let target = match st.resolve(kind, key.name(), None) {
            Err(_) => {
                st.stats.instruments_refused += 1;
                Target::Refused
            }
            Ok(id) => {
                let labels: Vec<Attr<'_>> = key.labels().map(|l| (l.key(), AttrValue::Str(l.value()))).collect();
                if st.cached < st.max_keys {
                    // `bind` only fails for an unknown id; `resolve` returned a known one.
                    match st.registry.bind(id, &labels) {
                        Some(b) => Target::Series(b),
                        None => Target::Refused,
                    }
                } else {
                    st.stats.keys_uncached += 1;
                    let owned = key.labels().map(|l| (l.key().to_string(), l.value().to_string())).collect();
                    Target::Unbound(id, owned)
                }
            }
        };
        let cache = matches!(target, Target::Series(_));
        let h = Arc::new(Handle { shared: shared.clone(), target, value: AtomicU64::new(0) });
        if cache {
            st.cached += 1;
            st.cache[slot(kind)].entry(key.get_hash()).or_default().push((key.clone(), h.clone()));
        }
        h
    }

    fn describe(&self, kind: InstrumentKind, name: &str, unit: Option<Unit>, description: &str) {
        let Some(mut st) = self.owner.shared.facade_lock() else { return };
        if let Some(r) = st.names[slot(kind)].get(name) {
            // Already resolved (used or described before): the first options stay in force. A name
            // already refused stays refused (its error is in `errors`).
            if r.is_ok() {
                st.stats.descriptions_ignored += 1;
            }
            return;
        }
        let before = st.registry.instrument_count();
        let r = st.resolve(kind, name, Some((unit.map(ucum).unwrap_or(""), description)));
        // The registry returned an instrument it already had (created through `with_registry`).
        if r.is_ok() && st.registry.instrument_count() == before {
            st.stats.descriptions_ignored += 1;
        }
    }
}

impl State {
    /// The instrument for `name`, created with `describe` (unit, description) if new.
    fn resolve(
        &mut self,
        kind: InstrumentKind,
        name: &str,
        describe: Option<(&str, &str)>,
    ) -> Result<InstrumentId, Error> {
        if let Some(r) = self.names[slot(kind)].get(name) {
            return r.clone();
        }
        let (unit, description) = describe.unwrap_or(("", ""));
        let bounds = match kind {
            InstrumentKind::Histogram => {
                self.bounds.iter().find(|(n, _)| n == name).map(|(_, b)| &b[..]).or(self.default_bounds.as_deref())
            }
            _ => None,
        };
        let opts = InstrumentOptions { unit, description, bounds, aggregation: None, scope: None };
        let r = self.registry.instrument(name, kind, &opts);
        if let Err(e) = &r {
            if self.errors.len() < self.max_names {
                self.errors.push(e.clone());
            }
        }
        // Bounded: a flood of distinct (refused) names is resolved on each call instead.
        if self.names.iter().map(HashMap::len).sum::<usize>() < self.max_names {
            self.names[slot(kind)].insert(name.to_string(), r.clone());
        }
        r
    }
}

impl metrics::Recorder for MetricsRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(InstrumentKind::Counter, key.as_str(), unit, &description)
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(InstrumentKind::Gauge, key.as_str(), unit, &description)
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(InstrumentKind::Histogram, key.as_str(), unit, &description)
    }
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.register(InstrumentKind::Counter, key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.register(InstrumentKind::Gauge, key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.register(InstrumentKind::Histogram, key))
    }
}
