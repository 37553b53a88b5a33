// examples/http-get: the HTTP client as an appliance (uni/http/client.hpp):
// fetches a URL --count times over one kept-alive connection and reports the
// status, the bytes and the connections used; exits 0 on a 2xx answer.
// Flags: --url http://ADDR[:PORT]/PATH (an IPv4 address: names need the DNS
// stub resolver), --count N (default 1), --follow N (redirects to follow,
// default 0), --timeout S (per request, default 30); on POSIX, --out FILE
// writes the last body there.
#include <uni/appliance.hpp>
#include <uni/http/client.hpp>

#if defined(UNI_TARGET_POSIX_SOCKET) || defined(UNI_TARGET_POSIX_TAP)
#include <cstdio>
#define HTTP_GET_POSIX 1
#endif

namespace {

struct url {
  uni::endpoint to;
  std::string_view host;  // as written, for the Host field
  std::string_view target;
};

bool parse_url(std::string_view u, url& out) {
  if (u.substr(0, 7) != "http://") return false;
  u.remove_prefix(7);
  const std::size_t slash = u.find('/');
  out.host = u.substr(0, slash);
  out.target = slash == std::string_view::npos ? std::string_view("/") : u.substr(slash);
  const std::size_t colon = out.host.find(':');
  auto addr = uni::ipv4_address::parse(out.host.substr(0, colon));
  if (!addr) return false;
  std::uint16_t port = 80;
  if (colon != std::string_view::npos) {
    auto p = uni::http::parse_decimal(out.host.substr(colon + 1));
    if (!p || *p == 0 || *p > 65535) return false;
    port = static_cast<std::uint16_t>(*p);
  }
  out.to = {*addr, port};
  return true;
}

template <class Stack>
uni::task<int> fetch(Stack& stack, const uni::appliance_options& o) {
  url u;
  if (!parse_url(o.get("url"), u)) {
    uni::log_error("http-get: --url http://ADDR[:PORT]/PATH is required (ADDR an IPv4 address)");
    co_return 2;
  }
  uni::http::client_options copt;
  copt.timeout = std::chrono::seconds(o.get_number("timeout", 30));
  copt.max_redirects = static_cast<int>(o.get_number("follow", 0));
  uni::http::client<Stack> c(stack, copt);
  const long count = o.get_number("count", 1);
#if HTTP_GET_POSIX
  std::FILE* out = nullptr;
#endif
  std::uint64_t bytes = 0;
  auto sink = [&](const uni::view& v) {
    bytes += v.size();
#if HTTP_GET_POSIX
    if (out) std::fwrite(v.data(), 1, v.size(), out);
#endif
  };
  int status = 0;
  for (long i = 0; i < count; ++i) {
    bytes = 0;
#if HTTP_GET_POSIX
    if (i + 1 == count && !o.get("out").empty()) out = std::fopen(std::string(o.get("out")).c_str(), "wb");
#endif
    auto r = co_await c.get(u.to, u.host, u.target, sink);
    if (!r) {
      uni::log_error("http-get: ", u.to, u.target, ": ", uni::to_string(r.err()));
      co_return 1;
    }
    status = (*r)->status;
  }
#if HTTP_GET_POSIX
  if (out) std::fclose(out);
#endif
  uni::log_info("http-get: status ", status, ", ", bytes, " bytes, ", count, " requests over ", c.connections_opened(),
                " connections");
  co_return status >= 200 && status < 300 ? 0 : 1;
}

uni::task<int> run_fetch(auto& stack, const uni::appliance_options& o) { return fetch(stack, o); }

}  // namespace

UNI_APPLIANCE("http-get", uni::default_config, run_fetch)
