//! Remote write against a real Prometheus (started on 127.0.0.1 by the test, stopped by PID), and
//! the snappy codec checked against an independent implementation (`snap`).

mod common;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use edgemetrics::codec::snappy;
use edgemetrics::encode::remote_write::{self, RemoteWriteConfig};
use edgemetrics::{Config, Encoded, Error, InstrumentOptions, Registry, Temporality, DEFAULT_BOUNDS};
use proptest::prelude::*;

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

fn send(port: u16, req: &Encoded) -> common::Response {
    let headers: Vec<(&str, &str)> = req.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    common::http(req.method.as_str(), port, &req.path, &headers, &req.body).expect("remote write request")
}

/// Instant-query result rows: (labels, value).
fn query(port: u16, q: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let text = common::prom_query(port, q);
    let v: serde_json::Value = serde_json::from_str(&text).expect("query JSON");
    assert_eq!(v["status"], "success", "{q}: {text}");
    let rows = v["data"]["result"].as_array().unwrap_or_else(|| panic!("{q}: {text}"));
    rows.iter()
        .map(|r| {
            let labels = r["metric"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let value: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
            (labels, value)
        })
        .collect()
}

fn scalar(port: u16, q: &str) -> f64 {
    let rows = query(port, q);
    assert_eq!(rows.len(), 1, "{q}: {rows:?}");
    rows[0].1
}

#[test]
fn remote_write_to_real_prometheus() {
    let prom = common::prometheus();
    let instance = format!("isolate-{}", std::process::id());
    let mut reg = Registry::new(
        Config::new("edge-fn")
            .temporality(Temporality::Cumulative)
            .resource_attr("service.instance.id", instance.as_str()),
    );
    let requests =
        reg.counter("http.requests", InstrumentOptions::unit("{request}").description("Requests served")).unwrap();
    let mem = reg.gauge("memory.used", InstrumentOptions::unit("By")).unwrap();
    let queue = reg.up_down_counter("queue.depth", InstrumentOptions::default()).unwrap();
    let dur = reg.histogram("http.duration", InstrumentOptions::unit("ms").bounds(&DEFAULT_BOUNDS)).unwrap();

    let route = "/api/v1/items";
    let city = "Zürich \"HQ\" \\ 東京";
    // Three invocations in one warm isolate, 30 s apart, ending now (Prometheus refuses samples
    // far from its clock).
    let t0 = now_ns() - 60_000_000_000;
    let (mut get_total, mut post_total, mut queue_net) = (0.0, 0.0, 0.0);
    let mut dur_sum = 0.0;
    for round in 0..3u64 {
        let t = t0 + round * 30_000_000_000;
        reg.begin(t);
        for i in 0..(5 + round) {
            let v = (i + 1) as f64;
            requests.add(
                &mut reg,
                v,
                &[("http.method", "GET".into()), ("http.route", route.into()), ("empty", "".into())],
            );
            get_total += v;
        }
        requests.add(
            &mut reg,
            2.5,
            &[("http.method", "POST".into()), ("http.route", route.into()), ("city", city.into())],
        );
        post_total += 2.5;
        mem.set(&mut reg, 1000.0 * (round + 1) as f64, &[]);
        let q = if round == 1 { -3.0 } else { 5.0 };
        queue.add(&mut reg, q, &[]);
        queue_net += q;
        // Round 0: 10 fast requests in (0, 5]; rounds 1 and 2: 20 each in (25, 50].
        let (n, v) = if round == 0 { (10, 3.0) } else { (20, 40.0) };
        for _ in 0..n {
            dur.record(&mut reg, v, &[]);
            dur_sum += v;
        }
        // A refused value: shows up as the self-metric edgemetrics_sdk_values_rejected_total.
        dur.record(&mut reg, f64::NAN, &[]);
        let batch = reg.collect(t + 1_000_000);
        let req = remote_write::request(&batch, &RemoteWriteConfig::default()).unwrap();
        assert_eq!(req.header("X-Prometheus-Remote-Write-Version"), Some("0.1.0"));
        let r = send(prom.port, &req);
        assert!((200..300).contains(&r.status), "push {round}: {} {}", r.status, r.text());
    }

    // Counters: exact totals, labels translated, resource → job/instance, empty label absent.
    let get = query(prom.port, r#"http_requests_total{http_method="GET"}"#);
    assert_eq!(get.len(), 1, "{get:?}");
    assert_eq!(get[0].1, get_total);
    let want: BTreeMap<String, String> = [
        ("__name__", "http_requests_total"),
        ("http_method", "GET"),
        ("http_route", route),
        ("instance", instance.as_str()),
        ("job", "edge-fn"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(get[0].0, want);
    let post = query(prom.port, r#"http_requests_total{http_method="POST"}"#);
    assert_eq!(post.len(), 1);
    assert_eq!(post[0].1, post_total);
    assert_eq!(post[0].0["city"], city, "quotes, backslash and non-ASCII survive");
    assert_eq!(scalar(prom.port, "sum(http_requests_total)"), get_total + post_total);
    // rate() works over our cumulative series: the increase over the window is positive.
    assert!(scalar(prom.port, "sum(increase(http_requests_total[5m]))") > 0.0);

    // Gauge (last value) and up-down counter (net value).
    assert_eq!(scalar(prom.port, "memory_used_bytes"), 3000.0);
    assert_eq!(scalar(prom.port, "queue_depth"), queue_net);

    // Histogram: buckets, +Inf == count, sum, le formatted like Prometheus ("10", not "10.0").
    assert_eq!(scalar(prom.port, "http_duration_milliseconds_count"), 50.0);
    assert_eq!(scalar(prom.port, "http_duration_milliseconds_sum"), dur_sum);
    assert_eq!(scalar(prom.port, r#"http_duration_milliseconds_bucket{le="+Inf"}"#), 50.0);
    assert_eq!(scalar(prom.port, r#"http_duration_milliseconds_bucket{le="5"}"#), 10.0);
    assert_eq!(scalar(prom.port, r#"http_duration_milliseconds_bucket{le="10"}"#), 10.0);
    assert_eq!(scalar(prom.port, r#"http_duration_milliseconds_bucket{le="50"}"#), 50.0);
    assert_eq!(query(prom.port, "http_duration_milliseconds_bucket").len(), DEFAULT_BOUNDS.len() + 1);
    // Over all observations the 10th percentile is in (0, 5] ...
    let q10 = scalar(prom.port, "histogram_quantile(0.1, sum by (le) (http_duration_milliseconds_bucket))");
    assert!(q10 > 0.0 && q10 <= 5.0, "q10 = {q10}");
    // ... while over the rate (rounds 1 and 2 only) the median is in (25, 50].
    let q50 = scalar(prom.port, "histogram_quantile(0.5, sum by (le) (rate(http_duration_milliseconds_bucket[5m])))");
    assert!(q50 > 25.0 && q50 <= 50.0, "q50 = {q50}");

    // Self-metrics travel too (cumulative: one NaN refused per round).
    assert_eq!(scalar(prom.port, r#"edgemetrics_sdk_values_rejected_total{reason="non_finite"}"#), 3.0);

    // Instrumentation scopes: the same name in the default scope and in a meter's scope is two
    // series; only the meter's carries otel_scope_name / otel_scope_version (and an attribute
    // claiming those labels is renamed exported_…).
    let mut reg = Registry::new(
        Config::new("edge-fn")
            .temporality(Temporality::Cumulative)
            .resource_attr("service.instance.id", instance.as_str())
            .self_metrics(false),
    );
    let t = now_ns() - 1_000_000_000;
    reg.begin(t);
    let plain = reg.counter("scoped.jobs", InstrumentOptions::default()).unwrap();
    let lib = reg.counter("scoped.jobs", InstrumentOptions::default().scope("queue-lib", "2.1.0")).unwrap();
    let nover = reg.counter("scoped.jobs", InstrumentOptions::default().scope("no-version-lib", "")).unwrap();
    plain.add(&mut reg, 1.0, &[]);
    lib.add(&mut reg, 5.0, &[("otel.scope.name", "spoof".into())]);
    nover.add(&mut reg, 7.0, &[]);
    let batch = reg.collect(t + 1_000_000);
    let r = send(prom.port, &remote_write::request(&batch, &RemoteWriteConfig::default()).unwrap());
    assert!((200..300).contains(&r.status), "scoped push: {} {}", r.status, r.text());
    let mut rows = query(prom.port, "scoped_jobs_total");
    rows.sort_by(|a, b| a.1.total_cmp(&b.1));
    type Row<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, f64);
    let scope_labels: Vec<Row> = rows
        .iter()
        .map(|(l, v)| {
            let get = |k: &str| l.get(k).map(String::as_str);
            (get("otel_scope_name"), get("otel_scope_version"), get("exported_otel_scope_name"), *v)
        })
        .collect();
    assert_eq!(
        scope_labels,
        [
            (None, None, None, 1.0),
            (Some("queue-lib"), Some("2.1.0"), Some("spoof"), 5.0),
            (Some("no-version-lib"), None, None, 7.0),
        ]
    );
}

#[test]
fn prometheus_rejects_malformed_and_we_refuse_delta() {
    let prom = common::prometheus();
    let headers = [
        ("Content-Encoding", "snappy"),
        ("Content-Type", "application/x-protobuf"),
        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
    ];
    // Not snappy at all.
    let r = common::http("POST", prom.port, "/api/v1/write", &headers, b"\xff\xff\xff\xff\xff\xffnot snappy").unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    // Valid snappy, invalid protobuf (a field with wire type 7).
    let r = common::http("POST", prom.port, "/api/v1/write", &headers, &snappy::compress(b"\x0f\x0f\x0f")).unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    // An uncompressed protobuf where snappy is announced.
    let mut reg = Registry::new(Config::new("x").temporality(Temporality::Cumulative));
    let c = reg.counter("c", InstrumentOptions::default()).unwrap();
    c.add(&mut reg, 1.0, &[]);
    let batch = reg.collect(now_ns());
    let raw = remote_write::encode(&batch, &RemoteWriteConfig::default()).unwrap();
    let r = common::http("POST", prom.port, "/api/v1/write", &headers, &raw).unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    // The same batch, properly compressed, is accepted.
    let req = remote_write::request(&batch, &RemoteWriteConfig::default()).unwrap();
    let r = send(prom.port, &req);
    assert!((200..300).contains(&r.status), "{} {}", r.status, r.text());
    assert_eq!(scalar(prom.port, r#"c_total{job="x"}"#), 1.0);

    // Delta batches are refused before anything is sent.
    let mut delta = Registry::new(Config::new("x"));
    let c = delta.counter("c", InstrumentOptions::default()).unwrap();
    c.add(&mut delta, 1.0, &[]);
    let b = delta.collect(now_ns());
    assert!(matches!(remote_write::request(&b, &RemoteWriteConfig::default()), Err(Error::InvalidConfig { .. })));
}

fn sample_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Random bytes: mostly literals.
        proptest::collection::vec(any::<u8>(), 0..3000),
        // Few distinct bytes: many matches, overlapping copies.
        proptest::collection::vec(0u8..4, 0..5000),
        // Repeated random chunks: long matches, offsets of all sizes.
        (proptest::collection::vec(any::<u8>(), 1..300), 1usize..400).prop_map(|(chunk, n)| chunk
            .iter()
            .copied()
            .cycle()
            .take(chunk.len() * n)
            .collect()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn snappy_round_trip_and_independent_decoder(data in sample_bytes()) {
        let z = snappy::compress(&data);
        prop_assert!(z.len() <= snappy::max_compressed_len(data.len()));
        prop_assert_eq!(snappy::decompressed_len(&z).unwrap(), data.len());
        prop_assert_eq!(&snappy::decompress(&z, data.len()).unwrap(), &data);
        // The independent decoder reads our block format.
        prop_assert_eq!(&snap::raw::Decoder::new().decompress_vec(&z).unwrap(), &data);
        // And we read the independent encoder's blocks.
        let theirs = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        prop_assert_eq!(&snappy::decompress(&theirs, data.len()).unwrap(), &data);
        // One byte under the declared length is refused before decoding.
        if !data.is_empty() {
            prop_assert!(snappy::decompress(&z, data.len() - 1).is_err());
        }
    }

    #[test]
    fn snappy_hostile_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        // Either an error or output within the limit, and agreement with snap on validity.
        match snappy::decompress(&data, 4096) {
            Ok(out) => {
                prop_assert!(out.len() <= 4096);
                prop_assert_eq!(snap::raw::Decoder::new().decompress_vec(&data).unwrap(), out);
            }
            Err(Error::Malformed { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {e:?}"),
        }
    }

    #[test]
    fn snappy_mutated_blocks_never_panic(data in sample_bytes(), pos in any::<usize>(), byte in any::<u8>()) {
        let mut z = snappy::compress(&data);
        if !z.is_empty() {
            let i = pos % z.len();
            z[i] = byte;
        }
        if let Ok(out) = snappy::decompress(&z, 1 << 16) {
            prop_assert_eq!(snap::raw::Decoder::new().decompress_vec(&z).unwrap(), out);
        }
    }
}
