#!/usr/bin/env bash
# What the edgemetrics integration adds to a workers-rs worker: builds the example with and
# without the `metrics` feature (same router) and prints raw and gzip -9 sizes of the wasm and JS.
source "$(dirname "$0")/lib.sh"
"$EX/build.sh" >/dev/null || die "build failed"
EDGEMETRICS_EXAMPLE_BARE=1 "$EX/build.sh" >/dev/null || die "bare build failed"
EDGEMETRICS_EXAMPLE_FEATURES=otlp "$EX/build.sh" >/dev/null || die "otlp-only build failed"
row() { # row LABEL DIR
  local w="$EX/$2/index_bg.wasm" j="$EX/$2/index.js"
  local wr wg jr jg
  wr=$(stat -c %s "$w"); wg=$(gzip -9c "$w" | wc -c); jr=$(stat -c %s "$j"); jg=$(gzip -9c "$j" | wc -c)
  printf '%-28s wasm %8d B (gzip -9 %7d B)   js %6d B (gzip -9 %6d B)   total gzip -9 %7d B\n' "$1" "$wr" "$wg" "$jr" "$jg" $((wg + jg))
  TOTAL=$((wg + jg))
}
row "bare worker (no metrics)" build-bare; bare=$TOTAL
row "with edgemetrics (worker)" build; with=$TOTAL
row "with edgemetrics, otlp only" build-otlp; otlp=$TOTAL
echo "edgemetrics adds $((with - bare)) B gzip -9 to the worker (wasm + JS glue), every format"
echo "edgemetrics adds $((otlp - bare)) B gzip -9 to the worker (wasm + JS glue), OTLP only"
