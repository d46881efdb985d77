#!/usr/bin/env bash
# End-to-end tests of the workers-rs integration, with real parts only: the example worker in
# local workerd (wrangler dev), real Prometheus with its remote-write receiver, the dev receiver.
# Fails (never skips) when something is missing. Exit 0 only when every assertion held.
#   1. remote write, cumulative: counter totals per route/status equal what was sent (recorded by
#      edgemetrics::worker::instrument, the route named by the handler); active requests sum to 0;
#      histogram_quantile over the latency histogram of /slow lands in its bucket (100, 250] ms;
#      response-size histogram sums are exact; every series carries instance=<the worker's
#      per-isolate id, 16 hex digits>.
#   2. one outbound request per invocation (sequential requests, OTLP protobuf, dev receiver):
#      pushes == invocations, distinct batch ids, decoded counter total == invocations.
#   2b. gzip: OTEL_EXPORTER_OTLP_COMPRESSION=gzip bodies, compressed by the worker, decompress and
#      decode (5 invocations, 5 pushes delivered).
#   3. receiver down (closed port): same statuses and bodies as with a receiver, and the failure
#      is counted by the worker (GET /__metrics_debug).
source "$(dirname "$0")/lib.sh"
PROM=/usr/bin/prometheus
[ -x "$PROM" ] || die "$PROM missing: apt-get install -y prometheus"
setup
checks=0
ok() { checks=$((checks + 1)); echo "ok $checks - $*"; }
py() { python3 -c "$@"; }

# ---- the request plan: (path, method, count, expected status, route)
plan=(
  "/ GET 30 200 /"
  "/api/items GET 12 200 /api/items"
  "/api/items POST 7 201 /api/items"
  "/api/items/1 GET 15 200 /api/items/:id"
  "/api/items/42 GET 9 404 /api/items/:id"
  "/nope GET 6 404 unmatched"
  "/slow GET 5 200 /slow"
)
drive() { # drive BASE OUTFILE : sends the plan sequentially, writes "METHOD PATH STATUS BODY" lines
  local base="$1" out="$2" line path method n want route i
  : > "$out"
  for line in "${plan[@]}"; do
    read -r path method n want route <<< "$line"
    for ((i = 0; i < n; i++)); do
      body="$(curl -s -X "$method" -w ' %{http_code}' --max-time 10 "$base$path")" || die "request $method $path failed"
      echo "$method $path ${body##* } ${body% *}" >> "$out"
    done
  done
}
settle() { # settle PORT : waits (bounded) until the worker has no delivery in flight
  local i
  for ((i = 0; i < 100; i++)); do
    curl -s "http://127.0.0.1:$1/__metrics_debug" | grep -q '"in_flight":false' && return 0
    sleep 0.1
  done
  die "worker on $1 still has a delivery in flight after 10 s"
}

# ---- 1. Prometheus remote write
pport="$(free_port)"
mkdir -p "$WORK/prom"
printf 'global:\n  scrape_interval: 1h\nscrape_configs: []\n' > "$WORK/prom/prometheus.yml"
start_bg prometheus "$PROM" --config.file="$WORK/prom/prometheus.yml" --storage.tsdb.path="$WORK/prom/data" \
  --web.listen-address="127.0.0.1:$pport" --web.enable-remote-write-receiver
wait_http "http://127.0.0.1:$pport/-/ready" 30 || die "prometheus did not start"
w1="$(free_port)"
start_worker "$w1" "http://127.0.0.1:$pport" remote-write
drive "http://127.0.0.1:$w1" "$WORK/up.txt"
settle "$w1"
q() { curl -s --get "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1"; }
for line in "${plan[@]}"; do
  read -r path method n want route <<< "$line"
  # POST and GET /api/items share route and differ by method.
  got="$(q "sum(http_server_request_duration_seconds_count{http_route=\"$route\",http_request_method=\"$method\",http_response_status_code=\"$want\"})" |
    py 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")')"
  [ "$got" = "$n" ] || die "request_duration_seconds_count{route=$route,method=$method,status=$want} = $got, want $n"
  ok "prometheus: http_server_request_duration_seconds_count{route=$route,method=$method,status=$want} == $n"
done
total="$(q 'sum(http_server_request_duration_seconds_count)' | py 'import json,sys; print(json.load(sys.stdin)["data"]["result"][0]["value"][1])')"
[ "$total" = 84 ] || die "total requests $total, want 84"
ok "prometheus: sum(http_server_request_duration_seconds_count) == 84"
p50="$(q 'histogram_quantile(0.5, sum by (le) (http_server_request_duration_seconds_bucket{http_route="/slow"}))' |
  py 'import json,sys; print(json.load(sys.stdin)["data"]["result"][0]["value"][1])')"
py "import sys; v=float('$p50'); sys.exit(0 if 0.1 < v <= 0.25 else 1)" || die "p50 latency of /slow = $p50 s, want in (0.1, 0.25]"
ok "prometheus: histogram_quantile(0.5) of /slow latency = $p50 s, in bucket (0.1, 0.25]"
bytes="$(q 'sum(http_server_response_body_size_bytes_sum{http_route="/api/items/:id"})' |
  py 'import json,sys; print(json.load(sys.stdin)["data"]["result"][0]["value"][1])')"
# 15 × {"id":1,"name":"apple"} (23 B) + 9 × {"error":"no such item"} (24 B)
[ "$bytes" = 561 ] || die "response bytes of /api/items/:id = $bytes, want 561"
ok "prometheus: response size sum for /api/items/:id == 561 bytes"
active="$(q 'sum(http_server_active_requests)' | py 'import json,sys; print(json.load(sys.stdin)["data"]["result"][0]["value"][1])')"
[ "$active" = 0 ] || die "sum(http_server_active_requests) = $active, want 0 (every request that started ended)"
ok "prometheus: sum(http_server_active_requests) == 0 (recorded by edgemetrics::worker::instrument)"
# The per-isolate instance label: on every series, and the worker's random service.instance.id
# (16 lowercase hex digits, as GET /__metrics_debug reports it). Counting the values of
# `count by (instance)` alone would pass without the label (one group, the empty value).
wid="$(curl -s "http://127.0.0.1:$w1/__metrics_debug" | py 'import json,sys; print(json.load(sys.stdin)["instance_id"])')"
[[ "$wid" =~ ^[0-9a-f]{16}$ ]] || die "worker instance_id \"$wid\", want 16 lowercase hex digits"
q '{__name__=~".+"}' | py "
import json,sys
r=json.load(sys.stdin)['data']['result']
assert r, 'no series in prometheus'
bad=[s['metric'] for s in r if s['metric'].get('instance')!='$wid']
assert not bad, ('series without instance=$wid', len(bad), bad[:3])
print(len(r))
" > "$WORK/inst.txt" || die "not every series carries instance=\"$wid\" (see the assertion above)"
ok "prometheus: all $(cat "$WORK/inst.txt") series carry instance=\"$wid\", the worker's per-isolate id"
stop_worker "$w1"

# ---- 2. one push per invocation (OTLP protobuf to the dev receiver)
rport="$(free_port)"
start_receiver "$rport"
w2="$(free_port)"
start_worker "$w2" "http://127.0.0.1:$rport" otlp-proto
m=20
for ((i = 1; i <= m; i++)); do
  curl -s -o /dev/null --max-time 10 "http://127.0.0.1:$w2/api/items/1" || die "request $i failed"
  for ((t = 0; t < 100; t++)); do
    pushes="$(curl -s "http://127.0.0.1:$rport/summary" | py 'import json,sys; print(json.load(sys.stdin)["pushes"])')"
    [ "$pushes" -ge "$i" ] && break
    sleep 0.05
  done
  [ "$pushes" = "$i" ] || die "after $i invocations the receiver has $pushes pushes"
done
settle "$w2"
sleep 0.5
curl -s "http://127.0.0.1:$rport/summary" > "$WORK/sum.json"
py "
import json,sys
s=json.load(open('$WORK/sum.json'))
assert s['pushes']==$m, s['pushes']
assert s['unique_batch_ids']==$m and s['duplicate_batch_ids']==0 and s['missing_batch_ids']==0, s
assert s['per_format']=={'otlp-protobuf':$m}, s['per_format']
tot=sum(v['count'] for k,v in s['series'].items() if k.startswith('http.server.request.duration{'))
assert tot==$m, tot
" || die "dev receiver summary: $(cat "$WORK/sum.json")"
ok "dev receiver: $m invocations -> $m pushes, $m distinct batch ids, decoded request total $m"
stop_worker "$w2"

# ---- 2b. gzip (OTEL_EXPORTER_OTLP_COMPRESSION=gzip): the worker compresses with the runtime's
# CompressionStream; a front decompresses with Python's gzip and forwards to the dev receiver.
gport="$(free_port)"
start_bg gunzip python3 "$EX/gunzip_proxy.py" "$gport" "$rport"
wait_http "http://127.0.0.1:$gport/-/ready" 20 || die "gzip front did not start"
before="$(curl -s "http://127.0.0.1:$rport/summary" | py 'import json,sys; print(json.load(sys.stdin)["pushes"])')"
w2g="$(free_port)"
start_worker "$w2g" "http://127.0.0.1:$gport" otlp-proto --var "OTEL_EXPORTER_OTLP_COMPRESSION:gzip" \
  --var "EDGEMETRICS_FLUSH_POLICY:invocation"
mg=5
for ((i = 1; i <= mg; i++)); do
  curl -s -o /dev/null --max-time 10 "http://127.0.0.1:$w2g/api/items/2" || die "gzip request $i failed"
  settle "$w2g"
done
curl -s "http://127.0.0.1:$gport/stats" > "$WORK/gz.json"
curl -s "http://127.0.0.1:$rport/summary" > "$WORK/sum2.json"
curl -s "http://127.0.0.1:$w2g/__metrics_debug" > "$WORK/gzdebug.json"
py "
import json
g=json.load(open('$WORK/gz.json')); s=json.load(open('$WORK/sum2.json')); d=json.load(open('$WORK/gzdebug.json'))
assert g=={'gzip':$mg,'plain':0,'bad':0}, g
assert s['pushes']==$before+$mg and s['duplicate_batch_ids']==0, s
assert d['delivered']==$mg and d['last_status']==200, d
" || die "gzip: front $(cat "$WORK/gz.json"), worker $(cat "$WORK/gzdebug.json")"
ok "gzip: $mg invocations -> $mg gzip bodies decompressed and decoded by the dev receiver, $mg delivered"
stop_worker "$w2g"

# ---- 3. receiver down
dead="$(free_port)" # nothing listens there
w3="$(free_port)"
start_worker "$w3" "http://127.0.0.1:$dead" otlp-proto --var EDGEMETRICS_MAX_ATTEMPTS:2 --var OTEL_EXPORTER_OTLP_TIMEOUT:3000
drive "http://127.0.0.1:$w3" "$WORK/down.txt"
cmp -s "$WORK/up.txt" "$WORK/down.txt" || { diff "$WORK/up.txt" "$WORK/down.txt" | head >&2; die "responses differ with the receiver down"; }
ok "receiver down: all 84 responses identical (status and body) to the run with a receiver"
settle "$w3"
curl -s "http://127.0.0.1:$w3/__metrics_debug" > "$WORK/dbg.json"
py "
import json
d=json.load(open('$WORK/dbg.json'))
f=d['failures']
assert d['delivered']==0, d
assert d['attempts']>=1 and f['exhausted']+f['deadline']+f['abandoned']>=1, d
assert d['last_outcome']=='failed' and d['last_error']!='', d
" || die "failure not counted: $(cat "$WORK/dbg.json")"
ok "receiver down: failures counted by the worker ($(py "import json; d=json.load(open('$WORK/dbg.json')); print('attempts', d['attempts'], 'failures', d['failures'], 'last_error', d['last_error'])"))"
echo "e2e: all $checks checks passed"
