// The appliance command-line parser (uni/options.hpp) against the target tables
// (uni/target_options.hpp): one scenario per rule of its policy.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <uni/config.hpp>
#include <uni/options.hpp>
#include <uni/target_options.hpp>

using namespace uni;

namespace {

constexpr option_spec app_flags[] = {
    number_option("port", 7, 1, 65535, "port"),
    text_option("url", "URL", "", "what to fetch"),
    flag_option("verbose", "say more"),
    path_option("out", option_kind::output_file, "FILE", "where to write"),
};
static_assert(target_flags::appliance_table_ok(app_flags));

constexpr option_spec clash[] = {number_option("ipv4", 1, 0, 9, "a platform's name")};
static_assert(!target_flags::appliance_table_ok(clash));
constexpr option_spec bad_default[] = {number_option("port", 0, 1, 65535, "0 is outside 1-65535")};
static_assert(!options_well_formed(bad_default));
constexpr option_spec twice[] = {flag_option("a", ""), flag_option("a", "")};
static_assert(!options_well_formed(twice));

bool writable_only_under_tmp(option_kind, std::string_view path, text_writer& why) {
  if (path.starts_with("/tmp/")) return true;
  format_to(why, "cannot write ", path);
  return false;
}

struct outcome {
  result<appliance_options> options;
  std::string problem;
};

outcome parse(std::vector<std::string_view> words, std::size_t interfaces = 1,
              std::span<const option_spec> platform = target_flags::posix_tap, std::string_view target = "posix-tap") {
  char buf[256];
  text_writer w{buf, sizeof buf};
  option_tables t{target, platform, app_flags, target_flags::any, interfaces, &writable_only_under_tmp, false};
  auto r = parse_options(words, t, w);
  return {std::move(r), std::string(w.view())};
}

}  // namespace

TEST_CASE("options: defaults come from the declarations", "[options]") {
  auto r = parse({});
  REQUIRE(r.options);
  CHECK(r.options->number("port") == 7);
  CHECK(r.options->text("url").empty());
  CHECK_FALSE(r.options->flag("verbose"));
  CHECK(r.options->text("tap") == "tap0");
  CHECK(r.options->text("log") == "info");
  CHECK_FALSE(r.options->given("port"));
  CHECK(r.options->interfaces() == 1);
}

TEST_CASE("options: given values are typed and checked", "[options]") {
  auto r = parse({"--port", "8080", "--url", "http://a/", "--verbose", "--log", "debug", "--out", "/tmp/x"});
  REQUIRE(r.options);
  CHECK(r.options->number("port") == 8080);
  CHECK(r.options->text("url") == "http://a/");
  CHECK(r.options->flag("verbose"));
  CHECK(target_flags::log_level_of(r.options->text("log")) == log_level::debug);
  CHECK(r.options->text("out") == "/tmp/x");
  auto eq = parse({"--port=9"});
  REQUIRE(eq.options);
  CHECK(eq.options->number("port") == 9);
}

TEST_CASE("options: an unknown flag is refused by name", "[options]") {
  auto r = parse({"--prot", "7777"});
  CHECK_FALSE(r.options);
  CHECK(r.problem == "unknown flag --prot");
}

TEST_CASE("options: numbers must be numbers inside their range", "[options]") {
  CHECK(parse({"--port", "abc"}).problem == "--port: 'abc' is not a number");
  CHECK(parse({"--port", "70000"}).problem == "--port: 70000 is out of range (1-65535)");
  CHECK(parse({"--port", "-1"}).problem == "--port: -1 is out of range (1-65535)");
  CHECK(parse({"--port", "7x"}).problem == "--port: '7x' is not a number");
  CHECK(parse({"--port", "99999999999999999999999"}).problem == "--port: '99999999999999999999999' is not a number");
  CHECK(parse({"--port", ""}).problem == "--port: '' is not a number");
  CHECK(parse({"--port"}).problem == "--port needs a value (N)");
}

TEST_CASE("options: a choice must be one of its words", "[options]") {
  CHECK(parse({"--log", "verbose"}).problem == "--log: 'verbose' is not one of debug|info|warn");
}

TEST_CASE("options: a flag of another target is refused as such", "[options]") {
  auto r = parse({"--pcap", "/tmp/x.pcap"}, 1, target_flags::posix_socket, "posix-socket");
  CHECK(r.problem == "--pcap does not apply to the posix-socket target");
  CHECK(parse({"--bind", "0.0.0.0"}).problem == "--bind does not apply to the posix-tap target");
}

TEST_CASE("options: a flag given twice, a stray word, a value for a switch are refused", "[options]") {
  CHECK(parse({"--port", "1", "--port", "2"}).problem == "--port given twice");
  CHECK(parse({"7"}).problem == "unexpected '7' (flags are --name [value])");
  CHECK(parse({"--verbose=yes"}).problem == "--verbose takes no value");
  CHECK(parse({"--url", "--verbose"}).problem == "--url needs a value (URL)");
}

TEST_CASE("options: addresses need their form, and ADDR/PREFIX its prefix", "[options]") {
  CHECK(parse({"--ipv4", "10.0.0.2"}).problem == "--ipv4: '10.0.0.2' is not ADDR/PREFIX (e.g. 10.0.0.2/24)");
  CHECK(parse({"--ipv4", "10.0.0.2/33"}).problem == "--ipv4: '10.0.0.2/33' is not ADDR/PREFIX (e.g. 10.0.0.2/24)");
  CHECK(parse({"--gateway", "10.0.0"}).problem == "--gateway: '10.0.0' is not an IPv4 address");
  CHECK(parse({"--mac", "02:00"}).problem == "--mac: '02:00' is not a MAC address (e.g. 02:00:00:00:00:01)");
}

TEST_CASE("options: paths are checked by the target, and refused where it has no files", "[options]") {
  CHECK(parse({"--out", "/nonexistent/x"}).problem == "--out: cannot write /nonexistent/x");
  char buf[128];
  text_writer w{buf, sizeof buf};
  option_tables no_files{"xen", target_flags::xen, app_flags, target_flags::any, 1, nullptr, true};
  const std::string_view words[] = {"--out", "/tmp/x"};
  CHECK_FALSE(parse_options(words, no_files, w));
  CHECK(w.view() == "--out: the xen target has no files");
  // A path the target takes leaves no word of a reason behind.
  auto ok = parse({"--out", "/tmp/x"});
  REQUIRE(ok.options);
  CHECK(ok.problem.empty());
}

TEST_CASE("options: --busy-poll takes microseconds on the POSIX targets, 0 by default, and the Xen target names it", "[options]") {
  CHECK(parse({}).options->number("busy-poll") == 0);
  CHECK(parse({"--busy-poll", "50"}).options->number("busy-poll") == 50);
  CHECK(parse({"--busy-poll", "50"}, 1, target_flags::posix_socket, "posix-socket").options->number("busy-poll") == 50);
  CHECK_FALSE(parse({"--busy-poll", "-1"}).options);
  CHECK(parse({"--busy-poll", "5"}, 1, target_flags::xen, "xen").problem == "--busy-poll does not apply to the xen target");
}

TEST_CASE("options: --help wins over everything else", "[options]") {
  auto r = parse({"--prot", "x", "--help"});
  REQUIRE(r.options);
  CHECK(r.options->help_asked());
  std::vector<std::string> lines;
  option_tables t{"posix-tap", target_flags::posix_tap, app_flags, target_flags::any, 1, nullptr, false};
  write_help("echo-tap", t, "echo", [&](std::string_view l) { lines.emplace_back(l); });
  REQUIRE(lines.size() == 3 + std::size(target_flags::posix_tap) + std::size(app_flags));  // usage, two titles
  CHECK(lines[0].starts_with("usage: echo-tap "));
  auto has = [&](std::string_view a, std::string_view b) {
    for (const auto& l : lines)
      if (l.find(a) != std::string::npos && l.find(b) != std::string::npos) return true;
    return false;
  };
  CHECK(has("--port N", "(1-65535, default 7)"));
  CHECK(has("--tap IFNAME", "(default tap0) [repeat for each interface]"));
  CHECK(has("--log debug|info|warn", "(default info)"));
  CHECK(has("echo's flags:", ""));
}

TEST_CASE("options: --tap begins the next interface, and interface flags describe it", "[options]") {
  auto r = parse({"--ipv4", "10.1.0.2/24", "--tap", "a", "--port", "9", "--tap", "b", "--ipv4", "10.2.0.2/24", "--dhcp"},
                 2);
  REQUIRE(r.options);
  CHECK(r.options->interfaces() == 2);
  CHECK(r.options->text("tap", 0) == "a");
  CHECK(r.options->text("ipv4", 0) == "10.1.0.2/24");
  CHECK(r.options->text("tap", 1) == "b");
  CHECK(r.options->text("ipv4", 1) == "10.2.0.2/24");
  CHECK_FALSE(r.options->flag("dhcp", 0));
  CHECK(r.options->flag("dhcp", 1));
  CHECK(r.options->number("port") == 9);  // not an interface's
  CHECK(parse({"--tap", "a", "--tap", "b"}).problem == "--tap given more than once: this appliance has 1 network interface");
  CHECK(parse({"--tap", "a", "--ipv4", "10.0.0.2/24", "--ipv4", "10.0.0.3/24"}, 2).problem ==
        "--ipv4 given twice for network interface 1");
}

TEST_CASE("options: the Xen command line skips the loader's words", "[options]") {
  const auto words = command_words::from_text("  /boot/www-xen  --port 80   console=hvc0 ");
  REQUIRE(words.words().size() == 4);
  char buf[128];
  text_writer w{buf, sizeof buf};
  option_tables t{"xen", target_flags::xen, app_flags, target_flags::any, 1, nullptr, true};
  auto r = parse_options(words.words(), t, w);
  REQUIRE(r);
  CHECK(r->number("port") == 80);
  const auto bad = command_words::from_text("--port 80000");
  CHECK_FALSE(parse_options(bad.words(), t, w));
}

TEST_CASE("options: an interface's addressing from its flags", "[options]") {
  auto settings = [](std::vector<std::string_view> words, std::size_t i, stack_settings& s) {
    auto r = parse(std::move(words), 2);
    REQUIRE(r.options);
    char buf[128];
    text_writer w{buf, sizeof buf};
    const bool ok = target_flags::interface_settings<default_config>(*r.options, i, s, w);
    return ok ? std::string() : std::string(w.view());
  };
  stack_settings s;
  CHECK(settings({}, 0, s).empty());
  CHECK(s.address == default_config::address);
  CHECK(s.gateway == default_config::gateway);
  // Another subnet: the Config's gateway (10.0.0.1) is not reachable there.
  CHECK(settings({"--ipv4", "10.99.0.2/24"}, 0, s).empty());
  CHECK(s.gateway.is_any());
  CHECK(settings({"--ipv4", "10.0.0.9/24"}, 0, s).empty());
  CHECK(s.gateway == default_config::gateway);
  CHECK(settings({"--ipv4", "10.99.0.2/24", "--gateway", "10.99.0.1"}, 0, s).empty());
  CHECK(s.gateway == *ipv4_address::parse("10.99.0.1"));
  CHECK(settings({"--tap", "a", "--tap", "b"}, 1, s) == "network interface 2 needs --ipv4 ADDR/PREFIX");
  CHECK(settings({"--dhcp"}, 0, s) == "--dhcp: built without DHCP (its Config has dhcp = false)");
}

struct disk_config : default_config {
  static constexpr std::size_t block_devices = 1;
};
struct vchan_config : default_config {
  static constexpr std::size_t network_interfaces = 0;
  static constexpr std::size_t vchan_endpoints = 2;
};

TEST_CASE("options: a repeated flag (--disk) keeps every value in order, a diskless appliance has none", "[options]") {
  const auto posix_socket_disks = target_flags::posix_socket_flags<disk_config>();
  auto r = parse({"--disk", "/a.img", "--log", "warn", "--disk", "/dev/loop0", "--disk-cache"}, 1,
                 posix_socket_disks, "posix-socket");
  REQUIRE(r.options.ok());
  CHECK(r.options->count("disk") == 2);
  CHECK(r.options->text("disk", 0) == "/a.img");
  CHECK(r.options->text("disk", 1) == "/dev/loop0");
  CHECK(r.options->flag("disk-cache"));
  CHECK(parse({}, 1, posix_socket_disks, "posix-socket").options->count("disk") == 0);
  CHECK(parse({"--disk-cache", "--disk-cache"}, 1, posix_socket_disks, "posix-socket").problem ==
        "--disk-cache given twice");
  CHECK(parse({"--disk", "/a.img"}, 1, target_flags::posix_socket, "posix-socket").problem ==
        "--disk does not apply to the posix-socket target");
  CHECK(target_flags::posix_tap_flags<default_config>().size() == std::size(target_flags::posix_tap));
}

TEST_CASE("options: vchan endpoints take --vchan each, Xen their role and peer, only where the Config declares them",
          "[options][vchan]") {
  const auto posix = target_flags::posix_socket_flags<vchan_config>();
  auto r = parse({"--vchan", "/tmp/a.sock", "--vchan", "/tmp/b.sock"}, 1, posix, "posix-socket");
  REQUIRE(r.options.ok());
  CHECK(r.options->count("vchan") == 2);
  CHECK(r.options->text("vchan", 1) == "/tmp/b.sock");
  CHECK(parse({"--vchan", "/tmp/a.sock"}, 1, target_flags::posix_socket, "posix-socket").problem ==
        "unknown flag --vchan");
  CHECK(parse({"--connect"}, 1, posix, "posix-socket").problem == "unknown flag --connect");
  // Xen without a network interface: the vchan flags, and no interface flags.
  const auto xen = target_flags::xen_flags<vchan_config>();
  auto x = parse({"--connect", "--peer", "7", "--ring-order", "12"}, 1, xen, "xen");
  REQUIRE(x.options.ok());
  CHECK(x.options->flag("connect"));
  CHECK(x.options->number("peer") == 7);
  CHECK(x.options->text("vchan") == "data/vchan");
  CHECK(parse({"--ring-order", "17"}, 1, xen, "xen").problem.starts_with("--ring-order"));
  CHECK(parse({"--ipv4", "10.0.0.2/24"}, 1, xen, "xen").problem == "--ipv4 does not apply to the xen target");
  // A network appliance's table is the one it had.
  CHECK(target_flags::xen_flags<default_config>().data() == target_flags::xen);
  // The names are the platform's: an appliance may not take them.
  constexpr option_spec takes_peer[] = {number_option("peer", 1, 0, 9, "a peer")};
  static_assert(!target_flags::appliance_table_ok(takes_peer));
}
