# Loads tests/versions.env and defines exact version checks (sourced, not run).
#   version_of CMD...      prints the first x.y.z in CMD's output (empty if none / CMD missing)
#   version_is WANT CMD... true when that version is exactly WANT (0.8.7 never matches 10.8.7)
#   pins_consistent        true when the manifests pin the versions of versions.env
_versions_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=tests/versions.env
source "$_versions_root/tests/versions.env"

version_of() {
  "$@" 2>/dev/null | grep -oE '(^|[^0-9.])[0-9]+\.[0-9]+\.[0-9]+' | head -1 | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' || true
}

version_is() {
  local want=$1; shift
  [ "$(version_of "$@")" = "$want" ]
}

# The manifests must pin what versions.env says (one source of truth, checked, not copied by hand).
pins_consistent() {
  local r=$_versions_root ok=0
  grep -q "wasm-bindgen = { version = \"=$WASM_BINDGEN\"" "$r/bindings/Cargo.toml" || { echo "bindings/Cargo.toml: wasm-bindgen is not =$WASM_BINDGEN" >&2; ok=1; }
  grep -q "^wasm-bindgen = \"=$WASM_BINDGEN\"" "$r/examples/rust-worker/Cargo.toml" || { echo "examples/rust-worker/Cargo.toml: wasm-bindgen is not =$WASM_BINDGEN" >&2; ok=1; }
  grep -q "^worker = \"=$WORKER_BUILD\"" "$r/examples/rust-worker/Cargo.toml" || { echo "examples/rust-worker/Cargo.toml: worker is not =$WORKER_BUILD" >&2; ok=1; }
  # The library takes a semver range (users choose their workers-rs 0.8.x); the example pins it.
  grep -q "worker = { version = \"${WORKER_BUILD%.*}\"" "$r/Cargo.toml" || { echo "Cargo.toml: worker is not the range ${WORKER_BUILD%.*}" >&2; ok=1; }
  grep -q "\"binaryen\": \"$BINARYEN\"" "$r/js/package.json" || { echo "js/package.json: binaryen is not $BINARYEN" >&2; ok=1; }
  grep -q "\"binaryen\": \"$BINARYEN\"" "$r/examples/rust-worker/package.json" || { echo "examples/rust-worker/package.json: binaryen is not $BINARYEN" >&2; ok=1; }
  return $ok
}
