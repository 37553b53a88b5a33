// tests/fuzz/openflow_fuzz.cpp: libFuzzer target for the OpenFlow parsers of
// both versions and the controller session (uni/openflow/). The input is the
// byte stream a switch sends (its first byte picks the versions the
// controller offers).
//   1. every message framed from it is handed to every parser, which stays
//      within the message's bytes (ASan) whatever it says;
//   2. a flow_mod, packet_out or stats request a switch would accept emits
//      again and parses back to the same value (what a switch reuses);
//   3. the session's output is whole messages of the negotiated version (or a
//      hello, or an error before negotiation), never past its buffer.
#include <cstdint>
#include <memory>
#include <span>

#include <uni/openflow/session.hpp>

#include "fuzz_support.hpp"

namespace of = uni::openflow;

namespace {

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
  std::span<const std::uint8_t> in(data + 1, size - 1);
  while (s->phase() != of::session_phase::closed) {
    auto m = of::next_message(in);
    if (!m) break;
    in = in.subspan(m->h.length);
    if (of::known_version(m->h.wire_version)) parse_all(*m);
    (void)s->on_message(*m, now);
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
