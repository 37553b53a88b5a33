// examples/tcp-echo: the TCP echo appliance (RFC 862), one source for every
// target: over host sockets (tcp-echo-socket) and over uni's own stack.
// Flags: --port N (default 7), plus the platform's.
#include <uni/appliance.hpp>

#include "tcp_echo.hpp"

namespace {
uni::task<int> serve(auto& stack, const uni::appliance_options& o) {
  return echo::serve_tcp(stack, static_cast<std::uint16_t>(o.get_number("port", 7)));
}
}  // namespace

UNI_APPLIANCE("tcp-echo", uni::default_config, serve)
