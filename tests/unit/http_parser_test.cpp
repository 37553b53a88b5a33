// HTTP/1.1 request heads and bodies (RFC 9112): valid requests, every split and
// every truncation of the input, and hostile inputs, each with the status RFC
// 9110/9112 asks for.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <string_view>

#include <uni/core/buffer.hpp>
#include <uni/http/body.hpp>
#include <uni/http/request.hpp>

using namespace uni;
using namespace uni::http;

namespace {

static_page_pool<64> pool;

view page_with(std::string_view s) {
  REQUIRE(s.size() <= page_size);
  auto p = pool.allocate();
  REQUIRE(p.ok());
  std::memcpy(p->data(), s.data(), s.size());
  return p->head(s.size());
}

// Feeds `input` to a head reader in pieces cut at `cuts`; returns the status
// and the head (as a string) and what was left after it.
struct fed {
  head_status status = head_status::need_more;
  std::string head;
  std::string rest;
  bool copied = false;
};
template <std::size_t Capacity = 8192>
fed feed_in_pieces(std::string_view input, std::initializer_list<std::size_t> cuts, std::size_t max_line = 2048) {
  head_reader<Capacity> r(max_line);
  fed out;
  std::size_t at = 0;
  std::vector<std::size_t> ends(cuts);
  ends.push_back(input.size());
  for (std::size_t end : ends) {
    view v = page_with(input.substr(at, end - at));
    at = end;
    out.status = r.feed(v);
    if (out.status != head_status::need_more) {
      out.rest.assign(reinterpret_cast<const char*>(v.data()), v.size());
      out.rest += input.substr(at);
      break;
    }
    REQUIRE(v.empty());
  }
  if (out.status == head_status::complete) out.head = std::string(r.head()), out.copied = r.copied();
  return out;
}

int parse(std::string_view head, request& r, limits lim = {}) { return parse_head(head, r, lim); }
int parse(std::string_view head, limits lim = {}) {
  request r;
  return parse_head(head, r, lim);
}

constexpr std::string_view curl_get =
    "GET /docs/index.html?lang=en&x=1 HTTP/1.1\r\n"
    "Host: example.org\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "\r\n";

}  // namespace

TEST_CASE("RFC 9112 §3: a request line and fields are parsed in place", "[http]") {
  request r;
  REQUIRE(parse(curl_get, r) == 0);
  CHECK(r.method == method::get);
  CHECK(r.method_name == "GET");
  CHECK(r.target == "/docs/index.html?lang=en&x=1");
  CHECK(r.path == "/docs/index.html");
  CHECK(r.query == "lang=en&x=1");
  CHECK(r.minor == 1);
  CHECK(r.fields().size() == 3);
  CHECK(r.header("user-agent") == "curl/7.88.1");
  CHECK(r.header("HOST") == "example.org");
  CHECK(r.host == "example.org");
  CHECK(r.keep_alive);
  CHECK(r.framing == body_framing::none);
  // The strings point into the head: nothing was copied.
  CHECK(r.path.data() == curl_get.data() + 4);
}

TEST_CASE("RFC 9112 §3.2.2: absolute-form targets keep their path", "[http]") {
  request r;
  REQUIRE(parse("GET http://example.org/a/b?c HTTP/1.1\r\nHost: example.org\r\n\r\n", r) == 0);
  CHECK(r.path == "/a/b");
  CHECK(r.query == "c");
  REQUIRE(parse("GET http://example.org HTTP/1.1\r\nHost: example.org\r\n\r\n", r) == 0);
  CHECK(r.path == "/");
}

TEST_CASE("RFC 9112 §9.3: persistence by version and Connection", "[http]") {
  request r;
  REQUIRE(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", r) == 0);
  CHECK_FALSE(r.keep_alive);
  REQUIRE(parse("GET / HTTP/1.0\r\n\r\n", r) == 0);
  CHECK(r.minor == 0);
  CHECK_FALSE(r.keep_alive);
  REQUIRE(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", r) == 0);
  CHECK(r.keep_alive);
  REQUIRE(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade, close\r\n\r\n", r) == 0);
  CHECK_FALSE(r.keep_alive);
}

TEST_CASE("RFC 9112 §6: body framing from Content-Length and Transfer-Encoding", "[http]") {
  request r;
  REQUIRE(parse("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n", r) == 0);
  CHECK(r.framing == body_framing::length);
  CHECK(r.content_length == 42);
  REQUIRE(parse("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", r) == 0);
  CHECK(r.framing == body_framing::chunked);
  REQUIRE(parse("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", r) == 0);
  CHECK(r.framing == body_framing::none);
  // Repeated, identical Content-Length values are one value (§6.3 item 5).
  REQUIRE(parse("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", r) == 0);
  CHECK(r.content_length == 5);
  REQUIRE(parse("POST /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", r) == 0);
  CHECK(r.expect_continue);
}

TEST_CASE("hostile heads get the status RFC 9110/9112 name", "[http]") {
  const limits lim{};
  CHECK(parse("GET / HTTP/1.1\r\n\r\n") == 400);                                     // no Host (§3.2)
  CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400);                 // two Hosts
  CHECK(parse("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == 400);                          // space before ':' (§5.1)
  CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  folded\r\n\r\n") == 400);        // obs-fold (§5.2)
  CHECK(parse(std::string_view("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 31)) == 400);  // NUL
  CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n") == 400);                 // bare LF
  CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n") == 400);
  CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\n: empty name\r\n\r\n") == 400);
  CHECK(parse("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);                          // two spaces
  CHECK(parse("GET / HTTP/1.1 \r\nHost: a\r\n\r\n") == 400);
  CHECK(parse("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
  CHECK(parse("G(T / HTTP/1.1\r\nHost: a\r\n\r\n") == 400);                           // not a token
  CHECK(parse("GET / HTTP/1.x\r\nHost: a\r\n\r\n") == 400);
  CHECK(parse("GET / FTP/1.1\r\nHost: a\r\n\r\n") == 400);
  CHECK(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == 505);
  CHECK(parse("GET nopath HTTP/1.1\r\nHost: a\r\n\r\n") == 400);
  // Request smuggling (§6.3, §11.2): both framings, or conflicting lengths.
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n") == 400);
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n") == 400);
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n") == 400);
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n") == 400);
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") == 400);
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == 501);
  CHECK(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
  CHECK(parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n") == 417);
  // Bounds: body (413), field count (431), request line (414).
  const std::string big = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(lim.max_body + 1) + "\r\n\r\n";
  CHECK(parse(big) == 413);
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (std::size_t i = 0; i < lim.max_headers; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  CHECK(parse(many + "\r\n") == 431);
  CHECK(parse("GET /" + std::string(lim.max_request_line, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n") == 414);
  // Unknown methods are parsed (the server answers 501).
  request r;
  REQUIRE(parse("BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", r) == 0);
  CHECK(r.method == method::other);
}

TEST_CASE("a head arrives whole or in pieces cut at every byte: same result", "[http]") {
  const std::string input = std::string(curl_get) + "GET /next HTTP/1.1\r\n";
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    INFO("cut at " << cut);
    fed f = feed_in_pieces(input, {cut});
    REQUIRE(f.status == head_status::complete);
    CHECK(f.head == curl_get);
    CHECK(f.rest == "GET /next HTTP/1.1\r\n");  // a pipelined request stays for the next round
    // Whole in one view: the head is that view, not a copy.
    CHECK(f.copied == (cut > 0 && cut < curl_get.size()));
  }
  // Byte by byte.
  head_reader<8192> r;
  for (std::size_t i = 0; i < curl_get.size(); ++i) {
    view v = page_with(curl_get.substr(i, 1));
    const head_status s = r.feed(v);
    CHECK(s == (i + 1 == curl_get.size() ? head_status::complete : head_status::need_more));
  }
  request req;
  CHECK(parse_head(r.head(), req) == 0);
  CHECK(req.path == "/docs/index.html");
}

TEST_CASE("a head truncated at any byte is incomplete, never a request", "[http]") {
  for (std::size_t n = 0; n < curl_get.size(); ++n) {
    INFO("first " << n << " bytes");
    fed f = feed_in_pieces(curl_get.substr(0, n), {});
    CHECK(f.status == head_status::need_more);
    CHECK(parse(curl_get.substr(0, n)) == 400);
  }
}

TEST_CASE("RFC 9112 §2.2: empty lines before a request line are skipped", "[http]") {
  fed f = feed_in_pieces("\r\n\r\n" + std::string(curl_get), {1, 3});
  REQUIRE(f.status == head_status::complete);
  CHECK(f.head == curl_get);
}

TEST_CASE("head reader bounds: request line 414, head 431", "[http]") {
  const std::string long_line = "GET /" + std::string(3000, 'a');
  CHECK(feed_in_pieces(long_line, {100, 2000}).status == head_status::line_too_long);
  std::string fat = "GET / HTTP/1.1\r\nHost: a\r\n";
  while (fat.size() < 9000) fat += "X-Padding: " + std::string(100, 'p') + "\r\n";
  CHECK(feed_in_pieces(fat, {4000, 4096 + 4000}).status == head_status::too_large);
  // Exactly at the bound is still a head.
  std::string fits = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
  fits += std::string(512 - fits.size() - 4, 'x') + "\r\n\r\n";
  REQUIRE(fits.size() == 512);
  CHECK(feed_in_pieces<512>(fits, {300}).status == head_status::complete);
  CHECK(feed_in_pieces<511>(fits, {300}).status == head_status::too_large);
}

namespace {
struct decoded {
  body_status end = body_status::need_more;
  std::string data;
  std::string rest;
};
decoded decode(std::string_view head, std::string_view input, std::size_t cut, std::uint64_t max = 1 << 20) {
  request r;
  REQUIRE(parse(head, r) == 0);
  body_decoder d;
  d.start(r, max);
  decoded out;
  std::size_t at = 0;
  for (std::size_t end : {cut, input.size()}) {
    view in = page_with(input.substr(at, end - at));
    at = end;
    while (true) {
      view piece;
      const body_status s = d.next(in, piece);
      if (s == body_status::data) {
        out.data.append(reinterpret_cast<const char*>(piece.data()), piece.size());
        continue;
      }
      out.end = s;
      break;
    }
    if (out.end != body_status::need_more) {
      out.rest.assign(reinterpret_cast<const char*>(in.data()), in.size());
      out.rest += input.substr(at);
      break;
    }
  }
  return out;
}
constexpr std::string_view chunked_head = "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
}  // namespace

TEST_CASE("RFC 9112 §6.2: a Content-Length body, cut anywhere", "[http]") {
  const std::string input = "hello, world" + std::string("NEXT");
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    decoded d = decode("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n", input, cut);
    CHECK(d.end == body_status::done);
    CHECK(d.data == "hello, world");
    CHECK(d.rest == "NEXT");
  }
}

TEST_CASE("RFC 9112 §7.1: chunked bodies with extensions and trailers, cut anywhere", "[http]") {
  const std::string input =
      "5\r\nhello\r\n"
      "7;name=value\r\n, world\r\n"
      "A \r\n0123456789\r\n"
      "0\r\nTrailer: yes\r\n\r\n"
      "NEXT";
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    INFO("cut at " << cut);
    decoded d = decode(chunked_head, input, cut);
    CHECK(d.end == body_status::done);
    CHECK(d.data == "hello, world0123456789");
    CHECK(d.rest == "NEXT");
  }
}

TEST_CASE("chunked framing errors are 400, oversized bodies 413", "[http]") {
  CHECK(decode(chunked_head, "x\r\n", 1).end == body_status::malformed);
  CHECK(decode(chunked_head, "5\r\nhelloX\r\n", 4).end == body_status::malformed);
  CHECK(decode(chunked_head, "5\nhello\r\n", 2).end == body_status::malformed);
  CHECK(decode(chunked_head, "11111111111111111\r\n", 3).end == body_status::malformed);  // 17 hex digits
  CHECK(decode(chunked_head, "0\r\nbad\ntrailer\r\n\r\n", 3).end == body_status::malformed);
  CHECK(decode(chunked_head, "5;" + std::string(300, 'e') + "\r\nhello\r\n0\r\n\r\n", 3).end == body_status::malformed);
  CHECK(decode(chunked_head, "400\r\n", 2, 1000).end == body_status::too_large);
  CHECK(decode(chunked_head, "ffffffffffffffff\r\n", 2).end == body_status::too_large);
  // Truncated: waits for more, never completes.
  const std::string good = "5\r\nhello\r\n0\r\n\r\n";
  for (std::size_t n = 0; n < good.size(); ++n) CHECK(decode(chunked_head, good.substr(0, n), 0).end == body_status::need_more);
}
