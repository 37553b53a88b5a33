// src/boot/start.cpp: start of day, from long mode to the appliance.
//
// entry.S arrives here on the boot stack with the first 4 GiB identity-mapped by
// 2 MiB pages, all writable and executable. Start of day
//   1. copies what it needs out of the hvm_start_info (the loader put it in RAM we
//      are about to hand to the heap): the command line and the memory map;
//   2. lays memory out (Figure 2): image, guard page, stack, I/O pages, heap;
//   3. replaces the boot mappings with the final ones: text read+execute, rodata
//      read-only, everything else writable and never executable, page 0 and the
//      stack guard page unmapped -- then walks the tables to check W^X;
//   4. installs the IDT (fatal traps on their own IST stack, so a stack overflow
//      into the guard page is still reported) and the TSS;
//   5. starts the heap, runs static constructors, and calls uni_appliance_main.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <uni/boot/boot.hpp>
#include <uni/boot/heap.hpp>
#include <uni/core/format.hpp>
#include <uni/core/log.hpp>
#include <uni/core/panic.hpp>
#include <uni/xen/cpu.hpp>
#include <uni/xen/hypercall.hpp>

using namespace std::string_view_literals;  // (a literal's length known, not a strlen call)

extern "C" {
extern char __image_start[], __image_end[], __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __data_start[], __data_end[], __stack_guard[], __stack_bottom[], __stack_top[];
extern void (*__init_array_start[])(), (*__init_array_end[])();
extern std::uint64_t uni_boot_tsc, uni_boot_tsc_long_mode;
extern std::uint32_t uni_boot_start_info;
extern std::uint64_t uni_boot_pml4[512], uni_boot_pdpt[512], uni_boot_pd[4][512];
extern std::uint8_t uni_boot_gdt[];
extern const std::uintptr_t uni_boot_trap_stubs[32];
// Called from entry.S only: [[gnu::used]] keeps them when the compiler sees no caller (LTO).
[[noreturn, gnu::used]] void uni_boot_main(std::uint32_t start_info) noexcept;
[[noreturn, gnu::used]] void uni_boot_trap(const void* frame) noexcept;
}

namespace uni::boot {
namespace {

namespace cpu = uni::xen::cpu;
constexpr std::uintptr_t page = 4096;
constexpr std::uint64_t pte_p = 1, pte_w = 2, pte_ps = 0x80, pte_nx = std::uint64_t{1} << 63;
constexpr std::uint64_t pte_addr = 0x000ffffffffff000;
constexpr std::uintptr_t mapped_limit = std::uintptr_t{4} << 30;  // the boot tables map 4 GiB

std::uintptr_t addr(const void* p) noexcept { return reinterpret_cast<std::uintptr_t>(p); }
std::uintptr_t align_up(std::uintptr_t v, std::uintptr_t a) noexcept { return (v + a - 1) & ~(a - 1); }

bool on_xen = false;
info boot_info;

// ---- 1. what the loader passed ----
hvm_start_info start_info_copy;
char cmdline_copy[1024];
constexpr std::size_t max_memmap = 64;  // the memory map's entries looked at, at most

// An entry of the memory map, as it is read: a RAM range is listed in the boot
// info, and the one holding the image is where the heap may grow to.
void note_memory(std::uint64_t start, std::uint64_t size, std::uint32_t type) noexcept {
  if (type != XEN_HVM_MEMMAP_TYPE_RAM) return;
  if (boot_info.ram_count < info::max_ram_ranges) boot_info.ram[boot_info.ram_count++] = {start, start + size};
  if (start <= addr(__image_start) && addr(__image_start) < start + size) boot_info.memory.ram_end = start + size;
}

void copy_start_info(std::uint32_t pa) noexcept {
  const auto* si = reinterpret_cast<const hvm_start_info*>(std::uintptr_t{pa});
  if (!si || si->magic != XEN_HVM_START_MAGIC_VALUE) {
    early_write("boot: no hvm_start_info (not booted through the PVH entry)\n"sv);
    hard_stop(2);
  }
  start_info_copy = *si;
  if (si->cmdline_paddr) {
    const char* c = reinterpret_cast<const char*>(si->cmdline_paddr);
    std::size_t n = 0;
    while (n + 1 < sizeof cmdline_copy && c[n]) {
      cmdline_copy[n] = c[n];
      ++n;
    }
    boot_info.cmdline = {cmdline_copy, n};
  }
  if (si->version >= 1 && si->memmap_paddr && si->memmap_entries) {
    const auto* m = reinterpret_cast<const hvm_memmap_table_entry*>(si->memmap_paddr);
    for (std::size_t i = 0; i < si->memmap_entries && i < max_memmap; ++i) note_memory(m[i].addr, m[i].size, m[i].type);
  } else if (on_xen) {
    // No map in the start info (older Xen PVH dom0): ask Xen for the E820.
    static struct {
      std::uint64_t addr, size;
      std::uint32_t type;
    } __attribute__((packed)) e820[max_memmap];
    xen_memory_map_t mm{};
    mm.nr_entries = max_memmap;
    set_xen_guest_handle(mm.buffer, e820);
    if (uni::xen::memory_op(XENMEM_memory_map, &mm) == 0)
      for (unsigned i = 0; i < mm.nr_entries; ++i) note_memory(e820[i].addr, e820[i].size, e820[i].type);
  }
  boot_info.start_info = &start_info_copy;
}

// ---- 2. layout ----
void lay_out_memory() noexcept {
  layout& m = boot_info.memory;
  m.text = {addr(__text_start), addr(__text_end)};
  m.rodata = {addr(__rodata_start), addr(__rodata_end)};
  m.data = {addr(__data_start), addr(__stack_guard)};
  m.guard = {addr(__stack_guard), addr(__stack_bottom)};
  m.stack = {addr(__stack_bottom), addr(__stack_top)};
  const std::uintptr_t image_end = align_up(addr(__image_end), page);
  if (m.ram_end == 0) {
    early_write("boot: the memory map has no RAM range holding the image\n"sv);
    hard_stop(3);
  }
  if (m.ram_end > mapped_limit) m.ram_end = mapped_limit;
  m.ram_end &= ~(page - 1);
  m.io_pages = {image_end, image_end + io_page_count * page};
  m.heap = {m.io_pages.end, m.ram_end};
  if (m.heap.start >= m.heap.end || m.heap.size() < 256 * 1024) {
    early_write("boot: not enough memory for the I/O pages and a heap\n"sv);
    hard_stop(3);
  }
}

// ---- 3. final page tables and the W^X check ----
constexpr std::size_t max_fine_tables = 4;  // 4K-grained 2 MiB chunks: the image up to ~8 MiB
alignas(4096) std::uint64_t fine_tables[max_fine_tables][512];

std::uint64_t flags_for(std::uintptr_t a, std::uint64_t nx) noexcept {
  const layout& m = boot_info.memory;
  if (a < page) return 0;  // page 0: null pointers fault
  if (a >= m.guard.start && a < m.guard.end) return 0;
  if (a >= m.text.start && a < m.text.end) return pte_p;
  if (a >= m.rodata.start && a < m.rodata.end) return pte_p | nx;
  return pte_p | pte_w | nx;
}

void install_page_tables() noexcept {
  const std::uint64_t nx = boot_info.nx ? pte_nx : 0;
  const std::uintptr_t chunk = std::uintptr_t{2} << 20;
  std::uint64_t* pd = &uni_boot_pd[0][0];
  std::size_t used = 0;
  const std::uintptr_t first = 0, last = align_up(addr(__image_end), chunk);
  for (std::uintptr_t c = 0; c < mapped_limit; c += chunk) {
    std::uint64_t entry;
    if (c >= first && c < last) {
      if (used == max_fine_tables) {
        early_write("boot: the image is too large for the fine page tables\n"sv);
        hard_stop(4);
      }
      std::uint64_t* pt = fine_tables[used++];
      for (std::size_t i = 0; i < 512; ++i) {
        const std::uintptr_t a = c + i * page;
        const std::uint64_t f = flags_for(a, nx);
        pt[i] = f ? (a | f) : 0;
      }
      entry = addr(pt) | pte_p | pte_w;  // permissions come from the leaves
    } else {
      entry = c | pte_p | pte_w | pte_ps | nx;
    }
    pd[c / chunk] = entry;
  }
  asm volatile("mov %0, %%cr3" : : "r"(addr(uni_boot_pml4)) : "memory");
}

// Walks every present leaf: a page is W^X-clean if it is not writable, or not
// executable (NX set, or an upper level forbids it). One body for the four
// levels: `table` is at `level` (4: the PML4 ... 1: a page table), `w` and `x`
// what the entries above it allow.
void check_wx(const std::uint64_t* table, int level, bool w, bool x) noexcept {
  for (std::size_t i = 0; i < 512; ++i) {
    const std::uint64_t e = table[i];
    if (!(e & pte_p)) continue;
    const bool we = w && (e & pte_w) != 0, xe = x && !(e & pte_nx);
    if (level == 1 || (level == 2 && (e & pte_ps))) {  // a 4 KiB page, or a 2 MiB one
      const std::size_t pages = level == 1 ? 1 : 512;
      boot_info.wx_pages_checked += pages;
      if (we && xe) boot_info.wx_violations += pages;
    } else {
      check_wx(reinterpret_cast<const std::uint64_t*>(e & pte_addr), level - 1, we, xe);
    }
  }
}

// ---- 4. traps ----
struct [[gnu::packed]] idt_gate {
  std::uint16_t offset_low;
  std::uint16_t selector;
  std::uint8_t ist;
  std::uint8_t type;  // 0x8e: present, ring 0, 64-bit interrupt gate
  std::uint16_t offset_mid;
  std::uint32_t offset_high;
  std::uint32_t zero;
};
struct [[gnu::packed]] tss64 {
  std::uint32_t reserved0;
  std::uint64_t rsp[3];
  std::uint64_t reserved1;
  std::uint64_t ist[7];
  std::uint64_t reserved2;
  std::uint16_t reserved3;
  std::uint16_t iomap_base;
};
alignas(16) idt_gate idt[256];
tss64 tss;
alignas(16) std::uint8_t trap_stack[8192];

void set_gate(std::uint8_t v, std::uintptr_t handler, std::uint8_t ist) noexcept {
  idt[v] = {static_cast<std::uint16_t>(handler), 0x08, ist, 0x8e, static_cast<std::uint16_t>(handler >> 16),
            static_cast<std::uint32_t>(handler >> 32), 0};
}

void install_traps() noexcept {
  tss.ist[0] = addr(trap_stack + sizeof trap_stack);
  tss.iomap_base = sizeof(tss64);
  const std::uint64_t base = addr(&tss), limit = sizeof(tss64) - 1;
  const std::uint64_t low = (limit & 0xffff) | ((base & 0xffffff) << 16) | (std::uint64_t{0x89} << 40) |
                            (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
  const std::uint64_t high = base >> 32;
  __builtin_memcpy(uni_boot_gdt + 0x18, &low, 8);
  __builtin_memcpy(uni_boot_gdt + 0x20, &high, 8);
  asm volatile("ltr %w0" : : "r"(0x18));
  for (std::uint8_t v = 0; v < 32; ++v) set_gate(v, uni_boot_trap_stubs[v], 1);  // all fatal, all on IST1
  struct [[gnu::packed]] {
    std::uint16_t limit;
    std::uint64_t base;
  } ptr{sizeof idt - 1, addr(idt)};
  asm volatile("lidt %0" : : "m"(ptr));
}

}  // namespace

void set_interrupt_gate(std::uint8_t vector, void (*handler_stub)()) noexcept { set_gate(vector, reinterpret_cast<std::uintptr_t>(handler_stub), 0); }

void early_write(std::string_view s) noexcept {
  if (on_xen) {
    uni::xen::console_io_write(s.data(), s.size());
    return;
  }
  for (char c : s) {  // COM1: wait for the transmit holding register to empty
    if (c == '\n') {
      while (!(cpu::inb(0x3fd) & 0x20)) {}
      cpu::outb(0x3f8, '\r');
    }
    while (!(cpu::inb(0x3fd) & 0x20)) {}
    cpu::outb(0x3f8, static_cast<std::uint8_t>(c));
  }
}

[[noreturn]] void hard_stop(std::uint8_t status) noexcept {
  cpu::outb(0xf4, status);  // QEMU isa-debug-exit: exits with (status << 1) | 1
  struct [[gnu::packed]] {
    std::uint16_t limit;
    std::uint64_t base;
  } none{0, 0};
  asm volatile("lidt %0; int3" : : "m"(none));  // no IDT: triple fault
  for (;;) asm volatile("cli; hlt");
}

}  // namespace uni::boot

using namespace uni::boot;

static void step(const char* what) noexcept {
  if (boot_info.step_count < info::max_steps) boot_info.steps[boot_info.step_count++] = {what, cpu::rdtsc()};
}

extern "C" [[noreturn]] void uni_boot_main(std::uint32_t start_info) noexcept {
  boot_info.tsc_at_entry = uni_boot_tsc;
  boot_info.layout_seed = UNI_XEN_LAYOUT_SEED;
  boot_info.steps[boot_info.step_count++] = {"bss, boot tables, long mode", uni_boot_tsc_long_mode};
  boot_info.xen_cpuid_base = cpu::xen_cpuid_base();
  on_xen = boot_info.xen_cpuid_base != 0;
  boot_info.amd = cpu::is_amd();
  uni::xen::hypercall_uses_vmmcall = boot_info.amd;
  boot_info.nx = (cpu::rdmsr(0xc0000080) & (1u << 11)) != 0;

  step("cpuid");
  copy_start_info(start_info);
  lay_out_memory();
  step("memory map");
  install_traps();
  step("traps");
  install_page_tables();
  step("page tables");
  check_wx(uni_boot_pml4, 4, true, true);
  step("W^X walk");
  kernel_heap().init(reinterpret_cast<void*>(boot_info.memory.heap.start), boot_info.memory.heap.size());
  for (auto* f = __init_array_start; f != __init_array_end; ++f) (*f)();
  step("heap, constructors");
  boot_info.tsc_at_main = cpu::rdtsc();
  uni_appliance_main(boot_info);
}

namespace {
// The traps' names in vector order, each ended by '\0': one string, not a
// table of 32 pointers (256 bytes).
constexpr char trap_names[] =
    "divide error\0debug\0NMI\0breakpoint\0overflow\0bound range\0invalid opcode\0device not available\0"
    "double fault\0coprocessor overrun\0invalid TSS\0segment not present\0stack fault\0"
    "general protection fault\0page fault\0reserved\0x87 error\0alignment check\0machine check\0SIMD error\0"
    "virtualisation\0control protection\0reserved\0reserved\0reserved\0reserved\0reserved\0reserved\0"
    "hypervisor injection\0VMM communication\0security\0reserved";
static_assert([] {
  std::size_t n = 0;
  for (char c : trap_names) n += c == '\0';
  return n == 32;
}(), "a name for each of the 32 exception vectors");
const char* trap_name(std::uint64_t vector) noexcept {
  const char* name = trap_names;
  for (vector &= 31; vector > 0; --vector)
    while (*name++ != '\0') {}
  return name;
}
struct trap_frame {
  std::uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  std::uint64_t vector, error, rip, cs, rflags, rsp, ss;
};
bool in_trap = false;
}  // namespace

extern "C" [[noreturn]] void uni_boot_trap(const void* p) noexcept {
  const auto& f = *static_cast<const trap_frame*>(p);
  if (in_trap) hard_stop(254);  // a trap while reporting one
  in_trap = true;
  std::uint64_t cr2;
  asm volatile("mov %%cr2, %0" : "=r"(cr2));
  const layout& m = boot_info.memory;
  const bool guard = cr2 >= m.guard.start && cr2 < m.guard.end;
  char buf[200];
  uni::text_writer w{buf, sizeof buf};
  uni::format_to(w, uni::fmt<"{} (vector {}, error {}) at rip {} rsp {}">, trap_name(f.vector), f.vector,
                 uni::hex(f.error), uni::hex(f.rip), uni::hex(f.rsp));
  if (f.vector == 14)  // a page fault: where, and whether in the guard page
    uni::format_to(w, " address ", uni::hex(cr2), guard ? " -- stack overflow into the guard page" : "");
  if (uni::log_settings().sink) uni::panic(w.view());
  early_write("panic: "sv);
  early_write(w.view());
  early_write("\n"sv);
  hard_stop(255);
}
