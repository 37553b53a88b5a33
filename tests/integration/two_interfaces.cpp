// tests/integration/two_interfaces.cpp: an appliance that declares two network
// interfaces (uni/devices.hpp) and echoes UDP on both: `serve` is given both
// stacks, one per --tap, each with its own address. two_interfaces.sh judges it.
#include <uni/appliance.hpp>

#include "udp_echo.hpp"

namespace {

struct two_config : uni::default_config {
  static constexpr std::size_t network_interfaces = 2;
  static constexpr bool tcp = false;
};

constexpr uni::option_spec flags[] = {
    uni::number_option("port", 7, 1, 65535, "UDP port to echo on, on both interfaces"),
};

uni::task<int> serve(auto& stacks, const uni::appliance_options& o) {
  static_assert(std::remove_cvref_t<decltype(stacks)>::size() == 2);
  const auto port = static_cast<std::uint16_t>(o.number("port"));
  auto second = uni::spawn(stacks[1].sched(), echo::serve_udp(stacks[1], port));
  co_return co_await echo::serve_udp(stacks[0], port);
}

}  // namespace

UNI_APPLIANCE("two-interfaces", two_config, serve, flags)
