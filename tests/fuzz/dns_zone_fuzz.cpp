// tests/fuzz/dns_zone_fuzz.cpp: libFuzzer target for zone master files
// (uni/dns/zone_file.hpp, uni/dns/zone.hpp): the input is a zone file's text.
//   1. it loads, or the error names the file and a line ("fuzz.zone:N: ...")
//      within the text (or "end" for what the whole zone lacks);
//   2. a zone that loads is consistent: every node is found by its own name
//      in any case, every record's rdata is valid for its type, and the zone
//      has its SOA at the apex;
//   3. the engine answers every name of the zone for a few types with answers
//      that read back whole.
// $INCLUDE fuzz.zone reads the input itself (so its errors still name fuzz.zone
// and a line of it, and nesting must stop at its bound); other files do not exist.
#include <optional>
#include <string>
#include <string_view>

#include <uni/dns/server.hpp>
#include <uni/dns/zone_file.hpp>

#include "fuzz_support.hpp"

using namespace uni;
using namespace uni::dns;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto read_self = [&](const std::string& path) -> std::optional<std::string> {
    if (path != "fuzz.zone") return std::nullopt;
    return std::string(text);
  };
  const zone_include_reader include = read_self;
  std::string problem;
  auto z = load_zone(text, *name::parse("example.com."), "fuzz.zone", problem, &include);
  if (!z) {
    FUZZ_CHECK(problem.starts_with("fuzz.zone:"));
    const std::string_view rest = std::string_view(problem).substr(10);
    if (!rest.starts_with("end:")) {
      std::size_t line = 0, k = 0;
      for (; k < rest.size() && rest[k] >= '0' && rest[k] <= '9'; ++k) line = line * 10 + static_cast<std::size_t>(rest[k] - '0');
      FUZZ_CHECK(k > 0 && k < rest.size() && rest[k] == ':');
      std::size_t lines = 1;
      for (char ch : text) lines += ch == '\n';
      FUZZ_CHECK(line >= 1 && line <= lines);
    }
    return 0;
  }
  FUZZ_CHECK(z->soa() != nullptr);
  std::vector<std::uint8_t> query;
  server_options o;
  o.memo_slots = 64;
  std::vector<name> owners;
  // Every record's owner finds its node (lowered), holding an RRset of the record's type.
  const auto records = read_zone_records(text, *name::parse("example.com."), "fuzz.zone", problem, nullptr, &include);
  FUZZ_CHECK(records.has_value());
  for (const zone_record& r : *records) {
    name up = r.owner;
    up.to_lower_case();
    const zone::node* n = z->find(up.wire());
    FUZZ_CHECK(n != nullptr && wire_equal(n->owner(*z), r.owner.wire()));
    const zone::rrset* s = n->find(*z, r.type);
    FUZZ_CHECK(s != nullptr && s->count >= 1);
    for (std::uint32_t i = 0; i < s->count; ++i) FUZZ_CHECK(check_rdata(s->type, z->rdata(*s, i)).ok());
    if (owners.size() < 64) owners.push_back(r.owner);
  }
  std::vector<zone> zs;
  zs.push_back(std::move(*z));
  server srv(std::move(zs), o);
  std::vector<std::uint8_t> out(65535);
  for (const name& n : owners) {
    for (std::uint16_t type : {rr_type::a, rr_type::ns, rr_type::txt, rr_type::any}) {
      query.assign(12, 0);
      query[5] = 1;
      query.insert(query.end(), n.wire().begin(), n.wire().end());
      query.insert(query.end(), {static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type), 0, 1});
      const std::size_t len = srv.answer(query, out, transport::tcp);
      FUZZ_CHECK(len >= header_size);
      message_reader r(std::span<const std::uint8_t>(out.data(), len));
      auto h = r.read_header();
      FUZZ_CHECK(h.ok() && h->qdcount == 1 && r.read_question().ok());
      for (int i = 0; i < h->ancount + h->nscount + h->arcount; ++i) {
        auto rr = r.read_record();
        FUZZ_CHECK(rr.ok());
        std::uint8_t buf[65535];
        FUZZ_CHECK(expand_rdata(std::span<const std::uint8_t>(out.data(), len), *rr, buf).ok());
      }
      FUZZ_CHECK(r.offset() == len);
    }
  }
  return 0;
}
