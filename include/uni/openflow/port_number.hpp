// uni/openflow/port_number.hpp: port numbers, 16 bits in 1.0 (§5.2.1), 32 in
// 1.3 (§A.2.1). uni holds them as 1.3's: the reserved ports keep their low 16
// bits (1.0's 0xfff8..0xffff are 1.3's 0xfffffff8..0xffffffff), so the two
// convert by widening and narrowing the reserved range.
#pragma once

#include <cstdint>

namespace uni::openflow {

namespace port {
inline constexpr std::uint32_t max = 0xffffff00;  // highest physical port (1.0: 0xff00)
inline constexpr std::uint32_t in_port = 0xfffffff8, table = 0xfffffff9, normal = 0xfffffffa, flood = 0xfffffffb,
                               all = 0xfffffffc, controller = 0xfffffffd, local = 0xfffffffe,
                               any = 0xffffffff;  // 1.0's OFPP_NONE
}  // namespace port

inline constexpr std::uint32_t no_buffer = 0xffffffff;

constexpr std::uint16_t port_to_10(std::uint32_t p) noexcept {
  return static_cast<std::uint16_t>(p >= port::max ? (p & 0xffff) : p);
}
constexpr std::uint32_t port_from_10(std::uint16_t p) noexcept { return p >= 0xff00 ? 0xffff0000u | p : p; }

}  // namespace uni::openflow
