//! The compact wire format: one [`Batch`] in a few bytes per point, as [postcard] over serde types.
//!
//! OTLP protobuf repeats every attribute key and value in every point and spends 8 bytes on every
//! count. The compact format writes each distinct string once, each distinct attribute value and
//! attribute set once, and every integral number as a varint. A 1000-series batch (a counter and a
//! 15-bound histogram per series) takes 1/12 to 1/15 of its OTLP protobuf size (see
//! `tests/compact.rs`). A relay decodes it (`decode`, feature `decode`) and forwards it anywhere,
//! for example as OTLP (`to_otlp`, features `decode` and `otlp`).
//!
//! The bytes are [postcard 1.x](https://postcard.jamesmunns.com/wire-format) (a stable,
//! documented serde format) of the serde type [`Message`]: **the types of this module are the
//! schema.** Any Rust service can read a push with `postcard::from_bytes::<edgemetrics::encode::compact::Message>` and
//! turn it into a [`Batch`] with [`Message::into_batch`] (feature `decode`), which validates it;
//! other languages follow `tests/vectors/COMPACT.md`.
//!
//! It is sent as `POST {endpoint}`[`PATH`] with `Content-Type: `[`CONTENT_TYPE`].
//!
//! # Schema (version 2; version 3 adds scopes, below)
//!
//! Postcard writes a struct as its fields in order, with no names or lengths; unsigned integers
//! (`u16`–`u128`) as LEB128 varints, signed ones zigzag-encoded first; `u8` and `bool` as one byte;
//! a `Vec`, slice or `&str` as a varint length and its items (UTF-8 bytes); an enum as the varint
//! index of its variant, then the variant's fields; a `[u8; 3]` as 3 bytes.
//!
//! ```text
//! Message        = magic [u8; 3] = "EMC" · version u8 = 2
//!                  · strings Vec<&str>         every distinct string once (names, units, keys, …)
//!                  · values Vec<AttrValue>     every distinct attribute value once
//!                  · sets Vec<Vec<Attr>>       every distinct attribute set once
//!                  · scope_name u32 · scope_version u32          (string indices)
//!                  · temporality Temporality · start_unix_nano u64 · window_nanos u64 (end − start)
//!                  · stats Stats · resource Vec<Attr> · metrics Vec<Metric>
//! AttrValue      = Str(u32 string index) | I64(i64) | F64(Number) | Bool(bool)
//! Attr           = key u32 (string index) · value u32 (index into values)
//! Temporality    = Delta | Cumulative
//! Stats          = 7 × u64: rejected_non_finite, rejected_negative, rejected_invalid_handle,
//!                  overflowed, attributes_dropped, attributes_truncated, clock_skew
//! Metric         = name u32 · unit u32 · description u32 · kind Kind · data Data
//!                  · times Vec<Times>     empty: every point covers the window; else one per point
//! Kind           = Counter | UpDownCounter | Gauge | Histogram
//! Data           = Sum { monotonic bool, temporality Temporality, points Vec<NumberPoint> }
//!                | Gauge { points Vec<NumberPoint> }
//!                | Histogram { temporality Temporality, bounds Vec<Number>, points Vec<HistogramPoint> }
//!                | ExpHistogram { temporality Temporality, points Vec<ExpHistogramPoint> }
//! NumberPoint    = set i64 · value Number
//! HistogramPoint = set i64 · count u64 · sum Number · min Number · max Number · buckets Vec<u64>
//! ExpHistogramPoint = set i64 · count u64 · sum Number · min Number · max Number · scale i32
//!                · zero_count u64 · zero_threshold Number · positive ExpBuckets · negative ExpBuckets
//! ExpBuckets     = offset i32 · counts Vec<u64>   (bucket offset + k holds counts[k])
//! Times          = start i64 · end i64    (point start − window start, point time − window end,
//!                                          64-bit wrapping differences)
//! ```
//!
//! * `set` is relative: the set index minus the expected one, where the expected index is the
//!   previous point's set index + 1 within the metric (0 for its first point). Points in table
//!   order therefore cost one byte.
//! * `Number` is a `u128` varint `x` holding one double, exact to the bit (`-0.0`, subnormals,
//!   infinities and NaN payloads included):
//!
//!   | `x` | value | used for |
//!   |---|---|---|
//!   | even | the integer `unzigzag(x >> 1)`, `|n| ≤ 2⁵³` | integral values: `7.0` → 1 byte |
//!   | odd, `k = (x >> 1) & 7` in `1..=7` | `unzigzag(x >> 4) / 10^k` (IEEE division, correctly rounded; `|n| ≤ 2⁵³`) | short decimals: `12.5` → 2 bytes |
//!   | odd, `k = 0` | the IEEE-754 bits `x >> 4` (must fit in 64 bits) | anything else (10 bytes) |
//!
//!   `unzigzag(u) = (u >> 1) ^ -(u & 1)`. The encoder picks the first form that decodes to the
//!   same bits, trying the integer form, then `k = 1, 2, …, 7`, then the bits.
//! * **Scopes (version 3).** A batch whose instruments are all in the default scope
//!   (`edgemetrics`) is written as version 2, byte for byte as before. A batch with other scopes
//!   ([`Batch::scopes`](crate::Batch::scopes)) is written as version 3: the same [`Message`] with
//!   version byte 3, then a [`ScopeSection`]:
//!
//!   ```text
//!   ScopeSection = scopes Vec<ScopeRef> · metric_scopes Vec<u32>
//!   ScopeRef     = name u32 · version u32      (string indices)
//!   ```
//!
//!   `metric_scopes` has one entry per metric: 0 is the default scope (`scope_name` /
//!   `scope_version`), `i ≥ 1` is `scopes[i - 1]`. A decoder that knows only version 2 refuses
//!   version 3 by its version byte.
//! * Kind and data agree: counter = monotonic sum, up-down counter = non-monotonic sum, gauge =
//!   gauge, histogram = histogram or exponential histogram. Histogram bounds are finite and
//!   strictly increasing; every point has `bounds + 1` buckets adding up to `count`. An
//!   exponential point has a scale in `-10..=20`, a finite non-negative zero threshold, buckets
//!   whose indices fit `i32`, and `zero_count` plus its buckets equal to `count`. The scope name is
//!   `edgemetrics`.
//!
//! A message is self-delimiting: `decode_prefix` (feature `decode`) splits a stream of them.
//!
//! ## Decoding hostile input
//!
//! `decode` reads the magic and version first (a message of another version is refused before
//! its body is parsed), then the whole [`Message`] with `postcard::take_from_bytes`, then checks
//! every rule above while building the batch, and refuses anything else with
//! [`Error::Malformed`](crate::Error::Malformed): truncation, trailing bytes, bad varints, invalid
//! UTF-8, unknown enum variants, out-of-range indices, reserved number forms, kind/data
//! disagreement, bad bounds or buckets, a wrong scope or scope section. Memory stays bounded whatever a length
//! prefix claims: postcard pre-allocates a `Vec` only when its claimed length fits in the bytes
//! left (serde then caps it at 1 MiB) and otherwise grows it item by item as items are actually
//! read, so the message's own form takes at most [`WIRE_BYTES_PER_INPUT_BYTE`] heap bytes per
//! input byte; the decoder charges that bound and every allocation of the batch to
//! `DecodeLimits::max_memory` before making them. Strings are shared where the data model allows
//! it (`Arc<str>` names, `Arc<[KeyValue]>` sets).
//!
//! # Example
//!
//! ```
//! use edgemetrics::encode::compact;
//! use edgemetrics::{Config, InstrumentOptions, Registry};
//!
//! let mut reg = Registry::new(Config::new("checkout"));
//! reg.begin(1_700_000_000_000_000_000);
//! let hits = reg.counter("http.requests", InstrumentOptions::unit("{request}")).unwrap();
//! hits.add(&mut reg, 1.0, &[("route", "/cart".into())]);
//! let batch = reg.collect(1_700_000_000_250_000_000);
//!
//! let req = compact::request(&batch);
//! assert_eq!(req.path, compact::PATH);
//! assert_eq!(req.header("content-type"), Some(compact::CONTENT_TYPE));
//! assert_eq!(&req.body[..4], b"EMC\x02");
//!
//! // A Rust service (feature `decode`) reads the push with postcard and gets the batch back.
//! #[cfg(feature = "decode")]
//! {
//!     let msg: compact::Message = postcard::from_bytes(&req.body).unwrap();
//!     let received = msg.into_batch(&compact::DecodeLimits::default()).unwrap();
//!     assert_eq!(received, batch);
//!     assert_eq!(received.metric("http.requests").unwrap().data.len(), 1);
//! }
//! ```

use alloc::borrow::Cow;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::attr::{KeyValue, Value};
use crate::encode::Encoded;
use crate::model::{self as batch, Batch, InstrumentKind, MetricData};

/// The three bytes every compact message starts with: `EMC`.
pub const MAGIC: [u8; 3] = *b"EMC";
/// The format version of a batch whose metrics are all in the default scope (1 was a hand-written
/// layout before postcard). This module writes it for such batches and reads it.
pub const VERSION: u8 = 2;
/// The format version of a batch with more than the default scope: a version-2 [`Message`]
/// (with this version byte) followed by a [`ScopeSection`]. This module writes it for such
/// batches and reads it; a decoder that knows only version 2 refuses it by its version byte.
pub const VERSION_SCOPES: u8 = 3;
/// Content type of a compact body.
pub const CONTENT_TYPE: &str = "application/vnd.edgemetrics.compact";
/// Path of a compact push, appended to the configured (relay) endpoint.
pub const PATH: &str = "/v1/compact";

/// Largest integer magnitude a double holds exactly: the integer and decimal forms stay within it.
const EXACT: u64 = 1 << 53;
/// Divisors of the decimal number form; every one is exact in a double.
const POW10: [f64; 8] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7];

// ---------------------------------------------------------------------------------------------
// The schema
// ---------------------------------------------------------------------------------------------

/// One compact message: the postcard schema of a pushed batch (see the module docs).
///
/// Indices (`u32`) refer to [`strings`](Message::strings), [`values`](Message::values) and
/// [`sets`](Message::sets). Read one with `postcard::from_bytes`, validate and convert it with
/// [`Message::into_batch`] (feature `decode`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message<'a> {
    /// [`MAGIC`].
    pub magic: [u8; 3],
    /// [`VERSION`].
    pub version: u8,
    /// The string table: every distinct string once, borrowed from the input when decoding.
    #[serde(borrow)]
    pub strings: Vec<&'a str>,
    /// The attribute-value table: every distinct value once.
    pub values: Vec<AttrValue>,
    /// The attribute-set table: every distinct set once (a counter and a histogram over the same
    /// series share their sets).
    pub sets: Vec<Vec<Attr>>,
    /// String index of the scope name (always `edgemetrics`).
    pub scope_name: u32,
    /// String index of the scope version (the sending SDK's version).
    pub scope_version: u32,
    /// Temporality of the batch.
    pub temporality: Temporality,
    /// Window start, unix nanoseconds.
    pub start_unix_nano: u64,
    /// Window length: end − start, nanoseconds.
    pub window_nanos: u64,
    /// The SDK's own counters.
    pub stats: Stats,
    /// Resource attributes, in order.
    pub resource: Vec<Attr>,
    /// The metrics.
    pub metrics: Vec<Metric<'a>>,
    /// Version [`VERSION_SCOPES`]: the scope section, written after the message's own bytes
    /// (not part of its postcard form: `postcard::from_bytes::<Message>` leaves it unread, and
    /// [`decode`] reads it).
    #[serde(skip)]
    pub scope_section: Option<ScopeSection>,
}

/// What follows a version-3 message: the scopes other than the default one and each metric's
/// scope.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ScopeSection {
    /// The scopes other than the default one (`Batch::scopes`), in order.
    pub scopes: Vec<ScopeRef>,
    /// One entry per metric, in order: 0 is the default scope (`scope_name` / `scope_version`),
    /// `i ≥ 1` is `scopes[i - 1]`.
    pub metric_scopes: Vec<u32>,
}

/// A scope: string indices of its name and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeRef {
    /// String index of the name.
    pub name: u32,
    /// String index of the version.
    pub version: u32,
}

/// An attribute value in the value table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum AttrValue {
    /// A string: its index in the string table.
    Str(u32),
    /// A signed integer.
    I64(i64),
    /// A double.
    F64(Number),
    /// A boolean.
    Bool(bool),
}

/// An attribute: indices of its key (string table) and value (value table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attr {
    /// String index of the key.
    pub key: u32,
    /// Index into the value table.
    pub value: u32,
}

/// Delta or cumulative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Temporality {
    /// [`crate::Temporality::Delta`].
    Delta,
    /// [`crate::Temporality::Cumulative`].
    Cumulative,
}

/// The SDK's own counters ([`crate::SdkStats`]), in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Stats {
    pub rejected_non_finite: u64,
    pub rejected_negative: u64,
    pub rejected_invalid_handle: u64,
    pub overflowed: u64,
    pub attributes_dropped: u64,
    pub attributes_truncated: u64,
    pub clock_skew: u64,
}

/// One metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric<'a> {
    /// String index of the name.
    pub name: u32,
    /// String index of the unit.
    pub unit: u32,
    /// String index of the description.
    pub description: u32,
    /// The instrument kind; must agree with `data`.
    pub kind: Kind,
    /// The points.
    #[serde(borrow)]
    pub data: Data<'a>,
    /// Empty when every point covers exactly the batch window; otherwise one entry per point.
    pub times: Vec<Times>,
}

/// The kind of instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Kind {
    Counter,
    UpDownCounter,
    Gauge,
    Histogram,
}

/// The data of one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Data<'a> {
    /// A sum (counter: monotonic; up-down counter: not).
    Sum {
        /// `true` for counters.
        monotonic: bool,
        /// Delta or cumulative.
        temporality: Temporality,
        /// The points.
        points: Vec<NumberPoint>,
    },
    /// A gauge.
    Gauge {
        /// The points.
        points: Vec<NumberPoint>,
    },
    /// An explicit-bucket histogram.
    Histogram {
        /// Delta or cumulative.
        temporality: Temporality,
        /// Bucket upper bounds, finite and strictly increasing.
        bounds: Vec<Number>,
        /// The points.
        #[serde(borrow)]
        points: Vec<HistogramPoint<'a>>,
    },
    /// A base-2 exponential histogram (added in version 2 as the last variant: older messages
    /// decode unchanged; an older decoder refuses this variant as unknown).
    ExpHistogram {
        /// Delta or cumulative.
        temporality: Temporality,
        /// The points.
        #[serde(borrow)]
        points: Vec<ExpHistogramPoint<'a>>,
    },
}

/// One exponential histogram point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpHistogramPoint<'a> {
    /// Set index − expected index (see the module docs).
    pub set: i64,
    /// Number of values; equals `zero_count` plus every bucket count.
    pub count: u64,
    /// Sum of the values.
    pub sum: Number,
    /// Smallest value.
    pub min: Number,
    /// Largest value.
    pub max: Number,
    /// Scale (`-10..=20`).
    pub scale: i32,
    /// Values in the zero bucket.
    pub zero_count: u64,
    /// Width of the zero bucket.
    pub zero_threshold: Number,
    /// Positive buckets.
    #[serde(borrow)]
    pub positive: ExpBuckets<'a>,
    /// Negative buckets (by absolute value).
    #[serde(borrow)]
    pub negative: ExpBuckets<'a>,
}

/// The buckets of one sign of an exponential histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpBuckets<'a> {
    /// Index of the first bucket.
    pub offset: i32,
    /// Consecutive bucket counts. Borrowed from the batch when encoding.
    #[serde(borrow)]
    pub counts: Cow<'a, [u64]>,
}

/// One point of a sum or gauge.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NumberPoint {
    /// Set index − expected index (see the module docs).
    pub set: i64,
    /// The value.
    pub value: Number,
}

/// One histogram point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramPoint<'a> {
    /// Set index − expected index (see the module docs).
    pub set: i64,
    /// Number of values; equals the sum of `buckets`.
    pub count: u64,
    /// Sum of the values.
    pub sum: Number,
    /// Smallest value.
    pub min: Number,
    /// Largest value.
    pub max: Number,
    /// Bucket counts, one more than the bounds. Borrowed from the batch when encoding.
    #[serde(borrow)]
    pub buckets: Cow<'a, [u64]>,
}

/// Explicit times of one point, relative to the batch window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Times {
    /// Point start − window start (wrapping).
    pub start: i64,
    /// Point time − window end (wrapping).
    pub end: i64,
}

/// A double, exact to the bit, packed so that integers and short decimals take few bytes (see
/// the module docs for the three forms).
///
/// ```
/// use edgemetrics::encode::compact::Number;
/// for v in [0.0, 7.0, -1.0, 12.5, 0.125, -0.0, 0.1 + 0.2, f64::INFINITY, 1e300] {
///     assert_eq!(Number::from_f64(v).to_f64().unwrap().to_bits(), v.to_bits());
/// }
/// assert_eq!(postcard::to_allocvec(&Number::from_f64(7.0)).unwrap(), [28]); // zigzag(7) << 1
/// assert_eq!(postcard::to_allocvec(&Number::from_f64(12.5)).unwrap().len(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Number(pub u128);

#[inline]
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

impl Number {
    /// The shortest form of `v` that decodes to the same bits.
    pub fn from_f64(v: f64) -> Number {
        let bits = v.to_bits();
        // `as` saturates and maps NaN to 0; the bit comparison rejects every inexact case, -0.0 too.
        let n = v as i64;
        if n.unsigned_abs() <= EXACT && (n as f64).to_bits() == bits {
            return Number(u128::from(zigzag(n)) << 1);
        }
        if v.is_finite() {
            for (k, &p) in POW10.iter().enumerate().skip(1) {
                let s = v * p;
                if !(s <= EXACT as f64 && s >= -(EXACT as f64)) {
                    break; // larger k only grows the mantissa
                }
                let c = s as i64;
                // `v * p` may have rounded either way: the exact mantissa, if any, is one of three.
                for c in [c, c.wrapping_add(1), c.wrapping_sub(1)] {
                    if c.unsigned_abs() <= EXACT && ((c as f64) / p).to_bits() == bits {
                        return Number((u128::from(zigzag(c)) << 4) | ((k as u128) << 1) | 1);
                    }
                }
            }
        }
        Number((u128::from(bits) << 4) | 1)
    }

    /// The double, or the reason the packing is malformed.
    pub fn to_f64(self) -> Result<f64, &'static str> {
        let x = self.0;
        if x & 1 == 0 {
            let u = u64::try_from(x >> 1).map_err(|_| "integer number form beyond 2^53")?;
            let n = unzigzag(u);
            if n.unsigned_abs() > EXACT {
                return Err("integer number form beyond 2^53");
            }
            return Ok(n as f64);
        }
        let k = ((x >> 1) & 7) as usize;
        if k == 0 {
            let bits = u64::try_from(x >> 4).map_err(|_| "number bits beyond 64")?;
            return Ok(f64::from_bits(bits));
        }
        let u = u64::try_from(x >> 4).map_err(|_| "decimal number form beyond 2^53")?;
        let n = unzigzag(u);
        if n.unsigned_abs() > EXACT {
            return Err("decimal number form beyond 2^53");
        }
        // k is in 1..=7 here, within POW10.
        let p = POW10.get(k).copied().ok_or("reserved number form")?;
        Ok(n as f64 / p)
    }
}

// ---------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------

/// 64-bit hash of an interned key, `seed` mixed in first (FxHash-style multiply-rotate over 8-byte
/// words). Not DoS-resistant by design: the keys are one batch's names and attribute bytes, bounded
/// by the registry's limits, so a collision flood can only cost probe steps within that table.
#[inline]
fn hash_key(seed: u32, key: &[u8]) -> u64 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let mut h = (seed as u64).wrapping_mul(K);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ w).wrapping_mul(K).rotate_left(26);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(buf) ^ ((rest.len() as u64) << 59)).wrapping_mul(K).rotate_left(26);
    }
    // Final avalanche so the low bits (used as the table index) depend on every input bit.
    h ^= h >> 32;
    h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^ (h >> 29)
}

/// Byte keys interned in first-seen order: the keys of the string, value and set tables.
struct Interner {
    arena: Vec<u8>,
    spans: Vec<(usize, usize)>,
    /// Open-addressing index into `spans`; kept at most half full, so a probe always ends.
    slots: Vec<usize>,
}

const EMPTY: usize = usize::MAX;

impl Interner {
    fn new() -> Self {
        Interner { arena: Vec::new(), spans: Vec::new(), slots: alloc::vec![EMPTY; 64] }
    }

    fn get(&self, id: usize) -> &[u8] {
        let (s, e) = self.spans[id];
        &self.arena[s..e]
    }

    fn place(&mut self, id: usize) {
        let mask = self.slots.len() - 1;
        let mut pos = hash_key(0, self.get(id)) as usize & mask;
        // Bounded by the table size; the table is never full.
        for _ in 0..self.slots.len() {
            if self.slots[pos] == EMPTY {
                self.slots[pos] = id;
                return;
            }
            pos = (pos + 1) & mask;
        }
    }

    /// The index of `b` and whether it is new (then added at the end).
    fn intern(&mut self, b: &[u8]) -> (u32, bool) {
        if (self.spans.len() + 1) * 2 > self.slots.len() {
            self.slots = alloc::vec![EMPTY; self.slots.len() * 2];
            for id in 0..self.spans.len() {
                self.place(id);
            }
        }
        let mask = self.slots.len() - 1;
        let mut pos = hash_key(0, b) as usize & mask;
        for _ in 0..self.slots.len() {
            let id = self.slots[pos];
            if id == EMPTY {
                break;
            }
            if self.get(id) == b {
                return (id as u32, false);
            }
            pos = (pos + 1) & mask;
        }
        let id = self.spans.len();
        let start = self.arena.len();
        self.arena.extend_from_slice(b);
        self.spans.push((start, self.arena.len()));
        self.place(id);
        (id as u32, true)
    }
}

/// Builds a [`Message`] that borrows the batch's strings and bucket counts.
struct Builder<'a> {
    strings: Vec<&'a str>,
    string_ids: Interner,
    values: Vec<AttrValue>,
    value_ids: Interner,
    sets: Vec<Vec<Attr>>,
    set_ids: Interner,
    scratch: Vec<u8>,
}

impl<'a> Builder<'a> {
    fn string(&mut self, s: &'a str) -> u32 {
        let (id, new) = self.string_ids.intern(s.as_bytes());
        if new {
            self.strings.push(s);
        }
        id
    }

    fn value(&mut self, v: &'a Value) -> u32 {
        // The key is a tag byte and the payload: doubles by their bits, so NaN payloads stay apart.
        let value = match v {
            Value::Str(s) => AttrValue::Str(self.string(s)),
            Value::I64(n) => AttrValue::I64(*n),
            Value::F64(f) => AttrValue::F64(Number::from_f64(*f)),
            Value::Bool(b) => AttrValue::Bool(*b),
        };
        let mut key = [0u8; 17];
        let n = match value {
            AttrValue::Str(i) => {
                key[1..5].copy_from_slice(&i.to_le_bytes());
                5
            }
            AttrValue::I64(n) => {
                key[0] = 1;
                key[1..9].copy_from_slice(&n.to_le_bytes());
                9
            }
            AttrValue::F64(x) => {
                key[0] = 2;
                key[1..17].copy_from_slice(&x.0.to_le_bytes());
                17
            }
            AttrValue::Bool(b) => {
                key[0] = 3;
                key[1] = b as u8;
                2
            }
        };
        let (id, new) = self.value_ids.intern(&key[..n]);
        if new {
            self.values.push(value);
        }
        id
    }

    fn attrs(&mut self, kvs: &'a [KeyValue]) -> Vec<Attr> {
        kvs.iter().map(|kv| Attr { key: self.string(&kv.key), value: self.value(&kv.value) }).collect()
    }

    /// The relative reference of a point's set (see the module docs); advances `expected`.
    fn set(&mut self, kvs: &'a [KeyValue], expected: &mut u64) -> i64 {
        let attrs = self.attrs(kvs);
        self.scratch.clear();
        for a in &attrs {
            self.scratch.extend_from_slice(&a.key.to_le_bytes());
            self.scratch.extend_from_slice(&a.value.to_le_bytes());
        }
        let scratch = core::mem::take(&mut self.scratch);
        let (id, new) = self.set_ids.intern(&scratch);
        self.scratch = scratch;
        if new {
            self.sets.push(attrs);
        }
        let id = u64::from(id);
        let rel = id.wrapping_sub(*expected) as i64;
        *expected = id.wrapping_add(1);
        rel
    }
}

fn temporality(t: batch::Temporality) -> Temporality {
    match t {
        batch::Temporality::Delta => Temporality::Delta,
        batch::Temporality::Cumulative => Temporality::Cumulative,
    }
}

impl<'a> Message<'a> {
    /// The message of `batch`, borrowing its strings and bucket counts.
    pub fn from_batch(batch: &'a Batch) -> Message<'a> {
        let mut b = Builder {
            strings: Vec::new(),
            string_ids: Interner::new(),
            values: Vec::new(),
            value_ids: Interner::new(),
            sets: Vec::new(),
            set_ids: Interner::new(),
            scratch: Vec::new(),
        };
        let scope_name = b.string(batch.scope_name);
        let scope_version = b.string(&batch.scope_version);
        let scope_section = if batch.scopes.is_empty() {
            None
        } else {
            Some(ScopeSection {
                scopes: batch
                    .scopes
                    .iter()
                    .map(|s| ScopeRef { name: b.string(&s.name), version: b.string(&s.version) })
                    .collect(),
                metric_scopes: batch.metrics.iter().map(|m| batch.scope_index(m) as u32).collect(),
            })
        };
        let resource = b.attrs(&batch.resource);
        let (start, end) = (batch.start_unix_nano, batch.end_unix_nano);
        let mut metrics = Vec::with_capacity(batch.metrics.len());
        for m in &batch.metrics {
            let (name, unit, description) = (b.string(&m.name), b.string(&m.unit), b.string(&m.description));
            let kind = match m.kind {
                InstrumentKind::Counter => Kind::Counter,
                InstrumentKind::UpDownCounter => Kind::UpDownCounter,
                InstrumentKind::Gauge => Kind::Gauge,
                InstrumentKind::Histogram => Kind::Histogram,
            };
            let mut times = Vec::new();
            let mut time = |n: usize, i: usize, s: u64, t: u64| {
                if times.is_empty() && (s, t) == (start, end) {
                    return;
                }
                if times.is_empty() {
                    // The first point outside the window: every earlier point was inside it.
                    times.reserve(n);
                    times.resize(i, Times { start: 0, end: 0 });
                }
                times.push(Times { start: s.wrapping_sub(start) as i64, end: t.wrapping_sub(end) as i64 });
            };
            let mut expected = 0u64;
            let data = match &m.data {
                MetricData::Sum { points, .. } | MetricData::Gauge { points } => {
                    let mut ps = Vec::with_capacity(points.len());
                    for (i, p) in points.iter().enumerate() {
                        let set = b.set(&p.attributes, &mut expected);
                        time(points.len(), i, p.start_unix_nano, p.time_unix_nano);
                        ps.push(NumberPoint { set, value: Number::from_f64(p.value) });
                    }
                    match &m.data {
                        MetricData::Sum { monotonic, temporality: t, .. } => {
                            Data::Sum { monotonic: *monotonic, temporality: temporality(*t), points: ps }
                        }
                        _ => Data::Gauge { points: ps },
                    }
                }
                MetricData::Histogram { temporality: t, bounds, points } => {
                    let mut ps = Vec::with_capacity(points.len());
                    for (i, p) in points.iter().enumerate() {
                        let set = b.set(&p.attributes, &mut expected);
                        time(points.len(), i, p.start_unix_nano, p.time_unix_nano);
                        ps.push(HistogramPoint {
                            set,
                            count: p.count,
                            sum: Number::from_f64(p.sum),
                            min: Number::from_f64(p.min),
                            max: Number::from_f64(p.max),
                            buckets: Cow::Borrowed(&p.bucket_counts),
                        });
                    }
                    Data::Histogram {
                        temporality: temporality(*t),
                        bounds: bounds.iter().map(|&x| Number::from_f64(x)).collect(),
                        points: ps,
                    }
                }
                MetricData::ExponentialHistogram { temporality: t, points } => {
                    let mut ps = Vec::with_capacity(points.len());
                    for (i, p) in points.iter().enumerate() {
                        let set = b.set(&p.attributes, &mut expected);
                        time(points.len(), i, p.start_unix_nano, p.time_unix_nano);
                        let h = &p.hist;
                        let buckets = |x: &'a crate::exphist::ExpBuckets| ExpBuckets {
                            offset: x.offset,
                            counts: Cow::Borrowed(&x.counts),
                        };
                        ps.push(ExpHistogramPoint {
                            set,
                            count: h.count,
                            sum: Number::from_f64(h.sum),
                            min: Number::from_f64(h.min),
                            max: Number::from_f64(h.max),
                            scale: h.scale,
                            zero_count: h.zero_count,
                            zero_threshold: Number::from_f64(h.zero_threshold),
                            positive: buckets(&h.positive),
                            negative: buckets(&h.negative),
                        });
                    }
                    Data::ExpHistogram { temporality: temporality(*t), points: ps }
                }
            };
            metrics.push(Metric { name, unit, description, kind, data, times });
        }
        let s = &batch.stats;
        Message {
            magic: MAGIC,
            version: if scope_section.is_some() { VERSION_SCOPES } else { VERSION },
            strings: b.strings,
            values: b.values,
            sets: b.sets,
            scope_name,
            scope_version,
            temporality: temporality(batch.temporality),
            start_unix_nano: start,
            window_nanos: end.wrapping_sub(start),
            stats: Stats {
                rejected_non_finite: s.rejected_non_finite,
                rejected_negative: s.rejected_negative,
                rejected_invalid_handle: s.rejected_invalid_handle,
                overflowed: s.overflowed,
                attributes_dropped: s.attributes_dropped,
                attributes_truncated: s.attributes_truncated,
                clock_skew: s.clock_skew,
            },
            resource,
            metrics,
            scope_section,
        }
    }
}

/// Encodes `batch` in the compact format: postcard of [`Message::from_batch`].
///
/// The output is written with postcard's `AllocVec` flavor straight into the `Vec` that becomes
/// the request body (of the flavors it gave the smallest wasm).
///
/// Every field round-trips through `decode` exactly, provided the batch keeps the invariants
/// its type documents (window end not before its start, kind matching data, histogram bounds
/// finite and increasing with one more bucket than bounds, count equal to the bucket total). A
/// batch that breaks them still encodes without panicking, but the decoder refuses the result.
pub fn encode(batch: &Batch) -> Vec<u8> {
    // Serializing into a Vec cannot fail: every sequence has a known length and the AllocVec
    // flavor has no capacity limit (allocation failure aborts, as everywhere in Rust).
    let msg = Message::from_batch(batch);
    let mut out = postcard::to_allocvec(&msg).unwrap_or_default();
    if let Some(section) = &msg.scope_section {
        out.extend_from_slice(&postcard::to_allocvec(section).unwrap_or_default());
    }
    out
}

/// Encodes `batch` and names the method, path and headers of the push.
///
/// `POST` [`PATH`] with `Content-Type: `[`CONTENT_TYPE`]; the body is [`encode`]'s output.
pub fn request(batch: &Batch) -> Encoded {
    Encoded::post(PATH, CONTENT_TYPE, encode(batch))
}

#[cfg(feature = "decode")]
mod decode;
#[cfg(all(feature = "decode", feature = "otlp"))]
pub use decode::to_otlp;
#[cfg(feature = "decode")]
pub use decode::{
    decode, decode_prefix, decode_with, DecodeLimits, DEFAULT_MAX_INPUT, DEFAULT_MAX_MEMORY, WIRE_BYTES_PER_INPUT_BYTE,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: f64) -> Vec<u8> {
        postcard::to_allocvec(&Number::from_f64(v)).unwrap()
    }

    #[test]
    fn number_forms() {
        assert_eq!(num(0.0), [0]);
        assert_eq!(num(7.0), [28]);
        assert_eq!(num(-1.0), [2]);
        assert_eq!(num(12.5).len(), 2);
        assert_eq!(num(0.125).len(), 2);
        assert_eq!(num(-0.0).len(), 10);
        assert_eq!(num(0.1 + 0.2).len(), 10);
        assert_eq!(num(f64::INFINITY).len(), 10);
        assert_eq!(num(1e300).len(), 10);
    }

    #[test]
    fn zigzag_round_trips() {
        for v in [0i64, 1, -1, 2, -2, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn interner_dedups_across_growth() {
        let mut t = Interner::new();
        for i in 0..500u32 {
            assert_eq!(t.intern(&i.to_le_bytes()), (i, true));
        }
        for i in 0..500u32 {
            assert_eq!(t.intern(&i.to_le_bytes()), (i, false));
        }
        assert_eq!(t.spans.len(), 500);
    }

    #[test]
    fn hash_depends_on_seed_and_key() {
        assert_ne!(hash_key(0, b"abc"), hash_key(1, b"abc"));
        assert_ne!(hash_key(0, b"abc"), hash_key(0, b"abd"));
        assert_ne!(hash_key(0, b""), hash_key(0, b"\0"));
    }
}
