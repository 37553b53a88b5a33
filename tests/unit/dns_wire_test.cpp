// DNS wire format (RFC 1035 §3.1, §4.1): names in text and on the wire,
// compression pointers read safely and written, and the rdata of every record
// type going through the writer and back through the reader. Expected bytes
// are written out by hand from the RFC's layouts.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include <uni/dns/message.hpp>
#include <uni/dns/name.hpp>
#include <uni/dns/rdata.hpp>

using namespace uni;
using namespace uni::dns;

namespace {

using bytes = std::vector<std::uint8_t>;

bytes wire_of(const name& n) { return {n.wire().begin(), n.wire().end()}; }
name text(std::string_view s, const name& origin = name{}) {
  auto n = name::parse(s, origin);
  REQUIRE(n.ok());
  return *n;
}
bytes b(std::initializer_list<int> v) {
  bytes out;
  for (int x : v) out.push_back(static_cast<std::uint8_t>(x));
  return out;
}
bytes str(std::string_view s) { return {s.begin(), s.end()}; }

}  // namespace

TEST_CASE("dns name: presentation form to wire (RFC 1035 §3.1, §5.1)") {
  CHECK(wire_of(text("www.example.com.")) == b({3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0}));
  CHECK(wire_of(text(".")) == b({0}));
  const name origin = text("example.com.");
  CHECK(text("www", origin) == text("www.example.com."));
  CHECK(text("@", origin) == origin);
  // Escapes: \. is a dot inside a label, \DDD a byte.
  CHECK(wire_of(text("a\\.b.c.")) == b({3, 'a', '.', 'b', 1, 'c', 0}));
  CHECK(wire_of(text("\\065\\\\.")) == b({2, 'A', '\\', 0}));
  CHECK(text("a\\.b.c.").to_string() == "a\\.b.c.");
  CHECK(text("x\\000y.").to_string() == "x\\000y.");
}

TEST_CASE("dns name: a name literal is the wire form name::parse gives") {
  static constexpr name_literal www("www.example.com.");
  CHECK(bytes(www.wire().begin(), www.wire().end()) == wire_of(text("www.example.com.")));
  static constexpr name_literal hostname("hostname.bind.");
  CHECK(bytes(hostname.wire().begin(), hostname.wire().end()) == wire_of(text("hostname.bind.")));
  static constexpr name_literal top("a.");
  CHECK(bytes(top.wire().begin(), top.wire().end()) == b({1, 'a', 0}));
}

TEST_CASE("dns name: bad presentation forms are errors") {
  CHECK_FALSE(name::parse("a..b.").ok());           // empty label
  CHECK_FALSE(name::parse("").ok());
  CHECK_FALSE(name::parse("a\\25").ok());           // \DDD cut short
  CHECK_FALSE(name::parse("a\\256.").ok());         // \DDD above 255
  CHECK_FALSE(name::parse(std::string(64, 'a') + ".").ok());  // label of 64
  CHECK(name::parse(std::string(63, 'a') + ".").ok());
  // 255 bytes on the wire at most: four labels of 63 make 257.
  const std::string l63(63, 'a');
  CHECK_FALSE(name::parse(l63 + "." + l63 + "." + l63 + "." + l63 + ".").ok());
  CHECK(name::parse(l63 + "." + l63 + "." + l63 + "." + std::string(61, 'a') + ".").ok());
  // A relative name that grows too long with its origin.
  CHECK_FALSE(name::parse(l63 + "." + l63, text(l63 + "." + l63 + ".")).ok());
}

TEST_CASE("dns name: comparison ignores ASCII case only (RFC 4343)") {
  CHECK(text("WwW.Example.COM.") == text("www.example.com."));
  CHECK_FALSE(text("www.example.com.") == text("www.example.co."));
  CHECK(text("a.b.example.com.").is_subdomain_of(text("EXAMPLE.com.")));
  CHECK(text("example.com.").is_subdomain_of(text("example.com.")));
  CHECK_FALSE(text("badexample.com.").is_subdomain_of(text("example.com.")));
  CHECK(text("a.b.c.").parent() == text("b.c."));
  CHECK(text("a.b.c.").label_count() == 3);
}

TEST_CASE("dns name: reading follows backward pointers (RFC 1035 §4.1.4)") {
  // "example.com" at 0, then "www" + pointer to 0.
  bytes m = b({7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 3, 'w', 'w', 'w', 0xC0, 0x00, 0xAA});
  std::size_t at = 13;
  auto n = name::read(m, at);
  REQUIRE(n.ok());
  CHECK(*n == text("www.example.com."));
  CHECK(at == 19);  // past the pointer, not past where it led
  // A pointer to a pointer.
  m.insert(m.end(), {0xC0, 13});
  at = 20;
  n = name::read(m, at);
  REQUIRE(n.ok());
  CHECK(*n == text("www.example.com."));
  CHECK(at == 22);
}

TEST_CASE("dns name: loops, forward pointers, long names and bad labels are rejected") {
  std::size_t at = 0;
  bytes self = b({0xC0, 0x00});  // points at itself
  CHECK(name::read(self, at).err() == error::malformed);
  bytes loop = b({1, 'a', 0xC0, 0x00});  // a -> back to a: the pointer is not before its own label
  at = 0;
  CHECK_FALSE(name::read(loop, at).ok());
  bytes forward = b({0xC0, 0x02, 0});
  at = 0;
  CHECK(name::read(forward, at).err() == error::malformed);
  bytes extended = b({0x40, 0});  // label type 01
  at = 0;
  CHECK(name::read(extended, at).err() == error::malformed);
  bytes cut = b({3, 'w', 'w'});
  at = 0;
  CHECK(name::read(cut, at).err() == error::truncated);
  bytes pointer_cut = b({0xC0});
  at = 0;
  CHECK(name::read(pointer_cut, at).err() == error::truncated);
  // 128 labels of one byte: 257 bytes, even when built by pointers chaining back.
  bytes chain;
  chain.push_back(0);  // root at 0
  std::size_t prev = 0;
  for (int i = 0; i < 130; ++i) {
    const std::size_t here = chain.size();
    chain.insert(chain.end(), {1, 'x', static_cast<std::uint8_t>(0xC0 | (prev >> 8)), static_cast<std::uint8_t>(prev)});
    prev = here;
  }
  at = prev;
  CHECK(name::read(chain, at).err() == error::too_large);
}

TEST_CASE("dns writer: names compress against earlier names, ignoring case") {
  std::uint8_t buf[512];
  message_writer w(buf);
  REQUIRE(w.header(header{}).ok());
  REQUIRE(w.write_name(text("www.Example.com.").wire()).ok());  // at 12
  REQUIRE(w.write_name(text("mail.example.COM.").wire()).ok());
  REQUIRE(w.write_name(text("example.com.").wire()).ok());
  REQUIRE(w.write_name(text("www.example.com.").wire()).ok());
  REQUIRE(w.write_name(text("other.org.").wire(), false).ok());
  const bytes got(buf + 12, buf + w.size());
  const bytes want = b({3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,  // 12..28
                        4, 'm', 'a', 'i', 'l', 0xC0, 16,                                            // 29
                        0xC0, 16,                                                                    // 36
                        0xC0, 12,                                                                    // 38
                        5, 'o', 't', 'h', 'e', 'r', 3, 'o', 'r', 'g', 0});
  CHECK(got == want);
  // And reading back gives the names, case as first written.
  std::size_t at = 29;
  auto n = name::read(std::span<const std::uint8_t>(buf, w.size()), at);
  REQUIRE(n.ok());
  CHECK(n->to_string() == "mail.Example.com.");
}

TEST_CASE("dns writer: a write that does not fit leaves the message as it was") {
  std::uint8_t buf[20];
  message_writer w(buf);
  REQUIRE(w.header(header{}).ok());
  const auto before = w.size();
  CHECK(w.write_name(text("www.example.com.").wire()).err() == error::too_large);
  CHECK(w.size() == before);
  CHECK(w.write_name(text("a.b.").wire()).ok());
}

TEST_CASE("dns writer: a name never compresses against itself half written (fuzz regression)") {
  // The buffer still holds an earlier message's "a.a." where the new name goes.
  // Matched against its own first label before the rest was written, "a.a.a."
  // became "a" and a pointer to itself: a loop no reader can follow.
  std::uint8_t buf[64];
  message_writer before(buf);
  REQUIRE(before.header(header{}).ok());
  REQUIRE(before.write_name(text("a.a.").wire(), false).ok());
  message_writer w(buf);
  REQUIRE(w.header(header{}).ok());
  REQUIRE(w.write_name(text("a.a.a.").wire()).ok());
  std::size_t at = header_size;
  auto n = name::read(std::span<const std::uint8_t>(buf, w.size()), at);
  REQUIRE(n.ok());
  CHECK(*n == text("a.a.a."));
  // Once whole, its suffixes do compress what follows.
  const auto size = w.size();
  REQUIRE(w.write_name(text("a.a.").wire()).ok());
  CHECK(w.size() == size + 2);
}

namespace {

// Writes one record of `type` with `rdata` after a question for `owner`, reads
// it back, expands it, and returns the wire bytes of the record as written.
bytes round_trip(std::uint16_t type, const bytes& rdata, bytes* expanded = nullptr) {
  std::uint8_t buf[1024];
  message_writer w(buf);
  header h;
  h.qdcount = 1;
  h.ancount = 1;
  REQUIRE(w.header(h).ok());
  const name owner = text("host.example.com.");
  REQUIRE(w.write_name(owner.wire()).ok());
  REQUIRE(w.u16(type).ok());
  REQUIRE(w.u16(rr_class::in).ok());
  REQUIRE(w.write_name(owner.wire()).ok());
  REQUIRE(w.u16(type).ok());
  REQUIRE(w.u16(rr_class::in).ok());
  REQUIRE(w.u32(300).ok());
  REQUIRE(write_rdata(w, type, rdata).ok());
  message_reader r(w.bytes());
  REQUIRE(r.read_header().ok());
  REQUIRE(r.read_question().ok());
  auto rr = r.read_record();
  REQUIRE(rr.ok());
  CHECK(rr->owner == owner);
  CHECK(rr->type == type);
  CHECK(rr->ttl == 300);
  std::uint8_t out[1024];
  auto n = expand_rdata(w.bytes(), *rr, out);
  REQUIRE(n.ok());
  if (expanded) *expanded = bytes(out, out + *n);
  CHECK(bytes(out, out + *n) == rdata);
  const auto rd = r.rdata(*rr);
  return {rd.begin(), rd.end()};
}

bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace

TEST_CASE("dns rdata: every type through the writer and back") {
  const bytes mail = wire_of(text("mail.example.com."));
  const bytes other = wire_of(text("ns.example.net."));
  SECTION("A and AAAA are opaque, fixed size") {
    CHECK(round_trip(rr_type::a, b({192, 0, 2, 1})) == b({192, 0, 2, 1}));
    bytes v6(16, 0);
    v6[0] = 0x20;
    v6[15] = 1;
    CHECK(round_trip(rr_type::aaaa, v6) == v6);
  }
  SECTION("NS, CNAME, PTR compress against the owner (RFC 1035 names)") {
    for (std::uint16_t t : {rr_type::ns, rr_type::cname, rr_type::ptr}) {
      // "mail" then a pointer to "example.com" inside the question name (offset 17).
      CHECK(round_trip(t, mail) == b({4, 'm', 'a', 'i', 'l', 0xC0, 17}));
      CHECK(round_trip(t, other) == other);  // nothing in common but the root
    }
  }
  SECTION("MX compresses its exchange") {
    CHECK(round_trip(rr_type::mx, cat({b({0, 10}), mail})) == b({0, 10, 4, 'm', 'a', 'i', 'l', 0xC0, 17}));
  }
  SECTION("SOA compresses both names, keeps its five numbers") {
    const bytes nums = b({0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5});
    const bytes soa = cat({mail, wire_of(text("hostmaster.example.com.")), nums});
    const bytes got = round_trip(rr_type::soa, soa);
    CHECK(got == cat({b({4, 'm', 'a', 'i', 'l', 0xC0, 17, 10}), str("hostmaster"), b({0xC0, 17}), nums}));
  }
  SECTION("SRV's target is never compressed (RFC 2782), but is read compressed") {
    const bytes srv = cat({b({0, 10, 0, 60, 0x13, 0xC4}), mail});
    CHECK(round_trip(rr_type::srv, srv) == srv);
  }
  SECTION("TXT, CAA and unknown types are opaque (RFC 3597)") {
    const bytes txt = cat({b({5}), str("hello"), b({0})});
    CHECK(round_trip(rr_type::txt, txt) == txt);
    const bytes caa = cat({b({0, 5}), str("issue"), str("ca.example")});
    CHECK(round_trip(rr_type::caa, caa) == caa);
    // A name-shaped payload in an unknown type is not touched.
    CHECK(round_trip(65280, mail) == mail);
    CHECK(round_trip(65281, {}) == bytes{});
  }
}

TEST_CASE("dns rdata: malformed rdata is rejected when read") {
  // An A record of 3 bytes; an MX whose name runs past its rdata.
  std::uint8_t msg[64] = {};
  std::size_t n = 12;
  auto put = [&](std::initializer_list<int> v) {
    for (int x : v) msg[n++] = static_cast<std::uint8_t>(x);
  };
  put({0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 3, 1, 2, 3});  // root owner, A, IN, ttl 1, rdlength 3
  message_reader r(std::span<const std::uint8_t>(msg, n));
  r.read_header().value();
  auto rr = r.read_record();
  REQUIRE(rr.ok());
  std::uint8_t out[64];
  CHECK(expand_rdata(std::span<const std::uint8_t>(msg, n), *rr, out).err() == error::malformed);

  n = 12;
  put({0, 0, 15, 0, 1, 0, 0, 0, 1, 0, 4, 0, 10, 3, 'a', 'b', 'c', 0});  // MX: rdlength 4 cuts the name
  message_reader r2(std::span<const std::uint8_t>(msg, n));
  r2.read_header().value();
  auto mx = r2.read_record();
  REQUIRE(mx.ok());
  CHECK_FALSE(expand_rdata(std::span<const std::uint8_t>(msg, n), *mx, out).ok());
  // rdlength past the end of the message.
  n = 12;
  put({0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 9, 1, 2, 3, 4});
  message_reader r3(std::span<const std::uint8_t>(msg, n));
  r3.read_header().value();
  CHECK(r3.read_record().err() == error::truncated);
}
