// uni/net/ipv4_layer.hpp: uni::Stack's IPv4 glue (RFC 791, RFC 1122 §3.2): routing
// to the next hop (on-link or the gateway), sending with fragmentation, receiving
// with reassembly (ipv4_reassembly.hpp), and handing each datagram for us to ICMP,
// UDP, TCP or the hook that takes its protocol.
//
// `S` is the stack (see ethernet_layer.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include <uni/core/buffer.hpp>
#include <uni/core/function_ref.hpp>
#include <uni/core/result.hpp>
#include <uni/core/view_chain.hpp>
#include <uni/net/ethernet.hpp>
#include <uni/net/frame_hooks.hpp>
#include <uni/net/ipv4.hpp>
#include <uni/net/ipv4_reassembly.hpp>
#include <uni/net/stack_counters.hpp>

namespace uni {

template <class S>
class ipv4_layer {
  using config = typename S::config;
  static constexpr std::size_t eth_ip_header = ethernet_view::header_size + ipv4_header::min_size;

 public:
  explicit ipv4_layer(S& s) noexcept : s_(s), reassembly_(config::reassembly_timeout) {}

  std::size_t reassembly_in_progress() const noexcept { return reassembly_.in_progress(); }

  bool is_broadcast(ipv4_address a) const noexcept {
    const ipv4_cidr& us = s_.settings_.address;
    return a.is_broadcast() || (us.prefix < 31 && a == us.subnet_broadcast());
  }
  bool for_us(ipv4_address dst) const noexcept {
    // Without an address yet (DHCP), everything may be the answer we wait for.
    const ipv4_address us = s_.settings_.address.address;
    return us.is_any() || dst == us || is_broadcast(dst);
  }
  bool unconfigured() const noexcept { return s_.settings_.address.address.is_any(); }
  result<ipv4_address> next_hop(ipv4_address dst) const noexcept {
    if (is_broadcast(dst) || s_.settings_.address.contains(dst)) return dst;
    if (s_.settings_.gateway.is_any()) return fail(error::unreachable);
    return s_.settings_.gateway;
  }

  // See Stack::ip_send.
  result<void> send(ipv4_address dst, ip_protocol proto, std::span<const view> payload) noexcept {
    auto next = next_hop(dst);
    if (!next) return fail(next.err());
    if (const mac_address* m = s_.arp_.neighbour(*next)) return transmit(*m, dst, proto, payload);
    return s_.arp_.enqueue(*next, dst, proto, payload);
  }

  // See Stack::ip_transmit.
  result<void> transmit(const mac_address& dst_mac, ipv4_address dst, ip_protocol proto, std::span<const view> payload,
                        std::size_t transport_size = 0,
                        function_ref<void(std::span<std::uint8_t>)> put_transport = {}) noexcept {
    const std::size_t total = transport_size + total_size(payload);
    if (total > 65535 - ipv4_header::min_size) return fail(error::too_large);
    const std::size_t mtu = s_.netif_.mtu();
    const std::size_t room = (mtu - ipv4_header::min_size) & ~std::size_t{7};  // per fragment, 8-aligned
    ipv4_header h;
    h.ttl = config::ttl;
    h.protocol = static_cast<std::uint8_t>(proto);
    h.source = s_.settings_.address.address;
    h.destination = dst;
    h.identification = next_id_++;
    const mac_address src_mac = s_.netif_.mac();
    std::size_t offset = 0;
    do {
      const std::size_t left = total - offset;
      const bool last = left + ipv4_header::min_size <= mtu;
      const std::size_t len = last ? left : room;
      const std::size_t in_slice = offset == 0 ? transport_size : 0;  // the transport header, first packet only
      auto allocated = s_.header_slice(eth_ip_header + in_slice);
      if (!allocated) {
        s_.counters_.ipv4.drop(ipv4_drop::no_buffers);
        return fail(allocated.err());
      }
      view& hdr = *allocated;
      ethernet_view::emit(hdr.bytes(), dst_mac, src_mac, ethertype::ipv4);
      h.total_length = static_cast<std::uint16_t>(ipv4_header::min_size + len);
      h.flags_fragment = static_cast<std::uint16_t>((offset / 8) | (last ? 0 : ipv4_header::flag_mf));
      h.emit(hdr.bytes().subspan(ethernet_view::header_size));
      if (in_slice > 0) put_transport(hdr.bytes().subspan(eth_ip_header));
      view_chain frame(std::move(hdr));
      if (!append_range(frame, payload, offset + in_slice - transport_size, len - in_slice)) return fail(error::too_large);
      if (auto r = s_.ethernet_.transmit(frame); !r) return r;
      ++s_.counters_.ipv4.sent;
      offset += len;
    } while (offset < total);
    return {};
  }

  void input(view&& packet) noexcept {  // the frame past its Ethernet header, taken
    auto& c = s_.counters_.ipv4;
    ipv4_header h;
    ipv4_header::reject why{};
    if (!ipv4_header::read(packet.bytes(), h, why)) return c.drop(drop_reason(why));
    ++c.received;
    if (!for_us(h.destination)) return c.drop(ipv4_drop::not_for_us);
    packet.truncate(h.total_length);  // anything after is link padding
    packet.drop_front(h.header_length);  // now the payload
    view_chain datagram;
    if (!h.is_fragment()) {
      (void)datagram.push_back(std::move(packet));
    } else {
      const reassembly_status r = reassembly_.add(h, std::move(packet), s_.now(), datagram);
      if (r == reassembly_status::incomplete) return s_.housekeeping_wake_.notify_one();  // a new timeout
      if (r != reassembly_status::complete) return c.drop(fragment_drop(r));
    }
    deliver(h, datagram);
  }

  // Reassembly timeouts (from the stack's housekeeping).
  time_point next_deadline() const noexcept { return reassembly_.next_deadline(); }
  void on_timer(time_point t) noexcept {
    for (std::size_t n = reassembly_.expire(t); n > 0; --n) s_.counters_.ipv4.drop(ipv4_drop::fragment_timeout);
  }

 private:
  static ipv4_drop drop_reason(ipv4_header::reject r) noexcept {
    switch (r) {
      case ipv4_header::reject::truncated: return ipv4_drop::truncated;
      case ipv4_header::reject::bad_version: return ipv4_drop::bad_version;
      case ipv4_header::reject::bad_header_length: return ipv4_drop::bad_header_length;
      case ipv4_header::reject::bad_total_length: return ipv4_drop::bad_total_length;
      case ipv4_header::reject::bad_checksum: return ipv4_drop::bad_checksum;
    }
    return ipv4_drop::truncated;
  }

  // A refused fragment's reason: the fragment_* reasons are in reassembly_status's order.
  static ipv4_drop fragment_drop(reassembly_status r) noexcept {
    static_assert(static_cast<int>(ipv4_drop::fragment_over_budget) - static_cast<int>(ipv4_drop::fragment_duplicate) ==
                  static_cast<int>(reassembly_status::over_budget) - static_cast<int>(reassembly_status::duplicate));
    return static_cast<ipv4_drop>(static_cast<int>(ipv4_drop::fragment_duplicate) + static_cast<int>(r) -
                                  static_cast<int>(reassembly_status::duplicate));
  }

  // `h` describes the datagram (for a reassembled one, its last fragment's header).
  // The layers above read `payload` where it is; a hook or TCP takes it.
  // Out of line: inlined into input(), its one caller, TCP's input inlined
  // in it made the two ~240 bytes larger than apart.
  [[gnu::noinline]] void deliver(const ipv4_header& h, view_chain& payload) noexcept {
    // Without an address (DHCP not bound yet) only the DHCP client's UDP port is
    // served (RFC 1122 §3.2.1.3: 0.0.0.0 is only for the initialisation procedure).
    if (unconfigured() && static_cast<ip_protocol>(h.protocol) != ip_protocol::udp)
      return s_.counters_.ipv4.drop(ipv4_drop::not_for_us);
    switch (static_cast<ip_protocol>(h.protocol)) {
      case ip_protocol::icmp: return s_.icmp_.input(h, payload);
      case ip_protocol::udp:
        if constexpr (config::udp) return s_.udp_.input(h, payload);
        break;
      case ip_protocol::tcp:
        if constexpr (config::tcp) {
          if (is_broadcast(h.destination)) return s_.counters_.ipv4.drop(ipv4_drop::not_for_us);
          return s_.tcp_.input(h.source, h.destination, std::move(payload));
        }
        break;
      default: break;
    }
    if (datagram_handler fn = s_.hooks_.datagram_taker(h.protocol)) {
      ++s_.counters_.hooks.by_ip_protocol;
      return fn(h, std::move(payload));
    }
    s_.counters_.ipv4.drop(ipv4_drop::unknown_protocol);  // or switched off in the Config
  }

  S& s_;
  ipv4_reassembly<config::reassembly_slots, config::reassembly_bytes> reassembly_;
  std::uint16_t next_id_ = 1;
};

}  // namespace uni
