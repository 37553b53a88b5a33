// examples/udp-echo: the UDP echo appliance (RFC 862), one source for every
// target: over host sockets (udp-echo-socket) and over uni's own stack on a TAP
// device (udp-echo-tap). Flags: --port N (default 7), plus the platform's
// (on TAP, --dhcp leases the address instead of --ipv4).
#include <uni/appliance.hpp>

#include "udp_echo.hpp"

// The DHCP client is built in, used only when asked: static addressing by default.
struct udp_echo_config : uni::default_config {
  static constexpr bool dhcp = true;
  static constexpr bool dhcp_by_default = false;
};

namespace {
constexpr uni::option_spec flags[] = {
    uni::number_option("port", 7, 1, 65535, "UDP port to listen on"),
};

uni::task<int> serve(auto& stack, const uni::appliance_options& o) {
  return echo::serve_udp(stack, static_cast<std::uint16_t>(o.number("port")));
}
}  // namespace

UNI_APPLIANCE("udp-echo", udp_echo_config, serve, flags)
