//! A minimal protobuf writer (and a bounds-checked reader for small responses), shared by the OTLP
//! and remote-write encoders. Hand-written so the wasm carries no code generator or runtime.
//!
//! Nested messages are written in place: [`Writer::begin`] emits the tag and a one-byte length
//! placeholder, [`Writer::end`] patches in the real length and, only when that length needs more
//! than one varint byte, shifts the message body right. Output is canonical protobuf (minimal
//! varints), so it is byte-for-byte what a generated encoder produces for the same field order.

use alloc::vec::Vec;

/// Wire type: varint.
pub const VARINT: u32 = 0;
/// Wire type: 64-bit little-endian.
pub const I64: u32 = 1;
/// Wire type: length-delimited.
pub const LEN: u32 = 2;
/// Wire type: 32-bit little-endian.
pub const I32: u32 = 5;

/// Appends protobuf fields to a byte vector.
#[derive(Debug, Default)]
pub struct Writer {
    /// The encoded bytes.
    pub buf: Vec<u8>,
}

/// Number of bytes `v` takes as a varint.
#[inline]
pub fn varint_len(v: u64) -> usize {
    super::varint::len(v)
}

impl Writer {
    /// An empty writer with room for `cap` bytes.
    pub fn with_capacity(cap: usize) -> Self {
        Writer { buf: Vec::with_capacity(cap) }
    }

    /// Appends a raw varint.
    #[inline]
    pub fn varint(&mut self, v: u64) {
        super::varint::put(&mut self.buf, v);
    }

    /// Appends a field key.
    #[inline]
    pub fn tag(&mut self, field: u32, wire: u32) {
        self.varint(((field << 3) | wire) as u64);
    }

    /// `uint64`/`int64`/`enum`/`bool` field (skipped when zero, proto3 default).
    #[inline]
    pub fn uint64(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.tag(field, VARINT);
            self.varint(v);
        }
    }

    /// `int64` field (two's complement varint; skipped when zero).
    #[inline]
    pub fn int64(&mut self, field: u32, v: i64) {
        self.uint64(field, v as u64)
    }

    /// `bool` field (skipped when false).
    #[inline]
    pub fn bool(&mut self, field: u32, v: bool) {
        self.uint64(field, v as u64)
    }

    /// `fixed64` field (skipped when zero).
    #[inline]
    pub fn fixed64(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.tag(field, I64);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// `double` field, always written (used where presence matters, e.g. `optional double`).
    #[inline]
    pub fn double_always(&mut self, field: u32, v: f64) {
        self.tag(field, I64);
        self.buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    /// `double` field (skipped when +0.0, proto3 default).
    #[inline]
    pub fn double(&mut self, field: u32, v: f64) {
        if v.to_bits() != 0 {
            self.double_always(field, v);
        }
    }

    /// `string`/`bytes` field (skipped when empty).
    #[inline]
    pub fn bytes(&mut self, field: u32, v: &[u8]) {
        if !v.is_empty() {
            self.bytes_always(field, v);
        }
    }

    /// `string`/`bytes` field, written even when empty (for elements of `repeated` or `oneof`).
    #[inline]
    pub fn bytes_always(&mut self, field: u32, v: &[u8]) {
        self.tag(field, LEN);
        self.varint(v.len() as u64);
        self.buf.extend_from_slice(v);
    }

    /// `string` field (skipped when empty).
    #[inline]
    pub fn string(&mut self, field: u32, v: &str) {
        self.bytes(field, v.as_bytes())
    }

    /// Packed `repeated fixed64` (skipped when empty).
    pub fn packed_fixed64(&mut self, field: u32, vs: impl ExactSizeIterator<Item = u64>) {
        if vs.len() == 0 {
            return;
        }
        self.tag(field, LEN);
        self.varint(vs.len() as u64 * 8);
        for v in vs {
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// Packed `repeated double` (skipped when empty).
    pub fn packed_double(&mut self, field: u32, vs: &[f64]) {
        self.packed_fixed64(field, vs.iter().map(|v| v.to_bits()))
    }

    /// Starts an embedded message in `field`; pass the result to [`Writer::end`].
    #[inline]
    pub fn begin(&mut self, field: u32) -> usize {
        self.tag(field, LEN);
        self.buf.push(0);
        self.buf.len()
    }

    /// Finishes the embedded message started at `start` (always written, even when empty).
    #[inline]
    pub fn end(&mut self, start: usize) {
        let len = self.buf.len() - start;
        let n = varint_len(len as u64);
        if n == 1 {
            self.buf[start - 1] = len as u8;
            return;
        }
        // Make room for the longer length prefix and move the body right.
        let extra = n - 1;
        self.buf.resize(self.buf.len() + extra, 0);
        self.buf.copy_within(start..start + len, start + extra);
        let mut v = len as u64;
        let mut i = start - 1;
        while v >= 0x80 {
            self.buf[i] = (v as u8) | 0x80;
            v >>= 7;
            i += 1;
        }
        self.buf[i] = v as u8;
    }
}

/// A bounds-checked protobuf reader: every method returns `None` on malformed input.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    /// The unread input.
    pub rest: &'a [u8],
}

/// One field value as read by [`Reader::field`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// Varint.
    Varint(u64),
    /// 64-bit.
    I64(u64),
    /// Length-delimited.
    Len(&'a [u8]),
    /// 32-bit.
    I32(u32),
}

impl<'a> Reader<'a> {
    /// A reader over `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Reader { rest: b }
    }

    /// Reads a varint (at most 10 bytes).
    pub fn varint(&mut self) -> Option<u64> {
        let (v, n) = super::varint::read(self.rest).ok()?;
        self.rest = &self.rest[n..];
        Some(v)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (h, t) = self.rest.split_at(n);
        self.rest = t;
        Some(h)
    }

    /// Reads the next field: `Some(Some((number, value)))`, `Some(None)` at the end of input,
    /// `None` when malformed.
    pub fn field(&mut self) -> Option<Option<(u32, FieldValue<'a>)>> {
        if self.rest.is_empty() {
            return Some(None);
        }
        let key = self.varint()?;
        let field = u32::try_from(key >> 3).ok()?;
        let v = match (key & 7) as u32 {
            VARINT => FieldValue::Varint(self.varint()?),
            I64 => FieldValue::I64(u64::from_le_bytes(self.take(8)?.try_into().ok()?)),
            LEN => {
                let n = usize::try_from(self.varint()?).ok()?;
                FieldValue::Len(self.take(n)?)
            }
            I32 => FieldValue::I32(u32::from_le_bytes(self.take(4)?.try_into().ok()?)),
            _ => return None,
        };
        Some(Some((field, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_lengths_are_canonical() {
        for len in [0usize, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            let mut w = Writer::default();
            let m = w.begin(1);
            w.buf.extend(core::iter::repeat_n(7u8, len));
            w.end(m);
            let mut r = Reader::new(&w.buf);
            match r.field() {
                Some(Some((1, FieldValue::Len(b)))) => assert_eq!(b.len(), len),
                other => panic!("{other:?}"),
            }
            assert_eq!(w.buf.len(), 1 + varint_len(len as u64) + len);
        }
    }

    #[test]
    fn varint_len_matches_encoding() {
        for v in [0u64, 1, 127, 128, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let mut w = Writer::default();
            w.varint(v);
            assert_eq!(w.buf.len(), varint_len(v), "{v}");
            assert_eq!(Reader::new(&w.buf).varint(), Some(v));
        }
    }
}
