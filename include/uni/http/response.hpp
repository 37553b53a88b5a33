// uni/http/response.hpp: building response heads (RFC 9110 §15, RFC 9112 §4)
// and the conditional and range rules a file server needs:
// - head_writer formats a status line and fields into one I/O page, which is
//   sent in front of the body's views (scatter-gather: the body is not copied);
// - content_type_for picks Content-Type from a file extension;
// - format_http_date writes an IMF-fixdate (RFC 9110 §5.6.7);
// - etag_matches implements If-None-Match's weak comparison (§13.1.2);
// - parse_range reads one "bytes=" range (RFC 9110 §14.1.2); several ranges
//   are answered with the whole representation, as §14.2 allows.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>
#include <string_view>

#include <uni/core/buffer.hpp>
#include <uni/http/request.hpp>

namespace uni::http {

namespace detail {
// The status codes reason() names, and their phrases in the same order in one
// string (a table: no switch code for each); "Unknown" follows the last.
// (alignas: each table's own alignment, not the 32 GCC gives an array of 32
// bytes or more, with padding before it; so content_types.)
alignas(2) inline constexpr std::uint16_t reason_codes[] = {100, 200, 201, 204, 206, 301, 302, 304, 400, 404, 405,
                                                 408, 411, 413, 414, 416, 417, 431, 500, 501, 503, 505};
alignas(1) inline constexpr char reason_phrases[] =
    "Continue\0OK\0Created\0No Content\0Partial Content\0Moved Permanently\0Found\0Not Modified\0"
    "Bad Request\0Not Found\0Method Not Allowed\0Request Timeout\0Length Required\0Content Too Large\0"
    "URI Too Long\0Range Not Satisfiable\0Expectation Failed\0Request Header Fields Too Large\0"
    "Internal Server Error\0Not Implemented\0Service Unavailable\0HTTP Version Not Supported\0Unknown";
static_assert(std::count(std::begin(reason_phrases), std::end(reason_phrases), '\0') == std::size(reason_codes) + 1,
              "one phrase per status code, then Unknown");
}  // namespace detail

constexpr std::string_view reason(int status) noexcept {
  const char* p = detail::reason_phrases;
  for (const std::uint16_t code : detail::reason_codes) {
    if (code == status) break;
    detail::next_word(p);
  }
  return detail::next_word(p);
}

namespace detail {
// File extensions and their Content-Types, in pairs, in one string: the
// extensions of a type between '|', then the type (each type once: a string in
// a char array is not merged with its copies); an empty extension ends it.
alignas(1) inline constexpr char content_types[] =
    "html|htm\0text/html; charset=utf-8\0css\0text/css; charset=utf-8\0"
    "js|mjs\0text/javascript; charset=utf-8\0json\0application/json\0"
    "txt\0text/plain; charset=utf-8\0md\0text/markdown; charset=utf-8\0xml\0application/xml\0"
    "svg\0image/svg+xml\0png\0image/png\0jpg|jpeg\0image/jpeg\0gif\0image/gif\0"
    "webp\0image/webp\0ico\0image/vnd.microsoft.icon\0woff\0font/woff\0woff2\0font/woff2\0"
    "pdf\0application/pdf\0wasm\0application/wasm\0mp4\0video/mp4\0gz\0application/gzip\0";
}  // namespace detail

constexpr std::string_view content_type_for(std::string_view path) noexcept {
  const std::size_t dot = path.rfind('.');
  const std::size_t slash = path.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash))
    return "application/octet-stream"sv;
  const std::string_view e{path.data() + dot + 1, path.size() - dot - 1};  // (dot < size: no substr check)
  for (const char* p = detail::content_types; *p != '\0';) {
    std::string_view extensions = detail::next_word(p);
    const std::string_view type = detail::next_word(p);
    while (!extensions.empty())
      if (iequals(e, detail::take_until(extensions, '|'))) return type;
  }
  return "application/octet-stream"sv;
}

// IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes), from Unix time.
inline std::size_t format_http_date(std::int64_t t, char (&out)[29]) noexcept {
  static constexpr char days[] = "ThuFriSatSunMonTueWed";  // 1970-01-01 was a Thursday
  static constexpr char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (t < 0) t = 0;
  std::int64_t z = t / 86400;
  const std::int64_t secs = t % 86400;
  const int wday = static_cast<int>(z % 7);
  // Civil date from days since the epoch (Howard Hinnant's algorithm).
  z += 719468;
  const std::int64_t era = z / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const int year = static_cast<int>(yoe + era * 400 + (month <= 2));
  auto two = [&](std::size_t at, int v) {
    out[at] = static_cast<char>('0' + v / 10);
    out[at + 1] = static_cast<char>('0' + v % 10);
  };
  std::memcpy(out, days + wday * 3, 3);
  out[3] = ',';
  out[4] = ' ';
  two(5, day);
  out[7] = ' ';
  std::memcpy(out + 8, months + (month - 1) * 3, 3);
  out[11] = ' ';
  two(12, year / 100 % 100);
  two(14, year % 100);
  out[16] = ' ';
  two(17, static_cast<int>(secs / 3600));
  out[19] = ':';
  two(20, static_cast<int>(secs / 60 % 60));
  out[22] = ':';
  two(23, static_cast<int>(secs % 60));
  std::memcpy(out + 25, " GMT", 4);
  return 29;
}

// If-None-Match (RFC 9110 §13.1.2): "*" or a list of entity tags, compared weakly.
constexpr bool etag_matches(std::string_view if_none_match, std::string_view etag) noexcept {
  auto opaque = [](std::string_view t) {
    t = trim_ows(t);
    if (t.size() >= 2 && t[0] == 'W' && t[1] == '/') t.remove_prefix(2);
    return t;
  };
  if (trim_ows(if_none_match) == "*"sv) return !etag.empty();
  const std::string_view want = opaque(etag);
  while (!if_none_match.empty())
    if (opaque(detail::take_until(if_none_match, ',')) == want) return true;
  return false;
}

struct byte_range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
};
enum class range_result : std::uint8_t { whole, partial, unsatisfiable };

// One range of a representation of `size` bytes. Anything but a single valid
// "bytes=" range is answered with the whole (§14.2 lets a server ignore Range).
constexpr range_result parse_range(std::string_view h, std::uint64_t size, byte_range& out) noexcept {
  h = trim_ows(h);
  if (!detail::istarts_with(h, "bytes="sv)) return range_result::whole;
  h.remove_prefix(6);  // (OWS around the range is trimmed from its two numbers)
  std::string_view a;
  if (h.find(',') != std::string_view::npos || !detail::cut(h, '-', a)) return range_result::whole;
  a = trim_ows(a);
  const std::string_view b = trim_ows(h);
  std::uint64_t first, last = size == 0 ? 0 : size - 1;
  if (a.empty()) {  // suffix: the last N bytes (none of 0 bytes, or of an empty representation)
    const auto n = parse_decimal(b);
    if (!n) return range_result::whole;
    first = *n >= size ? 0 : size - *n;
  } else {
    const auto f = parse_decimal(a);
    if (!f) return range_result::whole;
    first = *f;
    if (!b.empty()) {
      const auto l = parse_decimal(b);
      if (!l || *l < first) return range_result::whole;  // invalid: ignored
      if (*l < last) last = *l;
    }
  }
  if (first >= size) return range_result::unsatisfiable;
  out = {first, last};
  return range_result::partial;
}

// Writes a response head into a buffer (an I/O page): status line, then fields,
// then the empty line. Overflow is remembered and reported by finish().
class head_writer {
 public:
  explicit head_writer(std::span<std::uint8_t> buf) noexcept
      : p_(reinterpret_cast<char*>(buf.data())), cap_(buf.size()) {}

  head_writer& status(int code, std::uint8_t minor = 1) noexcept {
    put(minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ");
    number(static_cast<std::uint64_t>(code));
    put(" ");
    put(reason(code));
    put("\r\n");
    return *this;
  }
  head_writer& field(std::string_view name, std::string_view value) noexcept {
    put(name);
    put(": ");
    put(value);
    put("\r\n");
    return *this;
  }
  head_writer& field(std::string_view name, std::uint64_t value) noexcept {
    put(name);
    put(": ");
    number(value);
    put("\r\n");
    return *this;
  }
  // Content-Range: bytes first-last/size, or bytes */size when first > last.
  head_writer& content_range(std::uint64_t first, std::uint64_t last, std::uint64_t size) noexcept {
    put("Content-Range: bytes ");
    if (first > last) {
      put("*");
    } else {
      number(first);
      put("-");
      number(last);
    }
    put("/");
    number(size);
    put("\r\n");
    return *this;
  }
  // Ends the head; the number of bytes written, or nothing if it did not fit.
  std::optional<std::size_t> finish() noexcept {
    put("\r\n");
    if (over_) return std::nullopt;
    return n_;
  }

 private:
  // A literal's length is known here (a string_view made of a char* is a strlen call).
  template <std::size_t N>
  void put(const char (&s)[N]) noexcept {
    put(std::string_view(s, N - 1));
  }
  void put(std::string_view s) noexcept {
    if (s.size() > cap_ - n_) {
      over_ = true;
      return;
    }
    std::memcpy(p_ + n_, s.data(), s.size());
    n_ += s.size();
  }
  void number(std::uint64_t v) noexcept {
    char tmp[20];
    std::size_t i = sizeof tmp;
    do {
      tmp[--i] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v);
    put({tmp + i, sizeof tmp - i});
  }

  char* p_;
  std::size_t cap_;
  std::size_t n_ = 0;
  bool over_ = false;
};

}  // namespace uni::http
