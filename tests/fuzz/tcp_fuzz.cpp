// tests/fuzz/tcp_fuzz.cpp: libFuzzer target for TCP's state machines through a
// whole uni::Stack (uni/net/tcp/): records (fuzz_support.hpp) of TCP segments
// from the peer, wrapped in IPv4 and Ethernet with every checksum made right,
// to a stack running a TCP echo service on port 7, time running between them.
// Control bits: 0x80 makes the ACK number relative to the next sequence number
// the stack last sent, 0x40 the sequence number relative to the last ACK it
// sent, so the fuzzer can follow a conversation without guessing our ISN; the
// low six bits let 0 to 3.15 s pass after the segment.
// After every segment: every frame the stack sent is well formed, the tables
// are within their bounds. At the end the service is stopped, every timer runs
// out, and every connection must be gone and every page back in the pool.
#include <array>
#include <vector>

#include "fuzz_support.hpp"

using namespace fuzz;

namespace {

// Small tables and short timers, so that inputs reach the bounds and drain.
struct tcp_fuzz_config : fuzz_config {
  static constexpr bool tcp = true;
  static constexpr std::size_t tcp_pool_reserve = 16;  // of the shared pool's 128 pages
  static constexpr std::size_t tcp_connections = 8;
  static constexpr std::size_t tcp_listeners = 2;
  static constexpr std::size_t tcp_backlog = 2;
  static constexpr std::size_t tcp_half_open = 3;
  static constexpr std::size_t tcp_send_buffer = 16 * 1024;
  static constexpr std::size_t tcp_send_views = 16;
  static constexpr std::size_t tcp_receive_buffer = 8 * 1024;
  static constexpr std::size_t tcp_receive_views = 8;
  static constexpr std::size_t tcp_out_of_order = 4;
  static constexpr duration tcp_time_wait = std::chrono::seconds(2);
  static constexpr duration tcp_fin_wait_2 = std::chrono::seconds(5);
  static constexpr unsigned tcp_syn_retries = 2;
  static constexpr unsigned tcp_max_retries = 4;
};

using stack_type = Stack<CaptureNetif, sim::ManualClock, tcp_fuzz_config>;
using stream_type = stack_type::tcp_stream;

task<void> echo_one(stream_type s) {
  while (true) {
    auto d = co_await s.read();
    if (!d || d->empty()) break;
    auto w = co_await s.write(*d);
    if (!w) break;
  }
  s.close();
}

task<void> echo_service(stack_type& stack, std::array<join_handle<void>, 8>& active) {
  auto l = stack.tcp_listen(echo_port);
  FUZZ_CHECK(l.ok());
  while (true) {
    auto c = co_await l->accept();
    FUZZ_CHECK(c.ok());
    join_handle<void>* slot = nullptr;
    for (auto& h : active)
      if (!h.valid() || h.done()) slot = &h;
    if (!slot) continue;  // more connections than the table holds cannot happen; drop it
    *slot = spawn(stack.sched(), echo_one(std::move(*c)));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FUZZ_CHECK(shared_pool().statistics().in_use == 0);
  scheduler sched;
  sim::ManualClock clock;
  CaptureNetif nic;
  std::optional<stack_type> stack;
  stack.emplace(nic, clock, sched, shared_pool(), stack_settings{{our_ip, 24}, peer_ip, false, 1});
  stack->start();
  std::array<join_handle<void>, 8> active;
  auto service = spawn(sched, echo_service(*stack, active));
  auto settle = [&](duration d) {
    auto wait = [](scheduler& s, duration t) -> task<void> { co_await s.sleep_for(t); };
    FUZZ_CHECK(run(sched, clock, wait(sched, d)).ok());
    FUZZ_CHECK(stack->tcp_statistics().connections() <= tcp_fuzz_config::tcp_connections);
  };
  std::uint32_t our_next = 0, our_ack = 0;  // from the last TCP segment the stack sent
  auto take_sent = [&] {
    for (const auto& f : nic.sent) {
      check_outgoing(f);
      if (f.size() >= 14 + 20 + 20 && f[14 + 9] == 6) {
        const std::uint8_t* t = &f[14 + 20];
        const std::size_t hl = static_cast<std::size_t>(t[12] >> 4) * 4;
        const std::uint32_t len = static_cast<std::uint32_t>(f.size() - 14 - 20 - hl) + ((t[13] & 3) ? 1 : 0);
        our_next = wire::load_be32(t + 4) + len;
        our_ack = wire::load_be32(t + 8);
      }
    }
    nic.sent.clear();
  };
  // The peer's MAC is learnt first, as a real peer's ARP would teach it.
  std::vector<std::uint8_t> arp(arp_packet::size);
  arp_packet{arp_op::request, peer_mac, peer_ip, {}, our_ip}.emit(arp);
  auto page = shared_pool().allocate_reserved();
  FUZZ_CHECK(page.ok());
  auto af = ethernet_frame(our_mac, peer_mac, ethertype::arp, arp);
  std::memcpy(page->data(), af.data(), af.size());
  nic.receiver(page->head(af.size()));
  page = view{};
  settle(0ms);
  take_sent();

  records in({data, size});
  while (auto r = in.next()) {
    std::vector<std::uint8_t> seg(r->bytes.begin(), r->bytes.end());
    if (seg.size() >= tcp::header::min_size) {
      if (r->control & 0x80) wire::store_be32(&seg[8], wire::load_be32(&seg[8]) + our_next);
      if (r->control & 0x40) wire::store_be32(&seg[4], wire::load_be32(&seg[4]) + our_ack);
      seg[16] = seg[17] = 0;
      checksum_accumulator acc;
      add_pseudo_header(acc, peer_ip, our_ip, ip_protocol::tcp, seg.size());
      acc.add(seg);
      wire::store_be16(&seg[16], acc.finish());
    }
    const auto packet = ipv4_packet(peer_ip, our_ip, ip_protocol::tcp, seg);
    const auto frame = ethernet_frame(our_mac, peer_mac, ethertype::ipv4, packet);
    if (frame.size() > page_size) continue;
    auto p = shared_pool().allocate_reserved();
    if (!p) continue;
    std::memcpy(p->data(), frame.data(), frame.size());
    nic.receiver(p->head(frame.size()));
    p = view{};
    settle(std::chrono::milliseconds(50) * (r->control & 0x3f));
    take_sent();
  }
  // Stop the service (its connections close), let every timer run out.
  service = {};
  for (auto& h : active) h = {};
  settle(std::chrono::minutes(20));
  take_sent();
  FUZZ_CHECK(stack->tcp_statistics().connections() == 0);
  stack.reset();
  FUZZ_CHECK(shared_pool().statistics().in_use == 0);
  return 0;
}
