// uni/target_options.hpp: the flags each target's start of day takes, declared
// once (uni/options.hpp) so that --help lists them and a flag of another target
// is refused by name ("--pcap does not apply to the posix-socket target").
// Interface flags (scope `interface`) describe the network interface begun by the
// last --tap (or --vif); before any, the first. An appliance's own flags may not
// reuse these names.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <span>

#include <uni/config.hpp>
#include <uni/core/log.hpp>
#include <uni/options.hpp>

namespace uni::target_flags {

inline constexpr option_spec log = choice_option("log", "debug|info|warn", "info", "log level");
inline constexpr option_spec bind =
    typed_option("bind", option_kind::ipv4_address, "ADDR", "127.0.0.1", "host address the services bind to");
inline constexpr option_spec tap = for_each_interface(
    text_option("tap", "IFNAME", "tap0", "TAP device of the next network interface"), option_scope::interface_start);
inline constexpr option_spec vif = for_each_interface(
    number_option("vif", 0, 0, 7, "the next interface is device/vif/N (0, 1, ... in order)"), option_scope::interface_start);
inline constexpr option_spec ipv4 = for_each_interface(
    typed_option("ipv4", option_kind::ipv4_prefix, "ADDR/PREFIX", "", "the interface's address and subnet"));
inline constexpr option_spec gateway = for_each_interface(typed_option(
    "gateway", option_kind::ipv4_address, "ADDR", "", "default route (default: the appliance's if inside the subnet)"));
inline constexpr option_spec mac =
    for_each_interface(typed_option("mac", option_kind::mac_address, "MAC", "", "MAC address (default: random, local)"));
inline constexpr option_spec dhcp =
    for_each_interface(flag_option("dhcp", "lease address, gateway and DNS servers (appliances with the DHCP client)"));
inline constexpr option_spec pcap = for_each_interface(
    path_option("pcap", option_kind::output_file, "FILE", "record the interface's frames (also: UNI_PCAP=FILE)"));
inline constexpr option_spec impair =
    text_option("impair", "SPEC", "", "impair traffic both ways, for tests: e.g. loss=2,dup=1,reorder=2,delay=1-5");
inline constexpr option_spec impair_seed = number_option(
    "impair-seed", 0, 0, std::numeric_limits<std::int64_t>::max(), "its random seed (0: random, printed)");

inline constexpr option_spec trace = path_option(
    "trace", option_kind::output_file, "FILE",
    "write a trace (Chrome JSON: Perfetto, chrome://tracing) on exit and SIGUSR1 (a Config with trace)");

// Block devices (an appliance whose Config declares them; uni/devices.hpp).
inline constexpr option_spec disk =
    repeatable(text_option("disk", "PATH", "", "a file or block device: the next block device the appliance declares"));
inline constexpr option_spec disk_cache =
    flag_option("disk-cache", "disk I/O through the host's page cache (default: direct I/O, O_DIRECT)");

// Latency for CPU: the run loop polls for I/O this long before the process
// sleeps (as Linux's SO_BUSY_POLL does for a socket), so a reply does not wait
// for a halted CPU to wake (uni/posix/clock.hpp).
inline constexpr option_spec busy_poll = number_option(
    "busy-poll", 0, 0, 1'000'000, "microseconds to poll for I/O before sleeping (default 0: off; costs CPU)");

// Vchan endpoints (an appliance whose Config declares them; uni/devices.hpp): one
// --vchan per endpoint, in order. On POSIX the Unix socket it listens on (the
// vchan's twin); on Xen the xenstore node, and the role, peer and ring sizes
// (the same for every endpoint).
inline constexpr option_spec vchan_socket =
    repeatable(text_option("vchan", "PATH", "", "Unix socket the next vchan endpoint listens on (the vchan's twin)"));
inline constexpr option_spec vchan_node = repeatable(
    text_option("vchan", "PATH", "data/vchan", "xenstore node the next vchan endpoint is offered at"));
inline constexpr option_spec vchan_peer = number_option("peer", 0, 0, 32767, "domain allowed to connect (0: dom0)");
inline constexpr option_spec vchan_ring_order =
    number_option("ring-order", 10, 10, 16, "rings of 2^N bytes (10, 11: inside the shared page)");
inline constexpr option_spec vchan_connect =
    flag_option("connect", "be the vchan's client: connect to the server at --vchan PATH of domain --peer");

// The tables: alignas(8), an option_spec's own alignment, keeps GCC from aligning
// a table of 32 bytes or more to 32 (up to 24 bytes of padding before each).
alignas(8) inline constexpr option_spec posix_socket[] = {bind, log, trace, busy_poll};
alignas(8) inline constexpr option_spec posix_socket_no_network[] = {log, trace, busy_poll};  // vchans alone
alignas(8) inline constexpr option_spec posix_tap[] = {tap, ipv4, gateway, mac, dhcp, pcap, log, impair, impair_seed, trace, busy_poll};
alignas(8) inline constexpr option_spec disk_flags[] = {disk, disk_cache};
alignas(8) inline constexpr option_spec posix_vchans[] = {vchan_socket};
alignas(8) inline constexpr option_spec xen[] = {vif, ipv4, gateway, log};
alignas(8) inline constexpr option_spec xen_interfaces[] = {vif, ipv4, gateway};
alignas(8) inline constexpr option_spec xen_log[] = {log};
alignas(8) inline constexpr option_spec xen_vchans[] = {vchan_node, vchan_peer, vchan_ring_order, vchan_connect};
// Every target's flag names, for the message that names a flag of another
// target (names only: an image holds no help text of another target's flags),
// '|' between them: one string, where a table of views took 16 bytes a name.
inline constexpr std::string_view any =
    "bind|tap|vif|ipv4|gateway|mac|dhcp|pcap|log|impair|impair-seed|disk|disk-cache|busy-poll";
static_assert([] {
  for (const option_spec& s : {bind, tap, vif, ipv4, gateway, mac, dhcp, pcap, log, impair, impair_seed, disk, disk_cache,
                               busy_poll})
    if (!detail::is_choice(any, s.name())) return false;
  return true;
}(), "target_flags::any names every target's flags");
// The vchan endpoints' names, kept from appliances' tables (not in `any`: an
// image without vchans refuses --vchan as unknown, and carries no names of them).
inline constexpr std::string_view vchan_names[] = {vchan_socket.name(), vchan_peer.name(), vchan_ring_order.name(),
                                                   vchan_connect.name()};

// The tables whose `Use` is true, one after another.
template <bool... Use, std::size_t... N>
constexpr auto join_flags(const option_spec (&... tables)[N]) noexcept {
  std::array<option_spec, ((Use ? N : 0) + ... + 0)> out{};
  std::size_t i = 0;
  auto add = [&](bool use, std::span<const option_spec> t) {
    if (use)
      for (const option_spec& s : t) out[i++] = s;
  };
  (add(Use, tables), ...);
  return out;
}

// Each target's table for an appliance: the device flags of the devices its
// Config declares (uni/devices.hpp), and no others.
template <class Config>
alignas(8) inline constexpr auto posix_socket_table =
    join_flags<(Config::network_interfaces > 0), (Config::network_interfaces == 0), (Config::block_devices > 0),
               (Config::vchan_endpoints > 0)>(posix_socket, posix_socket_no_network, disk_flags, posix_vchans);
template <class Config>
alignas(8) inline constexpr auto posix_tap_table =
    join_flags<true, (Config::block_devices > 0), (Config::vchan_endpoints > 0)>(posix_tap, disk_flags, posix_vchans);
template <class Config>
alignas(8) inline constexpr auto xen_table = join_flags<(Config::network_interfaces > 0), true, (Config::vchan_endpoints > 0)>(
    xen_interfaces, xen_log, xen_vchans);
template <class Config>
constexpr std::span<const option_spec> posix_socket_flags() noexcept {
  return posix_socket_table<Config>;
}
template <class Config>
constexpr std::span<const option_spec> posix_tap_flags() noexcept {
  return posix_tap_table<Config>;
}
template <class Config>
constexpr std::span<const option_spec> xen_flags() noexcept {
  if constexpr (Config::network_interfaces > 0 && Config::vchan_endpoints == 0) return xen;
  else return xen_table<Config>;
}

// The level --log names (checked by the parser: debug, info or warn).
constexpr log_level log_level_of(std::string_view name) noexcept {
  using namespace std::string_view_literals;  // (a literal's length known here, not a strlen call)
  return name == "debug"sv ? log_level::debug : name == "warn"sv ? log_level::warn : log_level::info;
}

// An appliance's table: well formed, and no name the platforms use.
constexpr bool appliance_table_ok(std::span<const option_spec> t) noexcept {
  if (!options_well_formed(t)) return false;
  for (const option_spec& s : t)
    if (detail::is_choice(any, s.name())) return false;
  for (const option_spec& s : t)
    for (std::string_view p : vchan_names)
      if (s.name() == p) return false;
  return true;
}

// The addressing of network interface `i` (from 0) from its flags. The first
// has the Config's address unless --ipv4 (or --dhcp) says otherwise; every other
// one needs its own. The Config's gateway is kept only where the address's subnet
// holds it: a route to an unreachable gateway is none. False with the reason.
template <class Config>
bool interface_settings(const appliance_options& o, std::size_t i, stack_settings& s, text_writer& problem) noexcept {
  using namespace std::string_view_literals;  // (a literal's length known here, not a strlen call)
  s = stack_settings::from<Config>();
  const bool dhcp = o.declared("dhcp"sv) && o.flag("dhcp"sv, i);
  const bool ipv4 = o.given("ipv4"sv, i);
  if (dhcp && !Config::dhcp) return format_to(problem, "--dhcp: built without DHCP (its Config has dhcp = false)"), false;
  if (dhcp && ipv4) return format_to(problem, "--dhcp and --ipv4 exclude each other (interface ", i + 1, ")"), false;
  if (ipv4) {
    s.address = *ipv4_cidr::parse(o.text("ipv4"sv, i));
    if (!s.address.contains(Config::gateway)) s.gateway = {};
  } else if (i > 0 && !dhcp) {
    return format_to(problem, "network interface ", i + 1, " needs --ipv4 ADDR/PREFIX",
                     Config::dhcp ? " or --dhcp"sv : ""sv),
           false;
  }
  if (o.given("gateway"sv, i)) s.gateway = *ipv4_address::parse(o.text("gateway"sv, i));
  s.dhcp = dhcp || (i == 0 && s.dhcp && !ipv4);
  return true;
}

}  // namespace uni::target_flags
