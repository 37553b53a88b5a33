// uni/net/stack_counters.hpp: why each layer of the stack drops what it drops.
// Every discard in uni::Stack (uni/stack.hpp and its layers, uni/net/*_layer.hpp)
// increments exactly one of these.
#pragma once

#include <cstdint>
#include <string_view>

namespace uni {

enum class ethernet_drop : std::uint8_t { truncated, not_for_us, unsupported_type, transmit_failed, count_ };
constexpr std::string_view to_string(ethernet_drop d) noexcept {
  constexpr std::string_view names[] = {"truncated", "not for us", "unsupported type", "transmit failed"};
  return names[static_cast<std::size_t>(d)];
}

enum class arp_drop : std::uint8_t {
  malformed, not_for_us, table_full, pending_full, resolution_failed, no_buffers, count_
};
constexpr std::string_view to_string(arp_drop d) noexcept {
  constexpr std::string_view names[] = {"malformed", "not for us", "table full", "pending queue full",
                                        "resolution failed", "no buffers"};
  return names[static_cast<std::size_t>(d)];
}

enum class ipv4_drop : std::uint8_t {
  truncated, bad_version, bad_header_length, bad_total_length, bad_checksum, not_for_us, unknown_protocol,
  fragment_duplicate, fragment_overlap, fragment_bogus, fragment_too_many, fragment_over_budget, fragment_timeout,
  no_buffers, count_
};
constexpr std::string_view to_string(ipv4_drop d) noexcept {
  constexpr std::string_view names[] = {
      "truncated",          "bad version",          "bad header length",    "bad total length",
      "bad checksum",       "not for us",           "unknown protocol",     "duplicate fragment",
      "overlapping fragment", "bogus fragment",     "too many fragments",   "fragments over budget",
      "reassembly timeout", "no buffers"};
  return names[static_cast<std::size_t>(d)];
}

enum class icmp_drop : std::uint8_t {
  malformed, bad_checksum, unsupported_type, broadcast_echo, rate_limited, no_buffers, count_
};
constexpr std::string_view to_string(icmp_drop d) noexcept {
  constexpr std::string_view names[] = {"malformed",      "bad checksum", "unsupported type",
                                        "broadcast echo", "rate limited", "no buffers"};
  return names[static_cast<std::size_t>(d)];
}

enum class udp_drop : std::uint8_t { malformed, bad_checksum, no_listener, queue_full, count_ };
constexpr std::string_view to_string(udp_drop d) noexcept {
  constexpr std::string_view names[] = {"malformed", "bad checksum", "no listener", "queue full"};
  return names[static_cast<std::size_t>(d)];
}

}  // namespace uni
