// Load driver for the example worker: sends N requests over a fixed route mix with C in flight,
// checks every status against the route's expected one, prints JSON: counts per route/status and
// latency percentiles (ms). Usage: node driver.mjs BASE_URL N C [mix]
//   mix: "demo" (default: every route, /slow rarely), "fast" (no /slow, for latency benchmarks)
const [base, nArg, cArg, mixName = "demo"] = process.argv.slice(2);
const n = Number(nArg ?? 200), c = Number(cArg ?? 8);
if (!base || !(n > 0) || !(c > 0)) {
  console.error("usage: node driver.mjs BASE_URL N C [demo|fast]");
  process.exit(2);
}
const fast = [
  ["GET", "/", 200, "/"],
  ["GET", "/api/items", 200, "/api/items"],
  ["GET", "/api/items/1", 200, "/api/items/:id"],
  ["GET", "/api/items/2", 200, "/api/items/:id"],
  ["GET", "/api/items/42", 404, "/api/items/:id"],
  ["POST", "/api/items", 201, "/api/items"],
  ["GET", "/nope", 404, "unmatched"],
];
const mix = mixName === "fast" ? fast : [...fast, ...fast, ["GET", "/slow", 200, "/slow"]];
const counts = {};
const lat = [];
let failures = 0, next = 0;
const deadline = Date.now() + 120_000; // bounded in time as well as in count
async function worker() {
  while (next < n && Date.now() < deadline) {
    const i = next++;
    const [method, path, want, route] = mix[i % mix.length];
    const t0 = performance.now();
    try {
      const r = await fetch(base + path, { method, signal: AbortSignal.timeout(10_000) });
      await r.arrayBuffer();
      lat.push(performance.now() - t0);
      const key = `${method} ${route} ${r.status}`;
      counts[key] = (counts[key] ?? 0) + 1;
      if (r.status !== want) failures++;
    } catch (e) {
      failures++;
    }
  }
}
const t0 = performance.now();
await Promise.all(Array.from({ length: c }, worker));
const secs = (performance.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : null);
console.log(JSON.stringify({ requests: lat.length, failures, seconds: +secs.toFixed(2),
  rps: +(lat.length / secs).toFixed(1), p50_ms: +q(0.5).toFixed(2), p90_ms: +q(0.9).toFixed(2),
  p99_ms: +q(0.99).toFixed(2), max_ms: +lat[lat.length - 1].toFixed(2), counts }));
if (failures) process.exit(1);
