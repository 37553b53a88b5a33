#!/usr/bin/env bash
# The tcp-echo appliance on uni's stack judged by Linux: socat sends a file and
# reads the echo back at once, so each transfer carries the file in both
# directions, checked by sha256. Three paths: clean; random loss on the Linux
# side (nftables numgen in the peer namespace, both ways); loss, duplication,
# reordering and delay on the appliance's side (its --impair decorator). Then
# 1,000 concurrent connections, a refused port, and `ss -tie` showing window
# scaling, timestamps and SACK negotiated.
#   stack_tcp.sh PATH_TO_tcp-echo-tap [SIZE]   (SIZE for head -c; default 100M)
set -euo pipefail
source "$(dirname "$0")/netns.sh"
app=$1
size=${2:-100M}
netns_setup 85
work=$(mktemp -d)
trap 'netns_cleanup; rm -rf "$work"' EXIT
head -c "$size" /dev/urandom >"$work/in"
want=$(sha256sum <"$work/in" | cut -d' ' -f1)

# transfer LABEL TIMEOUT: the file through the echo service; checks the digest.
transfer() {
  local start end got
  start=$(date +%s.%N)
  in_ns timeout "$2" socat -b 65536 -t 60 - "TCP:$APP_IP:7" <"$work/in" >"$work/out" ||
    fail "$1: socat failed ($?) after $(stat -c %s "$work/out") bytes"
  end=$(date +%s.%N)
  got=$(sha256sum <"$work/out" | cut -d' ' -f1)
  [[ "$got" == "$want" ]] || fail "$1: the echo differs ($(stat -c %s "$work/out") bytes came back)"
  echo "ok: $1: $size each way, sha256 equal, $(awk "BEGIN { printf \"%.2f\", $end - $start }") s"
}

start_app "$app" --tap tap0 --ipv4 "$APP_IP/24" --port 7

# Options, as Linux sees them, on a connection kept open while we look.
in_ns bash -c "exec 3<>/dev/tcp/$APP_IP/7; sleep 1" &
holder=$!
sleep 0.5
ss_line=$(in_ns ss -tien "dst $APP_IP:7" 2>/dev/null | tr '\n' ' ')
wait "$holder"
for opt in wscale ts sack; do
  grep -qw "$opt" <<<"$ss_line" || fail "ss -ti shows no $opt: $ss_line"
done
echo "ok: ss -ti shows wscale, ts and sack: $(grep -o 'wscale:[0-9,]*' <<<"$ss_line")"

transfer "clean" 300

# Random loss in the Linux peer, 2% of TCP segments each way.
in_ns nft -f - <<'EOF'
table inet impair {
  chain in { type filter hook input priority 0; meta l4proto tcp numgen random mod 100 < 2 drop; }
  chain out { type filter hook output priority 0; meta l4proto tcp numgen random mod 100 < 2 drop; }
}
EOF
transfer "nftables 2% loss each way" 600
nft_drops=$(in_ns nft list ruleset | grep -o 'drop' | wc -l)
in_ns nft delete table inet impair
echo "ok: nftables rules removed ($nft_drops drop rules were active)"

# 1,000 connections open at once, each echoing its own message.
in_ns timeout 120 python3 - "$APP_IP" <<'EOF' || fail "concurrent connections failed"
import asyncio, sys
host = sys.argv[1]
async def one(i):
    r, w = await asyncio.open_connection(host, 7)
    msg = (f"connection {i} " * 20).encode()
    w.write(msg)
    await w.drain()
    got = await r.readexactly(len(msg))
    return r, w, got == msg
async def main():
    conns = await asyncio.gather(*(one(i) for i in range(1000)))
    ok = sum(c[2] for c in conns)
    for r, w, _ in conns:
        w.close()
    await asyncio.gather(*(w.wait_closed() for _, w, _ in conns), return_exceptions=True)
    print(f"ok: 1000 concurrent connections open at once, {ok} echoed correctly")
    sys.exit(0 if ok == 1000 else 1)
asyncio.run(main())
EOF

err=$(in_ns timeout 5 socat -t 1 - "TCP:$APP_IP:9" </dev/null 2>&1 || true)
grep -qi "refused" <<<"$err" || fail "a closed port did not refuse (socat said: $err)"
echo "ok: closed port refused with a RST"
stop_app

# The appliance's own side impaired: loss, duplication, reordering and delay.
start_app "$app" --tap tap0 --ipv4 "$APP_IP/24" --port 7 --impair "loss=1,dup=1,reorder=2,delay=1" --impair-seed 7
transfer "appliance-side impairment (loss 1%, dup 1%, reorder 2%, delay 1 ms)" 600
stop_app
grep -q "impaired: lost [1-9]" "$APP_LOG" || fail "the impairment lost nothing"
echo "PASS: TCP over uni's stack against Linux"
