// examples/of-switch: an OpenFlow switch (uni/openflow/switch_agent.hpp) with
// three ports, driven by a controller: on a TAP target each port is a --tap,
// on Xen a vif (the generated xl configuration lists four).
//
// Interface 1 is the management interface, out of band: the switch connects
// from its address to the controller (--controller ADDR[:PORT]) and listens
// for `ovs-ofctl` (--listen, 6634). Interfaces 2 to 4 are ports 1 to 3 of the
// datapath; their stacks take no part (give each --ipv4 0.0.0.0/32):
//
//   of-switch-tap --tap mgmt --ipv4 10.0.0.2/24 --controller 10.0.0.1:6653
//                 --tap p1 --ipv4 0.0.0.0/32 --tap p2 --ipv4 0.0.0.0/32 --tap p3 --ipv4 0.0.0.0/32
//
// The switch's own stack is on the LOCAL port, as Open vSwitch's bridge
// interface: flows output to LOCAL and match in_port=LOCAL, and with --local
// ADDR/PREFIX it answers ARP and ping there (`ovs-ofctl add-flow ...
// in_port=1,actions=LOCAL` and back, then ping it from port 1's host).
//
// Flags: --controller ADDR[:PORT] (none), --local ADDR/PREFIX (none), --listen
// N (6634; 0: none), --fail secure|standalone (secure), --openflow
// 1.0|1.3|both (both), --datapath-id N (0: from the management MAC),
// --echo-interval S (5), plus the platform's.
#include <uni/appliance.hpp>
#include <uni/openflow/switch_agent.hpp>

#if defined(UNI_TARGET_POSIX_TAP)
#include <cstdlib>
// A switch forwards what it receives, so frames must come as the wire has
// them: no merged TCP frames, no partial checksums (uni/posix/tap_netif.hpp's
// offloads are for a stack that is the frames' end). Set before the TAP
// devices are opened.
[[maybe_unused]] static const int tap_offloads_off = ::setenv("UNI_TAP_OFFLOAD", "0", 1);
#endif

namespace {

namespace of = uni::openflow;

struct switch_config : uni::default_config {
  static constexpr std::size_t network_interfaces = 4;  // management, then ports 1-3
  static constexpr bool udp = false;
  static constexpr bool dhcp = false;
};
// The LOCAL port's stack: ARP and ICMP echo on the datapath.
struct local_config : uni::default_config {
  static constexpr bool udp = false;
  static constexpr bool tcp = false;
  static constexpr bool dhcp = false;
};
constexpr std::size_t ports = switch_config::network_interfaces - 1;

constexpr uni::option_spec flags[] = {
    uni::text_option("controller", "ADDR[:PORT]", "", "the controller to connect to (port 6653 if not given)"),
    uni::text_option("local", "ADDR/PREFIX", "", "the address of the switch's own stack on the LOCAL port (none if not given)"),
    uni::number_option("listen", 6634, 0, 65535, "TCP port ovs-ofctl may connect to (0: none)"),
    uni::choice_option("fail", "secure|standalone", "secure",
                       "with no controller: keep flows and drop misses, or forward as a learning switch"),
    uni::choice_option("openflow", "1.0|1.3|both", "both", "OpenFlow versions offered"),
    uni::number_option("datapath-id", 0, 0, 0x7fffffffffffffff, "datapath id (0: from the management MAC)"),
    uni::number_option("echo-interval", 5, 1, 3600, "seconds a connection may be idle before an echo request"),
};

std::optional<uni::endpoint> parse_controller(std::string_view s) {
  if (s.empty()) return uni::endpoint{};
  const auto colon = s.find(':');
  auto address = uni::ipv4_address::parse(s.substr(0, colon));
  if (!address) return std::nullopt;
  std::uint32_t port = of::default_port;
  if (colon != std::string_view::npos) {
    port = 0;
    for (char c : s.substr(colon + 1)) {
      if (c < '0' || c > '9' || port > 65535) return std::nullopt;
      port = port * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (port == 0 || port > 65535) return std::nullopt;
  }
  return uni::endpoint{*address, static_cast<std::uint16_t>(port)};
}

uni::task<int> serve(auto& stacks, const uni::appliance_options& o) {
  using stack_t = std::remove_reference_t<decltype(stacks[0])>;
  auto& control = stacks[0];
  const auto controller = parse_controller(o.text("controller"));
  if (!controller) {
    uni::log_error("of-switch: --controller: '", o.text("controller"), "' is not ADDR or ADDR:PORT");
    co_return 2;
  }
  auto local_address = uni::ipv4_cidr{};
  if (!o.text("local").empty()) {
    auto a = uni::ipv4_cidr::parse(o.text("local"));
    if (!a) {
      uni::log_error("of-switch: --local: '", o.text("local"), "' is not ADDR/PREFIX");
      co_return 2;
    }
    local_address = *a;
  }
  of::switch_options opt;
  opt.datapath_id = static_cast<std::uint64_t>(o.number("datapath-id"));
  if (opt.datapath_id == 0)
    for (std::uint8_t b : control.mac().bytes) opt.datapath_id = opt.datapath_id << 8 | b;
  const std::string_view versions = o.text("openflow");
  opt.versions = versions == "1.0"   ? of::version_set{}.add(of::version::of10)
                 : versions == "1.3" ? of::version_set{}.add(of::version::of13)
                                     : of::both_versions;
  opt.on_failure = o.text("fail") == "standalone" ? of::fail_mode::standalone : of::fail_mode::secure;
  opt.limits.echo_interval = std::chrono::seconds(o.number("echo-interval"));
  opt.limits.echo_timeout = 3 * opt.limits.echo_interval;
  // LOCAL's MAC: the management interface's, the last byte's low bit flipped.
  uni::mac_address local_mac = control.mac();
  local_mac.bytes[5] ^= 1;
  auto local_dev = std::make_unique<of::local_port>(control.pool(), local_mac);
  of::scheduler_clock local_clock{control.sched()};
  uni::stack_settings local_settings;
  local_settings.address = local_address;
  local_settings.seed = opt.datapath_id | 1;  // the seed is all it asks of its clock
  auto own = std::make_unique<uni::Stack<of::local_port, of::scheduler_clock, local_config>>(
      *local_dev, local_clock, control.sched(), control.pool(), local_settings);
  auto sw = std::make_unique<of::switch_agent<stack_t, stack_t>>(control, control.pool(), opt);
  if (auto l = sw->add_local(*local_dev, "of-switch"); !l) {
    uni::log_error("of-switch: LOCAL port: ", uni::to_string(l.err()));
    co_return 1;
  }
  own->start();
  for (std::size_t i = 1; i <= ports; ++i) {
    const uni::fixed_text<16> name = o.declared("tap") ? uni::fixed_text<16>(o.text("tap", i)) : uni::fixed_text<16>("vif", i);
    if (auto p = sw->add_port(stacks[i], name.view()); !p) {
      uni::log_error("of-switch: port ", i, ": ", uni::to_string(p.err()));
      co_return 1;
    }
  }
  uni::log_info("of-switch: datapath ", uni::hex(opt.datapath_id, 16), ", ", ports, " ports, fail-", o.text("fail"),
                ", controller ", controller->port ? uni::fixed_text<24>(*controller).view() : std::string_view("none"));
  struct report {
    const decltype(*sw)& s;
    ~report() {
      const auto& d = s.core().counters();
      const auto& a = s.counters();
      uni::log_info("of-switch: ", d.frames, " frames, ", d.misses, " misses, ", d.packet_ins, " packet_in (",
                    d.packet_ins_lost, " lost), ", d.packet_outs, " packet_out, ", d.flow_mods, " flow_mod (",
                    d.flow_mods_refused, " refused), ", d.flows_removed, " flow_removed, ", d.standalone,
                    " standalone, ", d.dropped, " dropped, ", d.no_page, " without a page; ", a.connects,
                    " connections to the controller, ", a.connect_failures, " failed, ", a.accepts.accepted,
                    " accepted");
    }
  } r{*sw};
  co_await sw->run(*controller, static_cast<std::uint16_t>(o.number("listen")));
  co_return 0;
}

}  // namespace

UNI_APPLIANCE("of-switch", switch_config, serve, flags)
