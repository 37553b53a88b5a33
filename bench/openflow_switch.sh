#!/usr/bin/env bash
# bench/openflow_switch.sh: forwarding through an OpenFlow switch, uni's
# (of-switch-tap, release build) against Open vSwitch's userspace datapath
# (ovs-vswitchd, datapath_type=netdev), each on two TAP ports handed to two
# host namespaces, each with the same two flows (in_port=1 -> 2, 2 -> 1,
# installed with ovs-ofctl) and ARP flooded.
#   latency: `ping -f` h1 -> h2 for the run, its average round trip
#   rate: h1 sends UDP datagrams of 64-byte frames as fast as python can for
#         the run; frames/s is what h2's port received
# The switch's CPU (user + system ticks of the process) is divided by the
# frames it forwarded: CPU per frame, which a loaded machine disturbs less
# than rates. "Not read in time" counts the frames h1's TAP device dropped,
# its queue full because the switch was not scheduled soon enough (on a loaded
# machine the rate's limit). Runs alternate uni, OVS, uni, OVS.
#
# Writes RESULTS/openflow_switch.md. Usage: bench/openflow_switch.sh [--quick] [--duration S] [--out DIR] [--build DIR]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
out=$root/bench/results build=build/release quick=0 duration=""
read_flags "[--quick] [--duration S] [--out DIR] [--build DIR]" "quick" "duration out build" "$@"
[ -n "$duration" ] || duration=$((quick ? 3 : 8))
need_root openflow_switch
need_tools openflow_switch python3 ovs-vswitchd ovsdb-server ovs-vsctl ovs-ofctl
out=$(results_dir "$out")
cd "$root"
build_targets "$build" release of-switch-tap
build=$(cd "$build" && pwd)
work=$(mktemp -d)
tag=$$
SW=uni-bsw-$tag H1=uni-bh1-$tag H2=uni-bh2-$tag
cleanup() {
  for ns in "$SW" "$H1" "$H2"; do
    left=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -n "$left" ] && kill -KILL $left 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
for ns in "$SW" "$H1" "$H2"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n "$SW" tuntap add dev mgmt mode tap
ip -n "$SW" addr add 10.88.0.1/24 dev mgmt
ip -n "$SW" link set mgmt up

cat >"$work/blast.py" <<'PY'
import socket, sys, time
dst, seconds = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = bytes(18)  # 64-byte frames: 14 + 20 + 8 + 18 + FCS-less padding
end, n = time.monotonic() + seconds, 0
while time.monotonic() < end:
    for _ in range(256):
        try: s.sendto(payload, (dst, 9)); n += 1
        except BlockingIOError: pass
        except OSError: pass
print(n)
PY

# Hands the two ports (TAP devices the switch holds) to h1 and h2.
hand_out() {
  for i in 1 2; do
    h=$([ $i = 1 ] && echo "$H1" || echo "$H2")
    ip -n "$SW" link set "p$i" netns "$h"
    ip -n "$h" addr add "10.89.0.$i/24" dev "p$i"
    ip -n "$h" link set "p$i" up
  done
}
take_back() {
  ip -n "$H1" link del p1 2>/dev/null || true
  ip -n "$H2" link del p2 2>/dev/null || true
}
flows() {  # flows TARGET
  ip netns exec "$SW" ovs-ofctl -O OpenFlow13 del-flows "$1"
  ip netns exec "$SW" ovs-ofctl -O OpenFlow13 add-flow "$1" "priority=10,arp,actions=flood"
  ip netns exec "$SW" ovs-ofctl -O OpenFlow13 add-flow "$1" "priority=20,ip,in_port=1,actions=output:2"
  ip netns exec "$SW" ovs-ofctl -O OpenFlow13 add-flow "$1" "priority=20,ip,in_port=2,actions=output:1"
}
rx_packets() { ip netns exec "$H2" cat /sys/class/net/p2/statistics/rx_packets; }
# Frames h1 sent that the switch did not read in time: the TAP device's queue was full.
port_overflow() { ip netns exec "$H1" cat /sys/class/net/p1/statistics/tx_dropped; }

measure() {  # measure NAME PID: one run; prints a table row
  local name=$1 pid=$2 hz t0 t1 r0 r1 o0 o1 sent rtt
  hz=$(getconf CLK_TCK)
  ip netns exec "$H1" ping -c 3 -W 1 10.89.0.2 >/dev/null || { echo "| $name | (no connectivity) | | | | | |"; return; }
  rtt=$(ip netns exec "$H1" ping -f -w "$duration" 10.89.0.2 2>/dev/null | awk -F/ '/^rtt|^round-trip/ { print $5 }')
  r0=$(rx_packets)
  o0=$(port_overflow)
  t0=$(ticks "$pid")
  sent=$(ip netns exec "$H1" python3 "$work/blast.py" 10.89.0.2 "$duration")
  sleep 0.2
  t1=$(ticks "$pid")
  r1=$(rx_packets)
  o1=$(port_overflow)
  awk -v n="$name" -v rtt="$rtt" -v s="$sent" -v r=$((r1 - r0)) -v o=$((o1 - o0)) -v t=$((t1 - t0)) -v hz="$hz" -v d="$duration" 'BEGIN {
    printf "| %s | %.1f | %d | %d | %.0f | %.0f | %.2f |\n", n, rtt * 1000, s, o, r / d, r ? t / hz / r * 1e9 : 0, t / hz / d }'
}

run_uni() {
  for i in 1 2 3; do ip -n "$SW" tuntap add dev "p$i" mode tap; done
  ip netns exec "$SW" "$build/examples/of-switch-tap" --tap mgmt --ipv4 10.88.0.2/24 --listen 6634 \
    --tap p1 --ipv4 0.0.0.0/32 --tap p2 --ipv4 0.0.0.0/32 --tap p3 --ipv4 0.0.0.0/32 >"$work/uni.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do grep -q "listening for OpenFlow" "$work/uni.log" && break; sleep 0.1; done
  if ! grep -q "listening for OpenFlow" "$work/uni.log"; then
    echo "| uni of-switch | (did not start: $(tail -1 "$work/uni.log")) | | | | | |"
  else
    flows tcp:10.88.0.2:6634
    hand_out
    measure "uni of-switch" "$SERVER_PID"
  fi
  stop
  take_back
  ip -n "$SW" link del p3 2>/dev/null || true
}

run_ovs() {
  local dir=$work/ovs
  mkdir -p "$dir"
  in_sw() { ip netns exec "$SW" env OVS_RUNDIR="$dir" OVS_LOGDIR="$dir" OVS_DBDIR="$dir" OVS_SYSCONFDIR="$dir" "$@"; }
  ovsdb-tool create "$dir/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  in_sw ovsdb-server "$dir/conf.db" --remote="punix:$dir/db.sock" --pidfile="$dir/ovsdb.pid" --unixctl="$dir/ovsdb.ctl" \
    --log-file="$dir/ovsdb.log" --detach --no-chdir
  vsctl() { in_sw ovs-vsctl --db="unix:$dir/db.sock" --timeout=10 "$@"; }
  vsctl --no-wait init
  in_sw ovs-vswitchd "unix:$dir/db.sock" --unixctl="$dir/vswitchd.ctl" --pidfile="$dir/vswitchd.pid" \
    --log-file="$dir/vswitchd.log" --detach --no-chdir
  for i in 1 2; do ip -n "$SW" tuntap add dev "p$i" mode tap; done
  vsctl add-br br0 -- set bridge br0 datapath_type=netdev fail-mode=secure \
    -- add-port br0 p1 -- set interface p1 type=tap ofport_request=1 \
    -- add-port br0 p2 -- set interface p2 type=tap ofport_request=2 \
    -- set-controller br0 ptcp:6634:10.88.0.1
  sleep 1
  flows tcp:10.88.0.1:6634
  hand_out
  measure "Open vSwitch (userspace netdev)" "$(cat "$dir/vswitchd.pid")"
  kill -TERM "$(cat "$dir/vswitchd.pid")" "$(cat "$dir/ovsdb.pid")" 2>/dev/null || true
  sleep 0.5
  take_back
  rm -rf "$dir"
}

{
  echo "# OpenFlow switches forwarding between two TAP ports (bench/openflow_switch.sh, $(date -u +%F))"
  echo
  echo "Two host namespaces behind the switch, flows in_port 1 <-> 2 (ovs-ofctl), ${duration} s per run."
  echo "Load while measuring: $(uptime | sed 's/.*load/load/'). Rates on a loaded machine are noise; CPU per frame less so."
  echo
  echo "| switch | ping -f RTT (µs) | datagrams sent | not read in time | frames/s received | switch CPU ns/frame | switch cores busy |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  for round in 1 2; do
    run_uni
    run_ovs
  done
} | tee "$out/openflow_switch.md"
