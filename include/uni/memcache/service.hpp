// uni/memcache/service.hpp: memcached's text protocol served over TCP, written
// once against the transport API: host sockets (SocketStack) or uni's own stack.
//
// One task per connection, each with its session (session.hpp) over the shared
// cache. Bounds for hostile clients: at most max_connections at once (one more
// is told "ERROR Too many open connections" and closed, as memcached does); a
// command left partial, or an answer the client does not take, for longer than
// command_timeout ends the connection; a reclaim task frees expired items.
//
// UDP (off unless udp_port is set, as memcached since 1.5.6: open UDP ports
// were used to amplify floods): memcached's frame, 8 bytes before each
// datagram (request id, sequence number, datagrams in the message, reserved),
// requests in one datagram, answers cut in datagrams of 1400 bytes. The
// datagrams share one session, as memcached's UDP connection; as memcached's,
// a value the request datagram cut short takes the next datagrams whole (frame
// included: memcached reads them as raw bytes) until it is complete, and its
// answer goes to the request's sender then. Bounded: the
// answers to one request datagram are one message of at most one session
// output (32 KiB, 24 datagrams); a longer one (a large value) is not sent,
// "SERVER_ERROR out of memory writing get response" is (memcached sends
// every datagram of a 1 MiB value). As memcached, each command's answer, and
// each value of a get after the first, is a message of its own (up to 64 per
// request datagram, then they share the last).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include <uni/core/log.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/memcache/session.hpp>
#include <uni/net/transport.hpp>

namespace uni::memcache {

struct service_options {
  std::size_t max_connections = 1024;
  duration command_timeout = std::chrono::seconds(30);  // a partial command, or our answer not taken
  // Unix seconds; without it (Xen has no wall clock here) time counts from
  // 30 days + 1 s at start, so relative expiry works and absolute times are far off.
  std::int64_t (*unix_time)() noexcept = nullptr;
  std::uint16_t udp_port = 0;  // 0: no UDP
};

namespace detail {

struct conn_slot {
  join_handle<void> task;
  time_point deadline = time_never;
};

struct service_state {
  scheduler& sched;
  page_pool& pool;
  cache& c;
  const service_options& opt;
  std::int64_t base = 0;  // Unix seconds at start (from opt.unix_time, or 30 days + 1 s)
  time_point started;
  std::int64_t now() const noexcept {
    if (opt.unix_time) return opt.unix_time();
    return base + std::chrono::duration_cast<std::chrono::seconds>(sched.now() - started).count();
  }
};

inline constexpr std::size_t max_pages_per_write = 16;

// Copies the front of `out` into fresh pages (as many as the pool gives, up to
// pages.size()); returns how many pages, `copied` the bytes they hold.
inline std::size_t fill_pages(page_pool& pool, std::span<const std::uint8_t> out, std::span<view> pages,
                              std::size_t& copied) noexcept {
  std::size_t n = 0;
  copied = 0;
  while (copied < out.size() && n < pages.size()) {
    auto p = pool.allocate();
    if (!p) break;
    const std::size_t k = std::min(out.size() - copied, p->size());
    std::memcpy(p->data(), out.data() + copied, k);
    pages[n++] = p->head(k);
    copied += k;
  }
  return n;
}

template <class Stream>
task<void> run_connection(service_state& st, conn_slot& slot, Stream s) {
  struct live {  // counted down however the task ends, cancellation included
    cache& c;
    explicit live(cache& k) noexcept : c(k) { ++c.connections.current; }
    ~live() { --c.connections.current; }
  } counted(st.c);
  session<> session(st.c);
  s.set_nodelay(true);  // answers go out at once, as memcached sets TCP_NODELAY
  view pending;  // received bytes the session has not taken yet
  // The pages an answer is written in. Here, not in a coroutine of its own per
  // answer: its frame and this array were ~260 instructions a get (callgrind).
  std::array<view, max_pages_per_write> pages;
  while (!session.closing()) {
    if (pending.empty()) {
      slot.deadline = session.partial() ? st.sched.now() + st.opt.command_timeout : time_never;
      auto d = co_await s.read();
      if (!d) {
        if (d.err() == error::no_buffers) {
          co_await st.sched.sleep_for(std::chrono::milliseconds(1));
          continue;
        }
        break;
      }
      if (d->empty()) break;
      pending = std::move(*d);
    }
    const std::size_t used = session.receive(std::span<const std::uint8_t>(pending.data(), pending.size()), st.now());
    pending = pending.tail(used);
    if (!session.output().empty()) slot.deadline = st.sched.now() + st.opt.command_timeout;
    // The output, and what sent() adds to it as a get goes on.
    bool failed = false;
    while (!session.output().empty() && !failed) {
      std::size_t copied = 0;
      const std::size_t n = fill_pages(st.pool, session.output(), pages, copied);
      if (n == 0) {
        co_await st.sched.sleep_for(std::chrono::milliseconds(1));  // pages come back as writes complete
        continue;
      }
      const std::span<const view> answer(pages.data(), n);
      result<void> w = fail(error::would_block);
      if constexpr (TryWriteStream<Stream>) w = s.try_write(answer);  // uni's stack: no coroutine when it fits
      if (!w && w.err() == error::would_block) w = co_await s.write(answer);
      for (std::size_t i = 0; i < n; ++i) pages[i] = view{};
      if (!w) failed = true;
      else if (copied == session.output().size()) session.sent(st.now());
      else session.sent_part(copied);  // the pool ran low: the rest goes next round
    }
    if (failed) break;
  }
  slot.deadline = time_never;
  s.close();
}

inline constexpr std::size_t udp_header = 8;
inline constexpr std::size_t udp_datagram = 1400;  // memcached's UDP_MAX_PAYLOAD_SIZE, header included

// Sends the session's output as one message of datagrams with memcached's
// frame; false if a datagram could not be had or sent.
template <UdpSocket Socket>
task<bool> send_message(service_state& st, Socket& sock, const endpoint& to, std::uint16_t id,
                        std::span<const std::uint8_t> out) {
  constexpr std::size_t room = udp_datagram - udp_header;
  const auto total = static_cast<std::uint16_t>((out.size() + room - 1) / room);
  for (std::uint16_t seq = 0; seq < std::max<std::uint16_t>(total, 1); ++seq) {  // an empty one: a frame saying 0
    auto page = st.pool.allocate();
    if (!page) co_return false;
    const auto piece = out.subspan(seq * room, std::min(room, out.size() - seq * room));
    std::uint8_t* p = page->data();
    const std::uint16_t frame[4] = {id, seq, total, 0};
    for (std::size_t i = 0; i < 4; ++i) {
      p[2 * i] = static_cast<std::uint8_t>(frame[i] >> 8);
      p[2 * i + 1] = static_cast<std::uint8_t>(frame[i]);
    }
    std::memcpy(p + udp_header, piece.data(), piece.size());
    page->truncate(udp_header + piece.size());
    auto sent = sock.try_send_to(to, *page);
    if (!sent && sent.err() == error::would_block) sent = co_await sock.send_to(to, *page);
    if (!sent) co_return false;
  }
  co_return true;
}

// Answers request datagrams until cancelled.
template <UdpSocket Socket>
task<void> serve_udp(service_state& st, Socket& sock) {
  std::optional<session<>> s;  // one for the socket, as memcached's UDP connection; remade after quit or a cut answer
  s.emplace(st.c);
  s->track_messages(true);
  std::array<std::uint8_t, 65536> scratch;  // a datagram in several views
  endpoint asker{};      // the request datagram being answered
  std::uint16_t id = 0;  // and its request id
  std::size_t parts_sent = 0;  // of the output, while a value is coming (below)
  while (true) {
    auto d = sock.try_receive();
    if (!d && d.err() == error::would_block) d = co_await sock.receive();
    if (!d) {
      if (d.err() == error::cancelled) co_return;
      co_await st.sched.sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    std::span<const std::uint8_t> in;
    if (d->payload.count() == 1) in = d->payload[0].bytes();
    else in = std::span<const std::uint8_t>(scratch.data(), d->payload.copy_to(scratch));
    const std::int64_t now = st.now();
    if (const std::size_t wanted = s->value_wanted(); wanted != 0) {
      // memcached reads the rest of a value straight from the socket: the next
      // datagram whatever it holds, its frame included, up to the bytes still
      // wanted (the rest of it is lost).
      s->receive(in.first(std::min(in.size(), wanted)), now);
    } else {
      // memcached drops a datagram too short for the frame, or one of several.
      if (in.size() < udp_header || in[4] != 0 || in[5] != 1) {
        ++st.c.udp.dropped;
        continue;
      }
      ++st.c.udp.requests;
      asker = d->source;
      id = static_cast<std::uint16_t>(in[0] << 8 | in[1]);
      in = in.subspan(udp_header);
      s->drop_partial_line();
      std::size_t used = 0;
      while (used < in.size() && !s->blocked() && !s->closing()) used += s->receive(in.subspan(used), now);
    }
    static constexpr char too_large[] = "SERVER_ERROR out of memory writing get response\r\n";
    const bool cut = s->blocked();  // an answer not finished within the output: past the bound
    // While a value is coming, memcached sends the answers up to the last get
    // and keeps the others until it has read all of the value; all of them go
    // to the datagram that began the command.
    const bool waiting = !cut && s->value_wanted() != 0;
    bool ok = true;
    if (cut) {
      ++st.c.udp.too_large;
      ok = co_await send_message(st, sock, asker, id,
                                 {reinterpret_cast<const std::uint8_t*>(too_large), sizeof too_large - 1});
    } else {
      const auto out = s->output();
      const auto marks = s->messages();
      const std::size_t upto = waiting ? s->flush_point() : out.size();
      // Part 0 is what precedes the first mark (the answer to a value begun in
      // an earlier datagram), part k > 0 message k - 1.
      std::size_t start = 0;
      for (std::size_t k = 0; k <= marks.size() && ok; ++k) {
        const std::size_t end = k < marks.size() ? marks[k] : out.size();
        if (end > upto || (waiting && k == marks.size())) break;  // not finished yet
        if (k >= parts_sent) {
          if (end > start || (k > 0 && s->sent_when_empty(k - 1)))
            ok = co_await send_message(st, sock, asker, id, out.subspan(start, end - start));
          parts_sent = k + 1;
        }
        start = std::max(start, end);
      }
    }
    if (!ok) ++st.c.udp.send_errors;
    if (waiting) continue;
    parts_sent = 0;
    if (cut || s->closing()) {  // the session starts again (memcached too resets its UDP connection after quit)
      s.reset();
      s.emplace(st.c);
      s->track_messages(true);
    } else {
      s->sent(now);
    }
  }
}

template <UdpSocket Socket>
task<void> serve_udp_on(service_state& st, Socket sock) {
  co_await serve_udp(st, sock);
}

// Ends connections whose deadline passed; frees expired items.
inline task<void> reap(service_state& st, std::vector<conn_slot>& slots) {
  while (true) {
    co_await st.sched.sleep_for(std::chrono::milliseconds(500));
    const time_point now = st.sched.now();
    for (conn_slot& s : slots) {
      if (!s.task.valid()) continue;
      if (s.task.done()) {
        s.task = {};
        continue;
      }
      if (now < s.deadline) continue;
      ++st.c.connections.idle_closed;
      s.task.cancel();
      s.task = {};
    }
    st.c.items.reclaim(st.now(), 64);
  }
}

}  // namespace detail

// Serves the cache on a TCP port until cancelled; returns 1 if it cannot listen.
// (Its own accept loop, not accept_supervisor: past the bound memcached writes
// "ERROR Too many open connections" before closing, where the supervisor resets.)
template <TcpTransport Stack>
task<int> serve(Stack& stack, std::uint16_t port, cache& c, const service_options& opt) {
  auto listener = stack.tcp_listen(port);
  if (!listener) {
    log_error("memcache: cannot listen on port ", port, ": ", to_string(listener.err()));
    co_return 1;
  }
  log_info("memcache: listening on tcp ", listener->local(), ", ", c.items.capacity() >> 20, " MiB of items");
  detail::service_state st{stack.sched(), stack.pool(), c, opt, 0, stack.sched().now()};
  st.base = opt.unix_time ? opt.unix_time() : relative_expiry_limit + 1;
  c.started_at = st.base;
  c.max_connections = static_cast<std::int64_t>(opt.max_connections);
  c.tcp_port = port;
  std::vector<detail::conn_slot> slots(opt.max_connections);
  join_handle<void> reaper = spawn(stack.sched(), detail::reap(st, slots));  // destroyed first
  join_handle<void> udp;
  if constexpr (UdpTransport<Stack>) {
    if (opt.udp_port != 0) {
      auto sock = stack.udp_bind(opt.udp_port);
      if (!sock) {
        log_error("memcache: cannot bind udp port ", opt.udp_port, ": ", to_string(sock.err()));
        co_return 1;
      }
      log_info("memcache: udp on ", sock->local());
      c.udp_port = opt.udp_port;
      udp = spawn(stack.sched(), detail::serve_udp_on(st, std::move(*sock)));
    }
  }
  std::size_t cursor = 0;
  while (true) {
    auto s = co_await listener->accept();
    if (!s) {
      log_warn("memcache: accept: ", to_string(s.err()));
      co_await stack.sched().sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    detail::conn_slot* free = nullptr;
    for (std::size_t i = 0; i < slots.size() && !free; ++i) {
      detail::conn_slot& slot = slots[(cursor + i) % slots.size()];
      if (slot.task.valid() && slot.task.done()) slot.task = {};
      if (!slot.task.valid()) {
        free = &slot;
        cursor = (cursor + i + 1) % slots.size();
      }
    }
    if (!free) {
      ++c.connections.rejected;
      static constexpr char busy[] = "ERROR Too many open connections\r\n";
      const view v = view::unowned(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(busy), sizeof busy - 1));
      (void)co_await s->write(v);  // static bytes: safe on either stack
      s->close();
      continue;
    }
    ++c.connections.total;
    free->deadline = time_never;
    free->task = spawn(stack.sched(), detail::run_connection(st, *free, std::move(*s)));
  }
}

}  // namespace uni::memcache
