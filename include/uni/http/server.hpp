// uni/http/server.hpp: an HTTP/1.1 server (RFC 9110, RFC 9112) over any
// TcpTransport (uni's own stack, or posix::SocketStack):
//
//   uni::http::server_counters n;
//   uni::http::server_options o;  o.files = lookup;  o.router = &my_routes;
//   co_await uni::http::serve(stack, 80, o, n);
//
// serve_streams() serves the byte streams an endpoint hands out one at a time
// instead (vchan). This is the accept side: connections are accepted by the shared bounded
// supervisor (uni/net/accept_supervisor.hpp), each served by its own task
// running the protocol (uni/http/connection.hpp). At max_connections an idle
// keep-alive connection is evicted for the new one (the one nearest its
// deadline), otherwise the new one is refused. Deadlines for a head (from its
// first byte: slowloris), a body, idle keep-alive and a stalled reader are
// enforced by a reaper that cancels the connection's task, counting why.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>

#include <uni/core/log.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/http/connection.hpp>
#include <uni/net/accept_supervisor.hpp>
#include <uni/net/transport.hpp>

namespace uni::http {

using connection_supervisor = accept_supervisor<conn_watch>;

namespace detail {
inline constexpr duration reap_every = std::chrono::milliseconds(200);

// Counts why a connection past its deadline is being cancelled.
inline void count_timeout(server_counters& n, conn_state state) noexcept {
  switch (state) {
    case conn_state::idle: ++n.idle_timeouts; break;
    case conn_state::head: ++n.header_timeouts; break;
    case conn_state::body: ++n.body_timeouts; break;
    case conn_state::busy: ++n.send_timeouts; break;
    case conn_state::closing: break;
  }
}

// Cancels the connections whose deadline passed, counting why, and lets go
// of the frames of those that ended.
inline void reap(server_state& srv, connection_supervisor& sup) noexcept {
  const time_point now = srv.sched.now();
  for (auto& s : sup.children()) {
    if (!s.task.valid()) continue;
    if (s.task.done()) {
      s.task.cancel();  // ended: its frame is freed
      continue;
    }
    if (now < s.info.deadline) continue;
    count_timeout(srv.n, s.info.state);
    s.task.cancel();
  }
}

// At the bound: the idle keep-alive connection nearest its deadline, if any.
// (A function object: an empty one in the supervisor's frame, called directly.)
struct idle_to_evict {
  connection_supervisor::child* operator()(std::span<connection_supervisor::child> children) const noexcept {
    connection_supervisor::child* found = nullptr;
    for (auto& s : children)
      if (s.info.state == conn_state::idle && (!found || s.info.deadline < found->info.deadline)) found = &s;
    return found;
  }
};

// Serves HTTP on what listening on `port` gave until cancelled; status 1 if
// it failed. (One coroutine for both of serve's forms: each coroutine is code
// of its own.)
template <Transport Stack, TcpListener Listener>
task<int> serve_listening(Stack& stack, result<Listener> listening, std::uint16_t port, const server_options& opt,
                          server_counters& n) {
  if (!listening) {
    log_error("http: cannot listen on port ", port, ": ", to_string(listening.err()));
    co_return 1;
  }
  Listener& listener = *listening;
  log_info("http: listening on http://", listener.local(), "/");
  server_state srv{stack.sched(), stack.pool(), opt, n};
  connection_supervisor sup(stack.sched(), "http"sv, opt.max_connections, when_full::refuse, n.accepts);
  // The reaper runs in the supervisor's loop, between accepts (each coroutine is code of its own).
  co_await sup.run(
      listener,
      [&srv](auto&& c, conn_watch& watch) {
        c.set_nodelay(true);  // heads and bodies are whole writes: no reason to wait
        watch.state = conn_state::idle;
        watch.deadline = srv.sched.now() + srv.opt.idle_timeout;
        return detail::run_connection(srv, watch, std::move(c));
      },
      detail::idle_to_evict{}, periodic_duty{detail::reap_every, [&] { detail::reap(srv, sup); }});
  // Accepting ends when the listener closes.
  co_return 0;
}
}  // namespace detail

// Serves HTTP on a listener until cancelled. `opt` and `n` must outlive the task.
template <Transport Stack, TcpListener Listener>
task<int> serve(Stack& stack, Listener listener, const server_options& opt, server_counters& n) {
  return detail::serve_listening(stack, result<Listener>(std::move(listener)), 0, opt, n);
}

// Serves HTTP over the byte streams `streams.accept()` hands out, one after
// the other (a vchan endpoint, uni/devices.hpp: one peer per channel, offered
// again once it has gone), with the same deadlines. A wait for a peer that
// timed out is offered again; any other failure of accept() ends it (status 1).
template <class Streams>
task<int> serve_streams(Streams& streams, scheduler& sched, page_pool& pool, const server_options& opt,
                        server_counters& n) {
  server_state srv{sched, pool, opt, n};
  for (;;) {
    auto s = co_await streams.accept();
    if (!s && s.err() == error::timed_out) continue;
    if (!s) {
      log_error("http: no stream to serve: ", to_string(s.err()));
      co_return 1;
    }
    static_assert(ByteStream<std::remove_cvref_t<decltype(*s)>>);
    ++n.accepts.accepted;
    conn_watch watch{sched.now() + opt.idle_timeout, conn_state::idle};
    join_handle<void> c = spawn(sched, detail::run_connection(srv, watch, std::move(*s)));
    for (;;) {  // until it ends, or its deadline passes (it moves as the connection goes, earlier too)
      const time_point look = sched.now() + detail::reap_every;
      auto ended = co_await c.join_until(watch.deadline < look ? watch.deadline : look);
      if (ended || ended.err() != error::timed_out) break;
      if (sched.now() < watch.deadline) continue;
      detail::count_timeout(n, watch.state);
      c.cancel();
      break;
    }
  }
}

// Serves HTTP on `port`; returns 1 only if it cannot listen. (Plain functions
// returning the task they would await: a coroutine would be code of its own.)
template <TcpTransport Stack>
task<int> serve(Stack& stack, std::uint16_t port, const server_options& opt, server_counters& n) {
  return detail::serve_listening(stack, stack.tcp_listen(port), port, opt, n);
}

}  // namespace uni::http
