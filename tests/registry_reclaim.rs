//! Why this file exists: the host attribute caches (the JS package) bind attribute sets and must be
//! able to release them, and in delta temporality the cardinality limit must count only series
//! that hold data in the current window. These tests pin both behaviours of the registry.

use edgemetrics::{Config, InstrumentKind, InstrumentOptions, Registry, Temporality};

fn reg(t: Temporality) -> Registry {
    Registry::new(Config::new("svc").temporality(t).self_metrics(false))
}

fn overflowed(batch: &edgemetrics::Batch) -> u64 {
    batch.stats.overflowed
}

#[test]
fn delta_windows_of_fresh_sets_never_overflow() {
    let mut r = reg(Temporality::Delta);
    let c = r.instrument("c", InstrumentKind::Counter, &InstrumentOptions::default()).unwrap();
    let mut total = 0u64;
    for inv in 0..20u32 {
        r.begin(1_000 + inv as u64);
        for i in 0..1000u32 {
            let v = (inv * 1000 + i) as i64;
            r.record(c, 1.0, &[("id", v.into())]);
        }
        let b = r.collect(2_000 + inv as u64);
        total += overflowed(&b);
        assert_eq!(b.point_count(), 1000, "invocation {inv}");
    }
    assert_eq!(total, 0);
}

#[test]
fn bound_sets_hold_their_slot_until_unbound() {
    let mut r = Registry::new(
        Config::new("svc").self_metrics(false).limits(edgemetrics::Limits { cardinality: 4, ..Default::default() }),
    );
    let c = r.instrument("c", InstrumentKind::Counter, &InstrumentOptions::default()).unwrap();
    let handles: Vec<_> = (0..3i64).map(|i| r.bind(c, &[("k", i.into())]).unwrap()).collect();
    let _ = r.collect(10);
    // Three bound, idle series fill the limit (4 with the overflow series): a new set overflows.
    r.record(c, 1.0, &[("k", 99i64.into())]);
    assert_eq!(r.collect(20).stats.overflowed, 1);
    for h in handles {
        r.unbind(h);
    }
    // Unbound and idle: their slots are reclaimed for new sets within the window.
    r.record(c, 1.0, &[("k", 100i64.into())]);
    r.record(c, 1.0, &[("k", 101i64.into())]);
    let b = r.collect(30);
    assert_eq!(b.stats.overflowed, 0);
    assert_eq!(b.point_count(), 2);
}

#[test]
fn a_window_really_over_the_limit_still_overflows_exactly() {
    let mut r = Registry::new(
        Config::new("svc").self_metrics(false).limits(edgemetrics::Limits { cardinality: 10, ..Default::default() }),
    );
    let c = r.instrument("c", InstrumentKind::Counter, &InstrumentOptions::default()).unwrap();
    for i in 0..100i64 {
        r.record(c, 1.0, &[("k", i.into())]);
    }
    let b = r.collect(10);
    // 9 series + the overflow series; 91 values overflowed, none lost.
    assert_eq!(b.stats.overflowed, 91);
    assert_eq!(b.point_count(), 10);
}

#[test]
fn cumulative_keeps_every_series() {
    let mut r = Registry::new(
        Config::new("svc")
            .temporality(Temporality::Cumulative)
            .limits(edgemetrics::Limits { cardinality: 4, ..Default::default() }),
    );
    let c = r.instrument("c", InstrumentKind::Counter, &InstrumentOptions::default()).unwrap();
    for i in 0..3i64 {
        r.record(c, 1.0, &[("k", i.into())]);
    }
    let _ = r.collect(10);
    r.record(c, 1.0, &[("k", 7i64.into())]);
    assert_eq!(r.collect(20).stats.overflowed, 1, "cumulative series hold data forever");
}

#[test]
fn resource_attr_set_after_creation_and_dropped_attributes_counted() {
    let mut r = reg(Temporality::Delta);
    assert!(!r.has_resource_attr("service.instance.id"));
    r.set_resource_attr("service.instance.id", "abc");
    assert!(r.has_resource_attr("service.instance.id"));
    r.count_dropped_attributes(5);
    let b = r.collect(10);
    assert_eq!(b.stats.attributes_dropped, 5);
    assert!(b.resource.iter().any(|kv| kv.key == "service.instance.id"));
}
