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
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | OTLP base URL; `/v1/metrics` is appended (unless the URL already ends in it) |
//! | `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` | OTLP metrics URL, used as is (must end in `/v1/metrics`) |
//! | `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_METRICS_HEADERS` | `k=v,k=v`, URL-decoded; the metrics list wins per name |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL` | `http/protobuf` (default) or `http/json` |
//! | `OTEL_EXPORTER_OTLP_COMPRESSION`, `OTEL_EXPORTER_OTLP_METRICS_COMPRESSION` | `gzip` or `none` |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_EXPORTER_OTLP_METRICS_TIMEOUT` | milliseconds a delivery may take |
//! | `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` | `delta`, `cumulative` or `lowmemory` (= delta) |
//! | `OTEL_SERVICE_NAME` | `service.name` (wins over the one in `OTEL_RESOURCE_ATTRIBUTES`) |
//! | `OTEL_RESOURCE_ATTRIBUTES` | `k=v,k=v`, URL-decoded |
//! | `OTEL_SDK_DISABLED` | `true`: record nothing is sent |
//! | `EDGEMETRICS_FORMAT` | `otlp-proto`, `otlp-json`, `remote-write`, `pushgateway`, `compact` |
//! | `EDGEMETRICS_ENDPOINT` | receiver URL of the non-OTLP formats (base, or full URL ending in the format's path) |
//! | `EDGEMETRICS_HEADERS` | extra headers, `k=v,k=v` (all formats) |
//! | `EDGEMETRICS_MAX_ATTEMPTS`, `EDGEMETRICS_CARDINALITY_LIMIT`, `EDGEMETRICS_MAX_SERIES` | retry and limits |
//! | `EDGEMETRICS_FLUSH_POLICY` | `adaptive` (push when the isolate goes idle or the data is 10 s old) or `invocation` (every invocation) |
//!
//! The OTLP variables apply only to the OTLP formats. Unset and empty mean the same.
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
        }
    }
    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "otlp-proto" => FormatName::OtlpProto,
            "otlp-json" => FormatName::OtlpJson,
            "remote-write" => FormatName::RemoteWrite,
            "pushgateway" => FormatName::Pushgateway,
            "compact" => FormatName::Compact,
            _ => return None,
        })
    }
    fn is_otlp(self) -> bool {
        matches!(self, FormatName::OtlpProto | FormatName::OtlpJson)
    }
}

/// What the environment set; `None` / empty means "not set" (the host's default applies).
#[derive(Debug, Clone, Default, PartialEq)]
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
                    "must be one of otlp-proto, otlp-json, remote-write, pushgateway, compact",
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
            if ends_with_metrics_path(&e) {
                endpoint = Some((e, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"));
            } else {
                bad(
                    &mut c.errors,
                    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                    "must end in /v1/metrics (other paths are not supported)",
                    &e,
                );
            }
        } else if let Some(e) = get("OTEL_EXPORTER_OTLP_ENDPOINT").filter(|_| otlp) {
            let url = if ends_with_metrics_path(&e) { e } else { format!("{}/v1/metrics", e.trim_end_matches('/')) };
            endpoint = Some((url, "OTEL_EXPORTER_OTLP_ENDPOINT"));
        } else if let Some(e) = get("EDGEMETRICS_ENDPOINT") {
            endpoint = Some((e, "EDGEMETRICS_ENDPOINT"));
        }
        if let Some((url, var)) = endpoint {
            if is_http_url(&url) {
                c.endpoint = Some(url);
            } else {
                bad(&mut c.errors, var, "must be an http(s) URL", &url);
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
        match positive_int(get(to_name)) {
            Ok(v) => c.timeout_ms = v,
            Err(v) => bad(&mut c.errors, to_name, "must be a positive integer (milliseconds)", &v),
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

        if c.endpoint.is_some() && c.wire_format().is_none() {
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

    /// The push configuration, or `None` when no endpoint is set. Headers are sent as secret
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
                r#"OTEL_EXPORTER_OTLP_TIMEOUT must be a positive integer (milliseconds); got "-5""#,
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
                r#"EDGEMETRICS_FORMAT must be one of otlp-proto, otlp-json, remote-write, pushgateway, compact; got "csv""#,
                r#"EDGEMETRICS_ENDPOINT must be an http(s) URL; got "ftp://h""#,
            ]
        );
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
