// uni/net/icmp.hpp: ICMP messages for IPv4 (RFC 792): the 8-byte header, with
// echo identifier/sequence or the unused word of error messages.
//
// parse() needs 8 bytes and a correct checksum over the whole message (given as
// fragments, so a reassembled echo request is checked without being joined).
#pragma once

#include <cstdint>
#include <span>

#include <uni/core/buffer.hpp>
#include <uni/core/checksum.hpp>
#include <uni/core/wire.hpp>

namespace uni {

enum class icmp_type : std::uint8_t { echo_reply = 0, destination_unreachable = 3, echo_request = 8, time_exceeded = 11 };
enum class icmp_unreachable_code : std::uint8_t { net = 0, host = 1, protocol = 2, port = 3, fragmentation_needed = 4 };

struct icmp_header {
  static constexpr std::size_t size = 8;

  std::uint8_t type = 0;
  std::uint8_t code = 0;
  std::uint16_t checksum = 0;
  std::uint32_t rest = 0;  // echo: identifier << 16 | sequence

  std::uint16_t identifier() const noexcept { return static_cast<std::uint16_t>(rest >> 16); }
  std::uint16_t sequence() const noexcept { return static_cast<std::uint16_t>(rest); }

  // `message` is the whole ICMP message (header and data) as fragments; the first
  // fragment must hold the header.
  static result<icmp_header> parse(std::span<const view> message) noexcept {
    if (message.empty() || message[0].size() < size) return fail(error::truncated);
    checksum_accumulator acc;
    for (const view& v : message) acc.add(v.bytes());
    if (acc.finish() != 0) return fail(error::bad_checksum);
    const std::uint8_t* b = message[0].data();
    return icmp_header{b[0], b[1], wire::load_be16(b + 2), wire::load_be32(b + 4)};
  }

  // The checksum of the echo reply to this echo request, `message` being the
  // request (header and data): only the type changes (8 -> 0), so the checksum is
  // updated, not recomputed (RFC 1624 eqn. 3). The update cannot produce 0xffff,
  // yet a reply whose bytes are all zero (identifier, sequence and data 0) needs
  // exactly 0xffff: its sum is +0, and a receiver folds the sum with the field to
  // check for 0xffff. That one case is recognised by scanning the data, which
  // happens only when the update gives 0.
  std::uint16_t echo_reply_checksum(std::span<const view> message) const noexcept {
    const std::uint16_t c = checksum_update16(checksum, 0x0800, 0x0000);
    if (c != 0 || rest != 0) return c;
    std::size_t skip = size;
    for (const view& v : message) {
      for (std::size_t i = skip < v.size() ? skip : v.size(); i < v.size(); ++i)
        if (v[i] != 0) return c;
      skip -= skip < v.size() ? skip : v.size();
    }
    return 0xffff;
  }

  // Writes the 8-byte header; the checksum covers it and `data`.
  void emit(std::span<std::uint8_t> out, std::span<const view> data) const noexcept {
    out[0] = type;
    out[1] = code;
    out[2] = out[3] = 0;
    wire::store_be32(&out[4], rest);
    checksum_accumulator acc;
    acc.add(out.first(size));
    for (const view& v : data) acc.add(v.bytes());
    wire::store_be16(&out[2], acc.finish());
  }
};

}  // namespace uni
