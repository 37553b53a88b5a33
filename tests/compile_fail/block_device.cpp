// An appliance declaring a block device before any platform has its driver must
// not compile, and must say when it will (uni/devices.hpp).
#include <uni/config.hpp>
#include <uni/devices.hpp>

struct disk_config : uni::default_config {
  static constexpr std::size_t block_devices = 1;
};

static_assert(uni::devices_declared<disk_config>());
