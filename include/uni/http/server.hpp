// uni/http/server.hpp: an HTTP/1.1 server (RFC 9110, RFC 9112) over any
// TcpTransport (uni's own stack, or posix::SocketStack):
//
//   uni::http::server_counters n;
//   uni::http::server_options o;  o.files = lookup;  o.router = &my_routes;
//   co_await uni::http::serve(stack, 80, o, n);
//
// This is the accept side: connections are accepted by the shared bounded
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
// Cancels the connections whose deadline passed, counting why.
inline task<void> reap(server_state& srv, connection_supervisor& sup) {
  while (true) {
    co_await srv.sched.sleep_for(std::chrono::milliseconds(200));
    const time_point now = srv.sched.now();
    for (auto& s : sup.children()) {
      if (!s.task.valid()) continue;
      if (s.task.done()) {
        s.task = {};
        continue;
      }
      if (now < s.info.deadline) continue;
      switch (s.info.state) {
        case conn_state::idle: ++srv.n.idle_timeouts; break;
        case conn_state::head: ++srv.n.header_timeouts; break;
        case conn_state::body: ++srv.n.body_timeouts; break;
        case conn_state::busy: ++srv.n.send_timeouts; break;
        case conn_state::closing: break;
      }
      s.task.cancel();
    }
  }
}

// At the bound: the idle keep-alive connection nearest its deadline, if any.
inline connection_supervisor::child* idle_to_evict(std::span<connection_supervisor::child> children) noexcept {
  connection_supervisor::child* found = nullptr;
  for (auto& s : children)
    if (s.info.state == conn_state::idle && (!found || s.info.deadline < found->info.deadline)) found = &s;
  return found;
}
}  // namespace detail

// Serves HTTP on a listener until cancelled. `opt` and `n` must outlive the task.
template <Transport Stack, TcpListener Listener>
task<int> serve(Stack& stack, Listener listener, const server_options& opt, server_counters& n) {
  log_info("http: listening on http://", listener.local(), "/");
  server_state srv{stack.sched(), stack.pool(), opt, n};
  connection_supervisor sup(stack.sched(), "http", opt.max_connections, when_full::refuse, n.accepts);
  join_handle<void> reaper = spawn(stack.sched(), detail::reap(srv, sup));  // destroyed first
  co_await sup.run(
      listener,
      [&](auto c, conn_watch& watch) {
        c.set_nodelay(true);  // heads and bodies are whole writes: no reason to wait
        watch.state = conn_state::idle;
        watch.deadline = stack.sched().now() + opt.idle_timeout;
        return detail::run_connection(srv, watch, std::move(c));
      },
      detail::idle_to_evict);
  co_return 0;
}

// Serves HTTP on `port`; returns 1 only if it cannot listen.
template <TcpTransport Stack>
task<int> serve(Stack& stack, std::uint16_t port, const server_options& opt, server_counters& n) {
  auto listener = stack.tcp_listen(port);
  if (!listener) {
    log_error("http: cannot listen on port ", port, ": ", to_string(listener.err()));
    co_return 1;
  }
  co_return co_await serve(stack, std::move(*listener), opt, n);
}

}  // namespace uni::http
