# tests/scripts/www_checks.sh: sourced by www_socket.sh (host sockets) and
# tests/integration/www_tap.sh (uni's stack, TAP, in a namespace). Real clients
# judge the www appliance: curl for GET, HEAD, keep-alive, chunked upload,
# Range, If-None-Match, 404 and a large file by sha256; Python's sockets for
# hostile requests (each status checked), a slowloris head, and many
# concurrent keep-alive connections. Every client is bounded in time.
#
# The caller sets: BASE (http://host:port), SITE (the site directory), RUN (a
# command prefix running clients where the appliance is reachable, possibly
# empty) and WORK (a scratch directory); it calls the functions below.

ok() { echo "ok: $*"; }
die() { echo "FAIL: $*"; exit 1; }
client() { $RUN timeout 60 "$@"; }

www_basic_checks() {
  local host=${BASE#http://}
  # GET: the embedded file, byte for byte, with its type and validator.
  client curl -sS -D "$WORK/h" -o "$WORK/index" "$BASE/" || die "GET / failed"
  cmp -s "$WORK/index" "$SITE/index.html" || die "GET / differs from site/index.html"
  grep -qi '^content-type: text/html' "$WORK/h" || die "GET /: no text/html type: $(cat "$WORK/h")"
  grep -qi '^date: .* GMT' "$WORK/h" || die "GET /: no Date"
  local etag
  etag=$(grep -i '^etag:' "$WORK/h" | cut -d' ' -f2 | tr -d '\r')
  [[ -n "$etag" ]] || die "GET /: no ETag"
  client curl -sS -o "$WORK/about" "$BASE/about/" && cmp -s "$WORK/about" "$SITE/about/index.html" ||
    die "GET /about/ is not about/index.html"
  ok "GET / and /about/ equal the site's files (ETag $etag)"

  # HEAD: the same head, no body.
  client curl -sS -I -o "$WORK/head" "$BASE/" || die "HEAD failed"
  grep -qi "^content-length: $(stat -c %s "$SITE/index.html")" "$WORK/head" || die "HEAD: wrong length: $(cat "$WORK/head")"
  ok "HEAD: Content-Length as GET (its missing body is checked by pipelining below)"

  # Keep-alive: three requests, one connection.
  local connects
  connects=$(client curl -sS -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}' \
    "$BASE/" "$BASE/style.css" "$BASE/logo.svg")
  [[ "$connects" == 100 ]] || die "keep-alive: connects per request were $connects, not 1 0 0"
  ok "keep-alive: three requests over one connection"

  # If-None-Match: 304 with no body; a different tag: 200.
  [[ $(client curl -sS -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$BASE/") == 304 ]] || die "If-None-Match: no 304"
  [[ $(client curl -sS -o /dev/null -w '%{http_code}' -H 'If-None-Match: "other"' "$BASE/") == 200 ]] || die "If-None-Match: other tag not 200"
  ok "If-None-Match: 304 for the current tag, 200 for another"

  # Range: the bytes asked for, 206; past the end, 416.
  client curl -sS -o "$WORK/range" -w '%{http_code}' -r 10-19 "$BASE/" >"$WORK/code"
  [[ $(cat "$WORK/code") == 206 ]] || die "Range: status $(cat "$WORK/code")"
  cmp -s "$WORK/range" <(tail -c +11 "$SITE/index.html" | head -c 10) || die "Range 10-19: wrong bytes"
  [[ $(client curl -sS -o /dev/null -w '%{http_code}' -r 100000- "$BASE/") == 416 ]] || die "Range past the end: not 416"
  ok "Range: 206 with bytes 10-19, 416 past the end"

  # 404, and 405 for a method a file does not take.
  [[ $(client curl -sS -o /dev/null -w '%{http_code}' "$BASE/missing.html") == 404 ]] || die "no 404"
  [[ $(client curl -sS -o /dev/null -w '%{http_code}' -X DELETE "$BASE/index.html") == 405 ]] || die "no 405"
  ok "404 for a missing file, 405 for DELETE"

  # Dynamic routes: path parameters and query; a chunked upload streamed back.
  [[ $(client curl -sS "$BASE/api/hello/ann?greeting=hi") == "hi, ann" ]] || die "/api/hello"
  head -c 3000000 /dev/urandom >"$WORK/upload"
  client curl -sS -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/upload" -o "$WORK/echoed" "$BASE/api/echo" ||
    die "chunked upload failed"
  cmp -s "$WORK/upload" "$WORK/echoed" || die "chunked upload: echo differs ($(stat -c %s "$WORK/echoed") bytes)"
  ok "router: path parameter and query; 3 MB chunked upload echoed back (chunked) byte for byte"
}

# Hostile and malformed requests, raw, over TCP; then a slowloris head that
# the server must cut off after --header-timeout ($1 seconds).
www_hostile_checks() {
  local host=${BASE#http://} timeout=$1
  client python3 - "${host%:*}" "${host#*:}" "$timeout" <<'EOF' || die "hostile requests"
import socket, sys, time
host, port, head_timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

def exchange(raw, wait=5.0):
    s = socket.create_connection((host, port), timeout=wait)
    s.sendall(raw)
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return data

cases = [
    ("request line too long", b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("too many fields", b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(100)) + b"\r\n", 431),
    ("head too large", b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
    ("body too large", b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n", 413),
    ("no Host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("smuggling: both framings", b"POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("bad chunk size", b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    ("garbage", b"\x00\x01\x02 garbage\r\n\r\n", 400),
    ("unknown method", b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501),
    ("unknown coding", b"POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    ("HTTP/2 text", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ("dot segments", b"GET /%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", 400),
]
for name, raw, want in cases:
    got = exchange(raw)
    status = int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/1.1 ") else None
    if status != want:
        print(f"FAIL: {name}: wanted {want}, got {got[:80]!r}")
        sys.exit(1)
print(f"ok: {len(cases)} hostile requests answered 414/431/413/400/501/505 as RFC 9110/9112 say")

# Pipelining: three requests in one write, three answers in order.
got = exchange(b"GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /api/hello/bob HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
if got.count(b"HTTP/1.1 200 OK") != 3 or not got.endswith(b"hello, bob\n") or b"User-agent" not in got \
        or b"<!doctype" in got:
    print(f"FAIL: pipelining: {got!r}")
    sys.exit(1)
print("ok: three pipelined requests (GET, HEAD, a route) answered in order, HEAD without a body")

# Slowloris: a head that never ends is cut off after the header timeout.
s = socket.create_connection((host, port), timeout=head_timeout + 10)
start = time.time()
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
closed = False
s.settimeout(0.5)
for _ in range(int(head_timeout * 2) + 20):
    try:
        s.sendall(b"X-a: b\r\n")
        closed = s.recv(1) == b""  # our FIN
    except socket.timeout:
        continue
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    break
took = time.time() - start
if not closed or took > head_timeout + 3:
    print(f"FAIL: slowloris: closed={closed} after {took:.1f} s (timeout {head_timeout} s)")
    sys.exit(1)
print(f"ok: a slowloris head was cut off after {took:.1f} s (header timeout {head_timeout:.0f} s)")
EOF
}

# $1 concurrent connections, each making 5 keep-alive requests.
www_concurrency_check() {
  local host=${BASE#http://} conns=$1
  client python3 - "${host%:*}" "${host#*:}" "$conns" "$(stat -c %s "$SITE/index.html")" <<'EOF' || die "concurrent connections"
import asyncio, sys
host, port, conns, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
async def one(i):
    r, w = await asyncio.open_connection(host, port)
    good = 0
    for k in range(5):
        last = k == 4
        w.write(b"GET / HTTP/1.1\r\nHost: x\r\n" + (b"Connection: close\r\n" if last else b"") + b"\r\n")
        await w.drain()
        head = await r.readuntil(b"\r\n\r\n")
        n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
        body = await r.readexactly(n)
        good += head.startswith(b"HTTP/1.1 200") and n == size
    w.close()
    return good
async def main():
    res = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(conns))), 60)
    total = sum(res)
    print(f"ok: {conns} concurrent connections, {total} of {conns * 5} keep-alive requests answered in full")
    sys.exit(0 if total == conns * 5 else 1)
asyncio.run(main())
EOF
}

# A large file from a directory on disk (--root), checked by sha256.
www_large_file_check() {
  local file=$1
  local want got start end
  want=$(sha256sum <"$file" | cut -d' ' -f1)
  start=$(date +%s.%N)
  client curl -sS -o "$WORK/large.out" "$BASE/$(basename "$file")" || die "large file: curl failed"
  end=$(date +%s.%N)
  got=$(sha256sum <"$WORK/large.out" | cut -d' ' -f1)
  [[ "$got" == "$want" ]] || die "large file: sha256 differs ($(stat -c %s "$WORK/large.out") bytes came)"
  ok "$(stat -c %s "$file") bytes from disk, sha256 equal, $(awk -v a="$start" -v b="$end" -v s="$(stat -c %s "$file")" \
    'BEGIN { printf "%.2f s, %.0f MB/s", b - a, s / (b - a) / 1e6 }')"
  # A range from the middle of it.
  client curl -sS -o "$WORK/large.range" -r 50000000-50000099 "$BASE/$(basename "$file")"
  cmp -s "$WORK/large.range" <(tail -c +50000001 "$file" | head -c 100) || die "large file: range differs"
  ok "a 100-byte range from the middle of it"
}
