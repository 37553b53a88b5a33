// uni/openflow/features.hpp: what a switch says of itself after the hello
// (FEATURES_REPLY, 1.0 §5.3.1 with its ports; 1.3 §A.3.1 without, they moved
// to the PORT_DESC multipart), and the switch configuration a controller reads
// and sets (GET_CONFIG_REPLY, SET_CONFIG: fragment handling, miss_send_len).
#pragma once

#include <cstdint>

#include <uni/openflow/port.hpp>

namespace uni::openflow {

namespace capability {
inline constexpr std::uint32_t flow_stats = 1, table_stats = 2, port_stats = 4, group_stats = 8, ip_reasm = 32,
                               queue_stats = 64, arp_match_ip = 128;
}

inline constexpr std::size_t max_ports_listed = 64;  // ports a features reply keeps (1.0)

struct features_reply {
  std::uint64_t datapath_id = 0;
  std::uint32_t n_buffers = 0;
  std::uint8_t n_tables = 0;
  std::uint8_t auxiliary_id = 0;  // 1.3
  std::uint32_t capabilities = 0;
  std::uint32_t actions = 0;  // 1.0: the action types supported, a bit each
  std::array<port_desc, max_ports_listed> ports{};  // 1.0
  std::size_t n_ports = 0;
  std::size_t ports_dropped = 0;  // listed past max_ports_listed

  static constexpr result<features_reply> parse(const message& m) noexcept {
    reader r(m.body());
    features_reply f;
    f.datapath_id = r.u64();
    f.n_buffers = r.u32();
    f.n_tables = r.u8();
    f.auxiliary_id = m.v() == version::of13 ? r.u8() : 0;
    r.skip(m.v() == version::of13 ? 2 : 3);
    f.capabilities = r.u32();
    f.actions = r.u32();  // 1.3: reserved
    if (!r.ok()) return fail(error::truncated);
    if (m.v() == version::of10) {
      if (r.left() % port_desc::size(m.v()) != 0) return fail(error::malformed);
      while (r.left() > 0) {
        const port_desc p = port_desc::read(m.v(), r);
        if (f.n_ports < max_ports_listed) f.ports[f.n_ports++] = p;
        else ++f.ports_dropped;
      }
    } else if (r.left() != 0) {
      return fail(error::malformed);
    }
    return f;
  }
  constexpr result<std::size_t> emit(version v, std::uint32_t xid, std::span<std::uint8_t> out) const noexcept {
    writer w(out);
    begin(w, v, kind::features_reply, xid);
    w.u64(datapath_id);
    w.u32(n_buffers);
    w.u8(n_tables);
    if (v == version::of13) {
      w.u8(auxiliary_id);
      w.zeros(2);
    } else {
      w.zeros(3);
    }
    w.u32(capabilities);
    w.u32(v == version::of10 ? actions : 0);
    if (v == version::of10)
      for (std::size_t i = 0; i < n_ports; ++i) ports[i].write(v, w);
    return finish(w);
  }
};

namespace config_flag {
inline constexpr std::uint16_t frag_normal = 0, frag_drop = 1, frag_reasm = 2;
}

// GET_CONFIG_REPLY and SET_CONFIG share this body.
struct switch_config {
  std::uint16_t flags = config_flag::frag_normal;
  std::uint16_t miss_send_len = 128;  // bytes of a missed packet sent to the controller
  friend constexpr bool operator==(const switch_config&, const switch_config&) noexcept = default;

  static constexpr result<switch_config> parse(const message& m) noexcept {
    reader r(m.body());
    switch_config c{r.u16(), r.u16()};
    if (!r.ok()) return fail(error::truncated);
    return c;
  }
  // kind: get_config_reply or set_config.
  constexpr result<std::size_t> emit(version v, kind k, std::uint32_t xid, std::span<std::uint8_t> out) const noexcept {
    writer w(out);
    begin(w, v, k, xid);
    w.u16(flags);
    w.u16(miss_send_len);
    return finish(w);
  }
};

}  // namespace uni::openflow
