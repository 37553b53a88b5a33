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
  const uni::time_point t0 = p.clock.now();
  co_await p.sched.sleep_until(t0 + nap);  // (sleep_for counts from the scheduler's last tick)
  const uni::duration slept = p.clock.now() - t0;
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(slept).count();
  uni::log_info("hello: slept ", us, " us on Xen's timer (", p.clock.statistics().blocks, " blocks, ",
                p.clock.statistics().wakeups_by_timer, " timer events)");
  if (slept < nap || p.clock.statistics().wakeups_by_timer == 0) {
    uni::log_error("hello: the clock or the timer is wrong");
    co_return 1;
  }
  co_return 0;
}

}  // namespace

UNI_XEN_APPLIANCE("hello", hello)
