// udp-echo over host sockets: the development build, no privileges needed.
//   udp-echo-socket [--port N] [--bind ADDR]
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <uni/core/run.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/console.hpp>
#include <uni/posix/signals.hpp>
#include <uni/posix/socket_stack.hpp>

#include "udp_echo.hpp"

int main(int argc, char** argv) {
  std::uint16_t port = 7;
  uni::ipv4_address bind = uni::ipv4_address::from_octets(127, 0, 0, 1);
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--port") && i + 1 < argc) {
      port = static_cast<std::uint16_t>(std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--bind") && i + 1 < argc) {
      auto a = uni::ipv4_address::parse(argv[++i]);
      if (!a) return std::fprintf(stderr, "udp-echo: bad address %s\n", argv[i]), 2;
      bind = *a;
    } else {
      std::fprintf(stderr, "usage: %s [--port N] [--bind ADDR]\n", argv[0]);
      return 2;
    }
  }
  uni::posix::install_console();
  boost::asio::io_context io;
  uni::scheduler sched;
  uni::posix::PosixClock clock(io);
  auto pool = std::make_unique<uni::static_page_pool<256>>();
  uni::posix::SocketStack stack(sched, io, *pool, bind);
  uni::posix::stop_signal stop(sched, io);
  echo::counters counters;

  auto appliance = [&]() -> uni::task<int> {
    auto server = uni::spawn(sched, echo::serve_udp(stack, port, counters));
    co_await stop.wait();
    if (server.done()) co_return *co_await server.join();  // it failed to start
    server.cancel();
    uni::log_info("udp-echo: stopped by signal ", stop.signal(), ": ", counters.datagrams, " datagrams, ",
                  counters.bytes, " bytes echoed, ", counters.send_errors, " send errors");
    co_return 0;
  };
  auto status = uni::run(sched, clock, appliance());
  return status.ok() ? *status : 1;
}
