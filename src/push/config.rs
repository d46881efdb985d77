//! Push configuration: where to send, in which wire format, with which credentials, and the retry
//! budget. Validated once, in [`Pusher::new`](super::Pusher::new). The wire format is a type
//! parameter defined in [`wire`](super::wire); this module does not depend on any encoder.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::http::Header;
use super::wire::Format;

/// A credential. Its `Debug` output is `Secret(<redacted>)`; it has no `Display`, and the
/// delivery layer never copies it anywhere but the outgoing request headers.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The credential itself (for the request only).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How the request authenticates.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// No `Authorization` header.
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// `Authorization: Basic base64(username:password)` (the username is not secret, the
    /// password is; the header as a whole is treated as secret).
    Basic {
        /// User name (must not contain `:`).
        username: String,
        /// Password.
        password: Secret,
    },
}

/// Everything the delivery layer needs to know. Build with [`Config::new`] and the setters.
///
/// Its `Debug` output redacts credentials and the endpoint's query string.
#[derive(Clone)]
pub struct Config<W = Format> {
    /// Base URL of the receiver; the format's path is appended (`/v1/metrics` for OTLP).
    pub endpoint: String,
    /// Wire format and its settings ([`Format`], or one [`wire`](super::wire) type).
    pub format: W,
    /// Authentication.
    pub auth: Auth,
    /// Extra headers (tenant ids, API keys). Mark credentials `secret`.
    pub headers: Vec<Header>,
    /// Longest wait for one attempt's response (default 5 000 ms).
    pub attempt_timeout_ms: u64,
    /// An attempt is started only if at least this much time is left before the deadline
    /// (default 100 ms): a retry that cannot finish is not started.
    pub min_attempt_ms: u64,
    /// Attempts per batch, the first one included (default 3, at least 1).
    pub max_attempts: u32,
    /// Backoff base: the first retry waits up to this long (default 100 ms).
    pub backoff_base_ms: u64,
    /// Backoff cap (default 2 000 ms).
    pub backoff_cap_ms: u64,
    /// Keep a batch that finally failed for a retryable reason and merge it into the next one
    /// (default `true`).
    pub carry_over: bool,
    /// Most points carried into the next batch (default 2 000); the rest is dropped and counted.
    pub max_carry_points: usize,
    /// Add `edgemetrics.sdk.push.*` / `edgemetrics.sdk.points.*` self-metrics to each batch in
    /// [`Pusher::start`](super::Pusher::start) (default `true`).
    pub self_metrics: bool,
}

impl<W: fmt::Debug> fmt::Debug for Config<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("endpoint", &super::http::RedactedUrl(&self.endpoint))
            .field("format", &self.format)
            .field("auth", &self.auth)
            .field("headers", &self.headers)
            .field("attempt_timeout_ms", &self.attempt_timeout_ms)
            .field("min_attempt_ms", &self.min_attempt_ms)
            .field("max_attempts", &self.max_attempts)
            .field("backoff_base_ms", &self.backoff_base_ms)
            .field("backoff_cap_ms", &self.backoff_cap_ms)
            .field("carry_over", &self.carry_over)
            .field("max_carry_points", &self.max_carry_points)
            .field("self_metrics", &self.self_metrics)
            .finish()
    }
}

impl<W> Config<W> {
    /// Defaults for `endpoint` and `format`.
    pub fn new(endpoint: &str, format: W) -> Self {
        Config {
            endpoint: String::from(endpoint),
            format,
            auth: Auth::None,
            headers: Vec::new(),
            attempt_timeout_ms: 5_000,
            min_attempt_ms: 100,
            max_attempts: 3,
            backoff_base_ms: 100,
            backoff_cap_ms: 2_000,
            carry_over: true,
            max_carry_points: 2_000,
            self_metrics: true,
        }
    }
    /// The URL a request with the format path `path` (`/v1/metrics`) goes to: the endpoint joined
    /// with it on the endpoint's path part, a query kept after it, as the push plan sends it.
    pub fn url(&self, path: &str) -> String {
        super::http::join_url(&self.endpoint, path)
    }
    /// Sends `Authorization: Bearer <token>`.
    pub fn bearer(mut self, token: &str) -> Self {
        self.auth = Auth::Bearer(Secret::new(token));
        self
    }
    /// Sends `Authorization: Basic …`.
    pub fn basic(mut self, username: &str, password: &str) -> Self {
        self.auth = Auth::Basic { username: String::from(username), password: Secret::new(password) };
        self
    }
    /// Adds a header whose value may appear in debug output.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push(Header { name: Cow::Owned(String::from(name)), value: String::from(value), secret: false });
        self
    }
    /// Adds a header whose value is a credential (redacted everywhere).
    pub fn secret_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push(Header { name: Cow::Owned(String::from(name)), value: String::from(value), secret: true });
        self
    }
    /// Sets attempts per batch.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }
    /// Sets the per-attempt timeout.
    pub fn attempt_timeout_ms(mut self, ms: u64) -> Self {
        self.attempt_timeout_ms = ms;
        self
    }
    /// Sets the minimum time an attempt needs before the deadline.
    pub fn min_attempt_ms(mut self, ms: u64) -> Self {
        self.min_attempt_ms = ms;
        self
    }
    /// Sets backoff base and cap.
    pub fn backoff_ms(mut self, base: u64, cap: u64) -> Self {
        self.backoff_base_ms = base;
        self.backoff_cap_ms = cap;
        self
    }
    /// Switches carry-over on or off and sets its point limit.
    pub fn carry_over(mut self, on: bool, max_points: usize) -> Self {
        self.carry_over = on;
        self.max_carry_points = max_points;
        self
    }
    /// Switches push self-metrics on or off.
    pub fn self_metrics(mut self, on: bool) -> Self {
        self.self_metrics = on;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), &'static str> {
        super::http::check_endpoint(&self.endpoint)?;
        if self.max_attempts == 0 {
            return Err("max_attempts must be at least 1");
        }
        if self.attempt_timeout_ms == 0 {
            return Err("attempt_timeout_ms must be positive");
        }
        if self.backoff_base_ms > self.backoff_cap_ms {
            return Err("backoff base must not exceed the cap");
        }
        match &self.auth {
            Auth::None => {}
            Auth::Bearer(t) => {
                if t.expose().is_empty() || !super::http::is_header_value(t.expose()) {
                    return Err("bearer token must be non-empty printable ASCII");
                }
            }
            Auth::Basic { username, password } => {
                if username.contains(':') || !username.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                    return Err("basic-auth username must be printable ASCII without ':'");
                }
                if password.expose().bytes().any(|b| b < 0x20 || b == 0x7f) {
                    return Err("basic-auth password must not contain control characters");
                }
            }
        }
        const RESERVED: [&str; 7] = [
            "content-type",
            "content-encoding",
            "content-length",
            "transfer-encoding",
            "host",
            "connection",
            super::BATCH_ID_HEADER,
        ];
        for h in &self.headers {
            if !super::http::is_token(&h.name) {
                return Err("header name is not an HTTP token");
            }
            if !super::http::is_header_value(&h.value) {
                return Err("header value must be printable ASCII (no CR/LF)");
            }
            if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(&h.name)) {
                return Err("header is set by the delivery layer and cannot be configured");
            }
            if h.name.eq_ignore_ascii_case("authorization") && !matches!(self.auth, Auth::None) {
                return Err("Authorization header given twice (auth and headers)");
            }
        }
        Ok(())
    }
}
