// tests/unit/frames.hpp: hand-built frames for tests, written from the RFCs'
// header diagrams independently of the stack's own emit() code, and a raw
// endpoint on a simulated link that sends and collects them.
#pragma once

#include <cstdint>
#include <vector>

#include <uni/core/checksum.hpp>
#include <uni/core/wire.hpp>
#include <uni/net/ipv4_address.hpp>
#include <uni/net/mac_address.hpp>
#include <uni/sim/sim_link.hpp>

namespace frames {

using bytes = std::vector<std::uint8_t>;
using uni::ipv4_address;
using uni::mac_address;
// The simulated link the stack tests run over.
using uni::sim::ManualClock;
using uni::sim::sim_link;
using uni::sim::SimNetif;

inline void put16(bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
inline void put32(bytes& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v >> 16));
  put16(b, static_cast<std::uint16_t>(v));
}
inline void put_mac(bytes& b, mac_address m) { b.insert(b.end(), m.bytes.begin(), m.bytes.end()); }
inline std::uint16_t get16(const bytes& b, std::size_t at) { return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]); }
inline std::uint32_t get32(const bytes& b, std::size_t at) {
  return std::uint32_t{get16(b, at)} << 16 | get16(b, at + 2);
}

inline bytes ethernet(mac_address dst, mac_address src, std::uint16_t type, const bytes& payload) {
  bytes b;
  put_mac(b, dst);
  put_mac(b, src);
  put16(b, type);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

inline bytes arp(std::uint16_t op, mac_address sha, ipv4_address spa, mac_address tha, ipv4_address tpa) {
  bytes b;
  put16(b, 1);
  put16(b, 0x0800);
  b.push_back(6);
  b.push_back(4);
  put16(b, op);
  put_mac(b, sha);
  put32(b, spa.value);
  put_mac(b, tha);
  put32(b, tpa.value);
  return b;
}

struct ip_fields {
  ipv4_address src, dst;
  std::uint8_t protocol = 17;
  std::uint16_t id = 0x1234;
  std::uint16_t flags_fragment = 0;
  std::uint8_t ttl = 64;
  bytes options{};  // a multiple of 4 bytes
};

inline bytes ipv4(const ip_fields& f, const bytes& payload) {
  bytes b;
  b.push_back(static_cast<std::uint8_t>(0x40 | (5 + f.options.size() / 4)));
  b.push_back(0);
  put16(b, static_cast<std::uint16_t>(20 + f.options.size() + payload.size()));
  put16(b, f.id);
  put16(b, f.flags_fragment);
  b.push_back(f.ttl);
  b.push_back(f.protocol);
  put16(b, 0);
  put32(b, f.src.value);
  put32(b, f.dst.value);
  b.insert(b.end(), f.options.begin(), f.options.end());
  const std::uint16_t c = uni::internet_checksum(b);
  b[10] = static_cast<std::uint8_t>(c >> 8);
  b[11] = static_cast<std::uint8_t>(c);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

inline bytes icmp_echo(std::uint8_t type, std::uint16_t id, std::uint16_t seq, const bytes& data) {
  bytes b{type, 0, 0, 0};
  put16(b, id);
  put16(b, seq);
  b.insert(b.end(), data.begin(), data.end());
  const std::uint16_t c = uni::internet_checksum(b);
  b[2] = static_cast<std::uint8_t>(c >> 8);
  b[3] = static_cast<std::uint8_t>(c);
  return b;
}

inline bytes udp(ipv4_address src, ipv4_address dst, std::uint16_t sport, std::uint16_t dport, const bytes& data,
                 bool with_checksum = true) {
  bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, static_cast<std::uint16_t>(8 + data.size()));
  put16(b, 0);
  b.insert(b.end(), data.begin(), data.end());
  if (with_checksum) {
    bytes pseudo;
    put32(pseudo, src.value);
    put32(pseudo, dst.value);
    put16(pseudo, 17);
    put16(pseudo, static_cast<std::uint16_t>(b.size()));
    pseudo.insert(pseudo.end(), b.begin(), b.end());
    std::uint16_t c = uni::internet_checksum(pseudo);
    if (c == 0) c = 0xffff;
    b[6] = static_cast<std::uint8_t>(c >> 8);
    b[7] = static_cast<std::uint8_t>(c);
  }
  return b;
}

// A TCP segment, checksummed over the pseudo-header; `options` padded by the caller.
struct tcp_fields {
  std::uint16_t sport = 0, dport = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = 0;  // FIN 1, SYN 2, RST 4, PSH 8, ACK 16
  std::uint16_t window = 65535;
  bytes options{};
  int data_offset = -1;  // words; -1: computed
};
inline bytes tcp(ipv4_address src, ipv4_address dst, const tcp_fields& f, const bytes& data = {}) {
  bytes b;
  put16(b, f.sport);
  put16(b, f.dport);
  put32(b, f.seq);
  put32(b, f.ack);
  const int words = f.data_offset >= 0 ? f.data_offset : static_cast<int>(5 + f.options.size() / 4);
  b.push_back(static_cast<std::uint8_t>(words << 4));
  b.push_back(f.flags);
  put16(b, f.window);
  put16(b, 0);
  put16(b, 0);
  b.insert(b.end(), f.options.begin(), f.options.end());
  b.insert(b.end(), data.begin(), data.end());
  bytes pseudo;
  put32(pseudo, src.value);
  put32(pseudo, dst.value);
  put16(pseudo, 6);
  put16(pseudo, static_cast<std::uint16_t>(b.size()));
  pseudo.insert(pseudo.end(), b.begin(), b.end());
  const std::uint16_t c = uni::internet_checksum(pseudo);
  b[16] = static_cast<std::uint8_t>(c >> 8);
  b[17] = static_cast<std::uint8_t>(c);
  return b;
}

// A received frame's TCP segment, read by hand (Ethernet + 20-byte IPv4 assumed).
struct tcp_seen {
  std::uint16_t sport = 0, dport = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  bytes options, data;
};
inline tcp_seen parse_tcp(const bytes& frame) {
  tcp_seen t;
  const std::size_t at = 14 + 20;
  t.sport = get16(frame, at);
  t.dport = get16(frame, at + 2);
  t.seq = get32(frame, at + 4);
  t.ack = get32(frame, at + 8);
  const std::size_t hl = (frame[at + 12] >> 4) * 4u;
  t.flags = frame[at + 13];
  t.window = get16(frame, at + 14);
  t.options.assign(frame.begin() + static_cast<long>(at + 20), frame.begin() + static_cast<long>(at + hl));
  const std::size_t total = get16(frame, 14 + 2);
  t.data.assign(frame.begin() + static_cast<long>(at + hl), frame.begin() + static_cast<long>(14 + total));
  return t;
}

inline bytes pattern(std::size_t n, std::uint8_t seed = 0) {
  bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 7);
  return b;
}

// The far end of a simulated link, driven by hand: sends raw frames, keeps
// every frame it receives.
struct raw_peer {
  uni::sim::SimNetif& nic;
  uni::page_pool& pool;
  std::vector<bytes> received{};

  void operator()(uni::view frame) { received.emplace_back(frame.data(), frame.data() + frame.size()); }
  void attach() { nic.set_receiver(*this); }

  void send(const bytes& frame) {
    uni::view page = *pool.allocate();
    std::copy(frame.begin(), frame.end(), page.data());
    uni::view v = page.head(frame.size());
    (void)nic.transmit(std::span<const uni::view>(&v, 1));
  }
  // Frames of one EtherType received so far (and forget them).
  std::vector<bytes> take(std::uint16_t type) {
    std::vector<bytes> out, rest;
    for (auto& f : received) (f.size() >= 14 && get16(f, 12) == type ? out : rest).push_back(f);
    received = rest;
    return out;
  }
};

}  // namespace frames
