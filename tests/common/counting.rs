//! Why this file exists: tests that bound memory (the compact decoder under hostile lengths, the
//! registry at its limits) need the heap a piece of code holds and its peak. A counting global
//! allocator, per thread so that parallel tests do not disturb each other. A test binary installs
//! it with `#[global_allocator] static ALLOC: counting::Counting = counting::Counting;`.
#![allow(dead_code)]

use std::cell::Cell;

pub struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note(delta_add: usize, delta_sub: usize) {
    // `try_with`: no panic during thread teardown, when the slots are gone.
    let _ = LIVE.try_with(|l| {
        let v = l.get().saturating_add(delta_add).saturating_sub(delta_sub);
        l.set(v);
        let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
    });
}

unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        note(layout.size(), 0);
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        note(0, layout.size());
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        // Counted as allocate-new then free-old: the worst case of a moving realloc.
        note(new, 0);
        note(0, layout.size());
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
}

/// Bytes live on this thread now.
pub fn live() -> usize {
    LIVE.with(Cell::get)
}

/// Runs `f` and returns its result, the heap it left held and the heap peak while it ran (both
/// above what was live before), on this thread.
pub fn held_and_peak_of<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let base = live();
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, live().saturating_sub(base), PEAK.with(Cell::get) - base)
}

/// Heap peak (above what was live before) while `f` runs on this thread.
pub fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let (out, _, peak) = held_and_peak_of(f);
    (out, peak)
}
