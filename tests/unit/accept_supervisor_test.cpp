// The bounded accept supervisor (uni/net/accept_supervisor.hpp) over host
// sockets: a task per connection up to the bound; at the bound it waits, or
// refuses (after offering an eviction); stopping it cancels the connections.
// (Catch's REQUIRE throws, which a coroutine must not: the coroutines return 1.)
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <vector>

#include <uni/net/accept_supervisor.hpp>

#include "socket_host.hpp"

using namespace uni;
using namespace std::chrono_literals;
using test::loopback;
using test::socket_host;
using stream = posix::SocketStack::tcp_stream;

namespace {

// Holds a connection until the peer closes it.
task<void> hold(stream c, std::size_t& ended) {
  while (true) {
    auto d = co_await c.read();
    if (!d || d->empty()) break;
  }
  ++ended;
}

// The supervisor's loop awaited by a task of its own, as a service's task awaits
// it: cancelling the task stops it.
template <class Sup, class L, class... A>
task<void> run_loop(Sup& sup, L& l, A... a) {
  co_await sup.run(l, std::move(a)...);
}

// How the client's side ends: true if the server closed or reset it.
task<bool> closed_by_server(socket_host<>& h, stream& c) {
  auto d = co_await with_timeout(h.sched, 200ms, c.read());
  co_return (d && d->empty()) || (!d && d.err() != error::timed_out);
}

// A listener on the host's stack, the supervisor's counters, and how many of its
// connections' tasks ended.
struct supervised {
  socket_host<> h;
  decltype(h.stack.tcp_listen(0)) l = h.stack.tcp_listen(0);
  accept_counters n;
  std::size_t ended = 0;
  supervised() { REQUIRE(l.ok()); }
};

}  // namespace

TEST_CASE_METHOD(supervised, "accept supervisor: at the bound with when_full::refuse, a new connection is reset and counted",
          "[socket][accept]") {
  auto main = [&]() -> task<int> {
    std::optional<accept_supervisor<>> sup(std::in_place, h.sched, "test", 2, when_full::refuse, n);
    auto running = spawn(h.sched, run_loop(*sup, *l, [&](stream c, no_info&) { return hold(std::move(c), ended); }));
    std::vector<stream> clients;
    for (int i = 0; i < 3; ++i) {
      auto c = co_await h.stack.tcp_connect(l->local(), 1s);
      if (!c) co_return 1;
      clients.push_back(std::move(*c));
      co_await h.sched.sleep_for(20ms);
    }
    CHECK(n.accepted == 3);
    CHECK(n.refused == 1);
    const bool third_reset = co_await closed_by_server(h, clients[2]);
    CHECK(third_reset);
    const bool first_closed = co_await closed_by_server(h, clients[0]);
    CHECK_FALSE(first_closed);

    clients[0].close();  // its task ends: room for one more
    co_await h.sched.sleep_for(20ms);
    CHECK(ended == 1);
    auto c = co_await h.stack.tcp_connect(l->local(), 1s);
    if (!c) co_return 1;
    co_await h.sched.sleep_for(20ms);
    CHECK(n.accepted == 4);
    CHECK(n.refused == 1);
    const bool fourth_closed = co_await closed_by_server(h, *c);
    CHECK_FALSE(fourth_closed);

    // Stopping the supervisor cancels its connections: their streams close.
    running = {};
    sup.reset();
    const bool second_closed = co_await closed_by_server(h, clients[1]);
    CHECK(second_closed);
    const bool fourth_closed_now = co_await closed_by_server(h, *c);
    CHECK(fourth_closed_now);
    CHECK(ended == 1);  // cancelled, not ended by their peers
    co_return 0;
  };
  h.go_to_zero(main());
}

TEST_CASE_METHOD(supervised, "accept supervisor: at the bound with when_full::wait, the next connection waits in the backlog",
          "[socket][accept]") {
  auto main = [&]() -> task<int> {
    accept_supervisor<> sup(h.sched, "test", 1, when_full::wait, n);
    auto running = spawn(h.sched, run_loop(sup, *l, [&](stream c, no_info&) { return hold(std::move(c), ended); }));
    auto first = co_await h.stack.tcp_connect(l->local(), 1s);
    auto second = co_await h.stack.tcp_connect(l->local(), 1s);  // the kernel completes the handshake
    if (!first || !second) co_return 1;
    co_await h.sched.sleep_for(50ms);
    CHECK(n.accepted == 1);
    const bool waiting_closed = co_await closed_by_server(h, *second);
    CHECK_FALSE(waiting_closed);
    first->close();
    co_await h.sched.sleep_for(50ms);
    CHECK(n.accepted == 2);
    CHECK(n.refused == 0);
    co_return 0;
  };
  h.go_to_zero(main());
}

TEST_CASE_METHOD(supervised, "accept supervisor: at the bound, the child the service names is evicted for the new connection",
          "[socket][accept]") {
  using sup_type = accept_supervisor<int>;
  auto main = [&]() -> task<int> {
    sup_type sup(h.sched, "test", 1, when_full::refuse, n);
    int next = 0;
    auto start = [&](stream c, int& info) {
      info = ++next;
      return hold(std::move(c), ended);
    };
    auto oldest = [](std::span<sup_type::child> children) { return &children[0]; };
    auto running = spawn(h.sched, run_loop(sup, *l, start, oldest));
    auto first = co_await h.stack.tcp_connect(l->local(), 1s);
    if (!first) co_return 1;
    co_await h.sched.sleep_for(20ms);
    auto second = co_await h.stack.tcp_connect(l->local(), 1s);
    if (!second) co_return 1;
    co_await h.sched.sleep_for(20ms);
    CHECK(n.evicted == 1);
    CHECK(n.refused == 0);
    CHECK(sup.children()[0].info == 2);  // the slot is the new connection's
    const bool first_evicted = co_await closed_by_server(h, *first);
    CHECK(first_evicted);
    const bool second_closed = co_await closed_by_server(h, *second);
    CHECK_FALSE(second_closed);
    co_return 0;
  };
  h.go_to_zero(main());
}

TEST_CASE_METHOD(supervised, "accept supervisor: a periodic duty runs every interval, while accepting and at the bound",
          "[socket][accept]") {
  auto main = [&]() -> task<int> {
    accept_supervisor<> sup(h.sched, "test", 1, when_full::wait, n);
    std::vector<time_point> ran;
    const time_point started = h.sched.now();
    auto running = spawn(h.sched, run_loop(sup, *l, [&](stream c, no_info&) { return hold(std::move(c), ended); }, evict_none{},
                                          periodic_duty{40ms, [&] { ran.push_back(h.sched.now()); }}));
    co_await h.sched.sleep_for(100ms);  // waiting in accept()
    CHECK(ran.size() >= 1);
    auto c = co_await h.stack.tcp_connect(l->local(), 1s);
    if (!c) co_return 1;
    co_await h.sched.sleep_for(20ms);
    CHECK(n.accepted == 1);
    const std::size_t before = ran.size();
    co_await h.sched.sleep_for(130ms);  // at the bound: waiting for the connection to end
    CHECK(ran.size() >= before + 1);
    time_point last = started;
    for (time_point t : ran) {  // never sooner than the interval after the last
      CHECK(t - last >= 40ms);
      last = t;
    }
    c->close();
    co_await h.sched.sleep_for(20ms);
    CHECK(ended == 1);
    co_return 0;
  };
  h.go_to_zero(main());
}

TEST_CASE_METHOD(supervised, "accept supervisor: closing the listener ends the loop, and the task awaiting it goes on",
          "[socket][accept]") {
  auto main = [&]() -> task<int> {
    accept_supervisor<> sup(h.sched, "test", 1, when_full::wait, n);
    auto running = spawn(h.sched, run_loop(sup, *l, [&](stream c, no_info&) { return hold(std::move(c), ended); }));
    co_await h.sched.sleep_for(20ms);  // waiting in accept()
    CHECK_FALSE(running.done());
    l->close();
    co_await h.sched.sleep_for(20ms);
    CHECK(running.done());
    CHECK(n.accept_errors == 0);
    co_return 0;
  };
  h.go_to_zero(main());
}
