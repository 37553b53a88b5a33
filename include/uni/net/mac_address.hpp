// uni/net/mac_address.hpp: a 48-bit Ethernet (IEEE 802) address.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <uni/core/format.hpp>
#include <uni/core/result.hpp>

namespace uni {

struct mac_address {
  std::array<std::uint8_t, 6> bytes{};
  static constexpr std::size_t wire_size = 6;  // as it is, in order (wire::field)

  static constexpr mac_address broadcast() noexcept { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  constexpr bool is_broadcast() const noexcept { return *this == broadcast(); }
  constexpr bool is_multicast() const noexcept { return (bytes[0] & 1) != 0; }
  constexpr bool is_zero() const noexcept { return *this == mac_address{}; }
  friend constexpr bool operator==(const mac_address&, const mac_address&) noexcept = default;

  static constexpr mac_address load(const std::uint8_t* p) noexcept {
    mac_address m;
    std::copy_n(p, wire_size, m.bytes.begin());
    return m;
  }
  constexpr void store(std::uint8_t* p) const noexcept { std::copy_n(bytes.begin(), wire_size, p); }

  // Parses "02:00:00:00:00:01".
  static constexpr result<mac_address> parse(std::string_view s) noexcept {
    if (s.size() != 17) return fail(error::invalid_argument);
    mac_address m;
    for (int i = 0; i < 6; ++i) {
      int v = 0;
      for (int j = 0; j < 2; ++j) {
        char c = s[static_cast<std::size_t>(i * 3 + j)];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return fail(error::invalid_argument);
        v = v * 16 + d;
      }
      if (i < 5 && s[static_cast<std::size_t>(i * 3 + 2)] != ':') return fail(error::invalid_argument);
      m.bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
    }
    return m;
  }
};

inline void format_value(text_writer& w, const mac_address& m) noexcept {
  for (std::size_t i = 0; i < m.bytes.size(); ++i) {
    if (i) w.put(':');
    format_value(w, hex(m.bytes[i], 2));
  }
}

}  // namespace uni
