// The stub resolver (uni/dns/stub.hpp): its answers read from what the engine
// answers (addresses, CNAME chains, NXDOMAIN, NODATA, TC, wrong ID or
// question), then resolve() over host sockets against the DNS service in the
// same process: UDP, and TCP after a truncated answer (RFC 7766 §5).
// Catch's REQUIRE throws, which a coroutine must not: results are handed out.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include <uni/core/run.hpp>
#include <uni/dns/server.hpp>
#include <uni/dns/service.hpp>
#include <uni/dns/stub.hpp>
#include <uni/dns/zone_file.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/socket_stack.hpp>

using namespace uni;
using namespace uni::dns;

namespace {

std::string stub_zone() {
  std::string z = R"($ORIGIN example.com.
$TTL 300
@ SOA ns1 host 1 7200 3600 1209600 60
  NS ns1
ns1 A 192.0.2.53
www 120 A 192.0.2.80
    A 192.0.2.81
www AAAA 2001:db8::80
alias 60 CNAME www
alias2 CNAME alias
)";
  // 40 addresses: 40 * 16 + header and question > 512 bytes without EDNS.
  for (int i = 0; i < 40; ++i) z += "many A 10.0.0." + std::to_string(i + 1) + "\n";
  return z;
}

server make_server() {
  std::string problem;
  auto z = load_zone(stub_zone(), name{}, "stub.zone", problem);
  INFO(problem);
  REQUIRE(z.has_value());
  std::vector<zone> zs;
  zs.push_back(std::move(*z));
  return server(std::move(zs));
}

result<stub_answer> exchange(server& s, const std::string& qname, std::uint16_t qtype, std::uint16_t edns = 1232,
                             transport via = transport::udp) {
  const name n = *name::parse(qname);
  std::uint8_t q[512], a[65535];
  auto len = make_stub_query(q, 0xBEEF, n, qtype, edns);
  REQUIRE(len.ok());
  const std::size_t size = s.answer(std::span<const std::uint8_t>(q, *len), a, via);
  REQUIRE(size > 0);
  return read_stub_answer(std::span<const std::uint8_t>(a, size), 0xBEEF, n, qtype);
}

}  // namespace

TEST_CASE("dns stub: addresses, CNAME chains, NXDOMAIN and NODATA from an answer") {
  server s = make_server();
  auto a = exchange(s, "WWW.example.com.", rr_type::a);
  REQUIRE(a.ok());
  CHECK(a->count == 2);
  CHECK(a->ipv4(0) == ipv4_address::from_octets(192, 0, 2, 80));
  CHECK(a->ttl == 120);
  auto v6 = exchange(s, "www.example.com.", rr_type::aaaa);
  REQUIRE(v6.ok());
  REQUIRE(v6->count == 1);
  CHECK(v6->addresses[0][0] == 0x20);
  auto chain = exchange(s, "alias2.example.com.", rr_type::a);
  REQUIRE(chain.ok());
  CHECK(chain->count == 2);
  CHECK(chain->canonical == *name::parse("www.example.com."));
  CHECK(chain->ttl == 60);
  auto nx = exchange(s, "nope.example.com.", rr_type::a);
  REQUIRE(nx.ok());
  CHECK(nx->rc == rcode::nxdomain);
  CHECK(nx->count == 0);
  auto nodata = exchange(s, "ns1.example.com.", rr_type::aaaa);
  REQUIRE(nodata.ok());
  CHECK(nodata->rc == rcode::noerror);
  CHECK(nodata->count == 0);
  CHECK(exchange(s, "www.example.org.", rr_type::a).err() == error::refused);
}

TEST_CASE("dns stub: TC means ask again over TCP, answers to other questions are not ours") {
  server s = make_server();
  CHECK(exchange(s, "many.example.com.", rr_type::a, 0).err() == error::truncated);
  auto tcp = exchange(s, "many.example.com.", rr_type::a, 0, transport::tcp);
  REQUIRE(tcp.ok());
  CHECK(tcp->count == stub_answer::max_addresses);  // bounded: the rest are dropped
  // Another ID, or another question.
  std::uint8_t q[512], a[4096];
  const name www = *name::parse("www.example.com.");
  auto len = make_stub_query(q, 7, www, rr_type::a, 0);
  REQUIRE(len.ok());
  const std::size_t n = s.answer(std::span<const std::uint8_t>(q, *len), a, transport::udp);
  const std::span<const std::uint8_t> ans(a, n);
  CHECK(read_stub_answer(ans, 8, www, rr_type::a).err() == error::malformed);
  CHECK(read_stub_answer(ans, 7, *name::parse("ww.example.com."), rr_type::a).err() == error::malformed);
  CHECK(read_stub_answer(ans, 7, www, rr_type::aaaa).err() == error::malformed);
  CHECK(read_stub_answer(std::span<const std::uint8_t>(q, *len), 7, www, rr_type::a).err() == error::malformed);
  CHECK(read_stub_answer(ans, 7, www, rr_type::a).ok());
}

namespace {

struct found {
  error err = error::none;
  std::size_t count = 0;
  ipv4_address first{};
};

task<found> ask(posix::SocketStack& stack, std::uint16_t port, std::string qname, std::uint16_t edns) {
  stub_options o;
  o.edns_payload = edns;
  o.timeout = std::chrono::seconds(2);
  auto a = co_await resolve(stack, endpoint{ipv4_address::from_octets(127, 0, 0, 1), port}, *name::parse(qname),
                            rr_type::a, o);
  if (!a) co_return found{a.err()};
  co_return found{error::none, a->count, a->ipv4(0)};
}

}  // namespace

TEST_CASE("dns stub: resolve() over host sockets, UDP then TCP after TC, and a timeout") {
  boost::asio::io_context io;
  scheduler sched;
  posix::PosixClock clock{io};
  auto pool = std::make_unique<static_page_pool<64>>();
  posix::SocketStack stack{sched, io, *pool, ipv4_address::from_octets(127, 0, 0, 1)};
  server srv = make_server();
  const std::uint16_t port = static_cast<std::uint16_t>(20000 + (::getpid() % 20000));
  std::vector<found> got;
  auto main = [&]() -> task<int> {
    auto service = spawn(sched, dns::serve(stack, srv, port));
    co_await sched.sleep_for(std::chrono::milliseconds(20));
    got.push_back(co_await ask(stack, port, "www.example.com.", 1232));
    got.push_back(co_await ask(stack, port, "many.example.com.", 0));  // TC over UDP, then TCP
    service.cancel();
    // Nobody answers now: each attempt times out.
    stub_options o;
    o.timeout = std::chrono::milliseconds(100);
    o.attempts = 2;
    auto none = co_await resolve(stack, endpoint{ipv4_address::from_octets(127, 0, 0, 1), port},
                                 *name::parse("www.example.com."), rr_type::a, o);
    got.push_back(found{none ? error::none : none.err()});
    co_return 0;
  };
  auto r = run(sched, clock, with_timeout(sched, std::chrono::seconds(10), main()));
  REQUIRE(r.ok());
  REQUIRE(got.size() == 3);
  CHECK(got[0].err == error::none);
  CHECK(got[0].count == 2);
  CHECK(got[0].first == ipv4_address::from_octets(192, 0, 2, 80));
  CHECK(got[1].err == error::none);
  CHECK(got[1].count == stub_answer::max_addresses);
  CHECK(got[2].err == error::timed_out);
  CHECK(srv.stats().truncated == 1);
}
