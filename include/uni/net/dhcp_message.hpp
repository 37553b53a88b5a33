// uni/net/dhcp_message.hpp: the DHCP message (RFC 2131 §2, Figure 1) with the
// options the client needs (RFC 2132), as a validated representation; the client
// that speaks it is uni/net/dhcp_client.hpp.
//
//   RFC 2131 §2 (Figure 1, Table 1)  the message layout, the BROADCAST flag (Figure 2)
//   RFC 2131 §3, §4.1                magic cookie, options, end option
//   RFC 2131 §3.3                    lease times in seconds, 0xffffffff is infinity
//   RFC 2132 §3, §9                  options 0, 1, 3, 6, 50, 51, 53, 54, 55, 58, 59, 61, 255
// Not implemented: option overload (RFC 2132 §9.3, see dhcp_message::parse).
//
// parse() reads every length before the bytes it covers, so no input can make it read
// out of bounds; once it has returned a value, nothing else touches the input. emit()
// into a buffer of at least emit_size() bytes (always <= dhcp_message::max_emit_size)
// cannot fail.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <uni/core/result.hpp>
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
  // RFC 2131 Figure 1 (sname and file, 64 and 128 octets from 44, are left zero), then
  // the magic cookie; chaddr has 16 octets, of which Ethernet uses 6 (hlen).
  struct layout {
    using op = wire::field<std::uint8_t, 0>;
    using htype = wire::field<std::uint8_t, 1>;
    using hlen = wire::field<std::uint8_t, 2>;
    using hops = wire::field<std::uint8_t, 3>;
    using xid = wire::field<std::uint32_t, 4>;
    using secs = wire::field<std::uint16_t, 8>;
    using flags = wire::field<std::uint16_t, 10>;
    using ciaddr = wire::field<ipv4_address, 12>;
    using yiaddr = wire::field<ipv4_address, 16>;
    using siaddr = wire::field<ipv4_address, 20>;
    using giaddr = wire::field<ipv4_address, 24>;
    using chaddr = wire::field<mac_address, 28>;
    using cookie = wire::field<std::uint32_t, fixed_size>;
  };
  static constexpr std::uint8_t htype_ethernet = 1;

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
    const std::uint8_t op = layout::op::get(p);
    if (op != 1 && op != 2) return fail(error::malformed);
    if (layout::htype::get(p) != htype_ethernet || layout::hlen::get(p) != mac_address::wire_size)
      return fail(error::malformed);
    if (layout::cookie::get(p) != magic_cookie) return fail(error::malformed);

    dhcp_message m;
    m.op = static_cast<dhcp_op>(op);
    m.hops = layout::hops::get(p);
    m.xid = layout::xid::get(p);
    m.secs = layout::secs::get(p);
    m.flags = layout::flags::get(p);
    m.ciaddr = layout::ciaddr::get(p);
    m.yiaddr = layout::yiaddr::get(p);
    m.siaddr = layout::siaddr::get(p);
    m.giaddr = layout::giaddr::get(p);
    m.chaddr = layout::chaddr::get(p);

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
    layout::op::set(p, static_cast<std::uint8_t>(op));
    layout::htype::set(p, htype_ethernet);
    layout::hlen::set(p, mac_address::wire_size);
    layout::hops::set(p, hops);
    layout::xid::set(p, xid);
    layout::secs::set(p, secs);
    layout::flags::set(p, flags);
    layout::ciaddr::set(p, ciaddr);
    layout::yiaddr::set(p, yiaddr);
    layout::siaddr::set(p, siaddr);
    layout::giaddr::set(p, giaddr);
    layout::chaddr::set(p, chaddr);
    layout::cookie::set(p, magic_cookie);

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
      for (std::size_t i = 0; i < dns_count; ++i, at += ipv4_address::wire_size) dns[i].store(p + at);
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
    return ipv4_address::load(v.data() + i);
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

}  // namespace uni
