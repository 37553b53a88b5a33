// uni/net/tcp/congestion.hpp: congestion control as a small policy (the four
// hooks of smoltcp's controllers), with NewReno (RFC 5681 + RFC 6582) as the
// default. The connection owns loss detection; the controller owns cwnd.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>

namespace uni::tcp {

template <class C>
concept CongestionControl = requires(C& c, const C& cc, std::uint32_t n) {
  c.init(n);                 // mss: the initial window (RFC 5681 §3.1, RFC 6928 allows 10)
  c.on_ack(n, n);            // bytes newly acked, bytes in flight before the ack
  c.enter_recovery(n);       // fast retransmit: bytes in flight
  c.on_partial_ack(n);       // NewReno partial ack: bytes acked
  c.exit_recovery(n);        // full ack: bytes in flight after it
  c.on_dup_ack();            // a further duplicate during recovery
  c.on_timeout(n);           // RTO: bytes in flight
  { cc.window() } -> std::convertible_to<std::uint32_t>;
  { cc.ssthresh() } -> std::convertible_to<std::uint32_t>;  // the window SACK recovery keeps (RFC 6675)
};

class NewReno {
 public:
  static constexpr std::uint32_t initial_segments = 10;  // RFC 6928

  void init(std::uint32_t mss) noexcept {
    mss_ = mss;
    cwnd_ = initial_segments * mss;
    ssthresh_ = 0xffffffffu;
  }
  // RFC 5681 §3.1: slow start below ssthresh (with appropriate byte counting,
  // RFC 3465, limited to 2 MSS per ACK), congestion avoidance above.
  void on_ack(std::uint32_t acked, std::uint32_t) noexcept {
    if (cwnd_ < ssthresh_) {
      cwnd_ += std::min(acked, 2 * mss_);
    } else {
      bytes_acked_ += acked;
      if (bytes_acked_ >= cwnd_) {
        bytes_acked_ -= cwnd_;
        cwnd_ += mss_;
      }
    }
  }
  // RFC 6582 §3.2 step 2: ssthresh = max(FlightSize / 2, 2*SMSS); cwnd = ssthresh + 3*SMSS.
  void enter_recovery(std::uint32_t flight) noexcept {
    ssthresh_ = std::max(flight / 2, 2 * mss_);
    cwnd_ = ssthresh_ + 3 * mss_;
  }
  void on_dup_ack() noexcept { cwnd_ += mss_; }  // step 4: inflate
  // Step 5 partial ack: deflate by the amount acked, add back one SMSS.
  void on_partial_ack(std::uint32_t acked) noexcept {
    cwnd_ = cwnd_ > acked ? cwnd_ - acked : mss_;
    cwnd_ += mss_;
  }
  // Step 5 full ack: cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS).
  void exit_recovery(std::uint32_t flight) noexcept { cwnd_ = std::min(ssthresh_, std::max(flight, mss_) + mss_); }
  // RFC 5681 §3.1 eqn (4): ssthresh = max(FlightSize / 2, 2*SMSS); cwnd = 1 SMSS.
  void on_timeout(std::uint32_t flight) noexcept {
    ssthresh_ = std::max(flight / 2, 2 * mss_);
    cwnd_ = mss_;
    bytes_acked_ = 0;
  }
  std::uint32_t window() const noexcept { return cwnd_; }
  std::uint32_t ssthresh() const noexcept { return ssthresh_; }

 private:
  std::uint32_t mss_ = 536;
  std::uint32_t cwnd_ = 0;
  std::uint32_t ssthresh_ = 0xffffffffu;
  std::uint32_t bytes_acked_ = 0;
};

static_assert(CongestionControl<NewReno>);

}  // namespace uni::tcp
