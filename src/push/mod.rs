//! Delivery: turning one [`Batch`] per invocation into HTTP attempts, and the host's responses
//! into a decision. Sans-IO: no sockets, no clock, no global state, no platform randomness.
//! What a host does around it (concurrent flushes, stale flights, transport errors) is the
//! [host-loop contract](host).
//!
//! # The state machine
//!
//! A [`Pusher`] lives as long as the isolate (keep it next to the [`Registry`](crate::Registry)).
//! It delivers at most one batch at a time, and never more than one batch per invocation:
//!
//! ```text
//!             start(batch, now, budget)
//!   Idle/Done ─────────────────────────► Ready(at = now)
//!                                          │ next(now ≥ at): enough time left?
//!                       no: GiveUp(deadline) ◄─┤ yes: Send(&request), attempts += 1
//!                                          ▼
//!                                      Awaiting ── on_response / on_error ──┐
//!   2xx ─────────────────────────────────────────────────► Done(Delivered)  │
//!   401/403 ───────────────────────────► Done(Failed(Unauthorized)), dropped │
//!   other non-retryable status ────────► Done(Failed(Rejected)), dropped     │
//!   retryable (status or transport):                                         │
//!     attempts == max ─────────────────► Done(Failed(Exhausted)), carried    │
//!     retry time + min_attempt > deadline ► Done(Failed(Deadline)), carried  │
//!     otherwise ───────────────────────► Ready(at = now + delay) ◄───────────┘
//! ```
//!
//! `delay` is the response's `Retry-After` (seconds or IMF-fixdate) when present, otherwise
//! exponential backoff with **full jitter**: uniform in `0..=min(cap, base·2^(attempts-1))`.
//! The host's loop is the same everywhere:
//!
//! ```
//! use edgemetrics::push::{Action, Config, Format, Pusher, Response};
//! use edgemetrics::{InstrumentOptions, Registry};
//!
//! let mut reg = Registry::new(edgemetrics::Config::new("checkout"));
//! let requests = reg.counter("requests", InstrumentOptions::unit("1")).unwrap();
//! let cfg = Config::new("https://otlp.example.com", Format::OtlpProtobuf { gzip: false }).bearer("t0k3n");
//! // 128 bits of real entropy from the host (crypto.getRandomValues, getrandom, ...).
//! let mut pusher = Pusher::new(cfg, 0x1234_5678_9abc_def0_0fed_cba9_8765_4321).unwrap();
//!
//! // --- one invocation ---
//! let mut now_ms = 1_700_000_000_000u64;
//! reg.begin(now_ms * 1_000_000);
//! requests.add(&mut reg, 1.0, &[("route", "/pay".into())]);
//! let batch = reg.collect(now_ms * 1_000_000);
//! pusher.start(batch, now_ms, 3_000).unwrap();
//! let mut statuses = [503u16, 200].into_iter(); // what our pretend network answers
//! let report = loop {
//!     match pusher.next(now_ms) {
//!         Action::Send(request) => {
//!             assert_eq!(request.url, "https://otlp.example.com/v1/metrics");
//!             // host: fetch(request) with request.timeout_ms, then report what happened:
//!             let status = statuses.next().unwrap();
//!             pusher.on_response(&Response::status(status), now_ms).unwrap();
//!         }
//!         Action::Wait { until_ms } => now_ms = until_ms, // host: sleep
//!         Action::Done(report) => break report.clone(),
//!         Action::Awaiting | Action::Idle => unreachable!(),
//!     }
//! };
//! assert!(report.delivered());
//! assert_eq!((report.attempts, report.retries), (2, 1));
//! ```
//!
//! # Idempotency: the batch id
//!
//! Every batch gets a random 128-bit id from the host-seeded generator, sent as
//! **`X-Edgemetrics-Batch-Id: <32 lower-case hex digits>`** ([`BATCH_ID_HEADER`]). It is identical
//! on every attempt of that batch and new for the next one. A receiver (or a relay in front of
//! one) deduplicates like this:
//!
//! 1. Read the header; if absent, accept as usual.
//! 2. Look the id up in a set of ids seen in the last few minutes (longer than any client's
//!    budget: 10 minutes is ample). If present, answer `200` without storing anything again.
//! 3. Otherwise store the data, *then* insert the id, then answer `200`. (Insert after storing:
//!    a crash in between leads to a retry that is stored once, not to a loss.)
//!
//! A timeout or reset after the receiver stored the batch is thus harmless. Carry-over (below)
//! cannot be deduplicated this way, because carried data travels inside a *new* batch with a new
//! id: when the last failure of a batch was ambiguous (reset, timeout or a retryable 5xx that a
//! proxy may have produced after the backend stored it) the report says so
//! ([`Report::ambiguous`]), and a carried point may then be counted twice.
//!
//! # Carry-over and drops
//!
//! A batch that finally fails for a retryable reason (attempts exhausted, deadline, transport
//! errors) is kept (at most [`Config::max_carry_points`] points) and merged into the next
//! invocation's batch by [`Pusher::start`] with [`merge`]; points beyond the limit are dropped.
//! A batch refused with any other 4xx (401/403 included) is permanent: dropped. Every dropped
//! point is counted ([`Report::dropped`], [`DropTally`]) and reported as a self-metric.
//!
//! # Self-metrics
//!
//! With [`Config::self_metrics`] on, [`Pusher::start`] adds to each batch what happened since the
//! previous one ([`Pusher::annotate`]): `edgemetrics.sdk.push.attempts`, `.retries`,
//! `.delivered`, `.failures{reason}`, `.malformed_responses`, `.last_status` (gauge),
//! `edgemetrics.sdk.points.carried`, `.dropped{reason}`, `.rejected` (OTLP partial success).
//! Delta sums for delta batches, running totals for cumulative ones.
//!
//! # Randomness
//!
//! Batch ids and jitter come from a xoshiro256\*\* generator seeded with the 128 bits the host
//! passes to [`Pusher::new`] (JS: `crypto.getRandomValues`; native: `getrandom` or
//! `/dev/urandom`); [`Pusher::add_entropy`] stirs in more. The core never asks the platform for
//! randomness, so it needs no `getrandom` (and no JS backend for it on wasm32). The generator is
//! not cryptographic: ids need uniqueness, not secrecy.
//!
//! # One wire or many
//!
//! `Pusher<Format>` (the default) picks the encoder at run time and so links every encoder;
//! `Pusher<wire::OtlpProtobuf>` (or any other [`wire`] type, or your own [`Wire`]) links one.
//!
//! # Aggregating across invocations
//!
//! In a warm isolate a [`FlushPolicy`] can spread one push over several invocations (when the
//! isolate goes idle — [`FlushPolicy::adaptive`], the default of the JS package and the workers-rs
//! host — every N invocations, or T milliseconds): the host asks it at the end of each invocation
//! and only then collects and starts a push. Still at most one request per invocation. The
//! registry counts the invocations each batch covers ([`Registry::count_invocation`](crate::Registry::count_invocation),
//! self-metric `edgemetrics.sdk.invocations`).
//!
//! # Secrets
//!
//! Tokens, passwords and headers marked secret appear only in [`Request::headers`] (the host
//! must send them). `Debug` of every type here prints `<redacted>` instead, a request's query
//! string is not printed, and neither errors, reports nor self-metrics carry them.

mod config;
pub mod host;
mod http;
mod merge;
mod policy;
mod report;
mod rng;
pub mod wire;

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub use config::{Auth, Config, Secret};
pub(crate) use http::RedactedUrl;
pub use http::{parse_imf_fixdate, retry_after_ms, Header, Request, Response, TransportError};
pub use merge::{absorb, merge, tally, trim, DropTally};
pub use policy::{FlushPolicy, DEFAULT_MAX_AGE_MS};
pub use report::{Action, DropReason, Outcome, PushError, PushStats, Reason, Report};
pub use wire::{Format, Protocol, StatusClass, Wire};

use crate::model::{Batch, Temporality};
use crate::registry::self_metrics::SelfMetrics;
use rng::Rng;

/// Name of the idempotency header (lower case; send it in any case).
pub const BATCH_ID_HEADER: &str = "x-edgemetrics-batch-id";

#[derive(Debug)]
struct Flight {
    batch: Option<Batch>,
    request: Request,
    deadline_ms: u64,
    next_at_ms: u64,
    awaiting: bool,
    report: Report,
}

/// The push counters: since the last self-metrics (`window`) and since the pusher was made
/// (`total`). Every event goes through [`Counts::count`], so it is counted once.
#[derive(Debug, Default)]
struct Counts {
    window: PushStats,
    total: PushStats,
}

impl Counts {
    fn count(&mut self, update: impl Fn(&mut PushStats)) {
        update(&mut self.window);
        update(&mut self.total);
    }
}

/// The delivery state machine of one isolate. See the [module docs](self).
pub struct Pusher<W = Format> {
    config: Config<W>,
    rng: Rng,
    flight: Option<Flight>,
    done: Option<Report>,
    carry: Option<Batch>,
    counts: Counts,
    first_start_nano: u64,
}

impl<W: fmt::Debug> fmt::Debug for Pusher<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pusher")
            .field("config", &self.config)
            .field("flight", &self.flight)
            .field("done", &self.done)
            .field("carried_points", &self.carry.as_ref().map(Batch::point_count))
            .field("total", &self.counts.total)
            .finish()
    }
}

impl<W> Pusher<W> {
    /// The report of the last finished delivery, if any, without advancing the state machine
    /// (unlike [`next`](Pusher::next), which a host calls only to drive a delivery).
    pub fn last_report(&self) -> Option<&Report> {
        self.done.as_ref()
    }
}

impl<W: Wire> Pusher<W> {
    /// Validates `config` and seeds the generator for batch ids and jitter with `seed`: 128 bits
    /// of real entropy from the host (the core has no randomness source of its own).
    pub fn new(config: Config<W>, seed: u128) -> Result<Self, PushError> {
        config.validate().map_err(PushError::InvalidConfig)?;
        Ok(Pusher {
            config,
            rng: Rng::new(seed),
            flight: None,
            done: None,
            carry: None,
            counts: Counts::default(),
            first_start_nano: 0,
        })
    }

    /// Stirs more host entropy into the generator (e.g. once per invocation).
    pub fn add_entropy(&mut self, extra: u64) {
        self.rng.add_entropy(extra);
    }

    /// The configuration.
    pub fn config(&self) -> &Config<W> {
        &self.config
    }

    /// Counters since this pusher was created.
    pub fn stats(&self) -> &PushStats {
        &self.counts.total
    }

    /// Points waiting to be carried into the next batch.
    pub fn carried_points(&self) -> usize {
        self.carry.as_ref().map_or(0, Batch::point_count)
    }

    /// Takes the carried-over batch out (e.g. to persist it elsewhere); it is then no longer
    /// merged into the next batch.
    pub fn take_carry(&mut self) -> Option<Batch> {
        self.carry.take()
    }

    /// Starts delivering `batch` with `budget_ms` of time from `now_ms` (unix ms, host clock).
    ///
    /// Merges the previous undelivered batch in (carry-over), adds self-metrics (when
    /// configured), encodes and plans the request. A delivery still in progress is abandoned
    /// first (carried over). Then drive it with [`next`](Self::next).
    pub fn start(&mut self, batch: Batch, now_ms: u64, budget_ms: u64) -> Result<(), PushError> {
        self.start_inner(batch, now_ms, budget_ms, None::<fn(&Batch) -> Result<crate::encode::Encoded, crate::Error>>)
    }

    /// [`start`](Self::start) with a caller-supplied encoder (the retry policy, response
    /// parsing and gzip flag still follow [`Config::format`]).
    pub fn start_with(
        &mut self,
        batch: Batch,
        now_ms: u64,
        budget_ms: u64,
        encode: impl FnOnce(&Batch) -> Result<crate::encode::Encoded, crate::Error>,
    ) -> Result<(), PushError> {
        self.start_inner(batch, now_ms, budget_ms, Some(encode))
    }

    fn start_inner(
        &mut self,
        mut batch: Batch,
        now_ms: u64,
        budget_ms: u64,
        encode: Option<impl FnOnce(&Batch) -> Result<crate::encode::Encoded, crate::Error>>,
    ) -> Result<(), PushError> {
        if self.flight.is_some() {
            self.finish(Outcome::Failed(Reason::Abandoned), now_ms);
        }
        let mut dropped = DropTally::default();
        let mut carried_in = 0;
        if let Some(old) = self.carry.take() {
            carried_in = old.point_count();
            let d = merge(&mut batch, old);
            self.count_drop(DropReason::Incompatible, d.points);
            dropped.add(&d);
        }
        if self.config.self_metrics {
            self.annotate(&mut batch);
        }
        let mut report = Report {
            outcome: Outcome::Empty,
            batch_id: 0,
            attempts: 0,
            retries: 0,
            last_status: None,
            last_error: None,
            ambiguous: false,
            points: batch.point_count(),
            carried_in,
            carried_out: 0,
            dropped,
            rejected_points: 0,
            started_ms: now_ms,
            finished_ms: now_ms,
        };
        if batch.is_empty() {
            self.done = Some(report);
            return Ok(());
        }
        let encoded = match encode {
            Some(f) => f(&batch),
            None => self.config.format.encode(&batch),
        };
        let encoded = match encoded {
            Ok(e) => e,
            Err(e) => {
                let t = tally(&batch);
                self.count_drop(DropReason::Encode, t.points);
                report.dropped.add(&t);
                report.outcome = Outcome::Failed(Reason::Encode);
                self.counts.count(|s| s.fail(Reason::Encode));
                self.done = Some(report);
                return Err(PushError::Encode(e));
            }
        };
        report.batch_id = (self.rng.next_u64() as u128) << 64 | self.rng.next_u64() as u128;
        let request = self.plan(encoded, report.batch_id);
        self.done = None;
        self.flight = Some(Flight {
            batch: Some(batch),
            request,
            deadline_ms: now_ms.saturating_add(budget_ms),
            next_at_ms: now_ms,
            awaiting: false,
            report,
        });
        Ok(())
    }

    fn plan(&self, encoded: crate::encode::Encoded, batch_id: u128) -> Request {
        let gzip = self.config.format.gzip();
        let mut headers: Vec<Header> = Vec::with_capacity(encoded.headers.len() + self.config.headers.len() + 3);
        for (name, value) in encoded.headers {
            headers.push(Header { name: Cow::Borrowed(name), value, secret: false });
        }
        if gzip {
            headers.push(Header {
                name: Cow::Borrowed("Content-Encoding"),
                value: String::from("gzip"),
                secret: false,
            });
        }
        match &self.config.auth {
            Auth::None => {}
            Auth::Bearer(t) => headers.push(Header {
                name: Cow::Borrowed("Authorization"),
                value: crate::model::concat(&["Bearer ", t.expose()]),
                secret: true,
            }),
            Auth::Basic { username, password } => {
                let creds = crate::model::concat(&[username, ":", password.expose()]);
                headers.push(Header {
                    name: Cow::Borrowed("Authorization"),
                    value: crate::model::concat(&["Basic ", &http::base64(creds.as_bytes())]),
                    secret: true,
                });
            }
        }
        headers.extend(self.config.headers.iter().cloned());
        headers.push(Header { name: Cow::Borrowed(BATCH_ID_HEADER), value: http::hex128(batch_id), secret: false });
        Request {
            method: encoded.method,
            url: self.config.url(&encoded.path),
            headers,
            body: encoded.body,
            gzip,
            timeout_ms: self.config.attempt_timeout_ms,
        }
    }

    /// What to do now. Call it after [`start`](Self::start), after every response or error, and
    /// after every wait.
    pub fn next(&mut self, now_ms: u64) -> Action<'_> {
        let Some(f) = self.flight.as_mut() else {
            return match &self.done {
                Some(r) => Action::Done(r),
                None => Action::Idle,
            };
        };
        if f.awaiting {
            return Action::Awaiting;
        }
        if now_ms < f.next_at_ms {
            return Action::Wait { until_ms: f.next_at_ms };
        }
        let left = f.deadline_ms.saturating_sub(now_ms);
        if left < self.config.min_attempt_ms || left == 0 {
            self.finish(Outcome::Failed(Reason::Deadline), now_ms);
            return self.next(now_ms);
        }
        let Some(f) = self.flight.as_mut() else { return Action::Idle };
        f.awaiting = true;
        f.report.attempts += 1;
        if f.report.attempts > 1 {
            f.report.retries += 1;
            self.counts.count(|s| s.retries += 1);
        }
        self.counts.count(|s| s.attempts += 1);
        f.request.timeout_ms = self.config.attempt_timeout_ms.min(left);
        Action::Send(&f.request)
    }

    /// Reports the response to the outstanding request, received at `now_ms`.
    pub fn on_response(&mut self, response: &Response<'_>, now_ms: u64) -> Result<(), PushError> {
        let f = self.flight.as_mut().filter(|f| f.awaiting).ok_or(PushError::NotAwaiting)?;
        f.awaiting = false;
        f.report.last_status = Some(response.status);
        f.report.last_error = None;
        self.counts.count(|s| s.last_status = Some(response.status));
        match self.config.format.protocol().classify(response.status) {
            StatusClass::Success => {
                match self.config.format.rejected_points(response.body) {
                    Ok(n) => {
                        if let Some(f) = self.flight.as_mut() {
                            f.report.rejected_points = n;
                        }
                        self.counts.count(|s| s.rejected += n);
                    }
                    Err(_) => {
                        self.counts.count(|s| s.malformed_responses += 1);
                    }
                }
                self.finish(Outcome::Delivered, now_ms);
            }
            StatusClass::Unauthorized => self.finish(Outcome::Failed(Reason::Unauthorized), now_ms),
            StatusClass::Permanent => self.finish(Outcome::Failed(Reason::Rejected), now_ms),
            StatusClass::Retryable => {
                // A 5xx may come from a proxy after the backend stored the data.
                f.report.ambiguous |= response.status >= 500;
                let after = response.header("retry-after").and_then(|v| retry_after_ms(v, now_ms));
                self.schedule_retry(after, now_ms);
            }
        }
        Ok(())
    }

    /// Reports that the outstanding request got no response (`kind`) at `now_ms`.
    pub fn on_error(&mut self, kind: TransportError, now_ms: u64) -> Result<(), PushError> {
        let f = self.flight.as_mut().filter(|f| f.awaiting).ok_or(PushError::NotAwaiting)?;
        f.awaiting = false;
        f.report.last_status = None;
        f.report.last_error = Some(kind);
        f.report.ambiguous |= kind.ambiguous();
        self.schedule_retry(None, now_ms);
        Ok(())
    }

    fn schedule_retry(&mut self, retry_after: Option<u64>, now_ms: u64) {
        let Some(f) = self.flight.as_mut() else { return };
        if f.report.attempts >= self.config.max_attempts {
            self.finish(Outcome::Failed(Reason::Exhausted), now_ms);
            return;
        }
        let delay = match retry_after {
            Some(d) => d,
            None => rng::full_jitter(
                &mut self.rng,
                self.config.backoff_base_ms,
                self.config.backoff_cap_ms,
                f.report.attempts,
            ),
        };
        let at = now_ms.saturating_add(delay);
        if at.saturating_add(self.config.min_attempt_ms) > f.deadline_ms {
            self.finish(Outcome::Failed(Reason::Deadline), now_ms);
            return;
        }
        f.next_at_ms = at;
    }

    fn count_drop(&mut self, reason: DropReason, points: u64) {
        if points > 0 {
            self.counts.count(|s| s.drop_points(reason, points));
        }
    }

    fn finish(&mut self, outcome: Outcome, now_ms: u64) {
        let Some(mut f) = self.flight.take() else { return };
        f.report.outcome = outcome;
        f.report.finished_ms = now_ms;
        let batch = f.batch.take();
        match outcome {
            Outcome::Delivered => {
                self.counts.count(|s| s.delivered += 1);
            }
            Outcome::Empty => {}
            Outcome::Failed(reason) => {
                self.counts.count(|s| s.fail(reason));
                if let Some(mut batch) = batch {
                    if reason.carries() && self.config.carry_over {
                        let d = trim(&mut batch, self.config.max_carry_points);
                        self.count_drop(DropReason::CarryLimit, d.points);
                        f.report.dropped.add(&d);
                        let n = batch.point_count();
                        f.report.carried_out = n;
                        self.counts.count(|s| s.carried += n as u64);
                        if n > 0 {
                            self.carry = Some(batch);
                        }
                    } else {
                        let why = match reason {
                            Reason::Unauthorized => DropReason::Unauthorized,
                            Reason::Encode => DropReason::Encode,
                            Reason::Rejected => DropReason::Rejected,
                            _ => DropReason::CarryOff,
                        };
                        let t = tally(&batch);
                        self.count_drop(why, t.points);
                        f.report.dropped.add(&t);
                    }
                }
            }
        }
        self.done = Some(f.report);
    }

    /// Adds the push self-metrics accumulated since the previous call to `batch` and resets the
    /// window. [`start`](Self::start) calls it when [`Config::self_metrics`] is on; call it
    /// yourself only with that switched off. Delta batches get the window's counts, cumulative
    /// batches the totals since this pusher was created; `last_status` is a gauge.
    pub fn annotate(&mut self, batch: &mut Batch) {
        if self.first_start_nano == 0 {
            self.first_start_nano = batch.start_unix_nano;
        }
        let temporality = batch.temporality;
        let (stats, start) = match temporality {
            Temporality::Delta => (self.counts.window, batch.start_unix_nano),
            Temporality::Cumulative => (self.counts.total, self.first_start_nano.min(batch.start_unix_nano)),
        };
        self.counts.window = PushStats::default();
        if stats.is_zero() && stats.last_status.is_none() {
            return;
        }
        let end = batch.end_unix_nano;
        let mut metrics = Vec::new();
        let mut m = SelfMetrics { out: &mut metrics, temporality, start, end };
        m.counter("push.attempts", "Push requests handed to the host", &[(stats.attempts, None)]);
        m.counter("push.retries", "Push requests that repeated a batch", &[(stats.retries, None)]);
        m.counter("push.delivered", "Batches delivered", &[(stats.delivered, None)]);
        m.counter(
            "push.failures",
            "Batches not delivered, by reason",
            &Reason::ALL.map(|r| (stats.failures(r), Some(r.as_str()))),
        );
        m.counter(
            "push.malformed_responses",
            "2xx responses whose body could not be parsed",
            &[(stats.malformed_responses, None)],
        );
        m.counter("points.carried", "Points carried into a later batch", &[(stats.carried, None)]);
        m.counter(
            "points.dropped",
            "Points dropped by the delivery layer, by reason",
            &DropReason::ALL.map(|r| (stats.dropped(r), Some(r.as_str()))),
        );
        m.counter(
            "points.rejected",
            "Points refused by the receiver (OTLP partial success)",
            &[(stats.rejected, None)],
        );
        if let Some(s) = stats.last_status {
            m.gauge("push.last_status", "HTTP status of the last push response", s as u64);
        }
        if metrics.is_empty() {
            return;
        }
        let mini = Batch {
            resource: batch.resource.clone(),
            scope_name: batch.scope_name,
            scope_version: batch.scope_version.clone(),
            scopes: Vec::new(),
            temporality,
            start_unix_nano: batch.start_unix_nano,
            end_unix_nano: end,
            metrics,
            // The batch's own stats are already in `batch`: merging must not count them twice.
            stats: if temporality == Temporality::Delta { crate::SdkStats::default() } else { batch.stats },
        };
        // Self-metrics describe the newest state: they supersede carried cumulative totals.
        let d = merge::merge_ordered(batch, mini, true);
        self.count_drop(DropReason::Incompatible, d.points);
    }
}

#[cfg(test)]
mod tests;
