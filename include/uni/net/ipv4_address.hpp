// uni/net/ipv4_address.hpp: IPv4 addresses and prefixes (CIDR), parsed and printed.
#pragma once

#include <cstdint>
#include <string_view>

#include <uni/core/format.hpp>
#include <uni/core/result.hpp>
#include <uni/core/wire.hpp>

namespace uni {

struct ipv4_address {
  std::uint32_t value = 0;  // host order: 10.0.0.1 is 0x0a000001
  static constexpr std::size_t wire_size = 4;  // network order on the wire (wire::field)

  static constexpr ipv4_address any() noexcept { return {0}; }
  static constexpr ipv4_address broadcast() noexcept { return {0xffffffffu}; }
  static constexpr ipv4_address from_octets(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) noexcept {
    return {(std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d};
  }
  constexpr bool is_any() const noexcept { return value == 0; }
  constexpr bool is_broadcast() const noexcept { return value == 0xffffffffu; }
  constexpr bool is_multicast() const noexcept { return (value >> 28) == 0xe; }
  constexpr bool is_loopback() const noexcept { return (value >> 24) == 127; }
  friend constexpr auto operator<=>(const ipv4_address&, const ipv4_address&) noexcept = default;

  static constexpr ipv4_address load(const std::uint8_t* p) noexcept { return {wire::load_be32(p)}; }
  constexpr void store(std::uint8_t* p) const noexcept { wire::store_be32(p, value); }

  // Parses dotted decimal ("192.0.2.1"); no leading zeros games, four parts.
  static constexpr result<ipv4_address> parse(std::string_view s) noexcept {
    std::uint32_t v = 0;
    int parts = 0;
    std::size_t i = 0;
    while (parts < 4) {
      if (i >= s.size() || s[i] < '0' || s[i] > '9') return fail(error::invalid_argument);
      std::uint32_t octet = 0;
      std::size_t digits = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        octet = octet * 10 + static_cast<std::uint32_t>(s[i++] - '0');
        if (++digits > 3 || octet > 255) return fail(error::invalid_argument);
      }
      v = (v << 8) | octet;
      if (++parts < 4) {
        if (i >= s.size() || s[i] != '.') return fail(error::invalid_argument);
        ++i;
      }
    }
    if (i != s.size()) return fail(error::invalid_argument);
    return ipv4_address{v};
  }
};

// An address with a prefix length: the interface address and its subnet.
struct ipv4_cidr {
  ipv4_address address{};
  std::uint8_t prefix = 32;

  constexpr std::uint32_t mask() const noexcept { return prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix); }
  constexpr ipv4_address network() const noexcept { return {address.value & mask()}; }
  constexpr ipv4_address subnet_broadcast() const noexcept { return {address.value | ~mask()}; }
  constexpr bool contains(ipv4_address a) const noexcept { return (a.value & mask()) == (address.value & mask()); }
  friend constexpr bool operator==(const ipv4_cidr&, const ipv4_cidr&) noexcept = default;

  // Parses "10.0.0.2/24" (a bare address means /32).
  static constexpr result<ipv4_cidr> parse(std::string_view s) noexcept {
    const auto slash = s.find('/');
    auto addr = ipv4_address::parse(s.substr(0, slash));
    if (!addr) return fail(addr.err());
    if (slash == std::string_view::npos) return ipv4_cidr{*addr, 32};
    std::string_view p = s.substr(slash + 1);
    if (p.empty() || p.size() > 2) return fail(error::invalid_argument);
    unsigned n = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return fail(error::invalid_argument);
      n = n * 10 + static_cast<unsigned>(c - '0');
    }
    if (n > 32) return fail(error::invalid_argument);
    return ipv4_cidr{*addr, static_cast<std::uint8_t>(n)};
  }
};

inline void format_value(text_writer& w, ipv4_address a) noexcept {
  format_to(w, a.value >> 24, '.', (a.value >> 16) & 0xff, '.', (a.value >> 8) & 0xff, '.', a.value & 0xff);
}
inline void format_value(text_writer& w, const ipv4_cidr& c) noexcept { format_to(w, c.address, '/', c.prefix); }

}  // namespace uni
