// The stub resolver (uni/dns/stub.hpp): its answers read from what the engine
// answers (addresses, CNAME chains, NXDOMAIN, NODATA, TC, wrong ID or
// question), then resolve() over host sockets against the DNS service in the
// same process: UDP, and TCP after a truncated answer (RFC 7766 §5); and the
// service over uni's own TCP on the simulated link.
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
#include <uni/sim/sim_link.hpp>
#include <uni/stack.hpp>

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

TEST_CASE("dns service: over uni's TCP, a query in pieces and one pipelined behind it, then an idle close") {
  using namespace std::chrono_literals;
  using sim_stack = Stack<sim::SimNetif, sim::ManualClock>;
  static_assert(PollingByteStream<sim_stack::tcp_stream>);  // serve_tcp_connection waits itself
  const ipv4_address client_ip = ipv4_address::from_octets(10, 0, 0, 2), host_ip = ipv4_address::from_octets(10, 0, 0, 3);
  auto pool = std::make_unique<static_page_pool<512>>();
  scheduler sched;
  sim::ManualClock clock;
  sim::sim_link link(*pool, clock, 1, {.delay_min = 100us, .delay_max = 100us});
  sim_stack client(link.a(), clock, sched, *pool, {{client_ip, 24}, {}, false, 3});
  sim_stack host(link.b(), clock, sched, *pool, {{host_ip, 24}, {}, false, 4});
  client.start();
  host.start();
  server srv = make_server();
  const name www = *name::parse("www.example.com."), ns1 = *name::parse("ns1.example.com.");
  std::vector<found> got;
  duration idle = 0s;
  bool closed = false;
  auto main = [&]() -> task<void> {
    auto service = spawn(sched, dns::serve(host, srv, 53));
    auto c = co_await client.tcp_connect({host_ip, 53}, 5s);
    CHECK(c.ok());
    if (!c) co_return;
    // Two queries, each after its two-byte length, in one page.
    auto page = pool->allocate();
    CHECK(page.ok());
    if (!page) co_return;
    std::uint8_t* q = page->data();
    const auto first = make_stub_query({q + 2, 500}, 1, www, rr_type::a, 0);
    const auto second = make_stub_query({q + 4 + *first, 500}, 2, ns1, rr_type::a, 0);
    wire::store_be16(q, static_cast<std::uint16_t>(*first));
    wire::store_be16(q + 2 + *first, static_cast<std::uint16_t>(*second));
    const std::size_t total = 4 + *first + *second;
    // The first query's length and 3 bytes, a second's pause (within the idle timeout), then the rest.
    // (Views named: GCC 12 mishandles a temporary's lifetime in a co_await inside CHECK.)
    const view start = page->head(5), rest = page->head(total).tail(5);
    const auto wrote_start = co_await c->write(start);
    co_await sched.sleep_for(1s);
    const auto wrote_rest = co_await c->write(rest);
    CHECK(wrote_start.ok());
    CHECK(wrote_rest.ok());
    const time_point sent = sched.now();
    std::vector<std::uint8_t> in;
    while (true) {
      auto d = co_await c->read();
      if (!d || d->empty()) {
        closed = d.ok();
        break;
      }
      in.insert(in.end(), d->data(), d->data() + d->size());
      // Answers in order, each after its length.
      for (std::size_t len; in.size() >= 2 && in.size() >= 2 + (len = wire::load_be16(in.data()));) {
        const std::uint16_t id = got.empty() ? 1 : 2;
        auto a = read_stub_answer({in.data() + 2, len}, id, id == 1 ? www : ns1, rr_type::a);
        got.push_back(a ? found{error::none, a->count, a->ipv4(0)} : found{a.err()});
        in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(2 + len));
      }
    }
    idle = sched.now() - sent;
    service.cancel();
  };
  REQUIRE(run(sched, clock, with_timeout(sched, 60s, main())).ok());
  REQUIRE(got.size() == 2);
  CHECK(got[0].err == error::none);
  CHECK(got[0].count == 2);
  CHECK(got[0].first == ipv4_address::from_octets(192, 0, 2, 80));
  CHECK(got[1].err == error::none);
  CHECK(got[1].first == ipv4_address::from_octets(192, 0, 2, 53));
  // Idle after its answers, the connection is ended by the server at tcp_idle_timeout.
  CHECK(closed);
  CHECK(idle >= tcp_idle_timeout);
  CHECK(idle < tcp_idle_timeout + 1s);
}
