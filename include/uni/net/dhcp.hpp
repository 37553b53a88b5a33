// uni/net/dhcp.hpp: the DHCP client (RFC 2131) and the DHCP message wire format
// with the options it needs (RFC 2132), sans-IO.
//
// What is implemented, by section:
//   RFC 2131 §2 (Figure 1, Table 1)  the message layout, the BROADCAST flag (Figure 2)
//   RFC 2131 §3, §4.1                magic cookie, options, end option; retransmission
//                                    with randomised exponential back-off (4 s, 8 s, ..., 64 s)
//   RFC 2131 §3.1, §4.4.1            INIT -> SELECTING -> REQUESTING -> BOUND
//   RFC 2131 §4.3.2, Table 4         the DHCPREQUEST of each state (server id, requested IP, ciaddr)
//   RFC 2131 §4.4.5                  BOUND -> RENEWING (T1) -> REBINDING (T2) -> INIT (expiry)
//   RFC 2131 §3.3                    lease times in seconds, 0xffffffff is infinity
//   RFC 2132 §3, §9                  options 0, 1, 3, 6, 50, 51, 53, 54, 55, 58, 59, 61, 255
// Not implemented: INIT-REBOOT/REBOOTING (§4.4.2), DHCPINFORM (§4.4.3), the ARP probe of
// the offered address and DHCPDECLINE (§3.1 step 5, §4.4.1 SHOULD: uni::Stack announces a
// leased address with a gratuitous ARP but does not probe it first), DHCPRELEASE (§4.4.6),
// option overload (RFC 2132 §9.3, see dhcp_message::parse).
//
// Two parts, as every wire format in uni:
//   * `dhcp_message` is the validated representation. parse() reads every length before
//     the bytes it covers, so no input can make it read out of bounds; once it has
//     returned a value, nothing else touches the input. emit() into a buffer of at least
//     emit_size() bytes (always <= dhcp_message::max_emit_size) cannot fail.
//   * `dhcp_client` is the state machine. It does no I/O and reads no clock: UDP payloads,
//     the time and timer expiries come in (start, on_message, on_timer); the message to
//     send (take_outgoing), the next deadline (next_deadline) and the lease (lease,
//     lease_generation) come out. Its randomness (xids, back-off jitter) comes from a seeded
//     uni::random_generator, so a simulation replays exactly.
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
#include <uni/core/result.hpp>
#include <uni/core/time.hpp>
#include <uni/core/wire.hpp>
#include <uni/net/ipv4_address.hpp>
#include <uni/net/mac_address.hpp>

namespace uni {

inline constexpr std::uint16_t dhcp_server_port = 67;  // RFC 2131 §4.1
inline constexpr std::uint16_t dhcp_client_port = 68;

// 'op' (RFC 2131 Table 1).
enum class dhcp_op : std::uint8_t { boot_request = 1, boot_reply = 2 };

// Option 53 values (RFC 2132 §9.6). Values outside 1..8 parse (later RFCs add types) and
// are ignored by the client as unexpected.
enum class dhcp_message_type : std::uint8_t {
  discover = 1, offer = 2, request = 3, decline = 4, ack = 5, nak = 6, release = 7, inform = 8
};

constexpr std::string_view to_string(dhcp_message_type t) noexcept {
  switch (t) {
    case dhcp_message_type::discover: return "DHCPDISCOVER";
    case dhcp_message_type::offer: return "DHCPOFFER";
    case dhcp_message_type::request: return "DHCPREQUEST";
    case dhcp_message_type::decline: return "DHCPDECLINE";
    case dhcp_message_type::ack: return "DHCPACK";
    case dhcp_message_type::nak: return "DHCPNAK";
    case dhcp_message_type::release: return "DHCPRELEASE";
    case dhcp_message_type::inform: return "DHCPINFORM";
  }
  return "DHCP(unknown type)";
}

// Option codes (RFC 2132) that uni reads or writes; every other code is skipped.
enum class dhcp_option : std::uint8_t {
  pad = 0,                      // §3.1, one octet, no length
  subnet_mask = 1,              // §3.3, 4
  router = 3,                   // §3.5, n*4, n >= 1
  dns_servers = 6,              // §3.8, n*4, n >= 1
  requested_ip = 50,            // §9.1, 4
  lease_time = 51,              // §9.2, 4
  overload = 52,                // §9.3, 1 (ignored, see parse)
  message_type = 53,            // §9.6, 1
  server_identifier = 54,       // §9.7, 4
  parameter_request_list = 55,  // §9.8, n >= 1
  renewal_time = 58,            // §9.11, 4 (T1)
  rebinding_time = 59,          // §9.12, 4 (T2)
  client_identifier = 61,       // §9.14, n >= 2
  end = 255,                    // §3.2, one octet, no length
};

// A DHCP message (RFC 2131 Figure 1) with the options uni understands.
struct dhcp_message {
  static constexpr std::size_t fixed_size = 236;                   // op .. file
  static constexpr std::size_t options_offset = fixed_size + 4;    // after the magic cookie
  static constexpr std::size_t min_size = options_offset;          // the cookie is required
  static constexpr std::size_t bootp_min_size = 300;               // RFC 951: 236 + 64-octet vendor area
  static constexpr std::size_t max_emit_size = 576 - 20 - 8;       // the minimum IP datagram, less IP + UDP
  static constexpr std::uint32_t magic_cookie = 0x63825363;        // 99.130.83.99 (RFC 2131 §3)
  static constexpr std::uint16_t broadcast_flag = 0x8000;          // RFC 2131 Figure 2
  static constexpr std::uint32_t infinite_seconds = 0xffffffffu;   // RFC 2131 §3.3
  static constexpr std::size_t max_dns = 3;
  static constexpr std::size_t max_parameter_requests = 16;
  static constexpr std::size_t max_client_id = 32;

  // Fixed fields (RFC 2131 Table 1); htype is always 1 (Ethernet) and hlen 6.
  dhcp_op op = dhcp_op::boot_request;
  std::uint8_t hops = 0;
  std::uint32_t xid = 0;
  std::uint16_t secs = 0;
  std::uint16_t flags = 0;
  ipv4_address ciaddr{};
  ipv4_address yiaddr{};
  ipv4_address siaddr{};
  ipv4_address giaddr{};
  mac_address chaddr{};

  // Options; absent ones are empty (or have a zero count).
  std::optional<dhcp_message_type> message_type;   // 53
  std::optional<ipv4_address> server_identifier;   // 54
  std::optional<ipv4_address> requested_ip;        // 50
  std::optional<std::uint32_t> lease_seconds;      // 51
  std::optional<std::uint32_t> renewal_seconds;    // 58, T1
  std::optional<std::uint32_t> rebinding_seconds;  // 59, T2
  std::optional<ipv4_address> subnet_mask;         // 1
  std::optional<ipv4_address> router;              // 3, the first (most preferred) router
  std::array<ipv4_address, max_dns> dns{};         // 6, the first max_dns servers
  std::uint8_t dns_count = 0;
  std::array<std::uint8_t, max_parameter_requests> parameter_requests{};  // 55
  std::uint8_t parameter_request_count = 0;
  std::array<std::uint8_t, max_client_id> client_id{};  // 61 (type octet, then identifier)
  std::uint8_t client_id_size = 0;

  constexpr bool broadcast() const noexcept { return (flags & broadcast_flag) != 0; }
  constexpr std::span<const ipv4_address> dns_servers() const noexcept { return {dns.data(), dns_count}; }
  constexpr std::span<const std::uint8_t> parameter_request_list() const noexcept {
    return {parameter_requests.data(), parameter_request_count};
  }
  constexpr std::span<const std::uint8_t> client_identifier() const noexcept {
    return {client_id.data(), client_id_size};
  }
  // Sets option 55 (at most max_parameter_requests codes are kept). The setters clear
  // the whole array first: operator== compares it, unused tail included.
  constexpr void set_parameter_request_list(std::span<const std::uint8_t> codes) noexcept {
    parameter_requests = {};
    parameter_request_count = 0;
    for (std::uint8_t c : codes) {
      if (parameter_request_count == max_parameter_requests) break;
      parameter_requests[parameter_request_count++] = c;
    }
  }
  // Sets option 61; false (and no option) if it is shorter than 2 or longer than max_client_id.
  constexpr bool set_client_identifier(std::span<const std::uint8_t> id) noexcept {
    client_id = {};
    client_id_size = 0;
    if (id.size() < 2 || id.size() > max_client_id) return false;
    for (std::size_t i = 0; i < id.size(); ++i) client_id[i] = id[i];
    client_id_size = static_cast<std::uint8_t>(id.size());
    return true;
  }

  friend constexpr bool operator==(const dhcp_message&, const dhcp_message&) noexcept = default;

  // Parses a UDP payload. error::truncated: shorter than the fixed fields and cookie, an
  // option whose length octet or value runs past the end, or no end option (RFC 2131 §4.1:
  // "The last option must always be the 'end' option"). error::malformed: op not 1 or 2,
  // htype not 1, hlen not 6, a wrong magic cookie, or a known option with an illegal length.
  // Unknown options are skipped by their length. Bytes after the end option are ignored.
  //
  // Repeated options (RFC 2131 §4.1 lets a server split a long option) are concatenated for
  // the lists (router, DNS, parameter request list), each instance being validated on its
  // own; for single-valued options the last instance wins.
  //
  // Option overload (52, RFC 2132 §9.3) is ignored: options carried in 'sname' and 'file'
  // are not read. A server uses it only when the options field overflows, and everything
  // this client needs fits in the options field of a 576-octet message.
  static result<dhcp_message> parse(std::span<const std::uint8_t> udp_payload) noexcept {
    const std::span<const std::uint8_t> b = udp_payload;
    if (b.size() < min_size) return fail(error::truncated);
    const std::uint8_t* p = b.data();
    if (p[0] != 1 && p[0] != 2) return fail(error::malformed);
    if (p[1] != 1 || p[2] != 6) return fail(error::malformed);  // htype Ethernet, hlen 6
    if (wire::load_be32(p + fixed_size) != magic_cookie) return fail(error::malformed);

    dhcp_message m;
    m.op = static_cast<dhcp_op>(p[0]);
    m.hops = p[3];
    m.xid = wire::load_be32(p + 4);
    m.secs = wire::load_be16(p + 8);
    m.flags = wire::load_be16(p + 10);
    m.ciaddr = {wire::load_be32(p + 12)};
    m.yiaddr = {wire::load_be32(p + 16)};
    m.siaddr = {wire::load_be32(p + 20)};
    m.giaddr = {wire::load_be32(p + 24)};
    for (std::size_t i = 0; i < 6; ++i) m.chaddr.bytes[i] = p[28 + i];

    std::size_t at = options_offset;
    for (;;) {
      if (at >= b.size()) return fail(error::truncated);  // ran out before the end option
      const std::uint8_t code = p[at];
      if (code == static_cast<std::uint8_t>(dhcp_option::pad)) {
        ++at;
        continue;
      }
      if (code == static_cast<std::uint8_t>(dhcp_option::end)) break;
      if (b.size() - at < 2) return fail(error::truncated);  // no length octet
      const std::size_t len = p[at + 1];
      if (b.size() - at - 2 < len) return fail(error::truncated);  // value runs past the end
      const error e = m.apply_option(code, b.subspan(at + 2, len));
      if (e != error::none) return fail(e);
      at += 2 + len;
    }
    return m;
  }

  // Bytes emit() writes: the fixed fields, cookie, options and end, padded to the
  // 300-octet BOOTP minimum (RFC 951) that some relays and servers still insist on.
  constexpr std::size_t emit_size() const noexcept {
    std::size_t n = options_offset + 1;  // + end
    if (message_type) n += 3;
    if (client_id_size != 0) n += 2 + client_id_size;
    if (requested_ip) n += 6;
    if (server_identifier) n += 6;
    if (lease_seconds) n += 6;
    if (renewal_seconds) n += 6;
    if (rebinding_seconds) n += 6;
    if (subnet_mask) n += 6;
    if (router) n += 6;
    if (dns_count != 0) n += 2 + 4 * std::size_t{dns_count};
    if (parameter_request_count != 0) n += 2 + std::size_t{parameter_request_count};
    return n < bootp_min_size ? bootp_min_size : n;
  }

  // Writes the message; returns the bytes written, or 0 (writing nothing) when `out`
  // is shorter than emit_size(). 'sname' and 'file' are zero; options follow the
  // cookie in the order 53, 61, 50, 54, 51, 58, 59, 1, 3, 6, 55 (the subnet mask
  // before the router, as RFC 2132 §3.3 requires), then end, then pad octets.
  std::size_t emit(std::span<std::uint8_t> out) const noexcept {
    const std::size_t n = emit_size();
    if (out.size() < n) return 0;
    std::uint8_t* p = out.data();
    for (std::size_t i = 0; i < n; ++i) p[i] = 0;
    p[0] = static_cast<std::uint8_t>(op);
    p[1] = 1;
    p[2] = 6;
    p[3] = hops;
    wire::store_be32(p + 4, xid);
    wire::store_be16(p + 8, secs);
    wire::store_be16(p + 10, flags);
    wire::store_be32(p + 12, ciaddr.value);
    wire::store_be32(p + 16, yiaddr.value);
    wire::store_be32(p + 20, siaddr.value);
    wire::store_be32(p + 24, giaddr.value);
    for (std::size_t i = 0; i < 6; ++i) p[28 + i] = chaddr.bytes[i];
    wire::store_be32(p + fixed_size, magic_cookie);

    std::size_t at = options_offset;
    auto header = [&](dhcp_option code, std::size_t len) {
      p[at++] = static_cast<std::uint8_t>(code);
      p[at++] = static_cast<std::uint8_t>(len);
    };
    auto put32 = [&](dhcp_option code, std::uint32_t v) {
      header(code, 4);
      wire::store_be32(p + at, v);
      at += 4;
    };
    if (message_type) {
      header(dhcp_option::message_type, 1);
      p[at++] = static_cast<std::uint8_t>(*message_type);
    }
    if (client_id_size != 0) {
      header(dhcp_option::client_identifier, client_id_size);
      for (std::size_t i = 0; i < client_id_size; ++i) p[at++] = client_id[i];
    }
    if (requested_ip) put32(dhcp_option::requested_ip, requested_ip->value);
    if (server_identifier) put32(dhcp_option::server_identifier, server_identifier->value);
    if (lease_seconds) put32(dhcp_option::lease_time, *lease_seconds);
    if (renewal_seconds) put32(dhcp_option::renewal_time, *renewal_seconds);
    if (rebinding_seconds) put32(dhcp_option::rebinding_time, *rebinding_seconds);
    if (subnet_mask) put32(dhcp_option::subnet_mask, subnet_mask->value);
    if (router) put32(dhcp_option::router, router->value);
    if (dns_count != 0) {
      header(dhcp_option::dns_servers, 4 * std::size_t{dns_count});
      for (std::size_t i = 0; i < dns_count; ++i, at += 4) wire::store_be32(p + at, dns[i].value);
    }
    if (parameter_request_count != 0) {
      header(dhcp_option::parameter_request_list, parameter_request_count);
      for (std::size_t i = 0; i < parameter_request_count; ++i) p[at++] = parameter_requests[i];
    }
    p[at] = static_cast<std::uint8_t>(dhcp_option::end);  // the rest is already pad (0)
    return n;
  }

 private:
  static constexpr ipv4_address address_at(std::span<const std::uint8_t> v, std::size_t i) noexcept {
    return {wire::load_be32(v.data() + i)};
  }

  // One option's value, its length already checked against the buffer.
  constexpr error apply_option(std::uint8_t code, std::span<const std::uint8_t> v) noexcept {
    switch (static_cast<dhcp_option>(code)) {
      case dhcp_option::message_type:
        if (v.size() != 1) return error::malformed;
        message_type = static_cast<dhcp_message_type>(v[0]);
        return error::none;
      case dhcp_option::server_identifier:
      case dhcp_option::requested_ip:
      case dhcp_option::subnet_mask: {
        if (v.size() != 4) return error::malformed;
        const ipv4_address a = address_at(v, 0);
        if (code == static_cast<std::uint8_t>(dhcp_option::server_identifier)) server_identifier = a;
        else if (code == static_cast<std::uint8_t>(dhcp_option::requested_ip)) requested_ip = a;
        else subnet_mask = a;
        return error::none;
      }
      case dhcp_option::lease_time:
      case dhcp_option::renewal_time:
      case dhcp_option::rebinding_time: {
        if (v.size() != 4) return error::malformed;
        const std::uint32_t s = wire::load_be32(v.data());
        if (code == static_cast<std::uint8_t>(dhcp_option::lease_time)) lease_seconds = s;
        else if (code == static_cast<std::uint8_t>(dhcp_option::renewal_time)) renewal_seconds = s;
        else rebinding_seconds = s;
        return error::none;
      }
      case dhcp_option::router:  // RFC 2132 §3.5: at least 4, a multiple of 4
        if (v.size() < 4 || v.size() % 4 != 0) return error::malformed;
        if (!router) router = address_at(v, 0);
        return error::none;
      case dhcp_option::dns_servers:  // RFC 2132 §3.8: at least 4, a multiple of 4
        if (v.size() < 4 || v.size() % 4 != 0) return error::malformed;
        for (std::size_t i = 0; i < v.size() && dns_count < max_dns; i += 4) dns[dns_count++] = address_at(v, i);
        return error::none;
      case dhcp_option::parameter_request_list:  // RFC 2132 §9.8: at least 1
        if (v.empty()) return error::malformed;
        for (std::size_t i = 0; i < v.size() && parameter_request_count < max_parameter_requests; ++i)
          parameter_requests[parameter_request_count++] = v[i];
        return error::none;
      case dhcp_option::client_identifier:  // RFC 2132 §9.14: at least 2
        if (v.size() < 2) return error::malformed;
        // A longer identifier than we keep is treated as absent rather than cut short:
        // servers do not send one (RFC 2131 Table 3), and a clipped one would be wrong.
        set_client_identifier(v);
        return error::none;
      default:  // overload (52) and every other option: skipped
        return error::none;
    }
  }
};

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
