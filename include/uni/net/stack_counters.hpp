// uni/net/stack_counters.hpp: why each layer of the stack drops what it drops.
// Every discard in uni::Stack (uni/stack.hpp and its layers, uni/net/*_layer.hpp)
// increments exactly one of these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <uni/core/error.hpp>

namespace uni {

namespace detail {
// The `i`-th of `names`, names ended by '\0' in an enum's order: each reason
// enum is one string, and this one loop finds its names, not a table of
// string_views apiece (copied to the stack at each look-up).
constexpr std::string_view nth_name(const char* names, std::size_t i) noexcept {
  for (; i > 0; --i) {
    while (*names != '\0') ++names;
    ++names;
  }
  return names;
}
// A name for each of `Reason`'s values (count_ of them) in `names`.
template <class Reason, std::size_t N>
constexpr bool names_every(const char (&names)[N]) noexcept {
  return count_names({names, N}) == static_cast<std::size_t>(Reason::count_);  // the last ended by the literal's own
}
}  // namespace detail

enum class ethernet_drop : std::uint8_t { truncated, not_for_us, unsupported_type, transmit_failed, count_ };
namespace detail {
inline constexpr char ethernet_drop_names[] = "truncated\0not for us\0unsupported type\0transmit failed";
}  // namespace detail
static_assert(detail::names_every<ethernet_drop>(detail::ethernet_drop_names));
constexpr std::string_view to_string(ethernet_drop d) noexcept {
  return detail::nth_name(detail::ethernet_drop_names, static_cast<std::size_t>(d));
}

enum class arp_drop : std::uint8_t {
  malformed, not_for_us, table_full, pending_full, resolution_failed, no_buffers, count_
};
namespace detail {
inline constexpr char arp_drop_names[] =
    "malformed\0not for us\0table full\0pending queue full\0resolution failed\0no buffers";
}  // namespace detail
static_assert(detail::names_every<arp_drop>(detail::arp_drop_names));
constexpr std::string_view to_string(arp_drop d) noexcept {
  return detail::nth_name(detail::arp_drop_names, static_cast<std::size_t>(d));
}

enum class ipv4_drop : std::uint8_t {
  truncated, bad_version, bad_header_length, bad_total_length, bad_checksum, not_for_us, unknown_protocol,
  fragment_duplicate, fragment_overlap, fragment_bogus, fragment_too_many, fragment_over_budget, fragment_timeout,
  no_buffers, count_
};
namespace detail {
inline constexpr char ipv4_drop_names[] =
    "truncated\0bad version\0bad header length\0bad total length\0bad checksum\0not for us\0unknown protocol\0"
    "duplicate fragment\0overlapping fragment\0bogus fragment\0too many fragments\0fragments over budget\0"
    "reassembly timeout\0no buffers";
}  // namespace detail
static_assert(detail::names_every<ipv4_drop>(detail::ipv4_drop_names));
constexpr std::string_view to_string(ipv4_drop d) noexcept {
  return detail::nth_name(detail::ipv4_drop_names, static_cast<std::size_t>(d));
}

enum class icmp_drop : std::uint8_t {
  malformed, bad_checksum, unsupported_type, broadcast_echo, rate_limited, no_buffers, count_
};
namespace detail {
inline constexpr char icmp_drop_names[] =
    "malformed\0bad checksum\0unsupported type\0broadcast echo\0rate limited\0no buffers";
}  // namespace detail
static_assert(detail::names_every<icmp_drop>(detail::icmp_drop_names));
constexpr std::string_view to_string(icmp_drop d) noexcept {
  return detail::nth_name(detail::icmp_drop_names, static_cast<std::size_t>(d));
}

enum class udp_drop : std::uint8_t { malformed, bad_checksum, no_listener, queue_full, count_ };
namespace detail {
inline constexpr char udp_drop_names[] = "malformed\0bad checksum\0no listener\0queue full";
}  // namespace detail
static_assert(detail::names_every<udp_drop>(detail::udp_drop_names));
constexpr std::string_view to_string(udp_drop d) noexcept {
  return detail::nth_name(detail::udp_drop_names, static_cast<std::size_t>(d));
}

}  // namespace uni
