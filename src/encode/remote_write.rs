//! Prometheus remote write 1.0: a batch as a snappy-compressed protobuf `WriteRequest`.
//!
//! # The wire format
//!
//! ```text
//! POST /api/v1/write
//! Content-Encoding: snappy                      (block format, see crate::codec::snappy)
//! Content-Type: application/x-protobuf
//! User-Agent: edgemetrics/<version>
//! X-Prometheus-Remote-Write-Version: 0.1.0
//!
//! message WriteRequest { repeated TimeSeries timeseries = 1; }
//! message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//! message Label        { string name = 1; string value = 2; }
//! message Sample       { double value = 1; int64 timestamp = 2; }   // timestamp: unix ms
//! TimeSeries.histograms = 4: native histograms (see native_series); Prometheus accepts them with
//! --enable-feature=native-histograms
//! ```
//!
//! Every series carries its full label set: `__name__`, `job`/`instance` from the resource, then
//! the point's attributes, **sorted by name**, without duplicate names and without empty values
//! (Prometheus treats an empty value as an absent label). Names follow [`crate::encode::prom`]. Each
//! series gets one sample stamped with the batch end (milliseconds).
//!
//! | OpenTelemetry | Prometheus series |
//! |---|---|
//! | counter | `<name>_total` (running total) |
//! | up-down counter, gauge | `<name>` (gauge) |
//! | histogram | `<name>_bucket{le="<bound>"}` cumulative, `le="+Inf"` = count; `<name>_sum`; `<name>_count` |
//! | exponential histogram | `<name>` with a native histogram (`TimeSeries.histograms`, field 4): schema = scale (at most 8), spans, delta-encoded counts |
//!
//! `le` values are written like Prometheus' own clients write them (`0.005`, `10`, `1e+06`,
//! `+Inf`, see `prom::push_f64`), so `histogram_quantile` groups our buckets with theirs.
//!
//! # Temporality
//!
//! Prometheus stores what it receives as the value of the series at that time and computes
//! `rate()`/`increase()` over running totals. A delta batch (what one invocation added) would be
//! stored as a series that keeps dropping back, which `rate()` reads as counter resets: the results
//! would be wrong without any error. [`request`] therefore refuses a batch whose temporality is
//! [`Temporality::Delta`] with [`Error::InvalidConfig`]; configure the registry with
//! [`Temporality::Cumulative`] and a per-isolate `service.instance.id` (the single-writer rule,
//! see [`crate::encode::prom`]).
//!
//! # Example
//!
//! ```
//! use edgemetrics::{Config, InstrumentOptions, Registry, Temporality};
//! use edgemetrics::encode::remote_write::{request, RemoteWriteConfig};
//!
//! let mut reg = Registry::new(
//!     Config::new("checkout")
//!         .temporality(Temporality::Cumulative)
//!         .resource_attr("service.instance.id", "isolate-7f3a"),
//! );
//! let requests = reg.counter("http.requests", InstrumentOptions::unit("{request}")).unwrap();
//! requests.add(&mut reg, 1.0, &[("http.method", "GET".into())]);
//! let batch = reg.collect(1_700_000_000_000_000_000);
//!
//! let req = request(&batch, &RemoteWriteConfig::default()).unwrap();
//! assert_eq!(req.path, "/api/v1/write");
//! assert_eq!(req.header("Content-Encoding"), Some("snappy"));
//! let pb = edgemetrics::codec::snappy::decompress(&req.body, 1 << 20).unwrap();
//! assert!(pb.windows(19).any(|w| w == b"http_requests_total"));
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use crate::codec::pb::{self, varint_len, Writer};
use crate::encode::prom::{self, Family, FamilyOptions, Label, SeriesValue};
use crate::encode::{Encoded, Method};
use crate::error::Error;
use crate::exphist::{ExpBuckets, ExpHistogram};
use crate::model::{Batch, Temporality};

/// `User-Agent` sent with every request.
pub const USER_AGENT: &str = concat!("edgemetrics/", env!("CARGO_PKG_VERSION"));
/// The protocol version header value for remote write 1.0.
pub const VERSION: &str = "0.1.0";

/// Where and how to send remote write requests.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteWriteConfig {
    /// Path appended to the endpoint (default `/api/v1/write`, Prometheus' receiver; many hosted
    /// services use their own, e.g. `/api/prom/push`). Empty: the endpoint is the full URL.
    pub path: String,
    /// Labels added to every series ("external labels", e.g. `region`), sorted or not. They win
    /// over point attributes of the same name; resource `job`/`instance` win over them.
    pub external_labels: Vec<(String, String)>,
}

impl Default for RemoteWriteConfig {
    fn default() -> Self {
        RemoteWriteConfig { path: String::from("/api/v1/write"), external_labels: Vec::new() }
    }
}

impl RemoteWriteConfig {
    /// Adds an external label.
    pub fn external_label(mut self, name: &str, value: &str) -> Self {
        self.external_labels.push((String::from(name), String::from(value)));
        self
    }
}

fn check(batch: &Batch, cfg: &RemoteWriteConfig) -> Result<Vec<Label>, Error> {
    if batch.temporality == Temporality::Delta {
        return Err(Error::InvalidConfig {
            reason: "remote write needs Temporality::Cumulative: Prometheus computes rate() over running \
                     totals and would read per-invocation deltas as counter resets",
        });
    }
    let mut ext: Vec<Label> = Vec::with_capacity(cfg.external_labels.len());
    for (n, v) in &cfg.external_labels {
        if !prom::is_valid_label_name(n) {
            return Err(Error::InvalidConfig {
                reason: "external label name must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __",
            });
        }
        if ext.iter().any(|(m, _)| m == n) {
            return Err(Error::InvalidConfig { reason: "duplicate external label name" });
        }
        if !v.is_empty() {
            ext.push((n.clone(), v.clone()));
        }
    }
    prom::sort_by(&mut ext, |a, b| a.0 < b.0);
    Ok(ext)
}

/// Encodes `batch` as an uncompressed `WriteRequest` protobuf (what [`request`] compresses).
pub fn encode(batch: &Batch, cfg: &RemoteWriteConfig) -> Result<Vec<u8>, Error> {
    let ext = check(batch, cfg)?;
    let names: Vec<&str> = ext.iter().map(|(n, _)| n.as_str()).collect();
    let fams = prom::families(batch, &FamilyOptions { resource_labels: true, reserved: &names })?;
    let too_coarse = |s: &prom::Series| matches!(&s.value, SeriesValue::Native(h) if h.scale < MIN_SCHEMA);
    if fams.iter().any(|f| f.series.iter().any(too_coarse)) {
        return Err(Error::InvalidConfig {
            reason: "an exponential histogram's scale fell below -4, the coarsest Prometheus native histograms \
                     carry: give it a max_size of at least 132 (then every double fits at -4)",
        });
    }
    let ts = (batch.end_unix_nano / 1_000_000) as i64;
    let mut w = Writer::with_capacity(256 + batch.point_count() * 96);
    let mut scratch = Scratch::default();
    for f in &fams {
        write_family(&mut w, f, &ext, ts, &mut scratch);
    }
    Ok(w.buf)
}

/// Reused buffers: a series' labels encoded once (a histogram repeats them in `buckets + 3`
/// series) and the current metric name.
#[derive(Default)]
struct Scratch {
    /// `Label` messages (tag, length and body) of the current series, back to back.
    pre: Vec<u8>,
    /// End offset in `pre` of each label.
    ends: Vec<usize>,
    name: String,
}

fn write_family(w: &mut Writer, f: &Family, ext: &[Label], ts: i64, sc: &mut Scratch) {
    // `le` values are the same for every series of a family: format them once.
    let les: Vec<String> = f
        .bounds
        .iter()
        .map(|b| {
            let mut s = String::new();
            prom::push_f64_str(&mut s, *b);
            s
        })
        .collect();
    for s in &f.series {
        // Resource labels were merged into s.labels; external labels fill in names still free.
        let merged = if ext.is_empty() { None } else { Some(prom::merge_sorted(&s.labels, ext)) };
        let labels = merged.as_deref().unwrap_or(&s.labels);
        let mut lw = Writer { buf: core::mem::take(&mut sc.pre) };
        lw.buf.clear();
        sc.ends.clear();
        for (n, v) in labels {
            label(&mut lw, n, v);
            sc.ends.push(lw.buf.len());
        }
        sc.pre = lw.buf;
        let pre = Pre { labels, bytes: &sc.pre, ends: &sc.ends };
        match &s.value {
            SeriesValue::Number(v) => series(w, &f.name, &pre, None, *v, ts),
            SeriesValue::Histogram { cumulative, count, sum } => {
                let name = &mut sc.name;
                name.clear();
                name.push_str(&f.name);
                name.push_str("_bucket");
                for (le, c) in les.iter().zip(cumulative) {
                    series(w, name, &pre, Some(le), *c as f64, ts);
                }
                series(w, name, &pre, Some("+Inf"), *count as f64, ts);
                name.truncate(f.name.len());
                name.push_str("_sum");
                series(w, name, &pre, None, *sum, ts);
                name.truncate(f.name.len());
                name.push_str("_count");
                series(w, name, &pre, None, *count as f64, ts);
            }
            SeriesValue::Native(h) => native_series(w, &f.name, &pre, h, ts),
        }
    }
}

/// Highest schema Prometheus accepts for a native histogram.
pub const MAX_SCHEMA: i32 = 8;
/// Lowest schema Prometheus accepts for a native histogram.
pub const MIN_SCHEMA: i32 = -4;

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// One `TimeSeries` holding a native histogram: labels `__name__` (the family name, no suffix)
/// and the series' labels, and one `Histogram` (field 4) stamped `ts`.
///
/// ```text
/// Histogram { count_int (1) · sum (3) · schema (4, sint32) · zero_threshold (5) ·
///             zero_count_int (6) · negative_spans (8) · negative_deltas (9, packed sint64) ·
///             positive_spans (11) · positive_deltas (12) · timestamp (15) }
/// BucketSpan { offset (1, sint32) · length (2, uint32) }
/// ```
///
/// The schema is the scale, lowered exactly to [`MAX_SCHEMA`] when finer (the caller refused
/// scales below [`MIN_SCHEMA`]). Prometheus numbers buckets by their upper boundary `base^i`, so
/// its index is the OpenTelemetry index plus one. Empty buckets are left out (a new span starts
/// after a gap); counts are deltas from the previous bucket of the same sign.
fn native_series(w: &mut Writer, name: &str, pre: &Pre<'_>, h: &ExpHistogram, ts: i64) {
    let lowered;
    let h = if h.scale > MAX_SCHEMA {
        let mut c = h.clone();
        c.downscale((h.scale - MAX_SCHEMA) as u32);
        lowered = c;
        &lowered
    } else {
        h
    };
    let t = w.begin(1);
    let mut named = false;
    let mut start = 0;
    for (i, (n, _)) in pre.labels.iter().enumerate() {
        if !named && "__name__" < n.as_str() {
            label(w, "__name__", name);
            named = true;
        }
        let end = pre.ends[i];
        w.buf.extend_from_slice(&pre.bytes[start..end]);
        start = end;
    }
    if !named {
        label(w, "__name__", name);
    }
    let m = w.begin(4);
    w.tag(1, pb::VARINT); // count_int: a oneof member, written even when 0
    w.varint(h.count);
    w.double(3, h.sum);
    w.uint64(4, zigzag(h.scale as i64));
    w.double(5, h.zero_threshold);
    w.tag(6, pb::VARINT); // zero_count_int: a oneof member
    w.varint(h.zero_count);
    spans(w, 8, 9, &h.negative);
    spans(w, 11, 12, &h.positive);
    w.int64(15, ts);
    w.end(m);
    w.end(t);
}

/// The spans (field `span_field`) and delta-encoded counts (`delta_field`) of one sign.
fn spans(w: &mut Writer, span_field: u32, delta_field: u32, b: &ExpBuckets) {
    let mut spans: Vec<(i32, u32)> = Vec::new();
    let mut deltas: Vec<u64> = Vec::with_capacity(b.counts.len());
    let mut next: Option<i32> = None; // index just after the current span
    let mut prev = 0i64;
    for (k, &c) in b.counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let idx = b.offset + k as i32 + 1;
        match (next, spans.last_mut()) {
            (Some(n), Some(last)) if n == idx => last.1 += 1,
            (Some(n), _) => spans.push((idx - n, 1)),
            (None, _) => spans.push((idx, 1)),
        }
        next = Some(idx + 1);
        deltas.push(zigzag(c as i64 - prev));
        prev = c as i64;
    }
    for (offset, len) in spans {
        let s = w.begin(span_field);
        w.uint64(1, zigzag(offset as i64));
        w.uint64(2, len as u64);
        w.end(s);
    }
    if !deltas.is_empty() {
        w.tag(delta_field, pb::LEN);
        w.varint(deltas.iter().map(|&d| varint_len(d)).sum::<usize>() as u64);
        for d in deltas {
            w.varint(d);
        }
    }
}

/// A series' labels with their pre-encoded `Label` messages.
struct Pre<'a> {
    labels: &'a [Label],
    bytes: &'a [u8],
    ends: &'a [usize],
}

fn label(w: &mut Writer, name: &str, value: &str) {
    let l = w.begin(1);
    w.string(1, name);
    w.string(2, value);
    w.end(l);
}

/// One `TimeSeries` with labels `__name__`, the series' labels (sorted) and `le` merged in name
/// order.
fn series(w: &mut Writer, name: &str, pre: &Pre<'_>, le: Option<&str>, value: f64, ts: i64) {
    // The message is written with its exact length up front: no placeholder to patch and no
    // body to shift (a TimeSeries is usually over 127 bytes, where `Writer::end` must move it).
    let sample_inner = if value.to_bits() != 0 { 9 } else { 0 } + if ts != 0 { 1 + varint_len(ts as u64) } else { 0 };
    let mut len = pre.bytes.len() + label_len("__name__", name) + 1 + varint_len(sample_inner as u64) + sample_inner;
    if let Some(v) = le {
        len += label_len("le", v);
    }
    w.tag(1, pb::LEN);
    w.varint(len as u64);
    #[cfg(debug_assertions)]
    let body_start = w.buf.len();
    let mut extra: [(&str, &str); 2] = [("__name__", name), ("le", "")];
    let extra: &[(&str, &str)] = match le {
        Some(v) => {
            extra[1].1 = v;
            &extra
        }
        None => &extra[..1],
    };
    let mut j = 0;
    let mut start = 0;
    for (i, (n, _)) in pre.labels.iter().enumerate() {
        while j < extra.len() && extra[j].0 < n.as_str() {
            label(w, extra[j].0, extra[j].1);
            j += 1;
        }
        let end = pre.ends[i];
        w.buf.extend_from_slice(&pre.bytes[start..end]);
        start = end;
    }
    for (n, v) in &extra[j..] {
        label(w, n, v);
    }
    w.tag(2, pb::LEN);
    w.varint(sample_inner as u64);
    w.double(1, value);
    w.int64(2, ts);
    #[cfg(debug_assertions)]
    debug_assert_eq!(w.buf.len() - body_start, len);
}

/// Encoded size of a `Label` message field (tag and length prefix included).
fn label_len(name: &str, value: &str) -> usize {
    let field = |n: usize| if n == 0 { 0 } else { 1 + varint_len(n as u64) + n };
    let inner = field(name.len()) + field(value.len());
    1 + varint_len(inner as u64) + inner
}

/// Builds the remote write request for `batch`: snappy-compressed `WriteRequest`, `POST` to
/// [`RemoteWriteConfig::path`], with the headers the protocol requires. Refuses delta batches and
/// invalid external labels with a typed error (nothing to send).
pub fn request(batch: &Batch, cfg: &RemoteWriteConfig) -> Result<Encoded, Error> {
    let raw = encode(batch, cfg)?;
    let mut body = Vec::new();
    crate::codec::snappy::compress_into(&raw, &mut body)?;
    Ok(Encoded {
        method: Method::Post,
        path: cfg.path.clone(),
        headers: alloc::vec![
            ("Content-Encoding", String::from("snappy")),
            ("Content-Type", String::from("application/x-protobuf")),
            ("User-Agent", String::from(USER_AGENT)),
            ("X-Prometheus-Remote-Write-Version", String::from(VERSION)),
        ],
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::pb::{FieldValue, Reader};
    use crate::registry::{Config, InstrumentOptions, Registry};
    use alloc::string::ToString;
    use alloc::vec;

    /// (labels, value, timestamp) of one decoded series.
    type Row = (Vec<(String, String)>, f64, i64);

    /// Decodes a WriteRequest into rows with our bounds-checked reader.
    fn decode(b: &[u8]) -> Vec<Row> {
        let mut out = Vec::new();
        let mut r = Reader::new(b);
        while let Some(Some((1, FieldValue::Len(ts)))) = r.field() {
            let mut labels = Vec::new();
            let (mut v, mut t) = (0.0, 0);
            let mut r2 = Reader::new(ts);
            while let Some(Some((f, FieldValue::Len(m)))) = r2.field() {
                let mut r3 = Reader::new(m);
                if f == 1 {
                    let (mut n, mut val) = (String::new(), String::new());
                    while let Some(Some((g, x))) = r3.field() {
                        match (g, x) {
                            (1, FieldValue::Len(s)) => n = String::from_utf8(s.to_vec()).unwrap(),
                            (2, FieldValue::Len(s)) => val = String::from_utf8(s.to_vec()).unwrap(),
                            _ => panic!("unexpected label field"),
                        }
                    }
                    labels.push((n, val));
                } else {
                    while let Some(Some((g, x))) = r3.field() {
                        match (g, x) {
                            (1, FieldValue::I64(d)) => v = f64::from_bits(d),
                            (2, FieldValue::Varint(d)) => t = d as i64,
                            _ => panic!("unexpected sample field"),
                        }
                    }
                }
            }
            out.push((labels, v, t));
        }
        assert!(r.rest.is_empty());
        out
    }

    #[test]
    fn delta_is_refused() {
        let mut reg = Registry::new(Config::new("svc"));
        let c = reg.counter("c", InstrumentOptions::default()).unwrap();
        c.add(&mut reg, 1.0, &[]);
        let b = reg.collect(5_000_000);
        assert!(matches!(request(&b, &RemoteWriteConfig::default()), Err(Error::InvalidConfig { .. })));
    }

    #[test]
    fn series_labels_sorted_histogram_cumulative() {
        let mut reg = Registry::new(
            Config::new("svc")
                .temporality(Temporality::Cumulative)
                .resource_attr("service.instance.id", "i1")
                .self_metrics(false),
        );
        let h = reg.histogram("lat", InstrumentOptions::unit("s").bounds(&[0.005, 10.0, 1e6])).unwrap();
        for v in [0.001, 5.0, 7.0, 2e6] {
            h.record(&mut reg, v, &[("Zone", "a".into()), ("method", "GET".into()), ("e", "".into())]);
        }
        let b = reg.collect(1_700_000_000_123_456_789);
        let cfg = RemoteWriteConfig::default().external_label("region", "eu");
        let rows = decode(&encode(&b, &cfg).unwrap());
        let le: Vec<(String, f64)> = rows
            .iter()
            .filter(|r| r.0.iter().any(|(n, v)| n == "__name__" && v == "lat_seconds_bucket"))
            .map(|r| (r.0.iter().find(|l| l.0 == "le").unwrap().1.clone(), r.1))
            .collect();
        assert_eq!(
            le,
            vec![
                ("0.005".to_string(), 1.0),
                ("10".to_string(), 3.0),
                ("1e+06".to_string(), 3.0),
                ("+Inf".to_string(), 4.0)
            ]
        );
        for (labels, _, t) in &rows {
            assert_eq!(*t, 1_700_000_000_123);
            let names: Vec<&str> = labels.iter().map(|l| l.0.as_str()).collect();
            let mut sorted = names.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(names, sorted, "sorted and unique");
            assert!(labels.iter().all(|l| !l.1.is_empty()));
            assert!(names.contains(&"region") && names.contains(&"instance") && names.contains(&"job"));
            assert_eq!(names[0], "Zone"); // upper case sorts before __name__
        }
        let sum = rows.iter().find(|r| r.0.iter().any(|l| l.1 == "lat_seconds_sum")).unwrap();
        assert_eq!(sum.1, 0.001 + 5.0 + 7.0 + 2e6);
        assert_eq!(rows.len(), 6);
    }

    #[test]
    fn bad_external_labels() {
        let mut reg = Registry::new(Config::new("svc").temporality(Temporality::Cumulative));
        let g = reg.gauge("g", InstrumentOptions::default()).unwrap();
        g.set(&mut reg, 1.0, &[]);
        let b = reg.collect(1);
        for n in ["", "__x", "a-b", "1a"] {
            let cfg = RemoteWriteConfig::default().external_label(n, "v");
            assert!(matches!(encode(&b, &cfg), Err(Error::InvalidConfig { .. })), "{n}");
        }
    }
}
