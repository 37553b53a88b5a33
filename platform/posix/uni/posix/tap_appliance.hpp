// uni/posix/tap_appliance.hpp: the POSIX TAP target's start of day. Parses the
// flags (uni/target_options.hpp: --tap, --ipv4, --gateway, --mac, --dhcp, --pcap
// per interface; --log, --impair, --impair-seed) and the appliance's, opens one
// TAP device per network interface the Config declares (and a disk per block
// device, uni/posix/disk_appliance.hpp; a Unix socket per vchan endpoint,
// uni/posix/unix_vchan.hpp), builds a
// Stack<ImpairedNetif<TapNetif>, PosixClock, Config> on each, and runs the
// service as uni/lifecycle.hpp says (until it ends, or SIGINT/SIGTERM), then
// prints the counters (also on SIGUSR1, while running).
//
// Interfaces: each --tap IFNAME begins the next one and the interface flags after
// it describe it: `--tap a --ipv4 10.0.1.2/24 --tap b --ipv4 10.0.2.2/24`. With one
// interface the order does not matter and --tap defaults to tap0; its address
// defaults to the Config's, its gateway to the Config's when the address is the
// Config's or the gateway is inside the given subnet, and to none otherwise. Every
// further interface needs --tap and --ipv4 (or --dhcp).
#pragma once

#include <net/if.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>

#include <uni/core/run.hpp>
#include <uni/devices.hpp>
#include <uni/lifecycle.hpp>
#include <uni/posix/appliance_options.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/console.hpp>
#include <uni/posix/disk_appliance.hpp>
#include <uni/posix/huge_page_pool.hpp>
#include <uni/posix/pcap.hpp>
#include <uni/posix/signals.hpp>
#include <uni/posix/tap_netif.hpp>
#include <uni/posix/trace_file.hpp>
#include <uni/posix/unix_vchan.hpp>
#include <uni/posix/uring_loop.hpp>
#include <uni/sim/impaired_netif.hpp>
#include <uni/stack.hpp>

namespace uni::posix {

// The decorator forwards every call directly unless --impair is given.
// (The TAP driver's TCP offloads exist only where the Config has TCP.)
template <class Config>
using tap_driver = BasicTapNetif<Config::tcp && Config::device_offloads>;
template <class Config>
using tap_device = sim::ImpairedNetif<tap_driver<Config>>;
template <class Config>
using tap_stack = Stack<tap_device<Config>, PosixClock, Config>;

// One network interface: the TAP device, its capture, the impairment and the stack.
template <class Config>
struct tap_interface {
  tap_interface(boost::asio::io_context& io, page_pool& pool, mac_address mac, scheduler& sched,
                const sim::impairment& imp, std::uint64_t seed)
      : tap(io, pool, mac), device(tap, sched, imp, seed) {}
  tap_driver<Config> tap;
  pcap_writer pcap;
  tap_device<Config> device;
  stack_settings settings;
  std::optional<tap_stack<Config>> stack;
};

// One io_uring as the wait (uni/posix/uring_loop.hpp), unless UNI_URING=0 asks
// for Asio's epoll or the kernel refuses the ring.
inline void wait_on_ring(std::string_view name, uring_loop& ring, PosixClock& clock) {
  char buf[160];
  text_writer why{buf, sizeof buf};
  if (!uring_loop::wanted()) format_to(why, "UNI_URING=0");
  else if (ring.open(why) && !clock.use_ring(ring)) format_to(why, "signals cannot be forwarded to it");
  if (clock.ring()) log_debug(name, ": waiting on io_uring (TAP frames, disks, timers and signals)");
  else log_debug(name, ": io_uring not used (", why.view(), "): waiting on Asio's epoll");
}

// Runs `app(stack, options) -> task<int>` (or `app(stacks, options)` with several
// network interfaces); returns the exit status.
template <class Config, class App>
int run_tap_appliance(std::string_view name, int argc, char** argv, std::span<const option_spec> flags, App app) {
  static_assert(devices_declared<Config>());
  static_assert(Config::network_interfaces >= 1, "uni: a posix-tap appliance has a network interface");
  constexpr std::size_t n = Config::network_interfaces;
  const fixed_text<200> more_help("the appliance's own address: ", Config::address, ", gateway ", Config::gateway,
                                  "; it has ", n, " network interface", n == 1 ? "" : "s",
                                  n == 1 ? "" : " (--tap IFNAME begins each one)");
  int status = 0;
  const auto opts = parse_command_line(name, argc, argv, {"posix-tap", target_flags::posix_tap_flags<Config>(), flags, target_flags::any, n},
                                       more_help.view(), status);
  if (!opts) return status;
  if (const auto why = trace_file<Config::trace>::refusal(*opts); !why.empty()) return refuse(name, why);
  if (opts->interfaces() != n)
    return refuse(name, "this appliance has ", n, " network interfaces: give --tap IFNAME for each (got ",
                  opts->interfaces(), ")");
  std::array<stack_settings, n> settings;
  for (std::size_t i = 0; i < n; ++i) {
    char why[160];
    text_writer w{why, sizeof why};
    if (!target_flags::interface_settings<Config>(*opts, i, settings[i], w)) return refuse(name, w.view());
  }
  const auto impairment = sim::parse_impairment(opts->text("impair"));
  if (!impairment) return refuse(name, "--impair: '", opts->text("impair"), "' is not e.g. loss=2,dup=1,reorder=2,delay=1-5");
  const char* env_pcap = std::getenv("UNI_PCAP");
  std::string pcap_path(opts->text("pcap", 0));
  if (pcap_path.empty() && env_pcap && *env_pcap) {
    char why[200];
    text_writer w{why, sizeof why};
    if (!check_host_path(option_kind::output_file, env_pcap, w)) return refuse(name, "UNI_PCAP: ", w.view());
    pcap_path = env_pcap;
  }

  install_console(target_flags::log_level_of(opts->text("log")));
  boost::asio::io_context io;
  uring_loop ring;
  scheduler sched;
  PosixClock clock(io);
  clock.set_busy_poll(std::chrono::microseconds(opts->number("busy-poll")));
  wait_on_ring(name, ring, clock);
  trace_file<Config::trace> traced(*opts, Config::trace_events);
  // In huge pages where the kernel gives them: a disk read of pages taken in a row is one DMA segment.
  auto pool = std::make_unique<huge_page_pool<Config::io_pages>>();
  std::uint64_t impair_seed = static_cast<std::uint64_t>(opts->number("impair-seed"));
  if (impair_seed == 0) impair_seed = std::random_device{}();
  if (impairment->impaired()) log_info(name, ": impairing traffic: ", opts->text("impair"), " (seed ", impair_seed, ")");

  auto ifs = std::make_unique<std::array<std::optional<tap_interface<Config>>, n>>();
  std::array<tap_stack<Config>*, n> stacks{};
  for (std::size_t i = 0; i < n; ++i) {
    const mac_address mac = opts->given("mac", i) ? *mac_address::parse(opts->text("mac", i))
                                                  : random_local_mac(std::random_device{}());
    auto& f = (*ifs)[i].emplace(io, *pool, mac, sched, *impairment, impair_seed + i);
    const std::string ifname(opts->text("tap", i));
    const bool existed = ::if_nametoindex(ifname.c_str()) != 0;
    f.tap.use_ring(clock);
    if (auto r = f.tap.open(ifname); !r) {
      log_error(name, ": ", f.tap.error_message().c_str());
      return 1;
    }
    if (!existed)
      log_warn(name, ": there was no interface ", ifname.c_str(), ": created it, down and without an address; ",
               "bring it up on the host (ip link set ", ifname.c_str(), " up; ip addr add ADDR/PREFIX dev ",
               ifname.c_str(), ") or give an existing TAP device");
    const std::string path = i == 0 ? pcap_path : std::string(opts->text("pcap", i));
    if (!path.empty()) {
      if (!f.pcap.open(path)) return refuse(name, "--pcap: cannot write ", path.c_str());
      f.tap.record_to(&f.pcap);
    }
    f.tap.flush_before_waits(clock);
    f.settings = settings[i];
    stacks[i] = &f.stack.emplace(f.device, clock, sched, *pool, f.settings);
  }
  posix_disks<Config> disks(clock, sched, *pool);
  if (const int failed = disks.open(name, *opts); failed != 0) return failed;
  posix_vchans<Config> vchans(sched, io, *pool);
  if (const int failed = vchans.open(name, *opts); failed != 0) return failed;
  stop_signal stop(sched, io);

  auto announce = [&](std::size_t i) -> task<void> {
    tap_interface<Config>& f = *(*ifs)[i];
    if constexpr (Config::dhcp) {
      if (f.settings.dhcp) {
        log_info(name, ": asking DHCP for an address (mac ", f.tap.mac(), ")");
        const auto assigned = co_await f.stack->address_assigned();
        if (!assigned) co_return;  // stopped first
      }
    }
    const ipv4_address gw = f.stack->gateway();
    log_info(name, ": ", f.stack->address(), " on ", f.tap.name().c_str(), " (mac ", f.tap.mac(), ", gateway ",
             gw.is_any() ? std::string_view("none") : std::string_view(fixed_text<16>(gw).view()), ")");
  };
  auto report = [&] {
    for (std::size_t i = 0; i < n; ++i) {
      tap_interface<Config>& f = *(*ifs)[i];
      if (n > 1) log_info("interface ", i + 1, ": ", f.tap.name().c_str());
      f.stack->log_counters();
      const auto& t = f.tap.statistics();
      log_info("tap: rx ", t.rx_frames, " in ", t.rx_reads, " reads (", t.rx_gso_frames, " merged, ", t.rx_gso_copied,
               " of them copied), tx ", t.tx_frames,
               " in ", t.tx_writes, " writes (", t.tx_gso_frames, " merged by GSO) rx dropped (no buffers) ",
               t.rx_no_buffers, " tx dropped (queue full) ", t.tx_would_block, " tx errors ", t.tx_errors,
               " rx errors ", t.rx_errors);
      if (impairment->impaired()) {
        const auto& m = f.device.statistics();
        log_info("impaired: lost ", m.lost, " duplicated ", m.duplicated, " delayed ", m.delayed, " reordered ",
                 m.reordered, " overflow ", m.overflow);
      }
    }
    disks.report();
    traced.write();
  };
  auto main_task = [&]() -> task<int> {
    std::array<join_handle<void>, n> announced;  // with DHCP, when the lease is bound
    for (std::size_t i = 0; i < n; ++i) {
      tap_interface<Config>& f = *(*ifs)[i];
      f.stack->start();
      if (f.settings.dhcp) announced[i] = spawn(sched, announce(i));
      else co_await announce(i);
    }
    if constexpr (n == 1) {
      co_return co_await serve_until_stopped(sched, name,
                                             serve_with_devices<Config>(app, *stacks[0], disks, vchans, *opts),
                                             stop.request(), report);
    } else {
      uni::stacks<tap_stack<Config>, n> all(stacks);
      co_return co_await serve_until_stopped(sched, name, serve_with_devices<Config>(app, all, disks, vchans, *opts),
                                             stop.request(), report);
    }
  };
  report_signal on_usr1(io, report);
  auto outcome = run(sched, clock, main_task());
  traced.write();
  return outcome.ok() ? *outcome : 1;
}

}  // namespace uni::posix
