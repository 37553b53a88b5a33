// uni/net/udp.hpp: the UDP header (RFC 768) and its checksum over the IPv4
// pseudo-header. A zero checksum on receive means "not computed" and is
// accepted; on send we always compute it (and send 0xffff for a computed 0).
#pragma once

#include <cstdint>
#include <span>

#include <uni/core/buffer.hpp>
#include <uni/core/checksum.hpp>
#include <uni/core/wire.hpp>
#include <uni/net/ipv4.hpp>

namespace uni {

struct udp_header {
  static constexpr std::size_t size = 8;
  // The most data one datagram carries over IPv4 (its length field less both headers).
  static constexpr std::size_t max_payload = 65535 - ipv4_header::min_size - size;
  // RFC 768 "Format".
  struct layout {
    using source_port = wire::field<std::uint16_t, 0>;
    using destination_port = wire::field<std::uint16_t, 2>;
    using length = wire::field<std::uint16_t, 4>;
    using checksum = wire::field<std::uint16_t, 6>;
  };

  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::uint16_t length = 0;  // header + data
  std::uint16_t checksum = 0;

  // `datagram` is the IP payload as fragments (the first holds the header).
  // Checks the length field against the data and the checksum (unless the
  // device verified it: view::checksum_verified); returns the header. Bytes
  // past `length` (if the IP payload is longer) are padding.
  static result<udp_header> parse(std::span<const view> datagram, ipv4_address src, ipv4_address dst) noexcept {
    if (datagram.empty() || datagram[0].size() < size) return fail(error::truncated);
    const std::uint8_t* b = datagram[0].data();
    udp_header h{layout::source_port::get(b), layout::destination_port::get(b), layout::length::get(b),
                 layout::checksum::get(b)};
    const std::size_t available = total_size(datagram);
    if (h.length < size || h.length > available) return fail(error::malformed);
    if (h.checksum != 0 && !(datagram.size() == 1 && datagram[0].checksum_verified())) {
      checksum_accumulator acc;
      add_pseudo_header(acc, src, dst, ip_protocol::udp, h.length);
      std::size_t left = h.length;
      for (const view& v : datagram) {
        const std::size_t n = v.size() < left ? v.size() : left;
        acc.add(v.bytes().first(n));
        left -= n;
      }
      if (acc.finish() != 0) return fail(error::bad_checksum);
    }
    return h;
  }

  // Writes the header into `out` (8 bytes), checksum over pseudo-header and `data`.
  static void emit(std::span<std::uint8_t> out, std::uint16_t sport, std::uint16_t dport, ipv4_address src,
                   ipv4_address dst, std::span<const view> data) noexcept {
    const auto length = static_cast<std::uint16_t>(size + total_size(data));
    std::uint8_t* b = out.data();
    layout::source_port::set(b, sport);
    layout::destination_port::set(b, dport);
    layout::length::set(b, length);
    layout::checksum::set(b, 0);
    checksum_accumulator acc;
    add_pseudo_header(acc, src, dst, ip_protocol::udp, length);
    acc.add(out.first(size));
    for (const view& v : data) acc.add(v.bytes());
    const std::uint16_t c = acc.finish();
    layout::checksum::set(b, c == 0 ? 0xffff : c);
  }
};

}  // namespace uni
