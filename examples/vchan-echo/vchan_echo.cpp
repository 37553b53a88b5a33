// examples/vchan-echo: echoes a vchan (RFC 862's echo, over Xen's shared-memory
// channel instead of TCP): one connection, every byte sent back as it came,
// until the peer goes; the echo is tcp-echo's own (echo_stream, written
// against any ByteStream). On Xen a Linux domain connects with libxenvchan (e.g.
// `vchan-socket-proxy -m client DOMID /local/domain/DOMID/data/vchan -`); on
// POSIX any Unix-socket client does (`socat - UNIX-CONNECT:PATH`).
// Exit status 0 once the peer has gone, whether it closed or died; 1 if the
// channel broke (a peer that corrupted the ring) or nobody came.
//
// --check N makes it the other end instead: it sends N bytes of a pattern and
// expects each byte back as sent (two appliances over vchan, one echoing, one
// checking; on Xen the checker is usually the client, --connect). Exit status
// 0 if all N came back intact.
#include <cstdint>
#include <span>

#include <uni/appliance.hpp>

#include <uni/core/buffer.hpp>
#include <uni/core/log.hpp>
#include <uni/net/transport.hpp>

#include "tcp_echo.hpp"

namespace {

// No network: one vchan endpoint (uni/devices.hpp), its received bytes in 64
// I/O pages.
struct vchan_echo_config : uni::default_config {
  static constexpr std::size_t network_interfaces = 0;
  static constexpr std::size_t vchan_endpoints = 1;
  static constexpr std::size_t io_pages = 64;
};

constexpr uni::option_spec flags[] = {
    uni::number_option("check", 0, 0, std::int64_t{1} << 40, "send N bytes of a pattern and check the echo instead"),
};

// Byte i of the pattern: not periodic in any ring's size.
constexpr std::uint8_t pattern(std::uint64_t i) noexcept { return static_cast<std::uint8_t>(i * 7 + i / 1021); }

// Sends `total` bytes a chunk at a time and reads each chunk back before the
// next: 1 KiB, what the smallest ring holds, so the echo can always hand a
// whole chunk back without waiting for us.
template <uni::ByteStream Stream>
uni::task<int> check(Stream& s, std::uint64_t total) {
  static std::uint8_t chunk[1024];
  std::uint64_t sent = 0, back = 0;
  while (back < total) {
    const std::size_t n = total - sent < sizeof chunk ? static_cast<std::size_t>(total - sent) : sizeof chunk;
    for (std::size_t i = 0; i < n; ++i) chunk[i] = pattern(sent + i);
    auto w = co_await s.write(uni::view::unowned(std::span<const std::uint8_t>(chunk, n)));
    if (!w) {
      uni::log_error("vchan-echo: check: write failed after ", sent, " bytes: ", uni::to_string(w.err()));
      co_return 1;
    }
    sent += n;
    while (back < sent) {
      auto d = co_await s.read();
      if (!d || d->empty()) {
        uni::log_error("vchan-echo: check: the echo ended after ", back, " of ", total, " bytes");
        co_return 1;
      }
      for (std::size_t i = 0; i < d->size(); ++i, ++back)
        if (back >= sent || (*d)[i] != pattern(back)) {
          uni::log_error("vchan-echo: check: byte ", back, " came back changed");
          co_return 1;
        }
    }
  }
  uni::log_info("vchan-echo: check: ", total, " bytes sent and echoed intact");
  co_return 0;
}

uni::task<int> serve(auto& vchans, const uni::appliance_options& o) {
  auto& vchan = vchans[0];
  auto s = co_await vchan.accept();
  if (!s) {
    uni::log_error("vchan-echo: no connection: ", uni::to_string(s.err()));
    co_return 1;
  }
  static_assert(uni::ByteStream<std::remove_cvref_t<decltype(*s)>>);
  if (const auto total = static_cast<std::uint64_t>(o.number("check")); total > 0) {
    const int status = co_await check(*s, total);
    s->close();
    co_return status;
  }
  echo::stream_counters n;
  co_await echo::echo_stream(vchan.sched(), std::move(*s), n);
  const uni::error ended = n.last_error;
  // The peer going away mid-write (closed) ends the echo as its close does.
  const bool clean = ended == uni::error::none || ended == uni::error::closed;
  uni::log_info("vchan-echo: ", n.bytes, " bytes echoed; ended by ", clean ? "the peer going" : "an error: ",
                clean ? "" : uni::to_string(ended));
  co_return clean ? 0 : 1;
}

}  // namespace

UNI_APPLIANCE("vchan-echo", vchan_echo_config, serve, flags)
