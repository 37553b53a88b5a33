#!/usr/bin/env bash
# tests/integration/vchan_twin.sh VCHAN-ECHO-SOCKET [WWW-VCHAN-SOCKET]: the POSIX
# twin of a vchan (a Unix domain socket, --vchan PATH) serving examples/vchan-echo.
# A python3 client sends 10 MiB and must get them back byte for byte; then a
# client that dies mid-transfer (SIGKILL) must leave the appliance ending cleanly
# (status 0), as dom0's end killed does on Xen; without --vchan it refuses to
# start (2). With www-vchan (examples/www over the vchan byte stream), curl
# --unix-socket fetches its home page and style sheet over one kept-alive
# stream, then a second stream gets the home page again, and a third asking to
# close is ended after the linger though the client keeps its end open.
set -u
app=$1 www=${2:-}
command -v python3 >/dev/null || { echo "SKIP: python3 is the client"; exit 77; }
work=$(mktemp -d) && trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
sock=$work/vchan.sock
head -c 10485760 /dev/urandom >"$work/sent"
fail() { echo "FAIL: $*"; cat "$work/log"; exit 1; }
start() {
  "$app" --vchan "$sock" >"$work/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do [[ -S $sock ]] && return; sleep 0.05; done
  fail "no socket at $sock"
}
client() {  # MODE: echo (all of it back, compared) or die (killed after 1 MiB)
  python3 - "$sock" "$work/sent" "$1" <<'PY'
import os, signal, socket, sys, threading
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
data = open(sys.argv[2], "rb").read()
got = bytearray()
def read():
    while len(got) < len(data):
        b = s.recv(65536)
        if not b:
            break
        got.extend(b)
        if sys.argv[3] == "die" and len(got) >= 1 << 20:
            os.kill(os.getpid(), signal.SIGKILL)
t = threading.Thread(target=read)
t.start()
try:
    s.sendall(data)
except OSError:
    pass
t.join()
sys.exit(0 if bytes(got) == data else 1)
PY
}
start
client echo || fail "the 10 MiB did not come back intact"
wait $pid || fail "vchan-echo exited $? after the echo"
grep -q "10485760 bytes echoed; ended by the peer going" "$work/log" || fail "no count of the bytes echoed"
echo "10 MiB echoed byte for byte over the Unix socket"
rm -f "$sock"
start
{ client die; } 2>/dev/null && fail "the dying client survived"
wait $pid || fail "vchan-echo exited $? after its peer was killed"
grep -q "ended by the peer going" "$work/log" || fail "no clean end after the peer died"
echo "a peer killed mid-transfer: $(grep -o '[0-9]* bytes echoed' "$work/log"), exit status 0"
"$app" >"$work/log" 2>&1
[[ $? == 2 ]] || fail "no refusal without --vchan"
if [[ -n $www ]] && command -v curl >/dev/null; then
  rm -f "$sock"
  app=$www start
  curl -sS --max-time 5 --unix-socket "$sock" -o "$work/page" http://www/ -o "$work/css" http://www/style.css ||
    fail "curl over the Unix socket"
  grep -q "served by <strong>www</strong>" "$work/page" && grep -q "font-family" "$work/css" ||
    fail "the page or the style sheet is not the site's"
  curl -sS --max-time 5 --unix-socket "$sock" http://www/ | cmp -s - "$work/page" || fail "the second stream's page differs"
  # A client that asks to close but keeps its end open (as vchan-socket-proxy
  # does): the stream ends after the 2 s linger, not at the idle deadline (30 s).
  python3 - "$sock" <<'PY' || fail "www-vchan did not end a 'Connection: close' stream within 5 s"
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(10)
t0 = time.monotonic()
s.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: www\r\nConnection: close\r\n\r\n")
got = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
sys.exit(0 if got.startswith(b"HTTP/1.1 200") and time.monotonic() - t0 < 5 else 1)
PY
  kill -TERM $pid; wait $pid || fail "www-vchan exited $? on SIGTERM"
  grep -q "www: 3 connections, 4 requests" "$work/log" || fail "www-vchan's counters: $(grep 'www:' "$work/log")"
  echo "www-vchan served its site to curl over the Unix socket twin (4 requests, 3 streams; a close after the linger)"
fi
echo "PASS"
