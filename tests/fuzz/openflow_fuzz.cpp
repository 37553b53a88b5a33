// tests/fuzz/openflow_fuzz.cpp: libFuzzer target for the OpenFlow parsers of
// both versions, the controller session and the switch's datapath
// (uni/openflow/). The input is the byte stream a switch sends to the
// controller and, the same bytes, a controller sends to the switch (its first
// byte picks the versions both offer).
//   1. every message framed from it is handed to every parser, which stays
//      within the message's bytes (ASan) whatever it says;
//   2. a flow_mod, packet_out or stats request a switch would accept emits
//      again and parses back to the same value (what a switch reuses);
//   3. the session's output is whole messages of the negotiated version (or a
//      hello, or an error before negotiation), never past its buffer;
//   4. flow matching: a frame's key (each packet_out's data) is covered by a
//      flow's match exactly when the key lies within it, and a table holding
//      that flow finds it; the datapath handles every message and frame (on a
//      port or on LOCAL), and its output is whole messages within its bound.
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include <uni/openflow/datapath.hpp>
#include <uni/openflow/session.hpp>

#include "fuzz_support.hpp"

namespace of = uni::openflow;

namespace {

struct fuzz_limits : of::switch_limits {
  static constexpr std::size_t max_ports = 3;
  static constexpr std::size_t table_size = 8;
  static constexpr std::size_t buffers = 4;
  static constexpr std::size_t connections = 1;
  static constexpr std::size_t output_capacity = 16384;
  static constexpr std::size_t mac_buckets = 16;
};

// Flow matching against one frame: covers() and within() agree, and a table finds the flow.
void match_frame(std::span<const std::uint8_t> frame, const of::match& m) {
  of::frame_layout at;
  const of::match key = of::packet_key(frame, 1, at);
  FUZZ_CHECK(at.l3 <= frame.size() && at.l4 <= frame.size());
  if (m.has(of::match::metadata)) return;  // the pipeline's, not the frame's
  const bool covered = of::covers(m, key);
  FUZZ_CHECK(covered == of::within(key, m));
  of::flow_table<2> t;
  of::flow_mod f;
  f.what = m;
  of::refusal why{};
  FUZZ_CHECK(t.apply(f, 1, 0, uni::time_point{}, {}, why));
  FUZZ_CHECK((t.lookup(key, frame.size(), uni::time_point{}) != nullptr) == covered);
}

struct null_port {
  uni::result<void> operator()(std::span<const uni::view>) const noexcept { return {}; }
};

void parse_all(const of::message& m) {
  const of::version v = m.v();
  of::refusal why{};
  std::array<std::uint8_t, of::max_message> out;
  if (auto f = of::flow_mod::parse(m, why)) {
    if (auto n = f->emit(v, m.h.xid, out)) {
      auto again = of::flow_mod::parse(*of::next_message(std::span<const std::uint8_t>(out.data(), *n)), why);
      FUZZ_CHECK(again && *again == *f);
    }
  }
  if (auto p = of::packet_out::parse(m, why)) {
    of::match some = of::match{}.with_eth_type(0x0800).with_ip_proto(6).with_tp_dst(80);
    if (auto f = of::flow_mod::parse(m, why)) some = f->what;
    match_frame(p->data, some);
    match_frame(p->data, of::match{});
    if (auto n = p->emit(v, m.h.xid, out)) {
      auto again = of::packet_out::parse(*of::next_message(std::span<const std::uint8_t>(out.data(), *n)), why);
      FUZZ_CHECK(again && again->actions == p->actions && again->data.size() == p->data.size());
    }
  }
  if (auto s = of::stats_request::parse(m, why)) {
    if (auto n = s->emit(v, m.h.xid, out)) {
      auto again = of::stats_request::parse(*of::next_message(std::span<const std::uint8_t>(out.data(), *n)), why);
      FUZZ_CHECK(again && again->type == s->type);
    }
  }
  (void)of::hello::parse(m);
  (void)of::error_msg::parse(m);
  (void)of::experimenter_msg::parse(m);
  (void)of::features_reply::parse(m);
  (void)of::switch_config::parse(m);
  (void)of::packet_in::parse(m);
  (void)of::flow_removed::parse(m);
  (void)of::port_status::parse(m);
  (void)of::port_mod::parse(m);
  if (auto r = of::stats_reply::parse(m)) {
    (void)r->read_entries<of::flow_stats>(v, [](const auto&) {});
    (void)r->read_entries<of::desc_stats>(v, [](const auto&) {});
    (void)r->read_entries<of::table_stats>(v, [](const auto&) {});
    (void)r->read_entries<of::port_stats>(v, [](const auto&) {});
    (void)r->read_entries<of::queue_stats>(v, [](const auto&) {});
    (void)r->read_entries<of::aggregate_stats>(v, [](const auto&) {});
    (void)r->read_entries<of::port_desc_entry>(v, [](const auto&) {});
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const of::version_set offers[] = {of::both_versions, of::version_set{}.add(of::version::of10),
                                    of::version_set{}.add(of::version::of13)};
  constexpr std::size_t capacity = 4096;
  auto s = std::make_unique<of::controller_session<capacity>>(offers[data[0] % 3]);
  uni::time_point now{};
  s->start(now);
  auto pool = std::make_unique<uni::static_page_pool<32>>();
  of::switch_options opts;
  opts.versions = offers[data[0] % 3];
  auto dp = std::make_unique<of::datapath<fuzz_limits>>(*pool, opts);
  null_port ports[3];
  for (null_port& p : ports) FUZZ_CHECK(dp->add_port("p", uni::mac_address{}, p));
  null_port local;
  FUZZ_CHECK(dp->add_local("local", uni::mac_address{}, local));
  dp->connected(0, now);
  std::span<const std::uint8_t> in(data + 1, size - 1);
  while (s->phase() != of::session_phase::closed) {
    auto m = of::next_message(in);
    if (!m) break;
    in = in.subspan(m->h.length);
    if (of::known_version(m->h.wire_version)) parse_all(*m);
    (void)s->on_message(*m, now);
    if (dp->conn(0).phase() != of::connection_phase::closed) {
      dp->on_message(0, *m, now);
      of::refusal why{};
      if (auto p = of::known_version(m->h.wire_version) ? of::packet_out::parse(*m, why) : uni::result<of::packet_out>{uni::fail(uni::error::malformed)})
        if (auto page = pool->allocate(); page && p->data.size() <= page->size()) {
          uni::view frame = page->head(p->data.size());
          std::memcpy(frame.data(), p->data.data(), p->data.size());
          dp->receive(m->h.xid & 1 ? of::port::local : 1, std::move(frame), now);  // a port's, or the stack's
        }
      dp->tick(now);
      auto o = dp->conn(0).output();
      FUZZ_CHECK(o.size() <= fuzz_limits::output_capacity);
      while (!o.empty()) {
        auto om = of::next_message(o);
        FUZZ_CHECK(om);
        o = o.subspan(om->h.length);
      }
      dp->conn(0).sent(dp->conn(0).output().size());
    }
    now += std::chrono::milliseconds(300);
    (void)s->tick(now);
    auto out = s->output();
    FUZZ_CHECK(out.size() <= capacity);
    while (!out.empty()) {
      auto o = of::next_message(out);
      FUZZ_CHECK(o);
      FUZZ_CHECK(of::known_version(o->h.wire_version));
      if (s->phase() == of::session_phase::ready && o->what() != of::kind::error)
        FUZZ_CHECK(o->v() == s->negotiated());
      out = out.subspan(o->h.length);
    }
    s->sent(s->output().size());
  }
  return 0;
}
