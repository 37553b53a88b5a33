// uni/core/error.hpp: the error values every layer returns instead of throwing.
// One enum for the whole OS keeps results cheap (an int) and printable anywhere,
// including the freestanding Xen target, where there are no exceptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

namespace uni {

enum class error : std::uint8_t {
  none = 0,
  no_buffers,      // the I/O page pool is exhausted
  timed_out,       // a deadline passed first
  cancelled,       // the waiting task was cancelled
  would_block,     // the device or queue is full right now
  too_large,       // does not fit (frame > MTU, payload > page)
  truncated,       // input shorter than its headers claim
  malformed,       // input violates the wire format
  bad_checksum,
  unreachable,     // no route, or address resolution failed
  refused,         // connection refused / port unreachable
  reset,           // connection reset by peer
  closed,          // the other side or the local side has closed
  in_use,          // address or port already taken
  table_full,      // a bounded table has no room left
  no_device,       // a device could not be opened
  permission,      // the platform refused (privileges)
  invalid_argument,
  io,              // the platform reported an I/O failure
  not_found,       // no such key, file or record
  out_of_range,    // a block request past the end of the device
  read_only,       // a write to a read-only device or store
  misaligned,      // a buffer or length not a multiple of the sector size
  device_gone,     // the device went away (hot-unplugged, backend closed)
  no_space,        // a volume or store has no free space left
  corrupt,         // on-disk data failed its checks (checksum, bounds, loops)
};

namespace detail {
// The errors' names in the enum's order, each ended by '\0'. (alignas(1): GCC
// would align an array of 32 bytes or more to 32, padding .rodata before it.)
alignas(1) inline constexpr char error_names[] =
    "none\0"
    "no buffers\0"
    "timed out\0"
    "cancelled\0"
    "would block\0"
    "too large\0"
    "truncated\0"
    "malformed\0"
    "bad checksum\0"
    "unreachable\0"
    "refused\0"
    "reset\0"
    "closed\0"
    "in use\0"
    "table full\0"
    "no device\0"
    "permission denied\0"
    "invalid argument\0"
    "I/O error\0"
    "not found\0"
    "out of range\0"
    "read-only\0"
    "misaligned\0"
    "device gone\0"
    "no space left\0"
    "corrupt\0";
constexpr std::size_t count_names(std::string_view all) noexcept {
  std::size_t n = 0;
  for (char c : all) n += c == '\0';
  return n;
}
static_assert(count_names({error_names, sizeof error_names - 1}) == static_cast<std::size_t>(error::corrupt) + 1,
              "a name for every error, in order");
}  // namespace detail

// Found by counting the names before it: one string and a short loop, not a
// switch of a case per error (or a table of pointers) in every image.
constexpr std::string_view to_string(error e) noexcept {
  const char* name = detail::error_names;
  for (auto i = static_cast<std::size_t>(e); i > 0; --i) {
    while (*name != '\0') ++name;
    if (++name == std::end(detail::error_names)) return "unknown";
  }
  return name;
}

}  // namespace uni
