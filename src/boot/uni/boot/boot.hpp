// uni/boot/boot.hpp: what start of day (src/boot) hands to the platform.
//
// src/boot owns the CPU-level facts: the memory layout, page tables, traps, the
// heap. The platform (platform/xen) owns the hypervisor: it is given this
// description and runs the appliance. The appliance's image defines
// uni_appliance_main (UNI_XEN_APPLIANCE does it), which never returns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace uni::boot {

struct region {
  std::uintptr_t start = 0;
  std::uintptr_t end = 0;  // one past the last byte
  std::size_t size() const noexcept { return end - start; }
};

// The memory layout once start of day is over (the paper's Figure 2), low to high.
struct layout {
  region text;       // read + execute
  region rodata;     // read only
  region data;       // data and bss: read + write, no execute
  region guard;      // one unmapped page: a stack overflow faults here
  region stack;      // the only stack (traps use their own IST stacks)
  region io_pages;   // pages for device rings and frames (uni::page_pool)
  region heap;       // operator new: coroutine frames, tables sized at start of day
  std::uintptr_t ram_end = 0;  // end of the RAM range the image sits in (mapped)
};

struct info {
  const void* start_info = nullptr;  // the hvm_start_info Xen or QEMU passed
  std::string_view cmdline;          // the kernel command line (may be empty)
  layout memory;
  std::uint32_t xen_cpuid_base = 0;  // 0x400000xx leaf with "XenVMMXenVMM", 0 if not on Xen
  bool amd = false;                  // vmmcall (AMD, Hygon) rather than vmcall
  bool nx = false;                   // the CPU has no-execute; W^X is enforced
  std::size_t wx_pages_checked = 0;  // pages the W^X walk looked at
  std::size_t wx_violations = 0;     // pages both writable and executable (must be 0)
  // The RAM ranges of the memory map (E820 type 1), as the loader gave them.
  static constexpr std::size_t max_ram_ranges = 8;
  region ram[max_ram_ranges];
  std::size_t ram_count = 0;
  std::uint32_t layout_seed = 0;     // UNI_XEN_LAYOUT_SEED the image was linked with
  std::uint64_t tsc_at_entry = 0;    // rdtsc at the first instruction
  std::uint64_t tsc_at_main = 0;     // rdtsc when start of day handed over
  // rdtsc after each step of start of day, for the boot-time breakdown.
  struct step {
    const char* what = nullptr;
    std::uint64_t tsc = 0;
  };
  static constexpr std::size_t max_steps = 8;
  step steps[max_steps];
  std::size_t step_count = 0;
};

// Number of I/O pages start of day sets aside (the build can change it).
#ifndef UNI_BOOT_IO_PAGES
#define UNI_BOOT_IO_PAGES 1024  // 4 MiB, uni::default_config::io_pages
#endif
inline constexpr std::size_t io_page_count = UNI_BOOT_IO_PAGES;

// Where the upcall stub clears the pending flag (set by the platform).
extern "C" volatile std::uint8_t* uni_boot_upcall_pending;
// Installs `handler_stub` (an assembly entry ending in iretq) at `vector`.
void set_interrupt_gate(std::uint8_t vector, void (*handler_stub)()) noexcept;
extern "C" void uni_boot_upcall_entry();

// Early output before the platform's console exists: COM1 when not on Xen,
// HYPERVISOR_console_io when on Xen (heard only as dom0 or with a debug Xen).
void early_write(std::string_view s) noexcept;

// Final stop when nothing better is possible: QEMU's isa-debug-exit, then a
// triple fault (QEMU -no-reboot ends; Xen ends the domain).
[[noreturn]] void hard_stop(std::uint8_t status) noexcept;

// Runs the destructors of static objects (registered with __cxa_atexit), last first.
void run_exit_handlers() noexcept;

}  // namespace uni::boot

// Defined by the appliance image; called once start of day is over.
[[noreturn]] void uni_appliance_main(const uni::boot::info& boot) noexcept;
