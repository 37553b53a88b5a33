// fat32_tool: uni's FAT-32 library driven from the command line over an image
// file, so Linux's own tools (mkfs.fat, mcopy, fsck.fat, the vfat driver) can
// judge what it reads and writes (tests/scripts/fat32_interop.sh).
//
//   fat32_tool IMAGE dump OUTDIR          every file and directory, copied out
//   fat32_tool IMAGE put HOSTFILE PATH    create (or empty) PATH, then append the
//                                         file's bytes in chunks of varied sizes
//   fat32_tool IMAGE putdir HOSTDIR PATH  put every file under HOSTDIR, mkdir on the way
//   fat32_tool IMAGE mkdir PATH | remove PATH | rename FROM TO | truncate PATH SIZE
//   fat32_tool IMAGE format [RESERVED]    a fresh volume over the whole image (RESERVED
//                                         sectors before the FATs: 32, or 8 for small seeds)
//
// The image is a BlockDevice of 512-byte sectors read and written with
// pread/pwrite (the library sees only the concept).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <uni/core/run.hpp>
#include <uni/fs/fat32/format.hpp>
#include <uni/fs/fat32/volume.hpp>
#include <uni/sim/manual_clock.hpp>

using namespace uni;
namespace fat = uni::fs::fat32;
namespace host = std::filesystem;

namespace {

// An image file as a block device of 512-byte sectors.
class image_disk {
 public:
  explicit image_disk(const char* path) : fd_(::open(path, O_RDWR | O_CLOEXEC)) {
    struct stat st {};
    if (fd_ >= 0 && ::fstat(fd_, &st) == 0) sectors_ = static_cast<std::uint64_t>(st.st_size) / 512;
  }
  ~image_disk() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const noexcept { return fd_ >= 0; }
  std::size_t sector_size() const noexcept { return 512; }
  std::uint64_t sectors() const noexcept { return sectors_; }
  bool read_only() const noexcept { return false; }

  task<result<void>> read(std::uint64_t first, std::span<const view> into) { co_return transfer(first, into, false); }
  task<result<void>> write(std::uint64_t first, std::span<const view> from) { co_return transfer(first, from, true); }
  task<result<void>> flush() {
    if (::fdatasync(fd_) != 0) co_return fail(error::io);
    co_return result<void>{};
  }

 private:
  result<void> transfer(std::uint64_t first, std::span<const view> pages, bool out) {
    std::uint64_t count = 0;
    for (const view& v : pages) {
      if (v.size() % 512 != 0) return fail(error::misaligned);
      count += v.size() / 512;
    }
    if (first > sectors_ || count > sectors_ - first) return fail(error::out_of_range);
    auto at = static_cast<off_t>(first * 512);
    for (const view& v : pages) {
      const ssize_t n = out ? ::pwrite(fd_, v.data(), v.size(), at) : ::pread(fd_, v.data(), v.size(), at);
      if (n != static_cast<ssize_t>(v.size())) return fail(error::io);
      at += n;
    }
    return {};
  }

  int fd_ = -1;
  std::uint64_t sectors_ = 0;
};

using fat_volume = fat::volume<image_disk, 4>;

template <class T>
outcome_t<T> now(task<T> t) {
  scheduler s;
  sim::ManualClock clock;
  return run(s, clock, std::move(t));
}

[[noreturn]] void die(const std::string& what, error e) {
  std::fprintf(stderr, "fat32_tool: %s: %s\n", what.c_str(), std::string(to_string(e)).c_str());
  std::exit(1);
}
void check(const result<void>& r, const std::string& what) {
  if (!r) die(what, r.err());
}

void dump(fat_volume& v, const std::string& path, const host::path& out) {
  host::create_directories(out);
  auto d = now(v.open_directory(path));
  if (!d) die("list " + path, d.err());
  fat_volume::listed e;
  while (true) {
    auto more = now(v.next(*d, e));
    if (!more) die("list " + path, more.err());
    if (!*more) break;
    const std::string name(e.name());
    const std::string child = path.empty() ? name : path + "/" + name;
    if (e.info.directory) {
      dump(v, child, out / name);
      continue;
    }
    std::ofstream f(out / name, std::ios::binary);
    auto r = now(v.open(child));
    if (!r) die("open " + child, r.err());
    while (true) {
      auto chunk = now(r->next());
      if (!chunk) die("read " + child, chunk.err());
      if (chunk->empty()) break;
      f.write(reinterpret_cast<const char*>(chunk->data()), static_cast<std::streamsize>(chunk->size()));
    }
  }
}

void put(fat_volume& v, const host::path& host, const std::string& path) {
  std::ifstream in(host, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto info = now(v.stat(path));
  check(info ? now(v.truncate(path, 0)) : now(v.create(path)), "create " + path);
  // Appends of varied sizes: sector and cluster edges fall inside writes.
  const std::size_t steps[] = {1, 700, 4096, 513, 9000, 65536};
  std::size_t at = 0;
  for (std::size_t i = 0; at < bytes.size(); ++i) {
    const std::size_t n = std::min(steps[i % std::size(steps)], bytes.size() - at);
    const view one = view::unowned(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data() + at), n));
    check(now(v.append(path, std::span<const view>(&one, 1))), "append " + path);
    at += n;
  }
}

void putdir(fat_volume& v, const host::path& host, const std::string& path) {
  if (!path.empty() && !now(v.stat(path))) check(now(v.mkdir(path)), "mkdir " + path);
  for (const auto& e : host::directory_iterator(host)) {
    const std::string child = path.empty() ? e.path().filename().string() : path + "/" + e.path().filename().string();
    if (e.is_directory()) putdir(v, e.path(), child);
    else put(v, e.path(), child);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fat32_tool IMAGE dump|put|putdir|mkdir|remove|rename|truncate|format ...\n");
    return 2;
  }
  static static_page_pool<64> pool;
  image_disk disk(argv[1]);
  if (!disk.ok()) die(argv[1], error::no_device);
  const std::string cmd = argv[2];
  const auto arg = [&](int i) -> std::string {
    if (argc <= i) die(cmd + ": missing argument", error::invalid_argument);
    return argv[i];
  };
  if (cmd == "format") {
    fat::format_options o;
    if (argc > 3) o.reserved_sectors = static_cast<std::uint32_t>(std::stoul(argv[3]));
    check(now(fat::format(disk, pool, o)), "format");
    return 0;
  }
  fat_volume v(disk, pool);
  check(now(v.mount()), "mount");
  if (cmd == "dump") dump(v, "", arg(3));
  else if (cmd == "put") put(v, arg(3), arg(4));
  else if (cmd == "putdir") putdir(v, arg(3), arg(4) == "/" ? "" : arg(4));
  else if (cmd == "mkdir") check(now(v.mkdir(arg(3))), "mkdir");
  else if (cmd == "remove") check(now(v.remove(arg(3))), "remove");
  else if (cmd == "rename") check(now(v.rename(arg(3), arg(4))), "rename");
  else if (cmd == "truncate") check(now(v.truncate(arg(3), std::stoull(arg(4)))), "truncate");
  else die(cmd, error::invalid_argument);
  return 0;
}
