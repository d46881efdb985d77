//! OTLP/HTTP JSON encoder: the same `ExportMetricsServiceRequest` as [`crate::encode::otlp`], in the
//! protobuf JSON mapping that OTLP/HTTP accepts with `Content-Type: application/json`.
//!
//! # The format
//!
//! OTLP/JSON is the proto3 JSON mapping of the protobuf messages, with OTLP's own rules:
//!
//! * keys are the lowerCamelCase field names (`resourceMetrics`, `startTimeUnixNano`);
//! * enums are integers (`"aggregationTemporality": 1`), never their names;
//! * 64-bit integers (`timeUnixNano`, `startTimeUnixNano`, `count`, `bucketCounts`, `intValue`)
//!   are decimal *strings*, because JSON numbers lose precision past 2^53;
//! * doubles are JSON numbers, written here as the shortest decimal that reads back to the same
//!   `f64` (`codec::text::push_f64`); an infinite or NaN value, which JSON cannot write as a
//!   number, is the string `"Infinity"`, `"-Infinity"` or `"NaN"` (the proto3 JSON spelling);
//!   histogram `min`/`max` of a point without values are left out instead;
//! * fields holding their default value are left out, except `oneof` members (`asDouble`,
//!   `stringValue`, …) and `optional` fields (`sum`), whose presence carries meaning.
//!
//! ```text
//! {"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
//!   "scopeMetrics":[{"scope":{"name":"edgemetrics","version":"0.1.0"},"metrics":[   (one per scope)
//!     {"name":"http.requests","unit":"{request}","sum":{"dataPoints":[{"startTimeUnixNano":"1700000000000000000",
//!      "timeUnixNano":"1700000000250000000","asDouble":1,"attributes":[…]}],"aggregationTemporality":1,
//!      "isMonotonic":true}}]}]}]}
//! ```
//!
//! Strings are escaped by `codec::text::push_json_str`, so any UTF-8 attribute value — quotes,
//! backslashes, newlines, control characters, non-ASCII — survives the trip.
//!
//! A `200` response may carry `{"partialSuccess":{"rejectedDataPoints":"3","errorMessage":"…"}}`;
//! [`parse_response`] reads it with a small bounded scanner (no serde in the core).
//!
//! # Example
//!
//! ```
//! use edgemetrics::encode::otlp_json;
//! use edgemetrics::{Config, InstrumentOptions, Registry};
//!
//! let mut reg = Registry::new(Config::new("checkout").self_metrics(false));
//! reg.begin(1_700_000_000_000_000_000);
//! let temp = reg.gauge("room.temperature", InstrumentOptions::unit("Cel")).unwrap();
//! temp.set(&mut reg, 21.5, &[("room", "kitchen \"north\"".into())]);
//! let batch = reg.collect(1_700_000_000_250_000_000);
//!
//! let req = otlp_json::request(&batch);
//! assert_eq!(req.header("content-type"), Some("application/json"));
//! let body = String::from_utf8(req.body).unwrap();
//! assert!(body.contains(r#""gauge":{"dataPoints":[{"startTimeUnixNano":"1700000000000000000","#));
//! assert!(body.contains(r#""asDouble":21.5"#));
//! assert!(body.contains(r#"{"key":"room","value":{"stringValue":"kitchen \"north\""}}"#));
//!
//! let ps = otlp_json::parse_response(br#"{"partialSuccess":{"rejectedDataPoints":"3","errorMessage":"late"}}"#).unwrap();
//! assert_eq!((ps.rejected_data_points, ps.error_message.as_str()), (3, "late"));
//! ```

use alloc::vec::Vec;

use crate::attr::{KeyValue, Value};
use crate::codec::text::{push_f64, push_i64, push_json_str, push_u64};
pub use crate::encode::otlp_common::PartialSuccess;
use crate::encode::otlp_common::{extreme_present, keep_message, temporality_value};
use crate::encode::Encoded;
use crate::error::Error;
use crate::exphist::ExpBuckets;
use crate::model::{Batch, ExpHistogramPoint, HistogramPoint, Metric, MetricData, NumberPoint};

pub use crate::encode::otlp_common::PATH;

/// Content type of the JSON encoding.
pub const CONTENT_TYPE: &str = "application/json";

/// Encodes `batch` as an OTLP/JSON `ExportMetricsServiceRequest`.
pub fn encode(batch: &Batch) -> Vec<u8> {
    // JSON is about 2.5× the protobuf size; start large enough to avoid most regrowth.
    let mut o = Vec::with_capacity(512 + batch.point_count() * 240);
    o.extend_from_slice(b"{\"resourceMetrics\":[{\"resource\":{");
    attributes(&mut o, &batch.resource, false);
    o.extend_from_slice(b"},\"scopeMetrics\":[");
    // One entry per scope: the default scope always, every other scope when it has metrics.
    for s in 0..batch.scope_count() {
        if s > 0 && !batch.metrics.iter().any(|m| batch.scope_index(m) == s) {
            continue;
        }
        if s > 0 {
            o.push(b',');
        }
        let (name, version) = batch.scope(s as u16);
        o.extend_from_slice(b"{\"scope\":{");
        let mut first = true;
        str_field(&mut o, &mut first, b"name", name);
        str_field(&mut o, &mut first, b"version", version);
        o.extend_from_slice(b"},\"metrics\":[");
        let mut first = true;
        for m in batch.metrics.iter().filter(|m| batch.scope_index(m) == s) {
            if !first {
                o.push(b',');
            }
            first = false;
            metric(&mut o, m);
        }
        o.extend_from_slice(b"]}");
    }
    o.extend_from_slice(b"]}]}");
    o
}

/// Encodes `batch` and names the method, path and headers of the export request.
pub fn request(batch: &Batch) -> Encoded {
    Encoded::post(PATH, CONTENT_TYPE, encode(batch))
}

/// Writes `,"key":` (comma unless first).
fn key(o: &mut Vec<u8>, first: &mut bool, k: &[u8]) {
    if !*first {
        o.push(b',');
    }
    *first = false;
    o.push(b'"');
    o.extend_from_slice(k);
    o.extend_from_slice(b"\":");
}

/// A string field, left out when empty (proto3 default).
fn str_field(o: &mut Vec<u8>, first: &mut bool, k: &[u8], v: &str) {
    if !v.is_empty() {
        key(o, first, k);
        push_json_str(o, v);
    }
}

/// A 64-bit unsigned integer as a decimal string.
fn u64_str(o: &mut Vec<u8>, v: u64) {
    o.push(b'"');
    push_u64(o, v);
    o.push(b'"');
}

/// A double: a JSON number when finite, else the proto3 JSON string spelling.
fn double(o: &mut Vec<u8>, v: f64) {
    if !push_f64(o, v) {
        o.extend_from_slice(if v.is_nan() {
            b"\"NaN\""
        } else if v > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        });
    }
}

/// A `u64` field written as a string, left out when zero (fixed64 default).
fn u64_field(o: &mut Vec<u8>, first: &mut bool, k: &[u8], v: u64) {
    if v != 0 {
        key(o, first, k);
        u64_str(o, v);
    }
}

/// `"attributes":[…]`, left out when empty.
fn attributes(o: &mut Vec<u8>, attrs: &[KeyValue], comma: bool) {
    if attrs.is_empty() {
        return;
    }
    if comma {
        o.push(b',');
    }
    o.extend_from_slice(b"\"attributes\":[");
    for (i, kv) in attrs.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.extend_from_slice(b"{\"key\":");
        push_json_str(o, &kv.key);
        o.extend_from_slice(b",\"value\":{");
        match &kv.value {
            Value::Str(s) => {
                o.extend_from_slice(b"\"stringValue\":");
                push_json_str(o, s);
            }
            Value::Bool(b) => o.extend_from_slice(if *b { b"\"boolValue\":true" } else { b"\"boolValue\":false" }),
            Value::I64(i) => {
                o.extend_from_slice(b"\"intValue\":\"");
                push_i64(o, *i);
                o.push(b'"');
            }
            Value::F64(d) => {
                o.extend_from_slice(b"\"doubleValue\":");
                double(o, *d);
            }
        }
        o.extend_from_slice(b"}}");
    }
    o.push(b']');
}

fn metric(o: &mut Vec<u8>, m: &Metric) {
    o.push(b'{');
    let mut first = true;
    str_field(o, &mut first, b"name", &m.name);
    str_field(o, &mut first, b"description", &m.description);
    str_field(o, &mut first, b"unit", &m.unit);
    match &m.data {
        MetricData::Gauge { points } => {
            key(o, &mut first, b"gauge");
            o.extend_from_slice(b"{\"dataPoints\":[");
            number_points(o, points);
            o.extend_from_slice(b"]}");
        }
        MetricData::Sum { monotonic, temporality, points } => {
            key(o, &mut first, b"sum");
            o.extend_from_slice(b"{\"dataPoints\":[");
            number_points(o, points);
            o.extend_from_slice(b"],\"aggregationTemporality\":");
            push_u64(o, temporality_value(*temporality));
            if *monotonic {
                o.extend_from_slice(b",\"isMonotonic\":true");
            }
            o.push(b'}');
        }
        MetricData::Histogram { temporality, bounds, points } => {
            key(o, &mut first, b"histogram");
            o.extend_from_slice(b"{\"dataPoints\":[");
            // Every point repeats the metric's bounds: render them once, copy them.
            let mut rendered = Vec::new();
            if !bounds.is_empty() {
                rendered.extend_from_slice(b",\"explicitBounds\":[");
                for (i, b) in bounds.iter().enumerate() {
                    if i > 0 {
                        rendered.push(b',');
                    }
                    double(&mut rendered, *b);
                }
                rendered.push(b']');
            }
            for (i, p) in points.iter().enumerate() {
                if i > 0 {
                    o.push(b',');
                }
                histogram_point(o, p, &rendered);
            }
            o.extend_from_slice(b"],\"aggregationTemporality\":");
            push_u64(o, temporality_value(*temporality));
            o.push(b'}');
        }
        MetricData::ExponentialHistogram { temporality, points } => {
            key(o, &mut first, b"exponentialHistogram");
            o.extend_from_slice(b"{\"dataPoints\":[");
            for (i, p) in points.iter().enumerate() {
                if i > 0 {
                    o.push(b',');
                }
                exp_point(o, p);
            }
            o.extend_from_slice(b"],\"aggregationTemporality\":");
            push_u64(o, temporality_value(*temporality));
            o.push(b'}');
        }
    }
    o.push(b'}');
}

/// `"positive"`/`"negative"` of an exponential point: offset is an int32 (a JSON number), the
/// counts uint64 (decimal strings). Left out when the sign has no bucket.
fn exp_buckets(o: &mut Vec<u8>, k: &[u8], b: &ExpBuckets) {
    if b.counts.is_empty() {
        return;
    }
    o.extend_from_slice(b",\"");
    o.extend_from_slice(k);
    o.extend_from_slice(b"\":{");
    if b.offset != 0 {
        o.extend_from_slice(b"\"offset\":");
        push_i64(o, b.offset as i64);
        o.push(b',');
    }
    o.extend_from_slice(b"\"bucketCounts\":[");
    for (i, c) in b.counts.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        u64_str(o, *c);
    }
    o.extend_from_slice(b"]}");
}

fn exp_point(o: &mut Vec<u8>, p: &ExpHistogramPoint) {
    let h = &p.hist;
    o.push(b'{');
    let mut first = true;
    u64_field(o, &mut first, b"startTimeUnixNano", p.start_unix_nano);
    u64_field(o, &mut first, b"timeUnixNano", p.time_unix_nano);
    u64_field(o, &mut first, b"count", h.count);
    key(o, &mut first, b"sum");
    double(o, h.sum);
    if h.scale != 0 {
        o.extend_from_slice(b",\"scale\":");
        push_i64(o, h.scale as i64);
    }
    if h.zero_count != 0 {
        o.extend_from_slice(b",\"zeroCount\":");
        u64_str(o, h.zero_count);
    }
    exp_buckets(o, b"positive", &h.positive);
    exp_buckets(o, b"negative", &h.negative);
    attributes(o, &p.attributes, true);
    if h.count > 0 && h.min.is_finite() {
        o.extend_from_slice(b",\"min\":");
        double(o, h.min);
    }
    if h.count > 0 && h.max.is_finite() {
        o.extend_from_slice(b",\"max\":");
        double(o, h.max);
    }
    if h.zero_threshold != 0.0 {
        o.extend_from_slice(b",\"zeroThreshold\":");
        double(o, h.zero_threshold);
    }
    o.push(b'}');
}

fn number_points(o: &mut Vec<u8>, points: &[NumberPoint]) {
    for (i, p) in points.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.push(b'{');
        let mut first = true;
        u64_field(o, &mut first, b"startTimeUnixNano", p.start_unix_nano);
        u64_field(o, &mut first, b"timeUnixNano", p.time_unix_nano);
        key(o, &mut first, b"asDouble");
        double(o, p.value);
        attributes(o, &p.attributes, true);
        o.push(b'}');
    }
}

/// `bounds` is the rendered `,"explicitBounds":[…]` member (empty when there are no bounds).
fn histogram_point(o: &mut Vec<u8>, p: &HistogramPoint, bounds: &[u8]) {
    o.push(b'{');
    let mut first = true;
    u64_field(o, &mut first, b"startTimeUnixNano", p.start_unix_nano);
    u64_field(o, &mut first, b"timeUnixNano", p.time_unix_nano);
    u64_field(o, &mut first, b"count", p.count);
    key(o, &mut first, b"sum");
    double(o, p.sum);
    if !p.bucket_counts.is_empty() {
        o.extend_from_slice(b",\"bucketCounts\":[");
        for (i, c) in p.bucket_counts.iter().enumerate() {
            if i > 0 {
                o.push(b',');
            }
            u64_str(o, *c);
        }
        o.push(b']');
    }
    o.extend_from_slice(bounds);
    attributes(o, &p.attributes, true);
    if extreme_present(p, p.min) {
        o.extend_from_slice(b",\"min\":");
        double(o, p.min);
    }
    if extreme_present(p, p.max) {
        o.extend_from_slice(b",\"max\":");
        double(o, p.max);
    }
    o.push(b'}');
}

// ---------------------------------------------------------------------------------------------
// Response scanner

/// Deepest nesting the response scanner follows before refusing the input.
const MAX_DEPTH: u32 = 32;

fn malformed(reason: &'static str) -> Error {
    Error::Malformed { reason }
}

/// A bounded, allocation-light JSON scanner: walks any JSON value, keeping only what the
/// caller asks for. Every step checks bounds; nesting is limited to [`MAX_DEPTH`].
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

/// The per-member callback of the response scanner's object walker.
type MemberFn<'a, S> = dyn FnMut(&mut S, &[u8]) -> Result<(), Error> + 'a;

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), Error> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(malformed("OTLP JSON response: unexpected character"))
        }
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let h = self.b.get(self.i..self.i + 4).ok_or_else(|| malformed("OTLP JSON response: short \\u escape"))?;
        self.i += 4;
        let mut v = 0u32;
        for &c in h {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(malformed("OTLP JSON response: bad \\u escape")),
            };
            v = v * 16 + d as u32;
        }
        Ok(v)
    }

    /// Reads a string (the opening quote is next); unescaped into `out` when given.
    fn string(&mut self, mut out: Option<&mut Vec<u8>>) -> Result<(), Error> {
        self.expect(b'"')?;
        loop {
            let c = self.peek().ok_or_else(|| malformed("OTLP JSON response: unterminated string"))?;
            self.i += 1;
            match c {
                b'"' => return Ok(()),
                b'\\' => {
                    let e = self.peek().ok_or_else(|| malformed("OTLP JSON response: unterminated string"))?;
                    self.i += 1;
                    let simple = match e {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => 0,
                        _ => return Err(malformed("OTLP JSON response: bad escape")),
                    };
                    if e != b'u' {
                        if let Some(o) = out.as_deref_mut() {
                            o.push(simple);
                        }
                        continue;
                    }
                    let mut cp = self.hex4()?;
                    if (0xd800..0xdc00).contains(&cp) && self.b.get(self.i..self.i + 2) == Some(b"\\u") {
                        // A surrogate pair: combine when the second half is a low surrogate.
                        let save = self.i;
                        self.i += 2;
                        let lo = self.hex4()?;
                        if (0xdc00..0xe000).contains(&lo) {
                            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        } else {
                            self.i = save;
                        }
                    }
                    if let Some(o) = out.as_deref_mut() {
                        // Lone surrogates become U+FFFD.
                        let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                        let mut tmp = [0u8; 4];
                        o.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                    }
                }
                _ => {
                    if let Some(o) = out.as_deref_mut() {
                        o.push(c);
                    }
                }
            }
        }
    }

    /// Reads a number token and returns its bytes.
    fn number(&mut self) -> Result<&'a [u8], Error> {
        self.ws();
        let start = self.i;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.peek() {
            self.i += 1;
        }
        if self.i == start {
            return Err(malformed("OTLP JSON response: expected a value"));
        }
        Ok(&self.b[start..self.i])
    }

    /// Skips any value.
    fn skip(&mut self, depth: u32) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(malformed("OTLP JSON response: nested too deeply"));
        }
        self.ws();
        match self.peek() {
            Some(b'"') => self.string(None),
            Some(b'{') => self.object(depth, &mut |s, _k| s.skip(depth + 1)),
            Some(b'[') => {
                self.i += 1;
                if self.eat(b']') {
                    return Ok(());
                }
                loop {
                    self.skip(depth + 1)?;
                    if self.eat(b']') {
                        return Ok(());
                    }
                    self.expect(b',')?;
                }
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => self.number().map(|_| ()),
        }
    }

    fn literal(&mut self, lit: &[u8]) -> Result<(), Error> {
        if self.b.get(self.i..self.i + lit.len()) == Some(lit) {
            self.i += lit.len();
            Ok(())
        } else {
            Err(malformed("OTLP JSON response: bad literal"))
        }
    }

    /// Walks an object, calling `member(scanner, key)` with the scanner positioned at each value;
    /// the callback must consume the value.
    ///
    /// `member` is a `dyn` callback so that the three callers share one copy of this function
    /// (generic, it was instantiated and inlined three times: ~1.5 KB of wasm).
    fn object(&mut self, depth: u32, member: &mut MemberFn<'_, Self>) -> Result<(), Error> {
        if depth > MAX_DEPTH {
            return Err(malformed("OTLP JSON response: nested too deeply"));
        }
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Ok(());
        }
        let mut k = Vec::new();
        loop {
            self.ws();
            k.clear();
            self.string(Some(&mut k))?;
            self.expect(b':')?;
            member(self, &k)?;
            if self.eat(b'}') {
                return Ok(());
            }
            self.expect(b',')?;
        }
    }
}

/// Parses a non-negative decimal integer (at most 19 digits, so it fits `i64` like the field).
fn parse_count(d: &[u8]) -> Result<u64, Error> {
    if d.is_empty() || d.len() > 19 || !d.iter().all(u8::is_ascii_digit) {
        return Err(malformed("OTLP JSON response: rejectedDataPoints is not a non-negative integer"));
    }
    Ok(d.iter().fold(0u64, |n, c| n * 10 + (c - b'0') as u64))
}

/// Decodes an OTLP/JSON `ExportMetricsServiceResponse` body.
///
/// Accepts `rejectedDataPoints` as a string (`"3"`, the OTLP/JSON form) or a number (`3`), and
/// also the snake_case names (`partial_success`, `rejected_data_points`, `error_message`) that
/// the proto3 JSON mapping allows. Unknown fields are skipped. An empty (or all-whitespace) body,
/// `{}` or `"partialSuccess":null` mean full success. Anything that is not a JSON object, is
/// truncated, nests deeper than 32 levels, or has a negative or fractional count is
/// [`Error::Malformed`]; the scanner never panics and does at most one pass over the input.
pub fn parse_response(body: &[u8]) -> Result<PartialSuccess, Error> {
    let mut out = PartialSuccess::default();
    let mut s = Scan { b: body, i: 0 };
    s.ws();
    if s.peek().is_none() {
        return Ok(out);
    }
    s.object(0, &mut |s, k| match k {
        b"partialSuccess" | b"partial_success" => {
            s.ws();
            if s.peek() == Some(b'n') {
                return s.literal(b"null");
            }
            s.object(1, &mut |s, k| match k {
                b"rejectedDataPoints" | b"rejected_data_points" => {
                    s.ws();
                    if s.peek() == Some(b'"') {
                        let mut d = Vec::new();
                        s.string(Some(&mut d))?;
                        out.rejected_data_points = parse_count(&d)?;
                    } else if s.peek() == Some(b'n') {
                        s.literal(b"null")?;
                    } else {
                        out.rejected_data_points = parse_count(s.number()?)?;
                    }
                    Ok(())
                }
                b"errorMessage" | b"error_message" => {
                    s.ws();
                    if s.peek() == Some(b'n') {
                        return s.literal(b"null");
                    }
                    let mut m = Vec::new();
                    s.string(Some(&mut m))?;
                    out.error_message = keep_message(&m);
                    Ok(())
                }
                _ => s.skip(2),
            })
        }
        _ => s.skip(1),
    })?;
    s.ws();
    if s.peek().is_some() {
        return Err(malformed("OTLP JSON response: trailing data"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(b: &str) -> PartialSuccess {
        parse_response(b.as_bytes()).unwrap()
    }

    #[test]
    fn response_forms() {
        assert_eq!(ok(""), PartialSuccess::default());
        assert_eq!(ok(" \n"), PartialSuccess::default());
        assert_eq!(ok("{}"), PartialSuccess::default());
        assert_eq!(ok(r#"{"partialSuccess":{}}"#), PartialSuccess::default());
        assert_eq!(ok(r#"{"partialSuccess":null}"#), PartialSuccess::default());
        let want = PartialSuccess { rejected_data_points: 3, error_message: "bad \"x\"\n\u{e9}😀".into() };
        assert_eq!(
            ok(r#"{"partialSuccess":{"rejectedDataPoints":"3","errorMessage":"bad \"x\"\n\u00e9\ud83d\ude00"}}"#),
            want
        );
        assert_eq!(
            ok(
                r#" { "other" : [1, {"a": [true, false, null, -1.5e3]}, "s"], "partial_success" : { "rejected_data_points" : 3 , "error_message":"bad \"x\"\n\u00e9😀" , "x": {} } } "#
            ),
            want
        );
        assert_eq!(ok(r#"{"partialSuccess":{"errorMessage":"warn only"}}"#).rejected_data_points, 0);
        assert_eq!(
            ok(r#"{"partialSuccess":{"rejectedDataPoints":"9223372036854775807"}}"#).rejected_data_points,
            i64::MAX as u64
        );
        // Lone surrogate → U+FFFD.
        assert_eq!(ok(r#"{"partialSuccess":{"errorMessage":"\ud800x"}}"#).error_message, "\u{fffd}x");
    }

    #[test]
    fn response_malformed() {
        for bad in [
            "[]",
            "null",
            "{",
            r#"{"partialSuccess":{"rejectedDataPoints":-1}}"#,
            r#"{"partialSuccess":{"rejectedDataPoints":"-1"}}"#,
            r#"{"partialSuccess":{"rejectedDataPoints":1.5}}"#,
            r#"{"partialSuccess":{"rejectedDataPoints":"99999999999999999999"}}"#,
            r#"{"partialSuccess":{"errorMessage":"\q"}}"#,
            r#"{"partialSuccess":{"errorMessage":"\u12"}}"#,
            r#"{"a":tru}"#,
            r#"{"a":1}x"#,
            r#"{"a" 1}"#,
            "<html>502</html>",
        ] {
            assert!(parse_response(bad.as_bytes()).is_err(), "{bad}");
        }
        let deep = "[".repeat(10_000);
        assert!(parse_response(alloc::format!("{{\"a\":{deep}}}").as_bytes()).is_err());
        let good = r#"{"partialSuccess":{"rejectedDataPoints":"3","errorMessage":"\u00e9"}}"#;
        for n in 0..good.len() {
            let _ = parse_response(&good.as_bytes()[..n]);
        }
    }
}
