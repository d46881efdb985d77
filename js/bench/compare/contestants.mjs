// The four contestants, each behind the same small interface (used by run.mjs in-process and by
// child.mjs in a fresh process):
//
//   load()            -> imports the SDK (timed as "import")
//   create(lib, url)  -> the SDK objects of one invocation (timed as "init"): a state with
//     loopAttrs(R, M, sets, vals)   R × (counter add + histogram record) with attribute objects
//     bindAll(M, sets)              bound handles for the first M sets (null: the SDK has none)
//     loopBound(R, M, handles, vals) the same loop through bound handles
//     encode()          -> { body, path, method, type } : collect + encode only, no IO
//     flushOwn()        -> the SDK's own way to send ONE batch (awaits the receiver's answer)
//     close()
//
// Every loop is written out per contestant so that each call site stays monomorphic (a shared
// loop would mix the contestants' call-site feedback and penalise whoever runs last).

/** OpenTelemetry's default explicit bucket bounds (15). */
export const BOUNDS = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

/** The 1000 attribute sets (route × 10, status × 5, region × 20); M = 10 uses the first 10. */
export function attributeSets() {
  const routes = Array.from({ length: 10 }, (_, i) => `/api/v1/resource${i}`);
  const statuses = [200, 201, 404, 500, 503];
  const regions = Array.from({ length: 20 }, (_, i) => `region-${i}`);
  const sets = [];
  for (let i = 0; i < 1000; i++) {
    sets.push({ route: routes[i % 10], status: statuses[Math.floor(i / 10) % 5], region: regions[Math.floor(i / 50) % 20] });
  }
  return sets;
}

/** 1024 latency-like values spread over the buckets (deterministic). */
export function values() {
  const v = new Float64Array(1024);
  let x = 0x2545f491;
  for (let i = 0; i < v.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    v[i] = ((x >>> 0) / 0xffffffff) ** 3 * 12000; // skewed towards small values
  }
  return v;
}

async function post(url, method, type, body) {
  const res = await fetch(url, { method, headers: { 'content-type': type }, body });
  await res.arrayBuffer();
  if (res.status >= 300) throw new Error(`receiver answered ${res.status}`);
  return res.status;
}

// ---------------------------------------------------------------------------------------------
const edgemetrics = {
  name: 'edgemetrics',
  async load() {
    return import('../../dist/otlp/node.js');
  },
  create(lib, url) {
    // selfMetrics off: the peers send no self-metrics either (same series in every payload).
    const metrics = new lib.Metrics({ endpoint: url, format: 'otlp-proto', serviceName: 'bench', selfMetrics: false });
    metrics.begin();
    const counter = metrics.counter('bench.requests', { unit: '{request}' });
    const hist = metrics.histogram('bench.duration', { unit: 'ms' }); // default bounds = OTel's 15
    return {
      loopAttrs(R, M, sets, vals) {
        for (let i = 0; i < R; i++) {
          const a = sets[i % M];
          counter.add(1, a);
          hist.record(vals[i & 1023], a);
        }
      },
      bindAll(M, sets) {
        const h = [];
        for (let i = 0; i < M; i++) h.push([counter.bind(sets[i]), hist.bind(sets[i])]);
        return h;
      },
      loopBound(R, M, handles, vals) {
        for (let i = 0; i < R; i++) {
          const h = handles[i % M];
          h[0].add(1);
          h[1].record(vals[i & 1023]);
        }
      },
      encode() {
        const r = metrics.prepare();
        return { body: r.body, path: new URL(r.url).pathname, method: r.method, type: r.headers['Content-Type'] ?? r.headers['content-type'] };
      },
      async flushOwn() {
        const r = await metrics.flush();
        if (!r.sent) throw new Error(`edgemetrics flush failed: ${r.error ?? r.status}`);
      },
      async close() {},
    };
  },
};

// ---------------------------------------------------------------------------------------------
// OpenTelemetry JS: a MeterProvider with a *manual* reader (a MetricReader subclass with no timer,
// DELTA temporality). One invocation = reader.collect() then exporter.export() once: exactly one
// OTLP/HTTP protobuf request, no PeriodicExportingMetricReader timer involved. The encode-only
// figure is reader.collect() + ProtobufMetricsSerializer.serializeRequest() (what export() runs
// before handing the bytes to its HTTP transport).
const otel = {
  name: 'otel',
  async load() {
    const [sdk, exp, res, tr] = await Promise.all([
      import('@opentelemetry/sdk-metrics'),
      import('@opentelemetry/exporter-metrics-otlp-proto'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/otlp-transformer'),
    ]);
    class ManualReader extends sdk.MetricReader {
      constructor() {
        super({ aggregationTemporalitySelector: () => sdk.AggregationTemporality.DELTA });
      }
      async onForceFlush() {}
      async onShutdown() {}
    }
    return { sdk, exp, res, tr, ManualReader };
  },
  create(lib, url) {
    const { sdk, exp, res, tr, ManualReader } = lib;
    const exporter = new exp.OTLPMetricExporter({ url: url + '/v1/metrics' });
    const reader = new ManualReader();
    const provider = new sdk.MeterProvider({ resource: res.resourceFromAttributes({ 'service.name': 'bench' }), readers: [reader] });
    const meter = provider.getMeter('bench');
    const counter = meter.createCounter('bench.requests', { unit: '{request}' });
    const hist = meter.createHistogram('bench.duration', { unit: 'ms' }); // default 15 bounds
    return {
      loopAttrs(R, M, sets, vals) {
        for (let i = 0; i < R; i++) {
          const a = sets[i % M];
          counter.add(1, a);
          hist.record(vals[i & 1023], a);
        }
      },
      bindAll() {
        return null; // the OTel JS API has no bound instruments
      },
      loopBound() {
        throw new Error('no bound instruments');
      },
      async encode() {
        const { resourceMetrics, errors } = await reader.collect();
        if (errors.length) throw errors[0];
        const body = tr.ProtobufMetricsSerializer.serializeRequest(resourceMetrics);
        return { body, path: '/v1/metrics', method: 'POST', type: 'application/x-protobuf' };
      },
      async flushOwn() {
        const { resourceMetrics, errors } = await reader.collect();
        if (errors.length) throw errors[0];
        await new Promise((resolve, reject) =>
          exporter.export(resourceMetrics, (r) => (r.code === 0 ? resolve() : reject(r.error ?? new Error('export failed')))),
        );
      },
      async close() {
        await provider.shutdown();
        await exporter.shutdown();
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------
// prom-client: a Registry per invocation with one Counter and one Histogram (same 15 bounds);
// "send" = registry.metrics() text POSTed as a Pushgateway body.
const promClient = {
  name: 'prom-client',
  async load() {
    return import('prom-client');
  },
  create(lib, url) {
    const prom = lib.default ?? lib;
    const registry = new prom.Registry();
    const labelNames = ['route', 'status', 'region'];
    const counter = new prom.Counter({ name: 'bench_requests_total', help: 'requests', labelNames, registers: [registry] });
    const hist = new prom.Histogram({ name: 'bench_duration_ms', help: 'duration', labelNames, buckets: BOUNDS, registers: [registry] });
    const path = '/metrics/job/bench';
    return {
      loopAttrs(R, M, sets, vals) {
        for (let i = 0; i < R; i++) {
          const a = sets[i % M];
          counter.inc(a, 1);
          hist.observe(a, vals[i & 1023]);
        }
      },
      bindAll(M, sets) {
        const h = [];
        for (let i = 0; i < M; i++) {
          const a = sets[i];
          h.push([counter.labels(a.route, a.status, a.region), hist.labels(a.route, a.status, a.region)]);
        }
        return h;
      },
      loopBound(R, M, handles, vals) {
        for (let i = 0; i < R; i++) {
          const h = handles[i % M];
          h[0].inc(1);
          h[1].observe(vals[i & 1023]);
        }
      },
      async encode() {
        const body = await registry.metrics();
        return { body, path, method: 'POST', type: registry.contentType };
      },
      async flushOwn() {
        await post(url + path, 'POST', registry.contentType, await registry.metrics());
      },
      async close() {
        registry.clear();
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------
// The floor: what a pure-JS aggregator costs at least. A Map keyed by a string built from the
// attribute values; counters add into a number, histograms into an array of bucket counts + sum
// + count (linear bucket search). "Encode" = JSON.stringify of the maps.
const floor = {
  name: 'floor',
  async load() {
    return {};
  },
  create(_lib, url) {
    const counters = new Map();
    const hists = new Map();
    const nb = BOUNDS.length;
    const cell = (a) => {
      const key = a.route + '\u0000' + a.status + '\u0000' + a.region;
      let c = counters.get(key);
      if (c === undefined) counters.set(key, (c = { v: 0 }));
      return c;
    };
    const hcell = (a) => {
      const key = a.route + '\u0000' + a.status + '\u0000' + a.region;
      let h = hists.get(key);
      if (h === undefined) hists.set(key, (h = new Array(nb + 3).fill(0)));
      return h;
    };
    const observe = (h, v) => {
      let b = 0;
      while (b < nb && v > BOUNDS[b]) b++;
      h[b] += 1;
      h[nb + 1] += v;
      h[nb + 2] += 1;
    };
    const path = '/floor';
    const encodeNow = () => {
      const out = { counters: {}, histograms: {} };
      for (const [k, c] of counters) out.counters[k] = c.v;
      for (const [k, h] of hists) out.histograms[k] = h;
      return JSON.stringify(out);
    };
    return {
      loopAttrs(R, M, sets, vals) {
        for (let i = 0; i < R; i++) {
          const a = sets[i % M];
          cell(a).v += 1;
          observe(hcell(a), vals[i & 1023]);
        }
      },
      bindAll(M, sets) {
        const h = [];
        for (let i = 0; i < M; i++) h.push([cell(sets[i]), hcell(sets[i])]);
        return h;
      },
      loopBound(R, M, handles, vals) {
        for (let i = 0; i < R; i++) {
          const h = handles[i % M];
          h[0].v += 1;
          observe(h[1], vals[i & 1023]);
        }
      },
      encode() {
        return { body: encodeNow(), path, method: 'POST', type: 'application/json' };
      },
      async flushOwn() {
        await post(url + path, 'POST', 'application/json', encodeNow());
      },
      async close() {},
    };
  },
};

export const CONTESTANTS = { edgemetrics, otel, 'prom-client': promClient, floor };
export { post };
