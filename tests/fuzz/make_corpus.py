#!/usr/bin/env python3
"""Splits pcap captures (capture.sh) into the fuzz seed corpora, corpus/<target>/.

    make_corpus.py OUT_DIR CAPTURE.pcap...

Each target gets the input shape its harness reads (see the comment at the top of
each *_fuzz.cpp):
  ethernet  one frame per file (frames sent to the appliance and by it)
  arp       the ARP packet (Ethernet payload)
  ipv4      records (fuzz_support.hpp): one IPv4 packet, or all fragments of one datagram
  icmp      the ICMP message (fragmented ones reassembled)
  udp       source and destination address, then the UDP datagram (reassembled)
  dhcp      the UDP payload of ports 67/68
  stack     records: the frames sent to the appliance, in order, with the time
            between them (quarter seconds), up to 8 frames per file
  dhcp_stack  the same, from captures with DHCP, with the 0x40 bit that lets
            dnsmasq's replies match the fuzzed client's transaction
Files are named by content hash; inputs of the same shape (protocol, type, size
class) are kept once, so each target gets tens of files, not thousands.
"""
import hashlib
import os
import struct
import sys

APP_MAC = bytes.fromhex("02756e690002")
MAX_PER_TARGET = 40


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    scale = 1e-9 if magic in (0xA1B23C4D, 0x4D3CB2A1) else 1e-6
    at = 24
    while at + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(endian + "IIII", data[at:at + 16])
        yield sec + frac * scale, data[at + 16:at + 16 + incl]
        at += 16 + incl


def record(control, payload):
    return bytes([control]) + struct.pack(">H", len(payload)) + payload


def size_class(n):
    return n.bit_length()


class Corpus:
    def __init__(self):
        self.files = {}  # target -> {shape: bytes}

    def add(self, target, shape, data):
        shapes = self.files.setdefault(target, {})
        if shape not in shapes and len(shapes) < MAX_PER_TARGET:
            shapes[shape] = data

    def write(self, out):
        for target, shapes in sorted(self.files.items()):
            d = os.path.join(out, target)
            os.makedirs(d, exist_ok=True)
            for data in shapes.values():
                name = hashlib.sha1(data).hexdigest()[:16]
                with open(os.path.join(d, name), "wb") as f:
                    f.write(data)
            print(f"{target}: {len(shapes)} files")


def ipv4_parts(packet):
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    hl = (packet[0] & 15) * 4
    total = struct.unpack(">H", packet[2:4])[0]
    ident, frag = struct.unpack(">HH", packet[4:8])
    return {"hl": hl, "total": total, "id": ident, "mf": bool(frag & 0x2000), "offset": (frag & 0x1FFF) * 8,
            "proto": packet[9], "src": packet[12:16], "dst": packet[16:20], "payload": packet[hl:total]}


def main():
    out, captures = sys.argv[1], sys.argv[2:]
    c = Corpus()
    fragments = {}  # (src, dst, proto, id) -> [(offset, mf, packet)]
    for path in captures:
        incoming, last_time, has_dhcp = [], None, False
        for t, frame in read_pcap(path):
            if len(frame) < 14:
                continue
            to_app = frame[6:12] != APP_MAC
            etype = struct.unpack(">H", frame[12:14])[0]
            body = frame[14:]
            ip = ipv4_parts(body) if etype == 0x0800 else None
            kind = (etype, ip["proto"] if ip else 0, ip["payload"][:1] if ip and ip["offset"] == 0 else b"")
            c.add("ethernet", (kind, to_app, size_class(len(frame))), frame)
            if to_app:
                ticks = 0 if last_time is None else min(63, int((t - last_time) * 4))
                incoming.append((ticks, frame))
                last_time = t
            if etype == 0x0806:
                c.add("arp", (body[6:8], to_app, body[14:18] == body[24:28]), body)
            if not ip:
                continue
            packet = body[:ip["total"]]
            c.add("ipv4", (kind, ip["hl"], ip["mf"] or ip["offset"] != 0, size_class(len(packet))), record(0, packet))
            if ip["mf"] or ip["offset"]:
                fragments.setdefault((ip["src"], ip["dst"], ip["proto"], ip["id"]), []).append(
                    (ip["offset"], ip["mf"], packet))
            else:
                l4_seed(c, ip, ip["payload"])
                if ip["proto"] == 17 and ip["payload"][2:4] == b"\x00\x44":
                    has_dhcp = True
        for i in range(0, len(incoming), 8):
            c.add("stack", (path, i), b"".join(record(t, f) for t, f in incoming[i:i + 8]))
            if has_dhcp:
                c.add("dhcp_stack", (path, i), b"".join(record(t | 0x40, f) for t, f in incoming[i:i + 8]))
    for key, frags in fragments.items():
        # All fragments of a datagram, as captured, then reassembled for the layers above.
        group = b"".join(record(0, p) for _, _, p in frags)
        c.add("ipv4", ("datagram", key[2], len(frags)), group)
        whole = bytearray()
        for offset, _, p in sorted(frags):
            parts = ipv4_parts(p)
            if offset != len(whole):
                break
            whole += parts["payload"]
        else:
            if not sorted(frags)[-1][1]:
                l4_seed(c, ipv4_parts(frags[0][2]), bytes(whole))
    c.write(out)


def l4_seed(c, ip, payload):
    if ip["proto"] == 1 and len(payload) >= 8:
        c.add("icmp", (payload[0], payload[1], size_class(len(payload))), payload)
    elif ip["proto"] == 17 and len(payload) >= 8:
        sport, dport = struct.unpack(">HH", payload[:4])
        c.add("udp", (min(sport, dport), size_class(len(payload))), ip["src"] + ip["dst"] + payload)
        if 67 in (sport, dport) and 68 in (sport, dport):
            c.add("dhcp", (payload[8:9], payload[8 + 240:8 + 250]), payload[8:])


if __name__ == "__main__":
    main()
