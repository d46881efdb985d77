// Encode time per format in wasm under Node: one batch of 1000 series, each a counter and a
// histogram with the 15 OTel default bounds, 3 attributes (route ×10, status ×5, region ×20),
// the same shape as the native `cargo bench --bench encode`. `prepare()` = collect + encode,
// without sending; each repetition re-records the same values first (not timed).
//
// Usage: node bench/encode.mjs [repetitions] [dist]   (default 30 and ../dist, relative to this
// file: another build for an A/B run; prints a table and one JSON line)
import { gzipSync } from 'node:zlib';
const { Metrics } = await import(new URL(`${process.argv[3] ?? '../dist'}/node.js`, import.meta.url).href);

const REPS = Number(process.argv[2] ?? 30);
const routes = Array.from({ length: 10 }, (_, i) => `/api/v1/resource${i}`);
const regions = Array.from({ length: 20 }, (_, i) => `region-${String(i).padStart(2, '0')}`);
const statuses = [200, 201, 404, 429, 500];
const sets = [];
for (const route of routes) for (const status of statuses) for (const region of regions) sets.push({ route, status, region });

const formats = ['otlp-proto', 'otlp-json', 'compact', 'remote-write', 'pushgateway'];
const out = {};
for (const format of formats) {
  const m = new Metrics({ endpoint: 'http://127.0.0.1:9', format, serviceName: 'bench', selfMetrics: false, resource: { 'service.instance.id': 'isolate-1' } });
  const requests = m.counter('http.server.requests', { unit: '{request}' });
  const latency = m.histogram('http.server.duration', { unit: 'ms' });
  const times = [];
  let bytes = 0;
  let gz = 0;
  let t = 1_700_000_000_000;
  for (let r = 0; r < REPS + 3; r++) {
    m.begin(t);
    sets.forEach((a, n) => {
      requests.add(1 + (n % 7), a);
      for (let k = 0; k < 3; k++) latency.record(((n * 37 + k * 101) % 12000) * 0.75, a);
    });
    t += 1000;
    const s = process.hrtime.bigint();
    const req = m.prepare(t);
    const ns = Number(process.hrtime.bigint() - s);
    if (r >= 3) times.push(ns / 1e6); // the first 3 are warm-up (JIT, memory growth)
    bytes = req.body.length;
    gz = gzipSync(req.body, { level: 9 }).length;
  }
  times.sort((a, b) => a - b);
  out[format] = { median_ms: times[times.length >> 1], min_ms: times[0], max_ms: times[times.length - 1], bytes, gzip: gz };
}
console.log('format        median ms   min ms   max ms     bytes   gzip -9');
for (const [f, r] of Object.entries(out)) {
  console.log(
    `${f.padEnd(13)} ${r.median_ms.toFixed(3).padStart(9)} ${r.min_ms.toFixed(3).padStart(8)} ${r.max_ms.toFixed(3).padStart(8)} ${String(r.bytes).padStart(9)} ${String(r.gzip).padStart(9)}`,
  );
}
console.log(JSON.stringify(out));
