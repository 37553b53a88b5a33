// uni/dns/server.hpp: the authoritative DNS engine, sans I/O: query bytes in,
// answer bytes out (RFC 1034 §4.3.2's algorithm, answered as NSD answers).
//
// - AA on authoritative answers; NXDOMAIN and NODATA with the zone's SOA in
//   the authority section, its TTL capped by the SOA minimum (RFC 2308 §3).
// - CNAME chains followed inside the zone (RFC 1034 §3.6.2), the rcode that of
//   the chain's end (RFC 6604); referrals below zone cuts with the NS RRset in
//   authority and glue in additional, AA clear; DS at a cut answered from the
//   parent side (RFC 4035 §3.1.4.1). A chain (CNAME or DNAME) whose next name
//   lies under a cut ends with that referral (§4.3.2 step 3b), AA kept for
//   the chain.
// - DNAME (RFC 6672 §3.2): the DNAME, then a CNAME synthesised for the name
//   below it, and the chain goes on; YXDOMAIN when the new name would be too
//   long. A CNAME or DNAME loop ends where it repeats, as NSD ends it.
// - Wildcards (RFC 4592): `*.<closest encloser>` synthesises RRsets owned by
//   the query name; empty non-terminals stop them (§2.2.2).
// - ANY answered with one RRset (RFC 8482 §4.2), the first of the name in the
//   zone file, as NSD does.
// - Names match ignoring case; owners in the answer are compressed against
//   the question, so they echo the query's case.
// - REFUSED outside our zones, for other classes and for zone transfers;
//   FORMERR for malformed queries; NOTIMP for opcodes other than QUERY; no
//   answer at all to responses (QR set) or to anything shorter than a header.
// - EDNS(0) (RFC 6891): the client's payload size bounds UDP answers (at most
//   ours), OPT echoed with DO (RFC 3225), BADVERS for versions above 0.
// - Truncation as NSD truncates (RFC 2181 §9): RRsets go whole or not at all;
//   one that does not fit in the answer or authority section sets TC and
//   ends the answer there, the RRsets before it kept. In the additional
//   section one that does not fit is left out without TC, and once an A
//   RRset is left out no AAAA is tried; a referral left with no A glue at
//   all has TC set (NSD's minimal-responses build, its default).
// - NSID (RFC 5001): the server's identifier in OPT for queries that ask for
//   it, when one is configured.
// - CHAOS TXT (as NSD): id.server and hostname.bind give the identity,
//   version.bind and version.server the version, when configured; TTL 0, AA
//   clear. Other CHAOS queries are REFUSED.
// - Memoized answers: a bounded table of answers already built, keyed by
//   what the answer depends on (name lowered, type, class, EDNS, size limit);
//   a hit costs a copy and three patches (ID, RD/CD, the question's case).
//   This is the paper's change that took Mirage from 40k to 75-80k queries/s.
//
// Nothing on the query path allocates: lookups read the zone's tables, the
// answer is written into the caller's buffer, the memo table is allocated once.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include <uni/core/wire.hpp>
#include <uni/dns/memo.hpp>
#include <uni/dns/message.hpp>
#include <uni/dns/name.hpp>
#include <uni/dns/rdata.hpp>
#include <uni/dns/zone.hpp>

namespace uni::dns {

enum class transport : std::uint8_t { udp, tcp };

// A short string held by value: options outlive what they were read from.
template <std::size_t N>
struct option_text {
  static_assert(N <= 255);
  std::array<std::uint8_t, N> data{};
  std::uint8_t size = 0;

  // False (and nothing kept) when `s` is longer than N.
  constexpr bool assign(std::string_view s) noexcept {
    if (s.size() > N) return false;
    data = {};
    for (std::size_t i = 0; i < s.size(); ++i) data[i] = static_cast<std::uint8_t>(s[i]);
    size = static_cast<std::uint8_t>(s.size());
    return true;
  }
  constexpr std::span<const std::uint8_t> bytes() const noexcept { return {data.data(), size}; }
};

struct server_options {
  // Our EDNS UDP payload size: advertised in OPT, and the most an answer over
  // UDP may take (1232: no IPv6 fragmentation, DNS flag day 2020; NSD's default).
  std::uint16_t edns_payload = 1232;
  // The zone's NS RRset in the authority section of positive answers (NSD and
  // BIND do this unless told to give minimal responses).
  bool authority_ns = true;
  // Memo table (memo.hpp): how many answers it indexes (0: none), the bytes
  // kept for their keys and answers, and the largest answer it keeps.
  std::size_t memo_slots = 4096;
  std::size_t memo_bytes = 0;  // 0: 192 per slot
  std::size_t memo_answer_bytes = 512;
  // NSID (RFC 5001): what the server says it is to a query carrying an NSID
  // option. CHAOS TXT: the identity (id.server, hostname.bind) and version
  // (version.bind, version.server). Each is off while empty.
  option_text<64> nsid;
  option_text<255> identity;
  option_text<255> version;
};

struct server_stats {
  std::uint64_t queries = 0;
  std::uint64_t answers = 0;
  std::uint64_t ignored = 0;  // responses and runts: no answer sent
  std::uint64_t formerr = 0, notimp = 0, refused = 0, nxdomain = 0, nodata = 0, referrals = 0, truncated = 0;
  std::uint64_t memo_hits = 0, memo_misses = 0;
};

class server {
 public:
  // The longest CNAME chain followed inside a zone (then the answer stops).
  static constexpr int max_chain = 12;
  // Targets (NS, MX, SRV names) whose addresses go in the additional section.
  static constexpr std::size_t max_additional_targets = 16;
  // The smallest answer buffer `answer` works with: a header, a question and OPT.
  static constexpr std::size_t min_buffer = 512;

  // Serves one zone, or several (the most specific origin answers a name).
  explicit server(zone&& z, const server_options& o = {})
      : server(std::unique_ptr<zone[]>(new zone[1]{std::move(z)}), 1, o) {}
  explicit server(std::vector<zone> zones, const server_options& o = {}) : server(moved(zones), zones.size(), o) {}

  const server_stats& stats() const noexcept { return stats_; }
  // Times the memo table was full and emptied to make room.
  std::uint64_t memo_flushes() const noexcept { return memo_.flushes(); }
  std::span<const zone> zones() const noexcept { return {zones_.get(), zone_count_}; }
  const server_options& options() const noexcept { return opts_; }

  // Answers one query: writes the answer into `out` (at least min_buffer bytes;
  // over TCP up to 65535) and returns its length, or 0 for no answer.
  std::size_t answer(std::span<const std::uint8_t> query, std::span<std::uint8_t> out, transport via) noexcept {
    ++stats_.queries;
    message_reader in(query);
    const auto parsed = in.read_header();
    if (!parsed || parsed->is_response() || out.size() < min_buffer) {
      ++stats_.ignored;
      return 0;
    }
    const header h = *parsed;
    const std::uint16_t echoed = static_cast<std::uint16_t>(h.flags & (0x7800 | header::rd | header::cd));
    if (h.op() != opcode::query) return error_answer(h, echoed, rcode::notimp, out);
    edns e;
    const auto read = read_query(in, h, e);
    if (!read) return error_answer(h, echoed, rcode::formerr, out);
    const question& q = *read;
    std::size_t limit = via == transport::tcp ? std::min<std::size_t>(out.size(), 65535)
                        : e.present          ? std::min<std::size_t>(e.payload, opts_.edns_payload)
                                             : 512;
    limit = std::min(limit, out.size());

    // The memo table: everything the answer depends on is in the key.
    std::uint8_t key[max_name_length + 7];
    const std::size_t qlen = q.qname.size();
    for (std::size_t i = 0; i < qlen; ++i) key[i] = to_lower(q.qname.wire()[i]);
    wire::store_be16(key + qlen, q.qtype);
    wire::store_be16(key + qlen + 2, q.qclass);
    key[qlen + 4] = static_cast<std::uint8_t>((e.present ? 1 : 0) | (e.dnssec_ok ? 2 : 0) | (e.version ? 4 : 0) |
                                              (e.nsid ? 8 : 0));
    wire::store_be16(key + qlen + 5, static_cast<std::uint16_t>(limit));
    const std::span<const std::uint8_t> k(key, qlen + 7);
    const std::uint32_t hash = memo_.enabled() ? wire_hash(k) : 0;
    if (memo_.enabled()) {
      const auto kept = memo_.find(k, hash);
      if (!kept.empty() && kept.size() <= limit) {
        ++stats_.memo_hits;
        ++stats_.answers;
        std::uint8_t* a = out.data();
        std::memcpy(a, kept.data(), kept.size());
        wire::store_be16(a, h.id);
        const std::uint16_t f = wire::load_be16(a + 2);
        wire::store_be16(a + 2, static_cast<std::uint16_t>((f & ~(header::rd | header::cd)) |
                                                           (h.flags & (header::rd | header::cd))));
        std::memcpy(a + header_size, q.qname.wire().data(), qlen);
        count_rcode(a);
        return kept.size();
      }
      ++stats_.memo_misses;
    }
    const std::size_t n = build(h, echoed, q, e, out.first(limit));
    if (n) {
      ++stats_.answers;
      count_rcode(out.data());
      if (memo_.enabled() && n <= opts_.memo_answer_bytes) memo_.insert(k, hash, out.first(n));
    }
    return n;
  }

 private:
  static constexpr std::uint16_t option_nsid = 3;  // RFC 5001 §2.3

  struct edns {
    bool present = false;
    bool dnssec_ok = false;
    bool nsid = false;  // the query asked for our NSID
    std::uint8_t version = 0;
    std::uint16_t payload = 512;
  };
  struct counts {
    std::uint16_t an = 0, ns = 0, ar = 0;
  };
  enum class found_kind { exact, wildcard, nxdomain, delegation, dname };
  struct found {
    found_kind kind;
    const zone::node* node;  // the match, the wildcard, the cut, or the DNAME's owner
    std::size_t below = 0;   // dname: the bytes of the name asked that lie below that owner
  };

  // The zones are kept in an array made at their number (no std::vector: they never grow).
  server(std::unique_ptr<zone[]> zones, std::size_t count, const server_options& o)
      : zones_(std::move(zones)), zone_count_(count), opts_(settled(o)), memo_(opts_.memo_slots, opts_.memo_bytes) {
    opts_.memo_slots = memo_.capacity();
  }
  static std::unique_ptr<zone[]> moved(std::vector<zone>& zones) {
    std::unique_ptr<zone[]> a(new zone[zones.size()]);
    std::move(zones.begin(), zones.end(), a.get());
    return a;
  }

  // The options as the server uses them: the payload size at least 512, the memo's bytes filled in.
  static server_options settled(const server_options& given) noexcept {
    server_options o = given;
    if (o.edns_payload < 512) o.edns_payload = 512;
    if (o.memo_slots && o.memo_bytes == 0) o.memo_bytes = o.memo_slots * 192;
    return o;
  }

  void count_rcode(const std::uint8_t* a) noexcept {
    const std::uint16_t f = wire::load_be16(a + 2);
    switch (static_cast<rcode>(f & 0xF)) {
      case rcode::nxdomain: ++stats_.nxdomain; break;
      case rcode::refused: ++stats_.refused; break;
      case rcode::noerror:
        if (f & header::tc) ++stats_.truncated;
        else if (!(f & header::aa)) ++stats_.referrals;
        else if (wire::load_be16(a + 6) == 0) ++stats_.nodata;
        break;
      default: break;
    }
  }

  // The question and EDNS of a query whose header `h` has been read; an error
  // (FORMERR) when they are malformed, or when the header counts more than one
  // question or any answer or authority record.
  static result<question> read_query(message_reader& in, const header& h, edns& e) noexcept {
    if (h.qdcount != 1 || h.ancount != 0 || h.nscount != 0) return fail(error::malformed);
    auto q = in.read_question();
    if (!q) return q;
    // The additional section: at most one OPT, owned by the root (RFC 6891 §6.1.1).
    for (std::uint16_t i = 0; i < h.arcount; ++i) {
      const auto read_rr = in.read_record();
      if (!read_rr) return fail(error::malformed);
      const record_view& rr = *read_rr;
      if (rr.type != rr_type::opt) continue;  // TSIG and the like: not ours to check
      if (e.present || !rr.owner.is_root()) return fail(error::malformed);
      e.present = true;
      e.payload = std::max<std::uint16_t>(rr.rclass, 512);
      e.version = static_cast<std::uint8_t>(rr.ttl >> 16);
      e.dnssec_ok = (rr.ttl & 0x8000) != 0;
      // Its options (RFC 6891 §6.1.2): code, length, data; one running past the end is FORMERR.
      const auto opts = in.rdata(rr);
      for (std::size_t at = 0; at < opts.size();) {
        if (opts.size() - at < 4 || opts.size() - at - 4 < wire::load_be16(opts.data() + at + 2))
          return fail(error::malformed);
        if (wire::load_be16(opts.data() + at) == option_nsid) e.nsid = true;
        at += 4u + wire::load_be16(opts.data() + at + 2);
      }
    }
    return q;
  }

  // A header-only answer (FORMERR, NOTIMP): the question may be what is wrong.
  std::size_t error_answer(const header& q, std::uint16_t echoed, rcode rc, std::span<std::uint8_t> out) noexcept {
    ++(rc == rcode::notimp ? stats_.notimp : stats_.formerr);
    ++stats_.answers;
    header r;
    r.id = q.id;
    r.flags = static_cast<std::uint16_t>(header::qr | echoed | static_cast<std::uint16_t>(rc));
    r.emit(out.data());
    return header_size;
  }

  const zone* zone_for(const name& qn) const noexcept {
    const zone* best = nullptr;
    for (const zone& z : zones())
      if (qn.is_subdomain_of(z.origin()) && (!best || z.origin().size() > best->origin().size())) best = &z;
    return best;
  }

  // RFC 1034 §4.3.2 step 3 in one zone: down from the apex, label by label.
  found lookup(const zone& z, std::span<const std::uint8_t> w, std::uint16_t qtype) const noexcept {
    std::size_t offsets[128];
    std::size_t labels = 0;
    for (std::size_t at = 0; w[at] != 0; at += w[at] + 1u) offsets[labels++] = at;
    const std::size_t below_apex = labels - z.origin().label_count();
    const zone::node* encloser = z.apex();
    if (below_apex > 0 && encloser->dname) return {found_kind::dname, encloser, offsets[below_apex]};
    for (std::size_t d = below_apex; d-- > 0;) {
      const zone::node* n = z.find(w.subspan(offsets[d]));
      if (!n) {
        // The wildcard at the closest encloser (RFC 4592 §3.3.1).
        std::uint8_t wild[max_name_length + 2];
        const auto ce = encloser->owner(z);
        if (ce.size() + 2 > max_name_length) return {found_kind::nxdomain, nullptr};
        wild[0] = 1;
        wild[1] = '*';
        std::memcpy(wild + 2, ce.data(), ce.size());
        if (const zone::node* star = z.find({wild, ce.size() + 2})) return {found_kind::wildcard, star};
        return {found_kind::nxdomain, nullptr};
      }
      if (n->delegation && !(d == 0 && qtype == rr_type::ds)) return {found_kind::delegation, n};
      if (n->dname && d > 0) return {found_kind::dname, n, offsets[d]};
      encloser = n;
    }
    return {found_kind::exact, encloser};
  }

  // Writes every record of `s` owned by `owner`; all or nothing.
  static bool put_rrset(message_writer& w, std::span<const std::uint8_t> owner, const zone& z, const zone::rrset& s,
                        std::uint16_t& count, std::uint32_t ttl_cap = 0xFFFFFFFF) noexcept {
    const auto m = w.mark();
    for (std::uint32_t i = 0; i < s.count; ++i) {
      if (!put_record(w, owner, s.type, rr_class::in, std::min(s.ttl, ttl_cap), z.rdata(s, i))) {
        w.rewind(m);
        return false;
      }
    }
    count = static_cast<std::uint16_t>(count + s.count);
    return true;
  }
  // One record; all or nothing.
  static bool put_record(message_writer& w, std::span<const std::uint8_t> owner, std::uint16_t type,
                         std::uint16_t rclass, std::uint32_t ttl, std::span<const std::uint8_t> rdata) noexcept {
    const auto m = w.mark();
    if (w.write_name(owner) && w.u16(type) && w.u16(rclass) && w.u32(ttl) && write_rdata(w, type, rdata)) return true;
    w.rewind(m);
    return false;
  }
  // What a CHAOS TXT (or ANY) query for one of the server's own names is answered
  // with, as NSD answers it; empty when it is not such a query or that text is off.
  std::span<const std::uint8_t> chaos_text(const question& q) const noexcept {
    if (q.qclass != rr_class::ch || (q.qtype != rr_type::txt && q.qtype != rr_type::any)) return {};
    static constexpr name_literal id_server("id.server.");
    static constexpr name_literal hostname_bind("hostname.bind.");
    static constexpr name_literal version_bind("version.bind.");
    static constexpr name_literal version_server("version.server.");
    // The identity's two names, then the version's.
    static constexpr std::span<const std::uint8_t> names[] = {id_server.wire(), hostname_bind.wire(),
                                                              version_bind.wire(), version_server.wire()};
    for (std::size_t i = 0; i < std::size(names); ++i)
      if (wire_equal(q.qname.wire(), names[i])) return (i < 2 ? opts_.identity : opts_.version).bytes();  // ignores case
    return {};
  }
  static bool put_chaos_txt(message_writer& w, const question& q, std::span<const std::uint8_t> text) noexcept {
    std::uint8_t rdata[1 + 255];  // one character-string
    rdata[0] = static_cast<std::uint8_t>(text.size());
    std::memcpy(rdata + 1, text.data(), text.size());
    return put_record(w, q.qname.wire(), rr_type::txt, rr_class::ch, 0, {rdata, text.size() + 1});
  }
  static bool put_soa(message_writer& w, const zone& z, std::uint16_t& count) noexcept {
    const zone::rrset* soa = z.soa();
    const auto r = z.rdata(*soa, 0);
    const std::uint32_t minimum = wire::load_be32(r.data() + r.size() - 4);
    return put_rrset(w, z.origin().wire(), z, *soa, count, minimum);
  }

  struct targets {
    std::span<const std::uint8_t> names[max_additional_targets];
    std::size_t n = 0;
    // The RRset the answer gives: not repeated in additional (as NSD does).
    const zone::rrset* answered = nullptr;
    // The names an NS, MX or SRV RRset points to.
    void add(const zone& z, const zone::rrset& s) noexcept {
      if (s.type != rr_type::ns && s.type != rr_type::mx && s.type != rr_type::srv) return;
      for (std::uint32_t i = 0; i < s.count && n < max_additional_targets; ++i) {
        // The name fills the rdata after its fixed fields (MX's preference; SRV's priority, weight, port).
        const auto t = z.rdata(s, i).subspan(layout_of(s.type).prefix);
        bool seen = false;
        for (std::size_t j = 0; j < n && !seen; ++j) seen = wire_equal(names[j], t);
        if (!seen) names[n++] = t;
      }
    }
  };

  // A and AAAA of the targets, where this zone has them (glue included): all
  // the A RRsets, then all the AAAA (NSD's order). One that does not fit is
  // left out, and then no AAAA is tried. False (TC) when that leaves a
  // referral without a single A: a resolver cannot use it (as NSD).
  static bool put_additional(message_writer& w, const zone& z, const targets& t, std::uint16_t& count,
                             bool referral = false) noexcept {
    for (std::uint16_t type : {rr_type::a, rr_type::aaaa}) {
      bool left_out = false;
      std::uint16_t added = 0;
      for (std::size_t i = 0; i < t.n; ++i)
        if (const zone::node* n = z.find(t.names[i]))
          if (const zone::rrset* s = n->find(z, type); s && s != t.answered)
            left_out |= !put_rrset(w, t.names[i], z, *s, added);
      count = static_cast<std::uint16_t>(count + added);
      if (left_out) return !(referral && type == rr_type::a && added == 0);
    }
    return true;
  }

  std::size_t build(const header& qh, std::uint16_t echoed, const question& q, const edns& e,
                    std::span<std::uint8_t> out) noexcept {
    message_writer w(out);
    header rh;
    rh.id = qh.id;
    rh.flags = static_cast<std::uint16_t>(header::qr | echoed);
    rh.qdcount = 1;
    (void)w.header(rh);
    (void)w.write_name(q.qname.wire(), false);
    (void)w.u16(q.qtype);
    (void)w.u16(q.qclass);
    const std::size_t nsid = e.nsid ? opts_.nsid.size : 0;
    const std::size_t opt_size = 11 + (nsid ? 4 + nsid : 0);
    if (e.present) w.limit(out.size() - opt_size);  // room for our OPT, always
    counts c;
    rcode rc = rcode::noerror;
    bool aa = false;
    bool tc = false;
    std::uint8_t ext_rcode = 0;
    const zone* z = nullptr;
    if (e.version != 0) {
      ext_rcode = badvers >> 4;  // RFC 6891 §6.1.3: upper 8 bits of the 12-bit rcode
    } else if (auto text = chaos_text(q); !text.empty()) {
      tc = !put_chaos_txt(w, q, text);
      if (!tc) c.an = 1;
    } else if (q.qclass != rr_class::in || q.qtype == rr_type::axfr || q.qtype == rr_type::ixfr ||
               q.qtype == rr_type::opt || !(z = zone_for(q.qname))) {
      rc = rcode::refused;
    } else {
      aa = true;
      tc = !resolve(w, *z, q, c, rc, aa);
    }
    std::size_t size = w.size();
    if (e.present) {
      // OPT (RFC 6891 §6.1.2): root owner, our payload size, extended rcode, DO echoed.
      std::uint8_t* p = out.data() + size;
      p[0] = 0;
      wire::store_be16(p + 1, rr_type::opt);
      wire::store_be16(p + 3, opts_.edns_payload);
      wire::store_be32(p + 5, static_cast<std::uint32_t>(ext_rcode) << 24 | (e.dnssec_ok ? 0x8000u : 0u));
      wire::store_be16(p + 9, static_cast<std::uint16_t>(opt_size - 11));
      if (nsid) {
        wire::store_be16(p + 11, option_nsid);
        wire::store_be16(p + 13, static_cast<std::uint16_t>(nsid));
        std::memcpy(p + 15, opts_.nsid.data.data(), nsid);
      }
      size += opt_size;
      ++c.ar;
    }
    rh.flags = static_cast<std::uint16_t>(rh.flags | (aa ? header::aa : 0) | (tc ? header::tc : 0) |
                                          static_cast<std::uint16_t>(rc));
    rh.ancount = c.an;
    rh.nscount = c.ns;
    rh.arcount = c.ar;
    rh.emit(out.data());
    return size;
  }

  // Fills the answer, authority and additional sections; false (TC) when an
  // RRset did not fit in the answer or authority: what is written stays.
  bool resolve(message_writer& w, const zone& z, const question& q, counts& c, rcode& rc, bool& aa) noexcept {
    std::span<const std::uint8_t> current = q.qname.wire();  // the name the chain has reached
    targets extra;
    // The CNAME and DNAME RRsets the chain went through: one seen again is a loop.
    const zone::rrset* chain[max_chain];
    std::size_t chained = 0;
    const auto loops = [&](const zone::rrset* s) {
      for (std::size_t i = 0; i < chained; ++i)  // (a dozen at most: std::find's unrolled loop is not worth its code)
        if (chain[i] == s) return true;
      chain[chained++] = s;
      return false;
    };
    // A DNAME's CNAME target, made at each hop apart from the name it follows
    // on from (that of the hop before, which may be the one made there).
    std::uint8_t synthesised[2][max_name_length];
    for (int hop = 0; hop < max_chain; ++hop) {
      const found f = lookup(z, current, q.qtype);
      std::span<const std::uint8_t> next;  // where the chain goes on
      switch (f.kind) {
        case found_kind::dname: {
          const zone::rrset* dn = f.node->find(z, rr_type::dname);
          if (loops(dn)) return true;
          if (!put_rrset(w, f.node->owner(z), z, *dn, c.an)) return false;
          // The name asked with the DNAME's owner replaced by its target.
          const auto prefix = current.first(f.below);
          const auto target = z.rdata(*dn, 0);
          if (prefix.size() + target.size() > max_name_length) {
            rc = rcode::yxdomain;
            return true;
          }
          std::uint8_t* const made = synthesised[hop & 1];
          for (std::size_t i = 0; i < prefix.size(); ++i) made[i] = to_lower(prefix[i]);
          std::memcpy(made + prefix.size(), target.data(), target.size());
          next = {made, prefix.size() + target.size()};
          if (!put_record(w, current, rr_type::cname, rr_class::in, dn->ttl, next)) return false;
          ++c.an;
          if (q.qtype == rr_type::cname) return true;  // the synthesised CNAME is the answer asked for
          break;
        }
        case found_kind::delegation: {
          // The referral (§4.3.2 step 3b): alone it is not authoritative; after
          // a chain, AA stays for the chain's records and the referral tells
          // the resolver where the chain's next name is answered.
          if (hop == 0) aa = false;
          const zone::rrset* ns = f.node->find(z, rr_type::ns);
          if (!put_rrset(w, f.node->owner(z), z, *ns, c.ns)) return false;
          extra.add(z, *ns);
          return put_additional(w, z, extra, c.ar, true);
        }
        case found_kind::nxdomain:
          rc = rcode::nxdomain;
          return put_soa(w, z, c.ns);
        case found_kind::exact:
        case found_kind::wildcard: {
          const zone::node* n = f.node;
          const auto owner = current;  // wildcard answers are owned by the name asked
          if (q.qtype != rr_type::cname && q.qtype != rr_type::any) {
            if (const zone::rrset* cn = n->find(z, rr_type::cname)) {
              if (loops(cn)) return true;
              if (!put_rrset(w, owner, z, *cn, c.an)) return false;
              next = z.rdata(*cn, 0);
              break;
            }
          }
          // ANY (RFC 8482 §4.2, as NSD answers it): one RRset, the first the
          // zone file gave for the name, with its additional records and no
          // authority section.
          const zone::rrset* s = q.qtype != rr_type::any ? n->find(z, q.qtype)
                                 : n->count != 0         ? &n->sets(z).front()
                                                         : nullptr;
          if (!s) return put_soa(w, z, c.ns);  // NODATA
          if (!put_rrset(w, owner, z, *s, c.an)) return false;
          extra.add(z, *s);
          extra.answered = s;
          // The zone's NS in authority, unless the answer is that very RRset.
          // Optional: when it does not fit, no TC, and (as NSD) no additional.
          const zone::rrset* apex_ns = z.apex()->find(z, rr_type::ns);
          const bool answered_apex_ns = n == z.apex() && q.qtype == rr_type::ns;
          if (q.qtype != rr_type::any && opts_.authority_ns && apex_ns && !answered_apex_ns) {
            if (!put_rrset(w, z.origin().wire(), z, *apex_ns, c.ns)) return true;
            extra.add(z, *apex_ns);
          }
          (void)put_additional(w, z, extra, c.ar);
          return true;
        }
      }
      // A CNAME or DNAME led on: the chain goes on at `next` while it stays in this zone.
      current = next;
      if (!wire_is_under(current, z.origin().wire())) return true;
    }
    return true;  // a chain longer than max_chain: what we have
  }

  std::unique_ptr<zone[]> zones_;
  std::size_t zone_count_;
  server_options opts_;
  server_stats stats_;
  memo_table memo_;
};

}  // namespace uni::dns
