// uni/xen/cpu.hpp: the few x86 instructions the Xen platform and start of day use.
#pragma once

#include <cstdint>

namespace uni::xen::cpu {

struct cpuid_regs {
  std::uint32_t eax, ebx, ecx, edx;
};
inline cpuid_regs cpuid(std::uint32_t leaf, std::uint32_t subleaf = 0) noexcept {
  cpuid_regs r;
  asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
  return r;
}

inline std::uint64_t rdtsc() noexcept {
  std::uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (std::uint64_t{hi} << 32) | lo;
}

inline void outb(std::uint16_t port, std::uint8_t v) noexcept { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
inline std::uint8_t inb(std::uint16_t port) noexcept {
  std::uint8_t v;
  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

inline void wrmsr(std::uint32_t msr, std::uint64_t v) noexcept {
  asm volatile("wrmsr" : : "c"(msr), "a"(static_cast<std::uint32_t>(v)), "d"(static_cast<std::uint32_t>(v >> 32)));
}
inline std::uint64_t rdmsr(std::uint32_t msr) noexcept {
  std::uint32_t lo, hi;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (std::uint64_t{hi} << 32) | lo;
}

// Compiler and CPU ordering for memory shared with Xen and the backends.
inline void barrier() noexcept { asm volatile("" : : : "memory"); }
inline void mb() noexcept { asm volatile("mfence" : : : "memory"); }
inline void rmb() noexcept { asm volatile("lfence" : : : "memory"); }
inline void wmb() noexcept { asm volatile("sfence" : : : "memory"); }

inline void cli() noexcept { asm volatile("cli" : : : "memory"); }
// Enables interrupts and halts in one step (the STI shadow covers HLT): an
// interrupt raised between a check and the halt still wakes it.
inline void sti_hlt() noexcept { asm volatile("sti; hlt" : : : "memory"); }

// The Xen CPUID leaves ("XenVMMXenVMM" at 0x40000000 + n * 0x100), or 0.
inline std::uint32_t xen_cpuid_base() noexcept {
  for (std::uint32_t base = 0x40000000; base < 0x40010000; base += 0x100) {
    auto r = cpuid(base);
    if (r.ebx == 0x566e6558 && r.ecx == 0x65584d4d && r.edx == 0x4d4d566e && r.eax - base >= 2) return base;
  }
  return 0;
}

// AMD and Hygon CPUs take vmmcall for hypercalls, Intel vmcall.
inline bool is_amd() noexcept {
  auto r = cpuid(0);
  return (r.ebx == 0x68747541 && r.edx == 0x69746e65 && r.ecx == 0x444d4163) ||  // AuthenticAMD
         (r.ebx == 0x6f677948 && r.edx == 0x6e65476e && r.ecx == 0x656e6975);    // HygonGenuine
}

}  // namespace uni::xen::cpu
