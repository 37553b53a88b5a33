// examples/ping: an appliance that answers ARP and ping, and nothing else. Its
// configuration switches UDP off, so the image holds no UDP (or TCP, DHCP) code:
// tests/scripts/symbols.sh checks that on the built binary.
//   ping --tap IFNAME --ipv4 ADDR/PREFIX [--gateway ADDR] [--pcap FILE]
#include <uni/posix/tap_appliance.hpp>

struct ping_config : uni::default_config {
  static constexpr bool udp = false;
};

int main(int argc, char** argv) {
  // The stack does all the work: the application only waits to be stopped.
  return uni::posix::run_tap_appliance<ping_config>(
      "ping", argc, argv, [](auto&, const uni::posix::appliance_options&) -> uni::task<int> {
        co_await std::suspend_always{};
        co_return 0;
      });
}
