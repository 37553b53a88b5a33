// uni/xen/events.hpp: event channels, Xen's interrupts (2-level ABI).
//
// A port is a bit in the shared info page: Xen sets evtchn_pending[port] and the
// vCPU's pending selector, then raises the upcall vector. Nothing runs in the
// interrupt: the upcall stub only acknowledges it, and the run loop's wait calls
// dispatch(), which clears each pending, unmasked port and calls its handler.
// Handlers are plain (function, context) pairs in a table bounded by max_ports.
#pragma once

#include <cstddef>
#include <cstdint>

#include <uni/core/result.hpp>
#include <uni/xen/cpu.hpp>
#include <uni/xen/hypercall.hpp>

namespace uni::xen {

class event_channels {
 public:
  static constexpr std::size_t max_ports = 256;
  using handler_fn = void (*)(void* ctx, evtchn_port_t port) noexcept;

  struct stats {
    std::uint64_t dispatched = 0;
    std::uint64_t unhandled = 0;  // a pending port with no handler (cleared, counted)
  };

  // Constant-initialized (the image's table is a static: no code zeroes it);
  // start() gives it the shared info page.
  constexpr event_channels() noexcept = default;
  void start(shared_info* s) noexcept { shared_ = s; }
  event_channels(const event_channels&) = delete;
  event_channels& operator=(const event_channels&) = delete;

  // Binds a virtual IRQ (VIRQ_TIMER, ...) of vCPU 0 to a new port.
  result<evtchn_port_t> bind_virq(std::uint32_t virq, handler_fn fn, void* ctx) noexcept {
    evtchn_bind_virq_t op{};
    op.virq = virq;
    op.vcpu = 0;
    if (event_channel_op(EVTCHNOP_bind_virq, &op) != 0) return fail(error::io);
    return attach(op.port, fn, ctx);
  }

  // Routes an existing port (from xenstore or an HVM param) to `fn` and unmasks it.
  result<evtchn_port_t> attach(evtchn_port_t port, handler_fn fn, void* ctx) noexcept {
    if (port == 0 || port >= max_ports) return fail(error::table_full);
    handlers_[port] = {fn, ctx};
    unmask(port);
    return port;
  }

  void unmask(evtchn_port_t port) noexcept {
    evtchn_unmask_t op{};
    op.port = port;
    event_channel_op(EVTCHNOP_unmask, &op);  // re-raises the upcall if the port is pending
  }

  // Tells the other end of `port` (a backend, xenconsoled) there is work.
  void notify(evtchn_port_t port) noexcept {
    evtchn_send_t op{};
    op.port = port;
    event_channel_op(EVTCHNOP_send, &op);
  }

  // Is any unmasked port pending? (Read with interrupts off, before blocking.)
  bool pending() const noexcept {
    if (shared_->vcpu_info[0].evtchn_pending_sel) return true;
    for (std::size_t w = 0; w < words; ++w)
      if (shared_->evtchn_pending[w] & ~shared_->evtchn_mask[w]) return true;
    return false;
  }

  // Clears every pending, unmasked port and calls its handler. Returns how many.
  std::size_t dispatch() noexcept {
    std::size_t n = 0;
    shared_->vcpu_info[0].evtchn_upcall_pending = 0;
    __atomic_exchange_n(&shared_->vcpu_info[0].evtchn_pending_sel, 0UL, __ATOMIC_SEQ_CST);
    // Scan the words our table covers, not only those the selector names: a port
    // raised before the selector was cleared is still found.
    for (std::size_t w = 0; w < words; ++w) {
      xen_ulong_t bits = shared_->evtchn_pending[w] & ~shared_->evtchn_mask[w];
      while (bits) {
        const unsigned b = static_cast<unsigned>(__builtin_ctzl(bits));
        bits &= bits - 1;
        const evtchn_port_t port = static_cast<evtchn_port_t>(w * 64 + b);
        __atomic_fetch_and(&shared_->evtchn_pending[w], ~(xen_ulong_t{1} << b), __ATOMIC_SEQ_CST);
        const entry& e = handlers_[port];
        if (e.fn) {
          e.fn(e.ctx, port);
          ++stats_.dispatched;
        } else {
          ++stats_.unhandled;
        }
        ++n;
      }
    }
    return n;
  }

  const stats& statistics() const noexcept { return stats_; }
  shared_info* shared() const noexcept { return shared_; }

 private:
  static constexpr std::size_t words = max_ports / 64;
  struct entry {
    handler_fn fn = nullptr;
    void* ctx = nullptr;
  };
  shared_info* shared_ = nullptr;
  stats stats_;
  entry handlers_[max_ports];  // (last: the fields above are reached with 1-byte offsets)
};

}  // namespace uni::xen
