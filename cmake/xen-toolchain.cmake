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
# -fstack-protector: a canary in every function with a character array on its
# stack (text buffers, names), the overflow the canary is there for; -strong
# put one in ~170 more functions (dns-xen) for a non-character array or a local
# whose address is taken (a string_view temporary, a coroutine actor's
# awaiter), 7.6 KB of code in dns-xen and 8.3 KB in www-xen.
# -mstack-protector-guard=global: the canary is __stack_chk_guard (no TLS here).
# -fno-threadsafe-statics: one vCPU; no __cxa_guard_* needed.
# -fbuiltin (after -ffreestanding, which turns builtins off): memcpy, memcmp and
# memset of a known small size are loads and stores, not calls into
# src/boot/runtime.cpp's byte loops (the checksum's word loads, a header's
# fields); runtime.cpp itself is built with -fno-builtin (uniXen.cmake). GCC
# only: clang 14 keeps builtins off after -ffreestanding whatever follows.
# Measured at seed 1: dns-xen -216, www-xen -146, dns-udp-xen -318 bytes.
# -malign-data=abi: a table (an array of 32 bytes or more: names, texts, option
# specs) aligned as the psABI says (16), not to 32 as GCC's default "compat"
# does, which left up to 31 bytes of padding before each in .rodata (www-xen
# -0.2 KB); tables that say alignas() keep theirs.
# -fno-jump-tables: a switch (and every coroutine's resume point dispatch) is
# compares, not a table of 8-byte addresses in .rodata (dns-xen -1.9 KB, www-xen
# -2.9 KB when measured).
set(CMAKE_CXX_FLAGS_INIT
  "-ffreestanding -fbuiltin -malign-data=abi -fno-exceptions -fno-rtti -fno-asynchronous-unwind-tables -fno-unwind-tables \
-fno-pic -fno-pie -mno-red-zone -fno-threadsafe-statics -fno-common -fno-jump-tables \
-fstack-protector -mstack-protector-guard=global -ffunction-sections -fdata-sections")
# -Oz (the preset's MinSizeRel would give -Os): the images are sized, not timed
# (-O2 makes them 1.5 times larger). Set as the cache entry, not as
# CMAKE_CXX_FLAGS_MINSIZEREL_INIT: GCC's own "-Os" is appended to the _INIT
# value and, coming last, won (every image was -Os until this was seen).
set(CMAKE_CXX_FLAGS_MINSIZEREL "-Oz -DNDEBUG" CACHE STRING "Flags of the Xen images' MinSizeRel build")
# Measured and not used: -flto through GNU ld's linker plugin (lld cannot read
# GCC's LTO objects) loses lld's --shuffle-sections, the randomised layout, and
# measured again (2026-12) made www-xen 0.1 KB larger than lld's --icf=all
# without it (it once saved dns-xen 3.6 KB, when the zone was parsed at run
# time); LTO into a relocatable object that lld then links kept the shuffle but
# gave only -1.4 KB then (every global stays exported). -fwhole-program splits
# start of day's state between translation units; --icf=safe,
# -fmerge-all-constants and -fno-ident change nothing. GCC's inlining and IPA
# parameters (max-inline-insns-*, early-inlining-insns, ipa-cp, ipa-sra, ipa-pta),
# -mgeneral-regs-only and -fno-optimize-sibling-calls each move www-xen by 300
# bytes or less, either way.
# lld's --icf=all is used (cmake/uniXen.cmake).
set(CMAKE_ASM_FLAGS_INIT "-fno-pic")
set(CMAKE_EXE_LINKER_FLAGS_INIT
  "-nostdlib -static -no-pie -Wl,--gc-sections -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack")
