// examples/tcp-echo/tcp_echo.hpp: the TCP echo service (RFC 862), written once
// against the transport API and compiled over any stack: host sockets
// (SocketStack) or uni's own (Stack<TapNetif, PosixClock>). echo_stream needs
// only a ByteStream: vchan-echo echoes a vchan with it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include <uni/core/log.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/net/accept_supervisor.hpp>
#include <uni/net/transport.hpp>

namespace echo {

// Connections served at once; further ones wait in the listener's backlog.
inline constexpr std::size_t max_tcp_connections = 1000;

struct stream_counters {
  std::uint64_t connections = 0;
  std::uint64_t bytes = 0;
  std::uint64_t failed = 0;  // ended by an error (reset, timeout) instead of the peer's end
  uni::error last_error = uni::error::none;
};

struct tcp_counters : stream_counters {
  // Printed when the service ends, cancellation included: the frame's locals die.
  ~tcp_counters() {
    uni::log_info("tcp-echo: ", connections, " connections, ", bytes, " bytes echoed, ", failed, " failed");
  }
};

// Why a stream's echo ended early, counted (and, for TCP, who the peer was).
template <uni::ByteStream Stream>
void count_failure(const Stream& c, stream_counters& n, uni::error e) {
  if constexpr (uni::TcpStream<Stream>) uni::log_debug("tcp-echo: ", c.remote(), ": ", uni::to_string(e));
  ++n.failed;
  n.last_error = e;
}

// Echoes one stream until the peer's end (TCP: its FIN), then ends ours after
// the echoed bytes. Each read is a page of received bytes, written back as it
// is: no copy.
template <uni::ByteStream Stream>
uni::task<void> echo_stream(uni::scheduler& sched, Stream c, stream_counters& n) {
  while (true) {
    auto d = co_await c.read();
    if (!d) {
      // Out of pages: they come back as the other connections' writes complete.
      if (d.err() == uni::error::no_buffers) {
        co_await sched.sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      count_failure(c, n, d.err());
      break;
    }
    if (d->empty()) {
      (void)c.shutdown();  // fails only if the peer is gone already
      break;
    }
    n.bytes += d->size();
    if (auto w = co_await c.write(*d); !w) {
      count_failure(c, n, w.err());
      break;
    }
  }
  c.close();
}

// Serves until cancelled; returns an exit status only if it cannot start.
// Connection tasks are owned by the supervisor (not detached), so cancelling
// the service ends them too and releases their sockets and pages.
template <uni::TcpTransport Stack>
uni::task<int> serve_tcp(Stack& stack, std::uint16_t port) {
  auto listener = stack.tcp_listen(port);
  if (!listener) {
    uni::log_error("tcp-echo: cannot listen on port ", port, ": ", uni::to_string(listener.err()));
    co_return 1;
  }
  uni::log_info("tcp-echo: listening on tcp ", listener->local());
  tcp_counters n;
  uni::accept_counters accepts;
  uni::accept_supervisor<> sup(stack.sched(), "tcp-echo", max_tcp_connections, uni::when_full::wait, accepts);
  co_await sup.run(*listener, [&](auto c, uni::no_info&) {
    ++n.connections;
    uni::log_debug("tcp-echo: connection from ", c.remote());
    return echo_stream(stack.sched(), std::move(c), n);
  });
  co_return 0;
}

}  // namespace echo
