// The trace recorder (uni/trace/) with tracing compiled in (this executable is
// built with UNI_TRACE=1): the ring keeps the newest events and counts the rest;
// events carry their scheduler turn's time; DNS queries are spans, over UDP and TCP;
// a traced TCP transfer over a lossy simulated link agrees with the stack's
// counters, shows a retransmission wherever the link lost data, and every task
// it created finishes; the transfer's trace is written as Chrome JSON, and as a
// console dump, for tests/scripts/trace_test.sh to parse and check.
#include <catch2/catch.hpp>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <uni/core/run.hpp>
#include <uni/dns/service.hpp>
#include <uni/dns/stub.hpp>
#include <uni/dns/zone_file.hpp>
#include <uni/sim/sim_link.hpp>
#include <uni/stack.hpp>
#include <uni/trace/chrome_json.hpp>
#include <uni/trace/console_dump.hpp>
#include <vector>

using namespace uni;
using sim::ManualClock;
using sim::sim_link;
using sim::SimNetif;

static_assert(trace::compiled, "tests/trace is built with UNI_TRACE=1");

namespace {
struct traced_config : default_config {
  static constexpr bool trace = true;
  static constexpr std::size_t tcp_connections = 16;
};
using traced_stack = Stack<SimNetif, ManualClock, traced_config>;

const ipv4_address a_ip = ipv4_address::from_octets(10, 0, 0, 2);
const ipv4_address b_ip = ipv4_address::from_octets(10, 0, 0, 3);
constexpr std::uint16_t a_device = 1, b_device = 2;  // the last bytes of sim_link's MACs

std::size_t count(const trace::recorder& r, trace::kind k, std::uint16_t device) {
  std::size_t n = 0;
  r.for_each([&](const trace::event& e) { n += e.what == k && e.device == device; });
  return n;
}

void write_file(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}
}  // namespace

TEST_CASE("trace: a full ring drops its oldest events, counted, and keeps the newest in order", "[trace]") {
  trace::recorder r(8);
  CHECK(trace::active == &r);
  for (std::uint64_t i = 0; i < 20; ++i) {
    trace::turn_begins(static_cast<std::int64_t>(1000 * i));
    trace::counter("n", i);
  }
  CHECK(r.capacity() == 8);
  CHECK(r.recorded() == 20);
  CHECK(r.dropped() == 12);
  std::vector<std::uint64_t> kept;
  r.for_each([&](const trace::event& e) {
    kept.push_back(e.a);
    CHECK(e.ns == static_cast<std::int64_t>(1000 * e.a));
  });
  CHECK(kept == std::vector<std::uint64_t>{12, 13, 14, 15, 16, 17, 18, 19});
}

TEST_CASE("trace: no recorder, and the hooks write to the sink, a recorder's end makes the one before active again", "[trace]") {
  CHECK(trace::active == &trace::sink);
  trace::instant("into the sink", 1);
  trace::instant("into the sink", 2);
  CHECK(trace::sink.size() == 1);
  {
    trace::recorder outer(4);
    {
      trace::recorder inner(4);
      CHECK(trace::active == &inner);
      trace::instant("inner");
      CHECK(inner.size() == 1);
    }
    CHECK(trace::active == &outer);
    CHECK(outer.size() == 0);
  }
  CHECK(trace::active == &trace::sink);
}

TEST_CASE("trace: events carry their turn's time, what came while the platform waited takes the turn it woke, "
          "the JSON spreads a turn 1 ns apart", "[trace]") {
  scheduler sched;
  trace::recorder r(64);
  sched.advance(time_point(1'000'000ns));  // a turn at 1 ms
  trace::instant("a");
  trace::instant("b");
  sched.run_ready();  // the turn ends: the platform waits
  trace::instant("arrived");  // a device callback during the wait
  sched.advance(time_point(1'500'000ns));  // the turn the wait ended in
  trace::instant("c");
  std::vector<std::pair<std::string, std::int64_t>> got;
  r.for_each([&](const trace::event& e) { got.emplace_back(e.name(), e.ns); });
  using stamped = std::vector<std::pair<std::string, std::int64_t>>;
  CHECK(got == stamped{{"a", 1'000'000}, {"b", 1'000'000}, {"arrived", 1'500'000}, {"c", 1'500'000}});
  std::string json;
  auto append = [&](std::string_view s) { json.append(s); };
  trace::write_chrome_json(r, append);
  std::vector<std::string> ts;
  for (std::size_t at = json.find("\"ts\":"); at != std::string::npos; at = json.find("\"ts\":", at + 1))
    ts.push_back(json.substr(at + 5, json.find(',', at) - at - 5));
  CHECK(ts == std::vector<std::string>{"1000.000", "1000.001", "1500.000", "1500.001"});
  // A ring that ends in a wait: what came last takes the turn before it.
  sched.run_ready();
  trace::instant("late");
  std::int64_t late = 0;
  r.for_each([&](const trace::event& e) { late = e.ns; });
  CHECK(late == 1'500'000);
}

TEST_CASE("trace: a TCP transfer over a lossy link, traced end to end", "[trace]") {
  auto pool = std::make_unique<static_page_pool<4096>>();
  ManualClock clock;
  auto rec = std::make_unique<trace::recorder>(1 << 20);
  std::uint64_t spawned_before = trace::last_task;
  std::uint64_t a_retransmits = 0, lost = 0;
  std::map<std::string, std::uint64_t> expect;
  {
    scheduler sched;
    sim_link link(*pool, clock, 7, {.loss_ppm = 30'000, .delay_min = 100us, .delay_max = 300us});
    traced_stack a(link.a(), clock, sched, *pool, {{a_ip, 24}, {}, false, 11});
    traced_stack b(link.b(), clock, sched, *pool, {{b_ip, 24}, {}, false, 12});
    a.start();
    b.start();
    constexpr std::size_t total = 300'000;
    auto main = [&]() -> task<void> {
      trace::span whole("transfer");
      auto l = b.tcp_listen(80);
      REQUIRE(l);
      auto server = [&]() -> task<std::size_t> {
        auto c = co_await l->accept();
        REQUIRE(c);
        std::size_t got = 0;
        while (true) {
          auto v = co_await c->read();
          if (!v || v->empty()) break;
          got += v->size();
        }
        co_return got;
      };
      auto srv = spawn(sched, server());
      auto c = co_await a.tcp_connect({b_ip, 80}, 30s);
      REQUIRE(c);
      for (std::size_t sent = 0; sent < total; sent += 4000) {
        auto page = pool->allocate();
        REQUIRE(page);
        const view v = page->head(4000);
        auto w = co_await c->write(v);  // (not inside REQUIRE: GCC runs a co_await in Catch's macro thrice)
        REQUIRE(w.ok());
        trace::counter("sent", sent + 4000);
      }
      CHECK(c->shutdown());
      auto got = co_await srv.join();
      REQUIRE(got);
      CHECK(*got == total);
      a_retransmits = c->connection().statistics().retransmits;
      trace::instant("received", *got);
    };
    REQUIRE(run(sched, clock, main()).ok());
    lost = link.statistics().lost;
    expect["a_tx"] = a.statistics().ethernet.sent;
    expect["a_rx"] = a.statistics().ethernet.received;
    expect["b_tx"] = b.statistics().ethernet.sent;
    expect["b_rx"] = b.statistics().ethernet.received;
    CHECK(count(*rec, trace::kind::frame_tx, a_device) == expect["a_tx"]);
    CHECK(count(*rec, trace::kind::frame_rx, a_device) == expect["a_rx"]);
    CHECK(count(*rec, trace::kind::frame_tx, b_device) == expect["b_tx"]);
    CHECK(count(*rec, trace::kind::frame_rx, b_device) == expect["b_rx"]);
  }  // the stacks go: their tasks are cancelled, and the trace says so
  CHECK(rec->dropped() == 0);
  REQUIRE(lost > 0);

  // The sender's counter of retransmissions, as sampled, is the connection's.
  std::uint64_t sampled = 0;
  rec->for_each([&](const trace::event& e) {
    if (e.what == trace::kind::tcp_sequence && e.device == a_device) sampled = trace::low_half(e.b);
  });
  CHECK(sampled == a_retransmits);
  CHECK(a_retransmits > 0);

  // Wherever the link lost a copy of one of a's data segments (b received fewer
  // copies than a sent), a retransmission covers it after it was first sent.
  struct piece {
    std::int64_t ns;
    std::uint32_t seq, len;
  };
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::pair<std::int64_t, int>> copies;  // first sent, sent - received
  std::vector<piece> again;
  rec->for_each([&](const trace::event& e) {
    const piece p{e.ns, trace::high_half(e.a), trace::low_half(e.a)};
    if (e.what == trace::kind::tcp_segment_out && e.device == a_device && p.len > 0) {
      auto [it, fresh] = copies.try_emplace({p.seq, p.len}, p.ns, 0);
      ++it->second.second;
    }
    if (e.what == trace::kind::tcp_segment_in && e.device == b_device && p.len > 0) --copies[{p.seq, p.len}].second;
    if (e.what == trace::kind::tcp_retransmit && e.device == a_device) again.push_back(p);
  });
  std::size_t missing = 0;
  for (const auto& [segment, sent] : copies) {
    const auto [seq, len] = segment;
    if (sent.second <= 0) continue;
    missing += static_cast<std::size_t>(sent.second);
    bool resent = false;
    for (const piece& r : again) resent = resent || (r.ns > sent.first && r.seq < seq + len && seq < r.seq + r.len);
    CHECK(resent);
  }
  CHECK(missing > 0);
  CHECK(missing <= lost);
  CHECK(again.size() >= missing);

  // Each task created is spawned once, runs only while alive, and ends once.
  std::map<std::uint32_t, int> life;  // 1: alive, 2: ended
  std::size_t spawned = 0;
  rec->for_each([&](const trace::event& e) {
    switch (e.what) {
      case trace::kind::task_spawn:
        CHECK(life[e.id] == 0);
        life[e.id] = 1;
        ++spawned;
        break;
      case trace::kind::task_resume: CHECK(life[e.id] == 1); break;
      case trace::kind::task_finish:
        CHECK(life[e.id] == 1);
        life[e.id] = 2;
        break;
      default: break;
    }
  });
  CHECK(spawned == trace::last_task - spawned_before);
  CHECK(spawned >= 2);  // main and the server (each stack's timers are a callback, not a task)
  for (const auto& [id, state] : life) CHECK(state == 2);

  // The trace as Chrome JSON, with what the counters said, for trace_json.py.
  std::string json;
  auto append = [&](std::string_view s) { json.append(s); };
  trace::write_chrome_json(*rec, append);
  write_file("trace_test.json", json);
  // And as the Xen target dumps it, between other console lines, each with the
  // console's own prefix: scripts/trace-from-console must give back the same JSON.
  std::string console = "(d1) [info] www: serving\n";
  auto console_line = [&](std::string_view s) { console += "(d1) " + std::string(s); };
  trace::dump_to_console(*rec, console_line);
  console += "(d1) [info] www: stopped\n";
  write_file("trace_test.console", console);
  expect["retransmit_events_a"] = again.size();
  expect["tasks"] = spawned;
  std::string side = "{";
  for (const auto& [k, v] : expect) side += (side.size() > 1 ? "," : "") + ("\"" + k + "\":" + std::to_string(v));
  write_file("trace_test.expect.json", side + "}\n");
}

TEST_CASE("trace: DNS queries are spans, over UDP as one event and over TCP until the answer is written", "[trace]") {
  auto pool = std::make_unique<static_page_pool<512>>();
  ManualClock clock;
  trace::recorder rec(1 << 16);
  std::string zone_text = "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1 host 1 7200 3600 1209600 60\n  NS ns1\nns1 A 192.0.2.53\n";
  for (int i = 1; i <= 40; ++i) zone_text += "many A 10.0.0." + std::to_string(i) + "\n";  // > 512 bytes: TC over UDP
  std::string problem;
  auto z = dns::load_zone(zone_text, dns::name{}, "t.zone", problem);
  INFO(problem);
  REQUIRE(z);
  std::vector<dns::zone> zones;
  zones.push_back(std::move(*z));
  dns::server srv(std::move(zones));
  std::size_t found = 0;
  {
    scheduler sched;
    sim_link link(*pool, clock, 3, {.delay_min = 100us, .delay_max = 100us});
    traced_stack a(link.a(), clock, sched, *pool, {{a_ip, 24}, {}, false, 11});
    traced_stack b(link.b(), clock, sched, *pool, {{b_ip, 24}, {}, false, 12});
    a.start();
    b.start();
    auto main = [&]() -> task<void> {
      auto service = spawn(sched, dns::serve(b, srv, 53));
      dns::stub_options o;
      o.edns_payload = 0;  // no EDNS: the answer is truncated over UDP, then asked over TCP (RFC 7766 §5)
      auto got = co_await dns::resolve(a, {b_ip, 53}, *dns::name::parse("many.example.com."), dns::rr_type::a, o);
      if (got) found = got->count;
    };
    REQUIRE(run(sched, clock, main()).ok());
  }
  CHECK(found == dns::stub_answer::max_addresses);
  // Where each span event is in the ring, and the answers b sent meanwhile.
  std::vector<std::pair<trace::kind, std::uint32_t>> spans;
  std::size_t tcp_begin = 0, tcp_end = 0, b_tx_during = 0, at = 0;
  rec.for_each([&](const trace::event& e) {
    ++at;
    const bool span = e.what == trace::kind::span_begin || e.what == trace::kind::span_end || e.what == trace::kind::span_whole;
    if (span) {
      spans.emplace_back(e.what, e.id);
      const std::string_view name = e.name();
      CHECK(name == (e.what == trace::kind::span_whole ? "dns query" : "dns tcp query"));
      CHECK(e.a != 0);  // the serving task
      if (e.what == trace::kind::span_begin) tcp_begin = at;
      if (e.what == trace::kind::span_end) tcp_end = at;
    }
    if (tcp_begin && !tcp_end && e.what == trace::kind::frame_tx && e.device == b_device) ++b_tx_during;
  });
  REQUIRE(spans.size() == 3);
  CHECK(spans[0].first == trace::kind::span_whole);
  CHECK(spans[1].first == trace::kind::span_begin);
  CHECK(spans[2].first == trace::kind::span_end);
  CHECK(spans[1].second == spans[2].second);
  CHECK(b_tx_during >= 1);  // the answer's segment went out inside the span
}

TEST_CASE("trace: a ring that begins inside a task's run gives no run end without its beginning", "[trace]") {
  trace::recorder r(16);
  trace::turn_begins(0);
  trace::current_task = 7;  // recording starts while task 7 runs (the Xen appliance's main task)
  trace::note(trace::kind::task_suspend, 7);
  trace::note(trace::kind::task_resume, 8);
  trace::note(trace::kind::task_suspend, 8);
  trace::current_task = 0;
  std::string json;
  auto append = [&](std::string_view s) { json.append(s); };
  trace::write_chrome_json(r, append);
  CHECK(json.find("\"ph\":\"E\",\"ts\":0.000,\"pid\":1,\"tid\":7") == std::string::npos);
  CHECK(json.find("\"ph\":\"B\",\"ts\":0.001,\"pid\":1,\"tid\":8") != std::string::npos);
  CHECK(json.find("\"ph\":\"E\",\"ts\":0.002,\"pid\":1,\"tid\":8") != std::string::npos);
}
