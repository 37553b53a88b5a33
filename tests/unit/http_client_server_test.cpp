// The HTTP server and client together over host sockets (SocketStack, one
// process, 127.0.0.1): keep-alive reuse, POST bodies, chunked responses, HEAD,
// redirects returned or followed, a server that closes kept connections, and
// the client's deadline. Catch's REQUIRE throws, which a coroutine must not:
// the coroutine records findings and the checks run outside it.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <uni/core/run.hpp>
#include <uni/http/client.hpp>
#include <uni/http/server.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/socket_stack.hpp>

using namespace uni;
using namespace std::chrono_literals;
using namespace std::string_view_literals;
using posix::SocketStack;

namespace {

const ipv4_address loopback = ipv4_address::from_octets(127, 0, 0, 1);

struct host {
  boost::asio::io_context io;
  scheduler sched;
  posix::PosixClock clock{io};
  std::unique_ptr<static_page_pool<256>> pool = std::make_unique<static_page_pool<256>>();
  SocketStack stack{sched, io, *pool, loopback};
};

struct finding {
  int status = 0;
  std::string body;
  std::string content_type;
  error err = error::none;
};

}  // namespace

TEST_CASE("HTTP client and server over host sockets", "[http]") {
  host h;
  http::server_counters n;
  http::server_options opt;
  opt.idle_timeout = 30s;

  // Routes: a page, an echo of the request body, a chunked stream, redirects, a stall.
  auto page = [](http::exchange& ex) -> task<void> { co_await ex.respond_static(200, "text/plain", "a page\n"); };
  auto echo = [](http::exchange& ex) -> task<void> {
    std::vector<view> got;
    while (true) {
      auto p = co_await ex.read_body();
      if (!p || p->empty()) break;
      got.push_back(*p);
    }
    co_await ex.respond(200, "application/octet-stream", got);
  };
  auto stream = [](http::exchange& ex) -> task<void> {
    if (auto s = co_await ex.start_stream(200, "text/plain"); !s) co_return;
    for (std::string_view part : {"one ", "two ", "three"}) {
      const view v = view::unowned(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(part.data()), part.size()));
      if (auto w = co_await ex.write_stream(std::span<const view>(&v, 1)); !w) co_return;
    }
    co_await ex.end_stream();
  };
  auto moved = [](http::exchange& ex) -> task<void> {
    const http::field f{"Location", "/page"};
    const view none;
    co_await ex.respond(302, "text/plain", {}, std::span<const http::field>(&f, 1));
    (void)none;
  };
  // A responder: a plain function whose body, built in a scratch page, is
  // handed over as a view (the send runs after it has returned).
  auto hi = [](http::exchange& ex) -> http::sending {
    const std::string_view name = ex.param("name");
    auto page = ex.scratch(name.size() + 5);
    if (!page) return {};
    std::uint8_t* out = page->data();
    for (char c : "hi, "sv) *out++ = static_cast<std::uint8_t>(c);
    for (char c : name) *out++ = static_cast<std::uint8_t>(c);
    *out = '\n';
    return ex.respond(200, "text/plain", std::move(*page));
  };
  scheduler* sp = &h.sched;
  auto stall = [sp](http::exchange&) -> task<void> { co_await sp->sleep_for(10s); };
  http::router<8> routes;
  REQUIRE(routes.add(http::method::get, "/page", page).ok());
  REQUIRE(routes.add(http::method::post, "/echo", echo).ok());
  REQUIRE(routes.add(http::method::get, "/stream", stream).ok());
  REQUIRE(routes.add(http::method::get, "/moved", moved).ok());
  REQUIRE(routes.add(http::method::get, "/stall", stall).ok());
  REQUIRE(routes.add(http::method::get, "/hi/:name", hi).ok());
  opt.router = &routes;

  auto listener = h.stack.tcp_listen(0);
  REQUIRE(listener.ok());
  const endpoint at = listener->local();
  auto server = spawn(h.sched, http::serve(h.stack, std::move(*listener), opt, n));

  std::vector<finding> f;
  std::uint64_t opened_after_keepalive = 0, opened_after_close = 0;
  auto main = [&]() -> task<int> {
    http::client<SocketStack> c(h.stack, {.timeout = 2s});
    auto one = [&](http::method m, std::string_view target, std::span<const view> body = {}) -> task<void> {
      finding x;
      auto sink = [&x](const view& v) { x.body.append(reinterpret_cast<const char*>(v.data()), v.size()); };
      auto r = co_await c.request(m, at, "test", target, {}, body, sink);
      if (r) {
        x.status = (*r)->status;
        x.content_type = std::string((*r)->header("content-type"));
      } else {
        x.err = r.err();
      }
      f.push_back(std::move(x));
    };
    co_await one(http::method::get, "/page");     // 0
    co_await one(http::method::get, "/page");     // 1: same connection
    opened_after_keepalive = c.connections_opened();
    static const std::string big(100000, 'b');
    const view body = view::unowned(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(big.data()), big.size()));
    co_await one(http::method::post, "/echo", std::span<const view>(&body, 1));  // 2
    co_await one(http::method::get, "/stream");   // 3: chunked
    co_await one(http::method::head, "/page");    // 4
    co_await one(http::method::get, "/moved");    // 5: returned as it is
    co_await one(http::method::get, "/missing");  // 6
    co_await one(http::method::get, "/stall");    // 7: the client's deadline
    opened_after_close = c.connections_opened();
    co_await one(http::method::get, "/page");     // 8: a new connection after the cut one
    http::client<SocketStack> follow(h.stack, {.timeout = 2s, .max_redirects = 3});
    finding x;
    auto sink = [&x](const view& v) { x.body.append(reinterpret_cast<const char*>(v.data()), v.size()); };
    auto r = co_await follow.get(at, "test", "/moved", sink);
    if (r) x.status = (*r)->status;
    f.push_back(std::move(x));                    // 9: followed
    co_await one(http::method::get, "/hi/ann");   // 10: a responder
    co_await one(http::method::head, "/hi/bob");  // 11: its HEAD
    co_return 0;
  };
  auto status = run(h.sched, h.clock, with_timeout(h.sched, 20s, main()));
  server.cancel();
  REQUIRE(status.ok());
  REQUIRE(f.size() == 12);
  CHECK(f[0].status == 200);
  CHECK(f[0].body == "a page\n");
  CHECK(f[0].content_type == "text/plain");
  CHECK(f[1].status == 200);
  CHECK(opened_after_keepalive == 1);
  CHECK(f[2].status == 200);
  CHECK(f[2].body.size() == 100000);
  CHECK(f[2].body == std::string(100000, 'b'));
  CHECK(f[3].status == 200);
  CHECK(f[3].body == "one two three");
  CHECK(f[4].status == 200);
  CHECK(f[4].body.empty());
  CHECK(f[5].status == 302);
  CHECK(f[6].status == 404);
  CHECK(f[7].err == error::timed_out);
  CHECK(opened_after_close == 1);
  CHECK(f[8].status == 200);
  CHECK(f[8].body == "a page\n");
  CHECK(f[9].status == 200);
  CHECK(f[9].body == "a page\n");
  CHECK(f[10].status == 200);
  CHECK(f[10].body == "hi, ann\n");
  CHECK(f[11].status == 200);
  CHECK(f[11].body.empty());
}

TEST_CASE("HTTP response heads (RFC 9112 §4, §6.3)", "[http]") {
  http::response r;
  REQUIRE(http::parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", r, false));
  CHECK((r.status == 200 && r.framing == http::body_framing::length && r.content_length == 5 && r.keep_alive));
  REQUIRE(http::parse_response_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", r, false));
  CHECK(r.framing == http::body_framing::chunked);
  REQUIRE(http::parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", r, true));
  CHECK(r.framing == http::body_framing::none);  // HEAD
  REQUIRE(http::parse_response_head("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", r, false));
  CHECK(r.framing == http::body_framing::none);
  REQUIRE(http::parse_response_head("HTTP/1.0 200 OK\r\n\r\n", r, false));
  CHECK_FALSE(r.keep_alive);  // to the end of the connection
  REQUIRE(http::parse_response_head("HTTP/1.1 204\r\n\r\n", r, false));
  CHECK(r.status == 204);
  CHECK_FALSE(http::parse_response_head("HTTP/1.1 99 Low\r\n\r\n", r, false));
  CHECK_FALSE(http::parse_response_head("HTTP/2 200 OK\r\n\r\n", r, false));
  CHECK_FALSE(http::parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", r, false));
  CHECK_FALSE(http::parse_response_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", r, false));
}
