//! Carry-over arithmetic: merging an undelivered batch into a later one, bounding what is carried,
//! and counting what is dropped.
//!
//! Rules, per metric (matched by name) and point (matched by attribute set):
//!
//! | data | delta | cumulative |
//! |---|---|---|
//! | sum (counter, up-down counter) | values add | the newer point supersedes |
//! | histogram | counts, sum and buckets add; min/max combine | the newer point supersedes |
//! | exponential histogram | added at the common (lower) scale, exactly | the newer point supersedes |
//! | gauge | the point with the later timestamp wins (tie: the newer batch) | same |
//!
//! A merged delta point covers the union of both windows (earliest start, latest end). Points and
//! metrics present on one side only are kept. A metric that cannot be merged (same name but
//! another kind, monotonicity, temporality or histogram bounds) keeps the newer batch's version;
//! the older side's points are dropped and counted, never silently mixed.

use alloc::vec::Vec;

use crate::exphist::DEFAULT_MAX_SIZE;
use crate::model::{Batch, ExpHistogramPoint, HistogramPoint, Metric, MetricData, NumberPoint, Temporality};
use crate::registry::SELF_PREFIX;

/// What was dropped: points, and the recorded values they stood for.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DropTally {
    /// Points dropped (any kind, self-metrics included).
    pub points: u64,
    /// Sum of the dropped delta counter (monotonic sum) points, self-metrics excluded: the
    /// increments that were recorded and will never reach a receiver.
    pub counter_total: f64,
    /// Values recorded into dropped delta histogram points (their `count`), self-metrics excluded.
    pub histogram_values: u64,
}

impl DropTally {
    /// `true` when nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.points == 0
    }
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &DropTally) {
        self.points = self.points.saturating_add(other.points);
        self.counter_total += other.counter_total;
        self.histogram_values = self.histogram_values.saturating_add(other.histogram_values);
    }
    fn count_metric_points(&mut self, m: &Metric, range: core::ops::Range<usize>) {
        // Every point counts; only own delta counters and histograms carry recorded values
        // (one loop per such kind instead of a count inside every kind's loop).
        self.points += range.len() as u64;
        if m.name.starts_with(SELF_PREFIX) {
            return;
        }
        match &m.data {
            MetricData::Sum { monotonic: true, temporality: Temporality::Delta, points } => {
                for p in &points[range] {
                    self.counter_total += p.value;
                }
            }
            MetricData::Histogram { temporality: Temporality::Delta, points, .. } => {
                for p in &points[range] {
                    self.histogram_values = self.histogram_values.saturating_add(p.count);
                }
            }
            MetricData::ExponentialHistogram { temporality: Temporality::Delta, points } => {
                for p in &points[range] {
                    self.histogram_values = self.histogram_values.saturating_add(p.hist.count);
                }
            }
            _ => {}
        }
    }
}

/// Counts everything in `batch` as dropped.
pub fn tally(batch: &Batch) -> DropTally {
    let mut t = DropTally::default();
    for m in &batch.metrics {
        t.count_metric_points(m, 0..m.data.len());
    }
    t
}

/// Keeps at most `max_points` points of `batch`, dropping from the end (self-metrics, which come
/// last, go first), and returns what was dropped. Metrics left without points are removed.
pub fn trim(batch: &mut Batch, max_points: usize) -> DropTally {
    let mut t = DropTally::default();
    let mut kept = 0usize;
    for m in batch.metrics.iter_mut() {
        let n = m.data.len();
        let keep = n.min(max_points - kept.min(max_points));
        if keep < n {
            t.count_metric_points(m, keep..n);
            match &mut m.data {
                MetricData::Sum { points, .. } | MetricData::Gauge { points } => points.truncate(keep),
                MetricData::Histogram { points, .. } => points.truncate(keep),
                MetricData::ExponentialHistogram { points, .. } => points.truncate(keep),
            }
        }
        kept += keep;
    }
    batch.metrics.retain(|m| !m.data.is_empty());
    t
}

/// Merges `from`, an **older** batch that was not delivered, into `into`, the batch about to be
/// sent. Returns what could not be merged (incompatible metrics), which is dropped.
///
/// Rules, per metric (matched by name) and point (matched by attribute set):
///
/// | data | delta | cumulative |
/// |---|---|---|
/// | sum (counter, up-down counter) | values add | the newer point supersedes |
/// | histogram | counts, sum and buckets add; min/max combine | the newer point supersedes |
/// | gauge | the point with the later timestamp wins (tie: the newer batch) | same |
///
/// A merged delta point covers the union of both windows (earliest start, latest end). Points and
/// metrics present on one side only are kept. A metric that cannot be merged (same name but
/// another kind, monotonicity, temporality or histogram bounds) keeps the newer batch's version;
/// the older side's points are dropped and counted, never silently mixed.
///
/// ```
/// use edgemetrics::{Config, InstrumentOptions, Registry};
/// let mut reg = Registry::new(Config::new("svc").self_metrics(false));
/// let c = reg.counter("jobs", InstrumentOptions::default()).unwrap();
/// c.add(&mut reg, 3.0, &[]);
/// let failed = reg.collect(1_000);
/// c.add(&mut reg, 4.0, &[]);
/// let mut next = reg.collect(2_000);
/// let dropped = edgemetrics::push::merge(&mut next, failed);
/// assert!(dropped.is_empty());
/// match &next.metric("jobs").unwrap().data {
///     edgemetrics::MetricData::Sum { points, .. } => assert_eq!(points[0].value, 7.0),
///     _ => unreachable!(),
/// }
/// ```
pub fn merge(into: &mut Batch, from: Batch) -> DropTally {
    merge_ordered(into, from, false)
}

/// Merges `newer`, a batch collected **after** `window`, into `window`: the aggregation step of a
/// relay or a Tail Worker that combines the batches of many invocations into one push. The rules
/// are [`merge`]'s with the age order reversed (for delta data the result is the same: sums and
/// histogram buckets add, min/max combine; gauges keep the later timestamp, and on a tie the newer
/// batch; cumulative points and incompatible metrics take the newer side). Returns what could not
/// be merged, which is dropped.
///
/// ```
/// use edgemetrics::{Config, InstrumentOptions, Registry};
/// let mut reg = Registry::new(Config::new("svc").self_metrics(false));
/// let c = reg.counter("jobs", InstrumentOptions::default()).unwrap();
/// let g = reg.gauge("queue", InstrumentOptions::default()).unwrap();
/// c.add(&mut reg, 3.0, &[]);
/// g.set(&mut reg, 10.0, &[]);
/// let mut window = reg.collect(1_000);
/// c.add(&mut reg, 4.0, &[]);
/// g.set(&mut reg, 2.0, &[]);
/// let later = reg.collect(2_000);
/// assert!(edgemetrics::push::absorb(&mut window, later).is_empty());
/// let value = |name: &str| match &window.metric(name).unwrap().data {
///     edgemetrics::MetricData::Sum { points, .. } | edgemetrics::MetricData::Gauge { points } => points[0].value,
///     _ => unreachable!(),
/// };
/// assert_eq!((value("jobs"), value("queue")), (7.0, 2.0));
/// assert!(window.start_unix_nano <= 1_000 && window.end_unix_nano == 2_000);
/// ```
pub fn absorb(window: &mut Batch, newer: Batch) -> DropTally {
    merge_ordered(window, newer, true)
}

/// [`merge`] with the age order made explicit: `from_is_newer` says which side wins where the
/// newer value supersedes (cumulative points, gauges on equal timestamps, batch stats).
pub(crate) fn merge_ordered(into: &mut Batch, from: Batch, from_is_newer: bool) -> DropTally {
    let mut dropped = DropTally::default();
    into.start_unix_nano = into.start_unix_nano.min(from.start_unix_nano);
    into.end_unix_nano = into.end_unix_nano.max(from.end_unix_nano);
    if into.temporality == Temporality::Delta && from.temporality == Temporality::Delta {
        into.stats.merge(&from.stats);
    } else if from_is_newer {
        into.stats = from.stats;
    }
    // `from`'s scope indices, renumbered into `into`'s scopes (a scope `into` lacks is added).
    let scope_map: Vec<u16> = (0..from.scope_count()).map(|s| into_scope(into, &from, s as u16)).collect();
    for mut fm in from.metrics {
        fm.scope = scope_map.get(fm.scope as usize).copied().unwrap_or(0);
        let scope = fm.scope as usize;
        match into.metrics.iter_mut().find(|m| m.name == fm.name && (m.scope as usize) == scope) {
            Some(im) => {
                if !compatible(im, &fm) {
                    // Keep the newer metric's definition; drop the other side's points.
                    if from_is_newer {
                        dropped.count_metric_points(im, 0..im.data.len());
                        *im = fm;
                    } else {
                        dropped.count_metric_points(&fm, 0..fm.data.len());
                    }
                    continue;
                }
                merge_data(&mut im.data, fm.data, from_is_newer);
            }
            None => {
                // New metric: keep self-metrics last.
                let at = if fm.name.starts_with(SELF_PREFIX) {
                    into.metrics.len()
                } else {
                    into.metrics.iter().position(|m| m.name.starts_with(SELF_PREFIX)).unwrap_or(into.metrics.len())
                };
                into.metrics.insert(at, fm);
            }
        }
    }
    dropped
}

/// The index in `into` of `from`'s scope `s`, adding the scope to `into` when it is new.
fn into_scope(into: &mut Batch, from: &Batch, s: u16) -> u16 {
    let (name, version) = from.scope(s);
    if (name, version) == (into.scope_name, &*into.scope_version) {
        return 0;
    }
    if let Some(i) = into.scopes.iter().position(|x| (&*x.name, &*x.version) == (name, version)) {
        return i as u16 + 1;
    }
    if into.scopes.len() + 1 >= u16::MAX as usize {
        return 0; // unreachable in practice: every scope holds an instrument
    }
    let scope = match (s as usize).checked_sub(1).and_then(|i| from.scopes.get(i)) {
        Some(x) => x.clone(),
        // `from`'s default scope, which `into` names differently (another SDK version).
        None => crate::model::Scope { name: name.into(), version: version.into() },
    };
    into.scopes.push(scope);
    into.scopes.len() as u16
}

fn compatible(a: &Metric, b: &Metric) -> bool {
    if a.kind != b.kind {
        return false;
    }
    match (&a.data, &b.data) {
        (
            MetricData::Sum { monotonic: ma, temporality: ta, .. },
            MetricData::Sum { monotonic: mb, temporality: tb, .. },
        ) => ma == mb && ta == tb,
        (MetricData::Gauge { .. }, MetricData::Gauge { .. }) => true,
        (
            MetricData::Histogram { temporality: ta, bounds: ba, .. },
            MetricData::Histogram { temporality: tb, bounds: bb, .. },
        ) => ta == tb && ba[..] == bb[..],
        // Exponential histograms need no agreement on buckets: merging lowers the scale.
        (
            MetricData::ExponentialHistogram { temporality: ta, .. },
            MetricData::ExponentialHistogram { temporality: tb, .. },
        ) => ta == tb,
        _ => false,
    }
}

fn merge_data(into: &mut MetricData, from: MetricData, from_is_newer: bool) {
    match (into, from) {
        (MetricData::Sum { temporality, points, .. }, MetricData::Sum { points: fps, .. }) => {
            let t = *temporality;
            merge_points(points, fps, |a, b| merge_number(a, b, t == Temporality::Delta, false, from_is_newer));
        }
        (MetricData::Gauge { points }, MetricData::Gauge { points: fps }) => {
            merge_points(points, fps, |a, b| merge_number(a, b, false, true, from_is_newer));
        }
        (MetricData::Histogram { temporality, points, .. }, MetricData::Histogram { points: fps, .. }) => {
            let delta = *temporality == Temporality::Delta;
            merge_points(points, fps, |a, b| merge_hist(a, b, delta, from_is_newer));
        }
        (
            MetricData::ExponentialHistogram { temporality, points },
            MetricData::ExponentialHistogram { points: fps, .. },
        ) => {
            let delta = *temporality == Temporality::Delta;
            merge_points(points, fps, |a, b| merge_exp(a, b, delta, from_is_newer));
        }
        // `compatible` was checked by the caller.
        _ => {}
    }
}

trait HasAttrs {
    fn attrs(&self) -> &[crate::KeyValue];
}
impl HasAttrs for NumberPoint {
    fn attrs(&self) -> &[crate::KeyValue] {
        &self.attributes
    }
}
impl HasAttrs for ExpHistogramPoint {
    fn attrs(&self) -> &[crate::KeyValue] {
        &self.attributes
    }
}
impl HasAttrs for HistogramPoint {
    fn attrs(&self) -> &[crate::KeyValue] {
        &self.attributes
    }
}

fn merge_points<P: HasAttrs>(into: &mut Vec<P>, from: Vec<P>, mut combine: impl FnMut(&mut P, P)) {
    for fp in from {
        match into.iter_mut().find(|p| same_attrs(p.attrs(), fp.attrs())) {
            Some(p) => combine(p, fp),
            None => into.push(fp),
        }
    }
}

/// Attribute equality, kept out of line: one copy for the four point types (~1 KB of wasm each
/// when inlined).
#[inline(never)]
fn same_attrs(a: &[crate::KeyValue], b: &[crate::KeyValue]) -> bool {
    a == b
}

fn merge_number(a: &mut NumberPoint, b: NumberPoint, add: bool, gauge: bool, b_is_newer: bool) {
    if add {
        a.value += b.value;
        a.start_unix_nano = a.start_unix_nano.min(b.start_unix_nano);
        a.time_unix_nano = a.time_unix_nano.max(b.time_unix_nano);
    } else if gauge {
        if b.time_unix_nano > a.time_unix_nano || (b.time_unix_nano == a.time_unix_nano && b_is_newer) {
            *a = b;
        }
    } else if b_is_newer {
        *a = b;
    }
}

fn merge_hist(a: &mut HistogramPoint, b: HistogramPoint, delta: bool, b_is_newer: bool) {
    if !delta {
        if b_is_newer {
            *a = b;
        }
        return;
    }
    if b.count > 0 {
        if a.count == 0 {
            a.min = b.min;
            a.max = b.max;
        } else {
            a.min = a.min.min(b.min);
            a.max = a.max.max(b.max);
        }
    }
    a.count = a.count.saturating_add(b.count);
    a.sum += b.sum;
    for (x, y) in a.bucket_counts.iter_mut().zip(b.bucket_counts.iter()) {
        *x = x.saturating_add(*y);
    }
    a.start_unix_nano = a.start_unix_nano.min(b.start_unix_nano);
    a.time_unix_nano = a.time_unix_nano.max(b.time_unix_nano);
}

/// Delta: the two histograms add exactly at their common (lower) scale, allowing as many buckets
/// per sign as the wider side already has (at least the default 160), so merging never loses
/// resolution a side already had. Cumulative: the newer point supersedes.
fn merge_exp(a: &mut ExpHistogramPoint, b: ExpHistogramPoint, delta: bool, b_is_newer: bool) {
    if !delta {
        if b_is_newer {
            *a = b;
        }
        return;
    }
    let widest = [&a.hist.positive, &a.hist.negative, &b.hist.positive, &b.hist.negative]
        .iter()
        .map(|x| x.counts.len() as u32)
        .fold(DEFAULT_MAX_SIZE, u32::max);
    a.hist.merge(&b.hist, widest);
    a.start_unix_nano = a.start_unix_nano.min(b.start_unix_nano);
    a.time_unix_nano = a.time_unix_nano.max(b.time_unix_nano);
}
