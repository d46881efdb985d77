//! Record-path cost under callgrind: instruction counts are stable on a loaded machine where
//! timings are not, so a refactor of the registry can be checked against the record path it must
//! not slow down.
//!
//! ```text
//! cargo build --profile bench --example record_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/record_cost attrs 0
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/record_cost attrs 100000
//! ```
//!
//! The difference of the two totals (`Collected`) divided by the count is the cost of one record.
//! Modes: `attrs` (counter, three attributes, 1000 existing sets cycling), `bound` (counter through
//! 1000 bound handles), `hist` (histogram, three attributes), `collect` (per round: 1000 records
//! then one delta collect of 1000 series), `exphist` (exponential histogram, three attributes),
//! `hist-bound` and `exphist-bound` (the two histograms through 1000 bound handles: the
//! aggregator's own cost without the attribute work). Histogram values cycle through 0..700.

use edgemetrics::exphist::ExpConfig;
use edgemetrics::{AttrValue, Config, InstrumentOptions, Registry};
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

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| String::from("attrs"));
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);

    // The same setup for every mode and count, so that it cancels out in the difference.
    let mut reg = Registry::new(Config::new("cost"));
    let ctr = reg.counter("requests", InstrumentOptions::default()).unwrap();
    let hist = reg.histogram("latency", InstrumentOptions::unit("ms")).unwrap();
    let exp = reg.histogram("latency.exp", InstrumentOptions::unit("ms").exponential(ExpConfig::default())).unwrap();
    let sets: Vec<_> = (0..1000).map(attrs).collect();
    for s in &sets {
        reg.record(ctr, 1.0, s);
        reg.record(hist, 1.0, s);
        reg.record(exp, 1.0, s);
        reg.record(exp, 699.0, s);
    }
    let handles: Vec<_> = sets.iter().map(|s| reg.bind(ctr, s).unwrap()).collect();
    let hist_handles: Vec<_> = sets.iter().map(|s| reg.bind(hist, s).unwrap()).collect();
    let exp_handles: Vec<_> = sets.iter().map(|s| reg.bind(exp, s).unwrap()).collect();

    let mut points = 0usize;
    match mode.as_str() {
        "attrs" => {
            for i in 0..n {
                reg.record(ctr, black_box(1.0), black_box(&sets[i % 1000]));
            }
        }
        "bound" => {
            for i in 0..n {
                reg.record_bound(black_box(handles[i % 1000]), black_box(1.0));
            }
        }
        "hist" => {
            for i in 0..n {
                reg.record(hist, black_box((i % 700) as f64), black_box(&sets[i % 1000]));
            }
        }
        "exphist" => {
            for i in 0..n {
                reg.record(exp, black_box((i % 700) as f64), black_box(&sets[i % 1000]));
            }
        }
        "hist-bound" => {
            for i in 0..n {
                reg.record_bound(black_box(hist_handles[i % 1000]), black_box((i % 700) as f64));
            }
        }
        "exphist-bound" => {
            for i in 0..n {
                reg.record_bound(black_box(exp_handles[i % 1000]), black_box((i % 700) as f64));
            }
        }
        "collect" => {
            for round in 0..n {
                for s in &sets {
                    reg.record(ctr, black_box(1.0), black_box(s));
                }
                points += reg.collect(1 + round as u64).point_count();
            }
        }
        other => {
            eprintln!("unknown mode {other:?}: attrs, bound, hist, exphist, hist-bound, exphist-bound or collect");
            std::process::exit(2);
        }
    }
    points += reg.collect(u64::MAX / 2).point_count();
    println!("{mode} {n}: {points} points");
}
