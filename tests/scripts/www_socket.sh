#!/usr/bin/env bash
# The www appliance over host sockets, judged by curl and Python clients
# (tests/scripts/www_checks.sh): the embedded site, keep-alive, Range,
# If-None-Match, a chunked upload, hostile requests, a slowloris head, 200
# concurrent connections, a bound on connections; then, serving a directory
# from disk (--root), a large file checked by sha256. SIGTERM stops it
# cleanly and its counters must show each rejection.
#   www_socket.sh PATH_TO_www-socket SITE_DIR [LARGE_SIZE]   (head -c size; default 100M)
set -euo pipefail
app=$1
SITE=$2
size=${3:-100M}
RUN=""
WORK=$(mktemp -d)
pid=
trap 'rc=$?; [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; ((rc)) && cat "$WORK/log"; rm -rf "$WORK"' EXIT
source "$(dirname "$0")/www_checks.sh"
source "$(dirname "$0")/www_socket_run.sh"  # start, stop

start --header-timeout 2 --max-connections 300
www_basic_checks
www_hostile_checks 2
www_concurrency_check 200
stop
grep -q "rejected 5 400, 1 404, 1 405, 1 413, 1 414, 1 416, 2 431, 2 501, 1 505; timeouts 1 head" "$WORK/log" ||
  die "the counters do not show each rejection once"
ok "counters: every rejection and the slowloris timeout counted"

# The bound on connections: idle keep-alive connections are evicted for new ones.
start --max-connections 20
python3 - "${BASE#http://}" <<'PY' || die "connection bound"
import socket, sys
host, port = sys.argv[1].split(":")
idle = []
for i in range(20):
    s = socket.create_connection((host, int(port)), timeout=5)
    s.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    idle.append(s)
fresh = []
for i in range(10):  # each needs a slot: the oldest idle one is closed for it
    s = socket.create_connection((host, int(port)), timeout=5)
    s.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 200"), "new connection not served"
    fresh.append(s)
def is_closed(s):
    s.settimeout(0.5)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
closed = [is_closed(s) for s in idle]
assert closed == [True] * 10 + [False] * 10, f"closed: {closed}"
print("ok: at the bound of 20 connections, 10 new ones were served by closing the 10 oldest idle ones")
PY
stop
grep -q " 10 evicted" "$WORK/log" || die "evictions not counted"

head -c "$size" /dev/urandom >"$WORK/large.bin"
start --root "$WORK"
www_large_file_check "$WORK/large.bin"
stop

# A --root that is no directory is the appliance's error at start: exit 2, one
# line naming the path (not 404s for everyone).
for bad in "$WORK/missing" "$WORK/large.bin"; do
  status=0
  timeout 10 "$app" --port 8080 --root "$bad" >"$WORK/log" 2>&1 || status=$?
  ((status == 2)) || die "--root $bad: exit status $status, not 2"
  { grep -q -- "--root" "$WORK/log" && grep -qF -- "$bad" "$WORK/log"; } || die "--root $bad: the error does not name the path: $(cat "$WORK/log")"
  (($(wc -l <"$WORK/log") == 1)) || die "--root $bad: more than the one line: $(cat "$WORK/log")"
done
echo "ok: --root on a missing directory or a regular file exits 2 naming the path"
echo "www over host sockets: all checks passed"
