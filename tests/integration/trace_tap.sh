#!/usr/bin/env bash
# --trace FILE on a traced appliance (dns-traced-tap) against Linux: queries over UDP
# and TCP (dig), then SIGUSR1 writes the trace while it runs and SIGTERM at exit.
# Both files are Chrome trace-event JSON with the trace-event format's fields
# (tests/scripts/trace_json.py), holding the DNS query spans (UDP and TCP), the frames and the
# TCP connection dig opened; an untraced dns-tap refuses the flag.
#   trace_tap.sh DNS_TRACED_TAP DNS_TAP TRACE_JSON_PY
set -euo pipefail
app=$1 untraced=$2 check=$3
. "$(dirname "$0")/netns.sh"
netns_setup 97
out=$(mktemp -d)
trap 'netns_cleanup; rm -rf "$out"' EXIT

status=0
"$untraced" --trace "$out/no.json" >/dev/null 2>"$out/refused" || status=$?
[[ $status -eq 2 ]] && grep -q "built without tracing" "$out/refused" || fail "dns-tap took --trace (status $status)"

start_app "$app" --tap tap0 --ipv4 "$APP_IP/24" --trace "$out/trace.json"
for i in 1 2 3; do
  in_ns dig +short +tries=1 +time=2 "@$APP_IP" www.example.com A >/dev/null || fail "no answer over UDP"
done
in_ns dig +short +tcp +tries=1 +time=2 "@$APP_IP" www.example.com A >/dev/null || fail "no answer over TCP"

kill -USR1 "$APP_PID"
for _ in $(seq 100); do [[ -s $out/trace.json ]] && break; sleep 0.05; done
python3 "$check" "$out/trace.json" || fail "the trace written on SIGUSR1"
stop_app
python3 "$check" "$out/trace.json" || fail "the trace written at exit"
python3 - "$out/trace.json" <<'PY'
import json, sys
events = json.load(open(sys.argv[1]))["traceEvents"]
names = {e["name"] for e in events}
spans = sum(1 for e in events if e["name"] == "dns query" and e["ph"] == "b")
tcp = [e["ph"] for e in events if e["name"] == "dns tcp query"]
for need in ("rx", "tx", "run", "segment in", "segment out", "state"):
    if need not in names:
        sys.exit(f"FAIL: no '{need}' event in the trace")
if spans != 3:  # a span per query over UDP
    sys.exit(f"FAIL: {spans} 'dns query' spans, expected the 3 queries over UDP")
if tcp != ["b", "e"]:  # and the one over TCP, until its answer was written
    sys.exit(f"FAIL: the query over TCP gave {tcp}, not one span begun and ended")
print(f"PASS: {len(events)} events: {spans} DNS query spans over UDP, 1 over TCP, frames, tasks and the TCP connection")
PY
