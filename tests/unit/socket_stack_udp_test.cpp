// SocketStack's UDP against the host kernel over 127.0.0.1: datagrams cross in
// batches (recvmmsg, sendmmsg), and a plain kernel socket on the other side
// judges what arrives. Coroutines hand their findings out; the assertions run
// outside them (Catch's REQUIRE throws, which a coroutine must not).
#include <catch2/catch.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include <uni/core/run.hpp>
#include <uni/core/task.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/socket_stack.hpp>

#include "socket_host.hpp"

using namespace uni;
using posix::SocketStack;
using udp_socket = SocketStack::udp_socket;

namespace {
using test::loopback;
template <std::size_t Pages = 128>
using host = test::socket_host<Pages>;

// A kernel UDP socket on 127.0.0.1, the stack's peer.
struct peer {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  std::uint16_t port = 0;
  peer() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~peer() { ::close(fd); }
  void send(std::uint16_t to, const std::vector<std::uint8_t>& bytes) const {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(to);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  // Every datagram queued for it now.
  std::vector<std::vector<std::uint8_t>> drain() const {
    std::vector<std::vector<std::uint8_t>> got;
    std::uint8_t buf[2048];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) >= 0) got.emplace_back(buf, buf + n);
    return got;
  }
};

std::vector<std::uint8_t> numbered(std::size_t i) {
  std::vector<std::uint8_t> v(10 + i % 50, static_cast<std::uint8_t>(i));
  v[0] = static_cast<std::uint8_t>(i >> 8);
  return v;
}

view page_with(page_pool& pool, const std::vector<std::uint8_t>& bytes) {
  view v = *pool.allocate();
  std::memcpy(v.data(), bytes.data(), bytes.size());
  return v.head(bytes.size());
}

struct received {
  std::vector<std::vector<std::uint8_t>> payloads;
  std::vector<endpoint> sources;
  error err = error::none;
};

task<received> receive_n(udp_socket& s, std::size_t n) {
  received r;
  while (r.payloads.size() < n) {
    auto d = s.try_receive();
    if (!d && d.err() == error::would_block) d = co_await s.receive();
    if (!d) {
      r.err = d.err();
      break;
    }
    std::vector<std::uint8_t> bytes(d->payload.length());
    d->payload.copy_to(bytes);
    r.payloads.push_back(std::move(bytes));
    r.sources.push_back(d->source);
  }
  co_return r;
}
// A socket bound on the host's stack, and a kernel socket as its peer.
template <std::size_t Pages = 128>
struct bound {
  host<Pages> h;
  decltype(h.stack.udp_bind(0)) s = h.stack.udp_bind(0);
  peer p;
  bound() { REQUIRE(s.ok()); }
};
}  // namespace

TEST_CASE_METHOD(bound<>, "SocketStack UDP: a burst is read in batches, in order, each datagram in a page of its own", "[socket][udp]") {
  constexpr std::size_t n = 3 * udp_socket::batch + 5;  // several recvmmsg calls and a partial one
  for (std::size_t i = 0; i < n; ++i) p.send(s->local().port, numbered(i));
  auto r = h.go(receive_n(*s, n));
  REQUIRE(r.ok());
  CHECK(r->err == error::none);
  REQUIRE(r->payloads.size() == n);
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(r->payloads[i] == numbered(i));
    CHECK(r->sources[i] == endpoint{loopback, p.port});
  }
  CHECK(h.pool->available() == 128);  // every page back: none is held by the batch once taken
}

TEST_CASE_METHOD(bound<>, "SocketStack UDP: a datagram past a page arrives whole, in several pages, between small ones",
                 "[socket][udp]") {
  std::vector<std::uint8_t> big(40000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7 + i / 4096);
  const std::vector<std::uint8_t> page_and_one(page_size + 1, 0x5a);
  p.send(s->local().port, numbered(1));
  p.send(s->local().port, big);
  p.send(s->local().port, page_and_one);
  p.send(s->local().port, numbered(2));
  auto r = h.go(receive_n(*s, 4));
  REQUIRE(r.ok());
  REQUIRE(r->payloads.size() == 4);
  CHECK(r->payloads[0] == numbered(1));
  CHECK(r->payloads[1] == big);
  CHECK(r->payloads[2] == page_and_one);
  CHECK(r->payloads[3] == numbered(2));
  CHECK(h.pool->available() == 128);
}

TEST_CASE_METHOD(bound<>, "SocketStack UDP: a datagram longer than a slot holds is dropped and counted, not handed on cut",
                 "[socket][udp]") {
  const std::vector<std::uint8_t> too_big(60000, 0x33);  // past a page and its spill (48 KiB)
  p.send(s->local().port, too_big);
  p.send(s->local().port, numbered(3));
  auto r = h.go(receive_n(*s, 1));
  REQUIRE(r.ok());
  REQUIRE(r->payloads.size() == 1);
  CHECK(r->payloads[0] == numbered(3));
  CHECK(s->receive_drops() == 1);
  CHECK(h.pool->available() == 128);
}

TEST_CASE_METHOD(bound<4>, "SocketStack UDP: with fewer free pages than a batch, recvmmsg reads as many as there are pages",
          "[socket][udp]") {
  for (std::size_t i = 0; i < 10; ++i) p.send(s->local().port, numbered(i));
  auto r = h.go(receive_n(*s, 10));
  REQUIRE(r.ok());
  REQUIRE(r->payloads.size() == 10);
  for (std::size_t i = 0; i < 10; ++i) CHECK(r->payloads[i] == numbered(i));

  // No free page at all: no_buffers, and the datagram waits in the kernel.
  p.send(s->local().port, numbered(77));
  std::vector<view> held;
  while (auto v = h.pool->allocate()) held.push_back(std::move(*v));
  CHECK(s->try_receive().err() == error::no_buffers);
  held.clear();
  auto again = h.go(receive_n(*s, 1));
  REQUIRE(again.ok());
  REQUIRE(again->payloads.size() == 1);
  CHECK(again->payloads[0] == numbered(77));
}

TEST_CASE_METHOD(bound<>, "SocketStack UDP: sends are gathered, leave by sendmmsg when the batch fills or the loop polls",
          "[socket][udp]") {
  constexpr std::size_t n = udp_socket::batch + 8;
  auto send_all = [&]() -> task<int> {
    for (std::size_t i = 0; i < n; ++i) {
      // A header view and a payload view: the kernel gathers them into one datagram.
      const auto bytes = numbered(i);
      const std::vector<std::uint8_t> head(bytes.begin(), bytes.begin() + 3);
      const std::vector<std::uint8_t> tail(bytes.begin() + 3, bytes.end());
      const view frags[2] = {page_with(*h.pool, head), page_with(*h.pool, tail)};
      if (!s->try_send_to({loopback, p.port}, frags)) co_return 1;
      if (i == udp_socket::batch) {
        // The full batch went when the 33rd datagram came; the 33rd waits for the loop.
        if (p.drain().size() != udp_socket::batch) co_return 2;
      }
    }
    co_return 0;
  };
  h.go_to_zero(send_all());
  // The loop polled before run() returned: the rest are out too.
  const auto got = p.drain();
  REQUIRE(got.size() == n - udp_socket::batch);
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == numbered(udp_socket::batch + i));
  CHECK(h.pool->available() == 128);  // sent views released
  CHECK(s->send_failures() == 0);
}

TEST_CASE_METHOD(bound<>, "SocketStack UDP: a datagram the kernel refuses is dropped and counted, the rest of the batch goes",
          "[socket][udp]") {
  auto send_three = [&]() -> task<int> {
    int refused = 0;
    for (std::uint16_t port : {p.port, std::uint16_t{0}, p.port}) {  // port 0: Linux says EINVAL
      if (!s->try_send_to({loopback, port}, page_with(*h.pool, numbered(port)))) ++refused;
    }
    co_return refused;
  };
  h.go_to_zero(send_three());  // queued: the refusal comes at sendmmsg
  CHECK(p.drain().size() == 2);
  CHECK(s->send_failures() == 1);
  CHECK(h.pool->available() == 128);

  // More than a datagram holds is refused at once, not queued.
  std::vector<view> pages;
  for (std::size_t i = 0; i < udp_socket::max_fragments; ++i) pages.push_back(*h.pool->allocate());
  CHECK(s->try_send_to({loopback, p.port}, pages).err() == error::too_large);
  CHECK(s->send_failures() == 2);  // refused by the call counts too

  // close() unbinds now: the port is free again before the handle is dropped.
  const std::uint16_t port = s->local().port;
  s->close();
  CHECK(s->local() == endpoint{});
  CHECK(h.stack.udp_bind(port).ok());
}

TEST_CASE("PosixClock: a busy-polling wait runs I/O that arrives while it polls, and ends at its deadline",
          "[posix][clock]") {
  using namespace std::chrono_literals;
  boost::asio::io_context io;
  posix::PosixClock clock{io};
  clock.set_busy_poll(5s);
  bool ran = false;
  std::thread poster([&] {
    std::this_thread::sleep_for(20ms);
    boost::asio::post(io, [&] { ran = true; });
  });
  clock.wait_until(clock.now() + 10s);
  poster.join();
  CHECK(ran);
  // Nothing arrives: the deadline ends the wait, not the (longer) busy-poll time.
  const time_point start = clock.now();
  clock.wait_until(start + 30ms);
  CHECK(clock.now() >= start + 30ms);
  CHECK(clock.now() < start + 4s);
}
