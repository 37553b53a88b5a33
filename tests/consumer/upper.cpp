// tests/consumer/upper.cpp: an appliance built outside uni's tree, as a user
// builds one (find_package(uni), uni_add_appliance(... TARGETS posix-socket
// posix-tap xen)). It answers each UDP datagram upper-cased. <cctype> is what
// an application reaches for first: the Xen target's runtime must link it as the
// hosted targets do.
#include <cctype>

#include <uni/appliance.hpp>
#include <uni/version.hpp>

namespace {

uni::task<int> serve(auto& stack, const uni::appliance_options& o) {
  const auto port = static_cast<std::uint16_t>(o.get_number("port", 7));
  auto sock = stack.udp_bind(port);
  if (!sock) {
    uni::log_error("upper: cannot bind port ", port, ": ", uni::to_string(sock.err()));
    co_return 1;
  }
  uni::log_info("upper: uni ", UNI_VERSION_STRING, ", listening on udp ", sock->local());
  while (true) {
    auto d = co_await sock->receive();
    if (!d) co_return d.err() == uni::error::cancelled ? 0 : 1;
    for (const uni::view& v : d->payload)
      for (std::uint8_t& c : v.bytes()) c = static_cast<std::uint8_t>(std::toupper(c));
    (void)co_await sock->send_to(d->source, d->payload);
  }
}

}  // namespace

UNI_APPLIANCE("upper", uni::default_config, serve)
