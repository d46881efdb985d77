//! Why this file exists: the README ("Concepts", Attributes) promises the default attribute limits
//! of the Rust registry — 32 attributes per set with the extra ones dropped in key order, keys up to
//! 128 bytes (a longer key drops its attribute), string values up to 1024 bytes truncated at a
//! UTF-8 boundary, a repeated key keeping its last value — and that every drop and truncation is
//! counted. The unit tests of the canonical key check the mechanism with tiny limits; these check
//! the documented defaults through the public API (record and bind), with hostile input at each
//! boundary.

use edgemetrics::{AttrValue, Batch, Config, InstrumentOptions, KeyValue, MetricData, Registry, Value};
use proptest::prelude::*;

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

/// The kept attributes and the drop count of one recording of `attrs` into a fresh registry.
fn kept(attrs: &[(&str, AttrValue<'_>)]) -> (Vec<KeyValue>, u64) {
    let mut reg = Registry::new(Config::new("svc"));
    let c = reg.counter("c", InstrumentOptions::default()).unwrap();
    reg.record(c, 1.0, attrs);
    let b = reg.collect(10);
    (only_point(&b, "c"), b.stats.attributes_dropped)
}

/// A deterministic shuffle (xorshift Fisher-Yates), so a failure reproduces.
fn shuffled<T: Clone>(v: &[T], mut seed: u64) -> Vec<T> {
    let mut v = v.to_vec();
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    v
}

/// Past 64 pairs in one call the rule is the same: the registry sorts at most 64 pairs per call on
/// the stack (`MAX_ATTRS_PER_CALL`), and a longer call is first reduced to its 64 smallest keys,
/// so the 32 kept are the 32 smallest keys whatever the number and order of the pairs, and every
/// pair not kept is counted once (the JS package's bindings reduce a long key the same way before
/// the core sees it: `decode_many` in bindings/src/lib.rs).
#[test]
fn past_64_attributes_in_one_call_the_smallest_keys_are_kept_whatever_the_order() {
    let want: Vec<String> = (0..32).map(|i| format!("k{i:02}")).collect();
    let names = descending(70); // k69, k68, ..., k00: the 6 smallest keys are given last
    let attrs: Vec<(&str, AttrValue<'_>)> = names.iter().map(|k| (k.as_str(), 1i64.into())).collect();
    let (kvs, dropped) = kept(&attrs);
    assert_eq!(keys(&kvs), want, "given in descending order, k00..k05 (after the 64th pair) are kept");
    assert_eq!(dropped, 38, "every one of the 38 dropped attributes is counted");

    let mut ascending = attrs.clone();
    ascending.reverse();
    assert_eq!(kept(&ascending), (kvs.clone(), 38), "ascending");
    for seed in [1u64, 7, 0x9e37_79b9_7f4a_7c15] {
        assert_eq!(kept(&shuffled(&attrs, seed)), (kvs.clone(), 38), "shuffled (seed {seed})");
    }

    // Hostile input: 10,000 distinct keys in descending order, on a bounded working set.
    let names: Vec<String> = (0..10_000).rev().map(|i| format!("k{i:05}")).collect();
    let attrs: Vec<(&str, AttrValue<'_>)> = names.iter().map(|k| (k.as_str(), 1i64.into())).collect();
    let want: Vec<String> = (0..32).map(|i| format!("k{i:05}")).collect();
    let (kvs, dropped) = kept(&attrs);
    assert_eq!(keys(&kvs), want);
    assert_eq!(dropped, 10_000 - 32);
    assert_eq!(kept(&shuffled(&attrs, 3)), (kvs, 10_000 - 32), "10,000 pairs shuffled");
}

/// A repeated key keeps its last value wherever its pairs sit relative to the 64th position, and
/// each earlier pair of it is counted as dropped once.
#[test]
fn past_64_attributes_a_repeated_key_keeps_its_last_value_and_every_pair_not_kept_is_counted() {
    let names = descending(70);
    let mut attrs: Vec<(&str, AttrValue<'_>)> = names.iter().map(|k| (k.as_str(), 1i64.into())).collect();
    // k00 given again at positions 71 and 72 (its first pair is the 70th), k69 (the largest, first
    // given) again at the end, and k03 again once before the 64th position.
    attrs.push(("k00", 2i64.into()));
    attrs.push(("k00", 3i64.into()));
    attrs.insert(10, ("k03", 9i64.into()));
    attrs.push(("k69", 4i64.into()));
    assert_eq!(attrs.len(), 74);
    let (kvs, dropped) = kept(&attrs);
    assert_eq!(keys(&kvs), (0..32).map(|i| format!("k{i:02}")).collect::<Vec<_>>());
    assert_eq!(kvs[0], KeyValue::new("k00", 3i64), "the last of the three k00 pairs");
    assert_eq!(kvs[3], KeyValue::new("k03", 1i64), "k03's last pair is its pair of the descending run");
    assert_eq!(dropped, 74 - 32, "every pair not kept counted once: 4 repeats and 38 keys over the limit");
    let mut reversed = attrs.clone();
    reversed.reverse();
    let (kvs, dropped) = kept(&reversed);
    assert_eq!(kvs[0], KeyValue::new("k00", 1i64), "reversed: k00's pair of the descending run is last");
    assert_eq!(kvs[3], KeyValue::new("k03", 9i64));
    assert_eq!(dropped, 74 - 32);

    // Invalid keys (empty, over 128 bytes) take no place among the smallest keys and are counted.
    let long = "a".repeat(129);
    let mut attrs: Vec<(&str, AttrValue<'_>)> = vec![("", 1i64.into()); 40];
    attrs.extend(std::iter::repeat_n((long.as_str(), 1i64.into()), 40));
    attrs.extend(names.iter().map(|k| (k.as_str(), 1i64.into())));
    let (kvs, dropped) = kept(&attrs);
    assert_eq!(keys(&kvs), (0..32).map(|i| format!("k{i:02}")).collect::<Vec<_>>());
    assert_eq!(dropped, 150 - 32);
}

/// 201 distinct keys: the empty key (dropped) and `a0`..`a9`, `b0`..., `t9` (sorting as numbered).
fn all_keys() -> Vec<String> {
    let mut v = vec![String::new()];
    v.extend((0..200).map(|i| format!("{}{}", (b'a' + (i / 10) as u8) as char, i % 10)));
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any permutation of the same pairs (distinct keys, so that "the last value" is the same
    /// value) keeps the same set and counts the same drops, below, at and past 64 pairs.
    #[test]
    fn any_permutation_keeps_the_same_set_and_counts_the_same_drops(
        keys in proptest::sample::subsequence(all_keys(), 0..150),
        seed in any::<u64>(),
    ) {
        let pairs: Vec<(&str, AttrValue<'_>)> =
            keys.iter().enumerate().map(|(i, k)| (k.as_str(), (i as i64).into())).collect();
        let (kvs, dropped) = kept(&pairs);
        prop_assert_eq!(kvs.len(), pairs.iter().filter(|p| !p.0.is_empty()).count().min(32));
        prop_assert_eq!(dropped as usize, pairs.len() - kvs.len());
        let mut rev = pairs.clone();
        rev.reverse();
        prop_assert_eq!(kept(&rev), (kvs.clone(), dropped));
        prop_assert_eq!(kept(&shuffled(&pairs, seed | 1)), (kvs, dropped));
    }

    /// With repeated keys, a permutation that keeps each key's last pair last gives the same set
    /// and the same drop count: the pairs are reordered by key blocks, each block in its order.
    #[test]
    fn repeated_keys_keep_their_last_value_whatever_the_order_of_the_keys(
        pairs in proptest::collection::vec(("[a-e]{1,3}", 0i64..4), 0..200),
        seed in any::<u64>(),
    ) {
        let given: Vec<(&str, AttrValue<'_>)> = pairs.iter().map(|(k, v)| (k.as_str(), (*v).into())).collect();
        let (kvs, dropped) = kept(&given);
        // The expected set: last value per key, the 32 smallest keys.
        let mut last = std::collections::BTreeMap::new();
        for (k, v) in &pairs {
            last.insert(k.clone(), *v);
        }
        let want: Vec<KeyValue> = last.iter().take(32).map(|(k, v)| KeyValue::new(k, *v)).collect();
        prop_assert_eq!(&kvs, &want);
        prop_assert_eq!(dropped as usize, pairs.len() - want.len());
        // Interleave the pairs of different keys differently, keeping each key's pairs in order.
        let order: Vec<&String> = shuffled(&last.keys().collect::<Vec<_>>(), seed | 1);
        let mut queues: Vec<Vec<(&str, AttrValue<'_>)>> = order
            .iter()
            .map(|k| given.iter().filter(|p| p.0 == k.as_str()).copied().collect())
            .collect();
        let mut mixed = Vec::new();
        let mut s = seed | 1;
        while queues.iter().any(|q| !q.is_empty()) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let live: Vec<usize> = (0..queues.len()).filter(|&i| !queues[i].is_empty()).collect();
            let q = &mut queues[live[(s % live.len() as u64) as usize]];
            mixed.push(q.remove(0));
        }
        prop_assert_eq!(kept(&mixed), (kvs, dropped));
    }
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
