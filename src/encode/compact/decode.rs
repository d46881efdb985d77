//! The compact decoder: hostile input in, a [`Batch`] or [`Error::Malformed`] out, never a panic.
//!
//! Every read is bounds-checked through [`Reader`]; every count is checked against the bytes left
//! before anything is allocated for it; every allocation is charged to a memory budget; all
//! arithmetic on decoded values is checked or explicitly wrapping.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::mem::size_of;

use super::{
    unzigzag, D_GAUGE, D_HIST, D_SUM, EXACT, F_CUMULATIVE, F_MONOTONIC, F_TIMES, MAGIC, POW10, T_F64, T_FALSE, T_INT,
    T_STR, T_TRUE, VERSION,
};
use crate::attr::{Attributes, KeyValue, Value};
use crate::error::Error;
use crate::model::{
    Batch, HistogramPoint, InstrumentKind, Metric, MetricData, NumberPoint, SdkStats, Temporality, SCOPE_NAME,
    SCOPE_VERSION,
};

/// Default [`DecodeLimits::max_input`]: 16 MiB.
pub const DEFAULT_MAX_INPUT: usize = 16 << 20;
/// Default [`DecodeLimits::max_memory`]: 128 MiB.
pub const DEFAULT_MAX_MEMORY: usize = 128 << 20;

/// Bounds on what [`decode_with`] accepts and allocates.
///
/// ```
/// use edgemetrics::encode::compact::{decode_with, DecodeLimits};
/// let tight = DecodeLimits { max_input: 1024, ..DecodeLimits::default() };
/// assert!(decode_with(&[0u8; 2048], &tight).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest input accepted, in bytes (default [`DEFAULT_MAX_INPUT`], 16 MiB). Checked first.
    pub max_input: usize,
    /// Most heap bytes the decoded batch may take, estimated from the sizes of the values it
    /// allocates (default [`DEFAULT_MAX_MEMORY`], 128 MiB). A message whose decoding would pass
    /// it is refused as malformed before the allocation that would pass it.
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

/// A bounds-checked cursor.
struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.b.len()
    }

    fn u8(&mut self) -> R<u8> {
        let (&x, rest) = self.b.split_first().ok_or(bad("truncated"))?;
        self.b = rest;
        Ok(x)
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        if n > self.b.len() {
            return Err(bad("truncated"));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }

    fn varint(&mut self) -> R<u64> {
        use crate::codec::varint::{read, Bad};
        // At most 10 bytes; the tenth may only carry the top bit of a u64.
        match read(self.b) {
            Ok((v, n)) => {
                self.b = &self.b[n..];
                Ok(v)
            }
            Err(Bad::Truncated) => Err(bad("truncated")),
            Err(Bad::Overflow) => Err(bad("varint overflows 64 bits")),
        }
    }

    /// A count of items that each take at least `min_each` bytes: refused when the rest of the
    /// input cannot hold them, so a forged count cannot make us allocate.
    fn count(&mut self, min_each: usize) -> R<usize> {
        let n = self.varint()?;
        let most = (self.left() / min_each.max(1)) as u64;
        if n > most {
            return Err(bad("count larger than the remaining input can hold"));
        }
        Ok(n as usize)
    }

    fn index(&mut self, len: usize) -> R<usize> {
        let i = self.varint()?;
        if i >= len as u64 {
            return Err(bad("index out of range"));
        }
        Ok(i as usize)
    }

    fn number(&mut self) -> R<f64> {
        let x = self.varint()?;
        if x & 1 == 0 {
            let n = unzigzag(x >> 1);
            if n.unsigned_abs() > EXACT {
                return Err(bad("integer number form beyond 2^53"));
            }
            return Ok(n as f64);
        }
        let k = ((x >> 1) & 7) as usize;
        if k == 0 {
            if x != 1 {
                return Err(bad("reserved number form"));
            }
            let b = self.take(8)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            return Ok(f64::from_bits(u64::from_le_bytes(a)));
        }
        let n = unzigzag(x >> 4);
        if n.unsigned_abs() > EXACT {
            return Err(bad("decimal number form beyond 2^53"));
        }
        // k is in 1..=7 here, within POW10.
        let p = POW10.get(k).copied().ok_or(bad("reserved number form"))?;
        Ok(n as f64 / p)
    }
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

struct Decoder<'a> {
    r: Reader<'a>,
    budget: Budget,
    strings: Vec<&'a str>,
    /// Shared copies of strings used as names, units and descriptions, made on first use.
    shared: Vec<Option<Arc<str>>>,
    sets: Vec<Attributes>,
}

impl<'a> Decoder<'a> {
    fn string(&mut self) -> R<&'a str> {
        let i = self.r.index(self.strings.len())?;
        Ok(self.strings[i])
    }

    fn owned(&mut self) -> R<String> {
        let s = self.string()?;
        self.budget.charge(s.len(), 1)?;
        Ok(String::from(s))
    }

    fn shared(&mut self) -> R<Arc<str>> {
        let i = self.r.index(self.strings.len())?;
        if let Some(a) = &self.shared[i] {
            return Ok(a.clone());
        }
        let s = self.strings[i];
        self.budget.charge(s.len() + 16, 1)?;
        let a: Arc<str> = Arc::from(s);
        self.shared[i] = Some(a.clone());
        Ok(a)
    }

    fn attrs(&mut self) -> R<Vec<KeyValue>> {
        // An attribute takes at least one byte (a boolean: the head alone).
        let n = self.r.count(1)?;
        self.budget.charge(n, size_of::<KeyValue>())?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let head = self.r.varint()?;
            let k = head >> 3;
            if k >= self.strings.len() as u64 {
                return Err(bad("index out of range"));
            }
            let key_str = self.strings[k as usize];
            self.budget.charge(key_str.len(), 1)?;
            let key = String::from(key_str);
            let value = match head & 7 {
                T_STR => Value::Str(self.owned()?),
                T_INT => Value::I64(unzigzag(self.r.varint()?)),
                T_F64 => Value::F64(self.r.number()?),
                T_FALSE => Value::Bool(false),
                T_TRUE => Value::Bool(true),
                _ => return Err(bad("reserved attribute type")),
            };
            out.push(KeyValue { key, value });
        }
        Ok(out)
    }

    /// A point's attribute set, from its reference relative to `expected`.
    fn set(&mut self, expected: &mut u64) -> R<Attributes> {
        let d = unzigzag(self.r.varint()?);
        let i = expected.checked_add_signed(d).ok_or(bad("index out of range"))?;
        let a = self
            .sets
            .get(usize::try_from(i).map_err(|_| bad("index out of range"))?)
            .ok_or(bad("index out of range"))?;
        *expected = i.checked_add(1).ok_or(bad("index out of range"))?;
        Ok(a.clone())
    }

    fn times(&mut self, explicit: bool, start: u64, end: u64) -> R<(u64, u64)> {
        if !explicit {
            return Ok((start, end));
        }
        let s = start.wrapping_add(unzigzag(self.r.varint()?) as u64);
        let t = end.wrapping_add(unzigzag(self.r.varint()?) as u64);
        Ok((s, t))
    }

    fn metric(&mut self, start: u64, end: u64) -> R<Metric> {
        let name = self.shared()?;
        let unit = self.shared()?;
        let description = self.shared()?;
        let flags = self.r.u8()?;
        if flags & 0x80 != 0 {
            return Err(bad("reserved metric flag set"));
        }
        let kind = match flags & 3 {
            0 => InstrumentKind::Counter,
            1 => InstrumentKind::UpDownCounter,
            2 => InstrumentKind::Gauge,
            _ => InstrumentKind::Histogram,
        };
        let monotonic = flags & F_MONOTONIC != 0;
        let temporality = if flags & F_CUMULATIVE != 0 { Temporality::Cumulative } else { Temporality::Delta };
        let explicit = flags & F_TIMES != 0;
        let data_kind = (flags >> 2) & 3;
        let agrees = match data_kind {
            D_SUM => {
                matches!((kind, monotonic), (InstrumentKind::Counter, true) | (InstrumentKind::UpDownCounter, false))
            }
            D_GAUGE => kind == InstrumentKind::Gauge && !monotonic && flags & F_CUMULATIVE == 0,
            D_HIST => kind == InstrumentKind::Histogram && !monotonic,
            _ => return Err(bad("reserved metric data type")),
        };
        if !agrees {
            return Err(bad("metric kind and data disagree"));
        }
        let times = if explicit { 2 } else { 0 };
        let mut expected = 0u64;
        let data = if data_kind == D_HIST {
            let nb = self.r.count(1)?;
            self.budget.charge(nb, size_of::<f64>())?;
            let mut bounds = Vec::with_capacity(nb);
            for _ in 0..nb {
                let b = self.r.number()?;
                if !b.is_finite() {
                    return Err(bad("histogram bound not finite"));
                }
                if bounds.last().is_some_and(|&prev: &f64| prev >= b) {
                    return Err(bad("histogram bounds not strictly increasing"));
                }
                bounds.push(b);
            }
            let buckets = nb + 1;
            // set_ref, count, sum, min, max, bucket count, then at least one byte per bucket.
            let n = self.r.count(6 + times + buckets)?;
            self.budget.charge(n, size_of::<HistogramPoint>())?;
            let mut points = Vec::with_capacity(n);
            for _ in 0..n {
                let attributes = self.set(&mut expected)?;
                let (start_unix_nano, time_unix_nano) = self.times(explicit, start, end)?;
                let count = self.r.varint()?;
                let sum = self.r.number()?;
                let min = self.r.number()?;
                let max = self.r.number()?;
                if self.r.varint()? != buckets as u64 {
                    return Err(bad("bucket count is not bounds + 1"));
                }
                self.budget.charge(buckets, size_of::<u64>())?;
                let mut bucket_counts = Vec::with_capacity(buckets);
                let mut total = 0u64;
                for _ in 0..buckets {
                    let c = self.r.varint()?;
                    total = total.checked_add(c).ok_or(bad("bucket counts overflow"))?;
                    bucket_counts.push(c);
                }
                if total != count {
                    return Err(bad("bucket counts do not add up to the point count"));
                }
                points.push(HistogramPoint {
                    attributes,
                    start_unix_nano,
                    time_unix_nano,
                    count,
                    sum,
                    min,
                    max,
                    bucket_counts,
                });
            }
            MetricData::Histogram { temporality, bounds: Arc::from(bounds), points }
        } else {
            // set_ref and value.
            let n = self.r.count(2 + times)?;
            self.budget.charge(n, size_of::<NumberPoint>())?;
            let mut points = Vec::with_capacity(n);
            for _ in 0..n {
                let attributes = self.set(&mut expected)?;
                let (start_unix_nano, time_unix_nano) = self.times(explicit, start, end)?;
                let value = self.r.number()?;
                points.push(NumberPoint { attributes, start_unix_nano, time_unix_nano, value });
            }
            if data_kind == D_SUM {
                MetricData::Sum { monotonic, temporality, points }
            } else {
                MetricData::Gauge { points }
            }
        };
        Ok(Metric { name, unit, description, kind, data })
    }

    fn body(&mut self) -> R<Batch> {
        let n = self.r.count(1)?;
        self.budget.charge(n, size_of::<&str>() + size_of::<Option<Arc<str>>>())?;
        let mut strings = Vec::with_capacity(n);
        for _ in 0..n {
            let len = self.r.varint()?;
            let len = usize::try_from(len).map_err(|_| bad("truncated"))?;
            let b = self.r.take(len)?;
            strings.push(core::str::from_utf8(b).map_err(|_| bad("string is not UTF-8"))?);
        }
        self.strings = strings;
        self.shared = alloc::vec![None; n];

        let scope_name = self.string()?;
        if scope_name != SCOPE_NAME {
            return Err(bad("scope name is not edgemetrics"));
        }
        let version = self.string()?;
        let scope_version = if version == SCOPE_VERSION {
            Cow::Borrowed(SCOPE_VERSION)
        } else {
            self.budget.charge(version.len(), 1)?;
            Cow::Owned(String::from(version))
        };
        let flags = self.r.u8()?;
        if flags > 1 {
            return Err(bad("reserved batch flag set"));
        }
        let temporality = if flags == 1 { Temporality::Cumulative } else { Temporality::Delta };
        let start = self.r.varint()?;
        let end = start.checked_add(self.r.varint()?).ok_or(bad("window end overflows"))?;
        let mut st = [0u64; 7];
        for v in st.iter_mut() {
            *v = self.r.varint()?;
        }
        let stats = SdkStats {
            rejected_non_finite: st[0],
            rejected_negative: st[1],
            rejected_invalid_handle: st[2],
            overflowed: st[3],
            attributes_dropped: st[4],
            attributes_truncated: st[5],
            clock_skew: st[6],
        };
        let resource: Arc<[KeyValue]> = Arc::from(self.attrs()?);

        let n = self.r.count(1)?;
        self.budget.charge(n, size_of::<Attributes>())?;
        let mut sets = Vec::with_capacity(n);
        for _ in 0..n {
            sets.push(Arc::from(self.attrs()?));
        }
        self.sets = sets;

        // name, unit, description, flags, point count.
        let n = self.r.count(5)?;
        self.budget.charge(n, size_of::<Metric>())?;
        let mut metrics = Vec::with_capacity(n);
        for _ in 0..n {
            metrics.push(self.metric(start, end)?);
        }
        if self.r.left() != 0 {
            return Err(bad("trailing bytes in the body"));
        }
        Ok(Batch {
            resource,
            scope_name: SCOPE_NAME,
            scope_version,
            temporality,
            start_unix_nano: start,
            end_unix_nano: end,
            metrics,
            stats,
        })
    }
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
    let mut r = Reader { b: bytes };
    if r.take(3).map_err(|_| bad("not a compact message (magic)"))? != MAGIC {
        return Err(bad("not a compact message (magic)"));
    }
    if r.u8()? != VERSION {
        return Err(bad("unsupported compact version"));
    }
    let len = r.varint()?;
    let len = usize::try_from(len).map_err(|_| bad("truncated"))?;
    let body = r.take(len)?;
    let used = bytes.len() - r.left();
    let mut d = Decoder {
        r: Reader { b: body },
        budget: Budget(limits.max_memory),
        strings: Vec::new(),
        shared: Vec::new(),
        sets: Vec::new(),
    };
    Ok((d.body()?, used))
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
/// [`DecodeLimits`] (16 MiB input, 128 MiB decoded).
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
