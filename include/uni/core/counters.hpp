// uni/core/counters.hpp: per-layer counters: frames received and sent, and drops
// by reason. Every place that discards input increments one, so an operator can
// tell from the counters alone why traffic vanished.
//
// `Reason` is an enum whose last enumerator is `count_`, with a
// `to_string(Reason)` found by ADL.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <uni/core/format.hpp>

namespace uni {

template <class Reason>
struct layer_counters {
  static constexpr std::size_t reasons = static_cast<std::size_t>(Reason::count_);

  std::uint64_t received = 0;
  std::uint64_t sent = 0;
  std::array<std::uint64_t, reasons> dropped{};

  void drop(Reason r) noexcept { ++dropped[static_cast<std::size_t>(r)]; }
  std::uint64_t dropped_by(Reason r) const noexcept { return dropped[static_cast<std::size_t>(r)]; }
  std::uint64_t dropped_total() const noexcept {
    std::uint64_t n = 0;
    for (auto d : dropped) n += d;
    return n;
  }
};

namespace detail {
// The writing of every layer's counters, once: the reasons' names come through
// `name`, the one piece that depends on the Reason type.
inline void format_counters(text_writer& w, std::uint64_t received, std::uint64_t sent,
                            std::span<const std::uint64_t> dropped,
                            std::string_view (*name)(std::size_t) noexcept) noexcept {
  std::uint64_t total = 0;
  for (auto d : dropped) total += d;
  format_to(w, "rx ", received, " tx ", sent, " dropped ", total);
  bool first = true;
  for (std::size_t i = 0; i < dropped.size(); ++i) {
    if (dropped[i] == 0) continue;
    format_to(w, first ? " (" : ", ", name(i), " ", dropped[i]);
    first = false;
  }
  if (!first) w.put(')');
}
}  // namespace detail

// "rx 10 tx 9 dropped 1 (bad checksum 1)": only non-zero reasons are listed.
template <class Reason>
void format_value(text_writer& w, const layer_counters<Reason>& c) noexcept {
  detail::format_counters(w, c.received, c.sent, c.dropped,
                          [](std::size_t i) noexcept { return std::string_view{to_string(static_cast<Reason>(i))}; });
}

}  // namespace uni
