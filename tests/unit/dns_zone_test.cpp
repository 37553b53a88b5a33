// Zone master files (RFC 1035 §5, RFC 2308 §4, RFC 3597 §5): every construct
// the reader accepts, the rdata each record type gives, and the errors for bad
// files, each naming the file and the line.
#include <catch2/catch.hpp>

#include <map>

#include <string>
#include <vector>

#include <uni/dns/zone_file.hpp>

using namespace uni;
using namespace uni::dns;

namespace {

using bytes = std::vector<std::uint8_t>;

name text(std::string_view s) { return *name::parse(s); }
bytes b(std::initializer_list<int> v) {
  bytes out;
  for (int x : v) out.push_back(static_cast<std::uint8_t>(x));
  return out;
}
bytes str(std::string_view s) { return {s.begin(), s.end()}; }
bytes wire_bytes(std::string_view s) {
  const name n = text(s);
  return {n.wire().begin(), n.wire().end()};
}
bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

const char* soa_line = "@ 3600 IN SOA ns1 host 1 2 3 4 5\n";

std::vector<zone_record> records(const std::string& body, const std::string& origin = "example.com.") {
  std::string problem;
  auto r = read_zone_records(body, text(origin), "t.zone", problem);
  INFO(problem);
  REQUIRE(r.has_value());
  return *r;
}
std::string error_of(const std::string& body) {
  std::string problem;
  auto r = read_zone_records(body, text("example.com."), "t.zone", problem);
  CHECK_FALSE(r.has_value());
  return problem;
}
std::string build_error(const std::string& body) {
  std::string problem;
  auto z = load_zone(body, text("example.com."), "t.zone", problem);
  CHECK_FALSE(z.has_value());
  return problem;
}

}  // namespace

TEST_CASE("zone file: $ORIGIN, @, relative and absolute names") {
  auto r = records("$TTL 60\n@ A 192.0.2.1\nwww A 192.0.2.2\nabs.example.org. A 192.0.2.3\n"
                   "$ORIGIN sub.example.com.\nhost A 192.0.2.4\n@ A 192.0.2.5\n");
  REQUIRE(r.size() == 5);
  CHECK(r[0].owner == text("example.com."));
  CHECK(r[1].owner == text("www.example.com."));
  CHECK(r[2].owner == text("abs.example.org."));
  CHECK(r[3].owner == text("host.sub.example.com."));
  CHECK(r[4].owner == text("sub.example.com."));
  // $ORIGIN itself relative to the current origin.
  auto s = records("$TTL 60\n$ORIGIN dept\nx A 192.0.2.1\n");
  CHECK(s[0].owner == text("x.dept.example.com."));
}

TEST_CASE("zone file: TTLs from the record, $TTL, the previous record, units") {
  auto r = records("$TTL 1h\na A 192.0.2.1\nb 30 A 192.0.2.2\nc IN 1w2d A 192.0.2.3\nd 10m IN A 192.0.2.4\n");
  CHECK(r[0].ttl == 3600);
  CHECK(r[1].ttl == 30);
  CHECK(r[2].ttl == 9 * 86400);
  CHECK(r[3].ttl == 600);
  // Without $TTL: the last explicit TTL (RFC 1035 §5.1), the SOA's minimum first.
  auto s = records("@ SOA ns host 1 2 3 4 500\na A 192.0.2.1\nb 7 A 192.0.2.2\nc A 192.0.2.3\n");
  CHECK(s[0].ttl == 500);
  CHECK(s[1].ttl == 500);
  CHECK(s[3].ttl == 7);
}

TEST_CASE("zone file: blank owner, parentheses, comments across lines") {
  auto r = records("$TTL 60\nwww A 192.0.2.1 ; first\n  A 192.0.2.2\n\t AAAA ::1\n"
                   "@ SOA ( ns1 ; primary\n host.example.com. ; contact\n 2026 ; serial\n 1 2 3 4 )\n"
                   "next A 192.0.2.9\n");
  REQUIRE(r.size() == 5);
  CHECK(r[1].owner == text("www.example.com."));
  CHECK(r[2].owner == text("www.example.com."));
  CHECK(r[2].type == rr_type::aaaa);
  CHECK(r[3].rdata == cat({wire_bytes("ns1.example.com."), wire_bytes("host.example.com."),
                           b({0, 0, 7, 0xEA, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4})}));
  CHECK(r[4].owner == text("next.example.com."));
}

TEST_CASE("zone file: the rdata of every type") {
  auto one = [](const std::string& line) {
    auto r = records("$TTL 60\n" + line + "\n");
    REQUIRE(r.size() == 1);
    return r[0];
  };
  CHECK(one("a A 192.0.2.1").rdata == b({192, 0, 2, 1}));
  CHECK(one("a AAAA 2001:db8::1").rdata == b({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  CHECK(one("a AAAA ::").rdata == bytes(16, 0));
  CHECK(one("a AAAA ::ffff:192.0.2.1").rdata == b({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}));
  CHECK(one("a AAAA 1:2:3:4:5:6:7:8").rdata == b({0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8}));
  CHECK(one("a NS ns1").rdata == wire_bytes("ns1.example.com."));
  CHECK(one("a CNAME b.example.org.").rdata == wire_bytes("b.example.org."));
  CHECK(one("a PTR host").rdata == wire_bytes("host.example.com."));
  CHECK(one("a DNAME target.").rdata == wire_bytes("target."));
  CHECK(one("a MX 10 mail").rdata == cat({b({0, 10}), wire_bytes("mail.example.com.")}));
  CHECK(one("a SRV 1 2 5060 sip").rdata == cat({b({0, 1, 0, 2, 0x13, 0xC4}), wire_bytes("sip.example.com.")}));
  CHECK(one("a TXT \"hello world\" two").rdata == cat({b({11}), str("hello world"), b({3}), str("two")}));
  CHECK(one("a TXT \"q\\\"s\\;\\065\"").rdata == cat({b({5}), str("q\"s;A")}));
  CHECK(one("a TXT \"\"").rdata == b({0}));
  CHECK(one("a CAA 0 issue \"ca.example.net\"").rdata == cat({b({0, 5}), str("issue"), str("ca.example.net")}));
  CHECK(one("a CAA 128 tbs unquoted").rdata == cat({b({128, 3}), str("tbs"), str("unquoted")}));
  // RFC 3597: unknown types, and known types in generic form.
  auto g = one("a TYPE65280 \\# 4 0a000001");
  CHECK(g.type == 65280);
  CHECK(g.rdata == b({10, 0, 0, 1}));
  CHECK(one("a TYPE65281 \\# 0").rdata == bytes{});
  CHECK(one("a TYPE65282 \\# 3 ab cd EF").rdata == b({0xab, 0xcd, 0xef}));
  CHECK(one("a A \\# 4 c0000201").rdata == b({192, 0, 2, 1}));
  CHECK(one("a MX \\# 5 000a016100").rdata == b({0, 10, 1, 'a', 0}));  // names after a prefix checked
  CHECK(one("a SOA \\# 26 016100016200 0000000100000002000000030000000400000005").rdata.size() == 26);
  CHECK(one("a CLASS1 TYPE1 \\# 4 c0000201").type == rr_type::a);
}

TEST_CASE("zone file: errors name the file and the line") {
  CHECK(error_of("$TTL 60\n\nwww A 192.0.2\n") == "t.zone:3: bad IPv4 address '192.0.2'");
  CHECK(error_of("$TTL 60\na A 1.2.3.256\n").starts_with("t.zone:2: bad IPv4"));
  CHECK(error_of("$TTL 60\na AAAA 1::2::3\n").starts_with("t.zone:2: bad IPv6"));
  CHECK(error_of("$TTL 60\na AAAA 1:2:3:4:5:6:7\n").starts_with("t.zone:2: bad IPv6"));
  CHECK(error_of("$TTL 60\na MX mail\n").starts_with("t.zone:2: MX wants"));
  CHECK(error_of("$TTL 60\na SRV 1 2 mail\n").starts_with("t.zone:2: SRV wants"));
  CHECK(error_of("$TTL 60\na FOO 1\n") == "t.zone:2: unknown type 'FOO'");
  CHECK(error_of("$TTL 60\na SSHFP 1 1 ab\n").starts_with("t.zone:2: type SSHFP is read only in RFC 3597 form"));
  CHECK(error_of("$TTL 60\na TYPE999 1 2\n").starts_with("t.zone:2: type 999 must be written in RFC 3597 form"));
  CHECK(error_of("$TTL 60\na TYPE999 \\# 3 0102\n").starts_with("t.zone:2: \\# rdata length"));
  CHECK(error_of("$TTL 60\na TYPE999 \\# 1 zz\n").starts_with("t.zone:2: bad hex"));
  CHECK(error_of("$TTL 60\na A \\# 3 010203\n").starts_with("t.zone:2: \\# rdata is not valid for type 1"));
  CHECK(error_of("$TTL 60\na CH TXT x\n") == "t.zone:2: only class IN is served");
  CHECK(error_of("a A 192.0.2.1\n") == "t.zone:1: no TTL for this record, and no $TTL before it");
  CHECK(error_of("$TTL 60\n  A 192.0.2.1\n").starts_with("t.zone:2: no owner name"));
  CHECK(error_of("$TTL 60\na TXT \"open\n\n").starts_with("t.zone:"));
  CHECK(error_of("$TTL 60\n@ SOA ( ns host 1 2 3 4 5\n") == "t.zone:2: unbalanced '(' at the end of the file");
  CHECK(error_of("$TTL 60\na A 192.0.2.1 )\n") == "t.zone:2: ')' without '('");
  CHECK(error_of("$TTL x\n") == "t.zone:1: bad $TTL 'x'");
  CHECK(error_of("$TTL 1h30\n") == "t.zone:1: bad $TTL '1h30'");
  CHECK(error_of("$GENERATE 1-2 a$ A 192.0.2.$\n") == "t.zone:1: unsupported directive $GENERATE");
  CHECK(error_of("$TTL 60\na..b A 192.0.2.1\n") == "t.zone:2: bad owner name 'a..b'");
  CHECK(error_of("$TTL 60\na TXT \"" + std::string(256, 'x') + "\"\n") == "t.zone:2: TXT string longer than 255 bytes");
  CHECK(error_of("$TTL 60\na CAA 0 is-sue x\n").starts_with("t.zone:2: bad CAA tag"));
  CHECK(error_of("$TTL 60\na 60 60 A 192.0.2.1\n").starts_with("t.zone:2: unknown type '60'"));
}

TEST_CASE("zone file: $INCLUDE reads another file with its origin and the current $TTL (RFC 1035 §5.1)") {
  std::map<std::string, std::string> files = {
      {"hosts.inc", "www A 192.0.2.80\n$ORIGIN other.example.com.\nmail A 192.0.2.25\n"},
      {"sub.inc", "@ A 192.0.2.1\nx 30 A 192.0.2.2\n"},
      {"self.inc", "$INCLUDE self.inc\n"},
      {"bad.inc", "ok A 192.0.2.3\nbroken A 10.0.0\n"},
      {"cname.inc", "c CNAME a\nc A 192.0.2.4\n"},
  };
  std::vector<std::string> asked;
  auto read = [&](const std::string& path) -> std::optional<std::string> {
    asked.push_back(path);
    auto f = files.find(path);
    if (f == files.end()) return std::nullopt;
    return f->second;
  };
  const zone_include_reader reader = read;
  std::string problem;
  zone_record_places places;
  auto r = read_zone_records("$TTL 60\n$INCLUDE hosts.inc\n$INCLUDE sub.inc sub ; a comment\nafter A 192.0.2.9\n",
                             text("example.com."), "top.zone", problem, &places, &reader);
  INFO(problem);
  REQUIRE(r.has_value());
  REQUIRE(r->size() == 5);
  CHECK((*r)[0].owner == text("www.example.com."));
  CHECK((*r)[0].ttl == 60);                                 // the including file's $TTL
  CHECK((*r)[1].owner == text("mail.other.example.com."));  // the included file's own $ORIGIN
  CHECK((*r)[2].owner == text("sub.example.com."));         // the origin $INCLUDE gave
  CHECK((*r)[3].owner == text("x.sub.example.com."));
  CHECK((*r)[3].ttl == 30);
  CHECK((*r)[4].owner == text("after.example.com."));  // the $ORIGIN set inside stayed inside
  CHECK(places == zone_record_places{"hosts.inc:1", "hosts.inc:3", "sub.inc:1", "sub.inc:2", "top.zone:4"});
  CHECK(asked == std::vector<std::string>{"hosts.inc", "sub.inc"});

  auto error = [&](const std::string& body, const zone_include_reader* with) {
    std::string why;
    CHECK_FALSE(read_zone_records(body, text("example.com."), "top.zone", why, nullptr, with).has_value());
    return why;
  };
  CHECK(error("$INCLUDE hosts.inc\n", nullptr) == "top.zone:1: $INCLUDE needs a file system");
  CHECK(error("$TTL 60\n$INCLUDE missing.inc\n", &reader) == "top.zone:2: cannot read $INCLUDE file 'missing.inc'");
  CHECK(error("$INCLUDE\n", &reader).starts_with("top.zone:1: $INCLUDE takes a file name"));
  CHECK(error("$INCLUDE self.inc\n", &reader) == "self.inc:1: $INCLUDE nested more than 8 deep");
  CHECK(error("$TTL 60\n$INCLUDE bad.inc\n", &reader).starts_with("bad.inc:2: bad IPv4 address"));
  // An error the zone builder finds names the included file too.
  std::string why;
  CHECK_FALSE(load_zone(std::string("$TTL 60\n") + soa_line + "$INCLUDE cname.inc\n", text("example.com."), "top.zone",
                        why, &reader)
                  .has_value());
  CHECK(why.starts_with("cname.inc:"));
}

TEST_CASE("zone: the builder's rules (one SOA at the apex, CNAME alone, names inside)") {
  const std::string head = std::string("$TTL 60\n") + soa_line;
  CHECK(build_error("$TTL 60\nwww A 192.0.2.1\n") == "t.zone:end: no SOA record at the zone apex example.com.");
  CHECK(build_error(head + "www CNAME a\nwww A 192.0.2.1\n").starts_with("t.zone:3: CNAME and other data"));
  CHECK(build_error(head + "www CNAME a\nwww CNAME b\n").starts_with("t.zone:3: more than one CNAME"));
  CHECK(build_error(head + "dn DNAME a\ndn DNAME b\n").starts_with("t.zone:3: more than one DNAME"));
  CHECK(build_error(head + "www.example.org. A 192.0.2.1\n").starts_with("t.zone:3: www.example.org. is outside"));
  CHECK(build_error(head + "@ SOA ns host 2 2 3 4 5\n") == "t.zone:2: more than one SOA record");
  CHECK(build_error(head + "www SOA ns host 2 2 3 4 5\n").starts_with("t.zone:3: SOA record not at the zone apex"));
}

TEST_CASE("zone: RRsets, duplicates, empty non-terminals, delegations") {
  std::string problem;
  auto z = load_zone(std::string("$TTL 60\n") + soa_line +
                         "@ NS ns1\nwww A 192.0.2.1\nWWW 120 A 192.0.2.2\nwww A 192.0.2.1\n"
                         "a.b.c A 192.0.2.3\nsub NS ns.sub\nns.sub A 192.0.2.4\n",
                     text("example.com."), "t.zone", problem);
  INFO(problem);
  REQUIRE(z.has_value());
  const zone::node* www = z->find(text("www.EXAMPLE.com.").wire());
  REQUIRE(www != nullptr);
  const zone::rrset* a = www->find(*z, rr_type::a);
  REQUIRE(a != nullptr);
  CHECK(a->count == 2);  // the duplicate dropped
  CHECK(a->ttl == 60);   // the first TTL of the set wins
  // b.c and c exist as empty non-terminals.
  const zone::node* bc = z->find(text("b.c.example.com.").wire());
  REQUIRE(bc != nullptr);
  CHECK(bc->count == 0);
  REQUIRE(z->find(text("c.example.com.").wire()) != nullptr);
  CHECK(z->find(text("d.example.com.").wire()) == nullptr);
  const zone::node* sub = z->find(text("sub.example.com.").wire());
  REQUIRE(sub != nullptr);
  CHECK(sub->delegation);
  CHECK_FALSE(z->apex()->delegation);
  // The SOA's owner is the zone, whatever the initial origin.
  auto y = load_zone("$ORIGIN example.net.\n$TTL 60\n@ SOA ns host 1 2 3 4 5\n", name{}, "y.zone", problem);
  REQUIRE(y.has_value());
  CHECK(y->origin() == text("example.net."));
}

TEST_CASE("zone: a zone over another's tables (the form uni_dns_zone compiles) finds the same") {
  std::string problem;
  auto built = load_zone(std::string("$TTL 60\n") + soa_line + "@ NS ns1\nWww A 192.0.2.1\na.b A 192.0.2.3\n",
                         text("example.com."), "t.zone", problem);
  INFO(problem);
  REQUIRE(built.has_value());
  zone moved = std::move(*built);  // a built zone's tables move with it
  const zone view = zone::over(moved.origin(), moved.contents());
  const zone* both[] = {&moved, &view};
  for (const zone* z : both) {
    CHECK(z->origin() == text("example.com."));
    CHECK(z->node_count() == 4);  // the apex, www, a.b and the empty non-terminal b
    CHECK(z->record_count() == 4);
    REQUIRE(z->soa() != nullptr);
    const zone::node* www = z->find(text("www.example.com.").wire());
    REQUIRE(www != nullptr);
    CHECK(wire_equal(www->owner(*z), text("Www.example.com.").wire()));
    CHECK(www->owner(*z)[1] == 'W');  // the owner as first written
    const zone::rrset* a = www->find(*z, rr_type::a);
    REQUIRE(a != nullptr);
    const auto rdata = z->rdata(*a, 0);
    CHECK(std::vector<std::uint8_t>(rdata.begin(), rdata.end()) == std::vector<std::uint8_t>{192, 0, 2, 1});
    CHECK(z->find(text("b.example.com.").wire())->count == 0);
    CHECK(z->find(text("c.example.com.").wire()) == nullptr);
  }
}

TEST_CASE("zone file: the example appliance's zone loads") {
  // examples/dns/example.zone is checked by the integration tests against NSD;
  // here only that a zone of every construct at once loads whole.
  const std::string body = std::string("$ORIGIN example.com.\n$TTL 3600\n") + soa_line +
                           "  IN NS ns1\n*.wild IN A 192.0.2.99\n  IN TXT \"w\"\n"
                           "dotted\\.label IN A 192.0.2.44\n_sip._tcp IN SRV 10 60 5060 sip\n";
  std::string problem;
  auto z = load_zone(body, name{}, "e.zone", problem);
  INFO(problem);
  REQUIRE(z.has_value());
  CHECK(z->find(text("*.wild.example.com.").wire()) != nullptr);
  CHECK(z->find(text("dotted\\.label.example.com.").wire()) != nullptr);
  CHECK(z->find(text("_tcp.example.com.").wire()) != nullptr);  // empty non-terminal
}
