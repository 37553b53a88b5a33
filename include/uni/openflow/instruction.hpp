// uni/openflow/instruction.hpp: 1.3's instructions (§5.9, §A.2.4), what a flow
// entry does with a packet: apply actions now, clear or write the action set,
// write metadata, go on to a later table. 1.0 has only the apply list, which
// it calls the flow's actions. A meter instruction (meters are not supported)
// or an experimenter one is refused with BAD_INSTRUCTION/UNSUP_INST.
#pragma once

#include <cstdint>

#include <uni/openflow/action.hpp>

namespace uni::openflow {

struct instructions {
  action_list apply;        // APPLY_ACTIONS (1.0: the flow's actions)
  bool clear = false;       // CLEAR_ACTIONS
  bool has_write = false;   // WRITE_ACTIONS, with `write`
  action_list write;
  bool has_metadata = false;  // WRITE_METADATA
  std::uint64_t metadata = 0, metadata_mask = 0;
  std::int16_t goto_table = -1;  // GOTO_TABLE, when >= 0
  friend constexpr bool operator==(const instructions&, const instructions&) noexcept = default;

  // 1.0 carries the apply list only.
  constexpr bool fits_10() const noexcept { return !clear && !has_write && !has_metadata && goto_table < 0; }
};

namespace detail::it13 {
inline constexpr std::uint16_t goto_table = 1, write_metadata = 2, write_actions = 3, apply_actions = 4,
                               clear_actions = 5, meter = 6;
}

constexpr result<void> emit_instructions13(writer& w, const instructions& in) noexcept {
  using namespace detail::it13;
  const auto list = [&](std::uint16_t type, const action_list& l) -> result<void> {
    const std::size_t start = w.size();
    w.u16(type);
    w.u16(0);
    w.zeros(4);
    if (auto e = emit_actions(version::of13, w, l.view()); !e) return e;
    w.patch16(start + 2, static_cast<std::uint16_t>(w.size() - start));
    return {};
  };
  if (in.apply.count > 0)
    if (auto e = list(apply_actions, in.apply); !e) return e;
  if (in.clear) {
    w.u16(clear_actions);
    w.u16(8);
    w.zeros(4);
  }
  if (in.has_write)
    if (auto e = list(write_actions, in.write); !e) return e;
  if (in.has_metadata) {
    w.u16(write_metadata);
    w.u16(24);
    w.zeros(4);
    w.u64(in.metadata);
    w.u64(in.metadata_mask);
  }
  if (in.goto_table >= 0) {
    w.u16(goto_table);
    w.u16(8);
    w.u8(static_cast<std::uint8_t>(in.goto_table));
    w.zeros(3);
  }
  return {};
}

constexpr result<instructions> parse_instructions13(std::span<const std::uint8_t> bytes, refusal& why) noexcept {
  using namespace detail::it13;
  instructions out;
  reader r(bytes);
  while (r.left() > 0) {
    const std::uint16_t type = r.u16();
    const std::uint16_t len = r.u16();
    if (!r.ok() || len < 8 || len % 8 != 0 || len - 4u > r.left()) {
      why = refusal::bad_len;
      return fail(error::malformed);
    }
    reader body(r.bytes(len - 4u));
    switch (type) {
      case apply_actions:
      case write_actions: {
        body.skip(4);
        auto l = parse_actions(version::of13, body.rest(), why);
        if (!l) return fail(l.err());
        if (type == apply_actions) {
          out.apply = *l;
        } else {
          out.has_write = true;
          out.write = *l;
        }
        break;
      }
      case clear_actions: out.clear = true; break;
      case write_metadata:
        body.skip(4);
        out.has_metadata = true;
        out.metadata = body.u64();
        out.metadata_mask = body.u64();
        break;
      case goto_table: out.goto_table = body.u8(); break;
      default: why = refusal::bad_instruction; return fail(error::malformed);  // meter, experimenter, unknown
    }
    if (!body.ok()) {
      why = refusal::bad_len;
      return fail(error::malformed);
    }
  }
  return out;
}

}  // namespace uni::openflow
