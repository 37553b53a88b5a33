// examples/hello: the smallest Xen appliance. It prints over the console, sleeps
// on Xen's one-shot timer (the run loop blocks the vCPU until VIRQ_TIMER fires)
// and checks that the PV clock advanced by as much, then exits with that verdict.
// Booted by QEMU without Xen it reports that and stops (the boot-path smoke test).
#include <uni/xen/appliance.hpp>

namespace {

uni::task<int> hello(uni::xen::platform& p) {
  using namespace std::chrono_literals;
  uni::log_info("hello: hello from uni, a ", p.boot.memory.text.size() / 1024, " KiB text unikernel on Xen");
  constexpr auto nap = 20ms;
  // Under QEMU's emulation the host may stop the guest for longer than the nap
  // before it halts; the nap is then over without the timer being armed. Such a
  // try proves nothing about the timer, so it is taken again: a timer that never
  // fires fails all of them.
  constexpr int tries = 5;
  const auto& stats = p.clock.statistics();
  for (int i = 1; i <= tries; ++i) {
    const std::uint64_t timer_events = stats.wakeups_by_timer;
    const std::uint64_t blocks = stats.blocks;
    const uni::time_point t0 = p.clock.now();
    co_await p.sched.sleep_until(t0 + nap);  // (sleep_for counts from the scheduler's last tick)
    const uni::duration slept = p.clock.now() - t0;
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(slept).count();
    uni::log_info("hello: slept ", us, " us on Xen's timer (", stats.blocks - blocks, " blocks, ",
                  stats.wakeups_by_timer - timer_events, " timer events)");
    if (slept < nap) break;
    if (stats.wakeups_by_timer != timer_events) co_return 0;
  }
  uni::log_error("hello: the clock or the timer is wrong");
  co_return 1;
}

}  // namespace

UNI_XEN_APPLIANCE("hello", hello)
