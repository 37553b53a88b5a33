#!/usr/bin/env bash
# The tweets appliance (examples/tweets) over host sockets, judged by Python's
# HTTP client and JSON parser: tweets come back newest first and exactly as
# posted (quotes, backslashes, control characters, UTF-8); a user keeps the
# last 100; bad names are 400, a 281-byte tweet 413, the 129th user 503; a
# chunked POST works; 50 clients post and read at once. The tweets are kept in
# the B-tree on its disk (a file, O_DIRECT): after a restart every user reads
# back exactly what it read before, and ids go on from there.
#   tweets_socket.sh PATH_TO_tweets-socket
set -euo pipefail
app=$1
port=$((20000 + RANDOM % 12000))
work=$(mktemp -d /var/tmp/uni-tweets-XXXXXX)  # a real file system: /tmp may refuse O_DIRECT
log=$work/log
pid=
trap 'rc=$?; [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; ((rc)) && cat "$log"; rm -rf "$work"' EXIT
truncate -s 32M "$work/disk.img"
start() {
  "$app" --port "$port" --disk "$work/disk.img" 2>"$log" &
  pid=$!
  for _ in $(seq 50); do grep -q "listening on" "$log" && break; sleep 0.1; done
  grep -q "listening on http://127.0.0.1:$port/" "$log" || { echo "FAIL: did not start"; exit 1; }
}
start

timeout 120 python3 - "$port" <<'EOF'
import http.client, json, sys, threading
port = int(sys.argv[1])

def call(method, path, body=None, headers={}):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, body=body, headers=headers, encode_chunked="Transfer-Encoding" in headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data

def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)

texts = ['plain', 'quote " and backslash \\', 'tab\tnewline\ncontrol\x01', 'UTF-8: héllo ✓ 🐦']
ids = []
for t in texts:
    s, d = call("POST", "/users/ann/tweets", t.encode())
    check(s == 201, f"POST: {s} {d}")
    ids.append(json.loads(d)["id"])
s, d = call("GET", "/users/ann/tweets")
check(s == 200, f"GET: {s}")
got = json.loads(d)
check(got["user"] == "ann", "user name")
check([t["text"] for t in got["tweets"]] == texts[::-1], f"tweets: {got}")
check([t["id"] for t in got["tweets"]] == ids[::-1], "ids newest first")
print("ok: 4 tweets back as posted, newest first (JSON escapes checked by Python's parser)")

for i in range(150):
    check(call("POST", "/users/bob/tweets", f"tweet {i}".encode())[0] == 201, "POST bob")
got = json.loads(call("GET", "/users/bob/tweets")[1])["tweets"]
check(len(got) == 100 and got[0]["text"] == "tweet 149" and got[-1]["text"] == "tweet 50", "ring of 100")
print("ok: after 150 tweets a user shows the last 100")

check(call("GET", "/users/nobody/tweets") == (200, b'{"user":"nobody","tweets":[]}\n'), "unknown user: empty list")
check(call("POST", "/users/bad%20name/tweets", b"x")[0] == 400, "bad name")
check(call("POST", "/users/" + "n" * 33 + "/tweets", b"x")[0] == 400, "long name")
check(call("POST", "/users/ann/tweets", b"x" * 281)[0] == 413, "281 bytes")
check(call("POST", "/users/ann/tweets", b"")[0] == 400, "empty tweet")
check(call("DELETE", "/users/ann/tweets")[0] == 405, "DELETE")
check(call("GET", "/nothing")[0] == 404, "404")
def chunks():
    yield b"chunked "
    yield b"upload"
s, d = call("POST", "/users/carol/tweets", chunks(), {"Transfer-Encoding": "chunked"})
check(s == 201, f"chunked POST {s}")
check(json.loads(call("GET", "/users/carol/tweets")[1])["tweets"][0]["text"] == "chunked upload", "chunked text")
print("ok: 400 for bad names and an empty tweet, 413 past 280 bytes, 405, 404; a chunked POST")

errors = []
def client(n):
    try:
        for k in range(20):
            if call("POST", f"/users/u{n}/tweets", f"{n}:{k}".encode())[0] != 201:
                errors.append(n)
        t = json.loads(call("GET", f"/users/u{n}/tweets")[1])["tweets"]
        if [x["text"] for x in t] != [f"{n}:{k}" for k in range(19, -1, -1)]:
            errors.append(n)
    except Exception as e:
        errors.append(f"{n}: {e}")
threads = [threading.Thread(target=client, args=(n,)) for n in range(50)]
for t in threads: t.start()
for t in threads: t.join()
check(not errors, f"concurrent clients: {errors[:5]}")
print("ok: 50 concurrent clients posted 20 tweets each and read them back")

# 4 users so far (ann, bob, carol) + 50: fill the table of 128, then one more.
for n in range(128 - 53):
    check(call("POST", f"/users/fill{n}/tweets", b"x")[0] == 201, "filling users")
check(call("POST", "/users/onetoomany/tweets", b"x")[0] == 503, "user 129 not 503")
check(call("POST", "/users/ann/tweets", b"still fine")[0] == 201, "existing user after full")
print("ok: the 129th user is refused with 503; existing users still post")
EOF
# Every user's tweets as JSON, one user a line: what a restart must give back.
snapshot() {
  timeout 60 python3 - "$port" <<'EOF'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
names = ["ann", "bob", "carol", "onetoomany"] + [f"u{n}" for n in range(50)] + [f"fill{n}" for n in range(75)]
for n in names:
    c.request("GET", f"/users/{n}/tweets")
    print(c.getresponse().read().decode().strip())
EOF
}
snapshot >"$work/before"
kill -TERM "$pid"
wait "$pid"
pid=
grep -q "tweets: 128 users" "$log" || { echo "FAIL: counters"; cat "$log"; exit 1; }
sed 's/^/  appliance: /' "$log"

start
grep -q "tweets: 1181 tweets of 128 users read back from the disk" "$log" || { echo "FAIL: read back"; exit 1; }
snapshot >"$work/after"
cmp -s "$work/before" "$work/after" || { echo "FAIL: after a restart"; diff "$work/before" "$work/after" | head; exit 1; }
again=$(curl -s -X POST --data-binary "again" "http://127.0.0.1:$port/users/ann/tweets")
[[ $again == '{"id":1232}' ]] || { echo "FAIL: the ids do not go on after a restart: $again"; exit 1; }
kill -TERM "$pid"
wait "$pid"
pid=
echo "ok: after a restart every user's tweets read back the same, and ids go on"
echo "tweets over host sockets: all checks passed"
