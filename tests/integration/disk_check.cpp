// tests/integration/disk_check.cpp: an appliance with one block device that
// writes a pattern over it, reads it back and checks every byte; or only
// checks a pattern written before (by an earlier run, or by the host: dom0 on
// Xen). The same source on every target: disk_check.sh runs it on POSIX, the
// Xen tier boots it with a vbd. Exit status 0 when every sector matched.
//
// The pattern, easy to write and check anywhere (a shell's python3 as well):
// byte i of sector s is (s * 31 + i + seed) mod 256, except the sector's first
// 8 bytes, which hold s in little-endian, so a sector at the wrong place shows.
#include <uni/appliance.hpp>
#include <uni/block/concepts.hpp>
#include <uni/core/log.hpp>

#include <array>
#include <cstring>

namespace {

struct disk_config : uni::default_config {
  static constexpr std::size_t block_devices = 1;
  // 64 requests at the driver: on Xen, a two-page blkif ring (uni/xen/blkfront.hpp),
  // where blkback offers one.
  static constexpr std::size_t block_queue_depth = 64;
  static constexpr bool tcp = false;
  static constexpr std::size_t io_pages = 256;
};

constexpr uni::option_spec flags[] = {
    uni::choice_option("check", "write|read", "write", "write the pattern then check it, or only check it"),
    uni::number_option("seed", 0, 0, 255, "the pattern's seed"),
    uni::number_option("sectors", 0, 0, 1LL << 40, "sectors to cover from the start (0: the whole disk)"),
};

constexpr std::size_t pages_per_request = 16;  // 64 KiB requests
constexpr std::size_t workers = 4;             // requests in flight at once

void fill(std::uint8_t* sector, std::size_t size, std::uint64_t s, unsigned seed) {
  for (std::size_t i = 0; i < size; ++i) sector[i] = static_cast<std::uint8_t>(s * 31 + i + seed);
  for (std::size_t i = 0; i < 8; ++i) sector[i] = static_cast<std::uint8_t>(s >> (8 * i));
}

// Sectors [first, first + count) written (or read and checked), a request of
// up to pages_per_request pages at a time, every `workers`-th request.
template <class Disk>
uni::task<std::uint64_t> pass(Disk& disk, uni::page_pool& pool, bool writing, std::uint64_t count, unsigned seed,
                              std::size_t worker) {
  const std::size_t size = disk.sector_size();
  const std::uint64_t per_request = pages_per_request * uni::page_size / size;
  std::uint64_t bad = 0;
  for (std::uint64_t first = worker * per_request; first < count; first += workers * per_request) {
    const std::uint64_t n = count - first < per_request ? count - first : per_request;
    std::array<uni::view, pages_per_request> pages;
    std::size_t used = 0;
    for (std::uint64_t left = n * size; left > 0; ++used) {
      auto p = pool.allocate();
      if (!p) co_return ~std::uint64_t{0};
      p->truncate(left < uni::page_size ? static_cast<std::size_t>(left) : uni::page_size);
      left -= p->size();
      pages[used] = std::move(*p);
    }
    const std::span<const uni::view> views(pages.data(), used);
    auto sector_at = [&](std::uint64_t k) { return pages[k * size / uni::page_size].data() + k * size % uni::page_size; };
    if (writing) {
      for (std::uint64_t k = 0; k < n; ++k) fill(sector_at(k), size, first + k, seed);
      if (auto r = co_await disk.write(first, views); !r) {
        uni::log_error("disk-check: writing sectors from ", first, ": ", to_string(r.err()));
        co_return ~std::uint64_t{0};
      }
      continue;
    }
    if (auto r = co_await disk.read(first, views); !r) {
      uni::log_error("disk-check: reading sectors from ", first, ": ", to_string(r.err()));
      co_return ~std::uint64_t{0};
    }
    std::array<std::uint8_t, uni::page_size> want;
    for (std::uint64_t k = 0; k < n; ++k) {
      fill(want.data(), size, first + k, seed);
      if (std::memcmp(want.data(), sector_at(k), size) != 0) {
        if (bad == 0) uni::log_error("disk-check: sector ", first + k, " differs from the pattern");
        ++bad;
      }
    }
  }
  co_return bad;
}

template <class Disk>
uni::task<std::uint64_t> all_workers(Disk& disk, uni::scheduler& sched, uni::page_pool& pool, bool writing,
                                     std::uint64_t count, unsigned seed) {
  std::array<uni::join_handle<std::uint64_t>, workers> each;
  for (std::size_t w = 0; w < workers; ++w) each[w] = uni::spawn(sched, pass(disk, pool, writing, count, seed, w));
  std::uint64_t bad = 0;
  for (auto& h : each) {
    auto r = co_await h.join();
    if (!r || *r == ~std::uint64_t{0}) bad = ~std::uint64_t{0};
    else if (bad != ~std::uint64_t{0}) bad += *r;
  }
  co_return bad;
}

uni::task<int> serve(auto& stack, auto& disks, const uni::appliance_options& o) {
  static_assert(uni::BlockDevice<std::remove_cvref_t<decltype(disks[0])>>);
  auto& disk = disks[0];
  const unsigned seed = static_cast<unsigned>(o.number("seed"));
  std::uint64_t count = static_cast<std::uint64_t>(o.number("sectors"));
  if (count == 0 || count > disk.sectors()) count = disk.sectors();
  const bool write_first = o.text("check") == "write";
  if (write_first) {
    if (disk.read_only()) {
      uni::log_error("disk-check: the disk is read-only; --check read only checks it");
      co_return 1;
    }
    if (co_await all_workers(disk, stack.sched(), stack.pool(), true, count, seed) != 0) co_return 1;
    if (auto r = co_await disk.flush(); !r) {
      uni::log_error("disk-check: flush: ", to_string(r.err()));
      co_return 1;
    }
  }
  const std::uint64_t bad = co_await all_workers(disk, stack.sched(), stack.pool(), false, count, seed);
  if (bad != 0) {
    if (bad != ~std::uint64_t{0}) uni::log_error("disk-check: ", bad, " of ", count, " sectors differ");
    co_return 1;
  }
  uni::log_info("disk-check: ", count, " sectors of ", disk.sector_size(), " bytes ",
                write_first ? "written and read back" : "read", ": all match the pattern (seed ", seed, ")");
  co_return 0;
}

}  // namespace

UNI_APPLIANCE("disk-check", disk_config, serve, flags)
