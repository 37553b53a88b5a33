// examples/memcache: a memcached-compatible cache appliance (memcached's text
// protocol, uni/memcache/), one source for every target: over host sockets
// (memcache-socket), uni's stack on a TAP device (memcache-tap) or Xen
// netfront (memcache-xen).
//
// Flags: --port N (11211), --memory MiB (64; 8 on Xen, whose guest has 32 MiB),
// --max-item-size BYTES (1 MiB), --max-connections N (1024),
// --command-timeout S (30), --udp PORT (0: off), plus the platform's (--help lists them).
#include <uni/appliance.hpp>
#include <uni/memcache/service.hpp>

#if defined(UNI_TARGET_POSIX_SOCKET) || defined(UNI_TARGET_POSIX_TAP)
#include <ctime>
#define MEMCACHE_WALL_CLOCK 1
#endif

namespace {

struct memcache_config : uni::default_config {
  static constexpr std::size_t io_pages = 4096;  // answers are copied into pages as they are sent
};

#if defined(UNI_TARGET_XEN)
constexpr long default_memory = 8;
#else
constexpr long default_memory = 64;
#endif

constexpr uni::option_spec flags[] = {
    uni::number_option("port", 11211, 1, 65535, "TCP port to listen on"),
    uni::number_option("memory", default_memory, 1, 65536, "MiB of memory for items (memcached -m)"),
    uni::number_option("max-item-size", 1 << 20, 1024, 128 << 20, "largest item in bytes (memcached -I)"),
    uni::number_option("max-connections", 1024, 1, 65536, "connections served at once (memcached -c)"),
    uni::number_option("command-timeout", 30, 1, 86400, "seconds a partial command or an unread answer may wait"),
    uni::number_option("udp", 0, 0, 65535, "UDP port, off by default as memcached's since 1.5.6 (-U): no authentication, and amplification"),
};

// The counters, printed when the service ends (cancellation included).
struct report {
  uni::memcache::cache& c;
  ~report() {
    const auto& s = c.items.counters();
    uni::log_info("memcache: ", c.connections.total, " connections (", c.connections.rejected, " refused, ",
                  c.connections.idle_closed, " timed out), ", c.n.get_hits, " hits, ", c.n.get_misses, " misses, ",
                  c.n.cmd_set, " sets, ", s.evictions, " evictions, ", s.expired, " expired, ", c.n.lines_too_long,
                  " lines too long");
  }
};

uni::task<int> serve(auto& stack, const uni::appliance_options& o) {
  const uni::memcache::store_limits limits{static_cast<std::size_t>(o.number("memory")) << 20,
                                           static_cast<std::size_t>(o.number("max-item-size"))};
  auto c = std::make_unique<uni::memcache::cache>(limits);
  if (c->items.capacity() == 0) {
    uni::log_error("memcache: cannot take ", o.number("memory"), " MiB for items");
    co_return 1;
  }
  report r{*c};
  uni::memcache::service_options opt;
  opt.max_connections = static_cast<std::size_t>(o.number("max-connections"));
  opt.command_timeout = std::chrono::seconds(o.number("command-timeout"));
  opt.udp_port = static_cast<std::uint16_t>(o.number("udp"));
#if MEMCACHE_WALL_CLOCK
  opt.unix_time = []() noexcept -> std::int64_t { return static_cast<std::int64_t>(std::time(nullptr)); };
#endif
  co_return co_await uni::memcache::serve(stack, static_cast<std::uint16_t>(o.number("port")), *c, opt);
}

}  // namespace

UNI_APPLIANCE("memcache", memcache_config, serve, flags)
