// tests/xen/fault_image.cpp: an image that breaks its own memory rules on purpose,
// to show that start of day's protections are enforced by the MMU, not only
// described by the page-table walk. The command line picks the fault:
//   stack-overflow   unbounded recursion runs into the guard page under the stack
//   write-text       a store into the text segment (read + execute)
//   exec-data        a jump into the data segment (never execute)
//   null             a load from address 0 (page 0 is unmapped)
// Each must end in start of day's trap report ("panic: page fault ..."), printed
// on the serial line; tests/xen/boot.sh runs it under QEMU without Xen.
#include <cstdint>
#include <string_view>

#include <uni/boot/boot.hpp>

extern "C" void uni_pvh_start();

namespace {

volatile int recursion_limit = 1 << 30;  // far deeper than the stack

[[gnu::noinline]] int recurse(int depth) {
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  if (depth >= recursion_limit) return frame[0];
  return recurse(depth + 1) + frame[0];
}

// `ret` in a writable, non-executable buffer.
volatile std::uint8_t data_code[16] = {0xc3};

}  // namespace

[[noreturn]] void uni_appliance_main(const uni::boot::info& b) noexcept {
  const std::string_view c = b.cmdline;
  uni::boot::early_write("fault: provoking '");
  uni::boot::early_write(c);
  uni::boot::early_write("'\n");
  if (c.ends_with("stack-overflow")) {
    recurse(0);
  } else if (c.ends_with("write-text")) {
    *reinterpret_cast<volatile std::uint8_t*>(&uni_pvh_start) = 0x90;
  } else if (c.ends_with("exec-data")) {
    reinterpret_cast<void (*)()>(const_cast<std::uint8_t*>(data_code))();
  } else if (c.ends_with("null")) {
    (void)*reinterpret_cast<volatile std::uint32_t*>(std::uintptr_t{0});
  }
  uni::boot::early_write("fault: no fault happened\n");
  uni::boot::hard_stop(1);
}
