#!/usr/bin/env bash
# Response latency with and without metrics under the same local load: the example worker built
# with and without the `metrics` feature, each in its own wrangler dev, driven by driver.mjs
# ("fast" mix, no /slow). With metrics every request also pushes (compact) to the dev receiver.
# Not a timed test: numbers depend on the machine; run it on a quiet one.
#   BENCH_REQUESTS=2000 BENCH_CONCURRENCY=8 BENCH_FORMAT=compact
source "$(dirname "$0")/lib.sh"
setup
EDGEMETRICS_EXAMPLE_BARE=1 "$EX/build.sh" >/dev/null || die "bare build failed"
n="${BENCH_REQUESTS:-2000}"; c="${BENCH_CONCURRENCY:-8}"; fmt="${BENCH_FORMAT:-compact}"
rport="$(free_port)"; start_receiver "$rport"
run() { # run LABEL PORT
  node "$EX/driver.mjs" "http://127.0.0.1:$2" 100 "$c" fast >/dev/null || die "warm-up failed"
  printf '%-26s ' "$1"
  node "$EX/driver.mjs" "http://127.0.0.1:$2" "$n" "$c" fast |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print("p50 %(p50_ms)7.2f ms  p90 %(p90_ms)7.2f ms  p99 %(p99_ms)7.2f ms  max %(max_ms)7.2f ms  %(rps)7.1f req/s  (%(requests)d requests)" % d)'
}
# Bare: point wrangler's main at the bare build.
wb="$(free_port)"
start_worker "$wb" "http://127.0.0.1:$rport" "$fmt" --name edgemetrics-bare "$EX/build-bare/index.js"
run "bare (no metrics)" "$wb"
stop_worker "$wb"
wm="$(free_port)"
start_worker "$wm" "http://127.0.0.1:$rport" "$fmt"
run "with metrics ($fmt push)" "$wm"
stop_worker "$wm"
echo "pushes received: $(curl -s "http://127.0.0.1:$rport/summary" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["pushes"], "pushes,", d["bytes_per_push_avg"], "B avg")')"
