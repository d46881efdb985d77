//! OpenTelemetry environment configuration: reads `OTEL_*` (and `EDGEMETRICS_*` for what
//! OpenTelemetry has no name for) through a lookup closure, so any host can configure the push
//! from its environment: the workers-rs host from wrangler vars and secrets
//! ([`Setup::from_env`](crate::worker::Setup::from_env)), a native host from `std::env::var`.
//!
//! Pure and `no_std`. The table of cases in `tests/vectors/env-cases.json` is shared with the JS
//! package's parser (`js/src/env.js`): both read one scheme the same way.
//!
//! | variable | meaning |
//! |---|---|
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | OTLP base URL; `/v1/metrics` is appended to its path, before a `?query` (unless the path already ends in it) |
//! | `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` | OTLP metrics URL, used as is (its path must end in `/v1/metrics`) |
//! | `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_METRICS_HEADERS` | `k=v,k=v`, URL-decoded; the metrics list wins per name |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL` | `http/protobuf` (default) or `http/json` |
//! | `OTEL_EXPORTER_OTLP_COMPRESSION`, `OTEL_EXPORTER_OTLP_METRICS_COMPRESSION` | `gzip` or `none` |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_EXPORTER_OTLP_METRICS_TIMEOUT` | milliseconds a delivery may take, 1 to 2 147 483 647 (2^31 - 1, the longest timer JavaScript runtimes keep) |
//! | `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` | `delta`, `cumulative` or `lowmemory` (= delta) |
//! | `OTEL_SERVICE_NAME` | `service.name` (wins over the one in `OTEL_RESOURCE_ATTRIBUTES`) |
//! | `OTEL_RESOURCE_ATTRIBUTES` | `k=v,k=v`, URL-decoded |
//! | `OTEL_SDK_DISABLED` | `true`: record nothing is sent |
//! | `EDGEMETRICS_FORMAT` | `otlp-proto`, `otlp-json`, `remote-write`, `pushgateway`, `compact`, `emf` (written to a log: no endpoint needed) |
//! | `EDGEMETRICS_ENDPOINT` | receiver URL of the non-OTLP formats (base, or full URL ending in the format's path) |
//! | `EDGEMETRICS_HEADERS` | extra headers, `k=v,k=v` (all formats) |
//! | `EDGEMETRICS_MAX_ATTEMPTS`, `EDGEMETRICS_CARDINALITY_LIMIT`, `EDGEMETRICS_MAX_SERIES` | retry and limits |
//! | `EDGEMETRICS_FLUSH_POLICY` | `adaptive` (push when the isolate goes idle or the data is 10 s old) or `invocation` (every invocation) |
//!
//! The OTLP endpoint, headers, protocol and compression variables apply only to the OTLP formats;
//! the timeout and the temporality preference apply to every format. Unset and empty mean the same. A
//! `#fragment` of an OTLP endpoint is dropped (it is never sent). A format whose cargo feature is
//! not in this build is an error of `EDGEMETRICS_FORMAT` once it would be used (an endpoint is
//! set, or the format is `emf`).
//!
//! ```
//! use edgemetrics::env::{EnvConfig, FormatName};
//!
//! let vars = [
//!     ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://otlp.example.com/otlp"),
//!     ("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Basic%20dXNlcjpwYXNz"),
//!     ("OTEL_SERVICE_NAME", "checkout"),
//! ];
//! let cfg = EnvConfig::parse(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()));
//! assert!(cfg.errors.is_empty());
//! assert_eq!(cfg.endpoint.as_deref(), Some("https://otlp.example.com/otlp/v1/metrics"));
//! assert_eq!(cfg.format, None); // unset: OTLP protobuf
//! assert_eq!(cfg.service_name.as_deref(), Some("checkout"));
//! let push = cfg.push_config().expect("an endpoint is set");
//! assert_eq!(push.headers[0].value, "Basic dXNlcjpwYXNz");
//! # let _ = FormatName::Compact;
//! ```

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::model::Temporality;
use crate::push::{self, Format};

/// The formats `EDGEMETRICS_FORMAT` (and the OTLP protocol variables) can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatName {
    /// OTLP/HTTP protobuf (`otlp-proto`, `http/protobuf`).
    OtlpProto,
    /// OTLP/HTTP JSON (`otlp-json`, `http/json`).
    OtlpJson,
    /// Prometheus remote write 1.0 (`remote-write`).
    RemoteWrite,
    /// Pushgateway (`pushgateway`).
    Pushgateway,
    /// The compact format (`compact`).
    Compact,
    /// CloudWatch Embedded Metric Format (`emf`): lines a host writes to its log, no endpoint
    /// (the workers-rs host cannot deliver it: [`Setup::from_env`](crate::worker::Setup::from_env)
    /// reports it as an error).
    Emf,
}

impl FormatName {
    /// The name as written in `EDGEMETRICS_FORMAT` and in the JS `format` option.
    pub fn as_str(self) -> &'static str {
        match self {
            FormatName::OtlpProto => "otlp-proto",
            FormatName::OtlpJson => "otlp-json",
            FormatName::RemoteWrite => "remote-write",
            FormatName::Pushgateway => "pushgateway",
            FormatName::Compact => "compact",
            FormatName::Emf => "emf",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "otlp-proto" => FormatName::OtlpProto,
            "otlp-json" => FormatName::OtlpJson,
            "remote-write" => FormatName::RemoteWrite,
            "pushgateway" => FormatName::Pushgateway,
            "compact" => FormatName::Compact,
            "emf" => FormatName::Emf,
            _ => return None,
        })
    }
    fn is_otlp(self) -> bool {
        matches!(self, FormatName::OtlpProto | FormatName::OtlpJson)
    }
}

/// What the environment set; `None` / empty means "not set" (the host's default applies).
///
/// Its `Debug` output shows header names with `<redacted>` values and the endpoint without its
/// query string: both may carry credentials.
#[derive(Clone, Default, PartialEq)]
pub struct EnvConfig {
    /// `OTEL_SDK_DISABLED=true`.
    pub disabled: bool,
    /// The wire format, when named.
    pub format: Option<FormatName>,
    /// The endpoint to hand to [`push::Config::new`] (the core appends the format's path unless
    /// the URL already ends in it).
    pub endpoint: Option<String>,
    /// Headers, in order, names as given (values may be credentials: sent as secret headers).
    pub headers: Vec<(String, String)>,
    /// `Some(true)` for gzip, `Some(false)` for none.
    pub gzip: Option<bool>,
    /// Time a delivery may take, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Temporality preference.
    pub temporality: Option<Temporality>,
    /// `service.name`.
    pub service_name: Option<String>,
    /// Other resource attributes, in order (`service.name` excluded).
    pub resource: Vec<(String, String)>,
    /// Attempts per batch.
    pub max_attempts: Option<u32>,
    /// Series per instrument.
    pub cardinality: Option<usize>,
    /// Series in all.
    pub max_series: Option<usize>,
    /// `EDGEMETRICS_FLUSH_POLICY`: `Some(true)` for `adaptive`, `Some(false)` for `invocation`.
    pub flush_adaptive: Option<bool>,
    /// One message per invalid variable, each starting with the variable's name.
    pub errors: Vec<String>,
}

impl EnvConfig {
    /// Reads every variable through `lookup` (return `None` for unset). Never fails: invalid
    /// values are listed in [`errors`](Self::errors) and left unset.
    pub fn parse(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| -> Option<String> {
            let v = lookup(name)?;
            let v = v.trim();
            (!v.is_empty()).then(|| v.to_string())
        };
        let mut c = EnvConfig {
            disabled: get("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            ..Default::default()
        };

        if let Some(f) = get("EDGEMETRICS_FORMAT") {
            match FormatName::parse(&f) {
                Some(f) => c.format = Some(f),
                None => bad(
                    &mut c.errors,
                    "EDGEMETRICS_FORMAT",
                    "must be one of otlp-proto, otlp-json, remote-write, pushgateway, compact, emf",
                    &f,
                ),
            }
        }
        let proto_name = pick(&get, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL");
        if let Some(p) = get(proto_name) {
            if c.format.is_none_or(FormatName::is_otlp) {
                match p.as_str() {
                    "http/protobuf" => c.format = Some(FormatName::OtlpProto),
                    "http/json" => c.format = Some(FormatName::OtlpJson),
                    _ => {
                        bad(&mut c.errors, proto_name, "must be http/protobuf or http/json (grpc is not supported)", &p)
                    }
                }
            }
        }
        let otlp = c.format.is_none_or(FormatName::is_otlp);

        let mut endpoint = None;
        if let Some(e) = get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT").filter(|_| otlp) {
            let e = without_fragment(e);
            if ends_with_metrics_path(&e) {
                endpoint = Some((e, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"));
            } else {
                bad_url(
                    &mut c.errors,
                    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                    "must end in /v1/metrics (other paths are not supported)",
                    &e,
                );
            }
        } else if let Some(e) = get("OTEL_EXPORTER_OTLP_ENDPOINT").filter(|_| otlp) {
            let e = without_fragment(e);
            let url = if ends_with_metrics_path(&e) {
                e
            } else {
                // The path goes before the query: `/otlp?tenant=a` → `/otlp/v1/metrics?tenant=a`.
                let (path, query) = e.split_at(e.find('?').unwrap_or(e.len()));
                format!("{}/v1/metrics{query}", path.trim_end_matches('/'))
            };
            endpoint = Some((url, "OTEL_EXPORTER_OTLP_ENDPOINT"));
        } else if let Some(e) = get("EDGEMETRICS_ENDPOINT") {
            endpoint = Some((e, "EDGEMETRICS_ENDPOINT"));
        }
        if let Some((url, var)) = endpoint {
            if is_http_url(&url) {
                c.endpoint = Some(url);
            } else {
                bad_url(&mut c.errors, var, "must be an http(s) URL", &url);
            }
        }

        let header_vars: &[&str] = if otlp {
            &["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS", "EDGEMETRICS_HEADERS"]
        } else {
            &["EDGEMETRICS_HEADERS"]
        };
        for var in header_vars {
            let Some(v) = get(var) else { continue };
            match parse_pairs(&v) {
                Some(pairs) => {
                    for (k, v) in pairs {
                        set_pair(&mut c.headers, k, v);
                    }
                }
                None => c.errors.push(format!(
                    "{var} must be a comma-separated list of key=value (URL-encoded); got an invalid list"
                )),
            }
        }

        let comp_name = pick(&get, "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION");
        if let Some(v) = get(comp_name).filter(|_| otlp) {
            match v.as_str() {
                "gzip" => c.gzip = Some(true),
                "none" => c.gzip = Some(false),
                _ => bad(&mut c.errors, comp_name, "must be gzip or none", &v),
            }
        }

        let to_name = pick(&get, "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT");
        // At most 2^31 - 1: a longer JavaScript timer fires after 1 ms (Node clamps it), and both
        // parsers read the same range.
        match positive_int(get(to_name)) {
            Ok(v) if v.is_none_or(|ms| ms <= MAX_TIMEOUT_MS) => c.timeout_ms = v,
            _ => bad(
                &mut c.errors,
                to_name,
                "must be a positive integer of at most 2147483647 (milliseconds)",
                &get(to_name).unwrap_or_default(),
            ),
        }

        if let Some(p) = get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE") {
            match p.to_ascii_lowercase().as_str() {
                // lowmemory asks for delta counters and histograms: one temporality per batch, delta.
                "delta" | "lowmemory" => c.temporality = Some(Temporality::Delta),
                "cumulative" => c.temporality = Some(Temporality::Cumulative),
                _ => bad(
                    &mut c.errors,
                    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                    "must be cumulative, delta or lowmemory",
                    &p,
                ),
            }
        }

        if let Some(v) = get("OTEL_RESOURCE_ATTRIBUTES") {
            match parse_pairs(&v) {
                Some(pairs) => {
                    for (k, v) in pairs {
                        set_pair(&mut c.resource, k, v);
                    }
                }
                None => c.errors.push(String::from(
                    "OTEL_RESOURCE_ATTRIBUTES must be a comma-separated list of key=value (URL-encoded); got an invalid list",
                )),
            }
        }
        if let Some(i) = c.resource.iter().position(|(k, _)| k == "service.name") {
            c.service_name = Some(c.resource.remove(i).1);
        }
        if let Some(s) = get("OTEL_SERVICE_NAME") {
            c.service_name = Some(s);
        }

        // EMF needs no endpoint: a missing encoder is reported whenever it is named.
        if (c.endpoint.is_some() || c.format == Some(FormatName::Emf)) && c.wire_format().is_none() {
            let name = c.format.unwrap_or(FormatName::OtlpProto).as_str();
            c.errors.push(format!("EDGEMETRICS_FORMAT {name:?} is not in this build (enable its cargo feature)"));
        }

        match positive_int(get("EDGEMETRICS_MAX_ATTEMPTS")) {
            Ok(v) => c.max_attempts = v.map(|n| n as u32),
            Err(v) => bad(&mut c.errors, "EDGEMETRICS_MAX_ATTEMPTS", "must be a positive integer", &v),
        }
        match positive_int(get("EDGEMETRICS_CARDINALITY_LIMIT")) {
            Ok(v) => c.cardinality = v.map(|n| n as usize),
            Err(v) => bad(&mut c.errors, "EDGEMETRICS_CARDINALITY_LIMIT", "must be a positive integer", &v),
        }
        match positive_int(get("EDGEMETRICS_MAX_SERIES")) {
            Ok(v) => c.max_series = v.map(|n| n as usize),
            Err(v) => bad(&mut c.errors, "EDGEMETRICS_MAX_SERIES", "must be a positive integer", &v),
        }
        if let Some(p) = get("EDGEMETRICS_FLUSH_POLICY") {
            match p.to_ascii_lowercase().as_str() {
                "adaptive" => c.flush_adaptive = Some(true),
                "invocation" => c.flush_adaptive = Some(false),
                _ => bad(&mut c.errors, "EDGEMETRICS_FLUSH_POLICY", "must be adaptive or invocation", &p),
            }
        }
        c
    }

    /// The wire format (`otlp-proto` when unset), with the compression setting; `None` when
    /// this build does not include that format's cargo feature.
    // With no format feature on, `Format` has no variants and the code after the match is dead.
    #[allow(unreachable_code)]
    pub fn wire_format(&self) -> Option<Format> {
        let gzip = self.gzip.unwrap_or(false);
        let _ = gzip; // unused when no OTLP feature is on
        Some(match self.format.unwrap_or(FormatName::OtlpProto) {
            #[cfg(feature = "otlp")]
            FormatName::OtlpProto => Format::OtlpProtobuf { gzip },
            #[cfg(feature = "otlp-json")]
            FormatName::OtlpJson => Format::OtlpJson { gzip },
            #[cfg(feature = "remote-write")]
            FormatName::RemoteWrite => Format::RemoteWrite(Default::default()),
            #[cfg(feature = "pushgateway")]
            FormatName::Pushgateway => Format::Pushgateway(None),
            #[cfg(feature = "compact")]
            FormatName::Compact => Format::Compact,
            #[cfg(feature = "emf")]
            FormatName::Emf => Format::Emf(Default::default()),
            #[allow(unreachable_patterns)]
            _ => return None,
        })
    }

    /// The temporality: the preference when set, else cumulative for remote write and
    /// Pushgateway (Prometheus wants running totals) and delta for the rest.
    pub fn temporality_or_default(&self) -> Temporality {
        self.temporality.unwrap_or(match self.format {
            Some(FormatName::RemoteWrite | FormatName::Pushgateway) => Temporality::Cumulative,
            _ => Temporality::Delta,
        })
    }

    /// The push configuration, or `None` when no endpoint is set (EMF too: it needs none, and
    /// a host that writes it builds its own). Headers are sent as secret
    /// headers (redacted in `Debug` output): they usually carry the credentials.
    /// `None` too when the format is not in this build ([`parse`](Self::parse) reports that as an
    /// error of `EDGEMETRICS_FORMAT`).
    #[allow(unreachable_code, unused_variables, unused_mut)]
    pub fn push_config(&self) -> Option<push::Config> {
        let endpoint = self.endpoint.as_deref()?;
        let mut cfg = push::Config::new(endpoint, self.wire_format()?);
        for (k, v) in &self.headers {
            cfg = cfg.secret_header(k, v);
        }
        if let Some(n) = self.max_attempts {
            cfg = cfg.max_attempts(n);
        }
        Some(cfg)
    }
}

impl fmt::Debug for EnvConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The names of the headers, never their values (credentials, sent as secret headers).
        struct Names<'a>(&'a [(String, String)]);
        impl fmt::Debug for Names<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.0.iter().map(|(k, _)| (k, "<redacted>"))).finish()
            }
        }
        f.debug_struct("EnvConfig")
            .field("disabled", &self.disabled)
            .field("format", &self.format)
            .field("endpoint", &self.endpoint.as_deref().map(crate::push::RedactedUrl))
            .field("headers", &Names(&self.headers))
            .field("gzip", &self.gzip)
            .field("timeout_ms", &self.timeout_ms)
            .field("temporality", &self.temporality)
            .field("service_name", &self.service_name)
            .field("resource", &self.resource)
            .field("max_attempts", &self.max_attempts)
            .field("cardinality", &self.cardinality)
            .field("max_series", &self.max_series)
            .field("flush_adaptive", &self.flush_adaptive)
            .field("errors", &self.errors)
            .finish()
    }
}

/// Longest timeout `OTEL_EXPORTER_OTLP_TIMEOUT` may set: 2^31 - 1 ms, as in the JS parser.
const MAX_TIMEOUT_MS: u64 = i32::MAX as u64;

/// The URL without its `#fragment` (a fragment is never sent in a request).
fn without_fragment(mut url: String) -> String {
    if let Some(i) = url.find('#') {
        url.truncate(i);
    }
    url
}

/// The signal-specific variable when it is set, else the generic one.
fn pick<'a>(get: &impl Fn(&str) -> Option<String>, specific: &'a str, generic: &'a str) -> &'a str {
    if get(specific).is_some() {
        specific
    } else {
        generic
    }
}

fn set_pair(list: &mut Vec<(String, String)>, k: String, v: String) {
    match list.iter_mut().find(|(key, _)| *key == k) {
        Some(slot) => slot.1 = v,
        None => list.push((k, v)),
    }
}

fn ends_with_metrics_path(url: &str) -> bool {
    let path = url.split('?').next().unwrap_or("");
    path.trim_end_matches('/').ends_with("/v1/metrics") && path.len() - path.trim_end_matches('/').len() <= 1
}

fn is_http_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")) else { return false };
    rest.chars().next().is_some_and(|c| !matches!(c, '/' | '?' | '#') && !c.is_whitespace())
}

/// `Ok(None)` when unset, `Err(value)` when not an integer in 1..=u32::MAX.
/// Lists `"{var} {rule}; got {got:?}"`: one formatting site for every invalid variable (each
/// `format!` is its own code in the wasm of a worker).
fn bad(errors: &mut Vec<String>, var: &str, rule: &str, got: &str) {
    errors.push(format!("{var} {rule}; got {got:?}"));
}

/// [`bad`] for a URL: its query (which may carry an API key) is redacted in the message.
fn bad_url(errors: &mut Vec<String>, var: &str, rule: &str, got: &str) {
    errors.push(format!("{var} {rule}; got {:?}", crate::push::RedactedUrl(got)));
}

fn positive_int(v: Option<String>) -> Result<Option<u64>, String> {
    let Some(v) = v else { return Ok(None) };
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(v);
    }
    match v.parse::<u64>() {
        Ok(n) if (1..=u32::MAX as u64).contains(&n) => Ok(Some(n)),
        _ => Err(v),
    }
}

/// `k=v,k=v` with keys and values URL-decoded and trimmed. Empty members are skipped; a member
/// without `=`, with an empty key or a broken `%` escape makes the whole list invalid (`None`):
/// half a credential list is worse than none.
pub fn parse_pairs(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for member in s.split(',') {
        if member.trim().is_empty() {
            continue;
        }
        let i = member.find('=').filter(|&i| i > 0)?;
        let k = percent_decode(member[..i].trim())?;
        let v = percent_decode(member[i + 1..].trim())?;
        if k.is_empty() {
            return None;
        }
        out.push((k, v));
    }
    Some(out)
}

/// `%XX` escapes to bytes; the result must be UTF-8. `+` stays `+` (as in `decodeURIComponent`).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            let hi = hex(*b.get(i + 1)?)?;
            let lo = hex(*b.get(i + 2)?)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_values_are_listed_with_the_variable_the_rule_and_the_value() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let c = EnvConfig::parse(env(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://h/x"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "br"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "-5"),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "\"x\""),
            ("EDGEMETRICS_MAX_ATTEMPTS", "0"),
            ("EDGEMETRICS_CARDINALITY_LIMIT", "1e3"),
            ("EDGEMETRICS_MAX_SERIES", "many"),
            ("EDGEMETRICS_FLUSH_POLICY", "sometimes"),
        ]));
        assert_eq!(
            c.errors,
            [
                r#"OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json (grpc is not supported); got "grpc""#,
                r#"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT must end in /v1/metrics (other paths are not supported); got "http://h/x""#,
                r#"OTEL_EXPORTER_OTLP_COMPRESSION must be gzip or none; got "br""#,
                r#"OTEL_EXPORTER_OTLP_TIMEOUT must be a positive integer of at most 2147483647 (milliseconds); got "-5""#,
                r#"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE must be cumulative, delta or lowmemory; got "\"x\"""#,
                r#"EDGEMETRICS_MAX_ATTEMPTS must be a positive integer; got "0""#,
                r#"EDGEMETRICS_CARDINALITY_LIMIT must be a positive integer; got "1e3""#,
                r#"EDGEMETRICS_MAX_SERIES must be a positive integer; got "many""#,
                r#"EDGEMETRICS_FLUSH_POLICY must be adaptive or invocation; got "sometimes""#,
            ]
        );
        let c = EnvConfig::parse(env(&[("EDGEMETRICS_FORMAT", "csv"), ("EDGEMETRICS_ENDPOINT", "ftp://h")]));
        assert_eq!(
            c.errors,
            [
                r#"EDGEMETRICS_FORMAT must be one of otlp-proto, otlp-json, remote-write, pushgateway, compact, emf; got "csv""#,
                r#"EDGEMETRICS_ENDPOINT must be an http(s) URL; got "ftp://h""#,
            ]
        );
    }

    #[test]
    fn a_timeout_of_2_pow_31_ms_or_more_is_refused_with_the_range() {
        let c = EnvConfig::parse(|k| (k == "OTEL_EXPORTER_OTLP_TIMEOUT").then(|| "2147483648".to_string()));
        assert_eq!(c.timeout_ms, None);
        assert_eq!(
            c.errors,
            [
                r#"OTEL_EXPORTER_OTLP_TIMEOUT must be a positive integer of at most 2147483647 (milliseconds); got "2147483648""#
            ]
        );
    }

    #[cfg(feature = "emf")]
    #[test]
    fn emf_with_its_feature_is_the_emf_wire_format() {
        let c = EnvConfig::parse(|k| (k == "EDGEMETRICS_FORMAT").then(|| "emf".to_string()));
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert!(matches!(c.wire_format(), Some(Format::Emf(_))));
        assert_eq!(c.temporality_or_default(), Temporality::Delta);
    }

    // Header values are credentials (push_config sends them as secret headers): Debug output
    // shows their names only, and the endpoint without its query string (as push::Config does).
    #[test]
    fn debug_output_shows_header_names_not_values() {
        let c = EnvConfig::parse(|k| match k {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("https://otlp.example/otlp?api_key=q-s3cr3t".to_string()),
            "OTEL_EXPORTER_OTLP_HEADERS" => Some("api-key=s3cr3t-token,x-tenant=t-s3cr3t".to_string()),
            _ => None,
        });
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert_eq!(c.headers[0], ("api-key".to_string(), "s3cr3t-token".to_string()));
        for shown in [format!("{c:?}"), format!("{c:#?}")] {
            assert!(shown.contains("api-key") && shown.contains("x-tenant"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
            assert!(shown.contains("https://otlp.example/otlp/v1/metrics"), "{shown}");
            assert!(!shown.contains("s3cr3t"), "a credential in Debug output: {shown}");
        }
    }

    // An endpoint refused by the parser is quoted in its error without its query (an API key
    // may travel there): errors reach logs as warnings.
    #[test]
    fn a_refused_endpoint_is_quoted_without_its_query() {
        for (var, url) in [
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "https://otlp.example/x?api_key=q-s3cr3t"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://otlp.example/otlp?api_key=q-s3cr3t"),
        ] {
            let c = EnvConfig::parse(|k| (k == var).then(|| url.to_string()));
            assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
            let e = &c.errors[0];
            assert!(e.starts_with(var) && e.contains("?<redacted>"), "{e}");
            assert!(!e.contains("s3cr3t"), "a credential in an error: {e}");
        }
    }

    #[test]
    fn pairs() {
        let p = parse_pairs("a%3Db=c%3Dd, e = f ,").unwrap();
        assert_eq!(p, [("a=b".to_string(), "c=d".to_string()), ("e".to_string(), "f".to_string())]);
        assert_eq!(parse_pairs("=x"), None);
        assert_eq!(parse_pairs("a=%e2%82"), None); // not UTF-8
        assert_eq!(parse_pairs("a=%e2%82%ac").unwrap()[0].1, "€");
    }
}
