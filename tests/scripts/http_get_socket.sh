#!/usr/bin/env bash
# examples/http-get over host sockets (SocketStack) fetching by name: NSD on
# 127.0.0.1 serves the zone test. (www, a CNAME to it), Python's http.server
# serves a file; the stub resolver asks NSD over the host's UDP (--dns). The
# file must come back equal by name and by CNAME, and a name that does not
# exist must fail with NXDOMAIN in the log and exit status 1. Any user.
#   http_get_socket.sh PATH_TO_http-get-socket
set -euo pipefail
app=$1
command -v nsd >/dev/null && command -v dig >/dev/null || { echo "SKIP: no nsd or dig"; exit 77; }
source "$(dirname "$0")/../integration/nsd.sh"
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
web_port=$((20000 + RANDOM % 12000)) dns_port=$((web_port + 1))

mkdir "$work/files"
head -c 300000 /dev/urandom >"$work/files/data.bin"
python3 -m http.server --bind 127.0.0.1 --directory "$work/files" "$web_port" >"$work/web.log" 2>&1 &
pids+=($!)
printf '$ORIGIN test.\n$TTL 60\n@ SOA ns host 1 7200 3600 1209600 60\n  NS ns\nns A 127.0.0.1\nwww A 127.0.0.1\nalias CNAME www\n' \
  >"$work/test.zone"
nsd_conf "$work" 127.0.0.1 "$dns_port" test test.zone >"$work/nsd.conf"
timeout 60 nsd -d -c "$work/nsd.conf" >"$work/nsd.out" 2>&1 &
pids+=($!)

# get EXPECTED_EXIT URL: http-get ends by itself once it has its answer (no
# signal: a 2xx is exit 0, anything else 1); its log in $work/app.log.
get() {
  local status=0
  timeout 10 "$app" --dns "127.0.0.1:$dns_port" --url "$2" --out "$work/got" >"$work/app.log" 2>&1 || status=$?
  sed 's/^/  /' "$work/app.log" | grep "http"
  ((status != 124)) || { cat "$work/app.log"; fail "http-get $2 was still running after 10 s"; }
  [[ $status == "$1" ]] || { cat "$work/app.log"; fail "http-get $2 exited with $status, not $1"; }
}

# Both peers up: the web server answers, and NSD serves the zone (NSD's log says
# "started" before its zone is loaded: asking too early draws SERVFAIL).
ready=""
for _ in $(seq 200); do
  if curl -s -m 1 -o /dev/null "http://127.0.0.1:$web_port/" &&
     [[ $(dig +short +tries=1 +time=1 -p "$dns_port" @127.0.0.1 www.test A 2>/dev/null) == 127.0.0.1 ]]; then
    ready=yes
    break
  fi
  sleep 0.1
done
[[ -n $ready ]] || { cat "$work/nsd.out" "$work/web.log"; fail "NSD or the web server did not start"; }
get 0 "http://www.test:$web_port/data.bin"
cmp -s "$work/got" "$work/files/data.bin" || fail "by name: contents differ"
get 0 "http://alias.test.:$web_port/data.bin"
cmp -s "$work/got" "$work/files/data.bin" || fail "by CNAME: contents differ"
get 1 "http://nowhere.test:$web_port/data.bin"
grep -q "nowhere.test: no such name (NXDOMAIN)" "$work/app.log" || fail "NXDOMAIN not reported"
echo "PASS: http-get over host sockets resolves names through NSD"
