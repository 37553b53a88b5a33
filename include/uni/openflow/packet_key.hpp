// uni/openflow/packet_key.hpp: what a switch matches a frame on, and the two
// orders between matches a flow table needs. A frame's key is a `match` with
// every field the frame has (OpenFlow 1.0 §3.4 Figure 3's parse: Ethernet, one
// VLAN tag, then IPv4 with its transport ports or ICMP type and code, or ARP's
// opcode and addresses in the IP fields). A field the frame lacks is zero, as
// 1.0 reads it (an untagged frame has VLAN none and PCP 0; ARP, DSCP and ports
// 0): controllers install 1.0 exact matches that name all twelve.
//
//   covers(flow, key)   the flow's match selects the frame (a lookup)
//   within(entry, req)  the entry is at least as specific as req (a non-strict
//                       modify or delete, a flow statistics request)
#pragma once

#include <cstdint>
#include <span>

#include <uni/core/wire.hpp>
#include <uni/openflow/match.hpp>

namespace uni::openflow {

inline constexpr std::uint16_t ethertype_vlan = 0x8100;

// 1.0's twelve fields.
inline constexpr std::uint16_t fields_10 = match::in_port | match::eth_src | match::eth_dst | match::vlan_vid |
                                           match::vlan_pcp | match::eth_type | match::ip_dscp | match::ip_proto |
                                           match::ipv4_src | match::ipv4_dst | match::tp_src | match::tp_dst;

// Where the layers of a frame start, as packet_key found them (0: absent).
struct frame_layout {
  std::size_t l3 = 0;  // after Ethernet and its VLAN tag
  std::size_t l4 = 0;  // after the IPv4 header (first fragments only)
  bool vlan = false;
};

// The key of `frame`, received on `in_port`; `layout` says where its headers are.
constexpr match packet_key(std::span<const std::uint8_t> frame, std::uint32_t in_port, frame_layout& layout) noexcept {
  match k;
  k.fields = fields_10;
  k.in_port_v = in_port;
  k.vlan_vid_v = vlan_none;
  layout = {};
  if (frame.size() < 14) return k;
  k.eth_dst_v = mac_address::load(frame.data());
  k.eth_src_v = mac_address::load(frame.data() + 6);
  std::size_t at = 12;
  std::uint16_t type = wire::load_be16(&frame[at]);
  if (type == ethertype_vlan && frame.size() >= 18) {
    const std::uint16_t tci = wire::load_be16(&frame[14]);
    k.vlan_vid_v = tci & 0x0fff;
    k.vlan_pcp_v = static_cast<std::uint8_t>(tci >> 13);
    layout.vlan = true;
    at = 16;
    type = wire::load_be16(&frame[at]);
  }
  at += 2;
  layout.l3 = at;
  k.eth_type_v = type;
  const auto l3 = frame.subspan(at);
  if (type == ethertype_arp && l3.size() >= 28 && wire::load_be16(&l3[0]) == 1 && wire::load_be16(&l3[2]) == 0x0800) {
    k.ip_proto_v = static_cast<std::uint8_t>(wire::load_be16(&l3[6]));  // 1.0 keeps the opcode's low byte
    k.ipv4_src_v = wire::load_be32(&l3[14]);
    k.ipv4_dst_v = wire::load_be32(&l3[24]);
    return k;
  }
  if (type != ethertype_ipv4 || l3.size() < 20 || l3[0] >> 4 != 4) return k;
  const std::size_t ihl = std::size_t{l3[0] & 0x0fu} * 4;
  if (ihl < 20 || l3.size() < ihl) return k;
  k.ip_dscp_v = static_cast<std::uint8_t>(l3[1] >> 2);
  k.ip_proto_v = l3[9];
  k.ipv4_src_v = wire::load_be32(&l3[12]);
  k.ipv4_dst_v = wire::load_be32(&l3[16]);
  const bool later_fragment = (wire::load_be16(&l3[6]) & 0x1fff) != 0;
  const auto l4 = l3.subspan(ihl);
  const bool ports = k.ip_proto_v == 6 || k.ip_proto_v == 17 || k.ip_proto_v == 132;
  if (later_fragment || (ports && l4.size() < 4) || (k.ip_proto_v == 1 && l4.size() < 2)) return k;
  if (ports) {
    k.tp_src_v = wire::load_be16(&l4[0]);
    k.tp_dst_v = wire::load_be16(&l4[2]);
  } else if (k.ip_proto_v == 1) {
    k.tp_src_v = l4[0];
    k.tp_dst_v = l4[1];
  } else {
    return k;
  }
  layout.l4 = at + ihl;
  return k;
}

// True if `flow` selects a frame whose key is `key` (metadata: the pipeline's).
constexpr bool covers(const match& flow, const match& key) noexcept {
  if ((flow.fields & key.fields) != flow.fields) return false;  // metadata outside a pipeline
  const auto f = [&](match::field x) { return flow.has(x); };
  return (!f(match::in_port) || flow.in_port_v == key.in_port_v) &&
         (!f(match::eth_src) || flow.eth_src_v == key.eth_src_v) &&
         (!f(match::eth_dst) || flow.eth_dst_v == key.eth_dst_v) &&
         (!f(match::vlan_vid) || flow.vlan_vid_v == key.vlan_vid_v) &&
         (!f(match::vlan_pcp) || flow.vlan_pcp_v == key.vlan_pcp_v) &&
         (!f(match::eth_type) || flow.eth_type_v == key.eth_type_v) &&
         (!f(match::ip_dscp) || flow.ip_dscp_v == key.ip_dscp_v) &&
         (!f(match::ip_proto) || flow.ip_proto_v == key.ip_proto_v) &&
         (!f(match::ipv4_src) || flow.ipv4_src_v == (key.ipv4_src_v & flow.ipv4_src_mask)) &&
         (!f(match::ipv4_dst) || flow.ipv4_dst_v == (key.ipv4_dst_v & flow.ipv4_dst_mask)) &&
         (!f(match::tp_src) || flow.tp_src_v == key.tp_src_v) &&
         (!f(match::tp_dst) || flow.tp_dst_v == key.tp_dst_v) &&
         (!f(match::metadata) || flow.metadata_v == (key.metadata_v & flow.metadata_mask));
}

// True if `entry` matches only what `req` matches: every field of `req` is in
// `entry`, with a mask at least as long and the same value under req's mask.
constexpr bool within(const match& entry, const match& req) noexcept {
  if ((entry.fields & req.fields) != req.fields) return false;
  const auto r = [&](match::field x) { return req.has(x); };
  const auto narrower = [](auto entry_v, auto entry_mask, auto req_v, auto req_mask) {
    return (entry_mask & req_mask) == req_mask && (entry_v & req_mask) == req_v;
  };
  return (!r(match::in_port) || entry.in_port_v == req.in_port_v) &&
         (!r(match::eth_src) || entry.eth_src_v == req.eth_src_v) &&
         (!r(match::eth_dst) || entry.eth_dst_v == req.eth_dst_v) &&
         (!r(match::vlan_vid) || entry.vlan_vid_v == req.vlan_vid_v) &&
         (!r(match::vlan_pcp) || entry.vlan_pcp_v == req.vlan_pcp_v) &&
         (!r(match::eth_type) || entry.eth_type_v == req.eth_type_v) &&
         (!r(match::ip_dscp) || entry.ip_dscp_v == req.ip_dscp_v) &&
         (!r(match::ip_proto) || entry.ip_proto_v == req.ip_proto_v) &&
         (!r(match::ipv4_src) || narrower(entry.ipv4_src_v, entry.ipv4_src_mask, req.ipv4_src_v, req.ipv4_src_mask)) &&
         (!r(match::ipv4_dst) || narrower(entry.ipv4_dst_v, entry.ipv4_dst_mask, req.ipv4_dst_v, req.ipv4_dst_mask)) &&
         (!r(match::tp_src) || entry.tp_src_v == req.tp_src_v) &&
         (!r(match::tp_dst) || entry.tp_dst_v == req.tp_dst_v) &&
         (!r(match::metadata) || narrower(entry.metadata_v, entry.metadata_mask, req.metadata_v, req.metadata_mask));
}

// 1.0 §3.4: a flow without wildcards (every field exact) outranks every other.
constexpr bool exact_10(const match& m) noexcept {
  return (m.fields & fields_10) == fields_10 && m.ipv4_src_mask == 0xffffffff && m.ipv4_dst_mask == 0xffffffff;
}

}  // namespace uni::openflow
