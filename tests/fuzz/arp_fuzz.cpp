// tests/fuzz/arp_fuzz.cpp: libFuzzer target for ARP (RFC 826): the packet format
// (uni/net/arp.hpp), the neighbour table (uni/net/arp_cache.hpp) and the stack's
// ARP input. The input is an ARP packet (the Ethernet payload).
//   1. arp_packet::parse accepts only Ethernet/IPv4 requests and replies of 28
//      bytes or more from a unicast sender, reads the fields where RFC 826 puts
//      them, and emit() gives back the same 28 bytes;
//   2. the same bytes drive an arp_cache<4> as a list of operations (learn,
//      refresh, start, lookup, time passing), checked against what the table
//      promises: bounded, learned entries found until they expire (or, if used,
//      while they are confirmed by at most max_requests requests to their own
//      address), resolution retried at most max_requests times and then
//      reported failed exactly once;
//   3. the packet goes to a stack three times: with an empty table, while the
//      sender's address is being resolved for a waiting packet, and with the
//      sender already known. A request for our address gets exactly one reply to
//      its sender; anything else no ARP answer; a packet waiting on the sender's
//      address leaves as soon as the sender is heard from.
#include <algorithm>
#include <cstring>
#include <vector>

#include "fuzz_support.hpp"

using namespace fuzz;

namespace {

void check_parser(std::span<const std::uint8_t> b) {
  auto p = arp_packet::parse(b);
  if (!p) {
    FUZZ_CHECK(b.size() < arp_packet::size ? p.err() == error::truncated : p.err() == error::malformed);
    return;
  }
  FUZZ_CHECK(b.size() >= arp_packet::size);
  FUZZ_CHECK(wire::load_be16(&b[0]) == 1 && wire::load_be16(&b[2]) == 0x0800 && b[4] == 6 && b[5] == 4);
  FUZZ_CHECK(!p->sender_mac.is_multicast());
  FUZZ_CHECK(static_cast<std::uint16_t>(p->op) == wire::load_be16(&b[6]));
  FUZZ_CHECK(std::memcmp(p->sender_mac.bytes.data(), &b[8], 6) == 0 && p->sender_ip.value == wire::load_be32(&b[14]));
  FUZZ_CHECK(std::memcmp(p->target_mac.bytes.data(), &b[18], 6) == 0 && p->target_ip.value == wire::load_be32(&b[24]));
  std::uint8_t out[arp_packet::size];
  p->emit(out);
  FUZZ_CHECK(std::memcmp(out, b.data(), arp_packet::size) == 0);
}

// The bytes as operations on a small table, with a model of what each address
// must be in: [op][address index][argument], addresses 10.0.0.(1..8).
void check_cache(std::span<const std::uint8_t> b) {
  constexpr std::size_t cap = 4, addresses = 8;
  const arp_timing timing{};
  arp_cache<cap> cache{timing};
  time_point now{};
  struct model {
    bool resolving = false;
    unsigned requests = 0;        // sent for the resolution in progress
    std::optional<mac_address> learned;
    time_point learned_at{};
    bool used = false;            // looked up since learned_at
    unsigned probes = 0;          // requests confirming it since it expired
  } m[addresses];
  auto ip = [](std::size_t i) { return ipv4_address::from_octets(10, 0, 0, static_cast<std::uint8_t>(i + 1)); };
  auto index = [&](ipv4_address a) { return static_cast<std::size_t>((a.value & 0xff) - 1); };

  for (std::size_t at = 0; at + 3 <= b.size(); at += 3) {
    const std::size_t i = b[at + 1] % addresses;
    const mac_address mac{{0x02, 0, 0, 0, static_cast<std::uint8_t>(i), b[at + 2]}};
    switch (b[at] % 5) {
      case 0:
        if (cache.learn(ip(i), mac, now)) {
          m[i] = {false, 0, mac, now};
          const mac_address* got = cache.lookup(ip(i), now);
          FUZZ_CHECK(got && *got == mac);
          m[i].used = true;
        }
        break;
      case 1:
        if (cache.refresh(ip(i), mac, now)) m[i] = {false, 0, mac, now};
        break;
      case 2: {
        auto r = cache.start(ip(i), now);
        if (r == arp_cache<cap>::start_result::started) {
          FUZZ_CHECK(!m[i].resolving);
          m[i] = {true, 1, std::nullopt, {}};
        }
        if (r == arp_cache<cap>::start_result::pending) {
          const bool found = cache.lookup(ip(i), now) != nullptr;
          FUZZ_CHECK(m[i].resolving || found);
          m[i].used |= found;
        }
        FUZZ_CHECK(cache.pending(ip(i)) == (r != arp_cache<cap>::start_result::table_full && m[i].resolving));
        break;
      }
      case 3: {
        auto got = cache.lookup(ip(i), now);
        // Found only what was learned and not yet expired, or used before it
        // expired (it may have been evicted, or forgotten after its probes).
        if (got) {
          FUZZ_CHECK(m[i].learned == *got && (now < m[i].learned_at + timing.reachable_time || m[i].used));
          m[i].used = true;
        }
        break;
      }
      case 4:
        now += std::chrono::milliseconds(b[at + 2]) * 20;
        cache.on_timer(
            now,
            [&](ipv4_address a, mac_address to) {
              auto& e = m[index(a)];
              if (to == mac_address::broadcast()) {
                FUZZ_CHECK(e.resolving && ++e.requests <= timing.max_requests);
                return;
              }
              // A confirmation: of a used entry, past its expiry, to its own address.
              FUZZ_CHECK(e.learned == to && e.used && now >= e.learned_at + timing.reachable_time);
              FUZZ_CHECK(++e.probes <= timing.max_requests);
            },
            [&](ipv4_address a) {
              auto& e = m[index(a)];
              FUZZ_CHECK(e.resolving && e.requests == timing.max_requests);
              e.resolving = false;
            });
        break;
    }
    // A learn or refresh ends a resolution; an eviction can end a learned entry.
    for (std::size_t k = 0; k < addresses; ++k) {
      if (m[k].learned && cache.pending(ip(k))) m[k].learned.reset();
      if (!cache.pending(ip(k))) m[k].resolving = false;
    }
    FUZZ_CHECK(cache.size() <= cap);
    // Every entry has a deadline: an expiry, a confirmation or a retry.
    FUZZ_CHECK((cache.next_deadline() != time_never) == (cache.size() != 0));
    const bool any_resolving = std::any_of(std::begin(m), std::end(m), [](const model& e) { return e.resolving; });
    if (any_resolving) FUZZ_CHECK(cache.next_deadline() <= now + timing.retry_interval);
  }
}

enum class scenario { empty_table, sender_awaited, sender_known };

void check_stack(std::span<const std::uint8_t> body, scenario sc) {
  auto p = arp_packet::parse(body);
  stack_harness h;
  auto& st = h.stack();
  const ipv4_address sender = p ? p->sender_ip : peer_ip;
  std::uint8_t echo[] = {8, 0, 0, 0, 0, 1, 0, 1, 'f', 'u', 'z', 'z'};  // an echo request
  wire::store_be16(&echo[2], internet_checksum(echo));
  const view waiting = view::unowned(std::span<const std::uint8_t>(echo));
  if (sc == scenario::sender_awaited) {
    (void)st.ip_send(sender, ip_protocol::icmp, std::span<const view>(&waiting, 1));
    h.take_sent();
  }
  const std::size_t waiting_before = st.pending_packets();
  if (sc == scenario::sender_known && p && !p->sender_ip.is_any()) {
    arp_packet hello{arp_op::reply, p->sender_mac, p->sender_ip, our_mac, our_ip};
    std::uint8_t b[arp_packet::size];
    hello.emit(b);
    h.inject(ethernet_frame(our_mac, p->sender_mac, ethertype::arp, b));
    h.take_sent();
  }
  const auto before = st.statistics().arp;
  if (!h.inject(ethernet_frame(mac_address::broadcast(), peer_mac, ethertype::arp, body))) return;
  const auto after = st.statistics().arp;
  auto sent = h.take_sent();

  FUZZ_CHECK(after.received == before.received + (p ? 1 : 0));
  FUZZ_CHECK(st.arp_entries() <= fuzz_config::arp_entries);
  std::size_t replies = 0, datagrams = 0;
  for (const auto& f : sent) {
    if (wire::load_be16(&f[12]) == static_cast<std::uint16_t>(ethertype::ipv4)) {
      ++datagrams;
      continue;
    }
    auto a = arp_packet::parse(std::span(f).subspan(ethernet_view::header_size));
    FUZZ_CHECK(a->op == arp_op::reply);
    ++replies;
    FUZZ_CHECK(p && a->target_mac == p->sender_mac && a->target_ip == p->sender_ip);
  }
  const bool asks_us = p && p->op == arp_op::request && p->target_ip == our_ip;
  FUZZ_CHECK(replies == (asks_us ? 1u : 0u));
  // The waiting packet goes out when its next hop answers, whoever was asked.
  if (sc == scenario::sender_awaited && waiting_before == 1) {
    const bool heard = p && !p->sender_ip.is_any() && p->sender_ip == sender && st.address().contains(sender);
    FUZZ_CHECK(st.pending_packets() == (heard ? 0u : 1u));
    FUZZ_CHECK(datagrams == (heard ? 1u : 0u));
  } else {
    FUZZ_CHECK(datagrams == 0);
  }
  h.settle(5s);  // retries and give-ups
  h.finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  check_parser(in);
  check_cache(in);
  for (scenario sc : {scenario::empty_table, scenario::sender_awaited, scenario::sender_known}) check_stack(in, sc);
  return 0;
}
