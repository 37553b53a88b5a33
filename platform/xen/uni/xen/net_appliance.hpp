// uni/xen/net_appliance.hpp: start of day of a network appliance on Xen, the
// UNI_TARGET_XEN branch of <uni/appliance.hpp>. After the platform's start
// (console, shared info, event channels, XenClock; appliance.hpp) it maps the
// grant table, starts the xenstore client, makes the I/O page pool over the
// region start of day reserved, connects netfront (device/vif/0), and runs
// `serve(stack, options)` over Stack<XenNetif, XenClock, Config>.
//
// It stops when `serve` returns (its value is the exit status) or when the
// toolstack asks (xl shutdown): then the service is cancelled, netfront closed,
// and the domain powers off with status 0.
//
// The options come from the kernel command line (xl's `extra=`), in the form the
// POSIX targets take on theirs: --ipv4 ADDR/PREFIX --gateway ADDR --log LEVEL,
// and any other `--name value` for the application.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

#include <uni/boot/boot.hpp>
#include <uni/boot/heap.hpp>
#include <uni/core/buffer.hpp>
#include <uni/net/ipv4_address.hpp>
#include <uni/stack.hpp>
#include <uni/xen/appliance.hpp>
#include <uni/xen/grant_table.hpp>
#include <uni/xen/netif.hpp>
#include <uni/xen/xenstore.hpp>

namespace uni::xen {

struct appliance_options {
  static constexpr std::size_t max_extra = 16;
  struct pair {
    std::string_view name, value;
  };
  std::optional<ipv4_cidr> ipv4;
  std::optional<ipv4_address> gateway;
  log_level level = log_level::info;
  pair extra[max_extra];
  std::size_t extra_count = 0;

  std::string_view get(std::string_view name, std::string_view fallback = {}) const noexcept {
    for (std::size_t i = 0; i < extra_count; ++i)
      if (extra[i].name == name) return extra[i].value;
    return fallback;
  }
  long get_number(std::string_view name, long fallback) const noexcept {
    const std::string_view v = get(name);
    if (v.empty()) return fallback;
    long n = 0;
    for (char c : v) {
      if (c < '0' || c > '9') return fallback;
      n = n * 10 + (c - '0');
    }
    return n;
  }

  // Words of the command line; what is not `--name value` is ignored (Xen's loader
  // may put the image name first).
  static appliance_options parse(std::string_view cmdline) noexcept {
    appliance_options o;
    auto next = [&]() {
      while (!cmdline.empty() && cmdline.front() == ' ') cmdline.remove_prefix(1);
      const std::size_t end = cmdline.find(' ');
      const std::string_view w = cmdline.substr(0, end);
      cmdline.remove_prefix(end == std::string_view::npos ? cmdline.size() : end);
      return w;
    };
    for (std::string_view w = next(); !w.empty(); w = next()) {
      if (!w.starts_with("--")) continue;
      const std::string_view v = next();
      if (w == "--ipv4") {
        if (auto c = ipv4_cidr::parse(v)) o.ipv4 = *c;
        else log_warn("options: bad --ipv4 ", v);
      } else if (w == "--gateway") {
        if (auto a = ipv4_address::parse(v)) o.gateway = *a;
        else log_warn("options: bad --gateway ", v);
      } else if (w == "--log") {
        o.level = v == "debug" ? log_level::debug : v == "warn" ? log_level::warn : log_level::info;
      } else if (o.extra_count < max_extra) {
        o.extra[o.extra_count++] = {w.substr(2), v};
      }
    }
    return o;
  }
};

template <class Config>
using xen_stack = Stack<XenNetif, XenClock, Config>;

namespace detail {

// Why the appliance stops: its service returned, or the toolstack asked
// (`xl shutdown`/`xl destroy` write control/shutdown; a guest acknowledges by
// clearing the node).
struct stop_state {
  bool service_done = false;
  bool shutdown_requested = false;
  std::array<char, 16> reason{};
};

inline task<int> watch_shutdown(xenstore& xs, wait_queue& stop, stop_state& st) {
  if (auto r = co_await xs.watch("control/shutdown", "uni-shutdown"); !r) co_return 1;
  for (;;) {
    auto v = co_await xs.read("control/shutdown");
    if (v && !v->view().empty()) {
      const std::size_t n = v->size < st.reason.size() - 1 ? v->size : st.reason.size() - 1;
      std::memcpy(st.reason.data(), v->bytes, n);
      (void)co_await xs.write("control/shutdown", "");
      st.shutdown_requested = true;
      stop.notify_all();
      co_return 0;
    }
    co_await xs.watch_fired().wait();
  }
}

template <class Serve, class S>
task<int> serve_then_stop(Serve& serve, S& stack, const appliance_options& o, wait_queue& stop, stop_state& st) {
  const int status = co_await serve(stack, o);
  st.service_done = true;
  stop.notify_all();
  co_return status;
}

}  // namespace detail

template <class Config, class Serve>
[[noreturn]] void run_net_appliance(std::string_view name, const boot::info& b, Serve serve) noexcept {
  run_appliance(name, b, [name, serve](platform& p) -> task<int> {
    const appliance_options opts = appliance_options::parse(p.boot.cmdline);
    set_log_level(opts.level);
    static grant_table grants;  // 16 KiB of table, page-aligned: not on the stack
    if (auto r = grants.start(); !r) {
      log_error(name, ": cannot map the grant table: ", to_string(r.err()));
      co_return 3;
    }
    xenstore store(p.events, p.sched);
    if (auto r = store.start(); !r) {
      log_error(name, ": no xenstore (", to_string(r.err()), "): a network appliance runs as a domU");
      co_return 3;
    }
    // The I/O page pool over the region start of day set aside.
    const boot::region io = p.boot.memory.io_pages;
    std::size_t pages = io.size() / page_size;
    if (pages > Config::io_pages) pages = Config::io_pages;
    std::unique_ptr<page_meta[]> meta{new page_meta[pages]};
    page_pool pool{{reinterpret_cast<std::uint8_t*>(io.start), pages * page_size}, {meta.get(), pages}};

    XenNetif net(p.events, grants, store, pool);
    if (auto r = co_await net.connect("device/vif/0"); !r) {
      log_error(name, ": netfront did not connect: ", to_string(r.err()));
      co_return 4;
    }
    stack_settings settings = stack_settings::from<Config>();
    if (opts.ipv4) settings.address = *opts.ipv4;
    if (opts.gateway) settings.gateway = *opts.gateway;
    xen_stack<Config> stack(net, p.clock, p.sched, pool, settings);
    stack.start();
    const std::uint64_t cycles = cpu::rdtsc() - p.boot.tsc_at_entry;
    log_info(name, ": ", stack.address(), " on netfront (mac ", net.mac(), ", gateway ", stack.gateway(), ", ", pages,
             " I/O pages); network up ", cycles, " cycles (", p.clock.tsc_to_ns(cycles) / 1000,
             " us) after the first instruction");

    wait_queue stop(p.sched);
    detail::stop_state st;
    auto service = spawn(p.sched, detail::serve_then_stop(serve, stack, opts, stop, st));
    auto watcher = spawn(p.sched, detail::watch_shutdown(store, stop, st));
    while (!st.service_done && !st.shutdown_requested) co_await stop.wait();
    int status = 0;
    if (st.service_done) {
      auto r = co_await service.join();
      status = r ? *r : 1;
    } else {
      service.cancel();
      log_info(name, ": stopped by the toolstack (", std::string_view{st.reason.data()}, ")");
    }
    watcher.cancel();
    stack.log_counters();
    const auto& s = net.statistics();
    log_info("netfront: rx ", s.rx_frames, " tx ", s.tx_frames, " (", s.tx_slots, " slots) rx errors ", s.rx_errors,
             " rx no buffers ", s.rx_no_buffers, " tx would block ", s.tx_would_block, " tx errors ", s.tx_errors);
    if (auto r = co_await net.close(); !r) log_warn("netfront: close: ", to_string(r.err()));
    co_return status;
  });
}

}  // namespace uni::xen
