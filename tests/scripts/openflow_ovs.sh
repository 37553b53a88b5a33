#!/usr/bin/env bash
# uni's OpenFlow controller (of-controller over host sockets) judged by Open
# vSwitch: a private ovsdb-server and ovs-vswitchd (userspace `netdev`
# datapath, no kernel module) in a network namespace of their own, one bridge
# whose three ports are veths into three host namespaces, set-controller to
# uni on that namespace's loopback. Once with OpenFlow10 and once with
# OpenFlow13 (the bridge's protocols=; uni offers both): the hosts ping each
# other, and `ovs-ofctl dump-flows` lists the flows uni installed (its cookie).
# Then a hostile switch (python) gets answers as values: echo, refusals of an
# experimenter message, an unknown type and a bad length, a flood of
# packet_ins, and a close for a length that cannot be framed. Every message
# uni sent on the way is decoded by `ovs-ofctl ofp-print` and by tshark's
# OpenFlow dissector, neither finding fault. Skips (77) without root or OVS.
#   openflow_ovs.sh PATH_TO_of-controller-socket
set -euo pipefail
app=$1
source "$(dirname "$0")/../integration/netns.sh"  # skip, end_namespace
[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces)"
for t in ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ovs-ofctl tcpdump python3; do
  command -v "$t" >/dev/null || skip "$t missing (scripts/setup.sh installs openvswitch-switch)"
done
schema=/usr/share/openvswitch/vswitch.ovsschema
[[ -f $schema ]] || skip "no $schema"

tag=$$-$RANDOM
SW=uni-of-sw-$tag
hosts=(uni-of-h1-$tag uni-of-h2-$tag uni-of-h3-$tag)
dir=$(mktemp -d)
port=$((20000 + RANDOM % 10000))
cleanup() {
  rc=$?
  for ns in "$SW" "${hosts[@]}"; do end_namespace "$ns"; done
  if ((rc)) && [[ $rc -ne 77 ]]; then
    for f in "$dir"/*.log; do echo "== $f"; tail -n 30 "$f"; done
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

ip netns add "$SW" 2>/dev/null || skip "cannot create network namespaces here"
ip -n "$SW" link set lo up
for i in 1 2 3; do
  h=${hosts[i - 1]}
  ip netns add "$h"
  ip link add "p$i" netns "$SW" type veth peer name eth0 netns "$h"
  ip -n "$h" link set lo up
  ip -n "$h" addr add "10.77.0.$i/24" dev eth0
  ip -n "$h" link set eth0 up
  ip -n "$SW" link set "p$i" up
  ip netns exec "$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done

# OVS, private: its database, sockets, logs and pid files in $dir.
in_sw() { ip netns exec "$SW" env OVS_RUNDIR="$dir" OVS_LOGDIR="$dir" OVS_DBDIR="$dir" OVS_SYSCONFDIR="$dir" "$@"; }
ovsdb-tool create "$dir/conf.db" "$schema"
in_sw ovsdb-server "$dir/conf.db" --remote="punix:$dir/db.sock" --unixctl="$dir/ovsdb.ctl" \
  --pidfile="$dir/ovsdb.pid" --log-file="$dir/ovsdb.log" --detach --no-chdir
vsctl() { in_sw ovs-vsctl --db="unix:$dir/db.sock" --timeout=10 "$@"; }
vsctl --no-wait init
in_sw ovs-vswitchd "unix:$dir/db.sock" --unixctl="$dir/vswitchd.ctl" --pidfile="$dir/vswitchd.pid" \
  --log-file="$dir/vswitchd.log" --detach --no-chdir
ofctl() { in_sw ovs-ofctl "$@"; }

# What uni sends, captured on the switch namespace's loopback.
in_sw tcpdump -i lo -U -s 0 -w "$dir/of.pcap" "tcp port $port" 2>"$dir/tcpdump.log" &
for _ in $(seq 50); do grep -q listening "$dir/tcpdump.log" && break; sleep 0.1; done

ip netns exec "$SW" "$app" --port "$port" --echo-interval 1 --idle-timeout 300 >"$dir/controller.log" 2>&1 &
for _ in $(seq 50); do grep -q "listening on tcp" "$dir/controller.log" && break; sleep 0.1; done
grep -q "listening on tcp 0.0.0.0:$port\|listening on tcp 127.0.0.1:$port" "$dir/controller.log" ||
  grep -q "listening on tcp" "$dir/controller.log" || { echo "FAIL: the controller did not start"; exit 1; }

ping_all() {  # every host pings every other
  local a b
  for a in 1 2 3; do
    for b in 1 2 3; do
      ((a == b)) && continue
      ip netns exec "${hosts[a - 1]}" ping -c 2 -i 0.2 -W 2 -q "10.77.0.$b" >/dev/null ||
        { echo "FAIL: h$a cannot ping h$b ($1)"; return 1; }
    done
  done
}

for proto in OpenFlow10 OpenFlow13; do
  ready_before=$(grep -c " ready (OpenFlow" "$dir/controller.log" || true)
  vsctl -- add-br br0 -- set bridge br0 datapath_type=netdev "protocols=$proto" fail-mode=secure \
    -- add-port br0 p1 -- add-port br0 p2 -- add-port br0 p3 -- set-controller br0 "tcp:127.0.0.1:$port"
  for _ in $(seq 100); do
    (($(grep -c " ready (OpenFlow" "$dir/controller.log" || true) > ready_before)) && break
    sleep 0.1
  done
  want=$([[ $proto == OpenFlow10 ]] && echo 1.0 || echo 1.3)
  grep -q "ready (OpenFlow $want" "$dir/controller.log" || { echo "FAIL: no $proto handshake"; exit 1; }
  ping_all "$proto"
  flows=$(ofctl -O "$proto" dump-flows br0)
  learned=$(grep -c "cookie=0x756e69" <<<"$flows" || true)
  ((learned >= 6)) || { echo "$flows"; echo "FAIL: $proto: $learned flows from uni, 6 expected"; exit 1; }
  grep "cookie=0x756e69" <<<"$flows" | grep -q "n_packets=[1-9]" ||
    { echo "$flows"; echo "FAIL: $proto: uni's flows carried no packets"; exit 1; }
  if [[ $proto == OpenFlow13 ]]; then
    grep -q "priority=0 actions=CONTROLLER:65535" <<<"$flows" || { echo "$flows"; echo "FAIL: no table-miss entry"; exit 1; }
  fi
  echo "$proto: the hosts ping each other; dump-flows lists $learned flows from uni, e.g."
  grep "cookie=0x756e69" <<<"$flows" | head -1 | sed 's/^ */  /'
  sleep 1.5  # idle: uni probes the switch with an echo request
  vsctl del-br br0
done

# A hostile switch: answers as values, counters, then a close for an unframeable length.
timeout 10 ip netns exec "$SW" python3 - "$port" >"$dir/hostile.log" 2>&1 <<'PY' || { cat "$dir/hostile.log"; echo "FAIL: hostile switch"; exit 1; }
import socket, struct, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
buf = b""
def msg(t, xid, body=b"", v=4):
    return struct.pack("!BBHI", v, t, 8 + len(body), xid) + body
def read_until(pred, limit=200, sock=None, until=None):
    global buf
    sock = sock or s
    got = []
    while len(got) < limit and (until is None or time.time() < until):
        while len(buf) < 8 or len(buf) < struct.unpack("!H", buf[2:4])[0]:
            try:
                d = sock.recv(65536)
            except socket.timeout:
                return got, False
            if not d:
                return got, True
            buf += d
        n = struct.unpack("!H", buf[2:4])[0]
        m, buf = buf[:n], buf[n:]
        got.append(m)
        if m[1] == 2:  # the controller's keep-alive: answer it
            sock.sendall(bytes([m[0], 3]) + m[2:])
        if pred(m):
            return got, False
    return got, False
s.sendall(msg(0, 1, struct.pack("!HHI", 1, 8, 1 << 4)))  # hello, 1.3 only
got, _ = read_until(lambda m: m[1] == 5)  # until the features request
assert got[0][0] == 4 and got[0][1] == 0, "hello"
feat_xid = struct.unpack("!I", got[-1][4:8])[0]
s.sendall(msg(6, feat_xid, struct.pack("!QIBBHII", 0xabc, 0, 254, 0, 0, 0x4f, 0)))
s.sendall(msg(2, 77, b"ping"))                           # echo request
s.sendall(msg(4, 78, struct.pack("!II", 0x2320, 1)))    # experimenter (Nicira)
s.sendall(msg(99, 79))                                   # a type no version has
s.sendall(msg(10, 80, b"\x00\x01"))                      # packet_in, body cut short
s.sendall(msg(15, 81, b"\x00" * 8))                      # group_mod
errors, echo = {}, None
got, _ = read_until(lambda m: m[1] == 1 and struct.unpack("!I", m[4:8])[0] == 81)
for m in got:
    xid = struct.unpack("!I", m[4:8])[0]
    if m[1] == 3 and xid == 77: echo = m[8:]
    if m[1] == 1: errors[xid] = struct.unpack("!HH", m[8:12])
assert echo == b"ping", f"echo reply {echo}"
assert errors.get(78) == (1, 3), f"experimenter: {errors}"
assert errors.get(79) == (1, 1), f"unknown type: {errors}"
assert errors.get(80) == (1, 6), f"bad length: {errors}"
assert errors.get(81) == (6, 3), f"group mod: {errors}"
# A flood of packet_ins (an ARP request each, broadcast): the controller floods them all back.
frame = b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x06" + b"\x00" * 28
match = struct.pack("!HHHBBI", 1, 12, 0x8000, 0, 4, 1) + b"\x00" * 4
pin = struct.pack("!IHBBQ", 0xffffffff, len(frame), 0, 0, 0) + match + b"\x00\x00" + frame
s.sendall(b"".join(msg(10, 1000 + i, pin) for i in range(2000)))
s.settimeout(0.5)
got, closed = read_until(lambda m: False, limit=100000, until=time.time() + 2)
outs = sum(1 for m in got if m[1] == 13)
assert not closed and outs == 2000, f"{outs} packet_outs for 2000 packet_ins, closed={closed}"
s.close()
# A length below the header's cannot be framed: the connection is closed at once.
t = socket.create_connection(("127.0.0.1", port), timeout=3)
t.sendall(msg(0, 1, struct.pack("!HHI", 1, 8, 1 << 4)) + struct.pack("!BBHI", 4, 2, 4, 2))
start = time.time()
while t.recv(65536): pass
assert time.time() - start < 0.9, "closed by the echo timeout, not at once"
print(f"hostile switch: echo answered, experimenter/unknown type/bad length/group_mod refused, "
      f"{outs} packet_outs for a flood of 2000 packet_ins, closed on an unframeable length")
PY
cat "$dir/hostile.log"
ctl=$(pgrep -n -f "$app --port $port")
kill -TERM "$ctl"
for _ in $(seq 30); do kill -0 "$ctl" 2>/dev/null || break; sleep 0.1; done
report=$(grep "of-controller: .* switches" "$dir/controller.log")
echo "$report"
grep -qE "\(([1-9][0-9]*) pauses on a full queue\)" <<<"$report" || { echo "FAIL: the flood was not held back"; exit 1; }
grep -qE "refused: 1 bad lengths, 1 bad types, 1 experimenter, 1 unframed" <<<"$report" ||
  { echo "FAIL: hostile input not counted"; exit 1; }

# Every message uni sent, decoded by ovs-ofctl ofp-print and by tshark.
left=$(pgrep -f "tcpdump -i lo -U -s 0 -w $dir/of.pcap" || true)
[[ -n "$left" ]] && kill -INT $left
sleep 0.5
python3 - "$dir/of.pcap" "$port" >"$dir/sent.hex" <<'PY'
import struct, sys
# Reassembles the controller's side of each TCP connection from the pcap (DLT
# NULL / loopback or Ethernet) and prints each OpenFlow message as hex.
data = open(sys.argv[1], "rb").read()
port = int(sys.argv[2])
magic = struct.unpack("<I", data[:4])[0]
e = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
link = struct.unpack(e + "I", data[20:24])[0]
off, streams = 24, {}
while off + 16 <= len(data):
    _, _, caplen, _ = struct.unpack(e + "IIII", data[off:off + 16])
    pkt = data[off + 16: off + 16 + caplen]
    off += 16 + caplen
    ip = pkt[14:] if link == 1 else pkt[4:] if link == 0 else pkt[16:]
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6: continue
    tcp = ip[(ip[0] & 15) * 4: struct.unpack("!H", ip[2:4])[0]]
    sport, dport, seq = struct.unpack("!HHI", tcp[:8])
    payload = tcp[(tcp[12] >> 4) * 4:]
    if sport != port or not payload: continue
    st = streams.setdefault(dport, {})
    st.setdefault(seq, payload)
seen = {}
for dport, segs in streams.items():
    stream, nxt = b"", None
    for seq in sorted(segs):
        if nxt is not None and seq < nxt: continue
        stream += segs[seq]; nxt = seq + len(segs[seq])
    while len(stream) >= 8:
        n = struct.unpack("!H", stream[2:4])[0]
        if n < 8 or n > len(stream): break
        key = stream[:2]  # version and type: a few of each kind are enough
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= 4: print(stream[:n].hex())
        stream = stream[n:]
PY
total=$(wc -l <"$dir/sent.hex")  # up to 4 of each kind
((total > 0)) || { echo "FAIL: no messages captured"; exit 1; }
declare -A kinds=()
bad=0
while read -r hex; do
  out=$(ovs-ofctl ofp-print "$hex" 2>/dev/null) || out="*** ofp-print failed"

  # An error echoes the message it refuses, which ofp-print decodes (and finds fault with) too.
  judged=$out
  grep -q "^OFPT_ERROR" <<<"$out" && judged=$(head -1 <<<"$out")
  if grep -qiE "decode error|bad length|\*\*\*|unknown" <<<"$judged"; then
    ((bad < 3)) && { echo "ofp-print cannot decode $hex:"; echo "$out"; }
    bad=$((bad + 1))
  fi
  k=$(head -1 <<<"$out" | grep -oE "^[A-Z_]+( (request|reply))?( \(OF1\.3\))?" || true)
  [[ -n "$k" ]] && kinds[${k// /_}]=1
done < <(sort -u "$dir/sent.hex")
((bad == 0)) || { echo "FAIL: ofp-print found $bad of uni's messages malformed"; exit 1; }
echo "ofp-print decodes the $total messages uni sent (up to 4 of each kind): ${!kinds[*]}"
if command -v tshark >/dev/null; then
  # OVS's two connections (the hostile switch's come after them: uni's errors
  # there echo the malformed messages they refuse, which tshark flags in turn).
  ts() { tshark -r "$dir/of.pcap" -d "tcp.port==$port,openflow" "$@" 2>/dev/null; }
  n_of=$(ts -Y "tcp.stream <= 1 && tcp.srcport==$port && (openflow_v1 || openflow_v4)" | wc -l)
  n_bad=$(ts -Y "tcp.stream <= 1 && tcp.srcport==$port && (_ws.malformed || _ws.expert.severity >= error)" | wc -l)
  ((n_of > 0)) || { echo "FAIL: tshark saw no OpenFlow from uni"; exit 1; }
  ((n_bad == 0)) || { ts -Y "tcp.stream <= 1 && tcp.srcport==$port && (_ws.malformed || _ws.expert.severity >= error)" -O openflow_v1,openflow_v4 | head -60; echo "FAIL: tshark flags $n_bad of uni's packets"; exit 1; }
  echo "tshark's OpenFlow dissector: $n_of packets uni sent to OVS (1.0 and 1.3), none malformed"
else
  echo "tshark missing: its dissector was not asked"
fi
echo PASS
