// bench/tcp_bulk.cpp: the bulk TCP appliance bench/tcp.sh measures (the ASPLOS
// paper's Figure 8), built for uni's stack on TAP (tcp-bulk-tap).
//
//   tcp-bulk-tap --tap tap0 --ipv4 ADDR/PREFIX --mode sink   [--port 5001]
//       reads every connection to its end and drops the bytes (the pages go
//       straight back to the pool), then closes;
//   tcp-bulk-tap --tap tap0 --ipv4 ADDR/PREFIX --mode source --bytes N [--port 5001]
//       sends N zero bytes on every connection it accepts, from one static
//       block (no copy, no allocation), then shuts down its side and closes once
//       the peer has closed.
//
// A "session" runs from the first connection accepted while none were open to
// the last of them ending; each is logged as one line bench/tcp.sh reads:
//   [info] tcp-bulk: session mode=sink flows=10 bytes=1073741824 ns=812345678 mbit_s=10574 failed=0
#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include <uni/appliance.hpp>

namespace {

struct bulk_config : uni::default_config {
  static constexpr bool udp = false;
  // Ten flows at full receive windows (tcp_receive_views pages each) must fit.
  static constexpr std::size_t io_pages = 4096;
  static constexpr std::size_t tcp_pool_reserve = io_pages / 8;
  // A bulk receiver's window, as Linux's autotuning grows it (past 1 MB): with
  // 256 KB the sender waits on every ACK, and more of its work runs inside
  // uni's writes of them (half the ACKs and ~20% less CPU per GB with 1 MB).
  static constexpr std::size_t tcp_receive_buffer = 1024 * 1024;
};

enum class mode { sink, source };

// What `source` sends: views of this block, which outlives every connection.
alignas(4096) constexpr std::array<std::uint8_t, 64 * 1024> zeros{};

struct session {
  std::size_t open = 0;  // connections of the session not yet ended
  std::size_t flows = 0;
  std::uint64_t bytes = 0;
  std::uint64_t failed = 0;
  uni::time_point started{};

  void begin(uni::time_point now) {
    if (open++ == 0) {
      flows = 0;
      bytes = 0;
      failed = 0;
      started = now;
    }
    ++flows;
  }
  void end(uni::time_point now, mode m) {
    if (--open != 0) return;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - started).count();
    const std::uint64_t mbit_s = ns > 0 ? bytes * 8 * 1000 / static_cast<std::uint64_t>(ns) : 0;
    uni::log_info("tcp-bulk: session mode=", m == mode::sink ? "sink" : "source", " flows=", flows, " bytes=", bytes,
                  " ns=", static_cast<std::uint64_t>(ns), " mbit_s=", mbit_s, " failed=", failed);
  }
};

// Reads to the end; each read is a page of the pool, released at once.
template <class Stream>
uni::task<bool> drain(uni::scheduler& sched, Stream& c, std::uint64_t& bytes) {
  while (true) {
    auto d = co_await c.read();
    if (!d) {
      if (d.err() == uni::error::no_buffers) {  // pages come back as other flows read
        co_await sched.sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      uni::log_warn("tcp-bulk: ", c.remote(), ": ", uni::to_string(d.err()));
      co_return false;
    }
    if (d->empty()) co_return true;
    bytes += d->size();
  }
}

template <class Stream>
uni::task<void> serve_one(uni::scheduler& sched, Stream c, mode m, std::uint64_t n, session& s) {
  bool ok = true;
  if (m == mode::sink) {
    ok = co_await drain(sched, c, s.bytes);
    if (ok) (void)c.shutdown();
  } else {
    for (std::uint64_t left = n; left > 0 && ok;) {
      const std::size_t part = left < zeros.size() ? static_cast<std::size_t>(left) : zeros.size();
      auto w = co_await c.write(uni::view::unowned(std::span<const std::uint8_t>(zeros.data(), part)));
      if (!w) {
        uni::log_warn("tcp-bulk: ", c.remote(), ": ", uni::to_string(w.err()));
        ok = false;
        break;
      }
      left -= part;
      s.bytes += part;
    }
    // Our FIN follows the data; the peer closes once it has read everything.
    if (ok) ok = c.shutdown().ok();
    std::uint64_t ignored = 0;
    if (ok) ok = co_await drain(sched, c, ignored);
  }
  if (!ok) ++s.failed;
  c.close();
  s.end(sched.now(), m);
}

constexpr uni::option_spec flags[] = {
    uni::choice_option("mode", "sink|source", "sink", "read what clients send, or send them --bytes"),
    uni::number_option("bytes", 0, 0, std::int64_t{1} << 50, "bytes sent to each client (--mode source)"),
    uni::number_option("port", 5001, 1, 65535, "TCP port to listen on"),
};

uni::task<int> serve(auto& stack, const uni::appliance_options& o) {
  const std::string_view m = o.text("mode");
  const mode md = m == "sink" ? mode::sink : mode::source;
  const long bytes = static_cast<long>(o.number("bytes"));
  if (md == mode::source && bytes <= 0) {
    uni::log_error("tcp-bulk: --mode source needs --bytes N");
    co_return 2;
  }
  const auto port = static_cast<std::uint16_t>(o.number("port"));
  auto listener = stack.tcp_listen(port);
  if (!listener) {
    uni::log_error("tcp-bulk: cannot listen on port ", port, ": ", uni::to_string(listener.err()));
    co_return 1;
  }
  uni::log_info("tcp-bulk: ", m, " listening on tcp ", listener->local());
  session s;
  std::vector<uni::join_handle<void>> active;  // declared last: cancelled first
  while (true) {
    std::erase_if(active, [](const uni::join_handle<void>& h) { return h.done(); });
    auto c = co_await listener->accept();
    if (!c) {
      uni::log_warn("tcp-bulk: accept: ", uni::to_string(c.err()));
      co_await stack.sched().sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    s.begin(stack.sched().now());
    active.push_back(
        uni::spawn(stack.sched(), serve_one(stack.sched(), std::move(*c), md, static_cast<std::uint64_t>(bytes), s)));
  }
}

}  // namespace

UNI_APPLIANCE("tcp-bulk", bulk_config, serve, flags)
