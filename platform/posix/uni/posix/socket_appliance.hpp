// uni/posix/socket_appliance.hpp: the POSIX host-socket target's start of day:
// the application runs over SocketStack (the host kernel's TCP/IP through
// Boost.Asio), needs no privileges, and stops cleanly on SIGINT/SIGTERM.
//   --bind ADDR   address to bind services to (default 127.0.0.1)
//   --log LEVEL   debug|info|warn
// Other `--name value` flags are the application's.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include <uni/config.hpp>
#include <uni/core/run.hpp>
#include <uni/posix/appliance_options.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/console.hpp>
#include <uni/posix/signals.hpp>
#include <uni/posix/socket_stack.hpp>

namespace uni::posix {

template <class Config, class App>
int run_socket_appliance(std::string_view name, int argc, char** argv, App app) {
  std::string problem;
  auto opts = parse_appliance_options(argc, argv, problem);
  ipv4_address bind = ipv4_address::from_octets(127, 0, 0, 1);
  if (opts) {
    if (auto b = opts->get("bind"); !b.empty()) {
      auto a = ipv4_address::parse(b);
      if (a) bind = *a;
      else problem = "bad --bind: " + std::string(b), opts.reset();
    }
  }
  if (!opts) {
    std::fprintf(stderr, "%.*s: %s\nusage: %s [--bind ADDR] [application flags]\n", static_cast<int>(name.size()),
                 name.data(), problem.c_str(), argv[0]);
    return 2;
  }
  install_console(opts->level);
  boost::asio::io_context io;
  scheduler sched;
  PosixClock clock(io);
  auto pool = std::make_unique<static_page_pool<Config::io_pages>>();
  SocketStack stack(sched, io, *pool, bind);
  stop_signal stop(sched, io);

  auto main_task = [&]() -> task<int> {
    auto service = spawn(sched, stop.ending(app(stack, *opts)));
    co_await stop.wait();
    if (service.done()) co_return *co_await service.join();
    service.cancel();
    log_info(name, ": stopped by signal ", stop.signal());
    co_return 0;
  };
  auto status = run(sched, clock, main_task());
  return status.ok() ? *status : 1;
}

}  // namespace uni::posix
