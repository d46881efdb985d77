//! Why this file exists: the README ("Concepts", Attributes) promises the default attribute limits
//! of the Rust registry — 32 attributes per set with the extra ones dropped in key order, keys up to
//! 128 bytes (a longer key drops its attribute), string values up to 1024 bytes truncated at a
//! UTF-8 boundary, a repeated key keeping its last value — and that every drop and truncation is
//! counted. The unit tests of the canonical key check the mechanism with tiny limits; these check
//! the documented defaults through the public API (record and bind), with hostile input at each
//! boundary.

use edgemetrics::{AttrValue, Batch, Config, InstrumentOptions, KeyValue, MetricData, Registry, Value};

/// The attributes of the only point of counter `name` in `b`.
fn only_point(b: &Batch, name: &str) -> Vec<KeyValue> {
    let MetricData::Sum { points, .. } = &b.metric(name).unwrap().data else { panic!("{name} is not a sum") };
    assert_eq!(points.len(), 1, "{name}: one series expected, got {points:?}");
    points[0].attributes.to_vec()
}

fn keys(kvs: &[KeyValue]) -> Vec<String> {
    kvs.iter().map(|kv| kv.key.clone()).collect()
}

/// `n` attributes `k00`, `k01`, ... given in descending key order.
fn descending(n: usize) -> Vec<String> {
    (0..n).rev().map(|i| format!("k{i:02}")).collect()
}

#[test]
fn the_first_32_attributes_in_key_order_are_kept_and_the_rest_counted_as_dropped() {
    let mut reg = Registry::new(Config::new("svc"));
    let c = reg.counter("c", InstrumentOptions::default()).unwrap();
    let names = descending(40);
    let attrs: Vec<(&str, AttrValue<'_>)> = names.iter().map(|k| (k.as_str(), 1i64.into())).collect();
    reg.record(c, 1.0, &attrs);
    let b = reg.collect(10);
    let want: Vec<String> = (0..32).map(|i| format!("k{i:02}")).collect();
    assert_eq!(keys(&only_point(&b, "c")), want, "given in descending order, the 32 smallest keys are kept");
    assert_eq!(b.stats.attributes_dropped, 8);
}

/// Past 64 attributes in one call the rule changes: the registry sorts at most 64 pairs per call on
/// the stack (`MAX_ATTRS_PER_CALL`), so the pairs given after the 64th are dropped first, whatever
/// their keys, and the 32 kept are the smallest keys among the first 64 given (the README says so
/// since this test found it; the JS package's bindings pick the 64 smallest keys instead, see
/// js/test/hardening.test.mjs).
#[test]
fn past_64_attributes_in_one_call_the_pairs_given_after_the_64th_are_dropped_first() {
    let mut reg = Registry::new(Config::new("svc"));
    let c = reg.counter("c", InstrumentOptions::default()).unwrap();
    let names = descending(70); // k69, k68, ..., k00: the 6 smallest keys are given last
    let attrs: Vec<(&str, AttrValue<'_>)> = names.iter().map(|k| (k.as_str(), 1i64.into())).collect();
    reg.record(c, 1.0, &attrs);
    let b = reg.collect(10);
    let want: Vec<String> = (6..38).map(|i| format!("k{i:02}")).collect();
    assert_eq!(keys(&only_point(&b, "c")), want, "k00..k05, given after the 64th pair, are not kept");
    assert_eq!(b.stats.attributes_dropped, 38, "every one of the 38 dropped attributes is counted");

    // Within 64, the order given does not matter.
    let mut ascending = attrs[..64].to_vec();
    ascending.reverse();
    reg.record(c, 1.0, &ascending);
    reg.record(c, 1.0, &attrs[..64]);
    let b = reg.collect(20);
    assert_eq!(keys(&only_point(&b, "c")), want);
}

#[test]
fn keys_up_to_128_bytes_are_kept_longer_ones_drop_their_attribute() {
    let mut reg = Registry::new(Config::new("svc"));
    let c = reg.counter("c", InstrumentOptions::default()).unwrap();
    // 128 bytes made of 2-byte characters, and 129 bytes (127 ASCII + one 2-byte character).
    let at_limit = "é".repeat(64);
    let over = format!("{}é", "a".repeat(127));
    assert_eq!((at_limit.len(), over.len()), (128, 129));
    reg.record(c, 1.0, &[(at_limit.as_str(), "kept".into()), (over.as_str(), "lost".into()), ("z", 1i64.into())]);
    let b = reg.collect(10);
    // Keys sort by bytes: "z" (0x7a) before "é" (0xc3 0xa9).
    assert_eq!(keys(&only_point(&b, "c")), ["z".to_string(), at_limit.clone()]);
    assert_eq!((b.stats.attributes_dropped, b.stats.attributes_truncated), (1, 0));

    // Through bind, the same rule and the same count; every recording counts what it loses.
    let h = reg.bind(c, &[(over.as_str(), "lost".into())]).unwrap();
    reg.record_bound(h, 1.0);
    reg.record(c, 1.0, &[(over.as_str(), "lost".into())]);
    let b = reg.collect(20);
    assert_eq!(only_point(&b, "c"), Vec::<KeyValue>::new(), "the set without its attribute is the empty set");
    assert_eq!(b.stats.attributes_dropped, 2);
}

#[test]
fn string_values_over_1024_bytes_are_truncated_at_a_utf8_boundary_and_counted() {
    let mut reg = Registry::new(Config::new("svc"));
    let c = reg.counter("c", InstrumentOptions::default()).unwrap();
    // Exactly 1024 bytes: kept whole, nothing counted.
    let exact = "a".repeat(1024);
    reg.record(c, 1.0, &[("v", exact.as_str().into())]);
    let b = reg.collect(10);
    assert_eq!(only_point(&b, "c"), [KeyValue::new("v", exact.as_str())]);
    assert_eq!(b.stats.attributes_truncated, 0);

    // 1022 ASCII bytes, then a 4-byte character across the limit: cut before it (1022 bytes, never
    // half a character), counted once per recording; both recordings land in the one series.
    let across = format!("{}🦀tail", "a".repeat(1022));
    reg.record(c, 1.0, &[("v", across.as_str().into())]);
    reg.record(c, 2.0, &[("v", across.as_str().into())]);
    let b = reg.collect(20);
    let kv = only_point(&b, "c");
    let Value::Str(s) = &kv[0].value else { panic!("{kv:?}") };
    assert_eq!(s.len(), 1022);
    assert_eq!(s, &"a".repeat(1022));
    assert_eq!(b.stats.attributes_truncated, 2);
    let MetricData::Sum { points, .. } = &b.metric("c").unwrap().data else { panic!() };
    assert_eq!(points[0].value, 3.0);

    // Truncation that makes two values equal merges them into one series (identity after limits).
    let other = format!("{}🦀other", "a".repeat(1022));
    reg.record(c, 1.0, &[("v", across.as_str().into())]);
    reg.record(c, 1.0, &[("v", other.as_str().into())]);
    let b = reg.collect(30);
    let MetricData::Sum { points, .. } = &b.metric("c").unwrap().data else { panic!() };
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].value, 2.0);
}

#[test]
fn a_repeated_key_keeps_its_last_value_and_order_does_not_matter() {
    let mut reg = Registry::new(Config::new("svc").self_metrics(false));
    let c = reg.counter("c", InstrumentOptions::default()).unwrap();
    reg.record(c, 1.0, &[("b", 1i64.into()), ("a", "first".into()), ("a", "last".into())]);
    reg.record(c, 2.0, &[("a", "last".into()), ("b", 1i64.into())]);
    let b = reg.collect(10);
    assert_eq!(only_point(&b, "c"), [KeyValue::new("a", "last"), KeyValue::new("b", 1i64)]);
    let MetricData::Sum { points, .. } = &b.metric("c").unwrap().data else { panic!() };
    assert_eq!(points[0].value, 3.0);
    assert_eq!(b.stats.attributes_dropped, 1, "the overwritten duplicate counts as dropped");
}
