#!/usr/bin/env bash
# The memcache appliance over host sockets, judged by memcached's own clients:
# memccapable -a (libmemcached-tools) passes, pymemcache stores and reads back
# values; and hostile clients stay bounded while the cache keeps serving: a
# partial command held open is closed at --command-timeout, a declared length
# far past the limit is refused at once, a flood past --max-connections is
# refused (counted) and the cache still answers. Skips (77) without the clients.
#   memcache_socket.sh PATH_TO_memcache-socket
set -euo pipefail
app=$1
# Debian's python3-pymemcache is in the system's python, which a pyenv shim may hide.
py=
for p in /usr/bin/python3 python3; do "$p" -c 'import pymemcache' 2>/dev/null && { py=$p; break; }; done
command -v memccapable >/dev/null && [[ -n "$py" ]] ||
  { echo "SKIP: memccapable or pymemcache missing (scripts/setup.sh installs them)"; exit 77; }
port=$((20000 + RANDOM % 10000))
dir=$(mktemp -d)
pid=
trap 'rc=$?; [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; ((rc)) && cat "$dir/log"; rm -rf "$dir"' EXIT
"$app" --port "$port" --memory 16 --max-connections 40 --command-timeout 2 2>"$dir/log" &
pid=$!
for _ in $(seq 50); do grep -q listening "$dir/log" && break; sleep 0.1; done
grep -q "listening on tcp 127.0.0.1:$port" "$dir/log" || { echo "FAIL: did not start"; exit 1; }

timeout 50 memccapable -a -h 127.0.0.1 -p "$port" >"$dir/capable" 2>&1 || { cat "$dir/capable"; echo "FAIL: memccapable -a"; exit 1; }
echo "memccapable -a: $(grep -c '\[pass\]' "$dir/capable") ascii tests pass"

timeout 50 "$py" - "$port" <<'PY'
import socket, sys, time
from pymemcache.client.base import Client
port = int(sys.argv[1])
c = Client(("127.0.0.1", port), connect_timeout=5, timeout=5, default_noreply=False)
values = {f"key{i}": (f"value {i} " * (i % 50)).encode() for i in range(500)}
c.set_many(values)
assert c.get_many(list(values)) == {k: v for k, v in values.items()}, "get_many"
c.set("n", "41")
assert c.incr("n", 1) == 42 and c.decr("n", 50) == 0, "incr/decr"
v, cas = c.gets("n")
assert c.cas("n", "7", cas) and not c.cas("n", "8", cas), "cas"
big = b"x" * 1000000
c.set("big", big)
assert c.get("big") == big, "a 1 MB value"
assert c.add("n", "1") is False and c.replace("n", "9") and c.get("n") == b"9", "add/replace"
assert c.touch("n", 100) and c.delete("n") and c.get("n") is None, "touch/delete"
print("pymemcache: 500 keys, counters, cas, a 1 MB value, add/replace/touch/delete")
# The stats pymemcache parses (its types for memcached's keys), as a monitoring tool reads them.
st, settings, slabs, items = c.stats(), c.stats("settings"), c.stats("slabs"), c.stats("items")
assert st[b"curr_items"] >= 500 and st[b"threads"] == 1 and st[b"limit_maxbytes"] > 0, "stats"
assert settings[b"evictions"] == b"on" and settings[b"cas_enabled"] == b"yes" and settings[b"item_size_max"] == 1 << 20
assert slabs[b"active_slabs"] >= 2 and any(k.endswith(b":total_chunks") for k in slabs), "stats slabs"
assert any(k.endswith(b":mem_requested") for k in items), "stats items"
print("pymemcache: stats, stats settings, slabs, items read")

def stat(name):
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(b"stats\r\n")
    out = b""
    while not out.endswith(b"END\r\n"):
        out += s.recv(65536)
    s.close()
    for line in out.decode().split("\r\n"):
        if line.startswith("STAT " + name + " "):
            return int(line.split()[2])

# A partial command held open: closed after --command-timeout (2 s).
slow = socket.create_connection(("127.0.0.1", port)); slow.sendall(b"set slow 0 0 10\r\nabc")
slow.settimeout(8)
t = time.time(); assert slow.recv(100) == b"", "held-open partial command not closed"
assert 1 < time.time() - t < 8 and stat("idle_kicks") >= 1
# A declared length far past the limit: refused at once, the connection still serves.
s = socket.create_connection(("127.0.0.1", port)); s.settimeout(5)
s.sendall(b"set far 0 0 4000000000\r\n")
assert s.recv(100) == b"SERVER_ERROR object too large for cache\r\n"
# A flood past --max-connections (40): the extra ones are refused, counted.
flood = [socket.create_connection(("127.0.0.1", port)) for _ in range(60)]
time.sleep(0.5)
refused = 0
for f in flood:
    f.settimeout(0.05)
    try:
        if f.recv(100).startswith(b"ERROR Too many open connections"): refused += 1
    except socket.timeout:
        pass
assert refused >= 20, refused
for f in flood: f.close()
s.close()
time.sleep(0.5)
assert Client(("127.0.0.1", port), timeout=5).get("key7") == values["key7"], "serving after the flood"
print(f"hostile: partial command closed at the timeout, 4 GB declared refused, {refused} of 60 flooding connections refused, still serving")
PY
kill -TERM "$pid"
wait "$pid" || true
pid=
grep -q "memcache: .* connections" "$dir/log" || { echo "FAIL: no counters at exit"; exit 1; }
grep "memcache: .* connections" "$dir/log"
