// uni/posix/socket_appliance.hpp: the POSIX host-socket target's start of day:
// the application runs over SocketStack (the host kernel's TCP/IP through
// Boost.Asio) and needs no privileges. The host has its own interfaces: this
// target has one "stack" and no interface flags (--tap, --ipv4, --pcap ... are
// refused); an appliance of vchans alone is given no stack and takes no --bind.
// Its flags: --bind ADDR, --log LEVEL (uni/target_options.hpp), --disk PATH and
// --disk-cache when the appliance has disks (uni/posix/disk_appliance.hpp), --vchan
// PATH per vchan endpoint (uni/posix/unix_vchan.hpp), then the appliance's; --help
// lists them. It runs as uni/lifecycle.hpp says, stopping on SIGINT/SIGTERM;
// SIGUSR1 prints the counters.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <span>
#include <string_view>

#include <uni/config.hpp>
#include <uni/core/run.hpp>
#include <uni/devices.hpp>
#include <uni/lifecycle.hpp>
#include <uni/posix/appliance_options.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/console.hpp>
#include <uni/posix/disk_appliance.hpp>
#include <uni/posix/huge_page_pool.hpp>
#include <uni/posix/signals.hpp>
#include <uni/posix/socket_stack.hpp>
#include <uni/posix/trace_file.hpp>
#include <uni/posix/unix_vchan.hpp>

namespace uni::posix {

template <class Config, class App>
int run_socket_appliance(std::string_view name, int argc, char** argv, std::span<const option_spec> flags, App app) {
  static_assert(devices_declared<Config>());
  int status = 0;
  const auto opts = parse_command_line(
      name, argc, argv, {"posix-socket", target_flags::posix_socket_flags<Config>(), flags, target_flags::any}, {}, status);
  if (!opts) return status;
  if (const auto why = trace_file<Config::trace>::refusal(*opts); !why.empty()) return refuse(name, why);
  const ipv4_address bind = opts->declared("bind") ? *ipv4_address::parse(opts->text("bind")) : ipv4_address{};
  install_console(target_flags::log_level_of(opts->text("log")));
  boost::asio::io_context io;
  scheduler sched;
  PosixClock clock(io);
  clock.set_busy_poll(std::chrono::microseconds(opts->number("busy-poll")));
  trace_file<Config::trace> traced(*opts, Config::trace_events);
  // In huge pages where the kernel gives them: a disk read of pages taken in a row is one DMA segment.
  auto pool = std::make_unique<huge_page_pool<Config::io_pages>>();
  SocketStack stack(sched, io, *pool, bind);
  posix_disks<Config> disks(clock, sched, *pool);
  if (const int failed = disks.open(name, *opts); failed != 0) return failed;
  posix_vchans<Config> vchans(sched, io, *pool);
  if (const int failed = vchans.open(name, *opts); failed != 0) return failed;
  stop_signal stop(sched, io);
  auto report = [&] {
    const auto& p = pool->statistics();
    log_info("pages: ", p.in_use, " in use of ", p.capacity, ", high water ", p.high_water, ", exhausted ",
             p.exhausted);
    disks.report();
    traced.write();
  };
  report_signal on_usr1(io, report);
  const auto outcome = run(
      sched, clock, serve_until_stopped(sched, name, serve_with_devices<Config>(app, stack, disks, vchans, *opts),
                                                 stop.request(), report));
  traced.write();
  return outcome.ok() ? *outcome : 1;
}

}  // namespace uni::posix
