// uni/xen/console.hpp: where a Xen guest's text goes.
//   ring        a domU: the PV console ring (HVM_PARAM_CONSOLE_PFN/_EVTCHN), read
//               by xenconsoled in dom0
//   hypervisor  dom0 (no ring): HYPERVISOR_console_io, printed by Xen on its serial
//   serial      not on Xen at all (QEMU booted the image directly): COM1
// The console is also the log sink and, with the halt hook, the panic path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

#include <uni/boot/boot.hpp>
#include <uni/core/log.hpp>
#include <uni/xen/cpu.hpp>
#include <uni/xen/hypercall.hpp>

namespace uni::xen {

class console {
 public:
  enum class kind : std::uint8_t { serial, hypervisor, ring };

  struct stats {
    std::uint64_t bytes = 0;
    std::uint64_t dropped = 0;  // ring full and xenconsoled not draining it
  };

  // Chooses the output; before this, writes go to boot::early_write.
  void start(bool on_xen) noexcept {
    if (!on_xen) {
      kind_ = kind::serial;
      return;
    }
    std::uint64_t pfn = 0, port = 0;
    if (get_hvm_param(HVM_PARAM_CONSOLE_PFN, pfn) == 0 && pfn != 0 &&
        get_hvm_param(HVM_PARAM_CONSOLE_EVTCHN, port) == 0) {
      ring_ = reinterpret_cast<xencons_interface*>(pfn << 12);
      port_ = static_cast<evtchn_port_t>(port);
      kind_ = kind::ring;
    } else {
      kind_ = kind::hypervisor;
    }
  }

  kind output() const noexcept { return kind_; }

  void write(std::string_view s) noexcept {
    stats_.bytes += s.size();
    switch (kind_) {
      case kind::serial:
      case kind::hypervisor: boot::early_write(s); return;
      case kind::ring: write_ring(s); return;
    }
  }

  const stats& statistics() const noexcept { return stats_; }

 private:
  // Producer side of the out ring: copy, publish the index, kick xenconsoled.
  // A full ring yields the vCPU to let dom0 drain it, a bounded number of times.
  void write_ring(std::string_view s) noexcept {
    constexpr std::uint32_t size = sizeof ring_->out;
    std::size_t i = 0;
    int patience = 1000;
    while (i < s.size()) {
      const std::uint32_t cons = __atomic_load_n(&ring_->out_cons, __ATOMIC_ACQUIRE);
      std::uint32_t prod = ring_->out_prod;
      if (prod - cons >= size) {
        notify();
        if (--patience == 0) {
          stats_.dropped += s.size() - i;
          return;
        }
        sched_op(SCHEDOP_yield, static_cast<void*>(nullptr));
        continue;
      }
      while (i < s.size() && prod - cons < size) ring_->out[MASK_XENCONS_IDX(prod++, ring_->out)] = s[i++];
      cpu::wmb();
      ring_->out_prod = prod;
      notify();
    }
  }
  void notify() noexcept {
    evtchn_send_t op{};
    op.port = port_;
    event_channel_op(EVTCHNOP_send, &op);
  }

  kind kind_ = kind::serial;
  xencons_interface* ring_ = nullptr;
  evtchn_port_t port_ = 0;
  stats stats_;
};

inline console& the_console() noexcept {
  static constinit console c{};
  return c;
}

// The log sink: "[level] text\n", one write per line. (The tags by level, a
// table: no switch over the levels, two arguments to format rather than four.)
inline void console_sink(log_level level, std::string_view line) noexcept {
  static constexpr char tags[][9] = {"[debug] ", "[info] ", "[warn] ", "[error] ", "[none] "};
  static_assert(std::size(tags) == static_cast<std::size_t>(log_level::none) + 1, "a tag per level");
  char buf[300];
  text_writer w{buf, sizeof buf - 1};
  format_to(w, tags[static_cast<std::size_t>(level)], line);
  const std::size_t n = w.size();
  buf[n] = '\n';
  the_console().write({buf, n + 1});
}

}  // namespace uni::xen
