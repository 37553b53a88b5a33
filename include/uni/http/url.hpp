// uni/http/url.hpp: the http URLs the client can follow (RFC 9110 §4.2.1,
// RFC 3986 §3): http://host[:port][/path][?query][#fragment], where host is a
// DNS name or an IPv4 address. Pure: the parts are views of the text given.
//
//   auto u = uni::http::parse_url("http://www.example.org:8080/a?b");
//   // u->host "www.example.org", u->port 8080, u->authority "www.example.org:8080"
//   // (the Host field), u->target "/a?b" (the request target), u->address none
//
// error::malformed: not a URL (no "http://", empty host, a bad character in the
// host, a port that is not 1-65535, a label longer than 63 or a name longer
// than 253). error::invalid_argument: a URL we do not follow: another scheme
// (https), userinfo ("user@host", RFC 9110 §4.2.4 deprecates it), an IPv6
// literal ("[::1]": the stack is IPv4), percent-encoded hosts, or a query with
// no path ("http://h?q": the target would have to be rewritten).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <uni/core/result.hpp>
#include <uni/http/request.hpp>
#include <uni/net/ipv4_address.hpp>

namespace uni::http {

struct url {
  std::string_view host;                // a name (resolved by DNS) or an IPv4 address
  std::uint16_t port = 80;
  std::string_view authority;           // host[:port] as written: the Host field (RFC 9110 §7.2)
  std::string_view target;              // origin-form: the path and query, "/" if none; no fragment
  std::optional<ipv4_address> address;  // the host, when it is an IPv4 address (no resolution)
};

constexpr result<url> parse_url(std::string_view text) noexcept {
  constexpr std::string_view scheme = "http://";
  if (text.size() < scheme.size() || !iequals(text.substr(0, scheme.size()), scheme)) {
    const std::size_t colon = text.find("://");
    return fail(colon != std::string_view::npos && colon > 0 ? error::invalid_argument : error::malformed);
  }
  text.remove_prefix(scheme.size());
  const std::size_t end = text.find_first_of("/?#");
  url u;
  u.authority = text.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? std::string_view{} : text.substr(end);
  rest = rest.substr(0, rest.find('#'));  // a fragment stays with the client (RFC 9110 §7.1)
  if (!rest.empty() && rest.front() == '?') return fail(error::invalid_argument);
  u.target = rest.empty() ? std::string_view("/") : rest;
  for (char c : u.target)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return fail(error::malformed);

  if (u.authority.find('@') != std::string_view::npos) return fail(error::invalid_argument);
  if (!u.authority.empty() && u.authority.front() == '[') return fail(error::invalid_argument);
  const std::size_t colon = u.authority.rfind(':');
  u.host = u.authority.substr(0, colon);
  if (colon != std::string_view::npos) {
    const std::string_view digits = u.authority.substr(colon + 1);
    if (!digits.empty()) {  // "host:" is the default port (RFC 3986 §3.2.3)
      const auto p = parse_decimal(digits);
      if (!p || *p == 0 || *p > 65535) return fail(error::malformed);
      u.port = static_cast<std::uint16_t>(*p);
    }
  }
  // reg-name (RFC 3986 §3.2.2) as DNS has it: letters, digits, '-', '_',
  // labels of 1-63 separated by dots, a final dot allowed, 253 in all.
  if (u.host.empty() || u.host.size() > 254 || (u.host.size() == 254 && u.host.back() != '.'))
    return fail(error::malformed);
  std::size_t label = 0;
  for (std::size_t i = 0; i < u.host.size(); ++i) {
    const char c = u.host[i];
    if (c == '.') {
      if (label == 0) return fail(error::malformed);
      label = 0;
      continue;
    }
    if (c == '%') return fail(error::invalid_argument);
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return fail(error::malformed);
  }
  if (auto a = ipv4_address::parse(u.host)) u.address = *a;
  return u;
}

}  // namespace uni::http
