// uni/posix/console.hpp: log sink and halt hook for a POSIX process: log lines go
// to stderr, a panic aborts (so a debugger or a core dump catches it).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <uni/core/log.hpp>
#include <uni/core/panic.hpp>

namespace uni::posix {

inline void stderr_sink(log_level level, std::string_view line) noexcept {
  std::fprintf(stderr, "[%.*s] %.*s\n", static_cast<int>(to_string(level).size()), to_string(level).data(),
               static_cast<int>(line.size()), line.data());
}

inline void abort_halt() noexcept { std::abort(); }

// Installs both; called by every POSIX appliance at start (and by the tests).
inline void install_console(log_level level = log_level::info) noexcept {
  set_log_sink(&stderr_sink);
  set_log_level(level);
  halt_hook() = &abort_halt;
}

}  // namespace uni::posix
