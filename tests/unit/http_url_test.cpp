// URLs for the HTTP client (uni/http/url.hpp), then the client fetching URLs
// whose host is a name (uni/http/client.hpp with uni/dns/stub.hpp) over host
// sockets: a DNS service and an HTTP server in this process on 127.0.0.1,
// names, a CNAME, NXDOMAIN, NODATA, a silent server, a redirect to another
// name, the answer kept for its TTL. Catch's REQUIRE throws, which a coroutine
// must not: the coroutine records findings and the checks run outside it.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <uni/core/run.hpp>
#include <uni/dns/service.hpp>
#include <uni/dns/zone_file.hpp>
#include <uni/http/client.hpp>
#include <uni/http/server.hpp>
#include <uni/http/url.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/socket_stack.hpp>

using namespace uni;
using namespace std::chrono_literals;
using http::parse_url;

TEST_CASE("URL: http://host[:port]/path, the parts the client sends (RFC 9110 §4.2.1)", "[http][url]") {
  auto u = parse_url("http://www.example.org/index.html");
  REQUIRE(u.ok());
  CHECK(u->host == "www.example.org");
  CHECK(u->port == 80);
  CHECK(u->authority == "www.example.org");
  CHECK(u->target == "/index.html");
  CHECK(!u->address);

  u = parse_url("HTTP://Www.Test.:8080/a/b?c=d&e#frag");
  REQUIRE(u.ok());
  CHECK(u->host == "Www.Test.");
  CHECK(u->port == 8080);
  CHECK(u->authority == "Www.Test.:8080");
  CHECK(u->target == "/a/b?c=d&e");  // the fragment is not sent

  u = parse_url("http://192.0.2.1:65535");
  REQUIRE(u.ok());
  CHECK(u->address == ipv4_address::from_octets(192, 0, 2, 1));
  CHECK(u->port == 65535);
  CHECK(u->target == "/");

  u = parse_url("http://host:/x");  // an empty port is the default (RFC 3986 §3.2.3)
  REQUIRE(u.ok());
  CHECK(u->port == 80);
  CHECK(parse_url("http://h#only")->target == "/");
  CHECK(parse_url("http://a_b-c.d/")->host == "a_b-c.d");
  // Not an address (RFC 3986 §3.2.2: then it is a name).
  CHECK(!parse_url("http://192.0.2/")->address);
  CHECK(!parse_url("http://192.0.2.256/")->address);
}

TEST_CASE("URL: what is not a URL is malformed", "[http][url]") {
  for (const char* bad : {"", "http:/x", "www.example.org/", "http://", "http:///path", "http://:80/", "http://h:0/",
                          "http://h:65536/", "http://h:8x/", "http://h:-1/", "http://a..b/", "http://.a/",
                          "http://a b/", "http://a/b c", "http://h\x7f/", "http://ex!ample/"}) {
    INFO(bad);
    CHECK(parse_url(bad).err() == error::malformed);
  }
  const std::string label63(63, 'a');
  CHECK(parse_url("http://" + label63 + ".test/").ok());
  CHECK(parse_url("http://" + label63 + "a.test/").err() == error::malformed);
  std::string name253;  // 63 + 63 + 63 + 61 and three dots: 253 characters
  for (int i = 0; i < 4; ++i) name253 += (i ? "." : "") + std::string(i < 3 ? 63 : 61, 'n');
  REQUIRE(name253.size() == 253);
  CHECK(parse_url("http://" + name253 + "/").ok());
  CHECK(parse_url("http://" + name253 + "./").ok());
  CHECK(parse_url("http://" + name253 + "n/").err() == error::malformed);
}

TEST_CASE("URL: what the client does not follow is refused as such", "[http][url]") {
  for (const char* other : {"https://www.example.org/", "ftp://h/", "http://user@h/", "http://user:pw@h:80/",
                            "http://[::1]/", "http://[2001:db8::1]:8080/", "http://h%41/", "http://h?q=1"}) {
    INFO(other);
    CHECK(parse_url(other).err() == error::invalid_argument);
  }
}

namespace {

const ipv4_address loopback = ipv4_address::from_octets(127, 0, 0, 1);

dns::server test_zone() {
  // www and there are us; alias is www by CNAME; text has no address (NODATA).
  const std::string z = R"($ORIGIN test.
$TTL 300
@ SOA ns host 1 7200 3600 1209600 60
  NS ns
ns A 127.0.0.1
www A 127.0.0.1
there 0 A 127.0.0.1
alias CNAME www
text TXT "no address"
)";
  std::string problem;
  auto zone = dns::load_zone(z, dns::name{}, "test.zone", problem);
  INFO(problem);
  REQUIRE(zone.has_value());
  std::vector<dns::zone> zs;
  zs.push_back(std::move(*zone));
  return dns::server(std::move(zs));
}

struct fetched {
  int status = 0;
  std::string body;
  error err = error::none;
};

}  // namespace

TEST_CASE("HTTP client: names resolved by the stub resolver, over host sockets", "[http][url]") {
  boost::asio::io_context io;
  scheduler sched;
  posix::PosixClock clock{io};
  auto pool = std::make_unique<static_page_pool<256>>();
  posix::SocketStack stack{sched, io, *pool, loopback};
  dns::server names = test_zone();
  const auto dns_port = static_cast<std::uint16_t>(20000 + (::getpid() % 20000));

  // The page says which Host it was asked for; /away redirects to another name.
  auto host_page = [](http::exchange& ex) -> task<void> {
    const std::string_view host = ex.request().host;
    auto page = ex.scratch(host.size());
    if (!page) co_return;
    std::memcpy(page->data(), host.data(), host.size());
    const view body = page->head(host.size());
    (void)co_await ex.respond(200, "text/plain", std::span<const view>(&body, 1));
  };
  std::string away;  // http://there.test:PORT/host
  auto moved = [&away](http::exchange& ex) -> task<void> {
    const http::field f{"Location", away};
    (void)co_await ex.respond(301, "text/plain", {}, std::span<const http::field>(&f, 1));
  };
  http::router<4> routes;
  REQUIRE(routes.add(http::method::get, "/host", host_page).ok());
  REQUIRE(routes.add(http::method::get, "/away", moved).ok());
  http::server_options sopt;
  sopt.router = &routes;
  http::server_counters sn;
  auto listener = stack.tcp_listen(0);
  REQUIRE(listener.ok());
  const std::string port = std::to_string(listener->local().port);
  away = "http://there.test:" + port + "/host";
  auto web = spawn(sched, http::serve(stack, std::move(*listener), sopt, sn));

  std::vector<fetched> f;
  std::uint64_t queries_after_two = 0, connections_after_two = 0;
  error silent = error::none;
  auto main = [&]() -> task<int> {
    auto dns_service = spawn(sched, dns::serve(stack, names, dns_port));
    co_await sched.sleep_for(20ms);
    http::client_options o{.timeout = 5s, .max_redirects = 2, .dns_server = {loopback, dns_port}};
    http::client<posix::SocketStack> c(stack, o);
    auto get = [&](std::string url) -> task<void> {
      fetched x;
      auto sink = [&x](const view& v) { x.body.append(reinterpret_cast<const char*>(v.data()), v.size()); };
      auto r = co_await c.get(url, sink);
      if (r) x.status = (*r)->status;
      else x.err = r.err();
      f.push_back(std::move(x));
    };
    co_await get("http://www.test:" + port + "/host");    // 0
    co_await get("http://WWW.test.:" + port + "/host");   // 1: the same name, kept for its TTL
    queries_after_two = names.stats().queries;
    connections_after_two = c.connections_opened();
    co_await get("http://alias.test:" + port + "/host");  // 2: by CNAME
    co_await get("http://nowhere.test:" + port + "/");    // 3: NXDOMAIN
    co_await get("http://text.test:" + port + "/");       // 4: NODATA
    co_await get("http://www.test:" + port + "/away");    // 5: to there.test
    co_await get("http://127.0.0.1:" + port + "/host");   // 6: no resolution
    co_await get("https://www.test/");                    // 7
    dns_service.cancel();
    http::client<posix::SocketStack> quiet(stack, {.timeout = 5s, .dns_server = {loopback, dns_port},
                                                   .dns = {.timeout = 100ms, .attempts = 2}});
    auto r = co_await quiet.get("http://www.test:" + port + "/host", {});
    silent = r ? error::none : r.err();
    co_return 0;
  };
  auto status = run(sched, clock, with_timeout(sched, 20s, main()));
  web.cancel();
  REQUIRE(status.ok());
  REQUIRE(f.size() == 8);
  CHECK(f[0].status == 200);
  CHECK(f[0].body == "www.test:" + port);
  CHECK(f[1].status == 200);
  CHECK(f[1].body == "WWW.test.:" + port);
  CHECK(queries_after_two == 1);
  CHECK(connections_after_two == 1);  // the same endpoint: the kept connection
  CHECK(f[2].status == 200);
  CHECK(f[2].body == "alias.test:" + port);
  CHECK(f[3].err == error::unreachable);
  CHECK(f[4].err == error::unreachable);
  CHECK(f[5].status == 200);
  CHECK(f[5].body == "there.test:" + port);  // the Host of the URL followed
  CHECK(f[6].status == 200);
  CHECK(f[6].body == "127.0.0.1:" + port);
  CHECK(f[7].err == error::invalid_argument);
  CHECK(names.stats().nxdomain == 1);
  CHECK(names.stats().nodata == 1);
  CHECK(silent == error::timed_out);
}
