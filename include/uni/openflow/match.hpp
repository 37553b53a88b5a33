// uni/openflow/match.hpp: what a flow matches, as one value for both versions:
// 1.0's fixed ofp_match with its wildcard bits (§5.2.3), and 1.3's OXM TLVs in
// an OFPMT_OXM match (§7.2.2, §A.2.3). The fields are 1.0's twelve (in 1.3
// terms: TCP/UDP/SCTP ports or ICMP type and code by ip_proto; ARP opcode and
// addresses when eth_type is ARP, as 1.0 reads nw_proto/nw_src/nw_dst) plus
// 1.3's metadata. An OXM field outside this set is counted in `others` when
// parsed (a packet_in may carry tunnel or register fields): a switch refuses
// such a flow with BAD_MATCH/BAD_FIELD, a controller reads past it.
#pragma once

#include <bit>
#include <cstdint>

#include <uni/net/mac_address.hpp>
#include <uni/openflow/cursor.hpp>
#include <uni/openflow/error.hpp>
#include <uni/openflow/port_number.hpp>

namespace uni::openflow {

inline constexpr std::uint16_t vlan_none = 0xffff;  // matches frames without a VLAN tag
inline constexpr std::uint16_t ethertype_ipv4 = 0x0800, ethertype_arp = 0x0806;

struct match {
  enum field : std::uint16_t {
    in_port = 1 << 0, eth_src = 1 << 1, eth_dst = 1 << 2, vlan_vid = 1 << 3, vlan_pcp = 1 << 4,
    eth_type = 1 << 5, ip_dscp = 1 << 6, ip_proto = 1 << 7, ipv4_src = 1 << 8, ipv4_dst = 1 << 9,
    tp_src = 1 << 10, tp_dst = 1 << 11, metadata = 1 << 12,
  };
  std::uint16_t fields = 0;  // which are matched; the rest are wildcards
  std::uint32_t in_port_v = 0;
  mac_address eth_src_v, eth_dst_v;
  std::uint16_t vlan_vid_v = 0;  // 12-bit VID, or vlan_none
  std::uint8_t vlan_pcp_v = 0;
  std::uint16_t eth_type_v = 0;
  std::uint8_t ip_dscp_v = 0;   // 6 bits (1.0's nw_tos >> 2)
  std::uint8_t ip_proto_v = 0;  // or the ARP opcode's low byte
  std::uint32_t ipv4_src_v = 0, ipv4_src_mask = 0xffffffff;  // or ARP SPA
  std::uint32_t ipv4_dst_v = 0, ipv4_dst_mask = 0xffffffff;  // or ARP TPA
  std::uint16_t tp_src_v = 0, tp_dst_v = 0;                  // or ICMP type and code
  std::uint64_t metadata_v = 0, metadata_mask = ~std::uint64_t{0};
  std::uint16_t others = 0;  // OXM fields parsed but not represented

  constexpr bool has(field f) const noexcept { return (fields & f) != 0; }
  friend constexpr bool operator==(const match&, const match&) noexcept = default;

  // Builders, for readable call sites: match{}.with_in_port(1).with_eth_dst(m).
  constexpr match& with_in_port(std::uint32_t p) noexcept { return set(in_port, in_port_v, p); }
  constexpr match& with_eth_src(mac_address m) noexcept { return set(eth_src, eth_src_v, m); }
  constexpr match& with_eth_dst(mac_address m) noexcept { return set(eth_dst, eth_dst_v, m); }
  constexpr match& with_vlan(std::uint16_t vid) noexcept { return set(vlan_vid, vlan_vid_v, vid); }
  constexpr match& with_eth_type(std::uint16_t t) noexcept { return set(eth_type, eth_type_v, t); }
  constexpr match& with_ip_proto(std::uint8_t p) noexcept { return set(ip_proto, ip_proto_v, p); }
  constexpr match& with_tp_dst(std::uint16_t p) noexcept { return set(tp_dst, tp_dst_v, p); }

 private:
  template <class T, class V>
  constexpr match& set(field f, T& slot, V v) noexcept {
    fields |= f;
    slot = static_cast<T>(v);
    return *this;
  }
};

// ---- OpenFlow 1.0: struct ofp_match, 40 bytes -------------------------------

inline constexpr std::size_t match10_size = 40;

namespace wildcard10 {
inline constexpr std::uint32_t in_port = 1 << 0, dl_vlan = 1 << 1, dl_src = 1 << 2, dl_dst = 1 << 3,
                               dl_type = 1 << 4, nw_proto = 1 << 5, tp_src = 1 << 6, tp_dst = 1 << 7,
                               nw_src_shift = 8, nw_dst_shift = 14, dl_vlan_pcp = 1 << 20, nw_tos = 1 << 21,
                               all = (1 << 22) - 1;
}

// 1.0's one-bit wildcards and the fields they leave unmatched.
struct wildcard_bit {
  std::uint32_t bit;
  match::field f;
};
inline constexpr wildcard_bit wildcard_bits10[] = {
    {wildcard10::in_port, match::in_port},   {wildcard10::dl_vlan, match::vlan_vid},
    {wildcard10::dl_src, match::eth_src},    {wildcard10::dl_dst, match::eth_dst},
    {wildcard10::dl_type, match::eth_type},  {wildcard10::nw_proto, match::ip_proto},
    {wildcard10::tp_src, match::tp_src},     {wildcard10::tp_dst, match::tp_dst},
    {wildcard10::dl_vlan_pcp, match::vlan_pcp}, {wildcard10::nw_tos, match::ip_dscp},
};

// A prefix mask from 1.0's count of wildcarded low bits (32 or more: all).
constexpr std::uint32_t mask_of_wild_bits(std::uint32_t n) noexcept { return n >= 32 ? 0 : ~std::uint32_t{0} << n; }
// The count of wildcarded bits of a prefix mask; 33 if it is not a prefix.
constexpr std::uint32_t wild_bits_of_mask(std::uint32_t m) noexcept {
  const auto n = static_cast<std::uint32_t>(std::countr_zero(m));
  return mask_of_wild_bits(n) == m ? n : 33;
}

// Reads ofp_match; error::malformed for a field 1.0 cannot state.
constexpr result<match> parse_match10(reader& r) noexcept {
  match m;
  const std::uint32_t w = r.u32();
  m.in_port_v = port_from_10(r.u16());
  m.eth_src_v = r.mac();
  m.eth_dst_v = r.mac();
  m.vlan_vid_v = r.u16();
  if (m.vlan_vid_v != vlan_none) m.vlan_vid_v &= 0x0fff;
  m.vlan_pcp_v = r.u8();
  r.skip(1);
  m.eth_type_v = r.u16();
  m.ip_dscp_v = static_cast<std::uint8_t>(r.u8() >> 2);
  m.ip_proto_v = r.u8();
  r.skip(2);
  m.ipv4_src_v = r.u32();
  m.ipv4_dst_v = r.u32();
  m.tp_src_v = r.u16();
  m.tp_dst_v = r.u16();
  if (!r.ok()) return fail(error::truncated);
  using namespace wildcard10;
  for (const wildcard_bit& b : wildcard_bits10)
    if (!(w & b.bit)) m.fields |= b.f;
  m.ipv4_src_mask = mask_of_wild_bits(w >> nw_src_shift & 63);
  m.ipv4_dst_mask = mask_of_wild_bits(w >> nw_dst_shift & 63);
  if (m.ipv4_src_mask) m.fields |= match::ipv4_src;
  if (m.ipv4_dst_mask) m.fields |= match::ipv4_dst;
  // Zero what is wildcarded, so equal matches compare equal.
  const match full = m;
  match out;
  out.fields = full.fields;
  if (full.has(match::in_port)) out.in_port_v = full.in_port_v;
  if (full.has(match::eth_src)) out.eth_src_v = full.eth_src_v;
  if (full.has(match::eth_dst)) out.eth_dst_v = full.eth_dst_v;
  if (full.has(match::vlan_vid)) out.vlan_vid_v = full.vlan_vid_v;
  if (full.has(match::vlan_pcp)) out.vlan_pcp_v = full.vlan_pcp_v;
  if (full.has(match::eth_type)) out.eth_type_v = full.eth_type_v;
  if (full.has(match::ip_dscp)) out.ip_dscp_v = full.ip_dscp_v;
  if (full.has(match::ip_proto)) out.ip_proto_v = full.ip_proto_v;
  if (full.has(match::ipv4_src)) {
    out.ipv4_src_mask = full.ipv4_src_mask;
    out.ipv4_src_v = full.ipv4_src_v & full.ipv4_src_mask;
  }
  if (full.has(match::ipv4_dst)) {
    out.ipv4_dst_mask = full.ipv4_dst_mask;
    out.ipv4_dst_v = full.ipv4_dst_v & full.ipv4_dst_mask;
  }
  if (full.has(match::tp_src)) out.tp_src_v = full.tp_src_v;
  if (full.has(match::tp_dst)) out.tp_dst_v = full.tp_dst_v;
  return out;
}

constexpr result<void> emit_match10(writer& w, const match& m) noexcept {
  if (m.has(match::metadata) || m.others) return fail(error::invalid_argument);
  const std::uint32_t src_wild = m.has(match::ipv4_src) ? wild_bits_of_mask(m.ipv4_src_mask) : 32;
  const std::uint32_t dst_wild = m.has(match::ipv4_dst) ? wild_bits_of_mask(m.ipv4_dst_mask) : 32;
  if (src_wild > 32 || dst_wild > 32) return fail(error::invalid_argument);
  using namespace wildcard10;
  std::uint32_t wild = src_wild << nw_src_shift | dst_wild << nw_dst_shift;
  for (const wildcard_bit& b : wildcard_bits10)
    if (!m.has(b.f)) wild |= b.bit;
  w.u32(wild);
  w.u16(m.has(match::in_port) ? port_to_10(m.in_port_v) : 0);
  w.mac(m.has(match::eth_src) ? m.eth_src_v : mac_address{});
  w.mac(m.has(match::eth_dst) ? m.eth_dst_v : mac_address{});
  w.u16(m.has(match::vlan_vid) ? m.vlan_vid_v : 0);
  w.u8(m.has(match::vlan_pcp) ? m.vlan_pcp_v : 0);
  w.zeros(1);
  w.u16(m.has(match::eth_type) ? m.eth_type_v : 0);
  w.u8(m.has(match::ip_dscp) ? static_cast<std::uint8_t>(m.ip_dscp_v << 2) : 0);
  w.u8(m.has(match::ip_proto) ? m.ip_proto_v : 0);
  w.zeros(2);
  w.u32(m.has(match::ipv4_src) ? m.ipv4_src_v & m.ipv4_src_mask : 0);
  w.u32(m.has(match::ipv4_dst) ? m.ipv4_dst_v & m.ipv4_dst_mask : 0);
  w.u16(m.has(match::tp_src) ? m.tp_src_v : 0);
  w.u16(m.has(match::tp_dst) ? m.tp_dst_v : 0);
  return {};
}

// ---- OpenFlow 1.3: OXM TLVs (class OPENFLOW_BASIC) ----------------------------

namespace oxm {
inline constexpr std::uint16_t basic = 0x8000;
enum field : std::uint8_t {
  in_port = 0, in_phy_port = 1, metadata = 2, eth_dst = 3, eth_src = 4, eth_type = 5, vlan_vid = 6, vlan_pcp = 7,
  ip_dscp = 8, ip_ecn = 9, ip_proto = 10, ipv4_src = 11, ipv4_dst = 12, tcp_src = 13, tcp_dst = 14,
  udp_src = 15, udp_dst = 16, sctp_src = 17, sctp_dst = 18, icmpv4_type = 19, icmpv4_code = 20,
  arp_op = 21, arp_spa = 22, arp_tpa = 23,
};
inline constexpr std::uint16_t vid_present = 0x1000;
inline constexpr std::uint16_t match_type_oxm = 1;
}  // namespace oxm

namespace detail {

// The OXM fields carrying 1.0's transport ports for an IP protocol; 0/0 if none.
struct tp_fields {
  std::uint8_t src = 0, dst = 0, width = 0;
};
constexpr tp_fields tp_for(std::uint8_t proto) noexcept {
  switch (proto) {
    case 6: return {oxm::tcp_src, oxm::tcp_dst, 2};
    case 17: return {oxm::udp_src, oxm::udp_dst, 2};
    case 132: return {oxm::sctp_src, oxm::sctp_dst, 2};
    case 1: return {oxm::icmpv4_type, oxm::icmpv4_code, 1};
    default: return {};
  }
}

constexpr void oxm_header(writer& w, std::uint8_t f, bool masked, std::uint8_t len) noexcept {
  w.u16(oxm::basic);
  w.u8(static_cast<std::uint8_t>(f << 1 | (masked ? 1 : 0)));
  w.u8(masked ? static_cast<std::uint8_t>(len * 2) : len);
}
constexpr void oxm_uint(writer& w, std::uint8_t f, std::uint8_t width, std::uint64_t v) noexcept {
  oxm_header(w, f, false, width);
  for (int i = width - 1; i >= 0; --i) w.u8(static_cast<std::uint8_t>(v >> (8 * i)));
}
constexpr void oxm_ipv4(writer& w, std::uint8_t f, std::uint32_t v, std::uint32_t mask) noexcept {
  const bool masked = mask != 0xffffffff;
  oxm_header(w, f, masked, 4);
  w.u32(v & mask);
  if (masked) w.u32(mask);
}

}  // namespace detail

// The OXM TLVs of a match (no ofp_match header), in prerequisite order.
// error::invalid_argument for ports without an IP protocol that has them.
constexpr result<void> emit_oxm_fields(writer& w, const match& m) noexcept {
  using namespace detail;
  if (m.others) return fail(error::invalid_argument);
  if (m.has(match::in_port)) oxm_uint(w, oxm::in_port, 4, m.in_port_v);
  if (m.has(match::metadata)) {
    const bool masked = m.metadata_mask != ~std::uint64_t{0};
    oxm_header(w, oxm::metadata, masked, 8);
    w.u64(m.metadata_v & m.metadata_mask);
    if (masked) w.u64(m.metadata_mask);
  }
  if (m.has(match::eth_dst)) {
    oxm_header(w, oxm::eth_dst, false, 6);
    w.mac(m.eth_dst_v);
  }
  if (m.has(match::eth_src)) {
    oxm_header(w, oxm::eth_src, false, 6);
    w.mac(m.eth_src_v);
  }
  if (m.has(match::eth_type)) oxm_uint(w, oxm::eth_type, 2, m.eth_type_v);
  if (m.has(match::vlan_vid))
    oxm_uint(w, oxm::vlan_vid, 2, m.vlan_vid_v == vlan_none ? 0 : (m.vlan_vid_v | oxm::vid_present));
  if (m.has(match::vlan_pcp)) oxm_uint(w, oxm::vlan_pcp, 1, m.vlan_pcp_v);
  const bool arp = m.has(match::eth_type) && m.eth_type_v == ethertype_arp;
  if (arp) {
    if (m.has(match::ip_proto)) oxm_uint(w, oxm::arp_op, 2, m.ip_proto_v);
    if (m.has(match::ipv4_src)) oxm_ipv4(w, oxm::arp_spa, m.ipv4_src_v, m.ipv4_src_mask);
    if (m.has(match::ipv4_dst)) oxm_ipv4(w, oxm::arp_tpa, m.ipv4_dst_v, m.ipv4_dst_mask);
    if (m.has(match::tp_src) || m.has(match::tp_dst) || m.has(match::ip_dscp)) return fail(error::invalid_argument);
    return {};
  }
  if (m.has(match::ip_dscp)) oxm_uint(w, oxm::ip_dscp, 1, m.ip_dscp_v);
  if (m.has(match::ip_proto)) oxm_uint(w, oxm::ip_proto, 1, m.ip_proto_v);
  if (m.has(match::ipv4_src)) oxm_ipv4(w, oxm::ipv4_src, m.ipv4_src_v, m.ipv4_src_mask);
  if (m.has(match::ipv4_dst)) oxm_ipv4(w, oxm::ipv4_dst, m.ipv4_dst_v, m.ipv4_dst_mask);
  if (m.has(match::tp_src) || m.has(match::tp_dst)) {
    const tp_fields tp = m.has(match::ip_proto) ? tp_for(m.ip_proto_v) : tp_fields{};
    if (tp.width == 0) return fail(error::invalid_argument);
    if (m.has(match::tp_src)) oxm_uint(w, tp.src, tp.width, m.tp_src_v);
    if (m.has(match::tp_dst)) oxm_uint(w, tp.dst, tp.width, m.tp_dst_v);
  }
  return {};
}

// struct ofp_match of 1.3: type OXM, length (without padding), TLVs, padding to 8.
constexpr result<void> emit_match13(writer& w, const match& m) noexcept {
  const std::size_t start = w.size();
  w.u16(oxm::match_type_oxm);
  w.u16(0);
  if (auto f = emit_oxm_fields(w, m); !f) return f;
  w.patch16(start + 2, static_cast<std::uint16_t>(w.size() - start));
  w.pad_to(8);
  return {};
}

// One OXM TLV into `m`. refusal for what a switch must refuse.
constexpr result<void> parse_oxm_field(reader& r, match& m, refusal& why) noexcept {
  const std::uint16_t cls = r.u16();
  const std::uint8_t fh = r.u8();
  const std::uint8_t len = r.u8();
  auto body = r.bytes(len);
  if (!r.ok()) {
    why = refusal::bad_len;
    return fail(error::truncated);
  }
  const auto f = static_cast<std::uint8_t>(fh >> 1);
  const bool masked = fh & 1;
  if (cls != oxm::basic || f > oxm::arp_tpa || f == oxm::in_phy_port || f == oxm::ip_ecn) {
    ++m.others;
    return {};
  }
  constexpr std::uint8_t widths[] = {4, 4, 8, 6, 6, 2, 2, 1, 1, 1, 1, 4, 4, 2, 2, 2, 2, 2, 2, 1, 1, 2, 4, 4};
  const std::size_t w = widths[f];
  if (len != (masked ? 2 * w : w)) {
    why = refusal::bad_len;
    return fail(error::malformed);
  }
  reader v(body);
  const auto set = [&](match::field which) {
    if (m.has(which)) return false;  // a field twice: DUP_FIELD, refused as a bad field
    m.fields |= which;
    return true;
  };
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < w && f != oxm::eth_src && f != oxm::eth_dst; ++i) value = value << 8 | v.u8();
  std::uint64_t mask = ~std::uint64_t{0};
  if (masked && f != oxm::eth_src && f != oxm::eth_dst) {
    mask = 0;
    for (std::size_t i = 0; i < w; ++i) mask = mask << 8 | v.u8();
  }
  bool fresh = true;
  switch (f) {
    case oxm::in_port: fresh = set(match::in_port); m.in_port_v = static_cast<std::uint32_t>(value); break;
    case oxm::metadata:
      fresh = set(match::metadata);
      m.metadata_mask = mask;
      m.metadata_v = value & mask;
      break;
    case oxm::eth_dst:
    case oxm::eth_src: {
      const mac_address a = v.mac();
      if (masked && v.mac() != mac_address::broadcast()) {
        why = refusal::bad_match_mask;
        return fail(error::malformed);
      }
      fresh = set(f == oxm::eth_dst ? match::eth_dst : match::eth_src);
      (f == oxm::eth_dst ? m.eth_dst_v : m.eth_src_v) = a;
      break;
    }
    case oxm::eth_type: fresh = set(match::eth_type); m.eth_type_v = static_cast<std::uint16_t>(value); break;
    case oxm::vlan_vid:
      if (masked) {
        why = refusal::bad_match_mask;
        return fail(error::malformed);
      }
      fresh = set(match::vlan_vid);
      m.vlan_vid_v = (value & oxm::vid_present) ? static_cast<std::uint16_t>(value & 0x0fff) : vlan_none;
      break;
    case oxm::vlan_pcp: fresh = set(match::vlan_pcp); m.vlan_pcp_v = static_cast<std::uint8_t>(value); break;
    case oxm::ip_dscp: fresh = set(match::ip_dscp); m.ip_dscp_v = static_cast<std::uint8_t>(value); break;
    case oxm::ip_proto:
    case oxm::arp_op: fresh = set(match::ip_proto); m.ip_proto_v = static_cast<std::uint8_t>(value); break;
    case oxm::ipv4_src:
    case oxm::arp_spa:
      fresh = set(match::ipv4_src);
      m.ipv4_src_mask = static_cast<std::uint32_t>(mask);
      m.ipv4_src_v = static_cast<std::uint32_t>(value & mask);
      break;
    case oxm::ipv4_dst:
    case oxm::arp_tpa:
      fresh = set(match::ipv4_dst);
      m.ipv4_dst_mask = static_cast<std::uint32_t>(mask);
      m.ipv4_dst_v = static_cast<std::uint32_t>(value & mask);
      break;
    case oxm::tcp_src: case oxm::udp_src: case oxm::sctp_src: case oxm::icmpv4_type:
      fresh = set(match::tp_src); m.tp_src_v = static_cast<std::uint16_t>(value); break;
    default:  // the destination ports and ICMP code
      fresh = set(match::tp_dst); m.tp_dst_v = static_cast<std::uint16_t>(value); break;
  }
  if (masked && f != oxm::metadata && f != oxm::eth_src && f != oxm::eth_dst && f != oxm::ipv4_src &&
      f != oxm::ipv4_dst && f != oxm::arp_spa && f != oxm::arp_tpa) {
    why = refusal::bad_match_mask;
    return fail(error::malformed);
  }
  if (!fresh) {
    why = refusal::bad_match_field;
    return fail(error::malformed);
  }
  return {};
}

// struct ofp_match of 1.3, padding included; only OFPMT_OXM.
constexpr result<match> parse_match13(reader& r, refusal& why) noexcept {
  const std::uint16_t type = r.u16();
  const std::uint16_t len = r.u16();
  if (!r.ok() || len < 4 || static_cast<std::size_t>(len - 4) > r.left()) {
    why = refusal::bad_len;
    return fail(error::truncated);
  }
  if (type != oxm::match_type_oxm) {
    why = refusal::bad_match_field;
    return fail(error::malformed);
  }
  reader fields(r.bytes(len - 4u));
  r.skip((8 - len % 8) % 8);
  if (!r.ok()) {
    why = refusal::bad_len;
    return fail(error::truncated);
  }
  match m;
  while (fields.left() > 0)
    if (auto f = parse_oxm_field(fields, m, why); !f) return fail(f.err());
  return m;
}

constexpr result<match> parse_match(version v, reader& r, refusal& why) noexcept {
  if (v == version::of10) {
    why = refusal::bad_len;
    return parse_match10(r);
  }
  return parse_match13(r, why);
}
constexpr result<void> emit_match(version v, writer& w, const match& m) noexcept {
  return v == version::of10 ? emit_match10(w, m) : emit_match13(w, m);
}

}  // namespace uni::openflow
