//! The push plan over real sockets: a native host (std::net, with timeouts) drives a `Pusher`
//! against a fault-injecting receiver on 127.0.0.1, against a real Prometheus (remote write), and
//! through a 10 000-invocation soak with injected failures where every recorded increment is
//! either received exactly once or counted as dropped.

mod common;
#[path = "common/faulty.rs"]
mod faulty;

use std::time::{Duration, Instant};

use edgemetrics::push::{Config as PushConfig, Format, Outcome, Pusher, Reason, BATCH_ID_HEADER};
use edgemetrics::{Config, InstrumentOptions, Registry, Temporality};
use faulty::{drive, unix_ms, Clock, Fault, Faulty, Flush};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};
use prost::Message;

/// Sum of the `jobs` counter points in an OTLP protobuf body, decoded with the official types.
fn jobs_in(body: &[u8]) -> f64 {
    sum_in(body, "jobs")
}

/// Sum of the points of sum metric `name` in an OTLP protobuf body.
fn sum_in(body: &[u8], name: &str) -> f64 {
    let req = ExportMetricsServiceRequest::decode(body).expect("receiver got valid OTLP protobuf");
    let mut total = 0.0;
    for rm in &req.resource_metrics {
        for sm in &rm.scope_metrics {
            for m in sm.metrics.iter().filter(|m| m.name == name) {
                let Some(Data::Sum(sum)) = &m.data else { panic!("{name} is not a sum") };
                for p in &sum.data_points {
                    match p.value {
                        Some(number_data_point::Value::AsDouble(v)) => total += v,
                        Some(number_data_point::Value::AsInt(v)) => total += v as f64,
                        None => panic!("point without value"),
                    }
                }
            }
        }
    }
    total
}

fn received_total(rx: &Faulty) -> f64 {
    rx.stored().iter().map(|b| jobs_in(b)).sum()
}

/// Sum of the points of metric `name` over everything the receiver stored.
fn received_sum(rx: &Faulty, name: &str) -> f64 {
    rx.stored().iter().map(|b| sum_in(b, name)).sum()
}

struct Fn {
    reg: Registry,
    jobs: edgemetrics::Counter,
    pusher: Pusher,
    recorded: f64,
    dropped: f64,
}

impl Fn {
    fn new(endpoint: &str, tweak: impl FnOnce(PushConfig) -> PushConfig) -> Fn {
        let mut reg = Registry::new(Config::new("delivery-test").self_metrics(false));
        let jobs = reg.counter("jobs", InstrumentOptions::default()).unwrap();
        let cfg = PushConfig::new(endpoint, Format::OtlpProtobuf { gzip: false })
            .bearer("s3cr3t-token")
            .max_attempts(3)
            .attempt_timeout_ms(1_000)
            .min_attempt_ms(100)
            .backoff_ms(10, 50);
        let seed = (unix_ms() as u128) << 64 | std::process::id() as u128;
        Fn { reg, jobs, pusher: Pusher::new(tweak(cfg), seed).unwrap(), recorded: 0.0, dropped: 0.0 }
    }

    /// One invocation: record `v`, collect, push with `budget_ms` on the real clock.
    fn invoke(&mut self, v: f64, budget_ms: u64) -> Flush {
        let mut now = unix_ms();
        self.reg.begin(now * 1_000_000);
        if v > 0.0 {
            self.jobs.add(&mut self.reg, v, &[("route", "/pay".into())]);
            self.recorded += v;
        }
        let batch = self.reg.collect(now * 1_000_000);
        self.pusher.start(batch, now, budget_ms).unwrap();
        let f = drive(&mut self.pusher, Clock::Real, &mut now);
        self.dropped += f.report.dropped.counter_total;
        f
    }
}

fn partial_success_body(rejected: i64) -> Vec<u8> {
    ExportMetricsServiceResponse {
        partial_success: Some(ExportMetricsPartialSuccess {
            rejected_data_points: rejected,
            error_message: "1 point too old".into(),
        }),
    }
    .encode_to_vec()
}

struct Case {
    name: &'static str,
    script: Vec<Fault>,
    attempts: u32,
    outcome: Outcome,
    /// The value reaches the receiver in this flush.
    delivered_now: bool,
    /// The value is lost (4xx): counted drops must equal it.
    lost: bool,
}

fn case(
    name: &'static str,
    script: Vec<Fault>,
    attempts: u32,
    outcome: Outcome,
    delivered_now: bool,
    lost: bool,
) -> Case {
    Case { name, script, attempts, outcome, delivered_now, lost }
}

#[test]
fn every_status_class_and_transport_fault() {
    use Outcome::*;
    let rx = Faulty::start();
    let retry_after_s = |s: &str| Fault::Status(429, vec![("Retry-After".into(), s.into())]);
    let cases = vec![
        case("200", vec![Fault::Ok], 1, Delivered, true, false),
        case("400", vec![Fault::status(400)], 1, Failed(Reason::Rejected), false, true),
        case("401", vec![Fault::status(401)], 1, Failed(Reason::Unauthorized), false, true),
        case("403", vec![Fault::status(403)], 1, Failed(Reason::Unauthorized), false, true),
        case("413", vec![Fault::status(413)], 1, Failed(Reason::Rejected), false, true),
        case("429 Retry-After 1", vec![retry_after_s("1"), Fault::Ok], 2, Delivered, true, false),
        case("500 (OTLP: not retried)", vec![Fault::status(500)], 1, Failed(Reason::Rejected), false, true),
        case("502", vec![Fault::status(502), Fault::Ok], 2, Delivered, true, false),
        case("503", vec![Fault::status(503), Fault::Ok], 2, Delivered, true, false),
        case("504", vec![Fault::status(504), Fault::Ok], 2, Delivered, true, false),
        case("503 x3: exhausted, carried", vec![Fault::status(503); 3], 3, Failed(Reason::Exhausted), false, false),
        case("reset before read", vec![Fault::ResetBeforeRead, Fault::Ok], 2, Delivered, true, false),
        case("reset after store: deduplicated", vec![Fault::ResetAfterStore, Fault::Ok], 2, Delivered, true, false),
    ];
    let mut f = Fn::new(&rx.endpoint(), |c| c);
    // Value carried from a failed flush into the next one.
    let mut pending = 0.0;
    for (i, c) in cases.into_iter().enumerate() {
        rx.clear();
        rx.script(c.script.clone());
        let before_dropped = f.dropped;
        let v = (i + 1) as f64;
        let t = Instant::now();
        let flush = f.invoke(v, 3_000);
        let r = &flush.report;
        assert_eq!(r.outcome, c.outcome, "{}", c.name);
        assert_eq!(r.attempts, c.attempts, "{}: attempts", c.name);
        assert!(t.elapsed() < Duration::from_millis(3_300), "{}: deadline kept ({:?})", c.name, t.elapsed());
        assert!(r.finished_ms - r.started_ms <= 3_000, "{}", c.name);
        // Same idempotency key on every attempt the receiver read, and it is the report's id.
        let got = rx.received();
        let ids: Vec<_> = got.iter().map(|g| g.header(BATCH_ID_HEADER).unwrap().to_string()).collect();
        assert!(!ids.is_empty() || c.script == vec![Fault::ResetBeforeRead], "{}", c.name);
        assert!(ids.iter().all(|i| *i == r.batch_id_hex()), "{}: {ids:?}", c.name);
        assert!(got.iter().all(|g| g.header("authorization") == Some("Bearer s3cr3t-token")));
        // Counted drops equal the values actually lost.
        let dropped_now = f.dropped - before_dropped;
        let got_now = received_total(&rx);
        if c.delivered_now {
            let carried_in = if r.carried_in > 0 { std::mem::take(&mut pending) } else { 0.0 };
            assert_eq!(got_now, v + carried_in, "{}", c.name);
        }
        if r.carried_out > 0 {
            pending += v;
        }
        if c.lost {
            assert_eq!(dropped_now, v, "{}: dropped", c.name);
            assert_eq!(got_now, 0.0, "{}", c.name);
        } else {
            assert_eq!(dropped_now, 0.0, "{}", c.name);
        }
        if c.name.starts_with("429") {
            assert!(flush.waits.iter().any(|w| *w >= 900), "{}: honoured Retry-After: {:?}", c.name, flush.waits);
        }
        if c.name.starts_with("reset after") {
            assert_eq!(rx.duplicates(), 1, "the retry was recognised by its batch id");
            assert_eq!(rx.stored().len(), 1);
        }
    }
    // The carried `503 x3` value went out with the next batch.
    assert_eq!(pending, 0.0);
    assert_eq!(f.pusher.carried_points(), 0);
}

#[test]
fn partial_success_is_counted_and_not_retried() {
    let rx = Faulty::start();
    rx.script([Fault::OkBody(partial_success_body(1))]);
    let mut f = Fn::new(&rx.endpoint(), |c| c);
    let flush = f.invoke(5.0, 2_000);
    assert_eq!(flush.report.outcome, Outcome::Delivered);
    assert_eq!((flush.report.attempts, flush.report.rejected_points), (1, 1));
    assert_eq!(f.pusher.stats().rejected, 1);
    assert_eq!(rx.received().len(), 1);
}

#[test]
fn retry_after_http_date() {
    let rx = Faulty::start();
    // Two whole seconds ahead (HTTP dates have 1 s resolution).
    let at_s = unix_ms() / 1000 + 2;
    rx.script([Fault::Status(429, vec![("Retry-After".into(), faulty::imf_fixdate(at_s))]), Fault::Ok]);
    let mut f = Fn::new(&rx.endpoint(), |c| c);
    let flush = f.invoke(1.0, 5_000);
    assert_eq!((flush.report.outcome, flush.report.attempts), (Outcome::Delivered, 2));
    let got = rx.received();
    let retry_at = got[1].at;
    // The retry did not come before the date (measured on the receiver's side).
    assert!(unix_ms() >= at_s * 1000);
    assert!(retry_at.duration_since(got[0].at) >= Duration::from_millis(900), "{:?}", flush.waits);
    assert_eq!(received_total(&rx), 1.0);
}

#[test]
fn retry_after_beyond_deadline_gives_up_without_waiting() {
    let rx = Faulty::start();
    rx.script([Fault::Status(503, vec![("Retry-After".into(), "30".into())])]);
    let mut f = Fn::new(&rx.endpoint(), |c| c);
    let t = Instant::now();
    let flush = f.invoke(2.0, 2_000);
    assert_eq!(flush.report.outcome, Outcome::Failed(Reason::Deadline));
    assert!(t.elapsed() < Duration::from_millis(500), "{:?}", t.elapsed());
    assert_eq!(flush.report.carried_out, 1);
}

#[test]
fn slow_response_past_the_deadline() {
    let rx = Faulty::start();
    // The receiver takes 2.5 s and then fails (a gateway timeout: nothing stored).
    rx.script([Fault::Slow(Duration::from_millis(2_500), 504)]);
    let mut f = Fn::new(&rx.endpoint(), |c| c.attempt_timeout_ms(800));
    let t = Instant::now();
    let flush = f.invoke(3.0, 1_200);
    let r = &flush.report;
    assert_eq!(r.outcome, Outcome::Failed(Reason::Deadline));
    assert_eq!(r.last_error, Some(edgemetrics::push::TransportError::Timeout));
    assert!(r.attempts >= 1 && r.attempts <= 2);
    assert!(t.elapsed() <= Duration::from_millis(1_200 + 150), "deadline kept: {:?}", t.elapsed());
    assert!(r.ambiguous);
    assert_eq!(r.carried_out, 1);
    // Next invocation: the receiver is healthy again and gets both values.
    std::thread::sleep(Duration::from_millis(1_400)); // let the slow connection finish
    rx.clear();
    let flush = f.invoke(4.0, 2_000);
    assert!(flush.report.delivered());
    assert_eq!(received_total(&rx), 7.0);
    assert_eq!(f.dropped, 0.0);
}

#[test]
fn slow_success_after_timeout_is_at_least_once() {
    // The documented limit of carry-over: the receiver stored the batch but answered after the
    // client gave up. The report flags it as ambiguous; the carried value arrives again.
    let rx = Faulty::start();
    rx.script([Fault::Slow(Duration::from_millis(700), 200)]);
    let mut f = Fn::new(&rx.endpoint(), |c| c.attempt_timeout_ms(300).max_attempts(1));
    let flush = f.invoke(3.0, 1_000);
    assert_eq!(flush.report.outcome, Outcome::Failed(Reason::Exhausted));
    assert!(flush.report.ambiguous);
    std::thread::sleep(Duration::from_millis(600));
    let flush = f.invoke(0.0, 1_000);
    assert!(flush.report.delivered());
    assert_eq!(received_total(&rx), 6.0, "stored once late, once carried");
}

#[test]
fn refused_connection_then_recovery() {
    let port = common::free_port(); // bound then released: nothing listens there yet
    let mut f = Fn::new(&format!("http://127.0.0.1:{port}"), |c| c);
    let t = Instant::now();
    let flush = f.invoke(8.0, 2_000);
    let r = &flush.report;
    assert_eq!((r.outcome, r.attempts), (Outcome::Failed(Reason::Exhausted), 3));
    assert_eq!(r.last_error, Some(edgemetrics::push::TransportError::Refused));
    assert!(!r.ambiguous, "a refused connection never reached a receiver");
    assert!(t.elapsed() < Duration::from_millis(2_000));
    assert_eq!(f.pusher.carried_points(), 1);
    // The receiver comes up; the next invocation of the warm isolate sends the carried value
    // merged into its own batch: one request, both values.
    let rx = Faulty::start_on(port);
    let flush = f.invoke(2.0, 2_000);
    assert!(flush.report.delivered());
    assert_eq!(flush.report.carried_in, 1);
    assert_eq!(rx.received().len(), 1);
    assert_eq!(received_total(&rx), 10.0);
    assert_eq!(f.dropped, 0.0);
}

#[test]
fn remote_write_into_real_prometheus() {
    let prom = common::prometheus();
    let instance = format!("isolate-{}", std::process::id());
    let mut reg = Registry::new(
        Config::new("push-e2e")
            .temporality(Temporality::Cumulative)
            .resource_attr("service.instance.id", instance.as_str())
            .self_metrics(false),
    );
    let jobs = reg.counter("jobs", InstrumentOptions::default()).unwrap();
    let cfg = PushConfig::new(
        &format!("http://127.0.0.1:{}", prom.port),
        Format::RemoteWrite(edgemetrics::encode::remote_write::RemoteWriteConfig::default()),
    )
    .self_metrics(false);
    let mut pusher = Pusher::new(cfg, 42).unwrap();
    // Samples 20 s and 10 s ago (Prometheus refuses samples far from its clock); pushes now.
    let t0 = unix_ms() - 20_000;
    for (i, v) in [3.0, 4.0].into_iter().enumerate() {
        let t = t0 + i as u64 * 10_000;
        reg.begin(t * 1_000_000);
        jobs.add(&mut reg, v, &[]);
        let batch = reg.collect(t * 1_000_000);
        let mut now = unix_ms();
        pusher.start(batch, now, 5_000).unwrap();
        let flush = drive(&mut pusher, Clock::Real, &mut now);
        assert!(flush.report.delivered(), "{:?}", flush.report);
        assert_eq!(flush.report.last_status, Some(204));
    }
    let now = unix_ms();
    let text = common::prom_query(prom.port, &format!("jobs_total{{instance=\"{instance}\"}}"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rows = v["data"]["result"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{text}");
    assert_eq!(rows[0]["value"][1].as_str().unwrap(), "7", "{text}");
    // A delta batch is refused by the remote-write encoder: typed error, counted drop.
    let mut delta = Registry::new(Config::new("x").self_metrics(false));
    let c = delta.counter("jobs", InstrumentOptions::default()).unwrap();
    c.add(&mut delta, 1.0, &[]);
    let err = pusher.start(delta.collect(now * 1_000_000), now, 1_000).unwrap_err();
    assert!(matches!(err, edgemetrics::push::PushError::Encode(_)));
    assert_eq!(pusher.stats().dropped(edgemetrics::push::DropReason::Encode), 1);
}

#[test]
fn soak_10k_invocations_with_injected_failures() {
    const N: u64 = 10_000;
    let rx = Faulty::start();
    rx.set_random(Some((
        0x5eed,
        100, // 10 % of connections
        vec![
            Fault::status(503),
            Fault::status(429),
            Fault::status(502),
            Fault::status(504),
            Fault::ResetBeforeRead,
            Fault::status(500), // OTLP: permanent
            Fault::status(400),
            Fault::status(401),
        ],
    )));
    let mut reg = Registry::new(Config::new("soak").self_metrics(true));
    let jobs = reg.counter("jobs", InstrumentOptions::default()).unwrap();
    // Two attempts per batch, so that some batches exhaust them and are carried over.
    let cfg = PushConfig::new(&rx.endpoint(), Format::OtlpProtobuf { gzip: false })
        .max_attempts(2)
        .attempt_timeout_ms(2_000)
        .backoff_ms(50, 1_000);
    let mut pusher = Pusher::new(cfg, 0x0123_4567_89ab_cdef_u128 << 32 | 77).unwrap();
    let mut seed = 0xfeed_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let started = Instant::now();
    let mut now = 1_700_000_000_000u64; // virtual clock: waits jump, network stays real
    let (mut recorded, mut dropped) = (0.0f64, 0.0f64);
    let (mut retries, mut carried, mut dropped_points, mut failed, mut requests) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut invocations = 0u64;
    let mut drains = 0;
    while invocations < N || pusher.carried_points() > 0 {
        if invocations >= N {
            // Drain what is still carried, with the faults switched off.
            rx.set_random(None);
            drains += 1;
            assert!(drains <= 3, "carry not drained");
        }
        assert!(started.elapsed() < Duration::from_secs(55), "soak exceeded its time bound");
        now += 1_000;
        reg.begin(now * 1_000_000);
        if invocations < N {
            for route in ["/a", "/b", "/c"] {
                if next() % 2 == 0 {
                    let v = (next() % 100 + 1) as f64;
                    jobs.add(&mut reg, v, &[("route", route.into())]);
                    recorded += v;
                }
            }
        }
        let batch = reg.collect(now * 1_000_000);
        pusher.start(batch, now, 5_000).unwrap();
        let flush = drive(&mut pusher, Clock::Virtual, &mut now);
        let r = flush.report;
        dropped += r.dropped.counter_total;
        dropped_points += r.dropped.points;
        retries += r.retries as u64;
        carried += r.carried_out as u64;
        requests += r.attempts as u64;
        failed += matches!(r.outcome, Outcome::Failed(_)) as u64;
        invocations += 1;
    }
    let elapsed = started.elapsed();
    let received = received_total(&rx);
    eprintln!(
        "soak: invocations={invocations} (drain {drains}) requests={requests} connections={} faults_injected={} \
         retries={retries} failed_batches={failed} carried_points={carried} dropped_points={dropped_points} \
         recorded={recorded} received={received} dropped_value={dropped} duplicates_deduped={} time={elapsed:?}",
        rx.connections(),
        rx.injected(),
        rx.duplicates(),
    );
    assert_eq!(received + dropped, recorded, "received + counted drops == recorded, exactly");
    assert!(rx.injected() >= N / 20, "failures were injected");
    assert!(retries > 0 && carried > 0 && dropped > 0.0, "retries, carry-over and drops all exercised");
    assert_eq!(requests, rx.connections(), "one connection per attempt, nothing else");
    assert!(elapsed < Duration::from_secs(55));
    let stats = *pusher.stats();
    assert_eq!(stats.retries, retries);
    assert_eq!(stats.attempts, requests);
    // Self-metrics travelled in later batches: what arrived can only be part of what happened
    // (the last batch's own counts are still waiting, some batches carrying them were dropped).
    let sdk_attempts = received_sum(&rx, "edgemetrics.sdk.push.attempts");
    let sdk_retries = received_sum(&rx, "edgemetrics.sdk.push.retries");
    eprintln!("soak self-metrics received: attempts={sdk_attempts} retries={sdk_retries}");
    assert!(sdk_attempts > 0.9 * requests as f64 && sdk_attempts <= requests as f64);
    assert!(sdk_retries <= retries as f64);
}

#[test]
fn flush_policy_aggregates_across_invocations() {
    let rx = Faulty::start();
    let mut f = Fn::new(&rx.endpoint(), |c| c.self_metrics(false));
    let mut policy = edgemetrics::push::FlushPolicy::new(4, 60_000);
    let mut flushed = 0;
    for i in 0..10u64 {
        let mut now = unix_ms();
        if i == 0 {
            f.reg.begin(now * 1_000_000);
        }
        f.jobs.add(&mut f.reg, (i + 1) as f64, &[]);
        f.recorded += (i + 1) as f64;
        // The last invocation forces a flush (e.g. the host knows the isolate is going away).
        if policy.should_flush(now) || i == 9 {
            policy.reset();
            let batch = f.reg.collect(now * 1_000_000);
            f.pusher.start(batch, now, 2_000).unwrap();
            let flush = drive(&mut f.pusher, Clock::Real, &mut now);
            assert!(flush.report.delivered());
            flushed += 1;
        }
    }
    assert_eq!(flushed, 3, "invocations 4, 8 and the forced 10th");
    assert_eq!(rx.connections(), 3, "one request per flushing invocation, none otherwise");
    assert_eq!(received_total(&rx), f.recorded);
}
