// tests/fuzz/memcache_fuzz.cpp: libFuzzer target for the memcache session and
// store (uni/memcache/). The input is what a client sends; its first byte picks
// the sizes the bytes arrive in.
//   1. the session takes every byte unless its output waits to be sent, and
//      the output it asks to send is never larger than its buffer;
//   2. the answers do not depend on how the bytes were split (whole, or in
//      pieces of 1..64 bytes), stats aside (they count reads as they happen);
//   3. when the connection is gone, no chunk is left pinned or lost: each size
//      class hands out exactly the chunks its linked items hold.
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <uni/memcache/session.hpp>

#include "fuzz_support.hpp"

namespace {

constexpr std::size_t out_capacity = 16 * 1024;
constexpr std::int64_t now = 1'700'000'000;

std::string run(std::span<const std::uint8_t> in, std::size_t step) {
  uni::memcache::cache cache({.memory = 4u << 20, .item_max = 64u << 10}, now - 100);
  std::string answers;
  {
    auto s = std::make_unique<uni::memcache::session<out_capacity>>(cache);
    while (!in.empty() && !s->closing()) {
      auto piece = in.first(std::min(step, in.size()));
      in = in.subspan(piece.size());
      while (!piece.empty() && !s->closing()) {
        const std::size_t used = s->receive(piece, now);
        FUZZ_CHECK(used <= piece.size());
        FUZZ_CHECK(used == piece.size() || s->blocked() || s->closing());
        piece = piece.subspan(used);
        while (!s->output().empty()) {
          FUZZ_CHECK(s->output().size() <= out_capacity);
          answers.append(s->output().begin(), s->output().end());
          s->sent(now);
        }
      }
    }
  }
  std::size_t items = 0;
  for (const auto& k : cache.items.classes()) {
    FUZZ_CHECK(k.used == k.items);
    items += k.items;
  }
  FUZZ_CHECK(items == cache.items.items());
  return answers;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t step = 1 + data[0] % 64;
  const std::span<const std::uint8_t> in(data + 1, size - 1);
  const std::string whole = run(in, in.size() + 1);
  const std::string split = run(in, step);
  const std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
  if (text.find("stats") == std::string_view::npos) FUZZ_CHECK(whole == split);
  return 0;
}
