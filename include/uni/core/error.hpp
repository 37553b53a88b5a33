// uni/core/error.hpp: the error values every layer returns instead of throwing.
// One enum for the whole OS keeps results cheap (an int) and printable anywhere,
// including the freestanding Xen target, where there are no exceptions.
#pragma once

#include <cstdint>
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

constexpr std::string_view to_string(error e) noexcept {
  switch (e) {
    case error::none: return "none";
    case error::no_buffers: return "no buffers";
    case error::timed_out: return "timed out";
    case error::cancelled: return "cancelled";
    case error::would_block: return "would block";
    case error::too_large: return "too large";
    case error::truncated: return "truncated";
    case error::malformed: return "malformed";
    case error::bad_checksum: return "bad checksum";
    case error::unreachable: return "unreachable";
    case error::refused: return "refused";
    case error::reset: return "reset";
    case error::closed: return "closed";
    case error::in_use: return "in use";
    case error::table_full: return "table full";
    case error::no_device: return "no device";
    case error::permission: return "permission denied";
    case error::invalid_argument: return "invalid argument";
    case error::io: return "I/O error";
    case error::not_found: return "not found";
    case error::out_of_range: return "out of range";
    case error::read_only: return "read-only";
    case error::misaligned: return "misaligned";
    case error::device_gone: return "device gone";
    case error::no_space: return "no space left";
    case error::corrupt: return "corrupt";
  }
  return "unknown";
}

}  // namespace uni
