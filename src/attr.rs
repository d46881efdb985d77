//! Attributes: the key/value pairs that tell one series of an instrument from another.
//!
//! A recording names its attributes as a slice of `(key, value)` pairs borrowed from the caller
//! ([`Attr`]). The registry turns that slice into a *canonical key*: pairs de-duplicated (the last
//! occurrence of a key wins), sorted by key, limited in count and length, and written into a
//! compact byte string. Two slices that differ only in order or in overwritten duplicates give the
//! same canonical key, and therefore the same series.
//!
//! Owned attributes ([`KeyValue`]) appear only in the collected [`Batch`](crate::Batch) and in the
//! resource; they are built once, when a series is created, and shared (`Arc`) from then on.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// A borrowed attribute value, as passed to a recording.
///
/// Build it with `.into()` from `&str`, integers, `f64` or `bool`:
///
/// ```
/// use edgemetrics::AttrValue;
/// let v: AttrValue = "GET".into();
/// let s: AttrValue = 200u16.into();
/// assert_eq!(s, AttrValue::I64(200));
/// # let _ = v;
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AttrValue<'a> {
    /// A UTF-8 string.
    Str(&'a str),
    /// A signed 64-bit integer.
    I64(i64),
    /// A double. Series identity uses the bit pattern, so equal NaN bits name one series (the
    /// derived `PartialEq` still follows IEEE 754: NaN ≠ NaN).
    F64(f64),
    /// A boolean.
    Bool(bool),
}

/// A borrowed attribute: `(key, value)`.
pub type Attr<'a> = (&'a str, AttrValue<'a>);

impl<'a> From<&'a str> for AttrValue<'a> {
    fn from(v: &'a str) -> Self {
        AttrValue::Str(v)
    }
}
impl<'a> From<&'a String> for AttrValue<'a> {
    fn from(v: &'a String) -> Self {
        AttrValue::Str(v.as_str())
    }
}
impl From<bool> for AttrValue<'_> {
    fn from(v: bool) -> Self {
        AttrValue::Bool(v)
    }
}
impl From<f64> for AttrValue<'_> {
    fn from(v: f64) -> Self {
        AttrValue::F64(v)
    }
}
macro_rules! int_into_attr {
    ($($t:ty),*) => {$(
        impl From<$t> for AttrValue<'_> {
            fn from(v: $t) -> Self { AttrValue::I64(v as i64) }
        }
    )*};
}
int_into_attr!(i8, i16, i32, i64, u8, u16, u32);

/// An owned attribute value, as it appears in a collected batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A UTF-8 string.
    Str(String),
    /// A signed 64-bit integer.
    I64(i64),
    /// A double.
    F64(f64),
    /// A boolean.
    Bool(bool),
}

impl Value {
    /// The borrowed form of this value.
    pub fn as_ref(&self) -> AttrValue<'_> {
        match self {
            Value::Str(s) => AttrValue::Str(s),
            Value::I64(v) => AttrValue::I64(*v),
            Value::F64(v) => AttrValue::F64(*v),
            Value::Bool(v) => AttrValue::Bool(*v),
        }
    }
}

impl From<AttrValue<'_>> for Value {
    fn from(v: AttrValue<'_>) -> Self {
        match v {
            AttrValue::Str(s) => Value::Str(String::from(s)),
            AttrValue::I64(v) => Value::I64(v),
            AttrValue::F64(v) => Value::F64(v),
            AttrValue::Bool(v) => Value::Bool(v),
        }
    }
}

/// An owned attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Value,
}

impl KeyValue {
    /// Builds an owned attribute.
    ///
    /// ```
    /// use edgemetrics::{KeyValue, Value};
    /// let kv = KeyValue::new("service.name", "checkout");
    /// assert_eq!(kv.value, Value::Str("checkout".into()));
    /// ```
    pub fn new<'a>(key: &str, value: impl Into<AttrValue<'a>>) -> Self {
        KeyValue { key: String::from(key), value: value.into().into() }
    }
}

/// A shared, immutable, canonical (sorted, de-duplicated) attribute set.
pub type Attributes = Arc<[KeyValue]>;

/// Limits applied to every attribute set before it becomes a series key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrLimits {
    /// Most attributes kept per set (default 32). After de-duplication and sorting by key, the
    /// pairs beyond this count are dropped, so the result does not depend on the order given.
    pub max_attributes: usize,
    /// Longest key in bytes (default 128). A longer key drops its attribute.
    pub max_key_len: usize,
    /// Longest string value in bytes (default 1024). A longer value is truncated at the last
    /// UTF-8 character boundary within the limit (the OpenTelemetry rule).
    pub max_value_len: usize,
}

impl Default for AttrLimits {
    fn default() -> Self {
        AttrLimits { max_attributes: 32, max_key_len: 128, max_value_len: 1024 }
    }
}

/// What canonicalization had to change (each counted by the registry).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Adjustments {
    /// Attributes dropped: over the count limit, key too long or empty.
    pub dropped: u32,
    /// String values truncated.
    pub truncated: u32,
}

/// Hard cap on the attributes one recording may pass, whatever the limits say: the canonicalizer
/// sorts indices in a fixed stack array so that the record path never allocates.
pub const MAX_ATTRS_PER_CALL: usize = 64;

const TAG_STR: u8 = 0;
const TAG_I64: u8 = 1;
const TAG_F64: u8 = 2;
const TAG_BOOL: u8 = 3;

/// Truncates `s` to at most `max` bytes at a character boundary.
pub(crate) fn truncate_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    // Walk back to a char boundary; at most 3 steps for UTF-8.
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    // Always `Some` (`end` is a boundary); `get` instead of indexing keeps the str slicing panic
    // (and the formatting it links) out of the wasm module.
    s.get(..end).unwrap_or_default()
}

fn push_len(out: &mut Vec<u8>, n: usize) {
    // Lengths are bounded by the limits, so this is at most 3 bytes in practice.
    crate::codec::varint::put(out, n as u64);
}

/// `a > b` by bytes, deciding on the first byte when it differs (the usual case for attribute keys)
/// so that most comparisons avoid a `memcmp` call.
#[inline(always)]
fn key_gt(a: &str, b: &str) -> bool {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x > y,
        _ => a > b,
    }
}

/// The attributes of one recording after de-duplication, sorting and limits: indices into the
/// caller's slice, in key order. Built on the stack; the record path never allocates for it.
pub(crate) struct Sorted {
    idx: [u8; MAX_ATTRS_PER_CALL],
    len: usize,
    /// What had to change.
    pub adj: Adjustments,
}

impl Sorted {
    /// Sorts, de-duplicates (last given wins) and limits `attrs`.
    pub fn new(attrs: &[Attr<'_>], limits: &AttrLimits) -> Sorted {
        let mut adj = Adjustments::default();
        let given = attrs.len();
        let n = given.min(MAX_ATTRS_PER_CALL);
        if given > n {
            adj.dropped += (given - n) as u32;
        }
        // Stable insertion sort of indices by key (ties keep input order): the fastest sort for
        // the handful of attributes a recording carries, and allocation-free.
        let mut idx = [0u8; MAX_ATTRS_PER_CALL];
        let mut len = 0usize;
        for (i, (k, _)) in attrs[..n].iter().enumerate() {
            if k.is_empty() || k.len() > limits.max_key_len {
                adj.dropped += 1;
                continue;
            }
            let mut j = len;
            while j > 0 && key_gt(attrs[idx[j - 1] as usize].0, k) {
                idx[j] = idx[j - 1];
                j -= 1;
            }
            idx[j] = i as u8;
            len += 1;
        }
        // Keep the last of each run of equal keys, then at most `max_attributes`.
        let mut kept = 0usize;
        let mut i = 0usize;
        while i < len {
            let mut last = i;
            while last + 1 < len && attrs[idx[last + 1] as usize].0 == attrs[idx[i] as usize].0 {
                last += 1;
            }
            adj.dropped += (last - i) as u32;
            i = last + 1;
            if kept == limits.max_attributes {
                adj.dropped += 1;
                continue;
            }
            if let AttrValue::Str(v) = attrs[idx[last] as usize].1 {
                if v.len() > limits.max_value_len {
                    adj.truncated += 1;
                }
            }
            idx[kept] = idx[last];
            kept += 1;
        }
        Sorted { idx, len: kept, adj }
    }

    /// The kept attributes in key order, string values truncated to the limit.
    #[inline]
    pub fn iter<'s, 'a>(
        &'s self,
        attrs: &'s [Attr<'a>],
        limits: &'s AttrLimits,
    ) -> impl Iterator<Item = (&'a str, AttrValue<'a>)> + 's {
        self.idx[..self.len].iter().map(move |&i| {
            let (k, v) = attrs[i as usize];
            let v = match v {
                AttrValue::Str(s) => AttrValue::Str(truncate_str(s, limits.max_value_len)),
                other => other,
            };
            (k, v)
        })
    }
}

/// Writes the canonical key of `attrs` into `out` (cleared first) and returns what had to change.
///
/// Canonical form: pairs sorted by key bytes, one per key (the last given wins), then each pair as
/// `len key tag value`.
#[cfg(test)]
pub(crate) fn canonicalize(attrs: &[Attr<'_>], limits: &AttrLimits, out: &mut Vec<u8>) -> Adjustments {
    let sorted = Sorted::new(attrs, limits);
    write_key(sorted.iter(attrs, limits), out);
    sorted.adj
}

/// Writes the canonical key of already sorted, limited pairs into `out` (cleared first).
pub(crate) fn write_key<'a>(pairs: impl Iterator<Item = (&'a str, AttrValue<'a>)>, out: &mut Vec<u8>) {
    out.clear();
    for (k, v) in pairs {
        push_len(out, k.len());
        out.extend_from_slice(k.as_bytes());
        match v {
            AttrValue::Str(s) => {
                out.push(TAG_STR);
                push_len(out, s.len());
                out.extend_from_slice(s.as_bytes());
            }
            AttrValue::I64(x) => {
                out.push(TAG_I64);
                out.extend_from_slice(&x.to_le_bytes());
            }
            AttrValue::F64(x) => {
                out.push(TAG_F64);
                out.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            AttrValue::Bool(x) => {
                out.push(TAG_BOOL);
                out.push(x as u8);
            }
        }
    }
}

/// Reads a LEB128 length from the front of `b` (at most 5 bytes; lengths here are bounded by the
/// attribute limits).
#[inline]
fn len(b: &mut &[u8]) -> Option<usize> {
    match crate::codec::varint::read(b) {
        Ok((n, used)) if used <= 5 => {
            *b = &b[used..];
            Some(n as usize)
        }
        _ => None,
    }
}

/// Splits `n` bytes off the front of `b`.
#[inline]
fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (h, t) = b.split_at_checked(n)?;
    *b = t;
    Some(h)
}

/// Reads a canonical key back into owned attributes. Only keys written by [`canonicalize`] are
/// ever passed here, so malformed input cannot occur; it still stops cleanly rather than panic.
pub(crate) fn decode_key(mut key: &[u8]) -> Vec<KeyValue> {
    fn one(b: &mut &[u8]) -> Option<KeyValue> {
        let kl = len(b)?;
        let k = core::str::from_utf8(take(b, kl)?).ok()?;
        let (&tag, rest) = b.split_first()?;
        *b = rest;
        let value = match tag {
            TAG_STR => {
                let vl = len(b)?;
                Value::Str(String::from(core::str::from_utf8(take(b, vl)?).ok()?))
            }
            TAG_I64 => Value::I64(i64::from_le_bytes(take(b, 8)?.try_into().ok()?)),
            TAG_F64 => Value::F64(f64::from_bits(u64::from_le_bytes(take(b, 8)?.try_into().ok()?))),
            TAG_BOOL => Value::Bool(take(b, 1)?[0] != 0),
            _ => return None,
        };
        Some(KeyValue { key: String::from(k), value })
    }
    let mut out = Vec::new();
    while !key.is_empty() {
        match one(&mut key) {
            Some(kv) => out.push(kv),
            None => break,
        }
    }
    out
}

/// 64-bit hash of a canonical key (FxHash-style multiply-rotate over 8-byte words). Not
/// DoS-resistant by design: the table it feeds is bounded by the cardinality limit, so a
/// collision flood can only cost probe steps within a table of at most a few thousand entries.
#[inline]
#[cfg(any(feature = "compact", test))]
pub(crate) fn hash_key(instrument: u32, key: &[u8]) -> u64 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let mut h = (instrument as u64).wrapping_mul(K);
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

/// Most attributes a recording may carry and still take the unsorted fast path.
const FAST_MAX: usize = 8;

#[inline(always)]
fn mix(h: u64, w: u64) -> u64 {
    (h ^ w).wrapping_mul(0xf135_7aea_2e62_a9c5).rotate_left(26)
}

/// Reads up to 8 bytes as a little-endian word without a `memcpy` call: two overlapping 4-byte
/// loads for 4..=8 bytes, a short loop below that. Only for hashing and equality, so the
/// overlap is harmless: the length is always compared or mixed in separately.
#[inline(always)]
fn load_small(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64;
        let hi = u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]) as u64;
        lo | (hi << 32)
    } else {
        let mut w = 0u64;
        for (i, &x) in b.iter().enumerate() {
            w |= (x as u64) << (8 * i);
        }
        w
    }
}

/// Byte equality tuned for the short strings attributes are made of (no `memcmp` call up to 16
/// bytes).
#[inline(always)]
fn eq_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n <= 8 {
        return load_small(a) == load_small(b);
    }
    if n <= 16 {
        return load_small(&a[..8]) == load_small(&b[..8]) && load_small(&a[n - 8..]) == load_small(&b[n - 8..]);
    }
    a == b
}

#[inline(always)]
fn mix_bytes(mut h: u64, b: &[u8]) -> u64 {
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        h = mix(h, u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
    }
    // The length goes into the last word so that ("ab", "c") and ("a", "bc") differ.
    mix(h, load_small(chunks.remainder()) ^ ((b.len() as u64) << 56))
}

/// Hash of one attribute pair.
#[inline]
fn pair_hash(k: &str, v: AttrValue<'_>) -> u64 {
    let h = mix_bytes(0x243f_6a88_85a3_08d3, k.as_bytes());
    let h = match v {
        AttrValue::Str(s) => mix_bytes(mix(h, TAG_STR as u64), s.as_bytes()),
        AttrValue::I64(x) => mix(mix(h, TAG_I64 as u64), x as u64),
        AttrValue::F64(x) => mix(mix(h, TAG_F64 as u64), x.to_bits()),
        AttrValue::Bool(x) => mix(h, ((TAG_BOOL as u64) << 8) | x as u64),
    };
    // Avalanche each pair before the order-independent sum below.
    let h = (h ^ (h >> 31)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^ (h >> 29)
}

/// Hash of an attribute *set* for `instrument`: the wrapping sum of the pairs' hashes, so it does
/// not depend on the order the pairs come in. The series table is keyed by it; the canonical key
/// bytes stay the identity (compared on every hit), so a collision only costs a probe step.
#[inline]
pub(crate) fn set_hash<'a>(instrument: u32, pairs: impl Iterator<Item = (&'a str, AttrValue<'a>)>) -> u64 {
    let mut sum = (instrument as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for (k, v) in pairs {
        sum = sum.wrapping_add(pair_hash(k, v));
    }
    let h = sum ^ (sum >> 32);
    let h = h.wrapping_mul(0xf135_7aea_2e62_a9c5);
    h ^ (h >> 29)
}

/// `true` when `attrs` is already canonical up to order: at most 8 pairs (and within
/// `max_attributes`), every key non-empty and within the key limit, every string value within the
/// value limit, and no key twice. Such a set needs no sorting, de-duplication or truncation to be
/// looked up, so the record path can hash and compare it as given.
#[inline]
pub(crate) fn fast_path_ok(attrs: &[Attr<'_>], limits: &AttrLimits) -> bool {
    if attrs.len() > FAST_MAX || attrs.len() > limits.max_attributes {
        return false;
    }
    for (i, (k, v)) in attrs.iter().enumerate() {
        if k.is_empty() || k.len() > limits.max_key_len {
            return false;
        }
        if let AttrValue::Str(s) = v {
            if s.len() > limits.max_value_len {
                return false;
            }
        }
        for (k2, _) in &attrs[..i] {
            // Length and first byte first: distinct keys almost always differ there.
            if eq_bytes(k2.as_bytes(), k.as_bytes()) {
                return false;
            }
        }
    }
    true
}

/// `true` when the canonical key `stored` holds exactly the pairs of `attrs` (any order; `attrs`
/// must satisfy [`fast_path_ok`], so it has no duplicate keys). Compares in place, writing nothing.
pub(crate) fn matches_unsorted(mut stored: &[u8], attrs: &[Attr<'_>]) -> bool {
    fn one(b: &mut &[u8], attrs: &[Attr<'_>]) -> Option<bool> {
        let kl = len(b)?;
        let k = take(b, kl)?;
        let tag = take(b, 1)?[0];
        let Some((_, v)) = attrs.iter().find(|(ak, _)| eq_bytes(ak.as_bytes(), k)) else {
            return Some(false);
        };
        Some(match (tag, v) {
            (TAG_STR, AttrValue::Str(s)) => {
                let vl = len(b)?;
                eq_bytes(take(b, vl)?, s.as_bytes())
            }
            (TAG_I64, AttrValue::I64(x)) => take(b, 8)? == x.to_le_bytes(),
            (TAG_F64, AttrValue::F64(x)) => take(b, 8)? == x.to_bits().to_le_bytes(),
            (TAG_BOOL, AttrValue::Bool(x)) => take(b, 1)?[0] == *x as u8,
            _ => false,
        })
    }
    let mut found = 0usize;
    while !stored.is_empty() {
        if one(&mut stored, attrs) != Some(true) {
            return false;
        }
        found += 1;
    }
    // Every stored pair is in `attrs` and neither side repeats a key: equal sets iff equal counts.
    found == attrs.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(a: &[Attr<'_>]) -> (Vec<u8>, Adjustments) {
        let mut out = Vec::new();
        let adj = canonicalize(a, &AttrLimits::default(), &mut out);
        (out, adj)
    }

    #[test]
    fn order_and_duplicates_do_not_change_identity() {
        let a = canon(&[("b", 1.into()), ("a", "x".into())]).0;
        let b = canon(&[("a", "y".into()), ("b", 1.into()), ("a", "x".into())]).0;
        assert_eq!(a, b);
        let kv = decode_key(&a);
        assert_eq!(kv, alloc::vec![KeyValue::new("a", "x"), KeyValue::new("b", 1i64)]);
    }

    #[test]
    fn limits_drop_and_truncate() {
        let limits = AttrLimits { max_attributes: 2, max_key_len: 3, max_value_len: 4 };
        let mut out = Vec::new();
        let adj = canonicalize(
            &[("c", "ééé".into()), ("toolong", 1.into()), ("a", true.into()), ("b", 2.5.into()), ("", 1.into())],
            &limits,
            &mut out,
        );
        assert_eq!(adj, Adjustments { dropped: 3, truncated: 0 });
        assert_eq!(decode_key(&out), alloc::vec![KeyValue::new("a", true), KeyValue::new("b", 2.5)]);
        let adj = canonicalize(&[("c", "ééé".into())], &limits, &mut out);
        assert_eq!(adj.truncated, 1);
        assert_eq!(decode_key(&out), alloc::vec![KeyValue::new("c", "éé")]);
    }

    #[test]
    fn fast_path_agrees_with_the_canonical_key() {
        let limits = AttrLimits::default();
        let a: [Attr<'_>; 4] = [("route", "/a".into()), ("status", 200.into()), ("ok", true.into()), ("r", 0.5.into())];
        let (key, _) = canon(&a);
        let canonical_hash = set_hash(7, Sorted::new(&a, &limits).iter(&a, &limits));
        // Every order hashes the same and matches the stored canonical key.
        let mut b = a;
        for rot in 0..4 {
            b.rotate_left(1);
            assert!(fast_path_ok(&b, &limits), "rotation {rot}");
            assert_eq!(set_hash(7, b.iter().copied()), canonical_hash);
            assert!(matches_unsorted(&key, &b));
        }
        // A different value, a missing or an extra pair, or a changed type never matches.
        assert!(!matches_unsorted(
            &key,
            &[("route", "/b".into()), ("status", 200.into()), ("ok", true.into()), ("r", 0.5.into())]
        ));
        assert!(!matches_unsorted(&key, &a[..3]));
        assert!(!matches_unsorted(
            &key,
            &[("route", "/a".into()), ("status", "200".into()), ("ok", true.into()), ("r", 0.5.into())]
        ));
        let mut five = a.to_vec();
        five.push(("x", 1.into()));
        assert!(!matches_unsorted(&key, &five));
        // Duplicates, empty or over-long keys and over-long values take the canonicalizing path.
        assert!(!fast_path_ok(&[("a", 1.into()), ("a", 2.into())], &limits));
        assert!(!fast_path_ok(&[("", 1.into())], &limits));
        let long = "v".repeat(limits.max_value_len + 1);
        assert!(!fast_path_ok(&[("a", long.as_str().into())], &limits));
        assert_ne!(set_hash(7, a.iter().copied()), set_hash(8, a.iter().copied()));
    }

    #[test]
    fn short_byte_equality() {
        for (x, y) in
            [("", ""), ("a", "a"), ("abcd", "abcd"), ("abcdefgh", "abcdefgh"), ("abcdefghijkl", "abcdefghijkl")]
        {
            assert!(eq_bytes(x.as_bytes(), y.as_bytes()));
        }
        for (x, y) in [
            ("a", "b"),
            ("abcd", "abce"),
            ("abcde", "xbcde"),
            ("abcdefghi", "abcdefghj"),
            ("abcdefghijkl", "abcdXfghijkl"),
            ("ab", "abc"),
        ] {
            assert!(!eq_bytes(x.as_bytes(), y.as_bytes()), "{x} {y}");
        }
    }

    #[test]
    fn hash_depends_on_instrument_and_key() {
        assert_ne!(hash_key(0, b"abc"), hash_key(1, b"abc"));
        assert_ne!(hash_key(0, b"abc"), hash_key(0, b"abd"));
        assert_ne!(hash_key(0, b""), hash_key(0, b"\0"));
    }
}
