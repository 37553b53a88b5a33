// uni/config.hpp: the static configuration of a stack. An appliance derives
// from default_config and overrides what it needs:
//
//   struct ping_config : uni::default_config {
//     static constexpr bool udp = false;   // no UDP code in the image at all
//   };
//   uni::Stack<TapNetif, PosixClock, ping_config> stack(...);
//
// Protocols switched off are never instantiated. Every bound on a table is here.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include <uni/core/time.hpp>
#include <uni/net/arp_cache.hpp>
#include <uni/net/ipv4_address.hpp>

namespace uni {

struct default_config {
  // Which protocols exist (ICMP echo and ARP are always there).
  static constexpr bool udp = true;
  // The DHCP client (RFC 2131) is in the image only with `dhcp`; stack_settings::dhcp
  // then picks a lease or the static `address` at run time, `dhcp_by_default` unless told.
  static constexpr bool dhcp = false;
  static constexpr bool dhcp_by_default = true;

  // Addressing: the defaults; appliances may override them at start.
  static constexpr ipv4_cidr address{ipv4_address::from_octets(10, 0, 0, 2), 24};
  static constexpr ipv4_address gateway = ipv4_address::from_octets(10, 0, 0, 1);
  static constexpr std::uint8_t ttl = 64;

  // I/O pages (4 KiB each) in the pool every frame lives in.
  static constexpr std::size_t io_pages = 1024;

  // ARP: neighbour table size, packets held while an address is resolved.
  static constexpr std::size_t arp_entries = 64;
  static constexpr std::size_t arp_pending_packets = 16;
  static constexpr arp_timing arp{};

  // IPv4 reassembly: datagrams in progress, bytes held over all, time allowed.
  static constexpr std::size_t reassembly_slots = 8;
  static constexpr std::size_t reassembly_bytes = 128 * 1024;
  static constexpr duration reassembly_timeout = std::chrono::seconds(30);

  // ICMP errors (port unreachable): a token bucket, as RFC 1812 §4.3.2.8 asks.
  static constexpr std::uint32_t icmp_errors_per_second = 100;
  static constexpr std::uint32_t icmp_error_burst = 10;

  // UDP: sockets, datagrams queued per socket before drops.
  static constexpr std::size_t udp_sockets = 16;
  static constexpr std::size_t udp_queue = 16;
};

// The run-time part: addresses, from the configuration or the command line.
struct stack_settings {
  ipv4_cidr address{};
  ipv4_address gateway{};
  bool dhcp = false;  // lease the address, gateway and DNS servers (only with Config::dhcp)

  template <class Config>
  static constexpr stack_settings from() noexcept {
    return {Config::address, Config::gateway, Config::dhcp && Config::dhcp_by_default};
  }
};

}  // namespace uni
