// examples/dns: an authoritative DNS server appliance (uni/dns), one source for
// every target. The zone is compiled in at build time (uni_dns_zone in
// examples/CMakeLists.txt embeds the master file's text, parsed at start); on
// POSIX `--zone FILE[,FILE...]` serves files instead. Flags: --port N
// (default 53), --origin NAME (for files whose names are relative and that
// have no $ORIGIN), --memo N (answers the memo table keeps, 0 = off), --nsid TEXT
// (the identifier sent to queries that ask with an NSID option, RFC 5001), --identity
// TEXT and --version TEXT (CHAOS TXT answers to id.server and version.bind, as NSD
// gives them; without them such queries are refused), plus the platform's.
#include <optional>
#include <string>
#include <vector>

#include <uni/appliance.hpp>
#include <uni/dns/service.hpp>
#include <uni/dns/zone_file.hpp>

#include "dns_builtin_zone.hpp"  // generated: uni_dns_builtin_zone_{text,file}

#if !defined(UNI_TARGET_XEN)
#include <fstream>
#include <sstream>
#endif

#ifndef UNI_DNS_UDP_ONLY
#define UNI_DNS_UDP_ONLY 0
#endif

// UDP and TCP (UDP alone in dns-udp: UNI_DNS_UDP_ONLY), no DHCP: an authoritative
// server has a fixed address.
struct dns_config : uni::default_config {
  static constexpr bool tcp = !UNI_DNS_UDP_ONLY;
  static constexpr std::size_t udp_queue = 256;
  static constexpr std::size_t io_pages = 4096;
};

namespace {

constexpr uni::option_spec flags[] = {
    uni::number_option("port", 53, 1, 65535, "UDP and TCP port to answer on"),
#if !defined(UNI_TARGET_XEN)
    uni::text_option("zone", "FILE[,FILE...]", "", "serve these zone files instead of the compiled-in zone"),
#endif
    uni::text_option("origin", "NAME", "", "origin of zone files whose names are relative (no $ORIGIN)"),
    uni::number_option("memo", 4096, 0, 1 << 20, "answers the memo table keeps (0: off)"),
    uni::text_option("nsid", "TEXT", "", "identifier sent to queries with an NSID option (RFC 5001)"),
    uni::text_option("identity", "TEXT", "", "CHAOS TXT answer to id.server (none: refused)"),
    uni::text_option("version", "TEXT", "", "CHAOS TXT answer to version.bind (none: refused)"),
};

bool load(std::vector<uni::dns::zone>& zones, std::string_view text, const uni::dns::name& origin,
          std::string_view file, const uni::dns::zone_include_reader* include = nullptr) {
  std::string problem;
  auto z = uni::dns::load_zone(text, origin, file, problem, include);
  if (!z) {
    uni::log_error("dns: ", problem);
    return false;
  }
  uni::log_info("dns: zone ", z->origin().to_string(), " from ", file, ": ", z->record_count(), " records, ",
                z->node_count(), " names");
  zones.push_back(std::move(*z));
  return true;
}

#if !defined(UNI_TARGET_XEN)
std::optional<std::string> read_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) return std::nullopt;
  std::stringstream text;
  text << f.rdbuf();
  return std::move(text).str();
}
#endif

uni::task<int> serve(auto& stack, const uni::appliance_options& o) {
  std::vector<uni::dns::zone> zones;
  uni::dns::name origin;
  if (auto given = o.text("origin"); !given.empty()) {
    auto n = uni::dns::name::parse(given);
    if (!n) {
      uni::log_error("dns: bad --origin ", given);
      co_return 2;
    }
    origin = *n;
  }
#if defined(UNI_TARGET_XEN)
  const std::string_view files;  // no file system: the Xen image serves its built-in zone
#else
  const std::string_view files = o.text("zone");
#endif
  if (files.empty()) {
    if (!load(zones, uni::dns::builtin_zone_text, origin, uni::dns::builtin_zone_file)) co_return 1;
  } else {
#if !defined(UNI_TARGET_XEN)
    std::string_view rest = files;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      const std::string file(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      const auto text = read_file(file);
      if (!text) {
        uni::log_error("dns: cannot read ", file);
        co_return 1;
      }
      // $INCLUDE names a file relative to the zone file's folder (NSD: to its zonesdir).
      const std::string folder = file.substr(0, file.rfind('/') + 1);
      auto read_included = [&folder](const std::string& path) {
        return read_file(path.starts_with('/') ? path : folder + path);
      };
      const uni::dns::zone_include_reader include = read_included;
      if (!load(zones, *text, origin, file, &include)) co_return 1;
    }
#endif
  }
  uni::dns::server_options opts;
  opts.memo_slots = static_cast<std::size_t>(o.number("memo"));
  if (!opts.nsid.assign(o.text("nsid")) || !opts.identity.assign(o.text("identity")) ||
      !opts.version.assign(o.text("version"))) {
    uni::log_error("dns: --nsid takes at most 64 bytes, --identity and --version 255");
    co_return 2;
  }
  uni::dns::server srv(std::move(zones), opts);
  co_return co_await uni::dns::serve(stack, srv, static_cast<std::uint16_t>(o.number("port")));
}

}  // namespace

UNI_APPLIANCE("dns", dns_config, serve, flags)
