// tests/xen/disk_image.cpp: the tier-3 check of Xen blkfront (tests/xen/dom0.sh
// IMAGE disk-check disk). dom0 hands this domU a disk image through blkback as
// xvda; the image's first 1024 sectors hold dom0's pattern, the next 1024 are
// ours to write. The appliance
//   - reads dom0's sectors, 8 calls of 64 KiB at once (16 ring requests in
//     flight, each split in two: 11 + 5 segments), and checks every byte;
//   - writes its own pattern to the next 1024 sectors the same way, flushes,
//     reads them back into fresh pages and checks them;
//   - checks the errors a request past the end and a misaligned view get;
//   - closes the device; after the domain is gone, dom0 checks the image's bytes.
// The pattern is one line of 32 bytes repeated 16 times per sector, "<who> sector
// <n>" padded with spaces: dom0 makes the same with awk.
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include <uni/boot/boot.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/format.hpp>
#include <uni/core/log.hpp>
#include <uni/xen/appliance.hpp>
#include <uni/xen/blkfront.hpp>
#include <uni/xen/grant_table.hpp>
#include <uni/xen/xenstore.hpp>

namespace {

using namespace uni;
using uni::xen::XenBlkfront;

constexpr std::uint64_t dom0_first = 0, ours_first = 1024, region = 1024;  // sectors of 512 bytes
constexpr std::size_t chunk_pages = 16;                                     // 64 KiB a call
constexpr std::size_t calls = region * 512 / page_size / chunk_pages;      // 8 at once

void fill_sector(std::uint8_t* p, std::string_view who, std::uint64_t sector) {
  char line[32];
  text_writer w{line, sizeof line};
  format_to(w, who, " sector ", sector);
  std::memset(line + w.size(), ' ', 31 - w.size());
  line[31] = '\n';
  for (int i = 0; i < 16; ++i) std::memcpy(p + i * 32, line, 32);
}

// The first sector that is not `who`'s pattern in `pages` (from `first`), or none.
result<void> check_pattern(std::span<const view> pages, std::string_view who, std::uint64_t first) {
  std::uint8_t want[512];
  std::uint64_t sector = first;
  for (const view& p : pages)
    for (std::size_t off = 0; off < p.size(); off += 512, ++sector) {
      fill_sector(want, who, sector);
      if (std::memcmp(p.data() + off, want, 512) != 0) {
        log_error("disk-check: sector ", sector, " is not ", who, "'s: '",
                  std::string_view(reinterpret_cast<const char*>(p.data() + off), 31), "'");
        return fail(error::corrupt);
      }
    }
  return {};
}

// One call: `chunk_pages` pages from sector `first`, written from `who`'s pattern or read and checked.
task<result<void>> one_call(XenBlkfront& disk, page_pool& pool, bool write, std::string_view who, std::uint64_t first) {
  view pages[chunk_pages];
  for (std::size_t i = 0; i < chunk_pages; ++i) {
    auto p = pool.allocate();
    if (!p) co_return fail(error::no_buffers);
    pages[i] = std::move(*p);
    if (write)
      for (std::size_t s = 0; s < page_size / 512; ++s) fill_sector(pages[i].data() + s * 512, who, first + i * 8 + s);
    else std::memset(pages[i].data(), 0, page_size);
  }
  if (write) co_return co_await disk.write(first, pages);
  if (auto r = co_await disk.read(first, pages); !r) co_return r;
  co_return check_pattern(pages, who, first);
}

// Every chunk of a region at once; the first failure.
task<result<void>> whole_region(XenBlkfront& disk, page_pool& pool, scheduler& sched, bool write, std::string_view who,
                                std::uint64_t first) {
  join_handle<result<void>> running[calls];
  for (std::size_t i = 0; i < calls; ++i)
    running[i] = spawn(sched, one_call(disk, pool, write, who, first + i * chunk_pages * 8));
  result<void> all{};
  for (auto& h : running)
    if (auto r = co_await h.join(); !r && all) all = r;
  co_return all;
}

task<int> check_disk(xen::platform& p) {
  static xen::grant_table grants;
  if (auto r = grants.start(); !r) co_return 3;
  xen::xenstore store(p.events, p.sched);
  if (auto r = store.start(); !r) {
    log_error("disk-check: no xenstore: run it as a domU");
    co_return 3;
  }
  const boot::region io = p.boot.memory.io_pages;
  std::size_t npages = io.size() / page_size;
  if (npages > 512) npages = 512;
  std::unique_ptr<page_meta[]> meta{new page_meta[npages]};
  page_pool pool{{reinterpret_cast<std::uint8_t*>(io.start), npages * page_size}, {meta.get(), npages}};

  XenBlkfront disk(p.events, grants, store, pool, p.sched);
  if (auto r = co_await disk.connect("device/vbd/51712"); !r) {
    log_error("disk-check: blkfront did not connect to device/vbd/51712: ", to_string(r.err()));
    co_return 4;
  }
  int status = 0;
  auto step = [&](std::string_view what, result<void> r) {
    if (r) log_info("disk-check: ", what, ": ok");
    else log_error("disk-check: ", what, ": ", to_string(r.err()));
    if (!r && status == 0) status = 5;
  };
  if (disk.sectors() < ours_first + region || disk.sector_size() != 512) {
    log_error("disk-check: the disk is ", disk.sectors(), " sectors of ", disk.sector_size(), " bytes: too small");
    status = 5;
  } else {
    const time_point t0 = p.sched.now();
    step("read dom0's 512 KiB and checked it", co_await whole_region(disk, pool, p.sched, false, "dom0", dom0_first));
    step("wrote 512 KiB", co_await whole_region(disk, pool, p.sched, true, "domU", ours_first));
    step("flush", co_await disk.flush());
    step("read back our 512 KiB and checked it", co_await whole_region(disk, pool, p.sched, false, "domU", ours_first));
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(p.sched.now() - t0).count();
    log_info("disk-check: 1.5 MiB in ", us, " us (emulated Xen: functional only)");

    auto page = pool.allocate();
    if (!page) co_return 3;
    const view past_end[] = {page->head(1024)};
    auto r = co_await disk.read(disk.sectors() - 1, past_end);
    step("a read past the end is refused", r ? fail(error::invalid_argument)
                                             : (r.err() == error::out_of_range ? result<void>{} : r));
    const view odd[] = {*page->slice(100, 512)};
    r = co_await disk.write(ours_first, odd);
    step("a misaligned view is refused", r ? fail(error::invalid_argument)
                                           : (r.err() == error::misaligned ? result<void>{} : r));
  }
  const auto& s = disk.statistics();
  log_info("disk-check: ", s.requests, " ring requests, ", s.segments, " segments, ", s.io_errors, " I/O errors");
  (void)co_await disk.close();
  co_return status;
}

}  // namespace

UNI_XEN_APPLIANCE("disk-check", check_disk)
