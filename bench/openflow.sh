#!/usr/bin/env bash
# bench/openflow.sh: cbench's measurement (cbench itself is not packaged), the
# paper's Figure 11: 16 emulated OpenFlow 1.0 switches with 100 MAC addresses
# each send packet_ins to a MAC-learning controller, which answers with
# flow_mods and packet_outs; the responses per second are counted.
#   batch mode: every switch keeps its socket full of packet_ins (cbench's throughput)
#   single mode: one packet_in outstanding per switch (cbench -l, latency bound)
# Controllers, one after the other on loopback: uni's of-controller over host
# sockets (release build) and ovs-testcontroller (Open vSwitch's learning
# switch). The emulator is python (asyncio, one core): on two cores it can be
# the limit, so each controller's CPU use is measured and responses per
# controller CPU-second are reported beside responses per second.
#
# Writes RESULTS/openflow.md. Usage: bench/openflow.sh [--quick] [--duration S] [--out DIR] [--build DIR]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
out=$root/bench/results build=build/release quick=0 duration=""
read_flags "[--quick] [--duration S] [--out DIR] [--build DIR]" "quick" "duration out build" "$@"
[ -n "$duration" ] || duration=$((quick ? 3 : 8))
need_tools openflow python3 ovs-testcontroller
out=$(results_dir "$out")
cd "$root"
build_targets "$build" release of-controller-socket
build=$(cd "$build" && pwd)
work=$(mktemp -d)
SERVER_PID=""
trap '[ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null; rm -rf "$work"' EXIT

cat >"$work/cbench.py" <<'PY'
import asyncio, struct, sys, time
port, mode, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
SWITCHES, MACS = 16, 100
def msg(t, xid, body=b""): return struct.pack("!BBHI", 1, t, 8 + len(body), xid) + body
counts = {"flow_mod": 0, "packet_out": 0}
counting = False
async def switch(n):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(msg(0, 0))
    macs = [bytes([0, 0, 0, n, i >> 8, i & 255]) for i in range(MACS)]
    # Each packet_in: a 60-byte IPv4 frame from one of the switch's MACs to another, port by MAC.
    pins = []
    for i in range(MACS):
        src, dst = macs[i], macs[(i + 1) % MACS]
        frame = dst + src + b"\x08\x00" + bytes(46)
        pins.append(msg(10, 0, struct.pack("!IHHBx", 0xffffffff, len(frame), 1 + i % 16, 0) + frame))
    # Before measuring, every MAC is seen once (as cbench's learning phase).
    learn = b"".join(msg(10, 0, struct.pack("!IHHBx", 0xffffffff, 60, 1 + i % 16, 0) + macs[i] * 2 + b"\x08\x00" + bytes(46)) for i in range(MACS))
    ready = asyncio.Event()
    outstanding = [0]
    async def reader():
        global counting
        buf = b""
        while True:
            d = await r.read(65536)
            if not d: return
            buf += d
            while len(buf) >= 8:
                t, ln = buf[1], struct.unpack("!H", buf[2:4])[0]
                if len(buf) < ln: break
                m, buf = buf[:ln], buf[ln:]
                if t == 5:  # features request
                    xid = m[4:8]
                    w.write(struct.pack("!BBHI", 1, 6, 32, struct.unpack("!I", xid)[0]) + struct.pack("!QIB3xII", n + 1, 256, 1, 0xc7, 0xfff))
                    w.write(learn)
                    ready.set()
                elif t == 2: w.write(bytes([1, 3]) + m[2:])
                elif t == 16:  # stats request: an empty description reply
                    w.write(struct.pack("!BBHI", 1, 17, 12 + 1056, struct.unpack("!I", m[4:8])[0]) + struct.pack("!HH", 0, 0) + bytes(1056))
                elif t == 7:
                    w.write(struct.pack("!BBHI", 1, 8, 12, struct.unpack("!I", m[4:8])[0]) + struct.pack("!HH", 0, 128))
                elif t == 18: w.write(struct.pack("!BBHI", 1, 19, 8, struct.unpack("!I", m[4:8])[0]))
                elif t in (13, 14):
                    if counting: counts["flow_mod" if t == 14 else "packet_out"] += 1
                    if t == 13: outstanding[0] -= 1
    rt = asyncio.ensure_future(reader())
    await ready.wait()
    await asyncio.sleep(0.5)
    i = 0
    while True:
        if mode == "batch":
            w.write(b"".join(pins[(i + k) % MACS] for k in range(50)))
            i += 50
            await w.drain()
            await asyncio.sleep(0)
        else:
            outstanding[0] += 1
            w.write(pins[i % MACS]); i += 1
            while outstanding[0] > 0 and not rt.done(): await asyncio.sleep(0)
        if rt.done(): return
async def main():
    global counting
    tasks = [asyncio.ensure_future(switch(n)) for n in range(SWITCHES)]
    await asyncio.sleep(1.5)
    counting = True
    start = time.time()
    await asyncio.sleep(seconds)
    counting = False
    el = time.time() - start
    print(f"{counts['flow_mod'] / el:.0f} {counts['packet_out'] / el:.0f}")
    for t in tasks: t.cancel()
asyncio.run(main())
PY

run() {  # run NAME MODE CMD...: one controller, one mode; prints a table row
  local name=$1 mode=$2 port=$((30000 + RANDOM % 10000))
  shift 2
  "$@" "$port" >"$work/$name.log" 2>&1 &
  SERVER_PID=$!
  sleep 0.5
  local t0 t1 hz rates
  t0=$(ticks "$SERVER_PID")
  rates=$(timeout $((duration + 20)) python3 "$work/cbench.py" "$port" "$mode" "$duration")
  t1=$(ticks "$SERVER_PID")
  stop
  SERVER_PID=""
  hz=$(getconf CLK_TCK)
  read -r fm po <<<"$rates"
  local cpu
  cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v d="$duration" 'BEGIN { printf "%.2f", (b - a) / hz / (d + 2) }')
  awk -v n="$name" -v m="$mode" -v fm="$fm" -v po="$po" -v cpu="$cpu" \
    'BEGIN { r = fm + po; printf "| %s | %s | %d | %d | %.2f | %d |\n", n, m, fm, po, cpu, (cpu > 0 ? r / cpu : 0) }'
}
uni_ctl() { "$build/examples/of-controller-socket" --openflow 1.0 --port "$1"; }
ovs_ctl() { ovs-testcontroller -O OpenFlow10 --unixctl="$work/testcontroller.ctl" "ptcp:$1:127.0.0.1"; }

{
  echo "# OpenFlow controllers, cbench's measurement (bench/openflow.sh, $(date -u +%F))"
  echo
  echo "16 switches x 100 MACs, OpenFlow 1.0, loopback, ${duration} s per run; python emulator."
  echo "CPU: the controller's cores busy over the run (user + system); responses per CPU-second compare the controllers when the emulator is the limit."
  echo
  echo "| controller | mode | flow_mod/s | packet_out/s | controller CPU | responses per CPU-second |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for mode in batch single; do
    run uni "$mode" uni_ctl
    run ovs-testcontroller "$mode" ovs_ctl
  done
} | tee "$out/openflow.md"
