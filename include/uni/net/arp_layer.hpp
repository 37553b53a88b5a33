// uni/net/arp_layer.hpp: uni::Stack's ARP glue (RFC 826): answers requests for our
// address, learns and refreshes neighbours (arp_cache.hpp), resolves next hops for
// the layers above, and holds a bounded queue of datagrams waiting for their next
// hop, sent when it is resolved and dropped (counted) when resolution fails.
//
// `S` is the stack (see ethernet_layer.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <span>

#include <uni/core/buffer.hpp>
#include <uni/core/result.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/core/view_chain.hpp>
#include <uni/net/arp.hpp>
#include <uni/net/arp_cache.hpp>
#include <uni/net/ethernet.hpp>
#include <uni/net/ipv4.hpp>
#include <uni/net/stack_counters.hpp>

namespace uni {

template <class S>
class arp_layer {
  using config = typename S::config;
  using cache = arp_cache<config::arp_entries>;

 public:
  arp_layer(S& s, scheduler& sched) noexcept : s_(s), cache_(config::arp), resolved_(sched) {}

  std::size_t entries() const noexcept { return cache_.size(); }
  std::size_t pending_packets() const noexcept { return pending_count_; }
  std::uint64_t confirmations() const noexcept { return cache_.probes(); }

  void input(std::span<const std::uint8_t> body) noexcept {
    auto& c = s_.counters_.arp;
    auto parsed = arp_packet::parse(body);
    if (!parsed) return c.drop(arp_drop::malformed);
    const arp_packet& p = *parsed;  // once: each -> checks the result again
    ++c.received;
    const ipv4_address us = s_.settings_.address.address;
    const bool for_us = !us.is_any() && p.target_ip == us;
    // RFC 826 "merge": refresh a sender we already know, whoever was asked;
    // one that asked us or answered us is learnt too (from requests as well).
    const bool known = !p.sender_ip.is_any() && cache_.learn(p.sender_ip, p.sender_mac, s_.now(), for_us);
    if (known) s_.housekeeping_wake_.notify_one();  // a new expiry
    if (!for_us) {
      if (known) settled(p.sender_ip, &p.sender_mac);
      else c.drop(arp_drop::not_for_us);
      return;
    }
    if (!known && !p.sender_ip.is_any()) c.drop(arp_drop::table_full);
    if (p.op == arp_op::request) send(arp_op::reply, p.sender_mac, p.sender_mac, p.sender_ip);
    if (!p.sender_ip.is_any()) settled(p.sender_ip, &p.sender_mac);
  }

  // A request has target_mac zero and goes to broadcast; a reply goes to the asker.
  void send(arp_op op, const mac_address& eth_dst, const mac_address& target_mac, ipv4_address target_ip) noexcept {
    auto allocated = s_.header_slice(ethernet_view::header_size + arp_packet::size);
    if (!allocated) return s_.counters_.arp.drop(arp_drop::no_buffers);
    view& buf = *allocated;
    const mac_address us = s_.netif_.mac();
    ethernet_view::emit(buf.bytes(), eth_dst, us, ethertype::arp);
    arp_packet::emit(buf.bytes().subspan(ethernet_view::header_size), op, us, s_.settings_.address.address, target_mac,
                     target_ip);
    if (s_.ethernet_.transmit(std::span<const view>(&buf, 1))) ++s_.counters_.arp.sent;
  }

  // Announces `ip` as ours with a gratuitous ARP request (RFC 5227 §3).
  void announce(ipv4_address ip) noexcept { send(arp_op::request, mac_address::broadcast(), {}, ip); }

  // The MAC of `next_hop` if no ARP exchange is needed (broadcast, or cached and
  // fresh), else null: a pointer (into the table, valid until it next changes),
  // not a copy of six bytes made at each step on the way.
  const mac_address* neighbour(ipv4_address next_hop) noexcept {
    static constexpr mac_address broadcast = mac_address::broadcast();
    if (s_.ipv4_.is_broadcast(next_hop)) return &broadcast;
    return cache_.lookup(next_hop, s_.now());
  }
  // The same as a result: error::would_block when ARP must resolve it.
  result<mac_address> known_neighbour(ipv4_address next_hop) noexcept {
    if (const mac_address* m = neighbour(next_hop)) return *m;
    return fail(error::would_block);
  }

  // Waits until `next_hop` is resolved (see Stack::resolve).
  task<result<mac_address>> resolve(ipv4_address next_hop) {
    bool started = false;
    while (true) {
      auto m = resolve_step(next_hop, started);
      if (m || m.err() != error::would_block) co_return m;
      if (co_await resolved_.wait() == wake_reason::cancelled) co_return fail(error::cancelled);
    }
  }
  // resolve() between its waits, for a coroutine that waits itself (UDP's
  // send: one frame, not two): the MAC, or error::would_block while the
  // resolution runs (wait on resolutions(), then ask again). `started`, false
  // at first, records that the caller began it: its failure is then final.
  result<mac_address> resolve_step(ipv4_address next_hop, bool& started) noexcept {
    if (const mac_address* m = neighbour(next_hop)) return *m;
    if (!cache_.pending(next_hop)) {
      if (started) return fail(error::unreachable);  // our resolution failed
      if (auto r = begin_resolution(next_hop); !r) return fail(r.err());
      started = true;
    }
    return fail(error::would_block);
  }
  // Notified when a next hop is resolved or its resolution fails.
  wait_queue& resolutions() noexcept { return resolved_; }

  // Holds a datagram (its views, not its bytes) until `next` is resolved.
  result<void> enqueue(ipv4_address next, ipv4_address dst, ip_protocol proto, std::span<const view> payload) noexcept {
    for (pending_packet& p : pending_) {
      if (p.used) continue;
      // Straight into the free slot's chain (emptied again if it cannot be held).
      result<void> r = append_range(p.payload, payload, 0, total_size(payload));
      if (r) r = begin_resolution(next);
      if (!r) {  // error::too_large (more views than a chain holds), or begin_resolution's
        p.payload.clear();
        return r;
      }
      p.used = true;
      p.next_hop = next;
      p.destination = dst;
      p.protocol = proto;
      ++pending_count_;
      return {};
    }
    s_.counters_.arp.drop(arp_drop::pending_full);
    return fail(error::would_block);
  }

  // Expiries, confirmations, retries and give-ups (from the stack's housekeeping).
  time_point next_deadline() const noexcept { return cache_.next_deadline(); }
  void on_timer(time_point t) noexcept {
    struct request_fn {
      arp_layer* l;
      void operator()(ipv4_address ip, const mac_address& to) const noexcept { l->send(arp_op::request, to, {}, ip); }
    };
    struct failed_fn {
      arp_layer* l;
      void operator()(ipv4_address ip) const noexcept { l->settled(ip, nullptr); }
    };
    cache_.on_timer(t, request_fn{this}, failed_fn{this});
  }

 private:
  struct pending_packet {
    bool used = false;
    ipv4_address next_hop{};
    ipv4_address destination{};
    ip_protocol protocol{};
    view_chain payload;
  };

  result<void> begin_resolution(ipv4_address ip) noexcept {
    switch (cache_.start(ip, s_.now())) {
      case cache::start_result::pending: return {};
      case cache::start_result::table_full:
        s_.counters_.arp.drop(arp_drop::table_full);
        return fail(error::table_full);
      case cache::start_result::started: break;
    }
    send(arp_op::request, mac_address::broadcast(), {}, ip);
    s_.housekeeping_wake_.notify_one();  // a new retry deadline
    return {};
  }

  // Sends what waited for `ip` to `mac`, or drops it (counted) when its
  // resolution failed (null), and wakes the coroutines resolving it.
  void settled(ipv4_address ip, const mac_address* mac) noexcept {
    for (pending_packet& p : pending_) {
      if (!p.used || p.next_hop != ip) continue;
      if (mac) (void)s_.ipv4_.transmit(*mac, p.destination, p.protocol, p.payload);
      else s_.counters_.arp.drop(arp_drop::resolution_failed);
      release(p);
    }
    resolved_.notify_all();
  }

  // (A slot's addresses are read only while it is used: set again by enqueue.)
  void release(pending_packet& p) noexcept {
    p.used = false;
    p.payload.clear();
    --pending_count_;
  }

  S& s_;
  cache cache_;
  std::array<pending_packet, config::arp_pending_packets> pending_{};
  std::size_t pending_count_ = 0;
  wait_queue resolved_;
};

}  // namespace uni
