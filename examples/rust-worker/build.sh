#!/usr/bin/env bash
# Builds the example worker with worker-build (called by wrangler's [build] command from the repo
# root, and by run-demo.sh / bench / e2e). Uses local tools only: the installed wasm-bindgen CLI
# and npm's binaryen wasm-opt and esbuild (worker-build would otherwise download them).
#   EDGEMETRICS_EXAMPLE_BARE=1   build the same router without metrics into build-bare/
#   EDGEMETRICS_SKIP_BUILD=1     do nothing if the output already exists (tests build once)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
out=build
args=(--release)
if [ "${EDGEMETRICS_EXAMPLE_BARE:-0}" = 1 ]; then
  out=build-bare
  args+=(--out-dir "$out" --no-default-features)
fi
if [ "${EDGEMETRICS_SKIP_BUILD:-0}" = 1 ] && [ -f "$out/index.js" ] && [ -f "$out/index_bg.wasm" ]; then
  exit 0
fi
need() { command -v "$1" >/dev/null 2>&1 || { echo "build.sh: $1 not found: $2" >&2; exit 1; }; }
need worker-build "cargo install worker-build --version 0.8.7"
need wasm-bindgen "cargo install wasm-bindgen-cli --version 0.2.130"
[ -x node_modules/.bin/wasm-opt ] || { echo "build.sh: run 'npm ci' in $here first" >&2; exit 1; }
case "$(worker-build --version)" in *0.8.7*) ;; *) echo "build.sh: worker-build 0.8.7 required" >&2; exit 1;; esac
case "$(wasm-bindgen --version)" in *0.2.130*) ;; *) echo "build.sh: wasm-bindgen 0.2.130 required" >&2; exit 1;; esac
export WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
export WASM_OPT_BIN="$here/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$here/node_modules/.bin/esbuild"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/../../target/workers}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
exec worker-build "${args[@]}"
