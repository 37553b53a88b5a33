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
// Block devices are declared the same way, `block_devices = N` (on POSIX one
// --disk PATH per device, in order; on Xen device/vbd/..., the generated xl
// configuration's `disk = [...]`). An appliance with disks is served them
// between its stack(s) and its options, and keeps one shape on every target:
//
//   struct store_config : uni::default_config {
//     static constexpr std::size_t block_devices = 1;
//   };
//   uni::task<int> serve(auto& stack, auto& disks, const uni::appliance_options&) {
//     auto& disk = disks[0];   // a uni::BlockDevice: co_await disk.read(sector, views)
//   }
//
// Each disk is the platform's driver behind a block::request_queue of
// Config::block_queue_depth (uni/block/request_queue.hpp): the same checks,
// splitting and back-pressure everywhere. An appliance without disks keeps
// `serve(stack, options)`. Vchan endpoints are not devices beside a stack yet:
// a vchan appliance is its own kind (UNI_VCHAN_APPLIANCE, uni/vchan_appliance.hpp),
// and declaring one here fails to compile.
#pragma once

#include <array>
#include <cstddef>

namespace uni {

// Devices of one kind, in order: the stacks of an appliance with several
// network interfaces (in the order of --tap flags or vifs), its block devices
// (in the order of --disk flags or vbds).
template <class Device, std::size_t N>
class device_list {
 public:
  explicit device_list(const std::array<Device*, N>& each) noexcept : each_(each) {}
  static constexpr std::size_t size() noexcept { return N; }
  Device& operator[](std::size_t i) const noexcept { return *each_[i]; }

 private:
  std::array<Device*, N> each_;
};
template <class Stack, std::size_t N>
using stacks = device_list<Stack, N>;
template <class Disk, std::size_t N>
using disks = device_list<Disk, N>;

// Checks an appliance's device list at compile time.
template <class Config>
constexpr bool devices_declared() noexcept {
  static_assert(Config::network_interfaces >= 1 && Config::network_interfaces <= 8,
                "uni: Config::network_interfaces must be 1 to 8");
  static_assert(Config::block_devices <= 8, "uni: Config::block_devices must be 0 to 8");
  static_assert(Config::block_queue_depth >= 1 && Config::block_queue_depth <= 256,
                "uni: Config::block_queue_depth must be 1 to 256");
  static_assert(Config::vchan_endpoints == 0,
                "uni: Config::vchan_endpoints: not yet a device beside a stack; write a vchan appliance with "
                "UNI_VCHAN_APPLIANCE (uni/vchan_appliance.hpp)");
  return true;
}

}  // namespace uni
