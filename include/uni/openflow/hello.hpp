// uni/openflow/hello.hpp: HELLO and version negotiation (OpenFlow 1.0 §5.5.1;
// 1.3 §6.3.1, §A.5.1). Each side sends the highest version it speaks; a 1.3
// hello may carry a version-bitmap element listing every version it accepts.
// The version used is the highest both speak: from the bitmaps when both sent
// one, else the lower of the two header versions, if this side speaks it.
// Without a common version, the answer is HELLO_FAILED/INCOMPATIBLE.
#pragma once

#include <cstdint>
#include <optional>

#include <uni/openflow/header.hpp>

namespace uni::openflow {

// The versions a side accepts, bit n for wire version n (1.3's bitmap element).
struct version_set {
  std::uint32_t bits = 0;
  constexpr bool has(std::uint8_t v) const noexcept { return v < 32 && (bits >> v & 1); }
  constexpr version_set& add(version v) noexcept {
    bits |= 1u << static_cast<std::uint8_t>(v);
    return *this;
  }
  constexpr std::uint8_t highest() const noexcept {
    for (int v = 31; v > 0; --v)
      if (has(static_cast<std::uint8_t>(v))) return static_cast<std::uint8_t>(v);
    return 0;
  }
};

inline constexpr version_set both_versions = version_set{}.add(version::of10).add(version::of13);

struct hello {
  std::uint8_t wire_version = 0;
  std::optional<version_set> bitmap;  // the peer's version-bitmap element, if it sent one

  static constexpr std::uint16_t element_versionbitmap = 1;

  static constexpr result<hello> parse(const message& m) noexcept {
    hello h{m.h.wire_version, std::nullopt};
    reader r(m.body());
    // Elements are read only from 1.3 on; 1.0 says to ignore a hello's body.
    while (m.h.wire_version >= 4 && r.left() >= 4) {
      const std::uint16_t type = r.u16();
      const std::uint16_t len = r.u16();
      if (len < 4 || len - 4u > r.left()) return fail(error::malformed);
      reader e(r.bytes(len - 4u));
      if (type == element_versionbitmap && len >= 8) {
        version_set s;
        s.bits = e.u32();  // versions 0..31; later words name versions uni cannot speak
        h.bitmap = s;
      }
      const std::size_t pad = (8u - len % 8u) % 8u;  // elements are padded to 8 (the last may not be)
      r.skip(pad < r.left() ? pad : r.left());
    }
    return h;
  }

  // A hello from a side speaking `ours`: 1.3 and later carry the bitmap.
  static constexpr result<std::size_t> emit(version_set ours, std::uint32_t xid, std::span<std::uint8_t> out) noexcept {
    const auto top = static_cast<version>(ours.highest());
    writer w(out);
    begin(w, top, kind::hello, xid);
    if (static_cast<std::uint8_t>(top) >= 4) {
      w.u16(element_versionbitmap);
      w.u16(8);
      w.u32(ours.bits);
    }
    return finish(w);
  }
};

// The version both sides speak, or nothing (HELLO_FAILED/INCOMPATIBLE).
constexpr std::optional<version> negotiate(version_set ours, const hello& theirs) noexcept {
  std::uint8_t v = 0;
  if (theirs.bitmap) {  // the peer accepts only what it lists, whatever its header says
    v = version_set{ours.bits & theirs.bitmap->bits}.highest();
  } else {
    v = theirs.wire_version < ours.highest() ? theirs.wire_version : ours.highest();
    if (!ours.has(v)) v = 0;
  }
  if (!known_version(v)) return std::nullopt;
  return static_cast<version>(v);
}

}  // namespace uni::openflow
