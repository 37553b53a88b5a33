// udp-echo over uni's own stack on a TAP device.
//   udp-echo-tap --tap IFNAME --ipv4 ADDR/PREFIX [--gateway ADDR] [--port N] [--pcap FILE]
#include <uni/posix/tap_appliance.hpp>

#include "udp_echo.hpp"

int main(int argc, char** argv) {
  echo::counters counters;
  int status = uni::posix::run_tap_appliance<uni::default_config>(
      "udp-echo", argc, argv, [&counters](auto& stack, const uni::posix::appliance_options& o) -> uni::task<int> {
        return echo::serve_udp(stack, static_cast<std::uint16_t>(o.get_number("port", 7)), counters);
      });
  uni::log_info("udp-echo: ", counters.datagrams, " datagrams, ", counters.bytes, " bytes echoed, ",
                counters.send_errors, " send errors");
  return status;
}
