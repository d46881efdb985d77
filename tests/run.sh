#!/usr/bin/env bash
# Runs every test: Rust unit/property/doc tests, conformance tests against real Prometheus and
# Pushgateway and the official OTLP decoders, the delivery fault-injection suite and soak, the
# wasm build with its size budget, the JS package in Node/Deno/Bun/workerd, the crate's
# `cargo publish --dry-run`, the newcomer test (the packed npm package installed in a throwaway
# project, tests/newcomer.sh), and the workers-rs end-to-end, host-contract and flush-policy tests
# in local workerd. Installs what it needs first (tests/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}
export CARGO_TERM_COLOR=never

bash tests/setup.sh
source tests/versions.sh

passed=0
failed=0
failures=()
step() {
  local name=$1; shift
  printf '\n\033[1;34m[test]\033[0m %s\n' "$name"
  local t0=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    printf '\033[1;32m[ok]\033[0m %s (%ds)\n' "$name" $((SECONDS - t0))
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf '\033[1;31m[FAILED]\033[0m %s (%ds)\n' "$name" $((SECONDS - t0))
  fi
}

step "rust: format check" cargo fmt --all -- --check
step "rust: core tests (unit, property, conformance, real servers, delivery, metrics-rs recorder, doc)" \
  cargo test -p edgemetrics --features decode,serde,metrics-rs
# One test, selected by name: the step fails if the name selects none (a renamed test).
env_without_emf() {
  local out
  out=$(cargo test -p edgemetrics --no-default-features --features otlp --test env_cases emf_without 2>&1) || { echo "$out"; return 1; }
  echo "$out" | grep -E '^test |test result'
  echo "$out" | grep -q 'test result: ok. 1 passed' || { echo "expected exactly one test named emf_without..."; return 1; }
}
step "rust: environment parsing in a build without the emf feature (the format-not-in-this-build error)" env_without_emf
step "rust: workers-rs host compiles for wasm32, its doctest builds (feature worker)" \
  cargo check --target wasm32-unknown-unknown -p edgemetrics --features worker
step "rust: workers-rs host unit tests (native; instrument/bind parts that touch no JavaScript)" \
  cargo test -p edgemetrics --features worker --lib worker::
step "rust: wasm bindings and dev receiver tests" \
  cargo test -p edgemetrics-wasm -p edgemetrics-dev-receiver --features edgemetrics-wasm/decode
step "rust: core builds for wasm32 with default features off" \
  cargo build --release --target wasm32-unknown-unknown -p edgemetrics --no-default-features
single_formats() {
  local f
  for f in otlp otlp-json remote-write pushgateway compact emf; do
    echo "core with only $f, and the worker host with only $f (wasm32)"
    cargo check -q --target wasm32-unknown-unknown -p edgemetrics --no-default-features --features "$f" || return 1
    # EMF is written to a log, never fetched: the workers-rs host has no use for it alone.
    [ "$f" = emf ] || cargo check -q --target wasm32-unknown-unknown -p edgemetrics --no-default-features --features "worker,$f" || return 1
    # The npm package's bindings forward their features to the core's (`otlp-proto` = core `otlp`).
    cargo check -q --target wasm32-unknown-unknown -p edgemetrics-wasm --no-default-features \
      --features "$([ "$f" = otlp ] && echo otlp-proto || echo "$f")" || return 1
  done
}
step "rust: each format alone builds for wasm32 (core, worker host, npm bindings)" single_formats
step "rust: the metrics-rs recorder builds for wasm32 with one format" \
  cargo check --target wasm32-unknown-unknown -p edgemetrics --no-default-features --features metrics-rs,otlp
step "rust: clippy (all targets, warnings are errors)" \
  cargo clippy --workspace --all-targets --features edgemetrics/decode,edgemetrics/metrics-rs -- -D warnings
step "rust: clippy on the workers-rs host (wasm32)" \
  cargo clippy --target wasm32-unknown-unknown -p edgemetrics --features worker -- -D warnings
step "size: wasm budgets" bash tests/size.sh --check
step "js: lint and format check (eslint, prettier)" bash -c 'cd js && npm run lint'
step "js: package tests (node --test: API, Node, Deno, Bun, workerd)" bash -c 'cd js && npm test'
step "crate: cargo publish --dry-run (package list, builds from the packaged files; needs the crates.io index)" \
  cargo publish --dry-run -p edgemetrics --allow-dirty
step "npm: newcomer test (npm pack, install in a throwaway project; workerd, Node, Deno, Bun, esbuild Lambda bundle, edge-runtime)" \
  bash tests/newcomer.sh
step "workers-rs: example worker in workerd against real Prometheus and the dev receiver" \
  bash examples/rust-worker/e2e-test.sh
step "workers-rs: host-loop contract in workerd (receiver answering after 10 s)" \
  env EDGEMETRICS_SKIP_BUILD=1 bash examples/rust-worker/host-contract-test.sh
step "workers-rs: flush policy in workerd (adaptive: one push per burst, exact totals; invocation from the environment)" \
  env EDGEMETRICS_SKIP_BUILD=1 bash examples/rust-worker/policy-test.sh

echo
if [ "$failed" -gt 0 ]; then
  printf 'failed steps: %s\n' "${failures[*]}"
fi
echo "steps: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
