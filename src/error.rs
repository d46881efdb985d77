//! Typed errors for everything that can be refused at creation or configuration time.
//!
//! Recording never returns an error: a bad value is counted (see
//! [`SdkStats`](crate::SdkStats)) and the call returns normally, so instrumentation can never
//! break the function it observes.

use alloc::string::String;
use core::fmt;

use crate::batch::InstrumentKind;

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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidName { name, reason } => write!(f, "invalid instrument name {name:?}: {reason}"),
            Error::InvalidUnit { unit } => {
                write!(f, "invalid unit {unit:?}: at most 63 printable ASCII characters")
            }
            Error::DescriptionTooLong => f.write_str("description longer than 1023 bytes"),
            Error::InvalidBounds { reason } => write!(f, "invalid histogram bounds: {reason}"),
            Error::KindConflict { name, existing, requested } => write!(
                f,
                "instrument {name:?} already exists as a {}, cannot create it as a {}",
                existing.as_str(),
                requested.as_str()
            ),
            Error::TooManyInstruments { limit } => write!(f, "too many instruments (limit {limit})"),
            Error::InvalidConfig { reason } => write!(f, "invalid configuration: {reason}"),
            Error::Malformed { reason } => write!(f, "malformed input: {reason}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

pub(crate) fn cut(s: &str, max: usize) -> String {
    String::from(crate::attr::truncate_str(s, max))
}
