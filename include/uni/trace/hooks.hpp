// uni/trace/hooks.hpp: whether tracing is compiled in, for the code below the
// stack's Config (the scheduler and tasks, which are not templates).
//
// An appliance asks for tracing with `static constexpr bool trace = true;` in its
// Config and is built with tracing compiled in (uni_add_appliance(... TRACE), which
// defines UNI_TRACE=1; the Stack refuses a traced Config otherwise). Without it,
// `compiled` is false, every hook is an `if constexpr` that vanishes, waiters
// carry no task number, and the image holds no trace code (tests/scripts/symbols.sh
// checks it). The stack's own hooks (frames, TCP, DNS, HTTP) ask Config::trace.
// Every translation unit of a program must agree on UNI_TRACE: a waiter's layout
// depends on it (tests/trace is an executable of its own for that reason).
#pragma once

#include <cstdint>

#include <uni/trace/recorder.hpp>  // declarations only: nothing is emitted unless a hook is compiled in

namespace uni::trace {

#if defined(UNI_TRACE) && UNI_TRACE
inline constexpr bool compiled = true;
#else
inline constexpr bool compiled = false;
#endif

// The task a waiter was made in, and setting it: 0 and nothing when tracing is
// not compiled in (waiters then carry no number).
template <class W>
constexpr std::uint32_t task_of(const W& w) noexcept {
  if constexpr (requires { w.task; }) return w.task;
  else return 0;
}
template <class W>
constexpr void set_task(W& w, std::uint32_t task) noexcept {
  if constexpr (requires { w.task; }) w.task = task;
}

}  // namespace uni::trace
