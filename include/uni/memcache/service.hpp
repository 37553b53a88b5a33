// uni/memcache/service.hpp: memcached's text protocol served over TCP, written
// once against the transport API: host sockets (SocketStack) or uni's own stack.
//
// One task per connection, each with its session (session.hpp) over the shared
// cache. Bounds for hostile clients: at most max_connections at once (one more
// is told "ERROR Too many open connections" and closed, as memcached does); a
// command left partial, or an answer the client does not take, for longer than
// command_timeout ends the connection; a reclaim task frees expired items.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

// Sends the session's output, and what it adds as sent() goes on with a get;
// false if the connection failed.
template <class Stream, class Session>
task<bool> flush(service_state& st, Stream& s, Session& session) {
  std::array<view, max_pages_per_write> pages;
  while (!session.output().empty()) {
    std::size_t copied = 0;
    const std::size_t n = fill_pages(st.pool, session.output(), pages, copied);
    if (n == 0) {
      co_await st.sched.sleep_for(std::chrono::milliseconds(1));  // pages come back as writes complete
      continue;
    }
    const auto w = co_await s.write(std::span<const view>(pages.data(), n));
    for (view& p : pages) p = view{};
    if (!w) co_return false;
    if (copied == session.output().size()) session.sent(st.now());
    else session.sent_part(copied);  // the pool ran low: the rest goes next round
  }
  co_return true;
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
    if (!session.output().empty()) {
      slot.deadline = st.sched.now() + st.opt.command_timeout;
      if (!co_await flush(st, s, session)) break;
    }
  }
  slot.deadline = time_never;
  s.close();
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
  std::vector<detail::conn_slot> slots(opt.max_connections);
  join_handle<void> reaper = spawn(stack.sched(), detail::reap(st, slots));  // destroyed first
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
