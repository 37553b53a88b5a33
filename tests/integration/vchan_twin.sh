#!/usr/bin/env bash
# tests/integration/vchan_twin.sh VCHAN-ECHO-SOCKET: the POSIX twin of a vchan
# (a Unix domain socket, --vchan PATH) serving examples/vchan-echo. A python3
# client sends 10 MiB and must get them back byte for byte; then a client that
# dies mid-transfer (SIGKILL) must leave the appliance ending cleanly (status 0),
# as dom0's end killed does on Xen; without --vchan it refuses to start (2).
set -u
app=$1
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
echo "PASS"
