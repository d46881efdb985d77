//! The compact wire format: one [`Batch`] in a few bytes per point, for edgemetrics' own relays.
//!
//! OTLP protobuf repeats every attribute key and value in every point and spends 8 bytes on every
//! count. The compact format writes each distinct string once, each distinct attribute set once,
//! and every number as a varint. A 1000-series batch (a counter and a 15-bound histogram per
//! series) takes 1/12 to 1/15 of its OTLP protobuf size (35–42 KB against 521 KB, see
//! `tests/compact.rs`). A relay decodes it (`decode`, feature `decode`) and forwards it anywhere,
//! for example as OTLP (`to_otlp`).
//!
//! It is sent as `POST {endpoint}`[`PATH`] with `Content-Type: `[`CONTENT_TYPE`].
//!
//! # Specification (version 1)
//!
//! ## Primitives
//!
//! * `u8`: one byte.
//! * `varint`: an unsigned LEB128 integer, 7 bits a byte, least significant group first, the high
//!   bit set on every byte but the last; at most 10 bytes, and the tenth byte must be `0` or `1`
//!   (the value fits in 64 bits). Counts, lengths, indices and timestamps are varints.
//! * `zigzag`: a signed integer `n` as the varint `(n << 1) ^ (n >> 63)`, so that small negative
//!   numbers stay short (`0 → 0, -1 → 1, 1 → 2, -2 → 3`).
//! * `str`: a varint index into the string table.
//! * `number`: a double, exact to the bit (`-0.0`, subnormals, infinities and NaN payloads
//!   included), written as a varint `x` followed by nothing or by 8 bytes:
//!
//!   | `x` | value | when the encoder uses it |
//!   |---|---|---|
//!   | even | the integer `unzigzag(x >> 1)`, `|n| ≤ 2⁵³` | integral values: counts, integer sums (`7.0` → 1 byte) |
//!   | `1` | the next 8 bytes, little-endian IEEE-754 bits | anything else |
//!   | odd, `k = (x >> 1) & 7` in `1..=7` | `unzigzag(x >> 4) / 10^k` (IEEE division, correctly rounded; mantissa `≤ 2⁵³`) | short decimals: `12.5` → 2 bytes, `0.125` → 2 bytes |
//!
//!   Other odd `x` with `k = 0` are reserved (malformed). The encoder picks the first form whose
//!   decoding gives back the same bits, trying the integer form, then `k = 1, 2, …, 7`, then raw.
//!   Every form decodes to one exact value, so a decoder on any platform (wasm included) gets the
//!   same bits.
//!
//! ## Layout
//!
//! ```text
//! message    = magic "EMC" (45 4D 43) · version u8 (= 1) · body_len varint · body
//!              body_len counts the bytes after itself: the message is self-delimiting.
//! body       = strings · scope_name str · scope_version str · flags u8 · start varint
//!              · window varint · stats · resource attrs · sets · metrics
//! strings    = count varint, then per string: len varint · UTF-8 bytes
//!              each distinct string once; everything else refers to it by index
//! flags      = bit 0: batch temporality (0 delta, 1 cumulative); other bits 0
//! start      = window start, unix ns;  window = end − start (end never before start)
//! stats      = 7 varints: rejected_non_finite, rejected_negative, rejected_invalid_handle,
//!              overflowed, attributes_dropped, attributes_truncated, clock_skew
//! attrs      = count varint, then per attribute: head varint · payload
//!              head = key_index << 3 | type
//!              type 0 string: str · 1 int: zigzag · 2 double: number
//!                   3 false: nothing · 4 true: nothing · 5–7 reserved
//! sets       = count varint · that many attrs: the attribute-set table, each distinct set once
//!              (a counter and a histogram over the same series share their sets)
//! metrics    = count varint · that many metric
//! metric     = name str · unit str · description str · mflags u8 · [bounds] · points
//! mflags     = bits 0–1 kind (0 counter, 1 up-down counter, 2 gauge, 3 histogram)
//!              bits 2–3 data (0 sum, 1 gauge, 2 histogram; 3 reserved)
//!              bit 4 monotonic (sums only)      bit 5 cumulative (sums and histograms only)
//!              bit 6 explicit times (see below) bit 7 reserved (0)
//!              kind and data must agree: counter = monotonic sum, up-down counter =
//!              non-monotonic sum, gauge = gauge, histogram = histogram
//! bounds     = count varint · that many number (histograms only; finite, strictly increasing)
//! points     = count varint · that many point of the metric's data
//! set_ref    = zigzag (set_index − expected), expected = previous set_index of this metric + 1
//!              (0 for the first point): points in table order cost one byte
//! times      = only when bit 6 is set: zigzag (start − window start) · zigzag (time − window end),
//!              64-bit wrapping differences; when clear, every point covers exactly the window
//! sum/gauge point  = set_ref · [times] · value number
//! histogram point  = set_ref · [times] · count varint · sum number · min number · max number
//!                    · n varint (= bounds count + 1) · n bucket counts as varints
//!                    (the bucket counts add up to count)
//! ```
//!
//! Nothing nests deeper than this grammar: there is no recursion, so a decoder needs no depth
//! limit beyond the fixed one of the grammar.
//!
//! ## Decoding hostile input
//!
//! `decode` refuses anything the grammar does not produce with
//! [`Error::Malformed`](crate::Error::Malformed): bad magic or version, truncation, trailing
//! bytes, over-long varints, out-of-range indices, invalid UTF-8, reserved bits, kind/data
//! disagreement, bounds that are not finite and strictly increasing, a bucket count that is not
//! bounds + 1, bucket counts that do not add up to the point count, a scope other than
//! `edgemetrics`. Before it allocates room for `n` items it checks that the input still holds at
//! least the smallest encoding of `n` items, and it charges every allocation against
//! `DecodeLimits::max_memory`, so memory is bounded by the limits whatever a count claims.
//! Strings are shared where the data model allows it (`Arc<str>` names, `Arc<[KeyValue]>` sets),
//! so one string referenced a million times is not copied a million times unless the batch model
//! requires an owned copy (attribute keys and values), and then the budget counts each copy.
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
//! assert_eq!(&req.body[..4], b"EMC\x01");
//!
//! // A relay (feature `decode`) gets the same batch back, bit for bit.
//! #[cfg(feature = "decode")]
//! assert_eq!(compact::decode(&req.body).unwrap(), batch);
//! ```

use alloc::vec::Vec;

use crate::attr::{hash_key, KeyValue, Value};
use crate::encode::Encoded;
use crate::model::{Batch, InstrumentKind, MetricData, Temporality};

/// The three bytes every compact message starts with: `EMC`.
pub const MAGIC: [u8; 3] = *b"EMC";
/// The format version this module writes and reads.
pub const VERSION: u8 = 1;
/// Content type of a compact body.
pub const CONTENT_TYPE: &str = "application/vnd.edgemetrics.compact";
/// Path of a compact push, appended to the configured (relay) endpoint.
pub const PATH: &str = "/v1/compact";

/// Largest integer magnitude a double holds exactly: the integer and decimal forms stay within it.
const EXACT: u64 = 1 << 53;
/// Divisors of the decimal number form; every one is exact in a double.
const POW10: [f64; 8] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7];

const T_STR: u64 = 0;
const T_INT: u64 = 1;
const T_F64: u64 = 2;
const T_FALSE: u64 = 3;
const T_TRUE: u64 = 4;

const D_SUM: u8 = 0;
const D_GAUGE: u8 = 1;
const D_HIST: u8 = 2;
const F_MONOTONIC: u8 = 1 << 4;
const F_CUMULATIVE: u8 = 1 << 5;
const F_TIMES: u8 = 1 << 6;

// ---------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------

use crate::codec::varint::put as put_varint;

#[inline]
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[cfg(any(feature = "decode", test))]
#[inline]
fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Writes `v` in the shortest `number` form that decodes to the same bits (see the module docs).
fn put_number(out: &mut Vec<u8>, v: f64) {
    let bits = v.to_bits();
    // `as` saturates and maps NaN to 0; the bit comparison rejects every inexact case, -0.0 too.
    let n = v as i64;
    if n.unsigned_abs() <= EXACT && (n as f64).to_bits() == bits {
        put_varint(out, zigzag(n) << 1);
        return;
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
                    put_varint(out, (zigzag(c) << 4) | ((k as u64) << 1) | 1);
                    return;
                }
            }
        }
    }
    out.push(1);
    out.extend_from_slice(&bits.to_le_bytes());
}

/// Byte strings interned in first-seen order: the string table and the attribute-set table.
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

    /// The index of `b`, added at the end when new.
    fn intern(&mut self, b: &[u8]) -> usize {
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
                return id;
            }
            pos = (pos + 1) & mask;
        }
        let id = self.spans.len();
        let start = self.arena.len();
        self.arena.extend_from_slice(b);
        self.spans.push((start, self.arena.len()));
        self.place(id);
        id
    }
}

fn put_str(out: &mut Vec<u8>, strings: &mut Interner, s: &str) {
    let id = strings.intern(s.as_bytes());
    put_varint(out, id as u64);
}

fn put_attrs(out: &mut Vec<u8>, strings: &mut Interner, kvs: &[KeyValue]) {
    put_varint(out, kvs.len() as u64);
    for kv in kvs {
        let key = strings.intern(kv.key.as_bytes()) as u64;
        match &kv.value {
            Value::Str(s) => {
                put_varint(out, key << 3 | T_STR);
                put_str(out, strings, s);
            }
            Value::I64(v) => {
                put_varint(out, key << 3 | T_INT);
                put_varint(out, zigzag(*v));
            }
            Value::F64(v) => {
                put_varint(out, key << 3 | T_F64);
                put_number(out, *v);
            }
            Value::Bool(b) => put_varint(out, key << 3 | if *b { T_TRUE } else { T_FALSE }),
        }
    }
}

/// Writes the set reference of a point and advances `expected`.
fn put_set(
    out: &mut Vec<u8>,
    sets: &mut Interner,
    strings: &mut Interner,
    scratch: &mut Vec<u8>,
    attrs: &[KeyValue],
    expected: &mut u64,
) {
    scratch.clear();
    put_attrs(scratch, strings, attrs);
    let id = sets.intern(scratch) as u64;
    put_varint(out, zigzag(id.wrapping_sub(*expected) as i64));
    *expected = id.wrapping_add(1);
}

/// Encodes `batch` in the compact format (see the module docs for the layout).
///
/// Every field round-trips through `decode` exactly, provided the batch keeps the invariants
/// its type documents (window end not before its start, kind matching data, histogram bounds
/// finite and increasing with one more bucket than bounds, count equal to the bucket total). A
/// batch that breaks them still encodes without panicking, but the decoder refuses the result.
pub fn encode(batch: &Batch) -> Vec<u8> {
    let mut strings = Interner::new();
    let mut sets = Interner::new();
    let mut scratch = Vec::new();
    let mut head = Vec::with_capacity(64);
    let mut body = Vec::with_capacity(64 + batch.point_count() * 24);

    put_str(&mut head, &mut strings, batch.scope_name);
    put_str(&mut head, &mut strings, &batch.scope_version);
    head.push((batch.temporality == Temporality::Cumulative) as u8);
    let start = batch.start_unix_nano;
    let end = batch.end_unix_nano;
    put_varint(&mut head, start);
    put_varint(&mut head, end.wrapping_sub(start));
    let s = &batch.stats;
    for v in [
        s.rejected_non_finite,
        s.rejected_negative,
        s.rejected_invalid_handle,
        s.overflowed,
        s.attributes_dropped,
        s.attributes_truncated,
        s.clock_skew,
    ] {
        put_varint(&mut head, v);
    }
    put_attrs(&mut head, &mut strings, &batch.resource);

    put_varint(&mut body, batch.metrics.len() as u64);
    for m in &batch.metrics {
        put_str(&mut body, &mut strings, &m.name);
        put_str(&mut body, &mut strings, &m.unit);
        put_str(&mut body, &mut strings, &m.description);
        let kind = match m.kind {
            InstrumentKind::Counter => 0u8,
            InstrumentKind::UpDownCounter => 1,
            InstrumentKind::Gauge => 2,
            InstrumentKind::Histogram => 3,
        };
        let cumulative = |t: Temporality| if t == Temporality::Cumulative { F_CUMULATIVE } else { 0 };
        let in_window = |a: u64, b: u64| a == start && b == end;
        let mut expected = 0u64;
        match &m.data {
            MetricData::Sum { points, .. } | MetricData::Gauge { points } => {
                let mut flags = kind;
                if let MetricData::Sum { monotonic, temporality, .. } = &m.data {
                    flags |= D_SUM << 2 | cumulative(*temporality) | if *monotonic { F_MONOTONIC } else { 0 };
                } else {
                    flags |= D_GAUGE << 2;
                }
                let times = !points.iter().all(|p| in_window(p.start_unix_nano, p.time_unix_nano));
                body.push(flags | if times { F_TIMES } else { 0 });
                put_varint(&mut body, points.len() as u64);
                for p in points {
                    put_set(&mut body, &mut sets, &mut strings, &mut scratch, &p.attributes, &mut expected);
                    if times {
                        put_times(&mut body, start, end, p.start_unix_nano, p.time_unix_nano);
                    }
                    put_number(&mut body, p.value);
                }
            }
            MetricData::Histogram { temporality, bounds, points } => {
                let times = !points.iter().all(|p| in_window(p.start_unix_nano, p.time_unix_nano));
                body.push(kind | D_HIST << 2 | cumulative(*temporality) | if times { F_TIMES } else { 0 });
                put_varint(&mut body, bounds.len() as u64);
                for &b in bounds.iter() {
                    put_number(&mut body, b);
                }
                put_varint(&mut body, points.len() as u64);
                for p in points {
                    put_set(&mut body, &mut sets, &mut strings, &mut scratch, &p.attributes, &mut expected);
                    if times {
                        put_times(&mut body, start, end, p.start_unix_nano, p.time_unix_nano);
                    }
                    put_varint(&mut body, p.count);
                    put_number(&mut body, p.sum);
                    put_number(&mut body, p.min);
                    put_number(&mut body, p.max);
                    put_varint(&mut body, p.bucket_counts.len() as u64);
                    for &c in &p.bucket_counts {
                        put_varint(&mut body, c);
                    }
                }
            }
        }
    }

    // Assemble: header, then the tables (complete only now), then the rest.
    let mut tables = Vec::with_capacity(strings.arena.len() + strings.spans.len() * 2 + sets.arena.len() + 16);
    put_varint(&mut tables, strings.spans.len() as u64);
    for id in 0..strings.spans.len() {
        let s = strings.get(id);
        put_varint(&mut tables, s.len() as u64);
        tables.extend_from_slice(s);
    }
    let sets_head = {
        let mut v = Vec::with_capacity(5);
        put_varint(&mut v, sets.spans.len() as u64);
        v
    };
    let body_len = tables.len() + head.len() + sets_head.len() + sets.arena.len() + body.len();
    let mut out = Vec::with_capacity(body_len + 14);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    put_varint(&mut out, body_len as u64);
    out.extend_from_slice(&tables);
    out.extend_from_slice(&head);
    out.extend_from_slice(&sets_head);
    // The set table's entries are stored back to back in first-seen order.
    out.extend_from_slice(&sets.arena);
    out.extend_from_slice(&body);
    out
}

fn put_times(out: &mut Vec<u8>, start: u64, end: u64, p_start: u64, p_time: u64) {
    put_varint(out, zigzag(p_start.wrapping_sub(start) as i64));
    put_varint(out, zigzag(p_time.wrapping_sub(end) as i64));
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
pub use decode::{decode, decode_prefix, decode_with, DecodeLimits, DEFAULT_MAX_INPUT, DEFAULT_MAX_MEMORY};

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: f64) -> Vec<u8> {
        let mut out = Vec::new();
        put_number(&mut out, v);
        out
    }

    #[test]
    fn number_forms() {
        assert_eq!(num(0.0), [0]);
        assert_eq!(num(7.0), [28]);
        assert_eq!(num(-1.0), [2]);
        assert_eq!(num(12.5).len(), 2);
        assert_eq!(num(0.125).len(), 2);
        assert_eq!(num(-0.0).len(), 9);
        assert_eq!(num(0.1 + 0.2).len(), 9);
        assert_eq!(num(f64::INFINITY).len(), 9);
        assert_eq!(num(1e300).len(), 9);
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
            assert_eq!(t.intern(&i.to_le_bytes()), i as usize);
        }
        for i in 0..500u32 {
            assert_eq!(t.intern(&i.to_le_bytes()), i as usize);
        }
        assert_eq!(t.spans.len(), 500);
    }
}
