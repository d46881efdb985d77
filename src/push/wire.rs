//! One type per wire format, each implementing [`Wire`] for exactly one encoder, so that a
//! `Pusher<wire::OtlpProtobuf>` links only what it uses. [`Format`](super::Format) is the run-time
//! choice among them.

use crate::batch::Batch;
use crate::error::Error;
use crate::request::Encoded;

use super::config::{Protocol, Wire};

/// OTLP/HTTP protobuf ([`crate::otlp`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct OtlpProtobuf {
    /// Ask the host to gzip the body.
    pub gzip: bool,
}

impl Wire for OtlpProtobuf {
    fn protocol(&self) -> Protocol {
        Protocol::Otlp
    }
    fn gzip(&self) -> bool {
        self.gzip
    }
    fn encode(&self, batch: &Batch) -> Result<Encoded, Error> {
        Ok(crate::otlp::request(batch))
    }
    fn rejected_points(&self, body: &[u8]) -> Result<u64, Error> {
        crate::otlp::parse_response(body).map(|p| p.rejected_data_points)
    }
}

/// OTLP/HTTP JSON ([`crate::otlp_json`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct OtlpJson {
    /// Ask the host to gzip the body.
    pub gzip: bool,
}

impl Wire for OtlpJson {
    fn protocol(&self) -> Protocol {
        Protocol::Otlp
    }
    fn gzip(&self) -> bool {
        self.gzip
    }
    fn encode(&self, batch: &Batch) -> Result<Encoded, Error> {
        Ok(crate::otlp_json::request(batch))
    }
    fn rejected_points(&self, body: &[u8]) -> Result<u64, Error> {
        crate::otlp_json::parse_response(body).map(|p| p.rejected_data_points)
    }
}

/// Prometheus remote write 1.0 ([`crate::remote_write`]).
#[derive(Debug, Clone, Default)]
pub struct RemoteWrite(pub crate::remote_write::RemoteWriteConfig);

impl Wire for RemoteWrite {
    fn protocol(&self) -> Protocol {
        Protocol::RemoteWrite
    }
    fn encode(&self, batch: &Batch) -> Result<Encoded, Error> {
        crate::remote_write::request(batch, &self.0)
    }
}

/// Pushgateway ([`crate::pushgateway`]); `None` derives the group from the batch's resource.
#[derive(Debug, Clone, Default)]
pub struct Pushgateway(pub Option<crate::pushgateway::PushgatewayConfig>);

impl Wire for Pushgateway {
    fn protocol(&self) -> Protocol {
        Protocol::Pushgateway
    }
    fn encode(&self, batch: &Batch) -> Result<Encoded, Error> {
        pushgateway_request(batch, self.0.as_ref())
    }
}

pub(crate) fn pushgateway_request(
    batch: &Batch,
    cfg: Option<&crate::pushgateway::PushgatewayConfig>,
) -> Result<Encoded, Error> {
    match cfg {
        Some(cfg) => crate::pushgateway::request(batch, cfg),
        None => crate::pushgateway::request(batch, &crate::pushgateway::PushgatewayConfig::from_batch(batch)),
    }
}

/// The compact format ([`crate::compact`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Compact;

impl Wire for Compact {
    fn protocol(&self) -> Protocol {
        Protocol::Compact
    }
    fn encode(&self, batch: &Batch) -> Result<Encoded, Error> {
        Ok(crate::compact::request(batch))
    }
}
