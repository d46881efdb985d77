//! What the two OTLP encodings (protobuf and JSON) share: the export path, the temporality enum
//! value, the histogram extreme rule and the partial-success response type. Compiled when either
//! the `otlp` or the `otlp-json` feature is on; each re-exports the public items.

use alloc::string::String;

use crate::model::{HistogramPoint, Temporality};

/// Path of the OTLP/HTTP metrics export, appended to the configured endpoint.
pub const PATH: &str = "/v1/metrics";

/// The `AggregationTemporality` enum value of `t` (`DELTA = 1`, `CUMULATIVE = 2`).
pub fn temporality_value(t: Temporality) -> u64 {
    match t {
        Temporality::Delta => 1,
        Temporality::Cumulative => 2,
    }
}

/// `true` when a histogram point's `min`/`max` carry a value worth sending: the point holds at
/// least one value and the extreme is a finite number.
pub(crate) fn extreme_present(p: &HistogramPoint, v: f64) -> bool {
    p.count > 0 && v.is_finite()
}

/// What an OTLP receiver reported in `ExportMetricsServiceResponse.partial_success`.
///
/// A `200` response with no body, an empty body or no `partial_success` decodes to the default:
/// nothing rejected, no message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartialSuccess {
    /// Points the receiver refused (`rejected_data_points`). Never retry them: count them.
    pub rejected_data_points: u64,
    /// The receiver's explanation (`error_message`), possibly empty; may also be a warning sent
    /// with `rejected_data_points == 0`.
    pub error_message: String,
}

impl PartialSuccess {
    /// `true` when the receiver neither rejected anything nor said anything.
    pub fn is_full_success(&self) -> bool {
        self.rejected_data_points == 0 && self.error_message.is_empty()
    }
}

/// Longest `error_message` kept, in bytes; longer messages are cut at a character boundary.
pub const MAX_ERROR_MESSAGE: usize = 1024;

/// Builds the message the way both decoders keep it: lossy UTF-8, cut to [`MAX_ERROR_MESSAGE`].
pub(crate) fn keep_message(raw: &[u8]) -> String {
    // `String::from_utf8_lossy`'s rule (each maximal invalid sequence becomes one U+FFFD) written
    // with `str::from_utf8`, which the module links anyway: `from_utf8_lossy` brings its own UTF-8
    // iterator (~1 KB of wasm).
    let mut s = String::new();
    let mut rest = raw;
    while s.len() <= MAX_ERROR_MESSAGE {
        match core::str::from_utf8(rest) {
            Ok(valid) => {
                s.push_str(valid);
                break;
            }
            Err(e) => {
                let Some((valid, after)) = rest.split_at_checked(e.valid_up_to()) else { break };
                // `valid_up_to` marks a character boundary of valid UTF-8.
                s.push_str(core::str::from_utf8(valid).unwrap_or_default());
                s.push('\u{fffd}');
                match e.error_len() {
                    Some(n) => rest = after.get(n..).unwrap_or_default(),
                    None => break,
                }
            }
        }
    }
    String::from(crate::attr::truncate_str(&s, MAX_ERROR_MESSAGE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    /// The bytes of a receiver's message: valid UTF-8 pieces mixed with stray, truncated and
    /// overlong sequences and surrogates.
    fn pieces() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            any::<u8>().prop_map(|b| vec![b]),
            any::<char>().prop_map(|c| c.to_string().into_bytes()),
            Just(vec![0xe2, 0x82]),
            Just(vec![0xf0, 0x9f, 0x98]),
            Just(vec![0xc0, 0x80]),
            Just(vec![0xed, 0xa0, 0x80]),
            Just(vec![0xf4, 0x90, 0x80, 0x80]),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|v: Vec<Vec<u8>>| v.concat())
    }

    proptest! {
        #[test]
        fn keep_message_is_lossy_utf8_cut_to_the_limit(raw in pieces()) {
            let want = String::from_utf8_lossy(&raw);
            prop_assert_eq!(keep_message(&raw), crate::attr::truncate_str(&want, MAX_ERROR_MESSAGE));
        }
    }

    #[test]
    fn keep_message_cuts_long_messages_at_a_character_boundary() {
        let mut raw = "é".repeat(600).into_bytes();
        raw.insert(5, 0xff);
        let want = String::from_utf8_lossy(&raw);
        let got = keep_message(&raw);
        assert!(got.len() <= MAX_ERROR_MESSAGE && got.len() > MAX_ERROR_MESSAGE - 4);
        assert_eq!(got, crate::attr::truncate_str(&want, MAX_ERROR_MESSAGE));
        assert_eq!(keep_message(&[0xff; 5000]), "\u{fffd}".repeat(MAX_ERROR_MESSAGE / 3));
    }
}
