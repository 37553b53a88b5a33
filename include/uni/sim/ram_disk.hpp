// uni/sim/ram_disk.hpp: a block device in memory, for deterministic tests of
// everything that sits on a disk (file systems, stores, the request queue).
//
// Sector size and count are chosen at construction; the device can be made
// read-only, and can be told to refuse requests longer than a limit (as a real
// device does) so the splitting above it is exercised. Requests complete at
// once, in the caller's task; wrap it in a FaultDisk (fault_disk.hpp) for
// latency, errors, torn writes and power cuts. It answers read_at_once() too
// (block::ReadsAtOnce), so what sits on it takes that path; a FaultDisk does
// not offer it, so the same code takes the task's path there. The memory is
// taken once, at construction; no request allocates. A RamDisk copies (a
// snapshot of the image) and compares its bytes directly through image().
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <uni/block/concepts.hpp>
#include <uni/block/geometry.hpp>

namespace uni::sim {

class RamDisk {
 public:
  struct stats {
    std::uint64_t reads = 0, writes = 0, flushes = 0, refused = 0;
  };

  // `sector_size`: a power of two in [512, page_size]. The image starts zeroed.
  RamDisk(std::size_t sector_size, std::uint64_t sectors, bool read_only = false)
      : geometry_{sector_size, sectors, read_only}, bytes_(static_cast<std::size_t>(sector_size * sectors)) {
    if (sector_size < 512 || sector_size > page_size || (sector_size & (sector_size - 1)) != 0)
      panic("RamDisk: sector size ", sector_size, " is not a power of two in [512, 4096]");
  }

  std::size_t sector_size() const noexcept { return geometry_.sector_size; }
  std::uint64_t sectors() const noexcept { return geometry_.sectors; }
  bool read_only() const noexcept { return geometry_.read_only; }
  const block::geometry& geometry() const noexcept { return geometry_; }
  const stats& statistics() const noexcept { return stats_; }

  void set_read_only(bool ro) noexcept { geometry_.read_only = ro; }
  // Requests of more than `sectors` sectors fail with error::too_large (0: no limit).
  void limit_request(std::uint64_t sectors) noexcept { geometry_.max_request_sectors = sectors; }

  // The whole image, to prepare or inspect it without a request.
  std::span<std::uint8_t> image() noexcept { return bytes_; }
  std::span<const std::uint8_t> image() const noexcept { return bytes_; }

  // The synchronous core of read() and write(), for callers outside a task
  // (FaultDisk's replay, tests setting up an image).
  result<void> read_now(std::uint64_t first, std::span<const view> into) noexcept {
    auto count = admit(block::direction::read, first, into);
    if (!count) return fail(count.err());
    std::size_t at = offset(first);
    for (const view& v : into) {
      std::memcpy(v.data(), bytes_.data() + at, v.size());
      at += v.size();
    }
    ++stats_.reads;
    return {};
  }
  result<void> write_now(std::uint64_t first, std::span<const view> from) noexcept {
    auto count = admit(block::direction::write, first, from);
    if (!count) return fail(count.err());
    std::size_t at = offset(first);
    for (const view& v : from) {
      std::memcpy(bytes_.data() + at, v.data(), v.size());
      at += v.size();
    }
    ++stats_.writes;
    return {};
  }

  // block::ReadsAtOnce: every read is answered at once.
  result<bool> read_at_once(std::uint64_t first, std::span<const view> into) noexcept {
    if (auto r = read_now(first, into); !r) return fail(r.err());
    return true;
  }

  task<result<void>> read(std::uint64_t first, std::span<const view> into) { co_return read_now(first, into); }
  task<result<void>> write(std::uint64_t first, std::span<const view> from) { co_return write_now(first, from); }
  task<result<void>> flush() {
    ++stats_.flushes;
    co_return result<void>{};
  }

 private:
  result<std::uint64_t> admit(block::direction d, std::uint64_t first, std::span<const view> pages) noexcept {
    auto count = block::check_request(geometry_, d, first, pages);
    if (count && geometry_.max_request_sectors && *count > geometry_.max_request_sectors)
      count = fail(error::too_large);
    if (!count) ++stats_.refused;
    return count;
  }
  std::size_t offset(std::uint64_t sector) const noexcept {
    return static_cast<std::size_t>(sector * geometry_.sector_size);
  }

  block::geometry geometry_;
  std::vector<std::uint8_t> bytes_;
  stats stats_;
};

static_assert(BlockDevice<RamDisk> && ReadsAtOnce<RamDisk>);

}  // namespace uni::sim
