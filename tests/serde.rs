//! Feature `serde`: the data model (`Batch` and its parts) implements `Serialize`/`Deserialize`, so
//! users can log, store or forward batches with any serde format. Checked with `serde_json`.
//!
//! Run: `cargo test --features serde --test serde`.

use edgemetrics::{Batch, Config, InstrumentOptions, MetricData, Registry, Temporality, Value};

fn batch() -> Batch {
    let mut reg =
        Registry::new(Config::new("checkout").temporality(Temporality::Cumulative).resource_attr("tier", 2i64));
    reg.begin(1_700_000_000_000_000_000);
    let c = reg.counter("http.requests", InstrumentOptions::unit("{request}").description("Requests")).unwrap();
    let g = reg.gauge("temp", InstrumentOptions::unit("Cel")).unwrap();
    let h = reg.histogram("latency", InstrumentOptions::unit("ms").bounds(&[1.0, 10.0])).unwrap();
    for i in 0..6 {
        let a = [("route", ["/a", "/ü\"\n"][i % 2].into()), ("ok", (i % 3 == 0).into()), ("w", 0.5.into())];
        c.add(&mut reg, 1.0, &a);
        g.set(&mut reg, -2.5 * i as f64, &a[..1]);
        h.record(&mut reg, i as f64 * 3.0, &a);
    }
    c.add(&mut reg, -1.0, &[]); // refused and counted: non-zero stats
    reg.collect(1_700_000_000_250_000_000)
}

#[test]
fn batch_round_trips_through_serde_json() {
    let b = batch();
    assert!(b.stats.rejected_negative > 0);
    let json = serde_json::to_string(&b).unwrap();
    let back: Batch = serde_json::from_str(&json).unwrap();
    assert_eq!(back, b);

    // The JSON is the data model's natural shape, readable without this crate.
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["scope_name"], "edgemetrics");
    assert_eq!(v["temporality"], "Cumulative");
    assert_eq!(v["start_unix_nano"], 1_700_000_000_000_000_000u64);
    assert_eq!(v["resource"][0]["key"], "service.name");
    assert_eq!(v["resource"][0]["value"]["Str"], "checkout");
    let metrics = v["metrics"].as_array().unwrap();
    let hist = metrics.iter().find(|m| m["name"] == "latency").unwrap();
    assert_eq!(hist["kind"], "Histogram");
    assert_eq!(hist["data"]["Histogram"]["bounds"], serde_json::json!([1.0, 10.0]));
    let p = &hist["data"]["Histogram"]["points"][0];
    assert_eq!(p["bucket_counts"].as_array().unwrap().len(), 3);
    assert_eq!(v["stats"]["rejected_negative"], 1);
    assert!(matches!(&b.metric("temp").unwrap().data, MetricData::Gauge { .. }));
}

#[test]
fn parts_serialize_on_their_own_and_the_scope_name_is_checked() {
    let b = batch();
    let kv = &b.resource[1];
    assert_eq!(serde_json::to_string(kv).unwrap(), r#"{"key":"tier","value":{"I64":2}}"#);
    let v: Value = serde_json::from_str(r#"{"Bool":true}"#).unwrap();
    assert_eq!(v, Value::Bool(true));
    let m: edgemetrics::Metric = serde_json::from_value(serde_json::to_value(&b.metrics[0]).unwrap()).unwrap();
    assert_eq!(m, b.metrics[0]);

    let mut v = serde_json::to_value(&b).unwrap();
    v["scope_name"] = "other".into();
    let err = serde_json::from_value::<Batch>(v).unwrap_err().to_string();
    assert!(err.contains("scope_name must be \"edgemetrics\""), "{err}");
}
