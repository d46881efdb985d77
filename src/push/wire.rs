//! One type per wire format, each implementing [`Wire`] for exactly one encoder, so that a
//! `Pusher<wire::OtlpProtobuf>` links only what it uses. [`Format`](super::Format) is the run-time
//! choice among them.

use crate::encode::Encoded;
use crate::error::Error;
use crate::model::Batch;

use super::config::{Protocol, Wire};

/// OTLP/HTTP protobuf ([`crate::encode::otlp`]).
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
        Ok(crate::encode::otlp::request(batch))
    }
    fn rejected_points(&self, body: &[u8]) -> Result<u64, Error> {
        crate::encode::otlp::parse_response(body).map(|p| p.rejected_data_points)
    }
}

/// OTLP/HTTP JSON ([`crate::encode::otlp_json`]).
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
        Ok(crate::encode::otlp_json::request(batch))
    }
    fn rejected_points(&self, body: &[u8]) -> Result<u64, Error> {
        crate::encode::otlp_json::parse_response(body).map(|p| p.rejected_data_points)
    }
}

/// Prometheus remote write 1.0 ([`crate::encode::remote_write`]).
#[derive(Debug, Clone, Default)]
pub struct RemoteWrite(pub crate::encode::remote_write::RemoteWriteConfig);

impl Wire for RemoteWrite {
    fn protocol(&self) -> Protocol {
        Protocol::RemoteWrite
    }
    fn encode(&self, batch: &Batch) -> Result<Encoded, Error> {
        crate::encode::remote_write::request(batch, &self.0)
    }
}

/// Pushgateway ([`crate::encode::pushgateway`]); `None` derives the group from the batch's resource.
#[derive(Debug, Clone, Default)]
pub struct Pushgateway(pub Option<crate::encode::pushgateway::PushgatewayConfig>);

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
    cfg: Option<&crate::encode::pushgateway::PushgatewayConfig>,
) -> Result<Encoded, Error> {
    match cfg {
        Some(cfg) => crate::encode::pushgateway::request(batch, cfg),
        None => crate::encode::pushgateway::request(
            batch,
            &crate::encode::pushgateway::PushgatewayConfig::from_batch(batch),
        ),
    }
}

/// The compact format ([`crate::encode::compact`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Compact;

impl Wire for Compact {
    fn protocol(&self) -> Protocol {
        Protocol::Compact
    }
    fn encode(&self, batch: &Batch) -> Result<Encoded, Error> {
        Ok(crate::encode::compact::request(batch))
    }
}
