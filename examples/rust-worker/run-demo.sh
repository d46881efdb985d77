#!/usr/bin/env bash
# The workers-rs demo: builds the example worker and the dev receiver, runs the worker in local
# workerd (wrangler dev), drives a few hundred requests and prints what the receiver decoded.
#   DEMO_REQUESTS=300 DEMO_CONCURRENCY=8 DEMO_FORMAT=compact|otlp-proto|otlp-json|remote-write|pushgateway
#   DEMO_ENDPOINT=https://... [DEMO_FORMAT=otlp-proto] [OTEL_EXPORTER_OTLP_HEADERS=...]: push there
#   instead of the local dev receiver (the worker in workerd can only reach what the machine can
#   reach). The worker reads OTEL_* / EDGEMETRICS_* vars (see edgemetrics::env).
source "$(dirname "$0")/lib.sh"
setup
requests="${DEMO_REQUESTS:-300}"
conc="${DEMO_CONCURRENCY:-8}"
wport="$(free_port)"
extra=()
if [ -n "${DEMO_ENDPOINT:-}" ]; then
  endpoint="$DEMO_ENDPOINT"; format="${DEMO_FORMAT:-otlp-proto}"; rport=""
  [ -n "${OTEL_EXPORTER_OTLP_HEADERS:-}" ] && extra+=(--var "OTEL_EXPORTER_OTLP_HEADERS:$OTEL_EXPORTER_OTLP_HEADERS")
  [ -n "${EDGEMETRICS_HEADERS:-}" ] && extra+=(--var "EDGEMETRICS_HEADERS:$EDGEMETRICS_HEADERS")
  echo "== pushing to $endpoint ($format)"
else
  rport="$(free_port)"; endpoint="http://127.0.0.1:$rport"; format="${DEMO_FORMAT:-compact}"
  start_receiver "$rport"
  echo "== dev receiver on $endpoint, format $format"
fi
start_worker "$wport" "$endpoint" "$format" "${extra[@]}"
echo "== worker on http://127.0.0.1:$wport; driving $requests requests, $conc in flight"
node "$EX/driver.mjs" "http://127.0.0.1:$wport" "$requests" "$conc" demo | python3 -m json.tool
# Deliveries run in waitUntil after each response: wait (bounded) until none is in flight.
for _ in $(seq 1 100); do
  curl -s "http://127.0.0.1:$wport/__metrics_debug" | grep -q '"in_flight":false' && break
  sleep 0.1
done
echo "== worker push counters (GET /__metrics_debug)"
curl -s "http://127.0.0.1:$wport/__metrics_debug" | python3 -m json.tool
if [ -n "$rport" ]; then
  echo "== dev receiver summary (GET /summary.txt)"
  curl -s "http://127.0.0.1:$rport/summary.txt"
fi
