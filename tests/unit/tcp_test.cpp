// TCP between two uni stacks on the simulated link, deterministic from a seed:
// transfers over loss, duplication, reordering and delay, every open and close
// order, and the application API's errors.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>
#include <uni/core/run.hpp>
#include <uni/net/accept_supervisor.hpp>
#include <uni/sim/sim_link.hpp>
#include <uni/stack.hpp>

#include "frames.hpp"

using namespace uni;
using sim::ManualClock;
using sim::sim_link;
using sim::SimNetif;

namespace {
const ipv4_address a_ip = ipv4_address::from_octets(10, 0, 0, 2);
const ipv4_address b_ip = ipv4_address::from_octets(10, 0, 0, 3);

using sim_stack = Stack<SimNetif, ManualClock>;
using stream = sim_stack::tcp_stream;

std::uint8_t pattern_byte(std::uint64_t stream_id, std::size_t offset) noexcept {
  return static_cast<std::uint8_t>((offset * 131 + stream_id * 7 + (offset >> 12)) & 0xff);
}

// UNI_SIM_SEEDS=N runs N seeds instead of the suite's default.
std::uint64_t sim_seeds(std::uint64_t fallback) {
  const char* n = std::getenv("UNI_SIM_SEEDS");
  return n ? std::strtoull(n, nullptr, 10) : fallback;
}

// Two stacks joined by an impaired link, with a pool for each side's data; a's
// and b's Configs may differ.
template <class ConfigA, class ConfigB = default_config>
struct basic_pair {
  std::unique_ptr<static_page_pool<4096>> pool = std::make_unique<static_page_pool<4096>>();
  scheduler sched;
  ManualClock clock;
  sim_link link;
  Stack<SimNetif, ManualClock, ConfigA> a;
  Stack<SimNetif, ManualClock, ConfigB> b;

  explicit basic_pair(std::uint64_t seed, sim::impairment imp = {.delay_min = 100us, .delay_max = 100us})
      : link(*pool, clock, seed, imp),
        a(link.a(), clock, sched, *pool, {{a_ip, 24}, {}, false, seed * 2 + 1}),
        b(link.b(), clock, sched, *pool, {{b_ip, 24}, {}, false, seed * 2 + 2}) {
    a.start();
    b.start();
  }
  template <class T>
  auto go(task<T> t) {
    return run(sched, clock, std::move(t));
  }
};
using pair_fixture = basic_pair<default_config>;

// Writes `total` bytes of the stream's pattern in page-sized views.
template <class Stream>
task<result<void>> send_pattern(page_pool& pool, Stream& s, std::uint64_t id, std::size_t total, std::size_t chunk = 4000) {
  std::size_t done = 0;
  while (done < total) {
    auto page = pool.allocate();
    if (!page) co_return fail(page.err());
    const std::size_t n = std::min(chunk, total - done);
    view v = page->head(n);
    for (std::size_t i = 0; i < n; ++i) v.data()[i] = pattern_byte(id, done + i);
    if (auto r = co_await s.write(v); !r) co_return r;
    done += n;
  }
  co_return result<void>{};
}

// Reads to the end of the stream; the count of bytes, or the first mismatch as an error.
template <class Stream>
task<result<std::size_t>> receive_pattern(Stream& s, std::uint64_t id) {
  std::size_t got = 0;
  while (true) {
    auto v = co_await s.read();
    if (!v) co_return fail(v.err());
    if (v->empty()) co_return got;
    for (std::size_t i = 0; i < v->size(); ++i)
      if (v->data()[i] != pattern_byte(id, got + i)) co_return fail(error::malformed);
    got += v->size();
  }
}

// Both directions at once: a sends `n` to b and b sends `n` to a; both close.
template <class Pair>
void bidirectional(Pair& f, std::size_t n, bool check_clean_close = true) {
  bool done = false;
  auto main = [&]() -> task<void> {
    auto l = f.b.tcp_listen(80);
    REQUIRE(l);
    auto server = [&]() -> task<void> {
      auto c = co_await l->accept();
      REQUIRE(c);
      auto reader = spawn(f.sched, receive_pattern(*c, 1));
      auto w = co_await send_pattern(*f.pool, *c, 2, n);
      if (!w) FAIL_CHECK("server write: " << to_string(w.err()));
      CHECK(c->shutdown());
      auto got = co_await reader.join();
      if (!got) FAIL_CHECK("server read: " << to_string(got.err()));
      if (got) CHECK(*got == n);
    };
    auto srv = spawn(f.sched, server());
    auto c = co_await f.a.tcp_connect({b_ip, 80}, 30s);
    REQUIRE(c);
    auto reader = spawn(f.sched, receive_pattern(*c, 2));
    auto w = co_await send_pattern(*f.pool, *c, 1, n);
    if (!w) FAIL_CHECK("client write: " << to_string(w.err()));
    CHECK(c->shutdown());
    auto got = co_await reader.join();
    if (!got) FAIL_CHECK("client read: " << to_string(got.err()));
    if (got) CHECK(*got == n);
    auto joined = co_await srv.join();  // named: in a template, (co_await ...) misparses in CHECK
    CHECK(joined.ok());
    done = true;
  };
  REQUIRE(f.go(main()).ok());
  CHECK(done);
  if (check_clean_close) {
    // After 2 MSL every connection is gone and every page is back.
    auto wait = [&]() -> task<void> { co_await f.sched.sleep_for(default_config::tcp_time_wait + 5s); };
    REQUIRE(f.go(wait()).ok());
    CHECK(f.a.tcp_statistics().connections() == 0);
    CHECK(f.b.tcp_statistics().connections() == 0);
  }
}
}  // namespace

TEST_CASE("TCP: a clean link carries 4 MB each way at once, byte-exact, and both ends close", "[tcp][sim]") {
  pair_fixture f(1);
  bidirectional(f, 4 << 20);
}

TEST_CASE("TCP: every byte arrives once and in order over loss, duplication, reordering and delay", "[tcp][sim]") {
  for (std::uint64_t seed = 1; seed <= sim_seeds(30); ++seed) {
    INFO("seed " << seed);
    pair_fixture f(seed, {.loss_ppm = 20'000, .duplicate_ppm = 10'000, .reorder_ppm = 20'000,
                          .delay_min = 200us, .delay_max = 3ms});
    bidirectional(f, 256 << 10);
  }
}

// Both ends on one small pool, the sender's application taking every page it
// can get, then writing them. Without a reserve it took the last page: no ACK
// could be sent and nothing was ever freed (bench_tcp_sim with 256 pages hung).
TEST_CASE("TCP: an application that fills the pool is refused and the transfer still completes", "[tcp][sim]") {
  auto pool = std::make_unique<static_page_pool<256>>();
  scheduler sched;
  ManualClock clock;
  sim_link link(*pool, clock, 5, {.delay_min = 100us, .delay_max = 100us});
  sim_stack a(link.a(), clock, sched, *pool, {{a_ip, 24}, {}, false, 11});
  sim_stack b(link.b(), clock, sched, *pool, {{b_ip, 24}, {}, false, 12});
  a.start();
  b.start();
  constexpr std::size_t total = 8 << 20;
  std::uint64_t refusals = 0;
  result<std::size_t> got = fail(error::closed);
  bool done = false;
  auto main = [&]() -> task<void> {
    auto l = b.tcp_listen(80);
    REQUIRE(l);
    auto sink = [&]() -> task<void> {
      auto c = co_await l->accept();
      if (c) got = co_await receive_pattern(*c, 1);
    };
    auto receiver = spawn(sched, sink());
    auto c = co_await a.tcp_connect({b_ip, 80}, 5s);
    REQUIRE(c);
    std::vector<view> batch;  // taken until refused, then written
    for (std::size_t sent = 0; sent < total;) {
      while (sent + batch.size() * page_size < total) {
        auto page = pool->allocate();
        if (!page) {
          ++refusals;
          break;
        }
        batch.push_back(std::move(*page));
      }
      if (batch.empty()) co_await sched.sleep_for(100us);  // the stacks run: ACKs free pages
      for (view& page : batch) {
        for (std::size_t i = 0; i < page_size; ++i) page.data()[i] = pattern_byte(1, sent + i);
        auto w = co_await c->write(std::move(page));
        REQUIRE(w);
        sent += page_size;
      }
      batch.clear();
    }
    CHECK(c->shutdown());
    co_await receiver.join();
    done = true;
  };
  // A deadlock fails here instead of hanging: nothing moves, but timers still fire.
  REQUIRE(run(sched, clock, with_timeout(sched, 60s, main())).ok());
  REQUIRE(done);
  CHECK(refusals > 0);
  CHECK(pool->statistics().held_back == refusals);
  CHECK(pool->statistics().exhausted == 0);  // the stacks never ran dry
  REQUIRE(got);
  CHECK(*got == total);
}

TEST_CASE("TCP: a connection to a closed port is refused", "[tcp][sim]") {
  pair_fixture f(3);
  auto main = [&]() -> task<void> {
    auto c = co_await f.a.tcp_connect({b_ip, 81}, 5s);
    REQUIRE(!c);
    CHECK(c.err() == error::refused);
  };
  REQUIRE(f.go(main()).ok());
  CHECK(f.b.tcp_statistics().counters().dropped_by(tcp::tcp_drop::no_connection) == 1);
}

TEST_CASE("TCP: connect times out when SYNs vanish", "[tcp][sim]") {
  pair_fixture f(4, {.loss_ppm = 1'000'000});
  auto main = [&]() -> task<void> {
    const time_point start = f.sched.now();
    auto c = co_await f.a.tcp_connect({b_ip, 80}, 3s);
    REQUIRE(!c);
    CHECK((c.err() == error::timed_out || c.err() == error::unreachable));
    CHECK(f.sched.now() - start <= 3s + 10ms);
  };
  REQUIRE(f.go(main()).ok());
}

namespace {
// Two bare connections wired back to back (no IP, no loss): segments go into
// the other's queue and are delivered in order when pump() runs.
struct wired_pair {
  using conn = tcp::connection<default_config>;
  struct pending {
    bool to_a;
    tcp::header h;
    std::vector<std::uint8_t> data;
  };
  scheduler sched;
  std::vector<pending> wire;
  struct out_fn {
    wired_pair* p;
    bool from_a;
    void operator()(const tcp::header& h, std::span<const view> payload) const {
      std::vector<std::uint8_t> d(total_size(payload));
      gather(payload, d);
      p->wire.push_back({!from_a, h, std::move(d)});
    }
  };
  out_fn fa{this, true}, fb{this, false};
  conn a{sched}, b{sched};
  std::unique_ptr<static_page_pool<64>> pool = std::make_unique<static_page_pool<64>>();
  const tcp::endpoints ea{a_ip, b_ip, 5000, 6000}, eb{b_ip, a_ip, 6000, 5000};

  wired_pair() {
    a.set_output(fa);
    b.set_output(fb);
  }
  void pump(time_point t) {
    for (int rounds = 0; rounds < 100 && !wire.empty(); ++rounds) {
      auto batch = std::exchange(wire, {});
      for (auto& s : batch) {
        view_chain data;
        if (!s.data.empty()) {
          view page = *pool->allocate();
          std::copy(s.data.begin(), s.data.end(), page.data());
          (void)data.push_back(page.head(s.data.size()));
        }
        (s.to_a ? a : b).on_segment(s.h, std::move(data), t);
      }
    }
  }
};
}  // namespace

TEST_CASE("RFC 9293 3.5: simultaneous open: both SYNs cross, both ends reach ESTABLISHED", "[tcp]") {
  wired_pair p;
  const time_point t{};
  p.a.open_active(p.ea, {1000}, 1460, 0, t);
  p.b.open_active(p.eb, {9000}, 1460, 0, t);
  REQUIRE(p.wire.size() == 2);  // two SYNs in flight, crossing
  p.pump(t);
  CHECK(p.a.current_state() == tcp::state::established);
  CHECK(p.b.current_state() == tcp::state::established);
  // And data flows both ways afterwards.
  view va = *p.pool->allocate(), vb = *p.pool->allocate();
  std::memcpy(va.data(), "ping", 4);
  std::memcpy(vb.data(), "pong", 4);
  CHECK(p.a.write(va.head(4), t));
  CHECK(p.b.write(vb.head(4), t));
  p.pump(t);
  const view ra = p.a.read(t), rb = p.b.read(t);
  REQUIRE(ra.size() == 4);
  REQUIRE(rb.size() == 4);
  CHECK(std::memcmp(ra.data(), "pong", 4) == 0);
  CHECK(std::memcmp(rb.data(), "ping", 4) == 0);
  // Simultaneous close: both FINs cross, CLOSING, then TIME-WAIT on both sides.
  p.a.shutdown(t);
  p.b.shutdown(t);
  CHECK(p.a.current_state() == tcp::state::fin_wait_1);
  CHECK(p.b.current_state() == tcp::state::fin_wait_1);
  p.pump(t);
  CHECK(p.a.current_state() == tcp::state::time_wait);
  CHECK(p.b.current_state() == tcp::state::time_wait);
}

TEST_CASE("TCP: every close order ends with both connections released", "[tcp][sim]") {
  enum order { client_first, server_first, both_at_once, client_aborts };
  for (order o : {client_first, server_first, both_at_once, client_aborts}) {
    INFO("order " << int(o));
    pair_fixture f(7);
    auto main = [&]() -> task<void> {
      auto l = f.b.tcp_listen(90);
      REQUIRE(l);
      std::optional<stream> server;
      auto acceptor = [&]() -> task<void> {
        auto c = co_await l->accept();
        if (c) server.emplace(std::move(*c));
      };
      auto acc = spawn(f.sched, acceptor());
      auto c = co_await f.a.tcp_connect({b_ip, 90}, 5s);
      REQUIRE(c);
      co_await f.sched.sleep_for(10ms);
      REQUIRE(server);
      switch (o) {
        case client_first: {
          CHECK(c->shutdown());
          auto eof = co_await server->read();  // the server sees the end, then closes
          CHECK((eof && eof->empty()));
          server->close();
          auto end = co_await c->read();
          CHECK((end && end->empty()));
          break;
        }
        case server_first: {
          server->close();
          auto end = co_await c->read();
          CHECK((end && end->empty()));
          break;
        }
        case both_at_once:
          CHECK(c->shutdown());
          server->close();
          break;
        case client_aborts: {
          c->abort();
          auto r = co_await server->read();
          CHECK(!r);
          if (!r) CHECK(r.err() == error::reset);
          break;
        }
      }
      co_await f.sched.sleep_for(10ms);
    };
    REQUIRE(f.go(main()).ok());
    auto wait = [&]() -> task<void> { co_await f.sched.sleep_for(sim_stack::config::tcp_time_wait + 5s); };
    REQUIRE(f.go(wait()).ok());
    CHECK(f.a.tcp_statistics().connections() == 0);
    CHECK(f.b.tcp_statistics().connections() == 0);
  }
}

namespace {
// Serves a connection until its peer closes it.
task<void> hold_until_closed(stream c, std::size_t& ended) {
  while (true) {
    auto d = co_await c.read();
    if (!d || d->empty()) break;
  }
  ++ended;
}
}  // namespace

TEST_CASE("TCP: the accept supervisor polls uni's listener: the bound is kept, a waiting connection is taken when one ends, and closing the listener ends it",
          "[tcp][sim][accept]") {
  static_assert(PollingTcpListener<sim_stack::tcp_listener>);
  pair_fixture f(8);
  accept_counters n;
  std::size_t ended = 0;
  auto main = [&]() -> task<void> {
    auto l = f.b.tcp_listen(80);
    REQUIRE(l);
    accept_supervisor<> sup(f.sched, "test", 1, when_full::wait, n);
    auto running = sup.run(*l, [&](stream c, no_info&) { return hold_until_closed(std::move(c), ended); });
    running.start();  // kept, not awaited, as DNS's service keeps it
    auto first = co_await f.a.tcp_connect({b_ip, 80}, 5s);
    auto second = co_await f.a.tcp_connect({b_ip, 80}, 5s);  // the layer completes the handshake: it waits queued
    REQUIRE(first);
    REQUIRE(second);
    co_await f.sched.sleep_for(50ms);
    CHECK(n.accepted == 1);
    first->close();
    co_await f.sched.sleep_for(50ms);
    CHECK(ended == 1);
    CHECK(n.accepted == 2);
    second->close();
    co_await f.sched.sleep_for(50ms);
    CHECK(ended == 2);
    CHECK_FALSE(running.done());  // waiting for a connection
    l->close();
    co_await f.sched.sleep_for(1ms);
    CHECK(running.done());
    CHECK(n.accept_errors == 0);
    CHECK(n.refused == 0);
  };
  REQUIRE(f.go(main()).ok());
}

namespace {
// Configs that turn the options off (uni/net/tcp/offered.hpp: their code is not
// in the image): the peer, a default stack, still offers all three.
struct no_sack_config : default_config {
  static constexpr bool tcp_sack = false;
};
struct no_timestamps_config : default_config {
  static constexpr bool tcp_timestamps = false;
};
struct no_window_scaling_config : default_config {
  static constexpr bool tcp_window_scaling = false;
};
struct no_options_config : default_config {
  static constexpr bool tcp_sack = false;
  static constexpr bool tcp_timestamps = false;
  static constexpr bool tcp_window_scaling = false;
};

// The option kinds a segment carries (frames::tcp_seen's option bytes).
struct option_kinds_seen {
  bool mss = false, window_scale = false, sack_permitted = false, timestamps = false;
};
option_kinds_seen kinds_in(const frames::bytes& o) {
  option_kinds_seen k;
  for (std::size_t i = 0; i < o.size() && o[i] != 0;) {
    if (o[i] == 1) {
      ++i;
      continue;
    }
    REQUIRE(i + 1 < o.size());
    k.mss |= o[i] == 2;
    k.window_scale |= o[i] == 3;
    k.sack_permitted |= o[i] == 4;
    k.timestamps |= o[i] == 8;
    REQUIRE(o[i + 1] >= 2);
    i += o[i + 1];
  }
  return k;
}
template <class Config>
void check_offers(const option_kinds_seen& k) {
  CHECK(k.mss);
  CHECK(k.window_scale == Config::tcp_window_scaling);
  CHECK(k.sack_permitted == Config::tcp_sack);
  CHECK(k.timestamps == Config::tcp_timestamps);
}
}  // namespace

TEMPLATE_TEST_CASE("TCP: an option the Config turns off is not offered in its SYN nor agreed to in its SYN-ACK",
                   "[tcp][sim]", no_sack_config, no_timestamps_config, no_window_scaling_config, no_options_config) {
  using namespace frames;
  auto pool = std::make_unique<static_page_pool<512>>();
  scheduler sched;
  ManualClock clock;
  sim_link link(*pool, clock, 1, {.delay_min = 10us, .delay_max = 10us});
  Stack<SimNetif, ManualClock, TestType> stack(link.a(), clock, sched, *pool, {{a_ip, 24}, {}, false, 7});
  raw_peer peer{link.b(), *pool};
  peer.attach();
  stack.start();
  const mac_address us_mac = link.a().mac(), peer_mac = link.b().mac();
  auto settle = [&] {
    auto wait = [&]() -> task<void> { co_await sched.sleep_for(1ms); };
    REQUIRE(run(sched, clock, wait()).ok());
  };
  auto take_tcp = [&] {
    std::vector<tcp_seen> out;
    for (auto& f : peer.take(0x0800))
      if (f.size() >= 54 && f[14 + 9] == 6) out.push_back(parse_tcp(f));
    return out;
  };
  peer.send(ethernet(mac_address::broadcast(), peer_mac, 0x0806, arp(1, peer_mac, b_ip, {}, a_ip)));
  settle();
  peer.received.clear();

  SECTION("its SYN") {
    result<std::uint8_t> outcome = fail(error::closed);
    auto opener = [&]() -> task<void> {
      auto c = co_await stack.tcp_connect({b_ip, 80}, 5s);
      outcome = c ? result<std::uint8_t>(0) : result<std::uint8_t>(fail(c.err()));
    };
    auto h = spawn(sched, opener());
    settle();
    auto got = take_tcp();
    REQUIRE(got.size() == 1);
    REQUIRE(got[0].flags == 2);  // SYN
    check_offers<TestType>(kinds_in(got[0].options));
    // Refused: the connect ends.
    peer.send(ethernet(us_mac, peer_mac, 0x0800,
                       ipv4({b_ip, a_ip, 6}, frames::tcp(b_ip, a_ip, {.sport = 80, .dport = got[0].sport, .ack = got[0].seq + 1,
                                                                   .flags = 4 | 16}))));
    settle();
    REQUIRE(!outcome);
    CHECK(outcome.err() == error::refused);
  }
  SECTION("its SYN-ACK to a SYN offering all three") {
    auto l = stack.tcp_listen(80);
    REQUIRE(l);
    bytes offer{2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10};  // MSS, WS 7, SACK-permitted, timestamps
    put32(offer, 100);
    put32(offer, 0);
    peer.send(ethernet(us_mac, peer_mac, 0x0800,
                       ipv4({b_ip, a_ip, 6}, frames::tcp(b_ip, a_ip, {.sport = 40000, .dport = 80, .seq = 1000, .flags = 2,
                                                                   .options = offer}))));
    settle();
    auto got = take_tcp();
    REQUIRE(got.size() == 1);
    REQUIRE(got[0].flags == (2 | 16));  // SYN-ACK
    check_offers<TestType>(kinds_in(got[0].options));
  }
}

TEMPLATE_TEST_CASE("TCP: with an option off, every byte arrives once and in order over loss and reordering, to and from a peer that offers it",
                   "[tcp][sim]", no_sack_config, no_timestamps_config, no_window_scaling_config, no_options_config) {
  const sim::impairment lossy{.loss_ppm = 20'000, .duplicate_ppm = 10'000, .reorder_ppm = 20'000,
                              .delay_min = 200us, .delay_max = 3ms};
  SECTION("it connects") {  // a, of TestType, connects to b
    for (std::uint64_t seed = 1; seed <= sim_seeds(6); ++seed) {
      INFO("seed " << seed);
      basic_pair<TestType, default_config> f(seed, lossy);
      bidirectional(f, 256 << 10);
    }
  }
  SECTION("it accepts") {
    for (std::uint64_t seed = 1; seed <= sim_seeds(6); ++seed) {
      INFO("seed " << seed);
      basic_pair<default_config, TestType> f(seed, lossy);
      bidirectional(f, 256 << 10);
    }
  }
}
