// uni/posix/console.hpp: log sink and halt hook for a POSIX process: log lines go
// to stderr, each with the UTC time of day to the millisecond (to line them up with
// a capture or a peer's log), a panic aborts (so a debugger or a core dump catches it).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string_view>

#include <uni/core/log.hpp>
#include <uni/core/panic.hpp>

namespace uni::posix {

// "23:01:02.345 [info] tcp: ...": the level stays in brackets, so scripts find lines
// by it whatever the time.
inline void stderr_sink(log_level level, std::string_view line) noexcept {
  timespec now{};
  std::tm t{};
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &t);
  std::fprintf(stderr, "%02d:%02d:%02d.%03ld [%.*s] %.*s\n", t.tm_hour, t.tm_min, t.tm_sec, now.tv_nsec / 1000000,
               static_cast<int>(to_string(level).size()), to_string(level).data(), static_cast<int>(line.size()),
               line.data());
}

inline void abort_halt() noexcept { std::abort(); }

// Installs both; called by every POSIX appliance at start (and by the tests).
inline void install_console(log_level level = log_level::info) noexcept {
  set_log_sink(&stderr_sink);
  set_log_level(level);
  halt_hook() = &abort_halt;
}

}  // namespace uni::posix
