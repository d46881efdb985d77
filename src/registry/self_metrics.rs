//! The one builder of the `edgemetrics.sdk.*` self-metrics: the registry's (rejected values,
//! overflow, attribute limits, clock skew) and the delivery layer's (`push.*`, `points.*`) are
//! both written through [`SelfMetrics`], so names, units, labels and the zero-point rule are
//! defined once.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::attr::{KeyValue, Value};
use crate::model::{InstrumentKind, Metric, MetricData, NumberPoint, SdkStats, Temporality};

/// Prefix of every self-metric name.
pub const SELF_PREFIX: &str = "edgemetrics.sdk.";

/// Appends self-metrics to `out`, all with the same window and temporality.
pub(crate) struct SelfMetrics<'a> {
    pub(crate) out: &'a mut Vec<Metric>,
    pub(crate) temporality: Temporality,
    pub(crate) start: u64,
    pub(crate) end: u64,
}

impl SelfMetrics<'_> {
    /// One point; `reason` becomes a `reason` attribute.
    fn point(&self, value: u64, reason: Option<&str>) -> NumberPoint {
        NumberPoint {
            attributes: match reason {
                Some(r) => Arc::from([KeyValue { key: String::from("reason"), value: Value::Str(String::from(r)) }]),
                None => Arc::new([]),
            },
            start_unix_nano: self.start,
            time_unix_nano: self.end,
            value: value as f64,
        }
    }

    /// A monotonic counter `edgemetrics.sdk.<name>` (unit `1`) with one point per non-zero value;
    /// nothing at all when every value is zero.
    /// (A slice, not an iterator: one copy of this function in a wasm module.)
    pub(crate) fn counter(&mut self, name: &str, description: &str, values: &[(u64, Option<&str>)]) {
        let points: Vec<NumberPoint> = values.iter().filter(|(v, _)| *v != 0).map(|&(v, r)| self.point(v, r)).collect();
        if points.is_empty() {
            return;
        }
        self.out.push(Metric {
            name: crate::model::concat(&[SELF_PREFIX, name]).into(),
            unit: "1".into(),
            description: description.into(),
            kind: InstrumentKind::Counter,
            data: MetricData::Sum { monotonic: true, temporality: self.temporality, points },
            scope: 0,
        });
    }

    /// A gauge `edgemetrics.sdk.<name>` (unit `1`) with one point.
    pub(crate) fn gauge(&mut self, name: &str, description: &str, value: u64) {
        let point = self.point(value, None);
        self.out.push(Metric {
            name: crate::model::concat(&[SELF_PREFIX, name]).into(),
            unit: "1".into(),
            description: description.into(),
            kind: InstrumentKind::Gauge,
            data: MetricData::Gauge { points: alloc::vec![point] },
            scope: 0,
        });
    }
}

/// The registry's self-metrics for `stats`.
pub(super) fn registry(stats: &SdkStats, temporality: Temporality, start: u64, end: u64, out: &mut Vec<Metric>) {
    let mut m = SelfMetrics { out, temporality, start, end };
    m.counter(
        "values.rejected",
        "Values refused by the SDK, by reason",
        &[
            (stats.rejected_non_finite, Some("non_finite")),
            (stats.rejected_negative, Some("negative")),
            (stats.rejected_invalid_handle, Some("invalid_handle")),
        ],
    );
    for (v, name, d) in [
        (
            stats.overflowed,
            "values.overflowed",
            "Values recorded into an overflow series (cardinality or memory limit)",
        ),
        (stats.attributes_dropped, "attributes.dropped", "Attributes dropped by the attribute limits"),
        (stats.attributes_truncated, "attributes.truncated", "String attribute values truncated by the length limit"),
        (stats.clock_skew, "clock_skew", "Collects whose clock went backwards"),
    ] {
        m.counter(name, d, &[(v, None)]);
    }
}

/// `edgemetrics.sdk.invocations`: the invocations a batch covers
/// ([`Registry::count_invocation`](super::Registry::count_invocation)); nothing when none were
/// counted.
pub(super) fn invocations(n: u64, temporality: Temporality, start: u64, end: u64, out: &mut Vec<Metric>) {
    let mut m = SelfMetrics { out, temporality, start, end };
    m.counter("invocations", "Invocations whose data the batch covers", &[(n, None)]);
}
