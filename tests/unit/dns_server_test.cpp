// The authoritative engine (uni/dns/server.hpp), one scenario per rule:
// AA, NXDOMAIN and NODATA with the SOA, CNAME chains, referrals with glue,
// wildcards (RFC 4592), case echoed, REFUSED, FORMERR, NOTIMP, silence for
// responses, EDNS(0) sizes and TC, BADVERS, and the memo table (a hit is the
// same answer, with the new query's ID, flags and case). Queries are built
// byte by byte; answers are read back with the message reader.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <uni/dns/server.hpp>
#include <uni/dns/zone_file.hpp>

using namespace uni;
using namespace uni::dns;

namespace {

using bytes = std::vector<std::uint8_t>;

const char* zone_text = R"($ORIGIN example.com.
$TTL 3600
@ SOA ns1 host 1 7200 3600 1209600 300
  NS ns1
  MX 10 mail
ns1 A 192.0.2.53
mail A 192.0.2.25
www A 192.0.2.80
    AAAA 2001:db8::80
alias CNAME www
c1 CNAME c2
c2 CNAME gone
out CNAME www.example.org.
*.wild A 192.0.2.99
*.wild TXT "w"
x.wild A 192.0.2.7
a.b.ent A 192.0.2.77
sub NS ns.sub
ns.sub A 192.0.2.200
dn 300 DNAME www.example.com.
occluded.dn A 192.0.2.1
away DNAME example.org.
loop DNAME loop.example.com.
cl1 CNAME cl2
cl2 CNAME cl1
tosub CNAME www.sub
tosub2 CNAME tosub
tocut CNAME sub
dnsub DNAME sub.example.com.
towild CNAME foo.wild
toent CNAME b.ent
)";

zone zone_of(const std::string& text, const char* file = "test.zone") {
  std::string problem;
  auto z = load_zone(text, name{}, file, problem);
  INFO(problem);
  REQUIRE(z.has_value());
  return std::move(*z);
}

server make_server(server_options o = {}) {
  std::vector<zone> zones;
  zones.push_back(zone_of(zone_text));
  std::string big = "$ORIGIN big.test.\n$TTL 60\n@ SOA ns host 1 2 3 4 5\n";
  for (int i = 0; i < 40; ++i) big += "txt TXT \"record " + std::to_string(i) + " padding padding padding\"\n";
  zones.push_back(zone_of(big, "big.zone"));
  return server(std::move(zones), o);
}

// A server for one zone of its own.
server server_of(const std::string& text) {
  std::vector<zone> zones;
  zones.push_back(zone_of(text));
  return server(std::move(zones));
}

struct query_spec {
  std::string qname;
  std::uint16_t qtype = rr_type::a;
  std::uint16_t qclass = rr_class::in;
  std::uint16_t id = 0x1234;
  std::uint16_t flags = header::rd;
  int edns = -1;  // payload size, or -1 for no OPT
  std::uint8_t edns_version = 0;
  bool dnssec_ok = false;
  bytes edns_options = {};  // the OPT's data: code, length, value, ...
};

bytes make_query(const query_spec& s) {
  bytes q(12, 0);
  wire::store_be16(q.data(), s.id);
  wire::store_be16(q.data() + 2, s.flags);
  wire::store_be16(q.data() + 4, 1);
  wire::store_be16(q.data() + 10, s.edns >= 0 ? 1 : 0);
  const name n = *name::parse(s.qname);
  q.insert(q.end(), n.wire().begin(), n.wire().end());
  q.push_back(static_cast<std::uint8_t>(s.qtype >> 8));
  q.push_back(static_cast<std::uint8_t>(s.qtype));
  q.push_back(static_cast<std::uint8_t>(s.qclass >> 8));
  q.push_back(static_cast<std::uint8_t>(s.qclass));
  if (s.edns >= 0) {
    q.insert(q.end(), {0, 0, 41, static_cast<std::uint8_t>(s.edns >> 8), static_cast<std::uint8_t>(s.edns), 0,
                       s.edns_version, static_cast<std::uint8_t>(s.dnssec_ok ? 0x80 : 0), 0,
                       static_cast<std::uint8_t>(s.edns_options.size() >> 8),
                       static_cast<std::uint8_t>(s.edns_options.size())});
    q.insert(q.end(), s.edns_options.begin(), s.edns_options.end());
  }
  return q;
}

struct rr {
  std::string owner;
  std::uint16_t type;
  std::uint32_t ttl;
  bytes rdata;
};
struct answer {
  bytes raw;
  header h;
  std::string qname;
  std::vector<rr> an, ns, ar;
  int rc() const { return h.flags & 0xF; }
  bool aa() const { return h.flags & header::aa; }
  bool tc() const { return h.flags & header::tc; }
};

answer parse(bytes raw) {
  answer a;
  a.raw = raw;
  message_reader r(a.raw);
  auto h = r.read_header();
  REQUIRE(h.ok());
  a.h = *h;
  if (h->qdcount) {
    auto q = r.read_question();
    REQUIRE(q.ok());
    a.qname = q->qname.to_string();
  }
  for (auto [count, out] : {std::pair{h->ancount, &a.an}, std::pair{h->nscount, &a.ns}, std::pair{h->arcount, &a.ar}}) {
    for (int i = 0; i < count; ++i) {
      auto rec = r.read_record();
      REQUIRE(rec.ok());
      std::uint8_t buf[1024];
      bytes rd;
      if (rec->type == rr_type::opt) {
        const auto d = r.rdata(*rec);  // its options, raw
        rd.assign(d.begin(), d.end());
      } else {
        auto n = expand_rdata(a.raw, *rec, buf);
        REQUIRE(n.ok());
        rd.assign(buf, buf + *n);
      }
      out->push_back({rec->owner.to_string(), rec->type, rec->type == rr_type::opt ? rec->rclass : rec->ttl, rd});
    }
  }
  CHECK(r.offset() == a.raw.size());
  return a;
}

answer ask(server& s, const query_spec& q, transport via = transport::udp) {
  std::vector<std::uint8_t> out(65535);
  const std::size_t n = s.answer(make_query(q), out, via);
  REQUIRE(n > 0);
  out.resize(n);
  return parse(out);
}

}  // namespace

TEST_CASE("dns server: an authoritative answer has AA, the question echoed, the zone's NS") {
  server s = make_server();
  answer a = ask(s, {"www.example.com.", rr_type::a});
  CHECK(a.h.id == 0x1234);
  CHECK((a.h.flags & header::qr));
  CHECK((a.h.flags & header::rd));  // RD copied
  CHECK(a.aa());
  CHECK(a.rc() == 0);
  REQUIRE(a.an.size() == 1);
  CHECK(a.an[0].rdata == bytes{192, 0, 2, 80});
  CHECK(a.an[0].ttl == 3600);
  REQUIRE(a.ns.size() == 1);
  CHECK(a.ns[0].type == rr_type::ns);
  REQUIRE(a.ar.size() == 1);  // ns1's address
  CHECK(a.ar[0].owner == "ns1.example.com.");
}

TEST_CASE("dns server: NXDOMAIN and NODATA carry the SOA, TTL capped by its minimum (RFC 2308)") {
  server s = make_server();
  answer nx = ask(s, {"nope.example.com.", rr_type::a});
  CHECK(nx.rc() == 3);
  CHECK(nx.aa());
  CHECK(nx.an.empty());
  REQUIRE(nx.ns.size() == 1);
  CHECK(nx.ns[0].type == rr_type::soa);
  CHECK(nx.ns[0].ttl == 300);
  answer nodata = ask(s, {"www.example.com.", rr_type::mx});
  CHECK(nodata.rc() == 0);
  CHECK(nodata.an.empty());
  REQUIRE(nodata.ns.size() == 1);
  CHECK(nodata.ns[0].type == rr_type::soa);
  // An empty non-terminal exists: NODATA, not NXDOMAIN (RFC 4592 §2.2.2).
  answer ent = ask(s, {"b.ent.example.com.", rr_type::a});
  CHECK(ent.rc() == 0);
  CHECK(ent.an.empty());
}

TEST_CASE("dns server: CNAME chains are followed inside the zone (RFC 1034 §3.6.2, RFC 6604)") {
  server s = make_server();
  answer a = ask(s, {"alias.example.com.", rr_type::a});
  REQUIRE(a.an.size() == 2);
  CHECK(a.an[0].type == rr_type::cname);
  CHECK(a.an[1].owner == "www.example.com.");
  CHECK(a.an[1].type == rr_type::a);
  // The CNAME itself when asked for.
  answer c = ask(s, {"alias.example.com.", rr_type::cname});
  REQUIRE(c.an.size() == 1);
  // A chain ending nowhere: NXDOMAIN, the CNAMEs kept.
  answer gone = ask(s, {"c1.example.com.", rr_type::a});
  CHECK(gone.rc() == 3);
  CHECK(gone.an.size() == 2);
  // Leaving the zone: the CNAME alone, no SOA.
  answer out = ask(s, {"out.example.com.", rr_type::a});
  CHECK(out.rc() == 0);
  CHECK(out.an.size() == 1);
  CHECK(out.ns.empty());
}

TEST_CASE("dns server: names below a zone cut get a referral with glue, AA clear") {
  server s = make_server();
  for (const char* q : {"sub.example.com.", "host.sub.example.com.", "a.b.sub.example.com."}) {
    answer a = ask(s, {q, rr_type::a});
    CHECK_FALSE(a.aa());
    CHECK(a.rc() == 0);
    CHECK(a.an.empty());
    REQUIRE(a.ns.size() == 1);
    CHECK(a.ns[0].owner == "sub.example.com.");
    REQUIRE(a.ar.size() == 1);
    CHECK(a.ar[0].rdata == bytes{192, 0, 2, 200});
  }
  // DS belongs to the parent side of the cut (RFC 4035): NODATA here, with AA.
  answer ds = ask(s, {"sub.example.com.", rr_type::ds});
  CHECK(ds.aa());
  CHECK(ds.ns.size() == 1);
  CHECK(ds.ns[0].type == rr_type::soa);
}

// Names compressed against the question take its case.
bool same_name(const std::string& a, const std::string& b) { return *name::parse(a) == *name::parse(b); }

TEST_CASE("dns server: a chain whose next name lies under a zone cut ends with the referral (RFC 1034 §4.3.2 3b)") {
  server s = make_server();
  // Through a CNAME, a chain of two, a DNAME; in any case; the cut itself too.
  struct chain_case {
    const char* qname;
    std::size_t records;    // in the answer section
    const char* last_owner;  // of the CNAME that leads under the cut
  };
  const chain_case chains[] = {{"tosub.example.com.", 1, "tosub.example.com."},
                               {"ToSub.EXAMPLE.com.", 1, "ToSub.EXAMPLE.com."},
                               {"tosub2.example.com.", 2, "tosub.example.com."},
                               {"x.dnsub.example.com.", 2, "x.dnsub.example.com."},
                               {"tocut.example.com.", 1, "tocut.example.com."}};
  for (auto [qname, records, last_owner] : chains) {
    for (int edns : {-1, 512, 1232, 4096}) {
      for (transport via : {transport::udp, transport::tcp}) {
        INFO(qname << " edns " << edns << (via == transport::tcp ? " tcp" : " udp"));
        answer a = ask(s, {qname, rr_type::a, rr_class::in, 1, header::rd, edns}, via);
        CHECK(a.aa());  // for the chain's records
        CHECK_FALSE(a.tc());
        CHECK(a.rc() == 0);
        REQUIRE(a.an.size() == records);
        CHECK(a.an.back().type == rr_type::cname);
        CHECK(same_name(a.an.back().owner, last_owner));
        REQUIRE(a.ns.size() == 1);
        CHECK(same_name(a.ns[0].owner, "sub.example.com."));
        CHECK(a.ns[0].type == rr_type::ns);
        REQUIRE(a.ar.size() == (edns >= 0 ? 2u : 1u));
        CHECK(same_name(a.ar[0].owner, "ns.sub.example.com."));
        CHECK(a.ar[0].rdata == bytes{192, 0, 2, 200});
      }
    }
  }
  // DS: below the cut a referral still; at the cut the parent's NODATA.
  answer ds = ask(s, {"tosub.example.com.", rr_type::ds});
  CHECK(ds.ns.size() == 1);
  CHECK(ds.ns[0].type == rr_type::ns);
  answer cut_ds = ask(s, {"tocut.example.com.", rr_type::ds});
  CHECK(cut_ds.an.size() == 1);
  REQUIRE(cut_ds.ns.size() == 1);
  CHECK(cut_ds.ns[0].type == rr_type::soa);
  // Asked for the CNAME itself: no chain, so no referral.
  answer c = ask(s, {"tosub.example.com.", rr_type::cname});
  CHECK(c.an.size() == 1);
  CHECK(c.ns[0].owner == "example.com.");
  CHECK(s.stats().referrals == 0);  // none of these is a bare referral
}

TEST_CASE("dns server: a chain to a wildcard or to an empty non-terminal is answered from there") {
  server s = make_server();
  answer w = ask(s, {"towild.example.com.", rr_type::a});
  REQUIRE(w.an.size() == 2);
  CHECK(w.an[1].owner == "foo.wild.example.com.");
  CHECK(w.an[1].rdata == bytes{192, 0, 2, 99});
  CHECK(w.ns[0].type == rr_type::ns);
  answer e = ask(s, {"toent.example.com.", rr_type::a});
  CHECK(e.rc() == 0);
  CHECK(e.an.size() == 1);
  REQUIRE(e.ns.size() == 1);
  CHECK(e.ns[0].type == rr_type::soa);
}

namespace {

// Where each section of a whole answer ends, in bytes.
struct section_ends {
  std::size_t answer, authority, first_additional;
};
section_ends ends_of(const answer& a) {
  message_reader r(a.raw);
  (void)r.read_header();
  (void)r.read_question();
  section_ends e{};
  for (int i = 0; i < a.h.ancount; ++i) REQUIRE(r.read_record().ok());
  e.answer = r.offset();
  for (int i = 0; i < a.h.nscount; ++i) REQUIRE(r.read_record().ok());
  e.authority = r.offset();
  if (a.h.arcount) REQUIRE(r.read_record().ok());
  e.first_additional = r.offset();
  return e;
}

// The EDNS payload size that leaves `room` bytes past `end` (an OPT takes 11).
int payload_for(std::size_t end, std::size_t room) { return static_cast<int>(end + 11 + room); }

}  // namespace

TEST_CASE("dns server: a referral truncates as NSD's: NS whole or TC, glue left out, TC with no A at all") {
  // 16 servers with long names, each with an A and an AAAA: about 1500 bytes whole.
  std::string text = "$ORIGIN cut.test.\n$TTL 60\n@ SOA ns host 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n";
  for (int i = 10; i < 26; ++i) {
    const std::string host = "a-name-server-with-a-long-label-" + std::to_string(i) + ".fat";
    text += "fat NS " + host + "\n" + host + " A 192.0.2." + std::to_string(i) + "\n" + host + " AAAA 2001:db8::" +
            std::to_string(i) + "\n";
  }
  text += "tofat CNAME www.fat\nbig TXT \"" + std::string(250, 'x') + "\"\nbig TXT \"" + std::string(250, 'y') +
          "\"\nbig TXT \"" + std::string(250, 'z') + "\"\ntobig CNAME big\n";
  server s = server_of(text);
  for (const char* qname : {"tofat.cut.test.", "www.fat.cut.test."}) {
    INFO(qname);
    const bool chain = qname[0] == 't';
    answer whole = ask(s, {qname, rr_type::a}, transport::tcp);
    REQUIRE(whole.ns.size() == 16);
    REQUIRE(whole.ar.size() == 32);
    CHECK(whole.ar[15].type == rr_type::a);  // all the A, then all the AAAA
    CHECK(whole.ar[16].type == rr_type::aaaa);
    const section_ends end = ends_of(whole);
    REQUIRE(payload_for(end.first_additional, 0) > 512);
    // The NS RRset does not fit: TC, and what came before it stays.
    answer no_ns = ask(s, {qname, rr_type::a, rr_class::in, 1, 0, payload_for(end.authority, 0) - 1});
    CHECK(no_ns.tc());
    CHECK(no_ns.aa() == chain);
    CHECK(no_ns.an.size() == (chain ? 1u : 0u));
    CHECK(no_ns.ns.empty());
    CHECK(no_ns.ar.size() == 1);  // OPT
    // The NS fit, not one A: the referral is of no use, TC.
    answer no_glue = ask(s, {qname, rr_type::a, rr_class::in, 1, 0, payload_for(end.first_additional, 0) - 1});
    CHECK(no_glue.tc());
    CHECK(no_glue.ns.size() == 16);
    CHECK(no_glue.ar.size() == 1);
    // One A fits: no TC, and no AAAA tried after the A that did not fit.
    answer one = ask(s, {qname, rr_type::a, rr_class::in, 1, 0, payload_for(end.first_additional, 10)});
    CHECK_FALSE(one.tc());
    CHECK(one.aa() == chain);
    CHECK(one.ns.size() == 16);
    REQUIRE(one.ar.size() == 2);
    CHECK(one.ar[0].type == rr_type::a);
  }
  // An answer's RRset that does not fit after a CNAME: TC, the CNAME kept.
  answer big = ask(s, {"tobig.cut.test.", rr_type::txt});
  CHECK(big.tc());
  CHECK(big.aa());
  REQUIRE(big.an.size() == 1);
  CHECK(big.an[0].type == rr_type::cname);
}

TEST_CASE("dns server: the zone's NS that does not fit is left out, no TC, and the additional with it (as NSD)") {
  std::string text = "$ORIGIN opt.test.\n$TTL 60\n@ SOA ns host 1 2 3 4 5\nmx MX 10 mail\nmail A 192.0.2.25\n";
  for (int i = 0; i < 8; ++i) text += "@ NS a-name-server-with-a-long-label-" + std::to_string(i) + ".example.net.\n";
  for (int i = 0; i < 20; ++i) text += "mx MX " + std::to_string(20 + i) + " exchanger-" + std::to_string(i) + ".example.net.\n";
  server s = server_of(text);
  answer whole = ask(s, {"mx.opt.test.", rr_type::mx}, transport::tcp);
  REQUIRE(whole.ns.size() == 8);
  REQUIRE(whole.ar.size() == 1);  // mail's address
  const section_ends end = ends_of(whole);
  REQUIRE(payload_for(end.answer, 40) >= 512);
  answer a = ask(s, {"mx.opt.test.", rr_type::mx, rr_class::in, 1, 0, payload_for(end.answer, 40)});
  CHECK_FALSE(a.tc());
  CHECK(a.an.size() == 21);
  CHECK(a.ns.empty());
  CHECK(a.ar.size() == 1);  // OPT only: mail's A would have fit
}

bytes wire_of(const char* text) {
  const name n = *name::parse(text);
  return bytes(n.wire().begin(), n.wire().end());
}

TEST_CASE("dns server: DNAME: the DNAME, a synthesised CNAME, and the chain goes on (RFC 6672 §3.2)") {
  server s = make_server();
  // x.dn -> x.www: NXDOMAIN at the chain's end, the SOA in authority.
  answer a = ask(s, {"x.dn.example.com.", rr_type::a});
  CHECK(a.rc() == 3);
  CHECK(a.aa());
  REQUIRE(a.an.size() == 2);
  CHECK(a.an[0].type == rr_type::dname);
  CHECK(a.an[0].owner == "dn.example.com.");
  CHECK(a.an[1].type == rr_type::cname);
  CHECK(a.an[1].owner == "x.dn.example.com.");
  CHECK(a.an[1].ttl == 300);  // the DNAME's
  CHECK(a.an[1].rdata == wire_of("x.www.example.com."));
  // Names below the DNAME in the zone are occluded; the owner itself is answered as usual.
  answer o = ask(s, {"occluded.dn.example.com.", rr_type::a});
  REQUIRE(o.an.size() == 2);
  CHECK(o.an[1].rdata == wire_of("occluded.www.example.com."));
  answer owner = ask(s, {"dn.example.com.", rr_type::dname});
  REQUIRE(owner.an.size() == 1);
  CHECK(owner.an[0].type == rr_type::dname);
  // Out of the zone: DNAME and CNAME, nothing more. Asked for CNAME: the synthesised one is the answer.
  answer away = ask(s, {"a.away.example.com.", rr_type::a});
  CHECK(away.rc() == 0);
  CHECK(away.an.size() == 2);
  CHECK(away.ns.empty());
  answer asked_cname = ask(s, {"x.dn.example.com.", rr_type::cname});
  CHECK(asked_cname.rc() == 0);
  CHECK(asked_cname.an.size() == 2);
  // A loop ends where it repeats, DNAME or CNAME.
  CHECK(ask(s, {"a.loop.example.com.", rr_type::a}).an.size() == 2);
  CHECK(ask(s, {"cl1.example.com.", rr_type::a}).an.size() == 2);
  // A substitution longer than a name may be: YXDOMAIN, the DNAME alone (RFC 6672 §2.2).
  // 255 bytes asked (239 below dn.example.com), 256 once dn.example.com is www.example.com.
  const std::string l63(63, 'l');
  answer too_long = ask(s, {l63 + "." + l63 + "." + l63 + "." + std::string(46, 'm') + ".dn.example.com.", rr_type::a});
  CHECK(too_long.rc() == 6);
  REQUIRE(too_long.an.size() == 1);
  CHECK(too_long.an[0].type == rr_type::dname);
}

TEST_CASE("dns server: wildcards synthesise for the name asked (RFC 4592)") {
  server s = make_server();
  answer a = ask(s, {"Foo.Wild.example.com.", rr_type::a});
  CHECK(a.aa());
  REQUIRE(a.an.size() == 1);
  CHECK(a.an[0].owner == "Foo.Wild.example.com.");
  CHECK(a.an[0].rdata == bytes{192, 0, 2, 99});
  CHECK(ask(s, {"a.b.wild.example.com.", rr_type::txt}).an.size() == 1);
  // An existing name is not covered by the wildcard.
  CHECK(ask(s, {"x.wild.example.com.", rr_type::a}).an[0].rdata == bytes{192, 0, 2, 7});
  CHECK(ask(s, {"x.wild.example.com.", rr_type::txt}).an.empty());
  // A wildcard with no data of the type: NODATA.
  answer nodata = ask(s, {"y.wild.example.com.", rr_type::mx});
  CHECK(nodata.rc() == 0);
  CHECK(nodata.an.empty());
  // The wildcard does not match the empty non-terminal's children' siblings' parents.
  CHECK(ask(s, {"q.ent.example.com.", rr_type::a}).rc() == 3);
}

TEST_CASE("dns server: matching ignores case and the answer echoes the query's") {
  server s = make_server();
  answer a = ask(s, {"WwW.ExAmPlE.cOm.", rr_type::aaaa});
  CHECK(a.qname == "WwW.ExAmPlE.cOm.");
  REQUIRE(a.an.size() == 1);
  CHECK(a.an[0].owner == "WwW.ExAmPlE.cOm.");
}

TEST_CASE("dns server: REFUSED outside our zones, for other classes and transfers") {
  server s = make_server();
  for (query_spec q : {query_spec{"www.example.org.", rr_type::a}, query_spec{"com.", rr_type::ns},
                       query_spec{"www.example.com.", rr_type::a, rr_class::ch},
                       query_spec{"example.com.", rr_type::axfr}}) {
    answer a = ask(s, q);
    CHECK(a.rc() == 5);
    CHECK_FALSE(a.aa());
    CHECK(a.an.empty());
  }
}

TEST_CASE("dns server: FORMERR, NOTIMP, and silence for responses and runts") {
  server s = make_server();
  std::vector<std::uint8_t> out(4096);
  bytes q = make_query({"www.example.com."});
  // QR set: no answer at all.
  bytes resp = q;
  resp[2] |= 0x80;
  CHECK(s.answer(resp, out, transport::udp) == 0);
  CHECK(s.answer(bytes(11, 0), out, transport::udp) == 0);
  // Opcode STATUS: NOTIMP.
  bytes status = q;
  status[2] |= 2 << 3;
  answer n = parse(bytes(out.begin(), out.begin() + static_cast<long>(s.answer(status, out, transport::udp))));
  CHECK(n.rc() == 4);
  CHECK(n.h.id == 0x1234);
  // Two questions, an answer record in a query, a question cut short, a pointer loop.
  auto formerr = [&](bytes m) {
    const std::size_t len = s.answer(m, out, transport::udp);
    REQUIRE(len == 12);
    CHECK((out[3] & 0xF) == 1);
    CHECK((out[2] & 0x80) != 0);
  };
  bytes two = q;
  two[5] = 2;
  formerr(two);
  bytes an = q;
  an[7] = 1;
  formerr(an);
  formerr(bytes(q.begin(), q.end() - 2));
  bytes loop = {0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1};
  formerr(loop);
  // Two OPT records.
  bytes two_opt = make_query({"www.example.com.", rr_type::a, rr_class::in, 1, header::rd, 1232});
  two_opt[11] = 2;
  two_opt.insert(two_opt.end(), {0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0});
  formerr(two_opt);
  CHECK(s.stats().formerr == 5);
  CHECK(s.stats().ignored == 2);
}

TEST_CASE("dns server: EDNS(0): OPT echoed with our size, DO kept, BADVERS above version 0") {
  server s = make_server();
  answer a = ask(s, {"www.example.com.", rr_type::a, rr_class::in, 7, 0, 4096, 0, true});
  REQUIRE_FALSE(a.ar.empty());
  const rr& opt = a.ar.back();
  CHECK(opt.type == rr_type::opt);
  CHECK(opt.ttl == 1232);  // (class field: our payload size)
  CHECK((a.h.flags & header::rd) == 0);
  // DO echoed: the OPT's TTL field, read raw from the end of the message.
  const std::size_t end = a.raw.size();
  CHECK(a.raw[end - 4] == 0x80);
  answer bad = ask(s, {"www.example.com.", rr_type::a, rr_class::in, 7, 0, 4096, 1});
  CHECK(bad.rc() == 0);
  CHECK(bad.an.empty());
  CHECK(bad.raw[bad.raw.size() - 6] == 1);  // extended rcode 1: BADVERS (16)
}

TEST_CASE("dns server: NSID (RFC 5001): our identifier to queries that ask for it, nothing otherwise") {
  server_options o;
  REQUIRE(o.nsid.assign("uni-1"));
  CHECK_FALSE(o.nsid.assign(std::string(65, 'x')));
  server s = make_server(o);
  const query_spec with_nsid{"www.example.com.", rr_type::a, rr_class::in, 1, 0, 1232, 0, false, {0, 3, 0, 0}};
  const query_spec without{"www.example.com.", rr_type::a, rr_class::in, 2, 0, 1232};
  const bytes ours = {0, 3, 0, 5, 'u', 'n', 'i', '-', '1'};
  for (int round = 0; round < 2; ++round) {  // the second from the memo table, which must keep them apart
    answer a = ask(s, with_nsid);
    CHECK(a.an.size() == 1);
    REQUIRE_FALSE(a.ar.empty());
    CHECK(a.ar.back().type == rr_type::opt);
    CHECK(a.ar.back().rdata == ours);
    answer b = ask(s, without);
    REQUIRE_FALSE(b.ar.empty());
    CHECK(b.ar.back().rdata.empty());
  }
  CHECK(s.stats().memo_hits == 2);

  // Other options are skipped (a cookie before it here); no identifier configured, no NSID.
  answer c = ask(s, {"www.example.com.", rr_type::a, rr_class::in, 3, 0, 1232, 0, false,
                     {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 3, 0, 0}});
  CHECK(c.ar.back().rdata == ours);
  server plain = make_server();
  CHECK(ask(plain, with_nsid).ar.back().rdata.empty());

  // An option running past the OPT's data is FORMERR.
  answer bad = ask(s, {"www.example.com.", rr_type::a, rr_class::in, 4, 0, 1232, 0, false, {0, 3, 0, 9, 1}});
  CHECK(bad.rc() == 1);
}

TEST_CASE("dns server: CHAOS TXT for the identity and version, as NSD gives them, when configured") {
  server_options o;
  REQUIRE(o.identity.assign("ns-test"));
  REQUIRE(o.version.assign("v1"));
  server s = make_server(o);
  const std::pair<const char*, std::string> asked[] = {
      {"id.server.", "ns-test"}, {"HOSTNAME.bind.", "ns-test"}, {"version.bind.", "v1"}, {"Version.Server.", "v1"}};
  for (const auto& [qname, text] : asked) {
    for (std::uint16_t type : {rr_type::txt, rr_type::any}) {
      answer a = ask(s, {qname, type, rr_class::ch});
      INFO(qname << " type " << type);
      CHECK(a.rc() == 0);
      CHECK_FALSE(a.aa());
      CHECK(a.qname == qname);
      REQUIRE(a.an.size() == 1);
      CHECK(a.an[0].type == rr_type::txt);
      CHECK(a.an[0].ttl == 0);
      bytes rdata{static_cast<std::uint8_t>(text.size())};
      rdata.insert(rdata.end(), text.begin(), text.end());
      CHECK(a.an[0].rdata == rdata);
      CHECK(a.ns.empty());
    }
  }
  // Another type, another CHAOS name, or the text not configured: REFUSED.
  CHECK(ask(s, {"version.bind.", rr_type::a, rr_class::ch}).rc() == 5);
  CHECK(ask(s, {"authors.bind.", rr_type::txt, rr_class::ch}).rc() == 5);
  CHECK(ask(s, {"version.bind.", rr_type::txt, rr_class::in}).rc() == 5);
  server hidden = make_server();
  CHECK(ask(hidden, {"version.bind.", rr_type::txt, rr_class::ch}).rc() == 5);
  CHECK(ask(hidden, {"id.server.", rr_type::txt, rr_class::ch}).rc() == 5);
}

TEST_CASE("dns server: TC when the answer does not fit the client's size, whole over TCP") {
  server s = make_server();
  answer small = ask(s, {"txt.big.test.", rr_type::txt});  // no EDNS: 512 bytes
  CHECK(small.tc());
  CHECK(small.an.empty());
  CHECK(small.raw.size() <= 512);
  answer edns = ask(s, {"txt.big.test.", rr_type::txt, rr_class::in, 1, 0, 4096});
  CHECK(edns.tc());  // 40 records do not fit our 1232 either
  CHECK(edns.raw.size() <= 1232);
  answer tcp = ask(s, {"txt.big.test.", rr_type::txt}, transport::tcp);
  CHECK_FALSE(tcp.tc());
  CHECK(tcp.an.size() == 40);
  CHECK(s.stats().truncated == 2);
}

TEST_CASE("dns server: a memoized answer is the answer, with ID, flags and case patched") {
  server with = make_server();
  server_options off;
  off.memo_slots = 0;
  server without = make_server(off);
  const std::vector<query_spec> queries = {
      {"www.example.com.", rr_type::a, rr_class::in, 1, header::rd},
      {"WWW.example.COM.", rr_type::a, rr_class::in, 2, 0},
      {"www.EXAMPLE.com.", rr_type::a, rr_class::in, 3, header::rd | header::cd, 1232},
      {"www.example.com.", rr_type::a, rr_class::in, 4, 0, 1232, 0, true},
      {"Nope.Example.Com.", rr_type::a, rr_class::in, 5},
      {"NOPE.example.com.", rr_type::a, rr_class::in, 6},
      {"a.WILD.example.com.", rr_type::a, rr_class::in, 7},
      {"a.wild.example.com.", rr_type::a, rr_class::in, 8},
      {"txt.big.test.", rr_type::txt, rr_class::in, 9},
      {"TXT.big.test.", rr_type::txt, rr_class::in, 10},
  };
  for (int round = 0; round < 2; ++round) {
    for (const query_spec& q : queries) {
      std::vector<std::uint8_t> a(4096), b(4096);
      const std::size_t na = with.answer(make_query(q), a, transport::udp);
      const std::size_t nb = without.answer(make_query(q), b, transport::udp);
      a.resize(na);
      b.resize(nb);
      INFO(q.qname << " round " << round);
      CHECK(a == b);
    }
  }
  CHECK(with.stats().memo_hits >= 10);
  CHECK(without.stats().memo_hits == 0);
}

TEST_CASE("dns server: ANY gets one RRset, the first of the name in the zone file (RFC 8482, as NSD)") {
  server s = make_server();
  answer apex = ask(s, {"example.com.", rr_type::any});
  REQUIRE(apex.an.size() == 1);
  CHECK(apex.an[0].type == rr_type::soa);
  CHECK(apex.ns.empty());
  answer www = ask(s, {"www.example.com.", rr_type::any}, transport::tcp);
  REQUIRE(www.an.size() == 1);
  CHECK(www.an[0].type == rr_type::a);
  answer none = ask(s, {"b.ent.example.com.", rr_type::any});
  CHECK(none.an.empty());
  CHECK(none.ns.size() == 1);
}
