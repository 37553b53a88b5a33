// uni/net/endpoint.hpp: a transport endpoint (IPv4 address and port) and a
// received datagram, shared by uni's own stack and the host-socket stack so
// that one application source compiles against either.
#pragma once

#include <cstdint>

#include <uni/core/buffer.hpp>
#include <uni/core/view_chain.hpp>
#include <uni/core/format.hpp>
#include <uni/net/ipv4_address.hpp>

namespace uni {

struct endpoint {
  ipv4_address address{};
  std::uint16_t port = 0;
  friend constexpr bool operator==(const endpoint&, const endpoint&) noexcept = default;
};

inline void format_value(text_writer& w, const endpoint& e) noexcept { format_to(w, e.address, ':', e.port); }

// A received UDP datagram: the payload is a view of the page it arrived in (or
// views of the pages its fragments arrived in, when it was reassembled).
struct datagram {
  endpoint source;
  endpoint destination;
  view_chain payload;
};

}  // namespace uni
