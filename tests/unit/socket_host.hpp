// tests/unit/socket_host.hpp: a SocketStack with its own loop, clock and pool on
// 127.0.0.1, for unit tests where the host kernel is the peer.
#pragma once

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <memory>

#include <uni/core/run.hpp>
#include <uni/core/task.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/socket_stack.hpp>

namespace uni::test {

inline const ipv4_address loopback = ipv4_address::from_octets(127, 0, 0, 1);

template <std::size_t Pages = 64>
struct socket_host {
  boost::asio::io_context io;
  scheduler sched;
  posix::PosixClock clock{io};
  std::unique_ptr<static_page_pool<Pages>> pool = std::make_unique<static_page_pool<Pages>>();
  posix::SocketStack stack{sched, io, *pool, loopback};

  // Runs `t` to its end, or fails it with timed_out after 10 s: a hang is a failure.
  template <class T>
  auto go(task<T> t) {
    return run(sched, clock, with_timeout(sched, std::chrono::seconds(10), std::move(t)));
  }
  // Runs a test's main task, which returns 0, or the number of the step that failed.
  void go_to_zero(task<int> t) {
    auto r = go(std::move(t));
    REQUIRE(r.ok());
    CHECK(*r == 0);
  }
};

}  // namespace uni::test
