//! Prometheus Pushgateway: a batch as text exposition format 0.0.4, pushed to a grouping key.
//!
//! # The request
//!
//! ```text
//! PUT  /metrics/job/<job>{/<label>/<value>}     replace every metric of the group
//! POST /metrics/job/<job>{/<label>/<value>}     replace only the metric names in the body
//! Content-Type: text/plain; version=0.0.4; charset=utf-8
//!
//! # HELP http_requests_total Requests served
//! # TYPE http_requests_total counter
//! http_requests_total{method="GET"} 42
//! # TYPE latency_seconds histogram
//! latency_seconds_bucket{le="0.1"} 3
//! latency_seconds_bucket{le="+Inf"} 4
//! latency_seconds_sum 1.25
//! latency_seconds_count 4
//! ```
//!
//! Each family appears once, with `# HELP` (when the instrument has a description; `\` and
//! newline escaped) and `# TYPE`. Label values escape `\`, `"` and newline. Histogram buckets are
//! cumulative, ascending, and end with `le="+Inf"` equal to `_count`. No timestamps: the
//! Pushgateway refuses them. Names and labels follow [`crate::encode::prom`].
//!
//! **Exponential histograms** have no representation in the text format: each series is sent as
//! a classic histogram whose `le` values are its own exponential bucket boundaries
//! ([`prom::classic_buckets`]), so quantiles keep the exponential resolution; series of one family
//! may therefore carry different `le` sets.
//!
//! **Grouping key.** The job and the grouping labels are path segments. A value that is empty,
//! contains `/`, is `.`/`..`, or has any byte outside `[A-Za-z0-9._~-]` is sent in the
//! `<label>@base64/<base64url>` form (an empty value is `=`), which the Pushgateway decodes — plain
//! percent-encoding of `/` is not enough because proxies and the router decode it. The job may use
//! the same form (`job@base64`). Grouping labels are added to every pushed metric by the
//! Pushgateway, so the body leaves out `job`/`instance` from the resource, and a point attribute
//! whose label name equals a grouping label is renamed `exported_<name>`.
//!
//! # The Pushgateway is not an aggregator
//!
//! It stores the *last body pushed to a group* and exposes it until it is replaced or deleted.
//! Two isolates pushing to the same group overwrite each other: counters jump between their
//! totals and `rate()` sees resets. So **each isolate needs its own group** — put
//! `service.instance.id` in the grouping key ([`PushgatewayConfig::from_batch`] does) — and the
//! registry must be cumulative (a delta batch is refused, as for remote write). Groups are never
//! expired by the Pushgateway: delete them (`DELETE` on [`group_path`]) when an isolate is known
//! to be gone, or accept stale groups, which keep exposing their last values.
//!
//! **PUT or POST?** `PUT` ([`Method::Put`]) makes the group exactly the body: a metric that had no
//! points in this batch disappears from the group. `POST` ([`Method::Post`]) replaces only the
//! families in the body and keeps the others, so a metric that stopped being recorded keeps
//! exposing its old value. With cumulative batches every series that ever got a value is in every
//! batch, so `PUT` is the safe default; `POST` suits several writers that own disjoint metric
//! names within one group.
//!
//! # Example
//!
//! ```
//! use edgemetrics::{Config, InstrumentOptions, Method, Registry, Temporality};
//! use edgemetrics::encode::pushgateway::{request, PushgatewayConfig};
//!
//! let mut reg = Registry::new(
//!     Config::new("resize").temporality(Temporality::Cumulative).self_metrics(false),
//! );
//! let done = reg.counter("images.done", InstrumentOptions::default().description("Images resized")).unwrap();
//! done.add(&mut reg, 3.0, &[("format", "webp".into())]);
//! let batch = reg.collect(1_700_000_000_000_000_000);
//!
//! let cfg = PushgatewayConfig::new("resize").group("instance", "eu/1").method(Method::Put);
//! let req = request(&batch, &cfg).unwrap();
//! assert_eq!(req.path, "/metrics/job/resize/instance@base64/ZXUvMQ==");
//! let body = String::from_utf8(req.body).unwrap();
//! let lines: Vec<&str> = body.lines().collect();
//! assert_eq!(lines, [
//!     "# HELP images_done_total Images resized",
//!     "# TYPE images_done_total counter",
//!     "images_done_total{format=\"webp\"} 3",
//! ]);
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use crate::encode::prom::{self, Family, FamilyOptions, Label, SeriesValue};
use crate::encode::{Encoded, Method};
use crate::error::Error;
use crate::model::{Batch, Temporality};

/// The `Content-Type` of text exposition format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Grouping key and method of a push.
#[derive(Debug, Clone, PartialEq)]
pub struct PushgatewayConfig {
    /// The `job` of the grouping key (non-empty, any UTF-8).
    pub job: String,
    /// Further grouping labels, in the order they appear in the path. Names must be valid label
    /// names, not `job`, not starting with `__`, unique; values may be anything, empty included.
    pub grouping: Vec<(String, String)>,
    /// [`Method::Put`] replaces the whole group, [`Method::Post`] only the families pushed.
    pub method: Method,
}

impl PushgatewayConfig {
    /// A `PUT` to the group of `job` with no further grouping labels.
    pub fn new(job: &str) -> Self {
        PushgatewayConfig { job: String::from(job), grouping: Vec::new(), method: Method::Put }
    }

    /// The per-isolate group of a batch: `job` from `service.name` (with `service.namespace/`
    /// when set) and, when the resource has `service.instance.id`, an `instance` grouping label.
    pub fn from_batch(batch: &Batch) -> Self {
        let mut cfg = PushgatewayConfig::new("");
        for (n, v) in prom::resource_labels(&batch.resource) {
            if n == "job" {
                cfg.job = v;
            } else {
                cfg.grouping.push((n, v));
            }
        }
        cfg
    }

    /// Adds a grouping label.
    pub fn group(mut self, name: &str, value: &str) -> Self {
        self.grouping.push((String::from(name), String::from(value)));
        self
    }

    /// Sets the method.
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }
}

fn validate(cfg: &PushgatewayConfig) -> Result<(), Error> {
    if cfg.job.is_empty() {
        return Err(Error::InvalidConfig { reason: "pushgateway job must not be empty" });
    }
    for (i, (n, _)) in cfg.grouping.iter().enumerate() {
        if !prom::is_valid_label_name(n) {
            return Err(Error::InvalidConfig {
                reason: "pushgateway grouping label name must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __",
            });
        }
        if n == "job" {
            return Err(Error::InvalidConfig { reason: "pushgateway grouping labels must not include job" });
        }
        if cfg.grouping[..i].iter().any(|(m, _)| m == n) {
            return Err(Error::InvalidConfig { reason: "duplicate pushgateway grouping label name" });
        }
    }
    Ok(())
}

/// URL-safe base64 with padding (RFC 4648 §5); an empty input gives `=` as the Pushgateway wants.
fn push_base64(out: &mut String, s: &[u8]) {
    if s.is_empty() {
        out.push('=');
        return;
    }
    crate::codec::text::push_base64(out, s, crate::codec::text::BASE64_URL);
}

fn push_segment(out: &mut String, name: &str, value: &str) {
    let plain = !value.is_empty()
        && value != "."
        && value != ".."
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    out.push('/');
    out.push_str(name);
    if plain {
        out.push('/');
        out.push_str(value);
    } else {
        out.push_str("@base64/");
        push_base64(out, value.as_bytes());
    }
}

/// The path of the group `cfg` names: `/metrics/job/<job>{/<label>/<value>}` (send `DELETE` to it
/// to remove the group). Invalid job or grouping labels are a typed error.
pub fn group_path(cfg: &PushgatewayConfig) -> Result<String, Error> {
    validate(cfg)?;
    let mut p = String::from("/metrics");
    push_segment(&mut p, "job", &cfg.job);
    for (n, v) in &cfg.grouping {
        push_segment(&mut p, n, v);
    }
    Ok(p)
}

fn push_escaped(out: &mut Vec<u8>, s: &str, quote: bool) {
    for &c in s.as_bytes() {
        // Bytes of multi-byte UTF-8 characters are never ASCII, so byte-wise is exact.
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'"' if quote => out.extend_from_slice(b"\\\""),
            c => out.push(c),
        }
    }
}

/// The value of one sample line.
#[derive(Clone, Copy)]
enum Num {
    F(f64),
    U(u64),
}

fn push_sample(out: &mut Vec<u8>, name: &str, suffix: &str, labels: &[Label], le: Option<&[u8]>, value: Num) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(suffix.as_bytes());
    if !labels.is_empty() || le.is_some() {
        out.push(b'{');
        for (i, (n, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b"=\"");
            push_escaped(out, v, true);
            out.push(b'"');
        }
        if let Some(b) = le {
            if !labels.is_empty() {
                out.push(b',');
            }
            out.extend_from_slice(b"le=\"");
            out.extend_from_slice(b);
            out.push(b'"');
        }
        out.push(b'}');
    }
    out.push(b' ');
    match value {
        Num::F(v) => prom::push_f64(out, v),
        Num::U(v) => crate::codec::text::push_u64(out, v),
    }
    out.push(b'\n');
}

fn write_family(out: &mut Vec<u8>, f: &Family) {
    if f.series.is_empty() {
        return;
    }
    if !f.help.is_empty() {
        out.extend_from_slice(b"# HELP ");
        out.extend_from_slice(f.name.as_bytes());
        out.push(b' ');
        push_escaped(out, &f.help, false);
        out.push(b'\n');
    }
    out.extend_from_slice(b"# TYPE ");
    out.extend_from_slice(f.name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(f.kind.as_str().as_bytes());
    out.push(b'\n');
    // `le` values are the same for every series of a family: format them once.
    let les: Vec<Vec<u8>> = f
        .bounds
        .iter()
        .map(|b| {
            let mut s = Vec::new();
            prom::push_f64(&mut s, *b);
            s
        })
        .collect();
    for s in &f.series {
        match &s.value {
            SeriesValue::Number(v) => push_sample(out, &f.name, "", &s.labels, None, Num::F(*v)),
            SeriesValue::Histogram { cumulative, count, sum } => {
                for (le, c) in les.iter().zip(cumulative) {
                    push_sample(out, &f.name, "_bucket", &s.labels, Some(le), Num::U(*c));
                }
                push_sample(out, &f.name, "_bucket", &s.labels, Some(b"+Inf"), Num::U(*count));
                push_sample(out, &f.name, "_sum", &s.labels, None, Num::F(*sum));
                push_sample(out, &f.name, "_count", &s.labels, None, Num::U(*count));
            }
            // The text format has no native histograms: classic buckets at the exponential
            // boundaries (prom::classic_buckets), so no resolution is lost.
            SeriesValue::Native(h) => {
                let mut le = Vec::new();
                for (bound, c) in prom::classic_buckets(h) {
                    le.clear();
                    prom::push_f64(&mut le, bound);
                    push_sample(out, &f.name, "_bucket", &s.labels, Some(&le), Num::U(c));
                }
                push_sample(out, &f.name, "_sum", &s.labels, None, Num::F(h.sum));
                push_sample(out, &f.name, "_count", &s.labels, None, Num::U(h.count));
            }
        }
    }
}

/// Encodes `batch` as text exposition format 0.0.4 for the group `cfg` names (point attributes
/// named like a grouping label become `exported_<name>`).
pub fn encode(batch: &Batch, cfg: &PushgatewayConfig) -> Result<Vec<u8>, Error> {
    validate(cfg)?;
    if batch.temporality == Temporality::Delta {
        return Err(Error::InvalidConfig {
            reason: "pushgateway needs Temporality::Cumulative: each push replaces the group, so a \
                     per-invocation delta would be exposed as a counter that keeps resetting",
        });
    }
    let names: Vec<&str> = cfg.grouping.iter().map(|(n, _)| n.as_str()).collect();
    let fams = prom::families(batch, &FamilyOptions { resource_labels: false, reserved: &names })?;
    let mut out = Vec::with_capacity(64 + batch.point_count() * 64);
    for f in &fams {
        write_family(&mut out, f);
    }
    Ok(out)
}

/// Builds the push for `batch`: text body, `PUT` or `POST` to the group path, `Content-Type`
/// header. Invalid configuration and delta batches are typed errors (nothing to send).
pub fn request(batch: &Batch, cfg: &PushgatewayConfig) -> Result<Encoded, Error> {
    let path = group_path(cfg)?;
    let body = encode(batch, cfg)?;
    Ok(Encoded { method: cfg.method, path, headers: alloc::vec![("Content-Type", String::from(CONTENT_TYPE))], body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        let mut o = String::new();
        push_base64(&mut o, s.as_bytes());
        o
    }

    #[test]
    fn base64_rfc4648_vectors() {
        // RFC 4648 §10 test vectors, plus the URL-safe alphabet.
        for (i, o) in [
            ("", "="),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64(i), o);
        }
        assert_eq!(b64("\u{fb}\u{ff}"), "w7vDvw==");
        assert_eq!(b64("??>"), "Pz8-");
        assert_eq!(b64("???"), "Pz8_");
    }

    #[test]
    fn paths_and_validation() {
        let cfg = PushgatewayConfig::new("a/b").group("x", "").group("y", "plain-1.2").group("z", "..");
        assert_eq!(group_path(&cfg).unwrap(), "/metrics/job@base64/YS9i/x@base64/=/y/plain-1.2/z@base64/Li4=");
        for bad in [
            PushgatewayConfig::new(""),
            PushgatewayConfig::new("j").group("job", "x"),
            PushgatewayConfig::new("j").group("__a", "x"),
            PushgatewayConfig::new("j").group("a-b", "x"),
            PushgatewayConfig::new("j").group("a", "x").group("a", "y"),
        ] {
            assert!(matches!(group_path(&bad), Err(Error::InvalidConfig { .. })), "{bad:?}");
        }
    }

    #[test]
    fn escaping() {
        let mut o = Vec::new();
        push_escaped(&mut o, "a\\b\"c\nd é", true);
        assert_eq!(o, "a\\\\b\\\"c\\nd é".as_bytes());
        o.clear();
        push_escaped(&mut o, "a\\b\"c\nd", false);
        assert_eq!(o, b"a\\\\b\"c\\nd");
    }
}
