//! The wire formats as the delivery layer sees them: the [`Wire`] trait (encode, retry family,
//! gzip, partial-success parsing), one type per format implementing it for exactly one encoder
//! (so a `Pusher<wire::OtlpProtobuf>` links only what it uses), and [`Format`], the run-time
//! choice among the formats compiled in. Each format is behind its own cargo feature (`otlp`,
//! `otlp-json`, `remote-write`, `pushgateway`, `compact`); [`Format`] is the only switch over
//! formats in the crate and always delegates to the one-format types.

#[allow(unused_imports)]
use crate::encode::Encoded;
#[allow(unused_imports)]
use crate::error::Error;
#[allow(unused_imports)]
use crate::model::Batch;

/// Which receiver family a format talks to: decides which statuses are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/HTTP: retry 429, 502, 503, 504 only (the OTLP specification's list).
    Otlp,
    /// Prometheus remote write 1.0: retry every 5xx and 429 (the remote write specification).
    RemoteWrite,
    /// Pushgateway: retry 429, 500, 502, 503, 504. A push replaces a group (`PUT`) or families
    /// (`POST`), so repeating it is harmless; 501 and 505 are permanent by definition.
    Pushgateway,
    /// Compact, to an edgemetrics relay: retry every 5xx and 429. The relay deduplicates by the
    /// batch id header, so even an ambiguous 500 is safe to repeat.
    Compact,
    /// Written by the host to its log stream (EMF on stdout), not sent over HTTP. The host reports
    /// a successful write as status 200 and a failed write as a transport error; nothing else is
    /// ever retried.
    Log,
}

/// How a status code is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// 2xx: delivered.
    Success,
    /// Try again (backoff or `Retry-After`), within the attempt and time budget.
    Retryable,
    /// 401 or 403: credentials refused. Never retried, reported as its own failure reason.
    Unauthorized,
    /// Any other status: the receiver will never accept this batch. Never retried, not carried.
    Permanent,
}

impl Protocol {
    /// Classifies `status` for this protocol.
    pub fn classify(self, status: u16) -> StatusClass {
        match status {
            200..=299 => StatusClass::Success,
            401 | 403 => StatusClass::Unauthorized,
            429 if self != Protocol::Log => StatusClass::Retryable,
            502..=504 if self != Protocol::Log => StatusClass::Retryable,
            _ if self == Protocol::Log => StatusClass::Permanent,
            500 if self != Protocol::Otlp => StatusClass::Retryable,
            501..=599 if matches!(self, Protocol::RemoteWrite | Protocol::Compact) => StatusClass::Retryable,
            _ => StatusClass::Permanent,
        }
    }
}

/// A wire format as the delivery layer sees it: how to encode a batch, which retry policy
/// applies, whether the host must gzip, and how to read a 2xx body.
///
/// [`Format`] implements it for every format, chosen at run time; the types in
/// [`wire`](super::wire) implement it for one format each. A [`Pusher`](super::Pusher) is generic
/// over its wire, so `Pusher<wire::OtlpProtobuf>` links only the OTLP encoder (what a small
/// wasm module wants), while `Pusher<Format>` (the default) links them all.
pub trait Wire {
    /// The protocol family (retry policy).
    fn protocol(&self) -> Protocol;
    /// `true` when the host must gzip the body (`Content-Encoding: gzip` is then set).
    fn gzip(&self) -> bool {
        false
    }
    /// Encodes `batch`.
    fn encode(&self, batch: &Batch) -> Result<Encoded, Error>;
    /// Points the receiver refused, read from a 2xx body (OTLP `partial_success`). `Ok(0)` for
    /// formats without partial success; a body that cannot be parsed is an error (the batch still
    /// counts as delivered: the status said so).
    fn rejected_points(&self, body: &[u8]) -> Result<u64, Error> {
        let _ = body;
        Ok(0)
    }
}

/// The wire format of the push, with its settings, chosen at run time. A variant exists only
/// when its cargo feature is on; each delegates to the matching one-format type of this module.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Format {
    /// OTLP/HTTP protobuf ([`crate::encode::otlp`]).
    #[cfg(feature = "otlp")]
    OtlpProtobuf {
        /// Ask the host to gzip the body (`Content-Encoding: gzip`).
        gzip: bool,
    },
    /// OTLP/HTTP JSON ([`crate::encode::otlp_json`]).
    #[cfg(feature = "otlp-json")]
    OtlpJson {
        /// Ask the host to gzip the body (`Content-Encoding: gzip`).
        gzip: bool,
    },
    /// Prometheus remote write 1.0 ([`crate::encode::remote_write`]); needs a cumulative batch.
    #[cfg(feature = "remote-write")]
    RemoteWrite(crate::encode::remote_write::RemoteWriteConfig),
    /// Pushgateway text exposition ([`crate::encode::pushgateway`]); `None` (or a config with
    /// an empty `job`) derives the group from the batch's resource, see [`Pushgateway`].
    #[cfg(feature = "pushgateway")]
    Pushgateway(Option<crate::encode::pushgateway::PushgatewayConfig>),
    /// The compact format ([`crate::encode::compact`]) to an edgemetrics relay.
    #[cfg(feature = "compact")]
    Compact,
    /// CloudWatch Embedded Metric Format ([`crate::encode::emf`]): JSON lines the host writes to
    /// its log stream instead of sending a request.
    #[cfg(feature = "emf")]
    Emf(crate::encode::emf::EmfConfig),
}

#[cfg(any(
    feature = "otlp",
    feature = "otlp-json",
    feature = "remote-write",
    feature = "pushgateway",
    feature = "compact",
    feature = "emf"
))]
impl Wire for Format {
    fn protocol(&self) -> Protocol {
        match self {
            #[cfg(feature = "otlp")]
            Format::OtlpProtobuf { gzip } => OtlpProtobuf { gzip: *gzip }.protocol(),
            #[cfg(feature = "otlp-json")]
            Format::OtlpJson { gzip } => OtlpJson { gzip: *gzip }.protocol(),
            #[cfg(feature = "remote-write")]
            Format::RemoteWrite(_) => RemoteWrite::PROTOCOL,
            #[cfg(feature = "pushgateway")]
            Format::Pushgateway(_) => Pushgateway::PROTOCOL,
            #[cfg(feature = "compact")]
            Format::Compact => Compact.protocol(),
            #[cfg(feature = "emf")]
            Format::Emf(_) => Protocol::Log,
        }
    }
    fn gzip(&self) -> bool {
        match self {
            #[cfg(feature = "otlp")]
            Format::OtlpProtobuf { gzip } => OtlpProtobuf { gzip: *gzip }.gzip(),
            #[cfg(feature = "otlp-json")]
            Format::OtlpJson { gzip } => OtlpJson { gzip: *gzip }.gzip(),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
    fn encode(&self, batch: &Batch) -> Result<Encoded, Error> {
        match self {
            #[cfg(feature = "otlp")]
            Format::OtlpProtobuf { gzip } => OtlpProtobuf { gzip: *gzip }.encode(batch),
            #[cfg(feature = "otlp-json")]
            Format::OtlpJson { gzip } => OtlpJson { gzip: *gzip }.encode(batch),
            #[cfg(feature = "remote-write")]
            Format::RemoteWrite(cfg) => RemoteWrite::encode_with(cfg, batch),
            #[cfg(feature = "pushgateway")]
            Format::Pushgateway(cfg) => Pushgateway::encode_with(cfg.as_ref(), batch),
            #[cfg(feature = "compact")]
            Format::Compact => Compact.encode(batch),
            #[cfg(feature = "emf")]
            Format::Emf(cfg) => crate::encode::emf::request(batch, cfg),
        }
    }
    fn rejected_points(&self, body: &[u8]) -> Result<u64, Error> {
        match self {
            #[cfg(feature = "otlp")]
            Format::OtlpProtobuf { gzip } => OtlpProtobuf { gzip: *gzip }.rejected_points(body),
            #[cfg(feature = "otlp-json")]
            Format::OtlpJson { gzip } => OtlpJson { gzip: *gzip }.rejected_points(body),
            #[allow(unreachable_patterns)]
            _ => {
                let _ = body;
                Ok(0)
            }
        }
    }
}

/// OTLP/HTTP protobuf ([`crate::encode::otlp`]).
#[cfg(feature = "otlp")]
#[derive(Debug, Clone, Copy, Default)]
pub struct OtlpProtobuf {
    /// Ask the host to gzip the body.
    pub gzip: bool,
}

#[cfg(feature = "otlp")]
impl Wire for OtlpProtobuf {
    fn protocol(&self) -> Protocol {
        Protocol::Otlp
    }
    fn gzip(&self) -> bool {
        self.gzip
    }
    fn encode(&self, batch: &Batch) -> Result<Encoded, Error> {
        Ok(crate::encode::otlp::request(batch))
    }
    fn rejected_points(&self, body: &[u8]) -> Result<u64, Error> {
        crate::encode::otlp::parse_response(body).map(|p| p.rejected_data_points)
    }
}

/// OTLP/HTTP JSON ([`crate::encode::otlp_json`]).
#[cfg(feature = "otlp-json")]
#[derive(Debug, Clone, Copy, Default)]
pub struct OtlpJson {
    /// Ask the host to gzip the body.
    pub gzip: bool,
}

#[cfg(feature = "otlp-json")]
impl Wire for OtlpJson {
    fn protocol(&self) -> Protocol {
        Protocol::Otlp
    }
    fn gzip(&self) -> bool {
        self.gzip
    }
    fn encode(&self, batch: &Batch) -> Result<Encoded, Error> {
        Ok(crate::encode::otlp_json::request(batch))
    }
    fn rejected_points(&self, body: &[u8]) -> Result<u64, Error> {
        crate::encode::otlp_json::parse_response(body).map(|p| p.rejected_data_points)
    }
}

/// Prometheus remote write 1.0 ([`crate::encode::remote_write`]).
#[cfg(feature = "remote-write")]
#[derive(Debug, Clone, Default)]
pub struct RemoteWrite(pub crate::encode::remote_write::RemoteWriteConfig);

#[cfg(feature = "remote-write")]
impl RemoteWrite {
    const PROTOCOL: Protocol = Protocol::RemoteWrite;
    /// The request for `batch` with `cfg` (what [`Wire::encode`] does, without owning `cfg`).
    pub fn encode_with(cfg: &crate::encode::remote_write::RemoteWriteConfig, batch: &Batch) -> Result<Encoded, Error> {
        crate::encode::remote_write::request(batch, cfg)
    }
}

#[cfg(feature = "remote-write")]
impl Wire for RemoteWrite {
    fn protocol(&self) -> Protocol {
        Self::PROTOCOL
    }
    fn encode(&self, batch: &Batch) -> Result<Encoded, Error> {
        Self::encode_with(&self.0, batch)
    }
}

/// Pushgateway ([`crate::encode::pushgateway`]). `None`, or a config whose `job` is empty, derives
/// the group (`job` and `instance`) from the batch's resource at each push
/// ([`PushgatewayConfig::from_batch`](crate::encode::pushgateway::PushgatewayConfig::from_batch));
/// an empty-job config keeps its `method`.
#[cfg(feature = "pushgateway")]
#[derive(Debug, Clone, Default)]
pub struct Pushgateway(pub Option<crate::encode::pushgateway::PushgatewayConfig>);

#[cfg(feature = "pushgateway")]
impl Pushgateway {
    const PROTOCOL: Protocol = Protocol::Pushgateway;
    /// The request for `batch` with `cfg` (what [`Wire::encode`] does, without owning `cfg`).
    pub fn encode_with(
        cfg: Option<&crate::encode::pushgateway::PushgatewayConfig>,
        batch: &Batch,
    ) -> Result<Encoded, Error> {
        use crate::encode::pushgateway::{request, PushgatewayConfig};
        match cfg {
            Some(cfg) if !cfg.job.is_empty() => request(batch, cfg),
            _ => {
                let mut derived = PushgatewayConfig::from_batch(batch);
                if let Some(cfg) = cfg {
                    derived.method = cfg.method;
                }
                request(batch, &derived)
            }
        }
    }
}

#[cfg(feature = "pushgateway")]
impl Wire for Pushgateway {
    fn protocol(&self) -> Protocol {
        Self::PROTOCOL
    }
    fn encode(&self, batch: &Batch) -> Result<Encoded, Error> {
        Self::encode_with(self.0.as_ref(), batch)
    }
}

/// The compact format ([`crate::encode::compact`]).
#[cfg(feature = "compact")]
#[derive(Debug, Clone, Copy, Default)]
pub struct Compact;

#[cfg(feature = "compact")]
impl Wire for Compact {
    fn protocol(&self) -> Protocol {
        Protocol::Compact
    }
    fn encode(&self, batch: &Batch) -> Result<Encoded, Error> {
        Ok(crate::encode::compact::request(batch))
    }
}

/// CloudWatch Embedded Metric Format ([`crate::encode::emf`]): the host writes the body's lines to
/// its log stream (stdout on Lambda) and reports the write as status 200.
#[cfg(feature = "emf")]
#[derive(Debug, Clone, Default)]
pub struct Emf(pub crate::encode::emf::EmfConfig);

#[cfg(feature = "emf")]
impl Wire for Emf {
    fn protocol(&self) -> Protocol {
        Protocol::Log
    }
    fn encode(&self, batch: &Batch) -> Result<Encoded, Error> {
        crate::encode::emf::request(batch, &self.0)
    }
}
