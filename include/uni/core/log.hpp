// uni/core/log.hpp: levelled logging through one platform-supplied sink.
// The core never prints by itself: the POSIX platform installs a stderr sink and
// the Xen platform the console ring. Messages below the compile-time floor
// (UNI_LOG_FLOOR) compile to nothing; the run-time level filters the rest.
#pragma once

#include <cstdint>
#include <string_view>

#include <uni/core/format.hpp>

#ifndef UNI_LOG_FLOOR
#define UNI_LOG_FLOOR 0  // 0 = debug: keep everything; 4 = none
#endif

namespace uni {

enum class log_level : std::uint8_t { debug = 0, info = 1, warn = 2, error = 3, none = 4 };

constexpr std::string_view to_string(log_level l) noexcept {
  using namespace std::string_view_literals;  // lengths known: no strlen call at run time
  switch (l) {
    case log_level::debug: return "debug"sv;
    case log_level::info: return "info"sv;
    case log_level::warn: return "warn"sv;
    case log_level::error: return "error"sv;
    case log_level::none: return "none"sv;
  }
  return "?"sv;
}

using log_sink_fn = void (*)(log_level, std::string_view line) noexcept;

struct log_state {
  log_sink_fn sink = nullptr;
  log_level level = log_level::info;
};
inline log_state& log_settings() noexcept {
  static constinit log_state s{};
  return s;
}

inline void set_log_sink(log_sink_fn f) noexcept { log_settings().sink = f; }
inline void set_log_level(log_level l) noexcept { log_settings().level = l; }
inline constexpr log_level log_floor = static_cast<log_level>(UNI_LOG_FLOOR);

inline bool log_enabled(log_level l) noexcept {
  return l >= log_floor && l >= log_settings().level &&
         log_settings().sink != nullptr;
}

// Writes one line of formatted arguments to the sink (there is one), whatever the
// run-time level: log_line's and panic's.
[[gnu::noinline]] inline void write_log_line(log_level l, std::string_view prefix, const std::uint8_t* kinds,
                                             const detail::arg_word* words) noexcept {
  char buf[256];
  text_writer w{buf, sizeof buf};
  w.put(prefix);
  detail::write_args(w, kinds, words);
  log_settings().sink(l, w.view());
}

// The one function that every log call of the program shares.
[[gnu::noinline]] inline void log_line(log_level l, const std::uint8_t* kinds, const detail::arg_word* words) noexcept {
  if (log_enabled(l)) write_log_line(l, {}, kinds, words);
}

// log(level, "tcp: ", port, " reset") with any formattable arguments. Inlined: the
// call site stores the arguments' values and calls log_line, with no function of
// its own per list of argument types; log_line checks the run-time level, the
// call site only the compile-time floor.
template <class... Args>
[[gnu::always_inline]] inline void log(log_level l, const Args&... args) noexcept {
  if (l < log_floor) return;
  const detail::format_args<Args...> list(args...);
  log_line(l, list.kinds, list.words);
}

template <class... Args>
[[gnu::always_inline]] inline void log_debug(const Args&... a) noexcept { log(log_level::debug, a...); }
template <class... Args>
[[gnu::always_inline]] inline void log_info(const Args&... a) noexcept { log(log_level::info, a...); }
template <class... Args>
[[gnu::always_inline]] inline void log_warn(const Args&... a) noexcept { log(log_level::warn, a...); }
template <class... Args>
[[gnu::always_inline]] inline void log_error(const Args&... a) noexcept { log(log_level::error, a...); }

}  // namespace uni
