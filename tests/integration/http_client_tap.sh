#!/usr/bin/env bash
# uni's HTTP client (examples/http-get on uni's stack over TAP) against nginx in
# the peer namespace: a 20 MB file fetched and checked by sha256, five GETs over
# one kept-alive connection, a redirect returned (exit status 1 for a 301) and
# followed (--follow), a 404 reported as such.
#   http_client_tap.sh PATH_TO_http-get-tap
set -euo pipefail
source "$(dirname "$0")/netns.sh"
app=$1
command -v nginx >/dev/null || skip "nginx is not installed (scripts/setup.sh)"
netns_setup 89
work=$(mktemp -d)
nginx_pid=
cleanup() {
  local rc=$?
  if [[ -n "$nginx_pid" ]]; then kill "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null || true; fi
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
  access_log $work/access.log;
  client_body_temp_path $work/tmp;
  proxy_temp_path $work/tmp;
  fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp;
  scgi_temp_path $work/tmp;
  server {
    listen $PEER_IP:8088;
    root $work/files;
    location = /old { return 301 http://$PEER_IP:8088/index.html; }
  }
}
CONF
in_ns nginx -e "$work/error.log" -c "$work/nginx.conf" -g "daemon off;" >"$work/nginx.out" 2>&1 &
nginx_pid=$!
for _ in $(seq 50); do in_ns curl -s -m 2 -o /dev/null "http://$PEER_IP:8088/" && break; sleep 0.1; done

# fetch EXPECTED_EXIT FLAGS...: runs http-get until it reports, then stops it.
fetch() {
  local want=$1
  shift
  APP_LOG=$(mktemp)
  ip netns exec "$NS" "$app" --tap tap0 --ipv4 "$APP_IP/24" "$@" >"$APP_LOG" 2>&1 &
  APP_PID=$!
  for _ in $(seq 300); do grep -q "http-get: status\|http-get: .*: " "$APP_LOG" && break; sleep 0.1; done
  kill -TERM "$APP_PID"
  local status=0
  wait "$APP_PID" || status=$?
  APP_PID=
  grep "http-get:" "$APP_LOG" | sed 's/^/  /'
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
echo "http client on uni's stack against nginx: all checks passed"
