// uni/openflow/mac_learning.hpp: where each Ethernet address was last seen,
// for a switch acting as an ordinary learning bridge (IEEE 802.1D §7.8's
// filtering database, without its spanning tree): OpenFlow's NORMAL port and
// the fail-standalone mode. A direct-mapped table: a new address takes its
// bucket over, and an entry older than the ageing time is forgotten.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include <uni/core/time.hpp>
#include <uni/net/mac_address.hpp>

namespace uni::openflow {

template <std::size_t Buckets>
class mac_learning {
 public:
  explicit mac_learning(duration ageing = std::chrono::seconds(300)) noexcept : ageing_(ageing) {}

  void learn(const mac_address& m, std::uint32_t port, time_point now) noexcept {
    if (m.is_multicast()) return;
    entries_[bucket(m)] = {m, port, now, true};
  }
  std::optional<std::uint32_t> find(const mac_address& m, time_point now) const noexcept {
    const entry& e = entries_[bucket(m)];
    if (e.used && e.mac == m && now - e.seen < ageing_) return e.port;
    return std::nullopt;
  }
  // A port went away: what was behind it is no longer there.
  void forget_port(std::uint32_t port) noexcept {
    for (entry& e : entries_)
      if (e.port == port) e.used = false;
  }

 private:
  struct entry {
    mac_address mac;
    std::uint32_t port = 0;
    time_point seen{};
    bool used = false;
  };
  static std::size_t bucket(const mac_address& m) noexcept {
    std::uint32_t h = 2166136261u;  // FNV-1a
    for (std::uint8_t b : m.bytes) h = (h ^ b) * 16777619u;
    return h % Buckets;
  }
  duration ageing_;
  std::array<entry, Buckets> entries_{};
};

}  // namespace uni::openflow
