// uni/net/arp.hpp: ARP packets for IPv4 over Ethernet (RFC 826), 28 bytes.
//
// `arp_packet` is the validated representation: parse() accepts only hardware
// type 1 (Ethernet), protocol 0x0800, lengths 6 and 4, and opcodes request (1)
// and reply (2); anything else is error::malformed, as is a sender hardware address
// with the group bit set (broadcast or multicast): a station's own address never is
// one (IEEE 802), and believing it would make us broadcast the traffic meant for that
// IP address (RFC 1812 §3.3.2 says the same for routers). emit() writes exactly 28 bytes.
#pragma once

#include <cstdint>
#include <span>

#include <uni/core/wire.hpp>
#include <uni/net/ipv4_address.hpp>
#include <uni/net/mac_address.hpp>

namespace uni {

enum class arp_op : std::uint16_t { request = 1, reply = 2 };

struct arp_packet {
  static constexpr std::size_t size = 28;

  arp_op op = arp_op::request;
  mac_address sender_mac{};
  ipv4_address sender_ip{};
  mac_address target_mac{};
  ipv4_address target_ip{};

  static result<arp_packet> parse(std::span<const std::uint8_t> b) noexcept {
    if (b.size() < size) return fail(error::truncated);
    if (wire::load_be16(&b[0]) != 1 || wire::load_be16(&b[2]) != 0x0800 || b[4] != 6 || b[5] != 4)
      return fail(error::malformed);
    const std::uint16_t op = wire::load_be16(&b[6]);
    if (op != 1 && op != 2) return fail(error::malformed);
    if (b[8] & 1) return fail(error::malformed);  // a group address as the sender
    arp_packet p;
    p.op = static_cast<arp_op>(op);
    for (std::size_t i = 0; i < 6; ++i) {
      p.sender_mac.bytes[i] = b[8 + i];
      p.target_mac.bytes[i] = b[18 + i];
    }
    p.sender_ip = {wire::load_be32(&b[14])};
    p.target_ip = {wire::load_be32(&b[24])};
    return p;
  }

  void emit(std::span<std::uint8_t> out) const noexcept {
    wire::store_be16(&out[0], 1);
    wire::store_be16(&out[2], 0x0800);
    out[4] = 6;
    out[5] = 4;
    wire::store_be16(&out[6], static_cast<std::uint16_t>(op));
    for (std::size_t i = 0; i < 6; ++i) {
      out[8 + i] = sender_mac.bytes[i];
      out[18 + i] = target_mac.bytes[i];
    }
    wire::store_be32(&out[14], sender_ip.value);
    wire::store_be32(&out[24], target_ip.value);
  }
};

}  // namespace uni
