#!/usr/bin/env python3
"""Scripted memcached sessions, for memcache_differential.sh: each session is
sent to a server (split as written, pipelined) and its answers recorded.
Prints one transcript; two servers are compared by diffing them.

Normalised: VERSION and STAT values, and CAS uniques in VALUE lines (they
count stores the server made before the session); everything else is kept
byte for byte.
Over UDP (when UDP_PORT is given): one datagram per request with memcached's
8-byte frame, the frames of the answer printed with its bytes; requests past a
page, and values continued in the datagrams after their request.
   memcache_sessions.py PORT [UDP_PORT]
"""
import re
import socket
import struct
import sys
import time

port = int(sys.argv[1])


def talk(pieces, settle=0.25):
    """Sends each piece (pausing between them, so they arrive split) and returns all answers."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    out = b""
    for p in pieces:
        s.sendall(p)
        time.sleep(0.02)
    s.settimeout(settle)
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    s.close()
    return out


def normalise(b):
    b = re.sub(rb"VERSION [^\r]*", b"VERSION x", b)
    b = re.sub(rb"STAT (\S+) [^\r]*", rb"STAT \1 x", b)
    b = re.sub(rb"(VALUE \S+ \d+ \d+) \d+\r\n", rb"\1 CAS\r\n", b)
    return re.sub(rb"^((?:VA \d+|HD|NS|EX|NF|EN)(?: \S+)*?) c\d+", rb"\1 cCAS", b, flags=re.M)


K250 = b"k" * 250
K251 = b"k" * 251
LIMIT = 1048576 - 48 - 8 - 1 - 2 - 3  # largest value memcached -I 1m takes for a 3-byte key
big = b"b" * LIMIT

sessions = {
    "storage": [b"flush_all\r\nset a 5 0 3\r\nabc\r\nget a\r\nadd a 0 0 1\r\n2\r\nadd n 1 0 1\r\n2\r\n"
                b"replace zz 0 0 1\r\n1\r\nreplace n 2 0 2\r\n22\r\nappend a 0 0 1\r\n5\r\nprepend a 0 0 1\r\n4\r\n"
                b"append zz 0 0 1\r\n5\r\nget a n zz\r\nset e 0 0 0\r\n\r\nget e\r\n"],
    "noreply": [b"set a 0 0 1 noreply\r\n1\r\nadd a 0 0 1 noreply\r\n2\r\nreplace a 0 0 1 noreply\r\n3\r\n"
                b"append a 0 0 1 noreply\r\n4\r\nprepend a 0 0 1 noreply\r\n5\r\nincr b 1 noreply\r\n"
                b"set n 0 0 1 noreply\r\n7\r\nincr n 5 noreply\r\ndecr n 1 noreply\r\ntouch n 100 noreply\r\n"
                b"delete zz noreply\r\ncas a 0 0 1 1 noreply\r\nx\r\nflush_all x noreply\r\nget a n\r\n"
                b"delete n noreply\r\nflush_all noreply\r\nget a\r\n"],
    "counters": [b"set a 0 0 2\r\n10\r\ndecr a 5\r\nget a\r\nincr a 100\r\nget a\r\n"
                 b"set n 0 0 20\r\n18446744073709551615\r\nincr n 2\r\nget n\r\ndecr n 5\r\n"
                 b"set t 0 0 2\r\nab\r\nincr t 1\r\nincr n 18446744073709551616\r\nincr n -1\r\n"
                 b"decr nn 1\r\nincr zz 1\r\nincr\r\ndecr a\r\n"],
    "errors": [b"foo\r\n\r\n \r\nGET a\r\nset d 0 0 -1\r\nset d 0 0 x\r\nset d x 0 1\r\n"
               b"set c 0 0 1\r\nabc\r\nget c\r\nset c 0 0 1\r\nab\r\nget c\r\n"
               b"incr\r\nget\r\ngets\r\nset x\r\ncas a 0 0 1\r\nverbosity\r\nverbosity 1\r\n"
               b"delete a 0\r\ndelete a 1\r\ndelete a 1 noreply\r\ndelete\r\nflush_all x\r\ntouch a\r\ntouch a x\r\n"
               b"gat a\r\ngat 10\r\nmn\r\n"],
    "keys": [b"set " + K250 + b" 0 0 1\r\nx\r\nget " + K250 + b"\r\nset " + K251 + b" 0 0 1\r\nx\r\n"
             b"delete " + K250 + b"\r\n"],
    # Alone: memcached drops the answers queued before a get that fails on a
    # long key in the same read; uni does not.
    "a key too long in get": [b"get " + K251 + b"\r\n"],
    "big values": [b"set big 0 0 %d\r\n" % LIMIT, big[:300000], big[300000:], b"\r\nget big\r\n",
                   b"set big 0 0 %d\r\n" % (LIMIT + 1), big, b"x\r\nget big\r\nversion\r\n"],
    "gat and touch": [b"set t 5 100 2\r\nab\r\ntouch t 0\r\ntouch zz 0\r\ngat 0 t zz\r\ngats 0 t\r\n"
                      b"gat 100 zz\r\ntouch t 1000\r\nget t\r\n"],
    "split everywhere": [bytes([c]) for c in
                         b"set s 3 0 5\r\nhello\r\nget s\r\nincr x 1\r\nappend s 0 0 2\r\n!!\r\nget s zz s\r\ndelete s\r\n"],
    "pipelined": [b"".join(b"set p%d 0 0 %d\r\n%s\r\n" % (i, len(str(i)), str(i).encode()) for i in range(200))
                  + b"get " + b" ".join(b"p%d" % i for i in range(200)) + b"\r\n"
                  + b"".join(b"incr p%d %d\r\n" % (i, i) for i in range(200))],
    # The meta commands (memcached 1.6.18's flags): mg, ms, md, ma, mn.
    "meta get": [b"ms a 2 F7\r\nhi\r\nmg a\r\nmg a s v\r\nmg a h l t\r\nmg a v c f s t k O1 q h l\r\n"
                 b"mg a T10 t\r\nmg a u h\r\nmg zz v\r\nmg zz v q\r\nmg zz k O2\r\nmg zz q k\r\nmg a  v\r\n"
                 b"mg a P L O\r\nmn\r\n"],
    "meta set": [b"ms b 2 T0 F7 c k O9\r\nhi\r\nms b 2 q\r\nhi\r\nms b 2 ME\r\nzz\r\nms nb 2 MR c O5\r\nzz\r\n"
                 b"ms b 1 MA\r\n!\r\nms b 1 MP\r\n<\r\nmg b v f\r\nms nb 1 MA\r\n!\r\nms b 2 C1\r\nhi\r\n"
                 b"ms nx 2 C1\r\nhi\r\nms b 1 MA C1 c k\r\nz\r\nms b 1 MA C0 c\r\nz\r\nms b 2 ME C1 c\r\nhi\r\n"
                 b"ms b 2 ME q\r\nhi\r\nmg b v\r\nms " + K250 + b" 1\r\nx\r\nms " + K251 + b" 1\r\nx\r\n"
                 b"ms big %d\r\n" % (LIMIT + 1), big, b"x\r\nmg big s\r\nmn\r\n"],
    "meta delete": [b"ms d 2\r\nhi\r\nmd d q\r\nmd d q\r\nmd d k O5\r\nms d 2\r\nhi\r\nmd d C1\r\nmd d C0 q\r\n"
                    b"md d\r\nmn\r\n"],
    "meta arithmetic": [b"ma c\r\nma c q\r\nma c N0 J5 v\r\nma c v t c k O1 D10\r\nma c MD D100 v\r\n"
                        b"ma c M- v\r\nma c M+ v\r\nma c MI v\r\nma c q v\r\nma c T30 t v\r\nma c C1 v\r\n"
                        b"ms s 2\r\nab\r\nma s\r\nma c D18446744073709551615 v\r\nma c v\r\nma c q\r\nmn\r\n"],
    "meta stale and win": [b"mg w v N30 c t s f k\r\nmg w v N30 c t\r\nms w 3 C1\r\nnew\r\nmg w v c\r\n"
                           b"mg w2 N30 q\r\nmg w2 v\r\nms t 1 T100\r\na\r\nmd t I T30\r\nmg t v t\r\nmg t v t\r\n"
                           b"ms t 1 C1 I\r\nb\r\nmg t v\r\nms t 1 C1\r\nc\r\nms r 1 T10\r\nr\r\nmg r v R30\r\n"
                           b"mg r v R30\r\nmg r v R5\r\nmn\r\n"],
    "meta base64 keys": [b"ms ZGQ= 1 b k c\r\nx\r\nmg dd k v\r\nget dd\r\nmg ZGQ= b k s\r\nmg Zm9v b k\r\n"
                         b"mg ZA b\r\nmg ZA= b\r\nmg ==== b\r\nmd ZA== b k\r\nma ZGQ= b\r\nmd ZGQ= b q\r\nmg dd\r\nmn\r\n"],
    "meta errors": [b"mg\r\nms\r\nmd\r\nma\r\nmg a a\r\nmg a v v\r\nmg a 1\r\nmg a T\r\nmg a Tx\r\nmg a O" + b"o" * 33
                    + b"\r\nmg a F1 M1 J D1 C1 I\r\nmg a E1\r\nmg a a b c d e f g h i j k l m n o p q r\r\n"
                    b"mg a b c d e f g h i j k l m n o p q\r\nms a 1 c c\r\nx\r\nms b 1 MX\r\n!\r\nms b x\r\nhi\r\n"
                    b"ms b\r\nms b -1\r\nms b 2 S5\r\nhi\r\nms b 2 MEq\r\nhi\r\nms b 3\r\nhi\r\nmg b v\r\n"
                    b"md a C\r\nmd d x\r\nmd d Q\r\nma a J\r\nma c Mx\r\nma c D-1\r\nma c Dx\r\nma c S2\r\n"
                    b"ma c J99999999999999999999 N0\r\nmg " + K251 + b" v\r\nmn\r\n"],
}

out = []
for name, pieces in sessions.items():
    out.append(b"== " + name.encode() + b"\n" + normalise(talk(pieces)))

# CAS: the unique from this server's gets, then a conflict.
s = talk([b"set c 0 0 1\r\n1\r\ngets c\r\n"])
unique = re.search(rb"VALUE c 0 1 (\d+)", s).group(1)
out.append(b"== cas\n" + normalise(s) + talk([b"cas c 0 0 1 " + unique + b"\r\n2\r\ncas c 0 0 1 " + unique +
                                             b"\r\n3\r\ncas zz 0 0 1 1\r\n4\r\ncas c 0 0 1 x\r\n5\r\nget c\r\n"]))

# Expiry with a clock that moves: relative, absolute, negative; then a delayed flush.
now = int(time.time())
out.append(b"== expiry set\n" + talk([b"set r 0 1 1\r\nr\r\nset l 0 100 1\r\nl\r\nset a 0 %d 1\r\na\r\n" % (now + 1)
                                      + b"set past 0 %d 1\r\np\r\nset neg 0 -1 1\r\nn\r\nget past neg\r\n" % (now - 10)]))
time.sleep(3.2)
out.append(b"== expiry after 3 s\n" + talk([b"get r l a past neg\r\nset f 0 0 1\r\n1\r\nflush_all 3\r\nget f l\r\n"]))
time.sleep(3.2)
out.append(b"== after the delayed flush\n" + talk([b"get f l\r\nset g 0 0 1\r\n1\r\nget g\r\n"]))


def udp(payload, rid=1, seq=0, total=1, settle=0.15, s=None, raw=False):
    """One request datagram (from socket s if given, or a fresh one; without
    the frame if raw); returns its answer's frames and bytes, in order."""
    own = s is None
    if own:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto((b"" if raw else struct.pack(">HHHH", rid, seq, total, 0)) + payload, ("127.0.0.1", int(sys.argv[2])))
    s.settimeout(settle)
    got = []
    try:
        while True:
            got.append(s.recv(65536))
    except socket.timeout:
        pass
    if own:
        s.close()
    got.sort(key=lambda d: struct.unpack(">H", d[2:4]))
    frames = b" ".join(b"[%d %d/%d %d]" % struct.unpack(">HHHH", d[:8]) for d in got)
    return frames + b"\n" + normalise(b"".join(d[8:] for d in got))


if len(sys.argv) > 2:
    value = b"u" * 20000
    requests = [
        (b"set u 1 0 3\r\nabc\r\n", {}), (b"get u\r\n", {"rid": 513}), (b"get u zz u\r\n", {}),
        (b"gets u\r\n", {}), (b"get zz\r\n", {}), (b"set w 0 0 2000\r\n" + value[:2000] + b"\r\n", {}),
        (b"get v w\r\n", {"rid": 65535}), (b"get u\r\n", {"total": 2}), (b"get u\r\n", {"seq": 1}),
        (b"get", {}), (b" u\r\n", {}), (b"mg u v f c k\r\n", {}), (b"incr u 1\r\n", {}),
        (b"version\r\n", {}), (b"bogus\r\n", {}),
    ]
    answers = [b"== udp"]
    # Request datagrams past a page (the host stack's and the TAP stack's unit).
    answers.append(udp(b"set v 0 0 20000\r\n" + value + b"\r\n"))
    answers.append(udp(b"set v2 0 0 40000\r\n" + b"w" * 40000 + b"\r\n" + b"get u\r\n", rid=40))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"\0\1\0", ("127.0.0.1", int(sys.argv[2])))  # shorter than the frame: dropped
    for payload, frame in requests:
        answers.append(udp(payload, **frame))
    out.append(b"\n".join(answers))
    # A value the request datagram cuts short: memcached reads the next
    # datagrams whole, their frame included, as the rest of it (and the rest of
    # such a datagram is lost), then answers the request's sender and id.
    # From one socket, so those answers come back.
    one = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    split = [
        (b"set s 0 0 10\r\n12345", {"rid": 21}), (b"67890\r\nget s\r\n", {"rid": 22}),  # bad data chunk
        (b"set t 0 0 10\r\n", {"rid": 23}), (b"ab\r\n", {"rid": 24}),  # the frame fills the value: stored
        (b"get t\r\n", {}),
        (b"get u\r\nset f 0 0 4\r\nab", {"rid": 25}), (b"\0\1", {"raw": True}), (b"get f\r\n", {"rid": 26}),
        (b"set g 0 0 3 noreply\r\nab", {}), (b"\r\nget g\r\n", {}), (b"get g t\r\n", {}),
        # Answers before the value: those up to the last get or mn go at once, the others with the value's.
        (b"delete zz\r\nget u\r\nmg u v\r\nset h 0 0 2\r\n", {"rid": 30}), (b"h", {"rid": 31}),
        (b"mg u v\r\nmn\r\nversion\r\nset h 0 0 2\r\n", {"rid": 32}), (b"", {"rid": 33}),
        # A get whose first key misses: memcached sends an empty message (a frame saying 0 datagrams) first.
        (b"get zz u\r\n", {"rid": 34}), (b"get zz yy u\r\nget zz yy\r\ngets u zz u\r\n", {"rid": 35}),
        # One past the item limit: swallowed across datagrams, answered once all of it came.
        (b"set big 0 0 1048600\r\nabc", {"rid": 27}),
    ] + [(b"x" * 40000, {})] * 26 + [(b"y" * 8383, {"rid": 28}), (b"get big u\r\n", {"rid": 29})]
    answers = [b"== udp, a value over several datagrams"]
    for payload, frame in split:
        answers.append(udp(payload, s=one, settle=0.05, **frame))
    out.append(b"\n".join(answers))
sys.stdout.buffer.write(b"\n".join(out) + b"\n")
