//! Compact format: exact round trips (arbitrary batches and real registries), hostile input
//! (truncation, random bytes, bit flips, forged counts, every validation rule), and size.
//!
//! Run: `cargo test --features decode --test compact`.

#[path = "common/scenario.rs"]
mod scenario;

use std::borrow::Cow;
use std::sync::Arc;

use edgemetrics::encode::compact::{self as wire, DecodeLimits, Message, Number};
use edgemetrics::encode::{compact, otlp};
use edgemetrics::exphist::{ExpBuckets, ExpConfig, ExpHistogram};
use edgemetrics::ExpHistogramPoint;
use edgemetrics::{
    Attr, AttrValue, Batch, Config, Error, HistogramPoint, InstrumentKind, InstrumentOptions, KeyValue, Limits, Metric,
    MetricData, NumberPoint, Registry, Scope, SdkStats, Temporality, Value, DEFAULT_BOUNDS, SCOPE_NAME, SCOPE_VERSION,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as PropConfig, TestRunner};

// ---------------------------------------------------------------------------------------------
// Bitwise comparison
// ---------------------------------------------------------------------------------------------
//
// `Batch: PartialEq` compares doubles with `==`, which calls `-0.0 == 0.0` equal and `NaN`
// unequal to itself. The format promises bit-exact doubles, so the round-trip check walks both
// batches and compares every double by its bits (attribute doubles may be NaN: an attribute is
// any value the user passed, and the registry keeps NaN attributes, so the strategy generates
// them). `PartialEq` is asserted as well whenever the batch holds no NaN.

fn same_f64(a: f64, b: f64, what: &str) -> Result<(), String> {
    if a.to_bits() == b.to_bits() {
        Ok(())
    } else {
        Err(format!("{what}: {a:?} ({:#x}) != {b:?} ({:#x})", a.to_bits(), b.to_bits()))
    }
}

fn same_attrs(a: &[KeyValue], b: &[KeyValue]) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("attribute count {} != {}", a.len(), b.len()));
    }
    for (x, y) in a.iter().zip(b) {
        if x.key != y.key {
            return Err(format!("key {:?} != {:?}", x.key, y.key));
        }
        match (&x.value, &y.value) {
            (Value::F64(p), Value::F64(q)) => same_f64(*p, *q, "attribute")?,
            (p, q) if p == q => {}
            (p, q) => return Err(format!("value {p:?} != {q:?}")),
        }
    }
    Ok(())
}

fn same_batch(a: &Batch, b: &Batch) -> Result<(), String> {
    same_attrs(&a.resource, &b.resource)?;
    let head = |x: &Batch| {
        (x.scope_name, x.scope_version.to_string(), x.temporality, x.start_unix_nano, x.end_unix_nano, x.stats)
    };
    if head(a) != head(b) {
        return Err(format!("header {:?} != {:?}", head(a), head(b)));
    }
    if a.metrics.len() != b.metrics.len() {
        return Err("metric count".into());
    }
    for (m, n) in a.metrics.iter().zip(&b.metrics) {
        if (&m.name, &m.unit, &m.description, m.kind) != (&n.name, &n.unit, &n.description, n.kind) {
            return Err(format!("metric header {:?} != {:?}", m.name, n.name));
        }
        match (&m.data, &n.data) {
            (
                MetricData::Sum { monotonic: ma, temporality: ta, points: pa },
                MetricData::Sum { monotonic: mb, temporality: tb, points: pb },
            ) if ma == mb && ta == tb => same_numbers(pa, pb)?,
            (MetricData::Gauge { points: pa }, MetricData::Gauge { points: pb }) => same_numbers(pa, pb)?,
            (
                MetricData::Histogram { temporality: ta, bounds: ba, points: pa },
                MetricData::Histogram { temporality: tb, bounds: bb, points: pb },
            ) if ta == tb && ba.len() == bb.len() && pa.len() == pb.len() => {
                for (x, y) in ba.iter().zip(bb.iter()) {
                    same_f64(*x, *y, "bound")?;
                }
                for (p, q) in pa.iter().zip(pb) {
                    same_attrs(&p.attributes, &q.attributes)?;
                    if (p.start_unix_nano, p.time_unix_nano, p.count, &p.bucket_counts)
                        != (q.start_unix_nano, q.time_unix_nano, q.count, &q.bucket_counts)
                    {
                        return Err("histogram point".into());
                    }
                    same_f64(p.sum, q.sum, "sum")?;
                    same_f64(p.min, q.min, "min")?;
                    same_f64(p.max, q.max, "max")?;
                }
            }
            (
                MetricData::ExponentialHistogram { temporality: ta, points: pa },
                MetricData::ExponentialHistogram { temporality: tb, points: pb },
            ) if ta == tb && pa.len() == pb.len() => {
                for (p, q) in pa.iter().zip(pb) {
                    same_attrs(&p.attributes, &q.attributes)?;
                    let (x, y) = (&p.hist, &q.hist);
                    if (p.start_unix_nano, p.time_unix_nano, x.count, x.scale, x.zero_count, &x.positive, &x.negative)
                        != (
                            q.start_unix_nano,
                            q.time_unix_nano,
                            y.count,
                            y.scale,
                            y.zero_count,
                            &y.positive,
                            &y.negative,
                        )
                    {
                        return Err("exponential histogram point".into());
                    }
                    same_f64(x.sum, y.sum, "sum")?;
                    same_f64(x.min, y.min, "min")?;
                    same_f64(x.max, y.max, "max")?;
                    same_f64(x.zero_threshold, y.zero_threshold, "zero threshold")?;
                }
            }
            _ => return Err(format!("metric data of {:?}", m.name)),
        }
    }
    Ok(())
}

fn same_numbers(a: &[NumberPoint], b: &[NumberPoint]) -> Result<(), String> {
    if a.len() != b.len() {
        return Err("point count".into());
    }
    for (p, q) in a.iter().zip(b) {
        same_attrs(&p.attributes, &q.attributes)?;
        if (p.start_unix_nano, p.time_unix_nano) != (q.start_unix_nano, q.time_unix_nano) {
            return Err("point times".into());
        }
        same_f64(p.value, q.value, "value")?;
    }
    Ok(())
}

fn has_nan(b: &Batch) -> bool {
    let attrs_nan = |kvs: &[KeyValue]| kvs.iter().any(|kv| matches!(kv.value, Value::F64(v) if v.is_nan()));
    attrs_nan(&b.resource)
        || b.metrics.iter().any(|m| match &m.data {
            MetricData::Sum { points, .. } | MetricData::Gauge { points } => {
                points.iter().any(|p| attrs_nan(&p.attributes) || p.value.is_nan())
            }
            MetricData::Histogram { points, .. } => {
                points.iter().any(|p| attrs_nan(&p.attributes) || p.sum.is_nan() || p.min.is_nan() || p.max.is_nan())
            }
            MetricData::ExponentialHistogram { points, .. } => points.iter().any(|p| attrs_nan(&p.attributes)),
        })
}

/// Encodes, decodes, and checks the result is the same batch, bit for bit; also checks that
/// encoding is deterministic and that re-encoding the decoded batch gives the same bytes.
fn round_trip(batch: &Batch) -> Result<Vec<u8>, String> {
    let bytes = compact::encode(batch);
    let back = compact::decode(&bytes).map_err(|e| format!("decode failed: {e}"))?;
    same_batch(batch, &back)?;
    if !has_nan(batch) && back != *batch {
        return Err("PartialEq differs".into());
    }
    if compact::encode(&back) != bytes {
        return Err("re-encoding differs".into());
    }
    Ok(bytes)
}

// ---------------------------------------------------------------------------------------------
// Strategies: arbitrary batches
// ---------------------------------------------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z][a-z0-9._]{0,12}",
        "\\PC{0,10}", // any printable Unicode, non-ASCII included
        Just("ключ.名前.🚀".to_string()),
        "[a-z]{300,400}", // long: multi-byte length varints
    ]
}

/// Doubles that stress the number forms: signed zeros, subnormals, extremes, integers at the
/// 2^53 edge, short decimals, and arbitrary bit patterns.
fn edge_f64(nan: bool) -> BoxedStrategy<f64> {
    let specials = prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(5e-324),
        Just(-5e-324),
        Just(f64::MIN_POSITIVE / 3.0),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(9007199254740992.0),
        Just(9007199254740993.0),
        Just(-9007199254740992.0),
        Just(18014398509481984.0),
        Just(0.1 + 0.2),
        Just(1e-7),
        Just(123456.7),
    ];
    let s = prop_oneof![
        specials,
        any::<i64>().prop_map(|n| n as f64),
        (-1_000_000i64..1_000_000).prop_map(|n| n as f64),
        ((-10_000_000i64..10_000_000), 1u32..9).prop_map(|(n, k)| n as f64 / 10f64.powi(k as i32)),
        any::<f64>(),
        any::<u64>().prop_map(f64::from_bits),
    ];
    if nan {
        s.boxed()
    } else {
        s.prop_filter("no NaN in points", |v| !v.is_nan()).boxed()
    }
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        text().prop_map(Value::Str),
        any::<i64>().prop_map(Value::I64),
        prop_oneof![Just(0i64), Just(-1), Just(i64::MIN), Just(i64::MAX)].prop_map(Value::I64),
        edge_f64(true).prop_map(Value::F64),
        Just(Value::F64(f64::NAN)),
        Just(Value::F64(f64::from_bits(0x7ff0_0000_dead_beef))),
        any::<bool>().prop_map(Value::Bool),
    ]
}

fn attrs(max: usize) -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec((text(), value()).prop_map(|(key, value)| KeyValue { key, value }), 0..max)
}

fn temporality() -> impl Strategy<Value = Temporality> {
    prop_oneof![Just(Temporality::Delta), Just(Temporality::Cumulative)]
}

fn bounds() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(edge_f64(false).prop_filter("finite", |v| v.is_finite()), 0..20).prop_map(|mut b| {
        b.sort_by(|x, y| x.partial_cmp(y).unwrap());
        b.dedup_by(|x, y| x == y); // also merges -0.0 and 0.0, which are not strictly increasing
        b
    })
}

/// Point times: mostly the window (the common, compact case), sometimes anything at all.
fn times(start: u64, end: u64) -> impl Strategy<Value = (u64, u64)> {
    prop_oneof![
        3 => Just((start, end)),
        1 => (any::<u64>(), any::<u64>()),
        1 => (0..=start, Just(end)),
    ]
}

#[derive(Debug, Clone)]
enum Shape {
    Counter,
    UpDown,
    Gauge,
    Histogram(Vec<f64>),
    /// An exponential histogram with this max size.
    Exponential(u32),
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Counter),
        Just(Shape::UpDown),
        Just(Shape::Gauge),
        bounds().prop_map(Shape::Histogram),
        prop_oneof![Just(2u32), Just(8), Just(160)].prop_map(Shape::Exponential)
    ]
}

fn metric(sets: Vec<Arc<[KeyValue]>>, start: u64, end: u64) -> impl Strategy<Value = Metric> {
    let n_sets = sets.len();
    (text(), text(), text(), shape(), temporality(), 0usize..12).prop_flat_map(
        move |(name, unit, description, shape, t, n_points)| {
            let sets = sets.clone();
            let set = move || {
                let sets = sets.clone();
                (0..n_sets.max(1)).prop_map(move |i| sets.get(i).cloned().unwrap_or_else(|| Arc::from(Vec::new())))
            };
            let (name, unit, description): (Arc<str>, Arc<str>, Arc<str>) =
                (name.into(), unit.into(), description.into());
            match shape {
                Shape::Histogram(b) => {
                    let nb = b.len() + 1;
                    let point = (
                        set(),
                        times(start, end),
                        prop::collection::vec(prop_oneof![3 => 0u64..10, 1 => any::<u64>().prop_map(|c| c >> 8)], nb),
                        edge_f64(false),
                        edge_f64(false),
                        edge_f64(false),
                    )
                        .prop_map(|(attributes, (s, t), bucket_counts, sum, min, max)| {
                            HistogramPoint {
                                attributes,
                                start_unix_nano: s,
                                time_unix_nano: t,
                                count: bucket_counts.iter().sum(),
                                sum,
                                min,
                                max,
                                bucket_counts,
                            }
                        });
                    let bounds: Arc<[f64]> = b.into();
                    prop::collection::vec(point, n_points)
                        .prop_map(move |points| Metric {
                            name: name.clone(),
                            unit: unit.clone(),
                            description: description.clone(),
                            kind: InstrumentKind::Histogram,
                            data: MetricData::Histogram { temporality: t, bounds: bounds.clone(), points },
                            scope: 0,
                        })
                        .boxed()
                }
                Shape::Exponential(max_size) => {
                    // Real aggregator states (any sign, zero, subnormal, huge), so the decoder's
                    // validation accepts them.
                    let point = (
                        set(),
                        times(start, end),
                        prop::collection::vec(edge_f64(false).prop_filter("finite", |v| v.is_finite()), 0..20),
                        -10i8..=20,
                    )
                        .prop_map(move |(attributes, (s, t), values, max_scale)| {
                            let mut hist = ExpHistogram::new(max_scale);
                            values.iter().for_each(|v| hist.record(*v, max_size));
                            ExpHistogramPoint { attributes, start_unix_nano: s, time_unix_nano: t, hist }
                        });
                    prop::collection::vec(point, n_points)
                        .prop_map(move |points| Metric {
                            name: name.clone(),
                            unit: unit.clone(),
                            description: description.clone(),
                            kind: InstrumentKind::Histogram,
                            data: MetricData::ExponentialHistogram { temporality: t, points },
                            scope: 0,
                        })
                        .boxed()
                }
                shape => {
                    let point = (set(), times(start, end), edge_f64(false)).prop_map(|(attributes, (s, t), value)| {
                        NumberPoint { attributes, start_unix_nano: s, time_unix_nano: t, value }
                    });
                    prop::collection::vec(point, n_points)
                        .prop_map(move |points| {
                            let (kind, data) = match shape {
                                Shape::Counter => (
                                    InstrumentKind::Counter,
                                    MetricData::Sum { monotonic: true, temporality: t, points },
                                ),
                                Shape::UpDown => (
                                    InstrumentKind::UpDownCounter,
                                    MetricData::Sum { monotonic: false, temporality: t, points },
                                ),
                                _ => (InstrumentKind::Gauge, MetricData::Gauge { points }),
                            };
                            Metric {
                                name: name.clone(),
                                unit: unit.clone(),
                                description: description.clone(),
                                kind,
                                data,
                                scope: 0,
                            }
                        })
                        .boxed()
                }
            }
        },
    )
}

fn stats() -> impl Strategy<Value = SdkStats> {
    prop::array::uniform7(prop_oneof![Just(0u64), 0u64..1000, any::<u64>()]).prop_map(|s| SdkStats {
        rejected_non_finite: s[0],
        rejected_negative: s[1],
        rejected_invalid_handle: s[2],
        overflowed: s[3],
        attributes_dropped: s[4],
        attributes_truncated: s[5],
        clock_skew: s[6],
    })
}

/// Arbitrary batches: every kind, temporality, value type and edge double; attribute sets drawn
/// from a shared pool (as a counter and a histogram over the same series share them), some with
/// up to 40 attributes.
fn batch() -> impl Strategy<Value = Batch> {
    let window = prop_oneof![
        (0u64..u64::MAX / 2, 0u64..u64::MAX / 2),
        (Just(1_700_000_000_000_000_000u64), 0u64..10_000_000_000),
        (Just(0u64), Just(0u64)),
        (Just(u64::MAX), Just(0u64)),
    ];
    let version = prop_oneof![
        3 => Just(Cow::Borrowed(SCOPE_VERSION)),
        1 => text().prop_map(Cow::Owned),
    ];
    let pool = prop::collection::vec(prop_oneof![4 => attrs(5), 1 => attrs(40)], 0..8);
    let scopes = prop::collection::vec(
        (text(), text()).prop_map(|(n, v)| Scope { name: n.as_str().into(), version: v.as_str().into() }),
        0..3,
    );
    (window, version, temporality(), stats(), attrs(6), pool, scopes).prop_flat_map(
        |((start, len), scope_version, temporality, stats, resource, pool, scopes)| {
            let end = start + len;
            let sets: Vec<Arc<[KeyValue]>> = pool.into_iter().map(Arc::from).collect();
            let resource: Arc<[KeyValue]> = resource.into();
            prop::collection::vec(metric(sets, start, end), 0..6).prop_map(move |metrics| Batch {
                resource: resource.clone(),
                scope_name: SCOPE_NAME,
                scope_version: scope_version.clone(),
                // Metric `i` in scope `i mod (extra scopes + 1)`: every scope index occurs.
                metrics: metrics
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut m)| {
                        m.scope = (i % (scopes.len() + 1)) as u16;
                        m
                    })
                    .collect(),
                scopes: scopes.clone(),
                temporality,
                start_unix_nano: start,
                end_unix_nano: end,
                stats,
            })
        },
    )
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(PropConfig { cases, failure_persistence: None, ..PropConfig::default() })
}

#[test]
fn arbitrary_batches_round_trip_bit_exactly() {
    runner(768)
        .run(&batch(), |b| {
            round_trip(&b).map_err(TestCaseError::fail)?;
            Ok(())
        })
        .unwrap();
}

#[test]
fn to_otlp_equals_otlp_of_the_batch() {
    runner(128)
        .run(&batch(), |b| {
            let bytes = compact::encode(&b);
            prop_assert_eq!(compact::to_otlp(&bytes).unwrap(), otlp::encode(&b));
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Batches from the real registry over random operation sequences
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Create(u8, u8, bool),
    Record(u8, f64, Vec<(u8, u8)>),
    Collect(u64),
}

fn ops() -> impl Strategy<Value = (bool, Vec<Op>)> {
    let attr = (0u8..6, 0u8..8);
    let op = prop_oneof![
        1 => (0u8..4, 0u8..6, any::<bool>()).prop_map(|(k, n, b)| Op::Create(k, n, b)),
        6 => (0u8..6, edge_f64(true), prop::collection::vec(attr, 0..4)).prop_map(|(i, v, a)| Op::Record(i, v, a)),
        1 => (0u64..5_000_000_000).prop_map(Op::Collect),
    ];
    (any::<bool>(), prop::collection::vec(op, 1..80))
}

const KEYS: [&str; 6] = ["route", "status", "region", "ключ", "", "http.request.method"];

fn attr_value(v: u8) -> AttrValue<'static> {
    match v {
        0 => "/cart".into(),
        1 => "/checkout/ü".into(),
        2 => AttrValue::I64(-7),
        3 => AttrValue::F64(-0.0),
        4 => AttrValue::F64(f64::NAN),
        5 => AttrValue::Bool(true),
        6 => "".into(),
        _ => AttrValue::I64(i64::MAX),
    }
}

#[test]
fn registry_batches_round_trip() {
    runner(256)
        .run(&ops(), |(cumulative, ops)| {
            let t = if cumulative { Temporality::Cumulative } else { Temporality::Delta };
            let limits = Limits { cardinality: 6, ..Limits::default() };
            let mut reg = Registry::new(Config::new("prop").temporality(t).limits(limits).resource_attr("n", 3i64));
            let mut now = 1_000u64;
            reg.begin(now);
            let mut ids = Vec::new();
            let bounds = [1.0, 2.5, 10.0];
            for op in ops {
                match op {
                    Op::Create(k, n, custom) => {
                        let kind = [
                            InstrumentKind::Counter,
                            InstrumentKind::UpDownCounter,
                            InstrumentKind::Gauge,
                            InstrumentKind::Histogram,
                        ][k as usize];
                        let name = format!("m{n}.{}", kind.as_str());
                        let mut o = InstrumentOptions::unit("ms").description("désc");
                        if custom {
                            o = o.bounds(&bounds);
                        }
                        if let Ok(id) = reg.instrument(&name, kind, &o) {
                            ids.push(id);
                        }
                    }
                    Op::Record(i, v, a) => {
                        if let Some(&id) = ids.get(i as usize % ids.len().max(1)) {
                            let a: Vec<Attr<'_>> = a.iter().map(|&(k, v)| (KEYS[k as usize], attr_value(v))).collect();
                            reg.record(id, v, &a);
                        }
                    }
                    Op::Collect(dt) => {
                        now += dt;
                        round_trip(&reg.collect(now)).map_err(TestCaseError::fail)?;
                    }
                }
            }
            round_trip(&reg.collect(now + 1)).map_err(TestCaseError::fail)?;
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------------------------

fn sample_batch(cumulative: bool) -> Batch {
    let t = if cumulative { Temporality::Cumulative } else { Temporality::Delta };
    let mut reg = Registry::new(Config::new("checkout").temporality(t).resource_attr("cloud.region", "eu-west"));
    reg.begin(1_700_000_000_000_000_000);
    let c = reg.counter("http.requests", InstrumentOptions::unit("{request}").description("Requests")).unwrap();
    let u = reg.up_down_counter("inflight", InstrumentOptions::default()).unwrap();
    let g = reg.gauge("temp", InstrumentOptions::unit("Cel")).unwrap();
    let h = reg.histogram("latency", InstrumentOptions::unit("ms").bounds(&[0.5, 1.0, 2.5, 10.0])).unwrap();
    for i in 0..12 {
        let a: [Attr<'_>; 3] =
            [("route", ["/a", "/b", "/ü"][i % 3].into()), ("ok", (i % 2 == 0).into()), ("n", (i as i64 % 4).into())];
        c.add(&mut reg, 1.0, &a);
        u.add(&mut reg, -(i as f64), &a[..1]);
        g.set(&mut reg, 0.1 * i as f64, &a[1..]);
        h.record(&mut reg, i as f64 * 0.75, &a);
        c.add(&mut reg, f64::NAN, &[]); // refused and counted: non-zero stats in the batch
    }
    reg.collect(1_700_000_000_250_000_000)
}

fn malformed(r: Result<Batch, Error>) -> &'static str {
    match r {
        Err(Error::Malformed { reason }) => reason,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn sample_batches_round_trip_and_carry_stats() {
    for cumulative in [false, true] {
        let b = sample_batch(cumulative);
        assert!(b.stats.rejected_non_finite > 0);
        assert!(b.metrics.len() >= 4);
        round_trip(&b).unwrap();
    }
}

#[test]
fn every_prefix_is_refused() {
    for cumulative in [false, true] {
        let bytes = compact::encode(&sample_batch(cumulative));
        for n in 0..bytes.len() {
            malformed(compact::decode(&bytes[..n]));
        }
        assert!(compact::decode(&bytes).is_ok());
    }
}

#[test]
fn every_prefix_of_arbitrary_batches_is_refused() {
    runner(48)
        .run(&batch(), |b| {
            let bytes = compact::encode(&b);
            for n in 0..bytes.len() {
                let refused = matches!(compact::decode(&bytes[..n]), Err(Error::Malformed { .. }));
                prop_assert!(refused, "prefix of {} bytes accepted", n);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn prefix_decoding_splits_a_stream_and_trailing_bytes_are_refused() {
    let a = compact::encode(&sample_batch(false));
    let b = compact::encode(&sample_batch(true));
    let stream = [a.as_slice(), b.as_slice()].concat();
    let limits = DecodeLimits::default();
    let (first, used) = compact::decode_prefix(&stream, &limits).unwrap();
    assert_eq!(used, a.len());
    assert_eq!(first, sample_batch(false));
    let (second, used2) = compact::decode_prefix(&stream[used..], &limits).unwrap();
    assert_eq!((second, used2), (sample_batch(true), b.len()));
    assert_eq!(malformed(compact::decode(&stream)), "trailing bytes after the message");
}

/// Whatever the decoder accepts is a valid batch: it encodes and decodes to itself.
fn accepted_is_stable(bytes: &[u8]) -> Result<(), String> {
    match compact::decode(bytes) {
        Ok(b) => round_trip(&b).map(|_| ()),
        Err(Error::Malformed { .. }) => Ok(()),
        Err(e) => Err(format!("unexpected error kind {e:?}")),
    }
}

#[test]
fn every_single_bit_flip_is_handled() {
    let bytes = compact::encode(&sample_batch(true));
    let mut accepted = 0;
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut m = bytes.clone();
            m[i] ^= 1 << bit;
            accepted_is_stable(&m).unwrap();
            accepted += compact::decode(&m).is_ok() as usize;
        }
    }
    // Some flips land in values (a count, a timestamp) and give another valid batch; most break it.
    assert!(accepted < bytes.len() * 8);
}

#[test]
fn random_bytes_and_random_mutations_never_panic() {
    let valid = compact::encode(&sample_batch(false));
    let header = valid[..4].to_vec();
    let strategy = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..600),
        // Past the magic and version, so the body parser sees the noise.
        prop::collection::vec(any::<u8>(), 0..600).prop_map(move |tail| [header.as_slice(), &tail].concat()),
        // Valid encodings with a few bytes overwritten, inserted or removed.
        (prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)).prop_map(move |edits| {
            let mut m = valid.clone();
            for (at, byte, how) in edits {
                if m.is_empty() {
                    break;
                }
                let i = at.index(m.len());
                match how {
                    0 => m[i] = byte,
                    1 => m.insert(i, byte),
                    _ => {
                        m.remove(i);
                    }
                }
            }
            m
        }),
    ];
    runner(20_000)
        .run(&strategy, |bytes| {
            accepted_is_stable(&bytes).map_err(TestCaseError::fail)?;
            Ok(())
        })
        .unwrap();
}

/// An empty, valid message: scope strings only, no attributes, no metrics, window [0, 5].
fn empty_message() -> Message<'static> {
    Message {
        magic: compact::MAGIC,
        version: compact::VERSION,
        strings: vec![SCOPE_NAME, SCOPE_VERSION],
        values: vec![],
        sets: vec![],
        scope_name: 0,
        scope_version: 1,
        temporality: wire::Temporality::Delta,
        start_unix_nano: 0,
        window_nanos: 5,
        stats: wire::Stats {
            rejected_non_finite: 0,
            rejected_negative: 0,
            rejected_invalid_handle: 0,
            overflowed: 0,
            attributes_dropped: 0,
            attributes_truncated: 0,
            clock_skew: 0,
        },
        resource: vec![],
        metrics: vec![],
        scope_section: None,
    }
}

/// The message's bytes, its scope section (version 3) after them.
fn bytes(m: &Message<'_>) -> Vec<u8> {
    let mut b = postcard::to_allocvec(m).unwrap();
    if let Some(s) = &m.scope_section {
        b.extend(postcard::to_allocvec(s).unwrap());
    }
    b
}

fn decode_msg(m: &Message<'_>) -> Result<Batch, Error> {
    compact::decode(&bytes(m))
}

/// `empty_message` with one metric of the given kind and data, string 0 as name/unit/description.
fn with_metric(kind: wire::Kind, data: wire::Data<'static>, times: Vec<wire::Times>) -> Message<'static> {
    let mut m = empty_message();
    m.sets = vec![vec![]];
    m.metrics = vec![wire::Metric { name: 0, unit: 0, description: 0, kind, data, times }];
    m
}

fn n(v: f64) -> Number {
    Number::from_f64(v)
}

fn sum(monotonic: bool, points: Vec<wire::NumberPoint>) -> wire::Data<'static> {
    wire::Data::Sum { monotonic, temporality: wire::Temporality::Delta, points }
}

fn point(set: i64, value: f64) -> wire::NumberPoint {
    wire::NumberPoint { set, value: n(value) }
}

fn hist(bounds: &[f64], count: u64, buckets: &[u64]) -> wire::Data<'static> {
    wire::Data::Histogram {
        temporality: wire::Temporality::Cumulative,
        bounds: bounds.iter().map(|&b| n(b)).collect(),
        points: vec![wire::HistogramPoint {
            set: 0,
            count,
            sum: n(4.0),
            min: n(1.0),
            max: n(2.0),
            buckets: buckets.to_vec().into(),
        }],
    }
}

#[test]
fn hand_built_messages_decode_and_every_rule_is_enforced() {
    let empty = bytes(&empty_message());
    assert_eq!(&empty[..4], b"EMC\x02");
    let b = compact::decode(&empty).unwrap();
    assert_eq!((b.start_unix_nano, b.end_unix_nano, b.metrics.len()), (0, 5, 0));

    let mut bad_magic = empty.clone();
    bad_magic[0] = b'X';
    assert_eq!(malformed(compact::decode(&bad_magic)), "not a compact message (magic)");
    assert_eq!(malformed(compact::decode(b"EM")), "not a compact message (magic)");
    // Version 1 (the layout before postcard) and any other version are refused before parsing.
    for v in [1u8, 4, 255] {
        let mut m = empty.clone();
        m[3] = v;
        assert_eq!(malformed(compact::decode(&m)), "unsupported compact version");
    }
    // Version 3 must be followed by its scope section.
    let mut m = empty.clone();
    m[3] = compact::VERSION_SCOPES;
    assert_eq!(malformed(compact::decode(&m)), "truncated");
    // A varint longer than a u64 (as the string-table length).
    assert_eq!(malformed(compact::decode(&[&empty[..4], &[0xff; 11][..]].concat())), "bad varint");
    // Trailing bytes.
    assert_eq!(malformed(compact::decode(&[empty.as_slice(), &[0]].concat())), "trailing bytes after the message");
    // Unknown enum variant: temporality 2 (the byte after the two indices 0, 1).
    let mut m = empty.clone();
    let at = empty.len() - 12; // then start, window, 7 stats, resource, metrics: one byte each
    assert_eq!(m[at], 0);
    m[at] = 2;
    assert_eq!(malformed(compact::decode(&m)), "unknown enum variant");

    // A wrong scope name; another SDK version is kept, owned.
    let mut m = empty_message();
    m.strings[0] = "Edgemetrics";
    assert_eq!(malformed(decode_msg(&m)), "scope name is not edgemetrics");
    let mut m = empty_message();
    m.strings.push("9.9.9");
    m.scope_version = 2;
    assert_eq!(decode_msg(&m).unwrap().scope_version, Cow::<str>::Owned("9.9.9".into()));
    m.scope_version = 3;
    assert_eq!(malformed(decode_msg(&m)), "index out of range");

    // Invalid UTF-8 in the string table.
    let mut m = empty_message();
    m.strings.push("ab");
    let mut raw = bytes(&m);
    let at = raw.windows(2).position(|w| w == b"ab").unwrap();
    raw[at] = 0xff;
    assert_eq!(malformed(compact::decode(&raw)), "string is not UTF-8");

    // Attributes: key, value and value-string indices in range; a bad bool byte.
    let mut m = empty_message();
    m.strings.push("k");
    m.values = vec![
        wire::AttrValue::Bool(true),
        wire::AttrValue::Str(2),
        wire::AttrValue::I64(-3),
        wire::AttrValue::F64(n(0.5)),
    ];
    m.resource =
        vec![wire::Attr { key: 2, value: 0 }, wire::Attr { key: 2, value: 1 }, wire::Attr { key: 2, value: 3 }];
    let d = decode_msg(&m).unwrap();
    assert_eq!(&*d.resource, &[KeyValue::new("k", true), KeyValue::new("k", "k"), KeyValue::new("k", 0.5)]);
    m.resource = vec![wire::Attr { key: 9, value: 0 }];
    assert_eq!(malformed(decode_msg(&m)), "index out of range");
    m.resource = vec![wire::Attr { key: 2, value: 4 }];
    assert_eq!(malformed(decode_msg(&m)), "index out of range");
    m.resource = vec![];
    m.values.push(wire::AttrValue::Str(7)); // unused, still checked
    assert_eq!(malformed(decode_msg(&m)), "index out of range");
    m.values = vec![wire::AttrValue::Bool(true)];
    let mut raw = bytes(&m);
    let at = raw.windows(2).position(|w| w == [3, 1]).unwrap() + 1; // Bool is variant 3, then 0/1
    raw[at] = 2;
    assert_eq!(malformed(compact::decode(&raw)), "bad bool");

    // Forged lengths: 2^32 sets, strings or points in a few bytes are refused as truncated
    // without allocating for the claim (see `forged_lengths_allocate_nothing_for_the_claim`).
    let mut raw = empty[..4].to_vec();
    raw.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x10, 0]);
    assert_eq!(malformed(compact::decode(&raw)), "truncated");

    // Metric kind and data must agree.
    let ok = with_metric(wire::Kind::Counter, sum(true, vec![]), vec![]);
    assert_eq!(decode_msg(&ok).unwrap().metrics[0].kind, InstrumentKind::Counter);
    for (kind, data) in [
        (wire::Kind::Counter, sum(false, vec![])),
        (wire::Kind::UpDownCounter, sum(true, vec![])),
        (wire::Kind::Gauge, sum(false, vec![])),
        (wire::Kind::Histogram, wire::Data::Gauge { points: vec![] }),
        (wire::Kind::Counter, hist(&[], 0, &[0])),
    ] {
        assert_eq!(malformed(decode_msg(&with_metric(kind, data, vec![]))), "metric kind and data disagree");
    }

    // One counter point in set 0, in the window, value 3: the whole decoded point.
    let d = decode_msg(&with_metric(wire::Kind::Counter, sum(true, vec![point(0, 3.0)]), vec![])).unwrap();
    assert_eq!(
        d.metrics[0].data,
        MetricData::Sum {
            monotonic: true,
            temporality: Temporality::Delta,
            points: vec![NumberPoint {
                attributes: Arc::from(vec![]),
                start_unix_nano: 0,
                time_unix_nano: 5,
                value: 3.0
            }]
        }
    );
    // Set references: relative, in range.
    for rel in [1, -1, i64::MIN, i64::MAX] {
        let m = with_metric(wire::Kind::Counter, sum(true, vec![point(rel, 3.0)]), vec![]);
        assert_eq!(malformed(decode_msg(&m)), "index out of range");
    }
    let mut m = with_metric(wire::Kind::Counter, sum(true, vec![point(1, 1.0), point(-2, 2.0)]), vec![]);
    m.sets = vec![vec![], vec![]];
    decode_msg(&m).unwrap(); // set 1, then set 0 (expected 2, so -2)

    // Number forms: 12.5 as 125 / 10^1; out-of-range integer, decimal and bit forms.
    let with_value = |x: u128| {
        with_metric(wire::Kind::Counter, sum(true, vec![wire::NumberPoint { set: 0, value: Number(x) }]), vec![])
    };
    let d = decode_msg(&with_value(n(12.5).0)).unwrap();
    assert!(matches!(&d.metrics[0].data, MetricData::Sum { points, .. } if points[0].value == 12.5));
    let zz = |v: i64| ((v << 1) ^ (v >> 63)) as u64 as u128;
    assert_eq!(malformed(decode_msg(&with_value(zz((1 << 53) + 1) << 1))), "integer number form beyond 2^53");
    assert_eq!(malformed(decode_msg(&with_value(u128::MAX - 1))), "integer number form beyond 2^53");
    assert_eq!(
        malformed(decode_msg(&with_value(zz((1 << 53) + 1) << 4 | 1 << 1 | 1))),
        "decimal number form beyond 2^53"
    );
    assert_eq!(malformed(decode_msg(&with_value(1u128 << 68 | 1))), "number bits beyond 64");

    // Explicit times: start 0 - 1 wraps to u64::MAX, time 5 + 2; one entry per point or none.
    let t = wire::Times { start: -1, end: 2 };
    let d = decode_msg(&with_metric(wire::Kind::Counter, sum(true, vec![point(0, 1.0)]), vec![t])).unwrap();
    assert!(matches!(&d.metrics[0].data, MetricData::Sum { points, .. }
        if (points[0].start_unix_nano, points[0].time_unix_nano) == (u64::MAX, 7)));
    let m = with_metric(wire::Kind::Counter, sum(true, vec![point(0, 1.0)]), vec![t, t]);
    assert_eq!(malformed(decode_msg(&m)), "times count is not the point count");
    // Window end past u64::MAX.
    let mut m = empty_message();
    m.start_unix_nano = u64::MAX;
    assert_eq!(malformed(decode_msg(&m)), "window end overflows");

    // Histograms.
    let h = |bounds: &[f64], count: u64, buckets: &[u64]| {
        decode_msg(&with_metric(wire::Kind::Histogram, hist(bounds, count, buckets), vec![]))
    };
    let d = h(&[1.0, 2.0], 3, &[1, 1, 1]).unwrap();
    assert!(
        matches!(&d.metrics[0].data, MetricData::Histogram { bounds, points, temporality: Temporality::Cumulative }
        if **bounds == [1.0, 2.0] && points[0].bucket_counts == [1, 1, 1] && points[0].sum == 4.0)
    );
    assert_eq!(malformed(h(&[2.0, 1.0], 3, &[1, 1, 1])), "histogram bounds not strictly increasing");
    assert_eq!(malformed(h(&[1.0, 1.0], 3, &[1, 1, 1])), "histogram bounds not strictly increasing");
    assert_eq!(malformed(h(&[1.0, f64::INFINITY], 3, &[1, 1, 1])), "histogram bound not finite");
    assert_eq!(malformed(h(&[f64::NAN], 2, &[1, 1])), "histogram bound not finite");
    assert_eq!(malformed(h(&[1.0, 2.0], 2, &[1, 1])), "bucket count is not bounds + 1");
    assert_eq!(malformed(h(&[1.0, 2.0], 4, &[1, 1, 1])), "bucket counts do not add up to the point count");
    assert_eq!(malformed(h(&[1.0, 2.0], 1, &[u64::MAX, u64::MAX, 1])), "bucket counts overflow");
}

#[test]
fn limits_bound_input_and_memory() {
    let bytes_ = compact::encode(&sample_batch(false));
    let tight = DecodeLimits { max_input: bytes_.len() - 1, ..DecodeLimits::default() };
    assert_eq!(malformed(compact::decode_with(&bytes_, &tight)), "input larger than the configured limit");
    assert_eq!(malformed(compact::decode(&vec![0u8; (1 << 20) + 1])), "input larger than the configured limit");
    // The parsed message's bound alone can exceed the memory limit.
    let small = DecodeLimits { max_memory: bytes_.len() * compact::WIRE_BYTES_PER_INPUT_BYTE - 1, ..tight };
    let small = DecodeLimits { max_input: usize::MAX, ..small };
    assert_eq!(malformed(compact::decode_with(&bytes_, &small)), "decoded batch exceeds the memory limit");

    // One 60 KB string used as key and value of 20 000 resource attributes: 2.4 GB if every copy
    // were made. The budget stops it long before.
    let big = "x".repeat(60_000);
    let mut m = empty_message();
    m.strings.push(&big);
    m.values = vec![wire::AttrValue::Str(2)];
    m.resource = vec![wire::Attr { key: 2, value: 0 }; 20_000];
    let msg = bytes(&m);
    assert!(msg.len() < 200_000);
    assert_eq!(malformed(compact::decode(&msg)), "decoded batch exceeds the memory limit");
    // The same message with 3 such attributes decodes: the budget, not a format error, refused it.
    m.resource.truncate(3);
    assert_eq!(decode_msg(&m).unwrap().resource.len(), 3);
}

// ---------------------------------------------------------------------------------------------
// Memory: a counting allocator (per thread, so parallel tests do not disturb each other)
// ---------------------------------------------------------------------------------------------

#[path = "common/counting.rs"]
mod counting;
use counting::peak_of;

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

/// Every hostile shape of length prefix, decoded under a tight memory limit: the peak heap stays
/// within the limit, and the claim itself allocates nothing beyond the input-based bound.
#[test]
fn forged_lengths_allocate_nothing_for_the_claim() {
    let head = bytes(&empty_message())[..4].to_vec();
    let claim = [0xff, 0xff, 0xff, 0xff, 0x0f]; // 2^32 - 1
    let mut cases: Vec<Vec<u8>> = vec![
        // 2^32 strings, then a few empty ones.
        [&head[..], &claim, &[0; 64]].concat(),
        // 2^32 values; 2^32 sets of empty sets; a set claiming 2^32 attributes.
        [&head[..], &[2, 11], b"edgemetrics", &[0], &claim, &[0; 64]].concat(),
        [&head[..], &[0, 0], &claim, &[0; 256]].concat(),
        [&head[..], &[0, 0, 1], &claim, &[0; 256]].concat(),
    ];
    // Many metrics / points / buckets claimed inside an otherwise valid message.
    let m = with_metric(wire::Kind::Histogram, hist(&[1.0, 2.0], 3, &[1, 1, 1]), vec![]);
    let valid = bytes(&m);
    for at in 4..valid.len() {
        let mut c = valid[..at].to_vec();
        c.extend_from_slice(&claim);
        c.extend_from_slice(&[1; 300]);
        cases.push(c);
    }
    let limits = DecodeLimits { max_input: 4096, max_memory: 4096 * compact::WIRE_BYTES_PER_INPUT_BYTE + 65_536 };
    let mut worst = 0f64;
    for c in &cases {
        let (r, peak) = peak_of(|| compact::decode_with(c, &limits));
        assert!(r.is_err(), "a forged length was accepted");
        assert!(peak <= limits.max_memory, "peak {peak} B over the limit for {} input bytes", c.len());
        worst = worst.max(peak as f64 / c.len() as f64);
    }
    eprintln!("forged lengths: {} cases, worst peak heap {worst:.1} B per input byte", cases.len());
}

/// The documented figure: 4 × 24 (an empty attribute set: a 24-byte `Vec` from one byte).
#[cfg(target_pointer_width = "64")]
#[test]
fn wire_bound_is_96_bytes_per_input_byte_on_64_bit() {
    assert_eq!(compact::WIRE_BYTES_PER_INPUT_BYTE, 96);
}

#[test]
fn mutated_messages_stay_within_the_memory_limit() {
    let valid = compact::encode(&sample_batch(true));
    let limits = DecodeLimits { max_input: 1 << 16, max_memory: valid.len() * compact::WIRE_BYTES_PER_INPUT_BYTE * 2 };
    let strategy = (prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)).prop_map(move |edits| {
        let mut m = valid.clone();
        for (at, byte) in edits {
            let i = at.index(m.len());
            m[i] = byte;
        }
        m
    });
    runner(3000)
        .run(&strategy, |m| {
            let (_, peak) = peak_of(|| compact::decode_with(&m, &limits));
            prop_assert!(peak <= limits.max_memory, "peak {} over {}", peak, limits.max_memory);
            Ok(())
        })
        .unwrap();
}

/// Version 3: the scope section's rules (one scope per metric, indices in range, string indices
/// valid, version and section agreeing).
#[test]
fn scope_section_rules_are_enforced() {
    let counter = || wire::Data::Sum { monotonic: true, temporality: wire::Temporality::Delta, points: vec![] };
    let mut m = with_metric(wire::Kind::Counter, counter(), vec![]);
    m.strings.extend(["lib", "1.0"]);
    m.version = compact::VERSION_SCOPES;
    m.scope_section =
        Some(wire::ScopeSection { scopes: vec![wire::ScopeRef { name: 2, version: 3 }], metric_scopes: vec![1] });
    let b = decode_msg(&m).unwrap();
    assert_eq!(b.scopes, vec![Scope { name: "lib".into(), version: "1.0".into() }]);
    assert_eq!(b.scope_of(&b.metrics[0]), ("lib", "1.0"));
    assert_eq!(compact::decode(&compact::encode(&b)).unwrap(), b);

    let with = |f: &dyn Fn(&mut Message<'static>)| {
        let mut x = m.clone();
        f(&mut x);
        malformed(decode_msg(&x))
    };
    assert_eq!(
        with(&|x| x.scope_section.as_mut().unwrap().metric_scopes = vec![]),
        "scope section does not name one scope per metric"
    );
    assert_eq!(with(&|x| x.scope_section.as_mut().unwrap().metric_scopes = vec![2]), "metric scope out of range");
    assert_eq!(with(&|x| x.scope_section.as_mut().unwrap().scopes[0].version = 9), "index out of range");
    // A version-2 message carries no section: its bytes end before one, so one is trailing.
    assert_eq!(with(&|x| x.version = compact::VERSION), "trailing bytes after the message");
}

/// `tests/vectors/compact_scopes.bin`: a batch with two scopes (version 3). Version-2 vectors
/// (`compact.bin`) are unchanged: a batch in the default scope alone is still written as version 2.
#[test]
fn golden_vector_with_two_scopes() {
    let mut reg = Registry::new(Config::new("checkout").self_metrics(false));
    reg.begin(1_700_000_000_000_000_000);
    let a = reg.counter("jobs", InstrumentOptions::unit("{job}")).unwrap();
    let b = reg.counter("jobs", InstrumentOptions::unit("{job}").scope("queue-lib", "2.1.0")).unwrap();
    a.add(&mut reg, 1.0, &[]);
    b.add(&mut reg, 5.0, &[("queue", "mail".into())]);
    let batch = reg.collect(1_700_000_000_250_000_000);
    let bytes = compact::encode(&batch);
    assert_eq!(&bytes[..4], b"EMC\x03");
    scenario::check_vector("compact_scopes.bin", &bytes);
    let back = compact::decode(&bytes).unwrap();
    assert_eq!(back, batch);
    let scopes: Vec<_> = back.metrics.iter().map(|m| (back.scope_of(m), &*m.name)).collect();
    assert_eq!(scopes, [(("edgemetrics", SCOPE_VERSION), "jobs"), (("queue-lib", "2.1.0"), "jobs")]);
    // The relay path: OTLP of the decoded message equals OTLP of the batch (one ScopeMetrics each).
    assert_eq!(compact::to_otlp(&bytes).unwrap(), otlp::encode(&batch));
}

// ---------------------------------------------------------------------------------------------
// Golden vector
// ---------------------------------------------------------------------------------------------

/// `tests/vectors/compact.bin`: the shared scenario's last batch. The JS package replays the same
/// scenario and compares its bytes with this file (`js/test/api.test.mjs`).
#[test]
fn golden_vector_replays_the_scenario() {
    let s = scenario::load_default();
    let batch = scenario::vector_batch(&s);
    scenario::check_vector("compact.bin", &compact::encode(&batch));
    // The stored file, read with postcard alone, is the scenario's batch.
    let stored = std::fs::read(scenario::vectors_dir().join("compact.bin")).unwrap();
    let msg: Message = postcard::from_bytes(&stored).unwrap();
    assert_eq!((msg.magic, msg.version), (*b"EMC", 2));
    assert_eq!(msg.strings[msg.scope_name as usize], "edgemetrics");
    assert!(msg.strings.contains(&"/produit/é\"\\\n\t\u{1}"));
    same_batch(&batch, &msg.into_batch(&DecodeLimits::default()).unwrap()).unwrap();
    assert_eq!(compact::decode(&stored).unwrap(), batch);
}

/// `tests/vectors/compact_exp.bin`: a registry batch with two exponential histograms (one
/// downscaled), read back with postcard alone; then every validation rule of `ExpHistogram`.
#[test]
fn exponential_golden_vector_and_rules() {
    let mut reg = Registry::new(Config::new("exp").self_metrics(false));
    reg.begin(1_700_000_000_000_000_000);
    let a = reg.histogram("latency", InstrumentOptions::unit("ms").exponential(ExpConfig::default())).unwrap();
    let b = reg
        .histogram("size", InstrumentOptions::unit("By").exponential(ExpConfig { max_size: 4, max_scale: 4 }))
        .unwrap();
    for v in [0.0, 1.0, 1.5, 2.0, 12.5, 12.5, 300.0] {
        a.record(&mut reg, v, &[("route", "/cart".into())]);
    }
    for v in [1.0, 64.0, 1e6] {
        b.record(&mut reg, v, &[]);
    }
    let batch = reg.collect(1_700_000_000_250_000_000);
    scenario::check_vector("compact_exp.bin", &compact::encode(&batch));
    let stored = std::fs::read(scenario::vectors_dir().join("compact_exp.bin")).unwrap();
    let msg: Message = postcard::from_bytes(&stored).unwrap();
    let wire::Data::ExpHistogram { points, .. } = &msg.metrics[0].data else { panic!("variant") };
    assert_eq!((points[0].count, points[0].zero_count), (7, 1));
    let wire::Data::ExpHistogram { points, .. } = &msg.metrics[1].data else { panic!("variant") };
    // 1 ..= 1e6 (about 20 octaves) in 4 buckets: 8 octaves per bucket, scale -3. Powers of two
    // close their bucket: 1 = 2^0 ends bucket -1, 64 = 2^6 ends bucket 0, 1e6 ≈ 2^19.9 is in 2.
    assert_eq!(
        (points[0].scale, points[0].positive.offset, &*points[0].positive.counts),
        (-3, -1, &[1u64, 1, 0, 1][..])
    );
    same_batch(&batch, &msg.into_batch(&DecodeLimits::default()).unwrap()).unwrap();
    round_trip(&batch).unwrap();

    // Every rule: change one field of a valid point, expect its message.
    let valid = || wire::ExpHistogramPoint {
        set: 0,
        count: 3,
        sum: n(4.0),
        min: n(0.0),
        max: n(2.0),
        scale: 1,
        zero_count: 1,
        zero_threshold: n(0.0),
        positive: wire::ExpBuckets { offset: -1, counts: vec![1, 0, 1].into() },
        negative: wire::ExpBuckets { offset: 0, counts: vec![].into() },
    };
    let msg = |p: wire::ExpHistogramPoint<'static>| {
        with_metric(
            wire::Kind::Histogram,
            wire::Data::ExpHistogram { temporality: wire::Temporality::Delta, points: vec![p] },
            vec![],
        )
    };
    let ok = decode_msg(&msg(valid())).unwrap();
    let MetricData::ExponentialHistogram { points, .. } = &ok.metrics[0].data else { panic!() };
    assert_eq!(points[0].hist.positive, ExpBuckets { offset: -1, counts: vec![1, 0, 1] });
    type Change = fn(&mut wire::ExpHistogramPoint<'static>);
    let cases: [(Change, &str); 6] = [
        (|p| p.count = 4, "exponential histogram count differs from the sum of its buckets"),
        (|p| p.scale = 21, "exponential histogram scale out of -10..=20"),
        (|p| p.scale = -11, "exponential histogram scale out of -10..=20"),
        (|p| p.zero_threshold = n(-1.0), "exponential histogram zero threshold must be finite and >= 0"),
        (|p| p.zero_threshold = n(f64::NAN), "exponential histogram zero threshold must be finite and >= 0"),
        (|p| p.positive.offset = i32::MAX - 1, "exponential histogram bucket index out of range"),
    ];
    for (change, want) in cases {
        let mut p = valid();
        change(&mut p);
        assert_eq!(malformed(decode_msg(&msg(p))), want);
    }
    let mut p = valid();
    p.count = u64::MAX;
    p.zero_count = u64::MAX;
    assert_eq!(malformed(decode_msg(&msg(p))), "exponential histogram counts overflow");
    // Kind and data must agree.
    let wrong = with_metric(
        wire::Kind::Gauge,
        wire::Data::ExpHistogram { temporality: wire::Temporality::Delta, points: vec![valid()] },
        vec![],
    );
    assert_eq!(malformed(decode_msg(&wrong)), "metric kind and data disagree");
}

/// The worked example of `tests/vectors/COMPACT.md`, byte for byte.
#[test]
fn spec_example_bytes() {
    let spec = std::fs::read_to_string(scenario::vectors_dir().join("COMPACT.md")).unwrap();
    let hex: String = spec
        .split("```hex\n")
        .nth(1)
        .and_then(|r| r.split("```").next())
        .unwrap()
        .lines()
        .map(|l| l.split('#').next().unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    let spec_bytes: Vec<u8> = hex
        .split_whitespace()
        .flat_map(|t| {
            if let Some(text) = t.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                text.as_bytes().to_vec()
            } else {
                vec![u8::from_str_radix(t, 16).unwrap()]
            }
        })
        .collect();
    let mut reg = Registry::new(Config::new("svc").self_metrics(false));
    reg.begin(1000);
    let c = reg.counter("hits", InstrumentOptions::default()).unwrap();
    c.add(&mut reg, 3.0, &[("route", "/cart".into())]);
    let mut batch = reg.collect(1250);
    batch.resource = Arc::from(vec![]);
    batch.scope_version = Cow::Borrowed("0.1.0");
    assert_eq!(compact::encode(&batch), spec_bytes);
    assert_eq!(compact::decode(&spec_bytes).unwrap(), batch);
}

// ---------------------------------------------------------------------------------------------
// Size
// ---------------------------------------------------------------------------------------------

/// The 1000-series batch: per series a counter and a 15-bound histogram; attributes route × 10,
/// status × 5, region × 20. `fractional` records latencies with one decimal (their sums are
/// seldom short decimals in binary floating point); otherwise whole milliseconds.
fn thousand_series(fractional: bool) -> Batch {
    let mut reg = Registry::new(Config::new("size-test").resource_attr("cloud.provider", "cloudflare"));
    reg.begin(1_700_000_000_000_000_000);
    let c = reg
        .counter("http.server.requests", InstrumentOptions::unit("{request}").description("Requests served"))
        .unwrap();
    let h = reg
        .histogram(
            "http.server.duration",
            InstrumentOptions::unit("ms").description("Request latency").bounds(&DEFAULT_BOUNDS),
        )
        .unwrap();
    let routes: Vec<String> = (0..10).map(|i| format!("/api/v1/resource{i}")).collect();
    let statuses = ["200", "201", "404", "500", "503"];
    let regions: Vec<String> = (0..20).map(|i| format!("region-{i:02}")).collect();
    for i in 0..1000usize {
        let a: [Attr<'_>; 3] = [
            ("http.route", routes[i % 10].as_str().into()),
            ("http.status_code", statuses[(i / 10) % 5].into()),
            ("cloud.region", regions[(i / 50) % 20].as_str().into()),
        ];
        for j in 0..(1 + i % 5) {
            c.add(&mut reg, 1.0, &a);
            let ms = ((i * 37 + j * 101) % 4000) as f64;
            h.record(&mut reg, if fractional { ms / 10.0 + 0.1 } else { ms }, &a);
        }
    }
    let b = reg.collect(1_700_000_000_250_000_000);
    assert_eq!(b.metric("http.server.requests").unwrap().data.len(), 1000);
    b
}

#[test]
fn thousand_series_size() {
    for fractional in [false, true] {
        let b = thousand_series(fractional);
        let compact_bytes = round_trip(&b).unwrap();
        let otlp_bytes = otlp::encode(&b);
        let (c, o) = (compact_bytes.len(), otlp_bytes.len());
        eprintln!(
            "1000-series batch (fractional latencies: {fractional}): compact {c} B, OTLP protobuf {o} B, ratio 1/{:.1}",
            o as f64 / c as f64
        );
        if let Some(dir) = std::env::var_os("COMPACT_SIZE_DIR") {
            let tag = if fractional { "fractional" } else { "integral" };
            std::fs::write(std::path::Path::new(&dir).join(format!("compact-{tag}.bin")), &compact_bytes).unwrap();
            std::fs::write(std::path::Path::new(&dir).join(format!("otlp-{tag}.bin")), &otlp_bytes).unwrap();
        }
        let (_, peak) = peak_of(|| compact::decode(&compact_bytes).unwrap());
        eprintln!("  decoding it peaks at {peak} B of heap ({:.1} B per input byte)", peak as f64 / c as f64);
        assert!(peak <= c * compact::WIRE_BYTES_PER_INPUT_BYTE);
        // Hand-written format before postcard (version 1): 35,188 B integral, 42,029 B fractional.
        assert!(c <= if fractional { 46_232 } else { 38_707 }, "compact {c} B: more than 10 % over version 1");
        assert!(c * 8 <= o, "compact {c} B is more than 1/8 of OTLP {o} B");
        assert!(c <= 60_000, "compact {c} B is over 60 KB");
        assert_eq!(compact::to_otlp(&compact_bytes).unwrap(), otlp_bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// Fuzz seeds
// ---------------------------------------------------------------------------------------------

/// Valid messages for the fuzzer's starting corpus: the sample batches, a registry batch with
/// custom bounds and an empty one, plus a few arbitrary batches. They must all decode; with
/// `COMPACT_FUZZ_SEEDS=<dir>` they are also written there (`tests/fuzz/corpus/decode`).
#[test]
fn fuzz_seed_messages_decode() {
    let mut seeds = vec![
        compact::encode(&sample_batch(false)),
        compact::encode(&sample_batch(true)),
        compact::encode(&Registry::new(Config::new("empty")).collect(1)),
    ];
    let mut runner = TestRunner::deterministic();
    for _ in 0..16 {
        let b = batch().new_tree(&mut runner).unwrap().current();
        seeds.push(compact::encode(&b));
    }
    for (i, s) in seeds.iter().enumerate() {
        assert!(compact::decode(s).is_ok(), "seed {i}");
    }
    if let Some(dir) = std::env::var_os("COMPACT_FUZZ_SEEDS") {
        std::fs::create_dir_all(&dir).unwrap();
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(std::path::Path::new(&dir).join(format!("seed-{i:02}")), s).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Aggregating decoded batches (what the Tail Worker handler does)
// ---------------------------------------------------------------------------------------------

/// 50 producer invocations, each a delta batch sent as compact bytes, decoded and absorbed into
/// one window, give exactly the totals of one registry that saw every recording: sums add,
/// histogram buckets/count/sum add, min/max combine, gauges keep the last write.
#[test]
fn absorbing_decoded_batches_gives_exact_totals() {
    let mk = || Registry::new(Config::new("producer").self_metrics(false));
    let (mut each, mut all) = (mk(), mk());
    let mut window: Option<Batch> = None;
    let bounds = [1.0, 10.0, 100.0];
    for inv in 0..50u64 {
        for reg in [&mut each, &mut all] {
            let c = reg.counter("requests", InstrumentOptions::default()).unwrap();
            let u = reg.up_down_counter("inflight", InstrumentOptions::default()).unwrap();
            let g = reg.gauge("queue", InstrumentOptions::default()).unwrap();
            let h = reg.histogram("latency", InstrumentOptions::unit("ms").bounds(&bounds)).unwrap();
            let route: AttrValue<'_> = if inv % 3 == 0 { "/a".into() } else { "/b".into() };
            c.add(reg, 1.0 + (inv % 4) as f64, &[("route", route)]);
            u.add(reg, if inv % 2 == 0 { 2.0 } else { -1.0 }, &[]);
            g.set(reg, inv as f64, &[]);
            h.record(reg, (inv * 7 % 150) as f64 + 0.25, &[("route", route)]);
        }
        let t = (inv + 1) * 1_000_000;
        let bytes = compact::encode(&each.collect(t));
        let decoded = compact::decode(&bytes).unwrap();
        match &mut window {
            None => window = Some(decoded),
            Some(w) => assert!(edgemetrics::push::absorb(w, decoded).is_empty()),
        }
    }
    let window = window.unwrap();
    let whole = all.collect(50_000_000);
    let sorted = |b: &Batch, name: &str| -> Vec<String> {
        let mut v: Vec<String> = match &b.metric(name).unwrap().data {
            MetricData::Sum { points, .. } | MetricData::Gauge { points } => {
                points.iter().map(|p| format!("{:?}={}", p.attributes, p.value)).collect()
            }
            MetricData::Histogram { points, .. } => points
                .iter()
                .map(|p| format!("{:?}={} {} {} {} {:?}", p.attributes, p.count, p.sum, p.min, p.max, p.bucket_counts))
                .collect(),
            MetricData::ExponentialHistogram { points, .. } => {
                points.iter().map(|p| format!("{:?}={:?}", p.attributes, p.hist)).collect()
            }
        };
        v.sort();
        v
    };
    for name in ["requests", "inflight", "queue", "latency"] {
        assert_eq!(sorted(&window, name), sorted(&whole, name), "{name}");
    }
    assert_eq!(window.end_unix_nano, 50_000_000);
}
