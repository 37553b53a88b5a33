// uni/openflow/port.hpp: a switch port's description (1.0 ofp_phy_port §5.2.1,
// 48 bytes; 1.3 ofp_port §A.2.1, 64 bytes with speeds), the PORT_STATUS a
// switch sends when one changes (§5.4.3, §A.4.3) and the PORT_MOD a controller
// sends to change one (§5.3.3, §A.3.5.1).
#pragma once

#include <cstdint>

#include <uni/openflow/header.hpp>
#include <uni/openflow/port_number.hpp>

namespace uni::openflow {

namespace port_config {
inline constexpr std::uint32_t port_down = 1, no_recv = 1 << 2, no_fwd = 1 << 5, no_packet_in = 1 << 6;
}
namespace port_state {
inline constexpr std::uint32_t link_down = 1;
}

// The port number and hardware address that begin a port's description and a
// port_mod: 1.0 packs them, 1.3 pads each.
constexpr void read_port_head(version v, reader& r, std::uint32_t& port_no, mac_address& hw) noexcept {
  if (v == version::of10) {
    port_no = port_from_10(r.u16());
    hw = r.mac();
  } else {
    port_no = r.u32();
    r.skip(4);
    hw = r.mac();
    r.skip(2);
  }
}
constexpr void write_port_head(version v, writer& w, std::uint32_t port_no, const mac_address& hw) noexcept {
  if (v == version::of10) {
    w.u16(port_to_10(port_no));
    w.mac(hw);
  } else {
    w.u32(port_no);
    w.zeros(4);
    w.mac(hw);
    w.zeros(2);
  }
}

struct port_desc {
  std::uint32_t port_no = 0;
  mac_address hw_addr;
  char name[16] = {};
  std::uint32_t config = 0, state = 0, curr = 0, advertised = 0, supported = 0, peer = 0;
  std::uint32_t curr_speed = 0, max_speed = 0;  // 1.3, kbps
  friend constexpr bool operator==(const port_desc& a, const port_desc& b) noexcept {
    for (std::size_t i = 0; i < sizeof a.name; ++i)
      if (a.name[i] != b.name[i]) return false;
    return a.port_no == b.port_no && a.hw_addr == b.hw_addr && a.config == b.config && a.state == b.state &&
           a.curr == b.curr && a.advertised == b.advertised && a.supported == b.supported && a.peer == b.peer &&
           a.curr_speed == b.curr_speed && a.max_speed == b.max_speed;
  }

  static constexpr std::size_t size(version v) noexcept { return v == version::of10 ? 48 : 64; }

  static constexpr port_desc read(version v, reader& r) noexcept {
    port_desc p;
    read_port_head(v, r, p.port_no, p.hw_addr);
    r.text(p.name);
    p.config = r.u32();
    p.state = r.u32();
    p.curr = r.u32();
    p.advertised = r.u32();
    p.supported = r.u32();
    p.peer = r.u32();
    if (v == version::of13) {
      p.curr_speed = r.u32();
      p.max_speed = r.u32();
    }
    return p;
  }
  constexpr void write(version v, writer& w) const noexcept {
    write_port_head(v, w, port_no, hw_addr);
    w.text(name);
    w.u32(config);
    w.u32(state);
    w.u32(curr);
    w.u32(advertised);
    w.u32(supported);
    w.u32(peer);
    if (v == version::of13) {
      w.u32(curr_speed);
      w.u32(max_speed);
    }
  }
};

enum class port_reason : std::uint8_t { add = 0, remove = 1, modify = 2 };

struct port_status {
  port_reason reason = port_reason::add;
  port_desc desc;
  friend constexpr bool operator==(const port_status&, const port_status&) noexcept = default;

  static constexpr result<port_status> parse(const message& m) noexcept {
    reader r(m.body());
    port_status s;
    const std::uint8_t why = r.u8();
    r.skip(7);
    s.desc = port_desc::read(m.v(), r);
    if (!r.ok()) return fail(error::truncated);
    if (why > 2) return fail(error::malformed);
    s.reason = static_cast<port_reason>(why);
    return s;
  }
  constexpr result<std::size_t> emit(version v, std::uint32_t xid, std::span<std::uint8_t> out) const noexcept {
    writer w(out);
    begin(w, v, kind::port_status, xid);
    w.u8(static_cast<std::uint8_t>(reason));
    w.zeros(7);
    desc.write(v, w);
    return finish(w);
  }
};

struct port_mod {
  std::uint32_t port_no = 0;
  mac_address hw_addr;  // must be the port's: a check the switch makes
  std::uint32_t config = 0, mask = 0, advertise = 0;
  friend constexpr bool operator==(const port_mod&, const port_mod&) noexcept = default;

  static constexpr result<port_mod> parse(const message& m) noexcept {
    reader r(m.body());
    port_mod p;
    read_port_head(m.v(), r, p.port_no, p.hw_addr);
    p.config = r.u32();
    p.mask = r.u32();
    p.advertise = r.u32();
    r.skip(4);
    if (!r.ok()) return fail(error::truncated);
    return p;
  }
  constexpr result<std::size_t> emit(version v, std::uint32_t xid, std::span<std::uint8_t> out) const noexcept {
    writer w(out);
    begin(w, v, kind::port_mod, xid);
    write_port_head(v, w, port_no, hw_addr);
    w.u32(config);
    w.u32(mask);
    w.u32(advertise);
    w.zeros(4);
    return finish(w);
  }
};

}  // namespace uni::openflow
