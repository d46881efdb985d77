#!/usr/bin/env bash
# The main job: builds the example Rust worker, starts the dev receiver and the worker in local
# workerd, drives a few hundred requests through it, and prints what the receiver got.
# DEMO_ENDPOINT=<url> (and DEMO_FORMAT, OTEL_EXPORTER_OTLP_HEADERS) push to a real endpoint instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh
exec bash examples/rust-worker/run-demo.sh "$@"
