// uni/xen/clock.hpp: XenClock, the Clock policy of a Xen guest.
//
// now(): Xen's PV clock. Xen publishes, per vCPU, a system time (ns since Xen
// booted) taken at a TSC value, and the TSC-to-ns scale; the guest extrapolates
// with rdtsc. A version counter (odd while Xen writes) makes the read consistent.
//
// wait_until(t): the platform's one blocking call. With interrupts off it handles
// pending event channels; if none, it arms Xen's one-shot timer (VIRQ_TIMER) for
// t and halts with `sti; hlt` -- for a PVH vCPU that is SCHEDOP_block: Xen
// deschedules it until an event channel is raised (timer, device, console) and
// injects the upcall vector. Then it dispatches the pending ports again.
// A device that holds output (netfront's merged TCP segments) has it sent
// before each wait (before_each_wait), as on POSIX.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <uni/boot/boot.hpp>
#include <uni/concepts.hpp>
#include <uni/core/time.hpp>
#include <uni/xen/cpu.hpp>
#include <uni/xen/events.hpp>
#include <uni/xen/hypercall.hpp>

namespace uni::xen {

// The vector Xen raises for event channels (HVM_PARAM_CALLBACK_IRQ, vector type).
inline constexpr std::uint8_t upcall_vector = 0xf3;

class XenClock {
  __extension__ using u128 = unsigned __int128;  // 64x32-bit products, one mul instruction

 public:
  struct stats {
    std::uint64_t waits = 0;    // wait_until calls
    std::uint64_t blocks = 0;   // times the vCPU halted
    std::uint64_t wakeups_by_timer = 0;
  };

  // Constant-initialized (the image's clock is a static, as its console is: no
  // code zeroes its tables); start() attaches it to the event channels.
  constexpr XenClock() noexcept = default;
  XenClock(const XenClock&) = delete;
  XenClock& operator=(const XenClock&) = delete;

  // Reads Xen's time from the shared info page of `ev`, routes event channels to
  // the upcall vector and VIRQ_TIMER to this clock.
  result<void> start(event_channels& ev) noexcept {
    ev_ = &ev;
    time_ = &ev.shared()->vcpu_info[0].time;
    boot::uni_boot_upcall_pending = &ev_->shared()->vcpu_info[0].evtchn_upcall_pending;
    boot::set_interrupt_gate(upcall_vector, &boot::uni_boot_upcall_entry);
    if (set_hvm_param(HVM_PARAM_CALLBACK_IRQ,
                      (std::uint64_t{HVM_PARAM_CALLBACK_TYPE_VECTOR} << 56) | upcall_vector) != 0)
      return fail(error::io);
    ev_->shared()->vcpu_info[0].evtchn_upcall_mask = 0;
    auto port = ev_->bind_virq(VIRQ_TIMER, &XenClock::on_timer, this);
    if (!port) return fail(port.err());
    return {};
  }

  time_point now() const noexcept { return time_point{duration{static_cast<std::int64_t>(system_time_ns())}}; }

  // run(device) before each wait; false when max_flushers devices already asked.
  static constexpr std::size_t max_flushers = 8;  // one per device that holds output
  bool before_each_wait(void (*run)(void*), void* device) noexcept {
    if (flushers_ == max_flushers) return false;
    flush_[flushers_++] = {run, device};
    return true;
  }

  void wait_until(time_point t) noexcept {
    ++stats_.waits;
    for (std::size_t i = 0; i < flushers_; ++i) flush_[i].run(flush_[i].device);
    cpu::cli();
    if (ev_->dispatch() > 0) return;
    const time_point n = now();
    if (t <= n) return;
    // VIRQ_TIMER at t (Xen's time is ours: both count from Xen's boot).
    if (t != time_never) set_timer_op(static_cast<std::uint64_t>(t.time_since_epoch().count()));
    if (!ev_->pending()) {
      ++stats_.blocks;
      cpu::sti_hlt();  // wakes on the upcall; its stub returns here
      cpu::cli();
    }
    ev_->dispatch();
  }

  // Xen system time in ns.
  std::uint64_t system_time_ns() const noexcept {
    std::uint32_t version;
    std::uint64_t system_time, tsc_stamp, tsc;
    std::uint32_t mul;
    std::int8_t shift;
    do {
      version = time_->version;
      cpu::rmb();
      system_time = time_->system_time;
      tsc_stamp = time_->tsc_timestamp;
      mul = time_->tsc_to_system_mul;
      shift = time_->tsc_shift;
      tsc = cpu::rdtsc();
      cpu::rmb();
    } while ((version & 1) || version != time_->version);
    std::uint64_t delta = tsc - tsc_stamp;
    delta = shift >= 0 ? delta << shift : delta >> -shift;
    return system_time + static_cast<std::uint64_t>((static_cast<u128>(delta) * mul) >> 32);
  }

  // Nanoseconds for `cycles` TSC ticks, by the same scale.
  std::uint64_t tsc_to_ns(std::uint64_t cycles) const noexcept {
    const std::int8_t shift = time_->tsc_shift;
    cycles = shift >= 0 ? cycles << shift : cycles >> -shift;
    return static_cast<std::uint64_t>((static_cast<u128>(cycles) * time_->tsc_to_system_mul) >> 32);
  }

  const stats& statistics() const noexcept { return stats_; }

 private:
  static void on_timer(void* self, evtchn_port_t) noexcept { ++static_cast<XenClock*>(self)->stats_.wakeups_by_timer; }

  struct flusher {
    void (*run)(void*) = nullptr;
    void* device = nullptr;
  };
  event_channels* ev_ = nullptr;
  const volatile vcpu_time_info* time_ = nullptr;
  std::size_t flushers_ = 0;
  stats stats_;
  std::array<flusher, max_flushers> flush_{};  // (last: the fields above are reached with 1-byte offsets)
};

static_assert(Clock<XenClock>);

}  // namespace uni::xen
