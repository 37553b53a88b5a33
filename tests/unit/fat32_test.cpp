// FAT-32 (uni/fs/fat32): the on-disk structures against fatgen103's rules, and a
// volume formatted on a RAM disk, written and read back through every operation,
// checked after each against the FAT itself (free count, chains, sizes). Corrupt
// images give errors. (Catch's REQUIRE throws, which a coroutine must not: the
// tests drive each call with now() and check outside.)
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <uni/core/run.hpp>
#include <uni/fs/fat32/format.hpp>
#include <uni/fs/fat32/store.hpp>
#include <uni/fs/fat32/volume.hpp>
#include <uni/kv/concepts.hpp>
#include <uni/sim/manual_clock.hpp>
#include <uni/sim/ram_disk.hpp>

using namespace uni;
using namespace uni::fs::fat32;

namespace {

template <class T>
outcome_t<T> now(task<T> t) {
  scheduler s;
  sim::ManualClock clock;
  return run(s, clock, std::move(t));
}

using disk = sim::RamDisk;
using fat_volume = volume<disk, 2>;

// 8 MiB of 512-byte sectors: 512-byte clusters, about 16000 of them.
struct fixture {
  static_page_pool<64> pool;
  disk dev{512, 8 * 2048};
  fat_volume vol{dev, pool};

  explicit fixture(format_options o = {}) {
    REQUIRE(now(format(dev, pool, o)).ok());
    REQUIRE(now(vol.mount()).ok());
  }
};

view bytes_of(const std::string& s) {
  return view::unowned(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

result<void> put(fat_volume& v, std::string_view path, const std::string& data) {
  const view one = bytes_of(data);
  return now(v.write(path, 0, std::span<const view>(&one, 1)));
}

std::string read_all(fat_volume& v, std::string_view path) {
  auto info = now(v.stat(path));
  REQUIRE(info.ok());
  std::string out(info->size, '\0');
  auto n = now(v.read(path, 0, std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(out.data()), out.size())));
  REQUIRE(n.ok());
  REQUIRE(*n == out.size());
  return out;
}

std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// What the image's own FAT says: free clusters, and that the FSInfo count agrees.
std::uint32_t free_in_fat(const disk& d, const geometry& g) {
  std::uint32_t n = 0;
  const std::uint8_t* fat = d.image().data() + std::size_t{g.reserved_sectors} * g.sector_size;
  for (std::uint32_t c = 2; c < g.cluster_count + 2; ++c)
    if ((load_le32(fat + 4 * c) & fat_entry::mask) == 0) ++n;
  return n;
}
std::uint32_t fsinfo_free(const disk& d, const geometry& g) {
  return load_le32(d.image().data() + std::size_t{g.fsinfo_sector} * g.sector_size + 488);
}
void check_counts(fixture& f) {
  const geometry& g = f.vol.layout();
  CHECK(fsinfo_free(f.dev, g) == free_in_fat(f.dev, g));
  CHECK(f.vol.free_clusters() == free_in_fat(f.dev, g));
  // The FAT copies agree.
  const std::uint8_t* fat = f.dev.image().data() + std::size_t{g.reserved_sectors} * g.sector_size;
  CHECK(std::memcmp(fat, fat + std::size_t{g.fat_sectors} * g.sector_size, std::size_t{g.fat_sectors} * g.sector_size) == 0);
}

std::set<std::string> names_in(fat_volume& v, std::string_view dir) {
  std::set<std::string> names;
  auto each = [&](std::string_view name, const entry_info&) { names.emplace(name); };
  REQUIRE(now(v.list(dir, each)).ok());
  return names;
}

}  // namespace

static_assert(kv::Store<store<fat_volume>>, "a FAT-32 volume must be a kv::Store through fat32::store");

TEST_CASE("fat32 names: the long-name checksum, short aliases, UTF-8 and UTF-16", "[fat32]") {
  // fatgen103 §7.2's rotate-and-add over the 11 bytes.
  short_name n;
  std::memcpy(n.data(), "README  TXT", 11);
  std::uint8_t sum = 0;
  for (std::uint8_t c : n) sum = static_cast<std::uint8_t>((sum >> 1) + ((sum & 1) << 7) + c);
  CHECK(short_name_checksum(n) == sum);

  CHECK(exact_short_name("README.TXT").has_value());
  CHECK(!exact_short_name("readme.txt").has_value());  // lower case needs a long name
  CHECK(!exact_short_name("LONGERNAME.TXT").has_value());
  CHECK(!exact_short_name("A.B.C").has_value());
  const short_name alias = short_name_for("My long file.name.html", 1);
  CHECK(std::string_view(reinterpret_cast<const char*>(alias.data()), 11) == "MYLONG~1HTM");
  CHECK(std::string_view(reinterpret_cast<const char*>(short_name_for(".bashrc", 12).data()), 11) == "BASHR~12   ");

  std::array<char, 12> text{};
  std::memcpy(n.data(), "HELLO   TXT", 11);
  CHECK(std::string_view(text.data(), short_name_text(n, case_bits::lower_base | case_bits::lower_ext, text)) ==
        "hello.txt");

  const std::string_view utf8 = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";  // café € 😀
  std::array<std::uint16_t, 32> units{};
  auto u = utf8_to_utf16(utf8, units);
  REQUIRE(u.ok());
  CHECK(*u == 9);  // the emoji is a surrogate pair
  std::array<char, 64> back{};
  CHECK(std::string_view(back.data(), utf16_to_utf8(std::span<const std::uint16_t>(units.data(), *u), back)) == utf8);
  CHECK(!utf8_to_utf16("\xc3", units).ok());          // cut short
  CHECK(!utf8_to_utf16("\xc0\xaf", units).ok());      // overlong
  CHECK(!valid_long_name("a:b"));
  CHECK(!valid_long_name("trailing."));
  CHECK(valid_long_name("spaces inside ok"));
}

TEST_CASE("fat32 format: the boot sector, FSInfo and FAT fatgen103 asks for", "[fat32]") {
  fixture f;
  auto bs = boot_sector::parse(f.dev.image().first(512));
  REQUIRE(bs.ok());
  CHECK(bs->signature() == 0xAA55);
  CHECK(bs->fat_size16() == 0);
  CHECK(bs->root_entries() == 0);
  CHECK(std::memcmp(f.dev.image().data(), f.dev.image().data() + 6 * 512, 512) == 0);  // the backup
  const geometry& g = f.vol.layout();
  CHECK(g.root_cluster == 2);
  CHECK(g.cluster_bytes() == 512);
  CHECK(std::uint64_t{g.fat_sectors} * 512 / 4 >= g.cluster_count + 2);
  CHECK(f.vol.free_clusters() == g.cluster_count - 1);
  check_counts(f);
}

TEST_CASE("fat32 files: write and read back files of many sizes, with long and short names", "[fat32]") {
  fixture f;
  std::map<std::string, std::string> files;
  const std::size_t sizes[] = {0, 1, 511, 512, 513, 4095, 4096, 4097, 10000, 65536, 200001};
  unsigned seed = 1;
  for (std::size_t size : sizes) {
    const std::string name = size % 2 ? "Odd file of " + std::to_string(size) + " bytes.bin" : "F" + std::to_string(size) + ".DAT";
    REQUIRE(now(f.vol.create(name)).ok());
    files[name] = pattern(size, seed++);
    REQUIRE(put(f.vol, name, files[name]).ok());
  }
  for (const auto& [name, data] : files) CHECK(read_all(f.vol, name) == data);
  // Names compare without regard to case; the alias names the file too.
  CHECK(read_all(f.vol, "odd FILE of 1 bytes.BIN") == files["Odd file of 1 bytes.bin"]);
  CHECK(read_all(f.vol, "ODDFIL~1.BIN").size() == 1);
  std::set<std::string> expected;
  for (const auto& [name, data] : files) expected.insert(name);
  CHECK(names_in(f.vol, "") == expected);
  CHECK(now(f.vol.create("F0.DAT")).err() == error::in_use);
  CHECK(now(f.vol.stat("missing")).err() == error::not_found);
  check_counts(f);

  // Reads come as views of pool pages, a page at most, from any offset.
  auto r = now(f.vol.open("F65536.DAT", 1000));
  REQUIRE(r.ok());
  std::string got;
  while (true) {
    auto chunk = now(r->next());
    REQUIRE(chunk.ok());
    if (chunk->empty()) break;
    CHECK(chunk->size() <= page_size);
    got.append(reinterpret_cast<const char*>(chunk->data()), chunk->size());
  }
  CHECK(got == files["F65536.DAT"].substr(1000));
  CHECK(f.pool.available() == 64 - fat_volume::pages_needed);  // the views went back
}

TEST_CASE("fat32 files: overwrite, append past the end, gaps, truncate both ways", "[fat32]") {
  fixture f;
  REQUIRE(now(f.vol.create("log.txt")).ok());
  std::string model;
  for (int i = 0; i < 40; ++i) {
    const std::string line = pattern(static_cast<std::size_t>(37 * i + 11), static_cast<unsigned>(i));
    const view one = bytes_of(line);
    REQUIRE(now(f.vol.append("log.txt", std::span<const view>(&one, 1))).ok());
    model += line;
  }
  CHECK(read_all(f.vol, "log.txt") == model);
  // Overwrite in the middle across sector and cluster edges.
  const std::string patch = pattern(1500, 99);
  const view p = bytes_of(patch);
  REQUIRE(now(f.vol.write("log.txt", 700, std::span<const view>(&p, 1))).ok());
  model.replace(700, patch.size(), patch);
  CHECK(read_all(f.vol, "log.txt") == model);
  // A write after the end leaves zeros in the gap.
  REQUIRE(now(f.vol.write("log.txt", model.size() + 3000, std::span<const view>(&p, 1))).ok());
  model += std::string(3000, '\0') + patch;
  CHECK(read_all(f.vol, "log.txt") == model);
  check_counts(f);
  // Gathered from several views.
  const std::string a = "first ", b = "second ", c = "third";
  const view parts[] = {bytes_of(a), bytes_of(b), bytes_of(c)};
  REQUIRE(now(f.vol.create("parts")).ok());
  REQUIRE(now(f.vol.write("parts", 0, parts)).ok());
  CHECK(read_all(f.vol, "parts") == "first second third");

  const std::uint32_t before = f.vol.free_clusters();
  REQUIRE(now(f.vol.truncate("log.txt", 1000)).ok());
  model.resize(1000);
  CHECK(read_all(f.vol, "log.txt") == model);
  CHECK(f.vol.free_clusters() > before);
  REQUIRE(now(f.vol.truncate("log.txt", 2600)).ok());
  model.resize(2600, '\0');
  CHECK(read_all(f.vol, "log.txt") == model);
  REQUIRE(now(f.vol.truncate("log.txt", 0)).ok());
  CHECK(now(f.vol.stat("log.txt"))->first_cluster == 0);
  check_counts(f);
}

TEST_CASE("fat32 directories: mkdir, nested paths, rename and move, remove", "[fat32]") {
  fixture f;
  REQUIRE(now(f.vol.mkdir("docs")).ok());
  REQUIRE(now(f.vol.mkdir("docs/Deeper Level")).ok());
  REQUIRE(now(f.vol.create("docs/Deeper Level/notes for later.md")).ok());
  REQUIRE(put(f.vol, "docs/Deeper Level/notes for later.md", "hello").ok());
  CHECK(read_all(f.vol, "/docs/deeper level/NOTES FOR LATER.md") == "hello");
  CHECK(now(f.vol.stat("docs"))->directory);
  CHECK(now(f.vol.create("nowhere/file")).err() == error::not_found);
  CHECK(now(f.vol.remove("docs")).err() == error::in_use);

  // Many entries: the directory grows past one cluster.
  for (int i = 0; i < 60; ++i) {
    const std::string name = "docs/entry number " + std::to_string(i) + " with a long name.txt";
    REQUIRE(now(f.vol.create(name)).ok());
  }
  CHECK(names_in(f.vol, "docs").size() == 61);

  // Rename in place, then move a directory to the root: its ".." follows.
  REQUIRE(now(f.vol.rename("docs/Deeper Level/notes for later.md", "docs/Deeper Level/renamed.md")).ok());
  CHECK(read_all(f.vol, "docs/Deeper Level/renamed.md") == "hello");
  CHECK(now(f.vol.stat("docs/Deeper Level/notes for later.md")).err() == error::not_found);
  REQUIRE(now(f.vol.rename("docs/Deeper Level", "moved")).ok());
  CHECK(read_all(f.vol, "moved/renamed.md") == "hello");
  const std::uint32_t moved = now(f.vol.stat("moved"))->first_cluster;
  const geometry& g = f.vol.layout();
  auto dotdot = short_entry::parse(f.dev.image().subspan(g.cluster_sector(moved) * 512 + 32, 32));
  CHECK(dotdot->first_cluster() == 0);  // the root, as §6.7 writes it
  CHECK(now(f.vol.rename("moved", "moved/inside")).err() == error::invalid_argument);
  // A rename onto a file replaces it; onto a directory it is refused.
  REQUIRE(now(f.vol.create("other")).ok());
  REQUIRE(put(f.vol, "other", std::string(3000, 'x')).ok());
  REQUIRE(now(f.vol.rename("other", "moved/renamed.md")).ok());
  CHECK(read_all(f.vol, "moved/renamed.md") == std::string(3000, 'x'));
  CHECK(now(f.vol.rename("moved/renamed.md", "docs")).err() == error::in_use);

  for (int i = 0; i < 60; ++i)
    REQUIRE(now(f.vol.remove("docs/entry number " + std::to_string(i) + " with a long name.txt")).ok());
  REQUIRE(now(f.vol.remove("docs")).ok());
  REQUIRE(now(f.vol.remove("moved/renamed.md")).ok());
  REQUIRE(now(f.vol.remove("moved")).ok());
  CHECK(names_in(f.vol, "").empty());
  check_counts(f);
}

TEST_CASE("fat32 full volume: no_space, and a failed write gives its clusters back", "[fat32]") {
  static_page_pool<16> pool;
  disk dev{512, 4096};  // 2 MiB
  REQUIRE(now(format(dev, pool, {})).ok());
  fat_volume vol{dev, pool};
  REQUIRE(now(vol.mount()).ok());
  const std::uint32_t free_before = vol.free_clusters();
  REQUIRE(now(vol.create("big")).ok());
  const std::string huge(std::size_t{free_before + 10} * 512, 'z');
  CHECK(put(vol, "big", huge).err() == error::no_space);
  CHECK(now(vol.stat("big"))->size == 0);
  CHECK(vol.free_clusters() == free_before);
  // It fits once made smaller; a second file then finds no room.
  REQUIRE(put(vol, "big", huge.substr(0, std::size_t{free_before - 1} * 512)).ok());
  REQUIRE(now(vol.create("x")).ok());
  CHECK(put(vol, "x", std::string(2000, 'y')).err() == error::no_space);
  CHECK(vol.free_clusters() == 1);  // the one cluster it took is back
  CHECK(now(vol.stat("x"))->size == 0);
}

TEST_CASE("fat32 corrupt images: errors, not crashes or hangs", "[fat32]") {
  fixture f;
  REQUIRE(now(f.vol.mkdir("d")).ok());
  REQUIRE(now(f.vol.create("d/file")).ok());
  REQUIRE(put(f.vol, "d/file", pattern(5000, 3)).ok());
  const geometry g = f.vol.layout();
  const disk pristine = f.dev;
  std::uint8_t* fat = f.dev.image().data() + std::size_t{g.reserved_sectors} * 512;
  const std::uint32_t file_first = now(f.vol.stat("d/file"))->first_cluster;
  const std::uint32_t dir_first = now(f.vol.stat("d"))->first_cluster;

  const auto remount = [&](disk& d) {
    static_page_pool<16> pool;
    fat_volume v{d, pool};
    auto m = now(v.mount());
    if (!m) return m.err();
    auto w = put(v, "d/file", "x");
    auto rd = now(v.read("d/file", 0, std::span<std::uint8_t>()));
    return !w ? w.err() : !rd ? rd.err() : error::none;
  };

  SECTION("a boot sector without its signature") {
    f.dev.image()[510] = 0;
    CHECK(remount(f.dev) == error::corrupt);
  }
  SECTION("a cluster size that is not a power of two") {
    f.dev.image()[13] = 3;
    CHECK(remount(f.dev) == error::corrupt);
  }
  SECTION("a FAT larger than the disk") {
    store_le32(f.dev.image().data() + 36, 0x10000000);
    CHECK(remount(f.dev) == error::corrupt);
  }
  SECTION("a file's chain that loops back on itself") {
    store_le32(fat + 4 * (file_first + 3), file_first);
    CHECK(remount(f.dev) == error::corrupt);
  }
  SECTION("a chain that leaves the volume") {
    store_le32(fat + 4 * (file_first + 1), g.cluster_count + 100);
    CHECK(remount(f.dev) == error::corrupt);
  }
  SECTION("a directory whose chain loops") {
    store_le32(fat + 4 * g.root_cluster, g.root_cluster);
    std::memset(f.dev.image().data() + g.cluster_sector(g.root_cluster) * 512, 0x41, 512);  // no end marker
    CHECK(remount(f.dev) == error::corrupt);
  }
  SECTION("an entry pointing outside the volume") {
    auto dot = short_entry::parse(f.dev.image().subspan(g.cluster_sector(dir_first) * 512 + 64, 32));
    // The file's short entry follows its long-name entry in d.
    for (std::size_t off = 64; off < 512; off += 32) {
      auto e = short_entry::parse(f.dev.image().subspan(g.cluster_sector(dir_first) * 512 + off, 32));
      if (e->first_cluster() == file_first) e->set_first_cluster(0x0FFFFF00);
    }
    (void)dot;
    CHECK(remount(f.dev) == error::corrupt);
  }
  SECTION("the untouched image still works") {
    disk copy = pristine;
    CHECK(remount(copy) == error::none);
  }
}

TEST_CASE("fat32 cache: a bounded number of FAT pages whatever the file's size", "[fat32]") {
  fixture f;
  REQUIRE(now(f.vol.create("long")).ok());
  const std::string data = pattern(3 * 1024 * 1024, 7);  // 6144 clusters: 24 KiB of FAT
  REQUIRE(put(f.vol, "long", data).ok());
  const auto misses = f.vol.fat_statistics().misses;
  CHECK(read_all(f.vol, "long") == data);
  // Two pages of FAT cache: a sequential read misses once a window (1024 entries).
  CHECK(f.vol.fat_statistics().misses - misses <= 8);
  CHECK(f.pool.available() == 64 - fat_volume::pages_needed);
}

TEST_CASE("fat32 store: paths as keys, through the kv::Store concept", "[fat32]") {
  fixture f;
  store<fat_volume> kv(f.vol);
  const std::string page = "<h1>hello</h1>", css = pattern(6000, 5);
  const view pv = bytes_of(page), cv = bytes_of(css);
  REQUIRE(now(kv.set("index.html", std::span<const view>(&pv, 1))).ok());
  REQUIRE(now(kv.set("css/deep/site.css", std::span<const view>(&cv, 1))).ok());
  REQUIRE(now(kv.set("css/deep/site.css", std::span<const view>(&pv, 1))).ok());  // replaced
  std::array<std::uint8_t, 64> out{};
  auto n = now(kv.get("css/deep/site.css", out));
  REQUIRE(n.ok());
  CHECK(std::string_view(reinterpret_cast<const char*>(out.data()), *n) == page);
  std::array<std::uint8_t, 4> small{};
  CHECK(now(kv.get("index.html", small)).err() == error::too_large);
  CHECK(now(kv.get("css", out)).err() == error::not_found);  // a directory is not a key
  CHECK(now(kv.get("../etc", out)).err() == error::invalid_argument);
  CHECK(*now(kv.exists("index.html")));
  CHECK(!*now(kv.exists("nope")));
  CHECK(*now(kv.digest("index.html")) == *now(kv.digest("css/deep/site.css")));  // same bytes
  REQUIRE(now(kv.set("index.html", std::span<const view>(&cv, 1))).ok());
  CHECK(!(*now(kv.digest("index.html")) == *now(kv.digest("css/deep/site.css"))));

  std::vector<std::string> keys;
  auto each = [&](std::string_view k) { keys.emplace_back(k); };
  CHECK(*now(kv.list("", each)) == 2);
  std::sort(keys.begin(), keys.end());
  CHECK(keys == std::vector<std::string>{"css/deep/site.css", "index.html"});
  keys.clear();
  CHECK(*now(kv.list("css/", each)) == 1);
  REQUIRE(now(kv.remove("index.html")).ok());
  CHECK(now(kv.remove("index.html")).err() == error::not_found);
  check_counts(f);
}

TEST_CASE("fat32 store: list() gives the keys in byte order (one walk, a directory sorting with its '/'), under a prefix too",
          "[fat32]") {
  fixture f;
  store<fat_volume> kv(f.vol);
  const std::string one = "1";
  const view v = bytes_of(one);
  // '-' and '.' sort before the '/' of directory a, '0' after it.
  const std::vector<std::string> made{"zeta", "b/x", "Alpha", "b/a", "a.txt", "bb", "b/c/deep", "B2", "a0", "a/x", "a-b"};
  for (const std::string& k : made) REQUIRE(now(kv.set(k, std::span<const view>(&v, 1))).ok());
  std::vector<std::string> keys;
  auto each = [&](std::string_view k) { keys.emplace_back(k); };
  CHECK(*now(kv.list("", each)) == made.size());
  std::vector<std::string> sorted = made;
  std::sort(sorted.begin(), sorted.end());
  CHECK(keys == sorted);
  keys.clear();
  CHECK(*now(kv.list("b/", each)) == 3);
  CHECK(keys == std::vector<std::string>{"b/a", "b/c/deep", "b/x"});
  keys.clear();
  CHECK(*now(kv.list("nothing", each)) == 0);
  CHECK(keys.empty());
}

static_assert(kv::StreamStore<store<fat_volume>>, "fat32::store must stream files (kv::StreamStore)");

TEST_CASE("fat32 store: open() streams a file a page at a time, from any offset", "[fat32]") {
  fixture f;
  store<fat_volume> kv(f.vol);
  // Reads with room for `room` pages a call; `calls` counts the calls that gave bytes.
  auto stream_all = [&](std::string_view key, std::uint64_t from, std::size_t room, std::size_t& calls) {
    auto s = now(kv.open(key));
    REQUIRE(s.ok());
    s->skip_to(from);
    std::string out;
    calls = 0;
    std::vector<view> pages(room);
    while (true) {
      auto n = now(s->next(pages));
      REQUIRE(n.ok());
      if (*n == 0) break;
      for (std::size_t i = 0; i < *n; ++i) {
        CHECK(pages[i].size() <= page_size);
        out.append(reinterpret_cast<const char*>(pages[i].data()), pages[i].size());
      }
      pages.assign(room, view{});
      ++calls;
    }
    return out;
  };
  // Written in one go, the file's 512-byte clusters follow each other: one
  // device request fills as many pages as there is room for.
  const std::string data = pattern(20000, 3);
  const view dv = bytes_of(data);
  REQUIRE(now(kv.set("site/big.bin", std::span<const view>(&dv, 1))).ok());
  std::size_t calls = 0;
  CHECK(stream_all("site/big.bin", 0, 1, calls) == data);
  CHECK(calls == (data.size() + page_size - 1) / page_size);
  CHECK(stream_all("site/big.bin", 0, 8, calls) == data);
  CHECK(calls == 1);
  CHECK(stream_all("site/big.bin", 12345, 2, calls) == data.substr(12345));
  CHECK(stream_all("site/big.bin", 1 << 20, 2, calls).empty());
  CHECK(now(kv.open("site")).err() == error::not_found);
  CHECK(now(kv.open("missing")).err() == error::not_found);

  // Two files grown in turns: their clusters alternate, and each still reads back.
  std::string a, b;
  REQUIRE(now(f.vol.create("a")).ok());
  REQUIRE(now(f.vol.create("b")).ok());
  for (unsigned i = 0; i < 12; ++i) {
    const std::string pa = pattern(700, i), pb = pattern(900, 100 + i);
    const view va = bytes_of(pa), vb = bytes_of(pb);
    REQUIRE(now(f.vol.append("a", std::span<const view>(&va, 1))).ok());
    REQUIRE(now(f.vol.append("b", std::span<const view>(&vb, 1))).ok());
    a += pa;
    b += pb;
  }
  CHECK(stream_all("a", 0, 4, calls) == a);
  CHECK(stream_all("b", 333, 3, calls) == b.substr(333));
  CHECK(f.pool.available() == 64 - fat_volume::pages_needed);  // every page given back

  // The version follows the file: a rewrite of another size changes it.
  const kv::digest before = now(kv.open("a"))->version();
  CHECK(now(kv.open("a"))->version() == before);
  const std::string rewritten = a.substr(1);  // the view must not outlive its bytes
  const view shorter = bytes_of(rewritten);
  REQUIRE(now(kv.set("a", std::span<const view>(&shorter, 1))).ok());
  CHECK(!(now(kv.open("a"))->version() == before));
  check_counts(f);
}
