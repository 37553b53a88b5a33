// uni/openflow/packet_in.hpp: PACKET_IN, a packet the switch hands to the
// controller (1.0 §5.4.1: the input port in the header; 1.3 §A.4.1: the table,
// the flow's cookie and the input port as an OXM match). `data` is a view of
// the message's bytes: the frame, or its first miss_send_len bytes when the
// switch buffered it (buffer_id names the buffer then).
#pragma once

#include <cstdint>

#include <uni/openflow/header.hpp>
#include <uni/openflow/match.hpp>

namespace uni::openflow {

enum class packet_in_reason : std::uint8_t { no_match = 0, action = 1, invalid_ttl = 2 };

struct packet_in {
  std::uint32_t buffer_id = no_buffer;
  std::uint16_t total_len = 0;  // of the frame, whatever part of it is here
  std::uint32_t in_port = 0;
  packet_in_reason reason = packet_in_reason::no_match;
  std::uint8_t table_id = 0;  // 1.3
  std::uint64_t cookie = 0;   // 1.3
  match fields;               // 1.3: the packet's metadata (in_port among them)
  std::span<const std::uint8_t> data;

  static constexpr result<packet_in> parse(const message& m) noexcept {
    reader r(m.body());
    packet_in p;
    p.buffer_id = r.u32();
    p.total_len = r.u16();
    if (m.v() == version::of10) {
      p.in_port = port_from_10(r.u16());
      p.reason = static_cast<packet_in_reason>(r.u8());
      r.skip(1);
    } else {
      p.reason = static_cast<packet_in_reason>(r.u8());
      p.table_id = r.u8();
      p.cookie = r.u64();
      refusal why{};
      auto mt = parse_match13(r, why);
      if (!mt) return fail(mt.err());
      if (!mt->has(match::in_port)) return fail(error::malformed);  // required (§A.4.1)
      p.fields = *mt;
      p.in_port = mt->in_port_v;
      r.skip(2);
    }
    if (!r.ok()) return fail(error::truncated);
    p.data = r.rest();
    if (p.data.size() > p.total_len) return fail(error::malformed);
    return p;
  }

  constexpr result<std::size_t> emit(version v, std::uint32_t xid, std::span<std::uint8_t> out) const noexcept {
    writer w(out);
    begin(w, v, kind::packet_in, xid);
    w.u32(buffer_id);
    w.u16(total_len);
    if (v == version::of10) {
      w.u16(port_to_10(in_port));
      w.u8(static_cast<std::uint8_t>(reason));
      w.zeros(1);
    } else {
      w.u8(static_cast<std::uint8_t>(reason));
      w.u8(table_id);
      w.u64(cookie);
      match mt = fields;
      mt.fields |= match::in_port;
      mt.in_port_v = in_port;
      if (auto e = emit_match13(w, mt); !e) return fail(e.err());
      w.zeros(2);
    }
    w.bytes(data);
    return finish(w);
  }
};

}  // namespace uni::openflow
