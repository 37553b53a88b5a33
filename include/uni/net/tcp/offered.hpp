// uni/net/tcp/offered.hpp: the TCP options a Config offers in its SYNs
// (window scaling and timestamps, RFC 7323; SACK, RFC 2018), and the state a
// connection keeps for one. A peer may use an option only when both SYNs
// carried it, so an option the Config does not offer is never in use: its
// state is a constant, and the code that would use it folds away at compile
// time (a feature turned off costs no code).
#pragma once

#include <type_traits>

namespace uni::tcp {

// Which options a sender may put in its headers: those its Config offers.
struct offered_options {
  bool window_scale = true, timestamps = true, sack = true;

  template <class Config>
  static constexpr offered_options of() noexcept {
    return {Config::tcp_window_scaling, Config::tcp_timestamps, Config::tcp_sack};
  }
};

// What stands for a value of an option not offered: always T{}, known at
// compile time, and assigning it does nothing.
template <class T>
struct never_agreed {
  constexpr operator T() const noexcept { return T{}; }
  constexpr never_agreed& operator=(T) noexcept { return *this; }
};

// A connection's value for an option (agreed or not, a scale, a timestamp): a
// plain T when the option is offered, else never_agreed<T>.
template <class T, bool Offered>
using option_state = std::conditional_t<Offered, T, never_agreed<T>>;

}  // namespace uni::tcp
