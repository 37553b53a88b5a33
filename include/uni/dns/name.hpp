// uni/dns/name.hpp: domain names (RFC 1035 §3.1, §4.1.4). A name is kept in
// uncompressed wire form (length-prefixed labels ending in the root's zero)
// in a fixed 255-byte array: no allocation, and every suffix of the bytes is
// itself a name, so walking up the tree is moving an offset.
//
// Reading a name from a message follows compression pointers safely: a
// pointer must point strictly before the run of labels that holds it (so
// there are no loops and no forward pointers), labels are at most 63 bytes, the whole name
// at most 255, and the 01/10 label types (RFC 6891 §5) are rejected.
// Comparison is case-insensitive for ASCII letters only (RFC 4343).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include <uni/core/result.hpp>

namespace uni::dns {

inline constexpr std::size_t max_name_length = 255;  // wire bytes, root included
inline constexpr std::size_t max_label_length = 63;

constexpr std::uint8_t to_lower(std::uint8_t c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<std::uint8_t>(c + ('a' - 'A')) : c;
}

// Case-insensitive equality of two uncompressed wire names (or of any bytes:
// length bytes are below 64, so never letters).
constexpr bool wire_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  return true;
}

// True if the uncompressed wire name `w` is `parent` or below it (any case).
constexpr bool wire_is_under(std::span<const std::uint8_t> w, std::span<const std::uint8_t> parent) noexcept {
  if (parent.size() > w.size()) return false;
  for (std::size_t at = 0;; at += w[at] + 1u) {
    if (w.size() - at == parent.size()) return wire_equal(w.subspan(at), parent);
    if (w.size() - at < parent.size() || w[at] == 0) return false;
  }
}

// FNV-1a over the lowered bytes: the hash the zone's name table uses.
constexpr std::uint32_t wire_hash(std::span<const std::uint8_t> w) noexcept {
  std::uint32_t h = 2166136261u;
  for (std::uint8_t c : w) h = (h ^ to_lower(c)) * 16777619u;
  return h;
}

// An absolute name written as a literal ("id.server."), put in wire form at
// compile time: plain labels, no escapes. For names the code itself knows,
// without name::parse at run time.
template <std::size_t N>
struct name_literal {
  static_assert(N >= 2 && N <= max_name_length, "a name literal ends with its dot");
  std::uint8_t bytes[N]{};  // the text's N - 1 characters and the root's zero

  consteval name_literal(const char (&text)[N]) {
    if (text[N - 2] != '.') not_a_name();
    std::size_t length_at = 0;  // where the current label's length goes
    for (std::size_t i = 0; i + 1 < N; ++i) {
      if (text[i] != '.') {
        bytes[i + 1] = static_cast<std::uint8_t>(text[i]);
        continue;
      }
      if (i == length_at || i - length_at > max_label_length) not_a_name();  // an empty or too long label
      bytes[length_at] = static_cast<std::uint8_t>(i - length_at);
      length_at = i + 1;
    }
  }
  constexpr std::span<const std::uint8_t> wire() const noexcept { return {bytes, N}; }

 private:
  // Not constexpr: a literal that reaches it does not compile.
  static void not_a_name() noexcept {}
};

class name {
 public:
  constexpr name() noexcept { bytes_[0] = 0; }  // the root

  constexpr std::span<const std::uint8_t> wire() const noexcept { return {bytes_, size_}; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool is_root() const noexcept { return size_ == 1; }
  constexpr std::size_t label_count() const noexcept {
    std::size_t n = 0;
    for (std::size_t i = 0; bytes_[i] != 0; i += bytes_[i] + 1u) ++n;
    return n;
  }
  // The name without its first `n` labels (the root stays the root).
  constexpr name parent(std::size_t n = 1) const noexcept {
    std::size_t at = 0;
    for (; n > 0 && bytes_[at] != 0; --n) at += bytes_[at] + 1u;
    name p;
    p.assign(std::span<const std::uint8_t>(bytes_ + at, size_ - at));
    return p;
  }
  constexpr bool operator==(const name& o) const noexcept { return wire_equal(wire(), o.wire()); }
  // True if this name is `parent` or below it.
  constexpr bool is_subdomain_of(const name& parent) const noexcept { return wire_is_under(wire(), parent.wire()); }
  constexpr void to_lower_case() noexcept {
    for (std::size_t i = 0; i < size_; ++i) bytes_[i] = to_lower(bytes_[i]);
  }

  // From uncompressed wire bytes that are known to be one well-formed name.
  static constexpr name from_checked_wire(std::span<const std::uint8_t> w) noexcept {
    name n;
    n.assign(w);
    return n;
  }
  // From uncompressed wire bytes that may be anything: checked.
  static result<name> from_wire(std::span<const std::uint8_t> w) noexcept {
    std::size_t at = 0;
    auto n = read(w, at);
    if (!n) return n;
    if (at != w.size()) return fail(error::malformed);
    return n;
  }

  // Reads the (possibly compressed) name at msg[offset], moving `offset` past it.
  static result<name> read(std::span<const std::uint8_t> msg, std::size_t& offset) noexcept {
    name n;
    std::size_t at = offset;
    std::size_t run_start = offset;
    std::size_t out = 0;
    bool jumped = false;
    while (true) {
      if (at >= msg.size()) return fail(error::truncated);
      const std::uint8_t len = msg[at];
      if ((len & 0xC0) == 0xC0) {
        if (at + 1 >= msg.size()) return fail(error::truncated);
        const std::size_t target = static_cast<std::size_t>(len & 0x3F) << 8 | msg[at + 1];
        if (!jumped) offset = at + 2;
        jumped = true;
        // Strictly before the run of labels that led here: every jump goes further
        // back, so there can be no loop and no forward pointer.
        if (target >= run_start) return fail(error::malformed);
        at = run_start = target;
        continue;
      }
      if (len & 0xC0) return fail(error::malformed);  // 01 and 10 label types
      if (out + len + 1 > max_name_length) return fail(error::too_large);
      if (at + 1 + len > msg.size()) return fail(error::truncated);
      std::memcpy(n.bytes_ + out, msg.data() + at, len + 1u);
      out += len + 1u;
      at += len + 1u;
      if (len == 0) break;
    }
    if (!jumped) offset = at;
    n.size_ = static_cast<std::uint8_t>(out);
    return n;
  }

  // Presentation form (RFC 1035 §5.1): labels separated by dots, `\.` `\\`
  // `\DDD` escapes; relative names (no final dot) are completed with `origin`.
  // "@" is the origin itself.
  static result<name> parse(std::string_view text, const name& origin = name{}) noexcept {
    if (text == "@") return origin;
    if (text.empty()) return fail(error::malformed);
    if (text == ".") return name{};
    name n;
    std::size_t out = 0;
    std::size_t label_start = 0;
    std::size_t label_len = 0;
    bool absolute = false;
    auto begin_label = [&]() -> bool {
      if (out + 1 > max_name_length - 1) return false;
      label_start = out++;
      label_len = 0;
      return true;
    };
    if (!begin_label()) return fail(error::too_large);
    for (std::size_t i = 0; i < text.size(); ++i) {
      std::uint8_t c = static_cast<std::uint8_t>(text[i]);
      if (c == '.') {
        if (label_len == 0) return fail(error::malformed);  // empty label
        n.bytes_[label_start] = static_cast<std::uint8_t>(label_len);
        if (i + 1 == text.size()) {
          absolute = true;
          break;
        }
        if (!begin_label()) return fail(error::too_large);
        continue;
      }
      if (c == '\\') {
        if (i + 1 >= text.size()) return fail(error::malformed);
        const char d = text[i + 1];
        if (d >= '0' && d <= '9') {
          if (i + 3 >= text.size()) return fail(error::malformed);  // \DDD needs three digits
          unsigned v = 0;
          for (std::size_t k = 1; k <= 3; ++k) {
            const char e = text[i + k];
            if (e < '0' || e > '9') return fail(error::malformed);
            v = v * 10 + static_cast<unsigned>(e - '0');
          }
          if (v > 255) return fail(error::malformed);
          c = static_cast<std::uint8_t>(v);
          i += 3;
        } else {
          c = static_cast<std::uint8_t>(d);
          i += 1;
        }
      }
      if (label_len == max_label_length) return fail(error::too_large);
      if (out + 1 > max_name_length - 1) return fail(error::too_large);
      n.bytes_[out++] = c;
      ++label_len;
    }
    if (!absolute) {
      if (label_len == 0) return fail(error::malformed);
      n.bytes_[label_start] = static_cast<std::uint8_t>(label_len);
      // Append the origin (its bytes include the final zero).
      if (out + origin.size_ > max_name_length) return fail(error::too_large);
      std::memcpy(n.bytes_ + out, origin.bytes_, origin.size_);
      out += origin.size_;
    } else {
      n.bytes_[out++] = 0;
    }
    n.size_ = static_cast<std::uint8_t>(out);
    return n;
  }

  // Presentation form, absolute (final dot), with escapes for dots,
  // backslashes and bytes outside printable ASCII.
  std::string to_string() const {
    std::string s;
    if (is_root()) return ".";
    for (std::size_t at = 0; bytes_[at] != 0; at += bytes_[at] + 1u) {
      for (std::size_t k = 1; k <= bytes_[at]; ++k) {
        const std::uint8_t c = bytes_[at + k];
        if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' || c == '@' || c == '$') {
          s += '\\';
          s += static_cast<char>(c);
        } else if (c <= ' ' || c >= 0x7F) {
          s += '\\';
          s += static_cast<char>('0' + c / 100);
          s += static_cast<char>('0' + c / 10 % 10);
          s += static_cast<char>('0' + c % 10);
        } else {
          s += static_cast<char>(c);
        }
      }
      s += '.';
    }
    return s;
  }

 private:
  constexpr void assign(std::span<const std::uint8_t> w) noexcept {
    const std::size_t n = std::min(w.size(), max_name_length);
    for (std::size_t i = 0; i < n; ++i) bytes_[i] = w[i];
    size_ = static_cast<std::uint8_t>(n);
  }

  std::uint8_t bytes_[max_name_length]{};
  std::uint8_t size_ = 1;
};

}  // namespace uni::dns
