#!/usr/bin/env bash
# The flush policy of the workers-rs host (Setup::flush_policy, EDGEMETRICS_FLUSH_POLICY) in local
# workerd (wrangler dev) with the dev receiver: the example worker, configured by wrangler vars.
# Fails (never skips) when something is missing; exit 0 only when every check held.
#   1. adaptive (the default), sequential requests: one push per invocation (the isolate is idle
#      after each), each batch covering one invocation (edgemetrics.sdk.invocations).
#   2. adaptive, a burst of N overlapping requests (/slow, 200 ms each): far fewer pushes than
#      invocations, and the decoded request total and the invocations self-metric equal N.
#   3. EDGEMETRICS_FLUSH_POLICY=invocation, the same burst: more pushes than adaptive.
source "$(dirname "$0")/lib.sh"
setup
checks=0
ok() { checks=$((checks + 1)); echo "ok $checks - $*"; }
py() { python3 -c "$@"; }
N=30

settle() { # settle PORT : waits (bounded) until the worker has no delivery in flight
  local i
  for ((i = 0; i < 100; i++)); do
    curl -s "http://127.0.0.1:$1/__metrics_debug" | grep -q '"in_flight":false' && return 0
    sleep 0.1
  done
  die "worker on $1 still has a delivery in flight after 10 s"
}
# totals RPORT : "pushes requests invocations" as the dev receiver decoded them
totals() {
  curl -s "http://127.0.0.1:$1/summary" | py '
import json,sys
s=json.load(sys.stdin)
req=sum(v["count"] for k,v in s["series"].items() if k.startswith("http.server.request.duration{"))
inv=sum(v["value"] for k,v in s["series"].items() if k.startswith("edgemetrics.sdk.invocations"))
print(s["pushes"], req, int(inv))'
}
burst() { # burst WPORT : N overlapping requests to /slow
  local pids=() i
  for ((i = 0; i < N; i++)); do
    curl -s -o /dev/null --max-time 20 "http://127.0.0.1:$1/slow" &
    pids+=("$!")
  done
  for i in "${pids[@]}"; do wait "$i" || die "a request of the burst failed"; done
}
wait_total() { # wait_total RPORT WANT : until the receiver decoded WANT requests (bounded)
  local i
  for ((i = 0; i < 100; i++)); do
    read -r _ req _ <<< "$(totals "$1")"
    [ "$req" -ge "$2" ] && return 0
    sleep 0.1
  done
}

# ---- 1 and 2: adaptive (default)
rport="$(free_port)"
start_receiver "$rport"
w="$(free_port)"
start_worker "$w" "http://127.0.0.1:$rport" otlp-proto --var SLOW_MS:200
for ((i = 1; i <= 5; i++)); do
  curl -s -o /dev/null --max-time 10 "http://127.0.0.1:$w/api/items/1" || die "request $i failed"
  settle "$w"
done
wait_total "$rport" 5
read -r pushes req inv <<< "$(totals "$rport")"
[ "$pushes" = 5 ] && [ "$req" = 5 ] && [ "$inv" = 5 ] || die "sequential: pushes $pushes, requests $req, invocations $inv (want 5 5 5)"
ok "adaptive, 5 sequential requests: 5 pushes, 5 invocations counted"
burst "$w"
wait_total "$rport" $((5 + N))
settle "$w"
sleep 0.5
read -r pushes req inv <<< "$(totals "$rport")"
adaptive=$((pushes - 5))
[ "$req" = $((5 + N)) ] && [ "$inv" = $((5 + N)) ] || die "burst: requests $req, invocations $inv (want $((5 + N)))"
[ "$adaptive" -le 3 ] || die "adaptive: $adaptive pushes for a burst of $N overlapping invocations"
ok "adaptive, a burst of $N overlapping requests: $adaptive push(es), exact totals ($N requests, $N invocations)"
stop_worker "$w"

# ---- 3: per-invocation flushing from the environment
rport2="$(free_port)"
start_receiver "$rport2"
w2="$(free_port)"
start_worker "$w2" "http://127.0.0.1:$rport2" otlp-proto --var SLOW_MS:200 --var EDGEMETRICS_FLUSH_POLICY:invocation
curl -s -o /dev/null --max-time 10 "http://127.0.0.1:$w2/api/items/1" || die "warm-up failed"
settle "$w2"
burst "$w2"
wait_total "$rport2" $((1 + N))
settle "$w2"
sleep 0.5
read -r pushes req inv <<< "$(totals "$rport2")"
per=$((pushes - 1))
[ "$per" -gt "$adaptive" ] || die "invocation: $per pushes, not more than adaptive's $adaptive"
ok "EDGEMETRICS_FLUSH_POLICY=invocation, the same burst: $per pushes (adaptive: $adaptive); $((req - 1)) of $N requests decoded"
stop_worker "$w2"
echo "flush policy (workers-rs): all $checks checks passed"
