#!/usr/bin/env bash
# The host-loop contract (src/push/host.rs) checked on the workers-rs host, in local workerd: the
# counterpart of the JS package's "20 flushes against a receiver answering after 10 s" test
# (js/test/hardening.test.mjs, test 3). Real workerd (wrangler dev) running the example worker;
# the receiver is slow_receiver.py (a receiver that stalls on demand is a fault no real one
# produces). Fails (never skips) when something is missing; exit 0 only when every check held.
#
# 20 invocations, 100 ms apart, with a delivery budget of 1500 ms, against a receiver that answers
# after 10 s:
#   1. no response waits for the receiver (each invocation answers in under 1 s; a warm-up request
#      first, so that the worker's cold start is not counted);
#   2. concurrent flushes coalesce: 20 flushes -> 1 delivery task, at most 4 requests, at least 10
#      flushes counted as coalesced, none found stale;
#   3. every request the worker sent was aborted by the worker itself within the budget of its
#      start (the receiver saw the connection close before its 10 s answer);
#   4. the delivery work ends within one budget of the last invocation, as each JS flush promise
#      settles within timeoutMs of its flush() (the follow-up is sent by the latest flush, from its
#      own wait_until, within what is left of its budget: the receiver sees the last request closed
#      by then; the worker's debug endpoint reports no delivery in flight within four budgets), and
#      its failure is counted, not lost (last outcome "failed", error "timeout", a deadline or
#      exhausted failure counted).
source "$(dirname "$0")/lib.sh"
BUDGET=1500
N=20
checks=0
ok() { checks=$((checks + 1)); echo "ok $checks - $*"; }
py() { python3 -c "$@"; }
now_ms() { python3 -c 'import time; print(int(time.time()*1000))'; }

command -v curl >/dev/null || die "curl is required"
command -v python3 >/dev/null || die "python3 is required"
[ -x "$WRANGLER" ] || die "npm packages missing in $EX: bash tests/setup.sh"
"$EX/build.sh" || die "worker build failed"

rport="$(free_port)"
start_bg slow-receiver python3 "$EX/slow_receiver.py" "$rport" 10
wait_http "http://127.0.0.1:$rport/-/ready" 20 || die "slow receiver did not start"
w="$(free_port)"
start_worker "$w" "http://127.0.0.1:$rport" otlp-proto --var "OTEL_EXPORTER_OTLP_TIMEOUT:$BUDGET"
curl -s -o /dev/null --max-time 20 "http://127.0.0.1:$w/" || die "warm-up request failed"
# The warm-up's own delivery (1 task, 1 request) must be over before the measured run.
for ((t = 0; t < 4 * BUDGET / 50; t++)); do
  curl -s "http://127.0.0.1:$w/__metrics_debug" | grep -q '"in_flight":false' && break
  sleep 0.05
done
curl -s "http://127.0.0.1:$w/__metrics_debug" > "$WORK/dbg0.json"
curl -s "http://127.0.0.1:$rport/summary" > "$WORK/rx0.json"
# Counters of the measured run: the worker's and the receiver's, minus the warm-up's.
DELTA="
import json
d0=json.load(open('$WORK/dbg0.json')); d=json.load(open('$WORK/dbg.json'))
d={k: (v-d0[k] if isinstance(v,int) and not isinstance(v,bool) and k in d0 else v) for k,v in d.items()}
d['failures']={k: v-d0['failures'][k] for k,v in d['failures'].items()}
rx=json.load(open('$WORK/rx.json'))['requests'][len(json.load(open('$WORK/rx0.json'))['requests']):]
"

# Invocations start 100 ms apart whatever their own duration (as the JS test's flushes do), so
# that they overlap the deliveries in flight.
pids=()
for ((i = 1; i <= N; i++)); do
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 10 "http://127.0.0.1:$w/api/items/1" > "$WORK/inv-$i" &
  pids+=("$!")
  sleep 0.1
done
for p in "${pids[@]}"; do wait "$p" || die "an invocation failed (curl exit status)"; done
last="$(now_ms)"
worst=0
times=()
for ((i = 1; i <= N; i++)); do
  read -r code secs < "$WORK/inv-$i"
  [ "$code" = 200 ] || die "invocation $i answered $code"
  ms="$(py "print(int(float('$secs') * 1000))")"
  times+=("$ms")
  [ "$ms" -gt "$worst" ] && worst="$ms"
done
echo "invocation times (ms): ${times[*]}"
[ "$worst" -lt 1000 ] || die "slowest invocation took $worst ms: a response waited for the receiver"
ok "$N invocations answered while the receiver stalls (slowest $worst ms)"

# Idle (no delivery in flight), polled for at most 4 budgets.
idle=""
for ((t = 0; t < 4 * BUDGET / 50; t++)); do
  if curl -s "http://127.0.0.1:$w/__metrics_debug" | grep -q '"in_flight":false'; then idle="$(now_ms)"; break; fi
  sleep 0.05
done
[ -n "$idle" ] || die "delivery still in flight $((4 * BUDGET)) ms after the last invocation"
curl -s "http://127.0.0.1:$w/__metrics_debug" > "$WORK/dbg.json"
curl -s "http://127.0.0.1:$rport/summary" > "$WORK/rx.json"
echo "worker: $(cat "$WORK/dbg.json")"
echo "receiver: $(cat "$WORK/rx.json")"

py "$DELTA
assert d['flushes']==$N, d
assert d['tasks']==1, ('one delivery task for all flushes', d)
assert d['coalesced']>=10, d
assert d['stale_flights']==0, d
assert d['tasks']+d['follow_ups']==len(rx), ('one request per batch (no retry fits the budget)', d, rx)
assert 1<=len(rx)<=4, ('requests', len(rx))
" || die "coalescing: $(cat "$WORK/dbg.json")"
ok "coalesced: $N flushes -> $(py "$DELTA
print(d['tasks'], 'task,', d['follow_ups'], 'follow-ups,', d['coalesced'], 'coalesced,', len(rx), 'requests')"), 0 stale"

py "$DELTA
for r in rx:
    c=r['closed_after_ms']
    assert c is not None, ('the receiver answered: the worker waited 10 s', r)
    assert c <= $BUDGET + 300, ('aborted after', c)
" || die "requests not aborted within the budget: $(cat "$WORK/rx.json")"
ok "each request aborted by the worker within the budget ($(py "$DELTA
print(' '.join(str(r['closed_after_ms']) for r in rx))") ms; budget $BUDGET)"

# The end of the delivery work as the receiver saw it: the last request closed by the worker.
span="$(py "$DELTA
print(max(r['at_ms'] + r['closed_after_ms'] for r in rx) - $last)")"
echo "last invocation done at $last; pushes at (ms after it): $(py "$DELTA
print(' '.join(str(r['at_ms'] - $last) for r in rx))"); last request closed at +$span ms; worker idle (debug endpoint) at +$((idle - last)) ms"
[ "$span" -le $((BUDGET + 400)) ] || die "delivery ended $span ms after the last invocation (> the budget): $(cat "$WORK/dbg.json") $(cat "$WORK/rx.json")"
py "$DELTA
assert d['delivered']==0 and d['last_outcome']=='failed' and d['last_error']=='timeout', d
f=d['failures']; assert f['deadline']+f['exhausted']>=1, d
" || die "failure not reported: $(cat "$WORK/dbg.json")"
ok "delivery work ended $span ms after the last invocation (<= the budget), failure counted (timeout, then deadline or exhausted)"
stop_worker "$w"
echo "host contract (workers-rs): all $checks checks passed"
