// uni/net/udp_layer.hpp: uni::Stack's UDP glue (RFC 768): datagrams in to the bound
// ports' queues (udp_socket_table.hpp), or a port unreachable back; datagrams out
// with their header written in the slice of the Ethernet and IPv4 headers. And the
// application's handle on a bound port, `basic_udp_socket` (Stack::udp_socket), with
// the same API as posix::SocketStack's.
//
// `S` is the stack (see ethernet_layer.hpp). Without Config::udp neither is
// instantiated: the image holds no UDP code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>

#include <uni/core/buffer.hpp>
#include <uni/core/result.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/core/view_chain.hpp>
#include <uni/net/dhcp_message.hpp>
#include <uni/net/endpoint.hpp>
#include <uni/net/icmp.hpp>
#include <uni/net/ipv4.hpp>
#include <uni/net/stack_counters.hpp>
#include <uni/net/udp.hpp>
#include <uni/net/udp_socket_table.hpp>

namespace uni {

template <class S>
class udp_layer {
  using config = typename S::config;

 public:
  using table_type = udp_socket_table<config::udp_sockets, config::udp_queue>;

  udp_layer(S& s, scheduler& sched) noexcept : s_(s), table_(sched) {}

  table_type& table() noexcept { return table_; }

  void input(const ipv4_header& h, const view_chain& datagram_bytes) noexcept {
    auto& c = s_.counters_.udp;
    auto parsed = udp_header::parse(datagram_bytes, h.source, h.destination);
    if (!parsed) return c.drop(parsed.err() == error::bad_checksum ? udp_drop::bad_checksum : udp_drop::malformed);
    const udp_header& u = *parsed;  // once: each -> checks the result again
    ++c.received;
    // Without an address, only the DHCP client's port is served (see ipv4_layer::deliver).
    const bool served = !s_.ipv4_.unconfigured() || u.destination_port == dhcp_client_port;
    const std::size_t slot = served ? table_.find(u.destination_port) : table_type::none;
    if (slot == table_type::none) {
      c.drop(udp_drop::no_listener);
      if (!s_.ipv4_.is_broadcast(h.destination) && !s_.ipv4_.unconfigured())
        s_.icmp_.send_unreachable(icmp_unreachable_code::port, h, datagram_bytes);
      return;
    }
    datagram d{{h.source, u.source_port},
               {h.destination, u.destination_port},
               datagram_bytes.subchain(udp_header::size, u.length - udp_header::size)};
    if (!table_.deliver(slot, std::move(d))) c.drop(udp_drop::queue_full);
  }

  // Sends from port `sport`, resolving the next hop first if it must.
  // `failures` (a socket's send_failures()) counts the sends that fail.
  task<result<void>> send(std::uint16_t sport, endpoint to, std::span<const view> payload,
                          std::uint64_t* failures = nullptr) {
    bool started = false;
    while (true) {
      if (auto r = send_step(sport, to, payload, started)) co_return counted(*r, failures);
      if (co_await s_.arp_.resolutions().wait() == wake_reason::cancelled) co_return fail(error::cancelled);
    }
  }
  // send() between its waits, for a coroutine that waits itself (no task of
  // its own): the send's result, or nothing while ARP resolves the next hop
  // (wait on resolutions(), then call again). `started`, false at first, is
  // arp_layer::resolve_step's: once this send began a resolution, its failure is final.
  std::optional<result<void>> send_step(std::uint16_t sport, endpoint to, std::span<const view> payload,
                                        bool& started) noexcept {
    auto next = route(sport, to, payload);
    if (!next) return fail(next.err());
    // A known neighbour's MAC at once, else its resolution begun or followed.
    auto mac = s_.arp_.resolve_step(*next, started);
    if (mac) return emit(sport, to, *mac, payload);  // its error stands: a full device's would_block too
    if (mac.err() == error::would_block) return std::nullopt;
    return fail(mac.err());
  }
  // Notified when a next hop is resolved, or its resolution fails (send_step's waits).
  wait_queue& resolutions() noexcept { return s_.arp_.resolutions(); }
  // Counts a failed send in `*failures`: every refusal but would_block and cancellation.
  static result<void> counted(result<void> r, std::uint64_t* failures) noexcept {
    if (failures && !r && r.err() != error::would_block && r.err() != error::cancelled) ++*failures;
    return r;
  }

  // send() without waiting: error::would_block when ARP must resolve the next hop.
  result<void> send_now(std::uint16_t sport, endpoint to, std::span<const view> payload) noexcept {
    auto next = route(sport, to, payload);
    if (!next) return fail(next.err());
    const mac_address* mac = s_.arp_.neighbour(*next);
    if (!mac) return fail(error::would_block);
    return emit(sport, to, *mac, payload);
  }

 private:
  // Whether a datagram from `sport` may go to `to`, and its next hop.
  result<ipv4_address> route(std::uint16_t sport, endpoint to, std::span<const view> payload) const noexcept {
    if (s_.ipv4_.unconfigured() && sport != dhcp_client_port) return fail(error::unreachable);  // no address yet
    if (total_size(payload) > udp_header::max_payload) return fail(error::too_large);
    return s_.ipv4_.next_hop(to.address);
  }

  result<void> emit(std::uint16_t sport, endpoint to, const mac_address& mac, std::span<const view> payload) noexcept {
    auto put_header = [&](std::span<std::uint8_t> out) {
      udp_header::emit(out, sport, to.port, s_.settings_.address.address, to.address, payload);
    };
    auto r = s_.ipv4_.transmit(mac, to.address, ip_protocol::udp, payload, udp_header::size, put_header);
    if (r) ++s_.counters_.udp.sent;
    return r;
  }

  S& s_;
  table_type table_;
};

// A bound UDP port (Stack::udp_bind); closes it when destroyed. Must not outlive the stack.
template <class S>
class basic_udp_socket {
 public:
  basic_udp_socket(basic_udp_socket&& o) noexcept
      : stack_(std::exchange(o.stack_, nullptr)), slot_(o.slot_), send_failures_(o.send_failures_) {}
  basic_udp_socket& operator=(basic_udp_socket&& o) noexcept {
    if (this != &o) {
      close();
      stack_ = std::exchange(o.stack_, nullptr);
      slot_ = o.slot_;
      send_failures_ = o.send_failures_;
    }
    return *this;
  }
  ~basic_udp_socket() { close(); }

  endpoint local() const noexcept { return {stack_->address().address, layer().table().port(slot_)}; }

  // The next datagram for this port; its payload views the page(s) it came in.
  task<result<datagram>> receive() {
    auto& table = layer().table();
    const std::size_t i = slot_;
    while (!table.has_datagram(i)) {
      if (co_await table.ready(i).wait() == wake_reason::cancelled) co_return fail(error::cancelled);
    }
    co_return table.pop(i);
  }

  // The next datagram if one is queued, else error::would_block: no task, no
  // wait (the loop of a busy server).
  result<datagram> try_receive() noexcept {
    auto& table = layer().table();
    if (!table.has_datagram(slot_)) return fail(error::would_block);
    return table.pop(slot_);
  }

  // Sends now if the next hop is known, else error::would_block (send_to()
  // resolves it first).
  result<void> try_send_to(endpoint to, std::span<const view> payload) noexcept {
    return udp_layer<S>::counted(layer().send_now(layer().table().port(slot_), to, payload), &send_failures_);
  }
  result<void> try_send_to(endpoint to, const view& payload) noexcept {
    return try_send_to(to, std::span<const view>(&payload, 1));
  }

  // Sends `payload` (any number of views, not copied) to `to`, resolving the
  // next hop first: error::unreachable if ARP gets no answer.
  // (The layer's task itself, counting into send_failures_: no frame of our own.)
  task<result<void>> send_to(endpoint to, std::span<const view> payload) {
    return layer().send(layer().table().port(slot_), to, payload, &send_failures_);
  }
  task<result<void>> send_to(endpoint to, const view& payload) {
    return send_to(to, std::span<const view>(&payload, 1));
  }
  // For a server's loop that waits itself, without a task (and its frame) per
  // datagram: readable() waits until a datagram is queued (notified) or the
  // socket closes (cancelled), and send_step() is send_to() between its waits:
  // its result, or nothing while ARP resolves the next hop (co_await
  // next_hop_resolved(), then call it again with the same `started`, false at first).
  wait_queue::wait_awaiter readable() noexcept { return layer().table().ready(slot_).wait(); }
  std::optional<result<void>> send_step(endpoint to, const view& payload, bool& started) noexcept {
    auto r = layer().send_step(layer().table().port(slot_), to, std::span<const view>(&payload, 1), started);
    if (r) (void)udp_layer<S>::counted(*r, &send_failures_);
    return r;
  }
  wait_queue::wait_awaiter next_hop_resolved() noexcept { return layer().resolutions().wait(); }

  // Sends that failed (would_block and cancellation aside): every refusal is the call's error here.
  std::uint64_t send_failures() const noexcept { return send_failures_; }

  void close() noexcept {
    if (stack_) std::exchange(stack_, nullptr)->udp_.table().unbind(slot_);
  }

 private:
  friend S;
  basic_udp_socket(S* s, std::size_t slot) noexcept : stack_(s), slot_(slot) {}
  udp_layer<S>& layer() const noexcept { return stack_->udp_; }

  S* stack_;
  std::size_t slot_;
  std::uint64_t send_failures_ = 0;
};

}  // namespace uni
