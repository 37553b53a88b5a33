// tests/fuzz/ipv4_fuzz.cpp: libFuzzer target for the IPv4 header (RFC 791 §3.1,
// uni/net/ipv4.hpp) and fragment reassembly (RFC 791 §3.2, RFC 815,
// uni/net/ipv4_reassembly.hpp). The input is a list of records (fuzz_support.hpp),
// each an IPv4 packet; time passes by whole seconds between them.
//   1. every packet: ipv4_header::parse accepts only what RFC 791 allows (version
//      4, IHL 5..15 within the buffer, total length between the header and the
//      buffer, checksum) and gives the reason otherwise; an accepted header
//      re-emitted without options parses back to the same fields;
//   2. fragments go into a reassembly table of 2 slots and 16 KiB. Before they
//      go in, their payload is overwritten with bytes that name their position in
//      the datagram, so a reassembled datagram proves its own order: byte p of
//      it must be pattern(p). The table never holds more than its bounds; every
//      datagram it completes is whole, in order, and within 65515 bytes; and when
//      time runs out everything is released (every page back in the pool).
#include <map>
#include <tuple>
#include <vector>

#include "fuzz_support.hpp"

using namespace fuzz;

namespace {

constexpr std::size_t slots = 2, budget = 16 * 1024;
constexpr auto timeout = std::chrono::seconds(30);
using table = ipv4_reassembly<slots, budget>;

std::uint8_t pattern(std::uint16_t id, std::size_t p) { return static_cast<std::uint8_t>(id * 31 + p * 7 + (p >> 8)); }

void check_header(std::span<const std::uint8_t> b) {
  ipv4_header::reject why{};
  auto h = ipv4_header::parse(b, &why);
  if (!h) {
    const std::size_t hl = b.empty() ? 0 : static_cast<std::size_t>(b[0] & 0x0f) * 4;
    switch (why) {
      case ipv4_header::reject::truncated: FUZZ_CHECK(b.size() < 20 && h.err() == error::truncated); break;
      case ipv4_header::reject::bad_version: FUZZ_CHECK((b[0] >> 4) != 4); break;
      case ipv4_header::reject::bad_header_length: FUZZ_CHECK(hl < 20 || hl > b.size()); break;
      case ipv4_header::reject::bad_total_length: {
        const std::size_t total = wire::load_be16(&b[2]);
        FUZZ_CHECK(total < hl || total > b.size());
        break;
      }
      case ipv4_header::reject::bad_checksum:
        FUZZ_CHECK(h.err() == error::bad_checksum && internet_checksum(b.first(hl)) != 0);
        break;
    }
    return;
  }
  FUZZ_CHECK((b[0] >> 4) == 4);
  FUZZ_CHECK(h->header_length >= 20 && h->header_length <= 60 && h->header_length % 4 == 0);
  FUZZ_CHECK(h->header_length <= h->total_length && h->total_length <= b.size());
  FUZZ_CHECK(h->payload_length() == h->total_length - h->header_length);
  FUZZ_CHECK(internet_checksum(b.first(h->header_length)) == 0);
  FUZZ_CHECK(h->fragment_offset() <= 0x1fff * 8 && h->fragment_offset() % 8 == 0);

  ipv4_header plain = *h;
  plain.header_length = 20;
  plain.total_length = static_cast<std::uint16_t>(h->total_length - h->header_length + 20);
  std::vector<std::uint8_t> out(plain.total_length);
  plain.emit(out);
  auto back = ipv4_header::parse(out);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back->total_length == plain.total_length && back->identification == h->identification &&
             back->flags_fragment == h->flags_fragment && back->ttl == h->ttl && back->tos == h->tos &&
             back->protocol == h->protocol && back->source == h->source && back->destination == h->destination);
}

// `end`: where the datagram's last fragment (MF clear) ended. It need not be the
// fragment that completed it: fragments may come in any order.
void check_complete(const ipv4_header& h, std::size_t end, const view_chain& payload) {
  FUZZ_CHECK(payload.length() >= 1 && payload.length() <= table::max_datagram);
  FUZZ_CHECK(payload.count() <= table::max_fragments);
  FUZZ_CHECK(end == payload.length());  // the last fragment ends the datagram
  std::size_t p = 0;
  for (const view& v : payload)
    for (std::uint8_t byte : v.bytes()) FUZZ_CHECK(byte == pattern(h.identification, p++));
}

// A datagram's identity in the table (RFC 791 §3.2): addresses, protocol, identification.
// Exact, not hashed: two datagrams that shared a key would pass each other's end.
using datagram_key_t = std::tuple<std::uint32_t, std::uint32_t, std::uint8_t, std::uint16_t>;
datagram_key_t datagram_key(const ipv4_header& h) {
  return {h.source.value, h.destination.value, h.protocol, h.identification};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FUZZ_CHECK(shared_pool().statistics().in_use == 0);
  {
    table t{timeout};
    std::map<datagram_key_t, std::size_t> last_end;  // per datagram, where its accepted last fragment ended
    time_point now{};
    records in({data, size});
    while (auto r = in.next()) {
      std::vector<std::uint8_t> packet(r->bytes.begin(), r->bytes.end());
      fix_checksums(*r, packet);
      check_header(packet);
      now += std::chrono::seconds(r->ticks());
      const std::size_t expired = t.expire(now);
      FUZZ_CHECK(expired <= slots);

      auto h = ipv4_header::parse(packet);
      if (!h || !h->is_fragment() || packet.size() > page_size) continue;
      auto page = shared_pool().allocate_reserved();
      if (!page) continue;
      view frag = page->head(h->payload_length());
      for (std::size_t i = 0; i < frag.size(); ++i) frag[i] = pattern(h->identification, h->fragment_offset() + i);

      const std::size_t held = t.bytes_held();
      const std::uint64_t evictions = t.evictions();
      view_chain whole;
      const reassembly_status status = t.add(*h, std::move(frag), now, whole);
      const bool accepted = status == reassembly_status::incomplete || status == reassembly_status::complete;
      if (accepted && !h->more_fragments()) last_end[datagram_key(*h)] = h->fragment_offset() + h->payload_length();
      if (status == reassembly_status::complete) check_complete(*h, last_end[datagram_key(*h)], whole);
      else FUZZ_CHECK(whole.count() == 0);
      if (status == reassembly_status::incomplete) {
        // Held bytes grow by the fragment, less an older datagram evicted for its slot.
        if (t.evictions() == evictions) FUZZ_CHECK(t.bytes_held() == held + h->payload_length());
        else FUZZ_CHECK(t.evictions() == evictions + 1 && t.bytes_held() <= held + h->payload_length());
      }
      if (status == reassembly_status::duplicate || status == reassembly_status::over_budget)
        FUZZ_CHECK(t.bytes_held() <= held);
      FUZZ_CHECK(t.bytes_held() <= budget);
      FUZZ_CHECK(t.in_progress() <= slots);
      FUZZ_CHECK(t.in_progress() == 0 ? t.next_deadline() == time_never
                                      : t.next_deadline() > now - timeout && t.next_deadline() <= now + timeout);
      FUZZ_CHECK(t.in_progress() != 0 || t.bytes_held() == 0);
    }
    // Time runs out for everything still held.
    t.expire(now + timeout);
    FUZZ_CHECK(t.in_progress() == 0 && t.bytes_held() == 0);
  }
  FUZZ_CHECK(shared_pool().statistics().in_use == 0);
  return 0;
}
