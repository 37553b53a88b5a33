// tests/fuzz/vchan_fuzz.cpp: libFuzzer target for the vchan shared page
// (uni/vchan/ring.hpp) as a hostile peer writes it. The input is a script: its
// first two bytes are the orders a server announces (checked as a client would:
// check_orders), then each step is an opcode and a 32-bit value: the peer sets
// an index it owns (left.prod, right.cons) or one it does not (our own, which we
// must never trust: we keep our copy), or we read or write up to that many bytes.
//   1. nothing is read or written outside the rings (each ring piece is its own
//      heap block of its exact size, so ASan sees one byte past it);
//   2. a read or write moves our index by exactly what it returns, never more
//      than asked or than the ring holds; a broken ring (error::malformed) moves
//      nothing, and is reported exactly when the peer's index is out of range;
//   3. orders check_orders accepts leave the grant list clear of the rings.
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include <uni/vchan/ring.hpp>

#include "fuzz_support.hpp"

using namespace uni::vchan;

namespace {

struct side {
  std::vector<std::unique_ptr<std::uint8_t[]>> blocks;
  std::vector<std::uint8_t*> chunks;
};

void place(unsigned order, side& s) {
  const std::size_t n = order < 12 ? 1 : pages_of(order);
  const std::size_t each = order < 12 ? std::size_t{1} << order : page_bytes;
  for (std::size_t i = 0; i < n; ++i) {
    s.blocks.push_back(std::make_unique<std::uint8_t[]>(each));
    s.chunks.push_back(s.blocks.back().get());
  }
}

std::uint32_t u32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const unsigned left_order = 8 + data[0] % 16, right_order = 8 + data[1] % 16;
  if (!check_orders(left_order, right_order)) return 0;
  // 3: the grants end before whichever ring sits in the page.
  const std::size_t grants_end = grants_offset + 4 * (pages_of(left_order) + pages_of(right_order));
  for (unsigned o : {left_order, right_order}) FUZZ_CHECK(in_page_offset(o) == 0 || grants_end <= in_page_offset(o));
  FUZZ_CHECK(grants_end <= page_bytes);
  if (left_order > 16 || right_order > 16) return 0;  // bigger rings: the same code, more memory

  shared_header h{};
  initialise(h, left_order, right_order);
  side l, r;
  place(left_order, l);
  place(right_order, r);
  // We are the server: we consume left and produce into right.
  ring in(h.left, l.chunks, left_order, false), out(h.right, r.chunks, right_order, true);
  control ctl(h, role::server);
  std::vector<std::uint8_t> buf(std::size_t{1} << 17);

  for (std::size_t at = 2; at + 5 <= size; at += 5) {
    const std::uint32_t v = u32(data + at + 1);
    switch (data[at] % 8) {
      case 0: h.left.prod = v; break;   // the peer's own index: anything
      case 1: h.right.cons = v; break;
      case 2: h.left.cons = v; break;   // ours, scribbled on: must change nothing we do
      case 3: h.right.prod = v; break;
      case 4: {
        const std::uint32_t before = in.index();
        const bool bad = static_cast<std::uint32_t>(h.left.prod - before) > in.size();
        auto n = in.read({buf.data(), v % buf.size()});
        FUZZ_CHECK(n.ok() != bad);
        if (n) {
          FUZZ_CHECK(*n <= v % buf.size() && *n <= in.size());
          FUZZ_CHECK(in.index() == before + *n && h.left.cons == in.index());
        } else {
          FUZZ_CHECK(n.err() == uni::error::malformed && in.index() == before);
        }
        break;
      }
      case 5: {
        const std::uint32_t before = out.index();
        const bool bad = static_cast<std::uint32_t>(before - h.right.cons) > out.size();
        auto n = out.write({buf.data(), v % buf.size()});
        FUZZ_CHECK(n.ok() != bad);
        if (n) {
          FUZZ_CHECK(*n <= v % buf.size() && *n <= out.size());
          FUZZ_CHECK(out.index() == before + *n && h.right.prod == out.index());
        } else {
          FUZZ_CHECK(n.err() == uni::error::malformed && out.index() == before);
        }
        break;
      }
      case 6: h.srv_notify = static_cast<std::uint8_t>(v); h.cli_live = static_cast<std::uint8_t>(v >> 8); break;
      case 7: {
        const bool asked = (h.srv_notify & (v & 3)) != 0;
        FUZZ_CHECK(ctl.take_request(static_cast<std::uint8_t>(v & 3)) == asked);
        FUZZ_CHECK((h.srv_notify & (v & 3)) == 0);
        ctl.request(notify_write);
        FUZZ_CHECK((h.cli_notify & notify_write) != 0);
        break;
      }
    }
  }
  return 0;
}
