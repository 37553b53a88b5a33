// uni/core/counters.hpp: per-layer counters: frames received and sent, and drops
// by reason. Every place that discards input increments one, so an operator can
// tell from the counters alone why traffic vanished. And their writing to the
// log as a run ends, each kind of line by one function for the whole program: a
// layer's line (log_layer), and a report's long lines of counts (log_fields).
//
// `Reason` is an enum whose last enumerator is `count_`, with a
// `to_string(Reason)` found by ADL that takes its names from one string, in
// order, each ended by '\0' (detail::nth_name, uni/net/stack_counters.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>

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
// The 64-bit counter at `byte_offset` in a struct of counters.
inline std::uint64_t counter_at(const void* counters, std::size_t byte_offset) noexcept {
  std::uint64_t v;
  std::memcpy(&v, static_cast<const char*>(counters) + byte_offset, sizeof v);
  return v;
}

// A layer's counters with their type erased: a layer_counters<Reason> (received,
// sent, then a drop count per reason), how many reasons, and their names in
// order, each ended by '\0' (uni/net/stack_counters.hpp).
struct counters_view {
  const void* counters;
  std::size_t reasons;
  const char* names;
};

// The writing of every layer's counters, once.
[[gnu::noinline]] inline void format_counters(text_writer& w, const counters_view& c) noexcept {
  constexpr std::size_t first_drop = 2 * sizeof(std::uint64_t);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < c.reasons; ++i) total += counter_at(c.counters, first_drop + i * sizeof total);
  format_to(w, fmt<"rx {} tx {} dropped {}">, counter_at(c.counters, 0), counter_at(c.counters, sizeof total), total);
  const char* name = c.names;
  bool first = true;
  for (std::size_t i = 0; i < c.reasons; ++i) {
    const std::string_view n = name;
    name += n.size() + 1;
    const std::uint64_t d = counter_at(c.counters, first_drop + i * sizeof total);
    if (d == 0) continue;
    format_to(w, first ? " (" : ", ", n, " ", d);
    first = false;
  }
  if (!first) w.put(')');
}
inline void format_value(text_writer& w, const counters_view& c) noexcept { format_counters(w, c); }

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

template <class Reason>
constexpr counters_view view_of(const layer_counters<Reason>& c) noexcept {
  using counters = layer_counters<Reason>;
  static_assert(std::is_standard_layout_v<counters> && offsetof(counters, received) == 0 &&
                offsetof(counters, sent) == sizeof(std::uint64_t) && offsetof(counters, dropped) == 2 * sizeof(std::uint64_t));
  return {&c, counters::reasons, reason_names<Reason>()};
}

// One line of a layer's counters: "<label><counters>", then ", <count><tail>" if
// there is a tail. Every layer's line is this one function's.
[[gnu::noinline]] inline void log_layer(const char* label, const void* counters, std::size_t reasons,
                                        const char* names, std::uint64_t count, const char* tail) noexcept {
  const counters_view c{counters, reasons, names};
  if (tail == nullptr) log_info(label, c);
  else log_info(label, c, ", ", count, tail);
}
}  // namespace detail

// "rx 10 tx 9 dropped 1 (bad checksum 1)": only non-zero reasons are listed.
template <class Reason>
void format_value(text_writer& w, const layer_counters<Reason>& c) noexcept {
  detail::format_counters(w, detail::view_of(c));
}

// Logs (at info) "<label>rx 10 tx 9 dropped 1 (bad checksum 1)", and then
// ", <count><tail>" with a tail ("arp: ..., 3 entries confirmed in use").
template <class Reason>
[[gnu::always_inline]] inline void log_layer(const char* label, const layer_counters<Reason>& c, std::uint64_t count = 0,
                                             const char* tail = nullptr) noexcept {
  if (log_level::info < log_floor) return;
  const detail::counters_view v = detail::view_of(c);
  detail::log_layer(label, v.counters, v.reasons, v.names, count, tail);
}

// One value of a report line, read from a struct of 64-bit counters: the counter
// at byte `offset`, or the sum of the `words` counters from there on (a group's
// total).
struct count_field {
  std::uint16_t offset;
  std::uint8_t words = 1;
};
// A group's total: every counter of the member at `offset`, `size` bytes long.
// (constexpr, not consteval: clang 14 refuses the call in a class template's
// static table, where the offsets are dependent; the tables are constexpr anyway.)
constexpr count_field count_total(std::size_t offset, std::size_t size) noexcept {
  return {static_cast<std::uint16_t>(offset), static_cast<std::uint8_t>(size / sizeof(std::uint64_t))};
}

namespace detail {
inline constexpr std::size_t max_fields = 16;  // a line's values at most

// (`prefix` by address: with the other five arguments, all are passed in registers.)
[[gnu::noinline]] inline void log_fields(log_level l, const char* pieces, const void* stats, const count_field* fields,
                                         std::size_t n, const std::string_view* prefix) noexcept {
  // The line as log's arguments (prefix, text, value, text, ... text), written by
  // log_line. The prefix takes two words: kinds[1 + k] describes words[1 + k] after it.
  std::uint8_t kinds[3 + 2 * max_fields];
  arg_word words[3 + 2 * max_fields];
  kinds[1] = static_cast<std::uint8_t>(arg_kind::text);
  words[0].pointer = prefix ? prefix->data() : nullptr;
  words[1].number = prefix ? prefix->size() : 0;
  std::size_t k = 1;
  for (const count_field& f : std::span{fields, n}) {
    kinds[1 + k] = static_cast<std::uint8_t>(arg_kind::c_text);
    words[1 + k++].pointer = pieces;
    pieces += std::string_view{pieces}.size() + 1;
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < f.words; ++i) sum += counter_at(stats, f.offset + i * sizeof sum);
    kinds[1 + k] = static_cast<std::uint8_t>(arg_kind::unsigned_int);
    words[1 + k++].number = sum;
  }
  kinds[1 + k] = static_cast<std::uint8_t>(arg_kind::c_text);
  words[1 + k++].pointer = pieces;
  kinds[0] = static_cast<std::uint8_t>(k);
  log_line(l, kinds, words);
}
}  // namespace detail

// One line of counts read from `stats` (a struct of 64-bit counters): `pieces`
// holds a text before each field's value and one after the last, each ended by
// '\0' ("rx \0 tx \0" and the fields of 3 and 4 write "rx 3 tx 4"). A report's
// long line is a string and a table, not a stored argument per text and per
// value at its call. A `prefix` (a service's name, known at run time) comes first.
template <class Stats, std::size_t N>
  requires(N <= detail::max_fields && std::is_trivially_copyable_v<Stats>)
[[gnu::always_inline]] inline void log_fields(log_level l, const char* pieces, const Stats& stats,
                                              const count_field (&fields)[N]) noexcept {
  if (l >= log_floor) detail::log_fields(l, pieces, &stats, fields, N, nullptr);
}
template <class Stats, std::size_t N>
  requires(N <= detail::max_fields && std::is_trivially_copyable_v<Stats>)
[[gnu::always_inline]] inline void log_fields(log_level l, std::string_view prefix, const char* pieces,
                                              const Stats& stats, const count_field (&fields)[N]) noexcept {
  if (l >= log_floor) detail::log_fields(l, pieces, &stats, fields, N, &prefix);
}

}  // namespace uni
