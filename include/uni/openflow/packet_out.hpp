// uni/openflow/packet_out.hpp: PACKET_OUT, a packet the controller has the
// switch send (1.0 §5.3.6, 1.3 §A.3.7): a buffered one by buffer_id, or the
// frame itself after the actions; in_port is the port the actions treat as
// the input (OFPP_CONTROLLER when none).
#pragma once

#include <cstdint>

#include <uni/openflow/action.hpp>
#include <uni/openflow/header.hpp>

namespace uni::openflow {

struct packet_out {
  std::uint32_t buffer_id = no_buffer;
  std::uint32_t in_port = port::controller;
  action_list actions;
  std::span<const std::uint8_t> data;  // empty when buffer_id names the packet

  static constexpr result<packet_out> parse(const message& m, refusal& why) noexcept {
    reader r(m.body());
    packet_out p;
    p.buffer_id = r.u32();
    std::uint16_t actions_len = 0;
    if (m.v() == version::of10) {
      p.in_port = port_from_10(r.u16());
      actions_len = r.u16();
    } else {
      p.in_port = r.u32();
      actions_len = r.u16();
      r.skip(6);
    }
    why = refusal::bad_len;
    if (!r.ok()) return fail(error::truncated);
    if (actions_len > r.left()) return fail(error::malformed);
    auto l = parse_actions(m.v(), r.bytes(actions_len), why);
    if (!l) return fail(l.err());
    p.actions = *l;
    p.data = r.rest();
    return p;
  }

  constexpr result<std::size_t> emit(version v, std::uint32_t xid, std::span<std::uint8_t> out) const noexcept {
    writer w(out);
    begin(w, v, kind::packet_out, xid);
    w.u32(buffer_id);
    std::size_t len_at = 0;
    if (v == version::of10) {
      w.u16(port_to_10(in_port));
      len_at = w.size();
      w.u16(0);
    } else {
      w.u32(in_port);
      len_at = w.size();
      w.u16(0);
      w.zeros(6);
    }
    const std::size_t start = w.size();
    if (auto e = emit_actions(v, w, actions.view()); !e) return fail(e.err());
    w.patch16(len_at, static_cast<std::uint16_t>(w.size() - start));
    w.bytes(data);
    return finish(w);
  }
};

}  // namespace uni::openflow
