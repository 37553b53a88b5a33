#!/usr/bin/env bash
# uni's OpenFlow switch (of-switch on TAP) judged by Open vSwitch's tools. The
# switch runs in a namespace with four TAP devices: its management interface
# (10.78.<n>.2, Linux at .1) and three ports, each moved, once the switch holds
# it, into a host namespace of its own (10.79.<n>.1-3).
#   1. ovs-testcontroller (Open vSwitch's learning switch) drives it, once with
#      OpenFlow10 and once with OpenFlow13: the hosts ping each other and h1
#      sends h3 a megabyte over TCP, compared byte for byte.
#   2. With no controller (fail-secure), ovs-ofctl drives it through its
#      passive listener (ptcp:6634), in both versions: no flow, no ping; the
#      flows add-flow installs carry the pings, and dump-flows counts exactly
#      the packets sent; del-flows stops them again. dump-ports, dump-tables,
#      dump-aggregate and show are answered.
#      The switch's own stack is on the LOCAL port (--local .9): listed by
#      show, reached by no ping until add-flow in_port=1,actions=LOCAL and
#      in_port=LOCAL,actions=1, then h1 pings it and both flows and LOCAL's
#      port counters count the frames.
#   3. Every message the switch sent on the way decodes with `ovs-ofctl
#      ofp-print`, and with tshark's OpenFlow dissector where tshark is installed.
# Skips (77) without root or Open vSwitch's tools.
#   openflow_switch.sh PATH_TO_of-switch-tap
set -euo pipefail
app=$1
source "$(dirname "$0")/../integration/netns.sh"  # skip, end_namespace
fail() { echo "FAIL: $*"; exit 1; }
[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces)"
for t in ovs-testcontroller ovs-ofctl tcpdump python3; do
  command -v "$t" >/dev/null || skip "$t missing (scripts/setup.sh installs openvswitch-switch, openvswitch-testcontroller)"
done

tag=$$-$RANDOM
n=$((RANDOM % 200 + 20))
SW=uni-ofs-sw-$tag
hosts=(uni-ofs-h1-$tag uni-ofs-h2-$tag uni-ofs-h3-$tag)
dir=$(mktemp -d)
ctl_port=$((20000 + RANDOM % 10000))
of_port=$((30000 + RANDOM % 2000))
mgmt=10.78.$n
net=10.79.$n
cleanup() {
  rc=$?
  for ns in "$SW" "${hosts[@]}"; do end_namespace "$ns"; done
  if ((rc)) && [[ $rc -ne 77 ]]; then
    for f in "$dir"/*.log; do echo "== $f"; tail -n 30 "$f"; done
  fi
  [[ -n ${KEEP:-} ]] && echo "kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT

ip netns add "$SW" 2>/dev/null || skip "cannot create network namespaces here"
ip -n "$SW" link set lo up
ip -n "$SW" tuntap add dev mgmt mode tap
ip -n "$SW" addr add "$mgmt.1/24" dev mgmt
ip -n "$SW" link set mgmt up
for i in 1 2 3; do
  ip netns add "${hosts[i - 1]}"
  ip -n "${hosts[i - 1]}" link set lo up
  ip netns exec "${hosts[i - 1]}" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
in_sw() { ip netns exec "$SW" "$@"; }
in_h() { local i=$1; shift; ip netns exec "${hosts[i - 1]}" "$@"; }

# What the switch sends on its management interface.
ip netns exec "$SW" tcpdump -i mgmt -U -s 0 -w "$dir/of.pcap" "tcp and src host $mgmt.2" 2>"$dir/tcpdump.log" &
tcpdump_pid=$!
for _ in $(seq 50); do grep -q listening "$dir/tcpdump.log" && break; sleep 0.1; done

# Starts the switch (arguments: its flags), then hands each port to its host.
start_switch() {
  for i in 1 2 3; do in_sw ip tuntap add dev "p$i" mode tap; done
  ip netns exec "$SW" "$app" --tap mgmt --ipv4 "$mgmt.2/24" --listen "$of_port" --echo-interval 1 \
    --tap p1 --ipv4 0.0.0.0/32 --tap p2 --ipv4 0.0.0.0/32 --tap p3 --ipv4 0.0.0.0/32 "$@" >>"$dir/switch.log" 2>&1 &
  switch_pid=$!
  for _ in $(seq 50); do grep -q "listening for OpenFlow" "$dir/switch.log" && break; sleep 0.1; done
  grep -q "listening for OpenFlow" "$dir/switch.log" || fail "the switch did not start"
  for i in 1 2 3; do
    in_sw ip link set "p$i" netns "${hosts[i - 1]}"
    ip -n "${hosts[i - 1]}" addr add "$net.$i/24" dev "p$i"
    ip -n "${hosts[i - 1]}" link set "p$i" up
  done
}
stop_switch() {
  kill -TERM "$switch_pid" 2>/dev/null || true
  wait "$switch_pid" 2>/dev/null || true
  for i in 1 2 3; do ip -n "${hosts[i - 1]}" link del "p$i" 2>/dev/null || true; done
  sed -i 's/listening for OpenFlow/listened for OpenFlow/' "$dir/switch.log"
}
ping_ok() { in_h "$1" ping -c 1 -W 1 "$net.$2" >/dev/null 2>&1; }
ping_fails() { ! in_h "$1" ping -c 1 -W 0.3 "$net.$2" >/dev/null 2>&1; }

# ---- 1. ovs-testcontroller drives the switch -----------------------------------------
head -c 1000000 /dev/urandom >"$dir/sent.bin"
for proto in OpenFlow10 OpenFlow13; do
  ip netns exec "$SW" ovs-testcontroller -O "$proto" --unixctl="$dir/tc.ctl" "ptcp:$ctl_port:$mgmt.1" >"$dir/testcontroller.log" 2>&1 &
  tc=$!
  start_switch --controller "$mgmt.1:$ctl_port"
  ok=0
  for _ in $(seq 40); do ping_ok 1 2 && ok=1 && break; sleep 0.25; done
  ((ok)) || fail "$proto: h1 cannot ping h2 through the switch"
  for pair in "2 3" "3 1"; do
    set -- $pair
    ping_ok "$1" "$2" || fail "$proto: h$1 cannot ping h$2"
  done
  in_h 3 python3 -c "
import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('$net.3', 9000)); s.listen(1)
c,_=s.accept(); f=open('$dir/got.bin','wb')
while True:
  d=c.recv(65536)
  if not d: break
  f.write(d)
" &
  rx=$!
  for _ in $(seq 50); do in_h 3 ss -Hltn "sport = :9000" | grep -q . && break; sleep 0.1; done
  in_h 1 timeout 10 python3 -c "
import socket
s=socket.create_connection(('$net.3', 9000), timeout=5); s.sendall(open('$dir/sent.bin','rb').read()); s.close()"
  wait "$rx"
  cmp -s "$dir/sent.bin" "$dir/got.bin" || fail "$proto: the megabyte h1 sent h3 arrived changed"
  grep -q "connected to controller" "$dir/switch.log" || fail "$proto: the switch never connected"
  echo "ok: $proto: ovs-testcontroller drives uni's switch: h1 -> h2 -> h3 -> h1 ping, 1 MB h1 -> h3 intact"
  stop_switch
  kill "$tc" 2>/dev/null || true
  wait "$tc" 2>/dev/null || true
  rm -f "$dir/got.bin"
done

# ---- 2. ovs-ofctl drives it, no controller -----------------------------------------
start_switch --fail secure --local "$net.9/24"  # one switch for both versions: each ovs-ofctl connection negotiates its own
for proto in OpenFlow10 OpenFlow13; do
  target="tcp:$mgmt.2:$of_port"
  ofctl() { in_sw timeout 10 ovs-ofctl -O "$proto" "$@"; }
  # 1.3's `show` asks for table features too, which uni refuses (BAD_MULTIPART): dump-ports-desc then.
  if [[ $proto == OpenFlow10 ]]; then what=show; else what=dump-ports-desc; fi
  ofctl "$what" "$target" >"$dir/show.txt" || fail "$proto: ovs-ofctl $what"
  for i in 1 2 3; do grep -q "($i\|p$i)" "$dir/show.txt" || grep -q "^ $i(p$i)" "$dir/show.txt" ||
    fail "$proto: show lists no port $i: $(cat "$dir/show.txt")"; done
  ping_fails 1 3 || fail "$proto: a ping crossed a fail-secure switch without flows"  # h3: not the counted pair
  # ARP both ways, then ICMP from h1 to h2 and back, each counted.
  ofctl add-flow "$target" "priority=10,arp,actions=flood"
  ofctl add-flow "$target" "priority=20,icmp,in_port=1,nw_dst=$net.2,actions=output:2"
  ofctl add-flow "$target" "priority=20,icmp,in_port=2,nw_dst=$net.1,actions=output:1"
  count=7
  in_h 1 ping -c "$count" -i 0.05 -W 1 "$net.2" >/dev/null || fail "$proto: pings over ovs-ofctl's flows failed"
  ofctl dump-flows "$target" >"$dir/flows.txt" || fail "$proto: dump-flows"
  grep -q "n_packets=$count,.*icmp,in_port=\"\?1\"\?,nw_dst=$net.2" "$dir/flows.txt" ||
    grep -q "n_packets=$count,.*icmp.*in_port=1.*nw_dst=$net.2" "$dir/flows.txt" ||
    fail "$proto: the h1 -> h2 flow did not count $count packets: $(cat "$dir/flows.txt")"
  grep -q "n_packets=$count,.*nw_dst=$net.1" "$dir/flows.txt" || fail "$proto: the h2 -> h1 flow did not count $count: $(cat "$dir/flows.txt")"
  ofctl dump-aggregate "$target" | grep -q "flow_count=3" || fail "$proto: dump-aggregate"
  ofctl dump-ports "$target" >"$dir/ports.txt" || fail "$proto: dump-ports"
  grep -q "port  *1: rx pkts=" "$dir/ports.txt" || fail "$proto: dump-ports: $(cat "$dir/ports.txt")"
  ofctl dump-tables "$target" >/dev/null || fail "$proto: dump-tables"
  ofctl del-flows "$target" "icmp"
  ofctl dump-flows "$target" | grep -q icmp && fail "$proto: del-flows left an icmp flow"
  ping_fails 1 2 || fail "$proto: a ping crossed after del-flows"
  echo "ok: $proto: ovs-ofctl add-flow/dump-flows/del-flows: $count pings counted each way"
  ofctl del-flows "$target"
  # The LOCAL port: the switch's own stack, reached only through flows.
  grep -q "LOCAL(of-switch)" "$dir/show.txt" || fail "$proto: $what lists no LOCAL port: $(cat "$dir/show.txt")"
  ping_fails 1 9 || fail "$proto: the switch's own stack answered without a flow to LOCAL"
  ofctl add-flow "$target" "priority=30,in_port=1,actions=LOCAL"
  ofctl add-flow "$target" "priority=30,in_port=LOCAL,actions=output:1"
  in_h 1 ping -c "$count" -i 0.05 -W 1 "$net.9" >/dev/null || fail "$proto: h1 cannot ping the switch's LOCAL stack"
  ofctl dump-flows "$target" >"$dir/flows.txt" || fail "$proto: dump-flows"
  for f in "in_port=\"\?1\"\? actions=\(output:\)\?LOCAL" "in_port=\"\?LOCAL\"\? actions=\(output:\)\?\"\?1"; do
    n=$(grep "$f" "$dir/flows.txt" | grep -o "n_packets=[0-9]*" | cut -d= -f2)
    ((${n:-0} >= count)) || fail "$proto: the flow $f counted ${n:-none}, not at least $count: $(cat "$dir/flows.txt")"
  done
  ofctl dump-ports "$target" LOCAL >"$dir/ports.txt" || fail "$proto: dump-ports LOCAL"
  rx=$(sed -n 's/.*port  *LOCAL: rx pkts=\([0-9]*\).*/\1/p' "$dir/ports.txt")
  tx=$(sed -n 's/.*tx pkts=\([0-9]*\).*/\1/p' "$dir/ports.txt")
  ((${rx:-0} >= count && ${tx:-0} >= count)) || fail "$proto: LOCAL's port counters: $(cat "$dir/ports.txt")"
  ofctl del-flows "$target"
  ping_fails 1 9 || fail "$proto: the LOCAL stack answered after del-flows"
  echo "ok: $proto: the LOCAL port: listed, h1 pings the switch's own stack through in_port=1/LOCAL flows, counted"
done
stop_switch
grep -q "refused\b" "$dir/switch.log" || true

# ---- 3. everything the switch sent decodes ------------------------------------------
sleep 0.3
kill "$tcpdump_pid" 2>/dev/null || true
wait "$tcpdump_pid" 2>/dev/null || true
python3 - "$dir/of.pcap" "$dir/messages" <<'EOF'
import struct, sys, collections
data = open(sys.argv[1], 'rb').read()
end = '<' if data[:4] == b'\xd4\xc3\xb2\xa1' else '>'
off, streams = 24, collections.defaultdict(bytearray)
while off + 16 <= len(data):
    _, _, caplen, _ = struct.unpack(end + 'IIII', data[off:off + 16]); pkt = data[off + 16:off + 16 + caplen]; off += 16 + caplen
    ip = pkt[14:]; ihl = (ip[0] & 15) * 4
    if ip[9] != 6: continue
    tcp = ip[ihl:]; sport, dport, seq = struct.unpack('>HHI', tcp[:8]); doff = (tcp[12] >> 4) * 4
    payload = tcp[doff:]
    if payload: streams[(dport, seq)] = payload
# Reassemble per connection by sequence order.
conns = collections.defaultdict(list)
for (dport, seq), p in streams.items(): conns[dport].append((seq, p))
n = 0
with open(sys.argv[2], 'w') as out:
    for dport, parts in conns.items():
        parts.sort(); buf = bytearray(); nxt = None
        for seq, p in parts:
            if nxt is not None and seq < nxt: p = p[nxt - seq:]
            buf += p; nxt = seq + len(p) if nxt is None or seq >= nxt else nxt + len(p)
        while len(buf) >= 8:
            length = struct.unpack('>H', buf[2:4])[0]
            if length < 8 or length > len(buf): break
            out.write(buf[:length].hex() + '\n'); n += 1; buf = buf[length:]
EOF
total=$(wc -l <"$dir/messages")
((total > 20)) || fail "only $total OpenFlow messages captured from the switch"
bad=0
declare -A kinds
while read -r hex; do
  # ofp-print marks what it cannot decode with ***...*** (and warns on stderr).
  if ! out=$(ovs-ofctl ofp-print "$hex" 2>&1) || grep -q '\*\*\*\|WARN\|ERR|' <<<"$out"; then
    bad=$((bad + 1)); echo "undecodable: $hex: $out" | head -3
  fi
  k=$(head -1 <<<"$out" | grep -o 'OFPT_[A-Z_]*\|OFPST_[A-Z_]*' | head -1 || true)
  [[ -n "$k" ]] && kinds[$k]=1
done < <(sort -u "$dir/messages")
((bad == 0)) || fail "$bad of $total messages do not decode with ovs-ofctl ofp-print"
echo "ok: $total messages the switch sent decode with ovs-ofctl ofp-print: ${!kinds[*]}"
if command -v tshark >/dev/null; then
  ts() { tshark -r "$dir/of.pcap" -d "tcp.port==$ctl_port,openflow" -d "tcp.port==$of_port,openflow" "$@" 2>/dev/null; }
  malformed=$(ts -Y "_ws.malformed || _ws.expert.severity >= error" | wc -l)
  decoded=$(ts -Y "openflow_v1 || openflow_v4" | wc -l)
  ((malformed == 0)) || ts -Y "_ws.malformed || _ws.expert.severity >= error" -O openflow_v1,openflow_v4 | head -40
  ((malformed == 0)) || fail "tshark finds $malformed malformed OpenFlow packets"
  ((decoded > 0)) || fail "tshark decodes no OpenFlow"
  echo "ok: tshark decodes $decoded OpenFlow packets from the switch, none malformed"
fi
echo PASS
