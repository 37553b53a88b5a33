// uni/net/dhcp_layer.hpp: uni::Stack's DHCP glue. dhcp_client (dhcp_client.hpp) is
// the protocol, without I/O; this is its glue. One task owns UDP port 68: it gives
// the client what arrives there and the time, sends what the client asks for, and
// configures the stack from each new lease. Until a lease is bound our address is
// 0.0.0.0: the client's requests leave from 0.0.0.0 for 255.255.255.255 (RFC 2131
// §4.1), and ipv4_layer::for_us() takes the servers' replies.
//
// `S` is the stack (see ethernet_layer.hpp); only a Config with `dhcp` instantiates it.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>

#include <uni/core/buffer.hpp>
#include <uni/core/log.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/core/view_chain.hpp>
#include <uni/net/dhcp_client.hpp>
#include <uni/net/dhcp_message.hpp>

namespace uni {

template <class S>
class dhcp_layer {
 public:
  dhcp_layer(S& s, scheduler& sched) noexcept : s_(s), changed_(sched) {}

  // The lease the stack is configured from, if any.
  const std::optional<dhcp_lease>& lease() const noexcept { return lease_; }
  const dhcp_client_stats* statistics() const noexcept { return client_ ? &client_->stats() : nullptr; }
  // Woken when the address is configured or removed.
  wait_queue& changed() noexcept { return changed_; }

  // Drops the static address and starts asking for a lease.
  void start() noexcept {
    s_.settings_.address = {};  // 0.0.0.0/32: no address, no route but broadcast
    s_.settings_.gateway = {};
    client_.emplace(s_.netif_.mac(), s_.derived_seed());  // xids and back-off jitter
    task_ = spawn(s_.sched_, run());
  }

 private:
  task<void> run() {
    auto& table = s_.udp_.table();
    auto slot = table.bind(dhcp_client_port);
    if (!slot) {
      log_error("dhcp: cannot bind UDP port ", dhcp_client_port, ": ", to_string(slot.err()));
      co_return;
    }
    dhcp_client& client = *client_;
    client.start(s_.now());
    while (true) {
      configure();  // a new lease (or its loss) takes effect before the next message
      if (auto out = client.take_outgoing()) {
        const result<void> sent = co_await send(*out);
        if (!sent) log_warn("dhcp: a message to ", out->destination, " was not sent: ", to_string(sent.err()));
      }
      if (!table.has_datagram(*slot)) {
        const wake_reason woken = co_await table.ready(*slot).wait_until(client.next_deadline());
        if (woken == wake_reason::cancelled) co_return;  // port 68 was closed under us
      }
      if (table.has_datagram(*slot)) receive(table.pop(*slot).payload);
      client.on_timer(s_.now());  // does nothing before its deadline
    }
  }

  void receive(const view_chain& payload) noexcept {
    if (payload.count() == 1) return client_->on_message(payload[0].bytes(), s_.now());
    // A reassembled reply spans pages: gather it (rare; servers keep to 576 octets).
    std::array<std::uint8_t, 1500> gathered;
    client_->on_message({gathered.data(), payload.copy_to(gathered)}, s_.now());
  }

  // From port 68 to the server's port 67; the IP source is our address, 0.0.0.0 before
  // a lease, exactly when the client asks for it (dhcp_outgoing::from_unspecified).
  task<result<void>> send(const dhcp_outgoing& out) {
    auto buf = s_.header_slice(out.size);
    if (!buf) co_return fail(buf.err());
    std::copy_n(out.bytes.data(), out.size, buf->data());
    co_return co_await s_.udp_.send(dhcp_client_port, {out.destination, dhcp_server_port},
                                    std::span<const view>(&*buf, 1));
  }

  void configure() noexcept {
    const dhcp_client& client = *client_;
    lease_ = client.lease();  // a renewal moves only its times: nothing to reconfigure
    if (client.lease_generation() == generation_) return;
    generation_ = client.lease_generation();
    if (const auto& l = lease_) {
      s_.settings_.address = l->address;
      s_.settings_.gateway = l->router;
      const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(l->lease_time).count();
      if (l->lease_time == dhcp_lease::infinite) log_info("dhcp: leased ", l->address, " for ever from ", l->server);
      else log_info("dhcp: leased ", l->address, " for ", seconds, " s from ", l->server, ", gateway ", l->router);
      s_.arp_.announce(l->address.address);  // RFC 5227 §3
    } else {  // RFC 2131 §4.4.5: expired or refused; stop using the address at once
      s_.settings_.address = {};
      s_.settings_.gateway = {};
      log_warn("dhcp: lease lost, no address until a new one is leased");
    }
    changed_.notify_all();
  }

  S& s_;
  std::optional<dhcp_client> client_;  // made by start() when the settings ask for DHCP
  std::optional<dhcp_lease> lease_;    // the lease the stack is configured from
  std::uint32_t generation_ = 0;       // client_->lease_generation() when it was applied
  wait_queue changed_;
  join_handle<void> task_;
};

}  // namespace uni
