//! Boundary-side cost of attribute sets under callgrind (instruction counts are stable on a loaded
//! machine where timings are not): what `Core::bind` / `Core::record` spend on a first-seen set
//! (decode the attribute key, create the series) versus a set that already has its series.
//!
//! ```text
//! cargo build --release -p edgemetrics-wasm --example bind_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/bind_cost fresh 0
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/bind_cost fresh 20000
//! ```
//!
//! The difference of the two totals divided by the count is the cost of one call. Modes: `fresh`
//! (bind of a set never seen), `existing` (record with the key of a set that has its series),
//! `collect` (record of a set never seen, then one `prepare` of them all: what a new series costs
//! from its first value to its first encoded point, wherever its attributes are decoded).

use edgemetrics_wasm::Core;
use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| String::from("fresh"));
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let mut core = Core::new();
    let options = "8:endpoints16:http://127.0.0.118:limits.cardinalityi100000;16:limits.maxSeriesi100000;";
    assert_eq!(core.configure(options), 0, "configure refused the options");
    let id = core.instrument(0, "x", "", "", false, &[]) as u32;
    let keys: Vec<String> = (0..20_000)
        .map(|i| {
            let route = format!("/r{i}");
            format!("5:routes{}:{}6:methods3:GET6:statusi200;", route.len(), route)
        })
        .collect();
    if mode == "existing" {
        for k in &keys {
            core.record(id, 1.0, k);
        }
    }
    let mut sink = 0i64;
    for k in keys.iter().take(n) {
        match mode.as_str() {
            "fresh" => sink += core.bind(id, k) as i64,
            _ => core.record(id, 1.0, k),
        }
    }
    if mode == "collect" {
        sink += core.prepare(1_700_000_000_000.0) as i64;
    }
    black_box(sink);
}
