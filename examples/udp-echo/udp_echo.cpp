// examples/udp-echo: the UDP echo appliance (RFC 862), one source for every
// target: over host sockets (udp-echo-socket) and over uni's own stack on a TAP
// device (udp-echo-tap). Flags: --port N (default 7), plus the platform's.
#include <uni/appliance.hpp>

#include "udp_echo.hpp"

namespace {
uni::task<int> serve(auto& stack, const uni::appliance_options& o) {
  return echo::serve_udp(stack, static_cast<std::uint16_t>(o.get_number("port", 7)));
}
}  // namespace

UNI_APPLIANCE("udp-echo", uni::default_config, serve)
