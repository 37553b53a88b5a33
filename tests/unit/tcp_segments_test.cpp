// TCP against hand-built segments: a scripted peer drives a uni stack's
// connection into every state and sends what RFC 9293 and RFC 5961 say must
// be refused (RST and SYN in every state, hostile headers, out-of-window data,
// ACKs of unsent data, old timestamps), then checks the exact reply and that
// the connection survived (or died) as it should.
#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <uni/core/run.hpp>
#include <uni/stack.hpp>

#include "frames.hpp"

using namespace uni;
using namespace frames;
using tcp::tcp_drop;

namespace {
const ipv4_address us = ipv4_address::from_octets(10, 0, 0, 2);
const ipv4_address peer_ip = ipv4_address::from_octets(10, 0, 0, 1);
constexpr std::uint8_t FIN = 1, SYN = 2, RST = 4, PSH = 8, ACK = 16;

using sim_stack = Stack<SimNetif, ManualClock>;

bytes option_bytes(bool timestamps, std::uint32_t tsval = 0, std::uint32_t tsecr = 0) {
  bytes o{2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2};  // MSS 1460, NOP WS 7, NOP NOP SACK-permitted
  if (timestamps) {
    o.insert(o.end(), {1, 1, 8, 10});
    put32(o, tsval);
    put32(o, tsecr);
  }
  return o;
}
bytes ts_option(std::uint32_t tsval, std::uint32_t tsecr) {
  bytes o{1, 1, 8, 10};
  put32(o, tsval);
  put32(o, tsecr);
  return o;
}

struct fixture {
  std::unique_ptr<static_page_pool<512>> pool = std::make_unique<static_page_pool<512>>();
  scheduler sched;
  ManualClock clock;
  sim_link link{*pool, clock, 1, sim::impairment{.delay_min = 10us, .delay_max = 10us}};
  sim_stack stack{link.a(), clock, sched, *pool, {{us, 24}, peer_ip, false, 42}};
  raw_peer peer{link.b(), *pool};
  mac_address us_mac = link.a().mac();
  mac_address peer_mac = link.b().mac();
  std::optional<sim_stack::tcp_listener> listener;
  std::optional<sim_stack::tcp_stream> conn;
  join_handle<void> acceptor;
  std::uint32_t peer_seq = 1000;  // the next byte the peer sends: our RCV.NXT once in sync
  std::uint32_t our_seq = 0;      // the next byte we send, as the peer acknowledges it
  std::uint16_t peer_port = 40000;

  fixture() {
    peer.attach();
    stack.start();
    settle();
    peer.send(ethernet(mac_address::broadcast(), peer_mac, 0x0806, arp(1, peer_mac, peer_ip, {}, us)));
    settle();
    peer.received.clear();
    listener.emplace(*stack.tcp_listen(80));
    acceptor = spawn(sched, accept_one());
  }
  task<void> accept_one() {
    auto c = co_await listener->accept();
    if (c) conn.emplace(std::move(*c));
  }
  void settle(duration d = 1ms) {
    auto wait = [&]() -> task<void> { co_await sched.sleep_for(d); };
    REQUIRE(run(sched, clock, wait()).ok());
  }
  void send(tcp_fields f, const bytes& data = {}) {
    if (f.sport == 0) f.sport = peer_port;
    if (f.dport == 0) f.dport = 80;
    peer.send(ethernet(us_mac, peer_mac, 0x0800, ipv4({peer_ip, us, 6}, frames::tcp(peer_ip, us, f, data))));
  }
  void send_raw_tcp(const bytes& segment) { peer.send(ethernet(us_mac, peer_mac, 0x0800, ipv4({peer_ip, us, 6}, segment))); }
  std::vector<tcp_seen> take() {
    std::vector<tcp_seen> out;
    for (auto& f : peer.take(0x0800))
      if (f.size() >= 54 && f[14 + 9] == 6) out.push_back(parse_tcp(f));
    return out;
  }
  // The three-way handshake, as Linux would open it.
  void handshake(bool timestamps = false, std::uint16_t window = 65535) {
    send({.seq = peer_seq, .flags = SYN, .options = option_bytes(timestamps, 100, 0)});
    settle();
    auto got = take();
    REQUIRE(got.size() == 1);
    REQUIRE(got[0].flags == (SYN | ACK));
    REQUIRE(got[0].ack == peer_seq + 1);
    peer_seq += 1;
    our_seq = got[0].seq + 1;
    send({.seq = peer_seq, .ack = our_seq, .flags = ACK, .window = window,
          .options = timestamps ? ts_option(101, 0) : bytes{}});
    settle();
    REQUIRE(conn.has_value());
    REQUIRE(conn->state() == tcp::state::established);
  }
  std::size_t dropped(tcp_drop d) const { return stack.tcp_statistics().counters().dropped_by(d); }
  std::size_t connections() const { return stack.tcp_statistics().connections(); }
};

enum class target { syn_received, established, close_wait, last_ack, fin_wait_1, fin_wait_2, closing, time_wait };

// Drives the fixture's connection into `t` (the peer's FIN and ACKs by hand).
void drive(fixture& f, target t) {
  if (t == target::syn_received) {
    f.send({.seq = f.peer_seq, .flags = SYN, .options = option_bytes(false)});
    f.settle();
    auto got = f.take();
    REQUIRE(got.size() == 1);
    f.peer_seq += 1;
    f.our_seq = got[0].seq + 1;
    return;
  }
  f.handshake();
  auto peer_fin = [&] {
    f.send({.seq = f.peer_seq, .ack = f.our_seq, .flags = FIN | ACK});
    f.peer_seq += 1;
    f.settle();
  };
  auto our_fin = [&] {
    REQUIRE(f.conn->shutdown());
    f.settle();
  };
  switch (t) {
    case target::established: break;
    case target::close_wait: peer_fin(); break;
    case target::last_ack:
      peer_fin();
      our_fin();
      break;
    case target::fin_wait_1: our_fin(); break;
    case target::fin_wait_2:
      our_fin();
      f.send({.seq = f.peer_seq, .ack = f.our_seq + 1, .flags = ACK});
      f.settle();
      break;
    case target::closing:
      our_fin();
      peer_fin();  // acknowledges our SYN-ACK only, not our FIN
      break;
    case target::time_wait:
      our_fin();
      f.send({.seq = f.peer_seq, .ack = f.our_seq + 1, .flags = FIN | ACK});
      f.peer_seq += 1;
      f.settle();
      break;
    default: break;
  }
  f.take();
}

tcp::state expected(target t) {
  switch (t) {
    case target::syn_received: return tcp::state::syn_received;
    case target::established: return tcp::state::established;
    case target::close_wait: return tcp::state::close_wait;
    case target::last_ack: return tcp::state::last_ack;
    case target::fin_wait_1: return tcp::state::fin_wait_1;
    case target::fin_wait_2: return tcp::state::fin_wait_2;
    case target::closing: return tcp::state::closing;
    case target::time_wait: return tcp::state::time_wait;
  }
  return tcp::state::closed;
}

const char* name(target t) {
  constexpr const char* names[] = {"SYN-RECEIVED", "ESTABLISHED", "CLOSE-WAIT", "LAST-ACK",
                                   "FIN-WAIT-1",   "FIN-WAIT-2",  "CLOSING",    "TIME-WAIT"};
  return names[static_cast<int>(t)];
}

void check_state(fixture& f, target t) {
  if (t == target::syn_received) CHECK(f.connections() == 1);
  else CHECK(f.conn->state() == expected(t));
}

// RFC 5961's answer to a segment it distrusts: one bare ACK of RCV.NXT, the
// connection left as it was.
void check_challenge_ack(fixture& f, target t) {
  f.settle();
  auto got = f.take();
  REQUIRE(got.size() == 1);
  CHECK(got[0].flags == ACK);
  CHECK(got[0].ack == f.peer_seq);
  check_state(f, t);
}

constexpr target every_state[] = {target::syn_received, target::established, target::close_wait,
                                  target::last_ack,     target::fin_wait_1,  target::fin_wait_2,
                                  target::closing,      target::time_wait};
}  // namespace

TEST_CASE("RFC 5961 4.2: an in-window SYN in every synchronized state draws a challenge ACK", "[tcp][hostile]") {
  for (target t : every_state) {
    INFO(name(t));
    fixture f;
    drive(f, t);
    f.settle(20ms);  // past the challenge ACK rate limit
    f.take();
    f.send({.seq = f.peer_seq + 100, .flags = SYN, .options = option_bytes(false)});
    check_challenge_ack(f, t);
  }
}

TEST_CASE("RFC 5961 3.2: a RST in every state: in window a challenge ACK, exact a reset, outside nothing",
          "[tcp][hostile]") {
  for (target t : every_state) {
    INFO(name(t));
    fixture f;
    drive(f, t);
    f.settle(20ms);
    f.take();
    // Out of the window: dropped silently.
    f.send({.seq = f.peer_seq + 10'000'000, .flags = RST});
    f.settle();
    CHECK(f.take().empty());
    check_state(f, t);
    // In the window but not at RCV.NXT: a challenge ACK, nothing else.
    f.send({.seq = f.peer_seq + 1, .flags = RST});
    check_challenge_ack(f, t);
    // Exactly at RCV.NXT: the connection is reset.
    f.send({.seq = f.peer_seq, .flags = RST});
    f.settle();
    CHECK(f.take().empty());
    if (f.conn) CHECK(f.conn->state() == tcp::state::closed);
    f.conn.reset();
    f.settle();
    CHECK(f.connections() == 0);
  }
}

TEST_CASE("TCP: a reset connection fails the reader with error::reset", "[tcp][hostile]") {
  fixture f;
  f.handshake();
  std::optional<error> failure;
  auto reader = [&]() -> task<void> {
    auto d = co_await f.conn->read();
    if (!d) failure = d.err();
  };
  auto h = spawn(f.sched, reader());
  f.settle();
  f.send({.seq = f.peer_seq, .flags = RST});
  f.settle();
  REQUIRE(failure.has_value());
  CHECK(*failure == error::reset);
}

TEST_CASE("TCP: hostile headers are dropped and counted, the connection unharmed", "[tcp][hostile]") {
  fixture f;
  f.handshake();
  f.take();
  // Bad checksum.
  bytes seg = frames::tcp(peer_ip, us, {.sport = f.peer_port, .dport = 80, .seq = f.peer_seq, .ack = f.our_seq, .flags = ACK}, pattern(10));
  seg[16] ^= 0x55;
  f.send_raw_tcp(seg);
  // Data offset below 5 words, and beyond the segment.
  f.send_raw_tcp(frames::tcp(peer_ip, us, {.sport = f.peer_port, .dport = 80, .seq = f.peer_seq, .flags = ACK, .data_offset = 4}));
  f.send_raw_tcp(frames::tcp(peer_ip, us, {.sport = f.peer_port, .dport = 80, .seq = f.peer_seq, .flags = ACK, .data_offset = 15}));
  // Option lists that lie: length 0, length 1, a length past the header, a bad MSS length.
  for (bytes o : {bytes{2, 0, 0, 0}, bytes{8, 1, 0, 0}, bytes{1, 1, 8, 40}, bytes{2, 3, 5, 0}}) {
    f.send_raw_tcp(
        frames::tcp(peer_ip, us, {.sport = f.peer_port, .dport = 80, .seq = f.peer_seq, .ack = f.our_seq, .flags = ACK, .options = o}));
  }
  // A runt: 12 bytes of TCP header.
  f.send_raw_tcp(bytes(12, 0));
  f.settle();
  CHECK(f.take().empty());
  CHECK(f.dropped(tcp_drop::bad_checksum) == 1);
  CHECK(f.dropped(tcp_drop::bad_offset) == 2);
  CHECK(f.dropped(tcp_drop::bad_options) == 4);
  CHECK(f.dropped(tcp_drop::truncated) == 1);
  CHECK(f.conn->state() == tcp::state::established);
  // Still serving: good data is acknowledged.
  f.send({.seq = f.peer_seq, .ack = f.our_seq, .flags = ACK | PSH}, pattern(100));
  f.settle(100ms);
  auto got = f.take();
  REQUIRE(!got.empty());
  CHECK(got.back().ack == f.peer_seq + 100);
}

TEST_CASE("RFC 9293 3.10.7.4: data outside the window is not taken, an ACK says what is expected", "[tcp][hostile]") {
  fixture f;
  f.handshake();
  f.take();
  f.send({.seq = f.peer_seq + 5'000'000, .ack = f.our_seq, .flags = ACK}, pattern(100));
  f.send({.seq = f.peer_seq - 5000, .ack = f.our_seq, .flags = ACK}, pattern(100));  // old, already "received"
  f.settle();
  auto got = f.take();
  REQUIRE(got.size() == 2);
  for (auto& s : got) CHECK(s.ack == f.peer_seq);
  CHECK(f.dropped(tcp_drop::out_of_window) == 2);
  CHECK(!f.stack.tcp_statistics().at(0).has_unread());
}

TEST_CASE("RFC 5961 5.2: an ACK of data never sent is answered with an ACK and dropped", "[tcp][hostile]") {
  fixture f;
  f.handshake();
  f.take();
  f.send({.seq = f.peer_seq, .ack = f.our_seq + 100'000, .flags = ACK}, pattern(10));
  f.settle();
  auto got = f.take();
  REQUIRE(got.size() == 1);
  CHECK(got[0].ack == f.peer_seq);  // the data was not taken either
  CHECK(f.dropped(tcp_drop::ack_unsent) == 1);
  CHECK(f.conn->state() == tcp::state::established);
}

TEST_CASE("RFC 7323 5: PAWS drops a segment with an old timestamp", "[tcp][hostile]") {
  fixture f;
  f.handshake(true);
  f.take();
  bytes o = ts_option(500, 0);
  f.send({.seq = f.peer_seq, .ack = f.our_seq, .flags = ACK, .options = o}, pattern(10));
  f.peer_seq += 10;
  f.settle(100ms);
  f.take();
  f.send({.seq = f.peer_seq, .ack = f.our_seq, .flags = ACK, .options = ts_option(400, 0)}, pattern(10));
  f.settle();
  auto got = f.take();
  REQUIRE(got.size() == 1);
  CHECK(got[0].ack == f.peer_seq);
  CHECK(f.dropped(tcp_drop::paws) == 1);
}

TEST_CASE("RFC 9293 3.10.7.1: a closed port answers RST, a RST is never answered", "[tcp][hostile]") {
  fixture f;
  f.send({.dport = 81, .seq = 5000, .flags = SYN});
  f.settle();
  auto got = f.take();
  REQUIRE(got.size() == 1);
  CHECK(got[0].flags == (RST | ACK));
  CHECK(got[0].ack == 5001);
  CHECK(got[0].seq == 0);
  f.send({.dport = 81, .seq = 5000, .ack = 777, .flags = ACK}, pattern(3));
  f.settle();
  got = f.take();
  REQUIRE(got.size() == 1);
  CHECK(got[0].flags == RST);
  CHECK(got[0].seq == 777);
  f.send({.dport = 81, .seq = 5000, .flags = RST});
  f.settle();
  CHECK(f.take().empty());
  CHECK(f.dropped(tcp_drop::no_connection) == 3);
}

TEST_CASE("TCP: a SYN flood keeps the half-open table bounded and a real client still connects", "[tcp][hostile]") {
  fixture f;
  constexpr std::size_t limit = sim_stack::config::tcp_half_open;
  for (std::uint32_t i = 0; i < 3 * limit; ++i) {
    f.send({.sport = static_cast<std::uint16_t>(1024 + i), .seq = i * 7919, .flags = SYN});
    if (i % 64 == 0) f.settle(10us);
  }
  f.settle();
  CHECK(f.connections() == limit);
  CHECK(f.dropped(tcp_drop::half_open_evicted) == 2 * limit);
  f.take();
  f.handshake();  // evicts one more flood entry, then completes
  CHECK(f.connections() == limit);
  // The flood's half-open connections give up after their SYN-ACK retries.
  f.settle(10min);
  CHECK(f.connections() == 1);
}

TEST_CASE("TCP: a zero window is probed until it opens, then the data flows", "[tcp]") {
  fixture f;
  f.handshake(false, 0);
  f.take();
  auto writer = [&]() -> task<void> {
    auto page = f.pool->allocate();
    view v = page->head(100);
    auto r = co_await f.conn->write(v);  // (not inside CHECK: GCC 12 hoists a co_await out of the macro's unevaluated && and runs it again)
    CHECK(r);
  };
  auto w = spawn(f.sched, writer());
  f.settle(100ms);
  for (auto& s : f.take()) CHECK(s.data.empty());  // nothing while the window is shut
  f.settle(5s);
  auto probes = f.take();
  REQUIRE(probes.size() >= 2);  // the persist timer, backing off
  f.send({.seq = f.peer_seq, .ack = f.our_seq, .flags = ACK, .window = 1000});
  f.settle(100ms);
  auto got = f.take();
  REQUIRE(!got.empty());
  CHECK(got[0].data.size() == 100);
  CHECK(got[0].seq == f.our_seq);
}

TEST_CASE("TCP: a peer that vanishes fails the connection with timed_out and frees it", "[tcp]") {
  fixture f;
  f.handshake();
  std::optional<error> failure;
  auto writer = [&]() -> task<void> {
    auto page = f.pool->allocate();
    auto r = co_await f.conn->write(page->head(1000));
    CHECK(r);
    auto d = co_await f.conn->read();
    if (!d) failure = d.err();
  };
  auto w = spawn(f.sched, writer());
  f.settle(30min);  // 12 retries, the RTO doubling up to 60 s
  REQUIRE(failure.has_value());
  CHECK(*failure == error::timed_out);
  CHECK(f.take().size() >= 5);  // the rest went unsent: ARP for the vanished peer failed too
  f.conn.reset();
  f.settle();
  CHECK(f.connections() == 0);
  CHECK(f.pool->statistics().in_use < 8);  // only the stack's header pages remain
}

TEST_CASE("TCP: simultaneous close passes through CLOSING and TIME-WAIT", "[tcp]") {
  fixture f;
  drive(f, target::closing);
  CHECK(f.conn->state() == tcp::state::closing);
  f.send({.seq = f.peer_seq, .ack = f.our_seq + 1, .flags = ACK});
  f.settle();
  CHECK(f.conn->state() == tcp::state::time_wait);
  f.conn.reset();
  f.settle(sim_stack::config::tcp_time_wait + 1s);
  CHECK(f.connections() == 0);
}

TEST_CASE("RFC 5681 4.2: one segment is acknowledged after the delayed-ACK timer, every second at once", "[tcp]") {
  fixture f;
  f.handshake();
  f.take();
  f.send({.seq = f.peer_seq, .ack = f.our_seq, .flags = ACK | PSH}, pattern(100));
  f.peer_seq += 100;
  f.settle(10ms);
  CHECK(f.take().empty());  // held back, hoping to ride on data
  f.settle(sim_stack::config::tcp_delayed_ack);
  auto got = f.take();
  REQUIRE(got.size() == 1);
  CHECK(got[0].ack == f.peer_seq);
  for (int i = 0; i < 2; ++i) {
    f.send({.seq = f.peer_seq, .ack = f.our_seq, .flags = ACK}, pattern(1000));
    f.peer_seq += 1000;
  }
  f.settle(1ms);
  got = f.take();
  REQUIRE(got.size() == 1);  // the second full segment is acknowledged at once
  CHECK(got[0].ack == f.peer_seq);
}

TEST_CASE("RFC 1122 4.2.3.3: a window reads open by half the buffer is one update after the reads", "[tcp]") {
  fixture f;
  f.handshake();
  // 190 KB held, unread: the views left bound the window (two of them).
  constexpr std::size_t n = 190, size = 1000;
  for (std::size_t i = 0; i < n; ++i) {
    f.send({.seq = f.peer_seq, .ack = f.our_seq, .flags = ACK}, pattern(size));
    f.peer_seq += size;
    f.settle(10us);
  }
  f.settle();
  auto acks = f.take();
  REQUIRE(!acks.empty());
  CHECK(acks.back().ack == f.peer_seq);
  // The application reads it all at once. Half way the window could grow by half
  // the buffer: that update was sent there and then, and the rest of the reads
  // waited for the next ACK. Now it is owed, and leaves after the reads with all of it.
  std::size_t bytes_read = 0;
  auto reader = [&]() -> task<void> {
    for (std::size_t i = 0; i < n; ++i) {
      auto d = co_await f.conn->read();
      if (!d) co_return;
      bytes_read += d->size();
    }
  };
  auto r = spawn(f.sched, reader());
  f.settle();
  CHECK(bytes_read == n * size);
  auto updates = f.take();
  REQUIRE(updates.size() == 1);
  CHECK(updates[0].ack == f.peer_seq);
  CHECK((std::size_t{updates[0].window} << 3) == sim_stack::config::tcp_receive_buffer);  // window scale 3
}

TEST_CASE("RFC 896: Nagle holds a small segment while data is unacknowledged, set_nodelay sends it", "[tcp]") {
  for (bool nodelay : {false, true}) {
    INFO("nodelay " << nodelay);
    fixture f;
    f.handshake();
    f.take();
    f.conn->set_nodelay(nodelay);
    auto writer = [&]() -> task<void> {
      for (int i = 0; i < 2; ++i) {
        auto page = f.pool->allocate();
        auto r = co_await f.conn->write(page->head(10));
        CHECK(r);
      }
    };
    auto w = spawn(f.sched, writer());
    f.settle(1ms);
    auto got = f.take();
    std::size_t segments = 0;
    for (auto& s : got) segments += !s.data.empty();
    CHECK(segments == (nodelay ? 2u : 1u));
    f.send({.seq = f.peer_seq, .ack = f.our_seq + 10, .flags = ACK});  // the first is acknowledged
    f.settle(1ms);
    got = f.take();
    if (!nodelay) {
      REQUIRE(got.size() == 1);
      CHECK(got[0].data.size() == 10);  // now the held one goes
    }
  }
}

TEST_CASE("TCP: the views of one write leave together, in full-sized segments, Nagle off", "[tcp]") {
  // A response's head and body written at once are one segment, not one each
  // (the head alone would go at once with Nagle off, and the body behind it).
  struct shape {
    std::size_t head, body;
    std::vector<std::size_t> segments;
  };
  for (const shape& want : {shape{178, 697, {875}}, shape{100, 2000, {1460, 640}}}) {
    INFO("views of " << want.head << " and " << want.body << " bytes");
    fixture f;
    f.handshake();
    f.take();
    f.conn->set_nodelay(true);
    auto page = f.pool->allocate();
    const bytes data = pattern(want.head + want.body, 7);
    std::copy(data.begin(), data.end(), page->data());
    const std::array<view, 2> views{page->head(want.head), page->slice(want.head, want.body).value()};
    auto writer = [&]() -> task<void> {
      auto r = co_await f.conn->write(std::span<const view>(views));
      CHECK(r);
    };
    auto w = spawn(f.sched, writer());
    f.settle(1ms);
    bytes got_data;
    std::vector<std::size_t> sizes;
    for (auto& s : f.take()) {
      if (s.data.empty()) continue;
      sizes.push_back(s.data.size());
      got_data.insert(got_data.end(), s.data.begin(), s.data.end());
    }
    CHECK(sizes == want.segments);
    CHECK(got_data == data);
  }
}

TEST_CASE("TCP: try_write sends a write at once when all of it fits, else queues none of it", "[tcp]") {
  fixture f;
  f.handshake();
  f.take();
  f.conn->set_nodelay(true);
  auto page = f.pool->allocate();
  const bytes data = pattern(1000, 3);
  std::copy(data.begin(), data.end(), page->data());
  const view v = page->head(1000);
  const std::span<const view> one(&v, 1);
  REQUIRE(f.conn->try_write(one));
  f.settle(1ms);
  auto sent = f.take();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].data == data);
  // The peer acknowledges nothing: every view stays queued, until one slot is left.
  for (std::size_t i = 2; i < sim_stack::config::tcp_send_views; ++i) REQUIRE(f.conn->try_write(one));
  const std::size_t room = f.conn->connection().send_space();
  REQUIRE(room >= 2000);
  const std::array<view, 2> two{v, v};
  auto r = f.conn->try_write(two);  // the bytes fit, the views do not
  REQUIRE_FALSE(r);
  CHECK(r.err() == error::would_block);
  CHECK(f.conn->connection().send_space() == room);  // nothing of it was queued
  CHECK(f.conn->try_write(one));
  CHECK(f.conn->connection().send_space() == 0);
}

TEST_CASE("RFC 1122 4.2.3.6: keep-alive probes an idle peer and gives up when it is gone", "[tcp]") {
  fixture f;
  f.handshake();
  f.take();
  f.conn->set_keepalive(true);
  // (the peer refreshes our ARP entry first, or the probe would wait for ARP)
  auto refresh_arp = [&] {
    f.peer.send(ethernet(mac_address::broadcast(), f.peer_mac, 0x0806, arp(1, f.peer_mac, peer_ip, {}, us)));
    f.settle();
    f.peer.received.clear();
  };
  f.settle(sim_stack::config::tcp_keepalive_idle - 1s);
  refresh_arp();
  f.settle(2s);
  auto got = f.take();
  REQUIRE(got.size() == 1);
  CHECK(got[0].seq == f.our_seq - 1);  // a probe: one byte before SND.UNA, no data
  CHECK(got[0].data.empty());
  f.send({.seq = f.peer_seq, .ack = f.our_seq, .flags = ACK});  // the peer is alive
  f.settle(sim_stack::config::tcp_keepalive_interval * 2);
  CHECK(f.take().empty());  // idle again: the next probe comes after the idle time
  f.settle(sim_stack::config::tcp_keepalive_idle +
           sim_stack::config::tcp_keepalive_interval * (sim_stack::config::tcp_keepalive_probes + 1));
  CHECK(f.conn->state() == tcp::state::closed);
  CHECK(f.conn->connection().failure() == error::timed_out);
}

TEST_CASE("RFC 1122 4.2.2.13: data for a connection its application closed draws a RST", "[tcp][hostile]") {
  fixture f;
  f.handshake();
  f.take();
  f.conn.reset();  // the application closes: FIN-WAIT-1
  f.settle();
  auto got = f.take();
  REQUIRE(got.size() == 1);
  CHECK((got[0].flags & FIN) != 0);
  f.send({.seq = f.peer_seq, .ack = f.our_seq + 1, .flags = ACK | PSH}, pattern(50));  // the peer goes on sending
  f.settle();
  got = f.take();
  REQUIRE(!got.empty());
  CHECK((got.back().flags & RST) != 0);
  CHECK(f.dropped(tcp_drop::data_after_close) == 1);
  f.settle();
  CHECK(f.connections() == 0);
}
