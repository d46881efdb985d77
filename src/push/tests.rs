//! Unit tests of the delivery state machine, the carry-over merge and secret redaction.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::registry::SELF_PREFIX;
use crate::Temporality;
use crate::{InstrumentOptions, KeyValue, MetricData, Registry};

const T0: u64 = 1_700_000_000_000;
const TOKEN: &str = "tok-SECRET-123";
const PASSWORD: &str = "pw-SECRET-456";
const API_KEY: &str = "key-SECRET-789";

fn registry() -> (Registry, crate::Counter) {
    let mut reg = Registry::new(crate::Config::new("svc").self_metrics(false));
    let c = reg.counter("jobs", InstrumentOptions::unit("1")).unwrap();
    (reg, c)
}

fn batch_of(reg: &mut Registry, c: crate::Counter, v: f64, now_ms: u64) -> Batch {
    c.add(reg, v, &[("k", "a".into())]);
    reg.collect(now_ms * 1_000_000)
}

fn cfg() -> Config {
    Config::new("http://127.0.0.1:4318", Format::OtlpProtobuf { gzip: false })
        .self_metrics(false)
        .backoff_ms(100, 1_000)
        .max_attempts(4)
}

fn counter_value(b: &Batch, name: &str) -> f64 {
    match b.metric(name).map(|m| &m.data) {
        Some(MetricData::Sum { points, .. }) => points.iter().map(|p| p.value).sum(),
        _ => 0.0,
    }
}

/// Sends whatever `next` asks for, answering from `answers` (status or transport error), and
/// returns the report plus the batch-id header of each attempt and the wait times.
fn drive(p: &mut Pusher, now: &mut u64, answers: &[Result<u16, TransportError>]) -> (Report, Vec<String>, Vec<u64>) {
    let mut ids = Vec::new();
    let mut waits = Vec::new();
    let mut answers = answers.iter();
    for _ in 0..100 {
        match p.next(*now) {
            Action::Send(req) => {
                ids.push(req.header(BATCH_ID_HEADER).unwrap().to_string());
                match answers.next().expect("more attempts than answers") {
                    Ok(s) => p.on_response(&Response::status(*s), *now).unwrap(),
                    Err(e) => p.on_error(*e, *now).unwrap(),
                }
            }
            Action::Wait { until_ms } => {
                assert!(until_ms > *now);
                waits.push(until_ms - *now);
                *now = until_ms;
            }
            Action::Done(r) => return (r.clone(), ids, waits),
            a => panic!("unexpected {a:?}"),
        }
    }
    panic!("did not finish in 100 steps")
}

#[test]
fn status_classes_per_protocol() {
    use StatusClass::*;
    let table: [(u16, [StatusClass; 4]); 14] = [
        (200, [Success; 4]),
        (204, [Success; 4]),
        (301, [Permanent; 4]),
        (400, [Permanent; 4]),
        (401, [Unauthorized; 4]),
        (403, [Unauthorized; 4]),
        (404, [Permanent; 4]),
        (413, [Permanent; 4]),
        (429, [Retryable; 4]),
        (500, [Permanent, Retryable, Retryable, Retryable]),
        (501, [Permanent, Retryable, Permanent, Retryable]),
        (502, [Retryable; 4]),
        (503, [Retryable; 4]),
        (504, [Retryable; 4]),
    ];
    let protos = [Protocol::Otlp, Protocol::RemoteWrite, Protocol::Pushgateway, Protocol::Compact];
    for (status, classes) in table {
        for (p, c) in protos.iter().zip(classes) {
            assert_eq!(p.classify(status), c, "{p:?} {status}");
        }
    }
    assert_eq!(Protocol::Otlp.classify(505), Permanent);
    assert_eq!(Protocol::RemoteWrite.classify(599), Retryable);
    assert_eq!(Protocol::Pushgateway.classify(505), Permanent);
}

#[test]
fn delivered_first_try_and_request_shape() {
    let (mut reg, c) = registry();
    let mut p = Pusher::new(cfg().bearer(TOKEN), 1).unwrap();
    assert!(matches!(p.next(T0), Action::Idle));
    p.start(batch_of(&mut reg, c, 2.0, T0), T0, 1_000).unwrap();
    match p.next(T0) {
        Action::Send(req) => {
            assert_eq!(req.method, crate::Method::Post);
            assert_eq!(req.url, "http://127.0.0.1:4318/v1/metrics");
            assert_eq!(req.header("content-type"), Some("application/x-protobuf"));
            assert_eq!(req.header("authorization"), Some("Bearer tok-SECRET-123"));
            assert_eq!(req.header(BATCH_ID_HEADER).unwrap().len(), 32);
            assert!(!req.gzip && req.header("content-encoding").is_none());
            assert_eq!(req.timeout_ms, 1_000); // min(attempt timeout 5 s, 1 s budget)
            assert!(!req.body.is_empty());
        }
        a => panic!("{a:?}"),
    }
    assert!(matches!(p.next(T0), Action::Awaiting));
    p.on_response(&Response::status(200), T0 + 5).unwrap();
    let Action::Done(r) = p.next(T0 + 5) else { panic!() };
    assert_eq!((r.outcome, r.attempts, r.retries, r.last_status), (Outcome::Delivered, 1, 0, Some(200)));
    assert!(r.dropped.is_empty() && r.carried_out == 0);
    assert_eq!(p.on_response(&Response::status(200), T0), Err(PushError::NotAwaiting));
    assert_eq!(p.on_error(TransportError::Reset, T0), Err(PushError::NotAwaiting));
}

#[test]
fn retryable_statuses_retry_with_same_id_and_new_id_next_batch() {
    let (mut reg, c) = registry();
    let mut p = Pusher::new(cfg(), 2).unwrap();
    let mut now = T0;
    p.start(batch_of(&mut reg, c, 1.0, now), now, 10_000).unwrap();
    let (r, ids, waits) = drive(&mut p, &mut now, &[Ok(429), Ok(502), Ok(503), Ok(200)]);
    assert_eq!((r.outcome, r.attempts, r.retries), (Outcome::Delivered, 4, 3));
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert_eq!(ids[0], r.batch_id_hex());
    // Full jitter: waits within 0..=min(cap, base*2^(n-1)); zero waits do not show as Wait.
    for (i, w) in waits.iter().enumerate() {
        assert!(*w <= 100 << i, "wait {i}: {w}");
    }
    p.start(batch_of(&mut reg, c, 1.0, now), now, 10_000).unwrap();
    let (r2, ids2, _) = drive(&mut p, &mut now, &[Ok(504), Ok(200)]);
    assert!(r2.delivered());
    assert_ne!(ids2[0], ids[0]);
    assert_eq!(ids2[0], ids2[1]);
}

#[test]
fn auth_failures_are_not_retried_and_reported_distinctly() {
    for status in [401u16, 403] {
        let (mut reg, c) = registry();
        let mut p = Pusher::new(cfg(), 3).unwrap();
        let mut now = T0;
        p.start(batch_of(&mut reg, c, 5.0, now), now, 10_000).unwrap();
        let (r, ids, _) = drive(&mut p, &mut now, &[Ok(status)]);
        assert_eq!(r.outcome, Outcome::Failed(Reason::Unauthorized));
        assert_eq!(ids.len(), 1);
        assert_eq!(r.dropped.points, 1);
        assert_eq!(r.dropped.counter_total, 5.0);
        assert_eq!(p.carried_points(), 0);
        assert_eq!(p.stats().failures(Reason::Unauthorized), 1);
        assert_eq!(p.stats().dropped(DropReason::Unauthorized), 1);
    }
}

#[test]
fn permanent_statuses_drop_and_count() {
    for status in [400u16, 404, 413, 500, 501] {
        let (mut reg, c) = registry();
        let mut p = Pusher::new(cfg(), 4).unwrap();
        let mut now = T0;
        p.start(batch_of(&mut reg, c, 7.0, now), now, 10_000).unwrap();
        let (r, ids, _) = drive(&mut p, &mut now, &[Ok(status)]);
        assert_eq!(r.outcome, Outcome::Failed(Reason::Rejected), "{status}");
        assert_eq!(ids.len(), 1, "OTLP never retries {status}");
        assert_eq!(r.dropped.counter_total, 7.0);
        assert_eq!(p.carried_points(), 0);
    }
}

#[test]
fn retry_after_seconds_is_honoured_exactly() {
    let (mut reg, c) = registry();
    let mut p = Pusher::new(cfg(), 5).unwrap();
    p.start(batch_of(&mut reg, c, 1.0, T0), T0, 10_000).unwrap();
    assert!(matches!(p.next(T0), Action::Send(_)));
    let h = [("Retry-After", "3")];
    p.on_response(&Response { status: 429, headers: &h, body: b"" }, T0 + 10).unwrap();
    let Action::Wait { until_ms } = p.next(T0 + 10) else { panic!() };
    assert_eq!(until_ms, T0 + 10 + 3_000);
    assert!(matches!(p.next(T0 + 3_009), Action::Wait { .. }));
    assert!(matches!(p.next(T0 + 3_010), Action::Send(_)));
}

#[test]
fn retry_after_http_date_is_honoured() {
    let (mut reg, c) = registry();
    let mut p = Pusher::new(cfg(), 6).unwrap();
    // 2023-11-14T22:13:20Z = 1_700_000_000 s.
    let now = 1_700_000_000_000 - 1_500;
    p.start(batch_of(&mut reg, c, 1.0, now), now, 10_000).unwrap();
    assert!(matches!(p.next(now), Action::Send(_)));
    let h = [("retry-after", "Tue, 14 Nov 2023 22:13:20 GMT")];
    p.on_response(&Response { status: 503, headers: &h, body: b"" }, now).unwrap();
    let Action::Wait { until_ms } = p.next(now) else { panic!() };
    assert_eq!(until_ms, 1_700_000_000_000);
    // A malformed Retry-After falls back to backoff (within the cap).
    assert!(matches!(p.next(until_ms), Action::Send(_)));
    let h = [("retry-after", "later please")];
    p.on_response(&Response { status: 503, headers: &h, body: b"" }, until_ms).unwrap();
    match p.next(until_ms) {
        Action::Wait { until_ms: u } => assert!(u - until_ms <= 200),
        Action::Send(_) => {}
        a => panic!("{a:?}"),
    }
}

#[test]
fn retry_after_past_deadline_gives_up_at_once_and_carries() {
    let (mut reg, c) = registry();
    let mut p = Pusher::new(cfg(), 7).unwrap();
    p.start(batch_of(&mut reg, c, 4.0, T0), T0, 2_000).unwrap();
    assert!(matches!(p.next(T0), Action::Send(_)));
    let h = [("Retry-After", "5")];
    p.on_response(&Response { status: 429, headers: &h, body: b"" }, T0 + 20).unwrap();
    let Action::Done(r) = p.next(T0 + 20) else { panic!() };
    assert_eq!(r.outcome, Outcome::Failed(Reason::Deadline));
    assert_eq!(r.finished_ms, T0 + 20, "no waiting for a retry that cannot happen");
    assert_eq!(r.carried_out, 1);
    assert_eq!(p.carried_points(), 1);
}

#[test]
fn deadline_arithmetic() {
    let (mut reg, c) = registry();
    // Budget 1000 ms, each attempt needs 100 ms, attempts time out after 300 ms.
    let config = cfg().max_attempts(100).attempt_timeout_ms(300).min_attempt_ms(100).backoff_ms(50, 50);
    let mut p = Pusher::new(config, 8).unwrap();
    let mut now = T0;
    p.start(batch_of(&mut reg, c, 1.0, now), now, 1_000).unwrap();
    let deadline = T0 + 1_000;
    let mut attempts = 0;
    let report = loop {
        match p.next(now) {
            Action::Send(req) => {
                attempts += 1;
                assert!(deadline - now >= 100, "attempt started with {} ms left", deadline - now);
                assert_eq!(req.timeout_ms, 300.min(deadline - now));
                now += req.timeout_ms; // the host waits the full timeout
                p.on_error(TransportError::Timeout, now).unwrap();
            }
            Action::Wait { until_ms } => {
                assert!(until_ms + 100 <= deadline);
                now = until_ms;
            }
            Action::Done(r) => break r.clone(),
            a => panic!("{a:?}"),
        }
    };
    assert_eq!(report.outcome, Outcome::Failed(Reason::Deadline));
    assert!(report.finished_ms <= deadline);
    assert!(report.ambiguous);
    assert_eq!(report.attempts, attempts);
    assert!((3..=4).contains(&attempts), "{attempts}");

    // A budget below min_attempt_ms sends nothing.
    p.start(batch_of(&mut reg, c, 1.0, now), now, 50).unwrap();
    let Action::Done(r) = p.next(now) else { panic!() };
    assert_eq!((r.outcome, r.attempts), (Outcome::Failed(Reason::Deadline), 0));
    // The host overslept past the deadline: no attempt either.
    p.start(batch_of(&mut reg, c, 1.0, now), now, 1_000).unwrap();
    let Action::Done(r) = p.next(now + 5_000) else { panic!() };
    assert_eq!((r.outcome, r.attempts), (Outcome::Failed(Reason::Deadline), 0));
}

#[test]
fn exhaustion_carries_over_and_the_next_batch_sums() {
    let (mut reg, c) = registry();
    let mut p = Pusher::new(cfg().max_attempts(2), 9).unwrap();
    let mut now = T0;
    p.start(batch_of(&mut reg, c, 3.0, now), now, 10_000).unwrap();
    let (r, ids, _) = drive(&mut p, &mut now, &[Err(TransportError::Refused), Ok(503)]);
    assert_eq!(r.outcome, Outcome::Failed(Reason::Exhausted));
    assert_eq!(ids.len(), 2);
    assert_eq!((r.carried_out, r.dropped.points), (1, 0));
    now += 1_000;
    let next = batch_of(&mut reg, c, 4.0, now);
    p.start(next, now, 10_000).unwrap();
    let (r2, _, _) = drive(&mut p, &mut now, &[Ok(200)]);
    assert!(r2.delivered());
    assert_eq!(r2.carried_in, 1);
    assert_eq!(r2.points, 1, "carried point merged, not duplicated");
    assert_eq!(p.carried_points(), 0);
    assert_eq!(p.stats().carried, 1);
}

#[test]
fn merged_request_body_holds_the_sum() {
    let (mut reg, c) = registry();
    let mut p = Pusher::new(cfg().max_attempts(1), 10).unwrap();
    let mut now = T0;
    p.start(batch_of(&mut reg, c, 3.0, now), now, 10_000).unwrap();
    drive(&mut p, &mut now, &[Err(TransportError::Reset)]);
    let b2 = batch_of(&mut reg, c, 4.0, now + 1);
    let mut expect = b2.clone();
    merge(&mut expect, p.carry.clone().unwrap());
    assert_eq!(counter_value(&expect, "jobs"), 7.0);
    p.start(b2, now, 10_000).unwrap();
    let Action::Send(req) = p.next(now) else { panic!() };
    assert_eq!(req.body, crate::encode::otlp::encode(&expect));
}

#[test]
fn carry_limit_drops_and_counts() {
    let (mut reg, c) = registry();
    let mut p = Pusher::new(cfg().max_attempts(1).carry_over(true, 2), 11).unwrap();
    for (i, k) in ["a", "b", "c", "d"].iter().enumerate() {
        c.add(&mut reg, (i + 1) as f64, &[("k", (*k).into())]);
    }
    let mut now = T0;
    p.start(reg.collect(now * 1_000_000), now, 10_000).unwrap();
    let (r, _, _) = drive(&mut p, &mut now, &[Ok(503)]);
    assert_eq!(r.carried_out, 2);
    assert_eq!(r.dropped.points, 2);
    assert_eq!(r.dropped.counter_total, 3.0 + 4.0);
    assert_eq!(p.stats().dropped(DropReason::CarryLimit), 2);
}

#[test]
fn carry_off_drops_retryable_failures() {
    let (mut reg, c) = registry();
    let mut p = Pusher::new(cfg().max_attempts(1).carry_over(false, 0), 12).unwrap();
    let mut now = T0;
    p.start(batch_of(&mut reg, c, 6.0, now), now, 10_000).unwrap();
    let (r, _, _) = drive(&mut p, &mut now, &[Ok(503)]);
    assert_eq!((r.carried_out, r.dropped.counter_total), (0, 6.0));
    assert_eq!(p.stats().dropped(DropReason::CarryOff), 1);
}

#[test]
fn abandoned_flush_is_carried_into_the_next_start() {
    let (mut reg, c) = registry();
    let mut p = Pusher::new(cfg(), 13).unwrap();
    p.start(batch_of(&mut reg, c, 2.0, T0), T0, 10_000).unwrap();
    let Action::Send(req) = p.next(T0) else { panic!() };
    let first_id = req.header(BATCH_ID_HEADER).unwrap().to_string();
    // The invocation was frozen before the response came back; the next one starts.
    p.start(batch_of(&mut reg, c, 5.0, T0 + 100), T0 + 100, 10_000).unwrap();
    assert_eq!(p.stats().failures(Reason::Abandoned), 1);
    let Action::Send(req) = p.next(T0 + 100) else { panic!() };
    assert_ne!(req.header(BATCH_ID_HEADER).unwrap(), first_id);
    p.on_response(&Response::status(200), T0 + 101).unwrap();
    let Action::Done(r) = p.next(T0 + 101) else { panic!() };
    assert_eq!(r.carried_in, 1);
}

#[test]
fn encode_errors_are_typed_and_counted() {
    let (mut reg, c) = registry();
    let mut p = Pusher::new(cfg(), 14).unwrap();
    let err = p
        .start_with(batch_of(&mut reg, c, 9.0, T0), T0, 1_000, |_| Err(crate::Error::InvalidConfig { reason: "test" }))
        .unwrap_err();
    assert!(matches!(err, PushError::Encode(_)));
    let Action::Done(r) = p.next(T0) else { panic!() };
    assert_eq!(r.outcome, Outcome::Failed(Reason::Encode));
    assert_eq!(r.dropped.counter_total, 9.0);
    assert_eq!(p.stats().dropped(DropReason::Encode), 1);
}

#[test]
fn empty_batch_sends_nothing() {
    let (mut reg, _c) = registry();
    let mut p = Pusher::new(cfg(), 15).unwrap();
    p.start(reg.collect(T0 * 1_000_000), T0, 1_000).unwrap();
    let Action::Done(r) = p.next(T0) else { panic!() };
    assert_eq!((r.outcome, r.attempts), (Outcome::Empty, 0));
}

#[test]
fn partial_success_is_counted_not_retried() {
    // ExportMetricsServiceResponse { partial_success (1) { rejected_data_points (1) = 3,
    // error_message (2) = "bad" } }
    let body = [0x0a, 0x07, 0x08, 0x03, 0x12, 0x03, b'b', b'a', b'd'];
    let (mut reg, c) = registry();
    let mut p = Pusher::new(cfg(), 16).unwrap();
    p.start(batch_of(&mut reg, c, 1.0, T0), T0, 1_000).unwrap();
    assert!(matches!(p.next(T0), Action::Send(_)));
    p.on_response(&Response { status: 200, headers: &[], body: &body }, T0).unwrap();
    let Action::Done(r) = p.next(T0) else { panic!() };
    assert_eq!((r.outcome, r.rejected_points, r.attempts), (Outcome::Delivered, 3, 1));
    assert_eq!(p.stats().rejected, 3);

    // JSON flavour, and a malformed body still counts as delivered (and is counted).
    let mut p = Pusher::new(Config::new("http://h", Format::OtlpJson { gzip: true }).self_metrics(false), 17).unwrap();
    p.start(batch_of(&mut reg, c, 1.0, T0), T0, 1_000).unwrap();
    let Action::Send(req) = p.next(T0) else { panic!() };
    assert!(req.gzip);
    assert_eq!(req.header("content-encoding"), Some("gzip"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    p.on_response(
        &Response { status: 200, headers: &[], body: br#"{"partialSuccess":{"rejectedDataPoints":"2"}}"# },
        T0,
    )
    .unwrap();
    let Action::Done(r) = p.next(T0) else { panic!() };
    assert_eq!(r.rejected_points, 2);
    p.start(batch_of(&mut reg, c, 1.0, T0), T0, 1_000).unwrap();
    assert!(matches!(p.next(T0), Action::Send(_)));
    p.on_response(&Response { status: 200, headers: &[], body: b"{not json" }, T0).unwrap();
    let Action::Done(r) = p.next(T0) else { panic!() };
    assert!(r.delivered());
    assert_eq!(p.stats().malformed_responses, 1);
}

#[test]
fn self_metrics_land_in_the_next_batch() {
    let (mut reg, c) = registry();
    let mut p = Pusher::new(cfg().self_metrics(true).max_attempts(2), 18).unwrap();
    let mut now = T0;
    p.start(batch_of(&mut reg, c, 1.0, now), now, 10_000).unwrap();
    drive(&mut p, &mut now, &[Ok(503), Ok(503)]);
    // Second batch: carried data + self-metrics about the failure.
    p.start(batch_of(&mut reg, c, 1.0, now), now, 10_000).unwrap();
    let b = p.flight.as_ref().unwrap().batch.clone().unwrap();
    assert_eq!(counter_value(&b, "edgemetrics.sdk.push.attempts"), 2.0);
    assert_eq!(counter_value(&b, "edgemetrics.sdk.push.retries"), 1.0);
    assert_eq!(counter_value(&b, "edgemetrics.sdk.push.failures"), 1.0);
    assert_eq!(counter_value(&b, "edgemetrics.sdk.points.carried"), 1.0);
    assert_eq!(counter_value(&b, "jobs"), 2.0);
    let MetricData::Gauge { points } = &b.metric("edgemetrics.sdk.push.last_status").unwrap().data else { panic!() };
    assert_eq!(points[0].value, 503.0);
    let MetricData::Sum { points, .. } = &b.metric("edgemetrics.sdk.push.failures").unwrap().data else { panic!() };
    assert_eq!(&*points[0].attributes, &[KeyValue::new("reason", "exhausted")]);
    assert!(b.metrics.last().unwrap().name.starts_with(SELF_PREFIX));
    drive(&mut p, &mut now, &[Ok(200)]);
    // Third batch: only this flush's counts (delta), no double counting of the window.
    p.start(batch_of(&mut reg, c, 1.0, now), now, 10_000).unwrap();
    let b = p.flight.as_ref().unwrap().batch.clone().unwrap();
    assert_eq!(counter_value(&b, "edgemetrics.sdk.push.attempts"), 1.0);
    assert_eq!(counter_value(&b, "edgemetrics.sdk.push.delivered"), 1.0);
    assert!(b.metric("edgemetrics.sdk.push.failures").is_none());
    assert!(b.metric("edgemetrics.sdk.points.carried").is_none());
}

#[test]
fn config_validation() {
    let bad = [
        Config::new("ftp://x", Format::OtlpProtobuf { gzip: false }),
        Config::new("http://u:p@x", Format::OtlpProtobuf { gzip: false }),
        cfg().max_attempts(0),
        cfg().attempt_timeout_ms(0),
        cfg().backoff_ms(10, 5),
        cfg().header("X-Evil", "a\r\nInjected: 1"),
        cfg().header("Bad Name", "v"),
        cfg().header("Content-Type", "text/plain"),
        cfg().header("x-edgemetrics-batch-id", "fixed"),
        cfg().bearer(TOKEN).header("Authorization", "other"),
        cfg().bearer(""),
        cfg().basic("a:b", PASSWORD),
    ];
    for c in bad {
        let e = Pusher::new(c, 0).unwrap_err();
        assert!(matches!(e, PushError::InvalidConfig(_)));
    }
    assert!(Pusher::new(cfg().basic("user", PASSWORD).secret_header("X-Api-Key", API_KEY), 0).is_ok());
}

#[test]
fn secrets_never_appear_in_debug_display_reports_or_self_metrics() {
    let (mut reg, c) = registry();
    let secrets = [TOKEN, PASSWORD, API_KEY, "query-SECRET"];
    let check = |what: &str, s: &str| {
        for secret in secrets {
            assert!(!s.contains(secret), "{what} leaks {secret}: {s}");
        }
        // Basic credentials are base64: the encoded form must not leak either.
        assert!(!s.contains(&http::base64(b"user:pw-SECRET-456")), "{what} leaks basic credentials");
    };
    let configs = [
        cfg().bearer(TOKEN).secret_header("X-Api-Key", API_KEY).self_metrics(true),
        Config::new("http://h/?api_key=query-SECRET", Format::OtlpJson { gzip: false })
            .basic("user", PASSWORD)
            .self_metrics(true),
    ];
    for config in configs {
        check("Config", &alloc::format!("{config:?}"));
        let mut p = Pusher::new(config, 19).unwrap();
        let mut now = T0;
        p.start(batch_of(&mut reg, c, 1.0, now), now, 10_000).unwrap();
        check("Pusher", &alloc::format!("{p:?}"));
        let Action::Send(req) = p.next(now) else { panic!() };
        // The secret is in the request (it has to be sent) ...
        assert!(req.headers.iter().any(|h| h.secret && h.name == "Authorization"));
        // ... but not in its Debug output.
        check("Request", &alloc::format!("{req:?}"));
        check("Action", &alloc::format!("{:?}", Action::Send(req)));
        p.on_response(&Response::status(401), now).unwrap();
        check("Pusher after 401", &alloc::format!("{p:?}"));
        let Action::Done(r) = p.next(now) else { panic!() };
        check("Report", &alloc::format!("{r:?}"));
        now += 1;
        p.start(batch_of(&mut reg, c, 1.0, now), now, 10_000).unwrap();
        let b = p.flight.as_ref().unwrap().batch.clone().unwrap();
        check("self-metrics", &alloc::format!("{b:?}"));
        let Action::Send(req) = p.next(now) else { panic!() };
        check("body", &String::from_utf8_lossy(&req.body));
    }
    for e in [
        Pusher::new(cfg().bearer("bad\ntoken-SECRET"), 0).unwrap_err(),
        Pusher::new(cfg().secret_header("X", "a\r\nkey-SECRET-789"), 0).unwrap_err(),
        PushError::Encode(crate::Error::InvalidConfig { reason: "x" }),
        PushError::NotAwaiting,
    ] {
        let shown = alloc::format!("{e} {e:?}");
        check("PushError", &shown);
        assert!(!shown.contains("token-SECRET"));
    }
    check("Secret", &alloc::format!("{:?}", Secret::new(TOKEN)));
}

#[test]
fn many_batches_get_distinct_ids() {
    let mut p = Pusher::new(cfg(), 20).unwrap();
    let (mut reg, c) = registry();
    let mut seen = alloc::collections::BTreeSet::new();
    for i in 0..200 {
        p.start(batch_of(&mut reg, c, 1.0, T0 + i), T0 + i, 1_000).unwrap();
        let Action::Send(req) = p.next(T0 + i) else { panic!() };
        assert!(seen.insert(req.header(BATCH_ID_HEADER).unwrap().to_string()));
        p.on_response(&Response::status(200), T0 + i).unwrap();
    }
    // Different seeds give different first ids.
    let mut a = Pusher::new(cfg(), 1).unwrap();
    let mut b = Pusher::new(cfg(), 2).unwrap();
    a.start(batch_of(&mut reg, c, 1.0, T0), T0, 1_000).unwrap();
    b.start(batch_of(&mut reg, c, 1.0, T0), T0, 1_000).unwrap();
    let ia = match a.next(T0) {
        Action::Send(r) => r.header(BATCH_ID_HEADER).unwrap().to_string(),
        _ => panic!(),
    };
    let Action::Send(rb) = b.next(T0) else { panic!() };
    assert_ne!(ia, rb.header(BATCH_ID_HEADER).unwrap());
}

// ---------------------------------------------------------------- merge

fn hist_registry(
    temporality: Temporality,
) -> (Registry, crate::Histogram, crate::Gauge, crate::UpDownCounter, crate::Counter) {
    let mut reg = Registry::new(crate::Config::new("svc").self_metrics(false).temporality(temporality));
    let h = reg.histogram("lat", InstrumentOptions::unit("ms").bounds(&[1.0, 10.0, 100.0])).unwrap();
    let g = reg.gauge("temp", InstrumentOptions::default()).unwrap();
    let u = reg.up_down_counter("inflight", InstrumentOptions::default()).unwrap();
    let c = reg.counter("jobs", InstrumentOptions::default()).unwrap();
    (reg, h, g, u, c)
}

#[test]
fn merge_histograms_gauges_and_incompatible_metrics() {
    let (mut reg, h, g, u, c) = hist_registry(Temporality::Delta);
    h.record(&mut reg, 0.5, &[]);
    h.record(&mut reg, 50.0, &[]);
    g.set(&mut reg, 1.0, &[]);
    u.add(&mut reg, -3.0, &[]);
    let old = reg.collect(1_000);
    h.record(&mut reg, 500.0, &[]);
    g.set(&mut reg, 2.0, &[]);
    u.add(&mut reg, 1.0, &[]);
    c.add(&mut reg, 1.0, &[]);
    let mut new = reg.collect(2_000);
    let d = merge(&mut new, old);
    assert!(d.is_empty());
    let MetricData::Histogram { points, .. } = &new.metric("lat").unwrap().data else { panic!() };
    assert_eq!((points[0].count, points[0].sum, points[0].min, points[0].max), (3, 550.5, 0.5, 500.0));
    assert_eq!(points[0].bucket_counts, vec![1, 0, 1, 1]);
    assert_eq!((points[0].start_unix_nano, points[0].time_unix_nano), (1_000, 2_000));
    let MetricData::Gauge { points } = &new.metric("temp").unwrap().data else { panic!() };
    assert_eq!(points[0].value, 2.0);
    assert_eq!(counter_value(&new, "inflight"), -2.0);
    assert_eq!(new.start_unix_nano, 1_000);

    // Same name, another kind: the older side is dropped and counted.
    let mut other = Registry::new(crate::Config::new("svc").self_metrics(false));
    let h2 = other.counter("lat", InstrumentOptions::default()).unwrap();
    h2.add(&mut other, 10.0, &[]);
    let clash = other.collect(500);
    let d = merge(&mut new, clash);
    assert_eq!((d.points, d.counter_total), (1, 10.0));
    assert!(matches!(new.metric("lat").unwrap().data, MetricData::Histogram { .. }));
}

#[test]
fn merge_cumulative_newer_supersedes() {
    let (mut reg, h, _g, _u, c) = hist_registry(Temporality::Cumulative);
    c.add(&mut reg, 3.0, &[]);
    h.record(&mut reg, 5.0, &[]);
    let old = reg.collect(1_000);
    c.add(&mut reg, 4.0, &[]);
    let mut new = reg.collect(2_000);
    merge(&mut new, old.clone());
    assert_eq!(counter_value(&new, "jobs"), 7.0, "running total, not 3 + 7");
    let MetricData::Histogram { points, .. } = &new.metric("lat").unwrap().data else { panic!() };
    assert_eq!(points[0].count, 1);
    // A series only in the older batch is kept.
    let mut empty_new = reg.collect(3_000);
    empty_new.metrics.retain(|m| &*m.name != "jobs");
    merge(&mut empty_new, old);
    assert_eq!(counter_value(&empty_new, "jobs"), 3.0);
}

#[test]
fn trim_keeps_a_prefix() {
    let (mut reg, c) = registry();
    for k in ["a", "b", "c"] {
        c.add(&mut reg, 2.0, &[("k", k.into())]);
    }
    let mut b = reg.collect(1);
    let d = trim(&mut b.clone(), 3);
    assert!(d.is_empty());
    let d = trim(&mut b, 1);
    assert_eq!((d.points, d.counter_total, b.point_count()), (2, 4.0, 1));
    let d = trim(&mut b, 0);
    assert_eq!((d.points, b.metrics.len()), (1, 0));
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn record(reg: &mut Registry, c: crate::Counter, h: crate::Histogram, ops: &[(u8, u16, bool)]) {
        for &(series, v, hist) in ops {
            let k = ["a", "b", "c", "d"][series as usize % 4];
            if hist {
                h.record(reg, v as f64, &[("k", k.into())]);
            } else {
                c.add(reg, v as f64, &[("k", k.into())]);
            }
        }
    }

    fn totals(b: &Batch) -> (f64, u64, f64, Vec<u64>) {
        let sum = counter_value(b, "jobs");
        let (mut n, mut s, mut buckets) = (0, 0.0, vec![0u64; 4]);
        if let Some(MetricData::Histogram { points, .. }) = b.metric("lat").map(|m| &m.data) {
            for p in points {
                n += p.count;
                s += p.sum;
                for (x, y) in buckets.iter_mut().zip(&p.bucket_counts) {
                    *x += y;
                }
            }
        }
        (sum, n, s, buckets)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
        /// Merging the windows of a delta registry in any grouping gives the totals of all parts
        /// (integer values, so float sums are exact), and each series appears once.
        #[test]
        fn merged_totals_equal_sum_of_parts(windows in proptest::collection::vec(
            proptest::collection::vec((0u8..4, 0u16..1000, any::<bool>()), 0..20), 1..6)
        ) {
            let (mut reg, h, _g, _u, c) = hist_registry(Temporality::Delta);
            let mut batches = Vec::new();
            for (i, ops) in windows.iter().enumerate() {
                record(&mut reg, c, h, ops);
                batches.push(reg.collect((i as u64 + 1) * 1_000));
            }
            let mut expect = (0.0, 0u64, 0.0, vec![0u64; 4]);
            for b in &batches {
                let t = totals(b);
                expect.0 += t.0; expect.1 += t.1; expect.2 += t.2;
                for (x, y) in expect.3.iter_mut().zip(&t.3) { *x += y; }
            }
            // Fold oldest-first: each older carry merges into the next batch.
            let mut it = batches.into_iter();
            let mut acc = it.next().unwrap();
            for newer in it {
                let mut n = newer;
                let d = merge(&mut n, acc);
                prop_assert!(d.is_empty());
                acc = n;
            }
            prop_assert_eq!(totals(&acc), expect);
            for m in &acc.metrics {
                let attrs: Vec<_> = match &m.data {
                    MetricData::Sum { points, .. } => points.iter().map(|p| p.attributes.clone()).collect(),
                    MetricData::Histogram { points, .. } => points.iter().map(|p| p.attributes.clone()).collect(),
                    MetricData::ExponentialHistogram { points, .. } => {
                        points.iter().map(|p| p.attributes.clone()).collect()
                    }
                    MetricData::Gauge { points } => points.iter().map(|p| p.attributes.clone()).collect(),
                };
                for (i, a) in attrs.iter().enumerate() {
                    prop_assert!(!attrs[..i].contains(a), "series twice in {}", m.name);
                }
            }
        }

        /// Trimming then counting: kept + dropped == total, in points and counter sums.
        #[test]
        fn trim_conserves(ops in proptest::collection::vec((0u8..4, 0u16..1000, any::<bool>()), 0..30), limit in 0usize..10) {
            let (mut reg, h, _g, _u, c) = hist_registry(Temporality::Delta);
            record(&mut reg, c, h, &ops);
            let mut b = reg.collect(1_000);
            let before = totals(&b);
            let points = b.point_count();
            let d = trim(&mut b, limit);
            let after = totals(&b);
            prop_assert_eq!(b.point_count() as u64 + d.points, points as u64);
            prop_assert_eq!(after.0 + d.counter_total, before.0);
            prop_assert_eq!(after.1 + d.histogram_values, before.1);
            prop_assert!(b.point_count() <= limit);
        }
    }
}

#[test]
fn wire_types_match_the_run_time_format() {
    use crate::encode::pushgateway::PushgatewayConfig;
    use crate::encode::remote_write::RemoteWriteConfig;
    let mut reg = Registry::new(
        crate::Config::new("svc").temporality(Temporality::Cumulative).resource_attr("service.instance.id", "i-1"),
    );
    let c = reg.counter("jobs", InstrumentOptions::default()).unwrap();
    c.add(&mut reg, 2.0, &[]);
    let b = reg.collect(T0 * 1_000_000);
    let pairs: [(Format, &dyn Wire, Protocol); 6] = [
        (Format::OtlpProtobuf { gzip: true }, &wire::OtlpProtobuf { gzip: true }, Protocol::Otlp),
        (Format::OtlpJson { gzip: false }, &wire::OtlpJson { gzip: false }, Protocol::Otlp),
        (
            Format::RemoteWrite(RemoteWriteConfig::default()),
            &wire::RemoteWrite(RemoteWriteConfig::default()),
            Protocol::RemoteWrite,
        ),
        (Format::Pushgateway(None), &wire::Pushgateway(None), Protocol::Pushgateway),
        (
            Format::Pushgateway(Some(PushgatewayConfig::new("j"))),
            &wire::Pushgateway(Some(PushgatewayConfig::new("j"))),
            Protocol::Pushgateway,
        ),
        (Format::Compact, &wire::Compact, Protocol::Compact),
    ];
    for (format, w, protocol) in pairs {
        assert_eq!(format.protocol(), protocol);
        assert_eq!(w.protocol(), protocol);
        assert_eq!(format.gzip(), w.gzip());
        assert_eq!(format.encode(&b).unwrap(), w.encode(&b).unwrap(), "{format:?}");
    }
    // A single-format pusher drives the same state machine.
    let mut p = Pusher::new(Config::new("http://h", wire::Compact).self_metrics(false), 1).unwrap();
    p.start(b.clone(), T0, 1_000).unwrap();
    let Action::Send(req) = p.next(T0) else { panic!() };
    assert_eq!(req.url, "http://h/v1/compact");
    assert_eq!(req.body, crate::encode::compact::request(&b).body);
    p.on_response(&Response::status(500), T0).unwrap();
    assert!(matches!(p.next(T0), Action::Wait { .. } | Action::Send(_)), "compact retries 500");
}

/// Merging keeps scopes apart: instruments are matched by scope and name, and a scope the older
/// window lacks is added to it (the Tail Worker's `absorb` and the carry-over merge).
#[test]
fn merge_matches_metrics_by_scope_and_name() {
    let window = |scopes: &[(&str, &str)], v: f64| {
        let mut reg = Registry::new(crate::Config::new("svc").self_metrics(false));
        reg.begin(1);
        for &(n, ver) in scopes {
            let opts =
                if n.is_empty() { InstrumentOptions::default() } else { InstrumentOptions::default().scope(n, ver) };
            reg.counter("jobs", opts).unwrap().add(&mut reg, v, &[]);
        }
        reg.collect(2)
    };
    // `into` knows scope "a" only; `from` has "b" then "a" then the default scope.
    let mut into = window(&[("a", "1")], 1.0);
    let from = window(&[("b", "2"), ("a", "1"), ("", "")], 10.0);
    merge::absorb(&mut into, from);
    let mut got: Vec<(String, String, f64)> = into
        .metrics
        .iter()
        .map(|m| {
            let (n, v) = into.scope_of(m);
            let MetricData::Sum { points, .. } = &m.data else { panic!("a sum") };
            (n.to_string(), v.to_string(), points[0].value)
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let want = [("a", "1", 11.0), ("b", "2", 10.0), ("edgemetrics", crate::SCOPE_VERSION, 10.0)];
    assert_eq!(got, want.map(|(n, v, x)| (n.to_string(), v.to_string(), x)));
    assert_eq!(into.scopes.len(), 2);
}
