// uni/core/panic.hpp: the one way uni stops on a broken invariant (a bug, never bad
// input: bad input is an error value). It logs at error level, bypassing the
// run-time filter, and calls the platform's halt hook (abort on POSIX, a shutdown
// hypercall on Xen); without one it traps.
#pragma once

#include <string_view>

#include <uni/core/log.hpp>

namespace uni {

using halt_fn = void (*)() noexcept;

inline halt_fn& halt_hook() noexcept {
  static constinit halt_fn h = nullptr;
  return h;
}

template <class... Args>
[[noreturn]] void panic(const Args&... args) noexcept {
  if (auto sink = log_settings().sink) {
    char buf[256];
    text_writer w{buf, sizeof buf};
    format_to(w, "panic: ", args...);
    sink(log_level::error, w.view());
  }
  if (auto h = halt_hook()) h();
  __builtin_trap();
}

}  // namespace uni
