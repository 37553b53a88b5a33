// uni/devices.hpp: the devices an appliance declares in its Config and what its
// service is given. Each platform supplies them: on POSIX TAP one --tap per
// network interface, on Xen device/vif/0..N-1 from xenstore (the generated xl
// configuration lists as many vifs). An appliance with one interface is served
// one stack, `serve(stack, options)`; one with several gets them all:
//
//   struct router_config : uni::default_config {
//     static constexpr std::size_t network_interfaces = 2;
//   };
//   uni::task<int> serve(auto& stacks, const uni::appliance_options&) {
//     ... stacks[0] ... stacks[1] ...   // in the order of --tap (or vif) flags
//   }
//
// Block devices and vchan endpoints are declared the same way; their drivers
// come with later issues, and until then declaring one fails to compile.
#pragma once

#include <array>
#include <cstddef>

namespace uni {

// The stacks of an appliance with several network interfaces, in order.
template <class Stack, std::size_t N>
class stacks {
 public:
  explicit stacks(const std::array<Stack*, N>& each) noexcept : each_(each) {}
  static constexpr std::size_t size() noexcept { return N; }
  Stack& operator[](std::size_t i) const noexcept { return *each_[i]; }

 private:
  std::array<Stack*, N> each_;
};

// Checks an appliance's device list at compile time.
template <class Config>
constexpr bool devices_declared() noexcept {
  static_assert(Config::network_interfaces >= 1 && Config::network_interfaces <= 8,
                "uni: Config::network_interfaces must be 1 to 8");
  static_assert(Config::block_devices == 0,
                "uni: Config::block_devices: no platform has a block-device driver yet; it comes with the "
                "block-device issue (15)");
  static_assert(Config::vchan_endpoints == 0,
                "uni: Config::vchan_endpoints: no platform has a vchan driver yet; it comes with the vchan issue (19)");
  return true;
}

}  // namespace uni
