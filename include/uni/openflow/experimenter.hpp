// uni/openflow/experimenter.hpp: VENDOR (1.0 §5.5.4) and EXPERIMENTER (1.3
// §A.5.4) messages, extensions named by a vendor id (1.3 adds a type). uni
// implements none: a session answers one with BAD_REQUEST/BAD_VENDOR (1.3
// BAD_EXPERIMENTER), after reading it only far enough to check its length.
#pragma once

#include <cstdint>

#include <uni/openflow/header.hpp>

namespace uni::openflow {

struct experimenter_msg {
  std::uint32_t id = 0;
  std::uint32_t exp_type = 0;  // 1.3
  std::span<const std::uint8_t> data;

  static constexpr result<experimenter_msg> parse(const message& m) noexcept {
    reader r(m.body());
    experimenter_msg e;
    e.id = r.u32();
    if (m.v() == version::of13) e.exp_type = r.u32();
    if (!r.ok()) return fail(error::truncated);
    e.data = r.rest();
    return e;
  }
  constexpr result<std::size_t> emit(version v, std::uint32_t xid, std::span<std::uint8_t> out) const noexcept {
    writer w(out);
    begin(w, v, kind::experimenter, xid);
    w.u32(id);
    if (v == version::of13) w.u32(exp_type);
    w.bytes(data);
    return finish(w);
  }
};

}  // namespace uni::openflow
