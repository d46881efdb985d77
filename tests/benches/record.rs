//! Record-path and collect benchmarks for the core registry.
//!
//! Run: `cargo bench --bench record`. Figures are per call (criterion reports per iteration; each
//! iteration here is one record call, or one whole collect). With `--features metrics-rs` the
//! `metrics_rs` group measures the same counter and histogram records through the `metrics` crate
//! facade and edgemetrics' recorder (macro call per record, and a handle kept by the caller).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use edgemetrics::exphist::ExpConfig;
use edgemetrics::{AttrValue, Config, InstrumentOptions, Registry, Temporality};
use std::hint::black_box;

const ROUTES: [&str; 10] =
    ["/", "/cart", "/checkout", "/login", "/logout", "/search", "/item", "/api/v1/a", "/api/v1/b", "/health"];
const STATUS: [i64; 5] = [200, 201, 404, 500, 503];
const REGIONS: [&str; 20] = [
    "ams", "arn", "atl", "bog", "bom", "cdg", "dfw", "ewr", "fra", "gru", "hkg", "iad", "jnb", "lax", "lhr", "mad",
    "mia", "nrt", "ord", "syd",
];

fn attrs(i: usize) -> [(&'static str, AttrValue<'static>); 3] {
    [
        ("route", ROUTES[i % 10].into()),
        ("status", STATUS[(i / 10) % 5].into()),
        ("region", REGIONS[(i / 50) % 20].into()),
    ]
}

fn record(c: &mut Criterion) {
    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Elements(1));

    // 3 attributes, 1000 distinct sets cycling (all series exist after the first pass).
    let mut reg = Registry::new(Config::new("bench"));
    let ctr = reg.counter("requests", InstrumentOptions::default()).unwrap();
    let sets: Vec<_> = (0..1000).map(attrs).collect();
    for s in &sets {
        reg.record(ctr, 1.0, s);
    }
    let mut i = 0usize;
    g.bench_function("counter_add_3_attrs", |b| {
        b.iter(|| {
            reg.record(ctr, black_box(1.0), black_box(&sets[i]));
            i = (i + 1) % 1000;
        })
    });

    let hist = reg.histogram("latency", InstrumentOptions::unit("ms")).unwrap();
    let mut i = 0usize;
    g.bench_function("histogram_record_3_attrs", |b| {
        b.iter(|| {
            reg.record(hist, black_box((i % 700) as f64), black_box(&sets[i]));
            i = (i + 1) % 1000;
        })
    });

    // The same values into an exponential histogram (160 buckets, scale 20 → 4 for 1..699).
    let exp = reg.histogram("latency.exp", InstrumentOptions::unit("ms").exponential(ExpConfig::default())).unwrap();
    let mut i = 0usize;
    g.bench_function("exp_histogram_record_3_attrs", |b| {
        b.iter(|| {
            reg.record(exp, black_box((i % 700) as f64), black_box(&sets[i]));
            i = (i + 1) % 1000;
        })
    });

    let handles: Vec<_> = sets.iter().map(|s| reg.bind(ctr, s).unwrap()).collect();
    let mut i = 0usize;
    g.bench_function("counter_add_bound", |b| {
        b.iter(|| {
            reg.record_bound(black_box(handles[i]), black_box(1.0));
            i = (i + 1) & 511;
        })
    });
    let hh: Vec<_> = sets.iter().map(|s| reg.bind(hist, s).unwrap()).collect();
    let mut i = 0usize;
    g.bench_function("histogram_record_bound", |b| {
        b.iter(|| {
            reg.record_bound(black_box(hh[i]), black_box((i % 700) as f64));
            i = (i + 1) & 511;
        })
    });
    let eh: Vec<_> = sets.iter().map(|s| reg.bind(exp, s).unwrap()).collect();
    let mut i = 0usize;
    g.bench_function("exp_histogram_record_bound", |b| {
        b.iter(|| {
            reg.record_bound(black_box(eh[i]), black_box((i % 700) as f64));
            i = (i + 1) & 511;
        })
    });
    g.finish();
}

fn collect(c: &mut Criterion) {
    let mut g = c.benchmark_group("collect");
    for (name, t) in [("delta", Temporality::Delta), ("cumulative", Temporality::Cumulative)] {
        let mut reg = Registry::new(Config::new("bench").temporality(t));
        let ctr = reg.counter("requests", InstrumentOptions::default()).unwrap();
        let hist = reg.histogram("latency", InstrumentOptions::unit("ms")).unwrap();
        let sets: Vec<_> = (0..1000).map(attrs).collect();
        let mut now = 1_700_000_000_000_000_000u64;
        g.bench_function(format!("1000_series_counter_histogram_{name}"), |b| {
            b.iter(|| {
                // One invocation's worth: every series recorded once, then collected.
                for (i, s) in sets.iter().enumerate() {
                    reg.record(ctr, 1.0, s);
                    reg.record(hist, (i % 700) as f64, s);
                }
                now += 1_000_000;
                black_box(reg.collect(now))
            })
        });
    }
    g.finish();
}

/// The same 1000 label sets through the `metrics` facade: each macro call builds a `Key` (name +
/// 3 labels), the recorder finds its cached handle, takes the lock and records through the bound
/// series; a handle kept by the caller skips the key and the lookup.
#[cfg(feature = "metrics-rs")]
fn metrics_facade(c: &mut Criterion) {
    use edgemetrics::metrics_rs::MetricsRecorder;
    const STATUS_STR: [&str; 5] = ["200", "201", "404", "500", "503"];
    let labels = |i: usize| (ROUTES[i % 10], STATUS_STR[(i / 10) % 5], REGIONS[(i / 50) % 20]);

    let recorder = MetricsRecorder::new(Registry::new(Config::new("bench")));
    let _guard = metrics::set_default_local_recorder(&recorder);
    let mut g = c.benchmark_group("metrics_rs");
    g.throughput(Throughput::Elements(1));
    for i in 0..1000 {
        let (r, s, z) = labels(i);
        metrics::counter!("requests", "route" => r, "status" => s, "region" => z).increment(1);
        metrics::histogram!("latency", "route" => r, "status" => s, "region" => z).record(1.0);
    }
    let mut i = 0usize;
    g.bench_function("counter_macro_3_labels", |b| {
        b.iter(|| {
            let (r, s, z) = labels(black_box(i));
            metrics::counter!("requests", "route" => r, "status" => s, "region" => z).increment(1);
            i = (i + 1) % 1000;
        })
    });
    let mut i = 0usize;
    g.bench_function("histogram_macro_3_labels", |b| {
        b.iter(|| {
            let (r, s, z) = labels(black_box(i));
            metrics::histogram!("latency", "route" => r, "status" => s, "region" => z).record((i % 700) as f64);
            i = (i + 1) % 1000;
        })
    });
    let counters: Vec<_> = (0..512)
        .map(|i| {
            let (r, s, z) = labels(i);
            metrics::counter!("requests", "route" => r, "status" => s, "region" => z)
        })
        .collect();
    let mut i = 0usize;
    g.bench_function("counter_handle", |b| {
        b.iter(|| {
            black_box(&counters[i]).increment(1);
            i = (i + 1) & 511;
        })
    });
    let hists: Vec<_> = (0..512)
        .map(|i| {
            let (r, s, z) = labels(i);
            metrics::histogram!("latency", "route" => r, "status" => s, "region" => z)
        })
        .collect();
    let mut i = 0usize;
    g.bench_function("histogram_handle", |b| {
        b.iter(|| {
            black_box(&hists[i]).record((i % 700) as f64);
            i = (i + 1) & 511;
        })
    });
    g.finish();
}

#[cfg(feature = "metrics-rs")]
criterion_group!(benches, record, metrics_facade, collect);
#[cfg(not(feature = "metrics-rs"))]
criterion_group!(benches, record, collect);
criterion_main!(benches);
