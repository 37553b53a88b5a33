#!/usr/bin/env bash
# tests/xen/trace_dom0.sh IMAGE: tier 3 for tracing on Xen. The traced DNS
# appliance (IMAGE: dns-traced-xen) boots as a domU of the real Xen under QEMU
# (tests/xen/dom0.sh's dns check: ping, then busybox nslookup over netfront,
# then xl shutdown); as it ends it dumps its trace over its PV console
# (uni/trace/console_dump.hpp), which xenconsoled logs. scripts/trace-from-console
# turns that log into Chrome trace-event JSON, which must have the format's fields
# (tests/scripts/trace_json.py) and hold the appliance's tasks, its frames both
# ways and a span per DNS query nslookup asked. Logs are kept in trace-dom0/.
set -uo pipefail
image=$1
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p trace-dom0 && cd trace-dom0 || exit 1
# The appliance calls itself dns: dom0.sh looks for "dns: exit status 0".
bash "$here/dom0.sh" "$image" dns ping 10.0.0.2 dns
status=$?
((status == 0)) || exit $status  # 77 (skipped) too
python3 "$here/../../scripts/trace-from-console" dns-dom0.domu.log trace.json || { echo "FAIL: no trace in the domU's console"; exit 1; }
python3 "$here/../scripts/trace_json.py" trace.json || exit 1
python3 - trace.json <<'PY'
import json, sys
trace = json.load(open(sys.argv[1]))
events = trace["traceEvents"]
names = {e["name"] for e in events}
missing = [n for n in ("spawn", "run", "rx", "tx", "timer armed") if n not in names]
if missing:
    sys.exit(f"FAIL: no {missing} events in the trace from Xen")
queries = sum(1 for e in events if e["name"] == "dns query" and e["ph"] == "b")
if queries < 2:  # nslookup asked for www's A and example.com's MX, at least
    sys.exit(f"FAIL: {queries} 'dns query' spans in the trace from Xen, expected at least 2")
ts = [e["ts"] for e in events if "ts" in e]
if ts != sorted(ts):
    sys.exit("FAIL: the trace's times go back")
print(f"PASS: the domU's console gave a trace of {len(events)} events ({trace['otherData']['dropped']} dropped): "
      f"{queries} DNS query spans, tasks, timers and frames")
PY
