// An appliance declaring more block devices than a platform can supply must not
// compile, and must say what the bound is (uni/devices.hpp).
#include <uni/config.hpp>
#include <uni/devices.hpp>

struct disk_config : uni::default_config {
  static constexpr std::size_t block_devices = 9;
};

static_assert(uni::devices_declared<disk_config>());
