# Shared helpers for run-demo.sh, e2e-test.sh, bench-latency.sh and size.sh (sourced, not run).
# Everything started here is started in its own process group and stopped by that group's id.
set -euo pipefail
EX="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$EX/../.." && pwd)"
source "$ROOT/tests/versions.sh"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/workers}"
RECEIVER_BIN="$CARGO_TARGET_DIR/release/edgemetrics-dev-receiver"
WRANGLER="$EX/node_modules/.bin/wrangler"
PGIDS=()
WORK="$(mktemp -d /tmp/edgemetrics-workers.XXXXXX)"

cleanup() {
  local g
  for g in "${PGIDS[@]:-}"; do
    [ -n "$g" ] && kill -TERM -- "-$g" 2>/dev/null || true
  done
  sleep 0.3
  for g in "${PGIDS[@]:-}"; do
    [ -n "$g" ] && kill -KILL -- "-$g" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

die() { echo "FAIL: $*" >&2; exit 1; }

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Checks what the example needs (installing is tests/setup.sh's job) and builds.
setup() {
  command -v node >/dev/null || die "node is required"
  command -v curl >/dev/null || die "curl is required"
  command -v python3 >/dev/null || die "python3 is required"
  if [ ! -x "$WRANGLER" ] || [ ! -x "$EX/node_modules/.bin/wasm-opt" ]; then
    die "npm packages missing in $EX: bash tests/setup.sh"
  fi
  rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown || die "rust target wasm32-unknown-unknown missing: bash tests/setup.sh"
  version_is "$WORKER_BUILD" worker-build --version || die "worker-build $WORKER_BUILD missing: bash tests/setup.sh"
  version_is "$WASM_BINDGEN" wasm-bindgen --version || die "wasm-bindgen $WASM_BINDGEN missing: bash tests/setup.sh"
  "$EX/build.sh" || die "worker build failed"
  (cd "$ROOT" && cargo build -j2 --release -p edgemetrics-dev-receiver -q) || die "dev receiver build failed"
}

# start_bg NAME CMD... : runs CMD in its own process group, output in $WORK/NAME.log.
start_bg() {
  local name="$1"; shift
  setsid "$@" > "$WORK/$name.log" 2>&1 &
  PGIDS+=("$!")
}

# wait_http URL SECONDS : waits until URL answers (any status).
wait_http() {
  local url="$1" secs="$2" i
  for ((i = 0; i < secs * 10; i++)); do
    curl -s -o /dev/null "$url" && return 0
    sleep 0.1
  done
  return 1
}

# start_receiver PORT
start_receiver() {
  start_bg receiver "$RECEIVER_BIN" --port "$1" --quiet
  wait_http "http://127.0.0.1:$1/-/ready" 20 || die "dev receiver did not start"
}

# start_worker PORT ENDPOINT FORMAT [extra wrangler args] : the example in local workerd.
start_worker() {
  local port="$1" endpoint="$2" format="$3"; shift 3
  local insp; insp="$(free_port)"
  # Configured only by environment (wrangler vars): OTEL_* for OTLP, EDGEMETRICS_* for the rest.
  local vars=(--var "EDGEMETRICS_FORMAT:$format")
  case "$format" in
    otlp-proto) vars+=(--var "OTEL_EXPORTER_OTLP_ENDPOINT:$endpoint") ;;
    otlp-json) vars+=(--var "OTEL_EXPORTER_OTLP_ENDPOINT:$endpoint" --var "OTEL_EXPORTER_OTLP_PROTOCOL:http/json") ;;
    *) vars+=(--var "EDGEMETRICS_ENDPOINT:$endpoint") ;;
  esac
  ( cd "$ROOT" && EDGEMETRICS_SKIP_BUILD=1 WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false \
      start_bg "worker-$port" "$WRANGLER" dev --ip 127.0.0.1 --port "$port" --inspector-port "$insp" \
      "${vars[@]}" "$@" ; echo "${PGIDS[-1]}" > "$WORK/pg-$port" )
  PGIDS+=("$(cat "$WORK/pg-$port")")
  wait_http "http://127.0.0.1:$port/__metrics_debug" 60 || { cat "$WORK/worker-$port.log" >&2; die "wrangler dev did not start"; }
}

# stop_worker PORT
stop_worker() {
  local g; g="$(cat "$WORK/pg-$1")"
  kill -TERM -- "-$g" 2>/dev/null || true
  sleep 0.5
  kill -KILL -- "-$g" 2>/dev/null || true
}
