#![doc = include_str!("crate-docs.md")]
#![no_std]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod attr;
#[doc(hidden)]
pub mod codec;
pub mod encode;
pub mod env;
pub mod error;
pub mod exphist;
#[cfg(feature = "metrics-rs")]
pub mod metrics_rs;
pub mod model;
pub mod push;
pub mod registry;
pub mod semconv;
#[cfg(feature = "worker")]
pub mod worker;

pub use attr::{Attr, AttrLimits, AttrValue, Attributes, KeyValue, Value};
pub use encode::{Encoded, Method};
pub use error::Error;
pub use model::{
    Batch, ExpHistogramPoint, HistogramPoint, InstrumentKind, Metric, MetricData, NumberPoint, Scope, SdkStats,
    Temporality, SCOPE_NAME, SCOPE_VERSION,
};
pub use registry::{
    Bound, Config, Counter, Gauge, Histogram, HistogramAggregation, InstrumentId, InstrumentOptions, Limits, Registry,
    UpDownCounter, DEFAULT_BOUNDS,
};
pub use semconv::HTTP_DURATION_BUCKETS_SECONDS;

/// The repository README's Rust code blocks, compiled and run as doctests (not part of the docs).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
