//! The rows of `record.rs`, edgemetrics and `opentelemetry_sdk` measured alternately: each case
//! runs both sides in turns of 20,000 calls, `ROUNDS` times (default 30), and prints the fastest and
//! the median turn per side (ns per call) and the ratio of the medians. On a loaded machine the
//! load changes between criterion's back-to-back measurements; taking turns exposes both sides to
//! the same load. `cargo bench --bench interleaved` in this directory (`ROUNDS=60` for more turns).
use edgemetrics::{AttrValue, Config, InstrumentOptions, Registry, Temporality};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider, Temporality as OtelTemporality};
use std::hint::black_box;
use std::time::Instant;

const ROUTES: [&str; 10] =
    ["/", "/cart", "/checkout", "/login", "/logout", "/search", "/item", "/api/v1/a", "/api/v1/b", "/health"];
const STATUS: [i64; 5] = [200, 201, 404, 500, 503];
const REGIONS: [&str; 20] = [
    "ams", "arn", "atl", "bog", "bom", "cdg", "dfw", "ewr", "fra", "gru", "hkg", "iad", "jnb", "lax", "lhr", "mad",
    "mia", "nrt", "ord", "syd",
];
const EXTRA: [(&str, &str); 5] = [
    ("http.method", "GET"),
    ("http.scheme", "https"),
    ("net.host", "api.example.com"),
    ("tier", "gold"),
    ("ok", "yes"),
];
/// Calls per turn.
const TURN: usize = 20_000;

/// One side of a case: runs `n` calls.
type Side = Box<dyn FnMut(usize)>;

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Histogram,
    BoundCounter,
    BoundHistogram,
}

fn ours(n: usize, kind: Kind) -> Side {
    let set = |i: usize| {
        let mut v: Vec<(&'static str, AttrValue<'static>)> = vec![
            ("route", ROUTES[i % 10].into()),
            ("status", STATUS[(i / 10) % 5].into()),
            ("region", REGIONS[(i / 50) % 20].into()),
        ];
        v.extend(EXTRA.iter().map(|&(k, x)| (k, x.into())));
        v.truncate(n);
        v
    };
    let mut reg = Registry::new(Config::new("bench").temporality(Temporality::Delta));
    let ctr = reg.counter("requests", InstrumentOptions::default()).unwrap();
    let hist = reg.histogram("latency", InstrumentOptions::unit("ms")).unwrap();
    let sets: Vec<_> = (0..1000).map(set).collect();
    for s in &sets {
        reg.record(ctr, 1.0, s);
        reg.record(hist, 1.0, s);
    }
    match kind {
        Kind::Counter => Box::new(move |r| {
            for j in 0..r {
                reg.record(ctr, black_box(1.0), black_box(&sets[j % 1000]));
            }
        }),
        Kind::Histogram => Box::new(move |r| {
            for j in 0..r {
                let i = j % 1000;
                reg.record(hist, black_box((i % 700) as f64), black_box(&sets[i]));
            }
        }),
        Kind::BoundCounter => {
            let h: Vec<_> = sets.iter().map(|s| reg.bind(ctr, s).unwrap()).collect();
            Box::new(move |r| {
                for j in 0..r {
                    reg.record_bound(black_box(h[j & 511]), black_box(1.0));
                }
            })
        }
        Kind::BoundHistogram => {
            let h: Vec<_> = sets.iter().map(|s| reg.bind(hist, s).unwrap()).collect();
            Box::new(move |r| {
                for j in 0..r {
                    reg.record_bound(black_box(h[j & 511]), black_box((j % 700) as f64));
                }
            })
        }
    }
}

fn theirs(n: usize, kind: Kind) -> Side {
    let set = |i: usize| {
        let mut v = vec![
            KeyValue::new("route", ROUTES[i % 10]),
            KeyValue::new("status", STATUS[(i / 10) % 5]),
            KeyValue::new("region", REGIONS[(i / 50) % 20]),
        ];
        v.extend(EXTRA.iter().map(|&(k, x)| KeyValue::new(k, x)));
        v.truncate(n);
        v
    };
    let reader = ManualReader::builder().with_temporality(OtelTemporality::Delta).build();
    let provider = SdkMeterProvider::builder().with_reader(reader).build();
    let meter = provider.meter("bench");
    let ctr = meter.f64_counter("requests").build();
    let hist = meter.f64_histogram("latency").with_unit("ms").build();
    let sets: Vec<_> = (0..1000).map(set).collect();
    for s in &sets {
        ctr.add(1.0, s);
        hist.record(1.0, s);
    }
    // The closures keep the provider alive.
    match kind {
        Kind::Counter => Box::new(move |r| {
            let _ = &provider;
            for j in 0..r {
                ctr.add(black_box(1.0), black_box(&sets[j % 1000]));
            }
        }),
        Kind::Histogram => Box::new(move |r| {
            let _ = &provider;
            for j in 0..r {
                let i = j % 1000;
                hist.record(black_box((i % 700) as f64), black_box(&sets[i]));
            }
        }),
        Kind::BoundCounter => {
            let h: Vec<_> = sets.iter().map(|s| ctr.bind(s)).collect();
            Box::new(move |r| {
                let _ = &provider;
                for j in 0..r {
                    h[j & 511].add(black_box(1.0));
                }
            })
        }
        Kind::BoundHistogram => {
            let h: Vec<_> = sets.iter().map(|s| hist.bind(s)).collect();
            Box::new(move |r| {
                let _ = &provider;
                for j in 0..r {
                    h[j & 511].record(black_box((j % 700) as f64));
                }
            })
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects cases by substring.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--")).unwrap_or_default();
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(30).max(1);
    let cases = [
        ("counter_add_0_attrs", 0, Kind::Counter),
        ("counter_add_1_attrs", 1, Kind::Counter),
        ("counter_add_3_attrs", 3, Kind::Counter),
        ("counter_add_8_attrs", 8, Kind::Counter),
        ("histogram_record_3_attrs", 3, Kind::Histogram),
        ("counter_add_bound", 3, Kind::BoundCounter),
        ("histogram_record_bound", 3, Kind::BoundHistogram),
    ];
    println!("ns per call, {rounds} alternating turns of {TURN} calls; fastest turn, median turn");
    println!("{:<26} {:>16} {:>16} {:>22}", "case", "edgemetrics", "opentelemetry_sdk", "ratio of the medians");
    for (name, n, kind) in cases {
        if !name.contains(filter.as_str()) {
            continue;
        }
        let mut sides = [ours(n, kind), theirs(n, kind)];
        let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for side in &mut sides {
            side(TURN); // warm-up
        }
        for round in 0..rounds {
            for k in 0..2 {
                // Alternate which side goes first.
                let k = (k + round) % 2;
                let start = Instant::now();
                sides[k](TURN);
                times[k].push(start.elapsed().as_nanos() as f64 / TURN as f64);
            }
        }
        let [a, b] = times.map(|mut t| {
            t.sort_by(f64::total_cmp);
            (t[0], t[t.len() / 2])
        });
        println!("{name:<26} {:>7.1} {:>8.1} {:>7.1} {:>8.1} {:>22.2}", a.0, a.1, b.0, b.1, a.1 / b.1);
    }
}
