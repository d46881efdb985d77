#!/usr/bin/env bash
# Installs everything the demo and the tests need, idempotently: a tool already at the pinned
# version is not reinstalled. Safe to run any number of times. Prints what it does.
set -euo pipefail
cd "$(dirname "$0")/.."

# Tool versions live in tests/versions.env (one file); checks are exact.
source tests/versions.sh
pins_consistent || { echo "tests/versions.env and the manifests disagree" >&2; exit 1; }
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

# --- Debian packages: real receivers (Prometheus with remote-write receiver, Pushgateway) ---
need_apt=()
[ -x /usr/bin/prometheus ] || need_apt+=(prometheus)
[ -x /usr/bin/prometheus-pushgateway ] || need_apt+=(prometheus-pushgateway)
command -v curl >/dev/null || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
  say "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
else
  say "prometheus, prometheus-pushgateway, curl: present"
fi

# --- Python: the official OTLP protobuf package, to check our OTLP/JSON independently ---
if python3 -c 'import opentelemetry.proto.collector.metrics.v1.metrics_service_pb2, google.protobuf.json_format' 2>/dev/null; then
  say "python opentelemetry-proto: present"
else
  say "pip install opentelemetry-proto protobuf"
  python3 -m pip install --quiet --disable-pip-version-check opentelemetry-proto protobuf
fi

# --- Rust: wasm target and pinned CLIs ---
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rust target wasm32-unknown-unknown: present"
else
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
if version_is "$WASM_BINDGEN" wasm-bindgen --version; then
  say "wasm-bindgen-cli $WASM_BINDGEN: present"
else
  say "cargo install wasm-bindgen-cli $WASM_BINDGEN (about 2.5 min)"
  cargo install -q wasm-bindgen-cli --version "$WASM_BINDGEN" -j2
fi
if version_is "$WORKER_BUILD" worker-build --version; then
  say "worker-build $WORKER_BUILD: present"
else
  say "cargo install worker-build $WORKER_BUILD (about 4.5 min)"
  cargo install -q worker-build --version "$WORKER_BUILD" -j2
fi

# --- npm packages (wasm-opt from npm binaryen, wrangler/miniflare/workerd, deno, bun, peers) ---
npm_install() {
  local dir=$1
  [ -f "$dir/package-lock.json" ] || return 0
  local stamp="$dir/node_modules/.edgemetrics-lock.sha"
  local want
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    say "npm packages in $dir: up to date"
  else
    say "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
}
for d in js examples/rust-worker; do
  [ -d "$d" ] && npm_install "$d"
done
say "done"
