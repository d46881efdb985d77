//! The registry: instruments, the series table, limits, and collection.
//!
//! # Data path
//!
//! ```text
//! record(instrument, value, attrs)
//!   ├─ value checked for the kind (NaN/inf, negative counter) ── refused → counted
//!   ├─ no attrs → the instrument's attribute-less series, nothing else
//!   ├─ attrs canonical up to order (≤ 8, within the limits, no key twice) → hashed and compared
//!   │    in place with the stored key; otherwise → canonical key (sorted, deduplicated, limited)
//!   │    in a reused scratch buffer
//!   ├─ hash → open-addressing index → series slot   (new slot only for a new attribute set)
//!   │        └─ over the cardinality or memory limit → the instrument's overflow series
//!   └─ aggregator update (sum / last value / buckets+count+sum+min+max)
//! record_bound(handle, value)   — skips the middle three steps: an index and an f64
//! collect(now) → Batch           — delta: emit and reset; cumulative: emit running totals
//! ```
//!
//! Memory is bounded: at most [`Limits::max_instruments`] instruments, at most
//! [`Limits::cardinality`] series per instrument (the overflow series included), at most
//! [`Limits::max_series`] series in all, and at most [`Limits::max_attribute_bytes`] bytes of
//! canonical attribute keys. With the defaults a table filled to every limit holds about 14 MB
//! (counters) to 17 MB (histograms) on a 64-bit host, measured by `tests/memory_ceiling.rs`; see
//! [`Limits`].
//!
//! This file is the public surface (configuration, instruments, handles, [`Registry`]). Behind it,
//! `key.rs` turns an attribute slice into the canonical key and set hash that identify a series,
//! `table.rs` holds the series table (slots, index, limits, reclaiming idle series, the points of a
//! window), and `self_metrics.rs` writes the `edgemetrics.sdk.*` metrics.

mod key;
#[doc(hidden)]
pub use key::SmallestKeys;
pub(crate) mod self_metrics;
mod table;

pub use self_metrics::SELF_PREFIX;

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use crate::attr::{Attr, AttrLimits, KeyValue};
use crate::error::{cut, Error};
use crate::exphist::ExpConfig;
use crate::model::{Batch, InstrumentKind, Metric, Scope, SdkStats, Temporality, SCOPE_NAME, SCOPE_VERSION};
use table::SeriesTable;

/// The OpenTelemetry default explicit bucket bounds.
pub const DEFAULT_BOUNDS: [f64; 15] =
    [0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0, 10000.0];

/// Most bounds a histogram may have.
pub const MAX_BOUNDS: usize = 256;

/// The attribute that marks an instrument's overflow series.
pub const OVERFLOW_KEY: &str = "otel.metric.overflow";

/// Limits that bound the registry's memory. Everything refused by a limit is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Series per instrument, the overflow series included (default 2000, the OpenTelemetry
    /// default). When an instrument has `cardinality - 1` series, new attribute sets are recorded
    /// into its overflow series (`otel.metric.overflow=true`) so totals stay exact.
    pub cardinality: usize,
    /// Instruments per registry (default 256). Creating one more is [`Error::TooManyInstruments`].
    pub max_instruments: usize,
    /// Series across all instruments, overflow series excluded (default 20 000). Past it, new
    /// attribute sets go to their instrument's overflow series.
    pub max_series: usize,
    /// Bytes of canonical attribute keys across all series (default 4 MiB). Past it, new
    /// attribute sets go to their instrument's overflow series.
    pub max_attribute_bytes: usize,
    /// Limits on each attribute set.
    pub attributes: AttrLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cardinality: 2000,
            max_instruments: 256,
            max_series: 20_000,
            max_attribute_bytes: 4 << 20,
            attributes: AttrLimits::default(),
        }
    }
}

/// Registry configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Delta (default) or cumulative.
    pub temporality: Temporality,
    /// Resource attributes. `service.name` is added (`unknown_service`) when missing.
    pub resource: Vec<KeyValue>,
    /// Memory and cardinality limits.
    pub limits: Limits,
    /// Emit `edgemetrics.sdk.*` self-metrics in every batch (default `true`).
    pub self_metrics: bool,
    /// Aggregation of histograms created without [`InstrumentOptions::aggregation`] (default:
    /// explicit buckets). Set it to [`HistogramAggregation::exponential`] to make every histogram
    /// exponential.
    pub histogram_aggregation: HistogramAggregation,
}

/// How a histogram aggregates: over explicit bucket bounds, or over base-2 exponential buckets
/// ([`crate::exphist`]) that need no bounds and merge exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HistogramAggregation {
    /// Buckets between the bounds of [`InstrumentOptions::bounds`] (or [`DEFAULT_BOUNDS`]).
    #[default]
    Explicit,
    /// Base-2 exponential buckets with at most `max_size` buckets per sign, starting each window
    /// at `max_scale` and lowering the scale as the recorded range grows.
    Exponential(ExpConfig),
}

impl HistogramAggregation {
    /// Exponential with the OpenTelemetry defaults (160 buckets per sign, scale 20).
    pub fn exponential() -> Self {
        HistogramAggregation::Exponential(ExpConfig::default())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            temporality: Temporality::Delta,
            resource: Vec::new(),
            limits: Limits::default(),
            self_metrics: true,
            histogram_aggregation: HistogramAggregation::Explicit,
        }
    }
}

impl Config {
    /// A delta configuration for the given service name.
    pub fn new(service_name: &str) -> Self {
        Config { resource: vec![KeyValue::new("service.name", service_name)], ..Config::default() }
    }
    /// Sets the temporality.
    pub fn temporality(mut self, t: Temporality) -> Self {
        self.temporality = t;
        self
    }
    /// Adds a resource attribute (replacing one with the same key).
    pub fn resource_attr<'a>(mut self, key: &str, value: impl Into<crate::AttrValue<'a>>) -> Self {
        self.resource.retain(|kv| kv.key != key);
        self.resource.push(KeyValue::new(key, value));
        self
    }
    /// Sets the limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// Switches self-metrics on or off.
    pub fn self_metrics(mut self, on: bool) -> Self {
        self.self_metrics = on;
        self
    }
    /// Sets the aggregation of histograms that do not choose one themselves.
    ///
    /// ```
    /// use edgemetrics::{Config, HistogramAggregation, InstrumentOptions, MetricData, Registry};
    /// let mut reg = Registry::new(Config::new("svc").histogram_aggregation(HistogramAggregation::exponential()));
    /// let h = reg.histogram("latency", InstrumentOptions::unit("ms")).unwrap();
    /// h.record(&mut reg, 12.5, &[]);
    /// let batch = reg.collect(1);
    /// assert!(matches!(batch.metric("latency").unwrap().data, MetricData::ExponentialHistogram { .. }));
    /// ```
    pub fn histogram_aggregation(mut self, a: HistogramAggregation) -> Self {
        self.histogram_aggregation = a;
        self
    }
}

/// Name, unit and description of a new instrument, and bounds for histograms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstrumentOptions<'a> {
    /// Unit (UCUM, e.g. `ms`, `By`, `{request}`); at most 63 printable ASCII characters.
    pub unit: &'a str,
    /// Description; at most 1023 bytes.
    pub description: &'a str,
    /// Histogram bucket bounds (ignored for other kinds); `None` means [`DEFAULT_BOUNDS`].
    pub bounds: Option<&'a [f64]>,
    /// Histogram aggregation (ignored for other kinds); `None` means the registry's
    /// [`Config::histogram_aggregation`].
    pub aggregation: Option<HistogramAggregation>,
    /// Instrumentation scope `(name, version)`; `None` means the default scope `edgemetrics`.
    /// Instruments are identified by scope and name: the same name in two scopes is two
    /// instruments (two metrics in the batch, one under each scope).
    pub scope: Option<(&'a str, &'a str)>,
}

impl<'a> InstrumentOptions<'a> {
    /// Options with a unit.
    pub fn unit(unit: &'a str) -> Self {
        InstrumentOptions { unit, ..Default::default() }
    }
    /// Adds a description.
    pub fn description(mut self, d: &'a str) -> Self {
        self.description = d;
        self
    }
    /// Sets histogram bounds.
    pub fn bounds(mut self, b: &'a [f64]) -> Self {
        self.bounds = Some(b);
        self
    }
    /// Makes a histogram exponential with the given options (validated at creation:
    /// [`Error::InvalidExponential`]).
    ///
    /// ```
    /// use edgemetrics::exphist::ExpConfig;
    /// use edgemetrics::{Config, InstrumentOptions, MetricData, Registry};
    /// let mut reg = Registry::new(Config::new("svc").self_metrics(false));
    /// let opts = InstrumentOptions::unit("ms").exponential(ExpConfig { max_size: 40, max_scale: 8 });
    /// let h = reg.histogram("latency", opts).unwrap();
    /// for v in [0.0, 2.0, 3.0, 1000.0] {
    ///     h.record(&mut reg, v, &[]);
    /// }
    /// let batch = reg.collect(1);
    /// let MetricData::ExponentialHistogram { points, .. } = &batch.metrics[0].data else { panic!() };
    /// let p = &points[0].hist;
    /// assert_eq!((p.count, p.zero_count, p.sum, p.max), (4, 1, 1005.0, 1000.0));
    /// // 2 ..= 1000 spans nine octaves: 40 buckets allow four per octave (scale 2).
    /// assert_eq!(p.scale, 2);
    ///
    /// let bad = InstrumentOptions::default().exponential(ExpConfig { max_size: 1, max_scale: 20 });
    /// assert!(reg.histogram("other", bad).is_err());
    /// ```
    pub fn exponential(mut self, c: ExpConfig) -> Self {
        self.aggregation = Some(HistogramAggregation::Exponential(c));
        self
    }
    /// Puts the instrument in the instrumentation scope `name` / `version` (an OpenTelemetry
    /// meter). The name must be 1–255 bytes, the version at most 255 bytes.
    ///
    /// ```
    /// use edgemetrics::{Config, InstrumentOptions, Registry};
    /// let mut reg = Registry::new(Config::new("shop"));
    /// reg.begin(1);
    /// let a = reg.counter("jobs", InstrumentOptions::default()).unwrap();
    /// let b = reg.counter("jobs", InstrumentOptions::default().scope("queue-lib", "2.1.0")).unwrap();
    /// a.add(&mut reg, 1.0, &[]);
    /// b.add(&mut reg, 5.0, &[]);
    /// let batch = reg.collect(2);
    /// assert_eq!(batch.metrics.len(), 2);
    /// assert_eq!(batch.scope_of(&batch.metrics[0]), ("edgemetrics", edgemetrics::SCOPE_VERSION));
    /// assert_eq!(batch.scope_of(&batch.metrics[1]), ("queue-lib", "2.1.0"));
    /// ```
    pub fn scope(mut self, name: &'a str, version: &'a str) -> Self {
        self.scope = Some((name, version));
        self
    }
}

/// Identifies an instrument inside its registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InstrumentId(pub(crate) u32);

impl InstrumentId {
    /// The raw index (stable for the registry's lifetime; used by the JS bindings).
    pub fn index(self) -> u32 {
        self.0
    }
    /// Rebuilds an id from [`InstrumentId::index`]. An index the registry does not know makes
    /// recordings count as `invalid_handle` rejections; nothing panics. Hidden: for hosts that
    /// carry ids across a foreign-function boundary as integers (the wasm bindings).
    #[doc(hidden)]
    pub fn from_index(i: u32) -> Self {
        InstrumentId(i)
    }
}

macro_rules! typed_instrument {
    ($(#[$m:meta])* $name:ident, $kind:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(pub(crate) InstrumentId);
        impl $name {
            /// The untyped id.
            pub fn id(self) -> InstrumentId { self.0 }
        }
        impl From<$name> for InstrumentId {
            fn from(v: $name) -> InstrumentId { v.0 }
        }
    };
}
typed_instrument!(
    /// A monotonic counter: [`Counter::add`] takes non-negative values.
    Counter, InstrumentKind::Counter);
typed_instrument!(
    /// A counter that may go down: [`UpDownCounter::add`] takes any finite value.
    UpDownCounter, InstrumentKind::UpDownCounter);
typed_instrument!(
    /// A gauge: [`Gauge::set`] records the current value; the last one in the window is kept.
    Gauge, InstrumentKind::Gauge);
typed_instrument!(
    /// A histogram (explicit or exponential buckets, see [`HistogramAggregation`]):
    /// [`Histogram::record`] takes non-negative values.
    Histogram, InstrumentKind::Histogram);

impl Counter {
    /// Adds `value` (finite, ≥ 0) to the series named by `attrs`.
    pub fn add(self, reg: &mut Registry, value: f64, attrs: &[Attr<'_>]) {
        reg.record(self, value, attrs)
    }
}
impl UpDownCounter {
    /// Adds `value` (finite, any sign) to the series named by `attrs`.
    pub fn add(self, reg: &mut Registry, value: f64, attrs: &[Attr<'_>]) {
        reg.record(self, value, attrs)
    }
}
impl Gauge {
    /// Sets the series named by `attrs` to `value` (finite).
    pub fn set(self, reg: &mut Registry, value: f64, attrs: &[Attr<'_>]) {
        reg.record(self, value, attrs)
    }
}
impl Histogram {
    /// Records `value` (finite, ≥ 0) into the series named by `attrs`.
    pub fn record(self, reg: &mut Registry, value: f64, attrs: &[Attr<'_>]) {
        reg.record(self, value, attrs)
    }
}

/// A handle to one series: recording through it does no hashing, no string work and no
/// allocation. It stays valid across collects (a bound series is never evicted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bound(pub(crate) u32);

impl Bound {
    /// The raw series index (used by the JS bindings).
    pub fn index(self) -> u32 {
        self.0
    }
    /// Rebuilds a handle from [`Bound::index`]; an unknown index is counted as `invalid_handle`.
    /// Hidden: for hosts that carry handles across a foreign-function boundary as integers.
    #[doc(hidden)]
    pub fn from_index(i: u32) -> Self {
        Bound(i)
    }
}

/// What a collected [`Metric`] says about its instrument (the series table keeps, in the
/// instrument's column, what its series need: kind, bounds, counts).
struct Instrument {
    /// Index into the batch's scopes (0: the default scope).
    scope: u16,
    name: Arc<str>,
    unit: Arc<str>,
    description: Arc<str>,
    kind: InstrumentKind,
}

/// Validates an instrument name (OpenTelemetry rule).
pub fn validate_name(name: &str) -> Result<(), Error> {
    let bad = |reason| Err(Error::InvalidName { name: cut(name, 300), reason });
    let b = name.as_bytes();
    if b.is_empty() {
        return bad("empty");
    }
    if b.len() > 255 {
        return bad("longer than 255 characters");
    }
    if !b[0].is_ascii_alphabetic() {
        return bad("must start with a letter");
    }
    if !b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'/')) {
        return bad("only letters, digits, '_', '.', '-' and '/' are allowed");
    }
    Ok(())
}

/// Validates histogram bounds: finite, strictly increasing, at most [`MAX_BOUNDS`].
pub fn validate_bounds(b: &[f64]) -> Result<(), Error> {
    if b.len() > MAX_BOUNDS {
        return Err(Error::InvalidBounds { reason: "more than 256 bounds" });
    }
    if b.iter().any(|x| !x.is_finite()) {
        return Err(Error::InvalidBounds { reason: "bounds must be finite" });
    }
    if b.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::InvalidBounds { reason: "bounds must be strictly increasing" });
    }
    Ok(())
}

/// The in-memory aggregator. One per isolate (or per invocation); not thread-safe by itself
/// (wrap it in a mutex to share it between threads).
///
/// ```
/// use edgemetrics::{Config, InstrumentOptions, Registry};
///
/// let mut reg = Registry::new(Config::new("checkout"));
/// reg.begin(1_700_000_000_000_000_000);
/// let requests = reg.counter("http.server.requests", InstrumentOptions::unit("{request}")).unwrap();
/// let latency = reg.histogram("http.server.duration", InstrumentOptions::unit("ms")).unwrap();
///
/// requests.add(&mut reg, 1.0, &[("route", "/cart".into()), ("status", 200.into())]);
/// latency.record(&mut reg, 12.5, &[("route", "/cart".into())]);
///
/// let batch = reg.collect(1_700_000_000_050_000_000);
/// assert_eq!(batch.point_count(), 2);
/// // Delta temporality (the default): the next window starts empty.
/// assert!(reg.collect(1_700_000_000_060_000_000).is_empty());
/// ```
pub struct Registry {
    config: Config,
    resource: Arc<[KeyValue]>,
    /// Instrument `i` has column `i` in `table`.
    instruments: Vec<Instrument>,
    /// Scopes other than the default one, in order of first use (index + 1 = `Metric::scope`).
    scopes: Vec<Scope>,
    table: SeriesTable,
    window_start: u64,
    /// Recorded anything since the last collect.
    dirty: bool,
    stats: SdkStats,
    stats_total: SdkStats,
    /// Invocations counted since the last collect, and in total ([`Registry::count_invocation`]).
    invocations: u64,
    invocations_total: u64,
}

impl Registry {
    /// Creates a registry. Invalid limits are clamped to sane minimums (cardinality ≥ 2).
    pub fn new(mut config: Config) -> Self {
        if !config.resource.iter().any(|kv| kv.key == "service.name") {
            config.resource.insert(0, KeyValue::new("service.name", "unknown_service"));
        }
        config.limits.cardinality = config.limits.cardinality.max(2);
        let resource: Arc<[KeyValue]> = config.resource.clone().into();
        let table = SeriesTable::new(config.limits, config.temporality);
        Registry {
            config,
            resource,
            instruments: Vec::new(),
            scopes: Vec::new(),
            table,
            window_start: 0,
            dirty: false,
            stats: SdkStats::default(),
            stats_total: SdkStats::default(),
            invocations: 0,
            invocations_total: 0,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Tells the registry the current time (unix nanoseconds), typically at the start of an
    /// invocation. New series take it as their start time, and when nothing was recorded since the
    /// last collect it also becomes the start of the current window.
    pub fn begin(&mut self, now_unix_nano: u64) {
        self.table.set_now(now_unix_nano);
        if !self.dirty || self.window_start == 0 {
            self.window_start = now_unix_nano;
        }
    }

    /// Counts one invocation whose data goes into the current window. The next batch carries the
    /// count as the self-metric `edgemetrics.sdk.invocations` (delta: invocations this batch
    /// covers; cumulative: since start), so a receiver sees how many invocations each push
    /// aggregates. Hosts call it once per invocation, next to [`begin`](Self::begin).
    ///
    /// ```
    /// use edgemetrics::{Config, InstrumentOptions, Registry};
    /// let mut reg = Registry::new(Config::new("svc"));
    /// let hits = reg.counter("hits", InstrumentOptions::default()).unwrap();
    /// for t in 1..=3u64 {
    ///     reg.begin(t * 1_000_000);
    ///     reg.count_invocation();
    ///     hits.add(&mut reg, 1.0, &[]);
    /// }
    /// let batch = reg.collect(5_000_000);
    /// let inv = batch.metric("edgemetrics.sdk.invocations").unwrap();
    /// let edgemetrics::MetricData::Sum { points, .. } = &inv.data else { panic!("a counter") };
    /// assert_eq!(points[0].value, 3.0);
    /// // The next window starts from zero (delta).
    /// reg.begin(6_000_000);
    /// reg.count_invocation();
    /// hits.add(&mut reg, 1.0, &[]);
    /// let next = reg.collect(7_000_000);
    /// let edgemetrics::MetricData::Sum { points, .. } = &next.metric("edgemetrics.sdk.invocations").unwrap().data else { panic!() };
    /// assert_eq!(points[0].value, 1.0);
    /// ```
    pub fn count_invocation(&mut self) {
        self.invocations = self.invocations.saturating_add(1);
    }

    /// Creates (or returns the existing) counter.
    pub fn counter(&mut self, name: &str, opts: InstrumentOptions<'_>) -> Result<Counter, Error> {
        self.instrument(name, InstrumentKind::Counter, &opts).map(Counter)
    }
    /// Creates (or returns the existing) up-down counter.
    pub fn up_down_counter(&mut self, name: &str, opts: InstrumentOptions<'_>) -> Result<UpDownCounter, Error> {
        self.instrument(name, InstrumentKind::UpDownCounter, &opts).map(UpDownCounter)
    }
    /// Creates (or returns the existing) gauge.
    pub fn gauge(&mut self, name: &str, opts: InstrumentOptions<'_>) -> Result<Gauge, Error> {
        self.instrument(name, InstrumentKind::Gauge, &opts).map(Gauge)
    }
    /// Creates (or returns the existing) histogram.
    pub fn histogram(&mut self, name: &str, opts: InstrumentOptions<'_>) -> Result<Histogram, Error> {
        self.instrument(name, InstrumentKind::Histogram, &opts).map(Histogram)
    }

    /// Creates an instrument of any kind, or returns the existing one with the same scope, name
    /// (compared ASCII-case-insensitively, as OpenTelemetry does) and kind. For an existing
    /// instrument the first unit, description and bounds stay in force.
    pub fn instrument(
        &mut self,
        name: &str,
        kind: InstrumentKind,
        opts: &InstrumentOptions<'_>,
    ) -> Result<InstrumentId, Error> {
        validate_name(name)?;
        let scope = match opts.scope {
            None => 0,
            Some((n, v)) => self.scope_index(n, v)?,
        };
        if let Some((i, inst)) =
            self.instruments.iter().enumerate().find(|(_, i)| i.scope == scope && i.name.eq_ignore_ascii_case(name))
        {
            if inst.kind != kind {
                return Err(Error::KindConflict { name: String::from(name), existing: inst.kind, requested: kind });
            }
            return Ok(InstrumentId(i as u32));
        }
        if opts.unit.len() > 63 || !opts.unit.bytes().all(|c| (0x20..0x7f).contains(&c)) {
            return Err(Error::InvalidUnit { unit: cut(opts.unit, 100) });
        }
        if opts.description.len() > 1023 {
            return Err(Error::DescriptionTooLong);
        }
        let bounds: Arc<[f64]> = match (kind, opts.bounds) {
            (InstrumentKind::Histogram, Some(b)) => {
                validate_bounds(b)?;
                b.into()
            }
            (InstrumentKind::Histogram, None) => DEFAULT_BOUNDS[..].into(),
            _ => Arc::new([]),
        };
        let exp = match (kind, opts.aggregation.unwrap_or(self.config.histogram_aggregation)) {
            (InstrumentKind::Histogram, HistogramAggregation::Exponential(c)) => {
                c.validate()?;
                Some(c)
            }
            _ => None,
        };
        if self.instruments.len() >= self.config.limits.max_instruments {
            return Err(Error::TooManyInstruments { limit: self.config.limits.max_instruments });
        }
        let scope = match scope {
            // A new scope is kept only once an instrument uses it.
            u16::MAX => {
                let (n, v) = opts.scope.unwrap_or_default();
                self.scopes.push(Scope { name: n.into(), version: v.into() });
                self.scopes.len() as u16
            }
            s => s,
        };
        self.instruments.push(Instrument {
            scope,
            name: name.into(),
            unit: opts.unit.into(),
            description: opts.description.into(),
            kind,
        });
        self.table.add_instrument(kind, bounds, exp);
        Ok(InstrumentId((self.instruments.len() - 1) as u32))
    }

    /// The index of scope `name` / `version` (0 for the default scope), `u16::MAX` when it is
    /// new, or why it is refused.
    fn scope_index(&self, name: &str, version: &str) -> Result<u16, Error> {
        if name.is_empty() || name.len() > 255 {
            return Err(Error::InvalidScope { reason: "the name must be 1-255 bytes" });
        }
        if version.len() > 255 {
            return Err(Error::InvalidScope { reason: "the version must be at most 255 bytes" });
        }
        if name == SCOPE_NAME && version == SCOPE_VERSION {
            return Ok(0);
        }
        match self.scopes.iter().position(|s| &*s.name == name && &*s.version == version) {
            Some(i) => Ok(i as u16 + 1),
            // Every scope holds at least one instrument, so the instrument limit bounds them too.
            None if self.scopes.len() + 1 >= u16::MAX as usize => {
                Err(Error::InvalidScope { reason: "too many instrumentation scopes" })
            }
            None => Ok(u16::MAX),
        }
    }

    /// Number of instruments.
    pub fn instrument_count(&self) -> usize {
        self.instruments.len()
    }

    /// Number of live series (overflow series included).
    pub fn series_count(&self) -> usize {
        self.table.len()
    }

    /// Counters for the current (not yet collected) window.
    pub fn stats(&self) -> &SdkStats {
        &self.stats
    }

    /// Records `value` into the series of `instrument` named by `attrs`: adds for counters,
    /// sets for gauges, observes for histograms. Never fails: a refused value is counted in the
    /// batch's [`SdkStats`] and the call returns normally.
    pub fn record(&mut self, instrument: impl Into<InstrumentId>, value: f64, attrs: &[Attr<'_>]) {
        let id = instrument.into().0;
        let Some(kind) = self.table.kind(id) else {
            self.stats.rejected_invalid_handle += 1;
            return;
        };
        if !self.accept(kind, value) {
            return;
        }
        let slot = self.table.lookup_or_create(id, attrs, &mut self.stats);
        // `lookup_or_create` always yields a live slot of this instrument.
        self.table.apply(slot, value);
        self.dirty = true;
    }

    /// Binds an attribute set: returns a handle whose recordings skip all attribute work. The
    /// series is created now (subject to the same limits: over them, the handle points at the
    /// overflow series) and is never evicted.
    pub fn bind(&mut self, instrument: impl Into<InstrumentId>, attrs: &[Attr<'_>]) -> Option<Bound> {
        let id = instrument.into().0;
        if id as usize >= self.instruments.len() {
            self.stats.rejected_invalid_handle += 1;
            return None;
        }
        let slot = self.table.lookup_or_create(id, attrs, &mut self.stats);
        self.table.pin(slot);
        Some(Bound(slot))
    }

    /// Releases one [`bind`](Self::bind) of `handle`: once a series has no handles left it may be
    /// evicted again like any unbound series (a host's attribute cache unbinds the sets it drops, so
    /// that cached sets never hold series slots the registry could need). The handle must not be
    /// used afterwards (its slot may be reused: recordings through it would land in another
    /// series). An unknown or already released handle is ignored.
    ///
    /// ```
    /// use edgemetrics::{Config, InstrumentKind, InstrumentOptions, Limits, Registry};
    /// let limits = Limits { cardinality: 3, ..Limits::default() };
    /// let mut reg = Registry::new(Config::new("svc").limits(limits).self_metrics(false));
    /// let c = reg.instrument("c", InstrumentKind::Counter, &InstrumentOptions::default()).unwrap();
    /// let a = reg.bind(c, &[("k", "a".into())]).unwrap();
    /// let b = reg.bind(c, &[("k", "b".into())]).unwrap();
    /// let _ = reg.collect(1);
    /// // Both slots are bound: a new set overflows.
    /// reg.record(c, 1.0, &[("k", "x".into())]);
    /// assert_eq!(reg.collect(2).stats.overflowed, 1);
    /// // Released and idle: a new set reclaims a slot (delta temporality).
    /// reg.unbind(a);
    /// reg.unbind(b);
    /// reg.record(c, 1.0, &[("k", "y".into())]);
    /// assert_eq!(reg.collect(3).stats.overflowed, 0);
    /// ```
    pub fn unbind(&mut self, handle: Bound) {
        self.table.unpin(handle.0);
    }

    /// Whether `handle` points at an overflow series (a [`bind`](Self::bind) made over a limit).
    pub fn is_overflow(&self, handle: Bound) -> bool {
        self.table.is_overflow(handle.0)
    }

    /// Whether a new attribute set of `instrument` would be over its cardinality limit or the
    /// series limit now (before any reclaiming of idle series).
    pub fn instrument_full(&self, instrument: impl Into<InstrumentId>) -> bool {
        self.table.instrument_full(instrument.into().0)
    }

    /// For a host's attribute cache: records `value` into the overflow series of `instrument` when
    /// an attribute set without a series of its own certainly goes there, and returns `true`;
    /// returns `false` (recording nothing) otherwise. The caller guarantees that it holds bound
    /// handles to `own_series` distinct series of the instrument and that the set is none of them:
    /// the registry checks that these are all the instrument's series (so none can be reclaimed
    /// and the set has none), that the limit is reached and that
    /// [`release_advice`](Self::release_advice) was asked in this window. A refused value is counted and
    /// returns `true`, as [`record`](Self::record) would have done.
    ///
    /// ```
    /// use edgemetrics::{Config, InstrumentKind, InstrumentOptions, Limits, Registry};
    /// let limits = Limits { cardinality: 2, ..Limits::default() };
    /// let mut reg = Registry::new(Config::new("svc").limits(limits).self_metrics(false));
    /// let c = reg.instrument("c", InstrumentKind::Counter, &InstrumentOptions::default()).unwrap();
    /// assert!(!reg.record_overflowing(c, 1.0, 0)); // room for a series: not certain
    /// let a = reg.bind(c, &[("k", "a".into())]).unwrap();
    /// reg.record_bound(a, 1.0);
    /// assert!(!reg.record_overflowing(c, 1.0, 0)); // the caller does not hold every series
    /// assert!(!reg.record_overflowing(c, 1.0, 1)); // not before the window's release advice
    /// assert!(!reg.release_advice(c)); // the bound series got a value: nothing to release
    /// assert!(reg.record_overflowing(c, 5.0, 1));
    /// let batch = reg.collect(1);
    /// assert_eq!(batch.stats.overflowed, 1);
    /// let edgemetrics::MetricData::Sum { points, .. } = &batch.metric("c").unwrap().data else { panic!() };
    /// let values: Vec<f64> = points.iter().map(|p| p.value).collect();
    /// assert_eq!(values.iter().sum::<f64>(), 6.0); // 1 in the bound series, 5 in the overflow series
    /// assert_eq!(values.len(), 2);
    /// ```
    pub fn record_overflowing(&mut self, instrument: impl Into<InstrumentId>, value: f64, own_series: usize) -> bool {
        let id = instrument.into().0;
        let Some(kind) = self.table.kind(id) else { return false };
        if !self.table.instrument_full(id) {
            return false;
        }
        if !self.accept(kind, value) {
            return true;
        }
        match self.table.overflow_if_full(id, own_series, &mut self.stats) {
            Some(slot) => {
                self.table.apply(slot, value);
                self.dirty = true;
                true
            }
            None => false,
        }
    }

    /// `true` at most once per window for `instrument` when it is full and has a bound series that
    /// got no value in this window: a host cache that releases its handles then lets the next new
    /// attribute set reclaim that series' slot instead of overflowing.
    pub fn release_advice(&mut self, instrument: impl Into<InstrumentId>) -> bool {
        let id = instrument.into().0;
        self.table.instrument_full(id) && self.table.release_advice(id)
    }

    /// Counts `n` attributes dropped before they reached the registry (a host that had to refuse
    /// an attribute it could not represent, or pre-select among more attributes than one call may
    /// pass): they appear in `edgemetrics.sdk.attributes.dropped` like the registry's own drops.
    pub fn count_dropped_attributes(&mut self, n: u64) {
        self.stats.attributes_dropped = self.stats.attributes_dropped.saturating_add(n);
        if n > 0 {
            self.dirty = true;
        }
    }

    /// Adds or replaces a resource attribute after creation. Hosts that may not generate random
    /// values at start-up (a worker's global scope) set a random `service.instance.id` this way at
    /// their first flush; batches collected afterwards carry it.
    ///
    /// ```
    /// use edgemetrics::{Config, Registry};
    /// let mut reg = Registry::new(Config::new("svc"));
    /// assert!(!reg.has_resource_attr("service.instance.id"));
    /// reg.set_resource_attr("service.instance.id", "7f3a");
    /// assert!(reg.collect(1).resource.iter().any(|kv| kv.key == "service.instance.id"));
    /// ```
    pub fn set_resource_attr<'a>(&mut self, key: &str, value: impl Into<crate::AttrValue<'a>>) {
        self.config.resource.retain(|kv| kv.key != key);
        self.config.resource.push(KeyValue::new(key, value));
        self.resource = self.config.resource.clone().into();
    }

    /// Whether the resource has an attribute named `key`.
    pub fn has_resource_attr(&self, key: &str) -> bool {
        self.resource.iter().any(|kv| kv.key == key)
    }

    /// Records through a bound handle: one bounds check, one value check, one update.
    // `always`: the wasm bindings call it from two places (the bound-record export and the
    // cache's bind-and-record); a size-optimised build would otherwise outline it, adding a call
    // to the hottest path.
    #[inline(always)]
    pub fn record_bound(&mut self, handle: Bound, value: f64) {
        let Some(s) = self.table.live_mut(handle.0) else {
            self.stats.rejected_invalid_handle += 1;
            return;
        };
        if !value.is_finite() {
            self.stats.rejected_non_finite += 1;
            return;
        }
        if value < 0.0 && matches!(s.kind, InstrumentKind::Counter | InstrumentKind::Histogram) {
            self.stats.rejected_negative += 1;
            return;
        }
        table::apply(s, value);
        self.dirty = true;
    }

    #[inline]
    fn accept(&mut self, kind: InstrumentKind, value: f64) -> bool {
        if !value.is_finite() {
            self.stats.rejected_non_finite += 1;
            return false;
        }
        if value < 0.0 && matches!(kind, InstrumentKind::Counter | InstrumentKind::Histogram) {
            self.stats.rejected_negative += 1;
            return false;
        }
        true
    }

    /// Collects the current window into a [`Batch`] and starts the next one at `now_unix_nano`.
    ///
    /// Delta: the batch holds what was recorded since the previous collect; every series is reset,
    /// and series that got nothing in the window (and are not bound) are evicted to free memory.
    /// Cumulative: the batch holds running totals of every series that ever got a value.
    ///
    /// If the clock went backwards (`now` before the window start) the window end is clamped to
    /// its start and the skew is counted.
    pub fn collect(&mut self, now_unix_nano: u64) -> Batch {
        if self.window_start == 0 {
            self.window_start = now_unix_nano;
        }
        let start = self.window_start;
        let end = if now_unix_nano < start {
            self.stats.clock_skew += 1;
            start
        } else {
            now_unix_nano
        };
        let temporality = self.config.temporality;
        let delta = temporality == Temporality::Delta;

        let per = self.table.collect(start, end);
        let mut metrics: Vec<Metric> = Vec::new();
        for (inst, data) in self.instruments.iter().zip(per) {
            if let Some(data) = data {
                metrics.push(Metric {
                    name: inst.name.clone(),
                    unit: inst.unit.clone(),
                    description: inst.description.clone(),
                    kind: inst.kind,
                    data,
                    scope: inst.scope,
                });
            }
        }

        let window = self.stats;
        self.stats_total.merge(&window);
        self.stats = SdkStats::default();
        let stats = if delta { window } else { self.stats_total };
        self.invocations_total = self.invocations_total.saturating_add(self.invocations);
        let invocations = if delta { self.invocations } else { self.invocations_total };
        self.invocations = 0;
        if self.config.self_metrics {
            let from = if delta { start } else { self.first_start() };
            self_metrics::registry(&stats, temporality, from, end, &mut metrics);
            self_metrics::invocations(invocations, temporality, from, end, &mut metrics);
        }

        self.window_start = end;
        self.table.set_now(end);
        self.dirty = false;
        Batch {
            resource: self.resource.clone(),
            scope_name: SCOPE_NAME,
            scope_version: alloc::borrow::Cow::Borrowed(SCOPE_VERSION),
            scopes: self.scopes.clone(),
            temporality,
            start_unix_nano: start,
            end_unix_nano: end,
            metrics,
            stats,
        }
    }

    /// Earliest start among live series (cumulative self-metrics start there).
    fn first_start(&self) -> u64 {
        self.table.first_start(self.window_start)
    }
}
