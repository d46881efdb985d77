//! The delivery vocabulary: what a push reports ([`Report`], [`Outcome`], [`Reason`],
//! [`DropReason`]), what the state machine asks of its host ([`Action`]), its errors
//! ([`PushError`]) and its counters ([`PushStats`]). The state machine itself is in `push/mod.rs`.

use alloc::string::String;
use core::fmt;

use super::http::{self, Request, TransportError};
use super::merge::DropTally;

/// Why a batch was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The next attempt could not finish before the deadline (or the budget was too small to
    /// start one). Carried over.
    Deadline,
    /// Every allowed attempt failed with a retryable status or transport error. Carried over.
    Exhausted,
    /// 401 or 403: the credentials were refused. Never retried; dropped.
    Unauthorized,
    /// Another status the protocol does not retry (400, 413, OTLP 500, ...). Dropped.
    Rejected,
    /// A new batch was started before this one finished (the previous invocation was cut
    /// short). Carried over.
    Abandoned,
    /// The format could not encode the batch (for example a delta batch for remote write).
    /// Dropped.
    Encode,
}

impl Reason {
    /// Every reason, in the order reports and self-metrics list them.
    pub const ALL: [Reason; 6] = [
        Reason::Deadline,
        Reason::Exhausted,
        Reason::Unauthorized,
        Reason::Rejected,
        Reason::Abandoned,
        Reason::Encode,
    ];
    /// A lower-case name for reports and self-metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Deadline => "deadline",
            Reason::Exhausted => "exhausted",
            Reason::Unauthorized => "unauthorized",
            Reason::Rejected => "rejected",
            Reason::Abandoned => "abandoned",
            Reason::Encode => "encode",
        }
    }
    /// `true` when the data is worth carrying into the next batch.
    pub fn carries(self) -> bool {
        matches!(self, Reason::Deadline | Reason::Exhausted | Reason::Abandoned)
    }
}

/// Why points were dropped (self-metric `edgemetrics.sdk.points.dropped{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Permanent rejection by status (not 401/403).
    Rejected,
    /// 401/403.
    Unauthorized,
    /// The batch could not be encoded.
    Encode,
    /// More points than [`Config::max_carry_points`](super::Config::max_carry_points) were to be carried.
    CarryLimit,
    /// A carried metric clashed with a newer one of the same name (kind, temporality, bounds).
    Incompatible,
    /// Retryable failure, but carry-over is switched off.
    CarryOff,
}

impl DropReason {
    pub(crate) const ALL: [DropReason; 6] = [
        DropReason::Rejected,
        DropReason::Unauthorized,
        DropReason::Encode,
        DropReason::CarryLimit,
        DropReason::Incompatible,
        DropReason::CarryOff,
    ];
    /// A lower-case name for self-metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Rejected => "rejected",
            DropReason::Unauthorized => "unauthorized",
            DropReason::Encode => "encode",
            DropReason::CarryLimit => "carry_limit",
            DropReason::Incompatible => "incompatible",
            DropReason::CarryOff => "carry_off",
        }
    }
}

/// The end of one batch's delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx response (possibly with points rejected in an OTLP partial success).
    Delivered,
    /// Nothing to send: the batch (after carry-over and self-metrics) had no points.
    Empty,
    /// Not delivered.
    Failed(Reason),
}

/// What happened to one batch. Contains no credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The outcome.
    pub outcome: Outcome,
    /// The batch id sent in [`BATCH_ID_HEADER`](super::BATCH_ID_HEADER) (0 for an empty batch: nothing was sent).
    pub batch_id: u128,
    /// Requests handed to the host.
    pub attempts: u32,
    /// Of those, repeats.
    pub retries: u32,
    /// Status of the last response, if any.
    pub last_status: Option<u16>,
    /// Last transport error, if the last attempt had one.
    pub last_error: Option<TransportError>,
    /// `true` when some failed attempt may have reached the receiver (reset, timeout, 5xx):
    /// carried data could then be counted twice.
    pub ambiguous: bool,
    /// Points in the batch as sent (carried-in and self-metric points included).
    pub points: usize,
    /// Points merged in from the previous undelivered batch.
    pub carried_in: usize,
    /// Points kept for the next batch (failure with carry-over).
    pub carried_out: usize,
    /// What was dropped while handling this batch (the failed batch itself, carry-limit excess,
    /// incompatible carried metrics).
    pub dropped: DropTally,
    /// Points the receiver refused in an OTLP `partial_success` (not retried, not carried).
    pub rejected_points: u64,
    /// When delivery started and ended (host clock, unix ms).
    pub started_ms: u64,
    /// See `started_ms`.
    pub finished_ms: u64,
}

impl Report {
    /// `true` for [`Outcome::Delivered`].
    pub fn delivered(&self) -> bool {
        self.outcome == Outcome::Delivered
    }
    /// The batch id as 32 lower-case hex digits (the header value).
    pub fn batch_id_hex(&self) -> String {
        http::hex128(self.batch_id)
    }
}

/// What the host should do next.
#[derive(Debug)]
pub enum Action<'a> {
    /// Send this request (with its `timeout_ms`), then call [`Pusher::on_response`](super::Pusher::on_response) or
    /// [`Pusher::on_error`](super::Pusher::on_error).
    Send(&'a Request),
    /// Sleep until this time (unix ms), then call [`Pusher::next`](super::Pusher::next) again.
    Wait {
        /// When to call `next` again.
        until_ms: u64,
    },
    /// A request is out: report its result first.
    Awaiting,
    /// Delivery of the current batch is over.
    Done(&'a Report),
    /// No batch was started yet.
    Idle,
}

/// A refused call.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PushError {
    /// The configuration is invalid (the text says which setting; never a value).
    InvalidConfig(&'static str),
    /// The batch could not be encoded (its points are dropped and counted).
    Encode(crate::Error),
    /// `on_response` / `on_error` without an outstanding request.
    NotAwaiting,
}

impl PushError {
    /// The message [`Display`](fmt::Display) writes, built without `core::fmt` (see
    /// [`Error::message`](crate::Error::message)).
    pub fn message(&self) -> String {
        match self {
            PushError::InvalidConfig(r) => {
                let mut s = String::from("invalid push configuration: ");
                s.push_str(r);
                s
            }
            PushError::Encode(e) => {
                let mut s = String::from("batch could not be encoded: ");
                s.push_str(&e.message());
                s
            }
            PushError::NotAwaiting => String::from("no request is awaiting a response"),
        }
    }
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PushError {}

/// Counters behind the self-metrics.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PushStats {
    /// Requests handed to the host.
    pub attempts: u64,
    /// Repeated requests.
    pub retries: u64,
    /// Batches delivered.
    pub delivered: u64,
    /// Batches not delivered, per [`Reason`] (read with [`PushStats::failures`]).
    failures: [u64; Reason::ALL.len()],
    /// Points dropped, per [`DropReason`] (read with [`PushStats::dropped`]).
    dropped: [u64; DropReason::ALL.len()],
    /// Points carried into a later batch.
    pub carried: u64,
    /// Points refused in OTLP partial successes.
    pub rejected: u64,
    /// 2xx responses whose body could not be parsed (still counted as delivered).
    pub malformed_responses: u64,
    /// Last status received, if any.
    pub last_status: Option<u16>,
}

impl PushStats {
    /// Failures for `reason`.
    pub fn failures(&self, reason: Reason) -> u64 {
        self.failures[Reason::ALL.iter().position(|r| *r == reason).unwrap_or(0)]
    }
    /// Points dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[DropReason::ALL.iter().position(|r| *r == reason).unwrap_or(0)]
    }
    /// Total points dropped.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }
    pub(super) fn fail(&mut self, reason: Reason) {
        if let Some(i) = Reason::ALL.iter().position(|r| *r == reason) {
            self.failures[i] += 1;
        }
    }
    pub(super) fn drop_points(&mut self, reason: DropReason, n: u64) {
        if let Some(i) = DropReason::ALL.iter().position(|r| *r == reason) {
            self.dropped[i] += n;
        }
    }
    pub(super) fn is_zero(&self) -> bool {
        let z = PushStats { last_status: self.last_status, ..PushStats::default() };
        *self == z
    }
}
