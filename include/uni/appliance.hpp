// uni/appliance.hpp: one application source, every target. An appliance is
//
//   #include <uni/appliance.hpp>
//   uni::task<int> serve(auto& stack, const uni::appliance_options& opts) { ... }
//   UNI_APPLIANCE("name", my_config, serve)
//
// and uni_add_appliance(name SOURCES ... TARGETS posix-socket posix-tap xen) in CMake
// compiles it once per target, defining UNI_TARGET_* so that this header picks
// the platform's start of day (its main) and its stack type. `serve` runs until
// the appliance is stopped (cancelled); a value it returns early is the exit status.
#pragma once

#if defined(UNI_TARGET_POSIX_TAP)
#include <uni/posix/tap_appliance.hpp>
namespace uni {
using posix::appliance_options;
}
#define UNI_APPLIANCE(NAME, CONFIG, SERVE)                                                              \
  int main(int argc, char** argv) {                                                                     \
    return ::uni::posix::run_tap_appliance<CONFIG>(                                                     \
        NAME, argc, argv, [](auto& stack, const ::uni::appliance_options& o) { return SERVE(stack, o); }); \
  }
#elif defined(UNI_TARGET_POSIX_SOCKET)
#include <uni/posix/socket_appliance.hpp>
namespace uni {
using posix::appliance_options;
}
#define UNI_APPLIANCE(NAME, CONFIG, SERVE)                                                              \
  int main(int argc, char** argv) {                                                                     \
    return ::uni::posix::run_socket_appliance<CONFIG>(                                                  \
        NAME, argc, argv, [](auto& stack, const ::uni::appliance_options& o) { return SERVE(stack, o); }); \
  }
#elif defined(UNI_TARGET_XEN)
#include <uni/xen/net_appliance.hpp>
namespace uni {
using xen::appliance_options;
}
#define UNI_APPLIANCE(NAME, CONFIG, SERVE)                                                              \
  [[noreturn]] void uni_appliance_main(const ::uni::boot::info& b) noexcept {                           \
    ::uni::xen::run_net_appliance<CONFIG>(                                                              \
        NAME, b, [](auto& stack, const ::uni::appliance_options& o) { return SERVE(stack, o); });       \
  }
#else
#error "uni/appliance.hpp: build the appliance with uni_add_appliance(... TARGETS posix-socket posix-tap xen), which selects the platform (UNI_TARGET_*)"
#endif
