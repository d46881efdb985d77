//! Typed errors for everything that can be refused at creation or configuration time.
//!
//! Recording never returns an error: a bad value is counted (see
//! [`SdkStats`](crate::SdkStats)) and the call returns normally, so instrumentation can never
//! break the function it observes.

use alloc::string::String;
use core::fmt;

use crate::model::InstrumentKind;

/// Why an instrument, configuration or input was refused.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The instrument name breaks the OpenTelemetry rule: 1–255 characters, a letter first, then
    /// letters, digits, `_`, `.`, `-` or `/`.
    InvalidName {
        /// The name as given (cut to 300 bytes).
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The unit is longer than 63 bytes or not printable ASCII.
    InvalidUnit {
        /// The unit as given (cut to 100 bytes).
        unit: String,
    },
    /// The description is longer than 1023 bytes.
    DescriptionTooLong,
    /// Histogram bounds are not finite and strictly increasing, or there are too many of them.
    InvalidBounds {
        /// What is wrong with them.
        reason: &'static str,
    },
    /// Exponential histogram options out of range (`max_size` in `2..=16384`, `max_scale` in
    /// `-10..=20`).
    InvalidExponential {
        /// What is wrong with them.
        reason: &'static str,
    },
    /// An instrument of this name already exists with another kind.
    KindConflict {
        /// The name.
        name: String,
        /// The kind it was created with.
        existing: InstrumentKind,
        /// The kind requested now.
        requested: InstrumentKind,
    },
    /// The registry already holds the maximum number of instruments.
    TooManyInstruments {
        /// The configured limit.
        limit: usize,
    },
    /// An instrumentation scope name is empty or longer than 255 bytes, or its version is longer
    /// than 255 bytes.
    InvalidScope {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A configuration value is out of range.
    InvalidConfig {
        /// Which setting, and why.
        reason: &'static str,
    },
    /// Input to a decoder or parser is malformed: a compact batch (feature `decode`), a receiver's
    /// response body, a snappy block.
    Malformed {
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl Error {
    /// The message [`Display`](fmt::Display) writes, built without `core::fmt` so that a wasm
    /// module which only needs the text does not link the formatting machinery.
    pub fn message(&self) -> String {
        let mut s = String::new();
        match self {
            Error::InvalidName { name, reason } => {
                s.push_str("invalid instrument name ");
                push_debug_str(&mut s, name);
                s.push_str(": ");
                s.push_str(reason);
            }
            Error::InvalidUnit { unit } => {
                s.push_str("invalid unit ");
                push_debug_str(&mut s, unit);
                s.push_str(": at most 63 printable ASCII characters");
            }
            Error::DescriptionTooLong => s.push_str("description longer than 1023 bytes"),
            Error::InvalidBounds { reason } => {
                s.push_str("invalid histogram bounds: ");
                s.push_str(reason);
            }
            Error::InvalidExponential { reason } => {
                s.push_str("invalid exponential histogram options: ");
                s.push_str(reason);
            }
            Error::KindConflict { name, existing, requested } => {
                s.push_str("instrument ");
                push_debug_str(&mut s, name);
                s.push_str(" already exists as a ");
                s.push_str(existing.as_str());
                s.push_str(", cannot create it as a ");
                s.push_str(requested.as_str());
            }
            Error::TooManyInstruments { limit } => {
                s.push_str("too many instruments (limit ");
                push_decimal(&mut s, *limit as u64);
                s.push(')');
            }
            Error::InvalidScope { reason } => {
                s.push_str("invalid instrumentation scope: ");
                s.push_str(reason);
            }
            Error::InvalidConfig { reason } => {
                s.push_str("invalid configuration: ");
                s.push_str(reason);
            }
            Error::Malformed { reason } => {
                s.push_str("malformed input: ");
                s.push_str(reason);
            }
        }
        s
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

pub(crate) use crate::codec::text::push_decimal;

/// Appends `v` in double quotes, escaped so that the message shows exactly what was given and
/// stays one printable ASCII line: `"` and `\` backslash-escaped, tab, CR, LF and NUL as `\t`,
/// `\r`, `\n`, `\0`, and every other character outside printable ASCII as `\u{hex}`. For
/// ASCII input this is what `{:?}` writes for a `str`; unlike `{:?}` it escapes printable
/// non-ASCII characters too (`é` → `\u{e9}`), so no Unicode property tables are linked into a
/// wasm module that only needs the message (they were ~2.5 KB gzip). Names and units are ASCII by
/// their rules, so a non-ASCII character is always part of what the message reports.
pub(crate) fn push_debug_str(s: &mut String, v: &str) {
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\t' => s.push_str("\\t"),
            '\r' => s.push_str("\\r"),
            '\n' => s.push_str("\\n"),
            '\0' => s.push_str("\\0"),
            ' '..='~' => s.push(c),
            _ => {
                s.push_str("\\u{");
                let v = c as u32;
                // Lowercase hex without leading zeros, as `char::escape_unicode` writes it.
                let digits = (32 - (v | 1).leading_zeros()).div_ceil(4);
                for i in (0..digits).rev() {
                    s.push(char::from(b"0123456789abcdef"[((v >> (i * 4)) & 0xf) as usize]));
                }
                s.push('}');
            }
        }
    }
    s.push('"');
}
#[cfg(feature = "std")]
impl std::error::Error for Error {}

pub(crate) fn cut(s: &str, max: usize) -> String {
    String::from(crate::attr::truncate_str(s, max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    #[test]
    fn quoted_str_is_debug_for_ascii_and_escapes_the_rest() {
        // Every ASCII character, alone and in context: exactly what `{:?}` writes.
        let mut ascii: String = (0u8..=127).map(char::from).collect();
        ascii.push_str("single'quote \"q\" back\\slash");
        for c in [ascii.as_str(), "", "plain", "tab\tnl\ncr\r\0", "\u{1}\u{7f}", "'\"'"] {
            let mut s = String::new();
            push_debug_str(&mut s, c);
            assert_eq!(s, format!("{c:?}"), "{c:?}");
        }
        // Outside ASCII: every character as `\u{hex}` (what `char::escape_unicode` writes), so the
        // message is printable ASCII whatever the input was.
        for c in ["é😀中文", "a\u{301}b\u{200d}c", "\u{80}\u{9f}\u{ad}\u{feff}\u{2028}\u{e000}\u{10ffff}\u{fffd}"]
        {
            let mut s = String::new();
            push_debug_str(&mut s, c);
            let want: String = c
                .chars()
                .map(|ch| if ch.is_ascii() { ch.to_string() } else { ch.escape_unicode().to_string() })
                .collect();
            assert_eq!(s, format!("\"{want}\""));
            assert!(s.bytes().all(|b| (b' '..=b'~').contains(&b)), "{s}");
        }
        for v in [0u64, 7, 10, 99, 1000, 123_456_789, u64::MAX] {
            let mut s = String::new();
            push_decimal(&mut s, v);
            assert_eq!(s, v.to_string());
        }
    }

    #[test]
    fn messages_match_the_former_format_strings() {
        use crate::model::InstrumentKind::*;
        let n = "a\"b\\\n'\t";
        let cases: [(Error, String); 9] = [
            (Error::InvalidName { name: n.into(), reason: "r" }, format!("invalid instrument name {n:?}: r")),
            (
                Error::InvalidUnit { unit: n.into() },
                format!("invalid unit {n:?}: at most 63 printable ASCII characters"),
            ),
            (Error::DescriptionTooLong, "description longer than 1023 bytes".into()),
            (Error::InvalidBounds { reason: "r" }, "invalid histogram bounds: r".into()),
            (
                Error::KindConflict { name: n.into(), existing: Counter, requested: Histogram },
                format!(
                    "instrument {n:?} already exists as a {}, cannot create it as a {}",
                    Counter.as_str(),
                    Histogram.as_str()
                ),
            ),
            (Error::TooManyInstruments { limit: 1000 }, "too many instruments (limit 1000)".into()),
            (Error::InvalidConfig { reason: "r" }, "invalid configuration: r".into()),
            (Error::InvalidScope { reason: "r" }, "invalid instrumentation scope: r".into()),
            (Error::Malformed { reason: "r" }, "malformed input: r".into()),
        ];
        for (e, want) in cases {
            assert_eq!(e.message(), want);
            assert_eq!(e.to_string(), want);
        }
        // A name outside ASCII: the message stays printable ASCII.
        let e = Error::InvalidName { name: "caf\u{e9}\u{202e}".into(), reason: "r" };
        assert_eq!(e.message(), "invalid instrument name \"caf\\u{e9}\\u{202e}\": r");
    }
}
