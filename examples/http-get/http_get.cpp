// examples/http-get: the HTTP client as an appliance (uni/http/client.hpp):
// fetches a URL --count times over one kept-alive connection and reports the
// status, the bytes and the connections used; exits 0 on a 2xx answer.
// Flags: --url http://HOST[:PORT]/PATH (HOST a name or an IPv4 address),
// --dns ADDR[:PORT] (the DNS server that resolves names; default: the first
// one DHCP gave, with --dhcp), --count N (default 1), --follow N (redirects to
// follow, default 0), --timeout S (per request, default 30); on POSIX, --out
// FILE writes the last body there. A name that does not resolve, or any other
// failure, is logged ("http-get: URL: why") and exits 1; bad flags exit 2.
#include <uni/appliance.hpp>
#include <uni/http/client.hpp>

#if defined(UNI_TARGET_POSIX_SOCKET) || defined(UNI_TARGET_POSIX_TAP)
#include <cstdio>
#define HTTP_GET_POSIX 1
#endif

namespace {

// The appliance's Config: the default one with the DHCP client in the image
// (used only with --dhcp), for the DNS servers a lease names.
struct http_get_config : uni::default_config {
  static constexpr bool dhcp = true;
  static constexpr bool dhcp_by_default = false;
};

constexpr uni::option_spec flags[] = {
    uni::text_option("url", "http://HOST[:PORT]/PATH", "", "what to fetch (HOST a name or an IPv4 address; required)"),
    uni::text_option("dns", "ADDR[:PORT]", "", "DNS server resolving names (default: the first a DHCP lease names)"),
    uni::number_option("count", 1, 1, 1000000, "requests, over one kept-alive connection"),
    uni::number_option("follow", 0, 0, 20, "redirects to follow"),
    uni::number_option("timeout", 30, 1, 86400, "seconds per request"),
#if HTTP_GET_POSIX
    uni::path_option("out", uni::option_kind::output_file, "FILE", "write the last body there"),
#endif
};

// ADDR or ADDR:PORT (port 53 if absent).
uni::result<uni::endpoint> parse_server(std::string_view s) {
  const std::size_t colon = s.find(':');
  auto addr = uni::ipv4_address::parse(s.substr(0, colon));
  if (!addr) return uni::fail(addr.err());
  std::uint16_t port = 53;
  if (colon != std::string_view::npos) {
    auto p = uni::http::parse_decimal(s.substr(colon + 1));
    if (!p || *p == 0 || *p > 65535) return uni::fail(uni::error::invalid_argument);
    port = static_cast<std::uint16_t>(*p);
  }
  return uni::endpoint{*addr, port};
}

template <class Stack>
uni::task<int> fetch(Stack& stack, const uni::appliance_options& o) {
  const std::string_view link = o.text("url");
  if (auto u = uni::http::parse_url(link); !u) {
    // (invalid_argument: a URL of a kind the client does not follow.)
    uni::log_error("http-get: --url http://HOST[:PORT]/PATH is required (HOST a name or an IPv4 address; no https, ",
                   "user@, [IPv6]): ", link.empty() ? std::string_view("none given") : uni::to_string(u.err()));
    co_return 2;
  }
  uni::http::client_options copt;
  copt.timeout = std::chrono::seconds(o.number("timeout"));
  copt.max_redirects = static_cast<int>(o.number("follow"));
  if (!o.text("dns").empty()) {
    auto server = parse_server(o.text("dns"));
    if (!server) {
      uni::log_error("http-get: --dns ADDR[:PORT] wants an IPv4 address: ", o.text("dns"));
      co_return 2;
    }
    copt.dns_server = *server;
  }
  if constexpr (requires { stack.address_assigned(); }) {
    // With --dhcp: the lease (and its DNS servers) first. (Not `if (!co_await ...)`: GCC 12.)
    const auto assigned = co_await stack.address_assigned();
    if (!assigned) co_return 1;
  }
  uni::http::client<Stack> c(stack, copt);
  const long count = static_cast<long>(o.number("count"));
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
    if (i + 1 == count && !o.text("out").empty()) out = std::fopen(std::string(o.text("out")).c_str(), "wb");
#endif
    auto r = co_await c.get(link, sink);
    if (!r) {
      uni::log_error("http-get: ", link, ": ", uni::to_string(r.err()));
      co_return 1;
    }
    status = (*r)->status;
  }
#if HTTP_GET_POSIX
  if (out) std::fclose(out);
#endif
  uni::log_info("http-get: status ", status, ", ", bytes, " bytes, ", count, " requests over ", c.connections_opened(),
                " connections (last to ", c.last_endpoint(), ")");
  co_return status >= 200 && status < 300 ? 0 : 1;
}

uni::task<int> run_fetch(auto& stack, const uni::appliance_options& o) { return fetch(stack, o); }

}  // namespace

UNI_APPLIANCE("http-get", http_get_config, run_fetch, flags)
