//! The collected batch: what one invocation (or one warm-isolate window) hands to an encoder.
//!
//! A [`Batch`] is plain owned data with no references into the registry, so it can be encoded,
//! kept for a retry, or merged into the next window. Its layout mirrors the OpenTelemetry data
//! model (resource → scope → metrics → points) because every wire format we emit is either OTLP or
//! a straightforward projection of it.
//!
//! With the feature `serde`, every type here (and [`KeyValue`], [`crate::Value`]) implements
//! `Serialize` and `Deserialize`, so a batch can be logged, stored or forwarded in any serde format
//! (`tests/serde.rs` round-trips one through `serde_json`). That is the data model's natural shape;
//! the compact wire format is a separate, table-based schema (`encode::compact::Message`).

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::attr::{Attributes, KeyValue};
use crate::exphist::ExpHistogram;

/// How sums and histograms relate to earlier batches.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Temporality {
    /// Each batch holds only what was recorded since the previous collect (one window per
    /// invocation). The default, and what OTLP receivers prefer from short-lived writers.
    #[default]
    Delta,
    /// Each batch holds running totals since the series' first recording, kept across collects in
    /// a warm isolate. Required by Prometheus-family receivers, which compute `rate()` over
    /// monotonically growing counters. Pair it with a per-isolate `service.instance.id` so that
    /// every series has exactly one writer.
    Cumulative,
}

/// The kind of an instrument.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstrumentKind {
    /// Monotonic sum: only non-negative increments.
    Counter,
    /// Non-monotonic sum: increments of either sign.
    UpDownCounter,
    /// Last value recorded in the window.
    Gauge,
    /// Distribution with count, sum, min and max: over explicit bucket bounds, or over base-2
    /// exponential buckets when created with `HistogramAggregation::Exponential`.
    Histogram,
}

impl InstrumentKind {
    /// A lower-case name for messages and self-metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            InstrumentKind::Counter => "counter",
            InstrumentKind::UpDownCounter => "up_down_counter",
            InstrumentKind::Gauge => "gauge",
            InstrumentKind::Histogram => "histogram",
        }
    }
}

/// One data point of a sum or gauge.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq)]
pub struct NumberPoint {
    /// Canonical attributes of the series (sorted by key, unique keys).
    pub attributes: Attributes,
    /// Start of the interval this point covers, unix nanoseconds (delta: the window start;
    /// cumulative: the series' first recording).
    pub start_unix_nano: u64,
    /// End of the interval, unix nanoseconds (the collect time).
    pub time_unix_nano: u64,
    /// The value: a sum for counters, the last value for gauges.
    pub value: f64,
}

/// One data point of a histogram.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramPoint {
    /// Canonical attributes of the series.
    pub attributes: Attributes,
    /// Start of the interval, unix nanoseconds.
    pub start_unix_nano: u64,
    /// End of the interval, unix nanoseconds.
    pub time_unix_nano: u64,
    /// Number of values recorded; equals the sum of `bucket_counts`.
    pub count: u64,
    /// Sum of the values recorded.
    pub sum: f64,
    /// Smallest value recorded (meaningful only when `count > 0`).
    pub min: f64,
    /// Largest value recorded (meaningful only when `count > 0`).
    pub max: f64,
    /// Per-bucket counts, `bounds.len() + 1` entries; bucket `i` holds `(bounds[i-1], bounds[i]]`,
    /// the last one `(bounds[last], +inf)`.
    pub bucket_counts: Vec<u64>,
}

/// One data point of a base-2 exponential histogram (OTLP `ExponentialHistogramDataPoint`,
/// Prometheus native histogram).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq)]
pub struct ExpHistogramPoint {
    /// Canonical attributes of the series.
    pub attributes: Attributes,
    /// Start of the interval, unix nanoseconds.
    pub start_unix_nano: u64,
    /// End of the interval, unix nanoseconds.
    pub time_unix_nano: u64,
    /// Count, sum, min, max, scale, zero bucket and the buckets of each sign.
    pub hist: ExpHistogram,
}

/// The data of one metric.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq)]
pub enum MetricData {
    /// A sum (counter or up-down counter).
    Sum {
        /// `true` for counters.
        monotonic: bool,
        /// Delta or cumulative.
        temporality: Temporality,
        /// One point per series.
        points: Vec<NumberPoint>,
    },
    /// A gauge: last value per series.
    Gauge {
        /// One point per series.
        points: Vec<NumberPoint>,
    },
    /// An explicit-bucket histogram.
    Histogram {
        /// Delta or cumulative.
        temporality: Temporality,
        /// Bucket upper bounds, finite and strictly increasing.
        bounds: Arc<[f64]>,
        /// One point per series.
        points: Vec<HistogramPoint>,
    },
    /// A base-2 exponential histogram (an instrument created with
    /// [`HistogramAggregation::Exponential`](crate::registry::HistogramAggregation)).
    ExponentialHistogram {
        /// Delta or cumulative.
        temporality: Temporality,
        /// One point per series.
        points: Vec<ExpHistogramPoint>,
    },
}

impl MetricData {
    /// Number of points.
    pub fn len(&self) -> usize {
        match self {
            MetricData::Sum { points, .. } | MetricData::Gauge { points } => points.len(),
            MetricData::Histogram { points, .. } => points.len(),
            MetricData::ExponentialHistogram { points, .. } => points.len(),
        }
    }
    /// `true` when there are no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One metric (instrument) with its points.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Instrument name, validated (OpenTelemetry instrument-name rule).
    pub name: Arc<str>,
    /// Unit (UCUM string such as `ms`, `By`, `1`), possibly empty.
    pub unit: Arc<str>,
    /// Description, possibly empty.
    pub description: Arc<str>,
    /// The kind of instrument that produced it.
    pub kind: InstrumentKind,
    /// The points.
    pub data: MetricData,
    /// The instrumentation scope of the instrument: 0 is the batch's default scope
    /// ([`Batch::scope_name`] / [`Batch::scope_version`], `edgemetrics`), `i ≥ 1` is
    /// `Batch::scopes[i - 1]` (see [`Batch::scope_of`]).
    #[cfg_attr(feature = "serde", serde(default))]
    pub scope: u16,
}

/// Counters the SDK keeps about itself, for one batch (delta) or since start (cumulative).
/// They also appear in the batch as ordinary points named `edgemetrics.sdk.*` unless switched off.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SdkStats {
    /// Values refused because they were NaN or infinite.
    pub rejected_non_finite: u64,
    /// Values refused because a counter or histogram got a negative value.
    pub rejected_negative: u64,
    /// Values refused because the handle did not name a live instrument or series.
    pub rejected_invalid_handle: u64,
    /// Values recorded into an instrument's overflow series (cardinality or memory limit reached).
    /// They are not lost: totals stay exact, only their attributes are replaced.
    pub overflowed: u64,
    /// Attributes dropped from recordings (over the count limit, empty or over-long key).
    pub attributes_dropped: u64,
    /// String attribute values truncated to the length limit.
    pub attributes_truncated: u64,
    /// Collects whose clock went backwards (the window end was clamped to the start).
    pub clock_skew: u64,
}

impl SdkStats {
    /// Total values that were refused and are therefore not in any point.
    pub fn rejected(&self) -> u64 {
        self.rejected_non_finite + self.rejected_negative + self.rejected_invalid_handle
    }
    /// Adds every counter of `other` into `self` (saturating).
    pub fn merge(&mut self, other: &SdkStats) {
        self.rejected_non_finite = self.rejected_non_finite.saturating_add(other.rejected_non_finite);
        self.rejected_negative = self.rejected_negative.saturating_add(other.rejected_negative);
        self.rejected_invalid_handle = self.rejected_invalid_handle.saturating_add(other.rejected_invalid_handle);
        self.overflowed = self.overflowed.saturating_add(other.overflowed);
        self.attributes_dropped = self.attributes_dropped.saturating_add(other.attributes_dropped);
        self.attributes_truncated = self.attributes_truncated.saturating_add(other.attributes_truncated);
        self.clock_skew = self.clock_skew.saturating_add(other.clock_skew);
    }
}

/// An instrumentation scope other than the default one (for example an OpenTelemetry meter's
/// `getMeter(name, version)`), which metrics refer to by index (see [`Metric::scope`]).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// Scope name, such as a library's package name; never empty.
    pub name: Arc<str>,
    /// Scope version, possibly empty.
    pub version: Arc<str>,
}

/// Name of the default instrumentation scope every batch carries.
pub const SCOPE_NAME: &str = "edgemetrics";
/// This crate's version, sent as the scope version.
pub const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything collected in one window.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Resource attributes (at least `service.name`), in the order configured.
    pub resource: Arc<[KeyValue]>,
    /// Name of the default scope (always [`SCOPE_NAME`]); instruments created without
    /// [`InstrumentOptions::scope`](crate::InstrumentOptions::scope) are in it (`Metric::scope` 0).
    pub scope_name: &'static str,
    /// Scope version: [`SCOPE_VERSION`] (borrowed, no allocation) for batches this crate collects;
    /// a decoded batch from another SDK version carries that version (owned), so a relay can
    /// forward it unchanged. Use `&batch.scope_version` or `batch.scope_version.as_ref()` as a `&str`.
    pub scope_version: alloc::borrow::Cow<'static, str>,
    /// The scopes other than the default one, which metrics with `scope ≥ 1` refer to
    /// (`scopes[scope - 1]`); empty when every instrument is in the default scope.
    pub scopes: Vec<Scope>,
    /// Temporality of every sum and histogram in the batch.
    pub temporality: Temporality,
    /// Window start, unix nanoseconds.
    pub start_unix_nano: u64,
    /// Window end (collect time), unix nanoseconds; never before `start_unix_nano`.
    pub end_unix_nano: u64,
    /// Metrics with at least one point, in instrument-creation order; SDK self-metrics last.
    pub metrics: Vec<Metric>,
    /// The SDK's own counters for this window (also present in `metrics` unless disabled).
    pub stats: SdkStats,
}

impl Batch {
    /// Total number of points in the batch.
    pub fn point_count(&self) -> usize {
        self.metrics.iter().map(|m| m.data.len()).sum()
    }
    /// `true` when the batch has no points: nothing to send.
    pub fn is_empty(&self) -> bool {
        self.metrics.iter().all(|m| m.data.is_empty())
    }
    /// The value of the resource attribute `key`, if it is a string.
    pub fn resource_str(&self, key: &str) -> Option<&str> {
        self.resource.iter().find(|kv| kv.key == key).and_then(|kv| match &kv.value {
            crate::attr::Value::Str(s) => Some(s.as_str()),
            _ => None,
        })
    }
    /// Looks up a metric by name (the first one, whatever its scope).
    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| &*m.name == name)
    }
    /// Name and version of scope index `scope` (0: the default scope). An index past
    /// [`scopes`](Batch::scopes) (only a hand-built batch can hold one) reads as the default scope.
    pub fn scope(&self, scope: u16) -> (&str, &str) {
        match (scope as usize).checked_sub(1).and_then(|i| self.scopes.get(i)) {
            Some(s) => (&s.name, &s.version),
            None => (self.scope_name, &self.scope_version),
        }
    }
    /// Name and version of `metric`'s scope.
    pub fn scope_of(&self, metric: &Metric) -> (&str, &str) {
        self.scope(metric.scope)
    }
    /// The scope index `metric` is written under: its own, or 0 when the index names no scope of
    /// this batch (as [`Batch::scope`] reads it).
    pub fn scope_index(&self, metric: &Metric) -> usize {
        if (metric.scope as usize) < self.scope_count() {
            metric.scope as usize
        } else {
            0
        }
    }
    /// Number of scopes, the default one included.
    pub fn scope_count(&self) -> usize {
        1 + self.scopes.len()
    }
}

/// A deserialized [`Batch`] before its scope name is checked (only [`SCOPE_NAME`] is accepted).
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct BatchFields {
    resource: Arc<[KeyValue]>,
    scope_name: String,
    scope_version: String,
    #[serde(default)]
    scopes: Vec<Scope>,
    temporality: Temporality,
    start_unix_nano: u64,
    end_unix_nano: u64,
    metrics: Vec<Metric>,
    stats: SdkStats,
}

// By hand: a derived impl would borrow `scope_name: &'static str` from the input.
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Batch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Batch, D::Error> {
        let f = BatchFields::deserialize(d)?;
        if f.scope_name != SCOPE_NAME {
            return Err(serde::de::Error::custom("scope_name must be \"edgemetrics\""));
        }
        let scope_version = if f.scope_version == SCOPE_VERSION {
            alloc::borrow::Cow::Borrowed(SCOPE_VERSION)
        } else {
            alloc::borrow::Cow::Owned(f.scope_version)
        };
        Ok(Batch {
            resource: f.resource,
            scope_name: SCOPE_NAME,
            scope_version,
            scopes: f.scopes,
            temporality: f.temporality,
            start_unix_nano: f.start_unix_nano,
            end_unix_nano: f.end_unix_nano,
            metrics: f.metrics,
            stats: f.stats,
        })
    }
}

/// Renders an owned string for messages without pulling `format!` into minimal builds.
pub(crate) fn concat(parts: &[&str]) -> String {
    let mut s = String::new();
    for p in parts {
        s.push_str(p);
    }
    s
}
