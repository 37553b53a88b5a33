// uni/net/tcp/rtt.hpp: the retransmission timeout (RFC 6298): SRTT and RTTVAR
// from round-trip samples, RTO = SRTT + max(G, 4 RTTVAR) bounded below and
// above, doubled on each expiry (§5.5) until a new sample arrives.
#pragma once

#include <algorithm>
#include <chrono>

#include <uni/core/time.hpp>

namespace uni::tcp {

struct rtt_bounds {
  duration initial = std::chrono::seconds(1);           // §2.1
  duration minimum = std::chrono::milliseconds(200);    // Linux's floor; RFC says 1 s (§2.4, MAY lower)
  duration maximum = std::chrono::seconds(60);          // §2.5
  duration granularity = std::chrono::milliseconds(1);  // G
};

class rtt_estimator {
 public:
  explicit constexpr rtt_estimator(rtt_bounds b = {}) noexcept : b_(b), rto_(b.initial) {}

  // §2.2 and §2.3: a new measurement R.
  constexpr void sample(duration r) noexcept {
    if (r < duration{0}) return;
    if (!has_sample_) {
      srtt_ = r;
      rttvar_ = r / 2;
      has_sample_ = true;
    } else {
      const duration err = srtt_ > r ? srtt_ - r : r - srtt_;
      rttvar_ = (3 * rttvar_ + err) / 4;  // beta = 1/4
      srtt_ = (7 * srtt_ + r) / 8;         // alpha = 1/8
    }
    backoff_ = 0;
    compute();
  }

  // §5.5: the timer expired: back off.
  constexpr void back_off() noexcept {
    if (backoff_ < 16) ++backoff_;
  }

  constexpr duration rto() const noexcept {
    duration r = rto_;
    for (unsigned i = 0; i < backoff_ && r < b_.maximum; ++i) r *= 2;
    return std::min(r, b_.maximum);
  }
  constexpr duration srtt() const noexcept { return srtt_; }
  constexpr duration rttvar() const noexcept { return rttvar_; }
  constexpr bool has_sample() const noexcept { return has_sample_; }
  constexpr unsigned backoffs() const noexcept { return backoff_; }

 private:
  constexpr void compute() noexcept {
    rto_ = std::clamp(srtt_ + std::max(b_.granularity, 4 * rttvar_), b_.minimum, b_.maximum);
  }
  rtt_bounds b_;
  duration srtt_{0};
  duration rttvar_{0};
  duration rto_;
  unsigned backoff_ = 0;
  bool has_sample_ = false;
};

}  // namespace uni::tcp
