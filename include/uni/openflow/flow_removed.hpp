// uni/openflow/flow_removed.hpp: FLOW_REMOVED, a flow entry the switch
// deleted, sent when it was added with send_flow_removed (1.0 §5.4.2, 1.3
// §A.4.2): why (timeouts or a delete), how long it lived and what it counted.
#pragma once

#include <cstdint>

#include <uni/openflow/header.hpp>
#include <uni/openflow/match.hpp>

namespace uni::openflow {

enum class removed_reason : std::uint8_t { idle_timeout = 0, hard_timeout = 1, remove = 2, group_delete = 3 };

struct flow_removed {
  match what;
  std::uint64_t cookie = 0;
  std::uint16_t priority = 0;
  removed_reason reason = removed_reason::idle_timeout;
  std::uint8_t table_id = 0;  // 1.3
  std::uint32_t duration_sec = 0, duration_nsec = 0;
  std::uint16_t idle_timeout = 0, hard_timeout = 0;  // hard: 1.3
  std::uint64_t packet_count = 0, byte_count = 0;
  friend constexpr bool operator==(const flow_removed&, const flow_removed&) noexcept = default;

  static constexpr result<flow_removed> parse(const message& m) noexcept {
    reader r(m.body());
    flow_removed f;
    refusal why{};
    if (m.v() == version::of10) {
      auto mt = parse_match10(r);
      if (!mt) return fail(mt.err());
      f.what = *mt;
    }
    f.cookie = r.u64();
    f.priority = r.u16();
    const std::uint8_t reason = r.u8();
    if (m.v() == version::of10) r.skip(1);
    else f.table_id = r.u8();
    f.duration_sec = r.u32();
    f.duration_nsec = r.u32();
    f.idle_timeout = r.u16();
    if (m.v() == version::of10) r.skip(2);
    else f.hard_timeout = r.u16();
    f.packet_count = r.u64();
    f.byte_count = r.u64();
    if (m.v() == version::of13) {
      auto mt = parse_match13(r, why);
      if (!mt) return fail(mt.err());
      f.what = *mt;
    }
    if (!r.ok()) return fail(error::truncated);
    if (reason > 3) return fail(error::malformed);
    f.reason = static_cast<removed_reason>(reason);
    return f;
  }

  constexpr result<std::size_t> emit(version v, std::uint32_t xid, std::span<std::uint8_t> out) const noexcept {
    writer w(out);
    begin(w, v, kind::flow_removed, xid);
    if (v == version::of10)
      if (auto e = emit_match10(w, what); !e) return fail(e.err());
    w.u64(cookie);
    w.u16(priority);
    w.u8(static_cast<std::uint8_t>(reason));
    w.u8(v == version::of10 ? 0 : table_id);
    w.u32(duration_sec);
    w.u32(duration_nsec);
    w.u16(idle_timeout);
    w.u16(v == version::of10 ? 0 : hard_timeout);
    w.u64(packet_count);
    w.u64(byte_count);
    if (v == version::of13)
      if (auto e = emit_match13(w, what); !e) return fail(e.err());
    return finish(w);
  }
};

}  // namespace uni::openflow
