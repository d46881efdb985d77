//! LEB128 varints, the one writer and the one reader every format uses (protobuf, the snappy
//! length preamble, the compact format, the registry's canonical attribute keys).

use alloc::vec::Vec;

/// Why [`read`] refused its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bad {
    /// The input ended inside the varint.
    Truncated,
    /// The tenth byte carries more than the top bit of a `u64` (or continues).
    Overflow,
}

/// Appends `v` as a varint (1 to 10 bytes).
#[inline]
pub(crate) fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Number of bytes `v` takes as a varint.
#[cfg(any(feature = "otlp", feature = "remote-write", test))]
#[inline]
pub(crate) fn len(v: u64) -> usize {
    // 1 byte per 7 significant bits, at least one.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Reads a varint from the front of `b`: the value and the bytes it took.
#[inline]
pub(crate) fn read(b: &[u8]) -> Result<(u64, usize), Bad> {
    // One byte: the common case (attribute key lengths, field tags, small counts).
    if let Some(&x) = b.first() {
        if x < 0x80 {
            return Ok((u64::from(x), 1));
        }
    }
    let mut v = 0u64;
    for i in 0..10 {
        let Some(&x) = b.get(i) else { return Err(Bad::Truncated) };
        if i == 9 && x > 1 {
            return Err(Bad::Overflow);
        }
        v |= u64::from(x & 0x7f) << (7 * i);
        if x & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    // Unreachable: the tenth byte either ends the varint or is refused above.
    Err(Bad::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_length() {
        for v in [0, 1, 127, 128, 300, 16_383, 16_384, u32::MAX as u64, u64::MAX - 1, u64::MAX] {
            let mut out = Vec::new();
            put(&mut out, v);
            assert_eq!(out.len(), len(v));
            assert_eq!(read(&out), Ok((v, out.len())));
            assert_eq!(read(&out[..out.len() - 1]), Err(Bad::Truncated));
        }
        assert_eq!(read(&[0xff; 9].iter().copied().chain([2]).collect::<Vec<_>>()), Err(Bad::Overflow));
        assert_eq!(read(&[0x80; 11]), Err(Bad::Overflow));
    }
}
