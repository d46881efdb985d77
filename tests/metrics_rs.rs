//! The `metrics` crate facade recorder (feature `metrics-rs`): the facade's macros and a real
//! third-party crate instrumented with them record into a Registry; the batches are checked value
//! by value, and the OTLP encoding is read back with the official `opentelemetry-proto` decoder.

use std::collections::BTreeMap;

use edgemetrics::encode::otlp;
use edgemetrics::metrics_rs::{MetricsRecorder, RecorderStats};
use edgemetrics::registry::OVERFLOW_KEY;
use edgemetrics::{
    Batch, Config, Error, InstrumentOptions, Limits, MetricData, Registry, Temporality, Value, DEFAULT_BOUNDS,
};
use metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram, with_local_recorder, Label, Unit,
};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};
use prost::Message;

const T0: u64 = 1_700_000_000_000_000_000;
const T1: u64 = T0 + 1_000_000_000;
const T2: u64 = T1 + 1_000_000_000;

fn recorder(config: Config) -> MetricsRecorder {
    let r = MetricsRecorder::new(Registry::new(config.self_metrics(false)));
    r.begin(T0);
    r
}

type Labels = Vec<(String, String)>;

fn labels_of(attrs: &[edgemetrics::KeyValue]) -> Labels {
    attrs
        .iter()
        .map(|kv| {
            let v = match &kv.value {
                Value::Str(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                other => panic!("unexpected attribute value {other:?}"),
            };
            (kv.key.clone(), v)
        })
        .collect()
}

fn l(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Sum or gauge points of `name` by attribute set.
fn numbers(b: &Batch, name: &str) -> BTreeMap<Labels, f64> {
    let m = b.metric(name).unwrap_or_else(|| panic!("{name} missing"));
    let points = match &m.data {
        MetricData::Sum { points, .. } | MetricData::Gauge { points } => points,
        other => panic!("{name}: not a number metric: {other:?}"),
    };
    points.iter().map(|p| (labels_of(&p.attributes), p.value)).collect()
}

/// The scenario shared by the exact-values test and the OTLP test.
fn scenario(r: &MetricsRecorder) {
    with_local_recorder(r, || {
        describe_counter!("http.requests", Unit::Count, "Requests served");
        describe_gauge!("pool.size", Unit::Bytes, "Pool size");
        describe_histogram!("http.duration", Unit::Milliseconds, "Request latency");
        for _ in 0..3 {
            counter!("http.requests", "route" => "/cart", "method" => "GET").increment(1);
        }
        // The same labels in another order name the same series.
        counter!("http.requests", "method" => "GET", "route" => "/cart").increment(10);
        counter!("http.requests", "route" => "/pay", "method" => "POST").increment(2);
        let route = String::from("/dyn");
        counter!("http.requests", "route" => route, "method" => "GET").increment(5);
        gauge!("pool.size").set(100.0);
        gauge!("pool.size").increment(20.0);
        gauge!("pool.size").decrement(5.5);
        gauge!("pool.size", "pool" => "b").increment(1.0);
        for v in [0.0, 3.0, 7.0, 12_000.0] {
            histogram!("http.duration", "route" => "/cart").record(v);
        }
        histogram!("http.duration", "route" => "/cart").record_many(30.0, 2);
    });
}

#[test]
fn macros_record_exact_values_with_labels_units_and_descriptions() {
    let r = recorder(Config::new("svc"));
    scenario(&r);
    let b = r.collect(T1);
    assert_eq!(b.metrics.len(), 3);

    let req = b.metric("http.requests").unwrap();
    assert_eq!((&*req.unit, &*req.description), ("{count}", "Requests served"));
    assert!(matches!(req.data, MetricData::Sum { monotonic: true, temporality: Temporality::Delta, .. }));
    let want: BTreeMap<Labels, f64> = [
        (l(&[("method", "GET"), ("route", "/cart")]), 13.0),
        (l(&[("method", "POST"), ("route", "/pay")]), 2.0),
        (l(&[("method", "GET"), ("route", "/dyn")]), 5.0),
    ]
    .into_iter()
    .collect();
    assert_eq!(numbers(&b, "http.requests"), want);

    let pool = b.metric("pool.size").unwrap();
    assert_eq!((&*pool.unit, &*pool.description), ("By", "Pool size"));
    let want: BTreeMap<Labels, f64> = [(l(&[]), 114.5), (l(&[("pool", "b")]), 1.0)].into_iter().collect();
    assert_eq!(numbers(&b, "pool.size"), want);

    let dur = b.metric("http.duration").unwrap();
    assert_eq!((&*dur.unit, &*dur.description), ("ms", "Request latency"));
    let MetricData::Histogram { bounds, points, .. } = &dur.data else { panic!("not a histogram") };
    assert_eq!(&bounds[..], &DEFAULT_BOUNDS[..]);
    assert_eq!(points.len(), 1);
    let p = &points[0];
    assert_eq!(labels_of(&p.attributes), l(&[("route", "/cart")]));
    assert_eq!((p.count, p.sum, p.min, p.max), (6, 12_070.0, 0.0, 12_000.0));
    assert_eq!(p.bucket_counts, [1, 1, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

    assert_eq!(b.stats, Default::default());
    assert_eq!(r.stats(), RecorderStats::default());
    // One series per distinct label set (the reordered labels share one).
    assert_eq!(r.with_registry(|reg| reg.series_count()), 6);
}

#[test]
fn otlp_encoding_decodes_with_the_official_decoder() {
    let r = recorder(Config::new("svc"));
    scenario(&r);
    let b = r.collect(T1);
    let req = ExportMetricsServiceRequest::decode(&otlp::encode(&b)[..]).expect("official decoder accepts it");
    let sm = &req.resource_metrics[0].scope_metrics[0];
    let by_name = |n: &str| sm.metrics.iter().find(|m| m.name == n).unwrap_or_else(|| panic!("{n} missing"));
    let attrs = |kvs: &[opentelemetry_proto::tonic::common::v1::KeyValue]| -> Labels {
        kvs.iter()
            .map(|kv| match kv.value.as_ref().and_then(|v| v.value.clone()) {
                Some(any_value::Value::StringValue(s)) => (kv.key.clone(), s),
                other => panic!("{}: {other:?}", kv.key),
            })
            .collect()
    };

    let m = by_name("http.requests");
    assert_eq!((m.unit.as_str(), m.description.as_str()), ("{count}", "Requests served"));
    let Some(Data::Sum(s)) = &m.data else { panic!("not a sum") };
    assert!(s.is_monotonic);
    assert_eq!(s.aggregation_temporality, 1); // delta
    let got: BTreeMap<Labels, f64> = s
        .data_points
        .iter()
        .map(|p| {
            let v = match p.value {
                Some(number_data_point::Value::AsDouble(d)) => d,
                other => panic!("{other:?}"),
            };
            (attrs(&p.attributes), v)
        })
        .collect();
    assert_eq!(got, numbers(&b, "http.requests"));

    let m = by_name("pool.size");
    assert_eq!(m.unit, "By");
    let Some(Data::Gauge(g)) = &m.data else { panic!("not a gauge") };
    assert_eq!(g.data_points.len(), 2);

    let m = by_name("http.duration");
    assert_eq!((m.unit.as_str(), m.description.as_str()), ("ms", "Request latency"));
    let Some(Data::Histogram(h)) = &m.data else { panic!("not a histogram") };
    let p = &h.data_points[0];
    assert_eq!(attrs(&p.attributes), l(&[("route", "/cart")]));
    assert_eq!((p.count, p.sum, p.min, p.max), (6, Some(12_070.0), Some(0.0), Some(12_000.0)));
    assert_eq!(p.bucket_counts, [1, 1, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(p.explicit_bounds, DEFAULT_BOUNDS);
}

#[test]
fn counter_absolute_sets_at_least_the_value_across_windows() {
    for t in [Temporality::Delta, Temporality::Cumulative] {
        let r = recorder(Config::new("svc").temporality(t));
        let c = with_local_recorder(&r, || counter!("jobs"));
        c.absolute(10);
        c.absolute(7); // lower: no change (the facade's fetch_max)
        c.increment(2); // running total 12
        with_local_recorder(&r, || counter!("jobs").absolute(15)); // same key, same total: +3
        assert_eq!(numbers(&r.collect(T1), "jobs")[&l(&[])], 15.0, "{t:?}");
        c.absolute(15); // unchanged
        let b = r.collect(T1 + 1);
        match t {
            Temporality::Delta => assert!(b.metric("jobs").is_none()),
            Temporality::Cumulative => assert_eq!(numbers(&b, "jobs")[&l(&[])], 15.0),
        }
        c.absolute(20);
        let want = if t == Temporality::Delta { 5.0 } else { 20.0 };
        assert_eq!(numbers(&r.collect(T2), "jobs")[&l(&[])], want, "{t:?}");
    }
}

#[test]
fn gauge_changes_apply_to_the_kept_value_across_windows() {
    let r = recorder(Config::new("svc"));
    let g = with_local_recorder(&r, || gauge!("inflight", "shard" => "1"));
    g.increment(5.0);
    assert_eq!(numbers(&r.collect(T1), "inflight")[&l(&[("shard", "1")])], 5.0);
    // Nothing changed in this window: a delta batch has no point for it.
    assert!(r.collect(T1 + 1).metric("inflight").is_none());
    // The next change starts from the kept value (through a fresh macro call too).
    with_local_recorder(&r, || gauge!("inflight", "shard" => "1").decrement(2.0));
    g.set(f64::NAN); // refused and counted; the kept value stays 3
    g.increment(1.0);
    let b = r.collect(T2);
    assert_eq!(numbers(&b, "inflight")[&l(&[("shard", "1")])], 4.0);
    assert_eq!(b.stats.rejected_non_finite, 1);
}

#[test]
fn refused_names_and_values_are_counted_never_panic() {
    let r = recorder(Config::new("svc"));
    with_local_recorder(&r, || {
        counter!("bad:name").increment(1);
        counter!("bad:name").increment(1);
        counter!("dup").increment(1);
        gauge!("dup").set(1.0); // a counter already has this name
        histogram!("latency").record(-1.0);
        counter!("ok").increment(u64::MAX); // exact only up to 2^53, but accepted
        let many: Vec<Label> = (0..40).map(|i| Label::new(format!("k{i:02}"), "v")).collect();
        counter!("wide", many).increment(1);
    });
    let b = r.collect(T1);
    assert_eq!(b.stats.rejected_invalid_handle, 3);
    assert_eq!(b.stats.rejected_negative, 1);
    assert_eq!(b.stats.attributes_dropped, 8); // 32 attributes kept (the registry's limit)
    assert_eq!(numbers(&b, "dup")[&l(&[])], 1.0);
    assert_eq!(numbers(&b, "ok")[&l(&[])], u64::MAX as f64);
    assert_eq!(r.stats().instruments_refused, 3);
    let errors = r.errors();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(matches!(&errors[0], Error::InvalidName { name, .. } if name == "bad:name"), "{errors:?}");
    assert!(matches!(&errors[1], Error::KindConflict { name, .. } if name == "dup"), "{errors:?}");
}

#[test]
fn a_description_after_first_use_is_not_applied_and_is_counted() {
    let r = recorder(Config::new("svc"));
    r.with_registry(|reg| reg.counter("own", InstrumentOptions::unit("{job}")).map(|_| ())).unwrap();
    with_local_recorder(&r, || {
        counter!("late").increment(1);
        describe_counter!("late", Unit::Seconds, "too late");
        describe_counter!("own", Unit::Seconds, "not ours");
        counter!("own").increment(1);
        describe_gauge!("early", Unit::Percent, "set before use");
        gauge!("early").set(50.0);
    });
    assert_eq!(r.stats().descriptions_ignored, 2);
    let b = r.collect(T1);
    let late = b.metric("late").unwrap();
    assert_eq!((&*late.unit, &*late.description), ("", ""));
    let own = b.metric("own").unwrap();
    assert_eq!((&*own.unit, &*own.description), ("{job}", ""));
    let early = b.metric("early").unwrap();
    assert_eq!((&*early.unit, &*early.description), ("%", "set before use"));
}

#[test]
fn keys_resolve_once_and_past_the_cache_limit_totals_stay_exact() {
    let limits = Limits { max_series: 3, ..Limits::default() };
    let r = recorder(Config::new("svc").limits(limits));
    with_local_recorder(&r, || {
        for round in 0..4 {
            for k in 0..5u64 {
                counter!("hits", "k" => k.to_string()).increment(k + round);
            }
        }
    });
    // Three keys cached and bound; the two others are resolved on each of their 4 calls.
    assert_eq!(r.stats().keys_uncached, 8);
    let b = r.collect(T1);
    let got = numbers(&b, "hits");
    let want: BTreeMap<Labels, f64> = [
        (l(&[("k", "0")]), 6.0),
        (l(&[("k", "1")]), 10.0),
        (l(&[("k", "2")]), 14.0),
        // Keys 3 and 4 are past max_series: the overflow series holds their sum.
        (l(&[(OVERFLOW_KEY, "true")]), 18.0 + 22.0),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
    assert_eq!(b.stats.overflowed, 8);
}

#[test]
fn facade_calls_inside_with_registry_are_dropped_and_counted_not_deadlocked() {
    let r = recorder(Config::new("svc"));
    let c = with_local_recorder(&r, || counter!("c"));
    let made_inside = with_local_recorder(&r, || {
        r.with_registry(|_| {
            c.increment(1);
            describe_gauge!("g", Unit::Bytes, "inside");
            counter!("inside").increment(1)
        });
        counter!("inside") // registered outside: works
    });
    c.increment(2);
    made_inside.increment(3);
    assert_eq!(r.stats().reentrant_dropped, 4);
    let b = r.collect(T1);
    assert_eq!(numbers(&b, "c")[&l(&[])], 2.0);
    assert_eq!(numbers(&b, "inside")[&l(&[])], 3.0);
    assert!(b.metric("g").is_none());
}

#[test]
fn a_handle_outliving_the_recorder_keeps_working() {
    let r = recorder(Config::new("svc"));
    let c = with_local_recorder(&r, || counter!("after"));
    drop(r);
    c.increment(1); // records into a registry nobody collects any more; no panic
}

#[test]
fn the_global_recorder_sums_exactly_across_threads() {
    let r = recorder(Config::new("svc"));
    r.install().expect("first install");
    assert!(r.install().is_err(), "a second install is refused");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let parity = if t % 2 == 0 { "even" } else { "odd" };
                for i in 0..1000u64 {
                    counter!("global.hits", "parity" => parity).increment(1);
                    histogram!("global.sizes").record((i % 10) as f64);
                    gauge!("global.level").increment(1.0);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let b = r.collect(T1);
    let want: BTreeMap<Labels, f64> =
        [(l(&[("parity", "even")]), 2000.0), (l(&[("parity", "odd")]), 2000.0)].into_iter().collect();
    assert_eq!(numbers(&b, "global.hits"), want);
    assert_eq!(numbers(&b, "global.level")[&l(&[])], 4000.0);
    let MetricData::Histogram { points, .. } = &b.metric("global.sizes").unwrap().data else { panic!() };
    assert_eq!((points[0].count, points[0].sum), (4000, 4.0 * 100.0 * 45.0));
}

/// `metrics-process` (a published crate instrumented with the facade's `describe_*!`, `gauge!`
/// and `counter!(..).absolute(..)`) records the process's metrics through the recorder unmodified.
/// Native only: on wasm32 that crate has no data source (it needs its `dummy` feature there).
#[test]
fn a_third_party_crate_instrumented_with_metrics_records_through_it() {
    let r = recorder(Config::new("svc"));
    with_local_recorder(&r, || {
        let c = metrics_process::Collector::new("edge_");
        c.describe();
        c.collect();
    });
    let want = metrics_process::collector::collect();
    let b = r.collect(T1);
    assert_eq!(r.stats(), RecorderStats::default());
    assert_eq!(b.stats, Default::default());

    let max_fds = b.metric("edge_process_max_fds").unwrap();
    assert_eq!((&*max_fds.unit, &*max_fds.description), ("{count}", "Maximum number of open file descriptors."));
    assert_eq!(numbers(&b, "edge_process_max_fds")[&l(&[])], want.max_fds.unwrap() as f64);
    let start = b.metric("edge_process_start_time_seconds").unwrap();
    assert_eq!(&*start.unit, "s");
    assert_eq!(numbers(&b, "edge_process_start_time_seconds")[&l(&[])], want.start_time_seconds.unwrap() as f64);
    assert_eq!(&*b.metric("edge_process_resident_memory_bytes").unwrap().unit, "By");
    assert!(numbers(&b, "edge_process_resident_memory_bytes")[&l(&[])] > 0.0);
    assert!(numbers(&b, "edge_process_threads")[&l(&[])] >= 1.0);
    // `absolute(cpu seconds as u64)`: absent while the process has used less than one second.
    if let Some(cpu) = b.metric("edge_process_cpu_seconds_total") {
        assert_eq!((&*cpu.unit, cpu.kind), ("s", edgemetrics::InstrumentKind::Counter));
        let v = numbers(&b, "edge_process_cpu_seconds_total")[&l(&[])];
        assert!(v >= 1.0 && v <= want.cpu_seconds_total.unwrap().floor(), "{v}");
    }
}
