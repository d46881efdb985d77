//! OpenTelemetry → Prometheus translation, shared by [remote write](crate::encode::remote_write) and the
//! [Pushgateway](crate::encode::pushgateway) text format.
//!
//! Prometheus has a flatter and stricter data model than OpenTelemetry. This module applies the
//! rules of the OpenTelemetry "Prometheus and OpenMetrics compatibility" specification, keeping
//! only the parts a push SDK needs:
//!
//! # Metric names
//!
//! Prometheus metric names match `[a-zA-Z_:][a-zA-Z0-9_:]*`. Every other character (for example
//! the `.` of `http.server.duration`) becomes `_`; runs are not collapsed. A name that would start
//! with a digit gets a `_` prefix. Then:
//!
//! 1. the **unit** becomes a suffix unless the name already ends with it (table below);
//!    annotations in braces (`{request}`) are dropped first, so `{request}` adds nothing;
//! 2. **monotonic counters** get `_total` (unless already there).
//!
//! | unit | suffix | | unit | suffix |
//! |---|---|---|---|---|
//! | `ns` | `_nanoseconds` | | `By` | `_bytes` |
//! | `us` | `_microseconds` | | `KiBy` | `_kibibytes` |
//! | `ms` | `_milliseconds` | | `MiBy` | `_mebibytes` |
//! | `s` | `_seconds` | | `KBy` | `_kilobytes` |
//! | `min` | `_minutes` | | `MBy` | `_megabytes` |
//! | `h` | `_hours` | | `%` | `_percent` |
//! | `d` | `_days` | | `1` | `_ratio` (gauges only) |
//!
//! A unit `A/B` becomes `_A_per_B` with both sides translated (`By/s` → `_bytes_per_second`;
//! the denominator uses the singular: `second`, `minute`, `hour`, `day`). Any other unit is
//! appended as-is after sanitizing (`m` → `_m`).
//!
//! ```
//! use edgemetrics::encode::prom::metric_name;
//! use edgemetrics::InstrumentKind::*;
//! assert_eq!(metric_name("http.server.duration", "ms", Histogram), "http_server_duration_milliseconds");
//! assert_eq!(metric_name("http.requests", "{request}", Counter), "http_requests_total");
//! assert_eq!(metric_name("cpu.utilization", "1", Gauge), "cpu_utilization_ratio");
//! assert_eq!(metric_name("egress", "By/s", Gauge), "egress_bytes_per_second");
//! ```
//!
//! # Label names and values
//!
//! Label names match `[a-zA-Z_][a-zA-Z0-9_]*`; invalid characters become `_`. A key starting with
//! a digit gets a `key_` prefix (`1st` → `key_1st`). Names starting with `__` are reserved for
//! Prometheus itself (`__name__`), so a user attribute never produces one: such keys get a `key`
//! prefix (`__secret` → `key__secret`). Empty keys are dropped.
//!
//! Label values are any UTF-8. Attribute values become strings: integers in decimal, booleans as
//! `true`/`false`, doubles in the shortest form that reads back as the same double, written the
//! way Prometheus (Go's `strconv.FormatFloat(v, 'g', -1, 64)`) writes them (`10`, `0.005`,
//! `1e+06`, `+Inf`). An **empty value is the same as no label** in Prometheus, so it is dropped.
//!
//! When two attributes map to the same label name (`a.b` and `a_b`) their values are joined with
//! `;` in the order of their original keys, as the OpenTelemetry specification prescribes. The
//! result never depends on the order attributes were recorded in.
//!
//! # Resource: `job` and `instance`
//!
//! `service.name` becomes `job` (prefixed by `service.namespace` and `/` when set) and
//! `service.instance.id` becomes `instance`. Other resource attributes are not attached.
//!
//! Why `instance` matters: Prometheus counters are running totals and `rate()` takes differences
//! between consecutive samples of *one* series. Every isolate of a serverless function keeps its
//! own totals (cumulative temporality), so each isolate must write its own series — the
//! OpenTelemetry *single-writer* rule. If two isolates wrote the same series, their totals would
//! interleave (10, 3, 11, 4, ...) and every drop would look like a counter reset to `rate()`,
//! inflating the result. A per-isolate `service.instance.id` makes the series distinct;
//! `sum(rate(x_total[5m]))` then aggregates the isolates correctly.
//!
//! # Instrumentation scope: `otel_scope_name` and `otel_scope_version`
//!
//! A metric whose instrument is in a scope other than the default `edgemetrics` one (an
//! OpenTelemetry meter's `getMeter(name, version)`, [`InstrumentOptions::scope`](crate::InstrumentOptions::scope))
//! gets the labels `otel_scope_name` and `otel_scope_version` (left out when empty), as the
//! OpenTelemetry → Prometheus compatibility specification prescribes; the same instrument name in
//! two scopes is then two series of one family. Metrics of the default scope get neither label:
//! a deliberate departure from the specification (which labels every scope) so that series of
//! instruments created directly keep the labels they always had. An attribute that would produce
//! one of these labels on a scoped metric is renamed `exported_…`.
//!
//! A point attribute that would produce a label the encoder reserves (`job`, `instance`, `le`,
//! Pushgateway grouping labels) is renamed with an `exported_` prefix, as Prometheus does for
//! scraped labels that clash with target labels.
//!
//! # Families
//!
//! `families` turns a [`Batch`] into Prometheus metric families: one per translated name, series
//! in batch order (deterministic: the registry's creation order). Two instruments of the same kind that translate to the same name share one
//! family; if their kinds differ the later one is refused with a typed error (a family has one
//! type). Two series of a family that end up with identical labels (e.g. attributes `a.b=x` and
//! `a_b=x` on different points) are merged: counters and histogram buckets add, gauges (up-down
//! counters included) keep the later point — so the output never holds a duplicate series, which receivers reject.
//!
//! A histogram's derived names (`x_bucket`, `x_sum`, `x_count`) are not checked against other
//! instruments' names: do not name a counter or gauge `x_count` next to a histogram `x`.

use alloc::string::String;
use alloc::vec::Vec;

use crate::attr::{KeyValue, Value};
use crate::error::Error;
use crate::exphist::{ExpHistogram, DEFAULT_MAX_SIZE};
use crate::model::{Batch, InstrumentKind, MetricData};

/// Translates an OpenTelemetry instrument name and unit into a Prometheus metric name (see the
/// [module documentation](self) for the rules).
pub fn metric_name(name: &str, unit: &str, kind: InstrumentKind) -> String {
    let mut out = String::with_capacity(name.len() + 16);
    for (i, c) in name.chars().enumerate() {
        if i == 0 && c.is_ascii_digit() {
            out.push('_');
        }
        out.push(if c.is_ascii_alphanumeric() || c == '_' || c == ':' { c } else { '_' });
    }
    if out.is_empty() {
        out.push('_');
    }
    let mut suffix = String::new();
    unit_suffix(unit, kind, &mut suffix);
    if !suffix.is_empty() && !out.ends_with(suffix.as_str()) {
        out.push_str(&suffix);
    }
    if kind == InstrumentKind::Counter && !out.ends_with("_total") {
        out.push_str("_total");
    }
    out
}

fn unit_word(u: &str) -> Option<&'static str> {
    Some(match u {
        "ns" => "nanoseconds",
        "us" => "microseconds",
        "ms" => "milliseconds",
        "s" => "seconds",
        "min" => "minutes",
        "h" => "hours",
        "d" => "days",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "%" => "percent",
        _ => return None,
    })
}

fn per_word(u: &str) -> Option<&'static str> {
    Some(match u {
        "s" => "second",
        "min" => "minute",
        "h" => "hour",
        "d" => "day",
        _ => return None,
    })
}

fn push_sanitized_unit(u: &str, out: &mut String) {
    for c in u.chars() {
        out.push(if c.is_ascii_alphanumeric() || c == '_' || c == ':' { c } else { '_' });
    }
}

/// Appends `_<unit>` for `unit` (annotations removed) to `out`.
fn unit_suffix(unit: &str, kind: InstrumentKind, out: &mut String) {
    // Drop `{annotation}` parts: `{request}` → "", `{packet}/s` → "/s".
    let mut clean = String::new();
    let mut depth = 0u32;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            _ if depth == 0 => clean.push(c),
            _ => {}
        }
    }
    let clean = clean.trim();
    if clean.is_empty() {
        return;
    }
    if clean == "1" {
        if kind == InstrumentKind::Gauge {
            out.push_str("_ratio");
        }
        return;
    }
    let (num, den) = match clean.split_once('/') {
        Some((n, d)) => (n.trim(), Some(d.trim())),
        None => (clean, None),
    };
    if !num.is_empty() && num != "1" {
        out.push('_');
        match unit_word(num) {
            Some(w) => out.push_str(w),
            None => push_sanitized_unit(num, out),
        }
    }
    if let Some(den) = den.filter(|d| !d.is_empty()) {
        out.push_str("_per_");
        match per_word(den).or_else(|| unit_word(den)) {
            Some(w) => out.push_str(w),
            None => push_sanitized_unit(den, out),
        }
    }
}

/// Translates an attribute key into a Prometheus label name; `None` for an empty key.
///
/// ```
/// use edgemetrics::encode::prom::label_name;
/// assert_eq!(label_name("http.method").as_deref(), Some("http_method"));
/// assert_eq!(label_name("1st").as_deref(), Some("key_1st"));
/// assert_eq!(label_name("__name__").as_deref(), Some("key__name__"));
/// ```
pub fn label_name(key: &str) -> Option<String> {
    if key.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(key.len() + 4);
    if key.as_bytes()[0].is_ascii_digit() {
        out.push_str("key_");
    } else if key.starts_with("__") {
        out.push_str("key");
    }
    for c in key.chars() {
        out.push(if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' });
    }
    // Sanitizing may create a `__` prefix (e.g. `..x`): reserved, so prefix it too.
    if out.starts_with("__") {
        out.insert_str(0, "key");
    }
    Some(out)
}

/// `true` when `name` is a valid label name that a user may set (`[a-zA-Z_][a-zA-Z0-9_]*`, not
/// starting with the reserved `__`).
pub fn is_valid_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && !b[0].is_ascii_digit()
        && !name.starts_with("__")
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Runs `f` on a byte buffer and appends what it wrote (always ASCII) to `out`.
fn push_ascii(out: &mut String, f: impl FnOnce(&mut Vec<u8>)) {
    let mut b = Vec::with_capacity(24);
    f(&mut b);
    out.push_str(core::str::from_utf8(&b).unwrap_or(""));
}

/// [`push_f64`] into a `String`.
pub(crate) fn push_f64_str(out: &mut String, v: f64) {
    push_ascii(out, |b| push_f64(b, v))
}

/// Appends `v` as Prometheus writes floats: Go's `strconv.FormatFloat(v, 'g', -1, 64)` — the
/// shortest digits that read back as `v`, in plain notation when the decimal exponent is in
/// `-4..6`, otherwise as `d.ddde±XX`; `+Inf`, `-Inf`, `NaN` for the specials.
/// (Example: `tests::push_f64_example`.)
pub(crate) fn push_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
        return;
    }
    if v.is_sign_negative() {
        out.push(b'-');
    }
    if v == 0.0 {
        out.push(b'0');
        return;
    }
    // ryu gives the shortest round-trip digits; re-lay them out the Go way.
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(v.abs());
    let (mant, exp) = match s.split_once('e') {
        Some((m, e)) => (m, parse_exp(e)),
        None => (s, 0),
    };
    let mut digits = [0u8; 24];
    let mut nd = 0usize;
    let mut int_len = 0i32;
    let mut seen_dot = false;
    for &b in mant.as_bytes() {
        if b == b'.' {
            seen_dot = true;
        } else if nd < digits.len() {
            digits[nd] = b;
            nd += 1;
            if !seen_dot {
                int_len += 1;
            }
        }
    }
    // value = 0.d1d2..dn × 10^dp
    let mut dp = int_len + exp;
    let mut start = 0usize;
    while start < nd && digits[start] == b'0' {
        start += 1;
        dp -= 1;
    }
    while nd > start && digits[nd - 1] == b'0' {
        nd -= 1;
    }
    let d = &digits[start..nd];
    let x = dp - 1;
    if !(-4..6).contains(&x) {
        out.push(d[0]);
        if d.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&d[1..]);
        }
        out.push(b'e');
        out.push(if x < 0 { b'-' } else { b'+' });
        let ax = x.unsigned_abs();
        if ax < 10 {
            out.push(b'0');
        }
        crate::codec::text::push_u64(out, ax as u64);
    } else if dp <= 0 {
        out.extend_from_slice(b"0.");
        (0..-dp).for_each(|_| out.push(b'0'));
        out.extend_from_slice(d);
    } else {
        let dp = dp as usize;
        for i in 0..dp.max(d.len()) {
            if i == dp {
                out.push(b'.');
            }
            out.push(*d.get(i).unwrap_or(&b'0'));
        }
    }
}

fn parse_exp(e: &str) -> i32 {
    let (neg, digits) = match e.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, e),
    };
    let mut v = 0i32;
    for b in digits.bytes().take(4) {
        v = v * 10 + (b.wrapping_sub(b'0') as i32 % 10);
    }
    if neg {
        -v
    } else {
        v
    }
}

/// Appends an attribute value as a label value (see the [module documentation](self)).
pub(crate) fn push_value(out: &mut String, v: &Value) {
    match v {
        Value::Str(s) => out.push_str(s),
        Value::I64(x) => push_ascii(out, |b| crate::codec::text::push_i64(b, *x)),
        Value::F64(x) => push_f64_str(out, *x),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
    }
}

/// A label: `(name, value)`.
pub(crate) type Label = (String, String);

/// `job` and `instance` from the resource (see the [module documentation](self)), sorted by name,
/// empty values left out.
pub(crate) fn resource_labels(resource: &[KeyValue]) -> Vec<Label> {
    let get = |k: &str| {
        resource.iter().find(|kv| kv.key == k).map(|kv| {
            let mut s = String::new();
            push_value(&mut s, &kv.value);
            s
        })
    };
    let mut out = Vec::new();
    if let Some(inst) = get("service.instance.id").filter(|s| !s.is_empty()) {
        out.push((String::from("instance"), inst));
    }
    if let Some(name) = get("service.name").filter(|s| !s.is_empty()) {
        let job = match get("service.namespace").filter(|s| !s.is_empty()) {
            Some(mut ns) => {
                ns.push('/');
                ns.push_str(&name);
                ns
            }
            None => name,
        };
        out.push((String::from("job"), job));
    }
    out
}

/// Translates a point's attributes into sorted, unique, non-empty labels (see the
/// [module documentation](self)): names sanitized, names in `reserved` renamed `exported_<name>`,
/// colliding names merged with `;` in original-key order, empty values dropped.
pub(crate) fn attribute_labels(attrs: &[KeyValue], reserved: &[&str]) -> Vec<Label> {
    // (label name, original key, value)
    let mut tmp: Vec<(String, &str, String)> = Vec::with_capacity(attrs.len());
    for kv in attrs {
        let Some(mut name) = label_name(&kv.key) else { continue };
        if reserved.contains(&name.as_str()) {
            name.insert_str(0, "exported_");
        }
        let mut v = String::new();
        push_value(&mut v, &kv.value);
        tmp.push((name, &kv.key, v));
    }
    // Keys are unique within a point, so (name, key) is a total order.
    sort_by(&mut tmp, |a, b| (&a.0, a.1) < (&b.0, b.1));
    let mut out: Vec<Label> = Vec::with_capacity(tmp.len());
    for (name, _, value) in tmp {
        match out.last_mut() {
            Some(last) if last.0 == name => {
                last.1.push(';');
                last.1.push_str(&value);
            }
            _ => out.push((name, value)),
        }
    }
    out.retain(|(_, v)| !v.is_empty());
    out
}

/// Merges two label lists sorted by name into one sorted list. On equal names `a` wins.
pub(crate) fn merge_sorted(a: &[Label], b: &[Label]) -> Vec<Label> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if j == b.len() || (i < a.len() && a[i].0 <= b[j].0) {
            if j < b.len() && a[i].0 == b[j].0 {
                j += 1;
            }
            out.push(a[i].clone());
            i += 1;
        } else {
            out.push(b[j].clone());
            j += 1;
        }
    }
    out
}

/// The type of a Prometheus metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FamilyType {
    /// Monotonic running total (`_total` name).
    Counter,
    /// A value that may go up and down (gauges and up-down counters).
    Gauge,
    /// Classic histogram: `_bucket{le}`, `_sum`, `_count`.
    Histogram,
    /// Native histogram (an exponential histogram): remote write sends it as one series with a
    /// `Histogram` value; the text format converts it to classic buckets ([`classic_buckets`]).
    NativeHistogram,
}

impl FamilyType {
    /// The name used in a `# TYPE` line.
    pub fn as_str(self) -> &'static str {
        match self {
            FamilyType::Counter => "counter",
            FamilyType::Gauge => "gauge",
            FamilyType::Histogram | FamilyType::NativeHistogram => "histogram",
        }
    }
}

/// The value of one series.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SeriesValue {
    /// A counter or gauge value.
    Number(f64),
    /// A classic histogram.
    Histogram {
        /// Cumulative counts per bound, ascending; the `+Inf` bucket is `count`.
        cumulative: Vec<u64>,
        /// Number of observations.
        count: u64,
        /// Sum of observations.
        sum: f64,
    },
    /// An exponential (native) histogram.
    Native(ExpHistogram),
}

/// One series: labels (sorted by name, without `__name__` and `le`) and its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    /// Labels sorted by name.
    pub labels: Vec<Label>,
    /// The value.
    pub value: SeriesValue,
}

/// A metric family: one name, one type, its series in batch order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Family {
    /// Prometheus metric name (for histograms, the base of `_bucket`, `_sum`, `_count`).
    pub name: String,
    /// Description of the instrument.
    pub help: String,
    /// Type.
    pub kind: FamilyType,
    /// Histogram upper bounds (empty for other types).
    pub bounds: Vec<f64>,
    /// Series in batch order, no two with the same labels.
    pub series: Vec<Series>,
}

/// Options for `families`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FamilyOptions<'a> {
    /// Add `job`/`instance` from the resource to every series (remote write: yes; Pushgateway: no,
    /// the grouping key carries them).
    pub resource_labels: bool,
    /// Label names point attributes must not take (renamed `exported_<name>`), besides `job`,
    /// `instance` and `le`, which are always reserved.
    pub reserved: &'a [&'a str],
}

/// Label of a non-default instrumentation scope's name (OpenTelemetry → Prometheus compatibility).
pub const SCOPE_NAME_LABEL: &str = "otel_scope_name";
/// Label of a non-default instrumentation scope's version.
pub const SCOPE_VERSION_LABEL: &str = "otel_scope_version";

/// Translates every metric of `batch` into Prometheus families (see the
/// [module documentation](self)). Family order follows the batch; a name claimed by two kinds is
/// [`Error::InvalidName`].
pub(crate) fn families(batch: &Batch, opts: &FamilyOptions<'_>) -> Result<Vec<Family>, Error> {
    let res = if opts.resource_labels { resource_labels(&batch.resource) } else { Vec::new() };
    let mut reserved: Vec<&str> = Vec::with_capacity(opts.reserved.len() + 3);
    reserved.extend_from_slice(&["instance", "job", "le"]);
    reserved.extend_from_slice(opts.reserved);
    // A metric in a scope other than the default one: `otel_scope_*` labels, and attribute
    // labels of those names renamed `exported_…` (the scope wins).
    let mut scoped_reserved = reserved.clone();
    scoped_reserved.extend_from_slice(&[SCOPE_NAME_LABEL, SCOPE_VERSION_LABEL]);
    let mut out: Vec<Family> = Vec::new();
    for m in &batch.metrics {
        let name = metric_name(&m.name, &m.unit, m.kind);
        let scoped_res: Vec<Label>;
        let (res, reserved): (&[Label], &[&str]) = match batch.scope_index(m) {
            0 => (&res, &reserved),
            s => {
                let (n, v) = batch.scope(s as u16);
                let mut scope: Vec<Label> = Vec::with_capacity(2);
                for (k, v) in [(SCOPE_NAME_LABEL, n), (SCOPE_VERSION_LABEL, v)] {
                    if !v.is_empty() {
                        scope.push((String::from(k), String::from(v)));
                    }
                }
                scoped_res = merge_sorted(&res, &scope);
                (&scoped_res, &scoped_reserved)
            }
        };
        let (kind, bounds): (FamilyType, &[f64]) = match &m.data {
            MetricData::Sum { monotonic: true, .. } => (FamilyType::Counter, &[]),
            MetricData::Sum { .. } | MetricData::Gauge { .. } => (FamilyType::Gauge, &[]),
            MetricData::Histogram { bounds, .. } => (FamilyType::Histogram, bounds),
            MetricData::ExponentialHistogram { .. } => (FamilyType::NativeHistogram, &[]),
        };
        let idx = match out.iter().position(|f| f.name == name) {
            Some(i) => {
                let f = &out[i];
                if f.kind != kind || (kind == FamilyType::Histogram && f.bounds[..] != *bounds) {
                    return Err(Error::InvalidName {
                        name: crate::error::cut(&m.name, 300),
                        reason:
                            "translates to the same Prometheus name as another instrument of another kind or bounds",
                    });
                }
                i
            }
            None => {
                out.push(Family {
                    name,
                    help: String::from(&*m.description),
                    kind,
                    bounds: bounds.to_vec(),
                    series: Vec::new(),
                });
                out.len() - 1
            }
        };
        let fam = &mut out[idx];
        let labels = |attrs: &[KeyValue]| merge_sorted(res, &attribute_labels(attrs, reserved));
        match &m.data {
            MetricData::Sum { points, .. } | MetricData::Gauge { points } => {
                for p in points {
                    fam.series.push(Series { labels: labels(&p.attributes), value: SeriesValue::Number(p.value) });
                }
            }
            MetricData::Histogram { points, .. } => {
                for p in points {
                    // One cumulative count per finite bound; the last bucket is only in `count`.
                    // A point with fewer bucket counts than bounds (malformed input) repeats the
                    // running total, which keeps the buckets monotonic.
                    let mut acc = 0u64;
                    let mut cumulative: Vec<u64> = Vec::with_capacity(bounds.len());
                    for i in 0..bounds.len() {
                        acc = acc.saturating_add(p.bucket_counts.get(i).copied().unwrap_or(0));
                        cumulative.push(acc);
                    }
                    let acc = acc.saturating_add(p.bucket_counts.get(bounds.len()).copied().unwrap_or(0));
                    // `+Inf` must equal count and stay >= every finite bucket.
                    let count = p.count.max(acc);
                    fam.series.push(Series {
                        labels: labels(&p.attributes),
                        value: SeriesValue::Histogram { cumulative, count, sum: p.sum },
                    });
                }
            }
            MetricData::ExponentialHistogram { points, .. } => {
                for p in points {
                    fam.series
                        .push(Series { labels: labels(&p.attributes), value: SeriesValue::Native(p.hist.clone()) });
                }
            }
        }
    }
    for f in &mut out {
        dedup(f);
    }
    Ok(out)
}

/// Heapsort by a strict "less than": O(n log n), no allocation, and a few hundred bytes of wasm
/// per use, where `slice::sort_by` instantiates several kilobytes of driftsort. Not stable:
/// callers give it a total order.
pub(crate) fn sort_by<T>(v: &mut [T], mut less: impl FnMut(&T, &T) -> bool) {
    let n = v.len();
    let mut sift = |v: &mut [T], mut node: usize, end: usize| loop {
        let mut child = 2 * node + 1;
        if child >= end {
            break;
        }
        if child + 1 < end && less(&v[child], &v[child + 1]) {
            child += 1;
        }
        if !less(&v[node], &v[child]) {
            break;
        }
        v.swap(node, child);
        node = child;
    };
    for i in (0..n / 2).rev() {
        sift(v, i, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift(v, 0, end);
    }
}

/// FNV-1a over a label set, with separators so that `("ab","c")` and `("a","bc")` differ.
fn labels_hash(labels: &[Label]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |bytes: &[u8], sep: u8| {
        for &b in bytes.iter().chain(core::iter::once(&sep)) {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (n, v) in labels {
        // 0xff and 0xfe never occur in UTF-8, so they cannot be confused with label bytes.
        eat(n.as_bytes(), 0xff);
        eat(v.as_bytes(), 0xfe);
    }
    h
}

/// Merges series of a family with identical labels into the first of them (batch order is
/// kept). Only series with equal label hashes are compared, so the usual case — no duplicates —
/// costs one hash per series and a sort of integers.
fn dedup(f: &mut Family) {
    if f.series.len() < 2 {
        return;
    }
    let mut keys: Vec<(u64, usize)> = f.series.iter().enumerate().map(|(i, s)| (labels_hash(&s.labels), i)).collect();
    sort_by(&mut keys, |a, b| a < b);
    let mut remove = alloc::vec![false; f.series.len()];
    let kind = f.kind;
    let mut run = 0;
    while run < keys.len() {
        let mut end = run + 1;
        while end < keys.len() && keys[end].0 == keys[run].0 {
            end += 1;
        }
        // Within a run of equal hashes (ascending index), fold each series into the first
        // earlier one with the same labels.
        for a in run..end {
            let ia = keys[a].1;
            if remove[ia] {
                continue;
            }
            for key in &keys[a + 1..end] {
                let ib = key.1;
                if remove[ib] || f.series[ia].labels != f.series[ib].labels {
                    continue;
                }
                let later = f.series[ib].value.clone();
                merge_value(&mut f.series[ia].value, &later, kind);
                remove[ib] = true;
            }
        }
        run = end;
    }
    let mut i = 0;
    f.series.retain(|_| {
        i += 1;
        !remove[i - 1]
    });
}

/// Folds the value of a later duplicate series into the earlier one: counters and histograms
/// add, gauges take the later value.
fn merge_value(earlier: &mut SeriesValue, later: &SeriesValue, kind: FamilyType) {
    match (earlier, later) {
        (SeriesValue::Number(e), SeriesValue::Number(l)) => {
            if kind == FamilyType::Counter {
                *e += *l;
            } else {
                *e = *l;
            }
        }
        (
            SeriesValue::Histogram { cumulative: ec, count: en, sum: es },
            SeriesValue::Histogram { cumulative: lc, count: ln, sum: ls },
        ) => {
            for (e, l) in ec.iter_mut().zip(lc) {
                *e = e.saturating_add(*l);
            }
            *en = en.saturating_add(*ln);
            *es += *ls;
        }
        (SeriesValue::Native(e), SeriesValue::Native(l)) => {
            let widest = [&e.positive, &e.negative, &l.positive, &l.negative]
                .iter()
                .map(|b| b.counts.len() as u32)
                .fold(DEFAULT_MAX_SIZE, u32::max);
            e.merge(l, widest);
        }
        _ => {}
    }
}

/// An exponential histogram as classic cumulative buckets (see
/// [`ExpHistogram::cumulative_buckets`]): what the Pushgateway text format carries.
pub fn classic_buckets(h: &ExpHistogram) -> Vec<(f64, u64)> {
    h.cumulative_buckets()
}

#[cfg(test)]
mod tests {
    #[test]
    fn push_f64_example() {
        let mut s = Vec::new();
        for v in [10.0, 0.005, 2.5, 1e6, 123456.0, 1e-5, f64::INFINITY, -0.5] {
            push_f64(&mut s, v);
            s.push(b' ');
        }
        assert_eq!(s, b"10 0.005 2.5 1e+06 123456 1e-05 +Inf -0.5 ");
    }

    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn f(v: f64) -> String {
        let mut s = String::new();
        push_f64_str(&mut s, v);
        s
    }

    #[test]
    fn floats_like_go() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (10.0, "10"),
            (0.005, "0.005"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (100000.0, "100000"),
            (1000000.0, "1e+06"),
            (123456789.0, "1.23456789e+08"),
            (2.5, "2.5"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e21, "1e+21"),
            (1.5e-300, "1.5e-300"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
            (7500.0, "7500"),
            (-42.25, "-42.25"),
        ];
        for (v, want) in cases {
            assert_eq!(f(*v), *want, "{v}");
        }
    }

    #[test]
    fn floats_round_trip() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if !v.is_finite() {
                continue;
            }
            let s = f(v);
            let back: f64 = s.parse().unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{s}");
        }
    }

    #[test]
    fn families_merge_duplicates_and_refuse_kind_clashes() {
        use crate::registry::{Config, InstrumentOptions, Registry};
        use crate::Temporality;
        let mut reg = Registry::new(Config::new("s").temporality(Temporality::Cumulative).self_metrics(false));
        let c = reg.counter("req", InstrumentOptions::default()).unwrap();
        let c2 = reg.counter("req_total", InstrumentOptions::default()).unwrap();
        let g = reg.gauge("temp", InstrumentOptions::default()).unwrap();
        // Different attribute keys that translate to the same label set: one series, summed.
        c.add(&mut reg, 2.0, &[("a.b", "x".into())]);
        c.add(&mut reg, 3.0, &[("a_b", "x".into())]);
        // Another instrument of the same kind with the same Prometheus name: same family.
        c2.add(&mut reg, 4.0, &[("a-b", "x".into())]);
        g.set(&mut reg, 1.0, &[("k", "1".into())]);
        g.set(&mut reg, 7.0, &[("k", 1i64.into())]);
        let b = reg.collect(10);
        let fams = families(&b, &FamilyOptions::default()).unwrap();
        assert_eq!(fams.len(), 2);
        assert_eq!(fams[0].name, "req_total");
        assert_eq!(fams[0].series.len(), 1);
        assert_eq!(fams[0].series[0].value, SeriesValue::Number(9.0));
        assert_eq!(fams[0].series[0].labels, vec![("a_b".to_string(), "x".to_string())]);
        // Gauges: the later point wins (the int attribute's series was created second).
        // (The string "1" and the int 1 give the same label value.)
        assert_eq!(fams[1].series.len(), 1);
        assert_eq!(fams[1].series[0].value, SeriesValue::Number(7.0));

        let clash = reg.gauge("req.total", InstrumentOptions::default()).unwrap();
        clash.set(&mut reg, 1.0, &[]);
        let b = reg.collect(20);
        assert!(matches!(families(&b, &FamilyOptions::default()), Err(Error::InvalidName { .. })));
    }

    #[test]
    fn heapsort_sorts() {
        let mut x = 12345u64;
        for n in [0usize, 1, 2, 3, 10, 257] {
            let mut v: Vec<u64> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x % 50
                })
                .collect();
            let mut want = v.clone();
            want.sort();
            sort_by(&mut v, |a, b| a < b);
            assert_eq!(v, want);
        }
    }

    #[test]
    fn names() {
        use InstrumentKind::*;
        assert_eq!(metric_name("a.b-c/d", "", Gauge), "a_b_c_d");
        assert_eq!(metric_name("9lives", "", Gauge), "_9lives");
        assert_eq!(metric_name("x", "s", Counter), "x_seconds_total");
        assert_eq!(metric_name("x_seconds", "s", Histogram), "x_seconds");
        assert_eq!(metric_name("x_total", "", Counter), "x_total");
        assert_eq!(metric_name("x", "1", Counter), "x_total");
        assert_eq!(metric_name("x", "1", UpDownCounter), "x");
        assert_eq!(metric_name("x", "{packet}/s", Gauge), "x_per_second");
        assert_eq!(metric_name("x", "m", Gauge), "x_m");
        assert_eq!(metric_name("x", "KiBy", Gauge), "x_kibibytes");
        assert_eq!(metric_name("ö", "", Gauge), "_");
        assert_eq!(label_name("").as_deref(), None);
        assert_eq!(label_name("..x").as_deref(), Some("key__x"));
        assert_eq!(label_name("a:b").as_deref(), Some("a_b"));
        assert!(is_valid_label_name("a_b9"));
        assert!(!is_valid_label_name("__x") && !is_valid_label_name("9") && !is_valid_label_name("a-b"));
    }

    #[test]
    fn labels_merge_and_drop_empty() {
        let attrs = vec![
            KeyValue::new("a.b", "x"),
            KeyValue::new("a_b", "y"),
            KeyValue::new("empty", ""),
            KeyValue::new("job", "mine"),
            KeyValue::new("n", 3i64),
            KeyValue::new("ok", true),
            KeyValue::new("r", 0.25),
        ];
        let l = attribute_labels(&attrs, &["job"]);
        let want: Vec<Label> = [("a_b", "x;y"), ("exported_job", "mine"), ("n", "3"), ("ok", "true"), ("r", "0.25")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(l, want);
        let res = resource_labels(&[
            KeyValue::new("service.name", "api"),
            KeyValue::new("service.namespace", "shop"),
            KeyValue::new("service.instance.id", "i-1"),
        ]);
        assert_eq!(res, vec![("instance".to_string(), "i-1".to_string()), ("job".to_string(), "shop/api".to_string())]);
    }
}
