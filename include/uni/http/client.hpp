// uni/http/client.hpp: an HTTP/1.1 client (RFC 9110, RFC 9112) over any stack
// with the uni::tcp handle API, uni's own or posix::SocketStack:
//
//   uni::http::client<Stack> c(stack);
//   auto r = co_await c.get({addr, 80}, "example.org", "/index.html", sink);
//   // r->status, r->header("content-type"); the body went to `sink` piece by piece
//
// One connection is kept open (keep-alive) and reused while requests go to the
// same endpoint and the server does not close it; a request that finds the
// kept connection closed before any answer is retried once on a fresh one (for
// GET and HEAD only). Response bodies with Content-Length, chunked, or ending
// with the connection are handed to a sink as received views (no copy).
// Redirects (301, 302, 303, 307, 308) are returned as they are unless
// max_redirects is set; then same-host absolute paths and http:// URLs with an
// IPv4 address are followed. Every request has a deadline (error::timed_out).
// Names are not resolved here: the caller gives the address (the DNS stub
// resolver is a separate service).
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
#include <uni/core/task.hpp>
#include <uni/http/body.hpp>
#include <uni/http/request.hpp>
#include <uni/http/response.hpp>
#include <uni/net/endpoint.hpp>

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
};

template <class Stack>
class client {
 public:
  using stream_type = typename Stack::tcp_stream;
  using sink = function_ref<void(const view&)>;

  explicit client(Stack& s, client_options o = {}) noexcept : stack_(s), opt_(o) {}

  task<result<const response*>> get(endpoint to, std::string_view host, std::string_view target, sink body) {
    return request(method::get, to, host, target, {}, {}, body);
  }
  task<result<const response*>> post(endpoint to, std::string_view host, std::string_view target,
                                     std::string_view content_type, std::span<const view> data, sink body) {
    const field f{"Content-Type", content_type};
    return request(method::post, to, host, target, std::span<const field>(&f, 1), data, body);
  }

  // Sends one request and reads its response; the response (valid until the
  // next request) or an error: error::timed_out, error::malformed (a bad
  // response), error::too_large (past max_body), the stream's errors.
  task<result<const response*>> request(method m, endpoint to, std::string_view host, std::string_view target,
                                        std::span<const field> headers, std::span<const view> data, sink body) {
    // (The spans and strings outlive the spawned task: the caller awaits it.)
    auto r = co_await with_timeout(stack_.sched(), opt_.timeout, exchange_all(m, to, host, target, headers, data, body));
    if (!r) {
      conn_.reset();  // a request cut off leaves the connection in an unknown state
      co_return fail(r.err());
    }
    co_return &resp_;
  }

  bool connected() const noexcept { return conn_.has_value(); }
  std::uint64_t connections_opened() const noexcept { return opened_; }

 private:
  task<result<void>> exchange_all(method m, endpoint to, std::string_view host, std::string_view target,
                                  std::span<const field> headers, std::span<const view> data, sink body) {
    char redirect_target[1024];
    for (int hops = 0;; ++hops) {
      auto r = co_await once(m, to, host, target, headers, data, body, opt_.max_redirects - hops);
      if (!r) co_return r;
      const int s = resp_.status;
      const bool redirect = s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
      if (!redirect || hops >= opt_.max_redirects) co_return result<void>{};
      std::string_view loc = resp_.header("location");
      if (loc.size() > 7 && iequals(loc.substr(0, 7), "http://")) {
        // http://a.b.c.d[:port]/path: an address we can reach without a resolver.
        std::string_view rest = loc.substr(7);
        const std::size_t slash = rest.find('/');
        const std::string_view authority = rest.substr(0, slash);
        const std::size_t colon = authority.find(':');
        auto addr = ipv4_address::parse(authority.substr(0, colon));
        if (!addr) co_return result<void>{};  // not followable: returned as it is
        std::uint16_t port = 80;
        if (colon != std::string_view::npos) {
          auto p = parse_decimal(authority.substr(colon + 1));
          if (!p || *p == 0 || *p > 65535) co_return result<void>{};
          port = static_cast<std::uint16_t>(*p);
        }
        to = {*addr, port};
        loc = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
      } else if (loc.empty() || loc.front() != '/') {
        co_return result<void>{};
      }
      if (loc.size() > sizeof redirect_target) co_return result<void>{};
      std::copy(loc.begin(), loc.end(), redirect_target);
      target = {redirect_target, loc.size()};
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
};

}  // namespace uni::http
