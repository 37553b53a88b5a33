// uni/vchan_appliance.hpp: an appliance served over vchan, Xen's shared-memory
// channel between domains of one host, instead of a network: one source, built
// for Xen (the vchan's server, uni/xen/vchan_appliance.hpp) and for POSIX (its
// twin over a Unix domain socket, uni/posix/vchan_appliance.hpp).
//
//   uni::task<int> serve(auto& vchans, const uni::appliance_options&) {
//     auto s = co_await vchans.accept();   // a uni::ByteStream once the peer came
//     ...
//   }
//   UNI_VCHAN_APPLIANCE("vchan-echo", 64, serve, flags)
//
// 64: the I/O pages (4 KiB) the received bytes live in. Flags: --vchan PATH on
// both (the xenstore node; the socket), with --peer DOMID and --ring-order N on Xen.
#pragma once

#include <span>

#include <uni/options.hpp>
#include <uni/target_options.hpp>

namespace uni::detail {
constexpr std::span<const option_spec> vchan_appliance_flags() noexcept { return {}; }
constexpr std::span<const option_spec> vchan_appliance_flags(std::span<const option_spec> t) noexcept { return t; }
}  // namespace uni::detail

#if defined(UNI_TARGET_POSIX_SOCKET)
#include <uni/posix/vchan_appliance.hpp>
#define UNI_VCHAN_APPLIANCE(NAME, IO_PAGES, SERVE, ...)                                                          \
  int main(int argc, char** argv) {                                                                           \
    return ::uni::posix::run_vchan_appliance<IO_PAGES>(NAME, argc, argv,                                      \
                                                       ::uni::detail::vchan_appliance_flags(__VA_ARGS__),     \
                                                       [](auto& vchans, const auto& o) { return SERVE(vchans, o); }); \
  }
#elif defined(UNI_TARGET_XEN)
#include <uni/xen/vchan_appliance.hpp>
#define UNI_VCHAN_APPLIANCE(NAME, IO_PAGES, SERVE, ...)                                                    \
  [[noreturn]] void uni_appliance_main(const ::uni::boot::info& b) noexcept {                             \
    ::uni::xen::run_vchan_appliance<IO_PAGES>(NAME, b, ::uni::detail::vchan_appliance_flags(__VA_ARGS__), \
                                              [](auto& vchans, const auto& o) { return SERVE(vchans, o); }); \
  }
#else
#error "uni/vchan_appliance.hpp: build the appliance with uni_add_appliance(... TARGETS posix-socket xen)"
#endif
