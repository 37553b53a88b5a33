// uni/posix/socket_readiness.hpp: what a coroutine needs to wait on a
// non-blocking host socket through Asio: the uni::error an errno stands for,
// one armed wait per direction however many coroutines wait, and a fair share
// of calls in a row. SocketStack's sockets and the vchan twin's Unix sockets
// (unix_vchan.hpp) both wait this way; a TAP appliance includes the latter but
// none of SocketStack's code.
#pragma once

#include <cerrno>
#include <memory>
#include <utility>

#include <uni/core/error.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/time.hpp>

namespace uni::posix {

namespace detail {

// The uni::error a failed socket call's errno stands for.
inline error socket_error(int e) noexcept {
  switch (e) {
    case ECONNREFUSED: return error::refused;
    case ECONNRESET:
    case ECONNABORTED: return error::reset;
    case ETIMEDOUT: return error::timed_out;
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ENETDOWN:
    case EHOSTDOWN: return error::unreachable;
    case EADDRINUSE:
    case EADDRNOTAVAIL: return error::in_use;
    case EACCES:
    case EPERM: return error::permission;
    case ENOBUFS:
    case ENOMEM: return error::no_buffers;
    case EMFILE:
    case ENFILE: return error::table_full;
    case EPIPE:
    case ENOTCONN:
    case ESHUTDOWN:
    case EBADF: return error::closed;
    case EMSGSIZE: return error::too_large;
    default: return error::io;
  }
}

// One direction (readable, writable) of a socket that coroutines wait on. At
// most one Asio wait is armed for it, however many coroutines wait; its
// completion wakes them all and each retries its call.
struct readiness {
  explicit readiness(scheduler& s) noexcept : waiters(s) {}
  wait_queue waiters;
  bool armed = false;
};

// Waits until `sock` is ready for `what` (or `deadline`). `keep` owns the state
// holding `sock` and `r`: the Asio wait may complete after every handle is gone.
template <class Socket>
wait_queue::timed_wait_awaiter await_ready(std::shared_ptr<void> keep, Socket& sock, readiness& r,
                                           typename Socket::wait_type what, time_point deadline = time_never) {
  if (!r.armed) {
    r.armed = true;
    sock.async_wait(what, [keep = std::move(keep), &r](const boost::system::error_code&) {
      r.armed = false;
      r.waiters.notify_all();
    });
  }
  return r.waiters.wait_until(deadline);
}

// Calls that complete without waiting, in a row, before one yields to the
// scheduler: a connection that always has bytes ready cannot starve the others,
// nor grow the stack through nested resumptions where the compiler makes
// symmetric transfer no tail call (ASan builds).
inline constexpr unsigned fair_share = 16;
inline bool take_turn(unsigned& streak) noexcept {
  if (++streak < fair_share) return false;
  streak = 0;
  return true;
}

}  // namespace detail

}  // namespace uni::posix
