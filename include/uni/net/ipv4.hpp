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
  static result<ipv4_header> parse(std::span<const std::uint8_t> b, reject* why = nullptr) noexcept {
    auto no = [&](reject r, error e) {
      if (why) *why = r;
      return result<ipv4_header>(fail(e));
    };
    if (b.size() < min_size) return no(reject::truncated, error::truncated);
    if ((b[0] >> 4) != 4) return no(reject::bad_version, error::malformed);
    ipv4_header h;
    h.header_length = static_cast<std::uint8_t>((b[0] & 0x0f) * 4);
    if (h.header_length < min_size || h.header_length > b.size())
      return no(reject::bad_header_length, error::malformed);
    h.total_length = wire::load_be16(&b[2]);
    if (h.total_length < h.header_length || h.total_length > b.size())
      return no(reject::bad_total_length, error::malformed);
    if (internet_checksum(b.first(h.header_length)) != 0) return no(reject::bad_checksum, error::bad_checksum);
    h.tos = b[1];
    h.identification = wire::load_be16(&b[4]);
    h.flags_fragment = wire::load_be16(&b[6]);
    h.ttl = b[8];
    h.protocol = b[9];
    h.source = {wire::load_be32(&b[12])};
    h.destination = {wire::load_be32(&b[16])};
    return h;
  }

  // Writes 20 bytes (no options) with a correct checksum.
  void emit(std::span<std::uint8_t> out) const noexcept {
    out[0] = 0x45;
    out[1] = tos;
    wire::store_be16(&out[2], total_length);
    wire::store_be16(&out[4], identification);
    wire::store_be16(&out[6], flags_fragment);
    out[8] = ttl;
    out[9] = protocol;
    out[10] = out[11] = 0;
    wire::store_be32(&out[12], source.value);
    wire::store_be32(&out[16], destination.value);
    wire::store_be16(&out[10], internet_checksum(out.first(min_size)));
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
