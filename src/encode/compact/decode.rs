//! The compact decoder: hostile input in, a [`Batch`] or [`Error::Malformed`] out, never a panic.
//!
//! Parsing is postcard's (`take_from_bytes` into [`Message`]); this file adds what a schema cannot
//! say: the header check before the body is parsed, a memory budget charged before every
//! allocation, and the rules that make a message a valid batch (indices in range, kind and data
//! agreeing, bounds finite and increasing, buckets adding up, number forms). All arithmetic on
//! decoded values is checked or explicitly wrapping.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::mem::size_of;

use serde::Deserialize;

use super::{
    AttrValue, Data, ExpHistogramPoint, HistogramPoint, Kind, Message, Metric, NumberPoint, ScopeSection, Temporality,
    Times, MAGIC, VERSION, VERSION_SCOPES,
};
use crate::attr::{Attributes, KeyValue, Value};
use crate::error::Error;
use crate::exphist::{ExpBuckets, ExpHistogram};
use crate::model::{self as batch, Batch, InstrumentKind, MetricData, SdkStats, SCOPE_NAME, SCOPE_VERSION};

/// Default [`DecodeLimits::max_input`]: 1 MiB (a 1000-series batch takes about 40 KB).
pub const DEFAULT_MAX_INPUT: usize = 1 << 20;
/// Default [`DecodeLimits::max_memory`]: 128 MiB.
pub const DEFAULT_MAX_MEMORY: usize = 128 << 20;

/// Ceiling of `size / min`: heap bytes per input byte of one item type.
const fn ratio(size: usize, min: usize) -> usize {
    size.div_ceil(min)
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// The largest heap-to-input ratio of any item in a [`Message`]: an item's in-memory size over
/// the fewest bytes postcard can encode it in (an empty `Vec` is one byte, a `&str` one byte …).
const ITEM_RATIO: usize = {
    let mut r = ratio(size_of::<&str>(), 1);
    r = max(r, ratio(size_of::<AttrValue>(), 2));
    r = max(r, ratio(size_of::<Vec<super::Attr>>(), 1));
    r = max(r, ratio(size_of::<super::Attr>(), 2));
    // name, unit, description, kind, data variant + point count, times count.
    r = max(r, ratio(size_of::<Metric<'_>>(), 7));
    r = max(r, ratio(size_of::<NumberPoint>(), 2));
    // set, count, sum, min, max, bucket count.
    r = max(r, ratio(size_of::<HistogramPoint<'_>>(), 6));
    // set, count, sum, min, max, scale, zero count, zero threshold, 2 × (offset, count length).
    r = max(r, ratio(size_of::<ExpHistogramPoint<'_>>(), 12));
    r = max(r, ratio(size_of::<Times>(), 2));
    r = max(r, ratio(size_of::<super::Number>(), 1));
    max(r, ratio(size_of::<u64>(), 1))
};

/// Most heap bytes the parsed [`Message`] takes per input byte, whatever its length prefixes
/// claim (96 on 64-bit targets).
///
/// Postcard hands serde a `Vec`'s claimed length only when the bytes left could hold it, and serde
/// pre-allocates at most that (and at most 1 MiB); a longer claim gets no pre-allocation and the
/// `Vec` grows as items are actually read, each item using input bytes. So every `Vec` holds at
/// most `ITEM_RATIO` (the largest item size over its smallest encoding) heap bytes per input byte of its items, doubled by growth; the vectors
/// being filled when an error stops the parse (one per nesting level, at most three) add at most
/// as much again. Four times the item ratio covers both; `tests/compact.rs` measures the peak
/// with a counting allocator.
pub const WIRE_BYTES_PER_INPUT_BYTE: usize = 4 * ITEM_RATIO;

/// Bounds on what [`decode_with`] accepts and allocates.
///
/// ```
/// use edgemetrics::encode::compact::{decode_with, DecodeLimits};
/// let tight = DecodeLimits { max_input: 1024, ..DecodeLimits::default() };
/// assert!(decode_with(&[0u8; 2048], &tight).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest input accepted, in bytes (default [`DEFAULT_MAX_INPUT`], 1 MiB). Checked first.
    pub max_input: usize,
    /// Most heap bytes decoding may take: [`WIRE_BYTES_PER_INPUT_BYTE`] × the input length for the
    /// parsed message, plus the decoded batch, estimated from the sizes of the values it allocates
    /// (default [`DEFAULT_MAX_MEMORY`], 128 MiB). A message whose decoding would pass it is refused
    /// as malformed before the allocation that would pass it.
    pub max_memory: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_input: DEFAULT_MAX_INPUT, max_memory: DEFAULT_MAX_MEMORY }
    }
}

type R<T> = Result<T, Error>;

#[inline]
fn bad(reason: &'static str) -> Error {
    Error::Malformed { reason }
}

/// A postcard error as a typed, static reason.
fn parse_error(e: postcard::Error) -> Error {
    use postcard::Error as P;
    bad(match e {
        P::DeserializeUnexpectedEnd => "truncated",
        P::DeserializeBadVarint => "bad varint",
        P::DeserializeBadUtf8 => "string is not UTF-8",
        // serde's derived visitors report a variant index past the last one as a custom error.
        P::DeserializeBadEnum | P::SerdeDeCustom => "unknown enum variant",
        P::DeserializeBadBool => "bad bool",
        _ => "not a compact message of this schema",
    })
}

/// The first four bytes, read before the body so that another version is refused unparsed.
#[derive(Deserialize)]
struct Header {
    magic: [u8; 3],
    version: u8,
}

fn check_header(magic: [u8; 3], version: u8) -> R<()> {
    if magic != MAGIC {
        return Err(bad("not a compact message (magic)"));
    }
    if version != VERSION && version != VERSION_SCOPES {
        return Err(bad("unsupported compact version"));
    }
    Ok(())
}

/// The memory still allowed to the decoded batch.
struct Budget(usize);

impl Budget {
    fn charge(&mut self, items: usize, each: usize) -> R<()> {
        let n = items.checked_mul(each).ok_or(bad("decoded batch exceeds the memory limit"))?;
        self.0 = self.0.checked_sub(n).ok_or(bad("decoded batch exceeds the memory limit"))?;
        Ok(())
    }
}

/// Heap bytes of an `Arc`'s counters.
const ARC_HEADER: usize = 2 * size_of::<usize>();

struct Builder<'m, 'a> {
    msg_strings: &'m [&'a str],
    values: &'m [AttrValue],
    budget: Budget,
    /// Shared copies of strings used as names, units and descriptions, made on first use.
    shared: Vec<Option<Arc<str>>>,
    sets: Vec<Attributes>,
    start: u64,
    end: u64,
}

impl<'a> Builder<'_, 'a> {
    fn string(&self, i: u32) -> R<&'a str> {
        self.msg_strings.get(i as usize).copied().ok_or(bad("index out of range"))
    }

    fn shared(&mut self, i: u32) -> R<Arc<str>> {
        let s = self.string(i)?;
        let slot = self.shared.get_mut(i as usize).ok_or(bad("index out of range"))?;
        if let Some(a) = slot {
            return Ok(a.clone());
        }
        self.budget.charge(s.len() + ARC_HEADER, 1)?;
        let a: Arc<str> = Arc::from(s);
        if let Some(slot) = self.shared.get_mut(i as usize) {
            *slot = Some(a.clone());
        }
        Ok(a)
    }

    fn attrs(&mut self, list: &[super::Attr]) -> R<Arc<[KeyValue]>> {
        self.budget.charge(list.len(), size_of::<KeyValue>())?;
        self.budget.charge(ARC_HEADER, 1)?;
        let mut out = Vec::with_capacity(list.len());
        for a in list {
            let key = self.string(a.key)?;
            self.budget.charge(key.len(), 1)?;
            let key = String::from(key);
            let value = match self.values.get(a.value as usize).ok_or(bad("index out of range"))? {
                AttrValue::Str(s) => {
                    let s = self.string(*s)?;
                    self.budget.charge(s.len(), 1)?;
                    Value::Str(String::from(s))
                }
                AttrValue::I64(n) => Value::I64(*n),
                AttrValue::F64(x) => Value::F64(x.to_f64().map_err(bad)?),
                AttrValue::Bool(b) => Value::Bool(*b),
            };
            out.push(KeyValue { key, value });
        }
        Ok(Arc::from(out))
    }

    /// A point's attribute set, from its reference relative to `expected`.
    fn set(&self, rel: i64, expected: &mut u64) -> R<Attributes> {
        let i = expected.checked_add_signed(rel).ok_or(bad("index out of range"))?;
        let a = self
            .sets
            .get(usize::try_from(i).map_err(|_| bad("index out of range"))?)
            .ok_or(bad("index out of range"))?;
        *expected = i.checked_add(1).ok_or(bad("index out of range"))?;
        Ok(a.clone())
    }

    fn times(&self, times: &[Times], i: usize) -> (u64, u64) {
        match times.get(i) {
            Some(t) => (self.start.wrapping_add(t.start as u64), self.end.wrapping_add(t.end as u64)),
            None => (self.start, self.end),
        }
    }

    fn metric(&mut self, m: Metric<'_>) -> R<batch::Metric> {
        let name = self.shared(m.name)?;
        let unit = self.shared(m.unit)?;
        let description = self.shared(m.description)?;
        let kind = match (m.kind, &m.data) {
            (Kind::Counter, Data::Sum { monotonic: true, .. }) => InstrumentKind::Counter,
            (Kind::UpDownCounter, Data::Sum { monotonic: false, .. }) => InstrumentKind::UpDownCounter,
            (Kind::Gauge, Data::Gauge { .. }) => InstrumentKind::Gauge,
            (Kind::Histogram, Data::Histogram { .. } | Data::ExpHistogram { .. }) => InstrumentKind::Histogram,
            _ => return Err(bad("metric kind and data disagree")),
        };
        let n_points = match &m.data {
            Data::Sum { points, .. } | Data::Gauge { points } => points.len(),
            Data::Histogram { points, .. } => points.len(),
            Data::ExpHistogram { points, .. } => points.len(),
        };
        if !m.times.is_empty() && m.times.len() != n_points {
            return Err(bad("times count is not the point count"));
        }
        let mut expected = 0u64;
        let (sum_temporality, monotonic) = m.data_temporality_and_monotonic();
        let data = match m.data {
            Data::Sum { points: ps, .. } | Data::Gauge { points: ps } => {
                self.budget.charge(ps.len(), size_of::<batch::NumberPoint>())?;
                let mut points = Vec::with_capacity(ps.len());
                for (i, p) in ps.iter().enumerate() {
                    let attributes = self.set(p.set, &mut expected)?;
                    let (start_unix_nano, time_unix_nano) = self.times(&m.times, i);
                    let value = p.value.to_f64().map_err(bad)?;
                    points.push(batch::NumberPoint { attributes, start_unix_nano, time_unix_nano, value });
                }
                match kind {
                    InstrumentKind::Gauge => MetricData::Gauge { points },
                    _ => MetricData::Sum { monotonic, temporality: sum_temporality, points },
                }
            }
            Data::Histogram { temporality, bounds: bs, points: ps } => {
                self.budget.charge(bs.len(), size_of::<f64>())?;
                self.budget.charge(ARC_HEADER, 1)?;
                let mut bounds = Vec::with_capacity(bs.len());
                for b in &bs {
                    let b = b.to_f64().map_err(bad)?;
                    if !b.is_finite() {
                        return Err(bad("histogram bound not finite"));
                    }
                    if bounds.last().is_some_and(|&prev: &f64| prev >= b) {
                        return Err(bad("histogram bounds not strictly increasing"));
                    }
                    bounds.push(b);
                }
                self.budget.charge(ps.len(), size_of::<batch::HistogramPoint>())?;
                let mut points = Vec::with_capacity(ps.len());
                for (i, p) in ps.into_iter().enumerate() {
                    let attributes = self.set(p.set, &mut expected)?;
                    let (start_unix_nano, time_unix_nano) = self.times(&m.times, i);
                    if p.buckets.len() != bounds.len() + 1 {
                        return Err(bad("bucket count is not bounds + 1"));
                    }
                    let mut total = 0u64;
                    for &c in p.buckets.iter() {
                        total = total.checked_add(c).ok_or(bad("bucket counts overflow"))?;
                    }
                    if total != p.count {
                        return Err(bad("bucket counts do not add up to the point count"));
                    }
                    let bucket_counts = match p.buckets {
                        // Parsed buckets are owned: moved, not copied (their memory is already
                        // counted in the parsed message's bound).
                        Cow::Owned(v) => v,
                        Cow::Borrowed(s) => {
                            self.budget.charge(s.len(), size_of::<u64>())?;
                            s.to_vec()
                        }
                    };
                    points.push(batch::HistogramPoint {
                        attributes,
                        start_unix_nano,
                        time_unix_nano,
                        count: p.count,
                        sum: p.sum.to_f64().map_err(bad)?,
                        min: p.min.to_f64().map_err(bad)?,
                        max: p.max.to_f64().map_err(bad)?,
                        bucket_counts,
                    });
                }
                MetricData::Histogram { temporality: model_temporality(temporality), bounds: Arc::from(bounds), points }
            }
            Data::ExpHistogram { temporality, points: ps } => {
                self.budget.charge(ps.len(), size_of::<batch::ExpHistogramPoint>())?;
                let mut points = Vec::with_capacity(ps.len());
                for (i, p) in ps.into_iter().enumerate() {
                    let attributes = self.set(p.set, &mut expected)?;
                    let (start_unix_nano, time_unix_nano) = self.times(&m.times, i);
                    let mut buckets = |b: super::ExpBuckets<'_>| -> R<ExpBuckets> {
                        let counts = match b.counts {
                            Cow::Owned(v) => v,
                            Cow::Borrowed(s) => {
                                self.budget.charge(s.len(), size_of::<u64>())?;
                                s.to_vec()
                            }
                        };
                        Ok(ExpBuckets { offset: b.offset, counts })
                    };
                    let hist = ExpHistogram {
                        count: p.count,
                        sum: p.sum.to_f64().map_err(bad)?,
                        min: p.min.to_f64().map_err(bad)?,
                        max: p.max.to_f64().map_err(bad)?,
                        scale: p.scale,
                        zero_count: p.zero_count,
                        zero_threshold: p.zero_threshold.to_f64().map_err(bad)?,
                        positive: buckets(p.positive)?,
                        negative: buckets(p.negative)?,
                    };
                    hist.validate().map_err(bad)?;
                    points.push(batch::ExpHistogramPoint { attributes, start_unix_nano, time_unix_nano, hist });
                }
                MetricData::ExponentialHistogram { temporality: model_temporality(temporality), points }
            }
        };
        Ok(batch::Metric { name, unit, description, kind, data, scope: 0 })
    }
}

impl Metric<'_> {
    /// Temporality and monotonicity of a sum (`Delta`, `false` for other data).
    fn data_temporality_and_monotonic(&self) -> (batch::Temporality, bool) {
        match &self.data {
            Data::Sum { monotonic, temporality, .. } => (model_temporality(*temporality), *monotonic),
            _ => (batch::Temporality::Delta, false),
        }
    }
}

fn model_temporality(t: Temporality) -> batch::Temporality {
    match t {
        Temporality::Delta => batch::Temporality::Delta,
        Temporality::Cumulative => batch::Temporality::Cumulative,
    }
}

impl Message<'_> {
    /// Validates the message and builds its [`Batch`], allocating at most `limits.max_memory`
    /// bytes for the batch (the message itself is already in memory: its bound is the caller's).
    ///
    /// This is the second half of [`decode`]; call it after `postcard::from_bytes` to receive a
    /// pushed batch in a Rust service:
    ///
    /// ```
    /// use edgemetrics::encode::compact;
    /// use edgemetrics::{Config, Registry};
    /// # let mut reg = Registry::new(Config::new("svc"));
    /// # let body = compact::encode(&reg.collect(7));
    /// // `body`: the bytes of a `POST /v1/compact`.
    /// let msg: compact::Message = postcard::from_bytes(&body).expect("a compact message");
    /// let batch = msg.into_batch(&compact::DecodeLimits::default()).expect("a valid batch");
    /// assert_eq!(batch.end_unix_nano, 7);
    /// ```
    pub fn into_batch(self, limits: &DecodeLimits) -> Result<Batch, Error> {
        build(self, Budget(limits.max_memory))
    }
}

fn build(msg: Message<'_>, budget: Budget) -> R<Batch> {
    check_header(msg.magic, msg.version)?;
    let mut b = Builder {
        msg_strings: &msg.strings,
        values: &msg.values,
        budget,
        shared: Vec::new(),
        sets: Vec::new(),
        start: msg.start_unix_nano,
        end: msg.start_unix_nano.checked_add(msg.window_nanos).ok_or(bad("window end overflows"))?,
    };
    // Every table entry is checked, used or not: what is accepted re-encodes to itself.
    for v in &msg.values {
        match v {
            AttrValue::Str(i) => {
                b.string(*i)?;
            }
            AttrValue::F64(x) => {
                x.to_f64().map_err(bad)?;
            }
            AttrValue::I64(_) | AttrValue::Bool(_) => {}
        }
    }
    if b.string(msg.scope_name)? != SCOPE_NAME {
        return Err(bad("scope name is not edgemetrics"));
    }
    let version = b.string(msg.scope_version)?;
    let scope_version = if version == SCOPE_VERSION {
        Cow::Borrowed(SCOPE_VERSION)
    } else {
        b.budget.charge(version.len(), 1)?;
        Cow::Owned(String::from(version))
    };
    b.budget.charge(msg.strings.len(), size_of::<Option<Arc<str>>>())?;
    b.shared = alloc::vec![None; msg.strings.len()];
    let resource = b.attrs(&msg.resource)?;
    b.budget.charge(msg.sets.len(), size_of::<Attributes>())?;
    let mut sets = Vec::with_capacity(msg.sets.len());
    for s in &msg.sets {
        sets.push(b.attrs(s)?);
    }
    b.sets = sets;
    b.budget.charge(msg.metrics.len(), size_of::<batch::Metric>())?;
    // Version 3 carries a scope section (and version 2 none): one scope per metric, each naming
    // the default scope (0) or one of the section's scopes.
    let mut scopes = Vec::new();
    let mut metric_scopes: &[u32] = &[];
    match (&msg.scope_section, msg.version) {
        (None, VERSION) => {}
        (Some(sec), VERSION_SCOPES) => {
            if sec.metric_scopes.len() != msg.metrics.len() {
                return Err(bad("scope section does not name one scope per metric"));
            }
            if sec.scopes.len() >= u16::MAX as usize {
                return Err(bad("too many scopes"));
            }
            if sec.metric_scopes.iter().any(|&i| i as usize > sec.scopes.len()) {
                return Err(bad("metric scope out of range"));
            }
            b.budget.charge(sec.scopes.len(), size_of::<batch::Scope>())?;
            for r in &sec.scopes {
                scopes.push(batch::Scope { name: b.shared(r.name)?, version: b.shared(r.version)? });
            }
            metric_scopes = &sec.metric_scopes;
        }
        (None, _) => return Err(bad("version 3 message without its scope section")),
        (Some(_), _) => return Err(bad("scope section in a version 2 message")),
    }
    let mut metrics = Vec::with_capacity(msg.metrics.len());
    for (i, m) in msg.metrics.into_iter().enumerate() {
        let mut metric = b.metric(m)?;
        metric.scope = metric_scopes.get(i).copied().unwrap_or(0) as u16;
        metrics.push(metric);
    }
    let s = msg.stats;
    Ok(Batch {
        resource,
        scope_name: SCOPE_NAME,
        scope_version,
        scopes,
        temporality: model_temporality(msg.temporality),
        start_unix_nano: b.start,
        end_unix_nano: b.end,
        metrics,
        stats: SdkStats {
            rejected_non_finite: s.rejected_non_finite,
            rejected_negative: s.rejected_negative,
            rejected_invalid_handle: s.rejected_invalid_handle,
            overflowed: s.overflowed,
            attributes_dropped: s.attributes_dropped,
            attributes_truncated: s.attributes_truncated,
            clock_skew: s.clock_skew,
        },
    })
}

/// Decodes the compact message at the start of `bytes`; returns the batch and the number of
/// bytes the message took, so that a stream of concatenated messages can be split.
///
/// ```
/// use edgemetrics::encode::compact;
/// use edgemetrics::{Config, Registry};
/// let mut reg = Registry::new(Config::new("svc"));
/// let one = compact::encode(&reg.collect(1));
/// let two = compact::encode(&reg.collect(2));
/// let stream = [one.as_slice(), two.as_slice()].concat();
/// let limits = compact::DecodeLimits::default();
/// let (first, used) = compact::decode_prefix(&stream, &limits).unwrap();
/// let (second, _) = compact::decode_prefix(&stream[used..], &limits).unwrap();
/// assert_eq!((first.end_unix_nano, second.end_unix_nano), (1, 2));
/// ```
pub fn decode_prefix(bytes: &[u8], limits: &DecodeLimits) -> Result<(Batch, usize), Error> {
    if bytes.len() > limits.max_input {
        return Err(bad("input larger than the configured limit"));
    }
    let (h, _) = postcard::take_from_bytes::<Header>(bytes).map_err(|_| bad("not a compact message (magic)"))?;
    check_header(h.magic, h.version)?;
    // The parsed message's own heap, bounded before postcard allocates any of it.
    let wire =
        bytes.len().checked_mul(WIRE_BYTES_PER_INPUT_BYTE).ok_or(bad("decoded batch exceeds the memory limit"))?;
    let budget = limits.max_memory.checked_sub(wire).ok_or(bad("decoded batch exceeds the memory limit"))?;
    let (mut msg, mut rest) = postcard::take_from_bytes::<Message<'_>>(bytes).map_err(parse_error)?;
    if msg.version == VERSION_SCOPES {
        let (section, after) = postcard::take_from_bytes::<ScopeSection>(rest).map_err(parse_error)?;
        msg.scope_section = Some(section);
        rest = after;
    }
    let used = bytes.len() - rest.len();
    Ok((build(msg, Budget(budget))?, used))
}

/// Decodes one compact message that must fill `bytes` exactly, within `limits`.
pub fn decode_with(bytes: &[u8], limits: &DecodeLimits) -> Result<Batch, Error> {
    let (batch, used) = decode_prefix(bytes, limits)?;
    if used != bytes.len() {
        return Err(bad("trailing bytes after the message"));
    }
    Ok(batch)
}

/// Decodes one compact message that must fill `bytes` exactly, with the default
/// [`DecodeLimits`] (1 MiB input, 128 MiB memory).
///
/// Any input that is not a well-formed message gives [`Error::Malformed`]; no input panics.
pub fn decode(bytes: &[u8]) -> Result<Batch, Error> {
    decode_with(bytes, &DecodeLimits::default())
}

/// Converts a compact message into an OTLP/HTTP protobuf `ExportMetricsServiceRequest`
/// ([`crate::encode::otlp::encode`]), for a relay that forwards to an OTLP receiver.
///
/// ```
/// use edgemetrics::encode::{compact, otlp};
/// use edgemetrics::{Config, Registry};
/// let mut reg = Registry::new(Config::new("svc"));
/// let batch = reg.collect(5);
/// assert_eq!(compact::to_otlp(&compact::encode(&batch)).unwrap(), otlp::encode(&batch));
/// ```
#[cfg(feature = "otlp")]
pub fn to_otlp(bytes: &[u8]) -> Result<Vec<u8>, Error> {
    Ok(crate::encode::otlp::encode(&decode(bytes)?))
}
