// examples/tcp-echo: the TCP echo appliance (RFC 862), one source for every
// target: over host sockets (tcp-echo-socket) and over uni's own stack.
// Flags: --port N (default 7), plus the platform's (--help lists them).
#include <uni/appliance.hpp>

#include "tcp_echo.hpp"

namespace {
constexpr uni::option_spec flags[] = {
    uni::number_option("port", 7, 1, 65535, "TCP port to listen on"),
};

uni::task<int> serve(auto& stack, const uni::appliance_options& o) {
  return echo::serve_tcp(stack, static_cast<std::uint16_t>(o.number("port")));
}
}  // namespace

UNI_APPLIANCE("tcp-echo", uni::default_config, serve, flags)
