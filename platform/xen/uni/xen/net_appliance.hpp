// uni/xen/net_appliance.hpp: start of day of a network appliance on Xen, the
// UNI_TARGET_XEN branch of <uni/appliance.hpp>. After the platform's start
// (console, shared info, event channels, XenClock; appliance.hpp) it maps the
// grant table, starts the xenstore client, makes the I/O page pool over the
// region start of day reserved, connects netfront on device/vif/0..N-1 (one per
// network interface the Config declares; the generated xl configuration lists
// as many vifs), and runs `serve(stack, options)` (`serve(stacks, options)` with
// several) over Stack<XenNetif, XenClock, Config>.
//
// An appliance that declares block devices (Config::block_devices, uni/devices.hpp)
// gets blkfront (uni/xen/blkfront.hpp) on device/vbd/51712, 51728, ... (xvda,
// xvdb, ...: the generated xl configuration's disk lines, cmake/uniXenCfg.cmake),
// each behind a block::request_queue of Config::block_queue_depth, and is served
// `serve(stack, disks, options)`. Vchan endpoints (Config::vchan_endpoints) come
// after the disks (uni/xen/vchan_endpoints.hpp: --vchan PATH, --peer, --ring-order,
// --connect); an appliance of vchans alone declares no network interface, and
// has no netfront.
//
// It runs as uni/lifecycle.hpp says: it stops when `serve` returns (its value is
// the exit status) or when the toolstack asks (xl shutdown): then the service is
// cancelled and the status is 0; netfront is closed and the domain powers off
// (status 0) or crashes (any other).
//
// The options come from the kernel command line (xl's `extra=`) through the
// parser the POSIX targets use (uni/options.hpp), with the same policy: a bad or
// unknown flag is an error (exit status 2). Its flags: --ipv4 ADDR/PREFIX and
// --gateway ADDR per interface (--vif N begins interface N), --log LEVEL, then the
// appliance's. Words not of the form --flag (the loader's, such as the image
// name) are not ours and are skipped.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include <uni/block/request_queue.hpp>
#include <uni/boot/boot.hpp>
#include <uni/boot/heap.hpp>
#include <uni/core/buffer.hpp>
#include <uni/devices.hpp>
#include <uni/lifecycle.hpp>
#include <uni/net/ipv4_address.hpp>
#include <uni/options.hpp>
#include <uni/stack.hpp>
#include <uni/target_options.hpp>
#include <uni/trace/console_dump.hpp>
#include <uni/xen/appliance.hpp>
#include <uni/xen/blkfront.hpp>
#include <uni/xen/domu_base.hpp>
#include <uni/xen/grant_table.hpp>
#include <uni/xen/netif.hpp>
#include <uni/xen/vchan_endpoints.hpp>
#include <uni/xen/xenstore.hpp>

namespace uni::xen {

using uni::appliance_options;

template <class Config>
using xen_stack = Stack<BasicXenNetif<Config::tcp && Config::device_offloads>, XenClock, Config>;  // (config.hpp)

namespace detail {

// The toolstack's stop request (`xl shutdown`/`xl destroy` write control/shutdown;
// a guest acknowledges by clearing the node), for uni/lifecycle.hpp.
inline task<void> toolstack_shutdown(xenstore& xs, std::string_view name) {
  if (auto r = co_await xs.watch("control/shutdown", "uni-shutdown"); !r) {
    log_warn(name, ": cannot watch control/shutdown (", to_string(r.err()), "): xl shutdown will not reach it");
    co_await std::suspend_always{};  // never asked
  }
  for (;;) {
    const std::uint64_t events = xs.statistics().watch_events;  // (one during the read wakes no one)
    xenstore::value v;
    if (auto r = co_await xs.read(v, "control/shutdown"); r && !v.view().empty()) {
      char reason[16] = {};
      const std::size_t n = v.size < sizeof reason - 1 ? v.size : sizeof reason - 1;
      std::memcpy(reason, v.bytes, n);
      (void)co_await xs.write("control/shutdown", "");
      log_info(name, ": stopped by the toolstack (", std::string_view{reason, n}, ")");
      co_return;
    }
    if (xs.statistics().watch_events == events) co_await xs.watch_fired().wait();
  }
}

// One network interface: netfront on device/vif/N and the stack over it.
template <class Config>
struct xen_interface {
  xen_interface(event_channels& ev, grant_table& g, xenstore& xs, page_pool& pool) noexcept : net(ev, g, xs, pool) {}
  BasicXenNetif<Config::tcp && Config::device_offloads> net;
  char node[24] = {};  // "device/vif/N": netfront keeps a view of it
  stack_settings settings;
  std::optional<xen_stack<Config>> stack;
};

// The appliance's block devices: blkfront on device/vbd/(51712 + 16 i), xvda,
// xvdb, ..., each behind the request queue the Config sizes.
template <class Config>
class xen_disks {
 public:
  static constexpr std::size_t count = Config::block_devices;
  using blkfront = blkfront_for<Config>;
  using queue = block::request_queue<blkfront, Config::block_queue_depth, blkfront::queue::max_segments>;

  // Connects every disk, in order; the first that does not connect ends it.
  task<result<void>> connect(std::string_view name, event_channels& ev, grant_table& g, xenstore& xs, page_pool& pool,
                             scheduler& sched) {
    for (std::size_t i = 0; i < count; ++i) {
      one& d = each_[i].emplace(ev, g, xs, pool, sched);
      text_writer node{d.node, sizeof d.node - 1};
      format_to(node, "device/vbd/", 51712 + 16 * i);
      if (auto r = co_await d.front.connect(node.view()); !r) {
        log_error(name, ": blkfront did not connect to ", node.view(), ": ", to_string(r.err()),
                  " (the xl configuration must list a disk per block device)");
        co_return r;
      }
      ++connected_;
      queues_[i] = &d.requests.emplace(d.front, sched);
    }
    all_.emplace(queues_);
    co_return result<void>{};
  }
  // What `serve` is given (after connect()).
  uni::disks<queue, count>& all() noexcept { return *all_; }

  task<void> close() {
    for (std::size_t i = 0; i < connected_; ++i)
      if (auto r = co_await each_[i]->front.close(); !r) log_warn("blkfront: close: ", to_string(r.err()));
    connected_ = 0;
  }

 private:
  struct one {
    one(event_channels& ev, grant_table& g, xenstore& xs, page_pool& pool, scheduler& sched) noexcept
        : front(ev, g, xs, pool, sched) {}
    blkfront front;
    char node[24] = {};  // "device/vbd/N": blkfront keeps a view of it
    std::optional<queue> requests;
  };
  std::array<std::optional<one>, count> each_;
  std::array<queue*, count> queues_{};
  std::optional<uni::disks<queue, count>> all_;
  std::size_t connected_ = 0;
};

// No disks declared: nothing to connect or close (run_net_appliance does not
// call them), so neither blkfront nor two empty coroutines are in the image.
template <class Config>
  requires(Config::block_devices == 0)
class xen_disks<Config> {};

// The options from the kernel command line (xl's `extra=`); nothing with the exit
// status to end with (0 after --help, 2 after a line saying what is wrong).
inline std::optional<appliance_options> command_line_options(std::string_view name, std::string_view cmdline,
                                                             std::span<const option_spec> platform,
                                                             std::span<const option_spec> flags,
                                                             std::size_t interfaces, int& status) noexcept {
  const option_tables tables{"xen", platform, flags, target_flags::any, interfaces, nullptr, true};
  const auto words = command_words::from_text(cmdline);
  char buf[200];
  text_writer problem{buf, sizeof buf};
  auto parsed = parse_options(words.words(), tables, problem);
  if (words.overflowed()) format_to(problem, "more than ", command_words::capacity, " words on the command line");
  if (!parsed || words.overflowed()) {
    log_error(name, ": ", problem.view(), " (see --help)");
    status = 2;
    return std::nullopt;
  }
  if (parsed->help_asked()) {
    write_help(name, tables, name, [](std::string_view line) { log_info(line); });
    status = 0;
    return std::nullopt;
  }
  for (std::size_t i = 0; i < parsed->interfaces(); ++i)
    if (parsed->given("vif", i) && parsed->number("vif", i) != static_cast<std::int64_t>(i)) {
      log_error(name, ": --vif ", parsed->number("vif", i), " given as interface ", i + 1, ": name them in order, from 0");
      status = 2;
      return std::nullopt;
    }
  return std::move(*parsed);
}

// Tracing (a Config with trace): recorded from the start, dumped over the console
// when the appliance ends, whichever way (a failed start too; uni/trace/console_dump.hpp;
// scripts/trace-from-console makes the JSON of it). Without it, nothing.
template <bool Traced>
struct xen_trace {
  explicit xen_trace(std::size_t) noexcept {}
};
template <>
struct xen_trace<true> {
  explicit xen_trace(std::size_t events) : recorder(events) {}
  xen_trace(const xen_trace&) = delete;
  xen_trace& operator=(const xen_trace&) = delete;
  ~xen_trace() {
    log_info("trace: ", recorder.size(), " events (", recorder.dropped(), " dropped) follow, as uni-trace: lines");
    auto line = [](std::string_view s) { the_console().write(s); };
    trace::dump_to_console(recorder, line);
  }
  trace::recorder recorder;
};

}  // namespace detail

// Runs `serve(stack, options)` (or `serve(stacks, options)` with several network
// interfaces) on Xen; never returns.
template <class Config, class Serve>
[[noreturn]] void run_net_appliance(std::string_view name, const boot::info& b, std::span<const option_spec> flags,
                                    Serve serve) noexcept {
  static_assert(devices_declared<Config>());
  run_appliance(name, b, [name, flags, serve](platform& p) -> task<int> {
    constexpr std::size_t n = Config::network_interfaces;
    int status = 0;
    const auto opts =
        detail::command_line_options(name, p.boot.cmdline, target_flags::xen_flags<Config>(), flags, n ? n : 1, status);
    if (!opts) co_return status;
    set_log_level(target_flags::log_level_of(opts->text("log")));
    detail::xen_trace<Config::trace> traced(Config::trace_events);
    std::array<stack_settings, n> settings;
    for (std::size_t i = 0; i < n; ++i) {
      char why[160];
      text_writer w{why, sizeof why};
      if (!target_flags::interface_settings<Config>(*opts, i, settings[i], w)) {
        log_error(name, ": ", w.view(), " (see --help)");
        co_return 2;
      }
    }
    static grant_table grants;  // 16 KiB of table, page-aligned: not on the stack
    xenstore store(p.events, p.sched);
    if (!start_grants_and_store(name, "an appliance", grants, store)) co_return 3;
    io_page_pool io(p.boot.memory.io_pages, Config::io_pages);
    page_pool& pool = io.pool();

    // Disks first: a service that starts finds them there.
    auto disks = std::make_unique<detail::xen_disks<Config>>();
    constexpr bool has_disks = Config::block_devices > 0;
    if constexpr (has_disks) {
      if (auto r = co_await disks->connect(name, p.events, grants, store, pool, p.sched); !r) {
        co_await disks->close();
        co_return 4;
      }
    }
    xen_vchans<Config> vchans;
    if (!vchans.open(name, p.events, grants, store, pool, p.sched, *opts)) {
      if constexpr (has_disks) co_await disks->close();
      co_return 2;
    }
    std::unique_ptr<std::array<std::optional<detail::xen_interface<Config>>, n>> ifs;
    if constexpr (n > 0) ifs = std::make_unique<std::array<std::optional<detail::xen_interface<Config>>, n>>();
    std::array<xen_stack<Config>*, n> stacks{};
    // (One path to the end, whatever fails: each co_await in this coroutine is
    // code of its own, a few hundred bytes in this large frame.)
    std::size_t connected = 0;
    if constexpr (n > 0)
      for (; connected < n; ++connected) {
        const std::size_t i = connected;
        auto& f = (*ifs)[i].emplace(p.events, grants, store, pool);
        text_writer node{f.node, sizeof f.node - 1};
        format_to(node, "device/vif/", i);
        if (auto r = co_await f.net.connect(node.view()); !r) {
          log_error(name, ": netfront did not connect to ", node.view(), ": ", to_string(r.err()),
                    n > 1 ? " (the xl configuration must list a vif per interface)" : "");
          status = 4;
          break;
        }
        f.net.flush_before_waits(p.clock);
        f.settings = settings[i];
        stacks[i] = &f.stack.emplace(f.net, p.clock, p.sched, pool, f.settings);
        f.stack->start();
        const std::uint64_t cycles = cpu::rdtsc() - p.boot.tsc_at_entry;
        const ipv4_address gw = f.stack->gateway();
        log_info(name, ": ", f.stack->address(), " on netfront ", node.view(), " (mac ", f.net.mac(), ", gateway ",
                 gw.is_any() ? std::string_view("none") : std::string_view(fixed_text<16>(gw).view()), ", ",
                 io.pages(), " I/O pages); network up ", cycles, " cycles (", p.clock.tsc_to_ns(cycles) / 1000,
                 " us) after the first instruction");
      }
    if (connected == n) {
      auto report = [&] {
        if constexpr (n > 0)
          for (std::size_t i = 0; i < n; ++i) {
            detail::xen_interface<Config>& f = *(*ifs)[i];
            if (n > 1) log_info("interface ", i + 1, ": ", std::string_view(f.node));
            f.stack->log_counters();
            const auto& s = f.net.statistics();
            log_info("netfront: rx ", s.rx_frames, " tx ", s.tx_frames, " (", s.tx_slots, " slots) rx errors ",
                     s.rx_errors, " rx no buffers ", s.rx_no_buffers, " tx would block ", s.tx_would_block,
                     " tx errors ", s.tx_errors);
            log_info("netfront offloads: rx multi-slot ", s.rx_multi_slot, " gso ", s.rx_gso_frames, " csum ",
                     s.rx_csum_offload, " drops ", s.rx_drops.total(), " rejects ", s.rx_rejects.total(), "; tx gso ",
                     s.tx_gso_frames, " (", s.tx_gso_segments, " segments)");
          }
      };
      // serve([stack or stacks,] [disks,] [vchans,] options)
      auto served = [&](auto& net) {
        return serve_until_stopped(p.sched, name, serve_with_devices<Config>(serve, net, *disks, vchans, *opts),
                                   detail::toolstack_shutdown(store, name), report);
      };
      if constexpr (n > 1) {
        uni::stacks<xen_stack<Config>, n> all(stacks);
        status = co_await served(all);
      } else if constexpr (n == 1) {
        status = co_await served(*stacks[0]);
      } else {
        no_network none;
        status = co_await served(none);
      }
    }
    if constexpr (n > 0)
      for (std::size_t i = 0; i < connected; ++i)
        if (auto r = co_await (*ifs)[i]->net.close(); !r) log_warn("netfront: close: ", to_string(r.err()));
    if constexpr (Config::vchan_endpoints > 0) co_await vchans.close();
    if constexpr (has_disks) co_await disks->close();
    co_return status;
  });
}

}  // namespace uni::xen
