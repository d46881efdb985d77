#!/usr/bin/env bash
# What the edgemetrics integration adds to a workers-rs worker: builds the example with and
# without the `metrics` feature (same router) and prints raw and gzip -9 sizes of the wasm and JS.
source "$(dirname "$0")/lib.sh"
"$EX/build.sh" >/dev/null || die "build failed"
EDGEMETRICS_EXAMPLE_BARE=1 "$EX/build.sh" >/dev/null || die "bare build failed"
EDGEMETRICS_EXAMPLE_FEATURES=otlp "$EX/build.sh" >/dev/null || die "otlp-only build failed"
# worker-build 0.8.7 runs wasm-opt with --debuginfo: the module keeps its name section (function
# names, for panic stack traces), so what a worker uploads includes one name per function we add.
# The last column is the same total with the name section stripped, for comparison.
names_off=$(mktemp)
trap 'rm -f "$names_off"' EXIT
row() { # row LABEL DIR
  local w="$EX/$2/index_bg.wasm" j="$EX/$2/index.js"
  local wr wg jr jg ng
  wr=$(stat -c %s "$w"); wg=$(gzip -9c "$w" | wc -c); jr=$(stat -c %s "$j"); jg=$(gzip -9c "$j" | wc -c)
  "$EX/node_modules/.bin/wasm-opt" --strip-debug --all-features "$w" -o "$names_off"
  ng=$(gzip -9c "$names_off" | wc -c)
  printf '%-28s wasm %8d B (gzip -9 %7d B)   js %6d B (gzip -9 %6d B)   total gzip -9 %7d B (without the name section %7d B)\n' \
    "$1" "$wr" "$wg" "$jr" "$jg" $((wg + jg)) $((ng + jg))
  TOTAL=$((wg + jg))
  TOTAL_NONAMES=$((ng + jg))
}
row "bare worker (no metrics)" build-bare; bare=$TOTAL; bare_n=$TOTAL_NONAMES
row "with edgemetrics (worker)" build; with=$TOTAL; with_n=$TOTAL_NONAMES
row "with edgemetrics, otlp only" build-otlp; otlp=$TOTAL; otlp_n=$TOTAL_NONAMES
echo "edgemetrics adds $((with - bare)) B gzip -9 to the worker (wasm + JS glue), every format ($((with_n - bare_n)) B without the name section)"
echo "edgemetrics adds $((otlp - bare)) B gzip -9 to the worker (wasm + JS glue), OTLP only ($((otlp_n - bare_n)) B without the name section)"
