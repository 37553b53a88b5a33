// uni/core/panic.hpp: the one way uni stops on a broken invariant (a bug, never bad
// input: bad input is an error value). It logs at error level, bypassing the
// run-time filter, and calls the platform's halt hook (abort on POSIX, a shutdown
// hypercall on Xen); without one it traps.
#pragma once

#include <cstddef>
#include <string_view>

#include <uni/core/log.hpp>

namespace uni {

using halt_fn = void (*)() noexcept;

inline halt_fn& halt_hook() noexcept {
  static constinit halt_fn h = nullptr;
  return h;
}

[[noreturn, gnu::cold, gnu::noinline]] inline void panic_line(const std::uint8_t* kinds,
                                                              const detail::arg_word* words) noexcept {
  if (log_settings().sink) write_log_line(log_level::error, "panic: ", kinds, words);
  if (auto h = halt_hook()) h();
  __builtin_trap();
}

template <class... Args>
  requires(sizeof...(Args) > 0)
[[noreturn, gnu::cold]] void panic(const Args&... args) noexcept {
  const detail::format_args<Args...> list(args...);
  panic_line(list.kinds, list.words);
}

}  // namespace uni
