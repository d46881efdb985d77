#!/usr/bin/env bash
# Builds the example worker with worker-build (called by wrangler's [build] command from the repo
# root, and by run-demo.sh / bench / e2e). Uses local tools only: the installed wasm-bindgen CLI
# and npm's binaryen wasm-opt and esbuild (worker-build would otherwise download them).
#   EDGEMETRICS_EXAMPLE_BARE=1   build the same router without metrics into build-bare/
#   EDGEMETRICS_EXAMPLE_FEATURES=otlp  build with only these formats into build-otlp/
#   EDGEMETRICS_SKIP_BUILD=1     do nothing if the output already exists (tests build once)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
out=build
args=(--release)
if [ "${EDGEMETRICS_EXAMPLE_BARE:-0}" = 1 ]; then
  out=build-bare
  args+=(--out-dir "$out" --no-default-features)
elif [ -n "${EDGEMETRICS_EXAMPLE_FEATURES:-}" ]; then
  out="build-${EDGEMETRICS_EXAMPLE_FEATURES//,/-}"
  args+=(--out-dir "$out" --no-default-features --features "$EDGEMETRICS_EXAMPLE_FEATURES")
fi
if [ "${EDGEMETRICS_SKIP_BUILD:-0}" = 1 ] && [ -f "$out/index.js" ] && [ -f "$out/index_bg.wasm" ]; then
  exit 0
fi
source "$here/../../tests/versions.sh"
need() { command -v "$1" >/dev/null 2>&1 || { echo "build.sh: $1 not found: $2" >&2; exit 1; }; }
need worker-build "cargo install worker-build --version $WORKER_BUILD (or bash tests/setup.sh)"
need wasm-bindgen "cargo install wasm-bindgen-cli --version $WASM_BINDGEN (or bash tests/setup.sh)"
[ -x node_modules/.bin/wasm-opt ] || { echo "build.sh: run 'npm ci' in $here first" >&2; exit 1; }
version_is "$WORKER_BUILD" worker-build --version || { echo "build.sh: worker-build $WORKER_BUILD required" >&2; exit 1; }
version_is "$WASM_BINDGEN" wasm-bindgen --version || { echo "build.sh: wasm-bindgen $WASM_BINDGEN required" >&2; exit 1; }
export WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
export WASM_OPT_BIN="$here/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$here/node_modules/.bin/esbuild"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/../../target/workers}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
exec worker-build "${args[@]}"
