//! The JS↔wasm boundary, defined once on this side: every number that crosses it (formats,
//! instrument kinds, plan actions, report slots, transport error kinds, error classes) and the
//! names of the options the JS layer sends in one buffer.
//!
//! Why a module of its own: these codes used to be written out separately in Rust and in
//! `js/src/metrics.js`, and an 11-argument constructor with positional `u32` arrays had to match
//! lists in JS by order. Now `js/src/abi.js` holds the same tables and a JS test
//! (`js/test/abi.test.mjs`) compares them with `table`, answered to JS by `Core.abiTable()`: the two
//! sides cannot drift apart without a failing test.
//!
//! # Options buffer
//!
//! `Core::configure` takes the options as one *attribute key* (the format of the crate docs):
//! pairs whose keys are the names of [`OPTIONS`] (or start with one of [`OPTION_PREFIXES`]) and
//! whose values have the type the table gives. An unknown name or a value of the wrong type is an
//! [`ERR_TYPE`] error naming the option; a value out of range is an [`ERR_RANGE`] error.

// The group tables (FORMATS, KINDS, ...) are read by `table` only, which is compiled in with the
// `abi-table` feature (and for tests); the other builds keep them as the written contract.
#![cfg_attr(not(any(test, feature = "abi-table")), allow(dead_code))]

use alloc::string::String;
use alloc::vec::Vec;
use edgemetrics::{AttrValue, KeyValue};

/// Error classes crossing the boundary (returned as codes, the message read separately).
pub const ERR_OK: u32 = 0;
/// The JS layer throws a `TypeError`.
pub const ERR_TYPE: u32 = 1;
/// The JS layer throws a `RangeError`.
pub const ERR_RANGE: u32 = 2;

/// Wire formats.
pub const FORMATS: [(&str, u32); 6] =
    [("otlp-proto", 0), ("otlp-json", 1), ("remote-write", 2), ("pushgateway", 3), ("compact", 4), ("emf", 5)];
/// Instrument kinds.
pub const KINDS: [(&str, u32); 4] = [("counter", 0), ("upDownCounter", 1), ("gauge", 2), ("histogram", 3)];
/// Results of `Core::next`.
pub const ACTIONS: [(&str, u32); 5] = [("idle", 0), ("send", 1), ("wait", 2), ("done", 3), ("awaiting", 4)];
/// Outcomes in report slot `outcome`.
pub const OUTCOMES: [(&str, u32); 4] = [("none", 0), ("delivered", 1), ("empty", 2), ("failed", 3)];
/// Slots of the array `Core::report` returns.
pub const REPORT: [(&str, u32); 10] = [
    ("outcome", 0),
    ("attempts", 1),
    ("retries", 2),
    ("lastStatus", 3),
    ("dropped", 4),
    ("carried", 5),
    ("rejected", 6),
    ("points", 7),
    ("carriedIn", 8),
    ("ambiguous", 9),
];
/// Transport error kinds for `Core::onError` (the host-loop contract's classes).
pub const TRANSPORT: [(&str, u32); 4] = [("refused", 0), ("reset", 1), ("timeout", 2), ("other", 3)];
/// Error classes.
pub const ERRORS: [(&str, u32); 3] = [("ok", ERR_OK), ("type", ERR_TYPE), ("range", ERR_RANGE)];

/// Value types of options: `s` string, `i` non-negative integer, `b` boolean.
pub const OPTIONS: [(&str, u8); 19] = [
    ("format", b'i'),
    ("serviceName", b's'),
    ("endpoint", b's'),
    ("cumulative", b'b'),
    ("selfMetrics", b'b'),
    ("gzip", b'b'),
    ("limits.cardinality", b'i'),
    ("limits.maxInstruments", b'i'),
    ("limits.maxSeries", b'i'),
    ("limits.maxAttributeBytes", b'i'),
    ("limits.maxAttributes", b'i'),
    ("limits.maxKeyLength", b'i'),
    ("limits.maxValueLength", b'i'),
    ("retry.maxAttempts", b'i'),
    ("retry.attemptTimeoutMs", b'i'),
    ("retry.backoffBaseMs", b'i'),
    ("retry.backoffCapMs", b'i'),
    // Reserved names the prefixes below may not shadow.
    ("resource", b'-'),
    ("headers", b'-'),
];
/// Prefixes of open-ended options: `resource.<key>` (any value type), `headers.<name>` (string).
pub const OPTION_PREFIXES: [&str; 2] = ["resource.", "headers."];

/// The whole table as text, one `group.name=code` line per entry (what `Core.abiTable()` answers).
#[cfg(any(test, feature = "abi-table"))]
pub fn table() -> String {
    let mut s = String::new();
    let groups: [(&str, &[(&str, u32)]); 7] = [
        ("format", &FORMATS),
        ("kind", &KINDS),
        ("action", &ACTIONS),
        ("outcome", &OUTCOMES),
        ("report", &REPORT),
        ("transport", &TRANSPORT),
        ("error", &ERRORS),
    ];
    for (group, entries) in groups {
        for (name, code) in entries {
            line(&mut s, group, name, |s| crate::push_decimal(s, *code as u64));
        }
    }
    for (name, ty) in OPTIONS {
        line(&mut s, "option", name, |s| s.push(char::from(ty)));
    }
    for p in OPTION_PREFIXES {
        line(&mut s, "prefix", p, |s| s.push('*'));
    }
    s
}

#[cfg(any(test, feature = "abi-table"))]
fn line(s: &mut String, group: &str, name: &str, value: impl FnOnce(&mut String)) {
    s.push_str(group);
    s.push('.');
    s.push_str(name);
    s.push('=');
    value(s);
    s.push('\n');
}

/// Options decoded from the buffer (`None`: the default).
#[derive(Default)]
pub struct Options {
    pub format: u32,
    pub service_name: Option<String>,
    pub endpoint: String,
    pub cumulative: bool,
    pub self_metrics: bool,
    pub gzip: bool,
    /// cardinality, max_instruments, max_series, max_attribute_bytes, max_attributes, max_key_len,
    /// max_value_len.
    pub limits: [Option<u32>; 7],
    /// max_attempts, attempt_timeout_ms, backoff_base_ms, backoff_cap_ms.
    pub retry: [Option<u32>; 4],
    pub resource: Vec<KeyValue>,
    pub headers: Vec<(String, String)>,
}

/// A refused option: the error class and the message (naming the option).
pub struct OptionError {
    pub class: u32,
    pub message: String,
}

fn refuse(class: u32, name: &str, what: &str) -> OptionError {
    let mut message = String::from("options.");
    message.push_str(name);
    message.push_str(what);
    OptionError { class, message }
}

/// Decodes the options buffer.
pub fn parse(buf: &str) -> Result<Options, OptionError> {
    let mut o = Options { self_metrics: true, ..Options::default() };
    let mut s = buf;
    while !s.is_empty() {
        let Some(pair) = crate::decode_pair(&mut s) else {
            return Err(OptionError { class: ERR_TYPE, message: String::from("malformed options buffer") });
        };
        let Some((name, value)) = pair else {
            return Err(OptionError { class: ERR_RANGE, message: String::from("an option value is out of range") });
        };
        if let Some(key) = name.strip_prefix("resource.") {
            o.resource.retain(|kv| kv.key != key);
            o.resource.push(KeyValue::new(key, value));
            continue;
        }
        if let Some(h) = name.strip_prefix("headers.") {
            let AttrValue::Str(v) = value else { return Err(refuse(ERR_TYPE, name, " must be a string")) };
            o.headers.push((h.into(), v.into()));
            continue;
        }
        let Some(&(_, ty)) = OPTIONS.iter().find(|(n, t)| *n == name && *t != b'-') else {
            return Err(refuse(ERR_TYPE, name, " is not an option"));
        };
        let int = match (ty, value) {
            (b'i', AttrValue::I64(v)) => match u32::try_from(v) {
                Ok(v) => Some(v),
                Err(_) => return Err(refuse(ERR_RANGE, name, " must be an integer from 0 to 4294967295")),
            },
            (b'i', _) => return Err(refuse(ERR_TYPE, name, " must be an integer")),
            _ => None,
        };
        let boolean = match (ty, value) {
            (b'b', AttrValue::Bool(b)) => Some(b),
            (b'b', _) => return Err(refuse(ERR_TYPE, name, " must be a boolean")),
            _ => None,
        };
        let string = match (ty, value) {
            (b's', AttrValue::Str(v)) => Some(v),
            (b's', _) => return Err(refuse(ERR_TYPE, name, " must be a string")),
            _ => None,
        };
        match name {
            "format" => o.format = int.unwrap_or(0),
            "serviceName" => o.service_name = string.map(String::from),
            "endpoint" => o.endpoint = string.map(String::from).unwrap_or_default(),
            "cumulative" => o.cumulative = boolean.unwrap_or(false),
            "selfMetrics" => o.self_metrics = boolean.unwrap_or(true),
            "gzip" => o.gzip = boolean.unwrap_or(false),
            _ => {
                if let Some(i) = OPTIONS[6..13].iter().position(|(n, _)| *n == name) {
                    o.limits[i] = int.filter(|v| *v != 0);
                } else if let Some(i) = OPTIONS[13..17].iter().position(|(n, _)| *n == name) {
                    o.retry[i] = int.filter(|v| *v != 0);
                }
            }
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_dense_and_unique_per_group() {
        for group in [&FORMATS[..], &KINDS, &ACTIONS, &OUTCOMES, &REPORT, &TRANSPORT, &ERRORS] {
            for (i, (_, c)) in group.iter().enumerate() {
                assert_eq!(*c as usize, i);
            }
        }
        assert!(table().contains("report.carried=5\n"));
        assert!(table().contains("option.limits.cardinality=i\n"));
    }

    #[test]
    fn options_decode_and_refuse_by_name() {
        let o = parse("6:formati2;11:serviceNames3:api10:cumulativet18:limits.cardinalityi9;13:resource.zonei7;")
            .ok()
            .unwrap();
        assert_eq!(o.format, 2);
        assert_eq!(o.service_name.as_deref(), Some("api"));
        assert!(o.cumulative);
        assert_eq!(o.limits[0], Some(9));
        assert_eq!(o.resource.len(), 1);
        let e = parse("11:serviceNmaes3:api").err().unwrap();
        assert_eq!(e.class, ERR_TYPE);
        assert!(e.message.contains("serviceNmae"), "{}", e.message);
        let e = parse("18:limits.cardinalityi-1;").err().unwrap();
        assert_eq!(e.class, ERR_RANGE);
        let e = parse("4:gzips3:yes").err().unwrap();
        assert_eq!((e.class, e.message.as_str()), (ERR_TYPE, "options.gzip must be a boolean"));
    }
}
