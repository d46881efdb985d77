//! Number formatting and JSON string escaping for the text encoders (OTLP/JSON, Pushgateway
//! text), written without `core::fmt` so the wasm build carries no formatting machinery.
//!
//! * [`push_u64`] / [`push_i64`]: plain decimal, no sign for non-negative values.
//! * [`push_f64`]: the *shortest* decimal that parses back to exactly the same `f64` (Ryū, via
//!   the `ryu` crate), with a trailing `.0` removed from integral values (`2` not `2.0`, but
//!   `-0.0` keeps its sign). Only finite values are accepted: callers decide how their format
//!   spells NaN and infinities ([`push_f64`] returns `false` and writes nothing for them).
//! * [`push_json_str`]: a JSON string literal (RFC 8259): `"` and `\` escaped, control characters
//!   (U+0000–U+001F) as `\n`, `\r`, `\t` or `\u00XX`; every other character, non-ASCII included,
//!   copied as UTF-8.
//!
//! (The examples that were doctests here are unit tests since the module became crate-private:
//! `tests::module_examples`.)

use alloc::string::String;
use alloc::vec::Vec;

/// The standard base64 alphabet (RFC 4648 §4).
pub(crate) const BASE64_STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// The URL-safe base64 alphabet (RFC 4648 §5).
#[cfg(feature = "pushgateway")]
pub(crate) const BASE64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Appends `input` in base64 with `alphabet`, padded with `=`.
pub(crate) fn push_base64(out: &mut String, input: &[u8], alphabet: &[u8; 64]) {
    for c in input.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                out.push(alphabet[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
}

/// Appends the low `digits` hex digits of `v`, lower case, most significant first.
pub(crate) fn push_hex(out: &mut String, v: u128, digits: u32) {
    const H: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        out.push(H[(v >> (i * 4)) as usize & 15] as char);
    }
}

/// Appends `v` in decimal to a `String` (what `{}` writes for an unsigned integer).
pub(crate) fn push_decimal(s: &mut String, v: u64) {
    let mut buf = Vec::new();
    push_u64(&mut buf, v);
    s.extend(buf.iter().map(|&b| char::from(b)));
}

/// Appends `v` in decimal.
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    // u64::MAX has 20 digits; fill a stack buffer from the right.
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `v` in decimal, with a leading `-` when negative (`i64::MIN` included).
pub fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    // unsigned_abs handles i64::MIN, whose magnitude does not fit in i64.
    push_u64(out, v.unsigned_abs());
}

/// Appends the shortest decimal that round-trips to exactly `v`, and returns `true`; for NaN or
/// an infinity writes nothing and returns `false`.
///
/// The output is valid both as a JSON number and as a Prometheus text-format value: digits with
/// an optional `.` fraction and an optional `e` exponent (`1e-7`, `1.5e300`).
pub fn push_f64(out: &mut Vec<u8>, v: f64) -> bool {
    if !v.is_finite() {
        return false;
    }
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(v).as_bytes();
    // Ryū writes integral values as `2.0`; drop the `.0` (shorter, still exact), except for
    // negative zero, where `-0` would read back as the integer 0 in many JSON parsers.
    let keep_all = v == 0.0 && v.is_sign_negative();
    match s.strip_suffix(b".0") {
        Some(short) if !keep_all => out.extend_from_slice(short),
        _ => out.extend_from_slice(s),
    }
    true
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string literal, quotes included.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let b = s.as_bytes();
    // Copy runs of bytes that need no escape in one go. Bytes ≥ 0x80 belong to multi-byte UTF-8
    // characters and are copied unchanged (JSON allows any character except `"`, `\` and
    // U+0000–U+001F unescaped).
    let mut run = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&b[run..i]);
        run = i + 1;
        if esc.is_empty() {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
        } else {
            out.extend_from_slice(esc);
        }
    }
    out.extend_from_slice(&b[run..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn module_examples() {
        use super as text;
        let mut out = Vec::new();
        text::push_f64(&mut out, 0.1);
        out.push(b' ');
        text::push_f64(&mut out, 250.0);
        out.push(b' ');
        text::push_i64(&mut out, -42);
        out.push(b' ');
        text::push_json_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(String::from_utf8(out).unwrap(), r#"0.1 250 -42 "a\"b\\c\nd\u0001é""#);
    }

    use super::*;
    use alloc::string::String;

    fn f(v: f64) -> String {
        let mut o = Vec::new();
        assert!(push_f64(&mut o, v));
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn integers() {
        for (v, s) in [(0u64, "0"), (7, "7"), (10, "10"), (u64::MAX, "18446744073709551615")] {
            let mut o = Vec::new();
            push_u64(&mut o, v);
            assert_eq!(o, s.as_bytes());
        }
        for (v, s) in [(0i64, "0"), (-1, "-1"), (i64::MIN, "-9223372036854775808"), (i64::MAX, "9223372036854775807")] {
            let mut o = Vec::new();
            push_i64(&mut o, v);
            assert_eq!(o, s.as_bytes());
        }
    }

    #[test]
    fn doubles_are_shortest_and_exact() {
        assert_eq!(f(0.0), "0");
        assert_eq!(f(-0.0), "-0.0");
        assert_eq!(f(1.0), "1");
        assert_eq!(f(-2.5), "-2.5");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(1e-7), "1e-7");
        assert_eq!(f(1e300), "1e300");
        for v in [0.1 + 0.2, f64::MIN_POSITIVE, f64::MAX, f64::MIN, 5e-324, 123456789.125, 1.0 / 3.0] {
            let s = f(v);
            assert_eq!(s.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{s}");
        }
        let mut o = Vec::new();
        assert!(!push_f64(&mut o, f64::NAN));
        assert!(!push_f64(&mut o, f64::INFINITY));
        assert!(!push_f64(&mut o, f64::NEG_INFINITY));
        assert!(o.is_empty());
    }

    #[test]
    fn json_escaping() {
        let mut o = Vec::new();
        push_json_str(&mut o, "");
        assert_eq!(o, b"\"\"");
        o.clear();
        push_json_str(&mut o, "q\"b\\n\n\r\t\u{0}\u{1f}\u{7f}é日🎉\u{2028}");
        assert_eq!(String::from_utf8(o).unwrap(), "\"q\\\"b\\\\n\\n\\r\\t\\u0000\\u001f\u{7f}é日🎉\u{2028}\"");
    }
}
