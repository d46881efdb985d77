#![doc = include_str!("../README.md")]
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
pub mod error;
#[cfg(feature = "metrics-rs")]
pub mod metrics_rs;
pub mod model;
pub mod push;
pub mod registry;
#[cfg(feature = "worker")]
pub mod worker;

pub use attr::{Attr, AttrLimits, AttrValue, Attributes, KeyValue, Value};
pub use encode::{Encoded, Method};
pub use error::Error;
pub use model::{
    Batch, HistogramPoint, InstrumentKind, Metric, MetricData, NumberPoint, SdkStats, Temporality, SCOPE_NAME,
    SCOPE_VERSION,
};
pub use registry::{
    Bound, Config, Counter, Gauge, Histogram, InstrumentId, InstrumentOptions, Limits, Registry, UpDownCounter,
    DEFAULT_BOUNDS,
};
