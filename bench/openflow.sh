#!/usr/bin/env bash
# bench/openflow.sh: cbench's measurement (cbench itself is not packaged), the
# paper's Figure 11: 16 emulated OpenFlow 1.0 switches with 100 MAC addresses
# each send packet_ins to a MAC-learning controller, which answers with
# flow_mods and packet_outs (bench/openflow_cbench.cpp, C++, one thread).
#   throughput: every switch keeps its socket full of packet_ins (cbench -t)
#   latency:    one packet_in outstanding per switch (cbench's default mode)
# Controllers, one after the other, each on one core (taskset: the controller
# on CPU 1, the emulator on CPU 0), all speaking the same learning switch:
#   uni's of-controller over host sockets (release build), on loopback
#   uni's of-controller on its own stack behind a TAP device (in a namespace)
#   ovs-testcontroller (Open vSwitch's learning switch, C), on loopback
#   a learning switch on os-ken (bench/openflow_osken_switch.py), on loopback
# Each controller's CPU use (user + system ticks) is measured beside its rate:
# on a loaded machine responses per controller CPU-second compare better than
# rates. The last column is each rate over uni's (host sockets).
#
# Writes RESULTS/openflow.md. Usage: bench/openflow.sh [--quick] [--duration S] [--out DIR] [--build DIR]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
out=$root/bench/results build=build/release quick=0 duration=""
read_flags "[--quick] [--duration S] [--out DIR] [--build DIR]" "quick" "duration out build" "$@"
[ -n "$duration" ] || duration=$((quick ? 3 : 8))
warmup=3  # the handshakes and the learning phase (os-ken takes the longest)
need_root openflow
need_tools openflow taskset ovs-testcontroller osken-manager
out=$(results_dir "$out")
cd "$root"
build_targets "$build" release of-controller-socket of-controller-tap bench_openflow_cbench
build=$(cd "$build" && pwd)
work=$(mktemp -d)
NS=uni-ofc-$$
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
new_namespace "$NS"
add_tap "$NS" ctl0 10.87.0.1
hz=$(getconf CLK_TCK)
base_fm=""  # uni's (host sockets) flow_mod/s in the mode being measured

# run NAME MODE ADDR NETNS CMD...: starts the controller (CMD, its word PORT
# replaced by a port) on CPU 1, loads it from CPU 0 (in namespace NETNS if
# given), prints a table row.
run() {
  local name=$1 mode=$2 addr=$3 netns=$4 port=$((30000 + RANDOM % 10000))
  shift 4
  taskset -c 1 "${@//PORT/$port}" >"$work/$name.log" 2>&1 &
  SERVER_PID=$!
  local in=()
  [ -n "$netns" ] && in=(ip netns exec "$netns")
  for _ in $(seq 100); do
    "${in[@]}" bash -c "exec 3<>/dev/tcp/$addr/$port" 2>/dev/null && break
    sleep 0.1
  done
  local t0 t1 got
  t0=$(ticks "$SERVER_PID")
  got=$("${in[@]}" taskset -c 0 "$build/bench/bench_openflow_cbench" "$addr" "$port" --mode "$mode" \
    --seconds "$duration" --warmup "$warmup" || echo "0 0 0 0")
  t1=$(ticks "$SERVER_PID")
  stop
  SERVER_PID=""
  read -r fm po lat ready <<<"$got"
  [ -n "$base_fm" ] || base_fm=$fm
  awk -v n="$name" -v m="$mode" -v fm="$fm" -v po="$po" -v lat="$lat" -v k="$ready" -v t=$((t1 - t0)) -v hz="$hz" \
    -v d="$duration" -v w="$warmup" -v base="$base_fm" 'BEGIN {
      cpu = t / hz / (d + w)
      printf "| %s | %s | %d | %d | %d | %s | %.2f | %d | %.2f |\n", n, m, k, fm, po,
        (m == "latency" ? sprintf("%.0f", lat) : "-"), cpu, (cpu > 0 ? (fm + po) / cpu : 0),
        (base > 0 ? fm / base : 0) }'
}

{
  echo "# OpenFlow controllers, cbench's measurement (bench/openflow.sh, $(date -u +%F))"
  echo
  echo "16 switches x 100 MACs, OpenFlow 1.0, ${duration} s per run after ${warmup} s of warm-up; the controller on CPU 1, the emulator (bench/openflow_cbench.cpp) on CPU 0."
  echo "Load while measuring: $(uptime | sed 's/.*load/load/'). CPU: the controller's cores busy over the run; responses (flow_mod + packet_out) per controller CPU-second compare the controllers on a loaded machine."
  echo
  echo "| controller | mode | switches | flow_mod/s | packet_out/s | mean latency (µs) | controller CPU | responses per CPU-second | flow_mod/s over uni's |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  for mode in throughput latency; do
    base_fm=""
    run "uni (host sockets)" "$mode" 127.0.0.1 "" "$build/examples/of-controller-socket" --log warn --openflow 1.0 --port PORT
    run "uni (TAP)" "$mode" 10.87.0.2 "$NS" ip netns exec "$NS" "$build/examples/of-controller-tap" --log warn \
      --tap ctl0 --ipv4 10.87.0.2/24 --openflow 1.0 --port PORT
    run ovs-testcontroller "$mode" 127.0.0.1 "" ovs-testcontroller -O OpenFlow10 --unixctl="$work/testcontroller.ctl" \
      ptcp:PORT:127.0.0.1
    run "os-ken learning switch" "$mode" 127.0.0.1 "" osken-manager --ofp-listen-host 127.0.0.1 \
      --ofp-tcp-listen-port PORT "$root/bench/openflow_osken_switch.py"
  done
} | tee "$out/openflow.md"
