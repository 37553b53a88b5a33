#!/usr/bin/env bash
# bench/openflow_switch.sh: forwarding through an OpenFlow switch, uni's
# (of-switch-tap, release build) against Open vSwitch's userspace datapath
# (ovs-vswitchd, datapath_type=netdev), each on two TAP ports handed to two
# host namespaces, each with the same flows (in_port=1 -> 2, 2 -> 1, ARP
# flooded; installed with ovs-ofctl). The switch under test is pinned to core 0,
# the load to core 1 (taskset), the same for both.
#   load      bench_openflow_frames (openflow_frames.cpp): numbered UDP frames
#             of 64 and 1518 bytes on the wire (60 and 1514 without the FCS) sent into h1's port by sendmmsg and counted
#             coming out of h2's by recvmmsg, so each run knows what was lost
#   no-loss   the offered rate is stepped up; the highest delivered with <1%
#             loss is the switch's no-loss rate
#   max       frames offered as fast as the generator can: what came out, and
#             the switch's CPU (user + system ticks) per frame delivered
#   latency   ping h1 -> h2 at 200/s: round trip p50 and p99; and the
#             generator's one-way p50/p99 at 2,000 frames/s
# Runs alternate uni, OVS, uni, OVS; `uptime` goes with every row.
#
# Writes RESULTS/openflow_switch.md. Usage: bench/openflow_switch.sh [--quick] [--rounds N] [--out DIR] [--build DIR]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
out=$root/bench/results build=build/release quick=0 rounds=""
read_flags "[--quick] [--rounds N] [--out DIR] [--build DIR]" "quick" "rounds out build" "$@"
[ -n "$rounds" ] || rounds=2
need_tools openflow_switch taskset ping ovs-vswitchd ovsdb-server ovs-vsctl ovs-ofctl
out=$(results_dir "$out")
cd "$root"
build_targets "$build" release of-switch-tap bench_openflow_frames
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
for ns in "$SW" "$H1" "$H2"; do ip netns add "$ns"; ip -n "$ns" link set lo up; ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done
ip -n "$SW" tuntap add dev mgmt mode tap
ip -n "$SW" addr add 10.88.0.1/24 dev mgmt
ip -n "$SW" link set mgmt up

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
gen() {  # gen SIZE RATE SECONDS: sent delivered loss% offered/s delivered/s p50 p99
  taskset -c 1 "$build/bench/bench_openflow_frames" --from "$H1:p1" --to "$H2:p2" --dst-mac "$DST_MAC" \
    --size "$1" --rate "$2" --seconds "$3"
}
if ((quick)); then rates=(50000 100000 200000 400000) step=0.5 max_secs=1
else rates=(25000 50000 75000 100000 150000 200000 300000 400000 600000) step=1 max_secs=3; fi

measure() {  # measure NAME PID ROUND: one run; prints a table row
  local name=$1 pid=$2 round=$3 hz size rtt oneway row best r out t0 t1
  hz=$(getconf CLK_TCK)
  taskset -a -p -c 0 "$pid" >/dev/null
  ip netns exec "$H1" ping -c 3 -W 1 10.89.0.2 >/dev/null || { echo "| $round | $name | (no connectivity) | | | | | | | | |"; return; }
  DST_MAC=$(ip netns exec "$H2" cat /sys/class/net/p2/address)
  rtt=$(ip netns exec "$H1" taskset -c 1 ping -n -i 0.005 -c $((quick ? 200 : 600)) 10.89.0.2 2>/dev/null |
    sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | sort -g | awk '{ v[NR] = $1 * 1000 } END { printf "%.0f / %.0f", v[int(NR * 0.5)], v[int(NR * 0.99)] }')
  oneway=$(gen 60 2000 1 | awk '{ printf "%.0f / %.0f", $6, $7 }')
  row="| $round | $name | $rtt | $oneway"
  for size in 60 1514; do
    best=0
    for r in "${rates[@]}"; do
      out=$(gen "$size" "$r" "$step")
      awk -v l="$(echo "$out" | cut -d' ' -f3)" 'BEGIN { exit !(l < 1) }' || break
      best=$(echo "$out" | awk '{ printf "%.0f", $5 }')
    done
    t0=$(ticks "$pid")
    out=$(gen "$size" 0 "$max_secs")
    t1=$(ticks "$pid")
    row+=$(echo "$out" | awk -v best="$best" -v t=$((t1 - t0)) -v hz="$hz" '{
      printf " | %s | %.0f (%.0f%% lost) | %.0f", best, $5, $3, $2 ? t / hz / $2 * 1e9 : 0 }')
  done
  echo "$row | $(uptime | sed 's/.*load average: //') |"
}

run_uni() {
  for i in 1 2 3; do ip -n "$SW" tuntap add dev "p$i" mode tap; done
  ip netns exec "$SW" taskset -c 0 "$build/examples/of-switch-tap" --tap mgmt --ipv4 10.88.0.2/24 --listen 6634 \
    --tap p1 --ipv4 0.0.0.0/32 --tap p2 --ipv4 0.0.0.0/32 --tap p3 --ipv4 0.0.0.0/32 >"$work/uni.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do grep -q "listening for OpenFlow" "$work/uni.log" && break; sleep 0.1; done
  if ! grep -q "listening for OpenFlow" "$work/uni.log"; then
    echo "| uni of-switch | (did not start: $(tail -1 "$work/uni.log")) | | | | | |"
  else
    flows tcp:10.88.0.2:6634
    hand_out
    measure "uni of-switch" "$SERVER_PID" "$round"
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
  in_sw taskset -c 0 ovs-vswitchd "unix:$dir/db.sock" --unixctl="$dir/vswitchd.ctl" --pidfile="$dir/vswitchd.pid" \
    --log-file="$dir/vswitchd.log" --detach --no-chdir
  for i in 1 2; do ip -n "$SW" tuntap add dev "p$i" mode tap; done
  vsctl add-br br0 -- set bridge br0 datapath_type=netdev fail-mode=secure \
    -- add-port br0 p1 -- set interface p1 type=tap ofport_request=1 \
    -- add-port br0 p2 -- set interface p2 type=tap ofport_request=2 \
    -- set-controller br0 ptcp:6634:10.88.0.1
  sleep 1
  flows tcp:10.88.0.1:6634
  hand_out
  measure "OVS userspace" "$(cat "$dir/vswitchd.pid")" "$round"
  kill -TERM "$(cat "$dir/vswitchd.pid")" "$(cat "$dir/ovsdb.pid")" 2>/dev/null || true
  sleep 0.5
  take_back
  rm -rf "$dir"
}

{
  echo "# OpenFlow switches forwarding between two TAP ports (bench/openflow_switch.sh, $(date -u +%F))"
  echo
  echo "Two host namespaces behind the switch, flows in_port 1 <-> 2 (ovs-ofctl); switch on core 0, load on core 1."
  echo "No-loss: the highest offered rate (steps of ${rates[*]}/s, ${step} s each) delivered with <1% loss."
  echo "Max: offered as fast as the generator can for ${max_secs} s; CPU: the switch's, per frame delivered."
  echo
  echo "| round | switch | ping RTT p50 / p99 (µs) | one-way p50 / p99 (µs) | 64 B no-loss fps | 64 B max: delivered fps | 64 B CPU ns/frame | 1518 B no-loss fps | 1518 B max: delivered fps | 1518 B CPU ns/frame | load (1/5/15 min) |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  for round in $(seq "$rounds"); do
    run_uni
    run_ovs
  done
} | tee "$out/openflow_switch.md"
