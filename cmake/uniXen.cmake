# cmake/uniXen.cmake: the Xen guest build. Included by uni's top-level
# CMakeLists.txt instead of the POSIX platform when the `xen` preset
# (cmake/xen-toolchain.cmake) is selected, and by the installed package's
# uniConfig.cmake in a user's build tree configured with that toolchain file.
# Nothing here is seen by the POSIX builds.
if(TARGET uni_xen_boot)  # (a second find_package(uni))
  return()
endif()
enable_language(ASM)

# (a Generic toolchain has no system search path: name the usual ones)
find_path(UNI_XEN_PUBLIC_HEADERS xen/arch-x86/hvm/start_info.h PATHS /usr/include /usr/local/include)
if(NOT UNI_XEN_PUBLIC_HEADERS)
  message(FATAL_ERROR "uni xen: the Xen public headers are missing: install libxen-dev (scripts/setup.sh does)")
endif()

# Start of day's sources: the source tree's src/boot, or the installed package's
# copy (uniConfig.cmake sets UNI_XEN_BOOT_DIR; its headers are then in uni::uni's
# include directory with the others).
if(NOT UNI_XEN_BOOT_DIR)
  get_filename_component(UNI_XEN_BOOT_DIR ${CMAKE_CURRENT_LIST_DIR}/../src/boot ABSOLUTE)
  get_filename_component(uni_xen_platform_dir ${CMAKE_CURRENT_LIST_DIR}/../platform/xen ABSOLUTE)
  set(uni_xen_include_dirs ${uni_xen_platform_dir} ${UNI_XEN_BOOT_DIR})
endif()

# uni::xen: the Xen platform policies and start of day's interface.
add_library(uni_xen INTERFACE)
add_library(uni::xen ALIAS uni_xen)
target_include_directories(uni_xen INTERFACE ${uni_xen_include_dirs})
target_compile_definitions(uni_xen INTERFACE __XEN_INTERFACE_VERSION__=0x00040e00 UNI_TARGET_XEN)
target_link_libraries(uni_xen INTERFACE uni::uni)

# src/boot: the PVH entry, start of day and the runtime, linked into every image.
add_library(uni_xen_boot OBJECT ${UNI_XEN_BOOT_DIR}/entry.S ${UNI_XEN_BOOT_DIR}/start.cpp ${UNI_XEN_BOOT_DIR}/runtime.cpp)
target_link_libraries(uni_xen_boot PRIVATE uni_xen)
if(TARGET uni_warnings)  # (uni's own build, not a user's)
  target_link_libraries(uni_xen_boot PRIVATE uni_warnings)
endif()
# The memory functions must not be compiled into calls to themselves.
set_source_files_properties(${UNI_XEN_BOOT_DIR}/runtime.cpp PROPERTIES COMPILE_OPTIONS
  "-fno-builtin$<$<CXX_COMPILER_ID:GNU>:;-fno-tree-loop-distribute-patterns>")

# The layout randomised at build time (the paper's Section 3.3): a seed picks a
# base shift and page gaps (src/boot/layout.ld.in) and lld shuffles functions and
# data inside each segment. The seed is chosen once per build tree, kept in the
# cache, printed here and by every image at boot; set it to rebuild an image
# exactly, or to 0 for the canonical layout.
set(UNI_XEN_LAYOUT_SEED "" CACHE STRING "Seed of the randomised Xen image layout (empty: pick one; 0: canonical)")
if(UNI_XEN_LAYOUT_SEED STREQUAL "")
  string(RANDOM LENGTH 9 ALPHABET 123456789 seed)
  set(UNI_XEN_LAYOUT_SEED ${seed} CACHE STRING "Seed of the randomised Xen image layout (empty: pick one; 0: canonical)" FORCE)
endif()
if(NOT UNI_XEN_LAYOUT_SEED MATCHES "^[0-9]+$" OR UNI_XEN_LAYOUT_SEED GREATER 2000000000)
  message(FATAL_ERROR "UNI_XEN_LAYOUT_SEED must be a number below 2000000000")
endif()
math(EXPR UNI_XEN_SHIFT_PAGES "${UNI_XEN_LAYOUT_SEED} % 256")
math(EXPR UNI_XEN_GAP_RODATA "(${UNI_XEN_LAYOUT_SEED} / 256) % 16")
math(EXPR UNI_XEN_GAP_DATA "(${UNI_XEN_LAYOUT_SEED} / 4096) % 16")
math(EXPR UNI_XEN_GAP_STACK "(${UNI_XEN_LAYOUT_SEED} / 65536) % 16")
set(UNI_XEN_LAYOUT ${CMAKE_CURRENT_BINARY_DIR}/uni-xen-layout.ld)
configure_file(${UNI_XEN_BOOT_DIR}/layout.ld.in ${UNI_XEN_LAYOUT} @ONLY)
find_program(UNI_XEN_LLD ld.lld)
# Empty, not unset: unset, the name would read the cache entry below from the
# last configure, and a new seed's options would be appended to the old ones.
set(UNI_XEN_SHUFFLE "")
if(UNI_XEN_LAYOUT_SEED GREATER 0)
  if(UNI_XEN_LLD)
    foreach(group IN ITEMS .text.* .rodata.* .data.* .bss.*)
      list(APPEND UNI_XEN_SHUFFLE "-Wl,--shuffle-sections=${group}=${UNI_XEN_LAYOUT_SEED}")
    endforeach()
  else()
    message(WARNING "uni xen: ld.lld not found (package lld): the layout is shifted but functions are not shuffled")
  endif()
endif()
target_compile_definitions(uni_xen_boot PRIVATE UNI_XEN_LAYOUT_SEED=${UNI_XEN_LAYOUT_SEED}u)
# (uni_add_xen_image reads these from any directory: uni may be a subdirectory)
set(UNI_XEN_LAYOUT ${UNI_XEN_LAYOUT} CACHE INTERNAL "The generated linker script")
set(UNI_XEN_SHUFFLE "${UNI_XEN_SHUFFLE}" CACHE INTERNAL "lld's options that shuffle the sections")
message(STATUS "uni xen: layout seed ${UNI_XEN_LAYOUT_SEED} (base +${UNI_XEN_SHIFT_PAGES} pages, gaps ${UNI_XEN_GAP_RODATA}/${UNI_XEN_GAP_DATA}/${UNI_XEN_GAP_STACK} pages)")
set(UNI_XEN_MEMORY_MB 32 CACHE STRING "Memory in the xl configuration written beside each image")
set(UNI_XEN_BRIDGE xenbr0 CACHE STRING "Bridge of the vif in the xl configuration written beside each image")

set(UNI_XEN_CFG_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/uniXenCfg.cmake)

# uni_add_xen_image(TARGET SOURCES ... [LIBRARIES ...]): one PVH guest kernel.
# Writes TARGET.debug (with symbols), TARGET (stripped: what boots) and TARGET.cfg
# (an xl configuration), and a link map TARGET.map.
function(uni_add_xen_image exe)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;LIBRARIES")
  add_executable(${exe} ${arg_SOURCES} $<TARGET_OBJECTS:uni_xen_boot>)
  target_link_libraries(${exe} PRIVATE uni_xen ${arg_LIBRARIES})
  set(dir ${CMAKE_CURRENT_BINARY_DIR})
  # lld's --icf=all folds identical functions and constants (template copies
  # that differ only in type): they then share one address, which nothing in
  # uni compares.
  target_link_options(${exe} PRIVATE -T ${UNI_XEN_LAYOUT} -Wl,-Map=${dir}/${exe}.map ${UNI_XEN_SHUFFLE}
    $<$<BOOL:${UNI_XEN_LLD}>:-fuse-ld=lld -Wl,--icf=all>)
  set_target_properties(${exe} PROPERTIES OUTPUT_NAME ${exe}.debug LINK_DEPENDS ${UNI_XEN_LAYOUT}
    UNI_XEN_IMAGE ${dir}/${exe})
  add_custom_command(TARGET ${exe} POST_BUILD
    COMMAND ${CMAKE_OBJCOPY} --strip-all $<TARGET_FILE:${exe}> ${dir}/${exe}
    BYPRODUCTS ${dir}/${exe}
    COMMENT "Stripping ${exe}")
  # The xl configuration, with a vif per network interface the appliance declares
  # (cmake/uniXenCfg.cmake reads the count from the linked image).
  add_custom_command(TARGET ${exe} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -DIMAGE=${dir}/${exe} -DDEBUG_IMAGE=$<TARGET_FILE:${exe}> -DNM=${CMAKE_NM}
      -DNAME=${exe} -DMEMORY=${UNI_XEN_MEMORY_MB} -DBRIDGE=${UNI_XEN_BRIDGE} -DOUT=${dir}/${exe}.cfg
      -P ${UNI_XEN_CFG_SCRIPT}
    BYPRODUCTS ${dir}/${exe}.cfg
    COMMENT "Writing ${exe}.cfg")
endfunction()
