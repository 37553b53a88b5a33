// uni/dns/message.hpp: DNS messages on the wire (RFC 1035 §4): the header, the
// question, resource records read one at a time from a message, and a writer
// that compresses names (§4.1.4) into a caller's buffer. Nothing here
// allocates: the reader works on the message's bytes, the writer on a span
// given to it, and its compression table has a fixed size.
//
// Record types (RFC 1035, 3596, 2782, 8659) and the rules for which rdata
// names may be compressed (RFC 3597 §4: only the types of RFC 1035) are in
// uni/dns/rdata.hpp.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include <uni/core/result.hpp>
#include <uni/core/wire.hpp>
#include <uni/dns/name.hpp>

namespace uni::dns {

enum class rcode : std::uint8_t {
  noerror = 0,
  formerr = 1,
  servfail = 2,
  nxdomain = 3,
  notimp = 4,
  refused = 5,
  yxdomain = 6,  // a DNAME substitution longer than a name may be (RFC 6672 §2.2)
};
inline constexpr std::uint16_t badvers = 16;  // extended rcode (RFC 6891 §9)

enum class opcode : std::uint8_t { query = 0, iquery = 1, status = 2, notify = 4, update = 5 };

namespace rr_type {
inline constexpr std::uint16_t a = 1, ns = 2, cname = 5, soa = 6, ptr = 12, hinfo = 13, mx = 15, txt = 16,
                               aaaa = 28, srv = 33, dname = 39, opt = 41, ds = 43, rrsig = 46, nsec = 47, caa = 257, ixfr = 251,
                               axfr = 252, any = 255;
}
namespace rr_class {
inline constexpr std::uint16_t in = 1, ch = 3, any = 255;
}

inline constexpr std::size_t header_size = 12;

// The 12-byte header (§4.1.1), as a value.
struct header {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;
  std::uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;

  static constexpr std::uint16_t qr = 0x8000, aa = 0x0400, tc = 0x0200, rd = 0x0100, ra = 0x0080, ad = 0x0020,
                                 cd = 0x0010;
  constexpr bool is_response() const noexcept { return flags & qr; }
  constexpr opcode op() const noexcept { return static_cast<opcode>((flags >> 11) & 0xF); }
  constexpr std::uint8_t rcode_bits() const noexcept { return flags & 0xF; }

  static result<header> parse(std::span<const std::uint8_t> m) noexcept {
    if (m.size() < header_size) return fail(error::truncated);
    return header{wire::load_be16(&m[0]), wire::load_be16(&m[2]), wire::load_be16(&m[4]),
                  wire::load_be16(&m[6]), wire::load_be16(&m[8]), wire::load_be16(&m[10])};
  }
  void emit(std::uint8_t* p) const noexcept {
    wire::store_be16(p + 0, id);
    wire::store_be16(p + 2, flags);
    wire::store_be16(p + 4, qdcount);
    wire::store_be16(p + 6, ancount);
    wire::store_be16(p + 8, nscount);
    wire::store_be16(p + 10, arcount);
  }
};

struct question {
  name qname;
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
};

// A resource record as it lies in a message: rdata still refers to the
// message (its names may be compressed pointers into it).
struct record_view {
  name owner;
  std::uint16_t type = 0;
  std::uint16_t rclass = 0;
  std::uint32_t ttl = 0;
  std::size_t rdata_offset = 0;  // in the message
  std::uint16_t rdata_length = 0;
};

// Reads a message's sections in order. Every read checks its length first.
class message_reader {
 public:
  explicit message_reader(std::span<const std::uint8_t> m) noexcept : msg_(m) {}

  result<header> read_header() noexcept {
    auto h = header::parse(msg_);
    if (h) at_ = header_size;
    return h;
  }
  result<question> read_question() noexcept {
    auto n = name::read(msg_, at_);
    if (!n) return fail(n.err());
    if (at_ + 4 > msg_.size()) return fail(error::truncated);
    question q{*n, wire::load_be16(&msg_[at_]), wire::load_be16(&msg_[at_ + 2])};
    at_ += 4;
    return q;
  }
  result<record_view> read_record() noexcept {
    auto n = name::read(msg_, at_);
    if (!n) return fail(n.err());
    if (at_ + 10 > msg_.size()) return fail(error::truncated);
    record_view r;
    r.owner = *n;
    r.type = wire::load_be16(&msg_[at_]);
    r.rclass = wire::load_be16(&msg_[at_ + 2]);
    r.ttl = wire::load_be32(&msg_[at_ + 4]);
    r.rdata_length = wire::load_be16(&msg_[at_ + 8]);
    r.rdata_offset = at_ + 10;
    if (r.rdata_offset + r.rdata_length > msg_.size()) return fail(error::truncated);
    at_ = r.rdata_offset + r.rdata_length;
    return r;
  }
  std::size_t offset() const noexcept { return at_; }
  std::span<const std::uint8_t> message() const noexcept { return msg_; }
  std::span<const std::uint8_t> rdata(const record_view& r) const noexcept {
    return msg_.subspan(r.rdata_offset, r.rdata_length);
  }

 private:
  std::span<const std::uint8_t> msg_;
  std::size_t at_ = 0;
};

// Writes a message into `out`, compressing names against those already
// written. Each write either fits whole or fails with error::too_large and
// leaves the message as it was, so a caller can roll a whole RRset back with
// mark()/rewind() and set TC.
class message_writer {
 public:
  // Name suffixes remembered for compression; past this, names go uncompressed.
  static constexpr std::size_t compression_entries = 64;

  explicit message_writer(std::span<std::uint8_t> out) noexcept : out_(out) {}

  struct mark_t {
    std::size_t at, entries;
  };
  mark_t mark() const noexcept { return {at_, entries_}; }
  void rewind(mark_t m) noexcept {
    at_ = m.at;
    entries_ = m.entries;
  }
  std::size_t size() const noexcept { return at_; }
  std::span<std::uint8_t> bytes() const noexcept { return out_.first(at_); }
  std::uint8_t* data() const noexcept { return out_.data(); }
  // Shrinks what the message may use (to the client's payload size).
  void limit(std::size_t n) noexcept {
    if (n < out_.size()) out_ = out_.first(n);
  }
  std::size_t capacity() const noexcept { return out_.size(); }

  result<void> header(const dns::header& h) noexcept {
    if (out_.size() < header_size) return fail(error::too_large);
    h.emit(out_.data());
    at_ = std::max(at_, header_size);
    return {};
  }
  result<void> bytes(std::span<const std::uint8_t> b) noexcept {
    if (at_ + b.size() > out_.size()) return fail(error::too_large);
    if (!b.empty()) std::memcpy(out_.data() + at_, b.data(), b.size());
    at_ += b.size();
    return {};
  }
  result<void> u16(std::uint16_t v) noexcept {
    if (at_ + 2 > out_.size()) return fail(error::too_large);
    wire::store_be16(out_.data() + at_, v);
    at_ += 2;
    return {};
  }
  result<void> u32(std::uint32_t v) noexcept {
    if (at_ + 4 > out_.size()) return fail(error::too_large);
    wire::store_be32(out_.data() + at_, v);
    at_ += 4;
    return {};
  }

  // Writes an uncompressed wire name, compressed if `compress` (and remembers
  // its suffixes for later names either way).
  result<void> write_name(std::span<const std::uint8_t> w, bool compress = true) noexcept {
    const mark_t start = mark();
    std::size_t pos = 0;                 // w[0, pos): written as they are
    std::optional<std::size_t> earlier;  // where the rest of the name was written before
    while (w[pos] != 0) {
      if (compress && (earlier = find(w.subspan(pos)))) break;
      if (!bytes(w.subspan(pos, w[pos] + 1u))) return rollback(start);
      pos += w[pos] + 1u;
    }
    if (!(earlier ? u16(static_cast<std::uint16_t>(0xC000 | *earlier)) : bytes(w.subspan(pos, 1))))
      return rollback(start);
    // This name's labels join the table only once it is whole: matched while
    // half written, a suffix would be compared with bytes not yet ours, and a
    // pointer could point into the name itself (a loop).
    for (std::size_t p = 0; p < pos; p += w[p] + 1u) remember(start.at + p);
    return {};
  }

 private:
  result<void> rollback(mark_t m) noexcept {
    rewind(m);
    return fail(error::too_large);
  }
  void remember(std::size_t offset) noexcept {
    if (entries_ < compression_entries && offset < 0x3FFF) table_[entries_++] = static_cast<std::uint16_t>(offset);
  }
  // The offset of an earlier name equal (ignoring case) to the suffix `w`.
  std::optional<std::size_t> find(std::span<const std::uint8_t> w) const noexcept {
    for (std::size_t e = 0; e < entries_; ++e)
      if (matches(table_[e], w)) return table_[e];
    return std::nullopt;
  }
  // Compares the name written at `at` (following our own pointers) with `w`.
  bool matches(std::size_t at, std::span<const std::uint8_t> w) const noexcept {
    std::size_t pos = 0;
    for (int hops = 0; hops < 128; ++hops) {
      std::uint8_t len = out_[at];
      if ((len & 0xC0) == 0xC0) {
        at = static_cast<std::size_t>(len & 0x3F) << 8 | out_[at + 1];
        continue;
      }
      if (len != w[pos]) return false;
      if (len == 0) return true;
      for (std::size_t k = 1; k <= len; ++k)
        if (to_lower(out_[at + k]) != to_lower(w[pos + k])) return false;
      at += len + 1u;
      pos += len + 1u;
    }
    return false;
  }

  std::span<std::uint8_t> out_;
  std::size_t at_ = 0;
  std::array<std::uint16_t, compression_entries> table_{};
  std::size_t entries_ = 0;
};

}  // namespace uni::dns
