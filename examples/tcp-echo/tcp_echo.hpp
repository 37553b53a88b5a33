// examples/tcp-echo/tcp_echo.hpp: the TCP echo service (RFC 862), written once
// against the transport API and compiled over any stack: host sockets
// (SocketStack) or uni's own (Stack<TapNetif, PosixClock>).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <uni/core/log.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>

namespace echo {

// Connections served at once; further ones wait in the listener's backlog.
inline constexpr std::size_t max_tcp_connections = 1000;

struct tcp_counters {
  std::uint64_t connections = 0;
  std::uint64_t bytes = 0;
  std::uint64_t failed = 0;  // ended by an error (reset, timeout) instead of the peer's FIN

  // Printed when the service ends, cancellation included: the frame's locals die.
  ~tcp_counters() {
    uni::log_info("tcp-echo: ", connections, " connections, ", bytes, " bytes echoed, ", failed, " failed");
  }
};

// Echoes one connection until the peer's FIN, then sends ours after the echoed
// bytes. Each read is a page of received bytes, written back as it is: no copy.
template <class Stream>
uni::task<void> echo_stream(uni::scheduler& sched, Stream c, tcp_counters& n, uni::wait_queue& ended) {
  while (true) {
    auto d = co_await c.read();
    if (!d) {
      // Out of pages: they come back as the other connections' writes complete.
      if (d.err() == uni::error::no_buffers) {
        co_await sched.sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      uni::log_debug("tcp-echo: ", c.remote(), ": ", uni::to_string(d.err()));
      ++n.failed;
      break;
    }
    if (d->empty()) {
      (void)c.shutdown();  // fails only if the peer is gone already
      break;
    }
    n.bytes += d->size();
    if (auto w = co_await c.write(*d); !w) {
      uni::log_debug("tcp-echo: ", c.remote(), ": ", uni::to_string(w.err()));
      ++n.failed;
      break;
    }
  }
  c.close();
  ended.notify_one();
}

// Serves until cancelled; returns an exit status only if it cannot start.
// Connection tasks are owned here (not detached), so cancelling the service
// ends them too and releases their sockets and pages.
template <class Stack>
uni::task<int> serve_tcp(Stack& stack, std::uint16_t port) {
  auto listener = stack.tcp_listen(port);
  if (!listener) {
    uni::log_error("tcp-echo: cannot listen on port ", port, ": ", uni::to_string(listener.err()));
    co_return 1;
  }
  uni::log_info("tcp-echo: listening on tcp ", listener->local());
  tcp_counters n;
  uni::wait_queue ended(stack.sched());
  std::vector<uni::join_handle<void>> active;  // declared last: cancelled first
  active.reserve(max_tcp_connections);
  while (true) {
    std::erase_if(active, [](const uni::join_handle<void>& h) { return h.done(); });
    if (active.size() == max_tcp_connections) {
      co_await ended.wait();
      continue;
    }
    auto c = co_await listener->accept();
    if (!c) {
      // Out of descriptors or memory: the connection stays queued; pause, retry.
      uni::log_warn("tcp-echo: accept: ", uni::to_string(c.err()));
      co_await stack.sched().sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    ++n.connections;
    uni::log_debug("tcp-echo: connection from ", c->remote());
    active.push_back(uni::spawn(stack.sched(), echo_stream(stack.sched(), std::move(*c), n, ended)));
  }
}

}  // namespace echo
