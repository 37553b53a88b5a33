// uni/net/tcp/drop.hpp: why TCP discards a segment (or answers it with a bare
// ACK instead of accepting it): the layer's reasons, then a connection's.
#pragma once

#include <cstdint>
#include <string_view>

namespace uni::tcp {

enum class tcp_drop : std::uint8_t {
  // The layer: the header, and segments no connection wants.
  truncated, bad_offset, bad_checksum, bad_options, no_connection, not_syn, backlog_full, half_open_evicted,
  table_full, no_buffers, data_after_close,
  // A connection (RFC 9293 §3.10.7.4, RFC 5961, RFC 7323).
  out_of_window, paws, rst_out_of_window, challenge_ack, ack_unsent, no_ack, ooo_full, buffer_full,
  count_
};

constexpr std::string_view to_string(tcp_drop d) noexcept {
  constexpr std::string_view names[] = {
      "truncated",     "bad data offset", "bad checksum",       "bad options",
      "no connection (RST sent)", "not a SYN for a listener", "backlog full", "half-open evicted",
      "connection table full", "no buffers", "data after close (RST sent)", "out of window", "PAWS",
      "RST not at RCV.NXT", "challenge ACK sent", "ACK of unsent data", "no ACK flag",
      "out-of-order queue full", "receive buffer full"};
  return names[static_cast<std::size_t>(d)];
}

}  // namespace uni::tcp
