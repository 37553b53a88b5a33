// uni/openflow/flow_mod.hpp: FLOW_MOD, adding, changing and deleting flow
// entries (OpenFlow 1.0 §5.3.3, 1.3 §A.3.4.1), and the table-miss entry 1.3
// switches start without (§5.4: priority 0, matching everything; here it sends
// the packet to the controller, as a 1.0 switch does on a miss).
#pragma once

#include <cstdint>

#include <uni/openflow/header.hpp>
#include <uni/openflow/instruction.hpp>

namespace uni::openflow {

enum class flow_command : std::uint8_t { add = 0, modify = 1, modify_strict = 2, remove = 3, remove_strict = 4 };

namespace flow_flag {
inline constexpr std::uint16_t send_flow_removed = 1, check_overlap = 2, emergency_10 = 4, reset_counts_13 = 4,
                               no_packet_counts = 8, no_byte_counts = 16;
}

inline constexpr std::uint16_t controller_no_buffer = 0xffff;  // OFPCML_NO_BUFFER: the whole packet

struct flow_mod {
  flow_command command = flow_command::add;
  match what;
  std::uint64_t cookie = 0;
  std::uint64_t cookie_mask = 0;  // 1.3
  std::uint8_t table_id = 0;      // 1.3
  std::uint16_t idle_timeout = 0, hard_timeout = 0;
  std::uint16_t priority = 0x8000;  // OFP_DEFAULT_PRIORITY
  std::uint32_t buffer_id = no_buffer;
  std::uint32_t out_port = port::any;
  std::uint32_t out_group = 0xffffffff;  // 1.3: OFPG_ANY
  std::uint16_t flags = 0;
  instructions does;
  friend constexpr bool operator==(const flow_mod&, const flow_mod&) noexcept = default;

  constexpr result<std::size_t> emit(version v, std::uint32_t xid, std::span<std::uint8_t> out) const noexcept {
    writer w(out);
    begin(w, v, kind::flow_mod, xid);
    if (v == version::of10) {
      if (!does.fits_10()) return fail(error::invalid_argument);
      if (auto e = emit_match10(w, what); !e) return fail(e.err());
      w.u64(cookie);
      w.u16(static_cast<std::uint16_t>(command));
      w.u16(idle_timeout);
      w.u16(hard_timeout);
      w.u16(priority);
      w.u32(buffer_id);
      w.u16(port_to_10(out_port));
      w.u16(flags);
      if (auto e = emit_actions(v, w, does.apply.view()); !e) return fail(e.err());
    } else {
      w.u64(cookie);
      w.u64(cookie_mask);
      w.u8(table_id);
      w.u8(static_cast<std::uint8_t>(command));
      w.u16(idle_timeout);
      w.u16(hard_timeout);
      w.u16(priority);
      w.u32(buffer_id);
      w.u32(out_port);
      w.u32(out_group);
      w.u16(flags);
      w.zeros(2);
      if (auto e = emit_match13(w, what); !e) return fail(e.err());
      if (auto e = emit_instructions13(w, does); !e) return fail(e.err());
    }
    return finish(w);
  }

  // `why` says how a switch refuses what fails.
  static constexpr result<flow_mod> parse(const message& m, refusal& why) noexcept {
    flow_mod f;
    reader r(m.body());
    why = refusal::bad_len;
    if (m.v() == version::of10) {
      auto mt = parse_match10(r);
      if (!mt) return fail(mt.err());
      f.what = *mt;
      f.cookie = r.u64();
      const std::uint16_t cmd = r.u16();
      f.idle_timeout = r.u16();
      f.hard_timeout = r.u16();
      f.priority = r.u16();
      f.buffer_id = r.u32();
      f.out_port = port_from_10(r.u16());
      f.flags = r.u16();
      if (!r.ok()) return fail(error::truncated);
      if (cmd > 4) {
        why = refusal::bad_command;
        return fail(error::malformed);
      }
      f.command = static_cast<flow_command>(cmd);
      auto acts = parse_actions(m.v(), r.rest(), why);
      if (!acts) return fail(acts.err());
      f.does.apply = *acts;
      return f;
    }
    f.cookie = r.u64();
    f.cookie_mask = r.u64();
    f.table_id = r.u8();
    const std::uint8_t cmd = r.u8();
    f.idle_timeout = r.u16();
    f.hard_timeout = r.u16();
    f.priority = r.u16();
    f.buffer_id = r.u32();
    f.out_port = r.u32();
    f.out_group = r.u32();
    f.flags = r.u16();
    r.skip(2);
    if (!r.ok()) return fail(error::truncated);
    if (cmd > 4) {
      why = refusal::bad_command;
      return fail(error::malformed);
    }
    f.command = static_cast<flow_command>(cmd);
    auto mt = parse_match13(r, why);
    if (!mt) return fail(mt.err());
    f.what = *mt;
    auto ins = parse_instructions13(r.rest(), why);
    if (!ins) return fail(ins.err());
    f.does = *ins;
    return f;
  }
};

// The table-miss entry: lowest priority, every packet, to the controller whole.
constexpr flow_mod table_miss(std::uint8_t table = 0) noexcept {
  flow_mod f;
  f.table_id = table;
  f.priority = 0;
  (void)f.does.apply.push(action::output_to(port::controller, controller_no_buffer));
  return f;
}

}  // namespace uni::openflow
