// uni/block/concepts.hpp: a block device, as a C++20 concept beside Netif
// (uni/concepts.hpp). The paper's block devices (§3.5) share the network
// devices' I/O pages and rings: a request names a range of sectors and the
// pages the bytes go to or come from, and completes later; the caller's task
// waits, the others run. Drivers (Xen blkfront, a POSIX file or io_uring disk, a
// RAM disk for tests) implement it; stores and file systems are written once
// against it.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

#include <uni/core/buffer.hpp>
#include <uni/core/result.hpp>
#include <uni/core/task.hpp>

namespace uni {

// A device of `sectors()` sectors of `sector_size()` bytes each (a power of two,
// at least 512, at most a page).
//   read(first, into)   fills the views in order with the bytes of the sectors
//                       from `first` on; each view's size is a multiple of the
//                       sector size (the views are I/O pages or slices of them)
//   write(first, from)  writes the views' bytes to the sectors from `first` on
//   flush()             returns once every completed write is durable
//   read_only()         writes fail with error::read_only
// A range past the end is error::out_of_range, a view not a multiple of the
// sector size (or not aligned as the device needs) error::misaligned; the
// device's own failure is error::io, a device that went away error::device_gone.
template <class D>
concept BlockDevice = requires(D& d, const D& cd, std::uint64_t first, std::span<const view> pages) {
  { cd.sector_size() } noexcept -> std::same_as<std::size_t>;
  { cd.sectors() } noexcept -> std::same_as<std::uint64_t>;
  { cd.read_only() } noexcept -> std::same_as<bool>;
  { d.read(first, pages) } -> std::same_as<task<result<void>>>;
  { d.write(first, pages) } -> std::same_as<task<result<void>>>;
  { d.flush() } -> std::same_as<task<result<void>>>;
};

// A device that can sometimes answer a read in the caller's turn, with no task
// and no wait (a RAM disk always; a buffered file when the host's page cache
// holds the bytes), also offers
//   read_at_once(first, into)  true: done, the views are filled; false: not
//                              done (what `into` holds is no answer), read()
//                              it; an error: the request's own, as read()
//                              would give it
// A caller on the hot path tries it first and pays for a task only when it
// says false (uni/btree/store.hpp: a lookup whose leaf the page cache holds).
template <class D>
concept ReadsAtOnce = BlockDevice<D> && requires(D& d, std::uint64_t first, std::span<const view> pages) {
  { d.read_at_once(first, pages) } -> std::same_as<result<bool>>;
};

}  // namespace uni
