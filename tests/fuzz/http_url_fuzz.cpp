// tests/fuzz/http_url_fuzz.cpp: libFuzzer target for the URL parser
// (uni/http/url.hpp), which reads what a server puts in a Location field when
// the client follows redirects. Checked for every URL it accepts: the parts are
// views inside the input; the target is origin-form (starts with '/', no
// fragment, no control characters); the host is a DNS name within RFC 1035's
// lengths or an IPv4 address, and the authority is the host plus the port as
// written; an IPv4 host comes back as that address. Rejections are one of the
// two documented errors.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <uni/http/url.hpp>

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_url_fuzz: %s\n", what);
    std::abort();
  }
}

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto u = uni::http::parse_url(text);
  if (!u) {
    check(u.err() == uni::error::malformed || u.err() == uni::error::invalid_argument, "an undocumented error");
    return 0;
  }
  check(inside(u->host, text) && inside(u->authority, text), "host or authority outside the input");
  check(u->target == "/" || inside(u->target, text), "target outside the input");
  check(!u->target.empty() && u->target.front() == '/', "target not origin-form");
  for (char c : u->target) check(c != '#' && static_cast<unsigned char>(c) > ' ' && c != 0x7f, "bad byte in target");
  check(!u->host.empty() && u->host.size() <= 254, "host length");
  check(u->authority.substr(0, u->host.size()) == u->host, "authority does not start with the host");
  check(u->authority.size() == u->host.size() || u->authority[u->host.size()] == ':', "authority is not host[:port]");
  check(u->port != 0, "port 0");
  std::size_t label = 0;
  for (char c : u->host) {
    if (c == '.') {
      check(label > 0, "empty label");
      label = 0;
    } else {
      check(++label <= 63, "label longer than 63");
    }
  }
  if (u->address) check(static_cast<bool>(uni::ipv4_address::parse(u->host)), "address from a host that is none");
  return 0;
}
