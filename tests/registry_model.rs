//! Property tests: random operation sequences against a plain reference model.
//!
//! The model is deliberately naive (a `BTreeMap` from (instrument, sorted attributes) to state,
//! limits applied by counting) so that it is obviously right; the registry must agree with it
//! exactly — counts, sums (bitwise: the same additions happen in the same order per series),
//! min/max, bucket counts, overflow totals, rejection counters — for both temporalities and over
//! several collect cycles.

use std::collections::{BTreeMap, BTreeSet};

use edgemetrics::{
    AttrValue, Batch, Bound, Config, InstrumentId, InstrumentKind, InstrumentOptions, Limits, MetricData, Registry,
    Temporality, Value,
};
use proptest::prelude::*;

const KINDS: [InstrumentKind; 4] =
    [InstrumentKind::Counter, InstrumentKind::UpDownCounter, InstrumentKind::Gauge, InstrumentKind::Histogram];
const BOUNDS: [f64; 4] = [0.0, 1.0, 10.0, 100.0];
const VALUES: [f64; 12] =
    [0.0, 1.0, 2.5, 10.0, 100.0, 1e9, -1.0, -0.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.1];
const ROUTES: [&str; 4] = ["/a", "/b", "/c", "/d"];

#[derive(Debug, Clone)]
enum Op {
    /// instrument, value index, attribute-set seed
    Record(usize, usize, u8),
    /// instrument, attribute-set seed, value index (bind then record through the handle)
    Bound(usize, u8, usize),
    /// record again through a handle bound earlier (by position)
    Reuse(usize, usize),
    Begin(u64),
    Collect(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..4usize, 0..VALUES.len(), any::<u8>()).prop_map(|(i, v, a)| Op::Record(i, v, a)),
        1 => (0..4usize, any::<u8>(), 0..VALUES.len()).prop_map(|(i, a, v)| Op::Bound(i, a, v)),
        2 => (0..8usize, 0..VALUES.len()).prop_map(|(h, v)| Op::Reuse(h, v)),
        1 => (0..1000u64).prop_map(Op::Begin),
        1 => (0..1000u64).prop_map(Op::Collect),
    ]
}

/// Builds an attribute list from a seed: routes × statuses, sometimes shuffled order,
/// sometimes with a duplicate key whose first value must lose, sometimes no attributes at all.
fn attrs(seed: u8) -> Vec<(&'static str, AttrValue<'static>)> {
    if seed >= 0xf0 {
        return Vec::new();
    }
    let route = ROUTES[(seed & 3) as usize];
    let status = 200 + ((seed >> 2) & 3) as i64;
    let mut v: Vec<(&'static str, AttrValue<'static>)> = vec![("route", route.into()), ("status", status.into())];
    if seed & 0x10 != 0 {
        v.reverse();
    }
    if seed & 0x20 != 0 {
        v.insert(0, ("route", "/overwritten".into()));
    }
    if seed & 0x40 != 0 {
        v.push(("ok", AttrValue::Bool(true)));
    }
    v
}

type Key = Vec<(String, String)>;

fn model_key(a: &[(&str, AttrValue<'_>)]) -> Key {
    let mut m: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in a {
        m.insert(k.to_string(), format!("{v:?}"));
    }
    m.into_iter().collect()
}

fn overflow_key() -> Key {
    vec![("otel.metric.overflow".to_string(), format!("{:?}", AttrValue::Bool(true)))]
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    Sum(f64),
    Gauge(f64),
    Hist { count: u64, sum: f64, min: f64, max: f64, buckets: Vec<u64> },
}

#[derive(Debug, Clone)]
struct MSeries {
    state: State,
    touched: bool,
    has_data: bool,
    pinned: bool,
}

struct Model {
    delta: bool,
    cardinality: usize,
    series: BTreeMap<(usize, Key), MSeries>,
    rejected_non_finite: u64,
    rejected_negative: u64,
    overflowed: u64,
    /// Delta: idle series were already reclaimed in this window.
    swept: bool,
}

fn fresh(kind: InstrumentKind) -> State {
    match kind {
        InstrumentKind::Counter | InstrumentKind::UpDownCounter => State::Sum(0.0),
        InstrumentKind::Gauge => State::Gauge(0.0),
        InstrumentKind::Histogram => {
            State::Hist { count: 0, sum: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY, buckets: vec![0; 5] }
        }
    }
}

impl Model {
    fn count(&self, inst: usize) -> usize {
        self.series.keys().filter(|(i, k)| *i == inst && *k != overflow_key()).count()
    }

    /// Returns the key the value lands in (the overflow key when the limit is reached).
    fn resolve(&mut self, inst: usize, key: Key) -> Key {
        if self.series.contains_key(&(inst, key.clone())) {
            return key;
        }
        if self.count(inst) + 1 >= self.cardinality && self.delta && !self.swept {
            // Delta limits count series holding data in the window: idle, unbound series are
            // reclaimed (once per window) before a new set overflows.
            self.swept = true;
            self.series.retain(|_, s| s.touched || s.pinned);
        }
        if self.count(inst) + 1 >= self.cardinality {
            self.overflowed += 1;
            let ok = overflow_key();
            self.series.entry((inst, ok.clone())).or_insert(MSeries {
                state: fresh(KINDS[inst]),
                touched: false,
                has_data: false,
                pinned: false,
            });
            return ok;
        }
        self.series.insert(
            (inst, key.clone()),
            MSeries { state: fresh(KINDS[inst]), touched: false, has_data: false, pinned: false },
        );
        key
    }

    fn accept(&mut self, inst: usize, v: f64) -> bool {
        if !v.is_finite() {
            self.rejected_non_finite += 1;
            return false;
        }
        if v < 0.0 && matches!(KINDS[inst], InstrumentKind::Counter | InstrumentKind::Histogram) {
            self.rejected_negative += 1;
            return false;
        }
        true
    }

    fn apply(&mut self, inst: usize, key: &Key, v: f64) {
        let s = self.series.get_mut(&(inst, key.clone())).unwrap();
        s.touched = true;
        s.has_data = true;
        match &mut s.state {
            State::Sum(x) => *x += v,
            State::Gauge(x) => *x = v,
            State::Hist { count, sum, min, max, buckets } => {
                *count += 1;
                *sum += v;
                *min = min.min(v);
                *max = max.max(v);
                let i = BOUNDS.iter().position(|b| v <= *b).unwrap_or(BOUNDS.len());
                buckets[i] += 1;
            }
        }
    }

    /// Expected points of a collect, then the state transition.
    fn collect(&mut self) -> BTreeMap<(usize, Key), State> {
        let mut out = BTreeMap::new();
        let mut evict = Vec::new();
        for (k, s) in self.series.iter_mut() {
            let emit = if self.delta { s.touched } else { s.has_data };
            if emit {
                out.insert(k.clone(), s.state.clone());
            }
            if self.delta {
                if s.touched {
                    s.touched = false;
                    s.state = fresh(KINDS[k.0]);
                } else if !s.pinned {
                    evict.push(k.clone());
                }
            }
        }
        for k in evict {
            self.series.remove(&k);
        }
        self.swept = false;
        out
    }
}

fn batch_points(b: &Batch) -> BTreeMap<(usize, Key), State> {
    let mut out = BTreeMap::new();
    for m in &b.metrics {
        let Some(inst) = (0..4).find(|i| *m.name == *format!("m{i}")) else { continue };
        let key_of = |attrs: &[edgemetrics::KeyValue]| -> Key {
            attrs.iter().map(|kv| (kv.key.clone(), format!("{:?}", kv.value.as_ref()))).collect()
        };
        match &m.data {
            MetricData::Sum { points, .. } => {
                for p in points {
                    out.insert((inst, key_of(&p.attributes)), State::Sum(p.value));
                }
            }
            MetricData::Gauge { points } => {
                for p in points {
                    out.insert((inst, key_of(&p.attributes)), State::Gauge(p.value));
                }
            }
            MetricData::Histogram { points, bounds, .. } => {
                assert_eq!(&bounds[..], &BOUNDS[..]);
                for p in points {
                    assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
                    out.insert(
                        (inst, key_of(&p.attributes)),
                        State::Hist {
                            count: p.count,
                            sum: p.sum,
                            min: p.min,
                            max: p.max,
                            buckets: p.bucket_counts.clone(),
                        },
                    );
                }
            }
            MetricData::ExponentialHistogram { .. } => panic!("the model creates no exponential histogram"),
        }
    }
    out
}

fn self_metric(b: &Batch, name: &str, reason: Option<&str>) -> f64 {
    let Some(m) = b.metric(name) else { return 0.0 };
    let MetricData::Sum { points, .. } = &m.data else { panic!("self-metric {name} is not a sum") };
    points
        .iter()
        .filter(|p| match reason {
            Some(r) => p.attributes.iter().any(|kv| kv.key == "reason" && kv.value == Value::Str(r.into())),
            None => true,
        })
        .map(|p| p.value)
        .sum()
}

fn run(ops: Vec<Op>, temporality: Temporality, cardinality: usize) -> Result<(), TestCaseError> {
    let limits = Limits { cardinality, ..Limits::default() };
    let mut reg = Registry::new(Config::new("model").temporality(temporality).limits(limits));
    let mut ids: Vec<InstrumentId> = Vec::new();
    for (i, kind) in KINDS.iter().enumerate() {
        let opts = InstrumentOptions::default().bounds(&BOUNDS);
        ids.push(reg.instrument(&format!("m{i}"), *kind, &opts).unwrap());
    }
    let delta = temporality == Temporality::Delta;
    let mut model = Model {
        delta,
        cardinality,
        series: BTreeMap::new(),
        rejected_non_finite: 0,
        rejected_negative: 0,
        overflowed: 0,
        swept: false,
    };
    let mut handles: Vec<(usize, Bound, Key)> = Vec::new();
    let mut totals = (0u64, 0u64, 0u64);
    let mut now = 1u64;
    reg.begin(now);
    for op in ops {
        match op {
            Op::Record(i, v, a) => {
                let at = attrs(a);
                reg.record(ids[i], VALUES[v], &at);
                if model.accept(i, VALUES[v]) {
                    let k = model.resolve(i, model_key(&at));
                    model.apply(i, &k, VALUES[v]);
                }
            }
            Op::Bound(i, a, v) => {
                let at = attrs(a);
                let h = reg.bind(ids[i], &at).unwrap();
                let k = model.resolve(i, model_key(&at));
                model.series.get_mut(&(i, k.clone())).unwrap().pinned = true;
                reg.record_bound(h, VALUES[v]);
                if model.accept(i, VALUES[v]) {
                    model.apply(i, &k, VALUES[v]);
                }
                handles.push((i, h, k));
            }
            Op::Reuse(h, v) => {
                if let Some((i, handle, k)) = handles.get(h).cloned() {
                    reg.record_bound(handle, VALUES[v]);
                    if model.accept(i, VALUES[v]) {
                        model.apply(i, &k, VALUES[v]);
                    }
                }
            }
            Op::Begin(dt) => {
                now += dt;
                reg.begin(now);
            }
            Op::Collect(dt) => {
                now += dt;
                let b = reg.collect(now);
                check_batch(&b, &mut model, &mut totals, delta)?;
            }
        }
    }
    now += 1;
    let b = reg.collect(now);
    check_batch(&b, &mut model, &mut totals, delta)?;
    // Every rejection and overflow was counted exactly once across all batches.
    prop_assert_eq!(totals, (model.rejected_non_finite, model.rejected_negative, model.overflowed));
    // Memory bound: live series never exceed cardinality per instrument.
    prop_assert!(reg.series_count() <= 4 * cardinality);
    Ok(())
}

fn check_batch(b: &Batch, model: &mut Model, totals: &mut (u64, u64, u64), delta: bool) -> Result<(), TestCaseError> {
    prop_assert!(b.start_unix_nano <= b.end_unix_nano);
    let expected = model.collect();
    let got = batch_points(b);
    prop_assert_eq!(&got, &expected);
    // Per-instrument cardinality (overflow series included) never exceeds the limit.
    let mut per: BTreeMap<usize, BTreeSet<Key>> = BTreeMap::new();
    for (i, k) in got.keys() {
        per.entry(*i).or_default().insert(k.clone());
    }
    for set in per.values() {
        prop_assert!(set.len() <= model.cardinality);
    }
    let nf = self_metric(b, "edgemetrics.sdk.values.rejected", Some("non_finite")) as u64;
    let neg = self_metric(b, "edgemetrics.sdk.values.rejected", Some("negative")) as u64;
    let of = self_metric(b, "edgemetrics.sdk.values.overflowed", None) as u64;
    prop_assert_eq!((nf, neg, of), (b.stats.rejected_non_finite, b.stats.rejected_negative, b.stats.overflowed));
    if delta {
        totals.0 += nf;
        totals.1 += neg;
        totals.2 += of;
    } else {
        *totals = (nf, neg, of);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn delta_matches_model(ops in proptest::collection::vec(op(), 1..200), card in 2usize..12) {
        run(ops, Temporality::Delta, card)?;
    }

    #[test]
    fn cumulative_matches_model(ops in proptest::collection::vec(op(), 1..200), card in 2usize..12) {
        run(ops, Temporality::Cumulative, card)?;
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Arbitrary strings, numbers and handles never make the record path panic.
    #[test]
    fn record_path_never_panics(
        keys in proptest::collection::vec("(.{0,20}|[a-z]{120,140})", 0..80),
        svals in proptest::collection::vec("(.{0,20}|[aé]{1000,1100})", 0..80),
        nums in proptest::collection::vec(any::<f64>(), 1..50),
        raw_ids in proptest::collection::vec(any::<u32>(), 1..20),
    ) {
        let mut reg = Registry::new(Config::default().limits(Limits { cardinality: 3, max_series: 5, max_attribute_bytes: 4096, ..Limits::default() }));
        let c = reg.counter("c", InstrumentOptions::default()).unwrap();
        let h = reg.histogram("h", InstrumentOptions::default()).unwrap();
        let attrs: Vec<(&str, AttrValue<'_>)> = keys.iter().zip(svals.iter().cycle())
            .enumerate()
            .map(|(i, (k, v))| match i % 4 {
                0 => (k.as_str(), AttrValue::Str(v.as_str())),
                1 => (k.as_str(), AttrValue::I64(i as i64)),
                2 => (k.as_str(), AttrValue::F64(nums[i % nums.len()])),
                _ => (k.as_str(), AttrValue::Bool(i % 8 == 3)),
            })
            .collect();
        for (j, v) in nums.iter().enumerate() {
            let sub = &attrs[..attrs.len().min(j * 3)];
            reg.record(c, *v, sub);
            reg.record(h, *v, sub);
            reg.record(InstrumentId::from_index(raw_ids[j % raw_ids.len()]), *v, sub);
            reg.record_bound(Bound::from_index(raw_ids[j % raw_ids.len()]), *v);
            if let Some(b) = reg.bind(c, sub) { reg.record_bound(b, *v); }
        }
        let b = reg.collect(10);
        prop_assert!(reg.series_count() <= 2 * 3 + 1);
        // Attribute limits held in the output.
        for m in &b.metrics {
            if let MetricData::Sum { points, .. } = &m.data {
                for p in points {
                    prop_assert!(p.attributes.len() <= 32);
                    for kv in p.attributes.iter() {
                        prop_assert!(kv.key.len() <= 128 && !kv.key.is_empty());
                        if let Value::Str(s) = &kv.value { prop_assert!(s.len() <= 1024); }
                    }
                }
            }
        }
    }
}

#[test]
fn creation_errors_are_typed() {
    let mut reg = Registry::new(Config::default().limits(Limits { max_instruments: 3, ..Limits::default() }));
    for bad in ["", "1abc", "a b", "é", &"x".repeat(256)] {
        assert!(
            matches!(reg.counter(bad, InstrumentOptions::default()), Err(edgemetrics::Error::InvalidName { .. })),
            "{bad:?}"
        );
    }
    assert!(reg.counter(&"x".repeat(255), InstrumentOptions::default()).is_ok());
    let c = reg.counter("Requests", InstrumentOptions::unit("1")).unwrap();
    assert_eq!(
        reg.counter("requests", InstrumentOptions::default()).unwrap(),
        c,
        "same name, same kind → same instrument"
    );
    let e = reg.gauge("requests", InstrumentOptions::default()).unwrap_err();
    assert_eq!(e.to_string(), "instrument \"requests\" already exists as a counter, cannot create it as a gauge");
    for b in [&[1.0, 1.0][..], &[2.0, 1.0], &[f64::NAN], &[0.0, f64::INFINITY]] {
        assert!(matches!(
            reg.histogram("h", InstrumentOptions::default().bounds(b)),
            Err(edgemetrics::Error::InvalidBounds { .. })
        ));
    }
    assert!(matches!(reg.gauge("g", InstrumentOptions::unit("é")), Err(edgemetrics::Error::InvalidUnit { .. })));
    assert!(matches!(
        reg.gauge("g", InstrumentOptions::default().description(&"d".repeat(1024))),
        Err(edgemetrics::Error::DescriptionTooLong)
    ));
    reg.gauge("g", InstrumentOptions::default()).unwrap();
    assert_eq!(
        reg.gauge("g2", InstrumentOptions::default()).unwrap_err(),
        edgemetrics::Error::TooManyInstruments { limit: 3 }
    );
}

#[test]
fn overflow_keeps_totals_exact_and_handles_survive_collects() {
    let mut reg = Registry::new(Config::default().limits(Limits { cardinality: 3, ..Limits::default() }));
    let c = reg.counter("c", InstrumentOptions::default()).unwrap();
    let bound = reg.bind(c, &[("k", "bound".into())]).unwrap();
    for i in 0..10 {
        reg.record(c, 1.0, &[("k", i.into())]);
    }
    reg.record_bound(bound, 5.0);
    let b = reg.collect(10);
    let MetricData::Sum { points, .. } = &b.metric("c").unwrap().data else { panic!() };
    let total: f64 = points.iter().map(|p| p.value).sum();
    assert_eq!(total, 15.0);
    assert_eq!(points.len(), 3, "bound + one real series + the overflow series");
    assert!(points.iter().any(|p| p.attributes.iter().any(|kv| kv.key == "otel.metric.overflow")));
    assert_eq!(b.stats.overflowed, 9);
    // The handle keeps working after collects, even collects where it was idle.
    reg.collect(20);
    reg.record_bound(bound, 2.0);
    let b = reg.collect(30);
    let MetricData::Sum { points, .. } = &b.metric("c").unwrap().data else { panic!() };
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].value, 2.0);
    assert_eq!(points[0].start_unix_nano, 20);
    assert_eq!(points[0].time_unix_nano, 30);
}

#[test]
fn cumulative_start_is_first_recording_and_clock_skew_is_counted() {
    let mut reg = Registry::new(Config::default().temporality(Temporality::Cumulative));
    let c = reg.counter("c", InstrumentOptions::default()).unwrap();
    reg.begin(100);
    reg.record(c, 1.0, &[]);
    reg.collect(200);
    reg.begin(300);
    reg.record(c, 2.0, &[]);
    let b = reg.collect(250); // clock went backwards
    assert_eq!(b.stats.clock_skew, 1);
    assert_eq!(b.end_unix_nano, b.start_unix_nano);
    let MetricData::Sum { points, temporality, monotonic } = &b.metric("c").unwrap().data else { panic!() };
    assert_eq!((*temporality, *monotonic), (Temporality::Cumulative, true));
    assert_eq!(points[0].value, 3.0);
    assert_eq!(points[0].start_unix_nano, 100);
}

#[test]
fn self_metrics_can_be_switched_off() {
    let mut reg = Registry::new(Config::default().self_metrics(false));
    let c = reg.counter("c", InstrumentOptions::default()).unwrap();
    reg.record(c, f64::NAN, &[]);
    let b = reg.collect(1);
    assert!(b.is_empty());
    assert_eq!(b.stats.rejected_non_finite, 1);
}

/// README ("Limits and memory"): with the default limits an instrument holds at most 2000 series,
/// its overflow series included; the registry at most 20 000 series in all, not counting the
/// overflow series (one per instrument that reaches a limit); at most 256 instruments. Checked at the default
/// values themselves, with totals exact past every limit.
#[test]
fn default_limits_hold_at_their_documented_values() {
    let mut reg = Registry::new(Config::default().self_metrics(false));
    let mut counters = Vec::new();
    for i in 0..256 {
        counters.push(reg.counter(&format!("c{i}"), InstrumentOptions::default()).unwrap());
    }
    assert_eq!(
        reg.counter("one.more", InstrumentOptions::default()).unwrap_err(),
        edgemetrics::Error::TooManyInstruments { limit: 256 }
    );

    // One instrument, 2100 attribute sets: 1999 own series and the overflow series.
    for s in 0..2100i64 {
        reg.record(counters[0], 1.0, &[("k", s.into())]);
    }
    let b = reg.collect(10);
    let MetricData::Sum { points, .. } = &b.metric("c0").unwrap().data else { panic!() };
    assert_eq!(points.len(), 2000);
    assert_eq!(points.iter().map(|p| p.value).sum::<f64>(), 2100.0);
    assert_eq!(b.stats.overflowed, 101);

    // Eleven instruments, 2000 sets each (22 000 sets): the registry keeps 20 000 own series,
    // and every value lands somewhere.
    for (i, c) in counters.iter().take(11).enumerate() {
        for s in 0..2000i64 {
            reg.record(*c, 1.0, &[("k", (i as i64 * 10_000 + s).into())]);
        }
    }
    let b = reg.collect(20);
    let own: usize = (0..11)
        .map(|i| {
            let MetricData::Sum { points, .. } = &b.metric(&format!("c{i}")).unwrap().data else { panic!() };
            points.iter().filter(|p| !p.attributes.iter().any(|kv| kv.key == "otel.metric.overflow")).count()
        })
        .sum();
    let overflow_series = b.point_count() - own;
    assert_eq!(own, 20_000);
    // Ten instruments reach 1999 own series, the eleventh gets the last 10 before the registry is
    // full: each has its overflow series on top of the 20 000 (20 011 series in the batch).
    assert_eq!(overflow_series, 11);
    assert_eq!(b.stats.overflowed, 2000);
    let total: f64 = (0..11)
        .map(|i| {
            let MetricData::Sum { points, .. } = &b.metric(&format!("c{i}")).unwrap().data else { panic!() };
            points.iter().map(|p| p.value).sum::<f64>()
        })
        .sum();
    assert_eq!(total, 22_000.0);
}

/// README ("Flush policy"): each batch carries `edgemetrics.sdk.invocations`, the invocations it
/// covers (delta) or the running total (cumulative); a window with none counted carries none.
#[test]
fn invocations_self_metric_is_per_batch_in_delta_and_a_running_total_in_cumulative() {
    for (temporality, want) in [(Temporality::Delta, [3.0, 2.0]), (Temporality::Cumulative, [3.0, 5.0])] {
        let mut reg = Registry::new(Config::default().temporality(temporality));
        let c = reg.counter("c", InstrumentOptions::default()).unwrap();
        let mut got = Vec::new();
        for (w, n) in [3u64, 2].into_iter().enumerate() {
            for i in 0..n {
                reg.begin(100 * (w as u64 + 1) + i);
                reg.count_invocation();
                reg.record(c, 1.0, &[]);
            }
            got.push(self_metric(&reg.collect(100 * (w as u64 + 1) + 50), "edgemetrics.sdk.invocations", None));
        }
        assert_eq!(got, want, "{temporality:?}");
        if temporality == Temporality::Delta {
            reg.record(c, 1.0, &[]);
            assert!(reg.collect(400).metric("edgemetrics.sdk.invocations").is_none(), "no invocation counted");
        }
    }
}
