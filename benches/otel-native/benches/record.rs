//! Native record cost, edgemetrics vs `opentelemetry_sdk` 0.33 in one run: a delta counter and a
//! histogram (OTel's 15 default bounds on both sides), 3 attributes cycling over 1000 sets (every
//! series exists before measuring), unbound and bound (`opentelemetry_sdk`'s
//! `experimental_metrics_bound_instruments`), and the unbound counter with 0, 1 and 8 attributes.
//! Per call; `cargo bench` in this directory.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use edgemetrics::{AttrValue, Config, InstrumentOptions, Registry, Temporality};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider, Temporality as OtelTemporality};
use std::hint::black_box;

const ROUTES: [&str; 10] =
    ["/", "/cart", "/checkout", "/login", "/logout", "/search", "/item", "/api/v1/a", "/api/v1/b", "/health"];
const STATUS: [i64; 5] = [200, 201, 404, 500, 503];
const REGIONS: [&str; 20] = [
    "ams", "arn", "atl", "bog", "bom", "cdg", "dfw", "ewr", "fra", "gru", "hkg", "iad", "jnb", "lax", "lhr", "mad",
    "mia", "nrt", "ord", "syd",
];
/// Attributes 4 to 8 of the 8-attribute rows (the same in every set).
const EXTRA: [(&str, &str); 5] = [
    ("http.method", "GET"),
    ("http.scheme", "https"),
    ("net.host", "api.example.com"),
    ("tier", "gold"),
    ("ok", "yes"),
];

/// The first `n` attributes of set `i`: route, status, region, then `EXTRA`.
fn ours(i: usize, n: usize) -> Vec<(&'static str, AttrValue<'static>)> {
    let mut v: Vec<(&'static str, AttrValue<'static>)> = vec![
        ("route", ROUTES[i % 10].into()),
        ("status", STATUS[(i / 10) % 5].into()),
        ("region", REGIONS[(i / 50) % 20].into()),
    ];
    v.extend(EXTRA.iter().map(|&(k, x)| (k, x.into())));
    v.truncate(n);
    v
}

fn theirs(i: usize, n: usize) -> Vec<KeyValue> {
    let mut v = vec![
        KeyValue::new("route", ROUTES[i % 10]),
        KeyValue::new("status", STATUS[(i / 10) % 5]),
        KeyValue::new("region", REGIONS[(i / 50) % 20]),
    ];
    v.extend(EXTRA.iter().map(|&(k, x)| KeyValue::new(k, x)));
    v.truncate(n);
    v
}

fn record(c: &mut Criterion) {
    let mut g = c.benchmark_group("native");
    g.throughput(Throughput::Elements(1));

    let mut reg = Registry::new(Config::new("bench").temporality(Temporality::Delta));
    let ctr = reg.counter("requests", InstrumentOptions::default()).unwrap();
    let hist = reg.histogram("latency", InstrumentOptions::unit("ms")).unwrap();
    let sets: Vec<_> = (0..1000).map(|i| ours(i, 3)).collect();
    for s in &sets {
        reg.record(ctr, 1.0, s);
        reg.record(hist, 1.0, s);
    }
    let reader = ManualReader::builder().with_temporality(OtelTemporality::Delta).build();
    let provider = SdkMeterProvider::builder().with_reader(reader).build();
    let meter = provider.meter("bench");
    let octr = meter.f64_counter("requests").build();
    let ohist = meter.f64_histogram("latency").with_unit("ms").build();
    let osets: Vec<_> = (0..1000).map(|i| theirs(i, 3)).collect();
    for s in &osets {
        octr.add(1.0, s);
        ohist.record(1.0, s);
    }

    let mut i = 0usize;
    g.bench_function("edgemetrics/counter_add_3_attrs", |b| {
        b.iter(|| {
            reg.record(ctr, black_box(1.0), black_box(&sets[i]));
            i = (i + 1) % 1000;
        })
    });
    let mut i = 0usize;
    g.bench_function("opentelemetry_sdk/counter_add_3_attrs", |b| {
        b.iter(|| {
            octr.add(black_box(1.0), black_box(&osets[i]));
            i = (i + 1) % 1000;
        })
    });
    let mut i = 0usize;
    g.bench_function("edgemetrics/histogram_record_3_attrs", |b| {
        b.iter(|| {
            reg.record(hist, black_box((i % 700) as f64), black_box(&sets[i]));
            i = (i + 1) % 1000;
        })
    });
    let mut i = 0usize;
    g.bench_function("opentelemetry_sdk/histogram_record_3_attrs", |b| {
        b.iter(|| {
            ohist.record(black_box((i % 700) as f64), black_box(&osets[i]));
            i = (i + 1) % 1000;
        })
    });

    let handles: Vec<_> = sets.iter().map(|s| reg.bind(ctr, s).unwrap()).collect();
    let ohandles: Vec<_> = osets.iter().map(|s| octr.bind(s)).collect();
    let mut i = 0usize;
    g.bench_function("edgemetrics/counter_add_bound", |b| {
        b.iter(|| {
            reg.record_bound(black_box(handles[i]), black_box(1.0));
            i = (i + 1) & 511;
        })
    });
    let mut i = 0usize;
    g.bench_function("opentelemetry_sdk/counter_add_bound", |b| {
        b.iter(|| {
            ohandles[i].add(black_box(1.0));
            i = (i + 1) & 511;
        })
    });
    let hh: Vec<_> = sets.iter().map(|s| reg.bind(hist, s).unwrap()).collect();
    let ohh: Vec<_> = osets.iter().map(|s| ohist.bind(s)).collect();
    let mut i = 0usize;
    g.bench_function("edgemetrics/histogram_record_bound", |b| {
        b.iter(|| {
            reg.record_bound(black_box(hh[i]), black_box((i % 700) as f64));
            i = (i + 1) & 511;
        })
    });
    let mut i = 0usize;
    g.bench_function("opentelemetry_sdk/histogram_record_bound", |b| {
        b.iter(|| {
            ohh[i].record(black_box((i % 700) as f64));
            i = (i + 1) & 511;
        })
    });

    // The unbound counter with 0, 1 and 8 attributes (3 is above), a fresh pair of instruments each.
    for n in [0usize, 1, 8] {
        let mut reg = Registry::new(Config::new("bench").temporality(Temporality::Delta));
        let ctr = reg.counter("requests", InstrumentOptions::default()).unwrap();
        let sets: Vec<_> = (0..1000).map(|i| ours(i, n)).collect();
        for s in &sets {
            reg.record(ctr, 1.0, s);
        }
        let reader = ManualReader::builder().with_temporality(OtelTemporality::Delta).build();
        let provider = SdkMeterProvider::builder().with_reader(reader).build();
        let octr = provider.meter("bench").f64_counter("requests").build();
        let osets: Vec<_> = (0..1000).map(|i| theirs(i, n)).collect();
        for s in &osets {
            octr.add(1.0, s);
        }
        let mut i = 0usize;
        g.bench_function(format!("edgemetrics/counter_add_{n}_attrs"), |b| {
            b.iter(|| {
                reg.record(ctr, black_box(1.0), black_box(&sets[i]));
                i = (i + 1) % 1000;
            })
        });
        let mut i = 0usize;
        g.bench_function(format!("opentelemetry_sdk/counter_add_{n}_attrs"), |b| {
            b.iter(|| {
                octr.add(black_box(1.0), black_box(&osets[i]));
                i = (i + 1) % 1000;
            })
        });
    }
    g.finish();
}

criterion_group!(benches, record);
criterion_main!(benches);
