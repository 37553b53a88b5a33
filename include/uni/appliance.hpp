// uni/appliance.hpp: one application source, every target. An appliance is
//
//   #include <uni/appliance.hpp>
//   constexpr uni::option_spec my_flags[] = {
//       uni::number_option("port", 7, 1, 65535, "TCP port to listen on"),
//   };
//   uni::task<int> serve(auto& stack, const uni::appliance_options& o) { ... o.number("port") ... }
//   UNI_APPLIANCE("name", my_config, serve, my_flags)
//
// and uni_add_appliance(name SOURCES ... TARGETS posix-socket posix-tap xen) in CMake
// compiles it once per target, defining UNI_TARGET_* so that this header picks
// the platform's start of day (its main) and its stack type. The flags table is
// optional (an appliance without flags leaves it out); the platform's own flags
// (uni/target_options.hpp) come first, --help lists both with their defaults, and
// anything else on the command line is refused (uni/options.hpp). The devices the
// appliance needs are in its Config (uni/devices.hpp): with one network interface
// `serve` gets its stack, with several `serve(auto& stacks, ...)` gets them all;
// with block devices `serve(auto& stack, auto& disks, ...)` gets its disks too,
// and with vchan endpoints its vchans after them (`serve(auto& vchans, ...)` for
// an appliance of vchans alone, built for posix-socket and xen).
// The appliance runs as uni/lifecycle.hpp says: until `serve` returns (its value
// is the exit status), or until stopped (the service is cancelled; status 0).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include <uni/options.hpp>
#include <uni/target_options.hpp>

namespace uni::detail {
constexpr std::span<const option_spec> appliance_flags() noexcept { return {}; }
constexpr std::span<const option_spec> appliance_flags(std::span<const option_spec> t) noexcept { return t; }
// The appliance's name: a literal's length is known (a string_view made of it
// at run time would be a strlen call).
template <std::size_t N>
constexpr std::string_view appliance_name(const char (&name)[N]) noexcept {
  return {name, N - 1};
}
constexpr std::string_view appliance_name(std::string_view name) noexcept { return name; }
}  // namespace uni::detail

// The flags table checked at compile time.
#define UNI_APPLIANCE_FLAGS(...)                                                                          \
  static_assert(::uni::target_flags::appliance_table_ok(::uni::detail::appliance_flags(__VA_ARGS__)),   \
                "UNI_APPLIANCE: the flags table has a duplicate or empty name, a default outside its range, " \
                "or a name the platforms use (uni/target_options.hpp)")

#if defined(UNI_TARGET_POSIX_TAP) || defined(UNI_TARGET_POSIX_SOCKET)
#if defined(UNI_TARGET_POSIX_TAP)
#include <uni/posix/tap_appliance.hpp>
#define UNI_POSIX_RUN ::uni::posix::run_tap_appliance
#else
#include <uni/posix/socket_appliance.hpp>
#define UNI_POSIX_RUN ::uni::posix::run_socket_appliance
#endif
#define UNI_APPLIANCE(NAME, CONFIG, SERVE, ...)                                                               \
  UNI_APPLIANCE_FLAGS(__VA_ARGS__);                                                                           \
  int main(int argc, char** argv) {                                                                           \
    return UNI_POSIX_RUN<CONFIG>(NAME, argc, argv, ::uni::detail::appliance_flags(__VA_ARGS__),              \
                                 [](auto&... devices_then_options) { return SERVE(devices_then_options...); }); \
  }
#elif defined(UNI_TARGET_XEN)
#include <uni/xen/net_appliance.hpp>
#define UNI_APPLIANCE(NAME, CONFIG, SERVE, ...)                                                               \
  UNI_APPLIANCE_FLAGS(__VA_ARGS__);                                                                           \
  /* one byte more than the vifs the generated xl configuration lists (cmake/uniXenCfg.cmake) */           \
  extern "C" [[gnu::used, gnu::retain]] const char uni_xen_vifs[CONFIG::network_interfaces + 1] = {};         \
  /* and one byte more than the disks it lists */                                                            \
  extern "C" [[gnu::used, gnu::retain]] const char uni_xen_disks[CONFIG::block_devices + 1] = {};            \
  [[noreturn]] void uni_appliance_main(const ::uni::boot::info& b) noexcept {                                 \
    ::uni::xen::run_net_appliance<CONFIG>(::uni::detail::appliance_name(NAME), b,                             \
                                          ::uni::detail::appliance_flags(__VA_ARGS__),                        \
                                          [](auto&... devices_then_options) {                                 \
                                            return SERVE(devices_then_options...);                            \
                                          });                                                                 \
  }
#else
#error "uni/appliance.hpp: build the appliance with uni_add_appliance(... TARGETS posix-socket posix-tap xen), which selects the platform (UNI_TARGET_*)"
#endif
