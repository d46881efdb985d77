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
    let s = String::from_utf8_lossy(raw);
    String::from(crate::attr::truncate_str(&s, MAX_ERROR_MESSAGE))
}
