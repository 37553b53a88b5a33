# cmake/xen-toolchain.cmake: the freestanding `xen` target (preset "xen").
#
# Compiles appliances, uni's headers, platform/xen and src/boot into PVH guest
# kernels: no libc, no libstdc++ library code (its headers only), no exceptions,
# no RTTI. src/boot/runtime.cpp is the whole runtime; src/boot/layout.ld links.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_CXX_COMPILER g++-12)
set(CMAKE_ASM_COMPILER gcc-12)
# The compiler checks cannot link a hosted test program.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(UNI_XEN ON CACHE BOOL "Build uni's Xen guest images (set by cmake/xen-toolchain.cmake)" FORCE)

# -mno-red-zone: the event upcall arrives on the running stack.
# -mstack-protector-guard=global: the canary is __stack_chk_guard (no TLS here).
# -fno-threadsafe-statics: one vCPU; no __cxa_guard_* needed.
set(CMAKE_CXX_FLAGS_INIT
  "-ffreestanding -fno-exceptions -fno-rtti -fno-asynchronous-unwind-tables -fno-unwind-tables \
-fno-pic -fno-pie -mno-red-zone -fno-threadsafe-statics -fno-common \
-fstack-protector-strong -mstack-protector-guard=global -ffunction-sections -fdata-sections")
# Measured on dns-xen / www-xen (stripped, seed 0; 160.7 / 140.7 KiB with these
# flags at -Os): -O2 makes them 252.7 / 204.7; lld --icf=all saves 4 KiB each but
# gives distinct functions one address; --icf=safe, -fmerge-all-constants and
# -fno-ident change nothing; -flto saves 12 KiB on dns-xen but needs GNU ld's
# linker plugin (lld cannot read GCC's LTO objects), which loses lld's
# --shuffle-sections, the randomised layout. So none of them is used.
set(CMAKE_ASM_FLAGS_INIT "-fno-pic")
set(CMAKE_EXE_LINKER_FLAGS_INIT
  "-nostdlib -static -no-pie -Wl,--gc-sections -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack")
