// IPv4 reassembly (RFC 791 §3.2, RFC 815) and the ARP table state machines,
// with time passed in: orders, overlaps, duplicates, bounds and timeouts.
#include <catch2/catch.hpp>

#include <memory>
#include <uni/net/arp_cache.hpp>
#include <uni/net/ipv4_reassembly.hpp>
#include <vector>

#include "frames.hpp"

using namespace uni;

namespace {
struct harness {
  std::unique_ptr<static_page_pool<64>> pool = std::make_unique<static_page_pool<64>>();
  ipv4_reassembly<4, 16384> r{std::chrono::seconds(30)};
  frames::bytes datagram = frames::pattern(12000);

  ipv4_header header(std::size_t offset, bool more, std::uint16_t id = 1) {
    ipv4_header h;
    h.source = ipv4_address::from_octets(10, 0, 0, 1);
    h.destination = ipv4_address::from_octets(10, 0, 0, 2);
    h.protocol = 17;
    h.identification = id;
    h.flags_fragment = static_cast<std::uint16_t>((offset / 8) | (more ? ipv4_header::flag_mf : 0));
    return h;
  }
  // What add() answered, and the datagram when it was complete.
  struct outcome {
    reassembly_status status;
    view_chain payload;
  };
  outcome add(std::size_t from, std::size_t to, bool more, time_point t = {}, std::uint16_t id = 1) {
    view v = *pool->allocate();
    std::copy(datagram.begin() + static_cast<long>(from), datagram.begin() + static_cast<long>(to), v.data());
    outcome o{reassembly_status::incomplete, {}};
    o.status = r.add(header(from, more, id), v.head(to - from), t, o.payload);
    return o;
  }
  frames::bytes flatten(const view_chain& c) {
    frames::bytes out(c.length());
    c.copy_to(out);
    return out;
  }
};
}  // namespace

TEST_CASE("fragments in any order make the datagram, in order", "[reassembly]") {
  for (int order = 0; order < 6; ++order) {
    harness h;
    const std::size_t cuts[][3] = {{0, 1000, 1}, {1000, 2000, 1}, {2000, 3000, 0}};
    int perm[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    harness::outcome last{reassembly_status::incomplete, {}};
    for (int i = 0; i < 3; ++i) {
      auto& c = cuts[perm[order][i]];
      last = h.add(c[0], c[1], c[2] == 1);
      if (i < 2) CHECK(last.status == reassembly_status::incomplete);
    }
    REQUIRE(last.status == reassembly_status::complete);
    CHECK(h.flatten(last.payload) == frames::bytes(h.datagram.begin(), h.datagram.begin() + 3000));
    CHECK(h.r.in_progress() == 0);
    CHECK(h.r.bytes_held() == 0);
  }
}

TEST_CASE("an exact duplicate is ignored, any overlap discards the datagram", "[reassembly]") {
  harness h;
  CHECK(h.add(0, 1000, true).status == reassembly_status::incomplete);
  CHECK(h.add(0, 1000, true).status == reassembly_status::duplicate);
  CHECK(h.add(992, 2000, true).status == reassembly_status::overlap);
  CHECK(h.r.in_progress() == 0);
  CHECK(h.pool->available() == 64);  // every held page went back
}

TEST_CASE("bogus fragments discard the datagram", "[reassembly]") {
  harness h;
  CHECK(h.add(0, 1001, true).status == reassembly_status::bogus);  // not a multiple of 8
  h.add(0, 1000, true);
  h.add(2000, 3000, false);
  CHECK(h.add(3000, 3008, true).status == reassembly_status::bogus);  // beyond the known end
  h.add(1000, 2000, true);
  CHECK(h.add(0, 8, false).status == reassembly_status::bogus);  // a second, earlier end
  CHECK(h.r.in_progress() == 0);
}

TEST_CASE("an end beyond 65535 bytes is bogus", "[reassembly]") {
  harness h;
  ipv4_header hd = h.header(65528, false);
  view v = *h.pool->allocate();
  view_chain whole;
  CHECK(h.r.add(hd, v.head(100), {}, whole) == reassembly_status::bogus);
  CHECK(whole.count() == 0);
}

TEST_CASE("incomplete datagrams time out and free their pages", "[reassembly]") {
  harness h;
  h.add(0, 1000, true, time_point{0s});
  CHECK(h.r.next_deadline() == time_point{30s});
  CHECK(h.r.expire(time_point{29s}) == 0);
  CHECK(h.r.expire(time_point{30s}) == 1);
  CHECK(h.r.in_progress() == 0);
  CHECK(h.pool->available() == 64);
}

TEST_CASE("the table is bounded: the oldest datagram is evicted, bytes are budgeted", "[reassembly]") {
  harness h;
  for (std::uint16_t id = 1; id <= 4; ++id) h.add(0, 1000, true, time_point{std::chrono::seconds(id)}, id);
  CHECK(h.r.in_progress() == 4);
  h.add(0, 1000, true, time_point{10s}, 5);
  CHECK(h.r.in_progress() == 4);
  CHECK(h.r.evictions() == 1);
  // Four datagrams of up to 11 fragments would hold 44000 bytes: the budget is 16384.
  std::size_t over = 0;
  for (std::size_t off = 1000; off < 11000 && over == 0; off += 1000) {
    for (std::uint16_t id = 2; id <= 5; ++id) {
      auto o = h.add(off, off + 1000, true, time_point{11s}, id);
      over += o.status == reassembly_status::over_budget;
    }
  }
  CHECK(h.r.bytes_held() <= 16384);
  CHECK(over > 0);
}

TEST_CASE("more fragments than a chain holds discard the datagram", "[reassembly]") {
  harness h;
  reassembly_status s = reassembly_status::incomplete;
  for (std::size_t i = 0; i <= view_chain::capacity && s == reassembly_status::incomplete; ++i)
    s = h.add(i * 8, i * 8 + 8, true).status;
  CHECK(s == reassembly_status::too_many_fragments);
  CHECK(h.pool->available() == 64);
}

TEST_CASE("ARP table: entries expire, resolution retries then fails", "[arp]") {
  arp_cache<2> c{arp_timing{std::chrono::seconds(60), std::chrono::seconds(1), 3}};
  const ipv4_address x = ipv4_address::from_octets(10, 0, 0, 9);
  const mac_address m{{2, 1, 1, 1, 1, 1}};
  CHECK(c.learn(x, m, time_point{0s}));
  CHECK(c.next_deadline() == time_point{60s});
  CHECK(c.lookup(x, time_point{60s}) == nullptr);  // expired, never used

  using sr = arp_cache<2>::start_result;
  CHECK(c.start(x, time_point{100s}) == sr::started);
  CHECK(c.start(x, time_point{100s}) == sr::pending);
  std::vector<int> events;  // 1 = broadcast request, 0 = failure
  auto tick = [&](time_point t) {
    c.on_timer(
        t, [&](ipv4_address, mac_address to) { events.push_back(to == mac_address::broadcast()); },
        [&](ipv4_address) { events.push_back(0); });
  };
  CHECK(c.next_deadline() == time_point{101s});
  tick(time_point{101s});
  tick(time_point{102s});
  tick(time_point{103s});
  CHECK(events == std::vector<int>{1, 1, 0});  // requests 2 and 3, then give up
  CHECK_FALSE(c.pending(x));
  CHECK(c.next_deadline() == time_never);
}

TEST_CASE("ARP table: an entry in use when it expires stays in use while requests to its address confirm it",
          "[arp]") {
  arp_cache<2> c{arp_timing{std::chrono::seconds(60), std::chrono::seconds(1), 3}};
  const ipv4_address x = ipv4_address::from_octets(10, 0, 0, 9);
  const mac_address m{{2, 1, 1, 1, 1, 1}};
  std::vector<mac_address> requests;
  int failures = 0;
  auto tick = [&](time_point t) {
    c.on_timer(t, [&](ipv4_address, mac_address to) { requests.push_back(to); }, [&](ipv4_address) { ++failures; });
  };
  auto found = [&](time_point t) {  // lookup's MAC is m
    const mac_address* p = c.lookup(x, t);
    return p && *p == m;
  };
  CHECK(c.learn(x, m, time_point{0s}));
  CHECK(found(time_point{59s}));
  CHECK(found(time_point{60s}));  // expired but used: still used
  tick(time_point{60s});
  CHECK(requests == std::vector<mac_address>{m});  // asked at its own address
  CHECK(found(time_point{60500ms}));
  CHECK(c.start(x, time_point{60500ms}) == arp_cache<2>::start_result::pending);

  // An answer makes it reachable for another 60 s; unused, it then goes quietly.
  CHECK(c.refresh(x, m, time_point{60500ms}));
  CHECK(c.next_deadline() == time_point{120500ms});
  tick(time_point{120500ms});
  CHECK(requests.size() == 1);
  CHECK(c.size() == 0);

  // No answer: max_requests requests to it, then it is forgotten (no failure:
  // nothing was waiting for it) and the next use resolves it afresh.
  CHECK(c.learn(x, m, time_point{200s}));
  CHECK(found(time_point{201s}));
  for (int s = 260; s <= 263; ++s) tick(time_point{std::chrono::seconds(s)});
  CHECK(requests.size() == 4);
  CHECK(failures == 0);
  CHECK(c.lookup(x, time_point{263s}) == nullptr);
  CHECK(c.start(x, time_point{263s}) == arp_cache<2>::start_result::started);
  CHECK(c.probes() == 2);
}

TEST_CASE("ARP table: bounded, evicts the least recently used, never one being resolved", "[arp]") {
  arp_cache<2> c;
  auto ip = [](std::uint8_t n) { return ipv4_address::from_octets(10, 0, 0, n); };
  const mac_address m{{2, 1, 1, 1, 1, 1}};
  using sr = arp_cache<2>::start_result;
  CHECK(c.learn(ip(1), m, time_point{1s}));
  CHECK(c.learn(ip(2), m, time_point{2s}));
  (void)c.lookup(ip(1), time_point{3s});  // 1 is now more recent than 2
  CHECK(c.learn(ip(3), m, time_point{4s}));
  CHECK(c.lookup(ip(1), time_point{5s}) != nullptr);
  CHECK(c.lookup(ip(2), time_point{5s}) == nullptr);
  CHECK(c.evictions() == 1);
  CHECK(c.start(ip(4), time_point{6s}) == sr::started);
  CHECK(c.start(ip(5), time_point{6s}) == sr::started);
  CHECK(c.start(ip(6), time_point{6s}) == sr::table_full);  // both slots resolving
  CHECK_FALSE(c.learn(ip(7), m, time_point{6s}));
}
