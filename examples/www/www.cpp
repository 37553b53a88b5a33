// examples/www: a static web site appliance, the paper's Section 4.4 page
// server. The site (examples/www/site/) is compiled into the binary
// (uni_add_appliance(... FILES www/site)) and served from read-only memory
// without a copy, over host sockets (www-socket), uni's stack on a TAP device
// (www-tap) or Xen netfront (www-xen), all from this one source.
//
// Besides the files, two small dynamic routes show the router:
//   GET  /api/hello/:name?greeting=...   a greeting, text/plain
//   POST /api/echo                       the request body streamed back (chunked)
//
// Flags: --port N (default 8080 over host sockets, 80 otherwise),
// --header-timeout S (10), --idle-timeout S (30), --send-timeout S (30),
// --body-timeout S (60), --max-connections N (512);
// on POSIX, --root DIR serves DIR from disk instead of the embedded site.
//
// www-disk (UNI_WWW_DISK) is the same appliance with a block device, the
// paper's external storage with the data: it serves the FAT-32 volume on its
// disk (--disk IMAGE on POSIX, the first vbd on Xen), each file streamed a
// page at a time from the device (uni/http/stream_files.hpp). It is a variant
// rather than a flag because an appliance's disks are declared in its Config:
// www itself keeps no disk code (the www-xen image size is checked).
//
// www-vchan (UNI_WWW_VCHAN) serves the embedded site over a vchan, Xen's
// shared-memory channel, instead of TCP: the same HTTP service over another
// ByteStream (a vchan endpoint, uni/devices.hpp: --vchan PATH, --peer,
// --ring-order on Xen; a Unix socket on POSIX). One peer at a time; the channel is offered
// again after each. A Linux domain reaches it with vchan-socket-proxy.
#include <uni/appliance.hpp>
#include <uni/http/server.hpp>

#if UNI_WWW_DISK
#include <type_traits>

#include <uni/fs/fat32/store.hpp>
#include <uni/fs/fat32/volume.hpp>
#include <uni/http/stream_files.hpp>
#else
#include <uni/kv/embedded.hpp>
#endif

#if defined(UNI_TARGET_POSIX_SOCKET) || defined(UNI_TARGET_POSIX_TAP)
#include <ctime>
#define WWW_POSIX 1
#endif
#if WWW_POSIX && !UNI_WWW_DISK && !UNI_WWW_VCHAN
#include <optional>

#include <uni/posix/directory_store.hpp>
#define WWW_ROOT 1
#endif

namespace {

// ""sv: a literal's length is known where it is passed (no strlen call).
using namespace std::string_view_literals;

struct www_config : uni::default_config {
  // HTTP over TCP is all www speaks (no DHCP, no DNS client): no UDP code in the
  // image, as ping's Config. A UDP datagram is dropped and counted as for an
  // unknown protocol, with no ICMP port unreachable.
  static constexpr bool udp = false;
  // It takes no frames the stack does not consume (no frame hooks): they are
  // dropped and counted, with no hook table looked at.
  static constexpr std::size_t frame_hooks = 0;
#if UNI_WWW_VCHAN
  static constexpr std::size_t network_interfaces = 0;
  static constexpr std::size_t vchan_endpoints = 1;
  static constexpr std::size_t io_pages = 256;  // 1 MiB: one peer at a time
#else
  static constexpr std::size_t io_pages = 4096;  // 16 MiB of I/O pages
#endif
#if UNI_WWW_DISK
  static constexpr std::size_t block_devices = 1;
#endif
};

#if UNI_WWW_VCHAN
// (no --port: it serves over its vchan)
#elif defined(UNI_TARGET_POSIX_SOCKET)
constexpr long default_port = 8080;  // unprivileged
#else
constexpr long default_port = 80;
#endif

constexpr uni::option_spec flags[] = {
#if !UNI_WWW_VCHAN
    uni::number_option("port", default_port, 1, 65535, "TCP port to listen on"),
#endif
    uni::number_option("header-timeout", 10, 1, 86400, "seconds a client has to send a request's header"),
    uni::number_option("idle-timeout", 30, 1, 86400, "seconds a kept-alive connection may stay idle"),
    uni::number_option("send-timeout", 30, 1, 86400, "seconds a client has to take our answer"),
    uni::number_option("body-timeout", 60, 1, 86400, "seconds a client has to send a request's body"),
    uni::number_option("max-connections", 512, 1, 65536, "connections served at once"),
#if WWW_ROOT
    uni::path_option("root", uni::option_kind::directory, "DIR", "serve DIR from disk instead of the embedded site"),
#endif
};

// The counters, printed when the service ends (cancellation included).
struct report {
  uni::http::server_counters n;
  ~report() { uni::http::log_counters("www"sv, n); }
};

// Answers at once: a plain function returning respond()'s send (the server
// awaits it; a coroutine would be code of its own).
uni::http::sending hello(uni::http::exchange& ex) {
  std::string_view greeting = ex.query("greeting"sv);
  if (greeting.empty()) greeting = "hello"sv;
  const std::string_view name = ex.param("name"sv);
  auto page = ex.scratch(greeting.size() + name.size() + 3);
  if (!page) return {};  // out of pages: the server answers 500
  std::uint8_t* out = page->data();
  auto put = [&out](std::string_view s) {
    for (char c : s) *out++ = static_cast<std::uint8_t>(c);
  };
  put(greeting);
  put(", "sv);
  put(name);
  put("\n"sv);
  return ex.respond(200, "text/plain; charset=utf-8"sv, std::move(*page));  // the page, not a span of this frame's
}

// Streams the body back as it arrives: each piece is the received page itself.
// The first piece is read before answering, so a body malformed from its start
// gets the server's 400 (413 if too large); a later error cuts the stream. At
// the body's end the handler returns: the server ends the stream (its last
// chunk). (One read and one write awaited in the loop: each await is code of its own.)
uni::task<void> echo(uni::http::exchange& ex) {
  bool started = false;
  while (true) {
    auto piece = co_await ex.read_body();
    if (!piece) co_return;
    if (!started) {
      if (auto s = co_await ex.start_stream(200, "application/octet-stream"sv); !s) co_return;
      started = true;
    }
    if (piece->empty()) co_return;
    if (auto w = co_await ex.write_stream(std::span<const uni::view>(&*piece, 1)); !w) co_return;
  }
}

// The options every variant shares: routes, and the bounds for hostile
// clients (seconds; the tests shorten them).
void configure(uni::http::server_options& opt, uni::http::router<4>& routes, const uni::appliance_options& o) {
  auto hello_fn = hello;
  auto echo_fn = echo;
  (void)routes.add(uni::http::method::get, "/api/hello/:name"sv, hello_fn);
  (void)routes.add(uni::http::method::post, "/api/echo"sv, echo_fn);
  opt.router = &routes;
  opt.header_timeout = std::chrono::seconds(o.number("header-timeout"sv));
  opt.idle_timeout = std::chrono::seconds(o.number("idle-timeout"sv));
  opt.send_timeout = std::chrono::seconds(o.number("send-timeout"sv));
  opt.body_timeout = std::chrono::seconds(o.number("body-timeout"sv));
  opt.max_connections = static_cast<std::size_t>(o.number("max-connections"sv));
  opt.limits.max_body = 16 << 20;  // /api/echo streams: a body costs no memory
#if WWW_POSIX
  opt.unix_time = []() noexcept -> std::int64_t { return static_cast<std::int64_t>(std::time(nullptr)); };
#endif
}

#if UNI_WWW_DISK
uni::task<int> serve(auto& stack, auto& disks, const uni::appliance_options& o) {
  const auto port = static_cast<std::uint16_t>(o.number("port"sv));
  uni::http::server_options opt;
  uni::http::router<4> routes;
  configure(opt, routes, o);
  using disk = std::remove_reference_t<decltype(disks[0])>;
  uni::fs::fat32::volume<disk> volume(disks[0], stack.pool());
  if (auto m = co_await volume.mount(); !m) {
    uni::log_error("www: the disk holds no FAT-32 volume: ", uni::to_string(m.err()));
    co_return 1;
  }
  uni::fs::fat32::store<decltype(volume)> store(volume);
  uni::http::stream_files<decltype(store)> files(store, stack.sched());
  opt.files = files;
  uni::log_info("www: serving the FAT-32 volume on the disk");
  report r;  // from here on the counters are printed at the end
  co_return co_await uni::http::serve(stack, port, opt, r.n);
}
#else
// The embedded site (or --root's directory) served by `run(opt, counters)`.
uni::task<int> serve_site(const uni::appliance_options& o, auto run) {
  uni::http::server_options opt;
  uni::http::router<4> routes;
  configure(opt, routes, o);
  uni::kv::embedded_store site(uni::kv::embedded_files());
  opt.files = site;
#if WWW_ROOT
  std::optional<uni::posix::directory_store> disk;
  if (auto root = o.text("root"); !root.empty()) {
    auto d = uni::posix::directory_store::open(root);
    if (!d) {
      const std::string_view why = d.err() == uni::error::invalid_argument ? "not a directory"
                                   : d.err() == uni::error::not_found      ? "no such directory"
                                                                           : uni::to_string(d.err());
      uni::log_error("www: --root ", root, ": ", why);
      co_return 2;
    }
    disk.emplace(std::move(*d));
    opt.files = *disk;
    uni::log_info("www: serving ", root, " from disk");
  } else
#endif
  {
    uni::log_info("www: serving ", site.entries().size(), " embedded files");
  }
  report r;  // from here on the counters are printed at the end
  co_return co_await run(opt, r.n);
}

#if UNI_WWW_VCHAN
uni::task<int> serve(auto& vchans, const uni::appliance_options& o) {
  return serve_site(o, [&vchan = vchans[0]](const uni::http::server_options& opt, uni::http::server_counters& n) {
    return uni::http::serve_streams(vchan, vchan.sched(), vchan.pool(), opt, n);
  });
}
#else
uni::task<int> serve(auto& stack, const uni::appliance_options& o) {
  const auto port = static_cast<std::uint16_t>(o.number("port"sv));
  return serve_site(o, [&stack, port](const uni::http::server_options& opt, uni::http::server_counters& n) {
    return uni::http::serve(stack, port, opt, n);
  });
}
#endif
#endif

}  // namespace

#if UNI_WWW_DISK
UNI_APPLIANCE("www-disk", www_config, serve, flags)
#elif UNI_WWW_VCHAN
UNI_APPLIANCE("www-vchan", www_config, serve, flags)
#else
UNI_APPLIANCE("www", www_config, serve, flags)
#endif
