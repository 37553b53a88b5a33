#!/usr/bin/env bash
# uni's HTTP client (examples/http-get on uni's stack over TAP) against nginx in
# the peer namespace: a 20 MB file fetched and checked by sha256, five GETs over
# one kept-alive connection, a redirect returned (exit status 1 for a 301) and
# followed (--follow), a 404 reported as such. Then by name: NSD in the peer
# namespace serves the zone test. (www, a CNAME to it, a name with no address);
# the client's stub resolver asks it over uni's UDP (--dns), and with --dhcp
# asks the server dnsmasq's lease names. A redirect to a name is followed; a
# name that does not exist fails with NXDOMAIN in the log and exit status 1.
#   http_client_tap.sh PATH_TO_http-get-tap
set -euo pipefail
source "$(dirname "$0")/netns.sh"
source "$(dirname "$0")/nsd.sh"
app=$1
command -v nginx >/dev/null || skip "nginx is not installed (scripts/setup.sh)"
command -v nsd >/dev/null && command -v dig >/dev/null || skip "nsd or dig is not installed (scripts/setup.sh)"
command -v dnsmasq >/dev/null || skip "dnsmasq is not installed (package dnsmasq-base)"
netns_setup 89
work=$(mktemp -d)
pids=()  # nginx, nsd, dnsmasq
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  netns_cleanup
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
mkdir -p "$work/files" "$work/tmp"
head -c 20000000 /dev/urandom >"$work/files/big.bin"
echo "hello from nginx" >"$work/files/index.html"
chmod -R a+rX "$work"
cat >"$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 64; }
http {
  log_format with_host '\$host "\$request" \$status';
  access_log $work/access.log with_host;
  client_body_temp_path $work/tmp;
  proxy_temp_path $work/tmp;
  fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp;
  scgi_temp_path $work/tmp;
  server {
    listen $PEER_IP:8088;
    root $work/files;
    location = /old { return 301 http://$PEER_IP:8088/index.html; }
    location = /by-name { return 302 http://alias.test:8088/index.html; }
  }
}
CONF
in_ns nginx -e "$work/error.log" -c "$work/nginx.conf" -g "daemon off;" >"$work/nginx.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do in_ns curl -s -m 2 -o /dev/null "http://$PEER_IP:8088/" && break; sleep 0.1; done

# fetch EXPECTED_EXIT FLAGS...: runs http-get until it reports, then stops it
# (its address: APP_IP_FLAGS).
APP_IP_FLAGS=(--ipv4 "$APP_IP/24")
fetch() {
  local want=$1
  shift
  APP_LOG=$(mktemp)
  ip netns exec "$NS" "$app" --tap tap0 "${APP_IP_FLAGS[@]}" "$@" >"$APP_LOG" 2>&1 &
  APP_PID=$!
  for _ in $(seq 300); do grep -q "http-get: status\|http-get: .*: " "$APP_LOG" && break; sleep 0.1; done
  # It ends by itself once it has reported (its exit status is the verdict); a
  # stop sent at once could overtake that end (exit 143 under ASan).
  for _ in $(seq 50); do kill -0 "$APP_PID" 2>/dev/null || break; sleep 0.1; done
  kill -TERM "$APP_PID" 2>/dev/null || true  # (gone already if it could not start)
  local status=0
  wait "$APP_PID" || status=$?
  APP_PID=
  grep "http-get:\|http client:" "$APP_LOG" | sed 's/^/  /'
  [[ $status == "$want" ]] || { cat "$APP_LOG"; fail "http-get $* exited with $status, not $want"; }
}

fetch 0 --url "http://$PEER_IP:8088/big.bin" --out "$work/got"
[[ $(sha256sum <"$work/got") == $(sha256sum <"$work/files/big.bin") ]] || fail "20 MB from nginx: sha256 differs"
echo "ok: 20 MB from nginx, sha256 equal"
fetch 0 --url "http://$PEER_IP:8088/index.html" --count 5
grep -q "5 requests over 1 connections" "$APP_LOG" || fail "keep-alive: not one connection"
echo "ok: five GETs over one kept-alive connection"
fetch 1 --url "http://$PEER_IP:8088/old"
grep -q "status 301" "$APP_LOG" || fail "redirect not returned as it is"
fetch 0 --url "http://$PEER_IP:8088/old" --follow 2 --out "$work/followed"
cmp -s "$work/followed" "$work/files/index.html" || fail "redirect not followed: $(cat "$work/followed")"
echo "ok: a 301 returned as it is, and followed with --follow"
fetch 1 --url "http://$PEER_IP:8088/missing"
grep -q "status 404" "$APP_LOG" || fail "404 not reported"
echo "ok: a 404 reported"

# By name. NSD (RFC 1035 authoritative server) on the peer's address, port 53.
cat >"$work/test.zone" <<ZONE
\$ORIGIN test.
\$TTL 60
@ SOA ns host 1 7200 3600 1209600 60
  NS ns
ns A $PEER_IP
www A $PEER_IP
alias CNAME www
text TXT "no address here"
ZONE
nsd_conf "$work" "$PEER_IP" 53 test test.zone >"$work/nsd.conf"
in_ns timeout 60 nsd -d -c "$work/nsd.conf" >"$work/nsd.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [[ -n $(in_ns dig +short +tries=1 +time=1 @"$PEER_IP" www.test A 2>/dev/null) ]] && break; sleep 0.1; done
[[ $(in_ns dig +short +tries=1 +time=1 @"$PEER_IP" www.test A) == "$PEER_IP" ]] ||
  { cat "$work/nsd.out" "$work/nsd.log" 2>/dev/null; fail "nsd does not answer for www.test"; }

fetch 0 --dns "$PEER_IP" --url "http://www.test:8088/big.bin" --out "$work/by-name"
cmp -s "$work/by-name" "$work/files/big.bin" || fail "20 MB by name: contents differ"
grep -q "last to $PEER_IP:8088" "$APP_LOG" || fail "www.test: not fetched from $PEER_IP"
echo "ok: http://www.test:8088/big.bin resolved by NSD, 20 MB equal"
fetch 0 --dns "$PEER_IP" --url "http://alias.test:8088/index.html" --count 3 --out "$work/alias"
cmp -s "$work/alias" "$work/files/index.html" || fail "by CNAME: contents differ"
grep -q "3 requests over 1 connections" "$APP_LOG" || fail "by name: not one kept-alive connection"
echo "ok: alias.test (CNAME to www.test), three GETs over one connection"
fetch 0 --dns "$PEER_IP" --url "http://$PEER_IP:8088/by-name" --follow 1 --out "$work/followed-name"
cmp -s "$work/followed-name" "$work/files/index.html" || fail "redirect to a name not followed"
grep -q '^alias.test "GET /index.html HTTP/1.1" 200$' "$work/access.log" || fail "no request with Host alias.test"
echo "ok: a 302 to http://alias.test:8088/ followed"
fetch 1 --dns "$PEER_IP" --url "http://nowhere.test:8088/index.html"
grep -q "nowhere.test: no such name (NXDOMAIN)" "$APP_LOG" || fail "NXDOMAIN not reported"
grep -q "http-get: http://nowhere.test:8088/index.html: unreachable" "$APP_LOG" || fail "no clear failure for NXDOMAIN"
fetch 1 --dns "$PEER_IP" --url "http://text.test:8088/"
grep -q "text.test: no IPv4 address (NODATA)" "$APP_LOG" || fail "NODATA not reported"
echo "ok: NXDOMAIN and NODATA fail with exit status 1 and say so"
fetch 2 --url "http://[::1]:8088/"
fetch 2 --url "http://www.test:8088/" --dns "not-an-address"
echo "ok: an IPv6 literal and a bad --dns are refused (exit status 2)"

# The DNS server from a DHCP lease: dnsmasq (DHCP only) names NSD's address.
in_ns dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --user=root \
  --interface=tap0 --bind-interfaces --no-ping --log-dhcp --log-facility="$work/dnsmasq.log" \
  --dhcp-leasefile="$work/leases" --pid-file="$work/dnsmasq.pid" \
  --dhcp-range=10.89.0.50,10.89.0.99,255.255.255.0,2m --dhcp-option=option:dns-server,"$PEER_IP" &
pids+=($!)
for _ in $(seq 100); do grep -q "DHCP, IP range" "$work/dnsmasq.log" 2>/dev/null && break; sleep 0.05; done
APP_IP_FLAGS=(--dhcp)
fetch 0 --url "http://www.test:8088/index.html" --out "$work/dhcp"
cmp -s "$work/dhcp" "$work/files/index.html" || fail "with the DNS server from DHCP: contents differ"
grep -q "DHCPACK(tap0)" "$work/dnsmasq.log" || fail "no lease from dnsmasq"
echo "ok: www.test resolved through the DNS server of the DHCP lease"
echo "http client on uni's stack against nginx and NSD: all checks passed"
