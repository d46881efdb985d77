//! Pushgateway text format and grouping keys against a real Pushgateway (started on 127.0.0.1 by
//! the test, stopped by PID): PUT and POST semantics, read-back through `/metrics` and
//! `/api/v1/metrics`, awkward label values, `@base64` grouping values, DELETE.

mod common;

use std::collections::BTreeMap;

use edgemetrics::encode::pushgateway::{self, PushgatewayConfig};
use edgemetrics::{Batch, Config, Encoded, Error, InstrumentOptions, Method, Registry, Temporality};
use serde_json::Value as Json;

const T: u64 = 1_700_000_000_000_000_000;

fn send(port: u16, req: &Encoded) -> common::Response {
    let headers: Vec<(&str, &str)> = req.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    common::http(req.method.as_str(), port, &req.path, &headers, &req.body).expect("push")
}

fn push(port: u16, batch: &Batch, cfg: &PushgatewayConfig) {
    let req = pushgateway::request(batch, cfg).unwrap();
    assert_eq!(req.method, cfg.method);
    let r = send(port, &req);
    assert!((200..300).contains(&r.status), "{} {}: {} {}", req.method.as_str(), req.path, r.status, r.text());
}

/// All groups from `/api/v1/metrics`.
fn groups(port: u16) -> Vec<Json> {
    let r = common::http("GET", port, "/api/v1/metrics", &[], b"").unwrap();
    assert_eq!(r.status, 200);
    let v: Json = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["status"], "success", "{}", r.text());
    v["data"].as_array().unwrap().clone()
}

fn labels(v: &Json) -> BTreeMap<String, String> {
    v.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

/// The group whose grouping labels are exactly `want`.
fn group(port: u16, want: &BTreeMap<String, String>) -> Option<Json> {
    groups(port).into_iter().find(|g| &labels(&g["labels"]) == want)
}

fn metrics_text(port: u16) -> String {
    let r = common::http("GET", port, "/metrics", &[], b"").unwrap();
    assert_eq!(r.status, 200);
    r.text()
}

fn registry(service: &str, instance: &str) -> Registry {
    Registry::new(
        Config::new(service)
            .temporality(Temporality::Cumulative)
            .resource_attr("service.instance.id", instance)
            .self_metrics(false),
    )
}

#[test]
fn put_post_read_back_and_delete() {
    let pgw = common::pushgateway();
    let instance = "iso/1 ü";
    let mut reg = registry("thumbs", instance);
    let help = "Images resized.\nSecond line with a \\ backslash and \"quotes\".";
    let done = reg.counter("images.done", InstrumentOptions::default().description(help)).unwrap();
    let queue = reg.gauge("queue.len", InstrumentOptions::unit("{item}").description("Queued images")).unwrap();
    let dur = reg
        .histogram(
            "resize.duration",
            InstrumentOptions::unit("s").description("Resize time").bounds(&[0.005, 0.01, 0.1, 1.0, 10.0]),
        )
        .unwrap();

    let odd = [
        ("format", "webp"),
        ("path", "/img/a b/c.png"),
        ("quote", "say \"hi\""),
        ("bs", "C:\\tmp\\"),
        ("nl", "line1\nline2"),
        ("uni", "日本語 ñ"),
        ("empty", ""),
        // Clashes with the grouping label `instance`: renamed exported_instance.
        ("instance", "from-attr"),
    ];
    let attrs: Vec<(&str, edgemetrics::AttrValue)> = odd.iter().map(|(k, v)| (*k, (*v).into())).collect();
    reg.begin(T);
    done.add(&mut reg, 7.0, &attrs);
    done.add(&mut reg, 2.0, &[("format", "png".into())]);
    queue.set(&mut reg, 12.5, &[]);
    for v in [0.001, 0.004, 0.05, 0.5, 0.5, 20.0] {
        dur.record(&mut reg, v, &[]);
    }
    let batch = reg.collect(T + 1);

    let cfg = PushgatewayConfig::from_batch(&batch).group("zone", "");
    assert_eq!(cfg.job, "thumbs");
    let path = pushgateway::group_path(&cfg).unwrap();
    assert!(path.contains("/instance@base64/") && path.ends_with("/zone@base64/="), "{path}");
    push(pgw.port, &batch, &cfg);

    // --- /api/v1/metrics: the Pushgateway's own parse of our body.
    let key = map(&[("job", "thumbs"), ("instance", instance), ("zone", "")]);
    let g = group(pgw.port, &key).unwrap_or_else(|| panic!("group {key:?} missing: {:?}", groups(pgw.port)));
    let fam = &g["images_done_total"];
    assert_eq!(fam["type"], "COUNTER");
    assert_eq!(fam["help"], help);
    let series = fam["metrics"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    let odd_series = series.iter().find(|s| s["labels"]["format"] == "webp").unwrap();
    let mut want: BTreeMap<String, String> = odd
        .iter()
        .filter(|(k, v)| !v.is_empty() && *k != "instance")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    want.insert("exported_instance".into(), "from-attr".into());
    // The Pushgateway adds the grouping labels (the empty `zone` included) to every metric.
    want.extend(key.iter().map(|(k, v)| (k.clone(), v.clone())));
    assert_eq!(labels(&odd_series["labels"]), want, "every awkward value survives the round trip");
    assert_eq!(odd_series["value"], "7");
    let png = series.iter().find(|s| s["labels"]["format"] == "png").unwrap();
    assert_eq!(png["value"], "2");

    assert_eq!(g["queue_len"]["type"], "GAUGE");
    assert_eq!(g["queue_len"]["metrics"][0]["value"], "12.5");

    let h = &g["resize_duration_seconds"];
    assert_eq!(h["type"], "HISTOGRAM");
    assert_eq!(h["help"], "Resize time");
    let hm = &h["metrics"][0];
    assert_eq!(hm["count"], "6");
    assert_eq!(hm["sum"].as_str().unwrap().parse::<f64>().unwrap(), 0.001 + 0.004 + 0.05 + 0.5 + 0.5 + 20.0);
    let buckets: BTreeMap<String, String> = labels(&hm["buckets"]);
    assert_eq!(buckets, map(&[("0.005", "2"), ("0.01", "2"), ("0.1", "3"), ("1", "5"), ("10", "5"), ("+Inf", "6")]));

    // --- /metrics: what Prometheus would scrape.
    let text = metrics_text(pgw.port);
    assert!(
        text.contains(&format!("# HELP images_done_total {}\n", help.replace('\\', "\\\\").replace('\n', "\\n"))),
        "{text}"
    );
    assert!(text.contains("# TYPE images_done_total counter\n"));
    assert!(text.contains("# TYPE resize_duration_seconds histogram\n"));
    assert!(
        text.contains(r#"resize_duration_seconds_bucket{instance="iso/1 ü",job="thumbs",zone="",le="+Inf"} 6"#),
        "{text}"
    );
    assert!(text.contains(r#"le="0.005"} 2"#) && text.contains(r#"le="10"} 5"#));
    assert!(
        text.contains(r#"nl="line1\nline2""#)
            && text.contains(r#"quote="say \"hi\"""#)
            && text.contains(r#"bs="C:\\tmp\\""#)
    );
    assert_eq!(text.matches("# TYPE images_done_total ").count(), 1, "each family once");

    // --- POST replaces only the families in the body: push just the gauge from a new registry.
    let mut reg2 = registry("thumbs", instance);
    let q2 = reg2.gauge("queue.len", InstrumentOptions::unit("{item}").description("Queued images")).unwrap();
    q2.set(&mut reg2, 3.0, &[]);
    let only_gauge = reg2.collect(T + 2);
    push(pgw.port, &only_gauge, &cfg.clone().method(Method::Post));
    let g = group(pgw.port, &key).unwrap();
    assert_eq!(g["queue_len"]["metrics"][0]["value"], "3");
    assert_eq!(g["images_done_total"]["metrics"].as_array().unwrap().len(), 2, "POST kept the counter family");

    // --- PUT replaces the whole group: the counter and histogram families are gone.
    push(pgw.port, &only_gauge, &cfg.clone().method(Method::Put));
    let g = group(pgw.port, &key).unwrap();
    assert_eq!(g["queue_len"]["metrics"][0]["value"], "3");
    assert!(g.get("images_done_total").is_none() && g.get("resize_duration_seconds").is_none(), "{g}");

    // --- A job containing `/` uses job@base64.
    let cfg2 = PushgatewayConfig::new("batch/nightly").group("instance", "i-2");
    assert!(pushgateway::group_path(&cfg2).unwrap().starts_with("/metrics/job@base64/"));
    push(pgw.port, &only_gauge, &cfg2);
    let key2 = map(&[("job", "batch/nightly"), ("instance", "i-2")]);
    assert!(group(pgw.port, &key2).is_some(), "{:?}", groups(pgw.port));

    // --- DELETE both groups; they are gone.
    for c in [&cfg, &cfg2] {
        let p = pushgateway::group_path(c).unwrap();
        let r = common::http("DELETE", pgw.port, &p, &[], b"").unwrap();
        assert!((200..300).contains(&r.status), "DELETE {p}: {}", r.status);
    }
    assert!(group(pgw.port, &key).is_none());
    assert!(group(pgw.port, &key2).is_none());
    assert!(!metrics_text(pgw.port).contains("queue_len"));
}

#[test]
fn invalid_grouping_and_delta_are_refused_before_sending() {
    let mut reg = registry("svc", "i");
    let g = reg.gauge("g", InstrumentOptions::default()).unwrap();
    g.set(&mut reg, 1.0, &[]);
    let batch = reg.collect(T);
    for cfg in [
        PushgatewayConfig::new(""),
        PushgatewayConfig::new("j").group("job", "x"),
        PushgatewayConfig::new("j").group("__x", "x"),
        PushgatewayConfig::new("j").group("bad-name", "x"),
        PushgatewayConfig::new("j").group("a", "1").group("a", "2"),
    ] {
        assert!(matches!(pushgateway::request(&batch, &cfg), Err(Error::InvalidConfig { .. })), "{cfg:?}");
    }
    let mut delta = Registry::new(Config::new("svc"));
    let c = delta.counter("c", InstrumentOptions::default()).unwrap();
    c.add(&mut delta, 1.0, &[]);
    let b = delta.collect(T);
    assert!(matches!(pushgateway::request(&b, &PushgatewayConfig::new("svc")), Err(Error::InvalidConfig { .. })));
}

#[test]
fn pushgateway_rejects_what_we_would_never_send() {
    // The real server is the judge of our format: a body with a timestamp or a duplicate family is
    // refused, while ours (same content, well-formed) is accepted.
    let pgw = common::pushgateway();
    let hdr = [("Content-Type", pushgateway::CONTENT_TYPE)];
    let r = common::http("PUT", pgw.port, "/metrics/job/x", &hdr, b"# TYPE a gauge\na 1 1700000000000\n").unwrap();
    assert_eq!(r.status, 400, "timestamps are refused: {}", r.text());
    let r =
        common::http("PUT", pgw.port, "/metrics/job/x", &hdr, b"# TYPE a gauge\na 1\n# TYPE a gauge\na{b=\"c\"} 1\n")
            .unwrap();
    assert_eq!(r.status, 400, "a family twice is refused: {}", r.text());
    let mut reg = registry("x", "i");
    let g = reg.gauge("a", InstrumentOptions::default()).unwrap();
    g.set(&mut reg, 1.0, &[]);
    g.set(&mut reg, 1.0, &[("b", "c".into())]);
    let batch = reg.collect(T);
    push(pgw.port, &batch, &PushgatewayConfig::new("x"));
    let text = metrics_text(pgw.port);
    assert!(
        text.contains("a{b=\"c\",instance=\"\",job=\"x\"} 1\n") || text.contains("a{b=\"c\",job=\"x\"} 1\n"),
        "{text}"
    );

    // Instrumentation scopes: one family, a series per scope; the meter's series carries
    // otel_scope_name / otel_scope_version, the default scope's none. The server parses it.
    let mut reg = registry("scoped", "i");
    reg.begin(T);
    let plain = reg.counter("jobs", InstrumentOptions::default()).unwrap();
    let lib = reg.counter("jobs", InstrumentOptions::default().scope("queue-lib", "2.1.0")).unwrap();
    plain.add(&mut reg, 1.0, &[]);
    lib.add(&mut reg, 5.0, &[]);
    let batch = reg.collect(T + 1);
    let cfg = PushgatewayConfig::new("scoped");
    push(pgw.port, &batch, &cfg);
    let g = group(pgw.port, &map(&[("job", "scoped")])).unwrap_or_else(|| panic!("{:?}", groups(pgw.port)));
    let mut series: Vec<(BTreeMap<String, String>, String)> = g["jobs_total"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            // The Pushgateway adds `instance=""`; an empty label is no label.
            let mut l = labels(&s["labels"]);
            l.retain(|_, v| !v.is_empty());
            (l, s["value"].as_str().unwrap().to_string())
        })
        .collect();
    series.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        series,
        [
            (map(&[("job", "scoped")]), "1".to_string()),
            (
                map(&[("job", "scoped"), ("otel_scope_name", "queue-lib"), ("otel_scope_version", "2.1.0")]),
                "5".to_string()
            ),
        ]
    );
}
