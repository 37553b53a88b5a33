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
// cancelled and the status is 0; netfront is closed, then the vchans and disks,
// and the domain powers off (status 0) or crashes (any other).
//
// The options come from the kernel command line (xl's `extra=`) through the
// parser the POSIX targets use (uni/options.hpp), with the same policy: a bad or
// unknown flag is an error (exit status 2). Its flags: --ipv4 ADDR/PREFIX and
// --gateway ADDR per interface (--vif N begins interface N), --log LEVEL, then the
// appliance's. Words not of the form --flag (the loader's, such as the image
// name) are not ours and are skipped.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

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
// a guest acknowledges by clearing the node), for uni/lifecycle.hpp: xenstore's
// watch events say when to read the node again.
class toolstack_shutdown {
 public:
  explicit toolstack_shutdown(xenstore& xs) noexcept : xs_(xs) {}

  // Once the store is up. Unwatched, no stop is ever asked for: the appliance
  // runs until its service ends (the watch events are other nodes').
  stop_request watch(std::string_view name) {
    using namespace std::string_view_literals;  // (a literal's length known here, not a strlen call)
    const auto w = xs_.watch(node, "uni-shutdown"sv);
    if (!w) log_warn(name, ": cannot watch control/shutdown (", to_string(w.err()), "): xl shutdown will not reach it");
    watched_ = bool(w);
    return {xs_.watch_fired(), *this};
  }
  // The node is read again only after a watch event since the last read (one
  // during the read counts): asked at every turn of the run loop, this is a
  // comparison while nothing happens (uni/lifecycle.hpp's run_until_stopped).
  bool operator()(std::string_view name) {
    while (watched_ && xs_.statistics().watch_events != read_at_) {
      read_at_ = xs_.statistics().watch_events;
      xenstore::value v;
      if (auto r = xs_.read(v, node); r && !v.view().empty()) {
        (void)xs_.write(node, {});
        log_info(name, ": stopped by the toolstack (", std::string_view{v.bytes, std::min<std::size_t>(v.size, 15)}, ")");
        return true;
      }
    }
    return false;
  }

 private:
  static constexpr std::string_view node = "control/shutdown";
  xenstore& xs_;
  bool watched_ = false;
  std::uint64_t read_at_ = ~std::uint64_t{0};  // watch events when last read (none yet: read at once)
};

// A gateway in the start-up line: its address, or "none" (one argument of the
// line, not a text formatted beforehand).
struct gateway_text {
  ipv4_address address;
};
inline void format_value(text_writer& w, gateway_text g) noexcept {
  if (g.address.is_any()) w.put(std::string_view{"none", 4});
  else format_value(w, g.address);
}

// One network interface: netfront on device/vif/N and the stack over it.
template <class Config>
struct xen_interface {
  xen_interface(event_channels& ev, grant_table& g, xenstore& xs, page_pool& pool) noexcept : net(ev, g, xs, pool) {}
  BasicXenNetif<Config::tcp && Config::device_offloads> net;
  char node[24] = {};  // "device/vif/N": netfront keeps a view of it
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
  result<void> connect(std::string_view name, event_channels& ev, grant_table& g, xenstore& xs, page_pool& pool,
                       scheduler& sched) noexcept {
    for (std::size_t i = 0; i < count; ++i) {
      one& d = emplace_once(each_[i], ev, g, xs, pool, sched);
      text_writer node{d.node, sizeof d.node - 1};
      format_to(node, "device/vbd/", 51712 + 16 * i);
      if (auto r = d.front.connect(node.view()); !r) {
        log_error(fmt<"{}: blkfront did not connect to {}: {} (the xl configuration must list a disk per block device)">,
                  name, node.view(), to_string(r.err()));
        return r;
      }
      ++connected_;
      queues_[i] = &emplace_once(d.requests, d.front, sched);
    }
    emplace_once(all_, queues_);
    return {};
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

// The options from the kernel command line (xl's `extra=`) into `options`
// (empty; filled in place: no copy of them returned), true; or false with the
// exit status to end with (0 after --help, 2 after a line saying what is wrong).
inline bool command_line_options(std::optional<appliance_options>& options, std::string_view name,
                                 std::string_view cmdline, std::span<const option_spec> platform,
                                 std::span<const option_spec> flags, std::size_t interfaces, int& status) noexcept {
  using namespace std::string_view_literals;  // (a literal's length known here, not a strlen call)
  const option_tables tables{"xen"sv, platform, flags, target_flags::any, interfaces, nullptr, true};
  const auto words = command_words::from_text(cmdline);
  char buf[200];
  text_writer problem{buf, sizeof buf};
  auto parsed = parse_options(words.words(), tables, problem);
  if (words.overflowed()) format_to(problem, "more than ", command_words::capacity, " words on the command line");
  if (!parsed || words.overflowed()) {
    log_error(name, ": ", problem.view(), " (see --help)");
    status = 2;
    return false;
  }
  appliance_options& o = *parsed;  // (checked once: each -> would check the result again)
  if (o.help_asked()) {
    write_help(name, tables, name, [](std::string_view line) { log_info(line); });
    status = 0;
    return false;
  }
  constexpr std::string_view vif = "vif"sv;
  for (std::size_t i = 0; i < o.interfaces(); ++i)
    if (o.given(vif, i) && o.number(vif, i) != static_cast<std::int64_t>(i)) {
      log_error(fmt<"{}: --vif {} given as interface {}: name them in order, from 0">, name, o.number(vif, i), i + 1);
      status = 2;
      return false;
    }
  emplace_once(options, std::move(o));
  return true;
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
    log_info(fmt<"trace: {} events ({} dropped) follow, as uni-trace: lines">, recorder.size(), recorder.dropped());
    auto line = [](std::string_view s) { the_console().write(s); };
    trace::dump_to_console(recorder, line);
  }
  trace::recorder recorder;
};

// An appliance's devices and the start of day that makes them, in one object.
// start() is a plain function (each of its xenstore calls blocks, and nothing
// else runs yet), and so is run_net_appliance's main: no await is code of its
// own.
template <class Config>
class xen_appliance {
 public:
  static constexpr std::size_t n = Config::network_interfaces;
  static constexpr int started = -1;

  xen_appliance(std::string_view name, platform& p) noexcept : name_(name), p_(p), store_(p.events, p.clock, p.sched) {}

  // Options, grants and xenstore, I/O pages, then the disks (a service that
  // starts finds them there), the vchans, and netfront with a stack on each
  // network interface: `started`, or the exit status after a line saying why.
  // (Out of line, as close_interfaces(): inlined into run_appliance, with the
  // stacks' and devices' constructors and closing, they made one frame of
  // kilobytes whose slots each instruction reached with 4-byte offsets.)
  [[gnu::noinline]] int start(std::span<const option_spec> flags) noexcept {
    using namespace std::string_view_literals;  // (a literal's length known here, not a strlen call)
    if (int status = 0; !command_line_options(opts_, name_, p_.boot.cmdline, target_flags::xen_flags<Config>(), flags,
                                              n ? n : 1, status))
      return status;
    set_log_level(target_flags::log_level_of(opts_->text("log"sv)));
    traced_.emplace(Config::trace_events);
    std::array<stack_settings, n> settings;
    for (std::size_t i = 0; i < n; ++i) {
      char why[160];
      text_writer w{why, sizeof why};
      if (!target_flags::interface_settings<Config>(*opts_, i, settings[i], w)) {
        log_error(name_, ": ", w.view(), " (see --help)");
        return 2;
      }
    }
    static grant_table grants;  // 16 KiB of table, page-aligned: not on the stack
    if (!start_grants_and_store(name_, grants, store_)) return 3;
    page_pool& pool = emplace_once(io_, p_.boot.memory.io_pages, Config::io_pages).pool();
    if constexpr (Config::block_devices > 0)
      if (!disks_.connect(name_, p_.events, grants, store_, pool, p_.sched)) return 4;
    if (!vchans_.open(name_, p_.events, grants, store_, pool, p_.sched, *opts_)) return 2;
    if constexpr (n > 0)
      for (; connected_ < n; ++connected_) {
        const std::size_t i = connected_;
        auto& f = emplace_once(ifs_[i], p_.events, grants, store_, pool);
        text_writer node{f.node, sizeof f.node - 1};
        format_to(node, "device/vif/", i);
        if (auto r = f.net.connect(node.view()); !r) {
          log_error(fmt<"{}: netfront did not connect to {}: {}{}">, name_, node.view(), to_string(r.err()),
                    n > 1 ? " (the xl configuration must list a vif per interface)"sv : ""sv);
          return 4;
        }
        f.net.flush_before_waits(p_.clock);
        stacks_[i] = &emplace_once(f.stack, f.net, p_.clock, p_.sched, pool, settings[i]);
        f.stack->start();
        const std::uint64_t cycles = cpu::rdtsc() - p_.boot.tsc_at_entry;
        log_info(fmt<"{}: {} on netfront {} (mac {}, gateway {}, {} I/O pages); network up {} cycles ({} us) after the first "
                     "instruction">,
                 name_, f.stack->address(), node.view(), f.net.mac(),
                 gateway_text{f.stack->gateway()}, io_->pages(), cycles,
                 p_.clock.tsc_to_ns(cycles) / 1000);
      }
    return started;
  }

  // serve([stack or stacks,] [disks,] [vchans,] options) until it returns or the
  // toolstack stops us (after start()), in the run loop (uni/lifecycle.hpp).
  template <class Serve>
  int run(Serve& serve) {
    return run_until_stopped(p_.sched, p_.clock, name_, service(serve), shutdown_.watch(name_), reporter_);
  }

  // Netfront closed on each interface that connected (the vchans and disks
  // close with awaits: run_net_appliance's).
  [[gnu::noinline]] void close_interfaces() noexcept {
    if constexpr (n > 0)
      for (std::size_t i = 0; i < connected_; ++i)
        if (auto r = ifs_[i]->net.close(); !r) log_warn("netfront: close: ", to_string(r.err()));
    connected_ = 0;
  }
  xen_disks<Config>& disks() noexcept { return disks_; }
  xen_vchans<Config>& vchans() noexcept { return vchans_; }

  // The trace dumped (with a trace), once everything else has closed.
  void end_trace() noexcept { traced_.reset(); }

 private:
  template <class Serve>
  task<int> service(Serve& serve) {
    auto with = [&](auto& net) { return serve_with_devices<Config>(serve, net, disks_, vchans_, *opts_); };
    if constexpr (n > 1) return with(all_.emplace(stacks_));
    else if constexpr (n == 1) return with(*stacks_[0]);
    else return with(none_);
  }

  // Each interface's counters, as the service ends.
  void report() const {
    if constexpr (n > 0)
      for (std::size_t i = 0; i < n; ++i) {
        const xen_interface<Config>& f = *ifs_[i];
        if (n > 1) log_info("interface ", i + 1, ": ", std::string_view(f.node));
        f.stack->log_counters();
        const auto& s = f.net.statistics();
        log_fields(log_level::info,
                   "netfront: rx \0 tx \0 (\0 slots) rx errors \0 rx no buffers \0 tx would block \0 tx errors \0", s,
                   traffic_fields);
        log_fields(log_level::info,
                   "netfront offloads: rx multi-slot \0 gso \0 csum \0 drops \0 rejects \0; tx gso \0 (\0 segments)", s,
                   offload_fields);
      }
  }
  // The report's netfront lines, read from netfront's counters.
  using netfront_stats = typename decltype(xen_interface<Config>::net)::stats;
  static constexpr count_field traffic_fields[] = {
      {offsetof(netfront_stats, rx_frames)},     {offsetof(netfront_stats, tx_frames)},
      {offsetof(netfront_stats, tx_slots)},      {offsetof(netfront_stats, rx_errors)},
      {offsetof(netfront_stats, rx_no_buffers)}, {offsetof(netfront_stats, tx_would_block)},
      {offsetof(netfront_stats, tx_errors)}};
  static constexpr count_field offload_fields[] = {
      {offsetof(netfront_stats, rx_multi_slot)},
      {offsetof(netfront_stats, rx_gso_frames)},
      {offsetof(netfront_stats, rx_csum_offload)},
      count_total(offsetof(netfront_stats, rx_drops), sizeof(netfront_stats::rx_drops)),  // its total()
      count_total(offsetof(netfront_stats, rx_rejects), sizeof(netfront_stats::rx_rejects)),
      {offsetof(netfront_stats, tx_gso_frames)},
      {offsetof(netfront_stats, tx_gso_segments)}};
  struct report_fn {  // what run_until_stopped calls (it outlives the serving)
    const xen_appliance& app;
    void operator()() const { app.report(); }
  };

  std::string_view name_;
  platform& p_;
  // (Never destroyed: run_net_appliance's. end_trace() dumps the trace.)
  // The small members first and the large ones (the options, the devices and
  // stacks, kilobytes) last: the small ones' offsets then fit in a byte, which
  // each instruction reaching them encodes, rather than in four.
  std::optional<xen_trace<Config::trace>> traced_;
  xenstore store_;
  toolstack_shutdown shutdown_{store_};
  std::optional<io_page_pool> io_;
  std::array<xen_stack<Config>*, n> stacks_{};
  std::size_t connected_ = 0;
  no_network none_;
  report_fn reporter_{*this};
  std::optional<appliance_options> opts_;
  xen_disks<Config> disks_;
  xen_vchans<Config> vchans_;
  std::array<std::optional<xen_interface<Config>>, n> ifs_;
  std::optional<uni::stacks<xen_stack<Config>, n>> all_;
};

}  // namespace detail

// Runs `serve(stack, options)` (or `serve(stacks, options)` with several network
// interfaces) on Xen; never returns.
template <class Config, class Serve>
[[noreturn]] void run_net_appliance(std::string_view name, const boot::info& b, std::span<const option_spec> flags,
                                    Serve serve) noexcept {
  static_assert(devices_declared<Config>());
  // No coroutine of its own: the service is run here, in the run loop with the
  // stop request checked between turns (run_until_stopped), then netfront closed,
  // then the vchans and disks, whose closing awaits, each run to its end, then
  // the trace dumped.
  // The appliance is never destroyed: the domain ends once this returns, and
  // what it holds (the stacks, their pages, the devices' grants, which closing
  // revoked) goes with it, so no destructor of a stack or a device is code of
  // the image (as the frame cache's, uni/core/frame_cache.hpp).
  run_appliance(name, b, [name, flags, serve](platform& p) mutable -> result<int> {
    auto& app = *new detail::xen_appliance<Config>(name, p);
    int status = app.start(flags);
    if (status == app.started) status = app.run(serve);
    app.close_interfaces();
    if constexpr (Config::vchan_endpoints > 0) (void)run(p.sched, p.clock, app.vchans().close());
    if constexpr (Config::block_devices > 0) (void)run(p.sched, p.clock, app.disks().close());
    app.end_trace();
    return status;
  });
}

}  // namespace uni::xen
