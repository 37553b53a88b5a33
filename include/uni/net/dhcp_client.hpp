// uni/net/dhcp_client.hpp: the DHCP client (RFC 2131), sans-IO; the messages it
// sends and reads are uni/net/dhcp_message.hpp.
//
// What is implemented, by section:
//   RFC 2131 §3, §4.1                retransmission with randomised exponential back-off
//                                    (4 s, 8 s, ..., 64 s)
//   RFC 2131 §3.1, §4.4.1            INIT -> SELECTING -> REQUESTING -> BOUND
//   RFC 2131 §4.3.2, Table 4         the DHCPREQUEST of each state (server id, requested IP, ciaddr)
//   RFC 2131 §4.4.5                  BOUND -> RENEWING (T1) -> REBINDING (T2) -> INIT (expiry)
// Not implemented: INIT-REBOOT/REBOOTING (§4.4.2), DHCPINFORM (§4.4.3), the ARP probe of
// the offered address and DHCPDECLINE (§3.1 step 5, §4.4.1 SHOULD: uni::Stack announces a
// leased address with a gratuitous ARP but does not probe it first), DHCPRELEASE (§4.4.6).
//
// `dhcp_client` is the state machine. It does no I/O and reads no clock: UDP payloads,
// the time and timer expiries come in (start, on_message, on_timer); the message to
// send (take_outgoing), the next deadline (next_deadline) and the lease (lease,
// lease_generation) come out. Its randomness (xids, back-off jitter) comes from a seeded
// uni::random_generator, so a simulation replays exactly.
//
// Wiring it to a stack (UDP, client port 68 -> server port 67):
//   * after every call to start/on_message/on_timer, send take_outgoing() if it has a value:
//     from UDP port 68 to `destination` port 67, with IP source 0.0.0.0 when
//     `from_unspecified` is set (else the leased address); 255.255.255.255 goes to the
//     Ethernet broadcast address;
//   * call on_timer(now) once now >= next_deadline() (calling it early is harmless);
//   * give on_message every UDP payload that arrives for port 68, including IP broadcasts
//     and datagrams that arrive before an address is configured: DISCOVER and the
//     SELECTING REQUEST set the BROADCAST flag (§4.1), so servers broadcast their replies;
//   * when lease_generation() changes, configure lease() (or remove the address when it is
//     empty: the lease was lost, §4.4.5 "MUST immediately stop any other network processing").
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <uni/core/format.hpp>
#include <uni/core/random.hpp>
#include <uni/core/time.hpp>
#include <uni/net/dhcp_message.hpp>
#include <uni/net/ipv4_address.hpp>
#include <uni/net/mac_address.hpp>

namespace uni {

// A lease as the stack applies it. Durations are relative to `acquired`, the time the
// DHCPREQUEST that obtained it was sent (RFC 2131 §4.4.1, §4.4.5).
struct dhcp_lease {
  static constexpr duration infinite = duration::max();  // lease time 0xffffffff (§3.3)

  ipv4_cidr address{};         // yiaddr with the prefix of the subnet mask option
  ipv4_address router{};       // 0.0.0.0 when the server named none
  std::array<ipv4_address, 3> dns{};
  std::uint8_t dns_count = 0;
  ipv4_address server{};       // server identifier: where RENEWING unicasts
  duration lease_time{};
  duration t1{};               // RENEWING starts at acquired + t1
  duration t2{};               // REBINDING starts at acquired + t2
  time_point acquired{};

  constexpr std::span<const ipv4_address> dns_servers() const noexcept { return {dns.data(), dns_count}; }
  constexpr time_point renew_at() const noexcept { return after(acquired, t1); }
  constexpr time_point rebind_at() const noexcept { return after(acquired, t2); }
  constexpr time_point expires_at() const noexcept { return after(acquired, lease_time); }

  friend constexpr bool operator==(const dhcp_lease&, const dhcp_lease&) noexcept = default;

  // t + d, saturating at time_never (an infinite lease never expires).
  static constexpr time_point after(time_point t, duration d) noexcept {
    if (d == infinite) return time_never;
    if (t.time_since_epoch().count() >= 0 && d > time_never - t) return time_never;
    return t + d;
  }
};

// Client states (RFC 2131 Figure 5; INIT-REBOOT and REBOOTING are not implemented).
enum class dhcp_state : std::uint8_t { init, selecting, requesting, bound, renewing, rebinding };

constexpr std::string_view to_string(dhcp_state s) noexcept {
  switch (s) {
    case dhcp_state::init: return "INIT";
    case dhcp_state::selecting: return "SELECTING";
    case dhcp_state::requesting: return "REQUESTING";
    case dhcp_state::bound: return "BOUND";
    case dhcp_state::renewing: return "RENEWING";
    case dhcp_state::rebinding: return "REBINDING";
  }
  return "?";
}

// Why the client ignored a received message: each ignored message counts exactly once.
enum class dhcp_ignore : std::uint8_t {
  malformed,      // dhcp_message::parse failed
  not_a_reply,    // op is BOOTREQUEST
  wrong_xid,      // not the transaction in progress (§4.4.1, §4.4.5: silently discarded)
  wrong_chaddr,   // for another client
  unexpected,     // no message type, or a type the current state does not take (Figure 5)
  unusable,       // OFFER/ACK without a usable yiaddr or with an unusable server id, an OFFER
                  // without server id, an ACK without lease time
  wrong_server,   // in REQUESTING, an ACK/NAK from a server other than the one selected
  count_
};

constexpr std::string_view to_string(dhcp_ignore r) noexcept {
  constexpr std::string_view names[] = {"malformed",  "not a reply", "wrong xid",   "wrong chaddr",
                                        "unexpected", "unusable",    "wrong server"};
  return static_cast<std::size_t>(r) < static_cast<std::size_t>(dhcp_ignore::count_)
             ? names[static_cast<std::size_t>(r)]
             : "?";
}

struct dhcp_client_stats {
  static constexpr std::size_t reasons = static_cast<std::size_t>(dhcp_ignore::count_);

  std::uint64_t received = 0;            // on_message calls
  std::uint64_t sent = 0;                // messages queued for take_outgoing
  std::uint64_t retransmissions = 0;     // of those, repeats after a timeout
  std::uint64_t unsent_dropped = 0;      // a queued message replaced, or made stale by an ACK, before it was taken
  std::array<std::uint64_t, reasons> ignored{};
  std::uint64_t leases_acquired = 0;     // every DHCPACK accepted, renewals included
  std::uint64_t renewals = 0;            // of those, in RENEWING or REBINDING
  std::uint64_t naks = 0;                // DHCPNAKs accepted (each restarts from INIT)
  std::uint64_t leases_lost = 0;         // lease expired, or NAKed while held
  std::uint64_t requests_abandoned = 0;  // REQUESTING gave up after its retransmissions

  std::uint64_t ignored_by(dhcp_ignore r) const noexcept { return ignored[static_cast<std::size_t>(r)]; }
  std::uint64_t ignored_total() const noexcept {
    std::uint64_t n = 0;
    for (auto i : ignored) n += i;
    return n;
  }
};

inline void format_value(text_writer& w, const dhcp_client_stats& s) noexcept {
  format_to(w, "rx ", s.received, " tx ", s.sent, " (", s.retransmissions, " retransmitted) ignored ",
            s.ignored_total());
  bool first = true;
  for (std::size_t i = 0; i < s.reasons; ++i) {
    if (s.ignored[i] == 0) continue;
    format_to(w, first ? " (" : ", ", to_string(static_cast<dhcp_ignore>(i)), " ", s.ignored[i]);
    first = false;
  }
  if (!first) w.put(')');
  format_to(w, " leases ", s.leases_acquired, " renewals ", s.renewals, " naks ", s.naks, " lost ", s.leases_lost);
}

// One message for the stack to send (dhcp_client::outgoing): UDP from port 68 to
// `destination` port 67. (Defined outside dhcp_client only because clang cannot yet use a
// nested struct's member initialisers inside the enclosing class.)
struct dhcp_outgoing {
  std::array<std::uint8_t, dhcp_message::max_emit_size> bytes{};
  std::size_t size = 0;
  ipv4_address destination{};    // 255.255.255.255, or the server (RENEWING)
  bool from_unspecified = true;  // IP source 0.0.0.0 (before an address is bound, §4.1)

  std::span<const std::uint8_t> payload() const noexcept { return {bytes.data(), size}; }
};

// The client state machine (RFC 2131 §4.4). See the top of this file for how to wire it.
class dhcp_client {
 public:
  static constexpr std::size_t max_emit_size = dhcp_message::max_emit_size;
  using outgoing = dhcp_outgoing;

  // §4.1: the first retransmission after 4 s, doubling up to 64 s, each randomised by a
  // uniform value in [-1 s, +1 s] (our clock has sub-second resolution, so not integral).
  static constexpr duration first_retransmission = std::chrono::seconds{4};
  static constexpr duration max_retransmission = std::chrono::seconds{64};
  static constexpr duration retransmission_jitter = std::chrono::seconds{1};
  // §3.1 step 5 suggests retransmitting REQUEST "four times, for a total delay of 60
  // seconds" before restarting: we send it four times in all, wait 4 + 8 + 16 + 32 s
  // (each +-1 s), about 60 s, and then go back to INIT.
  static constexpr unsigned max_request_transmissions = 4;
  // §4.4.5: in RENEWING/REBINDING, wait half the time left until T2 / expiry, at least 60 s.
  static constexpr duration min_renew_retransmission = std::chrono::seconds{60};
  // Option 55 in every DISCOVER and REQUEST (§3.5: the same list in every message):
  // subnet mask, router, DNS servers, lease time, T1, T2.
  static constexpr std::array<std::uint8_t, 6> requested_parameters{1, 3, 6, 51, 58, 59};

  dhcp_client(mac_address mac, std::uint64_t seed) noexcept : mac_(mac), rng_(seed) {}

  // §4.4.1: enters INIT, chooses a transaction id and sends DHCPDISCOVER at once (the
  // optional 1-10 s start-up delay is left to the caller). Calling it again restarts,
  // dropping any lease.
  void start(time_point now) noexcept {
    started_ = true;
    drop_lease(false);
    restart(now);
  }

  // A UDP payload received on port 68.
  void on_message(std::span<const std::uint8_t> udp_payload, time_point now) noexcept {
    ++stats_.received;
    const result<dhcp_message> parsed = dhcp_message::parse(udp_payload);
    if (!parsed) return ignore(dhcp_ignore::malformed);
    const dhcp_message& m = *parsed;
    if (m.op != dhcp_op::boot_reply) return ignore(dhcp_ignore::not_a_reply);
    if (!started_ || m.xid != xid_) return ignore(dhcp_ignore::wrong_xid);
    if (m.chaddr != mac_) return ignore(dhcp_ignore::wrong_chaddr);
    if (!m.message_type) return ignore(dhcp_ignore::unexpected);
    const dhcp_message_type type = *m.message_type;
    switch (state_) {
      case dhcp_state::selecting:  // §4.4.1: take an OFFER; ACKs "must be silently discarded"
        if (type == dhcp_message_type::offer) return on_offer(m, now);
        return ignore(dhcp_ignore::unexpected);
      case dhcp_state::requesting:  // Figure 5: ACK -> BOUND, NAK -> INIT, OFFER discarded
      case dhcp_state::renewing:    // §4.4.5: ACK -> BOUND, NAK -> INIT
      case dhcp_state::rebinding:
        if (type == dhcp_message_type::ack) return on_ack(m, now);
        if (type == dhcp_message_type::nak) return on_nak(m, now);
        return ignore(dhcp_ignore::unexpected);
      case dhcp_state::init:
      case dhcp_state::bound:  // Figure 5: "DHCPOFFER, DHCPACK, DHCPNAK/Discard"
        break;
    }
    ignore(dhcp_ignore::unexpected);
  }

  // When on_timer must next be called; time_never if nothing is scheduled (not started,
  // or an infinite lease).
  time_point next_deadline() const noexcept { return deadline_; }

  // Retransmits, or moves along the lease's timeline (§4.4.5). Before next_deadline()
  // it does nothing.
  void on_timer(time_point now) noexcept {
    if (now < deadline_) return;
    switch (state_) {
      case dhcp_state::init:
        deadline_ = time_never;
        return;
      case dhcp_state::selecting:  // §4.1: DISCOVER again, same xid, backed off
        ++stats_.retransmissions;
        send_discover(now);
        schedule_retransmission(now);
        return;
      case dhcp_state::requesting:
        if (transmissions_ >= max_request_transmissions) {  // §3.1 step 5: back to INIT
          ++stats_.requests_abandoned;
          restart(now);
          return;
        }
        ++stats_.retransmissions;
        send_request(now);
        schedule_retransmission(now);
        return;
      case dhcp_state::bound:
      case dhcp_state::renewing:
      case dhcp_state::rebinding:
        return lease_timer(now);
    }
  }

  // The message to send now, if any; only the latest is kept.
  std::optional<outgoing> take_outgoing() noexcept {
    std::optional<outgoing> o;
    o.swap(pending_);
    return o;
  }
  bool has_outgoing() const noexcept { return pending_.has_value(); }

  // The lease in force (BOUND, RENEWING, REBINDING), else empty.
  std::optional<dhcp_lease> lease() const noexcept { return lease_; }
  dhcp_state state() const noexcept { return state_; }
  // Changes whenever lease() starts, ends, or changes what the stack configures
  // (address, prefix, router, DNS servers, server); a renewal that only extends the
  // times leaves it alone.
  std::uint32_t lease_generation() const noexcept { return generation_; }
  const dhcp_client_stats& stats() const noexcept { return stats_; }
  mac_address mac() const noexcept { return mac_; }
  std::uint32_t xid() const noexcept { return xid_; }  // the transaction in progress

 private:
  void ignore(dhcp_ignore r) noexcept { ++stats_.ignored[static_cast<std::size_t>(r)]; }

  static constexpr bool usable_address(ipv4_address a) noexcept {
    return !a.is_any() && !a.is_broadcast() && !a.is_multicast() && !a.is_loopback();
  }

  // INIT -> SELECTING (§4.4.1): new transaction, DISCOVER now, retransmit with back-off.
  void restart(time_point now) noexcept {
    xid_ = next_xid();
    exchange_start_ = now;
    transmissions_ = 0;
    state_ = dhcp_state::selecting;
    send_discover(now);
    schedule_retransmission(now);
  }

  // SELECTING -> REQUESTING (§4.4.1, §4.3.2 "DHCPREQUEST generated during SELECTING").
  void on_offer(const dhcp_message& m, time_point now) noexcept {
    if (!usable_address(m.yiaddr) || !m.server_identifier || !usable_address(*m.server_identifier))
      return ignore(dhcp_ignore::unusable);
    offered_ = m.yiaddr;
    selected_server_ = *m.server_identifier;
    state_ = dhcp_state::requesting;
    transmissions_ = 0;
    request_sent_ = now;
    send_request(now);
    schedule_retransmission(now);
  }

  // REQUESTING/RENEWING/REBINDING -> BOUND: record the lease, set T1 and T2 (§4.4.1, §4.4.5).
  void on_ack(const dhcp_message& m, time_point) noexcept {
    if (state_ == dhcp_state::requesting && m.server_identifier && *m.server_identifier != selected_server_)
      return ignore(dhcp_ignore::wrong_server);
    // A server id we could not unicast RENEWING's REQUEST to makes the lease unusable too.
    if (!usable_address(m.yiaddr) || !m.lease_seconds ||
        (m.server_identifier && !usable_address(*m.server_identifier)))
      return ignore(dhcp_ignore::unusable);

    dhcp_lease l;
    l.address = {m.yiaddr, prefix_for(m.yiaddr, m.subnet_mask)};
    l.router = m.router.value_or(ipv4_address::any());
    for (std::size_t i = 0; i < m.dns_count && i < l.dns.size(); ++i) l.dns[i] = m.dns[i];
    l.dns_count = static_cast<std::uint8_t>(m.dns_count < l.dns.size() ? m.dns_count : l.dns.size());
    if (m.server_identifier) l.server = *m.server_identifier;
    else l.server = state_ == dhcp_state::requesting ? selected_server_ : lease_->server;
    set_times(l, m);
    // §4.4.1, §4.4.5: the lease runs from when the REQUEST was sent. With retransmissions
    // under one xid that is the first REQUEST of this state: never later than the one answered.
    l.acquired = request_sent_;

    const bool changed = !lease_ || lease_->address != l.address || lease_->router != l.router ||
                         lease_->dns_servers().size() != l.dns_servers().size() ||
                         !same_dns(*lease_, l) || lease_->server != l.server;
    if (state_ != dhcp_state::requesting) ++stats_.renewals;
    ++stats_.leases_acquired;
    lease_ = l;
    if (changed) ++generation_;
    state_ = dhcp_state::bound;
    transmissions_ = 0;
    if (pending_) {  // a retransmission not yet taken is stale now
      pending_.reset();
      ++stats_.unsent_dropped;
    }
    deadline_ = lease_->renew_at();
  }

  // NAK -> INIT (§3.1 step 5, §4.4.5 Figure 5 "DHCPNAK/Halt network").
  void on_nak(const dhcp_message& m, time_point now) noexcept {
    if (state_ == dhcp_state::requesting && m.server_identifier && *m.server_identifier != selected_server_)
      return ignore(dhcp_ignore::wrong_server);
    ++stats_.naks;
    drop_lease(true);
    restart(now);
  }

  // BOUND/RENEWING/REBINDING timers (§4.4.5). A late call may skip states.
  void lease_timer(time_point now) noexcept {
    const dhcp_lease& l = *lease_;
    if (now >= l.expires_at()) {  // "the client moves to INIT state, MUST immediately stop..."
      drop_lease(true);
      restart(now);
      return;
    }
    if (now >= l.rebind_at() && state_ != dhcp_state::rebinding) {  // T2: broadcast REQUEST
      begin_lease_exchange(dhcp_state::rebinding, now);
      return;
    }
    if (state_ == dhcp_state::bound) {  // T1: unicast REQUEST to the leasing server
      begin_lease_exchange(dhcp_state::renewing, now);
      return;
    }
    ++stats_.retransmissions;
    send_request(now);
    schedule_lease_retransmission(now);
  }

  void begin_lease_exchange(dhcp_state s, time_point now) noexcept {
    state_ = s;
    xid_ = next_xid();
    exchange_start_ = now;
    transmissions_ = 0;
    request_sent_ = now;
    send_request(now);
    schedule_lease_retransmission(now);
  }

  void drop_lease(bool count) noexcept {
    if (!lease_) return;
    lease_.reset();
    ++generation_;
    if (count) ++stats_.leases_lost;
  }

  // §4.1: 4 s, 8 s, 16 s, 32 s, then 64 s, each +-1 s.
  void schedule_retransmission(time_point now) noexcept {
    duration base = first_retransmission;
    for (unsigned i = 1; i < transmissions_ && base < max_retransmission; ++i) base *= 2;
    if (base > max_retransmission) base = max_retransmission;
    deadline_ = now + base + jitter();
  }

  // §4.4.5: half the time left until T2 (RENEWING) or expiry (REBINDING), at least 60 s,
  // but never past that time, when the state changes anyway.
  void schedule_lease_retransmission(time_point now) noexcept {
    const time_point limit = state_ == dhcp_state::renewing ? lease_->rebind_at() : lease_->expires_at();
    duration wait = (limit - now) / 2;
    if (wait < min_renew_retransmission) wait = min_renew_retransmission;
    const time_point t = dhcp_lease::after(now, wait);
    deadline_ = t < limit ? t : limit;
  }

  duration jitter() noexcept {
    const auto span = static_cast<std::uint64_t>(2 * retransmission_jitter.count() + 1);
    return duration{static_cast<duration::rep>(rng_.below(span))} - retransmission_jitter;
  }

  std::uint32_t next_xid() noexcept { return static_cast<std::uint32_t>(rng_() >> 32); }

  // 'secs': seconds since this exchange began (RFC 2131 Table 5), saturating.
  std::uint16_t secs_since_start(time_point now) const noexcept {
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(now - exchange_start_).count();
    return s <= 0 ? 0 : s >= 0xffff ? std::uint16_t{0xffff} : static_cast<std::uint16_t>(s);
  }

  dhcp_message base_message(dhcp_message_type type) const noexcept {
    dhcp_message m;
    m.op = dhcp_op::boot_request;
    m.xid = xid_;
    m.chaddr = mac_;
    m.message_type = type;
    m.set_parameter_request_list(requested_parameters);
    return m;
  }

  void send_discover(time_point now) noexcept {
    dhcp_message m = base_message(dhcp_message_type::discover);
    m.secs = selecting_secs_ = secs_since_start(now);
    m.flags = dhcp_message::broadcast_flag;  // §4.1: we take no unicast before we have an address
    transmit(m, ipv4_address::broadcast(), true);
  }

  // The DHCPREQUEST of the current state (§4.3.2, Table 4).
  void send_request(time_point now) noexcept {
    dhcp_message m = base_message(dhcp_message_type::request);
    if (state_ == dhcp_state::requesting) {
      // broadcast; server id and requested IP MUST, ciaddr zero; 'secs' the same as the
      // DISCOVER's (§3.1 step 3)
      m.secs = selecting_secs_;
      m.flags = dhcp_message::broadcast_flag;
      m.server_identifier = selected_server_;
      m.requested_ip = offered_;
      transmit(m, ipv4_address::broadcast(), true);
      return;
    }
    // RENEWING (unicast to the server) and REBINDING (broadcast): ciaddr is our address,
    // no server id, no requested IP. We own the address, so the IP source is that address
    // (§4.1 asks for 0.0.0.0 only "prior to that client obtaining its IP address").
    m.secs = secs_since_start(now);
    m.ciaddr = lease_->address.address;
    const bool renewing = state_ == dhcp_state::renewing;
    transmit(m, renewing ? lease_->server : ipv4_address::broadcast(), false);
  }

  void transmit(const dhcp_message& m, ipv4_address destination, bool from_unspecified) noexcept {
    if (pending_) ++stats_.unsent_dropped;
    pending_.emplace();
    outgoing& o = *pending_;
    o.size = m.emit(o.bytes);
    o.destination = destination;
    o.from_unspecified = from_unspecified;
    ++transmissions_;
    ++stats_.sent;
  }

  // Sets lease_time, t1 and t2 from options 51, 58, 59. §4.4.5: T1 defaults to 0.5 and T2
  // to 0.875 of the lease, and T1 < T2 < lease; a T2 not before expiry, or a T1 not before
  // T2, is replaced by its default, and if the default T1 is still not before T2, T1 = T2
  // (RENEWING is skipped). An infinite lease (§3.3) has infinite T1 and T2.
  static void set_times(dhcp_lease& l, const dhcp_message& m) noexcept {
    const std::uint32_t lease_s = *m.lease_seconds;
    if (lease_s == dhcp_message::infinite_seconds) {
      l.lease_time = l.t1 = l.t2 = dhcp_lease::infinite;
      return;
    }
    using std::chrono::seconds;
    l.lease_time = seconds{lease_s};
    l.t2 = m.rebinding_seconds && *m.rebinding_seconds < lease_s ? duration{seconds{*m.rebinding_seconds}}
                                                                 : l.lease_time / 8 * 7;
    l.t1 = m.renewal_seconds && duration{seconds{*m.renewal_seconds}} < l.t2 ? duration{seconds{*m.renewal_seconds}}
                                                                            : l.lease_time / 2;
    if (l.t1 > l.t2) l.t1 = l.t2;
  }

  // The subnet mask as a prefix length. Without the option, or with a mask whose one bits
  // are not contiguous, falls back to the address's class (A /8, B /16, C /24), the
  // pre-CIDR default that other clients use too.
  static constexpr std::uint8_t prefix_for(ipv4_address a, std::optional<ipv4_address> mask) noexcept {
    if (mask) {
      const std::uint32_t v = mask->value;
      std::uint8_t n = 0;
      while (n < 32 && (v & (0x80000000u >> n)) != 0) ++n;
      const std::uint32_t contiguous = n == 0 ? 0 : ~std::uint32_t{0} << (32 - n);
      if (v == contiguous) return n;
    }
    const std::uint32_t top = a.value >> 24;
    return top < 128 ? 8 : top < 192 ? 16 : 24;
  }

  static constexpr bool same_dns(const dhcp_lease& a, const dhcp_lease& b) noexcept {
    for (std::size_t i = 0; i < a.dns_count && i < a.dns.size(); ++i)
      if (a.dns[i] != b.dns[i]) return false;
    return true;
  }

  mac_address mac_;
  random_generator rng_;
  dhcp_state state_ = dhcp_state::init;
  bool started_ = false;
  std::uint32_t xid_ = 0;
  time_point exchange_start_{};    // for 'secs'
  std::uint16_t selecting_secs_ = 0;
  ipv4_address offered_{};         // yiaddr of the chosen OFFER
  ipv4_address selected_server_{}; // its server identifier
  time_point request_sent_{};      // first REQUEST of the current state
  unsigned transmissions_ = 0;     // of the message being retransmitted
  time_point deadline_ = time_never;
  std::optional<dhcp_lease> lease_;
  std::uint32_t generation_ = 0;
  std::optional<outgoing> pending_;
  dhcp_client_stats stats_;
};

}  // namespace uni
