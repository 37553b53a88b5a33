// uni/block/geometry.hpp: what a block device is (sector size, sector count,
// read-only, the memory alignment its transfers need, the most sectors one
// request may carry) and the checks every driver makes on a request before it
// touches a byte, so that every device answers a bad request with the same
// error (uni/block/concepts.hpp lists them).
#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

#include <uni/core/buffer.hpp>
#include <uni/core/result.hpp>

namespace uni::block {

struct geometry {
  std::size_t sector_size = 512;
  std::uint64_t sectors = 0;
  bool read_only = false;
  std::size_t alignment = 1;            // of each view's address, a power of two (O_DIRECT: the logical block size)
  std::uint64_t max_request_sectors = 0;  // the most one request carries; 0: no limit

  std::uint64_t bytes() const noexcept { return sectors * sector_size; }
};

// A driver's limits, where it states them (none otherwise).
template <class D>
constexpr std::uint64_t max_request_sectors_of(const D& d) noexcept {
  if constexpr (requires { { d.max_request_sectors() } -> std::convertible_to<std::uint64_t>; })
    return d.max_request_sectors();
  else if constexpr (requires { d.geometry().max_request_sectors; })
    return d.geometry().max_request_sectors;
  else return 0;
}
template <class D>
constexpr std::size_t max_segments_of(const D& d) noexcept {
  if constexpr (requires { { d.max_segments() } -> std::convertible_to<std::size_t>; }) return d.max_segments();
  else return 0;
}
template <class D>
constexpr std::size_t alignment_of(const D& d) noexcept {
  if constexpr (requires { { d.alignment() } -> std::convertible_to<std::size_t>; }) return d.alignment();
  else if constexpr (requires { d.geometry().alignment; }) return d.geometry().alignment;
  else return 1;
}
template <class D>
geometry geometry_of(const D& d) noexcept {
  return {d.sector_size(), d.sectors(), d.read_only(), alignment_of(d), max_request_sectors_of(d)};
}

enum class direction : std::uint8_t { read, write };

// The number of sectors a request of `pages` from sector `first` covers, or why
// the device must refuse it: misaligned (a view not a whole number of sectors,
// or not at the device's alignment), out_of_range (past the last sector),
// read_only (a write to a read-only device). Checked in that order, so a bad
// buffer is reported before the range it would have covered. Sector size and
// alignment are powers of two: a view is checked with masks, not divisions (a
// 4 MiB request has 1024 views, and the queue and its driver both check).
inline result<std::uint64_t> check_request(const geometry& g, direction d, std::uint64_t first,
                                           std::span<const view> pages) noexcept {
  const std::uintptr_t size_mask = g.sector_size - 1, address_mask = g.alignment > 1 ? g.alignment - 1 : 0;
  std::uintptr_t stray = 0;  // any bit set below the sector size or the alignment
  std::uint64_t bytes = 0;
  for (const view& v : pages) {
    stray |= (v.size() & size_mask) | (reinterpret_cast<std::uintptr_t>(v.data()) & address_mask);
    bytes += v.size();
  }
  if (stray != 0) return fail(error::misaligned);
  const std::uint64_t count = bytes >> std::countr_zero(g.sector_size);
  if (first > g.sectors || count > g.sectors - first) return fail(error::out_of_range);
  if (d == direction::write && g.read_only) return fail(error::read_only);
  return count;
}

}  // namespace uni::block
