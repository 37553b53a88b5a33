# uni_add_appliance(NAME SOURCES src... TARGETS posix-socket|posix-tap|xen...
#                   [FILES dir] [LIBRARIES lib...] [TRACE])
#
# Builds one application source for each target: NAME-socket (host sockets via
# Boost.Asio), NAME-tap (uni's own stack on a TAP device) and NAME-xen (a PVH Xen
# guest kernel, with NAME-xen.cfg for xl). The source includes
# <uni/appliance.hpp> and names its service with UNI_APPLIANCE.
# FILES compiles a directory into every image as a read-only file system
# (uni_embed_files, cmake/uniEmbed.cmake); LIBRARIES are linked into each.
# TRACE compiles tracing in (UNI_TRACE=1, uni/trace/hooks.hpp), which a Config
# with `trace = true` needs; without it the images hold no trace code.
#
# A build tree makes either the POSIX targets or the xen ones: the xen target
# needs its own compiler settings, so it is built in a second tree configured
# with uni's toolchain file (UNI_XEN), from the same CMakeLists.txt:
#   cmake -B build-xen --toolchain <uni's cmake dir>/xen-toolchain.cmake
# (the `xen` preset in uni's own tree). A POSIX tree says so once and skips it.
include(${CMAKE_CURRENT_LIST_DIR}/uniEmbed.cmake)
set(UNI_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR})
function(uni_add_appliance name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "TRACE" "FILES" "SOURCES;TARGETS;LIBRARIES")
  if(NOT arg_SOURCES OR NOT arg_TARGETS)
    message(FATAL_ERROR "uni_add_appliance(${name}): SOURCES and TARGETS are required")
  endif()
  foreach(target IN LISTS arg_TARGETS)
    if(target STREQUAL "xen")
      if(UNI_XEN)
        uni_add_xen_image(${name}-xen SOURCES ${arg_SOURCES} LIBRARIES ${arg_LIBRARIES})
        if(arg_TRACE)
          target_compile_definitions(${name}-xen PRIVATE UNI_TRACE=1)
        endif()
        if(arg_FILES)
          uni_embed_files(${name}-xen ${arg_FILES})
        endif()
      else()
        get_property(told GLOBAL PROPERTY uni_xen_elsewhere_told)
        if(NOT told)
          set_property(GLOBAL PROPERTY uni_xen_elsewhere_told TRUE)
          message(STATUS "uni: the xen targets (${name}-xen, ...) are built in a second build tree: "
            "cmake -B <dir> --toolchain ${UNI_CMAKE_DIR}/xen-toolchain.cmake")
        endif()
      endif()
      continue()
    elseif(UNI_XEN)
      continue()  # the xen preset builds Xen images only
    elseif(target STREQUAL "posix-socket")
      set(exe ${name}-socket)
      set(define UNI_TARGET_POSIX_SOCKET)
    elseif(target STREQUAL "posix-tap")
      set(exe ${name}-tap)
      set(define UNI_TARGET_POSIX_TAP)
    else()
      message(FATAL_ERROR "uni_add_appliance(${name}): unknown target '${target}' (posix-socket, posix-tap, xen)")
    endif()
    add_executable(${exe} ${arg_SOURCES})
    target_compile_definitions(${exe} PRIVATE ${define})
    if(arg_TRACE)
      target_compile_definitions(${exe} PRIVATE UNI_TRACE=1)
    endif()
    target_link_libraries(${exe} PRIVATE uni::posix ${arg_LIBRARIES})
    if(arg_FILES)
      uni_embed_files(${exe} ${arg_FILES})
    endif()
  endforeach()
endfunction()
