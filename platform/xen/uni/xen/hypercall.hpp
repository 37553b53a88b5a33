// uni/xen/hypercall.hpp: hypercalls from a PVH guest.
//
// A PVH guest issues the hardware's VM-exit instruction directly (vmcall on
// Intel, vmmcall on AMD) with the call number in %rax and the arguments in %rdi,
// %rsi, %rdx, %r10, %r8 -- instead of the hypercall page Xen would write into the
// guest, which would have to be writable and executable at some point (W^X).
// Returns Xen's value: >= 0 success, -errno (xen/errno.h) on failure.
#pragma once

#include <cstddef>
#include <cstdint>

#include <uni/xen/public.hpp>

namespace uni::xen {

// Set once at start of day from CPUID (uni::xen::cpu::is_amd).
inline constinit bool hypercall_uses_vmmcall = false;

namespace detail {
// Out of line: a hypercall is a VM exit, next to which a call costs nothing, and
// each of the image's ~30 call sites would otherwise carry both instructions and
// the test between them. The arguments come in the order of the registers the
// instruction reads them from (the number last), so a call site loads most of
// them where they go.
[[gnu::noinline]] inline long hypercall(unsigned long a1, unsigned long a2, unsigned long a3, unsigned long a4,
                                        unsigned long a5, unsigned long nr) noexcept {
  long ret;
  register unsigned long r10 asm("r10") = a4;
  register unsigned long r8 asm("r8") = a5;
  if (hypercall_uses_vmmcall)
    asm volatile("vmmcall"
                 : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                 : "a"(nr)
                 : "memory");
  else
    asm volatile("vmcall"
                 : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
                 : "a"(nr)
                 : "memory");
  return ret;
}
}  // namespace detail

inline long hypercall(unsigned nr, unsigned long a1 = 0, unsigned long a2 = 0, unsigned long a3 = 0,
                      unsigned long a4 = 0, unsigned long a5 = 0) noexcept {
  return detail::hypercall(a1, a2, a3, a4, a5, nr);
}

template <class T>
unsigned long arg(T* p) noexcept {
  return reinterpret_cast<unsigned long>(p);
}

inline long console_io_write(const char* s, std::size_t n) noexcept {
  return hypercall(__HYPERVISOR_console_io, CONSOLEIO_write, n, arg(s));
}
// The hypercalls that take a command and a pointer to its argument structure:
// `sched_op(SCHEDOP_block, &arg)`.
template <unsigned Nr>
struct command_hypercall {
  template <class T>
  long operator()(int cmd, T* a) const noexcept {
    return hypercall(Nr, static_cast<unsigned long>(cmd), arg(a));
  }
};
inline constexpr command_hypercall<__HYPERVISOR_sched_op> sched_op{};
inline constexpr command_hypercall<__HYPERVISOR_event_channel_op> event_channel_op{};
inline constexpr command_hypercall<__HYPERVISOR_memory_op> memory_op{};
inline constexpr command_hypercall<__HYPERVISOR_hvm_op> hvm_op{};
inline constexpr command_hypercall<__HYPERVISOR_xen_version> xen_version{};
// One-shot timer: VIRQ_TIMER fires once system time passes `deadline_ns` (0 cancels).
inline long set_timer_op(std::uint64_t deadline_ns) noexcept {
  return hypercall(__HYPERVISOR_set_timer_op, deadline_ns);
}

// HVMOP_get_param / set_param.
inline long get_hvm_param(std::uint32_t index, std::uint64_t& value) noexcept {
  xen_hvm_param_t p{};
  p.domid = DOMID_SELF;
  p.index = index;
  long rc = hvm_op(HVMOP_get_param, &p);
  if (rc == 0) value = p.value;
  return rc;
}
inline long set_hvm_param(std::uint32_t index, std::uint64_t value) noexcept {
  xen_hvm_param_t p{};
  p.domid = DOMID_SELF;
  p.index = index;
  p.value = value;
  return hvm_op(HVMOP_set_param, &p);
}

}  // namespace uni::xen
