// uni/dns/zone_file.hpp: zone master files (RFC 1035 §5.1), read as NSD and
// BIND read them: $ORIGIN, $TTL (RFC 2308 §4), $INCLUDE, `@`, relative names, owners
// carried over from the previous line when a line starts with a blank,
// parentheses spanning lines, `;` comments, quoted strings, `\X` and `\DDD`
// escapes, TTLs with units (1h30m, as BIND writes them), and records A, NS,
// CNAME, SOA, PTR, MX, TXT, AAAA, SRV, CAA, DNAME, plus any type in RFC 3597's
// generic form (`TYPE65280 \# 4 0a000001`, or `\#` for a known type).
//
// Runs once at start, so it allocates freely; errors are values that name
// the file and the line ("example.zone:12: bad IPv4 address '10.0.0'"). The
// reader does no I/O: $INCLUDE (RFC 1035 §5.1) asks the caller's
// zone_include_reader for the file's text (none: $INCLUDE is an error).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <uni/core/function_ref.hpp>
#include <uni/dns/message.hpp>
#include <uni/dns/name.hpp>
#include <uni/dns/zone.hpp>

namespace uni::dns {

namespace zone_detail {

struct token {
  std::string text;  // raw: escapes not yet interpreted
  bool quoted = false;
};

struct entry {
  std::vector<token> tokens;
  bool blank_owner = false;  // the line started with white space
  std::size_t line = 0;
};

// Splits the text into entries: one per line, or per parenthesised group.
class tokenizer {
 public:
  explicit tokenizer(std::string_view text) noexcept : text_(text) {}

  // The next entry (false at the end); `problem` set on a lexical error.
  bool next(entry& e, std::string& problem) {
    e.tokens.clear();
    while (at_ < text_.size()) {
      e.line = line_;
      e.blank_owner = text_[at_] == ' ' || text_[at_] == '\t';
      int depth = 0;
      while (true) {
        if (at_ >= text_.size()) {
          if (depth > 0) {
            problem = "unbalanced '(' at the end of the file";
            return false;
          }
          break;
        }
        const char c = text_[at_];
        if (c == '\n') {
          ++line_;
          ++at_;
          if (depth == 0) break;
          continue;
        }
        if (c == ' ' || c == '\t' || c == '\r') {
          ++at_;
          continue;
        }
        if (c == ';') {
          while (at_ < text_.size() && text_[at_] != '\n') ++at_;
          continue;
        }
        if (c == '(') {
          ++depth;
          ++at_;
          continue;
        }
        if (c == ')') {
          if (depth == 0) {
            problem = "')' without '('";
            return false;
          }
          --depth;
          ++at_;
          continue;
        }
        token t;
        if (c == '"') {
          t.quoted = true;
          ++at_;
          while (true) {
            if (at_ >= text_.size()) {
              problem = "unterminated quoted string";
              return false;
            }
            const char d = text_[at_];
            if (d == '"') {
              ++at_;
              break;
            }
            if (d == '\n') ++line_;
            if (d == '\\' && at_ + 1 < text_.size()) {
              t.text += d;
              ++at_;
              if (text_[at_] == '\n') ++line_;
            }
            t.text += text_[at_++];
          }
        } else {
          while (at_ < text_.size()) {
            const char d = text_[at_];
            if (d == ' ' || d == '\t' || d == '\r' || d == '\n' || d == ';' || d == '(' || d == ')' || d == '"') break;
            if (d == '\\' && at_ + 1 < text_.size()) {
              t.text += d;
              ++at_;
            }
            t.text += text_[at_++];
          }
        }
        e.tokens.push_back(std::move(t));
      }
      if (!e.tokens.empty()) return true;
    }
    return false;
  }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
  std::size_t line_ = 1;
};

inline std::optional<std::uint64_t> number(std::string_view s, std::uint64_t max) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
    if (v > max) return std::nullopt;
  }
  return v;
}

// A TTL: seconds, or BIND's units (1w2d3h4m5s), at most 2^31 - 1 (RFC 2181 §8).
inline std::optional<std::uint32_t> ttl_value(std::string_view s) {
  constexpr std::uint64_t max = 0x7FFFFFFF;
  if (auto n = number(s, max)) return static_cast<std::uint32_t>(*n);
  if (s.empty() || s[0] < '0' || s[0] > '9') return std::nullopt;
  std::uint64_t total = 0, part = 0;
  bool digits = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      part = part * 10 + static_cast<std::uint64_t>(c - '0');
      digits = true;
      if (part > max) return std::nullopt;
      continue;
    }
    std::uint64_t unit = 0;
    switch (c | 0x20) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      case 'w': unit = 604800; break;
      default: return std::nullopt;
    }
    if (!digits) return std::nullopt;
    total += part * unit;
    if (total > max) return std::nullopt;
    part = 0;
    digits = false;
  }
  if (digits) return std::nullopt;  // "1h30": a number without its unit
  return static_cast<std::uint32_t>(total);
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_lower(static_cast<std::uint8_t>(a[i])) != to_lower(static_cast<std::uint8_t>(b[i]))) return false;
  return true;
}

struct type_name {
  std::string_view text;
  std::uint16_t value;
};
inline constexpr type_name known_types[] = {
    {"A", rr_type::a},     {"NS", rr_type::ns},   {"CNAME", rr_type::cname}, {"SOA", rr_type::soa},
    {"PTR", rr_type::ptr}, {"MX", rr_type::mx},   {"TXT", rr_type::txt},     {"AAAA", rr_type::aaaa},
    {"SRV", rr_type::srv}, {"CAA", rr_type::caa}, {"DNAME", rr_type::dname},
};

// A type mnemonic we read, or TYPEnnn (RFC 3597 §5).
inline std::optional<std::uint16_t> type_value(std::string_view s) {
  for (const auto& t : known_types)
    if (iequals(s, t.text)) return t.value;
  if (s.size() > 4 && iequals(s.substr(0, 4), "TYPE"))
    if (auto n = number(s.substr(4), 65535)) return static_cast<std::uint16_t>(*n);
  return std::nullopt;
}
inline bool is_known_type(std::uint16_t t) {
  for (const auto& k : known_types)
    if (k.value == t) return true;
  return false;
}
// Mnemonics of types we only read in generic form: named in the error.
inline bool is_other_mnemonic(std::string_view s) {
  constexpr std::string_view others[] = {"HINFO", "DS",    "DNSKEY", "RRSIG", "NSEC",  "NSEC3", "NSEC3PARAM",
                                         "TLSA",  "SSHFP", "NAPTR",  "SPF",   "LOC",   "CDS",   "CDNSKEY",
                                         "SVCB",  "HTTPS", "URI",    "RP",    "AFSDB", "CERT",  "OPENPGPKEY"};
  for (auto o : others)
    if (iequals(s, o)) return true;
  return false;
}
inline std::optional<std::uint16_t> class_value(std::string_view s) {
  if (iequals(s, "IN")) return rr_class::in;
  if (iequals(s, "CH")) return rr_class::ch;
  if (iequals(s, "HS")) return 4;
  if (s.size() > 5 && iequals(s.substr(0, 5), "CLASS"))
    if (auto n = number(s.substr(5), 65535)) return static_cast<std::uint16_t>(*n);
  return std::nullopt;
}

inline bool parse_ipv4(std::string_view s, std::uint8_t out[4]) {
  std::size_t part = 0;
  unsigned v = 0, digits = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      if (digits == 0 || part > 3) return false;
      out[part++] = static_cast<std::uint8_t>(v);
      v = digits = 0;
      continue;
    }
    if (s[i] < '0' || s[i] > '9' || ++digits > 3) return false;
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
    if (v > 255) return false;
  }
  return part == 4;
}

inline int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// IPv6 text (RFC 4291 §2.2): groups, one `::`, a dotted IPv4 tail.
inline bool parse_ipv6(std::string_view s, std::uint8_t out[16]) {
  std::uint8_t head[16]{}, tail[16]{};
  std::size_t nh = 0, nt = 0;
  bool gap = false;
  if (s.starts_with("::")) {
    gap = true;
    s.remove_prefix(2);
  } else if (s.starts_with(":")) {
    return false;
  }
  while (!s.empty()) {
    std::uint8_t* dst = gap ? tail : head;
    std::size_t& n = gap ? nt : nh;
    const std::size_t colon = s.find(':');
    const std::string_view group = s.substr(0, colon);
    if (group.find('.') != std::string_view::npos) {
      if (colon != std::string_view::npos || n + 4 > 16 || !parse_ipv4(group, dst + n)) return false;
      n += 4;
      s = {};
      break;
    }
    if (group.empty() || group.size() > 4 || n + 2 > 16) return false;
    unsigned v = 0;
    for (char c : group) {
      const int d = hex_digit(c);
      if (d < 0) return false;
      v = v * 16 + static_cast<unsigned>(d);
    }
    dst[n++] = static_cast<std::uint8_t>(v >> 8);
    dst[n++] = static_cast<std::uint8_t>(v);
    if (colon == std::string_view::npos) {
      s = {};
      break;
    }
    s.remove_prefix(colon + 1);
    if (s.starts_with(":")) {
      if (gap) return false;
      gap = true;
      s.remove_prefix(1);
    } else if (s.empty()) {
      return false;  // a trailing single ':'
    }
  }
  if (gap ? nh + nt > 14 : nh != 16) return false;
  for (std::size_t i = 0; i < 16; ++i) out[i] = 0;
  for (std::size_t i = 0; i < nh; ++i) out[i] = head[i];
  for (std::size_t i = 0; i < nt; ++i) out[16 - nt + i] = tail[i];
  return true;
}

// A character-string's text with its escapes interpreted; false if bad.
inline bool unescape(std::string_view s, std::vector<std::uint8_t>& out) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(static_cast<std::uint8_t>(s[i]));
      continue;
    }
    if (i + 1 >= s.size()) return false;
    if (s[i + 1] >= '0' && s[i + 1] <= '9') {
      if (i + 3 >= s.size()) return false;
      auto v = number(s.substr(i + 1, 3), 255);
      if (!v) return false;
      out.push_back(static_cast<std::uint8_t>(*v));
      i += 3;
    } else {
      out.push_back(static_cast<std::uint8_t>(s[i + 1]));
      i += 1;
    }
  }
  return true;
}

}  // namespace zone_detail

// The text of the file a $INCLUDE names, as written in the zone file; empty if
// it cannot be read. (A reference: no std::function in an image without files.)
using zone_include_reader = function_ref<std::optional<std::string>(const std::string& path)>;
inline constexpr int max_include_depth = 8;  // a file that includes itself ends here

// Where a record came from, for errors found after reading ("file:line").
using zone_record_places = std::vector<std::string>;

// Reads a master file into records for `zone::build`. `origin` is the initial
// $ORIGIN (the zone's name, as NSD's configuration gives it); the file may set
// its own. Returns the records, or the error as "file:line: why" in `problem`.
// $INCLUDE file [origin] reads another file through `include`, with that
// origin (else the current one) and the current $TTL; what it sets stays in it.
inline std::optional<std::vector<zone_record>> read_zone_records(std::string_view text, const name& origin,
                                                                 std::string_view file, std::string& problem,
                                                                 zone_record_places* places = nullptr,
                                                                 const zone_include_reader* include = nullptr,
                                                                 std::optional<std::uint32_t> inherited_ttl = {},
                                                                 int depth = 0) {
  using namespace zone_detail;
  std::vector<zone_record> out;
  tokenizer tz(text);
  entry e;
  name current_origin = origin;
  std::optional<name> last_owner;
  std::optional<std::uint32_t> default_ttl = inherited_ttl, last_ttl;
  std::string why;
  auto error_at = [&](std::size_t line, std::string_view msg) {
    problem = std::string(file) + ":" + std::to_string(line) + ": " + std::string(msg);
    return std::nullopt;
  };
  while (true) {
    std::string lexical;
    if (!tz.next(e, lexical)) {
      if (!lexical.empty()) return error_at(e.line, lexical);
      break;
    }
    std::span<const token> t = e.tokens;
    const std::string& first = t[0].text;
    if (!e.blank_owner && !t[0].quoted && first.starts_with("$")) {
      if (iequals(first, "$ORIGIN")) {
        if (t.size() != 2) return error_at(e.line, "$ORIGIN takes one name");
        auto n = name::parse(t[1].text, current_origin);
        if (!n) return error_at(e.line, "bad $ORIGIN name '" + t[1].text + "'");
        current_origin = *n;
      } else if (iequals(first, "$TTL")) {
        if (t.size() != 2) return error_at(e.line, "$TTL takes one value");
        auto v = ttl_value(t[1].text);
        if (!v) return error_at(e.line, "bad $TTL '" + t[1].text + "'");
        default_ttl = *v;
      } else if (iequals(first, "$INCLUDE")) {
        if (t.size() < 2 || t.size() > 3) return error_at(e.line, "$INCLUDE takes a file name and an optional origin");
        if (!include || !*include) return error_at(e.line, "$INCLUDE needs a file system");
        if (depth >= max_include_depth) return error_at(e.line, "$INCLUDE nested more than " + std::to_string(max_include_depth) + " deep");
        name included_origin = current_origin;
        if (t.size() == 3) {
          auto n = name::parse(t[2].text, current_origin);
          if (!n) return error_at(e.line, "bad $INCLUDE origin '" + t[2].text + "'");
          included_origin = *n;
        }
        auto body = (*include)(t[1].text);
        if (!body) return error_at(e.line, "cannot read $INCLUDE file '" + t[1].text + "'");
        auto more = read_zone_records(*body, included_origin, t[1].text, problem, places, include, default_ttl, depth + 1);
        if (!more) return std::nullopt;  // `problem` names the included file and its line
        for (zone_record& r : *more) out.push_back(std::move(r));
      } else {
        return error_at(e.line, "unsupported directive " + first);
      }
      continue;
    }
    zone_record rec;
    std::size_t i = 0;
    if (e.blank_owner) {
      if (!last_owner) return error_at(e.line, "no owner name (the first record starts with a blank)");
      rec.owner = *last_owner;
    } else {
      auto n = name::parse(t[0].text, current_origin);
      if (!n) return error_at(e.line, "bad owner name '" + t[0].text + "'");
      rec.owner = *n;
      i = 1;
    }
    // [TTL] [class] or [class] [TTL], then the type.
    std::optional<std::uint32_t> ttl;
    std::optional<std::uint16_t> cls;
    std::optional<std::uint16_t> type;
    for (; i < t.size() && !type; ++i) {
      if (t[i].quoted) return error_at(e.line, "expected a type, found a quoted string");
      if (t[i].text.empty()) return error_at(e.line, "empty token where a type was expected");
      if (!ttl && t[i].text[0] >= '0' && t[i].text[0] <= '9') {
        ttl = ttl_value(t[i].text);
        if (!ttl) return error_at(e.line, "bad TTL '" + t[i].text + "'");
      } else if (auto c = class_value(t[i].text); c && !cls) {
        cls = *c;
      } else if (auto ty = type_value(t[i].text)) {
        type = *ty;
      } else if (is_other_mnemonic(t[i].text)) {
        return error_at(e.line, "type " + t[i].text + " is read only in RFC 3597 form (TYPEnnn \\# length hex)");
      } else {
        return error_at(e.line, "unknown type '" + t[i].text + "'");
      }
    }
    if (!type) return error_at(e.line, "no record type");
    if (cls && *cls != rr_class::in) return error_at(e.line, "only class IN is served");
    if (*type == rr_type::opt || *type == rr_type::axfr || *type == rr_type::ixfr || *type == rr_type::any ||
        *type == 0)
      return error_at(e.line, "type " + std::to_string(*type) + " cannot be in a zone");
    rec.type = *type;
    const std::span<const token> rd = t.subspan(i);
    std::vector<std::uint8_t>& r = rec.rdata;
    auto word = [&](std::size_t k) -> std::string_view { return k < rd.size() ? std::string_view(rd[k].text) : ""; };
    auto want = [&](std::size_t n) { return rd.size() == n; };
    auto put16 = [&](std::uint64_t v) {
      r.push_back(static_cast<std::uint8_t>(v >> 8));
      r.push_back(static_cast<std::uint8_t>(v));
    };
    auto put32 = [&](std::uint64_t v) {
      put16(v >> 16);
      put16(v & 0xFFFF);
    };
    auto put_name = [&](std::string_view s) -> bool {
      auto n = name::parse(s, current_origin);
      if (!n) return false;
      r.insert(r.end(), n->wire().begin(), n->wire().end());
      return true;
    };
    const std::string tname = std::to_string(rec.type);
    if (!rd.empty() && !rd[0].quoted && rd[0].text == "\\#") {
      // RFC 3597 §5: \# length hex..., for any type.
      auto len = number(word(1), 65535);
      if (!len) return error_at(e.line, "bad length in \\# rdata");
      std::string hex;
      for (std::size_t k = 2; k < rd.size(); ++k) hex += rd[k].text;
      if (hex.size() != *len * 2) return error_at(e.line, "\\# rdata length does not match its hex data");
      for (std::size_t k = 0; k < hex.size(); k += 2) {
        const int hi = hex_digit(hex[k]), lo = hex_digit(hex[k + 1]);
        if (hi < 0 || lo < 0) return error_at(e.line, "bad hex in \\# rdata");
        r.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
      }
      if (is_known_type(rec.type) && !check_rdata(rec.type, r))
        return error_at(e.line, "\\# rdata is not valid for type " + tname);
    } else if (!is_known_type(rec.type)) {
      return error_at(e.line, "type " + tname + " must be written in RFC 3597 form (\\# length hex)");
    } else {
      switch (rec.type) {
        case rr_type::a: {
          std::uint8_t a[4];
          if (!want(1) || !parse_ipv4(word(0), a)) return error_at(e.line, "bad IPv4 address '" + std::string(word(0)) + "'");
          r.assign(a, a + 4);
          break;
        }
        case rr_type::aaaa: {
          std::uint8_t a[16];
          if (!want(1) || !parse_ipv6(word(0), a)) return error_at(e.line, "bad IPv6 address '" + std::string(word(0)) + "'");
          r.assign(a, a + 16);
          break;
        }
        case rr_type::ns:
        case rr_type::cname:
        case rr_type::ptr:
        case rr_type::dname:
          if (!want(1) || !put_name(word(0))) return error_at(e.line, "bad domain name '" + std::string(word(0)) + "'");
          break;
        case rr_type::mx: {
          auto pref = number(word(0), 65535);
          if (!want(2) || !pref) return error_at(e.line, "MX wants a preference (0-65535) and a name");
          put16(*pref);
          if (!put_name(word(1))) return error_at(e.line, "bad MX exchange '" + std::string(word(1)) + "'");
          break;
        }
        case rr_type::srv: {
          auto p = number(word(0), 65535), w = number(word(1), 65535), port = number(word(2), 65535);
          if (!want(4) || !p || !w || !port) return error_at(e.line, "SRV wants priority, weight, port and a target");
          put16(*p);
          put16(*w);
          put16(*port);
          if (!put_name(word(3))) return error_at(e.line, "bad SRV target '" + std::string(word(3)) + "'");
          break;
        }
        case rr_type::soa: {
          if (!want(7)) return error_at(e.line, "SOA wants mname rname serial refresh retry expire minimum");
          if (!put_name(word(0))) return error_at(e.line, "bad SOA mname '" + std::string(word(0)) + "'");
          if (!put_name(word(1))) return error_at(e.line, "bad SOA rname '" + std::string(word(1)) + "'");
          auto serial = number(word(2), 0xFFFFFFFF);
          if (!serial) return error_at(e.line, "bad SOA serial '" + std::string(word(2)) + "'");
          put32(*serial);
          for (std::size_t k = 3; k < 7; ++k) {
            auto v = ttl_value(word(k));
            if (!v) return error_at(e.line, "bad SOA timer '" + std::string(word(k)) + "'");
            put32(*v);
          }
          break;
        }
        case rr_type::txt: {
          if (rd.empty()) return error_at(e.line, "TXT wants at least one string");
          for (const token& s : rd) {
            std::vector<std::uint8_t> bytes;
            if (!unescape(s.text, bytes)) return error_at(e.line, "bad escape in TXT string");
            if (bytes.size() > 255) return error_at(e.line, "TXT string longer than 255 bytes");
            r.push_back(static_cast<std::uint8_t>(bytes.size()));
            r.insert(r.end(), bytes.begin(), bytes.end());
          }
          break;
        }
        case rr_type::caa: {
          // RFC 8659 §4.1.1: flags, tag (letters and digits), value.
          auto flags = number(word(0), 255);
          if (!want(3) || !flags) return error_at(e.line, "CAA wants flags (0-255), a tag and a value");
          const std::string_view tag = word(1);
          bool tag_ok = !tag.empty() && tag.size() <= 15;
          for (char c : tag) tag_ok = tag_ok && ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'));
          if (!tag_ok) return error_at(e.line, "bad CAA tag '" + std::string(tag) + "'");
          r.push_back(static_cast<std::uint8_t>(*flags));
          r.push_back(static_cast<std::uint8_t>(tag.size()));
          r.insert(r.end(), tag.begin(), tag.end());
          if (!unescape(word(2), r)) return error_at(e.line, "bad escape in CAA value");
          break;
        }
        default: return error_at(e.line, "type " + tname + " has no text form here");
      }
    }
    if (r.size() > 65535) return error_at(e.line, "rdata longer than 65535 bytes");
    // TTL: given, else $TTL, else the last one given (RFC 1035 §5.1), else
    // for the SOA its minimum field.
    if (ttl) {
      rec.ttl = *ttl;
      last_ttl = ttl;
    } else if (default_ttl) {
      rec.ttl = *default_ttl;
    } else if (last_ttl) {
      rec.ttl = *last_ttl;
    } else if (rec.type == rr_type::soa) {
      rec.ttl = wire::load_be32(r.data() + r.size() - 4);
      last_ttl = rec.ttl;
    } else {
      return error_at(e.line, "no TTL for this record, and no $TTL before it");
    }
    last_owner = rec.owner;
    out.push_back(std::move(rec));
    if (places) places->push_back(std::string(file) + ":" + std::to_string(e.line));
  }
  return out;
}

// Reads and builds a zone: the origin is `origin` unless the SOA is elsewhere
// (then the SOA's owner is the zone). Errors name the file and line.
inline std::optional<zone> load_zone(std::string_view text, const name& origin, std::string_view file,
                                     std::string& problem, const zone_include_reader* include = nullptr) {
  zone_record_places places;
  auto records = read_zone_records(text, origin, file, problem, &places, include);
  if (!records) return std::nullopt;
  name apex = origin;
  for (const zone_record& r : *records)
    if (r.type == rr_type::soa) {
      apex = r.owner;
      break;
    }
  std::string why;
  std::size_t where = 0;
  auto z = zone::build(apex, std::move(*records), why, &where);
  if (!z) {
    problem = (where < places.size() ? places[where] : std::string(file) + ":end") + ": " + why;
    return std::nullopt;
  }
  return std::move(*z);
}

}  // namespace uni::dns
