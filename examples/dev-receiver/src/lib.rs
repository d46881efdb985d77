//! The edgemetrics dev receiver: a small HTTP/1.1 server on 127.0.0.1 that accepts every format
//! edgemetrics pushes, decodes it into series, prints a readable line per push and serves its
//! totals as JSON at `GET /summary` (and as text with bar charts at `GET /summary.txt`).
//!
//! | route | format |
//! |---|---|
//! | `POST /v1/metrics` `application/x-protobuf` | OTLP protobuf |
//! | `POST /v1/metrics` `application/json` | OTLP JSON |
//! | `POST /api/v1/write` | Prometheus remote write 1.0 (snappy + protobuf) |
//! | `PUT`/`POST /metrics/job/...` | Pushgateway text |
//! | `POST /v1/compact` | edgemetrics compact |
//! | `POST /reset` | clears the totals |
//!
//! Bounded: bodies over [`MAX_BODY`] get 413, at most [`MAX_SERIES`] series are stored (the
//! rest is counted), at most [`MAX_IDS`] batch ids are remembered.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgemetrics::encode::prom::classic_buckets;
use edgemetrics::exphist::{ExpBuckets, ExpHistogram};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1 as otlp_common;
use opentelemetry_proto::tonic::metrics::v1 as otlp_metrics;
use prost::Message;

/// prompb `WriteRequest` (prometheus/prompb types.proto field numbers), decoded with prost.
mod prompb {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(double, tag = "1")]
        pub value: f64,
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }
}
use edgemetrics::{Batch, MetricData, Value};
use serde_json::{json, Value as Json};

/// Largest accepted body.
pub const MAX_BODY: usize = 8 << 20;
/// Most series kept.
pub const MAX_SERIES: usize = 10_000;
/// Most batch ids remembered (for duplicate detection).
pub const MAX_IDS: usize = 100_000;

/// One series: a number (sum or gauge) or a histogram.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// `sum`, `gauge` or `histogram`.
    pub kind: &'static str,
    /// Running total for delta sums, last value for cumulative sums and gauges.
    pub value: f64,
    /// Histogram count.
    pub count: u64,
    /// Histogram sum.
    pub sum: f64,
    /// Histogram upper bounds (`+Inf` last).
    pub bounds: Vec<f64>,
    /// Per-bucket counts (not cumulative).
    pub buckets: Vec<u64>,
    /// An exponential histogram's running state (delta points merge into it exactly); `bounds`
    /// and `buckets` then show it as classic buckets at its boundaries.
    pub exp: Option<ExpHistogram>,
}

/// Everything received.
#[derive(Debug, Default)]
pub struct State {
    /// Requests accepted (2xx).
    pub pushes: u64,
    /// Requests refused (4xx).
    pub refused: u64,
    /// Body bytes received (as sent, compressed or not).
    pub bytes: u64,
    /// Pushes per format.
    pub per_format: BTreeMap<String, u64>,
    /// Pushes with a batch id already seen (retries that did arrive twice).
    pub duplicate_ids: u64,
    /// Pushes without a batch id.
    pub missing_ids: u64,
    ids: HashSet<String>,
    /// Series by `name{labels}`.
    pub series: BTreeMap<String, Series>,
    /// Series not stored because of [`MAX_SERIES`].
    pub series_dropped: u64,
    /// Body size of each push (the last 10 000).
    pub sizes: Vec<usize>,
}

/// A decoded point, format-independent.
enum Point {
    Sum { delta: bool, value: f64 },
    Gauge(f64),
    Hist { delta: bool, count: u64, sum: f64, bounds: Vec<f64>, buckets: Vec<u64> },
    Exp { delta: bool, hist: ExpHistogram },
}

impl State {
    fn apply(&mut self, key: String, p: Point) {
        if !self.series.contains_key(&key) && self.series.len() >= MAX_SERIES {
            self.series_dropped += 1;
            return;
        }
        let s = self.series.entry(key).or_default();
        match p {
            Point::Sum { delta, value } => {
                s.kind = "sum";
                s.value = if delta { s.value + value } else { value };
            }
            Point::Gauge(v) => {
                s.kind = "gauge";
                s.value = v;
            }
            Point::Hist { delta, count, sum, bounds, buckets } => {
                s.kind = "histogram";
                if delta && s.buckets.len() == buckets.len() && s.bounds == bounds {
                    s.count += count;
                    s.sum += sum;
                    for (a, b) in s.buckets.iter_mut().zip(&buckets) {
                        *a += b;
                    }
                } else {
                    s.count = count;
                    s.sum = sum;
                    s.bounds = bounds;
                    s.buckets = buckets;
                }
            }
            Point::Exp { delta, hist } => {
                s.kind = "histogram";
                let h = match (&mut s.exp, delta) {
                    (Some(e), true) => {
                        e.merge(&hist, 160.max(hist.positive.counts.len() as u32));
                        e
                    }
                    (slot, _) => slot.insert(hist),
                };
                s.count = h.count;
                s.sum = h.sum;
                let classic = classic_buckets(h);
                let mut prev = 0;
                s.bounds = classic.iter().map(|b| b.0).collect();
                s.buckets = classic
                    .iter()
                    .map(|b| {
                        let c = b.1 - prev;
                        prev = b.1;
                        c
                    })
                    .collect();
            }
        }
    }

    /// Totals as JSON (what `GET /summary` returns).
    pub fn to_json(&self) -> Json {
        let series: serde_json::Map<String, Json> = self
            .series
            .iter()
            .map(|(k, s)| {
                let v = if s.kind == "histogram" {
                    json!({"kind": s.kind, "count": s.count, "sum": s.sum,
                           "bounds": s.bounds.iter().map(|b| if b.is_finite() { json!(b) } else { json!("+Inf") }).collect::<Vec<_>>(),
                           "buckets": s.buckets})
                } else {
                    json!({"kind": s.kind, "value": s.value})
                };
                (k.clone(), v)
            })
            .collect();
        let avg = if self.sizes.is_empty() { 0 } else { self.sizes.iter().sum::<usize>() / self.sizes.len() };
        json!({
            "pushes": self.pushes, "refused": self.refused, "bytes": self.bytes,
            "bytes_per_push_avg": avg, "bytes_per_push_max": self.sizes.iter().max().copied().unwrap_or(0),
            "per_format": self.per_format, "unique_batch_ids": self.ids.len(),
            "duplicate_batch_ids": self.duplicate_ids, "missing_batch_ids": self.missing_ids,
            "series_count": self.series.len(), "series_dropped": self.series_dropped, "series": series,
        })
    }

    /// A readable summary with a text bar chart per histogram.
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        let avg = if self.sizes.is_empty() { 0 } else { self.sizes.iter().sum::<usize>() / self.sizes.len() };
        o += &format!(
            "pushes {}  refused {}  bytes {} (avg {} B/push)  unique batch ids {}  duplicates {}  formats {:?}\n",
            self.pushes,
            self.refused,
            self.bytes,
            avg,
            self.ids.len(),
            self.duplicate_ids,
            self.per_format
        );
        for (k, s) in &self.series {
            if s.kind != "histogram" {
                o += &format!("  {:<90} {}\n", k, fmt_num(s.value));
                continue;
            }
            o += &format!("  {}  count {}  sum {}\n", k, s.count, fmt_num(s.sum));
            let max = s.buckets.iter().copied().max().unwrap_or(0).max(1);
            for (i, c) in s.buckets.iter().enumerate() {
                if *c == 0 {
                    continue;
                }
                let le = s.bounds.get(i).map_or("+Inf".to_string(), |b| fmt_num(*b));
                let bar = "#".repeat(((*c as f64 / max as f64) * 40.0).ceil() as usize);
                o += &format!("      le {:>8} {:>7} {}\n", le, c, bar);
            }
        }
        o
    }
}

fn fmt_num(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

fn series_key(name: &str, mut labels: Vec<(String, String)>) -> String {
    labels.sort();
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

fn value_str(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::I64(i) => i.to_string(),
        Value::F64(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
    }
}

/// Points of a decoded [`Batch`] (compact).
fn from_batch(b: &Batch) -> Vec<(String, Point)> {
    let delta = b.temporality == edgemetrics::Temporality::Delta;
    let mut out = Vec::new();
    for m in &b.metrics {
        let labels = |attrs: &[edgemetrics::KeyValue]| -> Vec<(String, String)> {
            attrs.iter().map(|kv| (kv.key.clone(), value_str(&kv.value))).collect()
        };
        match &m.data {
            MetricData::Sum { points, .. } => {
                for p in points {
                    out.push((series_key(&m.name, labels(&p.attributes)), Point::Sum { delta, value: p.value }))
                }
            }
            MetricData::Gauge { points } => {
                for p in points {
                    out.push((series_key(&m.name, labels(&p.attributes)), Point::Gauge(p.value)))
                }
            }
            MetricData::Histogram { bounds, points, .. } => {
                let mut bs: Vec<f64> = bounds.to_vec();
                bs.push(f64::INFINITY);
                for p in points {
                    out.push((
                        series_key(&m.name, labels(&p.attributes)),
                        Point::Hist {
                            delta,
                            count: p.count,
                            sum: p.sum,
                            bounds: bs.clone(),
                            buckets: p.bucket_counts.clone(),
                        },
                    ))
                }
            }
            MetricData::ExponentialHistogram { points, .. } => {
                for p in points {
                    out.push((series_key(&m.name, labels(&p.attributes)), Point::Exp { delta, hist: p.hist.clone() }))
                }
            }
        }
    }
    out
}

fn otlp_labels(attrs: &[otlp_common::KeyValue]) -> Vec<(String, String)> {
    use otlp_common::any_value::Value as V;
    attrs
        .iter()
        .map(|kv| {
            let val = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(V::StringValue(s)) => s.clone(),
                Some(V::BoolValue(b)) => b.to_string(),
                Some(V::IntValue(i)) => i.to_string(),
                Some(V::DoubleValue(d)) => d.to_string(),
                _ => String::new(),
            };
            (kv.key.clone(), val)
        })
        .collect()
}

/// OTLP protobuf `ExportMetricsServiceRequest` → points, decoded with the official
/// opentelemetry-proto types.
fn from_otlp_proto(body: &[u8]) -> Result<Vec<(String, Point)>, String> {
    use otlp_metrics::{metric::Data, number_data_point::Value as NV};
    let req = ExportMetricsServiceRequest::decode(body).map_err(|e| format!("malformed protobuf: {e}"))?;
    let number = |p: &otlp_metrics::NumberDataPoint| match p.value {
        Some(NV::AsDouble(v)) => v,
        Some(NV::AsInt(i)) => i as f64,
        None => 0.0,
    };
    let mut out = Vec::new();
    for m in req.resource_metrics.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics) {
        match &m.data {
            Some(Data::Gauge(g)) => {
                for p in &g.data_points {
                    out.push((series_key(&m.name, otlp_labels(&p.attributes)), Point::Gauge(number(p))));
                }
            }
            Some(Data::Sum(sum)) => {
                let delta = sum.aggregation_temporality == 1;
                for p in &sum.data_points {
                    out.push((series_key(&m.name, otlp_labels(&p.attributes)), Point::Sum { delta, value: number(p) }));
                }
            }
            Some(Data::Histogram(h)) => {
                let delta = h.aggregation_temporality == 1;
                for p in &h.data_points {
                    let mut bounds = p.explicit_bounds.clone();
                    bounds.push(f64::INFINITY);
                    out.push((
                        series_key(&m.name, otlp_labels(&p.attributes)),
                        Point::Hist {
                            delta,
                            count: p.count,
                            sum: p.sum.unwrap_or(0.0),
                            bounds,
                            buckets: p.bucket_counts.clone(),
                        },
                    ));
                }
            }
            Some(Data::ExponentialHistogram(h)) => {
                let delta = h.aggregation_temporality == 1;
                for p in &h.data_points {
                    let buckets = |b: &Option<otlp_metrics::exponential_histogram_data_point::Buckets>| {
                        b.as_ref()
                            .map(|b| ExpBuckets { offset: b.offset, counts: b.bucket_counts.clone() })
                            .unwrap_or_default()
                    };
                    let hist = ExpHistogram {
                        count: p.count,
                        sum: p.sum.unwrap_or(0.0),
                        min: p.min.unwrap_or(f64::INFINITY),
                        max: p.max.unwrap_or(f64::NEG_INFINITY),
                        scale: p.scale,
                        zero_count: p.zero_count,
                        zero_threshold: p.zero_threshold,
                        positive: buckets(&p.positive),
                        negative: buckets(&p.negative),
                    };
                    hist.validate()?;
                    out.push((series_key(&m.name, otlp_labels(&p.attributes)), Point::Exp { delta, hist }));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn json_num(v: &Json) -> f64 {
    match v {
        Json::Number(n) => n.as_f64().unwrap_or(0.0),
        Json::String(s) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// OTLP JSON → points.
fn from_otlp_json(body: &[u8]) -> Result<Vec<(String, Point)>, String> {
    let v: Json = serde_json::from_slice(body).map_err(|e| format!("bad JSON: {e}"))?;
    let arr = |v: &Json, k: &str| v.get(k).and_then(Json::as_array).cloned().unwrap_or_default();
    let mut out = Vec::new();
    for rm in arr(&v, "resourceMetrics") {
        for sm in arr(&rm, "scopeMetrics") {
            for m in arr(&sm, "metrics") {
                let name = m.get("name").and_then(Json::as_str).unwrap_or("").to_string();
                for (kind, data) in ["gauge", "sum", "histogram"].iter().filter_map(|k| m.get(*k).map(|d| (*k, d))) {
                    let delta = data.get("aggregationTemporality").map(json_num) == Some(1.0);
                    for dp in arr(data, "dataPoints") {
                        let labels: Vec<(String, String)> = arr(&dp, "attributes")
                            .iter()
                            .map(|a| {
                                let k = a.get("key").and_then(Json::as_str).unwrap_or("").to_string();
                                let val = a
                                    .get("value")
                                    .and_then(|v| v.as_object())
                                    .and_then(|o| o.values().next())
                                    .map(|x| x.as_str().map(String::from).unwrap_or_else(|| x.to_string()))
                                    .unwrap_or_default();
                                (k, val)
                            })
                            .collect();
                        let value = dp.get("asDouble").or_else(|| dp.get("asInt")).map(json_num).unwrap_or(0.0);
                        let p = match kind {
                            "gauge" => Point::Gauge(value),
                            "sum" => Point::Sum { delta, value },
                            _ => {
                                let mut bounds: Vec<f64> = arr(&dp, "explicitBounds").iter().map(json_num).collect();
                                bounds.push(f64::INFINITY);
                                Point::Hist {
                                    delta,
                                    count: dp.get("count").map(json_num).unwrap_or(0.0) as u64,
                                    sum: dp.get("sum").map(json_num).unwrap_or(0.0),
                                    bounds,
                                    buckets: arr(&dp, "bucketCounts").iter().map(|c| json_num(c) as u64).collect(),
                                }
                            }
                        };
                        out.push((series_key(&name, labels), p));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Prometheus samples (`name`, labels, value) → points: `_bucket` series regrouped into
/// histograms, everything else a cumulative value.
/// A Prometheus sample: metric name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);
/// A histogram being reassembled from its series: name, labels, (le, count) buckets, sum, count.
type PromHistogram = (String, Vec<(String, String)>, Vec<(f64, f64)>, f64, f64);

fn from_prom_samples(samples: Vec<Sample>) -> Vec<(String, Point)> {
    let mut hists: BTreeMap<String, PromHistogram> = BTreeMap::new();
    let mut out = Vec::new();
    for (name, labels, value) in &samples {
        if let Some(base) = name.strip_suffix("_bucket") {
            let le = labels.iter().find(|(k, _)| k == "le").map(|(_, v)| v.clone()).unwrap_or_default();
            let rest: Vec<(String, String)> = labels.iter().filter(|(k, _)| k != "le").cloned().collect();
            let key = series_key(base, rest.clone());
            let b = if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap_or(f64::INFINITY) };
            hists.entry(key).or_insert_with(|| (base.to_string(), rest, Vec::new(), 0.0, 0.0)).2.push((b, *value));
        }
    }
    for (name, labels, value) in samples {
        let base = name.strip_suffix("_sum").or_else(|| name.strip_suffix("_count"));
        if let Some(h) = base.and_then(|b| hists.get_mut(&series_key(b, labels.clone()))) {
            if name.ends_with("_sum") {
                h.3 = value;
            } else {
                h.4 = value;
            }
            continue;
        }
        if name.ends_with("_bucket") {
            continue;
        }
        out.push((series_key(&name, labels), Point::Sum { delta: false, value }));
    }
    for (key, (_, _, mut cum, sum, count)) in hists {
        cum.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut prev = 0.0;
        let mut buckets = Vec::new();
        for (_, c) in &cum {
            buckets.push((c - prev).max(0.0) as u64);
            prev = *c;
        }
        let bounds = cum.iter().map(|(b, _)| *b).collect();
        out.push((key, Point::Hist { delta: false, count: count as u64, sum, bounds, buckets }));
    }
    out
}

/// Remote write (snappy block + `WriteRequest`) → points.
fn from_remote_write(body: &[u8]) -> Result<Vec<(String, Point)>, String> {
    let len = snap::raw::decompress_len(body).map_err(|e| format!("snappy: {e}"))?;
    if len > MAX_BODY * 4 {
        return Err(format!("snappy: block declares {len} bytes, more than {}", MAX_BODY * 4));
    }
    let raw = snap::raw::Decoder::new().decompress_vec(body).map_err(|e| format!("snappy: {e}"))?;
    let req = prompb::WriteRequest::decode(raw.as_slice()).map_err(|e| format!("malformed protobuf: {e}"))?;
    let mut samples = Vec::new();
    for ts in req.timeseries {
        let mut labels: Vec<(String, String)> = ts.labels.into_iter().map(|l| (l.name, l.value)).collect();
        let name = labels.iter().find(|(k, _)| k == "__name__").map(|(_, v)| v.clone()).unwrap_or_default();
        labels.retain(|(k, _)| k != "__name__");
        if let Some(s) = ts.samples.last() {
            samples.push((name, labels, s.value));
        }
    }
    Ok(from_prom_samples(samples))
}

/// Pushgateway text exposition → points.
fn from_text(body: &[u8]) -> Result<Vec<(String, Point)>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8".to_string())?;
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (head, value) = line.rsplit_once(' ').ok_or("line without value")?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| format!("bad value in {line:?}"))?,
        };
        let (name, labels) = match head.split_once('{') {
            None => (head.to_string(), Vec::new()),
            Some((n, rest)) => {
                let rest = rest.strip_suffix('}').ok_or("unclosed labels")?;
                let mut labels = Vec::new();
                let mut it = rest.chars().peekable();
                loop {
                    let k: String = it.by_ref().take_while(|c| *c != '=').collect();
                    if k.is_empty() {
                        break;
                    }
                    if it.next() != Some('"') {
                        return Err("label value not quoted".into());
                    }
                    let mut v = String::new();
                    while let Some(c) = it.next() {
                        match c {
                            '\\' => match it.next() {
                                Some('n') => v.push('\n'),
                                Some(c) => v.push(c),
                                None => {}
                            },
                            '"' => break,
                            c => v.push(c),
                        }
                    }
                    labels.push((k.trim_start_matches(',').to_string(), v));
                    if it.peek() == Some(&',') {
                        it.next();
                    }
                }
                (n.to_string(), labels)
            }
        };
        samples.push((name, labels, value));
    }
    Ok(from_prom_samples(samples))
}

/// A received request.
struct Req {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn read_request(s: &mut TcpStream) -> Result<Req, (u16, String)> {
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| (400, e.to_string()))?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    for _ in 0..100 {
        let mut h = String::new();
        r.read_line(&mut h).map_err(|e| (400, e.to_string()))?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let get = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut sz = String::new();
            r.read_line(&mut sz).map_err(|e| (400, e.to_string()))?;
            let n = usize::from_str_radix(sz.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| (400, "bad chunk".into()))?;
            if body.len() + n > MAX_BODY {
                return Err((413, "body too large".into()));
            }
            if n == 0 {
                let mut end = String::new();
                let _ = r.read_line(&mut end);
                break;
            }
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).map_err(|e| (400, e.to_string()))?;
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        let n: usize = get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        if n > MAX_BODY {
            return Err((413, "body too large".into()));
        }
        body.resize(n, 0);
        r.read_exact(&mut body).map_err(|e| (400, e.to_string()))?;
    }
    Ok(Req { method, path, headers, body })
}

fn respond(s: &mut TcpStream, status: u16, ctype: &str, body: &[u8]) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        _ => "Status",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body);
}

/// Decodes one push; `Err((status, message))` when refused.
fn ingest(state: &Mutex<State>, req: &Req, quiet: bool) -> Result<(), (u16, String)> {
    if req.header("content-encoding").is_some_and(|e| e.eq_ignore_ascii_case("gzip")) {
        return Err((415, "gzip bodies are not supported by the dev receiver: push uncompressed".into()));
    }
    let ctype = req.header("content-type").unwrap_or("");
    let path = req.path.split('?').next().unwrap_or("");
    let (format, points) = if path == "/v1/metrics" && ctype.contains("json") {
        ("otlp-json", from_otlp_json(&req.body))
    } else if path == "/v1/metrics" {
        ("otlp-protobuf", from_otlp_proto(&req.body))
    } else if path == "/api/v1/write" {
        ("remote-write", from_remote_write(&req.body))
    } else if path.starts_with("/metrics/job/") && (req.method == "PUT" || req.method == "POST") {
        ("pushgateway", from_text(&req.body))
    } else if path == edgemetrics::encode::compact::PATH {
        (
            "compact",
            edgemetrics::encode::compact::decode(&req.body)
                .map(|b| from_batch(&b))
                .map_err(|e| format!("compact: {e:?}")),
        )
    } else {
        return Err((404, format!("no format at {} {}", req.method, path)));
    };
    let points = points.map_err(|e| (400, e))?;
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    st.pushes += 1;
    st.bytes += req.body.len() as u64;
    if st.sizes.len() < 10_000 {
        st.sizes.push(req.body.len());
    }
    *st.per_format.entry(format.to_string()).or_default() += 1;
    match req.header(edgemetrics::push::BATCH_ID_HEADER) {
        None => st.missing_ids += 1,
        Some(id) if st.ids.contains(id) => st.duplicate_ids += 1,
        Some(id) => {
            if st.ids.len() < MAX_IDS {
                st.ids.insert(id.to_string());
            }
        }
    }
    let n = points.len();
    for (k, p) in points {
        st.apply(k, p);
    }
    if !quiet {
        println!(
            "push #{:<5} {:<13} {:>6} B  {:>3} points  batch {}  (series {})",
            st.pushes,
            format,
            req.body.len(),
            n,
            req.header(edgemetrics::push::BATCH_ID_HEADER).unwrap_or("-"),
            st.series.len()
        );
    }
    Ok(())
}

fn handle(state: &Mutex<State>, mut s: TcpStream, quiet: bool) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let req = match read_request(&mut s) {
        Ok(r) => r,
        Err((st, msg)) => return respond(&mut s, st, "text/plain", msg.as_bytes()),
    };
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/summary") => {
            let body = state.lock().unwrap_or_else(|p| p.into_inner()).to_json().to_string();
            respond(&mut s, 200, "application/json", body.as_bytes())
        }
        ("GET", "/summary.txt") => {
            let body = state.lock().unwrap_or_else(|p| p.into_inner()).to_text();
            respond(&mut s, 200, "text/plain; charset=utf-8", body.as_bytes())
        }
        ("GET", "/-/ready") => respond(&mut s, 200, "text/plain", b"ready\n"),
        ("POST", "/reset") => {
            *state.lock().unwrap_or_else(|p| p.into_inner()) = State::default();
            respond(&mut s, 200, "text/plain", b"reset\n")
        }
        _ => match ingest(state, &req, quiet) {
            Ok(()) => respond(&mut s, 200, "text/plain", b""),
            Err((st, msg)) => {
                state.lock().unwrap_or_else(|p| p.into_inner()).refused += 1;
                if !quiet {
                    eprintln!("refused {} {}: {st} {msg}", req.method, req.path);
                }
                respond(&mut s, st, "text/plain", msg.as_bytes())
            }
        },
    }
}

/// A running receiver.
pub struct Receiver {
    /// The bound port on 127.0.0.1.
    pub port: u16,
    /// Shared totals.
    pub state: Arc<Mutex<State>>,
}

/// Binds 127.0.0.1:`port` (0: any free port) and serves on background threads (at most 8
/// connections handled at once).
pub fn start(port: u16, quiet: bool) -> std::io::Result<Receiver> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let port = listener.local_addr()?.port();
    let state = Arc::new(Mutex::new(State::default()));
    let st = state.clone();
    let active = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let started = Instant::now();
            while active.load(std::sync::atomic::Ordering::SeqCst) >= 8 && started.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(2));
            }
            active.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (st, active) = (st.clone(), active.clone());
            std::thread::spawn(move || {
                handle(&st, conn, quiet);
                active.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
    });
    Ok(Receiver { port, state })
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgemetrics::{Config, InstrumentOptions, Registry, Temporality};

    /// The same batch through every encoder the SDK has, decoded by the receiver: same totals.
    #[test]
    fn every_format_decodes_to_the_same_series() {
        let mut reg = Registry::new(Config::new("svc").temporality(Temporality::Cumulative));
        let c = reg.counter("http.server.requests", InstrumentOptions::unit("{request}")).unwrap();
        let h = reg.histogram("http.server.duration", InstrumentOptions::unit("ms").bounds(&[10.0, 100.0])).unwrap();
        reg.begin(1_700_000_000_000_000_000);
        for (route, n) in [("/a", 3.0), ("/b", 5.0)] {
            c.add(&mut reg, n, &[("route", route.into())]);
        }
        for v in [5.0, 50.0, 50.0, 500.0] {
            h.record(&mut reg, v, &[("route", "/a".into())]);
        }
        let batch = reg.collect(1_700_000_001_000_000_000);
        let pg = edgemetrics::encode::pushgateway::PushgatewayConfig::new("job");
        let cases: Vec<(&str, Vec<(String, Point)>)> = vec![
            (
                "compact",
                from_batch(
                    &edgemetrics::encode::compact::decode(&edgemetrics::encode::compact::request(&batch).body).unwrap(),
                ),
            ),
            ("otlp", from_otlp_proto(&edgemetrics::encode::otlp::request(&batch).body).unwrap()),
            ("otlp-json", from_otlp_json(&edgemetrics::encode::otlp_json::request(&batch).body).unwrap()),
            (
                "remote-write",
                from_remote_write(
                    &edgemetrics::encode::remote_write::request(&batch, &Default::default()).unwrap().body,
                )
                .unwrap(),
            ),
            ("pushgateway", from_text(&edgemetrics::encode::pushgateway::request(&batch, &pg).unwrap().body).unwrap()),
        ];
        for (format, points) in cases {
            let mut st = State::default();
            for (k, p) in points {
                st.apply(k, p);
            }
            let find = |needle: &str, route: &str| {
                st.series
                    .iter()
                    .find(|(k, _)| k.starts_with(needle) && k.contains(&format!("route=\"{route}\"")))
                    .map(|(_, s)| s.clone())
                    .unwrap_or_else(|| panic!("{format}: no {needle} for {route} in {:?}", st.series.keys()))
            };
            let (prom_c, prom_h) = ("http_server_requests_total", "http_server_duration_milliseconds");
            let prom = format == "remote-write" || format == "pushgateway";
            let cname = if prom { prom_c } else { "http.server.requests{" };
            let hname = if prom { prom_h } else { "http.server.duration{" };
            assert_eq!(find(cname, "/a").value, 3.0, "{format}");
            assert_eq!(find(cname, "/b").value, 5.0, "{format}");
            let hs = find(hname, "/a");
            assert_eq!((hs.count, hs.sum), (4, 605.0), "{format}");
            assert_eq!(hs.buckets, vec![1, 2, 1], "{format}");
            assert_eq!(hs.bounds, vec![10.0, 100.0, f64::INFINITY], "{format}");
        }
    }

    /// Exponential histograms from compact and OTLP protobuf: delta windows merge exactly, and
    /// the summary shows their count, sum and classic buckets at the exponential boundaries.
    #[test]
    fn exponential_histograms_merge_across_pushes() {
        use edgemetrics::exphist::ExpConfig;
        let mut reg = Registry::new(Config::new("svc").self_metrics(false));
        let h = reg.histogram("lat", InstrumentOptions::unit("ms").exponential(ExpConfig::default())).unwrap();
        let mut all = ExpHistogram::new(20);
        let mut state = State::default();
        for (i, window) in [[1.5, 3.0], [0.0, 900.0]].iter().enumerate() {
            reg.begin(1 + i as u64);
            for v in window {
                h.record(&mut reg, *v, &[]);
                all.record(*v, 160);
            }
            let batch = reg.collect(2 + i as u64);
            let points = if i == 0 {
                from_batch(
                    &edgemetrics::encode::compact::decode(&edgemetrics::encode::compact::request(&batch).body).unwrap(),
                )
            } else {
                from_otlp_proto(&edgemetrics::encode::otlp::request(&batch).body).unwrap()
            };
            for (k, p) in points {
                state.apply(k, p);
            }
        }
        let s = state.series.values().next().unwrap();
        assert_eq!((s.kind, s.count, s.sum), ("histogram", 4, 904.5));
        assert_eq!(s.exp.as_ref(), Some(&all));
        assert_eq!(s.buckets.iter().sum::<u64>(), 4);
        assert_eq!(*s.bounds.last().unwrap(), f64::INFINITY);
    }

    #[test]
    fn malformed_bodies_are_refused() {
        assert!(from_otlp_proto(&[0xff, 0xff]).is_err());
        assert!(from_otlp_json(b"{").is_err());
        assert!(from_remote_write(b"\xff\xff\xff").is_err());
        assert!(from_text(b"metric{a=\"x\" 1").is_err());
    }
}
