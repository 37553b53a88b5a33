// uni/posix/tap_appliance.hpp: the POSIX TAP target's start of day. Parses the
// flags every TAP appliance shares, opens the device, builds
// Stack<TapNetif, PosixClock, Config>, runs the application's task until
// SIGINT/SIGTERM, then prints the stack's counters.
//
//   --tap IFNAME          TAP device to attach to (default tap0)
//   --ipv4 ADDR/PREFIX    our address (default: Config::address)
//   --gateway ADDR        default route (default: Config::gateway)
//   --mac MAC             our MAC (default: random, locally administered)
//   --pcap FILE           record every frame (also: UNI_PCAP=FILE)
//   --log debug|info|warn log level
// Anything else of the form `--name value` is kept for the application.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include <uni/core/run.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/console.hpp>
#include <uni/posix/signals.hpp>
#include <uni/posix/tap_netif.hpp>
#include <uni/stack.hpp>

namespace uni::posix {

struct appliance_options {
  std::string tap = "tap0";
  std::string pcap;
  std::optional<ipv4_cidr> ipv4;
  std::optional<ipv4_address> gateway;
  std::optional<mac_address> mac;
  log_level level = log_level::info;
  std::map<std::string, std::string, std::less<>> extra;  // application flags

  std::string_view get(std::string_view name, std::string_view fallback = {}) const {
    auto it = extra.find(name);
    return it == extra.end() ? fallback : std::string_view(it->second);
  }
  long get_number(std::string_view name, long fallback) const {
    auto it = extra.find(name);
    return it == extra.end() ? fallback : std::strtol(it->second.c_str(), nullptr, 10);
  }
};

// Returns the options, or an error message in `problem`.
inline std::optional<appliance_options> parse_appliance_options(int argc, char** argv, std::string& problem) {
  appliance_options o;
  if (const char* p = std::getenv("UNI_PCAP")) o.pcap = p;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag.substr(0, 2) != "--" || i + 1 >= argc) {
      problem = "expected --name value, got '" + std::string(flag) + "'";
      return std::nullopt;
    }
    std::string_view value = argv[++i];
    if (flag == "--tap") {
      o.tap = value;
    } else if (flag == "--pcap") {
      o.pcap = value;
    } else if (flag == "--ipv4") {
      auto c = ipv4_cidr::parse(value);
      if (!c) return problem = "bad --ipv4 (want ADDR/PREFIX): " + std::string(value), std::nullopt;
      o.ipv4 = *c;
    } else if (flag == "--gateway") {
      auto a = ipv4_address::parse(value);
      if (!a) return problem = "bad --gateway: " + std::string(value), std::nullopt;
      o.gateway = *a;
    } else if (flag == "--mac") {
      auto m = mac_address::parse(value);
      if (!m) return problem = "bad --mac: " + std::string(value), std::nullopt;
      o.mac = *m;
    } else if (flag == "--log") {
      o.level = value == "debug" ? log_level::debug : value == "warn" ? log_level::warn : log_level::info;
    } else {
      o.extra.emplace(std::string(flag.substr(2)), std::string(value));
    }
  }
  return o;
}

template <class Config>
using tap_stack = Stack<TapNetif, PosixClock, Config>;

// Runs `app(stack, options) -> task<int>` on a TAP device; returns the exit status.
template <class Config, class App>
int run_tap_appliance(std::string_view name, int argc, char** argv, App app) {
  std::string problem;
  auto opts = parse_appliance_options(argc, argv, problem);
  if (!opts) {
    std::fprintf(stderr, "%.*s: %s\nusage: %s --tap IFNAME --ipv4 ADDR/PREFIX [--gateway ADDR] [--pcap FILE]\n",
                 static_cast<int>(name.size()), name.data(), problem.c_str(), argv[0]);
    return 2;
  }
  install_console(opts->level);
  boost::asio::io_context io;
  scheduler sched;
  PosixClock clock(io);
  auto pool = std::make_unique<static_page_pool<Config::io_pages>>();
  const mac_address mac = opts->mac ? *opts->mac : random_local_mac(std::random_device{}());
  TapNetif tap(io, *pool, mac);
  if (auto r = tap.open(opts->tap); !r) {
    log_error(name, ": ", tap.error_message().c_str());
    return 1;
  }
  pcap_writer pcap;
  if (!opts->pcap.empty() && pcap.open(opts->pcap)) tap.record_to(&pcap);

  stack_settings settings = stack_settings::from<Config>();
  if (opts->ipv4) settings.address = *opts->ipv4;
  if (opts->gateway) settings.gateway = *opts->gateway;
  tap_stack<Config> stack(tap, clock, sched, *pool, settings);
  stop_signal stop(sched, io);

  auto main_task = [&]() -> task<int> {
    stack.start();
    log_info(name, ": ", stack.address(), " on ", tap.name().c_str(), " (mac ", mac, ", gateway ", stack.gateway(),
             ")");
    auto service = spawn(sched, app(stack, *opts));
    co_await stop.wait();
    if (service.done()) co_return *co_await service.join();
    service.cancel();
    log_info(name, ": stopped by signal ", stop.signal());
    co_return 0;
  };
  auto status = run(sched, clock, main_task());
  stack.log_counters();
  const auto& t = tap.statistics();
  log_info("tap: rx ", t.rx_frames, " tx ", t.tx_frames, " rx dropped (no buffers) ", t.rx_no_buffers,
           " tx dropped (queue full) ", t.tx_would_block, " tx errors ", t.tx_errors);
  return status.ok() ? *status : 1;
}

}  // namespace uni::posix
