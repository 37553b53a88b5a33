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
// `serve(stack, options)`.
//
// Vchan endpoints (Xen's shared-memory channels to another domain of the host)
// are declared alike, `vchan_endpoints = N`, and served after the disks. Each
// is offered as the vchan's server at the xenstore node --vchan PATH (or, with
// --connect, connected to as its client) on Xen, and on POSIX is its twin, a
// Unix socket listening at --vchan PATH: one --vchan per endpoint, in order.
// accept() gives the next peer's uni::ByteStream. An appliance may have no
// network interface (`network_interfaces = 0`) when it has vchans; then its
// vchans come first:
//
//   struct echo_config : uni::default_config {
//     static constexpr std::size_t network_interfaces = 0;
//     static constexpr std::size_t vchan_endpoints = 1;
//   };
//   uni::task<int> serve(auto& vchans, const uni::appliance_options&) {
//     auto s = co_await vchans[0].accept();   // a uni::ByteStream once the peer came
//   }
//
// The order is always: stack(s), disks, vchans, options, each only if declared.
#pragma once

#include <array>
#include <cstddef>

namespace uni {

// Devices of one kind, in order: the stacks of an appliance with several
// network interfaces (in the order of --tap flags or vifs), its block devices
// (in the order of --disk flags or vbds), its vchan endpoints (of --vchan flags).
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
template <class Endpoint, std::size_t N>
using vchans = device_list<Endpoint, N>;

// Checks an appliance's device list at compile time.
template <class Config>
constexpr bool devices_declared() noexcept {
  static_assert(Config::network_interfaces <= 8, "uni: Config::network_interfaces must be 0 to 8");
  static_assert(Config::block_devices <= 8, "uni: Config::block_devices must be 0 to 8");
  static_assert(Config::block_queue_depth >= 1 && Config::block_queue_depth <= 256,
                "uni: Config::block_queue_depth must be 1 to 256");
  static_assert(Config::vchan_endpoints <= 8, "uni: Config::vchan_endpoints must be 0 to 8");
  static_assert(Config::network_interfaces >= 1 || Config::vchan_endpoints >= 1,
                "uni: an appliance needs a network interface or a vchan endpoint (Config::network_interfaces, "
                "Config::vchan_endpoints)");
  return true;
}

// The network of an appliance that has none, for serve_with_devices.
struct no_network {};

// Calls `serve` with the devices the Config declares, in their one order:
// network (a stack, or the list of several), disks, vchans, then the options.
// `disks` and `vchans` are the platform's holders: all() is what `serve` gets.
template <class Config, class Serve, class Net, class Disks, class Vchans, class Options>
auto serve_with_devices(Serve& serve, Net& net, Disks& disks, Vchans& vchans, const Options& o) {
  auto with_vchans = [&](auto&... devices) {
    if constexpr (Config::vchan_endpoints > 0) return serve(devices..., vchans.all(), o);
    else return serve(devices..., o);
  };
  auto with_disks = [&](auto&... devices) {
    if constexpr (Config::block_devices > 0) return with_vchans(devices..., disks.all());
    else return with_vchans(devices...);
  };
  if constexpr (Config::network_interfaces > 0) return with_disks(net);
  else return with_disks();
}

}  // namespace uni
