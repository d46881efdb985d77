//! OTLP/HTTP protobuf encoder: a [`Batch`] as an `ExportMetricsServiceRequest`.
//!
//! # The format
//!
//! OTLP/HTTP sends one protobuf message, `opentelemetry.proto.collector.metrics.v1.
//! ExportMetricsServiceRequest`, as the body of `POST {endpoint}/v1/metrics` with
//! `Content-Type: application/x-protobuf`. A batch maps onto it one to one:
//!
//! ```text
//! ExportMetricsServiceRequest
//!  └─ resource_metrics (1)           one: this process
//!      ├─ resource (1)               attributes (1): service.name, …
//!      └─ scope_metrics (2)          one per scope: scope {name (1), version (2)}: first the
//!          │                         default "edgemetrics", then each other scope with metrics
//!          └─ metrics (2)            one per instrument: name (1), description (2), unit (3)
//!              ├─ gauge (5)          data_points (1)
//!              ├─ sum (7)            data_points (1), aggregation_temporality (2), is_monotonic (3)
//!              ├─ histogram (9)      data_points (1), aggregation_temporality (2)
//!              └─ exponential_histogram (10)  data_points (1), aggregation_temporality (2)
//!
//! NumberDataPoint     start_time_unix_nano (2, fixed64), time_unix_nano (3, fixed64),
//!                     as_double (4), attributes (7)
//! HistogramDataPoint  start (2), time (3), count (4, fixed64), sum (5, optional double),
//!                     bucket_counts (6, packed fixed64), explicit_bounds (7, packed double),
//!                     attributes (9), min (11, optional double), max (12, optional double)
//! ExponentialHistogramDataPoint
//!                     attributes (1), start (2), time (3), count (4, fixed64), sum (5, optional
//!                     double), scale (6, sint32), zero_count (7, fixed64), positive (8) and
//!                     negative (9): Buckets { offset (1, sint32), bucket_counts (2, packed
//!                     uint64) }, min (12), max (13), zero_threshold (14, double)
//! KeyValue            key (1), value (2): AnyValue { string_value (1) | bool_value (2)
//!                     | int_value (3) | double_value (4) }
//! ```
//!
//! Temporality is `DELTA = 1` or `CUMULATIVE = 2` (never `UNSPECIFIED = 0`); counters are sums
//! with `is_monotonic = true`, up-down counters sums with `false`. `bucket_counts` has one entry
//! more than `explicit_bounds`. `min`/`max` are left out of points that hold no value.
//!
//! The encoder sizes every nested message before writing it, so the body is produced in one
//! forward pass into a buffer allocated once at its exact size.
//!
//! Fields are written in field-number order with minimal varints and proto3 defaults left out,
//! so the bytes are *canonical*: the same bytes a generated encoder (prost) writes for the
//! decoded message. Values of a `oneof` (the point value, the attribute value) and `optional`
//! fields are written even when zero, because there presence carries meaning.
//!
//! The receiver answers `200` with an `ExportMetricsServiceResponse`, which may carry a
//! `partial_success` naming how many points it rejected; [`parse_response`] reads it.
//!
//! # Example
//!
//! ```
//! use edgemetrics::encode::otlp;
//! use edgemetrics::{Config, InstrumentOptions, Registry};
//!
//! let mut reg = Registry::new(Config::new("checkout"));
//! reg.begin(1_700_000_000_000_000_000);
//! let hits = reg.counter("http.requests", InstrumentOptions::unit("{request}")).unwrap();
//! hits.add(&mut reg, 1.0, &[("route", "/cart".into())]);
//! let batch = reg.collect(1_700_000_000_250_000_000);
//!
//! let req = otlp::request(&batch);
//! assert_eq!(req.method.as_str(), "POST");
//! assert_eq!(req.path, otlp::PATH);
//! assert_eq!(req.header("content-type"), Some("application/x-protobuf"));
//! assert_eq!(req.body, otlp::encode(&batch));
//!
//! // An empty 200 body means everything was accepted.
//! assert_eq!(otlp::parse_response(b"").unwrap().rejected_data_points, 0);
//! ```

use alloc::vec::Vec;

use crate::attr::{KeyValue, Value};
use crate::codec::pb::{varint_len, FieldValue, Reader, Writer, LEN, VARINT};
use crate::encode::otlp_common::{extreme_present, keep_message};
pub use crate::encode::otlp_common::{temporality_value, PartialSuccess, MAX_ERROR_MESSAGE, PATH};
use crate::encode::Encoded;
use crate::error::Error;
use crate::exphist::ExpBuckets;
use crate::model::{Batch, ExpHistogramPoint, HistogramPoint, Metric, MetricData, NumberPoint};

/// Content type of the protobuf encoding.
pub const CONTENT_TYPE: &str = "application/x-protobuf";

/// Encodes `batch` as a protobuf `ExportMetricsServiceRequest`.
///
/// One forward pass with no copying: the exact size of every nested message is computed first
/// (plain arithmetic over lengths), so each length prefix is written before its message and the
/// output buffer is allocated once, at its final size.
pub fn encode(batch: &Batch) -> Vec<u8> {
    // Sizes of the metrics, computed once; points are sized again while they are written, which
    // is cheaper than storing a size per point.
    let metric_sizes: Vec<(usize, usize)> = batch.metrics.iter().map(metric_size).collect();
    let resource = batch.resource.iter().map(|kv| len_field(1, key_value_size(kv))).sum::<usize>();
    // One ScopeMetrics per scope: the default scope always (even with no metrics), every other
    // scope when it has metrics. `scope_sizes[s]` = (scope message, ScopeMetrics message).
    let scope_sizes: Vec<(usize, usize)> = (0..batch.scope_count())
        .map(|s| {
            let (name, version) = batch.scope(s as u16);
            let scope = str_size(1, name) + str_size(2, version);
            let metrics = batch
                .metrics
                .iter()
                .zip(&metric_sizes)
                .filter(|(m, _)| batch.scope_index(m) == s)
                .map(|(_, &(n, _))| len_field(2, n))
                .sum::<usize>();
            if s > 0 && metrics == 0 {
                (0, 0)
            } else {
                (scope, len_field(1, scope) + metrics)
            }
        })
        .collect();
    let scopes_total = scope_sizes
        .iter()
        .enumerate()
        .filter(|&(s, &(_, n))| s == 0 || n > 0)
        .map(|(_, &(_, n))| len_field(2, n))
        .sum::<usize>();
    let resource_metrics = len_field(1, resource) + scopes_total;
    let total = len_field(1, resource_metrics);

    let mut w = Writer::with_capacity(total);
    head(&mut w, 1, resource_metrics); // ExportMetricsServiceRequest.resource_metrics
    head(&mut w, 1, resource); // ResourceMetrics.resource
    for kv in batch.resource.iter() {
        key_value(&mut w, 1, kv); // Resource.attributes
    }
    for (s, &(scope, scope_metrics)) in scope_sizes.iter().enumerate() {
        if s > 0 && scope_metrics == 0 {
            continue;
        }
        let (name, version) = batch.scope(s as u16);
        head(&mut w, 2, scope_metrics); // ResourceMetrics.scope_metrics
        head(&mut w, 1, scope); // ScopeMetrics.scope
        w.string(1, name);
        w.string(2, version);
        for (m, &(size, data)) in batch.metrics.iter().zip(&metric_sizes) {
            if batch.scope_index(m) == s {
                head(&mut w, 2, size); // ScopeMetrics.metrics
                metric(&mut w, m, data);
            }
        }
    }
    debug_assert_eq!(w.buf.len(), total, "size pass and write pass disagree");
    w.buf
}

/// Encodes `batch` and names the method, path and headers of the export request.
pub fn request(batch: &Batch) -> Encoded {
    Encoded::post(PATH, CONTENT_TYPE, encode(batch))
}

// ---------------------------------------------------------------------------------------------
// Size pass: bytes each field and message takes, mirroring the write pass below exactly (a debug
// assertion after every message checks it).

/// Bytes of a field key.
fn tag_size(field: u32) -> usize {
    varint_len((field as u64) << 3)
}

/// Bytes of a length-delimited field whose body is `n` bytes.
fn len_field(field: u32, n: usize) -> usize {
    tag_size(field) + varint_len(n as u64) + n
}

/// Bytes of a string field (left out when empty).
fn str_size(field: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        len_field(field, s.len())
    }
}

/// Bytes of a `fixed64` field (left out when zero).
fn fixed_size(field: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        tag_size(field) + 8
    }
}

/// Bytes of a packed repeated 8-byte field with `n` elements (left out when empty).
fn packed8_size(field: u32, n: usize) -> usize {
    if n == 0 {
        0
    } else {
        len_field(field, 8 * n)
    }
}

fn any_value_size(v: &Value) -> usize {
    match v {
        Value::Str(s) => len_field(1, s.len()),
        Value::Bool(_) => 2,
        Value::I64(i) => 1 + varint_len(*i as u64),
        Value::F64(_) => 9,
    }
}

fn key_value_size(kv: &KeyValue) -> usize {
    str_size(1, &kv.key) + len_field(2, any_value_size(&kv.value))
}

fn attrs_size(field: u32, attrs: &[KeyValue]) -> usize {
    attrs.iter().map(|kv| len_field(field, key_value_size(kv))).sum()
}

fn number_point_size(p: &NumberPoint) -> usize {
    fixed_size(2, p.start_unix_nano) + fixed_size(3, p.time_unix_nano) + 9 + attrs_size(7, &p.attributes)
}

fn histogram_point_size(p: &HistogramPoint, bounds: &[f64]) -> usize {
    fixed_size(2, p.start_unix_nano)
        + fixed_size(3, p.time_unix_nano)
        + fixed_size(4, p.count)
        + 9
        + packed8_size(6, p.bucket_counts.len())
        + packed8_size(7, bounds.len())
        + attrs_size(9, &p.attributes)
        + if extreme_present(p, p.min) { tag_size(11) + 8 } else { 0 }
        + if extreme_present(p, p.max) { tag_size(12) + 8 } else { 0 }
}

fn zigzag32(v: i32) -> u64 {
    ((v << 1) ^ (v >> 31)) as u32 as u64
}

/// Body size of a `Buckets` message.
fn buckets_size(b: &ExpBuckets) -> usize {
    let counts: usize = b.counts.iter().map(|&c| varint_len(c)).sum();
    (if b.offset != 0 { 1 + varint_len(zigzag32(b.offset)) } else { 0 })
        + if b.counts.is_empty() { 0 } else { len_field(2, counts) }
}

/// Bytes of an optional `Buckets` field (left out when it holds no bucket).
fn buckets_field_size(field: u32, b: &ExpBuckets) -> usize {
    if b.counts.is_empty() {
        0
    } else {
        len_field(field, buckets_size(b))
    }
}

fn exp_point_size(p: &ExpHistogramPoint) -> usize {
    let h = &p.hist;
    let present = |v: f64| h.count > 0 && v.is_finite();
    attrs_size(1, &p.attributes)
        + fixed_size(2, p.start_unix_nano)
        + fixed_size(3, p.time_unix_nano)
        + fixed_size(4, h.count)
        + 9
        + if h.scale != 0 { 1 + varint_len(zigzag32(h.scale)) } else { 0 }
        + fixed_size(7, h.zero_count)
        + buckets_field_size(8, &h.positive)
        + buckets_field_size(9, &h.negative)
        + if present(h.min) { 9 } else { 0 }
        + if present(h.max) { 9 } else { 0 }
        + if h.zero_threshold != 0.0 { 9 } else { 0 }
}

/// Size of the `gauge`/`sum`/`histogram` message body of `data`.
fn data_size(data: &MetricData) -> usize {
    match data {
        MetricData::Gauge { points } => points.iter().map(|p| len_field(1, number_point_size(p))).sum(),
        MetricData::Sum { monotonic, points, .. } => {
            points.iter().map(|p| len_field(1, number_point_size(p))).sum::<usize>()
                + 2
                + if *monotonic { 2 } else { 0 }
        }
        MetricData::Histogram { bounds, points, .. } => {
            points.iter().map(|p| len_field(1, histogram_point_size(p, bounds))).sum::<usize>() + 2
        }
        MetricData::ExponentialHistogram { points, .. } => {
            points.iter().map(|p| len_field(1, exp_point_size(p))).sum::<usize>() + 2
        }
    }
}

fn data_field(data: &MetricData) -> u32 {
    match data {
        MetricData::Gauge { .. } => 5,
        MetricData::Sum { .. } => 7,
        MetricData::Histogram { .. } => 9,
        MetricData::ExponentialHistogram { .. } => 10,
    }
}

/// Sizes of a metric message and of its `gauge`/`sum`/`histogram` body.
fn metric_size(m: &Metric) -> (usize, usize) {
    let data = data_size(&m.data);
    (
        str_size(1, &m.name)
            + str_size(2, &m.description)
            + str_size(3, &m.unit)
            + len_field(data_field(&m.data), data),
        data,
    )
}

// ---------------------------------------------------------------------------------------------
// Write pass

/// Writes the key and length prefix of a length-delimited field whose body follows.
#[inline]
fn head(w: &mut Writer, field: u32, len: usize) {
    w.tag(field, LEN);
    w.varint(len as u64);
}

fn metric(w: &mut Writer, m: &Metric, data_size: usize) {
    w.string(1, &m.name);
    w.string(2, &m.description);
    w.string(3, &m.unit);
    head(w, data_field(&m.data), data_size);
    match &m.data {
        MetricData::Gauge { points } => {
            for p in points {
                number_point(w, p);
            }
        }
        MetricData::Sum { monotonic, temporality, points } => {
            for p in points {
                number_point(w, p);
            }
            w.uint64(2, temporality_value(*temporality));
            w.bool(3, *monotonic);
        }
        MetricData::Histogram { temporality, bounds, points } => {
            // Every point repeats the metric's bounds: encode the packed field once, copy it.
            let mut packed = Writer::with_capacity(packed8_size(7, bounds.len()));
            packed.packed_double(7, bounds);
            for p in points {
                histogram_point(w, p, bounds, &packed.buf);
            }
            w.uint64(2, temporality_value(*temporality));
        }
        MetricData::ExponentialHistogram { temporality, points } => {
            for p in points {
                exp_point(w, p);
            }
            w.uint64(2, temporality_value(*temporality));
        }
    }
}

fn exp_buckets(w: &mut Writer, field: u32, b: &ExpBuckets) {
    if b.counts.is_empty() {
        return;
    }
    head(w, field, buckets_size(b));
    w.uint64(1, zigzag32(b.offset)); // sint32: zigzag varint, left out when 0
    let counts: usize = b.counts.iter().map(|&c| varint_len(c)).sum();
    head(w, 2, counts); // packed uint64
    for &c in &b.counts {
        w.varint(c);
    }
}

fn exp_point(w: &mut Writer, p: &ExpHistogramPoint) {
    let size = exp_point_size(p);
    head(w, 1, size);
    let start = w.buf.len();
    let h = &p.hist;
    for kv in p.attributes.iter() {
        key_value(w, 1, kv);
    }
    w.fixed64(2, p.start_unix_nano);
    w.fixed64(3, p.time_unix_nano);
    w.fixed64(4, h.count);
    w.double_always(5, h.sum); // optional double: present even when 0
    w.uint64(6, zigzag32(h.scale));
    w.fixed64(7, h.zero_count);
    exp_buckets(w, 8, &h.positive);
    exp_buckets(w, 9, &h.negative);
    if h.count > 0 && h.min.is_finite() {
        w.double_always(12, h.min);
    }
    if h.count > 0 && h.max.is_finite() {
        w.double_always(13, h.max);
    }
    w.double(14, h.zero_threshold);
    debug_assert_eq!(w.buf.len() - start, size);
}

fn number_point(w: &mut Writer, p: &NumberPoint) {
    let size = number_point_size(p);
    head(w, 1, size);
    let start = w.buf.len();
    w.fixed64(2, p.start_unix_nano);
    w.fixed64(3, p.time_unix_nano);
    w.double_always(4, p.value); // oneof member: present even when 0
    for kv in p.attributes.iter() {
        key_value(w, 7, kv);
    }
    debug_assert_eq!(w.buf.len() - start, size);
}

/// `packed_bounds` is `bounds` already encoded as field 7.
fn histogram_point(w: &mut Writer, p: &HistogramPoint, bounds: &[f64], packed_bounds: &[u8]) {
    let size = histogram_point_size(p, bounds);
    head(w, 1, size);
    let start = w.buf.len();
    w.fixed64(2, p.start_unix_nano);
    w.fixed64(3, p.time_unix_nano);
    w.fixed64(4, p.count);
    w.double_always(5, p.sum); // optional double: present even when 0
    w.packed_fixed64(6, p.bucket_counts.iter().copied());
    w.buf.extend_from_slice(packed_bounds);
    for kv in p.attributes.iter() {
        key_value(w, 9, kv);
    }
    if extreme_present(p, p.min) {
        w.double_always(11, p.min);
    }
    if extreme_present(p, p.max) {
        w.double_always(12, p.max);
    }
    debug_assert_eq!(w.buf.len() - start, size);
}

fn key_value(w: &mut Writer, field: u32, kv: &KeyValue) {
    head(w, field, key_value_size(kv));
    w.string(1, &kv.key);
    head(w, 2, any_value_size(&kv.value)); // KeyValue.value: AnyValue
                                           // AnyValue.value is a oneof: the chosen member is written even when it is a default.
    match &kv.value {
        Value::Str(s) => w.bytes_always(1, s.as_bytes()),
        Value::Bool(b) => {
            w.tag(2, VARINT);
            w.varint(*b as u64);
        }
        Value::I64(i) => {
            w.tag(3, VARINT);
            w.varint(*i as u64); // int64: two's complement, 10 bytes when negative
        }
        Value::F64(d) => w.double_always(4, *d),
    }
}

fn malformed(reason: &'static str) -> Error {
    Error::Malformed { reason }
}

/// Decodes a protobuf `ExportMetricsServiceResponse` body (field 1: `partial_success`, holding
/// `rejected_data_points` (1, int64) and `error_message` (2, string)).
///
/// Unknown fields are skipped, as protobuf requires; truncated or malformed input, a wrong wire
/// type for a known field or a negative count is [`Error::Malformed`]. The reader is
/// bounds-checked and allocation-free except for the message, so no input can make it panic.
pub fn parse_response(body: &[u8]) -> Result<PartialSuccess, Error> {
    let mut out = PartialSuccess::default();
    let mut r = Reader::new(body);
    loop {
        match r.field().ok_or_else(|| malformed("OTLP response is not valid protobuf"))? {
            None => return Ok(out),
            Some((1, FieldValue::Len(ps))) => {
                // A repeated occurrence of a message field merges into the previous one.
                let mut pr = Reader::new(ps);
                loop {
                    match pr.field().ok_or_else(|| malformed("OTLP partial_success is not valid protobuf"))? {
                        None => break,
                        Some((1, FieldValue::Varint(n))) => {
                            let n = n as i64; // int64 on the wire
                            if n < 0 {
                                return Err(malformed("negative rejected_data_points"));
                            }
                            out.rejected_data_points = n as u64;
                        }
                        Some((2, FieldValue::Len(msg))) => out.error_message = keep_message(msg),
                        Some((1 | 2, _)) => return Err(malformed("wrong wire type in partial_success")),
                        Some(_) => {}
                    }
                }
            }
            Some((1, _)) => return Err(malformed("wrong wire type for partial_success")),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pb_response(rejected: i64, msg: &str) -> Vec<u8> {
        let mut w = Writer::default();
        let ps = w.begin(1);
        w.int64(1, rejected);
        w.string(2, msg);
        w.end(ps);
        w.buf
    }

    #[test]
    fn response_partial_success() {
        let r = parse_response(&pb_response(3, "bad point")).unwrap();
        assert_eq!(r, PartialSuccess { rejected_data_points: 3, error_message: "bad point".into() });
        assert!(!r.is_full_success());
        assert!(parse_response(b"").unwrap().is_full_success());
        // An empty partial_success message.
        assert!(parse_response(&[0x0a, 0x00]).unwrap().is_full_success());
    }

    #[test]
    fn response_unknown_fields_are_skipped() {
        let mut w = Writer::default();
        w.string(7, "future");
        w.fixed64(8, 99);
        let ps = w.begin(1);
        w.uint64(5, 1);
        w.int64(1, 2);
        w.end(ps);
        assert_eq!(parse_response(&w.buf).unwrap().rejected_data_points, 2);
    }

    #[test]
    fn response_malformed_is_an_error() {
        let good = pb_response(3, "x");
        // Every truncation of a valid response is either a valid prefix or an error, never a panic.
        for n in 0..good.len() {
            let _ = parse_response(&good[..n]);
        }
        assert!(parse_response(&good[..good.len() - 1]).is_err());
        assert!(parse_response(&pb_response(-1, "")).is_err());
        assert!(parse_response(&[0x08, 0x01]).is_err()); // partial_success as a varint
        assert!(parse_response(&[0xff; 12]).is_err());
        assert!(parse_response(&[0x0a, 0x02, 0x12, 0x05]).is_err()); // inner length overruns
    }

    #[test]
    fn response_message_is_bounded_and_lossy() {
        let long = "é".repeat(MAX_ERROR_MESSAGE);
        let r = parse_response(&pb_response(0, &long)).unwrap();
        assert!(r.error_message.len() <= MAX_ERROR_MESSAGE);
        assert!(r.error_message.chars().all(|c| c == 'é'));
        let mut w = Writer::default();
        let ps = w.begin(1);
        w.bytes(2, &[b'a', 0xff, b'b']);
        w.end(ps);
        assert_eq!(parse_response(&w.buf).unwrap().error_message, "a\u{fffd}b");
    }
}
