// tests/fuzz/btree_fuzz.cpp: libFuzzer target for the copy-on-write B-tree store
// (uni/btree/store.hpp) over scribbled images. A good image (a few hundred keys,
// several levels, the log wrapped once) is built once; the input scribbles on a
// copy of it, then the store opens it, lists and reads every key, and writes.
// Every outcome is allowed except a crash, a hang, a sanitizer report or memory
// that grows (all the store's memory is in the object).
//
// Input: byte 0 is the mode; then patches of 4 bytes: a 24-bit little-endian
// offset into the image (modulo its size) and the byte to put there.
//   mode & 1   after patching, every block that carries a node's, commit
//              record's or slot's header gets its checksum recomputed, so the
//              scribbles reach the structural checks behind the checksums
//   mode & 2   the input after byte 0 is the image's start instead (raw)
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>

#include <uni/btree/store.hpp>
#include <uni/core/run.hpp>
#include <uni/sim/manual_clock.hpp>
#include <uni/sim/ram_disk.hpp>

#include "../unit/btree_small_config.hpp"
#include "fuzz_support.hpp"

namespace {

using config = btree_small_config<8>;
using store = uni::btree::Store<uni::sim::RamDisk, config>;
constexpr std::uint64_t image_id = 99;

template <class T>
auto now(uni::task<T> t) {
  uni::scheduler s;
  uni::sim::ManualClock clock;
  return uni::run(s, clock, std::move(t));
}

uni::view bytes_of(const std::string& s) {
  return uni::view::unowned(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

const uni::sim::RamDisk& good_image() {
  static uni::sim::RamDisk* image = [] {
    auto* ram = new uni::sim::RamDisk(512, 200);
    auto s = std::make_unique<store>(*ram);
    if (!now(s->format(image_id))) __builtin_trap();
    for (std::size_t i = 0; i < 600; ++i) {
      const std::string k = "k/" + std::to_string(i * 7919 % 150);
      const std::string value(i % 60, 'v');
      const uni::view v = bytes_of(value);
      if (!now(s->set(k, std::span<const uni::view>(&v, 1)))) __builtin_trap();
    }
    return ram;
  }();
  return *image;
}

// Recompute the checksum of every block that looks like a node, record or slot.
void reseal(std::span<std::uint8_t> image) {
  using namespace uni::btree;
  for (std::size_t at = 0; at + config::node_size <= image.size(); at += config::node_size) {
    std::uint8_t* b = image.data() + at;
    if (b[16] == 1 || b[16] == 2) seal({b, config::node_size}, load64(b + 8), image_id);
    if (load64(b + 8) == 0x74636d6354426e75ull) store64(b, hash_of({b + 8, 64}, image_id));  // commit record
    if (load64(b + 8) == 0x746f6c7354426e75ull) store64(b, hash_of({b + 8, 48}));            // slot
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  uni::sim::RamDisk disk = good_image();
  std::span<std::uint8_t> image = disk.image();
  if (mode & 2) {
    std::memcpy(image.data(), data + 1, std::min(size - 1, image.size()));
  } else {
    for (std::size_t i = 1; i + 4 <= size; i += 4) {
      const std::size_t at = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16)) % image.size();
      image[at] = data[i + 3];
    }
  }
  if (mode & 1) reseal(image);

  auto s = std::make_unique<store>(disk);
  if (!now(s->open())) return 0;
  std::size_t listed = 0;
  auto count = [&](std::string_view) { ++listed; };
  auto n = now(s->list("", count));
  if (n && *n != listed) __builtin_trap();  // list counts what it visits
  std::uint8_t out[config::max_value];
  for (int i = 0; i < 150; i += 7) {
    const std::string k = "k/" + std::to_string(i);
    auto got = now(s->get(k, out));
    if (got && *got > sizeof out) __builtin_trap();
    (void)now(s->exists(k));
  }
  const uni::view v = bytes_of("after");
  (void)now(s->set("k/new", std::span<const uni::view>(&v, 1)));
  (void)now(s->remove("k/7"));
  (void)now(s->compact());
  return 0;
}
