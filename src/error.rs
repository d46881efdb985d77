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

/// Appends `v` as `{:?}` writes a `str`: in double quotes, with `"` and `\` backslash-escaped
/// and control, non-printable and grapheme-extending characters escaped as `char::escape_debug`
/// does; unlike a `char`'s Debug, a `str`'s leaves `'` as is.
pub(crate) fn push_debug_str(s: &mut String, v: &str) {
    s.push('"');
    for c in v.chars() {
        if c == '\'' {
            s.push(c);
        } else {
            s.extend(c.escape_debug());
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
    fn debug_str_matches_core_fmt() {
        let cases = [
            "",
            "plain",
            "with space",
            "quote\"s",
            "single'quote",
            "back\\slash",
            "tab\tnl\ncr\r\0",
            "\u{1}\u{7f}\u{80}\u{9f}",
            "é😀中文",
            "\u{301}leading combining",
            "a\u{301}b\u{200d}c",
            "\u{ad}\u{200b}\u{feff}\u{2028}\u{e000}\u{10ffff}\u{fffd}",
            "\u{1f1e6}\u{fe0f}",
            "'\"'",
        ];
        for c in cases {
            let mut s = String::new();
            push_debug_str(&mut s, c);
            assert_eq!(s, format!("{c:?}"), "{c:?}");
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
        let n = "a\"b\u{301}\n'";
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
    }
}
