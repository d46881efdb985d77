// The newcomer test's driver (started by tests/newcomer.sh inside a throwaway project that has
// only the packed tarball installed): runs the installed package the way a new user would — the
// README's worker snippet in workerd (wrangler dev, configured only by wrangler vars), a Node
// script, Deno, Bun, an esbuild-bundled Lambda handler (one file, no node_modules next to it) and
// a Vercel Edge-style handler under the `edge-runtime` package — each pushing to a receiver on
// 127.0.0.1 started here, whose batches are decoded with OpenTelemetry's generated protobuf code.
//
//   node run.mjs <app dir> <repo root>
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [app, root] = process.argv.slice(2);
const bin = join(root, "js", "node_modules", ".bin");
const { startReceiver, decodeOtlp, waitFor } = await import(
  pathToFileURL(join(root, "js", "test", "helpers.mjs"))
);
const here = join(root, "tests", "newcomer");

const results = [];
const children = new Set();
process.on("exit", () => {
  for (const c of children) stopGroup(c);
});

function stopGroup(child) {
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Runs a command to completion (bounded), its own process group; resolves to { code, out }. */
function run(cmd, args, { env = {}, cwd = app, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd,
      env: { ...process.env, ...env },
      detached: true,
    });
    children.add(child);
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => {
      out += `\n[killed after ${timeoutMs} ms]`;
      stopGroup(child);
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, out });
    });
  });
}

/**
 * Starts `wrangler dev` in `cwd` on 127.0.0.1:`port` (its own process group, stopped by the caller
 * with stopGroup) and waits up to 60 s for a first answer to `path`. Returns the child, that first
 * response and `log()`, the output so far (for assertion messages).
 */
async function wranglerDev(cwd, port, path) {
  const child = spawn(
    join(bin, "wrangler"),
    [
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(await freePort()),
    ],
    {
      cwd,
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: "false",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        CI: "1",
      },
      detached: true,
    },
  );
  children.add(child);
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const log = () => out;
  let res;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      res = await fetch(`http://127.0.0.1:${port}${path}`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  if (!res) {
    stopGroup(child);
    children.delete(child);
    assert.fail(`wrangler dev did not start:\n${out}`);
  }
  return { child, res, log };
}

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** One case: a fresh receiver, `body(rx)` runs the program, then the batch is checked. */
async function check(name, body) {
  const rx = await startReceiver();
  const t0 = Date.now();
  try {
    await body(rx);
    results.push({ name, ok: true, ms: Date.now() - t0 });
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}: ${e?.stack ?? e}`);
  } finally {
    await rx.close();
  }
}

/** The one batch the receiver got, decoded; asserts its resource and the recorded metric. */
function assertBatch(rx, { service, metric, value, resource = {} }) {
  assert.equal(
    rx.requests.length,
    1,
    `expected one batch, got ${rx.requests.length}`,
  );
  const req = rx.requests[0];
  assert.equal(req.url, "/v1/metrics");
  const d = decodeOtlp(req);
  assert.equal(d.resource["service.name"], service);
  assert.equal(d.resource["telemetry.sdk.name"], "edgemetrics");
  for (const [k, v] of Object.entries(resource))
    assert.equal(d.resource[k], v, `resource ${k}`);
  const m = d.metrics[metric];
  assert.ok(m, `metric ${metric} in ${Object.keys(d.metrics)}`);
  const total =
    m.kind === "histogram"
      ? m.points.reduce((a, p) => a + p.count, 0)
      : m.points.reduce((a, p) => a + p.value, 0);
  assert.equal(total, value, `${metric} total`);
  return d;
}

const expectOk = (r, what) =>
  assert.equal(r.code, 0, `${what} exited with ${r.code}:\n${r.out}`);

// ---- 1. The README's worker snippet, as written there, in workerd; configured by vars only.
await check(
  "workerd (wrangler dev): README worker snippet, configured only by wrangler vars",
  async (rx) => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## JavaScript quickstart"));
    const snippet = section.match(/```js\n([\s\S]*?)```/)[1];
    mkdirSync(join(app, "worker"), { recursive: true });
    writeFileSync(join(app, "worker", "index.js"), snippet);
    const port = await freePort();
    writeFileSync(
      join(app, "wrangler.toml"),
      [
        'name = "newcomer"',
        'main = "worker/index.js"',
        'compatibility_date = "2025-06-01"',
        "[vars]",
        `OTEL_EXPORTER_OTLP_ENDPOINT = "${rx.url}"`,
        'OTEL_SERVICE_NAME = "newcomer-worker"',
        'OTEL_EXPORTER_OTLP_HEADERS = "x-api-key=n3wc%3Dmer"',
        "",
      ].join("\n"),
    );
    const { child, res, log } = await wranglerDev(app, port, "/cart?x=1");
    try {
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.ok(
        await waitFor(() => rx.requests.length >= 1, { timeoutMs: 15_000 }),
        `no batch arrived:\n${log()}`,
      );
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(rx.requests[0].headers["x-api-key"], "n3wc=mer");
      const d = assertBatch(rx, {
        service: "newcomer-worker",
        metric: "app.cart.views",
        value: 1,
        resource: {
          "cloud.provider": "cloudflare",
          "cloud.platform": "cloudflare.workers",
          "telemetry.sdk.language": "webjs",
        },
      });
      assert.deepEqual(d.metrics["app.cart.views"].points[0].attrs, {
        "http.route": "/cart",
      });
      // The automatic HTTP server and FaaS metrics the README promises next to the snippet.
      const h = d.metrics["http.server.request.duration"];
      assert.equal(h.unit, "s");
      assert.equal(h.points.length, 1);
      const p = h.points[0];
      assert.equal(p.count, 1);
      assert.deepEqual(
        p.bounds,
        [
          0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5,
          10,
        ],
      );
      assert.equal(p.attrs["http.request.method"], "GET");
      assert.equal(p.attrs["http.response.status_code"], 200);
      assert.equal(
        d.metrics["http.server.active_requests"].points.reduce(
          (a, q) => a + q.value,
          0,
        ),
        0,
      );
      for (const [name, value] of [
        ["faas.invocations", 1],
        ["faas.coldstarts", 1],
      ]) {
        assert.deepEqual(
          d.metrics[name].points.map((q) => [q.attrs["faas.trigger"], q.value]),
          [["http", value]],
          name,
        );
      }
      assert.equal(d.metrics["faas.invoke_duration"].points[0].count, 1);
    } finally {
      stopGroup(child);
      children.delete(child);
    }
  },
);

// ---- 2. Node: explicit options.
await check("node: a script with explicit options", async (rx) => {
  copyFileSync(join(here, "node.mjs"), join(app, "node.mjs"));
  const r = await run(process.execPath, ["node.mjs", rx.url]);
  expectOk(r, "node.mjs");
  assertBatch(rx, {
    service: "newcomer-node",
    metric: "jobs.processed",
    value: 3,
    resource: { "telemetry.sdk.language": "nodejs" },
  });
});

// ---- 3. Deno: configured by environment, only the variables it may read are granted.
await check(
  "deno: wrapLambda from Deno.env (per-name --allow-env), Deno Deploy resource",
  async (rx) => {
    copyFileSync(join(here, "deno.mjs"), join(app, "deno.mjs"));
    const names = [
      "OTEL_EXPORTER_OTLP_ENDPOINT",
      "OTEL_SERVICE_NAME",
      "OTEL_EXPORTER_OTLP_TIMEOUT",
      "DENO_DEPLOYMENT_ID",
      "DENO_REGION",
    ];
    const r = await run(
      join(bin, "deno"),
      [
        "run",
        "--quiet",
        `--allow-env=${names.join(",")}`,
        "--allow-read",
        "--allow-net=127.0.0.1",
        "deno.mjs",
      ],
      {
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
          OTEL_SERVICE_NAME: "newcomer-deno",
          // The flush budget (default 1 s) from the environment too: a cold Deno fetch on a
          // loaded machine once took longer than 1 s.
          OTEL_EXPORTER_OTLP_TIMEOUT: "5000",
          DENO_DEPLOYMENT_ID: "dpl-1",
          DENO_REGION: "gcp-europe-west3",
          NO_COLOR: "1",
        },
      },
    );
    expectOk(r, "deno.mjs");
    assertBatch(rx, {
      service: "newcomer-deno",
      metric: "jobs.processed",
      value: 2,
      resource: {
        "cloud.platform": "deno.deploy",
        "deployment.id": "dpl-1",
        "cloud.region": "gcp-europe-west3",
      },
    });
  },
);

// ---- 4. Bun: explicit options, same script as Node.
await check("bun: the Node script under Bun", async (rx) => {
  copyFileSync(join(here, "node.mjs"), join(app, "node.mjs"));
  const r = await run(join(bin, "bun"), ["node.mjs", rx.url]);
  expectOk(r, "bun node.mjs");
  assertBatch(rx, {
    service: "newcomer-node",
    metric: "jobs.processed",
    value: 3,
  });
});

// ---- 5. esbuild bundles a Lambda handler into one CommonJS file; run it with no node_modules.
await check(
  "esbuild: Lambda handler bundled into one file (edgemetrics/inline), run from an empty directory",
  async (rx) => {
    copyFileSync(join(here, "lambda.mjs"), join(app, "lambda.mjs"));
    const b = await run(join(app, "node_modules", ".bin", "esbuild"), [
      "lambda.mjs",
      "--bundle",
      "--platform=node",
      "--format=cjs",
      "--outfile=bundle/index.js",
      "--log-level=warning",
    ]);
    expectOk(b, "esbuild");
    // Outside the app (whose package.json says "type": "module"): a Lambda zip holds index.js alone.
    const lone = join(app, "..", "lambda-deploy");
    mkdirSync(lone, { recursive: true });
    copyFileSync(join(app, "bundle", "index.js"), join(lone, "index.js"));
    copyFileSync(join(here, "invoke-lambda.cjs"), join(lone, "invoke.cjs"));
    const r = await run(process.execPath, ["invoke.cjs"], {
      cwd: lone,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
        OTEL_SERVICE_NAME: "newcomer-lambda",
        AWS_LAMBDA_FUNCTION_NAME: "newcomer-fn",
        AWS_LAMBDA_FUNCTION_VERSION: "7",
        AWS_REGION: "eu-central-1",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "256",
        AWS_LAMBDA_LOG_STREAM_NAME: "2026/12/01/[7]abcdef",
      },
    });
    expectOk(r, "bundled lambda");
    assertBatch(rx, {
      service: "newcomer-lambda",
      metric: "orders.created",
      value: 4,
      resource: {
        "cloud.provider": "aws",
        "cloud.platform": "aws_lambda",
        "faas.name": "newcomer-fn",
        "faas.version": "7",
        "cloud.region": "eu-central-1",
        "faas.max_memory": 256 * 1024 * 1024,
        "faas.instance": "2026/12/01/[7]abcdef",
      },
    });
  },
);

// ---- 6. A Vercel Edge-style handler, bundled for the `edge-light` condition, in edge-runtime.
await check(
  "edge-runtime: Vercel Edge-style handler (edge-light entry, .wasm?module), Vercel resource",
  async (rx) => {
    copyFileSync(join(here, "edge.mjs"), join(app, "edge.mjs"));
    copyFileSync(join(here, "edge-host.mjs"), join(app, "edge-host.mjs"));
    const r = await run(process.execPath, ["edge-host.mjs", rx.url]);
    expectOk(r, "edge-host.mjs");
    assertBatch(rx, {
      service: "newcomer-edge",
      metric: "http.server.request.duration",
      value: 1,
      resource: {
        "cloud.provider": "vercel",
        "cloud.region": "fra1",
        "deployment.environment.name": "preview",
      },
    });
  },
);

// ---- 7. Per-format entries: the default import and edgemetrics/remote-write in one program.
/** The OTLP batch and the remote-write batch of one entries run, in any order. */
function assertEntries(rx) {
  assert.equal(
    rx.requests.length,
    2,
    `expected two batches, got ${rx.requests.length}`,
  );
  const otlp = rx.requests.find((q) => q.url === "/v1/metrics");
  const rw = rx.requests.find((q) => q.url === "/api/v1/write");
  assert.ok(otlp && rw, rx.requests.map((q) => q.url).join());
  assert.equal(decodeOtlp(otlp).metrics["jobs.processed"].points[0].value, 2);
  assert.equal(rw.headers["content-encoding"], "snappy");
  assert.equal(rw.headers["content-type"], "application/x-protobuf");
}
await check(
  "node: edgemetrics and edgemetrics/remote-write side by side (each its own wasm)",
  async (rx) => {
    copyFileSync(join(here, "entries.mjs"), join(app, "entries.mjs"));
    const r = await run(process.execPath, ["entries.mjs", rx.url]);
    expectOk(r, "entries.mjs");
    assertEntries(rx);
  },
);
await check(
  "workerd (wrangler dev): edgemetrics and edgemetrics/remote-write in one worker",
  async (rx) => {
    mkdirSync(join(app, "entries"), { recursive: true });
    copyFileSync(
      join(here, "entries-worker.js"),
      join(app, "entries", "index.js"),
    );
    const port = await freePort();
    writeFileSync(
      join(app, "entries", "wrangler.toml"),
      [
        'name = "newcomer-entries"',
        'main = "index.js"',
        'compatibility_date = "2025-06-01"',
        "[vars]",
        `ENDPOINT = "${rx.url}"`,
        "",
      ].join("\n"),
    );
    const { child, res, log } = await wranglerDev(
      join(app, "entries"),
      port,
      "/",
    );
    try {
      const text = await res.text();
      assert.equal(res.status, 200, text);
      assert.equal(text, "edgemetrics/remote-write");
      assert.ok(
        await waitFor(() => rx.requests.length >= 2, { timeoutMs: 15_000 }),
        `batches missing:\n${log()}`,
      );
      assertEntries(rx);
    } finally {
      stopGroup(child);
      children.delete(child);
    }
  },
);

// What wrangler itself bundles from the tarball (deploy --dry-run: no account, no upload): a worker
// using an entry with every integration must carry that entry's wasm module and no other.
for (const [entry, dir, integ] of [
  ["edgemetrics", "otlp", "edgemetrics/"],
  ["edgemetrics/remote-write", "remote-write", "edgemetrics/remote-write/"],
]) {
  await check(
    `wrangler bundle: ${entry} with ${integ}hono, /vercel, /workers and edgemetrics/otel ships only ${dir}'s wasm`,
    async () => {
      const w = join(app, `bundle-${dir}`);
      mkdirSync(w, { recursive: true });
      writeFileSync(
        join(w, "index.js"),
        [
          `import { Metrics } from '${entry}';`,
          `import { metricsMiddleware } from '${integ}hono';`,
          `import { withWaitUntil } from '${integ}vercel';`,
          `import { pagesFunction } from '${integ}workers';`,
          "import { EdgeMeterProvider } from 'edgemetrics/otel';",
          "const used = [Metrics, metricsMiddleware, withWaitUntil, pagesFunction, EdgeMeterProvider];",
          "export default { fetch: () => new Response(String(used.length)) };",
          "",
        ].join("\n"),
      );
      writeFileSync(
        join(w, "wrangler.toml"),
        [
          'name = "newcomer-bundle"',
          'main = "index.js"',
          'compatibility_date = "2025-06-01"',
          "",
        ].join("\n"),
      );
      const r = await run(
        join(bin, "wrangler"),
        ["deploy", "--dry-run", "--outdir", "out"],
        {
          cwd: w,
          env: { WRANGLER_SEND_METRICS: "false", CI: "1" },
        },
      );
      expectOk(r, "wrangler deploy --dry-run");
      const wasm = readdirSync(join(w, "out")).filter((f) =>
        f.endsWith(".wasm"),
      );
      const want = readFileSync(
        join(
          app,
          "node_modules",
          "edgemetrics",
          "dist",
          dir,
          "edgemetrics_wasm_bg.wasm",
        ),
      );
      assert.equal(
        wasm.length,
        1,
        `wasm modules in the bundle: ${wasm.join(", ")}`,
      );
      assert.ok(
        readFileSync(join(w, "out", wasm[0])).equals(want),
        `${wasm[0]} is not dist/${dir}'s module`,
      );
    },
  );
}

const failed = results.filter((r) => !r.ok);
console.log(
  `newcomer: ${results.length - failed.length} passed, ${failed.length} failed`,
);
process.exit(failed.length === 0 ? 0 : 1);
