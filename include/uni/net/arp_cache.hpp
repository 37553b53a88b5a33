// uni/net/arp_cache.hpp: the bounded neighbour table of ARP (RFC 826, with the
// timing advice of RFC 1122 §2.3.2.1): resolved entries expire, unresolved ones
// are retried a bounded number of times and then given up. An entry in use when
// it expires stays in use while it is confirmed with requests sent to the known
// address (the RFC's "unicast poll", Linux's stale and probe states), and is
// forgotten only if those go unanswered: under load, an expiry must not send
// every packet to the bounded queue of packets waiting for resolution.
// Pure data structure: time comes in as an argument, requests go out through a
// callback.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <uni/core/time.hpp>
#include <uni/net/ipv4_address.hpp>
#include <uni/net/mac_address.hpp>

namespace uni {

struct arp_timing {
  duration reachable_time = std::chrono::seconds(60);  // a learned entry is trusted this long
  duration retry_interval = std::chrono::seconds(1);   // between requests for one address
  std::uint8_t max_requests = 3;                       // then resolution fails
};

template <std::size_t Capacity>
class arp_cache {
 public:
  static constexpr std::size_t capacity = Capacity;
  enum class start_result : std::uint8_t { pending, started, table_full };

  explicit arp_cache(arp_timing t = {}) noexcept : timing_(t) {}

  // The MAC for `ip` if resolved (fresh, or expired after use and being
  // confirmed), else null. An expired entry nobody used since it was confirmed
  // is forgotten. It points into the table: valid until the table next changes.
  const mac_address* lookup(ipv4_address ip, time_point now) noexcept {
    entry* e = find(ip);
    if (!e || e->state == state::incomplete) return nullptr;
    if (e->state == state::reachable && e->deadline <= now && !e->used) {
      e->state = state::empty;
      return nullptr;
    }
    e->used = true;
    e->last_used = now;
    return &e->mac;
  }

  bool pending(ipv4_address ip) const noexcept {
    const entry* e = const_cast<arp_cache*>(this)->find(ip);
    return e && e->state == state::incomplete;
  }

  // Records ip -> mac as reachable: in the entry for `ip`, else, if `may_add`,
  // in a new one. Returns false if it has none and gets none (not to add, or
  // the table is full of addresses still being resolved).
  bool learn(ipv4_address ip, const mac_address& mac, time_point now, bool may_add = true) noexcept {
    entry* e = find(ip);
    if (!e && may_add) e = free_slot(now);
    if (!e) return false;
    *e = entry{ip, mac, state::reachable, 0, false, now + timing_.reachable_time, now};
    return true;
  }

  // Updates an existing entry only (RFC 826: "merge" when the sender is known).
  bool refresh(ipv4_address ip, const mac_address& mac, time_point now) noexcept { return learn(ip, mac, now, false); }

  // Begins resolving `ip`: the caller sends the first request when `started`.
  start_result start(ipv4_address ip, time_point now) noexcept {
    entry* e = find(ip);
    // Being resolved or confirmed, or still fresh: nothing to start.
    if (e && (e->state != state::reachable || e->deadline > now)) return start_result::pending;
    if (!e) e = free_slot(now);
    if (!e) return start_result::table_full;
    *e = entry{ip, {}, state::incomplete, 1, false, now + timing_.retry_interval, now};
    return start_result::started;
  }

  // Runs what is due: expiries, retries and give-ups. `request(ip, to)` sends a
  // request to `to` (broadcast while resolving, the known address while
  // confirming); `failed(ip)` when a resolution got no answer to max_requests.
  template <class Request, class Failed>
  void on_timer(time_point now, Request&& request, Failed&& failed) noexcept {
    for (entry& e : entries_) {
      if (e.state == state::empty || e.deadline > now) continue;
      if (e.state == state::reachable) {
        if (!e.used) {
          e.state = state::empty;
          continue;
        }
        e.state = state::probing;
        e.requests = 0;
        ++probes_;
      }
      if (e.requests >= timing_.max_requests) {
        const bool resolving = e.state == state::incomplete;
        e.state = state::empty;
        if (resolving) failed(e.ip);
        continue;
      }
      ++e.requests;
      e.deadline = now + timing_.retry_interval;
      request(e.ip, e.state == state::probing ? e.mac : mac_address::broadcast());
    }
  }

  // When on_timer must run next (time_never if the table is empty).
  time_point next_deadline() const noexcept {
    time_point t = time_never;
    for (const entry& e : entries_)
      if (e.state != state::empty && e.deadline < t) t = e.deadline;
    return t;
  }

  std::size_t size() const noexcept {
    std::size_t n = 0;
    for (const entry& e : entries_) n += e.state != state::empty;
    return n;
  }
  std::uint64_t evictions() const noexcept { return evictions_; }
  // Entries that expired in use and were confirmed by requests (Linux's probes).
  std::uint64_t probes() const noexcept { return probes_; }
  const arp_timing& timing() const noexcept { return timing_; }

 private:
  // probing: expired while in use, still used, being confirmed.
  enum class entry_state : std::uint8_t { empty, incomplete, reachable, probing };
  using state = entry_state;
  struct entry {
    ipv4_address ip{};
    mac_address mac{};
    entry_state state = entry_state::empty;
    std::uint8_t requests = 0;
    bool used = false;      // looked up since it was last confirmed
    time_point deadline{};  // expiry when reachable, next request otherwise
    time_point last_used{};
  };

  entry* find(ipv4_address ip) noexcept {
    for (entry& e : entries_)
      if (e.state != state::empty && e.ip == ip) return &e;
    return nullptr;
  }
  // An empty slot, else an expired unused one, else the least recently used
  // resolved one. Entries being resolved are never evicted.
  entry* free_slot(time_point now) noexcept {
    entry* victim = nullptr;
    for (entry& e : entries_) {
      if (e.state == state::empty) return &e;
      if (e.state == state::incomplete) continue;
      if (e.state == state::reachable && e.deadline <= now && !e.used) return &e;
      if (!victim || e.last_used < victim->last_used) victim = &e;
    }
    if (victim) ++evictions_;
    return victim;
  }

  arp_timing timing_;
  std::array<entry, Capacity> entries_{};
  std::uint64_t evictions_ = 0;
  std::uint64_t probes_ = 0;
};

}  // namespace uni
