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
#include <coroutine>
#include <cstdint>
#include <optional>
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

// The supervisor's start: a connection's task, idle until its first request.
struct start_connection {
  server_state* srv;
  template <class Stream>
  task<void> operator()(Stream&& c, conn_watch& watch) const {
    c.set_nodelay(true);  // heads and bodies are whole writes: no reason to wait
    watch.state = conn_state::idle;
    watch.deadline = srv->sched.now() + srv->opt.idle_timeout;
    return run_connection(*srv, watch, std::move(c));
  }
};
}  // namespace detail

// HTTP served on what listening on `port` gave, until the listener closes or
// this is destroyed (the awaiting task cancelled): what serve() returns. It is
// no coroutine but the service's state, awaited in the caller's frame; the
// supervisor's loop accepts, and reaps connections past their deadlines. co_await
// yields 1 if listening failed (logged), else 0 once the listener has closed.
template <Transport Stack, TcpListener Listener>
class serving {
 public:
  serving(Stack& stack, result<Listener> listening, std::uint16_t port, const server_options& opt,
          server_counters& n) noexcept
      : listening_(std::move(listening)),
        port_(port),
        srv_{stack.sched(), stack.pool(), opt, n},
        sup_(stack.sched(), "http"sv, opt.max_connections, when_full::refuse, n.accepts) {}
  serving(const serving&) = delete;
  serving& operator=(const serving&) = delete;

  bool await_ready() noexcept {
    if (!listening_) {
      log_error("http: cannot listen on port ", port_, ": ", to_string(listening_.err()));
      return true;
    }
    log_info("http: listening on http://", listening_->local(), "/");
    return false;
  }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    accepting_.emplace(sup_, *listening_, detail::start_connection{&srv_}, detail::idle_to_evict{},
                       periodic_duty{detail::reap_every, reap_fn{this}});
    accepting_->await_suspend(h);
  }
  int await_resume() const noexcept { return listening_ ? 0 : 1; }

 private:
  struct reap_fn {
    serving* self;
    void operator()() const noexcept { detail::reap(self->srv_, self->sup_); }
  };

  result<Listener> listening_;
  std::uint16_t port_;
  server_state srv_;
  connection_supervisor sup_;
  // Last: stops accepting before the connections are cancelled.
  std::optional<connection_supervisor::loop<Listener, detail::start_connection, detail::idle_to_evict,
                                            periodic_duty<reap_fn>>>
      accepting_;
};


// Serves HTTP on a listener until cancelled. `opt` and `n` must outlive the task.
template <Transport Stack, TcpListener Listener>
task<int> serve(Stack& stack, Listener listener, const server_options& opt, server_counters& n) {
  co_return co_await serving<Stack, Listener>(stack, result<Listener>(std::move(listener)), 0, opt, n);
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

// Serves HTTP on `port` until cancelled: `co_await` what it returns, which
// yields 1 only if it cannot listen. `opt` and `n` must outlive it.
template <TcpTransport Stack>
serving<Stack, tcp_listener_t<Stack>> serve(Stack& stack, std::uint16_t port, const server_options& opt,
                                            server_counters& n) {
  return {stack, stack.tcp_listen(port), port, opt, n};
}

}  // namespace uni::http
