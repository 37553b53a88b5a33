// uni/http/request.hpp: HTTP/1.1 request heads (RFC 9112 §2-§5, RFC 9110 §5).
//
// Two pure pieces, no I/O:
// - head_reader collects the bytes of one request head (request line, header
//   fields, the empty line) from the views TCP delivers. When a whole head sits
//   in one received view, the head *is* that view (shared, not copied); only a
//   head split across segments is gathered into the reader's fixed buffer. It
//   stops at the bounds: a request line longer than max_request_line (414) or a
//   head longer than Capacity (431).
// - parse_head checks a complete head and fills a `request` whose strings point
//   into it: method, target (path and query), version, up to max_headers fields
//   (431 past that), and what framing needs (Content-Length, chunked, Connection,
//   Expect). A malformed head is a status code (400, 501, 505), never a throw.
// Accepted grammar is strict where RFC 9112 lets a server choose: CRLF line ends
// only, no whitespace before a field's colon (§5.1), no obs-fold (§5.2), no
// Content-Length together with Transfer-Encoding (§6.3), one Host (§3.2).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include <uni/core/buffer.hpp>

namespace uni::http {

// ""sv literals: a literal's length known where it is used (at -Oz a string_view
// made of a char* is an out-of-line strlen call).
using namespace std::string_view_literals;

enum class method : std::uint8_t { get, head, post, put, del, options, patch, trace, connect, other };

namespace detail {
// The NUL-terminated word at `p`, and `p` moved past it: tables of words kept
// in one string (a table of pointers takes 8 bytes a word, a string_view 16,
// and a string_view made of a char* is a strlen call).
constexpr std::string_view next_word(const char*& p) noexcept {
  std::size_t n = 0;
  while (p[n] != '\0') ++n;
  const std::string_view word(p, n);
  p += n + 1;
  return word;
}

// The methods' names, in the enum's order, one word each.
inline constexpr char method_names[] = "GET\0HEAD\0POST\0PUT\0DELETE\0OPTIONS\0PATCH\0TRACE\0CONNECT";
inline constexpr std::size_t method_count = static_cast<std::size_t>(method::other);
}  // namespace detail

constexpr std::string_view to_string(method m) noexcept {
  if (m >= method::other) return "?"sv;
  const char* p = detail::method_names;
  for (auto i = static_cast<std::size_t>(m); i > 0; --i) detail::next_word(p);
  return detail::next_word(p);
}

// ASCII case-insensitive equality (field names, tokens: RFC 9110 §5.1).
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

namespace detail {
// The bits of the ASCII characters of `chars` from `base` to base + 63.
constexpr std::uint64_t char_bits(std::string_view chars, unsigned base) noexcept {
  std::uint64_t bits = 0;
  for (const char c : chars)
    if (static_cast<unsigned char>(c) - base < 64) bits |= std::uint64_t{1} << (static_cast<unsigned char>(c) - base);
  return bits;
}
inline constexpr std::string_view tchars =
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"sv;
}  // namespace detail

// tchar (RFC 9110 §5.6.2): a bit per ASCII character (two words, no branch per class).
constexpr bool is_tchar(char c) noexcept {
  constexpr std::uint64_t low = detail::char_bits(detail::tchars, 0), high = detail::char_bits(detail::tchars, 64);
  const auto u = static_cast<unsigned char>(c);
  return u < 128 && (((u < 64 ? low : high) >> (u & 63)) & 1) != 0;
}

// `s` without the optional whitespace (SP, HTAB) at either end (RFC 9110 §5.6.3).
constexpr std::string_view trim_ows(std::string_view s) noexcept {
  auto ows = [](char c) { return c == ' ' || c == '\t'; };
  std::size_t first = 0, end = s.size();
  while (first < end && ows(s[first])) ++first;
  while (end > first && ows(s[end - 1])) --end;
  return {s.data() + first, end - first};
}

// token = 1*tchar (RFC 9110 §5.6.2): a method, a field name.
constexpr bool is_token(std::string_view s) noexcept {
  for (char c : s)
    if (!is_tchar(c)) return false;
  return !s.empty();
}

namespace detail {
// Cuts `s` at its first `sep`: `before` is the text ahead of it and `s` keeps
// what follows it. False, and nothing changed, if `s` holds no `sep`.
constexpr bool cut(std::string_view& s, char sep, std::string_view& before) noexcept {
  const std::size_t at = s.find(sep);
  if (at == std::string_view::npos) return false;
  before = {s.data(), at};
  s.remove_prefix(at + 1);
  return true;
}

// Cuts the token (RFC 9110 §5.6.2) that starts `s` and the `sep` after it (a
// non-tchar) off `s`, in one pass: `token` is the token. False, and nothing
// changed, unless `s` starts with a token followed by `sep`.
constexpr bool cut_token(std::string_view& s, char sep, std::string_view& token) noexcept {
  std::size_t n = 0;
  while (n < s.size() && is_tchar(s[n])) ++n;
  if (n == 0 || n == s.size() || s[n] != sep) return false;
  token = {s.data(), n};
  s.remove_prefix(n + 1);
  return true;
}

// Cuts `s` after its first CRLF: `line` is the text ahead of it. False, and
// nothing changed, if `s` holds no CRLF (a lone CR or LF ends no line).
constexpr bool cut_line(std::string_view& s, std::string_view& line) noexcept {
  for (std::size_t at = 1; at < s.size(); ++at)
    if (s[at] == '\n' && s[at - 1] == '\r') {
      line = {s.data(), at - 1};
      s.remove_prefix(at + 1);
      return true;
    }
  return false;
}

// The first item of a `sep`-separated list, taken off the list's front (the
// whole list, leaving it empty, if there is no `sep`).
constexpr std::string_view take_until(std::string_view& list, char sep) noexcept {
  std::string_view item;
  if (!cut(list, sep, item)) item = std::exchange(list, {});
  return item;
}

// The index of `w` among the `count` words of `words` (see next_word), or
// `count`; field names and tokens compare case-insensitively (`fold_case`),
// methods exactly (RFC 9110 §9.1).
constexpr std::size_t word_index(const char* words, std::size_t count, std::string_view w, bool fold_case) noexcept {
  std::size_t i = 0;
  for (; i < count; ++i) {
    const std::string_view word = next_word(words);
    if (fold_case ? iequals(word, w) : word == w) break;
  }
  return i;
}
}  // namespace detail

struct field {
  std::string_view name;
  std::string_view value;
};

struct limits {
  std::size_t max_request_line = 2048;  // longer: 414 URI Too Long
  std::size_t max_headers = 48;         // more fields: 431
  std::uint64_t max_body = 1 << 20;     // larger declared or received body: 413
};

enum class body_framing : std::uint8_t { none, length, chunked };

struct request {
  // (The small members first, the fields last: the offsets of those used
  // most fit a byte in the instructions that reach them.)
  http::method method = method::other;
  std::uint8_t minor = 1;  // HTTP/1.minor
  body_framing framing = body_framing::none;
  bool keep_alive = true;        // HTTP/1.1 default; 1.0 needs "Connection: keep-alive"
  bool expect_continue = false;  // "Expect: 100-continue" (RFC 9110 §10.1.1)
  std::string_view method_name;
  std::string_view target;  // as sent (origin-form, or the path part of absolute-form)
  std::string_view path;    // target up to '?', still percent-encoded
  std::string_view query;   // after '?', empty if none
  std::uint64_t content_length = 0;
  std::string_view host;
  std::size_t field_count = 0;
  std::array<field, 64> fields_storage{};

  std::span<const field> fields() const noexcept { return {fields_storage.data(), field_count}; }
  // The first field named `name` (case-insensitive), or empty.
  std::string_view header(std::string_view name) const noexcept {
    for (const field& f : fields())
      if (iequals(f.name, name)) return f.value;
    return {};
  }
  bool has_header(std::string_view name) const noexcept {
    for (const field& f : fields())
      if (iequals(f.name, name)) return true;
    return false;
  }
};

// Does a comma-separated list (Connection, Transfer-Encoding) contain `token`?
constexpr bool list_has(std::string_view list, std::string_view token) noexcept {
  while (!list.empty())
    if (iequals(trim_ows(detail::take_until(list, ',')), token)) return true;
  return false;
}

// The last element of a comma-separated list.
constexpr std::string_view list_last(std::string_view list) noexcept {
  const std::size_t comma = list.rfind(',');
  return trim_ows(comma == std::string_view::npos ? list : list.substr(comma + 1));
}

// Decimal digits only (RFC 9110 §8.6); nullopt on anything else or overflow.
constexpr std::optional<std::uint64_t> parse_decimal(std::string_view s) noexcept {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

namespace detail {
constexpr http::method method_of(std::string_view m) noexcept {
  return static_cast<http::method>(word_index(method_names, method_count, m, false));
}

// The fields parse_head acts on (besides keeping them), in the enum's order.
enum class head_field : std::uint8_t { content_length, transfer_encoding, host, expect, other };
inline constexpr char head_field_names[] = "content-length\0transfer-encoding\0host\0expect";
constexpr head_field head_field_of(std::string_view name) noexcept {
  return static_cast<head_field>(word_index(head_field_names, static_cast<std::size_t>(head_field::other), name, true));
}

// Field values: VCHAR, obs-text, SP, HTAB (RFC 9110 §5.5). No CR, LF or NUL.
constexpr bool valid_value(std::string_view v) noexcept {
  for (char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 ? c != '\t' : c == 0x7f) return false;
  }
  return true;
}

// request-target (RFC 9112 §3.2): visible ASCII, no whitespace, not empty.
constexpr bool valid_target(std::string_view t) noexcept {
  for (char ch : t) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return !t.empty();
}

// HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3).
constexpr bool valid_version(std::string_view v) noexcept {
  constexpr std::string_view form = "HTTP/0.0"sv;  // a '0' stands for any digit
  if (v.size() != form.size()) return false;
  for (std::size_t i = 0; i < form.size(); ++i)
    if (form[i] == '0' ? v[i] < '0' || v[i] > '9' : v[i] != form[i]) return false;
  return true;
}

// Does `s` start with `prefix`, case-insensitively?
constexpr bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return iequals(s.substr(0, prefix.size()), prefix);
}
}  // namespace detail

// Parses one complete head (request line through the empty line, CRLFs included)
// into `r`. Returns 0, or the status code to answer with.
constexpr int parse_head(std::string_view head, request& r, const limits& lim = {}) noexcept {
  r.method = method::other;  // nothing of an earlier request survives a failure
  r.minor = 1;
  r.field_count = 0;
  r.framing = body_framing::none;
  r.content_length = 0;
  r.expect_continue = false;
  r.host = {};

  // request-line = method SP request-target SP HTTP-version (§3)
  std::string_view line;
  if (!detail::cut_line(head, line)) return 400;
  if (line.size() > lim.max_request_line) return 414;
  if (!detail::cut_token(line, ' ', r.method_name)) return 400;
  r.method = detail::method_of(r.method_name);
  r.target = detail::take_until(line, ' ');
  const std::string_view version = line;  // what follows the second SP
  if (!detail::valid_target(r.target) || !detail::valid_version(version)) return 400;
  if (version[5] != '1') return 505;
  r.minor = static_cast<std::uint8_t>(version[7] - '0');

  // absolute-form (§3.2.2): keep the path; "*" only for OPTIONS, authority-form
  // only for CONNECT.
  std::string_view t = r.target;
  if (t.front() != '/') {
    const std::size_t scheme = detail::istarts_with(t, "http://"sv) ? 7 : detail::istarts_with(t, "https://"sv) ? 8 : 0;
    if (scheme != 0 && t.size() > scheme) {
      const std::size_t slash = t.find('/', scheme);
      t = slash == std::string_view::npos ? "/"sv : t.substr(slash);
    } else if (!(t == "*"sv && r.method == method::options) && r.method != method::connect) {
      return 400;
    }
  }
  r.query = t;  // what follows the '?', if there is one
  r.path = detail::take_until(r.query, '?');

  // field-line = field-name ":" OWS field-value OWS (§5)
  const std::size_t max_fields = lim.max_headers < r.fields_storage.size() ? lim.max_headers : r.fields_storage.size();
  bool have_length = false, have_te = false, have_host = false;
  while (true) {
    if (!detail::cut_line(head, line)) return 400;  // the head must end with an empty line
    if (line.empty()) break;
    field f;
    // (A name must be a token: no whitespace before ':' (§5.1), no obs-fold line (§5.2).)
    if (!detail::cut_token(line, ':', f.name)) return 400;
    f.value = trim_ows(line);
    if (!detail::valid_value(f.value)) return 400;
    if (r.field_count == max_fields) return 431;
    r.fields_storage[r.field_count++] = f;

    switch (detail::head_field_of(f.name)) {
      case detail::head_field::content_length: {
        const auto n = parse_decimal(f.value);
        if (!n || (have_length && *n != r.content_length)) return 400;
        have_length = true;
        r.content_length = *n;
        break;
      }
      case detail::head_field::transfer_encoding:
        // chunked must be the final coding (§6.3: else 400); it is the only
        // one implemented (§6.1: any other is 501).
        if (have_te || !iequals(list_last(f.value), "chunked"sv)) return 400;
        if (!iequals(f.value, "chunked"sv)) return 501;
        have_te = true;
        break;
      case detail::head_field::host:
        if (have_host) return 400;
        have_host = true;
        r.host = f.value;
        break;
      case detail::head_field::expect:
        if (!iequals(f.value, "100-continue"sv)) return 417;
        r.expect_continue = true;
        break;
      case detail::head_field::other:
        break;
    }
  }
  if (!head.empty()) return 400;  // bytes after the empty line are not this head's
  if (have_te && have_length) return 400;  // §6.3: a smuggling attempt, not a request
  if (have_te && r.minor == 0) return 400;
  if (r.minor >= 1 && !have_host) return 400;  // §3.2
  if (have_te) r.framing = body_framing::chunked;
  else if (r.content_length > 0) r.framing = body_framing::length;
  if (r.content_length > lim.max_body) return 413;

  const std::string_view conn = r.header("connection"sv);
  r.keep_alive = r.minor >= 1 ? !list_has(conn, "close"sv) : list_has(conn, "keep-alive"sv);
  return 0;
}

enum class head_status : std::uint8_t { need_more, complete, line_too_long, too_large };

// Collects one request head from received views (see the top of the file).
template <std::size_t Capacity>
class head_reader {
 public:
  explicit head_reader(std::size_t max_request_line = 2048) noexcept : max_line_(max_request_line) {}

  // Takes bytes from the front of `in` (advancing it) until the head is
  // complete or a bound is hit; bytes after the head stay in `in`.
  head_status feed(view& in) noexcept {
    const char* p = reinterpret_cast<const char*>(in.data());
    const std::size_t n = in.size();
    std::size_t i = 0;
    // Empty lines before a request line are skipped (§2.2).
    if (size_ == 0 && matched_ == 0)
      while (i < n && (p[i] == '\r' || p[i] == '\n')) ++i;
    const std::size_t start = i;
    for (; i < n; ++i) {
      const char c = p[i];
      if (c == "\r\n\r\n"[matched_]) ++matched_;
      else matched_ = c == '\r' ? 1 : 0;
      if (!line_done_) {
        if (matched_ == 2) line_done_ = true;
        else if (++line_len_ > max_line_ + 1) return finish(in, i, head_status::line_too_long);
      }
      if (size_ + (i - start) + 1 > Capacity) return finish(in, i, head_status::too_large);
      if (matched_ == 4) {
        const std::size_t len = i + 1 - start;
        if (size_ == 0) {
          // Zero-copy: the head is part of this view; keep its page.
          held_ = in.slice(start, len).value();
          head_ = {reinterpret_cast<const char*>(held_.data()), len};
        } else {
          std::memcpy(buf_ + size_, p + start, len);
          size_ += len;
          head_ = {buf_, size_};
        }
        in.drop_front(i + 1);
        return head_status::complete;
      }
    }
    std::memcpy(buf_ + size_, p + start, n - start);
    size_ += n - start;
    in.drop_front(n);
    return head_status::need_more;
  }

  // The complete head (valid until reset()).
  std::string_view head() const noexcept { return head_; }
  // Bytes of a head in progress (0 before its first byte).
  std::size_t pending() const noexcept { return size_ + (matched_ ? 1 : 0); }
  bool copied() const noexcept { return held_.empty() && !head_.empty(); }

  void reset() noexcept {
    size_ = 0;
    matched_ = 0;
    line_len_ = 0;
    line_done_ = false;
    head_ = {};
    held_ = view{};
  }

 private:
  head_status finish(view& in, std::size_t i, head_status s) noexcept {
    in.drop_front(i + 1);
    return s;
  }

  std::size_t max_line_;
  std::size_t size_ = 0;
  std::size_t line_len_ = 0;
  std::uint8_t matched_ = 0;  // how much of "\r\n\r\n" the last bytes were
  bool line_done_ = false;
  std::string_view head_;
  view held_;
  char buf_[Capacity];
};

}  // namespace uni::http
