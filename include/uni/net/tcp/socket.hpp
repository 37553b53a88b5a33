// uni/net/tcp/socket.hpp: the application's TCP handles, the same API as
// posix::SocketStack's (the TcpStream and TcpListener of uni/net/transport.hpp):
//
//   auto l = stack.tcp_listen(port);                 result<tcp_listener>
//   auto c = co_await l->accept();                   result<tcp_stream>
//   auto c = l->try_accept();                        result<tcp_stream> now, or error::would_block
//   auto c = co_await stack.tcp_connect(ep, 5s);     result<tcp_stream>
//   auto d = co_await c->read();                     result<view>, empty at end of stream
//   auto d = c->try_read();                          result<view> now, or error::would_block
//   co_await c->events().wait();                     wake_reason: then try_read() again
//   auto r = co_await c->write(views);               result<void>, waits for buffer room
//   auto r = c->try_write(views);                    result<void> now, or error::would_block
//   c->shutdown(); c->close(); c->abort(); c->set_nodelay(true);
//
// Reads return views of the pages the segments arrived in; writes queue the
// caller's views (not copied) until the peer acknowledges them, so what a view
// points at must stay put until then: pool pages (shared ownership) or static
// memory. Both handles are move-only; dropping a stream closes it.
#pragma once

#include <cstddef>
#include <span>
#include <utility>

#include <uni/core/task.hpp>
#include <uni/core/view_chain.hpp>
#include <uni/net/endpoint.hpp>
#include <uni/net/tcp/layer.hpp>

namespace uni::tcp {

template <class Layer>
class stream {
 public:
  stream(stream&& o) noexcept : l_(std::exchange(o.l_, nullptr)), slot_(o.slot_) {}
  stream& operator=(stream&& o) noexcept {
    if (this != &o) {
      close();
      l_ = std::exchange(o.l_, nullptr);
      slot_ = o.slot_;
    }
    return *this;
  }
  ~stream() { close(); }

  endpoint local() const noexcept { return {conn().ends().local_ip, conn().ends().local_port}; }
  endpoint remote() const noexcept { return {conn().ends().remote_ip, conn().ends().remote_port}; }
  tcp::state state() const noexcept { return conn().current_state(); }
  const typename Layer::connection_type& connection() const noexcept { return conn(); }

  // The next bytes received, as a view of the page they arrived in; an empty
  // view once the peer has closed its side and everything was read.
  task<result<view>> read() {
    while (true) {
      auto r = try_read();
      if (r || r.err() != error::would_block) co_return r;
      const wake_reason why = co_await events().wait();
      if (why == wake_reason::cancelled) co_return fail(error::cancelled);
    }
  }
  // What read() would give now, or error::would_block when it would wait.
  result<view> try_read() noexcept {
    auto& c = conn();
    if (c.has_unread()) {
      view v = c.read(l_->now());
      l_->settle_read(slot_);
      return v;
    }
    if (c.peer_closed()) return view{};
    if (c.failure() != error::none) return fail(c.failure());
    if (c.current_state() == state::closed) return fail(error::closed);
    return fail(error::would_block);
  }
  // Notified at each of the connection's events (bytes in, room to write, the
  // peer's close, a failure): a loop that reads or writes without read()'s or
  // write()'s coroutine waits on it, then tries again.
  wait_queue& events() noexcept { return conn().events(); }

  // Queues every byte of `data`, waiting while the send buffer is full. All
  // of it is queued before any is sent, so a response's head and body that
  // fit one segment leave in one frame (with Nagle off, each view would go alone).
  task<result<void>> write(std::span<const view> data) {
    std::size_t at = 0, skip = 0;  // what comes next: data[at], from byte `skip`
    while (true) {
      auto all = write_some(data, at, skip);
      if (!all) co_return fail(all.err());
      if (*all) co_return result<void>{};
      const wake_reason why = co_await conn().events().wait();
      if (why == wake_reason::cancelled) co_return fail(error::cancelled);
    }
  }
  // write()'s work between waits: queues data[at], from byte `skip`, and what
  // follows, as far as the send buffer takes them, and pushes what it queued.
  // True when all of it is queued; false when it must wait for room (on
  // events(), then call again with the same `at` and `skip`, 0 and 0 at first).
  result<bool> write_some(std::span<const view> data, std::size_t& at, std::size_t& skip) noexcept {
    auto& c = conn();
    bool queued = false;
    for (; at < data.size(); ++at, skip = 0) {
      while (skip < data[at].size()) {
        if (c.failure() != error::none) return fail(c.failure());
        if (!c.can_write()) return fail(error::closed);
        const std::size_t n = std::min(c.send_space(), data[at].size() - skip);
        if (n == 0 || !c.queue(data[at].tail(skip).head(n))) {
          if (queued) push();  // what is queued goes before we wait for room
          return false;
        }
        skip += n;
        queued = true;
      }
    }
    if (queued) push();
    return true;
  }
  task<result<void>> write(const view& v) { return write(std::span<const view>(&v, 1)); }
  // write() now, without a coroutine, when the send buffer has room for all of
  // `data`; else error::would_block with nothing queued (write() then waits).
  // A server whose answers nearly always fit skips write()'s frame each time.
  result<void> try_write(std::span<const view> data) noexcept {
    auto& c = conn();
    if (c.failure() != error::none) return fail(c.failure());
    if (!c.can_write()) return fail(error::closed);
    std::size_t bytes = 0;
    for (const view& v : data) bytes += v.size();
    if (!c.can_queue(bytes, data.size())) return fail(error::would_block);
    for (const view& v : data) (void)c.queue(v);
    if (bytes > 0) push();
    return {};
  }

  // Half-close: a FIN follows the queued data; reading goes on.
  result<void> shutdown() noexcept {
    auto& c = conn();
    if (c.failure() != error::none) return fail(c.failure());
    c.shutdown(l_->now());
    l_->settle(slot_);
    return {};
  }
  // Lets go: queued data and a FIN still go out (a RST if received data was left unread).
  void close() noexcept {
    if (l_) std::exchange(l_, nullptr)->release(slot_, false);
  }
  void abort() noexcept {
    if (l_) std::exchange(l_, nullptr)->release(slot_, true);
  }
  void set_nodelay(bool on) noexcept { conn().set_nodelay(on); }
  void set_keepalive(bool on) noexcept {
    conn().set_keepalive(on, l_->now());
    l_->settle(slot_);  // a new deadline for the timer task
  }

 private:
  template <class L>
  friend class listener;
  template <class L>
  friend task<result<stream<L>>> connect(L&, ipv4_address, endpoint, duration);
  stream(Layer* l, std::size_t slot) noexcept : l_(l), slot_(slot) {}
  auto& conn() const noexcept { return l_->at(slot_); }
  void push() noexcept {
    conn().push(l_->now());
    l_->settle(slot_);
  }

  Layer* l_;
  std::size_t slot_;
};

template <class Layer>
class listener {
 public:
  listener(listener&& o) noexcept : l_(std::exchange(o.l_, nullptr)), index_(o.index_), local_(o.local_) {}
  listener& operator=(listener&& o) noexcept {
    if (this != &o) {
      close();
      l_ = std::exchange(o.l_, nullptr);
      index_ = o.index_;
      local_ = o.local_;
    }
    return *this;
  }
  ~listener() { close(); }

  endpoint local() const noexcept { return local_; }

  // The next established connection, waiting for one (one coroutine: the
  // layer's accept queue is polled here, not through a task of its own).
  task<result<stream<Layer>>> accept() {
    while (true) {
      auto s = try_accept();
      if (s || s.err() != error::would_block) co_return std::move(s);
      const wake_reason why = co_await accept_ready().wait();  // a local first: see impaired_netif.hpp
      if (why == wake_reason::cancelled) co_return fail(error::cancelled);
    }
  }
  // accept() without waiting: the next established connection if one is
  // queued, else error::would_block; error::closed once the listener is, and
  // no other error (a queued connection has its slot already).
  result<stream<Layer>> try_accept() noexcept {
    if (!l_) return fail(error::closed);  // closed by this handle, maybe while an accept waited
    auto i = l_->take_accepted(index_);
    if (!i) return fail(i.err());
    if (*i == Layer::none) return fail(error::would_block);
    return stream<Layer>{l_, *i};
  }
  // Notified when a connection is queued or the listener closes.
  wait_queue& accept_ready() noexcept { return l_->accept_ready(index_); }

  void close() noexcept {
    if (l_) std::exchange(l_, nullptr)->unlisten(index_);
  }

  static result<listener> open(Layer& l, endpoint local) noexcept {
    auto i = l.listen(local.port);
    if (!i) return fail(i.err());
    return listener{&l, *i, local};
  }

 private:
  listener(Layer* l, std::size_t i, endpoint local) noexcept : l_(l), index_(i), local_(local) {}
  Layer* l_;
  std::size_t index_;
  endpoint local_;
};

// Active open: waits for the handshake (error::refused on a RST,
// error::timed_out when `timeout` passes or the SYN retries run out).
template <class Layer>
task<result<stream<Layer>>> connect(Layer& l, ipv4_address local, endpoint remote, duration timeout) {
  auto i = l.connect(local, remote);
  if (!i) co_return fail(i.err());
  stream<Layer> s{&l, *i};
  const time_point deadline = l.now() + timeout;
  while (true) {
    auto& c = l.at(*i);
    if (c.established()) co_return std::move(s);
    if (c.current_state() == state::closed) {
      const error e = c.failure() == error::none ? error::refused : c.failure();
      s.abort();
      co_return fail(e);
    }
    const wake_reason why = co_await c.events().wait_until(deadline);
    if (why == wake_reason::cancelled || why == wake_reason::timed_out) {
      s.abort();
      co_return fail(why == wake_reason::cancelled ? error::cancelled : error::timed_out);
    }
  }
}

}  // namespace uni::tcp
