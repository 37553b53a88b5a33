// uni/memcache/cache.hpp: what every connection of a memcache service shares:
// the store, the command counters `stats` shows, and the settings.
#pragma once

#include <cstdint>
#include <string_view>

#include <uni/memcache/store.hpp>

namespace uni::memcache {

inline constexpr std::string_view version_string = "1.6.18-uni";

struct command_counters {
  std::uint64_t cmd_get = 0, cmd_set = 0, cmd_flush = 0, cmd_touch = 0;
  std::uint64_t get_hits = 0, get_misses = 0;
  std::uint64_t delete_hits = 0, delete_misses = 0;
  std::uint64_t incr_hits = 0, incr_misses = 0, decr_hits = 0, decr_misses = 0;
  std::uint64_t cas_hits = 0, cas_misses = 0, cas_badval = 0;
  std::uint64_t touch_hits = 0, touch_misses = 0;
  std::uint64_t cmd_meta = 0;
  std::uint64_t store_too_large = 0, store_no_memory = 0;
  std::uint64_t bytes_read = 0, bytes_written = 0;
  std::uint64_t lines_too_long = 0;  // connections closed for a command line past the bound
};

struct connection_counters {
  std::uint64_t current = 0, total = 0;
  std::uint64_t rejected = 0;  // refused at the connection bound
  std::uint64_t idle_closed = 0;  // closed for holding a partial command or our answer too long
};

struct udp_counters {
  std::uint64_t requests = 0;
  std::uint64_t dropped = 0;     // shorter than the frame header, or a request in several datagrams
  std::uint64_t too_large = 0;   // answers past the bound, replaced by an error line
  std::uint64_t send_errors = 0;
};

struct cache {
  explicit cache(store_limits limits, std::int64_t started = 0) noexcept : items(limits), started_at(started) {}
  store items;
  command_counters n;
  connection_counters connections;
  udp_counters udp;
  std::uint16_t tcp_port = 0, udp_port = 0;  // for `stats settings`
  std::int64_t started_at;  // Unix seconds, for `stats` uptime
  std::int64_t max_connections = 0;
  unsigned verbosity = 0;
};

}  // namespace uni::memcache
