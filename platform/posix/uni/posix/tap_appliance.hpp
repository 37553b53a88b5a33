// uni/posix/tap_appliance.hpp: the POSIX TAP target's start of day. Parses the
// flags every TAP appliance shares, opens the device, builds
// Stack<ImpairedNetif<TapNetif>, PosixClock, Config>, runs the application's task until
// SIGINT/SIGTERM, then prints the stack's counters (also on SIGUSR1, while running).
//
//   --tap IFNAME          TAP device to attach to (default tap0)
//   --ipv4 ADDR/PREFIX    our address (default: Config::address)
//   --gateway ADDR        default route (default: Config::gateway)
//   --dhcp                address, gateway and DNS servers from a DHCP server (only an
//                         appliance whose Config has dhcp = true has the client); the
//                         appliance says " on IFNAME" once the lease is bound
//   --mac MAC             our MAC (default: random, locally administered)
//   --pcap FILE           record every frame (also: UNI_PCAP=FILE)
//   --log debug|info|warn log level
//   --impair SPEC         impair our own traffic both ways, for tests (see
//                         uni/sim/impaired_netif.hpp): e.g. loss=2,dup=1,reorder=2,delay=1-5
//   --impair-seed N       its random seed (default: random, printed)
// Anything else of the form `--name value` is kept for the application.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include <uni/core/run.hpp>
#include <uni/posix/appliance_options.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/console.hpp>
#include <uni/posix/signals.hpp>
#include <uni/posix/tap_netif.hpp>
#include <uni/sim/impaired_netif.hpp>
#include <uni/stack.hpp>

namespace uni::posix {

// The decorator forwards every call directly unless --impair is given.
// (The TAP driver's TCP offloads exist only where the Config has TCP.)
template <class Config>
using tap_driver = BasicTapNetif<Config::tcp>;
template <class Config>
using tap_device = sim::ImpairedNetif<tap_driver<Config>>;
template <class Config>
using tap_stack = Stack<tap_device<Config>, PosixClock, Config>;

// Runs `app(stack, options) -> task<int>` on a TAP device; returns the exit status.
template <class Config, class App>
int run_tap_appliance(std::string_view name, int argc, char** argv, App app) {
  std::string problem;
  auto opts = parse_appliance_options(argc, argv, problem);
  if (!opts) {
    std::fprintf(stderr,
                 "%.*s: %s\nusage: %s --tap IFNAME (--ipv4 ADDR/PREFIX [--gateway ADDR] | --dhcp) [--pcap FILE]\n",
                 static_cast<int>(name.size()), name.data(), problem.c_str(), argv[0]);
    return 2;
  }
  if (opts->dhcp && (!Config::dhcp || opts->ipv4)) {
    std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(name.size()), name.data(),
                 Config::dhcp ? "--dhcp and --ipv4 exclude each other" : "built without DHCP (its Config has dhcp = false)");
    return 2;
  }
  install_console(opts->level);
  boost::asio::io_context io;
  scheduler sched;
  PosixClock clock(io);
  auto pool = std::make_unique<static_page_pool<Config::io_pages>>();
  const mac_address mac = opts->mac ? *opts->mac : random_local_mac(std::random_device{}());
  tap_driver<Config> tap(io, *pool, mac);
  if (auto r = tap.open(opts->tap); !r) {
    log_error(name, ": ", tap.error_message().c_str());
    return 1;
  }
  pcap_writer pcap;
  if (!opts->pcap.empty() && pcap.open(opts->pcap)) tap.record_to(&pcap);
  const auto impairment = sim::parse_impairment(opts->get("impair"));
  if (!impairment) {
    log_error(name, ": bad --impair (want e.g. loss=2,dup=1,reorder=2,delay=1-5): ", opts->get("impair"));
    return 2;
  }
  const auto impair_seed = static_cast<std::uint64_t>(opts->get_number("impair-seed", std::random_device{}()));
  if (impairment->impaired()) log_info(name, ": impairing traffic: ", opts->get("impair"), " (seed ", impair_seed, ")");
  tap_device<Config> device(tap, sched, *impairment, impair_seed);

  stack_settings settings = stack_settings::from<Config>();
  if (opts->ipv4) settings.address = *opts->ipv4;
  settings.dhcp = opts->dhcp || (settings.dhcp && !opts->ipv4);
  if (opts->gateway) settings.gateway = *opts->gateway;
  tap_stack<Config> stack(device, clock, sched, *pool, settings);
  stop_signal stop(sched, io);

  auto announce = [&]() -> task<void> {
    if constexpr (Config::dhcp) {
      if (settings.dhcp) {
        log_info(name, ": asking DHCP for an address (mac ", mac, ")");
        const auto assigned = co_await stack.address_assigned();
        if (!assigned) co_return;  // stopped first
      }
    }
    log_info(name, ": ", stack.address(), " on ", tap.name().c_str(), " (mac ", mac, ", gateway ", stack.gateway(),
             ")");
  };
  auto main_task = [&]() -> task<int> {
    stack.start();
    join_handle<void> announced;  // with DHCP, when the lease is bound
    if (settings.dhcp) announced = spawn(sched, announce());
    else co_await announce();
    auto service = spawn(sched, app(stack, *opts));
    co_await stop.wait();
    if (service.done()) co_return *co_await service.join();
    service.cancel();
    log_info(name, ": stopped by signal ", stop.signal());
    co_return 0;
  };
  auto report = [&] {
    stack.log_counters();
    const auto& t = tap.statistics();
    log_info("tap: rx ", t.rx_frames, " in ", t.rx_reads, " reads (", t.rx_gso_frames, " merged), tx ", t.tx_frames,
             " in ", t.tx_writes, " writes (", t.tx_gso_frames, " merged by GSO) rx dropped (no buffers) ",
             t.rx_no_buffers, " tx dropped (queue full) ", t.tx_would_block, " tx errors ", t.tx_errors,
             " rx errors ", t.rx_errors);
    if (impairment->impaired()) {
      const auto& i = device.statistics();
      log_info("impaired: lost ", i.lost, " duplicated ", i.duplicated, " delayed ", i.delayed, " reordered ",
               i.reordered, " overflow ", i.overflow);
    }
  };
  report_signal on_usr1(io, report);
  auto status = run(sched, clock, main_task());
  report();
  return status.ok() ? *status : 1;
}

}  // namespace uni::posix
