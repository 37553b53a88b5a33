// uni/posix/appliance_options.hpp: the command line every POSIX appliance
// shares (see tap_appliance.hpp and socket_appliance.hpp for the flags).
// Anything of the form `--name value` that the platform does not know is kept
// for the application (`get`, `get_number`). `--dhcp` alone takes no value.
#pragma once

#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <uni/core/log.hpp>
#include <uni/net/ipv4_address.hpp>
#include <uni/net/mac_address.hpp>

namespace uni::posix {

struct appliance_options {
  std::string tap = "tap0";
  std::string pcap;
  std::optional<ipv4_cidr> ipv4;
  std::optional<ipv4_address> gateway;
  std::optional<mac_address> mac;
  bool dhcp = false;  // lease the address from a DHCP server (instead of --ipv4)
  log_level level = log_level::info;
  std::map<std::string, std::string, std::less<>> extra;  // application flags

  std::string_view get(std::string_view name, std::string_view fallback = {}) const {
    auto it = extra.find(name);
    return it == extra.end() ? fallback : std::string_view(it->second);
  }
  long get_number(std::string_view name, long fallback) const {
    auto it = extra.find(name);
    return it == extra.end() ? fallback : std::strtol(it->second.c_str(), nullptr, 10);
  }
};

// Returns the options, or an error message in `problem`.
inline std::optional<appliance_options> parse_appliance_options(int argc, char** argv, std::string& problem) {
  appliance_options o;
  if (const char* p = std::getenv("UNI_PCAP")) o.pcap = p;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--dhcp") {
      o.dhcp = true;
      continue;
    }
    if (flag.substr(0, 2) != "--" || i + 1 >= argc) {
      problem = "expected --name value, got '" + std::string(flag) + "'";
      return std::nullopt;
    }
    std::string_view value = argv[++i];
    if (flag == "--tap") {
      o.tap = value;
    } else if (flag == "--pcap") {
      o.pcap = value;
    } else if (flag == "--ipv4") {
      auto c = ipv4_cidr::parse(value);
      if (!c) return problem = "bad --ipv4 (want ADDR/PREFIX): " + std::string(value), std::nullopt;
      o.ipv4 = *c;
    } else if (flag == "--gateway") {
      auto a = ipv4_address::parse(value);
      if (!a) return problem = "bad --gateway: " + std::string(value), std::nullopt;
      o.gateway = *a;
    } else if (flag == "--mac") {
      auto m = mac_address::parse(value);
      if (!m) return problem = "bad --mac: " + std::string(value), std::nullopt;
      o.mac = *m;
    } else if (flag == "--log") {
      o.level = value == "debug" ? log_level::debug : value == "warn" ? log_level::warn : log_level::info;
    } else {
      o.extra.emplace(std::string(flag.substr(2)), std::string(value));
    }
  }
  return o;
}

}  // namespace uni::posix
