// uni/core/counters.hpp: per-layer counters: frames received and sent, and drops
// by reason. Every place that discards input increments one, so an operator can
// tell from the counters alone why traffic vanished.
//
// `Reason` is an enum whose last enumerator is `count_`, with a
// `to_string(Reason)` found by ADL that takes its names from one string, in
// order, each ended by '\0' (detail::nth_name, uni/net/stack_counters.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <span>
#include <string_view>

#include <uni/core/format.hpp>
#include <uni/core/log.hpp>

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
// The writing of every layer's counters, once: `names` holds the reasons' names
// in order, each ended by '\0' (uni/net/stack_counters.hpp), walked as the counts are.
[[gnu::noinline]] inline void format_counters(text_writer& w, std::uint64_t received, std::uint64_t sent,
                                              std::span<const std::uint64_t> dropped, const char* names) noexcept {
  std::uint64_t total = 0;
  for (auto d : dropped) total += d;
  format_to(w, "rx ", received, " tx ", sent, " dropped ", total);
  bool first = true;
  for (const std::uint64_t d : dropped) {
    const std::string_view name = names;
    names += name.size() + 1;
    if (d == 0) continue;
    format_to(w, first ? " (" : ", ", name, " ", d);
    first = false;
  }
  if (!first) w.put(')');
}

// All of Reason's names in one string: to_string's names are one string of
// names ended by '\0', its first name at its start (uni/net/stack_counters.hpp).
template <class Reason>
constexpr const char* reason_names() noexcept {
  constexpr std::string_view first = to_string(Reason{});
  static_assert(static_cast<std::size_t>(Reason::count_) < 2 ||
                    to_string(static_cast<Reason>(1)).data() == first.data() + first.size() + 1,
                "to_string(Reason) must take its names from one string, in order");
  return first.data();
}
}  // namespace detail

// "rx 10 tx 9 dropped 1 (bad checksum 1)": only non-zero reasons are listed.
template <class Reason>
void format_value(text_writer& w, const layer_counters<Reason>& c) noexcept {
  detail::format_counters(w, c.received, c.sent, c.dropped, detail::reason_names<Reason>());
}

// One value of a report line, read from a struct of 64-bit counters: the counter
// at byte `offset`, or the sum of the `words` counters from there on (a group's
// total).
struct count_field {
  std::uint16_t offset;
  std::uint8_t words = 1;
};
// A group's total: every counter of the member at `offset`, `size` bytes long.
consteval count_field count_total(std::size_t offset, std::size_t size) noexcept {
  return {static_cast<std::uint16_t>(offset), static_cast<std::uint8_t>(size / sizeof(std::uint64_t))};
}

namespace detail {
inline constexpr std::size_t max_fields = 8;  // a line's values at most

[[gnu::noinline]] inline void log_fields(log_level l, const char* pieces, const void* stats, const count_field* fields,
                                         std::size_t n) noexcept {
  // The line as log's arguments (text, value, text, ... text), written by log_line.
  std::uint8_t kinds[2 + 2 * max_fields];
  arg_word words[1 + 2 * max_fields];
  std::size_t k = 0;
  for (const count_field& f : std::span{fields, n}) {
    kinds[1 + k] = static_cast<std::uint8_t>(arg_kind::c_text);
    words[k++].pointer = pieces;
    pieces += std::string_view{pieces}.size() + 1;
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < f.words; ++i) {
      std::uint64_t v;
      std::memcpy(&v, static_cast<const char*>(stats) + f.offset + i * sizeof v, sizeof v);
      sum += v;
    }
    kinds[1 + k] = static_cast<std::uint8_t>(arg_kind::unsigned_int);
    words[k++].number = sum;
  }
  kinds[1 + k] = static_cast<std::uint8_t>(arg_kind::c_text);
  words[k++].pointer = pieces;
  kinds[0] = static_cast<std::uint8_t>(k);
  log_line(l, kinds, words);
}
}  // namespace detail

// One line of counts read from `stats` (a struct of 64-bit counters): `pieces`
// holds a text before each field's value and one after the last, each ended by
// '\0' ("rx \0 tx \0" and the fields of 3 and 4 write "rx 3 tx 4"). A report's
// long line is a string and a table, not a stored argument per text and per
// value at its call.
template <class Stats, std::size_t N>
  requires(N <= detail::max_fields && std::is_trivially_copyable_v<Stats>)
[[gnu::always_inline]] inline void log_fields(log_level l, const char* pieces, const Stats& stats,
                                              const count_field (&fields)[N]) noexcept {
  if (l >= log_floor) detail::log_fields(l, pieces, &stats, fields, N);
}

}  // namespace uni
