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
  static constexpr bool tcp = true;
  // The DHCP client (RFC 2131) is in the image only with `dhcp`; stack_settings::dhcp
  // then picks a lease or the static `address` at run time, `dhcp_by_default` unless told.
  static constexpr bool dhcp = false;
  static constexpr bool dhcp_by_default = true;
  // The devices' TCP offloads (TAP's and netfront's segmentation and checksum
  // offloads, with TCP only): worth their code (~7.7 KB of a Xen image) where TCP
  // carries bulk data; an appliance whose TCP carries little may leave them out.
  static constexpr bool device_offloads = true;

  // Tracing (uni/trace/): with `trace`, the stack records its tasks, timers, frames,
  // TCP connections, DNS and HTTP requests into a ring of `trace_events` (the oldest
  // go when it is full, counted); the appliance is built with tracing compiled in
  // (uni_add_appliance(... TRACE)). Without it the image holds no trace code.
  // 8,192 events (256 KiB) is the newest ~2,600 DNS queries or ~1,800 TCP segments,
  // and small enough that the ring's stores stay out of the stack's way in a 2 MiB L2
  // (bench/trace.sh: a 2 MiB ring cost DNS 3.5 more L2 misses a query, this 0.3).
  static constexpr bool trace = false;
  static constexpr std::size_t trace_events = 1 << 13;

  // Devices the appliance needs, each supplied by the platform (uni/devices.hpp):
  // network interfaces (--tap per interface on POSIX, device/vif/N on Xen; none
  // for an appliance of vchans alone), block devices (--disk PATH per device on
  // POSIX, a vbd on Xen), vchan endpoints (--vchan PATH each: a Unix socket on
  // POSIX, a xenstore node on Xen).
  static constexpr std::size_t network_interfaces = 1;
  static constexpr std::size_t block_devices = 0;
  static constexpr std::size_t vchan_endpoints = 0;
  // Requests each block device has at its driver at once (uni/block/request_queue.hpp);
  // one more waits for a free place.
  static constexpr std::size_t block_queue_depth = 32;

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

  // Frame hooks: how many takers of frames the stack does not consume (by
  // EtherType, by IP protocol, other stations' frames) may be registered at once.
  static constexpr std::size_t frame_hooks = 4;

  // UDP: sockets, datagrams queued per socket before drops.
  static constexpr std::size_t udp_sockets = 16;
  static constexpr std::size_t udp_queue = 16;

  // TCP: connections (of every state, TIME-WAIT included), listening ports,
  // established connections waiting in accept(), half-open connections per
  // listener (the oldest is dropped when a SYN flood fills them).
  static constexpr std::size_t tcp_connections = 1024;
  static constexpr std::size_t tcp_listeners = 8;
  static constexpr std::size_t tcp_backlog = 256;
  static constexpr std::size_t tcp_half_open = 768;  // a burst of real clients must fit
  // Per connection: bytes and views held for sending (until acknowledged) and
  // received (until read); out-of-order segments kept; views per segment sent.
  // Each received segment holds one I/O page, so receive views bound pages.
  static constexpr std::size_t tcp_send_buffer = 512 * 1024;
  static constexpr std::size_t tcp_send_views = 256;
  static constexpr std::size_t tcp_receive_buffer = 256 * 1024;
  static constexpr std::size_t tcp_receive_views = 192;
  static constexpr std::size_t tcp_out_of_order = 128;
  static constexpr std::size_t tcp_segment_views = 8;
  // Global budget: the I/O page pool. A Stack with TCP keeps this reserve of
  // its pool (at most a quarter of it) from applications (page_pool::allocate
  // refuses, counted as held back) for its own frames: headers, ACKs, received
  // pages. Windows offered shrink as free pages run short and close at half of
  // it, so a thousand connections cannot exhaust the pool, and data still
  // arrives when applications' writes hold the rest.
  static constexpr std::size_t tcp_pool_reserve = io_pages / 8;
  // Options offered (RFC 7323, RFC 2018). A peer may use only what both SYNs
  // carried, so an option turned off is never in use and its code is not in the
  // image (uni/net/tcp/offered.hpp): in dns-xen, SACK's ~1.5 KB, timestamps'
  // ~0.65 KB, window scaling's ~0.2 KB; a peer's offer is still parsed, and declined.
  static constexpr bool tcp_window_scaling = true;
  static constexpr bool tcp_timestamps = true;
  static constexpr bool tcp_sack = true;
  // Timers and limits.
  static constexpr duration tcp_delayed_ack = std::chrono::milliseconds(40);
  static constexpr duration tcp_time_wait = std::chrono::seconds(30);       // 2 MSL
  static constexpr duration tcp_fin_wait_2 = std::chrono::seconds(60);      // orphaned connections
  static constexpr unsigned tcp_syn_retries = 5;
  static constexpr unsigned tcp_max_retries = 12;
  static constexpr duration tcp_keepalive_idle = std::chrono::seconds(7200);  // RFC 1122 §4.2.3.6
  static constexpr duration tcp_keepalive_interval = std::chrono::seconds(75);
  static constexpr unsigned tcp_keepalive_probes = 9;
};

// The run-time part: addresses, from the configuration or the command line.
struct stack_settings {
  ipv4_cidr address{};
  ipv4_address gateway{};
  bool dhcp = false;  // lease the address, gateway and DNS servers (only with Config::dhcp)
  std::uint64_t seed = 0;  // for sequence numbers and ports; 0: from the clock and the MAC

  template <class Config>
  static constexpr stack_settings from() noexcept {
    return {Config::address, Config::gateway, Config::dhcp && Config::dhcp_by_default};
  }
};

}  // namespace uni
