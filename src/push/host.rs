//! The host-loop contract: what every host (the JS package, the workers-rs host in
//! `src/worker.rs`, a native client) does around a [`Pusher`](super::Pusher), written once so that
//! hosts on different platforms behave the same. The pusher is sans-IO; these rules are the part
//! of the loop it cannot enforce, plus the two decisions every host needs ([`is_stale`],
//! [`classify_transport_error`]).
//!
//! # The loop
//!
//! 1. `flush`: collect the registry into a batch, [`Pusher::start`](super::Pusher::start) it with
//!    the delivery budget, then drive [`Pusher::next`](super::Pusher::next) until it returns
//!    [`Action::Done`](super::Action::Done): `Send` → perform the request (honouring its
//!    `timeout_ms`, gzipping when asked) and answer with `on_response` or `on_error`; `Wait` →
//!    sleep until `until_ms`; `Awaiting` never happens in a sequential host.
//! 2. Read the outcome with [`Pusher::last_report`](super::Pusher::last_report), never by calling
//!    `next` again (`next` drives the state machine; `last_report` only reads).
//!
//! # Concurrent flushes: coalesce
//!
//! One isolate delivers one batch at a time. A flush that finds a flight in progress does not
//! start a second one and does not queue its own batch: its data stays in the registry, the host
//! notes that a follow-up is wanted, and when the flight settles the host starts **at most one**
//! follow-up batch holding everything recorded meanwhile. N concurrent flushes therefore cost the
//! flight in progress plus one follow-up, never N batches.
//!
//! # Stale flights: abandon after twice the budget
//!
//! A flight's task can be cancelled by the runtime (a `waitUntil` cut short) and never settle. A
//! flush that finds a flight older than [`STALE_FACTOR`] × its budget (at least
//! [`MIN_STALE_MS`]; see [`is_stale`]) abandons it, counts it (a host statistic, e.g.
//! `stale_flights`), and starts a new delivery: the pusher carries the abandoned batch's data into
//! the new one.
//!
//! # Transport errors: one classification
//!
//! A failed request (no HTTP status) is reported with
//! [`Pusher::on_error`](super::Pusher::on_error) and a [`TransportError`]. Hosts classify with
//! [`classify_transport_error`]: the host's own timer firing is a timeout; otherwise the error's
//! text (message, and codes such as `ECONNREFUSED`) decides: refused → certainly not delivered;
//! reset/closed → ambiguous; anything else → other (also ambiguous).

use super::http::TransportError;

/// A flight is stale after this many times its delivery budget.
pub const STALE_FACTOR: u64 = 2;

/// A flight younger than this is never stale, whatever its budget.
pub const MIN_STALE_MS: u64 = 1_000;

/// `true` when a flight started at `started_ms` with `budget_ms` should be abandoned at `now_ms`
/// (older than `max(STALE_FACTOR × budget_ms, MIN_STALE_MS)`).
///
/// ```
/// use edgemetrics::push::host::is_stale;
/// assert!(!is_stale(0, 10_000, 20_000));
/// assert!(is_stale(0, 10_000, 20_001));
/// assert!(!is_stale(0, 10, 900)); // never before MIN_STALE_MS
/// ```
pub fn is_stale(started_ms: u64, budget_ms: u64, now_ms: u64) -> bool {
    now_ms.saturating_sub(started_ms) > budget_ms.saturating_mul(STALE_FACTOR).max(MIN_STALE_MS)
}

/// The transport error for a failed request. `timed_out`: the host's own attempt timer fired (or
/// it aborted the request for that reason). `text`: everything the platform said about the
/// failure (error message, cause, code), matched case-insensitively.
///
/// ```
/// use edgemetrics::push::host::classify_transport_error;
/// use edgemetrics::push::TransportError;
/// assert_eq!(classify_transport_error("connect ECONNREFUSED 127.0.0.1:9", false), TransportError::Refused);
/// assert_eq!(classify_transport_error("Network connection lost.", false), TransportError::Reset);
/// assert_eq!(classify_transport_error("socket hang up", false), TransportError::Reset);
/// assert_eq!(classify_transport_error("The operation was aborted", false), TransportError::Timeout);
/// assert_eq!(classify_transport_error("anything", true), TransportError::Timeout);
/// assert_eq!(classify_transport_error("getaddrinfo ENOTFOUND x", false), TransportError::Other);
/// ```
pub fn classify_transport_error(text: &str, timed_out: bool) -> TransportError {
    if timed_out {
        return TransportError::Timeout;
    }
    let has = |needle: &str| text.as_bytes().windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle.as_bytes()));
    if has("refused") {
        TransportError::Refused
    } else if has("reset") || has("lost") || has("closed") || has("socket hang up") || has("und_err_socket") {
        TransportError::Reset
    } else if has("abort") {
        TransportError::Timeout
    } else {
        TransportError::Other
    }
}
