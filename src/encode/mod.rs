//! What an encoder hands to the delivery layer: a body plus the method, path and headers the
//! receiver expects. No IO here: a host (JS `fetch`, `worker::Fetch`, a native client) sends it.

#[cfg(feature = "compact")]
pub mod compact;
#[cfg(feature = "emf")]
pub mod emf;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(any(feature = "otlp", feature = "otlp-json"))]
mod otlp_common;
#[cfg(feature = "otlp-json")]
pub mod otlp_json;
// Shared by the two Prometheus formats; public: the naming rules (metric_name, label_name,
// is_valid_label_name). Each format uses a different subset of the rest.
#[cfg(any(feature = "remote-write", feature = "pushgateway"))]
#[cfg_attr(not(all(feature = "remote-write", feature = "pushgateway")), allow(dead_code))]
pub mod prom;
#[cfg(feature = "pushgateway")]
pub mod pushgateway;
#[cfg(feature = "remote-write")]
pub mod remote_write;

use alloc::string::String;
use alloc::vec::Vec;

/// HTTP method of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `POST`: OTLP, remote write, compact, Pushgateway "replace same-named metrics".
    Post,
    /// `PUT`: Pushgateway "replace the whole group".
    Put,
}

impl Method {
    /// The method as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
        }
    }
}

/// An encoded batch, ready to be sent to `endpoint + path`.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// HTTP method.
    pub method: Method,
    /// Path (and for Pushgateway the grouping key) to append to the configured endpoint, starting
    /// with `/`; empty when the endpoint is used as given.
    pub path: String,
    /// Headers the format requires (`Content-Type`, `Content-Encoding`, version headers), in the
    /// order they should be sent.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Encoded {
    /// A `POST` of `body` to `path` with one `Content-Type` header: the shape of the OTLP and
    /// compact requests.
    pub fn post(path: &str, content_type: &str, body: Vec<u8>) -> Self {
        Encoded {
            method: Method::Post,
            path: String::from(path),
            headers: alloc::vec![("Content-Type", String::from(content_type))],
            body,
        }
    }

    /// The value of header `name` (ASCII-case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}
