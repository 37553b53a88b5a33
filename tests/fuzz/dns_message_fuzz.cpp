// tests/fuzz/dns_message_fuzz.cpp: libFuzzer target for DNS messages (uni/dns):
// the input is one query as it would arrive over UDP or TCP.
//   1. name::read at every offset: a name read is at most 255 bytes, its labels
//      at most 63, its end within the input, and it reads back the same from
//      its own uncompressed bytes;
//   2. the engine answers over UDP and over TCP: nothing for runts and
//      responses; otherwise an answer with QR set, the query's ID, at most
//      512 bytes (no EDNS) or 1232 (EDNS) over UDP, that reads back whole
//      (every record, every rdata expanded) with a known rcode;
//   3. the memo table changes nothing: the same query asked twice of a server
//      with memos gives, both times, the bytes a server without them gives;
//   4. the stub resolver reads the input as an answer to its own question
//      (the input's ID and first question) without going out of bounds, and
//      accepts it only if it is a response to that very question.
#include <cstring>
#include <string>
#include <vector>

#include <uni/dns/server.hpp>
#include <uni/dns/stub.hpp>
#include <uni/dns/zone_file.hpp>

#include "fuzz_support.hpp"

using namespace uni;
using namespace uni::dns;

namespace {

const char* zone_text = R"($ORIGIN example.com.
$TTL 3600
@ SOA ns1 host 1 7200 3600 1209600 300
  NS ns1
  MX 10 mail
  TXT "v=spf1 -all"
ns1 A 192.0.2.53
ns1 AAAA 2001:db8::53
mail A 192.0.2.25
www A 192.0.2.80
    A 192.0.2.81
alias CNAME www
c1 CNAME c2
c2 CNAME c1
*.wild A 192.0.2.99
*.wc CNAME www
_sip._tcp SRV 1 2 5060 www
sub NS ns.sub
ns.sub A 192.0.2.200
tosub CNAME www.sub
tosub2 CNAME tosub
dnsub DNAME sub.example.com.
caa CAA 0 issue "ca.example"
g TYPE65280 \# 2 abcd
dn DNAME www.example.com.
away DNAME example.org.
loop DNAME loop.example.com.
)";

std::vector<zone> zones() {
  std::string problem;
  std::vector<zone> out;
  auto z = load_zone(zone_text, name{}, "fuzz.zone", problem);
  FUZZ_CHECK(z.has_value());
  out.push_back(std::move(*z));
  std::string big = "$ORIGIN big.test.\n$TTL 60\n@ SOA ns host 1 2 3 4 5\n";
  for (int i = 0; i < 60; ++i) big += "t TXT \"record " + std::to_string(i) + " padding padding padding\"\n";
  auto b = load_zone(big, name{}, "big.zone", problem);
  FUZZ_CHECK(b.has_value());
  out.push_back(std::move(*b));
  return out;
}

// NSID and the CHAOS identity and version on, so that those paths are fuzzed too.
server_options identified() {
  server_options o;
  o.nsid.assign("fuzz-nsid");
  o.identity.assign("fuzz-identity");
  o.version.assign("fuzz-version");
  return o;
}
server& memo_server() {
  static server s(zones(), identified());
  return s;
}
server& plain_server() {
  static server s = [] {
    server_options o = identified();
    o.memo_slots = 0;
    return server(zones(), o);
  }();
  return s;
}

void check_names(std::span<const std::uint8_t> in) {
  for (std::size_t at = 0; at < in.size(); ++at) {
    std::size_t end = at;
    auto n = name::read(in, end);
    if (!n) continue;
    FUZZ_CHECK(n->size() <= max_name_length && end <= in.size() && end > at);
    const auto w = n->wire();
    for (std::size_t k = 0; w[k] != 0; k += w[k] + 1u) FUZZ_CHECK(w[k] <= max_label_length);
    auto again = name::from_wire(w);
    FUZZ_CHECK(again.ok() && *again == *n);
  }
}

void check_answer(std::span<const std::uint8_t> q, std::span<const std::uint8_t> a, transport via) {
  const bool silent = q.size() < header_size || (q[2] & 0x80);
  FUZZ_CHECK(silent == a.empty());
  if (a.empty()) return;
  message_reader r(a);
  auto h = r.read_header();
  FUZZ_CHECK(h.ok());
  FUZZ_CHECK(h->is_response());
  FUZZ_CHECK(h->id == wire::load_be16(q.data()));
  const unsigned rc = h->rcode_bits();
  FUZZ_CHECK(rc == 0 || rc == 1 || rc == 3 || rc == 4 || rc == 5 || rc == 6);  // 6: YXDOMAIN (DNAME)
  if (via == transport::udp) FUZZ_CHECK(a.size() <= 1232);
  for (std::uint16_t i = 0; i < h->qdcount; ++i) FUZZ_CHECK(r.read_question().ok());
  bool opt = false;
  for (int i = 0; i < h->ancount + h->nscount + h->arcount; ++i) {
    auto rr = r.read_record();
    FUZZ_CHECK(rr.ok());
    if (rr->type == rr_type::opt) {
      opt = true;
      continue;
    }
    std::uint8_t buf[1024];
    FUZZ_CHECK(expand_rdata(a, *rr, buf).ok());
  }
  FUZZ_CHECK(r.offset() == a.size());
  if (via == transport::udp && !opt) FUZZ_CHECK(a.size() <= 512);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  check_names(in);
  if (size >= header_size) {
    message_reader r(in);
    (void)r.read_header();
    if (auto q = r.read_question()) {
      auto a = read_stub_answer(in, wire::load_be16(data), q->qname, q->qtype);
      if (a) FUZZ_CHECK((data[2] & 0x80) && a->count <= stub_answer::max_addresses);
    }
  }
  static std::vector<std::uint8_t> a(65535), b(65535), c(65535);
  for (transport via : {transport::udp, transport::tcp}) {
    const std::size_t na = memo_server().answer(in, a, via);
    check_answer(in, std::span(a).first(na), via);
    const std::size_t nb = memo_server().answer(in, b, via);
    const std::size_t nc = plain_server().answer(in, c, via);
    FUZZ_CHECK(na == nb && na == nc);
    FUZZ_CHECK(std::memcmp(a.data(), b.data(), na) == 0 && std::memcmp(a.data(), c.data(), na) == 0);
  }
  return 0;
}
