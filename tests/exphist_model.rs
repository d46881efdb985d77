//! Property tests of the exponential histogram against a straightforward reference.
//!
//! The reference keeps every value, finds the bucket of each with std's `log2` (and the exact rule
//! for powers of two), and picks the final scale by trying every scale from `max_scale` down until
//! each sign's index range fits in `max_size`. The aggregator, which downscales incrementally as
//! values arrive, must end at the same scale with the same bucket counts; merging two aggregators
//! must equal aggregating the union; and every index must satisfy `base^i < v <= base^(i+1)`.

use edgemetrics::exphist::{lower_boundary, map_to_index, ExpConfig, ExpHistogram, MIN_SCALE};
use edgemetrics::{Config, HistogramAggregation, InstrumentOptions, MetricData, Registry, Temporality};
use proptest::prelude::*;

/// Reference index: `ceil(log2(v) · 2^s) - 1`, via std, exact for powers of two.
fn ref_index(v: f64, scale: i32) -> i64 {
    let l = v.log2();
    if l.fract() == 0.0 && v == 2f64.powi(l as i32) {
        // Power of two (subnormal ones included: powi reaches them, and log2 is exact there).
        let e = l as i64;
        return if scale >= 0 { (e << scale) - 1 } else { (e - 1) >> -scale };
    }
    if scale >= 0 {
        (l * (1u64 << scale) as f64).ceil() as i64 - 1
    } else {
        // Scale <= 0 buckets are whole numbers of octaves: floor(log2 v) >> -s.
        (l.floor() as i64) >> -scale
    }
}

/// Non-empty buckets as (index, count), ascending.
type Buckets = Vec<(i64, u64)>;

/// Reference aggregation of `values` with `max_size` buckets per sign from `max_scale` down:
/// (scale, zero count, positive buckets, negative buckets).
fn reference(values: &[f64], max_size: usize, max_scale: i32) -> (i32, u64, Buckets, Buckets) {
    let zero = values.iter().filter(|v| **v == 0.0).count() as u64;
    let mut scale = max_scale;
    loop {
        let idx = |sign: f64| {
            let mut m = std::collections::BTreeMap::new();
            for v in values.iter().filter(|v| **v * sign > 0.0) {
                *m.entry(ref_index(v.abs(), scale)).or_insert(0u64) += 1;
            }
            m.into_iter().collect::<Vec<_>>()
        };
        let (p, n) = (idx(1.0), idx(-1.0));
        let span = |b: &Buckets| b.last().map_or(0, |l| (l.0 - b[0].0 + 1) as usize);
        if (span(&p) <= max_size && span(&n) <= max_size) || scale == MIN_SCALE {
            return (scale, zero, p, n);
        }
        scale -= 1;
    }
}

fn nonzero(b: &edgemetrics::exphist::ExpBuckets) -> Buckets {
    b.counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(k, c)| (b.offset as i64 + k as i64, *c)).collect()
}

/// Values of every kind the issue names: zero, negative, subnormal, huge, exact powers of two,
/// and ordinary magnitudes.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        1 => Just(0.0),
        2 => (-1074i32..=1023).prop_map(|e| 2f64.powi(e)),
        2 => (-1074i32..=1023).prop_map(|e| -(2f64.powi(e))),
        2 => (1u64..(1u64 << 52)).prop_map(f64::from_bits),
        1 => (1u64..(1u64 << 52)).prop_map(|b| -f64::from_bits(b)),
        2 => (0.5f64..1e308).prop_map(|v| v),
        6 => (1e-3f64..1e4).prop_map(|v| v),
        3 => (-1e4f64..-1e-3).prop_map(|v| v),
        2 => (1u64..0x7fef_ffff_ffff_ffff).prop_map(f64::from_bits),
    ]
}

fn check(h: &ExpHistogram, values: &[f64], max_size: u32, max_scale: i32) -> Result<(), TestCaseError> {
    let (scale, zero, p, n) = reference(values, max_size as usize, max_scale);
    prop_assert_eq!(h.scale, scale);
    prop_assert_eq!(h.zero_count, zero);
    prop_assert_eq!(nonzero(&h.positive), p);
    prop_assert_eq!(nonzero(&h.negative), n);
    prop_assert_eq!(h.count, values.len() as u64);
    // At scale -10 every f64 fits in three buckets per sign, so a max_size of 2 may hold 3.
    let cap = max_size.max(3) as usize;
    prop_assert!(h.positive.counts.len() <= cap && h.negative.counts.len() <= cap);
    if !values.is_empty() {
        prop_assert_eq!(h.min, values.iter().cloned().fold(f64::INFINITY, f64::min));
        prop_assert_eq!(h.max, values.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn aggregation_matches_reference(
        values in proptest::collection::vec(value(), 0..60),
        max_size in prop_oneof![Just(2u32), Just(4), Just(20), Just(160)],
        max_scale in -10i32..=20,
    ) {
        let mut h = ExpHistogram::new(max_scale as i8);
        for &v in &values {
            h.record(v, max_size);
        }
        check(&h, &values, max_size, max_scale)?;
        prop_assert!(h.validate().is_ok());
    }

    #[test]
    fn merge_equals_aggregating_the_union(
        a in proptest::collection::vec(value(), 0..40),
        b in proptest::collection::vec(value(), 0..40),
        max_size in prop_oneof![Just(4u32), Just(20), Just(160)],
        scale_a in -4i32..=20,
        scale_b in -4i32..=20,
    ) {
        let (mut ha, mut hb) = (ExpHistogram::new(scale_a as i8), ExpHistogram::new(scale_b as i8));
        a.iter().for_each(|v| ha.record(*v, max_size));
        b.iter().for_each(|v| hb.record(*v, max_size));
        ha.merge(&hb, max_size);
        let all: Vec<f64> = a.iter().chain(&b).cloned().collect();
        // The union starts at the lower of the two starting scales; an empty side does not count.
        let start = match (a.is_empty(), b.is_empty()) {
            (_, true) => scale_a,
            (true, false) => scale_b,
            (false, false) => scale_a.min(scale_b),
        };
        check(&ha, &all, max_size, start)?;
    }

    #[test]
    fn index_satisfies_the_bucket_definition(v in value().prop_filter("positive", |v| *v > 0.0), scale in -10i32..=20) {
        let i = map_to_index(v, scale);
        prop_assert_eq!(i as i64, ref_index(v, scale));
        // base^i < v <= base^(i+1), within the boundary's own rounding (subnormal boundaries
        // carry fewer significant bits, so they are compared only when exact powers of two).
        let (lo, hi) = (lower_boundary(i, scale), lower_boundary(i + 1, scale));
        prop_assert!(v > lo * (1.0 - 1e-14) || lo < f64::MIN_POSITIVE, "{} <= lower {}", v, lo);
        prop_assert!(v <= hi * (1.0 + 1e-14) || hi.is_infinite(), "{} > upper {}", v, hi);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Through the registry, over several windows: delta points equal one fresh aggregator per
    /// window (the scale starts again at max_scale), cumulative points one aggregator over
    /// everything; negative and non-finite values are refused and counted; a bound handle records
    /// into the same series.
    #[test]
    fn registry_windows_match_reference(
        windows in proptest::collection::vec(proptest::collection::vec(value(), 0..20), 1..4),
        cumulative in any::<bool>(),
        max_size in prop_oneof![Just(4u32), Just(160)],
    ) {
        let t = if cumulative { Temporality::Cumulative } else { Temporality::Delta };
        let cfg = ExpConfig { max_size, max_scale: 20 };
        let mut reg = Registry::new(
            Config::new("p").temporality(t).self_metrics(false).histogram_aggregation(HistogramAggregation::Exponential(cfg)),
        );
        let h = reg.histogram("h", InstrumentOptions::default()).unwrap();
        let bound = reg.bind(h, &[("k", "v".into())]).unwrap();
        let mut all = ExpHistogram::new(20);
        let mut refused_total = 0;
        for (w, values) in windows.iter().enumerate() {
            reg.begin(1 + w as u64 * 10);
            let mut window = ExpHistogram::new(20);
            let mut refused = 0;
            for (i, &v) in values.iter().enumerate() {
                if i % 2 == 0 {
                    h.record(&mut reg, v, &[("k", "v".into())]);
                } else {
                    reg.record_bound(bound, v);
                }
                if v < 0.0 {
                    refused += 1;
                } else {
                    window.record(v, max_size);
                    all.record(v, max_size);
                }
            }
            refused_total += refused;
            let batch = reg.collect(5 + w as u64 * 10);
            prop_assert_eq!(batch.stats.rejected_negative, if cumulative { refused_total } else { refused });
            let want = if cumulative { &all } else { &window };
            match batch.metric("h").map(|m| &m.data) {
                Some(MetricData::ExponentialHistogram { points, temporality }) => {
                    prop_assert_eq!(*temporality, t);
                    prop_assert_eq!(points.len(), 1);
                    prop_assert_eq!(&points[0].hist, want);
                }
                None => prop_assert_eq!(want.count, 0),
                Some(other) => prop_assert!(false, "unexpected data {:?}", other),
            }
        }
    }
}

/// Carry-over: an undelivered delta batch merged into the next one (`push::merge`) holds exactly
/// what one aggregator over both windows holds (same default size, both windows from scale 20).
#[test]
fn carry_over_merge_is_exact() {
    let mut reg =
        Registry::new(Config::new("c").self_metrics(false).histogram_aggregation(HistogramAggregation::exponential()));
    let h = reg.histogram("lat", InstrumentOptions::unit("ms")).unwrap();
    let (first, second) = ([0.0, 1.5, 2.0, 3.0, 900.0], [0.004, 7.0, 1e6, 0.0]);
    let mut all = ExpHistogram::new(20);
    reg.begin(1);
    for v in first {
        h.record(&mut reg, v, &[]);
        all.record(v, 160);
    }
    let failed = reg.collect(2);
    for v in second {
        h.record(&mut reg, v, &[]);
        all.record(v, 160);
    }
    let mut next = reg.collect(3);
    assert!(edgemetrics::push::merge(&mut next, failed).is_empty());
    let Some(MetricData::ExponentialHistogram { points, .. }) = next.metric("lat").map(|m| &m.data) else { panic!() };
    assert_eq!(points[0].hist, all);
    assert_eq!((points[0].start_unix_nano, points[0].time_unix_nano), (1, 3));
}

/// CloudWatch EMF has no exponential histograms: the value/count form over the exponential
/// bucket boundaries, with exact Count, Sum, Min and Max and one value per non-empty bucket.
#[cfg(feature = "emf")]
#[test]
fn emf_writes_values_and_counts_over_the_exponential_buckets() {
    use edgemetrics::encode::emf::{self, EmfConfig};
    let mut reg = Registry::new(Config::new("svc").self_metrics(false));
    let h = reg.histogram("lat", InstrumentOptions::unit("ms").exponential(ExpConfig::default())).unwrap();
    let values = [0.0, 1.5, 1.5, 3.0, 250.0];
    for v in values {
        h.record(&mut reg, v, &[("route", "/a".into())]);
    }
    let batch = reg.collect(1_700_000_000_000_000_000);
    let body = emf::encode(&batch, &EmfConfig::default()).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(body.split(|b| *b == b'\n').next().unwrap()).unwrap();
    let lat = &doc["lat"];
    assert_eq!(lat["Count"], 5);
    assert_eq!(lat["Sum"], 256.0);
    assert_eq!((lat["Min"].as_f64(), lat["Max"].as_f64()), (Some(0.0), Some(250.0)));
    // Non-empty buckets: the zero bucket, 1.5 (twice), 3.0, 250.0.
    assert_eq!(lat["Counts"], serde_json::json!([1, 2, 1, 1]));
    let vals: Vec<f64> = lat["Values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(vals[0], 0.0);
    // Each value is its bucket's midpoint: within one bucket width of the values it stands for.
    let Some(MetricData::ExponentialHistogram { points, .. }) = batch.metric("lat").map(|m| &m.data) else { panic!() };
    let width = 2f64.powf(2f64.powi(-points[0].hist.scale)) - 1.0;
    for (v, want) in vals[1..].iter().zip([1.5, 3.0, 250.0]) {
        assert!((v - want).abs() <= want * width, "{v} vs {want}");
    }
}
