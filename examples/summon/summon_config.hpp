// examples/summon/summon_config.hpp: uni-summon's configuration file, read once
// at start into the appliances it stands for and the DNS zone it answers from
// (built with uni/dns/zone.hpp; other names from master files, zone_file.hpp).
// Every error names the file and the line ("summon.conf:7: ...").
//
//   zone apps.test                      # the zone served (required)
//   ns ns.apps.test 10.0.0.1            # its name server: NS at the apex, and its A
//   ttl 0                               # of the appliances' A records (0: every
//                                       # connection asks, and so keeps it alive)
//   records static.zone                 # more names, from a master file
//   xl xl                               # the toolstack command
//   max-starts 4                        # appliances starting at once, at most
//   start-deadline 30s                  # defaults for the appliances below
//   idle-timeout 5m
//   stop-deadline 20s                   # `xl shutdown -w` past this: `xl destroy`
//   check-every 5s                      # a running domain still there? (`xl domid`)
//   appliance www.apps.test 10.0.0.2 image www.xen config www.cfg ready tcp:80
//       [domain www] [idle 30s] [deadline 20s]
//
// A name of one label is relative to the zone (www); one with dots is whole
// (www.apps.test, with or without its final dot).
// `ready tcp:PORT`: up once the appliance accepts a TCP connection on PORT;
// `ready created` (the default): once `xl create` has returned. Paths are
// relative to the configuration file's folder. Durations: 500ms, 10s, 2m, 1h.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <uni/core/function_ref.hpp>
#include <uni/core/time.hpp>
#include <uni/dns/zone.hpp>
#include <uni/dns/zone_file.hpp>
#include <uni/net/ipv4_address.hpp>

namespace summon {

// The most appliances one configuration names, and starts at once.
inline constexpr std::size_t max_appliances = 64;
inline constexpr std::size_t max_starts_limit = 16;

struct appliance_config {
  uni::dns::name name;    // the name a query asks
  uni::ipv4_address address;
  std::string domain;     // the Xen domain's name (`xl create ... name=`)
  std::string image;      // the kernel `xl create` boots
  std::string xl_config;  // the domain's xl configuration
  uni::duration idle{}, deadline{};
  std::uint16_t ready_port = 0;  // 0: up once `xl create` returned
  std::string place;             // "file:line", for log lines
};

struct config {
  uni::dns::name origin;
  std::uint32_t ttl = 0;
  std::string xl = "xl";
  std::size_t max_starts = 4;
  uni::duration stop_deadline = std::chrono::seconds(20);
  uni::duration check_every = std::chrono::seconds(5);
  std::vector<appliance_config> appliances;
  std::vector<uni::dns::zone> zones;  // one: the zone answered from
};

// The text of a file the configuration names (records), or nothing.
using file_reader = uni::function_ref<std::optional<std::string>(const std::string& path)>;

namespace detail {

inline std::vector<std::string_view> words_of(std::string_view line) {
  std::vector<std::string_view> w;
  line = line.substr(0, line.find('#'));
  std::size_t at = 0;
  while (at < line.size()) {
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t' || line[at] == '\r')) ++at;
    const std::size_t start = at;
    while (at < line.size() && line[at] != ' ' && line[at] != '\t' && line[at] != '\r') ++at;
    if (at > start) w.push_back(line.substr(start, at - start));
  }
  return w;
}

// "500ms", "10s", "2m", "1h", or seconds without a unit; at most a day.
inline std::optional<uni::duration> duration_of(std::string_view s) {
  std::uint64_t n = 0;
  std::size_t i = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    n = n * 10 + static_cast<std::uint64_t>(s[i] - '0');
    if (n > 86'400'000) return std::nullopt;
  }
  if (i == 0) return std::nullopt;
  const std::string_view unit = s.substr(i);
  std::uint64_t ms = 0;
  if (unit == "ms") ms = n;
  else if (unit.empty() || unit == "s") ms = n * 1000;
  else if (unit == "m") ms = n * 60'000;
  else if (unit == "h") ms = n * 3'600'000;
  else return std::nullopt;
  if (ms > 86'400'000) return std::nullopt;
  return std::chrono::milliseconds(ms);
}

inline std::optional<std::uint64_t> number_of(std::string_view s, std::uint64_t max) {
  std::uint64_t n = 0;
  if (s.empty()) return std::nullopt;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
    if (n > max) return std::nullopt;
  }
  return n;
}

inline bool domain_name_ok(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
      return false;
  return true;
}

// A name as the configuration writes it: one label is relative to the zone
// (www), a name with dots is absolute with or without its final dot.
inline uni::result<uni::dns::name> name_of(std::string_view s, const uni::dns::name& origin) {
  if (s.find('.') == std::string_view::npos) return uni::dns::name::parse(s, origin);
  if (s.ends_with('.')) return uni::dns::name::parse(s);
  return uni::dns::name::parse(std::string(s) + ".");
}

inline std::vector<std::uint8_t> wire_of(const uni::dns::name& n) { return {n.wire().begin(), n.wire().end()}; }

}  // namespace detail

// Reads the configuration `text` of `file`; the error ("file:line: why") in `problem`.
inline std::optional<config> read_config(std::string_view text, std::string_view file, std::string& problem,
                                         file_reader read) {
  using namespace detail;
  config c;
  const std::string folder(file.substr(0, file.rfind('/') + 1));
  const auto path_of = [&](std::string_view p) { return p.starts_with('/') ? std::string(p) : folder + std::string(p); };
  std::optional<uni::duration> idle_default, deadline_default;
  std::vector<std::optional<uni::duration>> idle_given, deadline_given;
  std::vector<uni::dns::zone_record> records;
  uni::dns::zone_record_places places;
  struct pending_ns {
    uni::dns::name name;
    uni::ipv4_address address;
    std::string place;
  };
  std::optional<pending_ns> ns;
  std::vector<std::pair<std::string, std::string>> record_files;  // path, place
  bool have_zone = false;
  std::size_t line_no = 0;
  std::string place;
  const auto bad = [&](std::string why) -> std::optional<config> {
    problem = place + ": " + why;
    return std::nullopt;
  };

  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const auto w = words_of(text.substr(at, end - at));
    at = end + 1;
    ++line_no;
    place = std::string(file) + ":" + std::to_string(line_no);
    if (w.empty()) continue;
    const std::string_view key = w[0];
    const auto one_value = [&]() { return w.size() == 2; };
    if (key == "zone") {
      if (!one_value()) return bad("zone takes one name");
      if (have_zone) return bad("a second zone (one configuration serves one zone)");
      auto n = name_of(w[1], uni::dns::name{});
      if (!n) return bad("bad zone name '" + std::string(w[1]) + "'");
      c.origin = *n;
      have_zone = true;
    } else if (key == "ns") {
      if (w.size() != 3) return bad("ns takes a name and an IPv4 address");
      if (!have_zone) return bad("ns before zone");
      auto n = name_of(w[1], c.origin);
      auto a = uni::ipv4_address::parse(w[2]);
      if (!n) return bad("bad name '" + std::string(w[1]) + "'");
      if (!a) return bad("bad IPv4 address '" + std::string(w[2]) + "'");
      ns = pending_ns{*n, *a, place};
    } else if (key == "ttl") {
      auto n = one_value() ? number_of(w[1], 0x7fffffff) : std::nullopt;
      if (!n) return bad("ttl takes a number of seconds");
      c.ttl = static_cast<std::uint32_t>(*n);
    } else if (key == "xl") {
      if (!one_value()) return bad("xl takes the toolstack command");
      c.xl = std::string(w[1]);
    } else if (key == "max-starts") {
      auto n = one_value() ? number_of(w[1], max_starts_limit) : std::nullopt;
      if (!n || *n == 0) return bad("max-starts takes a number from 1 to " + std::to_string(max_starts_limit));
      c.max_starts = *n;
    } else if (key == "start-deadline" || key == "idle-timeout" || key == "stop-deadline" || key == "check-every") {
      auto d = one_value() ? duration_of(w[1]) : std::nullopt;
      if (!d || d->count() == 0) return bad(std::string(key) + " takes a duration (500ms, 10s, 2m, 1h; at most a day)");
      if (key == "start-deadline") deadline_default = *d;
      else if (key == "idle-timeout") idle_default = *d;
      else if (key == "stop-deadline") c.stop_deadline = *d;
      else c.check_every = *d;
    } else if (key == "records") {
      if (!one_value()) return bad("records takes a master file");
      record_files.emplace_back(path_of(w[1]), place);
    } else if (key == "appliance") {
      if (!have_zone) return bad("appliance before zone");
      if (w.size() < 3 || w.size() % 2 == 0) return bad("appliance takes a name, an IPv4 address, then key value pairs");
      if (c.appliances.size() == max_appliances) return bad("more than " + std::to_string(max_appliances) + " appliances");
      appliance_config a;
      auto n = name_of(w[1], c.origin);
      if (!n) return bad("bad name '" + std::string(w[1]) + "'");
      if (!n->is_subdomain_of(c.origin)) return bad(n->to_string() + " is outside the zone " + c.origin.to_string());
      auto addr = uni::ipv4_address::parse(w[2]);
      if (!addr) return bad("bad IPv4 address '" + std::string(w[2]) + "'");
      a.name = *n;
      a.address = *addr;
      a.place = place;
      std::optional<uni::duration> idle, deadline;
      for (std::size_t i = 3; i + 1 < w.size(); i += 2) {
        const std::string_view k = w[i], v = w[i + 1];
        if (k == "image") a.image = path_of(v);
        else if (k == "config") a.xl_config = path_of(v);
        else if (k == "domain") {
          if (!domain_name_ok(v)) return bad("bad domain name '" + std::string(v) + "'");
          a.domain = std::string(v);
        } else if (k == "idle" || k == "deadline") {
          auto d = duration_of(v);
          if (!d || d->count() == 0) return bad(std::string(k) + " takes a duration (500ms, 10s, 2m, 1h)");
          (k == "idle" ? idle : deadline) = *d;  // (both optional<duration>: an lvalue)
        } else if (k == "ready") {
          if (v == "created") {
            a.ready_port = 0;
          } else {
            auto port = v.starts_with("tcp:") ? number_of(v.substr(4), 65535) : std::nullopt;
            if (!port || *port == 0) return bad("ready takes tcp:PORT or created");
            a.ready_port = static_cast<std::uint16_t>(*port);
          }
        } else {
          return bad("unknown appliance key '" + std::string(k) + "'");
        }
      }
      if (a.image.empty()) return bad("appliance " + a.name.to_string() + " has no image");
      if (a.xl_config.empty()) return bad("appliance " + a.name.to_string() + " has no config");
      if (a.domain.empty()) {
        // The name's first label (www.apps.test: www).
        const auto wire = a.name.wire();
        a.domain.assign(reinterpret_cast<const char*>(wire.data()) + 1, wire.empty() ? 0 : wire[0]);
        if (!domain_name_ok(a.domain)) return bad("no domain name from " + a.name.to_string() + ": give one (domain NAME)");
      }
      for (const appliance_config& o : c.appliances) {
        if (o.name == a.name) return bad(a.name.to_string() + " is already an appliance (" + o.place + ")");
        if (o.domain == a.domain) return bad("domain " + a.domain + " is already " + o.name.to_string() + "'s (" + o.place + ")");
        if (o.address == a.address) return bad(std::string("address ") + std::string(w[2]) + " is already " + o.name.to_string() + "'s (" + o.place + ")");
      }
      idle_given.push_back(idle);
      deadline_given.push_back(deadline);
      c.appliances.push_back(std::move(a));
    } else {
      return bad("unknown directive '" + std::string(key) + "'");
    }
  }
  place = std::string(file) + ":" + std::to_string(std::max<std::size_t>(line_no, 1));  // its last line
  if (!have_zone) return bad("no zone");
  if (c.appliances.empty()) return bad("no appliance");
  for (std::size_t i = 0; i < c.appliances.size(); ++i) {
    c.appliances[i].idle = idle_given[i].value_or(idle_default.value_or(std::chrono::minutes(5)));
    c.appliances[i].deadline = deadline_given[i].value_or(deadline_default.value_or(std::chrono::seconds(30)));
  }

  // The zone: SOA (and NS) at the apex, an A per appliance, then the master files'.
  const auto add = [&](const uni::dns::name& owner, std::uint16_t type, std::uint32_t ttl,
                       std::vector<std::uint8_t> rdata, const std::string& where) {
    records.push_back({owner, type, ttl, std::move(rdata)});
    places.push_back(where);
  };
  const auto a_record = [&](uni::ipv4_address addr) {
    std::vector<std::uint8_t> r(4);
    addr.store(r.data());
    return r;
  };
  std::vector<std::uint8_t> soa = wire_of(ns ? ns->name : c.origin);
  auto hostmaster = uni::dns::name::parse("hostmaster", c.origin);
  if (!hostmaster) return bad("the zone name " + c.origin.to_string() + " is too long");
  const auto rname = wire_of(*hostmaster);
  soa.insert(soa.end(), rname.begin(), rname.end());
  for (std::uint32_t v : {1u, 3600u, 600u, 86400u, c.ttl}) {  // serial, refresh, retry, expire, minimum
    for (int shift = 24; shift >= 0; shift -= 8) soa.push_back(static_cast<std::uint8_t>(v >> shift));
  }
  add(c.origin, uni::dns::rr_type::soa, 3600, std::move(soa), std::string(file) + ":zone");
  if (ns) {
    add(c.origin, uni::dns::rr_type::ns, 3600, wire_of(ns->name), ns->place);
    if (ns->name.is_subdomain_of(c.origin)) add(ns->name, uni::dns::rr_type::a, 3600, a_record(ns->address), ns->place);
  }
  for (const appliance_config& a : c.appliances) add(a.name, uni::dns::rr_type::a, c.ttl, a_record(a.address), a.place);
  for (const auto& [path, where] : record_files) {
    place = where;
    auto text = read(path);
    if (!text) return bad("cannot read " + path);
    std::string why;
    auto more = uni::dns::read_zone_records(*text, c.origin, path, why, &places);
    if (!more) {
      problem = why;
      return std::nullopt;
    }
    for (auto& r : *more) {
      for (const appliance_config& a : c.appliances)
        if (r.owner == a.name) {
          problem = places[records.size()] + ": " + a.name.to_string() + " is an appliance's name (" + a.place + ")";
          return std::nullopt;
        }
      records.push_back(std::move(r));
    }
  }
  std::string why;
  std::size_t where = 0;
  auto z = uni::dns::zone::build(c.origin, std::move(records), why, &where);
  if (!z) {
    problem = (where < places.size() ? places[where] : std::string(file)) + ": " + why;
    return std::nullopt;
  }
  c.zones.push_back(std::move(*z));
  return c;
}

}  // namespace summon
