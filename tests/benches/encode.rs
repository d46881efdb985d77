//! Encoder benchmarks on one realistic large batch: 1000 series, each a counter and a histogram
//! (15 default bounds) with 3 attributes (route ×10, status ×5, region ×20).
//!
//! `cargo bench --bench encode` prints the body sizes (raw and `gzip -9`) once, then times each
//! encoder. Add a format by writing one more `fn bench_<format>(c: &mut Criterion)` over
//! [`batch_1000`], listing it in `criterion_group!` and in [`sizes`].

use std::hint::black_box;
use std::io::Write;
use std::process::{Command, Stdio};

use criterion::{criterion_group, Criterion, Throughput};
use edgemetrics::encode::{compact, otlp, otlp_json};
use edgemetrics::{Batch, Config, InstrumentOptions, Registry};

const T0: u64 = 1_700_000_000_000_000_000;

/// The shared input: 1000 series × (counter + default-bounds histogram), delta, self-metrics off.
pub fn batch_1000() -> Batch {
    let mut reg =
        Registry::new(Config::new("bench").resource_attr("service.instance.id", "isolate-1").self_metrics(false));
    reg.begin(T0);
    let requests =
        reg.counter("http.server.requests", InstrumentOptions::unit("{request}").description("Requests")).unwrap();
    let latency = reg.histogram("http.server.duration", InstrumentOptions::unit("ms").description("Latency")).unwrap();
    let routes: Vec<String> = (0..10).map(|i| format!("/api/v1/resource{i}")).collect();
    let regions: Vec<String> = (0..20).map(|i| format!("region-{i:02}")).collect();
    let statuses = [200i64, 201, 404, 429, 500];
    let mut n = 0u32;
    for route in &routes {
        for status in statuses {
            for region in &regions {
                let attrs =
                    [("route", route.as_str().into()), ("status", status.into()), ("region", region.as_str().into())];
                requests.add(&mut reg, 1.0 + (n % 7) as f64, &attrs);
                for k in 0..3 {
                    latency.record(&mut reg, ((n * 37 + k * 101) % 12_000) as f64 * 0.75, &attrs);
                }
                n += 1;
            }
        }
    }
    let batch = reg.collect(T0 + 180_000_000);
    assert_eq!(batch.point_count(), 2000);
    batch
}

fn gzip9_len(bytes: &[u8]) -> Option<usize> {
    let mut child =
        Command::new("gzip").arg("-9").arg("-c").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().ok()?;
    let mut stdin = child.stdin.take()?;
    let data = bytes.to_vec();
    // Write from a thread so a full stdout pipe cannot deadlock us.
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().ok()?;
    writer.join().ok()?.ok()?;
    out.status.success().then_some(out.stdout.len())
}

/// Prints the body size of every format for [`batch_1000`].
fn sizes(batch: &Batch) {
    for (name, body) in [
        ("otlp protobuf", otlp::encode(batch)),
        ("otlp json", otlp_json::encode(batch)),
        ("compact", compact::encode(batch)),
    ] {
        match gzip9_len(&body) {
            Some(gz) => println!("size {name:<14} raw {:>8} B   gzip -9 {:>7} B", body.len(), gz),
            None => println!("size {name:<14} raw {:>8} B   gzip -9 unavailable (gzip not found)", body.len()),
        }
    }
}

fn bench_otlp(c: &mut Criterion) {
    let batch = batch_1000();
    let mut g = c.benchmark_group("encode_1000_series");
    g.throughput(Throughput::Elements(batch.point_count() as u64));
    g.bench_function("otlp_protobuf", |b| b.iter(|| otlp::encode(black_box(&batch))));
    g.bench_function("otlp_json", |b| b.iter(|| otlp_json::encode(black_box(&batch))));
    g.finish();
}

// prom: Prometheus-family encoders. They need cumulative temporality; after one collect a
// cumulative batch holds exactly what the delta batch holds, so only the tags change.
fn cumulative(batch: &Batch) -> Batch {
    use edgemetrics::{MetricData, Temporality};
    let mut b = batch.clone();
    b.temporality = Temporality::Cumulative;
    for m in &mut b.metrics {
        match &mut m.data {
            MetricData::Sum { temporality, .. }
            | MetricData::Histogram { temporality, .. }
            | MetricData::ExponentialHistogram { temporality, .. } => *temporality = Temporality::Cumulative,
            MetricData::Gauge { .. } => {}
        }
    }
    b
}

// prom: body sizes of remote write (raw protobuf, snappy body) and Pushgateway text.
fn prom_sizes(batch: &Batch) {
    use edgemetrics::encode::{pushgateway, remote_write};
    let b = cumulative(batch);
    let rw = remote_write::RemoteWriteConfig::default();
    let pg = pushgateway::PushgatewayConfig::from_batch(&b);
    for (name, body) in [
        ("remote write pb", remote_write::encode(&b, &rw).unwrap()),
        ("remote write snappy", remote_write::request(&b, &rw).unwrap().body),
        ("pushgateway text", pushgateway::encode(&b, &pg).unwrap()),
    ] {
        match gzip9_len(&body) {
            Some(gz) => println!("size {name:<19} raw {:>8} B   gzip -9 {:>7} B", body.len(), gz),
            None => println!("size {name:<19} raw {:>8} B   gzip -9 unavailable (gzip not found)", body.len()),
        }
    }
}

// prom: remote write with and without snappy, snappy alone, Pushgateway text.
fn bench_prom(c: &mut Criterion) {
    use edgemetrics::codec::snappy;
    use edgemetrics::encode::{pushgateway, remote_write};
    let batch = cumulative(&batch_1000());
    let rw = remote_write::RemoteWriteConfig::default();
    let pg = pushgateway::PushgatewayConfig::from_batch(&batch);
    let raw = remote_write::encode(&batch, &rw).unwrap();
    let mut g = c.benchmark_group("encode_1000_series");
    g.throughput(Throughput::Elements(batch.point_count() as u64));
    g.bench_function("remote_write_protobuf", |b| b.iter(|| remote_write::encode(black_box(&batch), &rw).unwrap()));
    g.bench_function("remote_write_snappy", |b| b.iter(|| remote_write::request(black_box(&batch), &rw).unwrap()));
    g.bench_function("snappy_only", |b| b.iter(|| snappy::compress(black_box(&raw))));
    // Reference point: the `snap` crate (dev-dependency) compressing the same bytes.
    g.bench_function("snappy_snap_crate_reference", |b| {
        b.iter(|| snap::raw::Encoder::new().compress_vec(black_box(&raw)).unwrap())
    });
    g.bench_function("pushgateway_text", |b| b.iter(|| pushgateway::encode(black_box(&batch), &pg).unwrap()));
    g.finish();
}

fn bench_compact(c: &mut Criterion) {
    let batch = batch_1000();
    let mut g = c.benchmark_group("encode_1000_series");
    g.throughput(Throughput::Elements(batch.point_count() as u64));
    g.bench_function("compact", |b| b.iter(|| compact::encode(black_box(&batch))));
    g.finish();
}

criterion_group!(benches, bench_otlp, bench_compact, bench_prom);

fn main() {
    sizes(&batch_1000());
    prom_sizes(&batch_1000());
    benches();
    Criterion::default().configure_from_args().final_summary();
}
