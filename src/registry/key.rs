//! Series identity: how a recording's attribute slice becomes the canonical key and set hash that
//! name one series of an instrument in the series table.
//!
//! It lives in the registry, not in [`crate::attr`], because nothing outside the registry needs it:
//! `attr` holds the public attribute types a caller builds, this module the private byte form the
//! table stores and the hashes it probes with.
//!
//! - **Canonical key**: pairs de-duplicated (the last given wins), sorted by key bytes, limited by
//!   [`AttrLimits`], each written as `len key tag value`. It is the identity: compared on every
//!   table hit, and decoded once, when a series is first collected (not on the record path that
//!   creates it), into the owned [`KeyValue`]s a batch carries.
//! - **Set hash**: an order-independent hash of the pairs, so that a recording whose set is already
//!   canonical up to order ([`fast_order`]) is hashed as given and compared with the stored key in
//!   key order ([`matches_in_order`]), with no writing.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cmp::Ordering;

// Inlining: natively (opt-level 3) the small helpers of the record path are inlined into its
// one fast path; in the size-optimized wasm that is left to the compiler, because forced inlining
// there copies them into the canonical path as well (+0.5 KB gzip measured on the core module).

use crate::attr::truncate_str;
use crate::attr::{Attr, AttrLimits, AttrValue, Attributes, KeyValue, MAX_ATTRS_PER_CALL};

/// What canonicalization had to change (each counted by the registry).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Adjustments {
    /// Attributes dropped: over the count limit, key too long or empty.
    pub dropped: u32,
    /// String values truncated.
    pub truncated: u32,
}

const TAG_STR: u8 = 0;
const TAG_I64: u8 = 1;
const TAG_F64: u8 = 2;
const TAG_BOOL: u8 = 3;

fn push_len(out: &mut Vec<u8>, n: usize) {
    // Lengths are bounded by the limits, so this is at most 3 bytes in practice.
    crate::codec::varint::put(out, n as u64);
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
    /// Sorts, de-duplicates (last given wins) and limits `attrs`: at most [`MAX_ATTRS_PER_CALL`]
    /// pairs (the indices are bytes). A longer call is first reduced by [`SmallestKeys`], which
    /// keeps the result independent of the order given; the cut below is only a fence.
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
            while j > 0 && key_cmp(attrs[idx[j - 1] as usize].0.as_bytes(), k.as_bytes()) == Ordering::Greater {
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
    #[cfg(test)]
    pub fn iter<'s, 'a>(
        &'s self,
        attrs: &'s [Attr<'a>],
        limits: &'s AttrLimits,
    ) -> impl Iterator<Item = (&'a str, AttrValue<'a>)> + 's {
        in_order(self.order(), attrs, limits)
    }

    /// Indices of the kept attributes in key order (see [`in_order`]).
    #[inline(always)]
    pub fn order(&self) -> &[u8] {
        &self.idx[..self.len]
    }
}

/// Out of any number of pairs offered one at a time, the ones [`Sorted`] can keep whatever the
/// order given: the [`MAX_ATTRS_PER_CALL`] smallest keys (bytes), each with the last value offered
/// for it, in no particular order ([`Sorted`] sorts them). The registry reduces a recording of
/// more pairs with it (after leaving out invalid keys); a host that decodes pairs one at a time
/// (the JS bindings) reduces them with it before the registry sees them.
///
/// A bounded working set on the stack, whatever the number of pairs: each pair is compared with
/// at most [`MAX_ATTRS_PER_CALL`] kept ones, twice. Once the set is full, a new key replaces the
/// largest one when it is smaller, and is dropped otherwise. The largest key of a full set only
/// decreases, so a key dropped or replaced once never comes back, and a key still in the set has
/// been there since its first pair: its later pairs replace its value (the last one wins). Plain
/// scans, no sort: this is not the record path's common case, and it stays small in the wasm
/// module.
#[doc(hidden)]
pub struct SmallestKeys<'a> {
    pairs: [Attr<'a>; MAX_ATTRS_PER_CALL],
    len: usize,
    offered: u64,
}

impl<'a> Default for SmallestKeys<'a> {
    fn default() -> Self {
        SmallestKeys { pairs: [("", AttrValue::Bool(false)); MAX_ATTRS_PER_CALL], len: 0, offered: 0 }
    }
}

impl<'a> SmallestKeys<'a> {
    /// Offers one pair.
    #[inline(never)]
    pub fn push(&mut self, (k, v): Attr<'a>) {
        self.offered += 1;
        // Checked (never `None` here): no slice-index panic in the wasm module.
        let (set, rest) = self.pairs.split_at_mut_checked(self.len).unwrap_or_default();
        if let Some(b) = set.iter_mut().find(|b| b.0 == k) {
            // A repeated key: the last one given wins.
            b.1 = v;
        } else if let Some(free) = rest.first_mut() {
            *free = (k, v);
            self.len += 1;
        } else if let Some(max) = set.iter_mut().max_by(|a, b| key_cmp(a.0.as_bytes(), b.0.as_bytes())) {
            if key_cmp(max.0.as_bytes(), k.as_bytes()) == Ordering::Greater {
                *max = (k, v);
            }
        }
    }

    /// The pairs kept so far (at most [`MAX_ATTRS_PER_CALL`], distinct keys, in no order).
    pub fn pairs(&self) -> &[Attr<'a>] {
        self.pairs.get(..self.len).unwrap_or_default()
    }

    /// How many pairs offered are not kept: each repeated or displaced pair, once.
    pub fn dropped(&self) -> u64 {
        self.offered - self.len as u64
    }

    /// The reduction of a recording of more than [`MAX_ATTRS_PER_CALL`] pairs: its valid keys
    /// (non-empty, at most `max_key_len` bytes) offered in order, and how many pairs of `attrs`
    /// are not kept (invalid, repeated or displaced), each counted once.
    pub(crate) fn of_valid(attrs: &[Attr<'a>], max_key_len: usize) -> (Self, u32) {
        let mut few = SmallestKeys::default();
        for &(k, v) in attrs.iter().filter(|(k, _)| !k.is_empty() && k.len() <= max_key_len) {
            few.push((k, v));
        }
        let dropped = (attrs.len() - few.len) as u32;
        (few, dropped)
    }
}

/// `attrs` taken in the order `idx`, string values truncated to the limit: [`Sorted`] and
/// [`FastOrder`] share it, so one copy of [`write_key`] serves both.
#[inline]
pub(crate) fn in_order<'s, 'a>(
    idx: &'s [u8],
    attrs: &'s [Attr<'a>],
    limits: &'s AttrLimits,
) -> impl Iterator<Item = (&'a str, AttrValue<'a>)> + 's {
    idx.iter().map(move |&i| {
        let (k, v) = attrs[i as usize];
        let v = match v {
            AttrValue::Str(s) => AttrValue::Str(truncate_str(s, limits.max_value_len)),
            other => other,
        };
        (k, v)
    })
}

/// Writes the canonical key of `attrs` into `out` (cleared first) and returns what had to change.
///
/// Canonical form: pairs sorted by key bytes, one per key (the last given wins), then each pair as
/// `len key tag value`.
#[cfg(test)]
pub(crate) fn canonicalize(attrs: &[Attr<'_>], limits: &AttrLimits, out: &mut Vec<u8>) -> Adjustments {
    // As the table does: a call past MAX_ATTRS_PER_CALL pairs is reduced first.
    let few;
    let (attrs, before) = if attrs.len() > MAX_ATTRS_PER_CALL {
        let dropped;
        (few, dropped) = SmallestKeys::of_valid(attrs, limits.max_key_len);
        (few.pairs(), dropped)
    } else {
        (attrs, 0)
    };
    let mut sorted = Sorted::new(attrs, limits);
    sorted.adj.dropped += before;
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

/// Bytes of a canonical key a series keeps inside itself: what fills a series out to three cache
/// lines (2–3 short attributes). A hit then compares the key with no further memory load; longer
/// keys live on the heap.
const INLINE_KEY: usize = 70;

/// The canonical key a series is identified by.
pub(crate) enum StoredKey {
    /// Up to [`INLINE_KEY`] bytes, in place.
    Inline { len: u8, bytes: [u8; INLINE_KEY] },
    /// A longer key.
    Heap(Box<[u8]>),
}

impl StoredKey {
    /// Keeps `key`: in place when it fits.
    pub fn new(key: &[u8]) -> StoredKey {
        let mut bytes = [0u8; INLINE_KEY];
        match bytes.get_mut(..key.len()) {
            Some(b) => {
                b.copy_from_slice(key);
                StoredKey::Inline { len: key.len() as u8, bytes }
            }
            None => StoredKey::Heap(key.into()),
        }
    }

    /// An empty key (a free slot's), holding no memory.
    pub fn empty() -> StoredKey {
        StoredKey::Heap(Box::default())
    }

    /// The key bytes.
    #[inline(always)]
    pub fn bytes(&self) -> &[u8] {
        match self {
            StoredKey::Inline { len, bytes } => bytes.get(..*len as usize).unwrap_or_default(),
            StoredKey::Heap(b) => b,
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

/// One pair of a canonical key, borrowed: `None` at a malformed pair (cannot occur for a key
/// [`write_key`] wrote; decoding then stops cleanly rather than panic).
fn key_pair<'a>(b: &mut &'a [u8]) -> Option<(&'a str, AttrValue<'a>)> {
    let kl = len(b)?;
    let k = core::str::from_utf8(take(b, kl)?).ok()?;
    let (&tag, rest) = b.split_first()?;
    *b = rest;
    let value = match tag {
        TAG_STR => {
            let vl = len(b)?;
            AttrValue::Str(core::str::from_utf8(take(b, vl)?).ok()?)
        }
        TAG_I64 => AttrValue::I64(i64::from_le_bytes(take(b, 8)?.try_into().ok()?)),
        TAG_F64 => AttrValue::F64(f64::from_bits(u64::from_le_bytes(take(b, 8)?.try_into().ok()?))),
        TAG_BOOL => AttrValue::Bool(take(b, 1)?[0] != 0),
        _ => return None,
    };
    Some((k, value))
}

/// Reads a canonical key back into owned attributes. Only keys written by [`canonicalize`] are
/// ever passed here, so malformed input cannot occur; it still stops cleanly rather than panic (the
/// pairs before it are kept).
pub(crate) fn decode_key(mut key: &[u8]) -> Attributes {
    let mut out = Vec::new();
    while !key.is_empty() {
        match key_pair(&mut key) {
            Some((k, v)) => out.push(KeyValue::new(k, v)),
            None => break,
        }
    }
    out.into()
}

/// Most attributes a recording may carry and still take the fast path.
const FAST_MAX: usize = 8;

#[inline(always)]
fn mix(h: u64, w: u64) -> u64 {
    (h ^ w).wrapping_mul(0xf135_7aea_2e62_a9c5).rotate_left(26)
}

/// Reads up to 8 bytes as one word without a `memcpy` call or a loop: two overlapping 4-byte loads
/// for 4..=8 bytes, three byte loads below that. Only for hashing and equality, so the overlap is
/// harmless: the length is always compared or mixed in separately.
#[inline(always)]
fn load_small(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        let lo = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64;
        let hi = u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]) as u64;
        lo | (hi << 32)
    } else if n > 0 {
        // First, middle and last byte: distinct for distinct strings of one length 1..=3.
        (b[0] as u64) | ((b[n / 2] as u64) << 8) | ((b[n - 1] as u64) << 16)
    } else {
        0
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

/// Byte order of two keys (the order of the canonical key) without a `memcmp` call: distinct
/// attribute keys almost always differ in their first bytes.
#[cfg_attr(target_arch = "wasm32", inline)]
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn key_cmp(a: &[u8], b: &[u8]) -> Ordering {
    if let (Some(x), Some(y)) = (a.first(), b.first()) {
        if x != y {
            return x.cmp(y);
        }
    }
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// One word standing for `b`: up to 8 bytes are the word itself (no multiply), longer strings
/// one multiply per 8 bytes. The length is mixed in, so that ("ab", "c") and ("a", "bc") differ.
#[cfg_attr(target_arch = "wasm32", inline)]
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn fold(b: &[u8]) -> u64 {
    if b.len() <= 8 {
        return load_small(b) ^ ((b.len() as u64) << 56);
    }
    let mut h = 0x243f_6a88_85a3_08d3;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        h = mix(h, u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
    }
    mix(h, load_small(chunks.remainder()) ^ ((b.len() as u64) << 56))
}

/// Hash of one attribute pair: two dependent multiplies for short keys and values. For a given
/// key, distinct value words never collide (xor with a constant, then a multiply by an odd
/// constant, are bijections); the type's constant keeps `"x"` and an integer with the same bytes
/// apart.
#[cfg_attr(target_arch = "wasm32", inline)]
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn pair_hash(k: &str, v: AttrValue<'_>) -> u64 {
    let w = match v {
        AttrValue::Str(s) => fold(s.as_bytes()),
        AttrValue::I64(x) => x as u64 ^ 0x1319_8a2e_0370_7344,
        AttrValue::F64(x) => x.to_bits() ^ 0xa409_3822_299f_31d0,
        AttrValue::Bool(x) => x as u64 ^ 0x082e_fa98_ec4e_6c89,
    };
    let h = (fold(k.as_bytes()).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ w).wrapping_mul(0xf135_7aea_2e62_a9c5);
    // The high half down, before the order-independent sum below.
    h ^ (h >> 32)
}

/// Hash of an attribute *set* for `instrument`: the wrapping sum of the pairs' hashes, so it does
/// not depend on the order the pairs come in. The series table is keyed by it; the canonical key
/// bytes stay the identity (compared on every hit), so a collision only costs a probe step.
#[inline]
pub(crate) fn set_hash<'a>(instrument: u32, pairs: impl Iterator<Item = (&'a str, AttrValue<'a>)>) -> u64 {
    let mut sum = hash_seed(instrument);
    for (k, v) in pairs {
        sum = sum.wrapping_add(pair_hash(k, v));
    }
    hash_finish(sum)
}

#[inline(always)]
fn hash_seed(instrument: u32) -> u64 {
    (instrument as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

#[inline(always)]
fn hash_finish(sum: u64) -> u64 {
    let h = sum ^ (sum >> 32);
    let h = h.wrapping_mul(0xf135_7aea_2e62_a9c5);
    h ^ (h >> 29)
}

/// The key order of a recording's attributes whose set is already canonical up to order: at
/// most 8 pairs (and within `max_attributes`), every key non-empty and within the key limit, every
/// string value within the value limit, and no key twice.
pub(crate) struct FastOrder {
    idx: [u8; FAST_MAX],
    len: usize,
    /// The set hash ([`set_hash`]), computed in the same pass.
    pub hash: u64,
}

impl FastOrder {
    /// Indices of the caller's attributes in key order: for such a set also the canonical order
    /// (nothing to de-duplicate or truncate), so [`in_order`] of it writes the canonical key.
    #[inline(always)]
    pub fn order(&self) -> &[u8] {
        &self.idx[..self.len]
    }
}

/// The [`FastOrder`] of `attrs` (recorded into `instrument`), or `None` when the set needs the
/// canonicalizing path ([`Sorted`]). Such a set needs no de-duplication or truncation, so the
/// record path hashes it as given and compares it with a stored key in this order
/// ([`matches_in_order`]), writing nothing. One pass checks the limits, hashes, and insertion-sorts
/// (which finds any repeated key).
#[inline]
pub(crate) fn fast_order(instrument: u32, attrs: &[Attr<'_>], limits: &AttrLimits) -> Option<FastOrder> {
    if attrs.len() > FAST_MAX || attrs.len() > limits.max_attributes {
        return None;
    }
    let mut idx = [0u8; FAST_MAX];
    let mut sum = hash_seed(instrument);
    for (i, &(k, v)) in attrs.iter().enumerate() {
        if k.is_empty() || k.len() > limits.max_key_len {
            return None;
        }
        if let AttrValue::Str(s) = v {
            if s.len() > limits.max_value_len {
                return None;
            }
        }
        sum = sum.wrapping_add(pair_hash(k, v));
        let mut j = i;
        while j > 0 {
            match key_cmp(attrs[idx[j - 1] as usize].0.as_bytes(), k.as_bytes()) {
                Ordering::Greater => {
                    idx[j] = idx[j - 1];
                    j -= 1;
                }
                // Equal keys meet here: all greater ones were moved past.
                Ordering::Equal => return None,
                Ordering::Less => break,
            }
        }
        idx[j] = i as u8;
    }
    Some(FastOrder { idx, len: attrs.len(), hash: hash_finish(sum) })
}

/// `b` after its leading `len bytes` field, when that field holds `s`.
#[cfg_attr(target_arch = "wasm32", inline)]
#[cfg_attr(not(target_arch = "wasm32"), inline(always))]
fn strip<'b>(b: &'b [u8], s: &[u8]) -> Option<&'b [u8]> {
    let n = s.len();
    let rest = match b.split_first() {
        // One length byte: every key and value shorter than 128 bytes.
        Some((&l, rest)) if l < 0x80 => {
            if l as usize != n {
                return None;
            }
            rest
        }
        _ => {
            let mut rest = b;
            if len(&mut rest)? != n {
                return None;
            }
            rest
        }
    };
    let (h, t) = rest.split_at_checked(n)?;
    if eq_bytes(h, s) {
        Some(t)
    } else {
        None
    }
}

/// `b` after its leading 8 bytes, when they are `w` (little-endian).
#[inline(always)]
fn strip_word(b: &[u8], w: u64) -> Option<&[u8]> {
    let (h, t) = b.split_first_chunk::<8>()?;
    if u64::from_le_bytes(*h) == w {
        Some(t)
    } else {
        None
    }
}

/// `true` when the canonical key `stored` holds exactly the pairs of `attrs` (taken in `order`,
/// the key order). Compares in place, pair by pair, writing nothing.
#[cfg_attr(not(target_arch = "wasm32"), inline)]
pub(crate) fn matches_in_order(stored: &[u8], attrs: &[Attr<'_>], order: &FastOrder) -> bool {
    let mut b = stored;
    for &i in &order.idx[..order.len] {
        let Some(&(k, v)) = attrs.get(i as usize) else { return false };
        let Some((&tag, rest)) = strip(b, k.as_bytes()).and_then(|r| r.split_first()) else { return false };
        let rest = match (tag, v) {
            (TAG_STR, AttrValue::Str(s)) => strip(rest, s.as_bytes()),
            (TAG_I64, AttrValue::I64(x)) => strip_word(rest, x as u64),
            (TAG_F64, AttrValue::F64(x)) => strip_word(rest, x.to_bits()),
            (TAG_BOOL, AttrValue::Bool(x)) => match rest.split_first() {
                Some((&y, t)) if y == x as u8 => Some(t),
                _ => None,
            },
            _ => None,
        };
        match rest {
            Some(r) => b = r,
            None => return false,
        }
    }
    // Every pair of `attrs` was next in `stored`: equal sets iff nothing is left.
    b.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;

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
        assert_eq!(*kv, [KeyValue::new("a", "x"), KeyValue::new("b", 1i64)]);
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
        assert_eq!(*decode_key(&out), [KeyValue::new("a", true), KeyValue::new("b", 2.5)]);
        let adj = canonicalize(&[("c", "ééé".into())], &limits, &mut out);
        assert_eq!(adj.truncated, 1);
        assert_eq!(*decode_key(&out), [KeyValue::new("c", "éé")]);
    }

    /// Past [`MAX_ATTRS_PER_CALL`] pairs: the smallest keys, whatever the order, under any
    /// `max_attributes` (below or above the cap), every pair not kept counted once.
    #[test]
    fn past_the_per_call_cap_the_smallest_keys_are_kept_whatever_the_order() {
        let names: Vec<String> = (0..70).rev().map(|i| format!("k{i:02}")).collect();
        let mut attrs: Vec<Attr<'_>> = names.iter().map(|k| (k.as_str(), 1.into())).collect();
        attrs.push(("k00", 2.into())); // a repeat given after the 64th pair: the last value wins
        attrs.push(("", 1.into()));
        for max_attributes in [3, 64, 100] {
            let limits = AttrLimits { max_attributes, ..AttrLimits::default() };
            let kept = max_attributes.min(MAX_ATTRS_PER_CALL);
            let want: Vec<KeyValue> =
                (0..kept).map(|i| KeyValue::new(&format!("k{i:02}"), if i == 0 { 2i64 } else { 1 })).collect();
            let mut out = Vec::new();
            let adj = canonicalize(&attrs, &limits, &mut out);
            assert_eq!(*decode_key(&out), *want, "max_attributes {max_attributes}");
            assert_eq!(adj, Adjustments { dropped: (72 - kept) as u32, truncated: 0 });
            let mut rev = Vec::new();
            let mut reversed = attrs.clone();
            reversed.reverse();
            canonicalize(&reversed, &limits, &mut rev);
            // Reversed, k00's first pair (value 1) is now its last.
            assert_eq!(decode_key(&rev)[1..], want[1..]);
            assert_eq!(decode_key(&rev)[0], KeyValue::new("k00", 1i64));
        }
    }

    /// `matches_in_order` for a set that takes the fast path.
    fn matches(key: &[u8], a: &[Attr<'_>]) -> bool {
        let order = fast_order(7, a, &AttrLimits::default()).expect("fast path");
        assert_eq!(order.hash, set_hash(7, a.iter().copied()));
        matches_in_order(key, a, &order)
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
            assert!(fast_order(7, &b, &limits).is_some(), "rotation {rot}");
            assert_eq!(set_hash(7, b.iter().copied()), canonical_hash);
            assert!(matches(&key, &b));
        }
        b.reverse();
        assert!(matches(&key, &b));
        // The fast order's pairs write the canonical key (a new series created from the fast path).
        let mut written = Vec::new();
        write_key(in_order(fast_order(7, &b, &limits).expect("fast path").order(), &b, &limits), &mut written);
        assert_eq!(written, key);
        // A different value, a missing or an extra pair, or a changed type never matches.
        assert!(!matches(
            &key,
            &[("route", "/b".into()), ("status", 200.into()), ("ok", true.into()), ("r", 0.5.into())]
        ));
        assert!(!matches(&key, &a[..3]));
        assert!(!matches(
            &key,
            &[("route", "/a".into()), ("status", "200".into()), ("ok", true.into()), ("r", 0.5.into())]
        ));
        assert!(!matches(
            &key,
            &[("route", "/a".into()), ("status", 200.into()), ("ok", true.into()), ("s", 0.5.into())]
        ));
        let mut five = a.to_vec();
        five.push(("x", 1.into()));
        assert!(!matches(&key, &five));
        five.insert(0, ("a", 1.into()));
        five.truncate(4);
        assert!(!matches(&key, &five));
        // Duplicates (wherever they stand), empty or over-long keys, over-long values and more
        // than 8 pairs take the canonicalizing path.
        assert!(fast_order(7, &[("a", 1.into()), ("a", 2.into())], &limits).is_none());
        assert!(fast_order(7, &[("b", 1.into()), ("a", 1.into()), ("c", 1.into()), ("b", 2.into())], &limits).is_none());
        assert!(
            fast_order(7, &[("ab", 1.into()), ("a", 1.into()), ("abc", 1.into()), ("a", 2.into())], &limits).is_none()
        );
        assert!(fast_order(7, &[("", 1.into())], &limits).is_none());
        let long = "v".repeat(limits.max_value_len + 1);
        assert!(fast_order(7, &[("a", long.as_str().into())], &limits).is_none());
        let nine: Vec<alloc::string::String> = (0..9).map(|i| alloc::format!("k{i}")).collect();
        let nine: Vec<Attr<'_>> = nine.iter().map(|k| (k.as_str(), 1.into())).collect();
        assert!(fast_order(7, &nine, &limits).is_none());
        assert!(fast_order(7, &nine[..8], &limits).is_some());
        assert_ne!(set_hash(7, a.iter().copied()), set_hash(8, a.iter().copied()));
    }

    #[test]
    fn fast_order_is_the_canonical_order() {
        // Keys sharing prefixes, a prefix of another key, bytes above 0x7f: the fast path's order
        // is the byte order the canonical key is written in.
        let keys = ["région", "route", "r", "ro", "rout", "routes", "z", "a\u{0}", "a", "\u{7f}", "é"];
        let a: Vec<Attr<'_>> = keys.iter().map(|k| (*k, AttrValue::I64(k.len() as i64))).collect();
        let (key, _) = canon(&a[..8]);
        assert!(matches(&key, &a[..8]));
        let (key, _) = canon(&a[3..]);
        assert!(matches(&key, &a[3..]));
        let mut rev = a[3..].to_vec();
        rev.reverse();
        assert!(matches(&key, &rev));
    }

    #[test]
    fn pair_hashes_keep_types_and_lengths_apart() {
        let h = |v: AttrValue<'_>| set_hash(0, [("k", v)].into_iter());
        let all = [
            h("".into()),
            h("\u{0}".into()),
            h("1".into()),
            h(1.into()),
            h(1.0.into()),
            h(true.into()),
            h(false.into()),
            h(0.into()),
            h(0.0.into()),
            h("abcdefgh".into()),
            h("abcdefghi".into()),
            h("abcdefgh\u{0}".into()),
        ];
        for (i, x) in all.iter().enumerate() {
            for y in &all[i + 1..] {
                assert_ne!(x, y);
            }
        }
        assert_ne!(set_hash(0, [("ab", "c".into())].into_iter()), set_hash(0, [("a", "bc".into())].into_iter()));
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
}
