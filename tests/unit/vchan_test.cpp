// vchan (uni/vchan/ring.hpp, uni/vchan/channel.hpp): the shared page against
// libxenvchan's own header, the ring arithmetic against a model (a deque) with
// the free-running indices wrapping, a hostile peer's indices, and a server and
// a client channel over one page moving bytes both ways.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <deque>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include <uni/core/random.hpp>
#include <uni/core/run.hpp>
#include <uni/sim/manual_clock.hpp>
#include <uni/vchan/channel.hpp>

#include <xen/io/libxenvchan.h>

using namespace uni;
using namespace uni::vchan;

static_assert(sizeof(shared_header) == sizeof(vchan_interface));
static_assert(offsetof(shared_header, right) == offsetof(vchan_interface, right));
static_assert(offsetof(shared_header, right_order) == offsetof(vchan_interface, right_order));
static_assert(offsetof(shared_header, srv_live) == offsetof(vchan_interface, srv_live));
static_assert(offsetof(shared_header, cli_notify) == offsetof(vchan_interface, cli_notify));
static_assert(grants_offset == offsetof(vchan_interface, grants));
static_assert(notify_write == VCHAN_NOTIFY_WRITE && notify_read == VCHAN_NOTIFY_READ);

namespace {

struct alignas(4096) page {
  std::uint8_t bytes[4096] = {};
};

// A shared page and the rings' own pages, as a server lays them out.
struct layout {
  std::vector<std::unique_ptr<page>> pages;  // [0] is the shared page
  std::vector<std::uint8_t*> left_chunks, right_chunks;
  unsigned left_order, right_order;

  layout(unsigned l, unsigned r) : left_order(l), right_order(r) {
    pages.push_back(std::make_unique<page>());
    initialise(header(), l, r);
    place(l, left_chunks);
    place(r, right_chunks);
  }
  shared_header& header() { return *reinterpret_cast<shared_header*>(pages[0]->bytes); }
  void place(unsigned order, std::vector<std::uint8_t*>& chunks) {
    if (order < 12) {
      chunks.push_back(pages[0]->bytes + in_page_offset(order));
      return;
    }
    for (std::size_t i = 0; i < pages_of(order); ++i) {
      pages.push_back(std::make_unique<page>());
      chunks.push_back(pages.back()->bytes);
    }
  }
  // The client's producer and the server's consumer of `left`, and so on.
  ring left(bool producer) { return ring(header().left, left_chunks, left_order, producer); }
  ring right(bool producer) { return ring(header().right, right_chunks, right_order, producer); }
};

}  // namespace

TEST_CASE("orders: 10 and 11 in the page, 12 and up in pages of their own, grants before the rings", "[vchan]") {
  CHECK(in_page_offset(10) == 1024);
  CHECK(in_page_offset(11) == 2048);
  CHECK(pages_of(12) == 1);
  CHECK(pages_of(16) == 16);
  CHECK(check_orders(10, 11).ok());
  CHECK(check_orders(11, 10).ok());
  CHECK(check_orders(12, 12).ok());
  CHECK(check_orders(11, 20).ok());   // 256 grants end before 2048
  CHECK(check_orders(20, 20).ok());   // 512 grants fit the page
  CHECK(check_orders(10, 20).err() == error::malformed);  // 256 grants run into the ring at 1024
  CHECK(check_orders(10, 10).err() == error::malformed);  // one place for two rings
  CHECK(check_orders(11, 11).err() == error::malformed);
  CHECK(check_orders(9, 12).err() == error::malformed);
  CHECK(check_orders(12, 21).err() == error::malformed);
}

TEST_CASE("a ring moves the bytes a model queue does, across index wrap-around", "[vchan]") {
  for (unsigned order : {10u, 11u, 13u, 16u}) {
    layout l(order == 10 ? 10 : order, order == 10 ? 11 : 10);
    // Start both indices just short of 2^32: the run crosses the wrap many times over.
    l.header().left = {0xffffff00u, 0xffffff00u};
    ring producer = l.left(true), consumer = l.left(false);
    std::deque<std::uint8_t> model;
    random_generator rng(order);
    std::uint8_t next = 0;
    std::vector<std::uint8_t> buf(3 * (std::size_t{1} << order));
    std::uint64_t moved = 0;
    for (int step = 0; step < 4000; ++step) {
      const std::size_t want = rng.below(buf.size());
      if (rng.chance(500'000)) {
        for (std::size_t i = 0; i < want; ++i) buf[i] = static_cast<std::uint8_t>(next + i);
        auto n = producer.write({buf.data(), want});
        REQUIRE(n.ok());
        CHECK(*n == std::min<std::size_t>(want, producer.size() - model.size()));
        for (std::size_t i = 0; i < *n; ++i) model.push_back(static_cast<std::uint8_t>(next++));
      } else {
        auto n = consumer.read({buf.data(), want});
        REQUIRE(n.ok());
        REQUIRE(*n == std::min(want, model.size()));
        const std::vector<std::uint8_t> want(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(*n));
        REQUIRE(std::equal(want.begin(), want.end(), buf.begin()));
        model.erase(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(*n));
        moved += *n;
      }
      REQUIRE(*consumer.readable() == model.size());
      REQUIRE(*producer.writable() == producer.size() - model.size());
    }
    CHECK(moved > 4 * producer.size());
    CHECK(l.header().left.prod < 0xffffff00u);  // wrapped past 2^32
    CHECK(static_cast<std::uint32_t>(l.header().left.prod - 0xffffff00u) == moved + model.size());
  }
}

TEST_CASE("a peer's producer past the ring, or consumer ahead of ours, breaks the ring", "[vchan]") {
  layout l(10, 11);
  ring server_in = l.left(false), server_out = l.right(true);
  l.header().left.prod = 1025;  // more than the 1024 bytes the ring holds
  CHECK(server_in.readable().err() == error::malformed);
  std::uint8_t b[8];
  CHECK(server_in.read(b).err() == error::malformed);
  CHECK(server_in.index() == 0);  // nothing consumed
  l.header().left.prod = 0xfffffff0u;  // behind our consumer
  CHECK(server_in.readable().err() == error::malformed);
  l.header().left.prod = 1024;  // exactly full is fine
  CHECK(*server_in.readable() == 1024);

  l.header().right.cons = 1;  // the client consumed a byte we never wrote
  CHECK(server_out.writable().err() == error::malformed);
  CHECK(server_out.write(b).err() == error::malformed);
  CHECK(l.header().right.prod == 0);
  l.header().right.cons = 0;
  CHECK(*server_out.writable() == 2048);
}

namespace {

struct wake;
using test_channel = channel<wake>;
struct wake {
  test_channel* peer = nullptr;
  void operator()() noexcept;
};
void wake::operator()() noexcept {
  if (peer) peer->on_event();
}

// Writes `total` bytes of a pattern seeded by `seed` in uneven pieces.
task<result<void>> send_pattern(page_pool& pool, test_channel& c, std::size_t total, std::uint8_t seed) {
  std::size_t sent = 0;
  random_generator rng(seed);
  while (sent < total) {
    auto p = pool.allocate();
    if (!p) co_return fail(p.err());
    const std::size_t n = std::min<std::size_t>(total - sent, 1 + rng.below(page_size));
    p->truncate(n);
    for (std::size_t i = 0; i < n; ++i) (*p)[i] = static_cast<std::uint8_t>(seed + sent + i);
    if (auto r = co_await c.write(*p); !r) co_return r;
    sent += n;
  }
  co_return result<void>{};
}

// Reads `total` bytes (or to the end), checking the pattern; returns the byte count.
task<result<std::size_t>> receive_pattern(test_channel& c, std::uint8_t seed, std::size_t total) {
  std::size_t got = 0;
  while (got < total) {
    auto v = co_await c.read();
    if (!v) co_return fail(v.err());
    if (v->empty()) break;
    for (std::size_t i = 0; i < v->size(); ++i)
      if ((*v)[i] != static_cast<std::uint8_t>(seed + got + i)) co_return fail(error::corrupt);
    got += v->size();
  }
  co_return got;
}

// A server channel on in-page rings (orders 10 and 11) whose peer is the test
// itself, writing the shared page by hand; `Pages` I/O pages for what it reads.
template <std::size_t Pages>
struct lone_server {
  scheduler s;
  sim::ManualClock clock;
  static_page_pool<Pages> pool;
  layout l{10, 11};
  test_channel server{s, pool};
  lone_server() { server.attach(control(l.header(), role::server), l.left(false), l.right(true), wake{}); }
};

}  // namespace

TEST_CASE("a server and a client channel move bytes both ways and end when the peer closes", "[vchan]") {
  for (auto [lo, ro] : {std::pair{10u, 11u}, std::pair{13u, 12u}, std::pair{16u, 16u}}) {
    scheduler s;
    sim::ManualClock clock;
    static_page_pool<64> pool;
    layout l(lo, ro);
    test_channel server(s, pool), client(s, pool);
    server.attach(control(l.header(), role::server), l.left(false), l.right(true), wake{&client});
    CHECK(l.header().cli_live == live_not_yet);
    client.attach(control(l.header(), role::client), l.right(false), l.left(true), wake{&server});
    constexpr std::size_t total = 200'000;
    auto main = [&]() -> task<void> {
      REQUIRE((co_await server.wait_for_peer(std::chrono::seconds(1))).ok());
      auto up = spawn(s, send_pattern(pool, client, total, 7));
      auto down = spawn(s, send_pattern(pool, server, total, 99));
      auto at_server = spawn(s, receive_pattern(server, 7, total));
      auto at_client = spawn(s, receive_pattern(client, 99, total));
      CHECK((co_await up.join()).ok());
      CHECK((co_await down.join()).ok());
      auto a = co_await at_server.join();
      auto b = co_await at_client.join();
      REQUIRE(a.ok());
      REQUIRE(b.ok());
      CHECK(*a == total);
      CHECK(*b == total);
      // The client goes: what it wrote last is still read, then the end.
      auto last = spawn(s, send_pattern(pool, client, 100, 1));
      CHECK((co_await last.join()).ok());
      client.close();
      auto rest = co_await receive_pattern(server, 1, 1000);
      REQUIRE(rest.ok());
      CHECK(*rest == 100);
      auto end = co_await server.read();
      CHECK((end.ok() && end->empty()));
      // ...and a write to a peer gone fails.
      static const std::uint8_t byte[1] = {1};
      CHECK((co_await server.write(view::unowned(std::span<const std::uint8_t>(byte)))).err() == error::closed);
      server.close();
    };
    REQUIRE(run(s, clock, main()).ok());
    CHECK(l.header().cli_live == live_gone);
    CHECK(l.header().srv_live == live_gone);
    CHECK(server.statistics().bytes_in == total + 100);
    CHECK(pool.available() == 64);
  }
}

TEST_CASE("a channel whose peer breaks the ring closes itself and says why", "[vchan]") {
  lone_server<4> f;
  auto& [s, clock, pool, l, server] = f;
  l.header().cli_live = live_connected;
  l.header().left.prod = 5000;
  auto main = [&]() -> task<void> {
    auto r = co_await server.read();
    CHECK(r.err() == error::malformed);
    CHECK(!server.open());
    CHECK(server.failure() == error::malformed);
    CHECK(l.header().srv_live == live_gone);
    static const std::uint8_t byte[1] = {1};
    auto w = co_await server.write(view::unowned(std::span<const std::uint8_t>(byte)));
    CHECK(!w.ok());
  };
  REQUIRE(run(s, clock, main()).ok());
}

// libxenvchan's wake-up, step by step: a side about to wait asks the other for
// a signal, then looks at the ring again; the other side moves bytes, then takes
// the request. In every order of those four steps the waiting side either sees
// the bytes or is signalled, so no wake-up is lost whichever domain runs first.
TEST_CASE("a side about to wait sees the bytes or is signalled, in every order of both sides' steps", "[vchan]") {
  static const std::uint8_t bytes[1024] = {};
  std::uint8_t sink[1024];
  // Plays `order` ('w': the waiting side's next step, 'm': the moving side's):
  // the waiter asks, then looks; the mover moves, then takes the request. True
  // if the waiter saw the bytes (or room) or was signalled.
  auto play = [](std::string_view order, auto ask, auto look, auto move, auto take) {
    bool seen = false, signalled = false;
    int w = 0, m = 0;
    for (char step : order) {
      if (step == 'w' && w++ == 0) ask();
      else if (step == 'w') seen = look();
      else if (m++ == 0) move();
      else signalled = take();
    }
    return seen || signalled;
  };
  for (std::string_view order : {"wwmm", "wmwm", "wmmw", "mwwm", "mwmw", "mmww"}) {
    CAPTURE(order);
    layout l(10, 11);
    ring server_in = l.left(false), client_out = l.left(true);
    control server(l.header(), role::server), client(l.header(), role::client);
    // The server waits to read; the client writes.
    CHECK(play(
        order, [&] { server.request(notify_write); }, [&] { return *server_in.readable() > 0; },
        [&] { CHECK(*client_out.write(std::span(bytes, 100)) == 100); },
        [&] { return client.take_request(notify_write); }));
    CHECK(*server_in.read(sink) == 100);
    // The client's ring full, it waits for room; the server consumes.
    REQUIRE(*client_out.write(bytes) == 1024);
    CHECK(play(
        order, [&] { client.request(notify_read); }, [&] { return *client_out.writable() > 0; },
        [&] { CHECK(*server_in.read(std::span(sink, 10)) == 10); },
        [&] { return server.take_request(notify_read); }));
  }
}

// A signal that never arrives (the event lost on the way) costs at most a
// poll: each wait ends after channel::poll and reads the shared indices afresh.
TEST_CASE("a channel waiting without a signal finds the peer's bytes and room at the next poll", "[vchan]") {
  lone_server<8> f;
  auto& [s, clock, pool, l, server] = f;
  control client(l.header(), role::client);
  client.set_live(live_connected);
  ring client_out = l.left(true), client_in = l.right(false);
  static const std::uint8_t bytes[2048] = {1, 2, 3};
  const auto after_a_poll = test_channel::poll + std::chrono::milliseconds(1);
  auto main = [&]() -> task<void> {
    auto reading = spawn(s, server.read());
    co_await s.sleep_for(std::chrono::milliseconds(30));
    CHECK(*client_out.write(std::span(bytes, 3)) == 3);  // and no signal
    CHECK(client.take_request(notify_write));           // though the server asked for one
    co_await s.sleep_for(after_a_poll);
    CHECK(reading.done());
    // The server's ring to us full: its next write waits for room we make unsignalled.
    // (The views outlive the spawned writes, which hold a reference to them.)
    const view all = view::unowned(std::span(bytes)), five = view::unowned(std::span(bytes, 5));
    auto filling = spawn(s, server.write(all));
    auto waiting = spawn(s, server.write(five));
    co_await s.sleep_for(std::chrono::milliseconds(30));
    CHECK(filling.done());
    CHECK(!waiting.done());
    std::uint8_t sink[16];
    CHECK(*client_in.read(sink) == 16);
    co_await s.sleep_for(after_a_poll);
    CHECK(waiting.done());
    CHECK(l.header().right.prod == 2048 + 5);
    server.close();  // ends whatever still waits, so a failed check cannot hang the test
    auto got = co_await reading.join();
    CHECK(got.ok());
    if (got) CHECK((got->size() == 3 && (*got)[2] == 3));
    const auto filled = co_await filling.join();  // awaited on its own: GCC 12 and Catch's macros
    const auto waited = co_await waiting.join();
    CHECK(filled.ok());
    CHECK(waited.ok());
  };
  REQUIRE(run(s, clock, main()).ok());
}
