#!/usr/bin/env bash
# The DNS appliance judged against NSD: both serve examples/dns/example.zone
# (read through $INCLUDE, with a second included file, and the delegations of
# dns_referrals.zone), and dig sends each the same queries (names that exist
# and do not, every type, mixed case, names under the delegations, and chains
# into them, the wildcards, without EDNS, with a 512-byte and a 4096-byte EDNS
# payload, over TCP). The answers must be the
# same: rcode, flags, and the record sets of every section (order within a
# section ignored; dig's query ids and timings removed).
#   dns_differential.sh socket PATH_TO_dns-socket ZONE   (loopback, any user)
#   dns_differential.sh tap    PATH_TO_dns-tap    ZONE   (namespace, root)
set -euo pipefail
mode=$1 app=$2 zone=$3
command -v dig >/dev/null || { echo "SKIP: no dig (bind9-dnsutils)"; exit 77; }
command -v nsd >/dev/null || { echo "SKIP: no nsd"; exit 77; }
source "$(dirname "$0")/nsd.sh"
work=$(mktemp -d)
NSD_PID=""
SOCK_PID=""
cleanup_dns() {
  [[ -n "$NSD_PID" ]] && { kill "$NSD_PID" 2>/dev/null; wait "$NSD_PID" 2>/dev/null; } || true
  [[ -n "$SOCK_PID" ]] && { kill "$SOCK_PID" 2>/dev/null; wait "$SOCK_PID" 2>/dev/null; } || true
  rm -rf "$work"
}
fail() { echo "FAIL: $*"; exit 1; }

run=()  # prefix for commands that must run beside the appliance
if [[ $mode == tap ]]; then
  source "$(dirname "$0")/netns.sh"
  netns_setup 85
  trap 'cleanup_dns; netns_cleanup' EXIT
  run=(ip netns exec "$NS")
  nsd_ip=$PEER_IP app_ip=$APP_IP app_port=53 nsd_port=53
else
  trap cleanup_dns EXIT
  nsd_ip=127.0.0.1 app_ip=127.0.0.1
  # Below Linux's ephemeral range (32768 up), where clients' own ports cannot take them.
  app_port=$((20000 + RANDOM % 12000)) nsd_port=$((app_port + 1))
fi

# The zone as both servers read it: example.zone and two more files, all by $INCLUDE.
cp "$zone" "$work/example.zone"
cp "$(dirname "$0")/dns_referrals.zone" "$work/referrals.zone"
cat >"$work/inc.zone" <<'ZONE'
$TTL 1200
@       A   192.0.2.150
www 120 A   192.0.2.151
$ORIGIN deeper.inc.example.com.
@       TXT "set inside the included file"
ZONE
printf '$ORIGIN example.com.\n$INCLUDE example.zone\n$INCLUDE inc.zone inc.example.com. ; with its origin\nafter 600 A 192.0.2.152\n$INCLUDE referrals.zone\n' >"$work/top.zone"
zone=$work/top.zone
nsid=uni-differential identity=ns-differential version=v-differential  # the same for both servers
nsd_conf "$work" "$nsd_ip" "$nsd_port" example.com top.zone "minimal-responses: no" "nsid: \"ascii_$nsid\"" \
  "identity: \"$identity\"" "version: \"$version\"" >"$work/nsd.conf"
"${run[@]}" nsd -d -c "$work/nsd.conf" >"$work/nsd.out" 2>&1 &
NSD_PID=$!

if [[ $mode == tap ]]; then
  start_app "$app" --tap tap0 --ipv4 "$APP_IP/24" --port 53 --zone "$zone" --nsid "$nsid" --identity "$identity" \
    --version "$version"
else
  "$app" --port "$app_port" --zone "$zone" --nsid "$nsid" --identity "$identity" --version "$version" \
    >"$work/app.log" 2>&1 &
  SOCK_PID=$!
fi
for _ in $(seq 100); do
  # An address, not dig's complaint (which +short prints on stdout too).
  a=$("${run[@]}" dig +short +tries=1 +time=1 @"$app_ip" -p "$app_port" www.example.com A 2>/dev/null | grep '^[0-9]' || true)
  n=$("${run[@]}" dig +short +tries=1 +time=1 @"$nsd_ip" -p "$nsd_port" www.example.com A 2>/dev/null | grep '^[0-9]' || true)
  [[ -n "$a" && -n "$n" ]] && break
  [[ $mode == tap ]] || kill -0 "$SOCK_PID" 2>/dev/null || break  # it exited: its log says why
  sleep 0.1
done
# (A log that is not there must not end the script before it says why: set -e.)
[[ -n "$a" ]] || { cat "$work/app.log" "${APP_LOG:-}" 2>/dev/null || true; fail "the appliance does not answer"; }
[[ -n "$n" ]] || { cat "$work/nsd.log" "$work/nsd.out" 2>/dev/null || true; echo "SKIP: nsd did not start"; exit 77; }

# The queries: every name x type x transport, some names in mixed case.
names=(example.com EXAMPLE.com www.example.com WwW.ExAmPlE.CoM ns1.example.com ns2.example.com mail.example.com
  alias.example.com www2.example.com outside.example.com chain1.example.com chain3.example.com text.example.com
  _sip._tcp.example.com sip.example.com 4.2.0.192.in-addr.example.com caa.example.com generic.example.com
  empty.example.com genericA.example.com sub.example.com ns.sub.example.com x.sub.example.com a.b.SUB.example.com
  'dotted\.label.example.com' a.b.ent.example.com b.ent.example.com ent.example.com foo.wild.example.com
  a.b.wild.example.com wild.example.com '*.wild.example.com' foo.cnamewild.example.com FOO.CnameWild.example.com
  missing.example.com nope.example.com x.www.example.com big.example.com example.org com .
  dn.example.com www.dn.example.com WWW.Dn.Example.com x.dn.example.com a.b.dn.example.com a.ext.example.com
  www.redirect.example.com a.loop.example.com x.long.example.com cloop1.example.com
  ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd.x.long.example.com
  inc.example.com www.inc.example.com deeper.inc.example.com after.example.com
  tosub.example.com ToSub.EXAMPLE.com tosub2.example.com tocut.example.com x.dnsub.example.com X.DnSub.Example.COM
  towild.example.com toent.example.com tooutside.example.com tobig.example.com
  www.fat.example.com tofat.example.com tofat2.example.com x.dnfat.example.com www.tight.example.com
  totight.example.com www.huge.example.com tohuge.example.com)
types=(A AAAA NS MX TXT SOA CNAME SRV CAA PTR TYPE65280 TYPE65281 DS DNAME ANY)
# The server's own names in class CHAOS (NSD's identity and version answers).
chaos_names=(id.server HOSTNAME.bind version.bind version.SERVER authors.bind example.com)
transports=("+noedns" "+edns=0 +bufsize=512" "+edns=0 +bufsize=4096")
: >"$work/queries"
for t in "${transports[@]}"; do
  for n in "${names[@]}"; do
    for ty in "${types[@]}"; do echo "$n $ty $t" >>"$work/queries"; done
  done
  for n in "${chaos_names[@]}"; do
    for ty in TXT ANY A; do echo "$n CH $ty $t" >>"$work/queries"; done
  done
done
# The same again over TCP (dig's +tcp applies to a whole batch, not to one line).
grep -- "+noedns" "$work/queries" >"$work/queries.tcp"
total=$(wc -l <"$work/queries")
total_tcp=$(wc -l <"$work/queries.tcp")

# One line per query: header flags and rcode, then each section's records sorted.
normalise() {
  python3 -c '
import sys, re
block, out = [], []
def flush():
    if not block: return
    head, sections, cur = "", {}, None
    for l in block:
        m = re.search(r"status: (\w+)", l)
        if m: head += "status=" + m.group(1)
        m = re.search(r"flags: ([a-z ]*);", l)
        if m: head += " flags=" + m.group(1).strip()
        m = re.match(r";; (\w+) SECTION:", l)
        if m: cur = m.group(1); continue
        if cur and l and not l.startswith(";"):
            sections.setdefault(cur, []).append(" ".join(l.split()).lower())
    out.append(head + " | " + " | ".join(k + ": " + " ; ".join(sorted(v)) for k, v in sorted(sections.items())))
for l in sys.stdin:
    l = l.rstrip("\n")
    if l.startswith(";; ->>HEADER<<-") and block:
        flush(); block = []
    if l.startswith(";; ->>HEADER<<-") or block:
        block.append(l)
flush()
print("\n".join(out))
'
}
dig_all() {  # dig_all SERVER PORT FILE [OPTION]
  "${run[@]}" dig +tries=2 +time=2 +noall +comments +answer +authority +additional +nocookie ${4:-} @"$1" -p "$2" \
    -f "$3" | grep -v "^; EDNS\|OPT PSEUDOSECTION\|^;; WARNING\|^;; Got answer" | normalise
}
compare() {  # compare QUERIES COUNT [OPTION]
  dig_all "$app_ip" "$app_port" "$1" ${3:-} >"$work/uni.txt"
  dig_all "$nsd_ip" "$nsd_port" "$1" ${3:-} >"$work/nsd.txt"
  local got_uni got_nsd diffs
  got_uni=$(wc -l <"$work/uni.txt") got_nsd=$(wc -l <"$work/nsd.txt")
  [[ $got_uni -eq $2 ]] || fail "the appliance answered $got_uni of $2 queries ${3:-}"
  [[ $got_nsd -eq $2 ]] || fail "NSD answered $got_nsd of $2 queries ${3:-}"
  diffs=$(paste -d'\t' "$1" "$work/uni.txt" "$work/nsd.txt" | awk -F'\t' '$2 != $3 {print "query: " $1 "\n  uni: " $2 "\n  nsd: " $3}')
  if [[ -n "$diffs" ]]; then
    head -60 <<<"$diffs"  # (echo into head would die of SIGPIPE past 60 lines, under pipefail: no FAIL line)
    fail "$(echo "$diffs" | grep -c '^query:') of $2 answers ${3:-} differ from NSD's"
  fi
}
compare "$work/queries" "$total"
echo "ok: $total queries over UDP (${#names[@]} names x ${#types[@]} types, and ${#chaos_names[@]} CHAOS names x 3 types, x ${#transports[@]} EDNS settings) answered as NSD answers them"
compare "$work/queries.tcp" "$total_tcp" +tcp
echo "ok: $total_tcp queries over TCP answered as NSD answers them"

# NSID: asked with dig +nsid (the comparisons above leave OPT out), the same from both.
nsid_of() { "${run[@]}" dig +nsid +tries=2 +time=2 @"$1" -p "$2" www.example.com A | grep "NSID:" || true; }
nsid_uni=$(nsid_of "$app_ip" "$app_port")
nsid_nsd=$(nsid_of "$nsd_ip" "$nsd_port")
[[ -n "$nsid_nsd" ]] || fail "NSD sent no NSID"
[[ "$nsid_uni" == "$nsid_nsd" ]] || fail "NSID: the appliance sent '$nsid_uni', NSD '$nsid_nsd'"
echo "ok: NSID as NSD sends it ($nsid_uni)"

# What NSD is not asked: a response (QR set) gets no answer at all; FORMERR and NOTIMP.
if [[ $mode == socket ]]; then
  python3 - "$app_ip" "$app_port" <<'EOF' || fail "malformed and odd queries"
import socket, struct, sys
ip, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
q = b"\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01"
def ask(pkt):
    s.sendto(pkt, (ip, port))
    try: return s.recv(4096)
    except socket.timeout: return None
assert ask(struct.pack(">HHHHHH", 1, 0x8000, 1, 0, 0, 0) + q[2:]) is None, "answered a response"
r = ask(struct.pack(">HHHHHH", 2, 0, 2, 0, 0, 0) + q[2:] + q[2:]); assert r and r[3] & 15 == 1, "2 questions: FORMERR"
r = ask(struct.pack(">HHHHHH", 3, 0, 1, 0, 0, 0) + b"\x03www\xc0\x0c\x00\x01\x00\x01"); assert r and r[3] & 15 == 1, "pointer loop: FORMERR"
r = ask(struct.pack(">HHHHHH", 4, 0x1000, 1, 0, 0, 0) + q[2:]); assert r and r[3] & 15 == 4, "opcode 2: NOTIMP"
assert ask(b"\x00\x05\x00") is None, "answered a runt"
print("ok: QR set ignored, FORMERR for two questions and a pointer loop, NOTIMP for STATUS, runts ignored")
EOF
fi
if [[ $mode == tap ]]; then
  stop_app
  tcp_seen=$(sed -n 's/.* udp and \([0-9]*\) tcp queries.*/\1/p' "$APP_LOG")
  [[ ${tcp_seen:-0} -ge $total_tcp ]] || fail "the appliance counted ${tcp_seen:-0} TCP queries, not $total_tcp"
fi
echo "PASS: the DNS appliance answers as NSD does ($mode)"
