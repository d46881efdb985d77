//! Exponential histograms against the real receivers, started on 127.0.0.1 by the test and
//! stopped by PID: Prometheus 2.42 with `--enable-feature=native-histograms` stores our remote
//! write native histograms, and `histogram_count`, `histogram_sum` and `histogram_quantile` over
//! them match what was recorded (quantiles within the relative width of one bucket at the pushed
//! schema); a real Pushgateway accepts the same histogram as classic buckets.

mod common;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use edgemetrics::encode::pushgateway::{self, PushgatewayConfig};
use edgemetrics::encode::remote_write::{self, RemoteWriteConfig, MAX_SCHEMA};
use edgemetrics::exphist::{ExpConfig, ExpHistogram};
use edgemetrics::{Config, Encoded, HistogramAggregation, InstrumentOptions, MetricData, Registry, Temporality};

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

fn send(port: u16, req: &Encoded) -> common::Response {
    let headers: Vec<(&str, &str)> = req.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    common::http(req.method.as_str(), port, &req.path, &headers, &req.body).expect("request")
}

/// The single value of an instant query.
fn scalar(port: u16, q: &str) -> f64 {
    let text = common::prom_query(port, q);
    let v: serde_json::Value = serde_json::from_str(&text).expect("query JSON");
    assert_eq!(v["status"], "success", "{q}: {text}");
    let rows = v["data"]["result"].as_array().unwrap_or_else(|| panic!("{q}: {text}"));
    assert_eq!(rows.len(), 1, "{q}: {text}");
    rows[0]["value"][1].as_str().unwrap().parse().unwrap()
}

/// Deterministic latencies: log-uniform over 0.5 ms .. 8 s, plus some zeros (an xorshift
/// generator, so the test needs no seed handling).
fn latencies(n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed | 1;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i % 97 == 0 {
                0.0
            } else {
                let u = (x >> 11) as f64 / (1u64 << 53) as f64;
                0.5 * 2f64.powf(u * 14.0)
            }
        })
        .collect()
}

/// The `q` quantile of `sorted` as Prometheus ranks it: the value of rank `q · count`.
fn true_quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank - 1]
}

#[test]
fn native_histograms_in_real_prometheus_match_the_recorded_values() {
    let prom = common::prometheus_native_histograms();
    let instance = format!("isolate-{}", std::process::id());
    let mut reg = Registry::new(
        Config::new("edge-fn")
            .temporality(Temporality::Cumulative)
            .resource_attr("service.instance.id", instance.as_str())
            .histogram_aggregation(HistogramAggregation::exponential()),
    );
    let dur = reg.histogram("http.duration", InstrumentOptions::unit("ms")).unwrap();
    // A per-instrument choice with a small size: it downscales further.
    let small = reg
        .histogram("payload.size", InstrumentOptions::unit("By").exponential(ExpConfig { max_size: 20, max_scale: 20 }))
        .unwrap();

    let mut recorded: Vec<f64> = Vec::new();
    let mut sizes: Vec<f64> = Vec::new();
    let t0 = now_ns() - 60_000_000_000;
    let mut last = None;
    for round in 0..3u64 {
        let t = t0 + round * 30_000_000_000;
        reg.begin(t);
        for v in latencies(400, 7 + round) {
            dur.record(&mut reg, v, &[("route", "/cart".into())]);
            recorded.push(v);
        }
        for v in [100.0, 2048.0, 5e5 * (round + 1) as f64] {
            small.record(&mut reg, v, &[]);
            sizes.push(v);
        }
        let batch = reg.collect(t + 1_000_000);
        let r = send(prom.port, &remote_write::request(&batch, &RemoteWriteConfig::default()).unwrap());
        assert!((200..300).contains(&r.status), "push {round}: {} {}", r.status, r.text());
        last = Some(batch);
    }
    let batch = last.unwrap();
    let hist = |name: &str| -> ExpHistogram {
        let Some(MetricData::ExponentialHistogram { points, .. }) = batch.metric(name).map(|m| &m.data) else {
            panic!("{name}")
        };
        points[0].hist.clone()
    };
    let h = hist("http.duration");
    assert_eq!(h.count, recorded.len() as u64);
    // 0.5 ms .. 8 s is 14 octaves: 160 buckets hold 8 per octave (scale 3), not 16.
    assert_eq!(h.scale, 3);

    let name = "http_duration_milliseconds";
    assert_eq!(scalar(prom.port, &format!("histogram_count({name})")), recorded.len() as f64);
    let sum: f64 = recorded.iter().sum();
    let got_sum = scalar(prom.port, &format!("histogram_sum({name})"));
    // The same additions in the same order: Prometheus stores the sum we sent.
    assert_eq!(got_sum, h.sum);
    assert!((got_sum - sum).abs() <= sum * 1e-12);

    // Quantiles: Prometheus interpolates inside the bucket holding the rank, so its estimate and
    // the true value share a bucket (base^i, base^(i+1)]: their ratio is below base.
    let schema = h.scale.min(MAX_SCHEMA);
    let base = 2f64.powf(2f64.powi(-schema));
    let mut sorted = recorded.clone();
    sorted.sort_by(f64::total_cmp);
    let mut worst: f64 = 0.0;
    for q in [0.1, 0.25, 0.5, 0.75, 0.9, 0.99] {
        let want = true_quantile(&sorted, q);
        let got = scalar(prom.port, &format!("histogram_quantile({q}, {name})"));
        let err = (got - want).abs() / want;
        worst = worst.max(err);
        assert!(
            err < base - 1.0,
            "q{q}: Prometheus {got}, recorded {want}, error {err} >= {} (schema {schema})",
            base - 1.0
        );
    }
    eprintln!("native histogram: schema {schema}, bucket width {:.4}, worst quantile error {worst:.5}", base - 1.0);

    // The small instrument: 20 buckets over 100 B .. 1.5 MB.
    let s = hist("payload.size");
    assert!(s.positive.counts.len() <= 20 && s.scale < h.scale, "scale {}", s.scale);
    assert_eq!(scalar(prom.port, "histogram_count(payload_size_bytes)"), sizes.len() as f64);
    assert_eq!(scalar(prom.port, "histogram_sum(payload_size_bytes)"), sizes.iter().sum::<f64>());

    // The same batch as classic buckets at the exponential boundaries, through a real Pushgateway.
    let pgw = common::pushgateway();
    let cfg = PushgatewayConfig::from_batch(&batch);
    let r = send(pgw.port, &pushgateway::request(&batch, &cfg).unwrap());
    assert!((200..300).contains(&r.status), "pushgateway: {} {}", r.status, r.text());
    let page = common::http("GET", pgw.port, "/metrics", &[], b"").unwrap().text();
    let mut buckets: BTreeMap<String, f64> = BTreeMap::new();
    for l in page.lines().filter(|l| l.starts_with(&format!("{name}_bucket{{"))) {
        let le = l.split("le=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
        buckets.insert(le, l.rsplit(' ').next().unwrap().parse().unwrap());
    }
    assert_eq!(buckets["+Inf"], recorded.len() as f64, "{page}");
    // One classic bucket per exponential bucket, plus the zero bucket, the lower end of the first
    // positive bucket and +Inf.
    assert_eq!(buckets.len(), h.positive.counts.len() + 3, "{page}");
    assert_eq!(buckets["0"], recorded.iter().filter(|v| **v == 0.0).count() as f64);
    let count_line = page.lines().find(|l| l.starts_with(&format!("{name}_count{{"))).unwrap();
    assert!(count_line.ends_with(&format!(" {}", recorded.len())), "{count_line}");
}

#[test]
fn scales_below_prometheus_range_are_a_typed_error() {
    let mut reg = Registry::new(
        Config::new("svc")
            .temporality(Temporality::Cumulative)
            .self_metrics(false)
            .resource_attr("service.instance.id", "i"),
    );
    let h = reg
        .histogram("wide", InstrumentOptions::default().exponential(ExpConfig { max_size: 2, max_scale: 0 }))
        .unwrap();
    h.record(&mut reg, 1e-300, &[]);
    h.record(&mut reg, 1e300, &[]);
    let batch = reg.collect(1_000_000);
    let Some(MetricData::ExponentialHistogram { points, .. }) = batch.metric("wide").map(|m| &m.data) else { panic!() };
    assert!(points[0].hist.scale < remote_write::MIN_SCHEMA);
    let err = remote_write::request(&batch, &RemoteWriteConfig::default()).unwrap_err();
    assert!(matches!(err, edgemetrics::Error::InvalidConfig { .. }), "{err:?}");
    assert!(err.message().contains("below -4"), "{}", err.message());
}
