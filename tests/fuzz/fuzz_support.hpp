// tests/fuzz/fuzz_support.hpp: what the libFuzzer targets share.
//
//   FUZZ_CHECK(cond)   a broken invariant: prints it and aborts, which libFuzzer
//                      reports as a crash and saves the input;
//   records            one input carrying several packets (see below);
//   fix_checksums      makes a mutated packet's checksums right again, so the
//                      fuzzer gets past them into the logic behind;
//   stack_harness      a uni::Stack over a device that keeps every frame sent,
//                      with a manual clock, a UDP echo service on port 7, and
//                      checks of every frame the stack sends, of its counters,
//                      and that every page returns to the pool at the end.
//
// The addresses are those the captures in corpus/ were taken with (capture.sh):
// captured frames reach the harness's stack unchanged.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include <uni/core/checksum.hpp>
#include <uni/core/run.hpp>
#include <uni/core/wire.hpp>
#include <uni/sim/manual_clock.hpp>
#include <uni/stack.hpp>

#define FUZZ_CHECK(cond)                                                                        \
  do {                                                                                          \
    if (!(cond)) {                                                                              \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);        \
      std::abort();                                                                             \
    }                                                                                           \
  } while (0)

namespace fuzz {

using namespace uni;
using namespace std::chrono_literals;

inline constexpr mac_address our_mac{{0x02, 0x75, 0x6e, 0x69, 0x00, 0x02}};
inline constexpr mac_address peer_mac{{0x02, 0x75, 0x6e, 0x69, 0x00, 0x01}};
inline constexpr ipv4_address our_ip = ipv4_address::from_octets(10, 0, 0, 2);
inline constexpr ipv4_address peer_ip = ipv4_address::from_octets(10, 0, 0, 1);
inline constexpr std::uint16_t echo_port = 7;

// ---- Several packets in one input ------------------------------------------------
//
// A record is [control: 1 byte][length: 2 bytes, big-endian][length bytes]; a last
// record shorter than its length keeps what there is. Control bits:
//   0x80  fix the IPv4 header checksum      0x40  fix the ICMP/UDP checksum
//   0x3f  how long to let time run after the packet (units chosen by the target)
struct record {
  std::uint8_t control = 0;
  std::span<const std::uint8_t> bytes;

  bool fix_ip() const noexcept { return control & 0x80; }
  bool fix_transport() const noexcept { return control & 0x40; }
  unsigned ticks() const noexcept { return control & 0x3f; }
};

class records {
 public:
  explicit records(std::span<const std::uint8_t> input) noexcept : rest_(input) {}

  std::optional<record> next() noexcept {
    if (rest_.size() < 3) return std::nullopt;
    record r{rest_[0], {}};
    std::size_t n = wire::load_be16(&rest_[1]);
    rest_ = rest_.subspan(3);
    if (n > rest_.size()) n = rest_.size();
    r.bytes = rest_.first(n);
    rest_ = rest_.subspan(n);
    return r;
  }

 private:
  std::span<const std::uint8_t> rest_;
};

// ---- Checksums ---------------------------------------------------------------------

// Recomputes the header checksum of the IPv4 packet at the start of `ip`, if its
// header length fits.
inline void fix_ipv4_checksum(std::span<std::uint8_t> ip) noexcept {
  if (ip.size() < ipv4_header::min_size) return;
  const std::size_t hl = static_cast<std::size_t>(ip[0] & 0x0f) * 4;
  if (hl < ipv4_header::min_size || hl > ip.size()) return;
  ip[10] = ip[11] = 0;
  wire::store_be16(&ip[10], internet_checksum(ip.first(hl)));
}

// Recomputes the ICMP or UDP checksum of an unfragmented IPv4 packet (UDP over
// its length field, when that fits in the packet).
inline void fix_transport_checksum(std::span<std::uint8_t> ip) noexcept {
  auto h = ipv4_header::parse(ip);
  if (!h || h->is_fragment()) return;
  std::span<std::uint8_t> l4 = ip.subspan(h->header_length, h->payload_length());
  if (h->protocol == static_cast<std::uint8_t>(ip_protocol::icmp) && l4.size() >= icmp_header::size) {
    l4[2] = l4[3] = 0;
    wire::store_be16(&l4[2], internet_checksum(l4));
  } else if (h->protocol == static_cast<std::uint8_t>(ip_protocol::udp) && l4.size() >= udp_header::size) {
    const std::size_t len = wire::load_be16(&l4[4]);
    if (len < udp_header::size || len > l4.size()) return;
    l4[6] = l4[7] = 0;
    checksum_accumulator acc;
    add_pseudo_header(acc, h->source, h->destination, ip_protocol::udp, len);
    acc.add(l4.first(len));
    const std::uint16_t c = acc.finish();
    wire::store_be16(&l4[6], c == 0 ? 0xffff : c);
  }
}

// Applies a record's fix bits to the IPv4 packet `ip`.
inline void fix_checksums(const record& r, std::span<std::uint8_t> ip) noexcept {
  if (r.fix_ip() || r.fix_transport()) fix_ipv4_checksum(ip);
  if (r.fix_transport()) fix_transport_checksum(ip);
}

// ---- Frames the stack sends --------------------------------------------------------

// Every frame a stack sends must be well formed: ours, ARP or IPv4, within the
// MTU, with correct checksums, and any unfragmented ICMP or UDP datagram intact.
// From our_ip; or, for a stack that leases its address (`leasing`), from whatever
// it leased, and from 0.0.0.0 only for DHCP (RFC 1122 §3.2.1.3: 0.0.0.0 is a
// source only while a host learns its address).
inline void check_outgoing(std::span<const std::uint8_t> f, bool leasing = false, std::size_t mtu = 1500) {
  FUZZ_CHECK(f.size() >= ethernet_view::header_size && f.size() <= mtu + ethernet_view::header_size);
  mac_address dst, src;
  std::memcpy(dst.bytes.data(), f.data(), 6);
  std::memcpy(src.bytes.data(), f.data() + 6, 6);
  FUZZ_CHECK(src == our_mac);
  const std::uint16_t type = wire::load_be16(&f[12]);
  const auto body = f.subspan(ethernet_view::header_size);
  if (type == static_cast<std::uint16_t>(ethertype::arp)) {
    FUZZ_CHECK(body.size() == arp_packet::size);
    auto a = arp_packet::parse(body);
    FUZZ_CHECK(a.ok());
    FUZZ_CHECK(a->sender_mac == our_mac && (leasing || a->sender_ip == our_ip));
    // A request is broadcast, or sent to a known neighbour to confirm its entry
    // (RFC 1122 §2.3.2.1); either way it names no target MAC.
    if (a->op == arp_op::request)
      FUZZ_CHECK(a->target_mac == mac_address{} && (dst.is_broadcast() || !dst.is_multicast()));
    else FUZZ_CHECK(dst == a->target_mac);
    return;
  }
  FUZZ_CHECK(type == static_cast<std::uint16_t>(ethertype::ipv4));
  auto h = ipv4_header::parse(body);
  FUZZ_CHECK(h.ok());
  FUZZ_CHECK(h->header_length == ipv4_header::min_size && h->total_length == body.size());
  FUZZ_CHECK((leasing || h->source == our_ip) && h->ttl == default_config::ttl);
  if (!leasing)
    FUZZ_CHECK(!dst.is_broadcast() || h->destination.is_broadcast() || h->destination == ipv4_address{0x0a0000ffu});
  const auto l4 = body.subspan(h->header_length);
  if (h->source.is_any()) {
    FUZZ_CHECK(!h->is_fragment() && h->protocol == static_cast<std::uint8_t>(ip_protocol::udp) && l4.size() >= 8);
    FUZZ_CHECK(wire::load_be16(&l4[0]) == dhcp_client_port && wire::load_be16(&l4[2]) == dhcp_server_port);
  }
  if (h->is_fragment()) {
    FUZZ_CHECK(!h->more_fragments() || h->payload_length() % 8 == 0);
    return;
  }
  if (h->protocol == static_cast<std::uint8_t>(ip_protocol::icmp)) {
    FUZZ_CHECK(l4.size() >= icmp_header::size && internet_checksum(l4) == 0);
  } else if (h->protocol == static_cast<std::uint8_t>(ip_protocol::tcp)) {
    view v = view::unowned(l4);
    auto t = tcp::header::parse(std::span<const view>(&v, 1), h->source, h->destination);
    FUZZ_CHECK(t.ok());  // well formed, checksum right
    FUZZ_CHECK(!(t->has(tcp::syn) && t->has(tcp::rst)) && !(t->has(tcp::syn) && t->has(tcp::fin)));
    FUZZ_CHECK(l4.size() - t->header_length <= 1460);  // within the MSS we offered
  } else {
    FUZZ_CHECK(h->protocol == static_cast<std::uint8_t>(ip_protocol::udp));
    view v = view::unowned(l4);
    auto u = udp_header::parse(std::span<const view>(&v, 1), h->source, h->destination);
    FUZZ_CHECK(u.ok() && u->length == l4.size() && u->checksum != 0);
  }
}

// ---- A whole stack ---------------------------------------------------------------

// Small tables, so that inputs reach the bounds. TCP is left out: its tables are
// large and it gets a target of its own (see README.md).
struct fuzz_config : default_config {
  static constexpr bool tcp = false;
  static constexpr std::size_t arp_entries = 4;
  static constexpr std::size_t arp_pending_packets = 2;
  static constexpr std::size_t reassembly_slots = 2;
  static constexpr std::size_t reassembly_bytes = 16 * 1024;
  static constexpr std::size_t udp_sockets = 2;
  static constexpr std::size_t udp_queue = 2;
};

// A device that copies every frame it is given.
struct CaptureNetif {
  frame_receiver receiver{};
  std::vector<std::vector<std::uint8_t>> sent{};

  mac_address mac() const noexcept { return our_mac; }
  std::size_t mtu() const noexcept { return 1500; }
  void set_receiver(frame_receiver r) noexcept { receiver = r; }
  result<void> transmit(std::span<const view> frags) noexcept {
    std::vector<std::uint8_t> f(total_size(frags));
    gather(frags, f);
    sent.push_back(std::move(f));
    return {};
  }
};

// One pool for the whole fuzzing run; each input must give back every page.
inline page_pool& shared_pool() {
  static auto* pool = new static_page_pool<128>;  // never destroyed: leaks are checked per input
  return *pool;
}

template <class Config>
class basic_stack_harness {
 public:
  using stack_type = Stack<CaptureNetif, sim::ManualClock, Config>;
  using socket_type = typename stack_type::udp_socket;

  explicit basic_stack_harness(stack_settings settings = {{our_ip, 24}, peer_ip, false}) : leasing_(settings.dhcp) {
    FUZZ_CHECK(shared_pool().statistics().in_use == 0);
    stack_.emplace(nic_, clock_, sched_, shared_pool(), settings);
    stack_->start();
    auto s = stack_->udp_bind(echo_port);
    FUZZ_CHECK(s.ok());
    socket_.emplace(std::move(*s));
    echo_ = spawn(sched_, echo(*socket_));
    settle(0ms);
    take_sent();  // the gratuitous ARP
  }

  stack_type& stack() noexcept { return *stack_; }
  time_point now() const noexcept { return clock_.now(); }

  // Hands `frame` to the stack as the device would (in a page of its own);
  // false if the frame does not fit a page or the pool is empty.
  bool inject(std::span<const std::uint8_t> frame) {
    if (frame.size() > page_size) return false;
    auto page = shared_pool().allocate_reserved();
    if (!page) return false;
    if (!frame.empty()) std::memcpy(page->data(), frame.data(), frame.size());
    nic_.receiver(page->head(frame.size()));
    ++injected_;
    return true;
  }

  // Runs the scheduler (timers, the echo service) for `d` of simulated time.
  void settle(duration d) {
    auto wait = [](scheduler& s, duration t) -> task<void> { co_await s.sleep_for(t); };
    FUZZ_CHECK(run(sched_, clock_, wait(sched_, d)).ok());
    check_state();
  }

  // The frames sent since the last call, each checked.
  std::vector<std::vector<std::uint8_t>> take_sent() {
    for (const auto& f : nic_.sent) {
      check_outgoing(f, leasing_);
      // The transaction id of the last DHCP message (IPv4, no options, UDP port 68).
      if (f.size() >= 14 + 20 + 8 + 8 && f[23] == 17 && wire::load_be16(&f[34]) == dhcp_client_port)
        dhcp_xid_ = wire::load_be32(&f[14 + 20 + 8 + 4]);
    }
    return std::exchange(nic_.sent, {});
  }
  std::uint32_t dhcp_xid() const noexcept { return dhcp_xid_; }

  // Bounds and counters that must hold whatever came in.
  void check_state() const {
    const auto& st = stack_->statistics();
    FUZZ_CHECK(stack_->arp_entries() <= fuzz_config::arp_entries);
    FUZZ_CHECK(stack_->pending_packets() <= fuzz_config::arp_pending_packets);
    FUZZ_CHECK(stack_->reassembly_in_progress() <= fuzz_config::reassembly_slots);
    // Every frame is counted exactly once at the Ethernet layer, and every frame
    // Ethernet passes up exactly once by ARP, IPv4 or a hook.
    FUZZ_CHECK(st.ethernet.received + st.ethernet.dropped_by(ethernet_drop::truncated) == injected_);
    const std::uint64_t arp_in = st.arp.received + st.arp.dropped_by(arp_drop::malformed);
    std::uint64_t ip_in = st.ipv4.received;
    for (auto r : {ipv4_drop::truncated, ipv4_drop::bad_version, ipv4_drop::bad_header_length,
                   ipv4_drop::bad_total_length, ipv4_drop::bad_checksum})
      ip_in += st.ipv4.dropped_by(r);
    FUZZ_CHECK(st.ethernet.received == st.ethernet.dropped_by(ethernet_drop::not_for_us) +
                                           st.ethernet.dropped_by(ethernet_drop::unsupported_type) + arp_in + ip_in +
                                           st.hooks.by_ethertype + st.hooks.other_macs);
    // Datagrams IPv4 hands up are at most the packets it took in.
    const std::uint64_t up = st.icmp.received + st.icmp.dropped_by(icmp_drop::malformed) +
                             st.icmp.dropped_by(icmp_drop::bad_checksum) + st.udp.received +
                             st.udp.dropped_by(udp_drop::malformed) + st.udp.dropped_by(udp_drop::bad_checksum) +
                             st.ipv4.dropped_by(ipv4_drop::unknown_protocol) + st.hooks.by_ip_protocol;
    FUZZ_CHECK(up <= st.ipv4.received);
    FUZZ_CHECK(st.icmp.dropped_by(icmp_drop::no_buffers) == 0 || shared_pool().statistics().exhausted != 0);
    // A leased address is the one configured, and without a lease there is none.
    if constexpr (Config::dhcp) {
      if (const auto& l = stack_->lease()) {
        FUZZ_CHECK(stack_->address() == l->address && stack_->gateway() == l->router);
        FUZZ_CHECK(!l->address.address.is_any() && l->address.prefix <= 32);
      } else {
        FUZZ_CHECK(stack_->address().address.is_any());
      }
    }
  }

  // Lets every timer run out (ARP give-ups, reassembly timeouts), checks that
  // nothing is held any more, tears the stack down and checks that every page
  // came back to the pool.
  void finish() {
    settle(fuzz_config::reassembly_timeout + 10s);
    take_sent();
    FUZZ_CHECK(stack_->reassembly_in_progress() == 0);
    FUZZ_CHECK(stack_->pending_packets() == 0);
    echo_ = {};
    socket_.reset();
    stack_.reset();
    FUZZ_CHECK(shared_pool().statistics().in_use == 0);
  }

  ~basic_stack_harness() {
    if (stack_) finish();
  }

 private:
  // The udp-echo appliance's service: every datagram goes back to its sender.
  static task<void> echo(socket_type& s) {
    while (true) {
      auto d = co_await s.receive();
      if (!d) co_return;
      FUZZ_CHECK(d->destination.port == echo_port);
      (void)co_await s.send_to(d->source, d->payload);
    }
  }

  scheduler sched_;
  sim::ManualClock clock_;
  CaptureNetif nic_;
  std::optional<stack_type> stack_;
  std::optional<socket_type> socket_;
  join_handle<void> echo_;
  std::uint64_t injected_ = 0;
  bool leasing_ = false;
  std::uint32_t dhcp_xid_ = 0;
};

using stack_harness = basic_stack_harness<fuzz_config>;

// Builds an Ethernet frame around `payload` (for targets whose input is a packet).
inline std::vector<std::uint8_t> ethernet_frame(mac_address dst, mac_address src, ethertype type,
                                                std::span<const std::uint8_t> payload) {
  std::vector<std::uint8_t> f(ethernet_view::header_size + payload.size());
  ethernet_view::emit(f, dst, src, type);
  if (!payload.empty()) std::memcpy(f.data() + ethernet_view::header_size, payload.data(), payload.size());
  return f;
}

// An IPv4 packet from `src` to `dst` around `payload`, checksum included.
inline std::vector<std::uint8_t> ipv4_packet(ipv4_address src, ipv4_address dst, ip_protocol proto,
                                             std::span<const std::uint8_t> payload, std::uint16_t id = 1) {
  std::vector<std::uint8_t> p(ipv4_header::min_size + payload.size());
  ipv4_header h;
  h.total_length = static_cast<std::uint16_t>(p.size());
  h.identification = id;
  h.protocol = static_cast<std::uint8_t>(proto);
  h.source = src;
  h.destination = dst;
  h.emit(p);
  if (!payload.empty()) std::memcpy(p.data() + ipv4_header::min_size, payload.data(), payload.size());
  return p;
}

}  // namespace fuzz
