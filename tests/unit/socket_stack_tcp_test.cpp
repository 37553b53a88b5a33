// SocketStack's TCP against the host kernel, inside one process over 127.0.0.1:
// the kernel is the peer, so every case here is judged by Linux's own TCP.
// Catch's REQUIRE throws, which a coroutine must not: the coroutines below hand
// their findings out and the assertions run outside them.
#include <catch2/catch.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <vector>

#include <uni/core/run.hpp>
#include <uni/core/task.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/socket_stack.hpp>

#include "socket_host.hpp"

using namespace uni;
using posix::SocketStack;
using tcp_stream = SocketStack::tcp_stream;

namespace {
using test::loopback;
template <std::size_t Pages = 64>
using host = test::socket_host<Pages>;

std::vector<std::uint8_t> pattern(std::size_t n, unsigned seed = 1) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * 131 + seed * 7 + i / 4096) % 251);
  return v;
}

// Reads until `limit` bytes, the end of stream, or an error.
struct drained {
  std::vector<std::uint8_t> bytes;
  bool eof = false;
  error err = error::none;
};
task<drained> read_all(tcp_stream& c, std::size_t limit = SIZE_MAX) {
  drained d;
  while (d.bytes.size() < limit) {
    auto r = co_await c.read();
    if (!r) {
      d.err = r.err();
      break;
    }
    if (r->empty()) {
      d.eof = true;
      break;
    }
    d.bytes.insert(d.bytes.end(), r->data(), r->data() + r->size());
  }
  co_return d;
}

// A listening socket whose accept queue is full: Linux drops further SYNs, so
// a connection to it neither completes nor is refused (a SYN into the void).
struct full_backlog {
  int fd = -1;
  std::uint16_t port = 0;
  full_backlog() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd, 0) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port = ntohs(a.sin_port);
  }
  ~full_backlog() { ::close(fd); }
};
}  // namespace

TEST_CASE("tcp: listen, connect, scatter-gather write, echo, half-close and end of stream", "[socket][tcp]") {
  host h;
  auto l = h.stack.tcp_listen(0);
  REQUIRE(l.ok());
  const endpoint server = l->local();
  CHECK(server.address == loopback);
  CHECK(server.port != 0);

  endpoint client_local, client_remote, accepted_local, accepted_remote;
  drained echoed, server_saw;
  result<void> wrote = fail(error::io), shut = fail(error::io);
  auto main = [&]() -> task<void> {
    // The server echoes until the client's FIN, then sends its own.
    auto serve_body = [&]() -> task<void> {  // named: a coroutine lambda's captures live in the lambda
      auto c = co_await l->accept();
      if (!c) co_return;
      accepted_local = c->local();
      accepted_remote = c->remote();
      while (true) {
        auto d = co_await c->read();
        if (!d || d->empty()) break;
        server_saw.bytes.insert(server_saw.bytes.end(), d->data(), d->data() + d->size());
        if (!co_await c->write(*d)) break;
      }
      (void)c->shutdown();
    };
    auto serve = spawn(h.sched, serve_body());
    auto c = co_await h.stack.tcp_connect(server, std::chrono::seconds(2));
    if (!c) co_return;
    client_local = c->local();
    client_remote = c->remote();
    const auto a = pattern(3000, 1), b = pattern(70000, 2), e = pattern(5, 3);
    const view parts[] = {view::unowned(std::span<const std::uint8_t>(a)), view{},
                          view::unowned(std::span<const std::uint8_t>(b)),
                          view::unowned(std::span<const std::uint8_t>(e))};
    wrote = co_await c->write(std::span<const view>(parts));
    shut = c->shutdown();  // our FIN; we still read the echo
    echoed = co_await read_all(*c);
    (void)co_await serve.join();
  };
  REQUIRE(h.go(main()).ok());
  CHECK(wrote.ok());
  CHECK(shut.ok());
  CHECK(client_remote == server);
  CHECK(client_local.address == loopback);
  CHECK(accepted_local == server);
  CHECK(accepted_remote == client_local);
  std::vector<std::uint8_t> sent = pattern(3000, 1);
  for (auto& part : {pattern(70000, 2), pattern(5, 3)}) sent.insert(sent.end(), part.begin(), part.end());
  CHECK((server_saw.bytes == sent));
  CHECK((echoed.bytes == sent));
  CHECK(echoed.eof);
  CHECK(echoed.err == error::none);
  CHECK(h.pool->statistics().in_use == 0);
}

TEST_CASE("tcp: reads are pages of the stack's pool, and an empty pool is error::no_buffers", "[socket][tcp]") {
  host<2> h;
  auto l = h.stack.tcp_listen(0);
  REQUIRE(l.ok());
  std::size_t first_size = 0, second_size = 0;
  bool in_pool = false;
  error starved = error::none;
  auto main = [&]() -> task<void> {
    auto client = co_await h.stack.tcp_connect(l->local(), std::chrono::seconds(2));
    auto c = co_await l->accept();
    if (!client || !c) co_return;
    const auto bytes = pattern(10000);
    if (!co_await client->write(view::unowned(std::span<const std::uint8_t>(bytes)))) co_return;
    co_await h.sched.sleep_for(std::chrono::milliseconds(20));  // all of it in the kernel's queue
    auto first = co_await c->read();
    auto second = co_await c->read();
    if (!first || !second) co_return;
    first_size = first->size();
    second_size = second->size();
    in_pool = first->page() && first->page()->pool == h.pool.get();
    auto third = co_await c->read();  // both pages are held
    starved = third ? error::none : third.err();
  };
  REQUIRE(h.go(main()).ok());
  CHECK(first_size == page_size);
  CHECK(second_size == page_size);
  CHECK(in_pool);
  CHECK(starved == error::no_buffers);
  CHECK(h.pool->statistics().in_use == 0);
}

TEST_CASE("tcp: a port already listened on is error::in_use, and a closed listener stops listening", "[socket][tcp]") {
  host h;
  auto l = h.stack.tcp_listen(0);
  REQUIRE(l.ok());
  const endpoint ep = l->local();
  auto again = h.stack.tcp_listen(ep.port);
  REQUIRE(!again.ok());
  CHECK(again.err() == error::in_use);

  l->close();
  error refused = error::none;
  error accept_after_close = error::none;
  auto main = [&]() -> task<void> {
    auto c = co_await h.stack.tcp_connect(ep, std::chrono::seconds(2));
    refused = c ? error::none : c.err();
    auto a = co_await l->accept();
    accept_after_close = a ? error::none : a.err();
  };
  REQUIRE(h.go(main()).ok());
  CHECK(refused == error::refused);
  CHECK(accept_after_close == error::closed);
}

TEST_CASE("tcp: closing the listener wakes a coroutine waiting in accept() with error::closed", "[socket][tcp]") {
  host h;
  auto l = h.stack.tcp_listen(0);
  REQUIRE(l.ok());
  error woke = error::none;
  auto main = [&]() -> task<void> {
    auto waiting_body = [&]() -> task<void> {  // named: a coroutine lambda's captures live in the lambda
      auto a = co_await l->accept();
      woke = a ? error::none : a.err();
    };
    auto waiting = spawn(h.sched, waiting_body());
    co_await h.sched.sleep_for(std::chrono::milliseconds(10));
    l->close();
    (void)co_await waiting.join();
  };
  REQUIRE(h.go(main()).ok());
  CHECK(woke == error::closed);
}

TEST_CASE("tcp: a connection whose SYN goes unanswered fails with error::timed_out at its deadline", "[socket][tcp]") {
  host h;
  full_backlog peer;
  REQUIRE(peer.port != 0);
  const endpoint ep{loopback, peer.port};
  result<void> filler_ok = fail(error::io);
  error second = error::none;
  duration waited{};
  auto main = [&]() -> task<void> {
    // The first connection fills the accept queue (backlog 0 holds one).
    auto filler = co_await h.stack.tcp_connect(ep, std::chrono::seconds(2));
    if (!filler) co_return;
    filler_ok = {};
    co_await h.sched.sleep_for(std::chrono::milliseconds(20));
    const time_point start = h.clock.now();
    auto c = co_await h.stack.tcp_connect(ep, std::chrono::milliseconds(300));
    waited = h.clock.now() - start;
    second = c ? error::none : c.err();
  };
  REQUIRE(h.go(main()).ok());
  REQUIRE(filler_ok.ok());
  CHECK(second == error::timed_out);
  CHECK(waited >= std::chrono::milliseconds(300));
  CHECK(waited < std::chrono::milliseconds(900));  // Linux resends the SYN only after 1 s
}

TEST_CASE("tcp: write waits while the peer does not read, and completes when it does", "[socket][tcp]") {
  host h;
  auto l = h.stack.tcp_listen(0);
  REQUIRE(l.ok());
  const auto big = pattern(32 * 1024 * 1024, 5);  // far beyond both kernels' buffers
  bool done_while_unread = true;
  result<void> wrote = fail(error::io);
  drained got;
  auto main = [&]() -> task<void> {
    auto client = co_await h.stack.tcp_connect(l->local(), std::chrono::seconds(2));
    auto server = co_await l->accept();
    if (!client || !server) co_return;
    auto writer_body = [&]() -> task<void> {  // named: a coroutine lambda's captures live in the lambda
      wrote = co_await client->write(view::unowned(std::span<const std::uint8_t>(big)));
      (void)client->shutdown();
    };
    auto writer = spawn(h.sched, writer_body());
    co_await h.sched.sleep_for(std::chrono::milliseconds(300));
    done_while_unread = writer.done();
    got = co_await read_all(*server);
    (void)co_await writer.join();
  };
  REQUIRE(h.go(main()).ok());
  CHECK_FALSE(done_while_unread);
  CHECK(wrote.ok());
  CHECK(got.eof);
  CHECK(got.bytes.size() == big.size());
  CHECK((got.bytes == big));  // compared as a bool: Catch would print 32 MB
  CHECK(h.pool->statistics().in_use == 0);
}

TEST_CASE("tcp: abort sends RST: the peer's read fails with error::reset", "[socket][tcp]") {
  host h;
  auto l = h.stack.tcp_listen(0);
  REQUIRE(l.ok());
  error peer_read = error::none, after_abort_read = error::none, after_abort_write = error::none;
  auto main = [&]() -> task<void> {
    auto client = co_await h.stack.tcp_connect(l->local(), std::chrono::seconds(2));
    auto server = co_await l->accept();
    if (!client || !server) co_return;
    client->abort();
    auto r = co_await server->read();
    peer_read = r ? (r->empty() ? error::closed : error::none) : r.err();
    auto again = co_await client->read();
    after_abort_read = again ? error::none : again.err();
    auto w = co_await client->write(view{});
    after_abort_write = w ? error::none : w.err();
  };
  REQUIRE(h.go(main()).ok());
  CHECK(peer_read == error::reset);
  CHECK(after_abort_read == error::closed);
  CHECK(after_abort_write == error::closed);
}

// SO_KEEPALIVE of this process's socket bound to `port` (-1 if none is).
int keepalive_of_socket_on(std::uint16_t port) {
  for (int fd = 0; fd < 1024; ++fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 || a.sin_family != AF_INET) continue;
    if (ntohs(a.sin_port) != port) continue;
    int on = 0;
    len = sizeof on;
    if (::getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &len) == 0) return on;
  }
  return -1;
}

TEST_CASE("tcp: set_keepalive turns the kernel's keep-alive probes on and off", "[socket][tcp]") {
  host h;
  auto l = h.stack.tcp_listen(0);
  REQUIRE(l.ok());
  int initially = -1, switched_on = -1, switched_off = -1;
  auto main = [&]() -> task<void> {
    auto client = co_await h.stack.tcp_connect(l->local(), std::chrono::seconds(2));
    if (!client) co_return;
    const std::uint16_t port = client->local().port;
    initially = keepalive_of_socket_on(port);
    client->set_keepalive(true);
    switched_on = keepalive_of_socket_on(port);
    client->set_keepalive(false);
    switched_off = keepalive_of_socket_on(port);
  };
  REQUIRE(h.go(main()).ok());
  CHECK(initially == 0);
  CHECK(switched_on == 1);
  CHECK(switched_off == 0);
}

TEST_CASE("tcp: close wakes a reader of the same connection with error::closed and the peer sees a FIN", "[socket][tcp]") {
  host h;
  auto l = h.stack.tcp_listen(0);
  REQUIRE(l.ok());
  error reader = error::none;
  drained peer;
  auto main = [&]() -> task<void> {
    auto client = co_await h.stack.tcp_connect(l->local(), std::chrono::seconds(2));
    auto server = co_await l->accept();
    if (!client || !server) co_return;
    client->set_nodelay(true);
    auto waiting_body = [&]() -> task<void> {  // named: a coroutine lambda's captures live in the lambda
      auto r = co_await client->read();
      reader = r ? error::none : r.err();
    };
    auto waiting = spawn(h.sched, waiting_body());
    co_await h.sched.sleep_for(std::chrono::milliseconds(10));
    client->close();
    (void)co_await waiting.join();
    peer = co_await read_all(*server);
  };
  REQUIRE(h.go(main()).ok());
  CHECK(reader == error::closed);
  CHECK(peer.eof);
  CHECK(peer.bytes.empty());
}

TEST_CASE("tcp: a moved-from stream is closed, the moved-to one carries the connection", "[socket][tcp]") {
  host h;
  auto l = h.stack.tcp_listen(0);
  REQUIRE(l.ok());
  error old_handle = error::none;
  drained got;
  endpoint remote;
  auto main = [&]() -> task<void> {
    auto client = co_await h.stack.tcp_connect(l->local(), std::chrono::seconds(2));
    auto server = co_await l->accept();
    if (!client || !server) co_return;
    tcp_stream moved = std::move(*client);
    remote = moved.remote();
    auto w = co_await client->write(view{});
    old_handle = w ? error::none : w.err();
    const auto bytes = pattern(100);
    (void)co_await moved.write(view::unowned(std::span<const std::uint8_t>(bytes)));
    moved.close();
    got = co_await read_all(*server);
  };
  REQUIRE(h.go(main()).ok());
  CHECK(old_handle == error::closed);
  CHECK(remote == l->local());
  CHECK((got.bytes == pattern(100)));
  CHECK(got.eof);
}

TEST_CASE("tcp: a reader that always has bytes ready still lets other tasks run", "[socket][tcp]") {
  host h;
  auto l = h.stack.tcp_listen(0);
  REQUIRE(l.ok());
  const auto bytes = pattern(256 * 1024);
  std::size_t pages_read = 0, longest_run = 0;
  auto main = [&]() -> task<void> {
    auto client = co_await h.stack.tcp_connect(l->local(), std::chrono::seconds(2));
    auto server = co_await l->accept();
    if (!client || !server) co_return;
    auto writer_body = [&]() -> task<void> {  // named: a coroutine lambda's captures live in the lambda
      (void)co_await client->write(view::unowned(std::span<const std::uint8_t>(bytes)));
      client->close();
    };
    auto writer = spawn(h.sched, writer_body());
    co_await h.sched.sleep_for(std::chrono::milliseconds(50));  // the kernel queues what it can
    std::uint64_t ticks = 0;
    bool stop = false;
    auto ticker_body = [&]() -> task<void> {
      while (!stop) {
        ++ticks;
        co_await h.sched.yield();
      }
    };
    auto ticker = spawn(h.sched, ticker_body());
    // Reads in a row that the ticker did not interleave with.
    std::uint64_t seen = ticks;
    std::size_t run = 0;
    while (true) {
      auto d = co_await server->read();
      if (!d || d->empty()) break;
      ++pages_read;
      run = ticks == seen ? run + 1 : 1;
      seen = ticks;
      longest_run = std::max(longest_run, run);
    }
    stop = true;
    (void)co_await ticker.join();
    (void)co_await writer.join();
  };
  REQUIRE(h.go(main()).ok());
  CHECK(pages_read >= bytes.size() / page_size);
  CHECK(longest_run >= 2);
  CHECK(longest_run <= 16);
}
