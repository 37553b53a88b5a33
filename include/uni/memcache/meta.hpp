// uni/memcache/meta.hpp: the flags of memcached's meta commands (mg ms md ma),
// as memcached 1.6.18 reads them, and the base64 its b flag puts keys in.
//
// A meta command is "<cmd> <key> [<datalen>] <flag>*": each flag one
// token, its first character the flag, the rest its argument (T30, Oabc).
// Every flag any meta command knows is accepted by all of them (mg ignores
// ms's F, as memcached does); an unknown one ends the parse, a repeated one
// too. An argument that does not parse is remembered, and the last such
// error is the one told.
//
//   mg: b c f h k l O q s t u v T N R (answers W X Z)
//   ms: b c k O q T F C I M(E A P R S)
//   md: b k O q C I T
//   ma: b c k O q t v T N J D C M(I + D -)
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace uni::memcache {

// memcached: at most 20 tokens counting its final empty one, opaque tokens of 32 bytes.
inline constexpr std::size_t meta_max_tokens = 19;
inline constexpr std::size_t meta_max_opaque = 32;

struct meta_flags {
  bool value = false;      // v: the value, "VA <size>"
  bool quiet = false;      // q: the nominal answer is not sent
  bool no_update = false;  // u: no LRU bump, not marked fetched
  bool stale = false;      // I: md marks stale; ms stores over a newer CAS as stale
  bool has_cas = false;    // C
  bool new_ttl = false;    // T
  bool vivify = false;     // N
  bool binary = false;     // b: the key was base64
  char mode = 0;           // M
  std::int64_t exptime = 0, vivify_exptime = 0, recache_time = 0;  // as sent (expiry() converts)
  std::uint32_t client_flags = 0;
  std::uint64_t cas = 0, delta = 1, initial = 0;
};

namespace meta {

inline constexpr char base64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

inline int base64_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Decodes whole quads into out (room for in.size() * 3 / 4); padding ends the
// key. 0 (memcached's failure) for a length not a multiple of 4, a character
// outside the alphabet, or nothing decoded.
inline std::size_t base64_decode(std::string_view in, char* out) noexcept {
  if (in.size() % 4 != 0) return 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int have = 0;
    for (int j = 0; j < 4; ++j) {
      if (in[i + j] == '=') break;
      v[j] = base64_value(in[i + j]);
      if (v[j] < 0) return 0;
      ++have;
    }
    if (have < 2) return n;
    out[n++] = static_cast<char>(v[0] << 2 | v[1] >> 4);
    if (have > 2) out[n++] = static_cast<char>((v[1] & 15) << 4 | v[2] >> 2);
    if (have > 3) out[n++] = static_cast<char>((v[2] & 3) << 6 | v[3]);
    if (have < 4) return n;
  }
  return n;
}

// Encodes in, padded; out needs (in.size() + 2) / 3 * 4 bytes. Returns the length.
inline std::size_t base64_encode(std::string_view in, char* out) noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::size_t left = in.size() - i;
    const auto b0 = static_cast<std::uint8_t>(in[i]);
    const auto b1 = left > 1 ? static_cast<std::uint8_t>(in[i + 1]) : 0;
    const auto b2 = left > 2 ? static_cast<std::uint8_t>(in[i + 2]) : 0;
    out[n++] = base64_alphabet[b0 >> 2];
    out[n++] = base64_alphabet[(b0 & 3) << 4 | b1 >> 4];
    out[n++] = left > 1 ? base64_alphabet[(b1 & 15) << 2 | b2 >> 6] : '=';
    out[n++] = left > 2 ? base64_alphabet[b2 & 63] : '=';
  }
  return n;
}

template <class T>
bool argument(std::string_view token, T& v) noexcept {
  const std::string_view s = token.substr(1);
  if (s.empty()) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc{} && p == s.data() + s.size();
}

// Reads the flag tokens; `key` is replaced by its decoded bytes (in key_buffer)
// under b. Returns nullptr, or the error memcached tells (mg and ms tell it;
// md and ma say "invalid or duplicate flag" whatever it was).
inline const char* parse(std::span<const std::string_view> flags, meta_flags& f, std::string_view& key,
                         char* key_buffer) noexcept {
  const char* error = nullptr;
  const char* last = "CLIENT_ERROR bad command line format";
  bool seen[128] = {};
  for (const std::string_view t : flags) {
    const auto o = static_cast<unsigned char>(t[0]);
    if (o >= 127 || seen[o]) return "CLIENT_ERROR duplicate flag";
    seen[o] = true;
    auto fail = [&](const char* e) { error = last = e; };
    switch (o) {
      case 'b': {
        const std::size_t n = base64_decode(key, key_buffer);
        if (n == 0) fail("CLIENT_ERROR error decoding key");
        key = {key_buffer, n};
        f.binary = true;
        break;
      }
      case 'N':
        f.vivify = true;
        if (!argument(t, f.vivify_exptime) || f.vivify_exptime != static_cast<std::int32_t>(f.vivify_exptime))
          fail("CLIENT_ERROR bad token in command line format");
        break;
      case 'T':
        f.new_ttl = true;
        if (!argument(t, f.exptime) || f.exptime != static_cast<std::int32_t>(f.exptime))
          fail("CLIENT_ERROR bad token in command line format");
        break;
      case 'R':
        if (!argument(t, f.recache_time) || f.recache_time != static_cast<std::int32_t>(f.recache_time))
          fail("CLIENT_ERROR bad token in command line format");
        break;
      case 'O': case 'P': case 'L': case 'k': case 's': case 't': case 'c': case 'f': case 'l': case 'h':
        break;
      case 'v': f.value = true; break;
      case 'u': f.no_update = true; break;
      case 'q': f.quiet = true; break;
      case 'I': f.stale = true; break;
      case 'F':
        if (!argument(t, f.client_flags)) error = last;  // memcached keeps the message it had
        break;
      case 'C':
        if (!argument(t, f.cas)) fail("CLIENT_ERROR bad token in command line format");
        else f.has_cas = true;
        break;
      case 'M':
        if (t.size() != 2) fail("CLIENT_ERROR incorrect length for M token");
        else f.mode = t[1];
        break;
      case 'J':
        if (!argument(t, f.initial)) fail("CLIENT_ERROR invalid numeric initial value");
        break;
      case 'D':
        if (!argument(t, f.delta)) fail("CLIENT_ERROR invalid numeric delta value");
        break;
      default:
        return "CLIENT_ERROR invalid flag";
    }
  }
  return error;
}

}  // namespace meta
}  // namespace uni::memcache
