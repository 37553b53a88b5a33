// uni/xen/appliance.hpp: the Xen platform's start of day after src/boot's, and the
// run loop.
//
//   uni::task<int> main_task(uni::xen::platform& p) { ... co_return 0; }
//   UNI_XEN_APPLIANCE("hello", main_task)
//
// The console comes up first (so everything after is reported), then the shared
// info page, event channels and XenClock; the main task runs in uni::run over the
// scheduler and XenClock, and its value is the exit status: the domain shuts down
// (poweroff for 0, crash otherwise). Booted without Xen, the image says so and
// stops: nothing here can work without the hypervisor.
#pragma once

#include <cstdint>
#include <string_view>
#include <type_traits>

#include <uni/boot/boot.hpp>
#include <uni/boot/heap.hpp>
#include <uni/core/log.hpp>
#include <uni/core/panic.hpp>
#include <uni/core/run.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/xen/clock.hpp>
#include <uni/xen/console.hpp>
#include <uni/xen/events.hpp>
#include <uni/xen/hypercall.hpp>
#include <uni/xen/shared_info.hpp>

namespace uni::boot {
// A region in the boot report: its start and size, "0x100000+44K" (one argument
// of a log line, not four).
inline void format_value(text_writer& w, const region& r) noexcept { format_to(w, hex(r.start), "+", r.size() / 1024, "K"); }
}  // namespace uni::boot

namespace uni::xen {

// What an appliance's main task is given.
struct platform {
  const boot::info& boot;
  console& con;
  event_channels& events;
  XenClock& clock;
  scheduler& sched;
  bool dom0;
  std::uint32_t xen_version;  // major << 16 | minor
};

namespace detail {

inline bool is_dom0() noexcept {
  xen_feature_info_t fi{};
  fi.submap_idx = 0;
  return xen_version(XENVER_get_features, &fi) == 0 && (fi.submap & (1u << XENFEAT_dom0)) != 0;
}

// Ends the domain. dom0 also tells QEMU's isa-debug-exit (the test harness's
// verdict; a real machine has no device there and ignores it).
[[noreturn]] inline void shutdown(int status, bool dom0) noexcept {
  if (dom0) cpu::outb(0xf4, static_cast<std::uint8_t>(status));
  sched_shutdown_t s{};
  s.reason = status == 0 ? SHUTDOWN_poweroff : SHUTDOWN_crash;
  sched_op(SCHEDOP_shutdown, &s);
  boot::hard_stop(static_cast<std::uint8_t>(status));
}

inline bool dom0_flag = false;
[[noreturn]] inline void halt_on_panic() noexcept {
  shutdown(255, dom0_flag);
}

inline void report_layout(const boot::info& b, const XenClock* clock) noexcept {
  const boot::layout& m = b.memory;
  char list[200];  // the RAM ranges, then the steps (one buffer, emptied between)
  text_writer w{list, sizeof list};
  for (std::size_t i = 0; i < b.ram_count; ++i) format_to(w, i ? ", " : "", hex(b.ram[i].start), "-", hex(b.ram[i].end));
  log_info("boot: layout seed ", b.layout_seed, "; RAM ", w.view());
  log_info(fmt<"boot: text {} rx, rodata {} r, data {} rw">, m.text, m.rodata, m.data);
  log_info(fmt<"boot: guard page {}, stack {}, I/O pages {}, heap {}">, hex(m.guard.start), m.stack, m.io_pages, m.heap);
  log_info(fmt<"boot: W^X {} ({} pages walked, {} writable+executable{})">, b.wx_violations == 0 ? "holds" : "VIOLATED",
           b.wx_pages_checked, b.wx_violations, b.nx ? "" : "; no NX on this CPU");
  w.truncate(0);
  std::uint64_t last = b.tsc_at_entry;
  for (std::size_t i = 0; i < b.step_count; ++i) {
    format_to(w, i ? ", " : "", b.steps[i].what, " ", b.steps[i].tsc - last);
    last = b.steps[i].tsc;
  }
  log_info("boot: cycles per step: ", w.view());
  const std::uint64_t cycles = b.tsc_at_main - b.tsc_at_entry;
  if (clock) log_info(fmt<"boot: start of day took {} cycles ({} us)">, cycles, clock->tsc_to_ns(cycles) / 1000);
  else log_info("boot: start of day took ", cycles, " cycles");
}

// The main task run to its end: its outcome. A main that returns the outcome
// itself has run its own task (uni/xen/net_appliance.hpp: its devices close after).
template <class Main>
result<int> run_main(Main& main_task, platform& p) {
  if constexpr (std::is_same_v<decltype(main_task(p)), result<int>>) return main_task(p);
  else return run(p.sched, p.clock, main_task(p));
}

}  // namespace detail

template <class Main>
[[noreturn]] void run_appliance(std::string_view name, const boot::info& b, Main main_task) noexcept {
  const bool on_xen = b.xen_cpuid_base != 0;
  console& con = the_console();
  con.start(on_xen);
  set_log_sink(&console_sink);
  set_log_level(log_level::info);
  if (!on_xen) {
    log_info(fmt<"uni: {}: booted by QEMU's PVH loader, cmdline '{}'">, name, b.cmdline);
    detail::report_layout(b, nullptr);
    log_warn("uni: ", name, ": not running on Xen (no Xen CPUID leaves): nothing to do, exiting");
    boot::hard_stop(0);
  }
  detail::dom0_flag = detail::is_dom0();
  halt_hook() = &detail::halt_on_panic;
  const long v = xen_version(XENVER_version, static_cast<void*>(nullptr));
  log_info(fmt<"uni: {} on Xen {}.{} (PVH {}, console {}), cmdline '{}'">, name, v >> 16, v & 0xffff,
           detail::dom0_flag ? "dom0" : "domU", con.output() == console::kind::ring ? "ring" : "console_io", b.cmdline);

  auto shared = map_shared_info();
  if (!shared) panic("xen: cannot map the shared info page: ", to_string(shared.err()));
  // (Statics, as the console: constant-initialized, no code zeroes their tables.)
  static constinit event_channels events;
  events.start(*shared);
  static constinit XenClock clock;
  if (auto r = clock.start(events); !r) panic("xen: cannot start the clock (upcall vector, VIRQ_TIMER): ", to_string(r.err()));
  detail::report_layout(b, &clock);

  scheduler sched;
  platform p{b, con, events, clock, sched, detail::dom0_flag, static_cast<std::uint32_t>(v)};
  auto outcome = detail::run_main(main_task, p);
  const int status = outcome ? *outcome : 1;
  if (!outcome) log_error("uni: ", name, ": main task failed: ", to_string(outcome.err()));
  const auto& hs = boot::kernel_heap().statistics();
  log_info(fmt<"uni: {}: exit status {} (heap high water {} bytes, {} waits, {} blocks, {} events, {} unhandled)">, name,
           status, hs.high_water, clock.statistics().waits, clock.statistics().blocks, events.statistics().dispatched,
           events.statistics().unhandled);
  boot::run_exit_handlers();
  detail::shutdown(status, detail::dom0_flag);
}

}  // namespace uni::xen

#define UNI_XEN_APPLIANCE(NAME, MAIN)                                         \
  [[noreturn]] void uni_appliance_main(const ::uni::boot::info& b) noexcept { \
    ::uni::xen::run_appliance(NAME, b, [](::uni::xen::platform& p) { return MAIN(p); }); \
  }
