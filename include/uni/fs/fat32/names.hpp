// uni/fs/fat32/names.hpp: file names on a FAT volume. Paths arrive as UTF-8;
// long names are stored as UTF-16 (fatgen103 §7) and every file also has a short
// 8.3 name (§6.1), made from the long one with a numeric tail ("LONGFI~1.TXT")
// when the long name is not itself a valid upper-case 8.3 name. Names compare
// without regard to ASCII case, as FAT's do. Nothing here allocates.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <uni/core/result.hpp>
#include <uni/fs/fat32/directory_entry.hpp>

namespace uni::fs::fat32 {

inline constexpr std::size_t max_name_units = 255;                  // UTF-16 units in a long name
inline constexpr std::size_t max_name_bytes = max_name_units * 3;   // as UTF-8

// UTF-8 to UTF-16 (surrogate pairs above U+FFFF): the number of units, or
// error::invalid_argument for bytes that are not UTF-8 or a name too long.
constexpr result<std::size_t> utf8_to_utf16(std::string_view in, std::span<std::uint16_t> out) noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < in.size();) {
    const auto b0 = static_cast<std::uint8_t>(in[i]);
    std::size_t len = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > in.size()) return fail(error::invalid_argument);
    std::uint32_t cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<std::uint8_t>(in[i + k]);
      if ((b & 0xC0) != 0x80) return fail(error::invalid_argument);
      cp = (cp << 6) | (b & 0x3F);
    }
    constexpr std::uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return fail(error::invalid_argument);
    i += len;
    if (cp >= 0x10000) {
      if (n + 2 > out.size()) return fail(error::invalid_argument);
      cp -= 0x10000;
      out[n++] = static_cast<std::uint16_t>(0xD800 + (cp >> 10));
      out[n++] = static_cast<std::uint16_t>(0xDC00 + (cp & 0x3FF));
    } else {
      if (n + 1 > out.size()) return fail(error::invalid_argument);
      out[n++] = static_cast<std::uint16_t>(cp);
    }
  }
  return n;
}

// UTF-16 to UTF-8; a lone surrogate (a damaged name) becomes U+FFFD. `out`
// needs 3 bytes a unit. The number of bytes.
constexpr std::size_t utf16_to_utf8(std::span<const std::uint16_t> in, std::span<char> out) noexcept {
  std::size_t n = 0;
  const auto put = [&](std::uint32_t cp) {
    const auto emit = [&](std::uint32_t b) {
      if (n < out.size()) out[n++] = static_cast<char>(b);
    };
    if (cp < 0x80) emit(cp);
    else if (cp < 0x800) emit(0xC0 | (cp >> 6)), emit(0x80 | (cp & 0x3F));
    else if (cp < 0x10000) emit(0xE0 | (cp >> 12)), emit(0x80 | ((cp >> 6) & 0x3F)), emit(0x80 | (cp & 0x3F));
    else
      emit(0xF0 | (cp >> 18)), emit(0x80 | ((cp >> 12) & 0x3F)), emit(0x80 | ((cp >> 6) & 0x3F)),
          emit(0x80 | (cp & 0x3F));
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    const std::uint32_t u = in[i];
    if (u >= 0xD800 && u < 0xDC00 && i + 1 < in.size() && in[i + 1] >= 0xDC00 && in[i + 1] < 0xE000) {
      put(0x10000 + ((u - 0xD800) << 10) + (in[i + 1] - 0xDC00));
      ++i;
    } else if (u >= 0xD800 && u < 0xE000) {
      put(0xFFFD);
    } else {
      put(u);
    }
  }
  return n;
}

// May `name` be a file's long name? Not empty, not "." or "..", no control
// character or any of "*/:<>?\|, no trailing dot or space (Windows drops them).
constexpr bool valid_long_name(std::string_view name) noexcept {
  if (name.empty() || name == "." || name == ".." || name.size() > max_name_bytes) return false;
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || std::string_view("\"*/:<>?\\|").find(ch) != std::string_view::npos) return false;
  }
  return name.back() != '.' && name.back() != ' ';
}

// A byte allowed in a short name, besides upper-case letters and digits (§6.1).
constexpr bool short_name_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || std::string_view("$%'-_@~`!(){}^#&").find(c) != std::string_view::npos;
}
constexpr char upper(char c) noexcept { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

// `name` as an 8.3 name if it already is one, in upper case (then it needs no
// long-name entries).
constexpr std::optional<short_name> exact_short_name(std::string_view name) noexcept {
  const std::size_t dot = name.find('.');
  const std::string_view base = name.substr(0, dot);
  const std::string_view ext = dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
  if (base.empty() || base.size() > 8 || ext.size() > 3 || (dot != std::string_view::npos && ext.empty()))
    return std::nullopt;
  short_name n;
  n.fill(' ');
  for (std::size_t i = 0; i < base.size(); ++i) {
    if (!short_name_char(base[i])) return std::nullopt;
    n[i] = static_cast<std::uint8_t>(base[i]);
  }
  for (std::size_t i = 0; i < ext.size(); ++i) {
    if (!short_name_char(ext[i])) return std::nullopt;
    n[8 + i] = static_cast<std::uint8_t>(ext[i]);
  }
  return n;
}

// The short name made from long name `name` with numeric tail `tail` (1 ..
// 999999): its letters upper-cased, spaces and inner dots dropped, other bytes
// not allowed in a short name as '_', the base cut so "~tail" fits in eight.
constexpr short_name short_name_for(std::string_view name, std::uint32_t tail) noexcept {
  const std::size_t last_dot = name.rfind('.');
  const bool has_ext = last_dot != std::string_view::npos && last_dot != 0;
  const std::string_view base = has_ext ? name.substr(0, last_dot) : name;
  const std::string_view ext = has_ext ? name.substr(last_dot + 1) : std::string_view{};
  char digits[8];
  std::size_t nd = 0;
  for (std::uint32_t t = tail; t != 0 && nd < 7; t /= 10) digits[nd++] = static_cast<char>('0' + t % 10);
  const std::size_t keep = 8 - (nd + 1);
  short_name n;
  n.fill(' ');
  const auto mapped = [](char c) { return short_name_char(upper(c)) ? upper(c) : '_'; };
  std::size_t k = 0;
  for (char c : base) {
    if (c == ' ' || c == '.') continue;
    if (k == keep) break;
    n[k++] = static_cast<std::uint8_t>(mapped(c));
  }
  if (k == 0) n[k++] = '_';
  n[k++] = '~';
  while (nd > 0) n[k++] = static_cast<std::uint8_t>(digits[--nd]);
  std::size_t e = 0;
  for (char c : ext) {
    if (c == ' ') continue;
    if (e == 3) break;
    n[8 + e++] = static_cast<std::uint8_t>(mapped(c));
  }
  return n;
}

// A short name as text ("README.TXT", or "readme.txt" with the case bits):
// bytes outside ASCII (a code page this library does not carry) become '_'.
// The number of bytes written (at most 12).
constexpr std::size_t short_name_text(const short_name& n, std::uint8_t nt_case, std::span<char, 12> out) noexcept {
  const auto text = [&](std::uint8_t b, bool lower) {
    if (b >= 0x80) return '_';
    const char c = static_cast<char>(b);
    return lower && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  };
  std::size_t k = 0;
  std::size_t base_len = 8;
  while (base_len > 0 && n[base_len - 1] == ' ') --base_len;
  for (std::size_t i = 0; i < base_len; ++i)
    out[k++] = text(i == 0 && n[0] == name0::kanji_e5 ? 0xE5 : n[i], nt_case & case_bits::lower_base);
  std::size_t ext_len = 3;
  while (ext_len > 0 && n[8 + ext_len - 1] == ' ') --ext_len;
  if (ext_len > 0) out[k++] = '.';
  for (std::size_t i = 0; i < ext_len; ++i) out[k++] = text(n[8 + i], nt_case & case_bits::lower_ext);
  return k;
}

// Equal names, ignoring ASCII case.
constexpr bool same_name(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (upper(a[i]) != upper(b[i])) return false;
  return true;
}

}  // namespace uni::fs::fat32
