//! The shared table of OTEL_* / EDGEMETRICS_* cases (tests/vectors/env-cases.json), read by the
//! Rust parser (`edgemetrics::env`); js/test/env.test.mjs runs the same table against the JS
//! parser, so both hosts read the environment the same way.

use edgemetrics::env::EnvConfig;
use edgemetrics::Temporality;
use serde_json::{json, Map, Value};

/// The parser's result in the JS options shape the table is written in.
fn as_options(c: &EnvConfig) -> Value {
    let mut o = Map::new();
    if let Some(f) = c.format {
        o.insert("format".into(), json!(f.as_str()));
    }
    if let Some(e) = &c.endpoint {
        o.insert("endpoint".into(), json!(e));
    }
    if !c.headers.is_empty() {
        o.insert("headers".into(), Value::Object(c.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect()));
    }
    if let Some(g) = c.gzip {
        o.insert("compression".into(), json!(if g { "gzip" } else { "none" }));
    }
    if let Some(t) = c.timeout_ms {
        o.insert("timeoutMs".into(), json!(t));
    }
    if let Some(t) = c.temporality {
        o.insert("temporality".into(), json!(if t == Temporality::Delta { "delta" } else { "cumulative" }));
    }
    if let Some(s) = &c.service_name {
        o.insert("serviceName".into(), json!(s));
    }
    if !c.resource.is_empty() {
        o.insert("resource".into(), Value::Object(c.resource.iter().map(|(k, v)| (k.clone(), json!(v))).collect()));
    }
    if let Some(n) = c.max_attempts {
        o.insert("retry".into(), json!({ "maxAttempts": n }));
    }
    let mut limits = Map::new();
    if let Some(n) = c.cardinality {
        limits.insert("cardinality".into(), json!(n));
    }
    if let Some(n) = c.max_series {
        limits.insert("maxSeries".into(), json!(n));
    }
    if !limits.is_empty() {
        o.insert("limits".into(), Value::Object(limits));
    }
    if let Some(a) = c.flush_adaptive {
        o.insert("flush".into(), json!(if a { "adaptive" } else { "invocation" }));
    }
    Value::Object(o)
}

#[test]
fn env_table() {
    let table: Value = serde_json::from_str(include_str!("vectors/env-cases.json")).unwrap();
    let cases = table["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let env = case["env"].as_object().unwrap();
        let c = EnvConfig::parse(|k| env.get(k).map(|v| v.as_str().unwrap().to_string()));
        let expect = &case["expect"];
        assert_eq!(c.disabled, expect["disabled"].as_bool().unwrap(), "{name}");
        assert_eq!(as_options(&c), expect["options"], "{name}");
        let errors = expect["errors"].as_array().unwrap();
        assert_eq!(c.errors.len(), errors.len(), "{name}: {:?}", c.errors);
        for (e, var) in c.errors.iter().zip(errors) {
            assert!(e.starts_with(var.as_str().unwrap()), "{name}: {e} should name {var}");
        }
        // Whatever the table sets, a push configuration with an endpoint passes validation
        // (what a host builds from it is usable), except remote write in delta, refused later.
        if let Some(cfg) = c.push_config() {
            assert!(edgemetrics::push::Pusher::new(cfg, 1).is_ok(), "{name}");
        }
    }
}

/// `emf` is a name in every build; without the `emf` feature it gets the error every format
/// missing from the build gets, with or without an endpoint (EMF needs none). Run with
/// `cargo test -p edgemetrics --no-default-features --features otlp --test env_cases emf_without`
/// (a step of `tests/run.sh`; the table above needs the default features).
#[cfg(not(feature = "emf"))]
#[test]
fn emf_without_its_feature_is_the_format_not_in_this_build_error() {
    let c = EnvConfig::parse(|k| (k == "EDGEMETRICS_FORMAT").then(|| "emf".to_string()));
    assert_eq!(c.format, Some(edgemetrics::env::FormatName::Emf));
    assert_eq!(c.errors, [r#"EDGEMETRICS_FORMAT "emf" is not in this build (enable its cargo feature)"#]);
}
