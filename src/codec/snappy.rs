//! Snappy **block** format: the compression Prometheus remote write requires.
//!
//! Remote write bodies use the raw block format, not the framed ("streaming") format with its
//! `sNaPpY` stream identifier and CRCs. A block is:
//!
//! ```text
//! varint(uncompressed length)  element*
//! element = literal | copy
//!   tag & 3 == 0  literal: length-1 in tag>>2 when < 60, else in the next 1..4 bytes (LE),
//!                 followed by the bytes themselves
//!   tag & 3 == 1  copy, 1-byte offset: length 4..11 in bits 2..4, offset 11 bits
//!                 (bits 5..7 of the tag are the high 3 bits, then one byte)
//!   tag & 3 == 2  copy, 2-byte offset: length 1..64 in tag>>2, offset u16 LE
//!   tag & 3 == 3  copy, 4-byte offset: length 1..64 in tag>>2, offset u32 LE
//! ```
//!
//! A copy repeats `length` bytes starting `offset` bytes back in the output; it may overlap the
//! bytes it produces (offset 1, length 10 repeats one byte ten times).
//!
//! The [compressor](compress) is the classic greedy scheme: input in 64 KiB blocks (so offsets fit
//! two bytes), a hash table of 4-byte sequences → last position, a literal for every run without
//! a match, and copies for matches of 4 bytes or more, extended as far as they go. Where nothing
//! matches it takes growing steps, so incompressible input costs little time. No `unsafe`.
//!
//! The [decompressor](decompress) treats its input as hostile: the declared length is checked
//! against a caller-supplied maximum before anything is allocated, every offset and length is
//! checked, and every failure is an [`Error::Malformed`] — never a panic.
//!
//! ```
//! use edgemetrics::codec::snappy;
//! let data = b"metric_total{job=\"a\"} 1\nmetric_total{job=\"b\"} 2\n".repeat(20);
//! let z = snappy::compress(&data);
//! assert!(z.len() < data.len() / 4);
//! assert_eq!(snappy::decompress(&z, 1 << 20).unwrap(), data);
//! assert!(snappy::decompress(b"\xff\xff\xff\xff\x0f", 1 << 20).is_err()); // 4 GiB claimed
//! ```

use alloc::vec::Vec;

use crate::error::Error;

/// Matches are searched within blocks of this size, so every offset fits two bytes.
const BLOCK: usize = 1 << 16;
/// log2 of the hash table entries (positions within the current block): 8 K `u16`s = 16 KiB,
/// a balance between ratio and the memory a wasm instance must clear per block.
const TABLE_BITS: u32 = 13;

/// Largest input a snappy block can describe: its length is a 32-bit varint.
pub const MAX_LEN: usize = u32::MAX as usize;

/// Upper bound of the compressed size of `n` input bytes (the reference implementation's bound).
pub fn max_compressed_len(n: usize) -> usize {
    32 + n + n / 6
}

#[inline]
fn load32(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

#[inline]
fn load64(b: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(w)
}

#[inline]
fn hash(v: u32) -> usize {
    (v.wrapping_mul(0x1e35_a7bd) >> (32 - TABLE_BITS)) as usize
}

fn emit_literal(out: &mut Vec<u8>, lit: &[u8]) {
    if lit.is_empty() {
        return;
    }
    let n = lit.len() - 1;
    if n < 60 {
        out.push((n as u8) << 2);
    } else {
        // 60..=63 say how many length bytes follow (1..=4).
        let bytes = (n as u32).to_le_bytes();
        let k = 4 - ((n as u32).leading_zeros() / 8) as usize;
        out.push(((59 + k) as u8) << 2);
        out.extend_from_slice(&bytes[..k]);
    }
    out.extend_from_slice(lit);
}

fn emit_copy(out: &mut Vec<u8>, offset: usize, mut len: usize) {
    // Long matches become 64-byte copies; keep the remainder >= 4 so the last one can use the
    // short form when it fits.
    while len >= 68 {
        out.push((63 << 2) | 2);
        out.extend_from_slice(&(offset as u16).to_le_bytes());
        len -= 64;
    }
    if len > 64 {
        out.push((59 << 2) | 2);
        out.extend_from_slice(&(offset as u16).to_le_bytes());
        len -= 60;
    }
    if (4..12).contains(&len) && offset < 2048 {
        out.push((((offset >> 8) as u8) << 5) | (((len - 4) as u8) << 2) | 1);
        out.push(offset as u8);
    } else {
        out.push((((len - 1) as u8) << 2) | 2);
        out.extend_from_slice(&(offset as u16).to_le_bytes());
    }
}

/// Compresses `input` into a snappy block (appending to `out`).
///
/// Fails only when `input` is longer than [`MAX_LEN`] (4 GiB - 1), which the format cannot
/// describe.
pub fn compress_into(input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    // Compared as u64: on 32-bit targets (wasm32) a usize can never exceed MAX_LEN.
    if input.len() as u64 > MAX_LEN as u64 {
        return Err(Error::Malformed { reason: "snappy input longer than 4 GiB" });
    }
    out.reserve(max_compressed_len(input.len()));
    super::varint::put(out, input.len() as u64);
    let mut table = alloc::vec![0u16; 1 << TABLE_BITS];
    let mut base = 0usize;
    while base < input.len() {
        let end = (base + BLOCK).min(input.len());
        compress_block(&input[base..end], &mut table, out);
        base = end;
    }
    Ok(())
}

/// Compresses `input` into a new snappy block. Inputs over [`MAX_LEN`] (impossible on wasm32)
/// yield an empty vector.
pub fn compress(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if compress_into(input, &mut out).is_err() {
        out.clear();
    }
    out
}

fn compress_block(src: &[u8], table: &mut [u16], out: &mut Vec<u8>) {
    // Positions are stored +1 so that 0 means "empty" after the reset.
    table.iter_mut().for_each(|e| *e = 0);
    let n = src.len();
    let mut lit_start = 0usize;
    let mut i = 0usize;
    let mut misses = 32usize;
    // A match needs 4 readable bytes at both ends.
    while i + 4 <= n {
        let v = load32(src, i);
        let h = hash(v);
        let cand = table[h] as usize;
        table[h] = (i + 1).min(u16::MAX as usize) as u16;
        if cand != 0 && cand - 1 < i && load32(src, cand - 1) == v {
            let c = cand - 1;
            let mut len = 4;
            // Extend 8 bytes at a time; the first differing byte is found from the XOR's
            // trailing zeros (little-endian: lowest address = lowest bits).
            while i + len + 8 <= n {
                let x = load64(src, c + len) ^ load64(src, i + len);
                if x != 0 {
                    len += (x.trailing_zeros() / 8) as usize;
                    break;
                }
                len += 8;
            }
            if i + len + 8 > n {
                while i + len < n && src[c + len] == src[i + len] {
                    len += 1;
                }
            }
            emit_literal(out, &src[lit_start..i]);
            emit_copy(out, i - c, len);
            i += len;
            lit_start = i;
            misses = 32;
            // Index the position just before the new cursor so back-to-back matches are found.
            if i + 3 <= n {
                let p = i - 1;
                table[hash(load32(src, p))] = (p + 1).min(u16::MAX as usize) as u16;
            }
        } else {
            // Skip faster the longer nothing matches: +1 per 32 misses.
            i += misses >> 5;
            misses += 1;
        }
    }
    emit_literal(out, &src[lit_start..]);
}

/// The uncompressed length a snappy block declares, without decoding it.
pub fn decompressed_len(input: &[u8]) -> Result<usize, Error> {
    read_len(input).map(|(n, _)| n)
}

fn read_len(input: &[u8]) -> Result<(usize, usize), Error> {
    // The preamble is at most 5 bytes and at most u32::MAX.
    match super::varint::read(input) {
        Ok((v, n)) if n <= 5 && v <= u32::MAX as u64 => Ok((v as usize, n)),
        _ => Err(Error::Malformed { reason: "snappy: bad length varint" }),
    }
}

/// Decompresses a snappy block, refusing (before allocating) any block that declares more than
/// `max_len` bytes. Every malformed input is an [`Error::Malformed`].
pub fn decompress(input: &[u8], max_len: usize) -> Result<Vec<u8>, Error> {
    let bad = |reason| Err(Error::Malformed { reason });
    let (want, mut p) = read_len(input)?;
    if want > max_len {
        return bad("snappy: declared length over the limit");
    }
    let mut out: Vec<u8> = Vec::with_capacity(want);
    while p < input.len() {
        let tag = input[p];
        p += 1;
        let (len, offset) = match tag & 3 {
            0 => {
                let mut len = (tag >> 2) as usize;
                if len >= 60 {
                    let k = len - 59;
                    let Some(b) = input.get(p..p + k) else { return bad("snappy: truncated literal length") };
                    let mut x = [0u8; 4];
                    x[..k].copy_from_slice(b);
                    len = u32::from_le_bytes(x) as usize;
                    p += k;
                }
                let Some(len) = len.checked_add(1) else { return bad("snappy: literal too long") };
                let Some(lit) = input.get(p..).and_then(|r| r.get(..len)) else {
                    return bad("snappy: truncated literal");
                };
                if len > want - out.len() {
                    return bad("snappy: output longer than declared");
                }
                out.extend_from_slice(lit);
                p += len;
                continue;
            }
            1 => {
                let Some(&b) = input.get(p) else { return bad("snappy: truncated copy") };
                p += 1;
                (4 + ((tag >> 2) & 7) as usize, (((tag >> 5) as usize) << 8) | b as usize)
            }
            2 => {
                let Some(b) = input.get(p..p + 2) else { return bad("snappy: truncated copy") };
                p += 2;
                (1 + (tag >> 2) as usize, u16::from_le_bytes([b[0], b[1]]) as usize)
            }
            _ => {
                let Some(b) = input.get(p..p + 4) else { return bad("snappy: truncated copy") };
                p += 4;
                (1 + (tag >> 2) as usize, u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            }
        };
        if offset == 0 || offset > out.len() {
            return bad("snappy: copy offset out of range");
        }
        if len > want - out.len() {
            return bad("snappy: output longer than declared");
        }
        let from = out.len() - offset;
        if offset >= len {
            out.extend_from_within(from..from + len);
        } else {
            // Overlapping copy: byte by byte, each byte may be one just written.
            for k in 0..len {
                let b = out[from + k];
                out.push(b);
            }
        }
    }
    if out.len() != want {
        return bad("snappy: output shorter than declared");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_length_forms() {
        for n in [0usize, 1, 59, 60, 61, 255, 256, 257, 65_535, 65_536, 65_537, 200_000] {
            // Incompressible-ish bytes force literals of every length form.
            let mut x = 0x2545_f491_4f6c_dd1du64;
            let data: Vec<u8> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let z = compress(&data);
            assert!(z.len() <= max_compressed_len(n));
            assert_eq!(decompress(&z, n).unwrap(), data, "{n}");
        }
    }

    #[test]
    fn runs_and_long_matches() {
        for n in [4usize, 5, 11, 12, 63, 64, 65, 67, 68, 69, 131, 4096, 70_000] {
            let data = alloc::vec![b'a'; n];
            let z = compress(&data);
            assert_eq!(decompress(&z, n).unwrap(), data);
        }
        let text = b"abcdefgh".repeat(5000);
        let z = compress(&text);
        // A copy of at most 64 bytes costs 3: the format bounds the ratio near 21:1.
        assert!(z.len() < text.len() / 20, "{}", z.len());
        assert_eq!(decompress(&z, text.len()).unwrap(), text);
    }

    #[test]
    fn hostile_inputs() {
        assert!(decompress(b"", 10).is_err());
        assert!(decompress(b"\x80\x80\x80\x80\x80\x01", 10).is_err());
        assert!(decompress(b"\x05", 10).is_err()); // nothing after the length
        assert!(decompress(b"\x05\x10abc", 10).is_err()); // truncated literal
        assert!(decompress(b"\x05\x01\x00", 10).is_err()); // copy before any output
        assert!(decompress(b"\x02\x04ab\x01\x02", 10).is_err()); // copy past declared length
        assert!(decompress(b"\x0a\x00a", 5).is_err()); // over the caller's limit
        assert!(decompress(b"\x01\xf0", 10).is_err()); // truncated long literal length
        assert_eq!(decompress(b"\x00", 10).unwrap(), b"");
        assert_eq!(decompress(b"\x06\x00a\x05\x01", 10).unwrap(), b"aaaaaa"); // overlapping copy
    }
}
