// uni/dns/rdata.hpp: what the record types' data look like on the wire, as far
// as names are concerned: A (RFC 1035 §3.4.1), NS, CNAME, SOA, PTR, MX, TXT
// (§3.3), AAAA (RFC 3596), SRV (RFC 2782), CAA (RFC 8659), and every other type
// as opaque bytes (RFC 3597). Only the RFC 1035 types with names (NS, CNAME,
// SOA, PTR, MX) are compressed when written (RFC 3597 §4); SRV's target is
// not (RFC 2782), but is decompressed when read, as RFC 3597 §4 allows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include <uni/core/result.hpp>
#include <uni/core/wire.hpp>
#include <uni/dns/message.hpp>
#include <uni/dns/name.hpp>

namespace uni::dns {

// Where an rdata's names are: `prefix` fixed bytes, then `names` names, then
// `suffix` fixed bytes (none for the variable-length types).
struct rdata_layout {
  std::uint8_t prefix = 0;
  std::uint8_t names = 0;
  std::uint8_t suffix = 0;
  bool compress = false;  // may be compressed when written
  // Exact length for fixed-size types without names (A, AAAA), else 0.
  std::uint8_t fixed = 0;
};

// The types with names or a fixed length; every other type's rdata is opaque.
struct typed_layout {
  std::uint16_t type;
  rdata_layout layout;
};
inline constexpr typed_layout known_layouts[] = {
    {rr_type::a, {0, 0, 0, false, 4}},    {rr_type::aaaa, {0, 0, 0, false, 16}}, {rr_type::ns, {0, 1, 0, true, 0}},
    {rr_type::cname, {0, 1, 0, true, 0}}, {rr_type::ptr, {0, 1, 0, true, 0}},    {rr_type::dname, {0, 1, 0, false, 0}},
    {rr_type::soa, {0, 2, 20, true, 0}},  {rr_type::mx, {2, 1, 0, true, 0}},     {rr_type::srv, {6, 1, 0, false, 0}},
};

constexpr rdata_layout layout_of(std::uint16_t type) noexcept {
  for (const typed_layout& k : known_layouts)
    if (k.type == type) return k.layout;
  return {};
}
constexpr bool has_names(std::uint16_t type) noexcept { return layout_of(type).names > 0; }

// Checks uncompressed rdata of `type` (as stored in a zone): fixed lengths, names
// well formed, TXT character-strings exactly filling it, CAA's tag present.
inline result<void> check_rdata(std::uint16_t type, std::span<const std::uint8_t> r) noexcept {
  const rdata_layout l = layout_of(type);
  if (l.fixed) return r.size() == l.fixed ? result<void>{} : fail(error::malformed);
  if (l.names) {
    if (r.size() < l.prefix) return fail(error::malformed);
    std::size_t at = l.prefix;
    for (int i = 0; i < l.names; ++i) {
      std::size_t end = 0;  // within the subspan
      // Uncompressed: a pointer would point outside this rdata, so reading
      // from a span that starts here rejects it.
      auto n = name::read(r.subspan(at), end);
      if (!n) return fail(error::malformed);
      for (std::size_t k = 0; k < end; k += r[at + k] + 1u)
        if ((r[at + k] & 0xC0) != 0) return fail(error::malformed);
      at += end;
    }
    return r.size() == at + l.suffix ? result<void>{} : fail(error::malformed);
  }
  if (type == rr_type::txt) {
    if (r.empty()) return fail(error::malformed);
    std::size_t at = 0;
    while (at < r.size()) at += r[at] + 1u;
    return at == r.size() ? result<void>{} : fail(error::malformed);
  }
  if (type == rr_type::caa) {
    if (r.size() < 2 || r[1] == 0 || 2u + r[1] > r.size()) return fail(error::malformed);
    return {};
  }
  return {};
}

// Appends uncompressed rdata `r` of `type` to `w` (the RDLENGTH field first),
// compressing names where the type allows. Fails whole if it does not fit.
inline result<void> write_rdata(message_writer& w, std::uint16_t type, std::span<const std::uint8_t> r) noexcept {
  const rdata_layout l = layout_of(type);
  const auto start = w.mark();
  bool ok = bool(w.u16(0));  // RDLENGTH, once the rdata is written
  const std::size_t begin = w.size();
  std::size_t at = 0;  // what is left from here on is written as it is
  if (l.compress) {    // the fixed fields before the names, then the names
    ok = ok && w.bytes(r.first(l.prefix));
    at = l.prefix;
    for (int i = 0; ok && i < l.names; ++i) {
      std::size_t n = 0;
      while (r[at + n] != 0) n += r[at + n] + 1u;
      ++n;
      ok = bool(w.write_name(r.subspan(at, n), true));
      at += n;
    }
  }
  if (!ok || !w.bytes(r.subspan(at))) {
    w.rewind(start);
    return fail(error::too_large);
  }
  wire::store_be16(w.data() + begin - 2, static_cast<std::uint16_t>(w.size() - begin));
  return {};
}

// The rdata of a record read from a message, names decompressed, into `out`:
// returns its length. error::malformed if it does not match its type.
inline result<std::size_t> expand_rdata(std::span<const std::uint8_t> msg, const record_view& rr,
                                        std::span<std::uint8_t> out) noexcept {
  const rdata_layout l = layout_of(rr.type);
  const std::span<const std::uint8_t> r = msg.subspan(rr.rdata_offset, rr.rdata_length);
  std::size_t n = 0;
  auto put = [&](std::span<const std::uint8_t> b) -> bool {
    if (n + b.size() > out.size()) return false;
    if (!b.empty()) std::memcpy(out.data() + n, b.data(), b.size());
    n += b.size();
    return true;
  };
  if (!l.names) {
    if (!put(r)) return fail(error::too_large);
    if (!check_rdata(rr.type, out.first(n))) return fail(error::malformed);
    return n;
  }
  if (r.size() < l.prefix) return fail(error::malformed);
  if (!put(r.first(l.prefix))) return fail(error::too_large);
  // Names read from the whole message (pointers point into it), but must end
  // inside this rdata.
  std::size_t at = rr.rdata_offset + l.prefix;
  const std::size_t end = rr.rdata_offset + rr.rdata_length;
  for (int i = 0; i < l.names; ++i) {
    auto nm = name::read(msg.first(end), at);
    if (!nm) return fail(error::malformed);
    if (!put(nm->wire())) return fail(error::too_large);
  }
  if (end - at != l.suffix) return fail(error::malformed);
  if (!put(msg.subspan(at, l.suffix))) return fail(error::too_large);
  return n;
}

}  // namespace uni::dns
