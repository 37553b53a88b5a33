// uni/openflow/cursor.hpp: the bounded reader and writer every OpenFlow message
// is parsed and emitted with. OpenFlow's structures are sequences of big-endian
// fields and pads (OpenFlow 1.0 §5, 1.3 §A), many of them followed by variable
// lists; a cursor that checks each step against the end of its span reads them
// in spec order without a literal offset. A step past the end makes the cursor
// fail (and every later step read zeros / write nothing): the parser checks
// ok() once, at the end, and returns error::truncated; the writer error::too_large.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include <uni/core/result.hpp>
#include <uni/core/wire.hpp>
#include <uni/net/mac_address.hpp>

namespace uni::openflow {

class reader {
 public:
  constexpr explicit reader(std::span<const std::uint8_t> bytes) noexcept : bytes_(bytes) {}

  constexpr bool ok() const noexcept { return ok_; }
  constexpr std::size_t left() const noexcept { return ok_ ? bytes_.size() - at_ : 0; }
  constexpr std::size_t offset() const noexcept { return at_; }
  constexpr void fail() noexcept { ok_ = false; }

  constexpr std::uint8_t u8() noexcept { return take(1) ? bytes_[at_ - 1] : 0; }
  constexpr std::uint16_t u16() noexcept { return take(2) ? wire::load_be16(&bytes_[at_ - 2]) : 0; }
  constexpr std::uint32_t u32() noexcept { return take(4) ? wire::load_be32(&bytes_[at_ - 4]) : 0; }
  constexpr std::uint64_t u64() noexcept {
    const std::uint64_t hi = u32();
    return hi << 32 | u32();
  }
  constexpr mac_address mac() noexcept { return take(6) ? mac_address::load(&bytes_[at_ - 6]) : mac_address{}; }
  constexpr void skip(std::size_t n) noexcept { (void)take(n); }
  // The next n bytes (empty if there are not n).
  constexpr std::span<const std::uint8_t> bytes(std::size_t n) noexcept {
    return take(n) ? bytes_.subspan(at_ - n, n) : std::span<const std::uint8_t>{};
  }
  constexpr std::span<const std::uint8_t> rest() noexcept { return bytes(left()); }
  // A fixed-size text field (names, descriptions): up to its first NUL.
  template <std::size_t N>
  constexpr void text(char (&out)[N]) noexcept {
    const auto b = bytes(N);
    std::size_t n = 0;
    for (; n < b.size() && n + 1 < N && b[n] != 0; ++n) out[n] = static_cast<char>(b[n]);
    for (std::size_t i = n; i < N; ++i) out[i] = 0;
  }

 private:
  constexpr bool take(std::size_t n) noexcept {
    if (!ok_ || bytes_.size() - at_ < n) {
      ok_ = false;
      return false;
    }
    at_ += n;
    return true;
  }
  std::span<const std::uint8_t> bytes_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

class writer {
 public:
  constexpr explicit writer(std::span<std::uint8_t> out) noexcept : out_(out) {}

  constexpr bool ok() const noexcept { return ok_; }
  constexpr std::size_t size() const noexcept { return at_; }
  constexpr void fail() noexcept { ok_ = false; }

  constexpr void u8(std::uint8_t v) noexcept {
    if (take(1)) out_[at_ - 1] = v;
  }
  constexpr void u16(std::uint16_t v) noexcept {
    if (take(2)) wire::store_be16(&out_[at_ - 2], v);
  }
  constexpr void u32(std::uint32_t v) noexcept {
    if (take(4)) wire::store_be32(&out_[at_ - 4], v);
  }
  constexpr void u64(std::uint64_t v) noexcept {
    u32(static_cast<std::uint32_t>(v >> 32));
    u32(static_cast<std::uint32_t>(v));
  }
  constexpr void mac(const mac_address& m) noexcept {
    if (take(6)) m.store(&out_[at_ - 6]);
  }
  constexpr void zeros(std::size_t n) noexcept {
    if (take(n)) std::memset(&out_[at_ - n], 0, n);
  }
  constexpr void bytes(std::span<const std::uint8_t> b) noexcept {
    if (take(b.size()) && !b.empty()) std::memcpy(&out_[at_ - b.size()], b.data(), b.size());
  }
  template <std::size_t N>
  constexpr void text(const char (&s)[N]) noexcept {
    std::size_t n = 0;
    while (n < N && s[n] != 0) ++n;
    bytes({reinterpret_cast<const std::uint8_t*>(s), n});
    zeros(N - n);
  }
  // Zeros up to the next multiple of `align` (OXM matches, set-field actions).
  constexpr void pad_to(std::size_t align) noexcept { zeros((align - at_ % align) % align); }
  // Writes a 16-bit length at `where` (a position this writer returned from size()).
  constexpr void patch16(std::size_t where, std::uint16_t v) noexcept {
    if (ok_ && where + 2 <= at_) wire::store_be16(&out_[where], v);
  }

 private:
  constexpr bool take(std::size_t n) noexcept {
    if (!ok_ || out_.size() - at_ < n) {
      ok_ = false;
      return false;
    }
    at_ += n;
    return true;
  }
  std::span<std::uint8_t> out_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

}  // namespace uni::openflow
