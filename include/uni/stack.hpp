// uni/stack.hpp: uni::Stack<Netif, Clock, Config>, the network stack below TCP:
// Ethernet II, ARP (RFC 826), IPv4 (RFC 791, 1122) with fragmentation and
// reassembly, ICMP echo and port unreachable (RFC 792), UDP (RFC 768).
//
// The stack is wired at compile time: each protocol is a set of member
// functions of this one template, and what the Config switches off (UDP, DHCP)
// is never instantiated, so an ICMP-only appliance holds no UDP code at all.
// Receiving runs synchronously in the device's callback, parsing each header in
// place on the page the frame arrived in; sending builds headers in small slices
// of a header page and hands the device a fragment list (scatter-gather), so a
// payload is never copied on its way through.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <uni/concepts.hpp>
#include <uni/config.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/counters.hpp>
#include <uni/core/function_ref.hpp>
#include <uni/core/header_allocator.hpp>
#include <uni/core/log.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/core/view_chain.hpp>
#include <uni/net/arp.hpp>
#include <uni/net/arp_cache.hpp>
#include <uni/net/dhcp.hpp>
#include <uni/net/endpoint.hpp>
#include <uni/net/ethernet.hpp>
#include <uni/net/icmp.hpp>
#include <uni/net/ipv4.hpp>
#include <uni/net/ipv4_reassembly.hpp>
#include <uni/net/stack_counters.hpp>
#include <uni/net/tcp/socket.hpp>
#include <uni/net/token_bucket.hpp>
#include <uni/net/udp.hpp>
#include <uni/net/udp_socket_table.hpp>

namespace uni {

namespace detail {
struct absent_layer {
  template <class... Args>
  explicit absent_layer(Args&&...) noexcept {}
};
}  // namespace detail

template <class N, class C, class Config = default_config>
class Stack {
  static_assert(Netif<N>,
                "uni::Stack<N, C>: N must be a Netif: mac(), mtu(), transmit(std::span<const view>) -> "
                "result<void>, set_receiver(frame_receiver) (see uni/concepts.hpp)");
  static_assert(Clock<C>,
                "uni::Stack<N, C>: C must be a Clock: now() noexcept -> time_point, wait_until(time_point) "
                "(see uni/concepts.hpp)");

  static constexpr std::size_t eth_ip_header = ethernet_view::header_size + ipv4_header::min_size;
  using udp_table = udp_socket_table<Config::udp_sockets, Config::udp_queue>;
  struct tcp_output_fn;
  using tcp_layer = tcp::layer<Config, tcp_output_fn>;

 public:
  using config = Config;

  struct counters {
    layer_counters<ethernet_drop> ethernet;
    layer_counters<arp_drop> arp;
    layer_counters<ipv4_drop> ipv4;
    layer_counters<icmp_drop> icmp;
    layer_counters<udp_drop> udp;
  };
  using tcp_listener = tcp::listener<tcp_layer>;
  using tcp_stream = tcp::stream<tcp_layer>;

  Stack(N& netif, C& clock, scheduler& sched, page_pool& pool,
        stack_settings settings = stack_settings::from<Config>()) noexcept
      : netif_(netif),
        clock_(clock),
        sched_(sched),
        pool_(pool),
        headers_(pool),
        settings_(settings),
        arp_(Config::arp),
        reassembly_(Config::reassembly_timeout),
        resolved_(sched),
        housekeeping_wake_(sched),
        icmp_errors_(Config::icmp_errors_per_second, Config::icmp_error_burst),
        udp_(sched),
        tcp_(transport(seed_for(settings, netif, clock))) {}
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;
  ~Stack() { netif_.set_receiver({}); }

  // Attaches to the device, starts the timers, and announces our address with a
  // gratuitous ARP (RFC 5227 §3), or with DHCP starts asking for a lease.
  void start() noexcept {
    netif_.set_receiver(receiver_);
    housekeeping_ = spawn(sched_, housekeeping());
    if constexpr (Config::dhcp) {
      if (settings_.dhcp) dhcp_start();
    }
    if constexpr (Config::tcp) tcp_.start();
    if (!settings_.address.address.is_any()) send_arp(arp_op::request, mac_address::broadcast(), {}, settings_.address.address);
  }

  ipv4_cidr address() const noexcept { return settings_.address; }
  ipv4_address gateway() const noexcept { return settings_.gateway; }
  mac_address mac() const noexcept { return netif_.mac(); }
  const counters& statistics() const noexcept { return counters_; }
  std::size_t arp_entries() const noexcept { return arp_.size(); }
  std::size_t reassembly_in_progress() const noexcept { return reassembly_.in_progress(); }
  std::size_t pending_packets() const noexcept { return pending_count_; }
  scheduler& sched() noexcept { return sched_; }
  page_pool& pool() noexcept { return pool_; }

  // ---- DHCP (Config::dhcp with stack_settings::dhcp) ------------------------------

  // The DNS servers of the lease (none with static addressing, or before a lease).
  std::span<const ipv4_address> dns_servers() const noexcept {
    if constexpr (Config::dhcp) {
      if (dhcp_.lease) return dhcp_.lease->dns_servers();
    }
    return {};
  }
  // The lease the stack is configured from, if any.
  const std::optional<dhcp_lease>& lease() const noexcept
    requires Config::dhcp
  {
    return dhcp_.lease;
  }
  const dhcp_client_stats* dhcp_statistics() const noexcept
    requires Config::dhcp
  {
    return dhcp_.client ? &dhcp_.client->stats() : nullptr;
  }
  // Waits until the stack has an address (at once if it has one): with DHCP, until
  // a lease is bound.
  task<result<ipv4_cidr>> address_assigned()
    requires Config::dhcp
  {
    while (settings_.address.address.is_any()) {
      // (Not `if (co_await ...)`: GCC 12 leaves this frame's resume index uninitialised.)
      const wake_reason woken = co_await dhcp_.changed.wait();
      if (woken == wake_reason::cancelled) co_return fail(error::cancelled);
    }
    co_return settings_.address;
  }

  // Logs one line per layer: "ipv4: rx 10 tx 9 dropped 1 (bad checksum 1)".
  void log_counters() const noexcept {
    log_info("ethernet: ", counters_.ethernet);
    log_info("arp: ", counters_.arp);
    log_info("ipv4: ", counters_.ipv4);
    log_info("icmp: ", counters_.icmp);
    if constexpr (Config::udp) log_info("udp: ", counters_.udp);
    if constexpr (Config::dhcp) {
      if (dhcp_.client) log_info("dhcp: ", dhcp_.client->stats());
    }
    if constexpr (Config::tcp) {
      log_info("tcp: ", tcp_.counters(), ", ", tcp_.connections(), " connections");
    }
    const auto& p = pool_.statistics();
    log_info("pages: ", p.in_use, " in use of ", p.capacity, ", high water ", p.high_water, ", exhausted ",
             p.exhausted);
  }

  // ---- UDP (RFC 768): the same API as posix::SocketStack ------------------------

  class udp_socket {
   public:
    udp_socket(udp_socket&& o) noexcept : stack_(std::exchange(o.stack_, nullptr)), slot_(o.slot_) {}
    udp_socket& operator=(udp_socket&& o) noexcept {
      if (this != &o) {
        close();
        stack_ = std::exchange(o.stack_, nullptr);
        slot_ = o.slot_;
      }
      return *this;
    }
    ~udp_socket() { close(); }

    endpoint local() const noexcept { return {stack_->settings_.address.address, stack_->udp_.port(slot_)}; }

    // The next datagram for this port; its payload views the page(s) it came in.
    task<result<datagram>> receive() {
      auto& table = stack_->udp_;
      const std::size_t i = slot_;
      while (!table.has_datagram(i)) {
        if (co_await table.ready(i).wait() == wake_reason::cancelled) co_return fail(error::cancelled);
      }
      co_return table.pop(i);
    }

    // The next datagram if one is queued, else error::would_block: no task, no
    // wait (the loop of a busy server).
    result<datagram> try_receive() noexcept {
      if (!stack_->udp_.has_datagram(slot_)) return fail(error::would_block);
      return stack_->udp_.pop(slot_);
    }

    // Sends now if the next hop is known, else error::would_block (send_to()
    // resolves it first).
    result<void> try_send_to(endpoint to, std::span<const view> payload) noexcept {
      return stack_->udp_send_now(stack_->udp_.port(slot_), to, payload);
    }
    result<void> try_send_to(endpoint to, const view& payload) noexcept {
      return try_send_to(to, std::span<const view>(&payload, 1));
    }

    // Sends `payload` (any number of views, not copied) to `to`, resolving the
    // next hop first: error::unreachable if ARP gets no answer.
    task<result<void>> send_to(endpoint to, std::span<const view> payload) {
      return stack_->udp_send(stack_->udp_.port(slot_), to, payload);
    }
    task<result<void>> send_to(endpoint to, const view& payload) {
      return stack_->udp_send(stack_->udp_.port(slot_), to, std::span<const view>(&payload, 1));
    }

    void close() noexcept {
      if (stack_) std::exchange(stack_, nullptr)->udp_.unbind(slot_);
    }

   private:
    friend class Stack;
    udp_socket(Stack* s, std::size_t slot) noexcept : stack_(s), slot_(slot) {}
    Stack* stack_;
    std::size_t slot_;
  };

  // Binds `port`: error::in_use, or error::table_full past Config::udp_sockets.
  result<udp_socket> udp_bind(std::uint16_t port) noexcept
    requires Config::udp
  {
    auto slot = udp_.bind(port);
    if (!slot) return fail(slot.err());
    return udp_socket{this, *slot};
  }

  // ---- TCP (RFC 9293): the same API as posix::SocketStack -------------------------

  // Listens on `port`: error::in_use, or error::table_full past Config::tcp_listeners.
  result<tcp_listener> tcp_listen(std::uint16_t port) noexcept
    requires Config::tcp
  {
    return tcp_listener::open(tcp_, {settings_.address.address, port});
  }

  // Opens a connection: error::unreachable when ARP finds no next hop,
  // error::refused, or error::timed_out after `timeout`.
  task<result<tcp_stream>> tcp_connect(endpoint to, duration timeout)
    requires Config::tcp
  {
    const time_point deadline = now() + timeout;
    auto next = next_hop(to.address);
    if (!next) co_return fail(next.err());
    auto mac = co_await with_timeout(sched_, timeout, resolve(*next));
    if (!mac) co_return fail(mac.err());
    co_return co_await tcp::connect(tcp_, settings_.address.address, to, deadline - now());
  }
  const tcp_layer& tcp_statistics() const noexcept
    requires Config::tcp
  {
    return tcp_;
  }

  // Waits until `next_hop` is resolved (error::unreachable after the ARP
  // retries run out, error::table_full if the neighbour table is full of
  // addresses being resolved).
  task<result<mac_address>> resolve(ipv4_address next_hop) {
    bool started = false;
    while (true) {
      if (auto m = known_neighbour(next_hop)) co_return *m;
      if (!arp_.pending(next_hop)) {
        if (started) co_return fail(error::unreachable);  // our resolution failed
        if (auto r = begin_resolution(next_hop); !r) co_return fail(r.err());
        started = true;
      }
      if (co_await resolved_.wait() == wake_reason::cancelled) co_return fail(error::cancelled);
    }
  }

  // The MAC of `next_hop` if no ARP exchange is needed: broadcast, or cached and fresh.
  result<mac_address> known_neighbour(ipv4_address next_hop) noexcept {
    if (is_broadcast(next_hop)) return mac_address::broadcast();
    if (auto m = arp_.lookup(next_hop, now())) return *m;
    return fail(error::would_block);
  }

  // Sends an IP datagram now if the next hop is known, else queues it (bounded)
  // while ARP resolves it. For replies generated on the receive path.
  result<void> ip_send(ipv4_address dst, ip_protocol proto, std::span<const view> payload) noexcept {
    auto next = next_hop(dst);
    if (!next) return fail(next.err());
    if (auto m = known_neighbour(*next)) return ip_transmit(*m, dst, proto, payload);
    return enqueue_pending(*next, dst, proto, payload);
  }

  // Builds the IPv4 header(s) and the Ethernet header and transmits, fragmenting
  // when the datagram exceeds the MTU (RFC 791 §2.3). `payload` is not copied.
  // A transport header of `transport_size` bytes, written by `put_transport`, goes
  // in front of `payload` in the same slice as the first packet's Ethernet and IPv4
  // headers: one allocation and one fragment less for the device.
  result<void> ip_transmit(mac_address dst_mac, ipv4_address dst, ip_protocol proto, std::span<const view> payload,
                           std::size_t transport_size = 0,
                           function_ref<void(std::span<std::uint8_t>)> put_transport = {}) noexcept {
    const std::size_t total = transport_size + total_size(payload);
    if (total > 65535 - ipv4_header::min_size) return fail(error::too_large);
    const std::size_t mtu = netif_.mtu();
    const std::size_t room = (mtu - ipv4_header::min_size) & ~std::size_t{7};  // per fragment, 8-aligned
    ipv4_header h;
    h.ttl = Config::ttl;
    h.protocol = static_cast<std::uint8_t>(proto);
    h.source = settings_.address.address;
    h.destination = dst;
    h.identification = next_ip_id_++;
    std::size_t offset = 0;
    do {
      const std::size_t left = total - offset;
      const bool last = left + ipv4_header::min_size <= mtu;
      const std::size_t len = last ? left : room;
      const std::size_t in_slice = offset == 0 ? transport_size : 0;  // the transport header, first packet only
      auto hdr = headers_.allocate(eth_ip_header + in_slice);
      if (!hdr) {
        counters_.ipv4.drop(ipv4_drop::no_buffers);
        return fail(hdr.err());
      }
      ethernet_view::emit(hdr->bytes(), dst_mac, netif_.mac(), ethertype::ipv4);
      h.total_length = static_cast<std::uint16_t>(ipv4_header::min_size + len);
      h.flags_fragment = static_cast<std::uint16_t>((offset / 8) | (last ? 0 : ipv4_header::flag_mf));
      h.emit(hdr->bytes().subspan(ethernet_view::header_size));
      if (in_slice > 0) put_transport(hdr->bytes().subspan(eth_ip_header));
      view_chain frame(std::move(*hdr));
      if (!append_range(frame, payload, offset + in_slice - transport_size, len - in_slice)) return fail(error::too_large);
      if (auto r = transmit(frame); !r) return r;
      ++counters_.ipv4.sent;
      offset += len;
    } while (offset < total);
    return {};
  }

 private:
  // ---- Ethernet -------------------------------------------------------------------

  struct receive_fn {
    Stack* s;
    void operator()(view frame) const noexcept { s->ethernet_input(std::move(frame)); }
  };

  void ethernet_input(view frame) noexcept {
    auto eth = ethernet_view::parse(frame.bytes());
    if (!eth) return counters_.ethernet.drop(ethernet_drop::truncated);
    ++counters_.ethernet.received;
    const mac_address dst = eth->destination();
    if (dst != netif_.mac() && !dst.is_broadcast()) return counters_.ethernet.drop(ethernet_drop::not_for_us);
    switch (static_cast<ethertype>(eth->type())) {
      case ethertype::arp: return arp_input(frame.tail(ethernet_view::header_size));
      case ethertype::ipv4: return ipv4_input(frame.tail(ethernet_view::header_size));
      default: return counters_.ethernet.drop(ethernet_drop::unsupported_type);
    }
  }

  result<void> transmit(std::span<const view> frame) noexcept {
    auto r = netif_.transmit(frame);
    if (r) ++counters_.ethernet.sent;
    else counters_.ethernet.drop(ethernet_drop::transmit_failed);
    return r;
  }

  // ---- ARP (RFC 826) --------------------------------------------------------------

  void arp_input(view body) noexcept {
    auto p = arp_packet::parse(body.bytes());
    if (!p) return counters_.arp.drop(arp_drop::malformed);
    ++counters_.arp.received;
    const ipv4_address us = settings_.address.address;
    const time_point t = now();
    // RFC 826 "merge": refresh a sender we already know, whoever was asked.
    const bool merged = !p->sender_ip.is_any() && arp_.refresh(p->sender_ip, p->sender_mac, t);
    if (us.is_any() || p->target_ip != us) {
      if (merged) address_resolved(p->sender_ip, p->sender_mac);
      else counters_.arp.drop(arp_drop::not_for_us);
      return;
    }
    // Addressed to us: learn the sender (from requests too), answer requests.
    if (!merged && !p->sender_ip.is_any() && !arp_.learn(p->sender_ip, p->sender_mac, t))
      counters_.arp.drop(arp_drop::table_full);
    if (p->op == arp_op::request) send_arp(arp_op::reply, p->sender_mac, p->sender_mac, p->sender_ip);
    if (!p->sender_ip.is_any()) address_resolved(p->sender_ip, p->sender_mac);
  }

  // A request has target_mac zero and goes to broadcast; a reply goes to the asker.
  void send_arp(arp_op op, mac_address eth_dst, mac_address target_mac, ipv4_address target_ip) noexcept {
    auto buf = headers_.allocate(ethernet_view::header_size + arp_packet::size);
    if (!buf) return counters_.arp.drop(arp_drop::no_buffers);
    ethernet_view::emit(buf->bytes(), eth_dst, netif_.mac(), ethertype::arp);
    arp_packet{op, netif_.mac(), settings_.address.address, target_mac, target_ip}.emit(
        buf->bytes().subspan(ethernet_view::header_size));
    if (transmit(std::span<const view>(&*buf, 1))) ++counters_.arp.sent;
  }

  result<void> begin_resolution(ipv4_address ip) noexcept {
    switch (arp_.start(ip, now())) {
      case arp_cache<Config::arp_entries>::start_result::pending: return {};
      case arp_cache<Config::arp_entries>::start_result::table_full:
        counters_.arp.drop(arp_drop::table_full);
        return fail(error::table_full);
      case arp_cache<Config::arp_entries>::start_result::started: break;
    }
    send_arp(arp_op::request, mac_address::broadcast(), {}, ip);
    housekeeping_wake_.notify_one();  // a new retry deadline
    return {};
  }

  // Sends what waited for `ip` and wakes the coroutines resolving it.
  void address_resolved(ipv4_address ip, mac_address mac) noexcept {
    for (pending_packet& p : pending_) {
      if (!p.used || p.next_hop != ip) continue;
      (void)ip_transmit(mac, p.destination, p.protocol, p.payload);
      release_pending(p);
    }
    resolved_.notify_all();
  }

  void resolution_failed(ipv4_address ip) noexcept {
    for (pending_packet& p : pending_) {
      if (!p.used || p.next_hop != ip) continue;
      counters_.arp.drop(arp_drop::resolution_failed);
      release_pending(p);
    }
    resolved_.notify_all();
  }

  struct pending_packet {
    bool used = false;
    ipv4_address next_hop{};
    ipv4_address destination{};
    ip_protocol protocol{};
    view_chain payload;
  };

  result<void> enqueue_pending(ipv4_address next, ipv4_address dst, ip_protocol proto,
                               std::span<const view> payload) noexcept {
    for (pending_packet& p : pending_) {
      if (p.used) continue;
      view_chain copy;
      if (!append_range(copy, payload, 0, total_size(payload))) return fail(error::too_large);
      if (auto r = begin_resolution(next); !r) return r;
      p = pending_packet{true, next, dst, proto, std::move(copy)};
      ++pending_count_;
      return {};
    }
    counters_.arp.drop(arp_drop::pending_full);
    return fail(error::would_block);
  }
  void release_pending(pending_packet& p) noexcept {
    p = pending_packet{};
    --pending_count_;
  }

  // ---- IPv4 (RFC 791, RFC 1122 §3.2) ----------------------------------------------

  bool is_broadcast(ipv4_address a) const noexcept {
    return a.is_broadcast() || (settings_.address.prefix < 31 && a == settings_.address.subnet_broadcast());
  }
  bool for_us(ipv4_address dst) const noexcept {
    // Without an address yet (DHCP), everything may be the answer we wait for.
    return settings_.address.address.is_any() || dst == settings_.address.address || is_broadcast(dst);
  }
  result<ipv4_address> next_hop(ipv4_address dst) const noexcept {
    if (is_broadcast(dst) || settings_.address.contains(dst)) return dst;
    if (settings_.gateway.is_any()) return fail(error::unreachable);
    return settings_.gateway;
  }

  void ipv4_input(view packet) noexcept {
    ipv4_header::reject why{};
    auto h = ipv4_header::parse(packet.bytes(), &why);
    if (!h) return counters_.ipv4.drop(drop_reason(why));
    ++counters_.ipv4.received;
    if (!for_us(h->destination)) return counters_.ipv4.drop(ipv4_drop::not_for_us);
    packet.truncate(h->total_length);  // anything after is link padding
    view payload = packet.tail(h->header_length);
    if (!h->is_fragment()) return deliver(*h, view_chain(std::move(payload)));
    auto o = reassembly_.add(*h, std::move(payload), now());
    switch (o.status) {
      case reassembly_status::complete: return deliver(*h, std::move(o.payload));
      case reassembly_status::incomplete: return housekeeping_wake_.notify_one();  // a new timeout
      case reassembly_status::duplicate: return counters_.ipv4.drop(ipv4_drop::fragment_duplicate);
      case reassembly_status::overlap: return counters_.ipv4.drop(ipv4_drop::fragment_overlap);
      case reassembly_status::bogus: return counters_.ipv4.drop(ipv4_drop::fragment_bogus);
      case reassembly_status::too_many_fragments: return counters_.ipv4.drop(ipv4_drop::fragment_too_many);
      case reassembly_status::over_budget: return counters_.ipv4.drop(ipv4_drop::fragment_over_budget);
    }
  }

  static ipv4_drop drop_reason(ipv4_header::reject r) noexcept {
    switch (r) {
      case ipv4_header::reject::truncated: return ipv4_drop::truncated;
      case ipv4_header::reject::bad_version: return ipv4_drop::bad_version;
      case ipv4_header::reject::bad_header_length: return ipv4_drop::bad_header_length;
      case ipv4_header::reject::bad_total_length: return ipv4_drop::bad_total_length;
      case ipv4_header::reject::bad_checksum: return ipv4_drop::bad_checksum;
    }
    return ipv4_drop::truncated;
  }

  // `h` describes the datagram (for a reassembled one, its last fragment's header).
  void deliver(const ipv4_header& h, view_chain payload) noexcept {
    // Without an address (DHCP not bound yet) only the DHCP client's UDP port is
    // served (RFC 1122 §3.2.1.3: 0.0.0.0 is only for the initialisation procedure).
    if (unconfigured() && static_cast<ip_protocol>(h.protocol) != ip_protocol::udp)
      return counters_.ipv4.drop(ipv4_drop::not_for_us);
    switch (static_cast<ip_protocol>(h.protocol)) {
      case ip_protocol::icmp: return icmp_input(h, std::move(payload));
      case ip_protocol::udp:
        if constexpr (Config::udp) return udp_input(h, std::move(payload));
        break;
      case ip_protocol::tcp:
        if constexpr (Config::tcp) {
          if (is_broadcast(h.destination)) return counters_.ipv4.drop(ipv4_drop::not_for_us);
          return tcp_.input(h.source, h.destination, std::move(payload));
        }
        break;
      default: break;
    }
    counters_.ipv4.drop(ipv4_drop::unknown_protocol);  // or switched off in the Config
  }

  // ---- ICMP (RFC 792, RFC 1122 §3.2.2) --------------------------------------------

  void icmp_input(const ipv4_header& h, view_chain message) noexcept {
    auto m = icmp_header::parse(message);
    if (!m) return counters_.icmp.drop(m.err() == error::bad_checksum ? icmp_drop::bad_checksum : icmp_drop::malformed);
    ++counters_.icmp.received;
    if (m->type != static_cast<std::uint8_t>(icmp_type::echo_request) || m->code != 0)
      return counters_.icmp.drop(icmp_drop::unsupported_type);
    // RFC 1122 §3.2.2.6 lets a host ignore echo requests sent to a broadcast address.
    if (is_broadcast(h.destination)) return counters_.icmp.drop(icmp_drop::broadcast_echo);
    // The reply carries the request's data from the page it arrived in; only the
    // type changes, so the checksum is updated, not recomputed (RFC 1624).
    auto hdr = headers_.allocate(icmp_header::size);
    if (!hdr) return counters_.icmp.drop(icmp_drop::no_buffers);
    std::uint8_t* b = hdr->data();
    b[0] = static_cast<std::uint8_t>(icmp_type::echo_reply);
    b[1] = 0;
    wire::store_be16(b + 2, m->echo_reply_checksum(message));
    wire::store_be32(b + 4, m->rest);
    view_chain reply(std::move(*hdr));
    if (!append_range(reply, message.views(), icmp_header::size, message.length() - icmp_header::size))
      return counters_.icmp.drop(icmp_drop::malformed);
    if (ip_send(h.source, ip_protocol::icmp, reply)) ++counters_.icmp.sent;
  }

  // Destination unreachable carrying the offending header and 8 bytes of its data.
  void send_unreachable(icmp_unreachable_code code, const ipv4_header& h, const view_chain& payload) noexcept {
    if (!icmp_errors_.take(now())) return counters_.icmp.drop(icmp_drop::rate_limited);
    auto buf = headers_.allocate(icmp_header::size + ipv4_header::min_size + 8);
    if (!buf) return counters_.icmp.drop(icmp_drop::no_buffers);
    std::span<std::uint8_t> quoted = buf->bytes().subspan(icmp_header::size);
    ipv4_header original = h;
    original.header_length = ipv4_header::min_size;
    original.emit(quoted);
    const std::size_t n = payload.copy_to(quoted.subspan(ipv4_header::min_size, 8));
    view message = buf->head(icmp_header::size + ipv4_header::min_size + n);
    std::uint8_t* b = message.data();
    b[0] = static_cast<std::uint8_t>(icmp_type::destination_unreachable);
    b[1] = static_cast<std::uint8_t>(code);
    wire::store_be16(b + 2, 0);
    wire::store_be32(b + 4, 0);
    wire::store_be16(b + 2, internet_checksum(message.bytes()));
    if (ip_send(h.source, ip_protocol::icmp, std::span<const view>(&message, 1))) ++counters_.icmp.sent;
  }

  // ---- UDP (RFC 768) --------------------------------------------------------------

  void udp_input(const ipv4_header& h, view_chain datagram_bytes) noexcept {
    auto u = udp_header::parse(datagram_bytes, h.source, h.destination);
    if (!u) return counters_.udp.drop(u.err() == error::bad_checksum ? udp_drop::bad_checksum : udp_drop::malformed);
    ++counters_.udp.received;
    const bool served = !unconfigured() || u->destination_port == dhcp_client_port;
    const std::size_t slot = served ? udp_.find(u->destination_port) : udp_table::none;
    if (slot == udp_table::none) {
      counters_.udp.drop(udp_drop::no_listener);
      if (!is_broadcast(h.destination) && !settings_.address.address.is_any())
        send_unreachable(icmp_unreachable_code::port, h, datagram_bytes);
      return;
    }
    datagram d{{h.source, u->source_port},
               {h.destination, u->destination_port},
               datagram_bytes.subchain(udp_header::size, u->length - udp_header::size)};
    if (!udp_.deliver(slot, std::move(d))) counters_.udp.drop(udp_drop::queue_full);
  }

  task<result<void>> udp_send(std::uint16_t sport, endpoint to, std::span<const view> payload) {
    auto r = udp_send_now(sport, to, payload);
    // would_block: ARP must ask first (or the device is full: that error stands).
    if (r || r.err() != error::would_block || known_neighbour(*next_hop(to.address))) co_return r;
    auto mac = co_await resolve(*next_hop(to.address));
    if (!mac) co_return fail(mac.err());
    co_return udp_emit(sport, to, *mac, payload);
  }

  // udp_send() without waiting: error::would_block when ARP must resolve the next hop.
  result<void> udp_send_now(std::uint16_t sport, endpoint to, std::span<const view> payload) noexcept {
    if (unconfigured() && sport != dhcp_client_port) return fail(error::unreachable);  // no address yet
    if (total_size(payload) > udp_header::max_payload) return fail(error::too_large);
    auto next = next_hop(to.address);
    if (!next) return fail(next.err());
    auto mac = known_neighbour(*next);
    if (!mac) return fail(mac.err());
    return udp_emit(sport, to, *mac, payload);
  }

  result<void> udp_emit(std::uint16_t sport, endpoint to, mac_address mac, std::span<const view> payload) noexcept {
    auto put_header = [&](std::span<std::uint8_t> out) {
      udp_header::emit(out, sport, to.port, settings_.address.address, to.address, payload);
    };
    auto r = ip_transmit(mac, to.address, ip_protocol::udp, payload, udp_header::size, put_header);
    if (r) ++counters_.udp.sent;
    return r;
  }

  // ---- DHCP client (RFC 2131) ------------------------------------------------------
  // dhcp_client (uni/net/dhcp.hpp) is the protocol, without I/O; this is its glue. One
  // task owns UDP port 68: it gives the client what arrives there and the time, sends
  // what the client asks for, and configures the stack from each new lease. Until a
  // lease is bound our address is 0.0.0.0: the client's requests leave from 0.0.0.0 for
  // 255.255.255.255 (RFC 2131 §4.1), and for_us() takes the servers' replies.

  static_assert(!Config::dhcp || Config::udp, "uni::Stack: DHCP runs over UDP: a Config with dhcp = true needs udp = true");

  bool unconfigured() const noexcept { return settings_.address.address.is_any(); }

  struct dhcp_part {
    explicit dhcp_part(scheduler& s) noexcept : changed(s) {}
    std::optional<dhcp_client> client;  // made by start() when the settings ask for DHCP
    std::optional<dhcp_lease> lease;    // the lease the stack is configured from
    std::uint32_t generation = 0;       // client->lease_generation() when it was applied
    wait_queue changed;                 // woken when the address is configured or removed
    join_handle<void> task;
  };

  void dhcp_start() noexcept {
    settings_.address = {};  // 0.0.0.0/32: no address, no route but broadcast
    settings_.gateway = {};
    // The seed only has to differ between clients and boots: xids and back-off jitter.
    std::uint64_t seed = 0;
    for (std::uint8_t b : netif_.mac().bytes) seed = seed << 8 | b;
    seed ^= static_cast<std::uint64_t>(clock_.now().time_since_epoch().count());
    dhcp_.client.emplace(netif_.mac(), seed);
    dhcp_.task = spawn(sched_, dhcp_run());
  }

  task<void> dhcp_run() {
    auto slot = udp_.bind(dhcp_client_port);
    if (!slot) {
      log_error("dhcp: cannot bind UDP port ", dhcp_client_port, ": ", to_string(slot.err()));
      co_return;
    }
    dhcp_client& client = *dhcp_.client;
    client.start(now());
    while (true) {
      dhcp_configure();  // a new lease (or its loss) takes effect before the next message
      if (auto out = client.take_outgoing()) {
        const result<void> sent = co_await dhcp_send(*out);
        if (!sent) log_warn("dhcp: a message to ", out->destination, " was not sent: ", to_string(sent.err()));
      }
      if (!udp_.has_datagram(*slot)) {
        const wake_reason woken = co_await udp_.ready(*slot).wait_until(client.next_deadline());
        if (woken == wake_reason::cancelled) co_return;  // port 68 was closed under us
      }
      if (udp_.has_datagram(*slot)) dhcp_receive(udp_.pop(*slot).payload);
      client.on_timer(now());  // does nothing before its deadline
    }
  }

  void dhcp_receive(const view_chain& payload) noexcept {
    if (payload.count() == 1) return dhcp_.client->on_message(payload[0].bytes(), now());
    // A reassembled reply spans pages: gather it (rare; servers keep to 576 octets).
    std::array<std::uint8_t, 1500> gathered;
    dhcp_.client->on_message({gathered.data(), payload.copy_to(gathered)}, now());
  }

  // From port 68 to the server's port 67; the IP source is our address, 0.0.0.0 before
  // a lease, exactly when the client asks for it (dhcp_outgoing::from_unspecified).
  task<result<void>> dhcp_send(const dhcp_outgoing& out) {
    auto buf = headers_.allocate(out.size);
    if (!buf) co_return fail(buf.err());
    std::copy_n(out.bytes.data(), out.size, buf->data());
    co_return co_await udp_send(dhcp_client_port, {out.destination, dhcp_server_port}, std::span<const view>(&*buf, 1));
  }

  void dhcp_configure() noexcept {
    const dhcp_client& client = *dhcp_.client;
    dhcp_.lease = client.lease();  // a renewal moves only its times: nothing to reconfigure
    if (client.lease_generation() == dhcp_.generation) return;
    dhcp_.generation = client.lease_generation();
    if (const auto& l = dhcp_.lease) {
      settings_.address = l->address;
      settings_.gateway = l->router;
      const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(l->lease_time).count();
      if (l->lease_time == dhcp_lease::infinite) log_info("dhcp: leased ", l->address, " for ever from ", l->server);
      else log_info("dhcp: leased ", l->address, " for ", seconds, " s from ", l->server, ", gateway ", l->router);
      send_arp(arp_op::request, mac_address::broadcast(), {}, l->address.address);  // RFC 5227 §3 announcement
    } else {  // RFC 2131 §4.4.5: expired or refused; stop using the address at once
      settings_.address = {};
      settings_.gateway = {};
      log_warn("dhcp: lease lost, no address until a new one is leased");
    }
    dhcp_.changed.notify_all();
  }

  // ---- Timers ---------------------------------------------------------------------

  // One background task runs ARP retries and give-ups and reassembly timeouts.
  task<void> housekeeping() {
    while (true) {
      time_point next = arp_.next_deadline();
      if (time_point r = reassembly_.next_deadline(); r < next) next = r;
      if (co_await housekeeping_wake_.wait_until(next) == wake_reason::cancelled) co_return;
      const time_point t = now();
      struct request_fn {
        Stack* s;
        void operator()(ipv4_address ip) const noexcept { s->send_arp(arp_op::request, mac_address::broadcast(), {}, ip); }
      };
      struct failed_fn {
        Stack* s;
        void operator()(ipv4_address ip) const noexcept { s->resolution_failed(ip); }
      };
      arp_.on_timer(t, request_fn{this}, failed_fn{this});
      for (std::size_t n = reassembly_.expire(t); n > 0; --n) counters_.ipv4.drop(ipv4_drop::fragment_timeout);
    }
  }

  time_point now() const noexcept { return sched_.now(); }

  // The secret behind sequence numbers and ports: given, or from the clock and our MAC.
  static std::uint64_t seed_for(const stack_settings& s, const N& netif, C& clock) noexcept {
    if (s.seed != 0) return s.seed;
    std::uint64_t x = 0;
    for (std::uint8_t b : netif.mac().bytes) x = x << 8 | b;
    return x ^ static_cast<std::uint64_t>(clock.now().time_since_epoch().count());
  }

  // The TCP layer, or nothing at all when the configuration has no TCP.
  auto transport(std::uint64_t seed) noexcept {
    if constexpr (Config::tcp)
      return tcp_layer(sched_, pool_, headers_, tcp_output_fn{this}, static_cast<std::uint16_t>(netif_.mtu() - 40), seed);
    else
      return detail::absent_layer{};
  }

  struct tcp_output_fn {
    Stack* s;
    result<void> operator()(ipv4_address dst, std::span<const view> segment) const noexcept {
      return s->ip_send(dst, ip_protocol::tcp, segment);
    }
  };

  N& netif_;
  C& clock_;
  scheduler& sched_;
  page_pool& pool_;
  header_allocator headers_;
  stack_settings settings_;
  counters counters_{};
  receive_fn receive_fn_{this};
  frame_receiver receiver_{receive_fn_};

  arp_cache<Config::arp_entries> arp_;
  std::array<pending_packet, Config::arp_pending_packets> pending_{};
  std::size_t pending_count_ = 0;
  ipv4_reassembly<Config::reassembly_slots, Config::reassembly_bytes> reassembly_;
  std::uint16_t next_ip_id_ = 1;
  wait_queue resolved_;
  wait_queue housekeeping_wake_;
  token_bucket icmp_errors_;
  [[no_unique_address]] std::conditional_t<Config::udp, udp_table, detail::absent_layer> udp_;
  std::conditional_t<Config::tcp, tcp_layer, detail::absent_layer> tcp_;  // built in place: no [[no_unique_address]]
  join_handle<void> housekeeping_;
  // Last: its task is cancelled first, while everything it uses still exists.
  [[no_unique_address]] std::conditional_t<Config::dhcp, dhcp_part, detail::absent_layer> dhcp_{sched_};
};

}  // namespace uni
