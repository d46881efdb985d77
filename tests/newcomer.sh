#!/usr/bin/env bash
# The newcomer test: what a new user gets from npm. Packs js/ (`npm pack` runs the `prepack`
# build), installs the tarball into a throwaway project outside the repository (plus esbuild and
# edge-runtime, pinned), prints the tarball's file list and size, and runs tests/newcomer/run.mjs
# there: workerd (the README snippet), Node, Deno, Bun, an esbuild-bundled Lambda handler, a
# Vercel Edge-style handler and the per-format entries (the default import next to
# edgemetrics/remote-write in Node and workerd), each pushing to a receiver on 127.0.0.1 that
# decodes the batch.
# Needs the npm registry (reachable on the CI machine) and js/node_modules (tests/setup.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
case "$WORK" in "$ROOT"*) echo "throwaway project must be outside the repository" >&2; exit 1 ;; esac

cd "$ROOT/js"
npm pack --silent --json --pack-destination "$WORK" > "$WORK/pack.json"
node -e '
const [p] = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
console.log(`tarball ${p.filename}: ${p.size} bytes packed, ${p.unpackedSize} unpacked, ${p.entryCount} files`);
for (const f of p.files) console.log(`  ${String(f.size).padStart(8)}  ${f.path}`);
const need = ["LICENSE-MIT", "LICENSE-APACHE", "README.md", "package.json", "dist/edgemetrics_wasm_bg.wasm", "dist/node.js", "dist/otlp/edgemetrics_wasm_bg.wasm", "dist/otlp/node.js", "dist/otlp/workerd.js", "dist/remote-write/edgemetrics_wasm_bg.wasm", "dist/remote-write/workerd.js", "dist/workerd.js", "dist/edge-light.js", "dist/inline.js", "dist/index.d.ts", "dist/otlp/hono.js", "dist/remote-write/hono.js", "dist/otel.js", "dist/tail/tail.js"];
const have = new Set(p.files.map((f) => f.path));
const missing = need.filter((f) => !have.has(f));
if (missing.length) { console.error("missing from the tarball: " + missing.join(", ")); process.exit(1); }
// The unbundled modules build.mjs leaves for the repository tests are not shipped.
const extra = p.files.filter((f) => f.path.includes("/modules/"));
if (extra.length) { console.error("not for the tarball: " + extra.map((f) => f.path).join(", ")); process.exit(1); }
' "$WORK/pack.json"
tarball="$WORK/$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[0].filename' "$WORK/pack.json")"

mkdir "$WORK/app"
cd "$WORK/app"
printf '{ "name": "newcomer-app", "private": true, "type": "module" }\n' > package.json
npm install --silent --no-audit --no-fund --save-exact "$tarball" esbuild@0.28.2 edge-runtime@4.0.1 @edge-runtime/vm@5.0.0
node "$ROOT/tests/newcomer/run.mjs" "$WORK/app" "$ROOT"
