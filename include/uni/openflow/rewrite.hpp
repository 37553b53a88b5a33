// uni/openflow/rewrite.hpp: the header rewrites of OpenFlow actions, applied to
// a frame in place (1.0 §5.2.4's SET_* and STRIP_VLAN, 1.3 §5.12's set-field,
// PUSH_VLAN, POP_VLAN and DEC_NW_TTL). Checksums follow the bytes they cover
// (RFC 1624 updates: the IPv4 header's, and TCP's or UDP's over the addresses
// and ports; a UDP checksum of zero stays zero, RFC 768). A tag is pushed into
// the page's headroom, or the frame moves to a fresh page from the pool: no
// allocation but pages, and a frame already handed to a device (`shared`) is
// copied before it is written, so what went out stays as it went.
#pragma once

#include <cstdint>
#include <cstring>

#include <uni/core/buffer.hpp>
#include <uni/core/checksum.hpp>
#include <uni/openflow/action.hpp>
#include <uni/openflow/packet_key.hpp>

namespace uni::openflow {

// The frame an action list works on.
struct working_frame {
  view bytes;
  frame_layout layout;
  std::uint32_t in_port = 0;
  bool shared = false;  // outputs hold it: copy before writing

  static constexpr std::size_t headroom_wanted = 64;

  // The frame, writable, with `front` bytes before it; false if no page was free.
  bool writable(page_pool& pool, std::size_t front = 0) noexcept {
    if (!shared && bytes.headroom() >= front) return true;
    auto page = pool.allocate();
    if (!page || bytes.size() + headroom_wanted > page->size()) return false;
    view fresh = page->tail(headroom_wanted).head(bytes.size());
    std::memcpy(fresh.data(), bytes.data(), bytes.size());
    bytes = std::move(fresh);
    shared = false;
    return true;
  }
  void relayout() noexcept { (void)packet_key(bytes.bytes(), in_port, layout); }
};

namespace detail {

inline std::uint16_t load16(const view& v, std::size_t at) noexcept { return wire::load_be16(v.data() + at); }
inline void store16(const view& v, std::size_t at, std::uint16_t x) noexcept { wire::store_be16(v.data() + at, x); }

// Offset of the TCP or UDP checksum field, 0 if none to keep.
inline std::size_t l4_checksum_at(const working_frame& f) noexcept {
  if (!f.layout.l4) return 0;
  const std::uint8_t proto = f.bytes[f.layout.l3 + 9];
  if (proto == 6 && f.bytes.size() >= f.layout.l4 + 18) return f.layout.l4 + 16;
  if (proto == 17 && f.bytes.size() >= f.layout.l4 + 8 && load16(f.bytes, f.layout.l4 + 6) != 0) return f.layout.l4 + 6;
  return 0;
}

inline bool is_ipv4(const working_frame& f) noexcept {
  return f.layout.l3 && f.bytes.size() >= f.layout.l3 + 20 && load16(f.bytes, f.layout.l3 - 2) == ethertype_ipv4 &&
         f.bytes[f.layout.l3] >> 4 == 4;
}

inline void set_ipv4_address(working_frame& f, std::size_t field, std::uint32_t to) noexcept {
  const std::size_t at = f.layout.l3 + field;
  const std::uint32_t old = wire::load_be32(f.bytes.data() + at);
  wire::store_be32(f.bytes.data() + at, to);
  store16(f.bytes, f.layout.l3 + 10, checksum_update32(load16(f.bytes, f.layout.l3 + 10), old, to));
  if (const std::size_t c = l4_checksum_at(f)) store16(f.bytes, c, checksum_update32(load16(f.bytes, c), old, to));
}

}  // namespace detail

enum class rewrite_result : std::uint8_t { done, skipped, no_page, ttl_expired };

// Applies header action `a` (not output, enqueue or set_queue) to `f`.
inline rewrite_result rewrite(working_frame& f, const action& a, page_pool& pool) noexcept {
  using T = action::type;
  using namespace detail;
  const std::size_t n = f.bytes.size();
  if (n < 14) return rewrite_result::skipped;
  const bool push = a.t == T::push_vlan || ((a.t == T::set_vlan_vid || a.t == T::set_vlan_pcp) && !f.layout.vlan);
  if (!f.writable(pool, push ? 4 : 0)) return rewrite_result::no_page;
  view& b = f.bytes;
  if (push) {  // a tag after the addresses; its VID and PCP from the action (1.0) or zero
    (void)b.push_front(4);
    std::memmove(b.data(), b.data() + 4, 12);
    store16(b, 12, a.t == T::push_vlan ? static_cast<std::uint16_t>(a.value) : ethertype_vlan);
    const std::uint16_t tci = a.t == T::set_vlan_vid   ? static_cast<std::uint16_t>(a.value & 0x0fff)
                              : a.t == T::set_vlan_pcp ? static_cast<std::uint16_t>((a.value & 7) << 13)
                                                       : 0;
    store16(b, 14, tci);
    f.relayout();
    return rewrite_result::done;
  }
  switch (a.t) {
    case T::set_eth_dst: a.mac.store(b.data()); return rewrite_result::done;
    case T::set_eth_src: a.mac.store(b.data() + 6); return rewrite_result::done;
    case T::set_vlan_vid:
      store16(b, 14, static_cast<std::uint16_t>((load16(b, 14) & 0xf000) | (a.value & 0x0fff)));
      return rewrite_result::done;
    case T::set_vlan_pcp:
      store16(b, 14, static_cast<std::uint16_t>((load16(b, 14) & 0x1fff) | (a.value & 7) << 13));
      return rewrite_result::done;
    case T::strip_vlan:
      if (!f.layout.vlan) return rewrite_result::skipped;
      std::memmove(b.data() + 4, b.data(), 12);
      b.drop_front(4);
      f.relayout();
      return rewrite_result::done;
    default: break;
  }
  if (!is_ipv4(f)) return rewrite_result::skipped;
  const std::size_t ip = f.layout.l3;
  switch (a.t) {
    case T::set_ipv4_src: set_ipv4_address(f, 12, a.value); return rewrite_result::done;
    case T::set_ipv4_dst: set_ipv4_address(f, 16, a.value); return rewrite_result::done;
    case T::set_ip_dscp: {
      const std::uint16_t old = load16(b, ip);
      const auto now = static_cast<std::uint16_t>((old & 0xff03) | (a.value & 0x3f) << 2);
      store16(b, ip, now);
      store16(b, ip + 10, checksum_update16(load16(b, ip + 10), old, now));
      return rewrite_result::done;
    }
    case T::dec_nw_ttl: {
      if (b[ip + 8] <= 1) return rewrite_result::ttl_expired;
      const std::uint16_t old = load16(b, ip + 8);
      store16(b, ip + 8, static_cast<std::uint16_t>(old - 0x100));
      store16(b, ip + 10, checksum_update16(load16(b, ip + 10), old, static_cast<std::uint16_t>(old - 0x100)));
      return rewrite_result::done;
    }
    case T::set_tp_src:
    case T::set_tp_dst: {
      const std::uint8_t proto = b[ip + 9];
      if (!f.layout.l4 || (proto != 6 && proto != 17 && proto != 132)) return rewrite_result::skipped;
      const std::size_t at = f.layout.l4 + (a.t == T::set_tp_src ? 0 : 2);
      const std::uint16_t old = load16(b, at);
      store16(b, at, static_cast<std::uint16_t>(a.value));
      if (const std::size_t c = l4_checksum_at(f))
        store16(b, c, checksum_update16(load16(b, c), old, static_cast<std::uint16_t>(a.value)));
      return rewrite_result::done;
    }
    default: return rewrite_result::skipped;
  }
}

}  // namespace uni::openflow
