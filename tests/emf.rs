//! The EMF encoder against the CloudWatch Embedded Metric Format specification's rules, checked
//! on the parsed JSON of every line (serde_json): why a test file of its own is that the rules
//! (structure, references, the 100/30/100/256 KiB limits) are the contract CloudWatch enforces by
//! silently dropping a document, so each batch shape that could break one is generated here and
//! every document it produces is validated, and the values are summed back to the recorded totals.
#![cfg(feature = "emf")]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use edgemetrics::encode::emf::{self, EmfConfig, MAX_EVENT_BYTES};
use edgemetrics::{
    Batch, Config, HistogramPoint, InstrumentKind, InstrumentOptions, KeyValue, Metric, MetricData, NumberPoint,
    Registry, Temporality, Value,
};
use serde_json::Value as J;

/// CloudWatch's unit names (MetricDatum.Unit).
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

fn is_number(v: &J) -> bool {
    v.as_f64().is_some_and(f64::is_finite)
}

/// Checks one document against the specification's rules; returns its metric values by
/// (metric name, dimension values) for the totals checks.
fn validate(line: &str) -> Vec<(String, BTreeMap<String, String>, J)> {
    assert!(line.len() <= MAX_EVENT_BYTES, "document of {} bytes", line.len());
    assert!(!line.contains('\n'));
    let root: J = serde_json::from_str(line).expect("each line is one JSON object");
    let root = root.as_object().expect("root is an object");
    let aws = root["_aws"].as_object().expect("_aws is an object");
    for k in aws.keys() {
        assert!(k == "Timestamp" || k == "CloudWatchMetrics", "unknown _aws member {k}");
    }
    assert!(aws["Timestamp"].as_u64().is_some(), "Timestamp: integer ms");
    let directives = aws["CloudWatchMetrics"].as_array().expect("CloudWatchMetrics is an array");
    assert!(!directives.is_empty());
    let mut out = Vec::new();
    for d in directives {
        let d = d.as_object().unwrap();
        for k in d.keys() {
            assert!(["Namespace", "Dimensions", "Metrics"].contains(&k.as_str()), "unknown directive member {k}");
        }
        let ns = d["Namespace"].as_str().unwrap();
        assert!((1..=255).contains(&ns.chars().count()));
        let sets = d["Dimensions"].as_array().unwrap();
        let mut dims = BTreeMap::new();
        for set in sets {
            let set = set.as_array().unwrap();
            assert!(set.len() <= 30, "dimension set of {}", set.len());
            for name in set {
                let name = name.as_str().unwrap();
                assert!((1..=255).contains(&name.chars().count()));
                let v = root.get(name).unwrap_or_else(|| panic!("dimension {name} has no member"));
                let v = v.as_str().expect("dimension values are strings");
                assert!((1..=1024).contains(&v.chars().count()) && !v.trim().is_empty());
                dims.insert(name.to_string(), v.to_string());
            }
        }
        let metrics = d["Metrics"].as_array().unwrap();
        assert!(!metrics.is_empty() && metrics.len() <= 100, "{} metrics in a directive", metrics.len());
        let mut names = BTreeSet::new();
        for m in metrics {
            let m = m.as_object().unwrap();
            for k in m.keys() {
                assert!(["Name", "Unit", "StorageResolution"].contains(&k.as_str()), "unknown metric member {k}");
            }
            let name = m["Name"].as_str().unwrap();
            assert!((1..=255).contains(&name.chars().count()));
            assert!(names.insert(name), "metric {name} twice in a directive");
            assert!(!dims.contains_key(name), "metric {name} is also a dimension");
            if let Some(u) = m.get("Unit") {
                assert!(UNITS.contains(&u.as_str().unwrap()), "unit {u}");
            }
            let v = root.get(name).unwrap_or_else(|| panic!("metric {name} has no member"));
            match v {
                J::Number(_) => assert!(is_number(v)),
                J::Array(a) => assert!(a.len() <= 100 && a.iter().all(is_number)),
                J::Object(o) => {
                    let vals = o["Values"].as_array().unwrap();
                    let counts = o["Counts"].as_array().unwrap();
                    assert!(!vals.is_empty() && vals.len() <= 100 && vals.len() == counts.len());
                    assert!(vals.iter().all(is_number) && counts.iter().all(|c| c.as_u64().is_some()));
                    let total: u64 = counts.iter().map(|c| c.as_u64().unwrap()).sum();
                    assert_eq!(o["Count"].as_u64().unwrap(), total);
                    let (min, max) = (o["Min"].as_f64().unwrap(), o["Max"].as_f64().unwrap());
                    assert!(vals.iter().all(|x| (min..=max).contains(&x.as_f64().unwrap())));
                    assert!(is_number(&o["Sum"]));
                }
                _ => panic!("metric {name}: value {v}"),
            }
            out.push((name.to_string(), dims.clone(), v.clone()));
        }
    }
    out
}

fn lines(batch: &Batch, cfg: &EmfConfig) -> Vec<String> {
    let body = emf::encode(batch, cfg).unwrap();
    let text = String::from_utf8(body).unwrap();
    assert!(text.ends_with('\n'));
    text.lines().map(String::from).collect()
}

fn registry(limit: usize) -> Registry {
    let mut cfg = Config::new("emf-test").self_metrics(false).resource_attr("deployment.environment", "test");
    cfg.limits.cardinality = limit;
    cfg.limits.max_series = 100_000;
    cfg.limits.max_instruments = 600;
    Registry::new(cfg)
}

#[test]
fn five_hundred_metrics_are_split_into_documents_of_at_most_100() {
    let mut reg = registry(10);
    let mut expected = 0.0;
    for i in 0..500 {
        let c = reg.counter(&format!("m{i:03}"), InstrumentOptions::unit("By")).unwrap();
        c.add(&mut reg, i as f64, &[("route", "/a".into())]);
        expected += i as f64;
    }
    let batch = reg.collect(1_700_000_000_123_000_000);
    let docs = lines(&batch, &EmfConfig::default());
    assert_eq!(docs.len(), 5);
    let mut total = 0.0;
    let mut seen = BTreeSet::new();
    for d in &docs {
        let root: J = serde_json::from_str(d).unwrap();
        assert_eq!(root["_aws"]["Timestamp"], 1_700_000_000_123u64);
        assert_eq!(root["deployment.environment"], "test", "resource attributes are plain members");
        for (name, dims, v) in validate(d) {
            assert_eq!(dims.get("route").map(String::as_str), Some("/a"));
            total += v.as_f64().unwrap();
            assert!(seen.insert(name));
        }
    }
    assert_eq!(seen.len(), 500);
    assert_eq!(total, expected);
}

#[test]
fn ten_thousand_attribute_sets_give_one_document_each_and_exact_totals() {
    let mut reg = registry(20_000);
    let c = reg.counter("requests", InstrumentOptions::default()).unwrap();
    let h = reg.histogram("latency", InstrumentOptions::unit("ms").bounds(&[1.0, 10.0, 100.0])).unwrap();
    for i in 0..10_000u32 {
        let user = format!("u{i}");
        c.add(&mut reg, 1.0 + (i % 3) as f64, &[("user", user.as_str().into()), ("n", (i as i64).into())]);
        h.record(&mut reg, (i % 200) as f64, &[("user", user.as_str().into()), ("n", (i as i64).into())]);
    }
    let batch = reg.collect(2_000_000_000);
    let docs = lines(&batch, &EmfConfig::default());
    assert_eq!(docs.len(), 10_000);
    let (mut sum, mut count, mut hsum) = (0.0, 0u64, 0.0);
    for d in &docs {
        let vals = validate(d);
        assert_eq!(vals.len(), 2);
        for (name, dims, v) in vals {
            assert_eq!(dims.len(), 2);
            match name.as_str() {
                "requests" => sum += v.as_f64().unwrap(),
                "latency" => {
                    count += v["Count"].as_u64().unwrap();
                    hsum += v["Sum"].as_f64().unwrap();
                    // One value per point: the bucket value is exact.
                    assert_eq!(v["Values"][0], v["Sum"]);
                }
                _ => unreachable!(),
            }
        }
    }
    let expected: f64 = (0..10_000u32).map(|i| 1.0 + (i % 3) as f64).sum();
    assert_eq!(sum, expected);
    assert_eq!(count, 10_000);
    assert_eq!(hsum, (0..10_000u32).map(|i| (i % 200) as f64).sum::<f64>());
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue { key: k.into(), value: Value::Str(v.into()) }
}

fn batch_of(resource: Vec<KeyValue>, metrics: Vec<Metric>) -> Batch {
    let mut reg = Registry::new(Config::new("x").self_metrics(false));
    let mut b = reg.collect(5_000_000);
    b.resource = resource.into();
    b.metrics = metrics;
    b
}

fn counter(name: &str, attrs: Vec<KeyValue>, value: f64) -> Metric {
    Metric {
        name: name.into(),
        unit: "".into(),
        description: "".into(),
        kind: InstrumentKind::Counter,
        data: MetricData::Sum {
            monotonic: true,
            temporality: Temporality::Delta,
            points: vec![NumberPoint {
                attributes: attrs.into(),
                start_unix_nano: 0,
                time_unix_nano: 5_000_000,
                value,
            }],
        },
        scope: 0,
    }
}

#[test]
fn ten_thousand_attributes_on_one_point_keep_30_dimensions_and_the_rest_as_members() {
    let attrs: Vec<KeyValue> = (0..10_000).map(|i| kv(&format!("k{i:05}"), &format!("v{i}"))).collect();
    let b = batch_of(vec![kv("service.name", "svc")], vec![counter("hits", attrs, 7.0)]);
    let docs = lines(&b, &EmfConfig::default());
    assert_eq!(docs.len(), 1);
    let vals = validate(&docs[0]);
    assert_eq!(vals[0].1.len(), 30, "the first 30 attributes in key order are the dimensions");
    assert_eq!(vals[0].1.keys().next().unwrap(), "k00000");
    let root: J = serde_json::from_str(&docs[0]).unwrap();
    assert_eq!(root["k09999"], "v9999", "the others are plain members");
    assert_eq!(root["hits"], 7.0);
}

#[test]
fn documents_stay_under_the_event_limit_and_an_unfittable_value_is_a_typed_error() {
    // 200 metrics whose dimension values are 1000 characters: the size limit, not the metric
    // count, splits them (a lowered limit stands for the 256 KiB one).
    let attrs: Vec<KeyValue> = (0..30).map(|i| kv(&format!("d{i:02}"), &"x".repeat(1000))).collect();
    let long = "n".repeat(190);
    let metrics: Vec<Metric> =
        (0..200).map(|i| counter(&format!("metric.{i:03}.{long}"), attrs.clone(), 1.0)).collect();
    let big_resource = vec![kv("service.name", "svc"), kv("blob", &"r".repeat(40_000))];
    let b = batch_of(big_resource, metrics);
    let cfg = EmfConfig { namespace: Some("Custom/Ns".into()), max_event_bytes: Some(64 * 1024) };
    let body = emf::encode(&b, &cfg).unwrap();
    let text = String::from_utf8(body).unwrap();
    let mut n = 0;
    for d in text.lines() {
        assert!(d.len() <= 64 * 1024);
        n += validate(d).len();
        let root: J = serde_json::from_str(d).unwrap();
        assert_eq!(root["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Custom/Ns");
    }
    assert_eq!(n, 200);
    // The count limit alone would give 2 documents.
    assert!(text.lines().count() >= 3, "{} documents", text.lines().count());
    // At the real limit every line is ≤ 256 KiB - 26.
    for d in lines(&b, &EmfConfig::default()) {
        validate(&d);
    }
    // A resource too big to fit with one value is left out of that document; the value stays.
    let b = batch_of(vec![kv("blob", &"r".repeat(70_000))], vec![counter("one", vec![kv("a", "b")], 1.0)]);
    let cfg = EmfConfig { namespace: None, max_event_bytes: Some(64 * 1024) };
    let docs = lines(&b, &EmfConfig { namespace: Some("N".into()), ..cfg.clone() });
    assert_eq!(docs.len(), 1);
    let root: J = serde_json::from_str(&docs[0]).unwrap();
    assert!(root.get("blob").is_none());
    assert_eq!(root["one"], 1.0);
    // A value whose own attributes exceed the limit: a typed error, not a broken document.
    let huge: Vec<KeyValue> = (0..100).map(|i| kv(&format!("k{i}"), &"y".repeat(1000))).collect();
    let b = batch_of(vec![kv("service.name", "svc")], vec![counter("one", huge, 1.0)]);
    let err = emf::encode(&b, &EmfConfig { namespace: None, max_event_bytes: Some(64 * 1024) }).unwrap_err();
    assert!(err.message().contains("exceeds the log event size limit"), "{err}");
}

#[test]
fn histograms_become_value_count_arrays_split_past_100_buckets() {
    let bounds: Vec<f64> = (1..=250).map(|i| i as f64).collect();
    let mut reg = registry(10);
    let h = reg.histogram("size", InstrumentOptions::unit("By").bounds(&bounds)).unwrap();
    let mut values = Vec::new();
    for i in 0..251 {
        let v = i as f64 + 0.5;
        h.record(&mut reg, v, &[]);
        values.push(v);
    }
    let batch = reg.collect(3_000_000);
    let docs = lines(&batch, &EmfConfig::default());
    assert_eq!(docs.len(), 3, "251 non-empty buckets: 100 + 100 + 51");
    let mut count = 0;
    for d in &docs {
        for (name, dims, v) in validate(d) {
            assert_eq!(name, "size");
            assert!(dims.is_empty());
            count += v["Count"].as_u64().unwrap();
            assert!(v["Values"].as_array().unwrap().len() <= 100);
        }
        let root: J = serde_json::from_str(d).unwrap();
        assert_eq!(root["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Bytes");
        assert_eq!(root["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([[]]));
    }
    assert_eq!(count, 251);

    // Up to 100 buckets: one document, Count/Sum/Min/Max exact, midpoints clamped to [min, max].
    let mut reg = registry(10);
    let h = reg.histogram("lat", InstrumentOptions::unit("ms").bounds(&[10.0, 20.0])).unwrap();
    for v in [3.0, 4.0, 15.0, 50.0] {
        h.record(&mut reg, v, &[("op", "get".into())]);
    }
    let docs = lines(&reg.collect(4_000_000), &EmfConfig::default());
    let v = &validate(&docs[0])[0].2;
    let vals: Vec<f64> = v["Values"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert_eq!(vals, [6.5, 15.0, 35.0]);
    assert_eq!(v["Counts"], serde_json::json!([2, 1, 1]));
    assert_eq!(
        (v["Count"].as_u64(), v["Sum"].as_f64(), v["Min"].as_f64(), v["Max"].as_f64()),
        (Some(4), Some(72.0), Some(3.0), Some(50.0))
    );
}

#[test]
fn names_that_emf_cannot_hold_are_refused_or_left_out() {
    // A metric named like one of its attributes: one member per name, so a typed error.
    let b = batch_of(vec![kv("service.name", "svc")], vec![counter("route", vec![kv("route", "/a")], 1.0)]);
    let err = emf::encode(&b, &EmfConfig::default()).unwrap_err();
    assert!(err.message().contains("attribute of the same name"), "{err}");
    // Empty or blank values are members but not dimensions; `_aws` attributes are left out.
    let b = batch_of(
        vec![kv("service.name", "svc")],
        vec![counter("c", vec![kv("_aws", "x"), kv("blank", " "), kv("empty", ""), kv("ok", "1")], 2.0)],
    );
    let docs = lines(&b, &EmfConfig::default());
    let vals = validate(&docs[0]);
    assert_eq!(vals[0].1.keys().collect::<Vec<_>>(), ["ok"]);
    let root: J = serde_json::from_str(&docs[0]).unwrap();
    assert_eq!(root["empty"], "");
    assert!(root["_aws"].get("CloudWatchMetrics").is_some());
    // The namespace must be 1-255 characters.
    let err = emf::encode(&b, &EmfConfig { namespace: Some(String::new()), max_event_bytes: None }).unwrap_err();
    assert!(err.message().contains("namespace"));
    // An empty histogram point reports nothing; an empty batch gives no line.
    let empty = batch_of(vec![], vec![]);
    assert!(emf::encode(&empty, &EmfConfig::default()).unwrap().is_empty());
    let hist = Metric {
        name: "h".into(),
        unit: "".into(),
        description: "".into(),
        kind: InstrumentKind::Histogram,
        data: MetricData::Histogram {
            temporality: Temporality::Delta,
            bounds: Arc::from(&[1.0][..]),
            points: vec![HistogramPoint {
                attributes: Arc::from(&[][..]),
                start_unix_nano: 0,
                time_unix_nano: 1,
                count: 0,
                sum: 0.0,
                min: 0.0,
                max: 0.0,
                bucket_counts: vec![0, 0],
            }],
        },
        scope: 0,
    };
    assert!(emf::encode(&batch_of(vec![], vec![hist]), &EmfConfig::default()).unwrap().is_empty());
}

/// The delivery plan with the EMF wire: the host writes the body to its log and reports the write
/// as status 200 (delivered); the log protocol retries no status.
#[test]
fn the_push_plan_delivers_emf_through_a_log_write() {
    use edgemetrics::push::{self, wire, Action, Protocol, Response, StatusClass, Wire};
    for status in [429, 500, 502, 503] {
        assert_eq!(Protocol::Log.classify(status), StatusClass::Permanent);
    }
    assert_eq!(Protocol::Log.classify(200), StatusClass::Success);
    assert_eq!(wire::Emf::default().protocol(), Protocol::Log);
    let mut reg = registry(10);
    let c = reg.counter("jobs", InstrumentOptions::default()).unwrap();
    c.add(&mut reg, 3.0, &[]);
    let cfg = push::Config::new("http://log.invalid", push::Format::Emf(EmfConfig::default()));
    let mut pusher = push::Pusher::new(cfg, 7).unwrap();
    pusher.start(reg.collect(1_000_000_000), 1_000, 1_000).unwrap();
    let mut written = Vec::new();
    let report = loop {
        match pusher.next(1_000) {
            Action::Send(req) => {
                written.extend_from_slice(&req.body);
                pusher.on_response(&Response::status(200), 1_000).unwrap();
            }
            Action::Done(r) => break r.clone(),
            other => panic!("{other:?}"),
        }
    };
    assert!(report.delivered());
    let text = String::from_utf8(written).unwrap();
    let vals = validate(text.lines().next().unwrap());
    assert_eq!(vals[0].0, "jobs");
    assert_eq!(vals[0].2, 3.0);
}

/// Instrumentation scopes have no place in EMF: they are not written. The same name with the same
/// attributes in two scopes is two documents (a document cannot hold one member twice), which
/// CloudWatch aggregates into one metric.
#[test]
fn scopes_are_not_written_and_same_name_metrics_stay_valid_documents() {
    let mut reg = registry(100);
    reg.begin(1_000_000);
    let a = reg.counter("jobs", InstrumentOptions::default()).unwrap();
    let b = reg.counter("jobs", InstrumentOptions::default().scope("queue-lib", "2.1.0")).unwrap();
    a.add(&mut reg, 1.0, &[]);
    b.add(&mut reg, 5.0, &[]);
    let batch = reg.collect(2_000_000);
    let docs = lines(&batch, &EmfConfig::default());
    let mut values = Vec::new();
    for d in &docs {
        assert!(!d.contains("queue-lib") && !d.contains("otel_scope"), "{d}");
        for (name, _dims, v) in validate(d) {
            if name == "jobs" {
                values.push(v);
            }
        }
    }
    assert_eq!(docs.len(), 2, "{docs:?}");
    assert_eq!(values, [J::from(1), J::from(5)], "{docs:?}");
}
