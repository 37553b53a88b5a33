# cmake/xen-clang-toolchain.cmake: the `xen` target built by clang 14 with full
# link-time optimisation (preset "xen-clang"). The same freestanding flags as
# cmake/xen-toolchain.cmake (GCC 12, preset "xen"), which this file includes.
#
# What it gave (bytes loaded, tests/scripts/image_size.sh, one layout seed):
# dns-xen and www-xen about 5 and 6 % below GCC 12 -Oz when first measured, 1-3 %
# later, and 2-3 % above it since a round of trimming measured with GCC (the
# ceilings in tests/xen/CMakeLists.txt differ by compiler); without LTO clang was
# 12 % above GCC, with ThinLTO 1-2 % below. lld runs the LTO itself, so its
# --shuffle-sections (the randomised layout) and --icf=all still apply. The
# machine outliner (repeated instruction runs made into functions) saves ~1 KB more.
# (Before the include: its cache entries then keep these.)
set(CMAKE_CXX_FLAGS_MINSIZEREL "-Oz -flto -DNDEBUG" CACHE STRING "Flags of the Xen images' MinSizeRel build")
set(CMAKE_EXE_LINKER_FLAGS_MINSIZEREL "-Oz -flto -Wl,-mllvm,-enable-machine-outliner" CACHE STRING
  "Link flags of the Xen images' MinSizeRel build (the LTO code generation)")
include(${CMAKE_CURRENT_LIST_DIR}/xen-toolchain.cmake)
# GCC's own: clang has no -malign-data (it aligns a table as the psABI says).
string(REPLACE "-malign-data=abi " "" CMAKE_CXX_FLAGS_INIT "${CMAKE_CXX_FLAGS_INIT}")
set(CMAKE_CXX_COMPILER clang++-14)
set(CMAKE_ASM_COMPILER clang-14)
# (-no-pie is GCC's link option; clang links static, non-PIE, with -static)
set(CMAKE_EXE_LINKER_FLAGS_INIT
  "-fuse-ld=lld -nostdlib -static -Wl,--gc-sections -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack")
