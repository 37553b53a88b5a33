#!/usr/bin/env python3
"""Checks a uni trace written as Chrome trace-event JSON (uni/trace/chrome_json.hpp).

  trace_json.py TRACE.json [EXPECT.json]

The file parses with Python's json; it is the JSON Object Format, and every event has
the fields the trace-event format requires for its phase (name, ph, ts, pid, tid; an
id for flow and async events; args for counters and metadata); each task's slices
("B"/"E") nest; every flow ends where it starts. With EXPECT (what the stack's
counters said, from tests/trace/trace_test.cpp), the counts of frames and
retransmissions in the trace are those. Exits 1 with the reasons on failure.
"""
import json
import sys
from collections import Counter, defaultdict

PHASES = set("BEXiICbnestfMPOND")


def check(trace, expect):
    problems = []
    if not isinstance(trace, dict) or not isinstance(trace.get("traceEvents"), list):
        return ["not the JSON Object Format: no traceEvents list"]
    events = trace["traceEvents"]
    depth = defaultdict(int)
    flows = Counter()
    for n, e in enumerate(events):
        where = f"event {n} {e!r:.120}"
        for field in ("name", "ph", "pid", "tid"):
            if field not in e:
                problems.append(f"{where}: no '{field}'")
        ph = e.get("ph")
        if ph not in PHASES:
            problems.append(f"{where}: unknown phase {ph!r}")
            continue
        if ph != "M" and not isinstance(e.get("ts"), (int, float)):
            problems.append(f"{where}: no numeric 'ts'")
        if ph in "bnestf" and "id" not in e:
            problems.append(f"{where}: a '{ph}' event without an id")
        if ph in "CM" and not isinstance(e.get("args"), dict):
            problems.append(f"{where}: a '{ph}' event without args")
        if ph == "i" and e.get("s", "t") not in ("g", "p", "t"):
            problems.append(f"{where}: bad instant scope")
        if ph == "B":
            depth[e.get("tid")] += 1
        elif ph == "E":
            depth[e.get("tid")] -= 1
            if depth[e.get("tid")] < 0:
                problems.append(f"{where}: 'E' without its 'B'")
                depth[e.get("tid")] = 0
        elif ph == "s":
            flows[e["id"]] += 1
        elif ph == "f":
            flows[e["id"]] -= 1
    problems += [f"flow {i} starts {c:+d} more often than it ends" for i, c in flows.items() if c]
    if expect:
        named = Counter((e.get("name"), e.get("tid")) for e in events)
        device = {1: "a", 2: "b"}
        for d, side in device.items():
            tid = 0x1000000 | d
            for what in ("tx", "rx"):
                got, want = named[(what, tid)], expect[f"{side}_{what}"]
                if got != want:
                    problems.append(f"device {side}: {got} '{what}' events, the stack counted {want}")
        retransmits = sum(1 for e in events if e.get("name") == "retransmit" and (e["tid"] >> 16) & 0x3FFF == 1)
        if retransmits != expect["retransmit_events_a"]:
            problems.append(f"{retransmits} retransmit events from a, {expect['retransmit_events_a']} recorded")
        spawns = sum(1 for e in events if e.get("name") == "spawn")
        if spawns != expect["tasks"]:
            problems.append(f"{spawns} tasks spawned in the JSON, {expect['tasks']} in the ring")
        ends = sum(1 for e in events if e.get("name") in ("finished", "cancelled"))
        if ends != spawns:
            problems.append(f"{spawns} tasks spawned but {ends} finished or cancelled")
    return problems


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        trace = json.load(f)
    expect = None
    if len(sys.argv) == 3:
        with open(sys.argv[2]) as f:
            expect = json.load(f)
    problems = check(trace, expect)
    for p in problems[:30]:
        print("FAIL:", p)
    if problems:
        sys.exit(1)
    print(f"PASS: {len(trace['traceEvents'])} events, the trace-event format's fields all there"
          + (", counts as the stack's counters" if expect else ""))


if __name__ == "__main__":
    main()
