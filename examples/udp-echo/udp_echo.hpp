// examples/udp-echo/udp_echo.hpp: the UDP echo service, written once against the
// transport API and compiled over any stack: host sockets (SocketStack) or
// uni's own (Stack<TapNetif, PosixClock>).
#pragma once

#include <chrono>
#include <cstdint>

#include <uni/core/log.hpp>
#include <uni/core/task.hpp>
#include <uni/net/transport.hpp>

namespace echo {

struct counters {
  std::uint64_t datagrams = 0;
  std::uint64_t bytes = 0;
  std::uint64_t send_errors = 0;

  // Printed when the service ends, cancellation included: the frame's locals die.
  ~counters() {
    uni::log_info("udp-echo: ", datagrams, " datagrams, ", bytes, " bytes echoed, ", send_errors, " send errors");
  }
};

// Serves until cancelled; returns an exit status only if it cannot start.
template <uni::UdpTransport Stack>
uni::task<int> serve_udp(Stack& stack, std::uint16_t port) {
  auto sock = stack.udp_bind(port);
  if (!sock) {
    uni::log_error("udp-echo: cannot bind port ", port, ": ", uni::to_string(sock.err()));
    co_return 1;
  }
  uni::log_info("udp-echo: listening on udp ", sock->local());
  counters c;
  while (true) {
    auto d = sock->try_receive();  // what is queued, without a task
    if (!d && d.err() == uni::error::would_block) d = co_await sock->receive();
    if (!d) {
      if (d.err() == uni::error::cancelled) co_return 0;
      // No buffers right now: the datagram waits in its queue while the others run.
      co_await stack.sched().sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    ++c.datagrams;
    c.bytes += d->payload.length();
    // The reply is the received page itself: no copy.
    auto sent = sock->try_send_to(d->source, d->payload);
    if (!sent && sent.err() == uni::error::would_block) sent = co_await sock->send_to(d->source, d->payload);
    if (!sent) ++c.send_errors;
  }
}

}  // namespace echo
