//! The series table: every live series of every instrument, the open-addressing index that finds
//! one by its attribute set, the limits that decide when a new set goes to the overflow series, and
//! the reclaiming of idle series.
//!
//! It has its own room because it is the one part of the registry with invariants to keep (the
//! index lists exactly the live slots and stays at most half full; the per-instrument and global
//! counts match the live series; a pinned series is never freed): [`SeriesTable`] keeps them behind
//! a small API, and [`Registry`](super::Registry) keeps the instruments, the window, the counters
//! and the public surface.
//!
//! ```text
//! lookup_or_create(instrument, attrs)
//!   ├─ fast path: set canonical up to order → key order, set hash → probe, compare in place
//!   │    └─ miss → its canonical key written in key order → insert at the probe's end
//!   └─ otherwise: canonical key in the scratch buffer → set hash → probe
//!        └─ miss → insert: over a limit? (delta: sweep idle series once per window, probe again)
//!                          → the instrument's overflow series; else a new slot
//! collect(window) → points per instrument; delta: reset touched series, free idle unpinned ones
//! ```

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use super::key::{
    decode_key, fast_order, in_order, matches_in_order, set_hash, write_key, SmallestKeys, Sorted, StoredKey,
};
use super::{Limits, OVERFLOW_KEY};
use crate::attr::{Attr, AttrLimits, Attributes, MAX_ATTRS_PER_CALL};
use crate::exphist::{ExpConfig, ExpHistogram};
use crate::model::{ExpHistogramPoint, HistogramPoint, InstrumentKind, MetricData, NumberPoint, SdkStats, Temporality};

/// An empty index position, and an instrument without an overflow series.
const NONE: u32 = u32::MAX;

/// What the table keeps per instrument: what a new series of it needs, and its series counts.
struct Column {
    kind: InstrumentKind,
    bounds: Arc<[f64]>,
    /// Exponential histogram options (`None`: explicit buckets or not a histogram).
    exp: Option<ExpConfig>,
    /// Live series of this instrument, the overflow series excluded.
    series: usize,
    /// Slot of the overflow series, or `NONE`.
    overflow: u32,
    /// [`release_advice`](SeriesTable::release_advice) already answered in this window.
    advised: bool,
    /// Slot of the series without attributes, or `NONE`: a recording without attributes needs
    /// no hash and no probe.
    empty: u32,
}

#[derive(Clone)]
enum Agg {
    Sum(f64),
    Gauge(f64),
    Hist {
        count: u64,
        sum: f64,
        min: f64,
        max: f64,
        buckets: Box<[u64]>,
    },
    /// Boxed: the exponential state is larger than the other aggregators.
    Exp {
        h: Box<ExpHistogram>,
        cfg: ExpConfig,
    },
}

/// One series: an attribute set of one instrument and its aggregator.
///
/// Laid out for the record path: what a hit reads and writes (hash, instrument, flags, aggregator,
/// bounds, key) comes first, from the start of a 64-byte aligned slot; what only creation and
/// collection read comes last.
#[repr(C, align(64))]
pub(super) struct Series {
    hash: u64,
    instrument: u32,
    /// Handles bound to this series ([`Registry::bind`](super::Registry::bind) minus
    /// [`Registry::unbind`](super::Registry::unbind)): a series with any is never evicted.
    pinned: u32,
    pub(super) kind: InstrumentKind,
    /// `false` for a free slot.
    pub(super) live: bool,
    /// Recorded since the last collect.
    touched: bool,
    /// Recorded at least once (cumulative output includes every such series).
    has_data: bool,
    overflow: bool,
    agg: Agg,
    /// Histogram bounds (shared with the instrument).
    bounds: Arc<[f64]>,
    key: StoredKey,
    /// The owned attributes a batch carries, decoded from `key` the first time the series is
    /// collected with data (`None` until then): creating a series on the record path allocates
    /// nothing for them, and a series never collected (bound and unused, or reclaimed) never pays.
    attrs: Option<Attributes>,
    /// Registry time when the series was created (cumulative start time).
    start: u64,
}

/// The series of all instruments in one slot array, found through one open-addressing index keyed
/// by the set hash.
pub(super) struct SeriesTable {
    limits: Limits,
    temporality: Temporality,
    columns: Vec<Column>,
    series: Vec<Series>,
    free: Vec<u32>,
    /// Open-addressing index: slot numbers, `NONE` for empty; length a power of two.
    index: Vec<u32>,
    /// Live series, overflow series excluded.
    live: usize,
    /// Bytes of canonical keys held by live series.
    key_bytes: usize,
    scratch: Vec<u8>,
    /// Registry time (unix nanoseconds) that series created from now on take as their start.
    now: u64,
    /// Idle series were already reclaimed in this window (delta; see `insert`).
    swept: bool,
}

impl SeriesTable {
    /// An empty table bounded by `limits`; `temporality` decides whether idle series are reclaimed.
    pub(super) fn new(limits: Limits, temporality: Temporality) -> Self {
        SeriesTable {
            limits,
            temporality,
            columns: Vec::new(),
            series: Vec::new(),
            free: Vec::new(),
            index: vec![NONE; 64],
            live: 0,
            key_bytes: 0,
            scratch: Vec::with_capacity(128),
            now: 0,
            swept: false,
        }
    }

    /// Sets the start time of the series created from now on.
    pub(super) fn set_now(&mut self, now: u64) {
        self.now = now;
    }

    /// Adds the column of a new instrument (its id is the number of columns before).
    pub(super) fn add_instrument(&mut self, kind: InstrumentKind, bounds: Arc<[f64]>, exp: Option<ExpConfig>) {
        self.columns.push(Column { kind, bounds, exp, series: 0, overflow: NONE, advised: false, empty: NONE });
    }

    /// The kind of instrument `id`, `None` for an id the table does not know.
    #[inline]
    pub(super) fn kind(&self, id: u32) -> Option<InstrumentKind> {
        self.columns.get(id as usize).map(|c| c.kind)
    }

    /// Number of live series (overflow series included).
    pub(super) fn len(&self) -> usize {
        self.series.len() - self.free.len()
    }

    /// The series in `slot` if it is live (a handle's slot may be unknown or freed).
    #[inline]
    pub(super) fn live_mut(&mut self, slot: u32) -> Option<&mut Series> {
        self.series.get_mut(slot as usize).filter(|s| s.live)
    }

    /// Records `value` (already accepted for the kind) into `slot`, a slot returned by
    /// [`lookup_or_create`](Self::lookup_or_create).
    #[inline]
    pub(super) fn apply(&mut self, slot: u32, value: f64) {
        apply(&mut self.series[slot as usize], value);
    }

    /// Adds a handle to `slot`: the series is never evicted while it has one.
    pub(super) fn pin(&mut self, slot: u32) {
        let s = &mut self.series[slot as usize];
        s.pinned = s.pinned.saturating_add(1);
    }

    /// Removes a handle from `slot`; an unknown or free slot is ignored. A series left idle and
    /// unpinned may be reclaimed by another sweep in this window.
    pub(super) fn unpin(&mut self, slot: u32) {
        if let Some(s) = self.live_mut(slot) {
            s.pinned = s.pinned.saturating_sub(1);
            if s.pinned == 0 && !s.touched {
                self.swept = false;
            }
        }
    }

    /// Whether `slot` is an overflow series.
    pub(super) fn is_overflow(&self, slot: u32) -> bool {
        self.series.get(slot as usize).is_some_and(|s| s.live && s.overflow)
    }

    /// Whether a new series of instrument `id` would be over its cardinality limit or the table's
    /// series limit (the attribute-bytes limit, which depends on the key, is not considered).
    pub(super) fn instrument_full(&self, id: u32) -> bool {
        self.columns
            .get(id as usize)
            .is_some_and(|c| c.series + 1 >= self.limits.cardinality || self.live >= self.limits.max_series)
    }

    /// The overflow slot of instrument `id` when a set of it that has no series of its own
    /// certainly goes there now, `None` otherwise. `own` is the number of distinct series of the
    /// instrument the caller holds bound handles to: only when it equals the instrument's series
    /// count are all of them pinned (no sweep can free one) and is a set the caller knows to be
    /// none of them known to have no series, and only after [`release_advice`](Self::release_advice)
    /// was asked in this window. Counts the value as overflowed.
    pub(super) fn overflow_if_full(&mut self, id: u32, own: usize, stats: &mut SdkStats) -> Option<u32> {
        let col = self.columns.get(id as usize)?;
        // `advised`: the host already asked in this window whether to release idle bound series
        // (its first miss on the full instrument); until then a release could make room.
        if col.series != own || !col.advised {
            return None;
        }
        let reclaim_done = self.swept || self.temporality == Temporality::Cumulative;
        if col.series + 1 >= self.limits.cardinality || (self.live >= self.limits.max_series && reclaim_done) {
            stats.overflowed += 1;
            return Some(self.overflow_slot(id, stats));
        }
        None
    }

    /// `true` at most once per window per instrument: when instrument `id` is full and has a bound
    /// series that got nothing in this window (a host's cache releasing its handles would let the
    /// next sweep reclaim it).
    pub(super) fn release_advice(&mut self, id: u32) -> bool {
        let Some(col) = self.columns.get_mut(id as usize) else { return false };
        if col.advised {
            return false;
        }
        col.advised = true;
        self.series.iter().any(|s| s.live && s.instrument == id && !s.overflow && s.pinned > 0 && !s.touched)
    }

    /// The live slot of instrument `id` (known to the table) for the attribute set `attrs`,
    /// created on a miss (or the overflow series when a limit is reached). Attribute adjustments
    /// and overflows are counted in `stats`.
    #[cfg_attr(not(target_arch = "wasm32"), inline)]
    pub(super) fn lookup_or_create(&mut self, id: u32, attrs: &[Attr<'_>], stats: &mut SdkStats) -> u32 {
        if attrs.is_empty() {
            if let Some(c) = self.columns.get(id as usize) {
                if c.empty != NONE {
                    return c.empty;
                }
            }
        }
        // Fast path: a set that needs no de-duplication or truncation is hashed as given (the set
        // hash does not depend on order) and compared in key order, writing nothing.
        if let Some(order) = fast_order(id, attrs, &self.limits.attributes) {
            let hash = order.hash;
            let mask = self.index.len() - 1;
            let mut pos = hash as usize & mask;
            loop {
                let slot = self.index[pos];
                if slot == NONE {
                    break;
                }
                let s = &self.series[slot as usize];
                if s.hash == hash && s.instrument == id && matches_in_order(s.key.bytes(), attrs, &order) {
                    return slot;
                }
                pos = (pos + 1) & mask;
            }
            // A new set: the probe ended on the empty position its canonical key would be found
            // at, and the hash is the canonical one, so it is created from here (no second sort,
            // hash or probe on the canonical path).
            let limits = self.limits.attributes;
            return self.find_or_insert(id, attrs, order.order(), &limits, Some((hash, pos)), false, stats);
        }
        self.canonical_lookup_or_create(id, attrs, stats)
    }

    /// The rest of [`lookup_or_create`](Self::lookup_or_create): a set the fast path cannot take,
    /// or a new one. Kept out of line so that the fast path stays small.
    #[inline(never)]
    fn canonical_lookup_or_create(&mut self, id: u32, attrs: &[Attr<'_>], stats: &mut SdkStats) -> u32 {
        if attrs.len() > MAX_ATTRS_PER_CALL {
            return self.many_lookup_or_create(id, attrs, stats);
        }
        let limits = self.limits.attributes;
        let sorted = Sorted::new(attrs, &limits);
        stats.attributes_dropped += sorted.adj.dropped as u64;
        stats.attributes_truncated += sorted.adj.truncated as u64;
        self.find_or_insert(id, attrs, sorted.order(), &limits, None, false, stats)
    }

    /// A recording of more than [`MAX_ATTRS_PER_CALL`] pairs: its valid keys (non-empty, within
    /// the key limit) reduced on the stack to the smallest ones ([`SmallestKeys`]), every other
    /// pair counted as dropped once, then canonicalized as a shorter call.
    #[cold]
    #[inline(never)]
    fn many_lookup_or_create(&mut self, id: u32, attrs: &[Attr<'_>], stats: &mut SdkStats) -> u32 {
        let (few, dropped) = SmallestKeys::of_valid(attrs, self.limits.attributes.max_key_len);
        stats.attributes_dropped += dropped as u64;
        self.canonical_lookup_or_create(id, few.pairs(), stats)
    }

    /// Probes the index for the canonical `key` of `instrument`.
    fn find(&self, hash: u64, instrument: u32, key: &[u8]) -> Result<u32, usize> {
        let mask = self.index.len() - 1;
        let mut pos = hash as usize & mask;
        loop {
            let slot = self.index[pos];
            if slot == NONE {
                return Err(pos);
            }
            let s = &self.series[slot as usize];
            if s.hash == hash && s.instrument == instrument && s.key.bytes() == key {
                return Ok(slot);
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Writes the canonical key (the pairs `attrs` in the key order `order`) into the reused
    /// scratch buffer (no allocation once it has grown), hashes it in one pass, and probes; a new
    /// series is created only on a miss. `known`: the set hash and the empty index position a
    /// probe already ended on (a set the fast path missed): no second hash or probe.
    #[allow(clippy::too_many_arguments)]
    fn find_or_insert(
        &mut self,
        id: u32,
        attrs: &[Attr<'_>],
        order: &[u8],
        alimits: &AttrLimits,
        known: Option<(u64, usize)>,
        is_overflow: bool,
        stats: &mut SdkStats,
    ) -> u32 {
        let mut key = core::mem::take(&mut self.scratch);
        write_key(in_order(order, attrs, alimits), &mut key);
        let (hash, found) = match known {
            Some((hash, pos)) => (hash, Err(pos)),
            None => {
                let hash = set_hash(id, in_order(order, attrs, alimits));
                (hash, self.find(hash, id, &key))
            }
        };
        let slot = match found {
            Ok(slot) => slot,
            Err(pos) => self.insert(id, hash, pos, &key, is_overflow, stats),
        };
        self.scratch = key;
        slot
    }

    fn insert(&mut self, id: u32, hash: u64, pos: usize, key: &[u8], is_overflow: bool, stats: &mut SdkStats) -> u32 {
        if !is_overflow && self.over_limits(id, key.len()) {
            // Delta: the limits count series holding data in this window. Series idle since the
            // last collect still hold their slots until the next collect evicts them; reclaim them
            // now (once per window, so a window really over the limit pays one sweep, not one per
            // value) and look again.
            if self.temporality == Temporality::Delta && !self.swept {
                self.swept = true;
                if self.sweep_idle() {
                    self.rebuild_index(self.index.len());
                    return match self.find(hash, id, key) {
                        Ok(slot) => slot,
                        Err(pos) => self.insert(id, hash, pos, key, false, stats),
                    };
                }
            }
            stats.overflowed += 1;
            return self.overflow_slot(id, stats);
        }
        let col = &self.columns[id as usize];
        let agg = match col.kind {
            InstrumentKind::Counter | InstrumentKind::UpDownCounter => Agg::Sum(0.0),
            InstrumentKind::Gauge => Agg::Gauge(0.0),
            InstrumentKind::Histogram if col.exp.is_some() => {
                let cfg = col.exp.unwrap_or_default();
                Agg::Exp { h: Box::new(ExpHistogram::new(cfg.max_scale)), cfg }
            }
            InstrumentKind::Histogram => Agg::Hist {
                count: 0,
                sum: 0.0,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                buckets: vec![0u64; col.bounds.len() + 1].into_boxed_slice(),
            },
        };
        let series = Series {
            instrument: id,
            kind: col.kind,
            live: true,
            touched: false,
            has_data: false,
            pinned: 0,
            overflow: is_overflow,
            hash,
            key: StoredKey::new(key),
            attrs: None,
            start: self.now,
            agg,
            bounds: col.bounds.clone(),
        };
        let slot = match self.free.pop() {
            Some(f) => {
                self.series[f as usize] = series;
                f
            }
            None => {
                if self.series.len() == self.series.capacity() {
                    // Doubling, but never past what the limits allow (every series plus one
                    // overflow series per instrument): at the ceiling the slot array is full,
                    // not up to twice the size it can ever use (tests/memory_ceiling.rs).
                    let most = self.limits.max_series + self.columns.len();
                    let len = self.series.len();
                    self.series.reserve_exact(len.max(4).min(most.saturating_sub(len)).max(1));
                }
                self.series.push(series);
                (self.series.len() - 1) as u32
            }
        };
        self.index[pos] = slot;
        let col = &mut self.columns[id as usize];
        if is_overflow {
            col.overflow = slot;
        } else {
            if key.is_empty() {
                col.empty = slot;
            }
            col.series += 1;
            self.live += 1;
            self.key_bytes += key.len();
        }
        // Keep the load factor at or below 1/2 so probe chains stay short.
        if self.len() * 2 > self.index.len() {
            self.rebuild_index(self.index.len() * 2);
        }
        slot
    }

    /// Whether a new series of instrument `id` with a key of `key_len` bytes would exceed a limit.
    fn over_limits(&self, id: u32, key_len: usize) -> bool {
        let limits = &self.limits;
        self.columns[id as usize].series + 1 >= limits.cardinality
            || self.live >= limits.max_series
            || self.key_bytes + key_len > limits.max_attribute_bytes
    }

    /// Frees every live series that holds no data in the current window and has no handle bound
    /// (what the next delta collect would evict anyway). Returns whether any was freed; the caller
    /// rebuilds the index.
    fn sweep_idle(&mut self) -> bool {
        let mut freed = false;
        for slot in 0..self.series.len() {
            let s = &self.series[slot];
            if s.live && !s.touched && s.pinned == 0 {
                self.evict(slot);
                freed = true;
            }
        }
        freed
    }

    /// Frees series `slot` (live, unpinned): its key bytes and its count go back to the limits.
    fn evict(&mut self, slot: usize) {
        let s = &mut self.series[slot];
        s.live = false;
        s.attrs = None;
        let key = core::mem::replace(&mut s.key, StoredKey::empty());
        let col = &mut self.columns[s.instrument as usize];
        if s.overflow {
            col.overflow = NONE;
        } else {
            if key.bytes().is_empty() {
                col.empty = NONE;
            }
            col.series -= 1;
            self.live -= 1;
            self.key_bytes -= key.bytes().len();
        }
        self.free.push(slot as u32);
    }

    fn overflow_slot(&mut self, id: u32, stats: &mut SdkStats) -> u32 {
        let existing = self.columns[id as usize].overflow;
        if existing != NONE {
            return existing;
        }
        let attrs = [(OVERFLOW_KEY, crate::AttrValue::Bool(true))];
        let limits = AttrLimits::default();
        let sorted = Sorted::new(&attrs, &limits);
        self.find_or_insert(id, &attrs, sorted.order(), &limits, None, true, stats)
    }

    fn rebuild_index(&mut self, size: usize) {
        self.index.clear();
        self.index.resize(size, NONE);
        let mask = size - 1;
        for (slot, s) in self.series.iter().enumerate() {
            if !s.live {
                continue;
            }
            let mut pos = s.hash as usize & mask;
            while self.index[pos] != NONE {
                pos = (pos + 1) & mask;
            }
            self.index[pos] = slot as u32;
        }
    }

    /// The points of the window `start..end`, one entry per instrument (`None` when it has none).
    ///
    /// Delta: the touched series, each then reset; series that got nothing in the window (and are
    /// not bound) are freed. Cumulative: every series that ever got a value, starting at its own
    /// start (clamped to `end`).
    pub(super) fn collect(&mut self, start: u64, end: u64) -> Vec<Option<MetricData>> {
        let temporality = self.temporality;
        let delta = temporality == Temporality::Delta;
        let mut per: Vec<Option<MetricData>> = (0..self.columns.len()).map(|_| None).collect();
        let mut evicted = false;
        for slot in 0..self.series.len() {
            let s = &mut self.series[slot];
            if !s.live {
                continue;
            }
            let emit = if delta { s.touched } else { s.has_data };
            if emit {
                let p_start = if delta { start } else { s.start.min(end) };
                let col = &self.columns[s.instrument as usize];
                let data = per[s.instrument as usize]
                    .get_or_insert_with(|| empty_data(s.kind, temporality, &col.bounds, col.exp.is_some()));
                let attributes = s.attrs.get_or_insert_with(|| decode_key(s.key.bytes())).clone();
                push_point(data, s, attributes, p_start, end);
            }
            if delta {
                if s.touched {
                    s.touched = false;
                    reset(&mut s.agg);
                } else if s.pinned == 0 {
                    // Nothing recorded for a whole window: free the slot.
                    self.evict(slot);
                    evicted = true;
                }
            }
        }
        if evicted {
            self.rebuild_index(self.index.len());
        }
        self.swept = false;
        for c in &mut self.columns {
            c.advised = false;
        }
        per
    }

    /// Earliest start among live series, or `otherwise` when there is none.
    pub(super) fn first_start(&self, otherwise: u64) -> u64 {
        self.series.iter().filter(|s| s.live).map(|s| s.start).min().unwrap_or(otherwise)
    }
}

#[inline]
pub(super) fn apply(s: &mut Series, value: f64) {
    s.touched = true;
    s.has_data = true;
    match &mut s.agg {
        Agg::Sum(x) => *x += value,
        Agg::Gauge(x) => *x = value,
        Agg::Hist { count, sum, min, max, buckets } => {
            *count += 1;
            *sum += value;
            if value < *min {
                *min = value;
            }
            if value > *max {
                *max = value;
            }
            // Bucket i holds (b[i-1], b[i]]: the first bound >= value. Linear for the usual
            // handful of bounds, binary beyond (both are the same partition point).
            let b = &s.bounds;
            let i = if b.len() <= 16 {
                let mut i = 0;
                while i < b.len() && b[i] < value {
                    i += 1;
                }
                i
            } else {
                b.partition_point(|x| *x < value)
            };
            // `buckets.len() == bounds.len() + 1` and `i <= bounds.len()`.
            if let Some(c) = buckets.get_mut(i) {
                *c += 1;
            }
        }
        Agg::Exp { h, cfg } => h.record(value, cfg.max_size),
    }
}

fn reset(agg: &mut Agg) {
    match agg {
        Agg::Sum(x) | Agg::Gauge(x) => *x = 0.0,
        Agg::Hist { count, sum, min, max, buckets } => {
            *count = 0;
            *sum = 0.0;
            *min = f64::INFINITY;
            *max = f64::NEG_INFINITY;
            buckets.iter_mut().for_each(|b| *b = 0);
        }
        // Each window starts again at the finest scale (the bucket allocations are kept).
        Agg::Exp { h, cfg } => h.reset(cfg.max_scale),
    }
}

fn empty_data(kind: InstrumentKind, temporality: Temporality, bounds: &Arc<[f64]>, exp: bool) -> MetricData {
    match kind {
        InstrumentKind::Counter => MetricData::Sum { monotonic: true, temporality, points: Vec::new() },
        InstrumentKind::UpDownCounter => MetricData::Sum { monotonic: false, temporality, points: Vec::new() },
        InstrumentKind::Gauge => MetricData::Gauge { points: Vec::new() },
        InstrumentKind::Histogram if exp => MetricData::ExponentialHistogram { temporality, points: Vec::new() },
        InstrumentKind::Histogram => MetricData::Histogram { temporality, bounds: bounds.clone(), points: Vec::new() },
    }
}

fn push_point(data: &mut MetricData, s: &Series, attributes: Attributes, start: u64, end: u64) {
    match (data, &s.agg) {
        (MetricData::Sum { points, .. } | MetricData::Gauge { points }, Agg::Sum(v) | Agg::Gauge(v)) => {
            points.push(NumberPoint { attributes, start_unix_nano: start, time_unix_nano: end, value: *v })
        }
        (MetricData::Histogram { points, .. }, Agg::Hist { count, sum, min, max, buckets }) => {
            points.push(HistogramPoint {
                attributes,
                start_unix_nano: start,
                time_unix_nano: end,
                count: *count,
                sum: *sum,
                min: *min,
                max: *max,
                bucket_counts: buckets.to_vec(),
            })
        }
        (MetricData::ExponentialHistogram { points, .. }, Agg::Exp { h, .. }) => points.push(ExpHistogramPoint {
            attributes,
            start_unix_nano: start,
            time_unix_nano: end,
            hist: (**h).clone(),
        }),
        // The aggregator always matches the instrument kind the data was created for.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout the record path is tuned for (64-bit targets; smaller pointers leave more room).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_series_is_three_cache_lines() {
        assert_eq!(core::mem::size_of::<Series>(), 192);
    }

    /// A new series allocates nothing for its attributes on the record path: they are decoded from
    /// its key at its first collect with data, kept for the collects after it, and a series that is
    /// never collected with data never decodes them.
    #[test]
    fn attributes_are_decoded_at_the_first_collect() {
        use crate::attr::KeyValue;
        let mut t = SeriesTable::new(Limits::default(), Temporality::Cumulative);
        t.add_instrument(InstrumentKind::Counter, Arc::new([]), None);
        let mut stats = SdkStats::default();
        let a = t.lookup_or_create(0, &[("status", 200.into()), ("route", "/a".into())], &mut stats);
        let b = t.lookup_or_create(0, &[("route", "/b".into())], &mut stats);
        t.apply(a, 2.0);
        assert!(t.series[a as usize].attrs.is_none() && t.series[b as usize].attrs.is_none());
        let want = [KeyValue::new("route", "/a"), KeyValue::new("status", 200i64)];
        for end in [10, 20] {
            let per = t.collect(0, end);
            let Some(Some(MetricData::Sum { points, .. })) = per.first() else { panic!("no sum: {per:?}") };
            assert_eq!(points.len(), 1, "only the series with data");
            assert_eq!(*points[0].attributes, want);
            assert_eq!(points[0].value, 2.0);
            // The decoded set is kept and shared with the batch, not decoded again.
            let kept = t.series[a as usize].attrs.as_ref().expect("decoded at the first collect");
            assert!(Arc::ptr_eq(kept, &points[0].attributes));
        }
        assert!(t.series[b as usize].attrs.is_none(), "never collected with data: never decoded");
    }
}
