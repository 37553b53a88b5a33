// uni/stack.hpp: uni::Stack<Netif, Clock, Config>, the network stack below TCP:
// Ethernet II, ARP (RFC 826), IPv4 (RFC 791, 1122) with fragmentation and
// reassembly, ICMP echo and port unreachable (RFC 792), UDP (RFC 768), the DHCP
// client (RFC 2131), and TCP (uni/net/tcp) on top.
//
// The stack is wired at compile time: each protocol's glue is a layer of its own,
// a class template over the stack (uni/net/*_layer.hpp, as tcp::layer), and the
// stack holds one of each and forwards its public API to them. What the Config
// switches off (UDP, TCP, DHCP) is never instantiated, so an ICMP-only appliance
// holds no UDP code at all. Receiving runs synchronously in the device's callback,
// parsing each header in place on the page the frame arrived in; sending builds
// headers in small slices of a header page and hands the device a fragment list
// (scatter-gather), so a payload is never copied on its way through. Frames the
// stack does not consume can be taken by the application (frame hooks, below).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>

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
#include <uni/net/arp_layer.hpp>
#include <uni/net/dhcp_layer.hpp>
#include <uni/net/endpoint.hpp>
#include <uni/net/ethernet_layer.hpp>
#include <uni/net/frame_hooks.hpp>
#include <uni/net/icmp_layer.hpp>
#include <uni/net/ipv4_layer.hpp>
#include <uni/net/stack_counters.hpp>
#include <uni/net/tcp/socket.hpp>
#include <uni/net/transport.hpp>
#include <uni/net/udp_layer.hpp>

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
  static_assert(!Config::trace || trace::compiled,
                "uni::Stack: a Config with trace = true is built with tracing compiled in: "
                "uni_add_appliance(... TRACE), or UNI_TRACE=1 (uni/trace/hooks.hpp)");
  static_assert(!Config::dhcp || Config::udp, "uni::Stack: DHCP runs over UDP: a Config with dhcp = true needs udp = true");

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
    hook_counters hooks;
  };
  using udp_socket = basic_udp_socket<Stack>;
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
        ethernet_(*this),
        arp_(*this, sched),
        ipv4_(*this),
        icmp_(*this),
        housekeeping_wake_(sched),
        udp_(*this, sched),
        tcp_(transport(settings.seed != 0 ? settings.seed : derived_seed())),
        dhcp_(*this, sched) {
    if constexpr (Config::udp) static_assert(UdpTransport<Stack>, "uni::Stack: its UDP must meet uni/net/transport.hpp");
    if constexpr (Config::tcp) static_assert(TcpTransport<Stack>, "uni::Stack: its TCP must meet uni/net/transport.hpp");
    if constexpr (Config::udp)
      static_assert(PollingUdpSocket<udp_socket_t<Stack>>, "uni::Stack: its UDP sockets let a loop wait itself");
    if constexpr (Config::tcp) {
      static_assert(TryWriteStream<tcp_stream_t<Stack>>, "uni::Stack: its TCP streams write without waiting too");
      static_assert(PollingByteStream<tcp_stream_t<Stack>>, "uni::Stack: its TCP streams let a loop wait itself");
      static_assert(PollingTcpListener<tcp_listener_t<Stack>>, "uni::Stack: its TCP listeners accept without waiting too");
    }
    // A device that completes TCP checksums itself (netfront) gets partial ones.
    if constexpr (Config::tcp && requires { netif.completes_tcp_checksums(); })
      tcp_.set_partial_checksums(netif.completes_tcp_checksums());
    // With TCP, a reserve applications cannot take (the ACKs that free pages), at
    // most a quarter of this pool: a Config that shrinks io_pages keeps
    // default_config's tcp_pool_reserve, and drivers hold receive pages posted
    // from the rest (netfront: 128 of 256).
    if constexpr (Config::tcp) pool.reserve(std::min(Config::tcp_pool_reserve, pool.statistics().capacity / 4));
  }
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;
  ~Stack() { netif_.set_receiver({}); }

  // Attaches to the device, starts the timers (ARP's, IPv4's, TCP's), and
  // announces our address with a gratuitous ARP (RFC 5227 §3), or with DHCP
  // starts asking for a lease.
  void start() noexcept {
    netif_.set_receiver(receiver_);
    if constexpr (Config::dhcp) {
      if (settings_.dhcp) dhcp_.start();
    }
    if constexpr (Config::tcp && Config::trace) tcp_.set_trace_device(trace_device(netif_.mac()));
    if (!settings_.address.address.is_any()) arp_.announce(settings_.address.address);
    await_housekeeping();
  }

  ipv4_cidr address() const noexcept { return settings_.address; }
  ipv4_address gateway() const noexcept { return settings_.gateway; }
  mac_address mac() const noexcept { return netif_.mac(); }
  const counters& statistics() const noexcept { return counters_; }
  std::size_t arp_entries() const noexcept { return arp_.entries(); }
  std::size_t reassembly_in_progress() const noexcept { return ipv4_.reassembly_in_progress(); }
  std::size_t pending_packets() const noexcept { return arp_.pending_packets(); }
  scheduler& sched() noexcept { return sched_; }
  page_pool& pool() noexcept { return pool_; }

  // ---- DHCP (Config::dhcp with stack_settings::dhcp): uni/net/dhcp_layer.hpp -------

  // The DNS servers of the lease (none with static addressing, or before a lease).
  std::span<const ipv4_address> dns_servers() const noexcept {
    if constexpr (Config::dhcp) {
      if (dhcp_.lease()) return dhcp_.lease()->dns_servers();
    }
    return {};
  }
  // The lease the stack is configured from, if any.
  const std::optional<dhcp_lease>& lease() const noexcept
    requires Config::dhcp
  {
    return dhcp_.lease();
  }
  const dhcp_client_stats* dhcp_statistics() const noexcept
    requires Config::dhcp
  {
    return dhcp_.statistics();
  }
  // Waits until the stack has an address (at once if it has one): with DHCP, until
  // a lease is bound.
  task<result<ipv4_cidr>> address_assigned()
    requires Config::dhcp
  {
    while (settings_.address.address.is_any()) {
      // (Not `if (co_await ...)`: GCC 12 leaves this frame's resume index uninitialised.)
      const wake_reason woken = co_await dhcp_.changed().wait();
      if (woken == wake_reason::cancelled) co_return fail(error::cancelled);
    }
    co_return settings_.address;
  }

  // Logs one line per layer: "ipv4: rx 10 tx 9 dropped 1 (bad checksum 1)".
  void log_counters() const noexcept {
    log_layer("ethernet: ", counters_.ethernet);
    log_layer("arp: ", counters_.arp, arp_.confirmations(), " entries confirmed in use");
    log_layer("ipv4: ", counters_.ipv4);
    log_layer("icmp: ", counters_.icmp);
    if constexpr (Config::udp) log_layer("udp: ", counters_.udp);
    if constexpr (Config::dhcp) {
      if (const auto* d = dhcp_.statistics()) log_info("dhcp: ", *d);
    }
    if constexpr (Config::tcp) {
      log_layer("tcp: ", tcp_.counters(), tcp_.connections(), " connections");
    }
    if (counters_.hooks.taken() != 0 || counters_.hooks.sent != 0) {
      static constexpr count_field hooks[] = {
          // taken(): the sum of the four kinds, the counters before `sent`
          count_total(offsetof(hook_counters, by_ethertype),
                      offsetof(hook_counters, sent) - offsetof(hook_counters, by_ethertype)),
          {offsetof(hook_counters, by_ethertype)}, {offsetof(hook_counters, by_ip_protocol)},
          {offsetof(hook_counters, other_macs)},   {offsetof(hook_counters, every_frame)},
          {offsetof(hook_counters, sent)}};
      log_fields(log_level::info, "hooks: rx \0 (ethertype \0, ip protocol \0, other macs \0, every frame \0) tx \0",
                 counters_.hooks, hooks);
    }
    const auto& p = pool_.statistics();
    using pool_stats = page_pool::stats;
    static constexpr count_field pages[] = {{offsetof(pool_stats, in_use)}, {offsetof(pool_stats, capacity)},
                                            {offsetof(pool_stats, high_water)}, {offsetof(pool_stats, exhausted)},
                                            {offsetof(pool_stats, held_back)}};
    log_fields(log_level::info, "pages: \0 in use of \0, high water \0, exhausted \0, held back \0", p, pages);
  }

  // ---- UDP (RFC 768): the same API as posix::SocketStack; uni/net/udp_layer.hpp ------

  // Binds `port`: error::in_use, or error::table_full past Config::udp_sockets.
  result<udp_socket> udp_bind(std::uint16_t port) noexcept
    requires Config::udp
  {
    auto slot = udp_.table().bind(port);
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
    auto next = ipv4_.next_hop(to.address);
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

  // ---- ARP and IPv4: uni/net/arp_layer.hpp, uni/net/ipv4_layer.hpp -----------------

  // Waits until `next_hop` is resolved (error::unreachable after the ARP
  // retries run out, error::table_full if the neighbour table is full of
  // addresses being resolved).
  task<result<mac_address>> resolve(ipv4_address next_hop) { return arp_.resolve(next_hop); }

  // The MAC of `next_hop` if no ARP exchange is needed: broadcast, or cached and fresh.
  result<mac_address> known_neighbour(ipv4_address next_hop) noexcept { return arp_.known_neighbour(next_hop); }

  // Sends an IP datagram now if the next hop is known, else queues it (bounded)
  // while ARP resolves it. For replies generated on the receive path.
  result<void> ip_send(ipv4_address dst, ip_protocol proto, std::span<const view> payload) noexcept {
    return ipv4_.send(dst, proto, payload);
  }

  // Builds the IPv4 header(s) and the Ethernet header and transmits, fragmenting
  // when the datagram exceeds the MTU (RFC 791 §2.3). `payload` is not copied.
  // A transport header of `transport_size` bytes, written by `put_transport`, goes
  // in front of `payload` in the same slice as the first packet's Ethernet and IPv4
  // headers: one allocation and one fragment less for the device.
  result<void> ip_transmit(const mac_address& dst_mac, ipv4_address dst, ip_protocol proto, std::span<const view> payload,
                           std::size_t transport_size = 0,
                           function_ref<void(std::span<std::uint8_t>)> put_transport = {}) noexcept {
    return ipv4_.transmit(dst_mac, dst, proto, payload, transport_size, put_transport);
  }

  // ---- Frame hooks: uni/net/frame_hooks.hpp ------------------------------------------
  // The application takes frames the stack does not consume, at most
  // Config::frame_hooks takers at once, one per key. A frame addressed to us (our
  // MAC or broadcast) or to a group goes to the taker of its EtherType; one for
  // another station, that no EtherType taker took, to the taker of other stations'
  // frames (the device delivers them only if it is promiscuous: a TAP device is). A
  // datagram for us goes to the taker of its IP protocol. Each is counted in
  // statistics().hooks; what nobody takes is dropped and counted as before.

  // A registered hook; closes it when destroyed. Must not outlive the stack.
  class hook {
   public:
    hook(hook&& o) noexcept : stack_(std::exchange(o.stack_, nullptr)), slot_(o.slot_) {}
    hook& operator=(hook&& o) noexcept {
      if (this != &o) {
        close();
        stack_ = std::exchange(o.stack_, nullptr);
        slot_ = o.slot_;
      }
      return *this;
    }
    ~hook() { close(); }
    void close() noexcept {
      if (stack_) std::exchange(stack_, nullptr)->hooks_.remove(slot_);
    }

   private:
    friend class Stack;
    hook(Stack* s, std::size_t slot) noexcept : stack_(s), slot_(slot) {}
    Stack* stack_;
    std::size_t slot_;
  };

  // Frames of EtherType `type` (>= 0x0600, neither ARP nor IPv4): error::invalid_argument
  // for a type the stack consumes, error::in_use if `type` has a taker, error::table_full.
  result<hook> hook_ethertype(std::uint16_t type, frame_handler fn) noexcept
    requires(Config::frame_hooks > 0)
  {
    if (type < 0x0600 || type == static_cast<std::uint16_t>(ethertype::arp) ||
        type == static_cast<std::uint16_t>(ethertype::ipv4))
      return fail(error::invalid_argument);
    return make_hook(hooks_.add(hook_kind::ethertype, type, fn));
  }
  // Datagrams for us of IP protocol `protocol`, one the stack does not consume (ICMP;
  // UDP and TCP unless the Config switches them off): else error::invalid_argument.
  result<hook> hook_ip_protocol(std::uint8_t protocol, datagram_handler fn) noexcept
    requires(Config::frame_hooks > 0)
  {
    if (consumes(protocol)) return fail(error::invalid_argument);
    return make_hook(hooks_.add(protocol, fn));
  }
  // Frames addressed to other stations (promiscuous: a switch's datapath).
  result<hook> hook_other_macs(frame_handler fn) noexcept
    requires(Config::frame_hooks > 0)
  {
    return make_hook(hooks_.add(hook_kind::other_macs, 0, fn));
  }
  // Every frame the device receives, before the stack looks at it: the port of a
  // switch's datapath, where this stack consumes nothing (no ARP, no IPv4).
  result<hook> hook_every_frame(frame_handler fn) noexcept
    requires(Config::frame_hooks > 0)
  {
    return make_hook(hooks_.add(hook_kind::every_frame, 0, fn));
  }

  // Sends a whole Ethernet frame the application built (header included), counted
  // as an Ethernet frame sent and in statistics().hooks.sent: error::invalid_argument
  // shorter than a header, error::too_large beyond the MTU.
  result<void> send_frame(std::span<const view> frame) noexcept {
    const std::size_t size = total_size(frame);
    if (size < ethernet_view::header_size) return fail(error::invalid_argument);
    if (size > ethernet_view::header_size + netif_.mtu()) return fail(error::too_large);
    auto r = ethernet_.transmit(frame);
    if (r) ++counters_.hooks.sent;
    return r;
  }
  result<void> send_frame(const view& frame) noexcept { return send_frame(std::span<const view>(&frame, 1)); }

 private:
  template <class>
  friend class ethernet_layer;
  template <class>
  friend class arp_layer;
  template <class>
  friend class ipv4_layer;
  template <class>
  friend class icmp_layer;
  template <class>
  friend class udp_layer;
  template <class>
  friend class basic_udp_socket;
  template <class>
  friend class dhcp_layer;

  struct receive_fn {
    Stack* s;
    void operator()(view&& frame) const noexcept { s->ethernet_.input(std::move(frame)); }
  };

  static constexpr bool consumes(std::uint8_t protocol) noexcept {
    switch (static_cast<ip_protocol>(protocol)) {
      case ip_protocol::icmp: return true;
      case ip_protocol::udp: return Config::udp;
      case ip_protocol::tcp: return Config::tcp;
    }
    return false;
  }
  result<hook> make_hook(result<std::size_t> slot) noexcept {
    if (!slot) return fail(slot.err());
    return hook{this, *slot};
  }

  // One timed callback runs ARP retries and give-ups, reassembly timeouts, and
  // TCP's timers and owed ACKs: all of the stack's time, without a coroutine. It
  // waits on housekeeping_wake_ until the nearest deadline; the layers notify it
  // when one comes nearer.
  void await_housekeeping() noexcept {
    arp_at_ = arp_.next_deadline();
    ipv4_at_ = ipv4_.next_deadline();
    time_point next = arp_at_ < ipv4_at_ ? arp_at_ : ipv4_at_;
    if constexpr (Config::tcp)
      if (time_point r = tcp_.next_deadline(); r < next) next = r;
    housekeeping_wake_.wait_until(housekeeper_, next);
  }
  void housekeeping(wake_reason why) noexcept {
    if (why == wake_reason::cancelled) return;
    const time_point t = now();
    // TCP wakes this on most segments (an ACK owed, a deadline nearer): ARP's
    // and IPv4's timers run only when theirs are due, not a table walk each.
    // (A deadline of theirs that came nearer meanwhile woke us too: waiting
    // again sees it.)
    if (arp_at_ <= t) arp_.on_timer(t);
    if (ipv4_at_ <= t) ipv4_.on_timer(t);
    if constexpr (Config::tcp) tcp_.on_timer(t);
    await_housekeeping();
  }
  struct housekeeping_fn {
    Stack* s;
    void operator()(wake_reason why) const noexcept { s->housekeeping(why); }
  };

  time_point now() const noexcept { return sched_.now(); }

  // A slice of a header page for the layers' headers (IPv4's packets, ARP,
  // ICMP, DHCP; TCP holds the allocator itself).
  result<view> header_slice(std::size_t n) noexcept { return headers_.allocate(n); }

  // A seed for what must differ between hosts and boots (TCP's secret unless the
  // settings give one, DHCP's transaction ids): our MAC and the clock.
  std::uint64_t derived_seed() const noexcept {
    std::uint64_t x = 0;
    for (std::uint8_t b : netif_.mac().bytes) x = x << 8 | b;
    return x ^ static_cast<std::uint64_t>(clock_.now().time_since_epoch().count());
  }

  // The TCP layer, or nothing at all when the configuration has no TCP.
  auto transport(std::uint64_t seed) noexcept {
    if constexpr (Config::tcp)
      return tcp_layer(sched_, housekeeping_wake_, pool_, headers_, tcp_output_fn{this},
                       static_cast<std::uint16_t>(netif_.mtu() - 40), seed);
    else
      return detail::absent_layer{};
  }

  struct tcp_output_fn {
    Stack* s;
    result<void> operator()(ipv4_address dst, std::span<const view> segment) const noexcept {
      return s->ipv4_.send(dst, ip_protocol::tcp, segment);
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
  frame_hooks<Config::frame_hooks> hooks_;

  ethernet_layer<Stack> ethernet_;
  arp_layer<Stack> arp_;
  ipv4_layer<Stack> ipv4_;
  icmp_layer<Stack> icmp_;
  wait_queue housekeeping_wake_;
  [[no_unique_address]] std::conditional_t<Config::udp, udp_layer<Stack>, detail::absent_layer> udp_;
  std::conditional_t<Config::tcp, tcp_layer, detail::absent_layer> tcp_;  // built in place: no [[no_unique_address]]
  // The deadlines housekeeper_ waits for (when it runs, which timers are due).
  time_point arp_at_ = time_never;
  time_point ipv4_at_ = time_never;
  housekeeping_fn housekeeping_fn_{this};
  callback_waiter housekeeper_{housekeeping_fn_};  // leaves its queue and the timer heap before them
  // Last: its task is cancelled first, while everything it uses still exists.
  [[no_unique_address]] std::conditional_t<Config::dhcp, dhcp_layer<Stack>, detail::absent_layer> dhcp_;
};

}  // namespace uni
