// uni/net/tcp/drop.hpp: why TCP discards a segment (or answers it with a bare
// ACK instead of accepting it): the layer's reasons, then a connection's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <uni/net/stack_counters.hpp>  // detail::nth_name

namespace uni::tcp {

enum class tcp_drop : std::uint8_t {
  // The layer: the header, and segments no connection wants.
  truncated, bad_offset, bad_checksum, bad_options, no_connection, not_syn, backlog_full, half_open_evicted,
  table_full, no_buffers, data_after_close,
  // A connection (RFC 9293 §3.10.7.4, RFC 5961, RFC 7323).
  out_of_window, paws, rst_out_of_window, challenge_ack, ack_unsent, no_ack, ooo_full, buffer_full,
  count_
};

namespace detail {
inline constexpr char tcp_drop_names[] =
    "truncated\0bad data offset\0bad checksum\0bad options\0no connection (RST sent)\0not a SYN for a listener\0"
    "backlog full\0half-open evicted\0connection table full\0no buffers\0data after close (RST sent)\0"
    "out of window\0PAWS\0RST not at RCV.NXT\0challenge ACK sent\0ACK of unsent data\0no ACK flag\0"
    "out-of-order queue full\0receive buffer full";
}  // namespace detail
static_assert(uni::detail::names_every<tcp_drop>(detail::tcp_drop_names));
constexpr std::string_view to_string(tcp_drop d) noexcept {  // one string of names (stack_counters.hpp's way)
  return uni::detail::nth_name(detail::tcp_drop_names, static_cast<std::size_t>(d));
}

}  // namespace uni::tcp
