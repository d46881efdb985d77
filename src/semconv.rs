//! OpenTelemetry semantic-convention helpers used by the examples: the bucket boundaries the HTTP
//! conventions advise for `http.server.request.duration`, whose unit is seconds.
//!
//! ```
//! use edgemetrics::{Config, InstrumentOptions, Registry, HTTP_DURATION_BUCKETS_SECONDS};
//!
//! let mut metrics = Registry::new(Config::new("checkout"));
//! let duration = metrics.histogram(
//!     "http.server.request.duration",
//!     InstrumentOptions::unit("s").bounds(&HTTP_DURATION_BUCKETS_SECONDS),
//! )?;
//! # let _ = duration;
//! # Ok::<(), edgemetrics::Error>(())
//! ```

/// Advised explicit bucket boundaries for HTTP durations, in seconds (OpenTelemetry HTTP
/// semantic conventions, `http.server.request.duration` / `http.client.request.duration`).
pub const HTTP_DURATION_BUCKETS_SECONDS: [f64; 14] =
    [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
