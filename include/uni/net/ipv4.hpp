// uni/net/ipv4.hpp: the IPv4 header (RFC 791 §3.1) as a validated representation.
//
// parse() checks, before reading anything else: at least 20 bytes, version 4,
// IHL >= 5 and within the buffer, total length >= IHL*4 and within the buffer
// (bytes beyond it are link padding and are cut off), and the header checksum.
// Options are not interpreted: the header length skips them (RFC 1122 §3.2.1.8
// lets a host ignore those it does not know). emit() writes a 20-byte header
// without options, checksum included.
#pragma once

#include <cstdint>
#include <span>

#include <uni/core/checksum.hpp>
#include <uni/core/wire.hpp>
#include <uni/net/ipv4_address.hpp>

namespace uni {

enum class ip_protocol : std::uint8_t { icmp = 1, tcp = 6, udp = 17 };

struct ipv4_header {
  static constexpr std::size_t min_size = 20;
  static constexpr std::uint16_t flag_df = 0x4000;
  static constexpr std::uint16_t flag_mf = 0x2000;
  static constexpr std::uint16_t offset_mask = 0x1fff;
  // RFC 791 §3.1, Figure 4.
  struct layout {
    using version_ihl = wire::field<std::uint8_t, 0>;  // version << 4 | IHL (32-bit words)
    using tos = wire::field<std::uint8_t, 1>;
    using total_length = wire::field<std::uint16_t, 2>;
    using identification = wire::field<std::uint16_t, 4>;
    using flags_fragment = wire::field<std::uint16_t, 6>;
    using ttl = wire::field<std::uint8_t, 8>;
    using protocol = wire::field<std::uint8_t, 9>;
    using checksum = wire::field<std::uint16_t, 10>;
    using source = wire::field<ipv4_address, 12>;
    using destination = wire::field<ipv4_address, 16>;
  };

  std::uint8_t header_length = 20;  // bytes, options included
  std::uint8_t tos = 0;
  std::uint16_t total_length = 0;   // header + payload
  std::uint16_t identification = 0;
  std::uint16_t flags_fragment = 0; // DF, MF and the offset in 8-byte units
  std::uint8_t ttl = 64;
  std::uint8_t protocol = 0;
  ipv4_address source{};
  ipv4_address destination{};

  bool more_fragments() const noexcept { return flags_fragment & flag_mf; }
  bool dont_fragment() const noexcept { return flags_fragment & flag_df; }
  std::size_t fragment_offset() const noexcept { return static_cast<std::size_t>(flags_fragment & offset_mask) * 8; }
  bool is_fragment() const noexcept { return more_fragments() || fragment_offset() != 0; }
  std::size_t payload_length() const noexcept { return total_length - header_length; }

  enum class reject : std::uint8_t { truncated, bad_version, bad_header_length, bad_total_length, bad_checksum };

  // `why` (optional) receives the precise reason for the counters.
  static result<ipv4_header> parse(std::span<const std::uint8_t> bytes, reject* why = nullptr) noexcept {
    ipv4_header h;
    reject r{};
    if (read(bytes, h, r)) return h;
    if (why) *why = r;
    return fail(r == reject::truncated      ? error::truncated
                : r == reject::bad_checksum ? error::bad_checksum
                                            : error::malformed);
  }

  // parse() into `h`, for a caller that keeps the header where it is (no
  // result copied out): false, with the reason in `why`, when refused.
  static bool read(std::span<const std::uint8_t> bytes, ipv4_header& h, reject& why) noexcept {
    why = reject::truncated;
    if (bytes.size() < min_size) return false;
    const std::uint8_t* b = bytes.data();
    const std::uint8_t version_ihl = layout::version_ihl::get(b);
    why = reject::bad_version;
    if ((version_ihl >> 4) != 4) return false;
    h.header_length = static_cast<std::uint8_t>((version_ihl & 0x0f) * 4);
    why = reject::bad_header_length;
    if (h.header_length < min_size || h.header_length > bytes.size()) return false;
    h.total_length = layout::total_length::get(b);
    why = reject::bad_total_length;
    if (h.total_length < h.header_length || h.total_length > bytes.size()) return false;
    why = reject::bad_checksum;
    if (internet_checksum(bytes.first(h.header_length)) != 0) return false;
    h.tos = layout::tos::get(b);
    h.identification = layout::identification::get(b);
    h.flags_fragment = layout::flags_fragment::get(b);
    h.ttl = layout::ttl::get(b);
    h.protocol = layout::protocol::get(b);
    h.source = layout::source::get(b);
    h.destination = layout::destination::get(b);
    return true;
  }

  // Writes 20 bytes (no options) with a correct checksum.
  void emit(std::span<std::uint8_t> out) const noexcept {
    std::uint8_t* b = out.data();
    layout::version_ihl::set(b, std::uint8_t{4 << 4 | min_size / 4});  // IHL 5: no options
    layout::tos::set(b, tos);
    layout::total_length::set(b, total_length);
    layout::identification::set(b, identification);
    layout::flags_fragment::set(b, flags_fragment);
    layout::ttl::set(b, ttl);
    layout::protocol::set(b, protocol);
    layout::checksum::set(b, 0);
    layout::source::set(b, source);
    layout::destination::set(b, destination);
    layout::checksum::set(b, internet_checksum(out.first(min_size)));
  }
};

constexpr std::string_view to_string(ipv4_header::reject r) noexcept {
  switch (r) {
    case ipv4_header::reject::truncated: return "truncated";
    case ipv4_header::reject::bad_version: return "bad version";
    case ipv4_header::reject::bad_header_length: return "bad header length";
    case ipv4_header::reject::bad_total_length: return "bad total length";
    case ipv4_header::reject::bad_checksum: return "bad checksum";
  }
  return "?";
}

// Adds the TCP/UDP pseudo-header (RFC 768, RFC 9293 §3.1) to a checksum.
constexpr void add_pseudo_header(checksum_accumulator& acc, ipv4_address src, ipv4_address dst, ip_protocol proto,
                                 std::size_t length) noexcept {
  acc.add32(src.value);
  acc.add32(dst.value);
  acc.add16(static_cast<std::uint16_t>(proto));
  acc.add16(static_cast<std::uint16_t>(length));
}

}  // namespace uni
