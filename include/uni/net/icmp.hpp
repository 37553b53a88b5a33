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
  // RFC 792: type, code, checksum, then a word whose meaning depends on the type.
  struct layout {
    using type = wire::field<std::uint8_t, 0>;
    using code = wire::field<std::uint8_t, 1>;
    using checksum = wire::field<std::uint16_t, 2>;
    using rest = wire::field<std::uint32_t, 4>;
  };

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
    return icmp_header{layout::type::get(b), layout::code::get(b), layout::checksum::get(b), layout::rest::get(b)};
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

  // Writes the 8-byte header as it is, `checksum` included: for a checksum found
  // without reading the data again (the echo reply's, echo_reply_checksum()).
  void write(std::span<std::uint8_t> out) const noexcept {
    std::uint8_t* b = out.data();
    layout::type::set(b, type);
    layout::code::set(b, code);
    layout::checksum::set(b, checksum);
    layout::rest::set(b, rest);
  }

  // Writes the 8-byte header; the checksum covers it and `data`.
  void emit(std::span<std::uint8_t> out, std::span<const view> data) const noexcept {
    icmp_header h = *this;
    h.checksum = 0;
    h.write(out);
    checksum_accumulator acc;
    acc.add(out.first(size));
    for (const view& v : data) acc.add(v.bytes());
    layout::checksum::set(out.data(), acc.finish());
  }

  // Writes the header at the front of `message`, whose data already follows it in
  // place; the checksum covers the whole of `message`.
  void emit(std::span<std::uint8_t> message) const noexcept {
    icmp_header h = *this;
    h.checksum = 0;
    h.write(message);
    layout::checksum::set(message.data(), internet_checksum(message));
  }
};

}  // namespace uni
