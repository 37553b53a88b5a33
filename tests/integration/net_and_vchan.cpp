// tests/integration/net_and_vchan.cpp: an appliance that declares a network
// interface and a vchan endpoint (uni/devices.hpp): `serve` is given the stack
// and then the vchans, and echoes on both at once, TCP on --port through the
// stack and each vchan peer in turn. Built for Xen, where its xl configuration
// lists one vif and no disk (tests/xen/CMakeLists.txt); the same Config on POSIX
// is tests/unit/appliance_devices_test.cpp.
#include <uni/appliance.hpp>

#include "tcp_echo.hpp"

namespace {

struct net_and_vchan_config : uni::default_config {
  static constexpr std::size_t vchan_endpoints = 1;
};

constexpr uni::option_spec flags[] = {
    uni::number_option("port", 7, 1, 65535, "TCP port to echo on"),
};

// Each vchan peer echoed until it goes, then the channel is offered again.
uni::task<int> echo_vchan(auto& vchan) {
  echo::stream_counters n;
  for (;;) {
    auto s = co_await vchan.accept();
    if (!s && s.err() == uni::error::timed_out) continue;
    if (!s) co_return 1;
    co_await echo::echo_stream(vchan.sched(), std::move(*s), n);
  }
}

uni::task<int> serve(auto& stack, auto& vchans, const uni::appliance_options& o) {
  auto vchan = uni::spawn(stack.sched(), echo_vchan(vchans[0]));
  co_return co_await echo::serve_tcp(stack, static_cast<std::uint16_t>(o.number("port")));
}

}  // namespace

UNI_APPLIANCE("net-and-vchan", net_and_vchan_config, serve, flags)
