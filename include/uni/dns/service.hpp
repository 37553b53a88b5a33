// uni/dns/service.hpp: the DNS server on a stack: UDP on a port, and DNS over
// TCP (RFC 7766, RFC 1035 §4.2.2: two-byte length prefixes, several queries per
// connection, pipelined) when the stack has TCP. Written against the transport
// API, so it runs over host sockets (posix::SocketStack) and uni's own stack
// alike; a Stack configured without TCP gets no TCP code at all.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include <uni/core/buffer.hpp>
#include <uni/core/log.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/dns/server.hpp>
#include <uni/net/accept_supervisor.hpp>
#include <uni/net/transport.hpp>
#include <uni/trace/recorder.hpp>

namespace uni::dns {

// Connections served at once over TCP, and how long one may sit idle (RFC 7766 §6.2.3).
inline constexpr std::size_t max_tcp_connections = 64;
inline constexpr auto tcp_idle_timeout = std::chrono::seconds(10);

struct service_counters {
  std::uint64_t udp_queries = 0, udp_no_pages = 0, udp_send_errors = 0;
  std::uint64_t tcp_connections = 0, tcp_queries = 0, tcp_failed = 0;
};

// One TCP connection's queries and answers, apart from its I/O: the bytes read
// go in, and every complete query (a two-byte length, then the message) comes
// out answered, in pages ready to write. Not a template: every stream type
// shares it, and the connection's coroutine only reads and writes.
class tcp_exchange {
 public:
  tcp_exchange(page_pool& pool, server& srv, service_counters& n)
      : pool_(pool), srv_(srv), n_(n), in_(new std::uint8_t[in_capacity + out_capacity]) {}

  // False once the connection is over: the peer ended it, it sat idle too
  // long, or a read, a page or a write failed (counted in tcp_failed).
  bool open() const noexcept { return open_; }

  // Takes what a read gave.
  void read(const result<view>& d) noexcept {
    if (!d || d->empty()) {
      if (!d && d.err() != error::timed_out) ++n_.tcp_failed;
      open_ = false;
      return;
    }
    // What is left is less than one whole query, and a read is at most a page
    // (a stream's views are of pages): it fits. Were it not so, the connection ends.
    std::memmove(in_.get(), in_.get() + used_, end_ - used_);
    end_ -= used_;
    used_ = 0;
    if (d->size() > in_capacity - end_) {
      ++n_.tcp_failed;
      open_ = false;
      return;
    }
    std::memcpy(in_.get() + end_, d->data(), d->size());
    end_ += d->size();
  }

  // Takes what a read gave, as read() does, unless it would have blocked: then
  // false, and nothing is taken (wait, and read again).
  bool took(const result<view>& d) noexcept {
    if (!d && d.err() == error::would_block) return false;
    read(d);
    return true;
  }

  // The answer to the next complete query, length first, copied into pages (at
  // most 17 for 64 KiB); empty when every query read so far is answered.
  std::span<const view> next_answer() noexcept {
    std::uint8_t* const out = in_.get() + in_capacity;
    while (open_ && end_ - used_ >= 2) {
      const std::size_t len = wire::load_be16(in_.get() + used_);
      if (end_ - used_ < 2 + len) break;
      ++n_.tcp_queries;
      // A span per query (uni/trace/), from its answer until the answer is written: it may wait for the peer.
      if constexpr (trace::compiled) span_ = trace::begin_span("dns tcp query");
      const std::size_t size = srv_.answer({in_.get() + used_ + 2, len}, {out + 2, 65535}, transport::tcp);
      used_ += 2 + len;
      if (size == 0) {
        answered();
        continue;
      }
      wire::store_be16(out, static_cast<std::uint16_t>(size));
      std::size_t count = 0;
      for (std::size_t at = 0; at < size + 2; at += page_size) {
        auto p = pool_.allocate();
        if (!p) {
          answered();
          ++n_.tcp_failed;
          open_ = false;
          return {};
        }
        const std::size_t k = std::min(page_size, size + 2 - at);
        std::memcpy(p->data(), out + at, k);
        p->truncate(k);
        pages_[count++] = std::move(*p);
      }
      return {pages_.data(), count};
    }
    return {};
  }

  // Takes how the write of next_answer()'s pages went, and lets them go.
  void wrote(const result<void>& w) noexcept {
    answered();
    for (view& p : pages_) p = view{};
    if (!w) {
      ++n_.tcp_failed;
      open_ = false;
    }
  }

 private:
  static constexpr std::size_t in_capacity = 2 + 65535 + page_size;
  static constexpr std::size_t out_capacity = 2 + 65535;

  void answered() noexcept {
    if constexpr (trace::compiled) trace::end_span(span_, "dns tcp query");
  }

  page_pool& pool_;
  server& srv_;
  service_counters& n_;
  std::unique_ptr<std::uint8_t[]> in_;  // the bytes read, then room for one answer
  std::size_t used_ = 0, end_ = 0;  // in_[used_, end_): read, not yet answered
  std::array<view, (out_capacity + page_size - 1) / page_size> pages_;
  [[maybe_unused]] std::uint32_t span_ = 0;
  bool open_ = true;
};

// One TCP connection: length-prefixed queries in, answers out in order, until
// the peer ends it or it sits idle for tcp_idle_timeout.
template <TcpStream Stream>
task<void> serve_tcp_connection(scheduler& sched, page_pool& pool, server& srv, Stream c, service_counters& n) {
  for (tcp_exchange x(pool, srv, n); x.open();) {
    if constexpr (PollingByteStream<Stream>) {  // uni's stack: this frame waits, no read or write task
      // What was read is taken at once: no read's result is held across a wait.
      const time_point deadline = sched.now() + tcp_idle_timeout;
      while (!x.took(c.try_read())) {
        const wake_reason why = co_await c.events().wait_until(deadline);
        if (why != wake_reason::notified) {
          x.read(fail(why == wake_reason::timed_out ? error::timed_out : error::cancelled));
          break;
        }
      }
      for (auto answer = x.next_answer(); !answer.empty(); answer = x.next_answer()) {
        std::size_t at = 0, skip = 0;
        result<bool> all = false;
        while ((all = c.write_some(answer, at, skip)) && !*all) {
          if (co_await c.events().wait() == wake_reason::cancelled) {
            all = fail(error::cancelled);
            break;
          }
        }
        x.wrote(all ? result<void>{} : fail(all.err()));
      }
    } else {
      auto reading = spawn(sched, c.read());  // cancelled when it times out, as it goes out of scope
      x.read(co_await reading.join_until(sched.now() + tcp_idle_timeout));
      for (auto answer = x.next_answer(); !answer.empty(); answer = x.next_answer()) x.wrote(co_await c.write(answer));
    }
  }
  c.close();
}

namespace detail {
// serve()'s TCP side: nothing for a stack without TCP.
template <class Stack>
struct tcp_side {
  tcp_side(Stack&, std::uint16_t) noexcept {}
  bool start(Stack&, server&, std::uint16_t, service_counters&) noexcept { return true; }
};
// With TCP: a listener on the port (listened on when made) and, beside the UDP
// loop, the supervisor's loop accepting on it and one task per connection.
// (Members end in reverse order: the loop and the tasks first, the listener last.)
template <TcpTransport Stack>
struct tcp_side<Stack> {
  using listener_type = tcp_listener_t<Stack>;
  // The supervisor's start: one connection's task.
  struct start_connection {
    Stack& stack;
    server& srv;
    service_counters& n;
    template <class C>
    task<void> operator()(C c, no_info&) const {
      ++n.tcp_connections;
      return serve_tcp_connection(stack.sched(), stack.pool(), srv, std::move(c), n);
    }
  };

  result<listener_type> listener;  // the listener, or why there is none
  accept_counters accepts;
  accept_supervisor<> sup;
  std::optional<accept_supervisor<>::loop<listener_type, start_connection, evict_none, no_duty>> accepting;

  tcp_side(Stack& stack, std::uint16_t port)
      : listener(stack.tcp_listen(port)),
        sup(stack.sched(), std::string_view("dns", 3), max_tcp_connections, when_full::wait, accepts) {}
  // False (and logged) when the port could not be listened on.
  bool start(Stack& stack, server& srv, std::uint16_t port, service_counters& n) {
    if (!listener) {
      log_error("dns: cannot listen on tcp port ", port, ": ", to_string(listener.err()));
      return false;
    }
    accepting.emplace(sup, *listener, start_connection{stack, srv, n}, evict_none{}, no_duty{});
    accepting->start();
    return true;
  }
};

// serve()'s one body, serving what `get()` gives: the caller's server (a
// reference), or one made right here in the frame (a value, not moved).
template <UdpTransport Stack, class Get>
task<int> serve(Stack& stack, Get get, std::uint16_t port) {
  decltype(auto) srv = get();
  auto udp = stack.udp_bind(port);
  if (!udp) {
    log_error("dns: cannot bind udp port ", port, ": ", to_string(udp.err()));
    co_return 1;
  }
  auto& sock = *udp;
  log_info("dns: serving ", srv.zones().size(), " zone(s) on udp ", sock.local());
  service_counters n;
  struct report {
    const service_counters& n;
    const server& srv;
    ~report() {
      const auto& s = srv.stats();
      log_info(fmt<"dns: {} udp and {} tcp queries ({} connections); {} answers, {} nxdomain, {} refused, {} formerr, "
                   "{} truncated, {} ignored">,
               n.udp_queries, n.tcp_queries, n.tcp_connections, s.answers, s.nxdomain, s.refused, s.formerr,
               s.truncated, s.ignored);
      log_info(fmt<"dns: memo {} hits, {} misses, {} flushes; dropped: {} udp (no pages), {} udp sends, {} tcp "
                   "connections failed">,
               s.memo_hits, s.memo_misses, srv.memo_flushes(), n.udp_no_pages, n.udp_send_errors, n.tcp_failed);
    }
  } r{n, srv};
  detail::tcp_side<Stack> tcp(stack, port);
  if (!tcp.start(stack, srv, port, n)) co_return 1;
  // The UDP side: datagrams answered here until cancelled. Each answer is
  // written into a page of the pool and sent from there: no allocation, no
  // copy of the query.
  std::array<std::uint8_t, page_size> scratch;  // for a query in several pieces
  while (true) {
    auto d = sock.try_receive();  // a busy server takes what is queued without a task
    if constexpr (PollingUdpSocket<udp_socket_t<Stack>>) {
      if (!d) {  // nothing queued
        if (co_await sock.readable() == wake_reason::cancelled) co_return 0;
        continue;
      }
    } else {
      if (!d && d.err() == error::would_block) d = co_await sock.receive();
      if (!d) {
        if (d.err() == error::cancelled) co_return 0;
        // No buffers right now: the datagram waits in its queue while the others run.
        co_await stack.sched().sleep_for(std::chrono::milliseconds(1));
        continue;
      }
    }
    ++n.udp_queries;
    const datagram& query = *d;
    auto page = stack.pool().allocate();
    if (!page) {
      ++n.udp_no_pages;
      continue;
    }
    view& answer = *page;
    const std::size_t size = srv.answer(query.payload.count() == 1
                                            ? query.payload[0].bytes()
                                            : std::span(scratch.data(), query.payload.copy_to(scratch)),
                                        answer.bytes(), transport::udp);
    // A span per query (uni/trace/), named by the query count: answering never suspends, so one event.
    if constexpr (trace::traces<Stack>) trace::whole_span(static_cast<std::uint32_t>(n.udp_queries), "dns query");
    if (size == 0) continue;
    answer.truncate(size);
    if constexpr (PollingUdpSocket<udp_socket_t<Stack>>) {
      std::optional<result<void>> sent;
      for (bool started = false; !sent;) {
        sent = sock.send_step(query.source, answer, started);
        if (!sent && co_await sock.next_hop_resolved() == wake_reason::cancelled) sent = fail(error::cancelled);
      }
      if (!*sent) ++n.udp_send_errors;
    } else {
      auto sent = sock.try_send_to(query.source, answer);
      if (!sent && sent.err() == error::would_block) sent = co_await sock.send_to(query.source, answer);
      if (!sent) ++n.udp_send_errors;
    }
  }
}
}  // namespace detail

// Serves `srv` on `port` (UDP, and TCP when the stack has it) until cancelled;
// returns an exit status only if it cannot start.
template <UdpTransport Stack>
task<int> serve(Stack& stack, server& srv, std::uint16_t port) {
  return detail::serve(stack, [&srv]() -> server& { return srv; }, port);
}
// The same for a server of `zones` (a zone, or a std::vector of them) and
// options `o`, made in the service's own frame: the caller needs no frame to
// hold it.
template <UdpTransport Stack, class Zones>
task<int> serve(Stack& stack, Zones zones, const server_options& o, std::uint16_t port) {
  return detail::serve(stack, [zones = std::move(zones), o]() mutable { return server(std::move(zones), o); }, port);
}

}  // namespace uni::dns
