// tests/fuzz/fat32_fuzz.cpp: libFuzzer target for the FAT-32 volume
// (uni/fs/fat32/). The input is the start of a 128 KiB disk image (the rest is
// zeros); the seeds are small volumes made by uni's formatter and filled by
// fat32_tool. The volume is mounted, every directory listed and every file read
// (bounded depth), then written: create, write, append, truncate, mkdir, rename,
// remove, and the same paths read again.
//   1. nothing crashes, hangs or grows without bound: every answer is a value;
//   2. a read never gives more bytes than the file's size (the size open() and
//      stat() agree on), nor a chunk over a page;
//   3. when the volume is gone, every I/O page is back in the pool.
#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include <uni/core/run.hpp>
#include <uni/fs/fat32/volume.hpp>
#include <uni/sim/manual_clock.hpp>
#include <uni/sim/ram_disk.hpp>

#include "fuzz_support.hpp"

namespace {

using namespace uni;
namespace fat = uni::fs::fat32;
using fat_volume = fat::volume<sim::RamDisk, 2>;

constexpr std::size_t disk_sectors = 256;
constexpr std::size_t max_depth = 6;

template <class T>
outcome_t<T> now(task<T> t) {
  scheduler s;
  sim::ManualClock clock;
  return run(s, clock, std::move(t));
}

// `listed`: the size the directory listing gave. On a scribbled image two entries
// of a directory may share a name, and open() takes the first: its reader's size
// is the one the read must keep to (a fuzzer found such an image).
void read_file(fat_volume& v, const std::string& path, std::uint32_t listed) {
  auto r = now(v.open(path));
  if (!r) return;
  const std::uint64_t size = r->size();
  if (size != listed) {
    const auto st = now(v.stat(path));
    FUZZ_CHECK(st && st->size == size);
  }
  std::uint64_t total = 0;
  while (true) {
    auto chunk = now(r->next());
    if (!chunk || chunk->empty()) break;
    FUZZ_CHECK(chunk->size() <= page_size);
    total += chunk->size();
    FUZZ_CHECK(total <= size);
  }
}

void walk(fat_volume& v, const std::string& path, std::size_t depth) {
  if (depth > max_depth) return;
  auto d = now(v.open_directory(path));
  if (!d) return;
  fat_volume::listed e;
  for (int entries = 0; entries < 512; ++entries) {
    auto more = now(v.next(*d, e));
    if (!more || !*more) return;
    const std::string child = path.empty() ? std::string(e.name()) : path + "/" + std::string(e.name());
    if (e.info.directory) walk(v, child, depth + 1);
    else read_file(v, child, e.info.size);
  }
}

void exercise(sim::RamDisk& disk, page_pool& pool) {
  fat_volume v(disk, pool);
  if (!now(v.mount())) return;
  walk(v, "", 0);
  std::string data(3000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 1);
  const view one = view::unowned(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
  const std::span<const view> bytes(&one, 1);
  const std::string name = "a new file with a long name.txt";
  (void)now(v.create(name));
  (void)now(v.write(name, 0, bytes));
  (void)now(v.append(name, bytes));
  (void)now(v.truncate(name, 4000));
  std::array<std::uint8_t, 4096> back{};
  auto n = now(v.read(name, 0, back));
  FUZZ_CHECK(!n || *n <= back.size());
  (void)now(v.mkdir("new dir"));
  (void)now(v.rename(name, "new dir/moved.txt"));
  (void)now(v.stat("new dir/moved.txt"));
  (void)now(v.remove("new dir/moved.txt"));
  (void)now(v.remove("new dir"));
  walk(v, "", 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static static_page_pool<16> pool;
  sim::RamDisk disk(512, disk_sectors);
  std::memcpy(disk.image().data(), data, std::min(size, disk.image().size()));
  exercise(disk, pool);
  FUZZ_CHECK(pool.available() == 16);
  return 0;
}
