//! The smallest useful wasm module over the core: one registry, a counter and a histogram, record
//! with attributes and through a bound handle, collect. It exists to measure what the core alone
//! costs in a `.wasm` (no encoder, no wasm-bindgen):
//!
//! ```text
//! cargo build --release --target wasm32-unknown-unknown -p edgemetrics-wasm-minimal
//! gzip -9 -c target/wasm32-unknown-unknown/release/edgemetrics_wasm_minimal.wasm | wc -c
//! ```
//! (`tests/size.sh` runs this and prints the figure.)
//!
//! On wasm32 it is `no_std` with `dlmalloc` as the allocator and a panic handler that traps
//! without formatting a message, so the figure is the core's own code plus an allocator, not
//! std's panic and formatting machinery.

#![cfg_attr(target_arch = "wasm32", no_std)]

use core::cell::RefCell;
use edgemetrics::{Bound, Config, InstrumentId, InstrumentOptions, Registry};

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// Module state. wasm32-unknown-unknown is single-threaded, so a plain cell is enough.
struct State(RefCell<Option<(Registry, Bound)>>);
// SAFETY: the module runs on one thread (no wasm threads are enabled for this target).
unsafe impl Sync for State {}
static STATE: State = State(RefCell::new(None));

fn with<R>(f: impl FnOnce(&mut Option<(Registry, Bound)>) -> R) -> R {
    f(&mut STATE.0.borrow_mut())
}

/// Creates the registry and instruments; returns the number of instruments.
#[no_mangle]
pub extern "C" fn em_init() -> u32 {
    with(|r| {
        let mut reg = Registry::new(Config::new("wasm"));
        let c = reg.counter("requests", InstrumentOptions::default()).ok();
        let h = reg.histogram("latency", InstrumentOptions::unit("ms")).ok();
        let bound = c.and_then(|c| reg.bind(c, &[("route", "/".into())]));
        let n = reg.instrument_count() as u32;
        if let (Some(b), Some(_)) = (bound, h) {
            *r = Some((reg, b));
        }
        n
    })
}

/// Records into the counter (with route and status attributes) and `v` into the histogram.
#[no_mangle]
pub extern "C" fn em_record(status: i32, v: f64) {
    with(|r| {
        if let Some((reg, _)) = r.as_mut() {
            let attrs = [("route", "/api".into()), ("status", status.into())];
            reg.record(InstrumentId::from_index(0), 1.0, &attrs);
            reg.record(InstrumentId::from_index(1), v, &attrs);
        }
    })
}

/// Records through the bound handle.
#[no_mangle]
pub extern "C" fn em_record_bound(v: f64) {
    with(|r| {
        if let Some((reg, b)) = r.as_mut() {
            reg.record_bound(*b, v);
        }
    })
}

/// Collects; returns the number of points.
#[no_mangle]
pub extern "C" fn em_collect(now: u64) -> u32 {
    with(|r| r.as_mut().map(|(reg, _)| reg.collect(now).point_count() as u32).unwrap_or(0))
}
