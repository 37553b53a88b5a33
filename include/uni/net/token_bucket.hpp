// uni/net/token_bucket.hpp: a rate limit (RFC 1812 §4.3.2.8 asks one of ICMP
// error generation): `rate` tokens per second, at most `burst` saved up.
#pragma once

#include <cstdint>

#include <uni/core/time.hpp>

namespace uni {

class token_bucket {
 public:
  constexpr token_bucket(std::uint32_t rate, std::uint32_t burst) noexcept
      : rate_(rate), burst_(burst), tokens_(burst) {}

  // Takes a token if one is available at `now`.
  constexpr bool take(time_point now) noexcept {
    if (rate_ == 0) return false;
    const duration per_token = duration(std::chrono::seconds(1)) / rate_;
    if (now > last_) {
      const auto earned = static_cast<std::uint64_t>((now - last_) / per_token);
      if (earned > 0) {
        tokens_ = earned >= burst_ - tokens_ ? burst_ : tokens_ + static_cast<std::uint32_t>(earned);
        last_ = tokens_ == burst_ ? now : last_ + per_token * static_cast<std::int64_t>(earned);
      }
    }
    if (tokens_ == 0) return false;
    --tokens_;
    return true;
  }

 private:
  std::uint32_t rate_;
  std::uint32_t burst_;
  std::uint32_t tokens_;
  time_point last_{};
};

}  // namespace uni
