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
#include <cstring>
#include <span>

#include <uni/core/wire.hpp>
#include <uni/net/ipv4_address.hpp>
#include <uni/net/mac_address.hpp>

namespace uni {

enum class arp_op : std::uint16_t { request = 1, reply = 2 };

struct arp_packet {
  static constexpr std::size_t size = 28;
  // RFC 826 "Packet format", for Ethernet (hardware type 1) and IPv4 (protocol 0x0800).
  struct layout {
    using hardware_type = wire::field<std::uint16_t, 0>;
    using protocol_type = wire::field<std::uint16_t, 2>;
    using hardware_length = wire::field<std::uint8_t, 4>;
    using protocol_length = wire::field<std::uint8_t, 5>;
    using op = wire::field<std::uint16_t, 6>;
    using sender_mac = wire::field<mac_address, 8>;
    using sender_ip = wire::field<ipv4_address, 14>;
    using target_mac = wire::field<mac_address, 18>;
    using target_ip = wire::field<ipv4_address, 24>;
  };
  static constexpr std::uint16_t ethernet = 1;
  static constexpr std::uint16_t ipv4 = 0x0800;

  arp_op op = arp_op::request;
  mac_address sender_mac{};
  ipv4_address sender_ip{};
  mac_address target_mac{};
  ipv4_address target_ip{};

  static result<arp_packet> parse(std::span<const std::uint8_t> bytes) noexcept {
    if (bytes.size() < size) return fail(error::truncated);
    const std::uint8_t* b = bytes.data();
    if (layout::hardware_type::get(b) != ethernet || layout::protocol_type::get(b) != ipv4 ||
        layout::hardware_length::get(b) != mac_address::wire_size ||
        layout::protocol_length::get(b) != ipv4_address::wire_size)
      return fail(error::malformed);
    const std::uint16_t op = layout::op::get(b);
    if (op != 1 && op != 2) return fail(error::malformed);
    // The addresses copied straight into the packet (field::get returns a copy,
    // which GCC passes in a register and splits byte by byte).
    arp_packet p{static_cast<arp_op>(op), {}, layout::sender_ip::get(b), {}, layout::target_ip::get(b)};
    std::memcpy(p.sender_mac.bytes.data(), b + layout::sender_mac::offset, mac_address::wire_size);
    std::memcpy(p.target_mac.bytes.data(), b + layout::target_mac::offset, mac_address::wire_size);
    if (p.sender_mac.is_multicast()) return fail(error::malformed);  // a group address as the sender
    return p;
  }

  void emit(std::span<std::uint8_t> out) const noexcept {
    emit(out, op, sender_mac, sender_ip, target_mac, target_ip);
  }
  // The same from its fields, the addresses where they are (no packet built first).
  static void emit(std::span<std::uint8_t> out, arp_op op, const mac_address& sender_mac, ipv4_address sender_ip,
                   const mac_address& target_mac, ipv4_address target_ip) noexcept {
    std::uint8_t* b = out.data();
    layout::hardware_type::set(b, ethernet);
    layout::protocol_type::set(b, ipv4);
    layout::hardware_length::set(b, mac_address::wire_size);
    layout::protocol_length::set(b, ipv4_address::wire_size);
    layout::op::set(b, static_cast<std::uint16_t>(op));
    sender_mac.store(b + layout::sender_mac::offset);
    layout::sender_ip::set(b, sender_ip);
    target_mac.store(b + layout::target_mac::offset);
    layout::target_ip::set(b, target_ip);
  }
};

}  // namespace uni
