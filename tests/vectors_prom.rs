//! Golden vectors of the Prometheus-family encoders for the shared scenario
//! (tests/vectors/scenario.json, replayed with cumulative temporality, which these formats need):
//!
//! * `remote_write.bin` — the uncompressed `WriteRequest` protobuf,
//! * `remote_write.bin.snappy` — the request body (snappy block),
//! * `pushgateway.txt` — the text exposition body.
//!
//! Regenerate with `EDGEMETRICS_BLESS=1 cargo test --test vectors_prom` (see tests/vectors/README.md).
//! Besides byte equality, the stored files are decoded independently (prost for the protobuf,
//! `snap` for snappy, a real Pushgateway for the text) and checked against the batch.

mod common;
#[path = "common/scenario.rs"]
mod scenario;

use std::collections::BTreeMap;

use edgemetrics::encode::pushgateway::{self, PushgatewayConfig};
use edgemetrics::encode::remote_write::{self, RemoteWriteConfig};
use edgemetrics::{Batch, MetricData, Temporality};
use prost::Message;

/// prompb `WriteRequest` as in prometheus/prompb types.proto (field numbers from the spec).
#[derive(Clone, PartialEq, prost::Message)]
struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<TimeSeries>,
}
#[derive(Clone, PartialEq, prost::Message)]
struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<Sample>,
}
#[derive(Clone, PartialEq, prost::Message)]
struct Label {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}
#[derive(Clone, PartialEq, prost::Message)]
struct Sample {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(int64, tag = "2")]
    timestamp: i64,
}

fn batch() -> Batch {
    let s = scenario::load_default();
    scenario::replay(&s, Some(Temporality::Cumulative)).pop().expect("scenario has a collect")
}

#[test]
fn remote_write_vectors() {
    let b = batch();
    let raw = remote_write::encode(&b, &RemoteWriteConfig::default()).unwrap();
    let req = remote_write::request(&b, &RemoteWriteConfig::default()).unwrap();
    scenario::check_vector("remote_write.bin", &raw);
    scenario::check_vector("remote_write.bin.snappy", &req.body);

    // The stored files, decoded by independent implementations.
    let dir = scenario::vectors_dir();
    let stored = std::fs::read(dir.join("remote_write.bin")).unwrap();
    let z = std::fs::read(dir.join("remote_write.bin.snappy")).unwrap();
    assert_eq!(snap::raw::Decoder::new().decompress_vec(&z).unwrap(), stored);
    let wr = WriteRequest::decode(&stored[..]).unwrap();
    // Canonical bytes: re-encoding with prost gives the same bytes.
    assert_eq!(wr.encode_to_vec(), stored);

    let ts = (b.end_unix_nano / 1_000_000) as i64;
    let mut expected_series = 0;
    for m in &b.metrics {
        expected_series += match &m.data {
            MetricData::Histogram { bounds, points, .. } => points.len() * (bounds.len() + 3),
            d => d.len(),
        };
    }
    assert_eq!(wr.timeseries.len(), expected_series);
    type Rows = Vec<(BTreeMap<String, String>, f64)>;
    let mut by_name: BTreeMap<String, Rows> = BTreeMap::new();
    for t in &wr.timeseries {
        let names: Vec<&str> = t.labels.iter().map(|l| l.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted, "labels sorted by name, unique");
        assert!(t.labels.iter().all(|l| !l.value.is_empty()), "no empty label values");
        assert_eq!(t.samples.len(), 1);
        assert_eq!(t.samples[0].timestamp, ts);
        let labels: BTreeMap<String, String> = t.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
        assert_eq!(labels["job"], b.resource_str("service.name").unwrap());
        if let Some(i) = b.resource_str("service.instance.id") {
            assert_eq!(labels["instance"], i);
        }
        by_name.entry(labels["__name__"].clone()).or_default().push((labels, t.samples[0].value));
    }
    // Every point's value appears under its translated name.
    for m in &b.metrics {
        let name = edgemetrics::encode::prom::metric_name(&m.name, &m.unit, m.kind);
        match &m.data {
            MetricData::Sum { points, .. } | MetricData::Gauge { points } => {
                let got: Vec<f64> = by_name[&name].iter().map(|r| r.1).collect();
                for p in points {
                    assert!(got.contains(&p.value), "{name}: {} not in {got:?}", p.value);
                }
            }
            MetricData::Histogram { points, .. } => {
                let counts: Vec<f64> = by_name[&format!("{name}_count")].iter().map(|r| r.1).collect();
                let inf: Vec<f64> =
                    by_name[&format!("{name}_bucket")].iter().filter(|r| r.0["le"] == "+Inf").map(|r| r.1).collect();
                for p in points {
                    assert!(counts.contains(&(p.count as f64)) && inf.contains(&(p.count as f64)), "{name}");
                }
            }
            MetricData::ExponentialHistogram { .. } => panic!("the shared scenario has no exponential histogram"),
        }
    }
}

#[test]
fn pushgateway_vector() {
    let b = batch();
    let cfg = PushgatewayConfig::from_batch(&b);
    let body = pushgateway::encode(&b, &cfg).unwrap();
    scenario::check_vector("pushgateway.txt", &body);

    // The stored text is accepted by a real Pushgateway and read back with the same families.
    let stored = std::fs::read(scenario::vectors_dir().join("pushgateway.txt")).unwrap();
    let text = String::from_utf8(stored.clone()).unwrap();
    let families: Vec<&str> =
        text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).map(|l| l.split(' ').next().unwrap()).collect();
    let mut unique = families.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(families.len(), unique.len(), "each family once");
    assert_eq!(families.len(), b.metrics.len());
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        // After the label set (or the name) comes the value and nothing else: no timestamps.
        let tail = match l.rsplit_once('}') {
            Some((_, t)) => t.trim(),
            None => l.split_once(' ').unwrap().1,
        };
        assert_eq!(tail.split(' ').count(), 1, "no timestamp in {l:?}");
    }

    let pgw = common::pushgateway();
    let path = pushgateway::group_path(&cfg).unwrap();
    let r = common::http("PUT", pgw.port, &path, &[("Content-Type", pushgateway::CONTENT_TYPE)], &stored).unwrap();
    assert!((200..300).contains(&r.status), "{} {}", r.status, r.text());
    let r = common::http("GET", pgw.port, "/api/v1/metrics", &[], b"").unwrap();
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let group = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["labels"]["job"] == cfg.job.as_str())
        .unwrap_or_else(|| panic!("group missing: {v}"));
    for f in &families {
        assert!(group.get(*f).is_some(), "family {f} missing in {group}");
    }
}
