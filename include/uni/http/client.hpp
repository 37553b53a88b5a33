// uni/http/client.hpp: an HTTP/1.1 client (RFC 9110, RFC 9112) over any stack
// with the uni::tcp handle API, uni's own or posix::SocketStack:
//
//   uni::http::client<Stack> c(stack, {.dns_server = {resolver, 53}});
//   auto r = co_await c.get("http://www.example.org/index.html", sink);
//   // r->status, r->header("content-type"); the body went to `sink` piece by piece
//   auto s = co_await c.get({addr, 80}, "example.org", "/index.html", sink);  // no URL, no DNS
//
// A URL's host (uni/http/url.hpp) is an IPv4 address, used as it is, or a name
// asked of a DNS server with the stub resolver (uni/dns/stub.hpp, A records):
// client_options::dns_server, else the first server the stack learned by DHCP.
// The last answer is kept for its TTL. A name that cannot be resolved is
// error::unreachable (NXDOMAIN, no address), error::timed_out (the server is
// silent) or error::refused (SERVFAIL, REFUSED); the log says which.
//
// One connection is kept open (keep-alive) and reused while requests go to the
// same endpoint and the server does not close it; a request that finds the
// kept connection closed before any answer is retried once on a fresh one (for
// GET and HEAD only). Response bodies with Content-Length, chunked, or ending
// with the connection are handed to a sink as received views (no copy).
// Redirects (301, 302, 303, 307, 308) are returned as they are unless
// max_redirects is set; then absolute paths and http:// URLs are followed (a
// name in the URL resolved as above, its Host field sent). Every request has a
// deadline (error::timed_out), resolution included.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

#include <uni/core/buffer.hpp>
#include <uni/core/function_ref.hpp>
#include <uni/core/log.hpp>
#include <uni/core/task.hpp>
#include <uni/dns/stub.hpp>
#include <uni/http/body.hpp>
#include <uni/http/request.hpp>
#include <uni/http/response.hpp>
#include <uni/http/url.hpp>
#include <uni/net/endpoint.hpp>
#include <uni/net/transport.hpp>

namespace uni::http {

struct response {
  int status = 0;
  std::uint8_t minor = 1;
  std::array<field, 64> fields_storage{};
  std::size_t field_count = 0;
  body_framing framing = body_framing::none;
  std::uint64_t content_length = 0;
  bool keep_alive = true;
  std::uint64_t body_bytes = 0;  // delivered to the sink

  std::span<const field> fields() const noexcept { return {fields_storage.data(), field_count}; }
  std::string_view header(std::string_view name) const noexcept {
    for (const field& f : fields())
      if (iequals(f.name, name)) return f.value;
    return {};
  }
};

// Parses a status line and fields (RFC 9112 §4, §5). Returns false if malformed.
// `head_request`: the request was HEAD (no body whatever the fields say).
constexpr bool parse_response_head(std::string_view head, response& r, bool head_request) noexcept {
  r.field_count = 0;
  std::size_t eol = head.find("\r\n");
  if (eol == std::string_view::npos) return false;
  const std::string_view line = head.substr(0, eol);
  head.remove_prefix(eol + 2);
  // status-line = HTTP-version SP status-code SP [reason-phrase]
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[7] < '0' || line[7] > '9' || line[8] != ' ' ||
      (line.size() > 12 && line[12] != ' '))
    return false;
  r.minor = static_cast<std::uint8_t>(line[7] - '0');
  auto code = parse_decimal(line.substr(9, 3));
  if (!code || *code < 100 || *code > 599) return false;
  r.status = static_cast<int>(*code);
  bool have_length = false, chunked = false;
  std::string_view connection;
  while (true) {
    eol = head.find("\r\n");
    if (eol == std::string_view::npos) return false;
    if (eol == 0) break;
    const std::string_view fl = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    const std::size_t colon = fl.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    const field f{fl.substr(0, colon), trim_ows(fl.substr(colon + 1))};
    for (char c : f.name)
      if (!is_tchar(c)) return false;
    if (r.field_count == r.fields_storage.size()) return false;
    r.fields_storage[r.field_count++] = f;
    if (iequals(f.name, "content-length")) {
      auto n = parse_decimal(f.value);
      if (!n || (have_length && *n != r.content_length)) return false;
      have_length = true;
      r.content_length = *n;
    } else if (iequals(f.name, "transfer-encoding")) {
      if (!iequals(list_last(f.value), "chunked")) return false;  // only chunked is understood
      chunked = true;
    } else if (iequals(f.name, "connection")) {
      connection = f.value;
    }
  }
  r.keep_alive = r.minor >= 1 ? !list_has(connection, "close") : list_has(connection, "keep-alive");
  // RFC 9112 §6.3: no body for HEAD, 1xx, 204, 304; chunked wins over a length.
  if (head_request || r.status < 200 || r.status == 204 || r.status == 304) r.framing = body_framing::none;
  else if (chunked) r.framing = body_framing::chunked;
  else if (have_length) r.framing = r.content_length ? body_framing::length : body_framing::none;
  else {
    r.framing = body_framing::none;  // to the end of the connection
    r.keep_alive = false;
    r.content_length = ~std::uint64_t{0};
  }
  return true;
}

struct client_options {
  duration timeout = std::chrono::seconds(30);  // per request, redirects included
  duration connect_timeout = std::chrono::seconds(5);
  std::uint64_t max_body = ~std::uint64_t{0};
  int max_redirects = 0;  // 0: redirects are returned, not followed
  endpoint dns_server{};  // for names in URLs; none: the stack's first DHCP-learned server
  dns::stub_options dns{};
};

template <TcpTransport Stack>
class client {
 public:
  using stream_type = tcp_stream_t<Stack>;
  using sink = function_ref<void(const view&)>;

  explicit client(Stack& s, client_options o = {}) noexcept : stack_(s), opt_(o) {}

  // To a URL (uni/http/url.hpp): its errors, then the resolver's, then the request's.
  task<result<const response*>> get(std::string_view link, sink body) {
    return request(method::get, link, {}, {}, body);
  }
  task<result<const response*>> post(std::string_view link, std::string_view content_type, std::span<const view> data,
                                     sink body) {
    const field f{"Content-Type", content_type};  // in this frame: the task starts when awaited
    co_return co_await request(method::post, link, std::span<const field>(&f, 1), data, body);
  }
  task<result<const response*>> request(method m, std::string_view link, std::span<const field> headers,
                                        std::span<const view> data, sink body) {
    auto u = parse_url(link);
    if (!u) co_return fail(u.err());
    co_return co_await run(m, *u, std::nullopt, headers, data, body);
  }

  // To an endpoint the caller resolved, with `host` as the Host field.
  task<result<const response*>> get(endpoint to, std::string_view host, std::string_view target, sink body) {
    return request(method::get, to, host, target, {}, {}, body);
  }
  task<result<const response*>> post(endpoint to, std::string_view host, std::string_view target,
                                     std::string_view content_type, std::span<const view> data, sink body) {
    const field f{"Content-Type", content_type};
    co_return co_await request(method::post, to, host, target, std::span<const field>(&f, 1), data, body);
  }

  // Sends one request and reads its response; the response (valid until the
  // next request) or an error: error::timed_out, error::malformed (a bad
  // response), error::too_large (past max_body), the stream's errors.
  task<result<const response*>> request(method m, endpoint to, std::string_view host, std::string_view target,
                                        std::span<const field> headers, std::span<const view> data, sink body) {
    url u;
    u.host = u.authority = host;
    u.port = to.port;
    u.target = target;
    return run(m, u, to, headers, data, body);
  }

  // Resolves a URL's host: an IPv4 address as it is, a name through DNS.
  task<result<endpoint>> resolve(url u) {
    if (auto e = known(u)) co_return *e;
    auto qname = dns::name::parse(u.host);
    if (!qname) co_return fail(error::malformed);
    const time_point now = stack_.sched().now();
    if constexpr (UdpTransport<Stack>) {
      const endpoint server = dns_server();
      if (server.address.is_any()) {
        log_warn("http client: ", u.host, ": no DNS server (none configured, none from DHCP)");
        co_return fail(error::unreachable);
      }
      auto a = co_await dns::resolve(stack_, server, *qname, dns::rr_type::a, opt_.dns);
      if (!a) {
        if (a.err() == error::timed_out) log_warn("http client: ", u.host, ": DNS server ", server, " did not answer");
        else log_warn("http client: ", u.host, ": DNS server ", server, ": ", to_string(a.err()));
        co_return fail(a.err());
      }
      if (a->count == 0) {
        log_warn("http client: ", u.host,
                 a->rc == dns::rcode::nxdomain ? ": no such name (NXDOMAIN)" : ": no IPv4 address (NODATA)");
        co_return fail(error::unreachable);
      }
      cached_ = cached_name{*qname, a->ipv4(0), now + std::chrono::seconds(a->ttl)};
      co_return endpoint{a->ipv4(0), u.port};
    } else {
      log_warn("http client: ", u.host, ": the stack has no UDP to ask DNS");
      co_return fail(error::unreachable);
    }
  }

  bool connected() const noexcept { return conn_.has_value(); }
  std::uint64_t connections_opened() const noexcept { return opened_; }
  // The endpoint of the last request (after resolution and redirects).
  endpoint last_endpoint() const noexcept { return to_; }

 private:
  struct cached_name {
    dns::name qname;
    ipv4_address address;
    time_point until;
  };

  // The endpoint of u without asking anyone: its address, or its name's cached one.
  std::optional<endpoint> known(const url& u) const noexcept {
    if (u.address) return endpoint{*u.address, u.port};
    if (!cached_ || stack_.sched().now() >= cached_->until) return std::nullopt;
    auto qname = dns::name::parse(u.host);
    if (!qname || !(cached_->qname == *qname)) return std::nullopt;
    return endpoint{cached_->address, u.port};
  }

  endpoint dns_server() const noexcept {
    if (!opt_.dns_server.address.is_any()) return opt_.dns_server;
    if constexpr (requires { stack_.dns_servers(); }) {
      if (!stack_.dns_servers().empty()) return {stack_.dns_servers()[0], 53};
    }
    return {};
  }

  task<result<const response*>> run(method m, url u, std::optional<endpoint> to, std::span<const field> headers,
                                    std::span<const view> data, sink body) {
    // (The spans and strings outlive the spawned task: the caller awaits it.)
    auto r = co_await with_timeout(stack_.sched(), opt_.timeout, exchange_all(m, u, to, headers, data, body));
    if (!r) {
      conn_.reset();  // a request cut off leaves the connection in an unknown state
      co_return fail(r.err());
    }
    co_return &resp_;
  }

  // `to`: the endpoint when the caller gave it; otherwise u's host is resolved.
  task<result<void>> exchange_all(method m, url u, std::optional<endpoint> to, std::span<const field> headers,
                                  std::span<const view> data, sink body) {
    // What is followed, copied out of the response it came in: the last
    // Location, and the authority of the last absolute one (later relative
    // Locations overwrite the first buffer but keep the host).
    char location[1024];
    char authority[264];
    for (int hops = 0;; ++hops) {
      if (!to) to = known(u);  // (no coroutine frame for an address or a cached name)
      if (!to) {
        auto e = co_await resolve(u);
        if (!e) co_return fail(e.err());
        to = *e;
      }
      auto r = co_await once(m, *to, u.authority, u.target, headers, data, body, opt_.max_redirects - hops);
      if (!r) co_return r;
      const int s = resp_.status;
      const bool redirect = s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
      if (!redirect || hops >= opt_.max_redirects) co_return result<void>{};
      const std::string_view loc = resp_.header("location");
      if (loc.empty() || loc.size() > sizeof location) co_return result<void>{};  // returned as it is
      const bool absolute = loc.size() > 7 && iequals(loc.substr(0, 7), "http://");
      if (!absolute && loc.front() != '/') co_return result<void>{};
      std::copy(loc.begin(), loc.end(), location);
      const std::string_view copy(location, loc.size());
      if (absolute) {
        auto next = parse_url(copy);
        if (!next || next->authority.size() > sizeof authority) co_return result<void>{};  // returned as it is
        u = *next;
        std::copy(u.authority.begin(), u.authority.end(), authority);
        u.authority = {authority, u.authority.size()};
        u.host = u.authority.substr(0, u.host.size());
        to.reset();
      } else {
        u.target = copy;  // the same host
      }
      if (s == 303 || (m == method::post && (s == 301 || s == 302))) {
        m = method::get;  // RFC 9110 §15.4.4 (and the usual practice for 301/302)
        data = {};
      }
    }
  }

  task<result<void>> once(method m, endpoint to, std::string_view host, std::string_view target,
                          std::span<const field> headers, std::span<const view> data, sink body, int redirects_left) {
    const bool retryable = m == method::get || m == method::head;
    for (int attempt = 0;; ++attempt) {
      const bool reused = conn_ && to_ == to;
      if (conn_ && to_ != to) conn_.reset();
      if (!conn_) {
        auto c = co_await stack_.tcp_connect(to, opt_.connect_timeout);
        if (!c) co_return fail(c.err());
        conn_.emplace(std::move(*c));
        conn_->set_nodelay(true);
        to_ = to;
        in_ = view{};
        ++opened_;
      }
      bool answered = false;
      auto r = co_await on_connection(m, host, target, headers, data, body, redirects_left, answered);
      if (r) co_return r;
      conn_.reset();
      // A kept connection the server closed meanwhile: once more, afresh.
      if (reused && !answered && retryable && attempt == 0) continue;
      co_return r;
    }
  }

  task<result<void>> on_connection(method m, std::string_view host, std::string_view target,
                                   std::span<const field> headers, std::span<const view> data, sink body,
                                   int redirects_left, bool& answered) {
    // The request head, in a pool page (it must live until sent).
    auto page = stack_.pool().allocate();
    if (!page) co_return fail(page.err());
    std::size_t n = 0;
    bool fits = true;
    auto put = [&](std::string_view s) {
      if (s.size() > page_size - n) {
        fits = false;
        return;
      }
      std::memcpy(page->data() + n, s.data(), s.size());
      n += s.size();
    };
    put(to_string(m));
    put(" ");
    put(target);
    put(" HTTP/1.1\r\nHost: ");
    put(host);
    put("\r\n");
    for (const field& f : headers) {
      put(f.name);
      put(": ");
      put(f.value);
      put("\r\n");
    }
    const std::uint64_t length = total_size(data);
    if (!data.empty() || m == method::post || m == method::put) {
      char digits[24];
      std::size_t k = sizeof digits;
      std::uint64_t v = length;
      do digits[--k] = static_cast<char>('0' + v % 10); while (v /= 10);
      put("Content-Length: ");
      put({digits + k, sizeof digits - k});
      put("\r\n");
    }
    put("\r\n");
    if (!fits) co_return fail(error::too_large);
    const view head = page->head(n);
    if (auto w = co_await conn_->write(head); !w) co_return w;
    if (!data.empty())
      if (auto w = co_await conn_->write(data); !w) co_return w;

    // The response: head, then body.
    head_reader<8192>& reader = reader_;
    reader.reset();
    while (true) {
      if (in_.empty()) {
        auto d = co_await conn_->read();
        if (!d) co_return fail(d.err());
        if (d->empty()) co_return fail(error::closed);
        in_ = std::move(*d);
      }
      answered = true;
      const head_status hs = reader.feed(in_);
      if (hs == head_status::need_more) continue;
      if (hs != head_status::complete) co_return fail(error::too_large);
      if (!parse_response_head(reader.head(), resp_, m == method::head)) co_return fail(error::malformed);
      if (resp_.status >= 200) break;
      reader.reset();  // 1xx: an interim response, the final one follows
    }
    resp_.body_bytes = 0;
    // The body of a redirect about to be followed is not the caller's.
    const int s = resp_.status;
    if (redirects_left > 0 && (s == 301 || s == 302 || s == 303 || s == 307 || s == 308) &&
        !resp_.header("location").empty())
      body = {};
    body_decoder dec;
    const bool to_close = resp_.framing == body_framing::none && resp_.content_length == ~std::uint64_t{0};
    dec.start(resp_.framing, resp_.content_length, opt_.max_body, to_close);
    while (true) {
      view piece;
      const body_status st = dec.next(in_, piece);
      if (st == body_status::data) {
        resp_.body_bytes += piece.size();
        if (body) body(piece);
        continue;
      }
      if (st == body_status::done) break;
      if (st == body_status::malformed) co_return fail(error::malformed);
      if (st == body_status::too_large) co_return fail(error::too_large);
      auto d = co_await conn_->read();
      if (!d) co_return fail(d.err());
      if (d->empty()) {
        if (dec.at_end_of_stream() == body_status::done) break;
        co_return fail(error::truncated);
      }
      in_ = std::move(*d);
    }
    if (!resp_.keep_alive) conn_.reset();
    co_return result<void>{};
  }

  Stack& stack_;
  client_options opt_;
  std::optional<stream_type> conn_;
  endpoint to_{};
  view in_;
  head_reader<8192> reader_{8192};  // holds the response head the fields point into
  response resp_;
  std::uint64_t opened_ = 0;
  std::optional<cached_name> cached_;  // the last name resolved, until its TTL runs out
};

}  // namespace uni::http
