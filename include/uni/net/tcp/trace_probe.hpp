// uni/net/tcp/trace_probe.hpp: what a traced TCP connection records (uni/trace/):
// its segments in and out, retransmissions (a segment carrying sequence space
// already sent), and, whenever they change, its state, congestion window,
// slow-start threshold, smoothed RTT, bytes in flight, SND.UNA/SND.NXT, bytes
// buffered and the recoveries it entered (fast retransmit with SACK or NewReno,
// RFC 6675 / 6582; timeouts, RFC 6298). The layer keeps one probe per connection
// slot, and none at all when its Config leaves `trace` off.
#pragma once

#include <cstddef>
#include <cstdint>

#include <uni/net/tcp/segment.hpp>
#include <uni/net/tcp/seq.hpp>
#include <uni/trace/recorder.hpp>

namespace uni::tcp {

class trace_probe {
 public:
  // A segment the connection sends: `payload` bytes after the header `h`.
  void segment_out(std::uint16_t device, std::uint32_t id, const header& h, std::size_t payload) noexcept {
    trace::note(trace::kind::tcp_segment_out, id, trace::pack(h.seq.value, payload), h.ack_number.value, device);
    const std::uint32_t space = static_cast<std::uint32_t>(payload) + (h.has(syn) ? 1u : 0u) + (h.has(fin) ? 1u : 0u);
    if (space == 0) return;
    if (state_ == 0) sent_any_ = false;  // a new connection in this slot (its SYN goes before settle looks)
    if (sent_any_ && h.seq < highest_sent_)
      trace::note(trace::kind::tcp_retransmit, id, trace::pack(h.seq.value, payload), 0, device);
    if (!sent_any_ || highest_sent_ < h.seq + space) highest_sent_ = h.seq + space;
    sent_any_ = true;
  }

  void segment_in(std::uint16_t device, std::uint32_t id, const header& h, std::size_t payload) noexcept {
    trace::note(trace::kind::tcp_segment_in, id, trace::pack(h.seq.value, payload), h.ack_number.value, device);
  }

  // Records what changed since the last look (the layer looks after each input,
  // timer and application call). The first test is what moves whenever the send
  // side does: SND.UNA, SND.NXT, bytes buffered, retransmissions, the state; on
  // a connection that only receives, it passes and nothing more is read. The
  // congestion window, threshold and SRTT change only with those (an ACK, a
  // retransmission, a timeout), so they are compared only then.
  template <class Connection>
  void observe(std::uint16_t device, std::uint32_t id, const Connection& c) noexcept {
    const std::uint64_t sequence = trace::pack(c.send_unacknowledged().value, c.send_next().value);
    const std::uint64_t held = trace::pack(c.send_buffered(), c.statistics().retransmits);
    if (sequence != sequence_ || held != held_ || static_cast<std::uint8_t>(c.current_state()) != state_)
      moved(device, id, c);
  }

 private:
  template <class Connection>
  [[gnu::noinline]] void moved(std::uint16_t device, std::uint32_t id, const Connection& c) noexcept {
    const auto st = static_cast<std::uint8_t>(c.current_state());
    if (st != state_) {
      if (state_ == 0) fast_retransmits_ = timeouts_ = 0;  // a new connection in this slot
      trace::note(trace::kind::tcp_state, id, state_, st, device);
      state_ = st;
    }
    const auto& stats = c.statistics();
    if (stats.fast_retransmits != fast_retransmits_)
      trace::note(trace::kind::tcp_recovery, id, 1, stats.fast_retransmits, device);
    if (stats.timeouts != timeouts_) trace::note(trace::kind::tcp_recovery, id, 2, stats.timeouts, device);
    fast_retransmits_ = stats.fast_retransmits;
    timeouts_ = stats.timeouts;
    const std::uint64_t srtt_us = static_cast<std::uint64_t>(c.rtt().srtt().count()) / 1000;
    const std::uint64_t window = trace::pack(c.congestion().window(), c.congestion().ssthresh());
    const std::uint64_t flight = trace::pack(c.send_next() - c.send_unacknowledged(), srtt_us);
    if (window != window_ || flight != flight_) {
      window_ = window;
      flight_ = flight;
      trace::note(trace::kind::tcp_window, id, window, flight, device);
    }
    const std::uint64_t sequence = trace::pack(c.send_unacknowledged().value, c.send_next().value);
    const std::uint64_t held = trace::pack(c.send_buffered(), stats.retransmits);
    if (sequence != sequence_ || held != held_) {
      sequence_ = sequence;
      held_ = held;
      trace::note(trace::kind::tcp_sequence, id, sequence, held, device);
    }
  }

  std::uint8_t state_ = 0;  // uni::tcp::state::closed
  bool sent_any_ = false;
  seq32 highest_sent_{};
  std::uint64_t fast_retransmits_ = 0, timeouts_ = 0;
  std::uint64_t window_ = 0, flight_ = 0, sequence_ = 0, held_ = 0;
};

}  // namespace uni::tcp
