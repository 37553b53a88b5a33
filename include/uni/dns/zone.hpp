// uni/dns/zone.hpp: an authoritative zone in memory, built once at start (from
// a master file, uni/dns/zone_file.hpp) or compiled at build time into constant
// tables (uni_dns_zone in cmake/uniDnsZone.cmake), and then only read. Lookups
// take a lowered wire name and touch no allocator: an open-addressing hash table
// maps names to nodes, every node holds its RRsets, and every RRset its records'
// uncompressed rdata in one shared byte array, where the owners' names are too.
//
// The builder applies what RFC 1034 §4.3.2 and RFC 2181 ask of a zone: every
// name at or below the origin, one SOA at the apex, CNAME alone at its name
// (RFC 1034 §3.6.2, RFC 2181 §10.1), one TTL per RRset (§5.2: the first wins),
// duplicate records removed (§5), at most 65535 records in an RRset (no
// answer could hold more), and empty non-terminals (RFC 4592 §2.2.2) present
// as nodes without data.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <uni/dns/message.hpp>
#include <uni/dns/name.hpp>
#include <uni/dns/rdata.hpp>

namespace uni::dns {

struct zone_record {
  name owner;
  std::uint16_t type = 0;
  std::uint32_t ttl = 0;
  std::vector<std::uint8_t> rdata;  // uncompressed
};

class zone {
 public:
  struct rrset {  // 12 bytes
    std::uint16_t type;
    std::uint16_t count;  // an answer holds at most 65535 records (RFC 1035 §4.1.1: ANCOUNT)
    std::uint32_t ttl;
    std::uint32_t first;  // index into records
  };
  struct node {  // 12 bytes
    std::uint32_t owner_at;  // its wire name in the bytes, as first written in the zone (case kept)
    std::uint32_t first;     // index into rrsets: the node's, in the order the zone file first gave them
    std::uint16_t count;     // an RRset per type: at most 65535 (build() refuses more)
    std::uint8_t owner_size;  // a name is at most 255 bytes
    bool delegation : 1;      // NS below the apex: a zone cut
    bool dname : 1;           // a DNAME: names below it are redirected (RFC 6672)
    std::span<const std::uint8_t> owner(const zone& z) const noexcept { return z.t_.bytes.subspan(owner_at, owner_size); }
    const rrset* find(const zone& z, std::uint16_t type) const noexcept {
      for (std::uint32_t i = first; i < first + count; ++i)
        if (z.t_.rrsets[i].type == type) return &z.t_.rrsets[i];
      return nullptr;
    }
    std::span<const rrset> sets(const zone& z) const noexcept { return z.t_.rrsets.subspan(first, count); }
  };
  static_assert(sizeof(node) == 12);
  // Everything a lookup reads: what build() makes, and what a zone compiled at
  // build time holds as constants (uni_dns_zone writes them).
  struct tables {
    std::span<const node> nodes;
    std::span<const rrset> rrsets;
    // Where each record's rdata starts in the bytes, and at the end where the
    // last one ends: the rdata lie one after another, so a record ends where the next starts.
    std::span<const std::uint32_t> records;
    std::span<const std::uint8_t> bytes;  // the rdata, then the owner names
    std::span<const std::uint32_t> index;  // node index + 1, 0 = empty; a power of two long
    std::uint32_t apex;  // node index
  };

  // A zone over tables that outlive it (constants): nothing is copied or owned.
  static zone over(const name& origin, const tables& t) noexcept {
    zone z;
    z.origin_ = origin;
    z.t_ = t;
    return z;
  }
  const tables& contents() const noexcept { return t_; }

  const name& origin() const noexcept { return origin_; }
  const node* apex() const noexcept { return t_.apex < t_.nodes.size() ? &t_.nodes[t_.apex] : nullptr; }
  std::size_t node_count() const noexcept { return t_.nodes.size(); }
  std::size_t record_count() const noexcept { return t_.records.empty() ? 0 : t_.records.size() - 1; }
  const rrset* soa() const noexcept {
    const node* a = apex();
    return a ? a->find(*this, rr_type::soa) : nullptr;
  }

  // The rdata of record `i` of a set.
  std::span<const std::uint8_t> rdata(const rrset& s, std::uint32_t i) const noexcept {
    const std::uint32_t* r = &t_.records[s.first + i];
    return t_.bytes.subspan(r[0], r[1] - r[0]);
  }

  // The node named by the wire name `w` (any case), or null.
  const node* find(std::span<const std::uint8_t> w) const noexcept {
    if (t_.index.empty()) return nullptr;
    const std::size_t mask = t_.index.size() - 1;
    for (std::size_t i = wire_hash(w) & mask;; i = (i + 1) & mask) {
      const std::uint32_t e = t_.index[i];
      if (e == 0) return nullptr;
      const node& n = t_.nodes[e - 1];
      if (wire_equal(n.owner(*this), w)) return &n;
    }
  }

  // Builds a zone from records; the error names the problem (and, with
  // `where`, which record: its index in `records`). The zone owns its tables.
  static result<zone> build(const name& origin, std::vector<zone_record> records, std::string& problem,
                            std::size_t* where = nullptr) {
    zone z;
    z.origin_ = origin;
    auto* own = new storage;
    z.owned_ = own;
    z.release_ = [](void* p) noexcept { delete static_cast<storage*>(p); };
    auto bad = [&](std::size_t i, std::string why) -> result<zone> {
      problem = std::move(why);
      if (where) *where = i;
      return fail(error::malformed);
    };
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (!records[i].owner.is_subdomain_of(origin))
        return bad(i, records[i].owner.to_string() + " is outside the zone " + origin.to_string());
      if (records[i].type == rr_type::soa && !(records[i].owner == origin))
        return bad(i, "SOA record not at the zone apex " + origin.to_string());
    }
    // Sort by name (canonical: lowered wire bytes), then type, then file order.
    std::vector<std::size_t> order(records.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    auto key_less = [&](std::size_t a, std::size_t b) {
      const auto wa = records[a].owner.wire(), wb = records[b].owner.wire();
      const std::size_t n = std::min(wa.size(), wb.size());
      for (std::size_t k = 0; k < n; ++k) {
        const auto ca = to_lower(wa[k]), cb = to_lower(wb[k]);
        if (ca != cb) return ca < cb;
      }
      if (wa.size() != wb.size()) return wa.size() < wb.size();
      if (records[a].type != records[b].type) return records[a].type < records[b].type;
      return a < b;  // file order within an RRset (std::sort, not stable_sort: no nothrow new on Xen)
    };
    std::sort(order.begin(), order.end(), key_less);

    std::vector<std::uint8_t>& bytes = own->bytes;  // owner names and rdata as they come, packed at the end
    struct placed_record {
      std::size_t offset, length;  // in bytes
    };
    std::vector<placed_record> placed;
    auto add_node = [&](const name& owner, std::uint32_t first) {
      own->nodes.push_back(
          node{static_cast<std::uint32_t>(bytes.size()), first, 0, static_cast<std::uint8_t>(owner.size()), false, false});
      bytes.insert(bytes.end(), owner.wire().begin(), owner.wire().end());
      return own->nodes.size() - 1;
    };
    for (std::size_t k = 0; k < order.size();) {
      const zone_record& head = records[order[k]];
      const std::size_t at = add_node(head.owner, static_cast<std::uint32_t>(own->rrsets.size()));
      std::size_t end = k;
      while (end < order.size() && records[order[end]].owner == head.owner) ++end;
      bool other = false;
      std::optional<std::size_t> cname;  // the CNAME record, for the error
      std::vector<std::pair<std::size_t, rrset>> sets;  // each with where its first record was in the file
      for (std::size_t s = k; s < end;) {
        const zone_record& first = records[order[s]];
        rrset set{first.type, 0, first.ttl, static_cast<std::uint32_t>(placed.size())};
        std::size_t e = s;
        for (; e < end && records[order[e]].type == first.type; ++e) {
          const zone_record& r = records[order[e]];
          bool duplicate = false;
          for (std::uint32_t j = 0; j < set.count && !duplicate; ++j) {
            const placed_record& have = placed[set.first + j];
            duplicate = have.length == r.rdata.size() &&
                        std::equal(r.rdata.begin(), r.rdata.end(), bytes.begin() + have.offset);
          }
          if (duplicate) continue;
          if (set.count == 0xFFFF) return bad(order[e], "more than 65535 records in one RRset at " + head.owner.to_string());
          placed.push_back({bytes.size(), r.rdata.size()});
          bytes.insert(bytes.end(), r.rdata.begin(), r.rdata.end());
          ++set.count;
        }
        node& nd = own->nodes[at];
        if (first.type == rr_type::cname) {
          cname = order[s];
          if (set.count > 1) return bad(order[s], "more than one CNAME at " + head.owner.to_string());
        } else if (first.type != rr_type::rrsig && first.type != rr_type::nsec) {
          other = true;
        }
        if (first.type == rr_type::soa && set.count > 1) return bad(order[s], "more than one SOA record");
        if (first.type == rr_type::dname && set.count > 1)  // RFC 6672 §2.4
          return bad(order[s], "more than one DNAME at " + head.owner.to_string());
        if (first.type == rr_type::ns && !(head.owner == origin)) nd.delegation = true;
        if (first.type == rr_type::dname) nd.dname = true;
        if (sets.size() == 0xFFFF) return bad(order[s], "more than 65535 RRsets at " + head.owner.to_string());
        sets.emplace_back(order[s], set);
        s = e;
      }
      if (cname && other) return bad(*cname, "CNAME and other data at " + head.owner.to_string());
      // In file order: ANY is answered with the name's first RRset in the file (as NSD).
      std::sort(sets.begin(), sets.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& each : sets) own->rrsets.push_back(each.second);
      own->nodes[at].count = static_cast<std::uint16_t>(sets.size());
      k = end;
    }
    // Empty non-terminals: every ancestor of a name, down from the origin, is a node.
    z.index();
    std::vector<name> ancestors;
    for (std::size_t i = 0; i < own->nodes.size(); ++i)
      for (name up = name::from_checked_wire(z.t_.nodes[i].owner(z)); !(up == origin);) {
        up = up.parent();
        if (!z.find(up.wire())) ancestors.push_back(up);
      }
    for (name& n : ancestors) n.to_lower_case();
    auto wire_less = [](const name& a, const name& b) {
      return std::lexicographical_compare(a.wire().begin(), a.wire().end(), b.wire().begin(), b.wire().end());
    };
    std::sort(ancestors.begin(), ancestors.end(), wire_less);
    ancestors.erase(std::unique(ancestors.begin(), ancestors.end()), ancestors.end());
    for (const name& n : ancestors) add_node(n, 0);
    // The bytes as lookups read them: every record's rdata, in record order, then the owner names.
    std::vector<std::uint8_t> packed;
    for (const placed_record& r : placed) {
      own->records.push_back(static_cast<std::uint32_t>(packed.size()));
      packed.insert(packed.end(), bytes.begin() + r.offset, bytes.begin() + r.offset + r.length);
    }
    own->records.push_back(static_cast<std::uint32_t>(packed.size()));
    for (node& n : own->nodes) {
      const auto owner = bytes.begin() + n.owner_at;
      n.owner_at = static_cast<std::uint32_t>(packed.size());
      packed.insert(packed.end(), owner, owner + n.owner_size);
    }
    bytes = std::move(packed);
    z.index();
    if (const node* apex = z.find(origin.wire())) z.t_.apex = static_cast<std::uint32_t>(apex - z.t_.nodes.data());
    if (!z.soa()) return bad(records.size(), "no SOA record at the zone apex " + origin.to_string());
    return z;
  }

  zone() = default;
  // Member by member (a swap copied the 255-byte name three times); `o` is left without tables.
  zone(zone&& o) noexcept
      : origin_(o.origin_),
        t_(std::exchange(o.t_, tables{})),  // no nodes: no apex
        owned_(std::exchange(o.owned_, nullptr)),
        release_(std::exchange(o.release_, nullptr)) {}
  zone& operator=(zone&& o) noexcept {
    if (this != &o) {
      if (release_) release_(owned_);
      origin_ = o.origin_;
      t_ = std::exchange(o.t_, tables{});
      owned_ = std::exchange(o.owned_, nullptr);
      release_ = std::exchange(o.release_, nullptr);
    }
    return *this;
  }
  zone(const zone&) = delete;
  ~zone() {
    if (release_) release_(owned_);
  }

 private:
  // The tables of a built zone. (Only build() names it: an image whose zone was
  // compiled at build time holds no std::vector code for it.)
  struct storage {
    std::vector<node> nodes;
    std::vector<rrset> rrsets;
    std::vector<std::uint32_t> records;
    std::vector<std::uint8_t> bytes;
    std::vector<std::uint32_t> index;
  };

  // (Re)builds the name index over the nodes so far, and points the tables at the storage.
  void index() {
    auto* own = static_cast<storage*>(owned_);
    std::size_t cap = 16;
    while (cap < own->nodes.size() * 2) cap *= 2;
    own->index.assign(cap, 0);
    t_ = {own->nodes, own->rrsets, own->records, own->bytes, own->index, no_apex};
    for (std::size_t i = 0; i < own->nodes.size(); ++i) {
      std::size_t at = wire_hash(own->nodes[i].owner(*this)) & (cap - 1);
      while (own->index[at] != 0) at = (at + 1) & (cap - 1);
      own->index[at] = static_cast<std::uint32_t>(i + 1);
    }
  }

  static constexpr std::uint32_t no_apex = 0xFFFFFFFF;
  name origin_;
  tables t_{{}, {}, {}, {}, {}, no_apex};
  void* owned_ = nullptr;  // a built zone's storage, freed by release_
  void (*release_)(void*) noexcept = nullptr;
};

}  // namespace uni::dns
