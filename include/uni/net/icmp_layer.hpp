// uni/net/icmp_layer.hpp: uni::Stack's ICMP glue (RFC 792, RFC 1122 §3.2.2):
// answers echo requests, and sends destination unreachable for the layers above,
// rate-limited by a token bucket (RFC 1812 §4.3.2.8).
//
// `S` is the stack (see ethernet_layer.hpp).
#pragma once

#include <span>

#include <uni/core/buffer.hpp>
#include <uni/core/view_chain.hpp>
#include <uni/net/icmp.hpp>
#include <uni/net/ipv4.hpp>
#include <uni/net/stack_counters.hpp>
#include <uni/net/token_bucket.hpp>

namespace uni {

template <class S>
class icmp_layer {
  using config = typename S::config;

 public:
  explicit icmp_layer(S& s) noexcept : s_(s), errors_(config::icmp_errors_per_second, config::icmp_error_burst) {}

  void input(const ipv4_header& h, const view_chain& message) noexcept {
    auto& c = s_.counters_.icmp;
    auto parsed = icmp_header::parse(message);
    if (!parsed) return c.drop(parsed.err() == error::bad_checksum ? icmp_drop::bad_checksum : icmp_drop::malformed);
    const icmp_header& m = *parsed;  // once: each -> checks the result again
    ++c.received;
    if (m.type != static_cast<std::uint8_t>(icmp_type::echo_request) || m.code != 0)
      return c.drop(icmp_drop::unsupported_type);
    // RFC 1122 §3.2.2.6 lets a host ignore echo requests sent to a broadcast address.
    if (s_.ipv4_.is_broadcast(h.destination)) return c.drop(icmp_drop::broadcast_echo);
    // The reply carries the request's data from the page it arrived in; only the
    // type changes, so the checksum is updated, not recomputed (RFC 1624).
    auto allocated = s_.header_slice(icmp_header::size);
    if (!allocated) return c.drop(icmp_drop::no_buffers);
    view& hdr = *allocated;
    const icmp_header reply{static_cast<std::uint8_t>(icmp_type::echo_reply), 0, m.echo_reply_checksum(message),
                            m.rest};
    reply.write(hdr.bytes());
    view_chain out(std::move(hdr));
    if (!append_range(out, message.views(), icmp_header::size, message.length() - icmp_header::size))
      return c.drop(icmp_drop::malformed);
    if (s_.ipv4_.send(h.source, ip_protocol::icmp, out)) ++c.sent;
  }

  // Destination unreachable carrying the offending header and 8 bytes of its data.
  void send_unreachable(icmp_unreachable_code code, const ipv4_header& h, const view_chain& payload) noexcept {
    auto& c = s_.counters_.icmp;
    if (!errors_.take(s_.now())) return c.drop(icmp_drop::rate_limited);
    auto allocated = s_.header_slice(icmp_header::size + ipv4_header::min_size + 8);
    if (!allocated) return c.drop(icmp_drop::no_buffers);
    view& buf = *allocated;
    std::span<std::uint8_t> quoted = buf.bytes().subspan(icmp_header::size);
    ipv4_header original = h;
    original.header_length = ipv4_header::min_size;
    original.emit(quoted);
    const std::size_t n = payload.copy_to(quoted.subspan(ipv4_header::min_size, 8));
    view message = buf.head(icmp_header::size + ipv4_header::min_size + n);
    const icmp_header unreachable{static_cast<std::uint8_t>(icmp_type::destination_unreachable),
                                  static_cast<std::uint8_t>(code), 0, 0};
    unreachable.emit(message.bytes());
    if (s_.ipv4_.send(h.source, ip_protocol::icmp, std::span<const view>(&message, 1))) ++c.sent;
  }

 private:
  S& s_;
  token_bucket errors_;
};

}  // namespace uni
