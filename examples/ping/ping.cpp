// examples/ping: an appliance that answers ARP and ping, and nothing else. Its
// configuration switches UDP and TCP off, so the image holds no UDP, TCP or DHCP code:
// tests/scripts/symbols.sh checks that on the built binary.
//   ping-tap --tap IFNAME --ipv4 ADDR/PREFIX [--gateway ADDR] [--pcap FILE]
#include <coroutine>
#include <uni/appliance.hpp>

struct ping_config : uni::default_config {
  static constexpr bool udp = false;
  static constexpr bool tcp = false;
};

namespace {
// The stack does all the work: the service only waits to be stopped.
uni::task<int> serve(auto&, const uni::appliance_options&) {
  co_await std::suspend_always{};
  co_return 0;
}
}  // namespace

UNI_APPLIANCE("ping", ping_config, serve)
