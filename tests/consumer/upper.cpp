// tests/consumer/upper.cpp: an appliance built outside uni's tree, as a user
// builds one (find_package(uni), uni_add_appliance(... TARGETS posix-socket
// posix-tap xen)); the README's "Your own appliance" shows this file. It answers
// on one port, over UDP and TCP, with what it is sent upper-cased. <cctype> is
// what an application reaches for first: the Xen runtime links it too.
#include <cctype>
#include <cstdint>
#include <utility>

#include <uni/appliance.hpp>
#include <uni/net/accept_supervisor.hpp>
#include <uni/version.hpp>

namespace {

// The appliance's own flags: checked at start, listed by --help.
constexpr uni::option_spec flags[] = {
    uni::number_option("port", 7, 1, 65535, "UDP and TCP port to answer on"),
};

// Received bytes are changed in place, in the page they arrived in: no copy.
void to_upper(const uni::view& v) {
  for (std::uint8_t& c : v.bytes()) c = static_cast<std::uint8_t>(std::toupper(c));
}

// A datagram's payload is a view_chain: one view per page it arrived in.
template <class Socket>
uni::task<void> answer_udp(Socket sock) {
  while (true) {
    auto d = co_await sock.receive();
    if (!d) co_return;  // cancelled: the appliance is stopping
    for (const uni::view& v : d->payload) to_upper(v);
    (void)co_await sock.send_to(d->source, d->payload);
  }
}

// A TCP read is a view of received bytes; an empty one is the peer's FIN.
template <class Stream>
uni::task<void> answer_tcp(Stream c) {
  while (true) {
    auto d = co_await c.read();
    if (!d || d->empty()) break;
    to_upper(*d);
    auto w = co_await c.write(*d);
    if (!w) break;
  }
  c.close();
}

uni::task<int> serve(auto& stack, const uni::appliance_options& o) {
  const auto port = static_cast<std::uint16_t>(o.number("port"));
  auto udp = stack.udp_bind(port);
  auto tcp = stack.tcp_listen(port);
  if (!udp || !tcp) {
    uni::log_error("upper: cannot use port ", port, ": ", uni::to_string(!udp ? udp.err() : tcp.err()));
    co_return 1;  // the process ends at once with this status
  }
  uni::log_info("upper: uni ", UNI_VERSION_STRING, ", listening on udp and tcp ", udp->local());
  auto datagrams = uni::spawn(stack.sched(), answer_udp(std::move(*udp)));
  uni::accept_counters accepts;
  uni::accept_supervisor<> connections(stack.sched(), "upper", 64, uni::when_full::wait, accepts);
  co_await connections.run(*tcp, [](auto c, uni::no_info&) { return answer_tcp(std::move(c)); });
  co_return 0;  // the listener closed; a stop signal cancels this task instead
}

}  // namespace

UNI_APPLIANCE("upper", uni::default_config, serve, flags)
