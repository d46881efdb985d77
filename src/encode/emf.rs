//! CloudWatch Embedded Metric Format (EMF): the batch as JSON log lines that CloudWatch Logs turns
//! into metrics. Why a format of its own: on AWS Lambda a line on stdout costs no network call
//! and no latency inside the invocation, where every other format is an HTTP request that the
//! frozen-after-return environment must finish before the handler returns.
//!
//! The body is one EMF document per line (`\n` after each). Each document is
//!
//! ```text
//! {"_aws":{"Timestamp":<batch end, unix ms>,"CloudWatchMetrics":[{"Namespace":"<ns>",
//!   "Dimensions":[["<dim>",...]],"Metrics":[{"Name":"<metric>","Unit":"<unit>"},...]}]},
//!  "<dim>":"<value>",...,"<resource key>":<value>,...,"<metric>":<value>,...}
//! ```
//!
//! Rules (the specification's limits, applied automatically):
//!
//! * **One document per attribute set.** Dimension values are members of the document's root, so
//!   points with different attribute sets cannot share a document. Metrics recorded with the same
//!   attribute set share documents, at most [`MAX_METRICS_PER_DOCUMENT`] (100) per document.
//! * **Dimensions come from the point's attributes**, in key order, rendered as strings; at most
//!   [`MAX_DIMENSIONS`] (30) form the dimension set. An attribute that cannot be a dimension
//!   (empty key or value, key over 255 characters, value over 1024 characters, or past the 30th)
//!   is still written as a plain member of the document (searchable in Logs Insights, not a
//!   dimension). An attribute named `_aws` is not written (the name is the metadata's).
//! * **Instrumentation scopes are not written** (EMF has no place for them, and a dimension would
//!   multiply the metrics CloudWatch bills): the same name with the same attributes in two scopes
//!   gives two documents, which CloudWatch aggregates into one metric.
//! * **Resource attributes are not dimensions** (they would multiply the metric count CloudWatch
//!   bills): they are written as plain members of every document, unless a dimension or a metric
//!   of that document has the same name. The namespace is [`EmfConfig::namespace`], or the
//!   resource's `service.name`.
//! * **Sums and gauges** are written as one number. **Histograms** as
//!   `{"Values":[...],"Counts":[...],"Max":..,"Min":..,"Count":..,"Sum":..}` (the value/count
//!   form CloudWatch accepts for distributions): one value per non-empty bucket, the midpoint of
//!   the bucket's bounds clamped to the point's `[min, max]` (so a bucket holding a single value,
//!   or equal values, carries it exactly); `Count`, `Sum`, `Min`, `Max` are the point's, exact. A
//!   histogram point with no values is not written (it has nothing to report). More than
//!   [`MAX_VALUES_PER_METRIC`] (100) non-empty buckets are split over several documents with the
//!   same dimensions; each part then carries its own `Count` (exact), `Min`/`Max` (of its values)
//!   and `Sum` (Σ value × count: approximate). **Exponential histograms** take the same form over
//!   their bucket boundaries (`ExpHistogram::cumulative_buckets`).
//! * **Each document stays under [`MAX_EVENT_BYTES`]** (256 KiB less the 26 bytes CloudWatch Logs
//!   counts per event): metrics spill into the next document. A single value whose document cannot
//!   fit even without the resource members (attributes far beyond the default attribute limits) is
//!   an error for the whole batch ([`Error::InvalidConfig`]), as is a metric named like one of its
//!   own attributes (EMF has one member per name).
//! * **Units** are mapped to CloudWatch's names where one exists ([`cloudwatch_unit`]); other
//!   units are left out (CloudWatch then says `None`). Values are never rescaled.
//!
//! ```
//! use edgemetrics::{Config, InstrumentOptions, Registry};
//! use edgemetrics::encode::emf::{self, EmfConfig};
//! let mut reg = Registry::new(Config::new("checkout").self_metrics(false));
//! let c = reg.counter("orders", InstrumentOptions::default()).unwrap();
//! c.add(&mut reg, 2.0, &[("region", "eu".into())]);
//! let batch = reg.collect(1_700_000_000_000_000_000);
//! let body = emf::encode(&batch, &EmfConfig::default()).unwrap();
//! let text = core::str::from_utf8(&body).unwrap();
//! assert_eq!(text.lines().count(), 1);
//! assert!(text.starts_with(r#"{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"checkout","Dimensions":[["region"]],"Metrics":[{"Name":"orders","Unit":"Count"}]}]},"region":"eu""#));
//! assert!(text.ends_with(",\"orders\":2}\n"));
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use crate::attr::{KeyValue, Value};
use crate::codec::text::{push_f64, push_i64, push_json_str, push_u64};
use crate::encode::Encoded;
use crate::error::Error;
use crate::model::{Batch, HistogramPoint, InstrumentKind, MetricData};

/// At most this many metrics in one document's directive.
pub const MAX_METRICS_PER_DOCUMENT: usize = 100;
/// At most this many dimensions in one dimension set.
pub const MAX_DIMENSIONS: usize = 30;
/// At most this many values in one metric's array.
pub const MAX_VALUES_PER_METRIC: usize = 100;
/// The largest document written: CloudWatch Logs' 256 KiB event limit less the 26 bytes it counts
/// as per-event overhead.
pub const MAX_EVENT_BYTES: usize = 256 * 1024 - 26;
/// Longest dimension name CloudWatch accepts (characters).
pub const MAX_DIMENSION_NAME: usize = 255;
/// Longest dimension value CloudWatch accepts (characters).
pub const MAX_DIMENSION_VALUE: usize = 1024;

/// Settings of the EMF encoder.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EmfConfig {
    /// The CloudWatch namespace (1–255 characters); `None`: the resource's `service.name`.
    pub namespace: Option<String>,
    /// Largest document in bytes; `None` (or a larger value): [`MAX_EVENT_BYTES`]. Lower it to
    /// leave room for a prefix a log shipper adds.
    pub max_event_bytes: Option<usize>,
}

/// The CloudWatch unit for a UCUM unit (`ms` → `Milliseconds`, `By` → `Bytes`, `{request}` or
/// `1` on a counter → `Count`, ...), or `None` when CloudWatch has no equivalent (the unit is
/// then left out, which CloudWatch reads as `None`).
///
/// ```
/// use edgemetrics::encode::emf::cloudwatch_unit;
/// use edgemetrics::InstrumentKind::{Counter, Histogram};
/// assert_eq!(cloudwatch_unit("ms", Histogram), Some("Milliseconds"));
/// assert_eq!(cloudwatch_unit("By/s", Histogram), Some("Bytes/Second"));
/// assert_eq!(cloudwatch_unit("{request}", Counter), Some("Count"));
/// assert_eq!(cloudwatch_unit("ns", Histogram), None);
/// ```
pub fn cloudwatch_unit(unit: &str, kind: InstrumentKind) -> Option<&'static str> {
    Some(match unit {
        "s" => "Seconds",
        "ms" => "Milliseconds",
        "us" => "Microseconds",
        "By" => "Bytes",
        "kBy" | "KiBy" => "Kilobytes",
        "MBy" | "MiBy" => "Megabytes",
        "GBy" | "GiBy" => "Gigabytes",
        "TBy" | "TiBy" => "Terabytes",
        "bit" => "Bits",
        "kbit" => "Kilobits",
        "Mbit" => "Megabits",
        "Gbit" => "Gigabits",
        "Tbit" => "Terabits",
        "%" => "Percent",
        "By/s" => "Bytes/Second",
        "kBy/s" | "KiBy/s" => "Kilobytes/Second",
        "MBy/s" | "MiBy/s" => "Megabytes/Second",
        "GBy/s" | "GiBy/s" => "Gigabytes/Second",
        "TBy/s" | "TiBy/s" => "Terabytes/Second",
        "bit/s" => "Bits/Second",
        "kbit/s" => "Kilobits/Second",
        "Mbit/s" => "Megabits/Second",
        "Gbit/s" => "Gigabits/Second",
        "Tbit/s" => "Terabits/Second",
        "1/s" => "Count/Second",
        // Dimensionless counts: `1` or an annotation such as `{request}` on a counter.
        "1" | "" if matches!(kind, InstrumentKind::Counter | InstrumentKind::UpDownCounter) => "Count",
        u if u.starts_with('{') && u.ends_with('}') => "Count",
        u if u.starts_with('{') && u.ends_with("}/s") => "Count/Second",
        _ => return None,
    })
}

/// The request for `batch`: the documents as the body (`application/x-ndjson`). It is not meant
/// for HTTP: the host writes the body to its log stream (stdout on Lambda), one line per event.
pub fn request(batch: &Batch, cfg: &EmfConfig) -> Result<Encoded, Error> {
    Ok(Encoded::post("", "application/x-ndjson", encode(batch, cfg)?))
}

/// The documents of `batch`, each followed by `\n` (see the module docs for the rules).
pub fn encode(batch: &Batch, cfg: &EmfConfig) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    for doc in documents(batch, cfg)? {
        out.extend_from_slice(&doc);
        out.push(b'\n');
    }
    Ok(out)
}

/// One metric value of one attribute set, ready to be placed in a document.
struct Entry<'a> {
    name: &'a str,
    /// `{"Name":..,"Unit":..}`.
    def: Vec<u8>,
    /// The member's JSON value.
    value: Vec<u8>,
}

/// The points of one attribute set.
struct Group<'a> {
    attrs: &'a [KeyValue],
    /// The attribute set as JSON text: the grouping key.
    key: Vec<u8>,
    entries: Vec<Entry<'a>>,
}

/// FNV-1a: the grouping index's hash (a small open-addressing table: no BTreeMap or HashMap code
/// linked into a wasm module for this).
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

fn attr_string(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::I64(i) => {
            let mut b = Vec::new();
            push_i64(&mut b, *i);
            String::from_utf8(b).unwrap_or_default()
        }
        Value::F64(f) => {
            let mut b = Vec::new();
            if !push_f64(&mut b, *f) {
                return String::from(if f.is_nan() {
                    "NaN"
                } else if *f > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                });
            }
            String::from_utf8(b).unwrap_or_default()
        }
        Value::Bool(b) => String::from(if *b { "true" } else { "false" }),
    }
}

fn push_json_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Str(s) => push_json_str(out, s),
        Value::I64(i) => push_i64(out, *i),
        Value::F64(f) => {
            if !push_f64(out, *f) {
                push_json_str(out, &attr_string(v));
            }
        }
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
    }
}

fn number(v: f64) -> Result<Vec<u8>, Error> {
    let mut b = Vec::new();
    if !push_f64(&mut b, v) {
        return Err(Error::Malformed { reason: "EMF: a non-finite value cannot be written as a JSON number" });
    }
    Ok(b)
}

/// The histogram's value/count parts, at most [`MAX_VALUES_PER_METRIC`] pairs each.
fn histogram_values(p: &HistogramPoint, bounds: &[f64]) -> Result<Vec<Vec<u8>>, Error> {
    let last = p.bucket_counts.len().saturating_sub(1);
    let mut pairs: Vec<(f64, u64)> = Vec::new();
    for (i, &c) in p.bucket_counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let lo = if i == 0 { p.min } else { bounds.get(i - 1).copied().unwrap_or(p.min).max(p.min) };
        let hi = if i == last { p.max } else { bounds.get(i).copied().unwrap_or(p.max).min(p.max) };
        pairs.push(((lo + hi) / 2.0, c));
    }
    let parts = pairs.chunks(MAX_VALUES_PER_METRIC).count();
    let mut out = Vec::new();
    for chunk in pairs.chunks(MAX_VALUES_PER_METRIC) {
        let (count, sum, min, max) = if parts == 1 {
            (p.count, p.sum, p.min, p.max)
        } else {
            let count = chunk.iter().map(|(_, c)| *c).sum();
            let sum = chunk.iter().map(|(v, c)| v * *c as f64).sum();
            let min = chunk.iter().map(|(v, _)| *v).fold(f64::INFINITY, f64::min);
            let max = chunk.iter().map(|(v, _)| *v).fold(f64::NEG_INFINITY, f64::max);
            (count, sum, min, max)
        };
        let mut b = Vec::from(&b"{\"Values\":["[..]);
        for (i, (v, _)) in chunk.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            b.extend_from_slice(&number(*v)?);
        }
        b.extend_from_slice(b"],\"Counts\":[");
        for (i, (_, c)) in chunk.iter().enumerate() {
            if i > 0 {
                b.push(b',');
            }
            push_u64(&mut b, *c);
        }
        b.extend_from_slice(b"],\"Max\":");
        b.extend_from_slice(&number(max)?);
        b.extend_from_slice(b",\"Min\":");
        b.extend_from_slice(&number(min)?);
        b.extend_from_slice(b",\"Count\":");
        push_u64(&mut b, count);
        b.extend_from_slice(b",\"Sum\":");
        b.extend_from_slice(&number(sum)?);
        b.push(b'}');
        out.push(b);
    }
    Ok(out)
}

/// The documents of `batch`, without line ends (see the module docs for the rules).
pub fn documents(batch: &Batch, cfg: &EmfConfig) -> Result<Vec<Vec<u8>>, Error> {
    let namespace = cfg.namespace.as_deref().or_else(|| batch.resource_str("service.name")).unwrap_or("edgemetrics");
    let ns_chars = namespace.chars().count();
    if ns_chars == 0 || ns_chars > 255 || namespace.trim().is_empty() {
        return Err(Error::InvalidConfig { reason: "EMF namespace must be 1 to 255 characters, not only blanks" });
    }
    let max_bytes = cfg.max_event_bytes.unwrap_or(MAX_EVENT_BYTES).min(MAX_EVENT_BYTES);

    // Group every point by attribute set, in first-seen order.
    let mut groups: Vec<Group<'_>> = Vec::new();
    // Open addressing, load ≤ 1/2: slot = group index + 1 (0 = empty).
    let mut slots: Vec<usize> = alloc::vec![0; (batch.point_count() * 2).next_power_of_two().max(16)];
    let mask = slots.len() - 1;
    for m in &batch.metrics {
        let mut def = Vec::from(&b"{\"Name\":"[..]);
        push_json_str(&mut def, &m.name);
        if let Some(u) = cloudwatch_unit(&m.unit, m.kind) {
            def.extend_from_slice(b",\"Unit\":");
            push_json_str(&mut def, u);
        }
        def.push(b'}');
        // Plain loops rather than `collect::<Result<..>>`: less code in a wasm module.
        let mut points: Vec<(&[KeyValue], Vec<Vec<u8>>)> = Vec::new();
        match &m.data {
            MetricData::Sum { points: ps, .. } | MetricData::Gauge { points: ps } => {
                for p in ps {
                    points.push((&p.attributes[..], alloc::vec![number(p.value)?]));
                }
            }
            MetricData::Histogram { bounds, points: ps, .. } => {
                for p in ps.iter().filter(|p| p.count > 0) {
                    points.push((&p.attributes[..], histogram_values(p, bounds)?));
                }
            }
            // Exponential: the same value/count form over the exponential bucket boundaries.
            MetricData::ExponentialHistogram { points: ps, .. } => {
                for p in ps.iter().filter(|p| p.hist.count > 0) {
                    let h = &p.hist;
                    let cum = h.cumulative_buckets();
                    let bounds: Vec<f64> = cum[..cum.len() - 1].iter().map(|b| b.0).collect();
                    let mut prev = 0;
                    let bucket_counts = cum
                        .iter()
                        .map(|b| {
                            let c = b.1 - prev;
                            prev = b.1;
                            c
                        })
                        .collect();
                    let explicit = HistogramPoint {
                        attributes: p.attributes.clone(),
                        start_unix_nano: p.start_unix_nano,
                        time_unix_nano: p.time_unix_nano,
                        count: h.count,
                        sum: h.sum,
                        min: h.min,
                        max: h.max,
                        bucket_counts,
                    };
                    points.push((&p.attributes[..], histogram_values(&explicit, &bounds)?));
                }
            }
        }
        for (attrs, values) in points {
            if attrs.iter().any(|kv| kv.key == *m.name) || &*m.name == "_aws" {
                return Err(Error::InvalidName {
                    name: String::from(&*m.name),
                    reason: "EMF has one member per name: this metric has an attribute of the same name (rename one)",
                });
            }
            let mut key = Vec::new();
            for kv in attrs {
                push_json_str(&mut key, &kv.key);
                push_json_value(&mut key, &kv.value);
            }
            let mut at = fnv(&key) as usize & mask;
            let gi = loop {
                match slots[at] {
                    0 => {
                        groups.push(Group { attrs, key, entries: Vec::new() });
                        slots[at] = groups.len();
                        break groups.len() - 1;
                    }
                    g if groups[g - 1].key == key => break g - 1,
                    _ => at = (at + 1) & mask,
                }
            };
            for value in values {
                groups[gi].entries.push(Entry { name: &m.name, def: def.clone(), value });
            }
        }
    }

    let metric_names: Vec<&str> = batch.metrics.iter().map(|m| &*m.name).collect();
    let mut docs = Vec::new();
    for g in &groups {
        // Dimensions and plain members from the attributes.
        let mut dims: Vec<&str> = Vec::new();
        let mut members = Vec::new();
        for kv in g.attrs.iter().filter(|kv| kv.key != "_aws") {
            let v = attr_string(&kv.value);
            let key_chars = kv.key.chars().count();
            let val_chars = v.chars().count();
            members.push(b',');
            push_json_str(&mut members, &kv.key);
            members.push(b':');
            push_json_str(&mut members, &v);
            if dims.len() < MAX_DIMENSIONS
                && (1..=MAX_DIMENSION_NAME).contains(&key_chars)
                && (1..=MAX_DIMENSION_VALUE).contains(&val_chars)
                && !v.trim().is_empty()
            {
                dims.push(&kv.key);
            }
        }
        let mut resource = Vec::new();
        for kv in batch.resource.iter() {
            if kv.key == "_aws" || g.attrs.iter().any(|a| a.key == kv.key) || metric_names.contains(&kv.key.as_str()) {
                continue;
            }
            resource.push(b',');
            push_json_str(&mut resource, &kv.key);
            resource.push(b':');
            push_json_value(&mut resource, &kv.value);
        }
        let mut head = Vec::from(&b"{\"_aws\":{\"Timestamp\":"[..]);
        push_u64(&mut head, batch.end_unix_nano / 1_000_000);
        head.extend_from_slice(b",\"CloudWatchMetrics\":[{\"Namespace\":");
        push_json_str(&mut head, namespace);
        head.extend_from_slice(b",\"Dimensions\":[[");
        for (i, d) in dims.iter().enumerate() {
            if i > 0 {
                head.push(b',');
            }
            push_json_str(&mut head, d);
        }
        head.extend_from_slice(b"]],\"Metrics\":[");
        // head + defs + `]}]}` + members + resource + values + `}`
        let fixed = head.len() + 4 + members.len() + 1;

        let mut start = 0;
        while start < g.entries.len() {
            // Take entries while they fit.
            let mut with_resource = true;
            let mut size = fixed + resource.len();
            let mut end = start;
            let mut names: Vec<&str> = Vec::new();
            while end < g.entries.len() && end - start < MAX_METRICS_PER_DOCUMENT {
                let e = &g.entries[end];
                if names.contains(&e.name) {
                    break;
                }
                let cost = e.def.len() + usize::from(end > start) + 1 + e.name.len() + 2 + 1 + e.value.len();
                // Escapes make the member's name longer than `name.len() + 2`: measure exactly.
                let mut name_json = Vec::new();
                push_json_str(&mut name_json, e.name);
                let cost = cost - e.name.len() - 2 + name_json.len();
                if size + cost > max_bytes {
                    if end == start && with_resource && fixed + cost <= max_bytes {
                        // One value alone fits only without the resource members.
                        with_resource = false;
                        size = fixed;
                        continue;
                    }
                    break;
                }
                size += cost;
                names.push(e.name);
                end += 1;
            }
            if end == start {
                return Err(Error::InvalidConfig {
                    reason: "EMF: one value with its attributes exceeds the log event size limit (lower the attribute limits)",
                });
            }
            let mut doc = Vec::with_capacity(size);
            doc.extend_from_slice(&head);
            for (i, e) in g.entries[start..end].iter().enumerate() {
                if i > 0 {
                    doc.push(b',');
                }
                doc.extend_from_slice(&e.def);
            }
            doc.extend_from_slice(b"]}]}");
            doc.extend_from_slice(&members);
            if with_resource {
                doc.extend_from_slice(&resource);
            }
            for e in &g.entries[start..end] {
                doc.push(b',');
                push_json_str(&mut doc, e.name);
                doc.push(b':');
                doc.extend_from_slice(&e.value);
            }
            doc.push(b'}');
            debug_assert_eq!(doc.len(), size);
            docs.push(doc);
            start = end;
        }
    }
    Ok(docs)
}
