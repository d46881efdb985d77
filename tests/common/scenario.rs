//! Replays a recording scenario (tests/vectors/scenario.json) through a real `Registry`, so every
//! encoder's golden vector comes from the same batch. Format: tests/vectors/README.md.
//!
//! Use it from an integration test with
//! `#[path = "common/scenario.rs"] mod scenario;` and then `scenario::load_default()`,
//! `scenario::replay(&s, None)`, `scenario::check_vector("name.ext", &bytes)`.
#![allow(dead_code)]

use std::path::PathBuf;

use edgemetrics::{AttrValue, Batch, Config, InstrumentId, InstrumentKind, InstrumentOptions, Registry, Temporality};
use serde_json::Value as J;

/// Environment variable that makes [`check_vector`] rewrite the stored vector instead of comparing.
pub const BLESS_ENV: &str = "EDGEMETRICS_BLESS";

/// Directory of the golden vectors.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("vectors")
}

/// Reads and parses tests/vectors/scenario.json.
pub fn load_default() -> J {
    let path = vectors_dir().join("scenario.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// A time in unix nanoseconds: a decimal string (exact) or a JSON integer.
fn nanos(v: &J, what: &str) -> u64 {
    match v {
        J::String(s) => s.parse().unwrap_or_else(|_| panic!("{what}: bad time {s:?}")),
        J::Number(n) => n.as_u64().unwrap_or_else(|| panic!("{what}: bad time {n}")),
        _ => panic!("{what}: time must be a string or integer, got {v}"),
    }
}

fn str_of<'a>(v: &'a J, key: &str) -> &'a str {
    v.get(key).and_then(J::as_str).unwrap_or("")
}

/// An attribute `{"key": k, "string"|"int"|"double"|"bool": v}`; ints may be strings (exact
/// beyond 2^53) or numbers. Returns the key and an owned copy of the value's string.
fn attr(v: &J) -> (String, Owned) {
    let key = v.get("key").and_then(J::as_str).unwrap_or_else(|| panic!("attribute without key: {v}")).to_string();
    let val = if let Some(s) = v.get("string") {
        Owned::Str(s.as_str().unwrap_or_else(|| panic!("string attribute {key}: {s}")).to_string())
    } else if let Some(i) = v.get("int") {
        Owned::I64(match i {
            J::String(s) => s.parse().unwrap_or_else(|_| panic!("int attribute {key}: {s}")),
            J::Number(n) => n.as_i64().unwrap_or_else(|| panic!("int attribute {key}: {n}")),
            _ => panic!("int attribute {key}: {i}"),
        })
    } else if let Some(d) = v.get("double") {
        Owned::F64(d.as_f64().unwrap_or_else(|| panic!("double attribute {key}: {d}")))
    } else if let Some(b) = v.get("bool") {
        Owned::Bool(b.as_bool().unwrap_or_else(|| panic!("bool attribute {key}: {b}")))
    } else {
        panic!("attribute {key} has no string/int/double/bool value: {v}")
    };
    (key, val)
}

#[derive(Debug, Clone)]
enum Owned {
    Str(String),
    I64(i64),
    F64(f64),
    Bool(bool),
}

impl Owned {
    fn as_attr(&self) -> AttrValue<'_> {
        match self {
            Owned::Str(s) => AttrValue::Str(s),
            Owned::I64(v) => AttrValue::I64(*v),
            Owned::F64(v) => AttrValue::F64(*v),
            Owned::Bool(v) => AttrValue::Bool(*v),
        }
    }
}

fn kind(s: &str) -> InstrumentKind {
    match s {
        "counter" => InstrumentKind::Counter,
        "up_down_counter" => InstrumentKind::UpDownCounter,
        "gauge" => InstrumentKind::Gauge,
        "histogram" => InstrumentKind::Histogram,
        other => panic!("unknown instrument kind {other:?}"),
    }
}

/// Builds the registry configuration of a scenario; `temporality` overrides the scenario's.
pub fn config(s: &J, temporality: Option<Temporality>) -> Config {
    let c = &s["config"];
    let mut cfg = Config::new(str_of(c, "service_name"));
    cfg = cfg.temporality(match temporality {
        Some(t) => t,
        None => match str_of(c, "temporality") {
            "delta" | "" => Temporality::Delta,
            "cumulative" => Temporality::Cumulative,
            other => panic!("unknown temporality {other:?}"),
        },
    });
    if let Some(on) = c.get("self_metrics").and_then(J::as_bool) {
        cfg = cfg.self_metrics(on);
    }
    for a in c.get("resource").and_then(J::as_array).map(Vec::as_slice).unwrap_or(&[]) {
        let (k, v) = attr(a);
        cfg = cfg.resource_attr(&k, v.as_attr());
    }
    cfg
}

/// Replays the scenario and returns one batch per `collect` step, in order.
///
/// Steps (in `"steps"`): `{"op":"begin","time":T}`, `{"op":"record","instrument":NAME,
/// "value":V,"attributes":[…]}`, `{"op":"collect","time":T}`. Instruments are created first, in
/// the order of `"instruments"`.
pub fn replay(s: &J, temporality: Option<Temporality>) -> Vec<Batch> {
    let mut reg = Registry::new(config(s, temporality));
    let mut ids: Vec<(String, InstrumentId)> = Vec::new();
    for inst in s["instruments"].as_array().expect("\"instruments\" must be an array") {
        let name = str_of(inst, "name");
        let bounds: Option<Vec<f64>> = inst
            .get("bounds")
            .and_then(J::as_array)
            .map(|b| b.iter().map(|x| x.as_f64().unwrap_or_else(|| panic!("bound of {name}: {x}"))).collect());
        let mut opts = InstrumentOptions::unit(str_of(inst, "unit")).description(str_of(inst, "description"));
        if let Some(b) = &bounds {
            opts = opts.bounds(b);
        }
        let id = reg
            .instrument(name, kind(str_of(inst, "kind")), &opts)
            .unwrap_or_else(|e| panic!("instrument {name}: {e}"));
        ids.push((name.to_string(), id));
    }
    let mut batches = Vec::new();
    let steps = s["steps"].as_array().expect("\"steps\" must be an array");
    for (i, step) in steps.iter().enumerate() {
        let what = format!("step {i}");
        match str_of(step, "op") {
            "begin" => reg.begin(nanos(&step["time"], &what)),
            "collect" => batches.push(reg.collect(nanos(&step["time"], &what))),
            "record" => {
                let name = str_of(step, "instrument");
                let id = ids
                    .iter()
                    .find(|(n, _)| n == name)
                    .unwrap_or_else(|| panic!("{what}: unknown instrument {name}"))
                    .1;
                let value = step["value"].as_f64().unwrap_or_else(|| panic!("{what}: value must be a number"));
                let owned: Vec<(String, Owned)> = step
                    .get("attributes")
                    .and_then(J::as_array)
                    .map(|a| a.iter().map(attr).collect())
                    .unwrap_or_default();
                let attrs: Vec<(&str, AttrValue<'_>)> = owned.iter().map(|(k, v)| (k.as_str(), v.as_attr())).collect();
                reg.record(id, value, &attrs);
            }
            other => panic!("{what}: unknown op {other:?}"),
        }
    }
    batches
}

/// The batch a scenario's golden vectors encode: the one of its last `collect`.
pub fn vector_batch(s: &J) -> Batch {
    replay(s, None).pop().expect("the scenario has no collect step")
}

/// Compares `bytes` with tests/vectors/`name`; with `EDGEMETRICS_BLESS=1` rewrites the file
/// instead. On a mismatch writes the new bytes next to it as `name.new` for inspection.
pub fn check_vector(name: &str, bytes: &[u8]) {
    let path = vectors_dir().join(name);
    if std::env::var(BLESS_ENV).map(|v| v == "1").unwrap_or(false) {
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        eprintln!("blessed {}", path.display());
        return;
    }
    let stored = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("read {}: {e} (run with {BLESS_ENV}=1 to create it)", path.display()));
    if stored != bytes {
        let new = path.with_file_name(format!("{name}.new"));
        let _ = std::fs::write(&new, bytes);
        let at = stored.iter().zip(bytes).position(|(a, b)| a != b).unwrap_or(stored.len().min(bytes.len()));
        panic!(
            "{} differs from the encoder output (first difference at byte {at}; stored {} bytes, now {}); new bytes in {}. \
             If the change is intended, rerun with {BLESS_ENV}=1.",
            path.display(),
            stored.len(),
            bytes.len(),
            new.display()
        );
    }
}
