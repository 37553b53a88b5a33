#!/usr/bin/env bash
# The trace tests (tests/trace/trace_test.cpp), then what they wrote: the traced
# transfer's Chrome JSON checked by trace_json.py against the stack's counters, and
# its console dump (the Xen target's form) turned back into JSON by
# scripts/trace-from-console, which must be the same trace.
#   trace_test.sh UNI_TRACE_TESTS  (in a scratch directory: it writes trace_test.*)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$1" --warn NoTests
python3 "$here/trace_json.py" trace_test.json trace_test.expect.json
python3 "$here/../../scripts/trace-from-console" trace_test.console trace_test.from_console.json
python3 - <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in ("trace_test.json", "trace_test.from_console.json"))
if a != b:
    sys.exit("FAIL: the console dump is not the same trace as the JSON")
print(f"PASS: the console dump gives back the same {len(a['traceEvents'])} events")
PY
