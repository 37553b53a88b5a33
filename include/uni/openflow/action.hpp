// uni/openflow/action.hpp: actions (OpenFlow 1.0 §5.2.4, 1.3 §A.2.5) as one
// value for both versions. 1.0's twelve actions each have a type of their own;
// 1.3 writes the header rewrites as SET_FIELD with an OXM TLV, strips a tag with
// POP_VLAN, and enqueues with SET_QUEUE before OUTPUT. Lists are bounded
// (max_actions); a group action is refused with BAD_ACTION/BAD_OUT_GROUP, an
// experimenter or other unsupported one with BAD_ACTION/BAD_TYPE.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include <uni/openflow/match.hpp>

namespace uni::openflow {

struct action {
  enum class type : std::uint8_t {
    output, set_vlan_vid, set_vlan_pcp, strip_vlan, set_eth_src, set_eth_dst, set_ipv4_src, set_ipv4_dst,
    set_ip_dscp, set_tp_src, set_tp_dst,
    enqueue,    // 1.0: output to a port's queue
    set_queue,  // 1.3
    push_vlan,  // 1.3: ethertype in `value`
    dec_nw_ttl, // 1.3
  };
  type t = type::output;
  std::uint32_t port = 0;      // output, enqueue
  std::uint16_t max_len = 0;   // output to the controller: bytes of the packet sent
  std::uint32_t value = 0;     // vid, pcp, address, dscp, transport port, queue, ethertype
  mac_address mac;             // set_eth_src/dst
  std::uint8_t ip_proto = 6;   // set_tp_*: which 1.3 field (6 TCP, 17 UDP, 132 SCTP)
  friend constexpr bool operator==(const action&, const action&) noexcept = default;

  static constexpr action output_to(std::uint32_t p, std::uint16_t len = 0xffff) noexcept {
    action a;
    a.port = p;
    a.max_len = len;
    return a;
  }
};

inline constexpr std::size_t max_actions = 16;

// A bounded list of actions, as parsed.
struct action_list {
  std::array<action, max_actions> items{};
  std::size_t count = 0;
  constexpr std::span<const action> view() const noexcept { return {items.data(), count}; }
  constexpr bool push(const action& a) noexcept {
    if (count == max_actions) return false;
    items[count++] = a;
    return true;
  }
  friend constexpr bool operator==(const action_list& a, const action_list& b) noexcept {
    if (a.count != b.count) return false;
    for (std::size_t i = 0; i < a.count; ++i)
      if (!(a.items[i] == b.items[i])) return false;
    return true;
  }
};

namespace detail {
namespace at10 {
inline constexpr std::uint16_t output = 0, set_vlan_vid = 1, set_vlan_pcp = 2, strip_vlan = 3, set_dl_src = 4,
                               set_dl_dst = 5, set_nw_src = 6, set_nw_dst = 7, set_nw_tos = 8, set_tp_src = 9,
                               set_tp_dst = 10, enqueue = 11, vendor = 0xffff;
}
namespace at13 {
inline constexpr std::uint16_t output = 0, push_vlan = 17, pop_vlan = 18, set_queue = 21, group = 22,
                               dec_nw_ttl = 24, set_field = 25, experimenter = 0xffff;
}

constexpr result<void> emit_action10(writer& w, const action& a) noexcept {
  using T = action::type;
  using namespace at10;
  const auto small = [&](std::uint16_t t) {
    w.u16(t);
    w.u16(8);
  };
  switch (a.t) {
    case T::output: small(output); w.u16(port_to_10(a.port)); w.u16(a.max_len); break;
    case T::set_vlan_vid: small(set_vlan_vid); w.u16(static_cast<std::uint16_t>(a.value)); w.zeros(2); break;
    case T::set_vlan_pcp: small(set_vlan_pcp); w.u8(static_cast<std::uint8_t>(a.value)); w.zeros(3); break;
    case T::strip_vlan: small(strip_vlan); w.zeros(4); break;
    case T::set_eth_src:
    case T::set_eth_dst:
      w.u16(a.t == T::set_eth_src ? set_dl_src : set_dl_dst);
      w.u16(16);
      w.mac(a.mac);
      w.zeros(6);
      break;
    case T::set_ipv4_src: small(set_nw_src); w.u32(a.value); break;
    case T::set_ipv4_dst: small(set_nw_dst); w.u32(a.value); break;
    case T::set_ip_dscp: small(set_nw_tos); w.u8(static_cast<std::uint8_t>(a.value << 2)); w.zeros(3); break;
    case T::set_tp_src: small(set_tp_src); w.u16(static_cast<std::uint16_t>(a.value)); w.zeros(2); break;
    case T::set_tp_dst: small(set_tp_dst); w.u16(static_cast<std::uint16_t>(a.value)); w.zeros(2); break;
    case T::enqueue:
      w.u16(enqueue);
      w.u16(16);
      w.u16(port_to_10(a.port));
      w.zeros(6);
      w.u32(a.value);
      break;
    default: return fail(error::invalid_argument);  // 1.3's only
  }
  return {};
}

constexpr void set_field13(writer& w, std::uint8_t f, std::uint8_t width, std::uint64_t v,
                           const mac_address* mac = nullptr) noexcept {
  const std::size_t start = w.size();
  w.u16(at13::set_field);
  w.u16(0);
  if (mac) {
    oxm_header(w, f, false, 6);
    w.mac(*mac);
  } else {
    oxm_uint(w, f, width, v);
  }
  w.pad_to(8);
  w.patch16(start + 2, static_cast<std::uint16_t>(w.size() - start));
}

constexpr result<void> emit_action13(writer& w, const action& a) noexcept {
  using T = action::type;
  using namespace at13;
  switch (a.t) {
    case T::output:
      w.u16(output);
      w.u16(16);
      w.u32(a.port);
      w.u16(a.max_len);
      w.zeros(6);
      break;
    case T::set_vlan_vid: set_field13(w, oxm::vlan_vid, 2, (a.value & 0x0fff) | oxm::vid_present); break;
    case T::set_vlan_pcp: set_field13(w, oxm::vlan_pcp, 1, a.value); break;
    case T::strip_vlan: w.u16(pop_vlan); w.u16(8); w.zeros(4); break;
    case T::push_vlan: w.u16(push_vlan); w.u16(8); w.u16(static_cast<std::uint16_t>(a.value)); w.zeros(2); break;
    case T::set_eth_src: set_field13(w, oxm::eth_src, 6, 0, &a.mac); break;
    case T::set_eth_dst: set_field13(w, oxm::eth_dst, 6, 0, &a.mac); break;
    case T::set_ipv4_src: set_field13(w, oxm::ipv4_src, 4, a.value); break;
    case T::set_ipv4_dst: set_field13(w, oxm::ipv4_dst, 4, a.value); break;
    case T::set_ip_dscp: set_field13(w, oxm::ip_dscp, 1, a.value); break;
    case T::set_tp_src:
    case T::set_tp_dst: {
      const tp_fields tp = tp_for(a.ip_proto);
      if (tp.width != 2) return fail(error::invalid_argument);
      set_field13(w, a.t == T::set_tp_src ? tp.src : tp.dst, 2, a.value);
      break;
    }
    case T::set_queue: w.u16(set_queue); w.u16(8); w.u32(a.value); break;
    case T::dec_nw_ttl: w.u16(dec_nw_ttl); w.u16(8); w.zeros(4); break;
    case T::enqueue: return fail(error::invalid_argument);  // 1.3: set_queue, then output
  }
  return {};
}

constexpr result<action> parse_action10(std::uint16_t t, reader& r, refusal& why) noexcept {
  using T = action::type;
  using namespace at10;
  action a;
  switch (t) {
    case output: a.t = T::output; a.port = port_from_10(r.u16()); a.max_len = r.u16(); break;
    case set_vlan_vid: a.t = T::set_vlan_vid; a.value = r.u16() & 0x0fffu; break;
    case set_vlan_pcp: a.t = T::set_vlan_pcp; a.value = r.u8() & 7u; break;
    case strip_vlan: a.t = T::strip_vlan; break;
    case set_dl_src:
    case set_dl_dst: a.t = t == set_dl_src ? T::set_eth_src : T::set_eth_dst; a.mac = r.mac(); break;
    case set_nw_src: a.t = T::set_ipv4_src; a.value = r.u32(); break;
    case set_nw_dst: a.t = T::set_ipv4_dst; a.value = r.u32(); break;
    case set_nw_tos: a.t = T::set_ip_dscp; a.value = r.u8() >> 2; break;
    case set_tp_src: a.t = T::set_tp_src; a.value = r.u16(); break;
    case set_tp_dst: a.t = T::set_tp_dst; a.value = r.u16(); break;
    case enqueue:
      a.t = T::enqueue;
      a.port = port_from_10(r.u16());
      r.skip(6);
      a.value = r.u32();
      break;
    default: why = t == vendor ? refusal::bad_experimenter : refusal::bad_action; return fail(error::malformed);
  }
  return a;
}

constexpr result<action> parse_action13(std::uint16_t t, reader& r, refusal& why) noexcept {
  using T = action::type;
  using namespace at13;
  action a;
  switch (t) {
    case output: a.t = T::output; a.port = r.u32(); a.max_len = r.u16(); break;
    case pop_vlan: a.t = T::strip_vlan; break;
    case push_vlan: a.t = T::push_vlan; a.value = r.u16(); break;
    case set_queue: a.t = T::set_queue; a.value = r.u32(); break;
    case dec_nw_ttl: a.t = T::dec_nw_ttl; break;
    case group: why = refusal::bad_out_group; return fail(error::malformed);
    case set_field: {
      reader peek = r;
      peek.skip(2);
      const auto field = static_cast<std::uint8_t>(peek.u8() >> 1);  // which transport's port, for set_tp_*
      match m;
      if (auto f = parse_oxm_field(r, m, why); !f) return fail(f.err());
      const auto bit = static_cast<match::field>(m.fields);
      switch (bit) {
        case match::vlan_vid: a.t = T::set_vlan_vid; a.value = m.vlan_vid_v; break;
        case match::vlan_pcp: a.t = T::set_vlan_pcp; a.value = m.vlan_pcp_v; break;
        case match::eth_src: a.t = T::set_eth_src; a.mac = m.eth_src_v; break;
        case match::eth_dst: a.t = T::set_eth_dst; a.mac = m.eth_dst_v; break;
        case match::ipv4_src: a.t = T::set_ipv4_src; a.value = m.ipv4_src_v; break;
        case match::ipv4_dst: a.t = T::set_ipv4_dst; a.value = m.ipv4_dst_v; break;
        case match::ip_dscp: a.t = T::set_ip_dscp; a.value = m.ip_dscp_v; break;
        case match::tp_src:
        case match::tp_dst: {
          const bool src = bit == match::tp_src;
          a.t = src ? T::set_tp_src : T::set_tp_dst;
          a.value = src ? m.tp_src_v : m.tp_dst_v;
          a.ip_proto = field <= oxm::tcp_dst ? 6 : field <= oxm::udp_dst ? 17 : field <= oxm::sctp_dst ? 132 : 0;
          if (a.ip_proto == 0) {  // ICMP type and code are not set by actions
            why = refusal::bad_action;
            return fail(error::malformed);
          }
          break;
        }
        default: why = refusal::bad_action; return fail(error::malformed);  // ARP, ICMP, metadata, unknown: not set
      }
      break;
    }
    default: why = t == experimenter ? refusal::bad_experimenter : refusal::bad_action; return fail(error::malformed);
  }
  return a;
}

}  // namespace detail

constexpr result<void> emit_actions(version v, writer& w, std::span<const action> actions) noexcept {
  for (const action& a : actions) {
    auto e = v == version::of10 ? detail::emit_action10(w, a) : detail::emit_action13(w, a);
    if (!e) return e;
  }
  return {};
}

// Reads `bytes` as a list of actions; on failure `why` says how to refuse it.
constexpr result<action_list> parse_actions(version v, std::span<const std::uint8_t> bytes, refusal& why) noexcept {
  action_list out;
  reader r(bytes);
  while (r.left() > 0) {
    const std::uint16_t t = r.u16();
    const std::uint16_t len = r.u16();
    if (!r.ok() || len < 8 || len % 8 != 0 || len - 4u > r.left()) {
      why = refusal::bad_action_len;
      return fail(error::malformed);
    }
    reader body(r.bytes(len - 4u));
    // set_field's TLV is read whole (its own length), other actions' fixed fields.
    if (v == version::of13 && t == detail::at13::set_field) {
      reader tlv = body;
      auto a = detail::parse_action13(t, tlv, why);
      if (!a) return fail(a.err());
      if (tlv.left() >= 8) {  // padding is under 8 bytes
        why = refusal::bad_action_len;
        return fail(error::malformed);
      }
      if (!out.push(*a)) {
        why = refusal::too_many_actions;
        return fail(error::too_large);
      }
      continue;
    }
    auto a = v == version::of10 ? detail::parse_action10(t, body, why) : detail::parse_action13(t, body, why);
    if (!a) return fail(a.err());
    const std::size_t fixed = (a->t == action::type::set_eth_src || a->t == action::type::set_eth_dst ||
                               a->t == action::type::enqueue || (v == version::of13 && a->t == action::type::output))
                                  ? 12
                                  : 4;
    if (!body.ok() || len - 4u != fixed) {
      why = refusal::bad_action_len;
      return fail(error::malformed);
    }
    if (!out.push(*a)) {
      why = refusal::too_many_actions;
      return fail(error::too_large);
    }
  }
  return out;
}

}  // namespace uni::openflow
