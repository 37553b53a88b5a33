# cmake/uniXen.cmake: the Xen guest build, included by the top-level CMakeLists.txt
# instead of the POSIX platform when the `xen` preset (cmake/xen-toolchain.cmake)
# is selected. Nothing here is seen by the POSIX builds.
enable_language(ASM)

# (a Generic toolchain has no system search path: name the usual ones)
find_path(UNI_XEN_PUBLIC_HEADERS xen/arch-x86/hvm/start_info.h PATHS /usr/include /usr/local/include)
if(NOT UNI_XEN_PUBLIC_HEADERS)
  message(FATAL_ERROR "uni xen: the Xen public headers are missing: install libxen-dev (scripts/setup.sh does)")
endif()

# uni::xen: the Xen platform policies and start of day's interface.
add_library(uni_xen INTERFACE)
add_library(uni::xen ALIAS uni_xen)
target_include_directories(uni_xen INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/platform/xen ${CMAKE_CURRENT_SOURCE_DIR}/src/boot)
target_compile_definitions(uni_xen INTERFACE __XEN_INTERFACE_VERSION__=0x00040e00 UNI_TARGET_XEN)
target_link_libraries(uni_xen INTERFACE uni)

add_library(uni_warnings INTERFACE)
target_compile_options(uni_warnings INTERFACE -Wall -Wextra -Wpedantic $<$<BOOL:${UNI_WERROR}>:-Werror>)

# src/boot: the PVH entry, start of day and the runtime, linked into every image.
add_library(uni_xen_boot OBJECT src/boot/entry.S src/boot/start.cpp src/boot/runtime.cpp)
target_link_libraries(uni_xen_boot PRIVATE uni_xen uni_warnings)
# The memory functions must not be compiled into calls to themselves.
set_source_files_properties(src/boot/runtime.cpp PROPERTIES COMPILE_OPTIONS "-fno-builtin;-fno-tree-loop-distribute-patterns")

set(UNI_XEN_LAYOUT ${CMAKE_CURRENT_SOURCE_DIR}/src/boot/layout.ld)
set(UNI_XEN_MEMORY_MB 32 CACHE STRING "Memory in the xl configuration written beside each image")
set(UNI_XEN_BRIDGE xenbr0 CACHE STRING "Bridge of the vif in the xl configuration written beside each image")

# uni_add_xen_image(TARGET SOURCES ... [LIBRARIES ...]): one PVH guest kernel.
# Writes TARGET.debug (with symbols), TARGET (stripped: what boots) and TARGET.cfg
# (an xl configuration), and a link map TARGET.map.
function(uni_add_xen_image exe)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;LIBRARIES")
  add_executable(${exe} ${arg_SOURCES} $<TARGET_OBJECTS:uni_xen_boot>)
  target_link_libraries(${exe} PRIVATE uni_xen ${arg_LIBRARIES})
  set(dir ${CMAKE_CURRENT_BINARY_DIR})
  target_link_options(${exe} PRIVATE -T ${UNI_XEN_LAYOUT} -Wl,-Map=${dir}/${exe}.map)
  set_target_properties(${exe} PROPERTIES OUTPUT_NAME ${exe}.debug LINK_DEPENDS ${UNI_XEN_LAYOUT}
    UNI_XEN_IMAGE ${dir}/${exe})
  add_custom_command(TARGET ${exe} POST_BUILD
    COMMAND ${CMAKE_OBJCOPY} --strip-all $<TARGET_FILE:${exe}> ${dir}/${exe}
    BYPRODUCTS ${dir}/${exe}
    COMMENT "Stripping ${exe}")
  file(GENERATE OUTPUT ${dir}/${exe}.cfg CONTENT
"# xl configuration for the uni appliance ${exe}: xl create ${exe}.cfg
name = \"${exe}\"
type = \"pvh\"
kernel = \"${dir}/${exe}\"
memory = ${UNI_XEN_MEMORY_MB}
vcpus = 1
vif = [ 'bridge=${UNI_XEN_BRIDGE}' ]
on_poweroff = \"destroy\"
on_crash = \"destroy\"
")
endfunction()

if(UNI_BUILD_EXAMPLES)
  add_subdirectory(examples)
endif()
if(UNI_BUILD_TESTS)
  enable_testing()
  add_subdirectory(tests/xen)
endif()
