// OpenFlow 1.0 and 1.3 (uni/openflow/): every message emitted and parsed back
// in both versions, the bytes of a few checked against the specs' layouts,
// version negotiation by hello bitmaps, every truncation of every message
// refused or read within bounds, and the controller session's handshake,
// keep-alive, refusals and xid tracking against a scripted switch. The
// switch (datapath.hpp): frames' keys and matching, flow tables (priorities,
// the five commands, out_port, bounds, timeouts), the pipeline of both
// versions, rewrites that keep checksums valid, packet_in and its buffers,
// fail-standalone, and hostile controllers answered with errors and counted.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include <uni/core/checksum.hpp>
#include <uni/openflow/datapath.hpp>
#include <uni/openflow/local_port.hpp>
#include <uni/openflow/message_buffer.hpp>
#include <uni/openflow/session.hpp>

namespace of = uni::openflow;
using of::version;

namespace {

constexpr version both[] = {version::of10, version::of13};
using buffer = std::array<std::uint8_t, 4096>;

// Emits with `emit(out)`, frames the bytes back as a message.
struct framed {
  buffer bytes{};
  std::size_t size = 0;
  of::message m{};
  template <class Emit>
  explicit framed(Emit emit) {
    auto n = emit(std::span<std::uint8_t>(bytes));
    REQUIRE(n);
    size = *n;
    auto got = of::next_message(std::span<const std::uint8_t>(bytes.data(), size));
    REQUIRE(got);
    REQUIRE(got->h.length == size);
    m = *got;
  }
  std::span<const std::uint8_t> span() const { return {bytes.data(), size}; }
};

const uni::mac_address mac_a{{0x02, 0, 0, 0, 0, 0x0a}}, mac_b{{0x02, 0, 0, 0, 0, 0x0b}};

of::match full_match_10() {
  of::match m = of::match{}.with_in_port(3).with_eth_src(mac_a).with_eth_dst(mac_b).with_vlan(42).with_eth_type(0x0800);
  m.fields |= of::match::vlan_pcp | of::match::ip_dscp | of::match::ipv4_src | of::match::ipv4_dst |
              of::match::ip_proto | of::match::tp_src | of::match::tp_dst;
  m.vlan_pcp_v = 5;
  m.ip_dscp_v = 46;
  m.ip_proto_v = 6;
  m.ipv4_src_v = 0x0a000000;
  m.ipv4_src_mask = 0xff000000;
  m.ipv4_dst_v = 0xc0a80101;
  m.tp_src_v = 1234;
  m.tp_dst_v = 80;
  return m;
}

std::vector<of::action> every_action(version v) {
  using T = of::action::type;
  std::vector<of::action> all;
  auto add = [&](T t, std::uint32_t value = 0) {
    of::action a;
    a.t = t;
    a.value = value;
    all.push_back(a);
    return &all.back();
  };
  all.push_back(of::action::output_to(2, 128));
  add(T::set_vlan_vid, 100);
  add(T::set_vlan_pcp, 3);
  add(T::strip_vlan);
  add(T::set_eth_src)->mac = mac_a;
  add(T::set_eth_dst)->mac = mac_b;
  add(T::set_ipv4_src, 0x0a000001);
  add(T::set_ipv4_dst, 0x0a000002);
  add(T::set_ip_dscp, 10);
  add(T::set_tp_src, 53);
  add(T::set_tp_dst, 8080);
  if (v == version::of10) {
    add(T::enqueue, 7)->port = 4;
  } else {
    add(T::set_queue, 7);
    add(T::push_vlan, 0x8100);
    add(T::dec_nw_ttl);
  }
  return all;
}

}  // namespace

TEST_CASE("openflow: type codes of both versions, and framing", "[openflow]") {
  for (version v : both)
    for (int k = 0; k <= static_cast<int>(of::kind::meter_mod); ++k) {
      const auto code = of::type_code(v, static_cast<of::kind>(k));
      if (code) CHECK(of::kind_of(v, *code) == static_cast<of::kind>(k));
    }
  CHECK(of::type_code(version::of10, of::kind::stats_request) == 16);
  CHECK(of::type_code(version::of13, of::kind::stats_request) == 18);
  CHECK(of::type_code(version::of13, of::kind::port_mod) == 16);
  CHECK(!of::type_code(version::of10, of::kind::group_mod));
  CHECK(!of::kind_of(version::of10, 22));
  CHECK(!of::kind_of(version::of13, 30));
  const std::uint8_t short_len[] = {4, 0, 0, 4, 0, 0, 0, 1};
  CHECK(of::next_message(short_len).err() == uni::error::malformed);
  const std::uint8_t partial[] = {4, 0, 0, 16, 0, 0, 0, 1, 0};
  CHECK(of::next_message(partial).err() == uni::error::truncated);
  CHECK(of::next_message(std::span<const std::uint8_t>(partial, 5)).err() == uni::error::truncated);
}

TEST_CASE("openflow: a message buffer frames split and coalesced reads, peeks, refuses a short length, holds the longest",
          "[openflow]") {
  auto in = std::make_unique<of::message_buffer>();
  // An echo request of `length` bytes, xid `xid`, its body a pattern.
  auto echo = [](std::size_t length, std::uint32_t xid) {
    std::vector<std::uint8_t> m(length);
    for (std::size_t i = 0; i < length; ++i) m[i] = static_cast<std::uint8_t>(i * 7);
    const std::uint8_t h[] = {4, 2, static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length), 0, 0,
                              static_cast<std::uint8_t>(xid >> 8), static_cast<std::uint8_t>(xid)};
    std::memcpy(m.data(), h, sizeof h);
    return m;
  };
  auto expect = [&](const std::vector<std::uint8_t>& sent) {
    auto m = in->next();
    REQUIRE(m);
    CHECK(std::vector<std::uint8_t>(m->bytes.begin(), m->bytes.end()) == sent);
  };

  // Coalesced: two messages and the start of a third in one read.
  const auto a = echo(8, 1), b = echo(40, 2), c = echo(300, 3);
  std::vector<std::uint8_t> read(a);
  read.insert(read.end(), b.begin(), b.end());
  read.insert(read.end(), c.begin(), c.begin() + 5);
  CHECK(in->append(read) == read.size());
  auto peeked = in->peek();  // left in place: peeked again, then taken
  REQUIRE(peeked);
  CHECK(peeked->h.xid == 1);
  CHECK(in->peek()->h.xid == 1);
  CHECK(in->size() == read.size());
  expect(a);
  expect(b);
  CHECK(in->next().err() == uni::error::truncated);  // a partial header
  in->compact();
  CHECK(in->size() == 5);
  // Split: the rest of the third one byte at a time; whole only with its last.
  for (std::size_t i = 5; i < c.size(); ++i) {
    CHECK(in->next().err() == uni::error::truncated);
    in->compact();
    CHECK(in->append(std::span<const std::uint8_t>(&c[i], 1)) == 1);
  }
  expect(c);
  CHECK(in->next().err() == uni::error::truncated);
  in->compact();
  CHECK(in->size() == 0);

  // A length below the header's cannot be framed: malformed, and it stays so.
  const std::uint8_t short_len[] = {4, 2, 0, 7, 0, 0, 0, 9};
  CHECK(in->append(short_len) == sizeof short_len);
  CHECK(in->next().err() == uni::error::malformed);
  CHECK(in->next().err() == uni::error::malformed);
  in->clear();

  // The longest message (65535 bytes) fits whole, after a small one; what
  // does not fit stays with the caller until the buffer is compacted.
  const auto small = echo(16, 4), longest = echo(of::max_message, 5), after = echo(24, 6);
  std::vector<std::uint8_t> stream(small);
  stream.insert(stream.end(), longest.begin(), longest.end());
  stream.insert(stream.end(), after.begin(), after.end());
  std::span<const std::uint8_t> left(stream);
  left = left.subspan(in->append(left));
  CHECK(left.size() == small.size() + after.size());
  CHECK(in->room() == 0);
  expect(small);
  CHECK(in->next().err() == uni::error::truncated);
  in->compact();
  left = left.subspan(in->append(left));
  CHECK(left.size() == after.size());
  expect(longest);
  in->compact();
  CHECK(in->append(left) == after.size());
  expect(after);
}

TEST_CASE("openflow: hello bitmaps and version negotiation (1.3 §6.3.1)", "[openflow]") {
  framed h([](auto o) { return of::hello::emit(of::both_versions, 9, o); });
  // 1.3 header, one VERSIONBITMAP element: bits 1 and 4.
  const std::uint8_t expect[] = {4, 0, 0, 16, 0, 0, 0, 9, 0, 1, 0, 8, 0, 0, 0, 0x12};
  REQUIRE(h.size == sizeof expect);
  CHECK(std::memcmp(h.bytes.data(), expect, sizeof expect) == 0);
  auto parsed = of::hello::parse(h.m);
  REQUIRE(parsed);
  REQUIRE(parsed->bitmap);
  CHECK(parsed->bitmap->bits == 0x12);

  const auto only = [](version v) { return of::version_set{}.add(v); };
  of::hello plain10{1, std::nullopt};
  CHECK(of::negotiate(of::both_versions, plain10) == version::of10);
  of::hello plain13{4, std::nullopt};
  CHECK(of::negotiate(of::both_versions, plain13) == version::of13);
  of::hello future{6, std::nullopt};  // a later version: we answer with our highest
  CHECK(of::negotiate(of::both_versions, future) == version::of13);
  of::hello bitmap_10_and_6{6, of::version_set{(1u << 1) | (1u << 6)}};
  CHECK(of::negotiate(of::both_versions, bitmap_10_and_6) == version::of10);
  CHECK(!of::negotiate(only(version::of10), of::hello{4, only(version::of13)}));
  CHECK(!of::negotiate(only(version::of13), plain10));
  of::hello v12{3, std::nullopt};  // 1.2: below our 1.3, and not spoken by us
  CHECK(!of::negotiate(only(version::of13), v12));

  // A hello whose element runs past the message is refused; one with no body is fine.
  const std::uint8_t bad[] = {4, 0, 0, 12, 0, 0, 0, 1, 0, 1, 0, 16};
  CHECK(!of::hello::parse(*of::next_message(bad)));
  const std::uint8_t bare[] = {1, 0, 0, 8, 0, 0, 0, 1};
  CHECK(of::hello::parse(*of::next_message(bare)));
}

TEST_CASE("openflow: refusals map to each version's error type and code", "[openflow]") {
  using R = of::refusal;
  CHECK(of::code_of(version::of10, R::bad_experimenter) == of::error_code{1, 3});
  CHECK(of::code_of(version::of13, R::bad_experimenter) == of::error_code{1, 3});
  CHECK(of::code_of(version::of13, R::no_groups) == of::error_code{6, 3});
  CHECK(of::code_of(version::of13, R::no_meters) == of::error_code{12, 10});
  CHECK(of::code_of(version::of13, R::bad_instruction) == of::error_code{3, 1});
  CHECK(of::code_of(version::of13, R::bad_match_field) == of::error_code{4, 6});
  CHECK(of::code_of(version::of10, R::bad_command) == of::error_code{3, 4});
  CHECK(of::code_of(version::of13, R::bad_command) == of::error_code{5, 6});
  CHECK(of::code_of(version::of13, R::bad_out_group) == of::error_code{2, 9});
  std::array<std::uint8_t, 200> offending{};
  offending[0] = 4;
  for (version v : both) {
    framed e([&](auto o) { return of::emit_refusal(v, R::bad_len, offending, 5, o); });
    auto p = of::error_msg::parse(e.m);
    REQUIRE(p);
    CHECK(p->what == of::error_code{1, 6});
    CHECK(p->data.size() == 64);  // the first 64 bytes of the offending message
  }
}

TEST_CASE("openflow: matches, 1.0's wildcards and 1.3's OXM", "[openflow]") {
  for (version v : both) {
    buffer b{};
    of::writer w(b);
    const of::match m = full_match_10();
    REQUIRE(of::emit_match(v, w, m));
    if (v == version::of10) CHECK(w.size() == 40);
    else CHECK(w.size() % 8 == 0);
    of::reader r(std::span<const std::uint8_t>(b.data(), w.size()));
    of::refusal why{};
    auto back = of::parse_match(v, r, why);
    REQUIRE(back);
    CHECK(*back == m);
    CHECK(r.left() == 0);
  }
  // 1.0: all wildcards is 0x3fffff with nw_src/dst fully wild; an empty match reads back empty.
  buffer b{};
  of::writer w(b);
  REQUIRE(of::emit_match10(w, of::match{}));
  const std::uint32_t wild = uni::wire::load_be32(b.data());
  CHECK((wild & 0x3000ff) == 0x3000ff);  // every one-bit wildcard
  CHECK((wild >> 8 & 63) >= 32);         // nw_src and nw_dst: 32 or more bits wild
  CHECK((wild >> 14 & 63) >= 32);
  of::reader r(std::span<const std::uint8_t>(b.data(), 40));
  CHECK(of::parse_match10(r)->fields == 0);
  // A mask that is not a prefix cannot be said in 1.0; ports without a protocol not in 1.3.
  of::match odd;
  odd.fields = of::match::ipv4_src;
  odd.ipv4_src_mask = 0xff00ff00;
  of::writer w2(b);
  CHECK(!of::emit_match10(w2, odd));
  of::match ports;
  ports.fields = of::match::tp_dst;
  of::writer w3(b);
  CHECK(!of::emit_match13(w3, ports));
  // ARP in 1.3: opcode and addresses as ARP_OP/SPA/TPA.
  of::match arp = of::match{}.with_eth_type(of::ethertype_arp).with_ip_proto(1);
  arp.fields |= of::match::ipv4_dst;
  arp.ipv4_dst_v = 0x0a000001;
  of::writer w4(b);
  REQUIRE(of::emit_match13(w4, arp));
  CHECK(b[4 + 6 + 2] == (of::oxm::arp_op << 1));  // after the match header and ETH_TYPE's 6 bytes: ARP_OP
  of::reader r4(std::span<const std::uint8_t>(b.data(), w4.size()));
  of::refusal why{};
  CHECK(*of::parse_match13(r4, why) == arp);
  // A field twice, and a masked VLAN, are refused with BAD_MATCH.
  const std::uint8_t dup[] = {0, 1, 0, 14, 0x80, 0, 20, 1, 6, 0x80, 0, 20, 1, 6, 0, 0};  // IP_PROTO twice
  of::reader rd(dup);
  CHECK(!of::parse_match13(rd, why));
  CHECK(why == of::refusal::bad_match_field);
  // A field of another class (a tunnel or register) is counted, not refused, by the parser.
  const std::uint8_t other[] = {0, 1, 0, 12, 0, 1, 2, 4, 0, 0, 0, 7, 0, 0, 0, 0};
  of::reader ro(other);
  auto o = of::parse_match13(ro, why);
  REQUIRE(o);
  CHECK(o->others == 1);
}

TEST_CASE("openflow: every action of both versions round-trips, groups and experimenters are refused", "[openflow]") {
  for (version v : both) {
    const auto all = every_action(v);
    buffer b{};
    of::writer w(b);
    REQUIRE(of::emit_actions(v, w, all));
    of::refusal why{};
    auto back = of::parse_actions(v, std::span<const std::uint8_t>(b.data(), w.size()), why);
    REQUIRE(back);
    REQUIRE(back->count == all.size());
    for (std::size_t i = 0; i < all.size(); ++i) CHECK(back->items[i] == all[i]);
  }
  // 1.0 output: type 0, length 8, port, max_len.
  buffer b{};
  of::writer w(b);
  const of::action out = of::action::output_to(of::port::flood, 0);
  REQUIRE(of::emit_actions(version::of10, w, std::span(&out, 1)));
  const std::uint8_t expect10[] = {0, 0, 0, 8, 0xff, 0xfb, 0, 0};
  CHECK(std::memcmp(b.data(), expect10, 8) == 0);
  of::refusal why{};
  const std::uint8_t group[] = {0, 22, 0, 8, 0, 0, 0, 1};
  CHECK(!of::parse_actions(version::of13, group, why));
  CHECK(why == of::refusal::bad_out_group);
  const std::uint8_t vendor[] = {0xff, 0xff, 0, 8, 0, 0, 0x23, 0x20};
  CHECK(!of::parse_actions(version::of10, vendor, why));
  CHECK(why == of::refusal::bad_experimenter);
  const std::uint8_t short_output[] = {0, 0, 0, 8, 0, 0, 0, 1};  // 1.3's output is 16 bytes
  CHECK(!of::parse_actions(version::of13, short_output, why));
  CHECK(why == of::refusal::bad_action_len);
  std::array<std::uint8_t, 8 * (of::max_actions + 1)> many{};
  for (std::size_t i = 0; i < of::max_actions + 1; ++i) many[i * 8 + 3] = 8;
  CHECK(!of::parse_actions(version::of10, many, why));
  CHECK(why == of::refusal::too_many_actions);
}

TEST_CASE("openflow: flow_mod of both versions, instructions, the table-miss entry", "[openflow]") {
  for (version v : both) {
    of::flow_mod f;
    f.command = of::flow_command::modify_strict;
    f.what = full_match_10();
    f.cookie = 0x1122334455667788;
    f.idle_timeout = 10;
    f.hard_timeout = 30;
    f.priority = 7;
    f.buffer_id = 99;
    f.out_port = 5;
    f.flags = of::flow_flag::send_flow_removed;
    for (const of::action& a : every_action(v)) (void)f.does.apply.push(a);
    if (v == version::of13) {
      f.cookie_mask = ~0ull;
      f.table_id = 1;
      f.out_group = 3;
      f.does.clear = true;
      f.does.has_write = true;
      (void)f.does.write.push(of::action::output_to(1));
      f.does.has_metadata = true;
      f.does.metadata = 0xabc;
      f.does.metadata_mask = 0xfff;
      f.does.goto_table = 2;
    }
    framed e([&](auto o) { return f.emit(v, 3, o); });
    of::refusal why{};
    auto back = of::flow_mod::parse(e.m, why);
    REQUIRE(back);
    CHECK(*back == f);
    // Every truncation is refused (the header's length says less than the fields need).
    for (std::size_t n = of::header_size; n < 72 && n < e.size; ++n) {
      of::message cut = e.m;
      cut.bytes = e.span().first(n);
      cut.h.length = static_cast<std::uint16_t>(n);
      CHECK(!of::flow_mod::parse(cut, why));
    }
  }
  // 1.0 cannot carry 1.3's instructions.
  of::flow_mod g;
  g.does.goto_table = 1;
  buffer b{};
  CHECK(!g.emit(version::of10, 1, b));
  // A meter instruction is refused with BAD_INSTRUCTION.
  const std::uint8_t meter[] = {0, 6, 0, 8, 0, 0, 0, 1};
  of::refusal why{};
  CHECK(!of::parse_instructions13(meter, why));
  CHECK(why == of::refusal::bad_instruction);
  // Table-miss: priority 0, empty match, output to the controller, whole packets.
  framed miss([](auto o) { return of::table_miss().emit(version::of13, 1, o); });
  auto m = of::flow_mod::parse(miss.m, why);
  REQUIRE(m);
  CHECK(m->priority == 0);
  CHECK(m->what.fields == 0);
  REQUIRE(m->does.apply.count == 1);
  CHECK(m->does.apply.items[0].port == of::port::controller);
  CHECK(m->does.apply.items[0].max_len == of::controller_no_buffer);
  CHECK(miss.size == 80);  // 48 fixed + 8 empty match + 24 apply(output)
}

TEST_CASE("openflow: switch messages of both versions round-trip", "[openflow]") {
  for (version v : both) {
    INFO("version " << static_cast<int>(v));
    of::port_desc p;
    p.port_no = 3;
    p.hw_addr = mac_a;
    std::memcpy(p.name, "eth3", 4);
    p.config = of::port_config::no_fwd;
    p.state = of::port_state::link_down;
    p.curr = 0x20;
    if (v == version::of13) p.curr_speed = 1000000;

    of::features_reply f;
    f.datapath_id = 0xfeedface;
    f.n_buffers = 256;
    f.n_tables = 2;
    f.capabilities = of::capability::flow_stats | of::capability::port_stats;
    if (v == version::of10) {
      f.actions = 0xfff;
      f.ports[0] = p;
      f.n_ports = 1;
    }
    framed fe([&](auto o) { return f.emit(v, 2, o); });
    auto fb = of::features_reply::parse(fe.m);
    REQUIRE(fb);
    CHECK(fb->datapath_id == f.datapath_id);
    CHECK(fb->n_tables == 2);
    CHECK(fb->n_ports == f.n_ports);
    if (v == version::of10) {
      CHECK(fe.size == 32 + 48);
      CHECK(fb->ports[0] == p);
    } else {
      CHECK(fe.size == 32);
    }

    const of::switch_config c{of::config_flag::frag_drop, 0xffff};
    framed ce([&](auto o) { return c.emit(v, of::kind::get_config_reply, 3, o); });
    CHECK(*of::switch_config::parse(ce.m) == c);

    of::packet_in pi;
    pi.buffer_id = 17;
    pi.total_len = 60;
    pi.in_port = 3;
    pi.reason = of::packet_in_reason::action;
    const std::uint8_t frame[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    pi.data = frame;
    framed pe([&](auto o) { return pi.emit(v, 4, o); });
    auto pb = of::packet_in::parse(pe.m);
    REQUIRE(pb);
    CHECK(pb->in_port == 3);
    CHECK(pb->buffer_id == 17);
    CHECK(pb->reason == of::packet_in_reason::action);
    CHECK(std::equal(pb->data.begin(), pb->data.end(), frame, frame + sizeof frame));

    of::packet_out po;
    po.in_port = 3;
    (void)po.actions.push(of::action::output_to(of::port::flood, 0));
    po.data = frame;
    framed oe([&](auto o) { return po.emit(v, 5, o); });
    of::refusal why{};
    auto ob = of::packet_out::parse(oe.m, why);
    REQUIRE(ob);
    CHECK(ob->actions == po.actions);
    CHECK(ob->in_port == 3);
    CHECK(ob->data.size() == sizeof frame);

    of::flow_removed fr;
    fr.what = of::match{}.with_in_port(1).with_eth_dst(mac_b);
    fr.cookie = 0x756e69;
    fr.priority = 1;
    fr.reason = of::removed_reason::hard_timeout;
    fr.duration_sec = 5;
    fr.idle_timeout = 60;
    fr.packet_count = 10;
    fr.byte_count = 1000;
    if (v == version::of13) {
      fr.table_id = 1;
      fr.hard_timeout = 5;
    }
    framed re([&](auto o) { return fr.emit(v, 6, o); });
    CHECK(*of::flow_removed::parse(re.m) == fr);
    if (v == version::of10) CHECK(re.size == 88);

    const of::port_status ps{of::port_reason::modify, p};
    framed se([&](auto o) { return ps.emit(v, 7, o); });
    CHECK(*of::port_status::parse(se.m) == ps);
    CHECK(se.size == (v == version::of10 ? 64u : 80u));

    of::port_mod pm{3, mac_a, of::port_config::port_down, of::port_config::port_down, 0};
    framed me([&](auto o) { return pm.emit(v, 8, o); });
    CHECK(*of::port_mod::parse(me.m) == pm);
    CHECK(me.size == (v == version::of10 ? 32u : 40u));

    const std::uint8_t body[] = {'h', 'i'};
    framed ee([&](auto o) { return of::emit_simple(v, of::kind::echo_request, 9, o, body); });
    CHECK(ee.m.what() == of::kind::echo_request);
    CHECK(ee.m.body().size() == 2);
    const of::experimenter_msg x{0x2320, 7, body};
    framed xe([&](auto o) { return x.emit(v, 10, o); });
    auto xb = of::experimenter_msg::parse(xe.m);
    REQUIRE(xb);
    CHECK(xb->id == 0x2320);
    CHECK(xb->data.size() == 2);
    for (of::kind k : {of::kind::features_request, of::kind::get_config_request, of::kind::barrier_request,
                       of::kind::barrier_reply}) {
      framed be([&](auto o) { return of::emit_simple(v, k, 11, o); });
      CHECK(be.m.what() == k);
      CHECK(be.size == 8);
    }
  }
}

TEST_CASE("openflow: statistics requests and replies of every kind, both versions", "[openflow]") {
  for (version v : both) {
    INFO("version " << static_cast<int>(v));
    for (of::stats_type t : {of::stats_type::desc, of::stats_type::flow, of::stats_type::aggregate,
                             of::stats_type::table, of::stats_type::port, of::stats_type::queue, of::stats_type::port_desc}) {
      of::stats_request s;
      s.type = t;
      s.what = of::match{}.with_in_port(2);
      s.table_id = 0;
      s.out_port = 2;
      if (t == of::stats_type::queue) s.queue_id = 1;
      if (v == version::of13) s.cookie = 5;
      buffer b{};
      if (t == of::stats_type::port_desc && v == version::of10) {
        CHECK(!s.emit(v, 1, b));
        continue;
      }
      framed e([&](auto o) { return s.emit(v, 1, o); });
      of::refusal why{};
      auto back = of::stats_request::parse(e.m, why);
      REQUIRE(back);
      CHECK(back->type == t);
      if (t == of::stats_type::flow || t == of::stats_type::aggregate) {
        of::stats_request expect = s;
        if (v == version::of10) expect.cookie = 0;
        CHECK(*back == expect);
      }
      if (t == of::stats_type::port || t == of::stats_type::queue) CHECK(back->out_port == 2);
      if (t == of::stats_type::queue) CHECK(back->queue_id == 1);
    }
    // Group and meter statistics are refused: BAD_STAT / BAD_MULTIPART.
    const std::uint8_t group_stats[] = {static_cast<std::uint8_t>(v), *of::type_code(v, of::kind::stats_request), 0, 16,
                                        0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0};
    of::refusal why{};
    CHECK(!of::stats_request::parse(*of::next_message(group_stats), why));
    CHECK(why == of::refusal::bad_stat);

    of::desc_stats d;
    std::memcpy(d.mfr_desc, "uni", 3);
    std::memcpy(d.dp_desc, "a switch", 8);
    framed de([&](auto o) { return of::emit_stats_reply<of::desc_stats>(v, 2, 0, std::span(&d, 1), o); });
    auto dr = of::stats_reply::parse(de.m);
    REQUIRE(dr);
    std::size_t seen = 0;
    CHECK(*dr->read_entries<of::desc_stats>(v, [&](const of::desc_stats& e) {
      CHECK(std::string(e.mfr_desc) == "uni");
      CHECK(std::string(e.dp_desc) == "a switch");
      ++seen;
    }) == 1);
    CHECK(seen == 1);
    CHECK(de.size == (v == version::of10 ? 12u : 16u) + 1056);

    of::flow_stats fs[2];
    fs[0].what = full_match_10();
    fs[0].priority = 9;
    fs[0].packet_count = 3;
    (void)fs[0].does.apply.push(of::action::output_to(1));
    fs[1].table_id = v == version::of13 ? 1 : 0;
    fs[1].cookie = 77;
    framed fe([&](auto o) { return of::emit_stats_reply<of::flow_stats>(v, 3, of::stats_more, fs, o); });
    auto fr = of::stats_reply::parse(fe.m);
    REQUIRE(fr);
    CHECK(fr->more());
    std::vector<of::flow_stats> got;
    CHECK(*fr->read_entries<of::flow_stats>(v, [&](const of::flow_stats& e) { got.push_back(e); }) == 2);
    REQUIRE(got.size() == 2);
    CHECK(got[0] == fs[0]);
    CHECK(got[1] == fs[1]);

    const of::aggregate_stats ag{10, 1000, 2};
    framed ae([&](auto o) { return of::emit_stats_reply<of::aggregate_stats>(v, 4, 0, std::span(&ag, 1), o); });
    CHECK(*of::stats_reply::parse(ae.m)->read_entries<of::aggregate_stats>(v, [&](const auto& e) { CHECK(e == ag); }) == 1);

    of::table_stats ts;
    ts.table_id = 0;
    ts.active_count = 4;
    ts.lookup_count = 100;
    ts.matched_count = 90;
    framed te([&](auto o) { return of::emit_stats_reply<of::table_stats>(v, 5, 0, std::span(&ts, 1), o); });
    CHECK(*of::stats_reply::parse(te.m)->read_entries<of::table_stats>(v, [&](const auto& e) {
      CHECK(e.active_count == 4);
      CHECK(e.matched_count == 90);
    }) == 1);
    CHECK(te.size == (v == version::of10 ? 12u + 64 : 16u + 24));

    of::port_stats pst;
    pst.port_no = 2;
    pst.rx_packets = 1;
    pst.collisions = 12;
    framed pe([&](auto o) { return of::emit_stats_reply<of::port_stats>(v, 6, 0, std::span(&pst, 1), o); });
    CHECK(*of::stats_reply::parse(pe.m)->read_entries<of::port_stats>(v, [&](const auto& e) { CHECK(e == pst); }) == 1);
    CHECK(pe.size == (v == version::of10 ? 12u + 104 : 16u + 112));

    of::queue_stats q;
    q.port_no = 2;
    q.queue_id = 1;
    q.tx_packets = 5;
    framed qe([&](auto o) { return of::emit_stats_reply<of::queue_stats>(v, 7, 0, std::span(&q, 1), o); });
    CHECK(*of::stats_reply::parse(qe.m)->read_entries<of::queue_stats>(v, [&](const auto& e) { CHECK(e == q); }) == 1);

    // An entry cut short is an error, not a read past the end.
    of::message cut = fe.m;
    cut.bytes = fe.span().first(fe.size - 3);
    cut.h.length = static_cast<std::uint16_t>(fe.size - 3);
    CHECK(!of::stats_reply::parse(cut)->read_entries<of::flow_stats>(v, [](const auto&) {}));
  }
}

TEST_CASE("openflow: every prefix of every message parses within its bytes", "[openflow]") {
  // Each message cut at every length: the parsers return (an error or a
  // shorter value) without reading past the cut (ASan checks the bytes).
  for (version v : both) {
    std::vector<std::vector<std::uint8_t>> messages;
    auto keep = [&](auto emit) {
      framed f(emit);
      messages.emplace_back(f.bytes.begin(), f.bytes.begin() + static_cast<std::ptrdiff_t>(f.size));
    };
    of::flow_mod fm;
    fm.what = full_match_10();
    for (const of::action& a : every_action(v)) (void)fm.does.apply.push(a);
    keep([&](auto o) { return fm.emit(v, 1, o); });
    of::packet_in pi;
    pi.total_len = 4;
    const std::uint8_t four[] = {1, 2, 3, 4};
    pi.data = four;
    keep([&](auto o) { return pi.emit(v, 1, o); });
    keep([&](auto o) { return of::port_status{}.emit(v, 1, o); });
    keep([&](auto o) { return of::flow_removed{}.emit(v, 1, o); });
    of::features_reply f;
    keep([&](auto o) { return f.emit(v, 1, o); });
    of::stats_request sr;
    sr.type = of::stats_type::flow;
    keep([&](auto o) { return sr.emit(v, 1, o); });
    of::flow_stats fs;
    keep([&](auto o) { return of::emit_stats_reply<of::flow_stats>(v, 1, 0, std::span(&fs, 1), o); });
    for (const auto& whole : messages) {
      for (std::size_t n = of::header_size; n < whole.size(); ++n) {
        std::vector<std::uint8_t> cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
        uni::wire::store_be16(cut.data() + 2, static_cast<std::uint16_t>(n));
        const of::message m = *of::next_message(cut);
        of::refusal why{};
        (void)of::flow_mod::parse(m, why);
        (void)of::packet_in::parse(m);
        (void)of::packet_out::parse(m, why);
        (void)of::port_status::parse(m);
        (void)of::flow_removed::parse(m);
        (void)of::features_reply::parse(m);
        (void)of::stats_request::parse(m, why);
        if (auto r = of::stats_reply::parse(m)) (void)r->read_entries<of::flow_stats>(v, [](const auto&) {});
      }
    }
  }
  SUCCEED();
}

namespace {

// A scripted switch on the other side of a controller_session.
struct bench {
  using session = of::controller_session<>;
  std::unique_ptr<session> s = std::make_unique<session>();
  uni::time_point now{};
  version v = version::of13;

  // Every message the session has to send, framed; the output is taken.
  std::vector<std::vector<std::uint8_t>> take() {
    std::vector<std::vector<std::uint8_t>> out;
    auto o = s->output();
    while (auto m = of::next_message(o)) {
      out.emplace_back(m->bytes.begin(), m->bytes.end());
      o = o.subspan(m->h.length);
    }
    s->sent(s->output().size());
    return out;
  }
  template <class Emit>
  of::session_event feed(Emit emit) {
    framed f(emit);
    return s->on_message(f.m, now);
  }
  static std::uint8_t type(const std::vector<std::uint8_t>& m) { return m[1]; }
  static std::uint32_t xid(const std::vector<std::uint8_t>& m) { return uni::wire::load_be32(m.data() + 4); }

  // Hello in `hello_version` (with a bitmap when 1.3), then the features reply.
  void handshake(std::uint8_t hello_version, of::version_set theirs) {
    s->start(now);
    auto hello = take();
    REQUIRE(hello.size() == 1);
    CHECK(type(hello[0]) == 0);
    framed h([&](auto o) {
      if (hello_version >= 4) return of::hello::emit(theirs, 1, o);
      return of::emit_simple(static_cast<version>(hello_version), of::kind::hello, 1, o);
    });
    CHECK(s->on_message(h.m, now).what == of::session_event::type::none);
    REQUIRE(s->phase() == of::session_phase::features);
    v = s->negotiated();
    auto req = take();
    REQUIRE(req.size() == 2);  // features request, set_config
    CHECK(of::kind_of(v, type(req[0])) == of::kind::features_request);
    CHECK(of::kind_of(v, type(req[1])) == of::kind::set_config);
    of::features_reply f;
    f.datapath_id = 0x42;
    f.n_tables = 4;
    const auto ev = feed([&](auto o) { return f.emit(v, xid(req[0]), o); });
    CHECK(ev.what == of::session_event::type::ready);
    CHECK(s->datapath_id() == 0x42);
  }
};

}  // namespace

TEST_CASE("openflow session: handshake in 1.0 and 1.3, table-miss on 1.3, then packet_in", "[openflow][session]") {
  for (std::uint8_t hv : {std::uint8_t{1}, std::uint8_t{4}}) {
    bench b;
    b.handshake(hv, of::both_versions);
    CHECK(b.v == (hv == 1 ? version::of10 : version::of13));
    auto after = b.take();
    std::vector<of::kind> kinds;
    for (const auto& m : after) kinds.push_back(*of::kind_of(b.v, bench::type(m)));
    if (b.v == version::of13) {
      REQUIRE(kinds.size() == 5);
      CHECK(kinds[0] == of::kind::flow_mod);  // the table-miss entry
      CHECK(kinds[3] == of::kind::stats_request);  // port descriptions
    } else {
      REQUIRE(kinds.size() == 3);
    }
    CHECK(kinds.front() != of::kind::stats_request);
    CHECK(kinds.back() == of::kind::barrier_request);
    CHECK(b.s->outstanding() == kinds.size() - (b.v == version::of13 ? 1 : 0));
    // Replies settle their requests; a reply to nothing is counted.
    for (const auto& m : after) {
      const auto k = *of::kind_of(b.v, bench::type(m));
      if (k == of::kind::barrier_request) {
        CHECK(b.feed([&](auto o) { return of::emit_simple(b.v, of::kind::barrier_reply, bench::xid(m), o); }).what ==
              of::session_event::type::barrier_reply);
        CHECK(b.s->answered(bench::xid(m)));
      }
    }
    (void)b.feed([&](auto o) { return of::emit_simple(b.v, of::kind::barrier_reply, 999, o); });
    CHECK(b.s->counters().unmatched_replies == 1);
    of::packet_in pi;
    pi.in_port = 2;
    const std::uint8_t frame[14] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 8, 6};
    pi.total_len = sizeof frame;
    pi.data = frame;
    const auto ev = b.feed([&](auto o) { return pi.emit(b.v, 0, o); });
    CHECK(ev.what == of::session_event::type::packet_in);
    CHECK(ev.pin.in_port == 2);
    CHECK(ev.pin.data.size() == sizeof frame);
    // The application's messages go out in the negotiated version.
    of::flow_mod f;
    (void)f.does.apply.push(of::action::output_to(2));
    REQUIRE(b.s->send(f));
    auto sent = b.take();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0][0] == static_cast<std::uint8_t>(b.v));
    CHECK(of::kind_of(b.v, bench::type(sent[0])) == of::kind::flow_mod);
  }
}

TEST_CASE("openflow session: hostile switches are refused with errors and counted", "[openflow][session]") {
  bench b;
  b.handshake(4, of::both_versions);
  (void)b.take();
  const std::uint8_t ping[] = {'x'};
  (void)b.feed([&](auto o) { return of::emit_simple(b.v, of::kind::echo_request, 50, o, ping); });
  (void)b.feed([&](auto o) { return of::experimenter_msg{0x2320, 1, {}}.emit(b.v, 51, o); });
  const std::uint8_t unknown[] = {4, 99, 0, 8, 0, 0, 0, 52};
  (void)b.s->on_message(*of::next_message(unknown), b.now);
  const std::uint8_t short_pin[] = {4, 10, 0, 10, 0, 0, 0, 53, 0, 0};
  (void)b.s->on_message(*of::next_message(short_pin), b.now);
  const std::uint8_t wrong_version[] = {1, 2, 0, 8, 0, 0, 0, 54};
  (void)b.s->on_message(*of::next_message(wrong_version), b.now);
  const std::uint8_t group_mod[] = {4, 15, 0, 16, 0, 0, 0, 55, 0, 0, 0, 0, 0, 0, 0, 0};
  (void)b.s->on_message(*of::next_message(group_mod), b.now);
  const std::uint8_t meter_mod[] = {4, 29, 0, 16, 0, 0, 0, 56, 0, 0, 0, 0, 0, 0, 0, 0};
  (void)b.s->on_message(*of::next_message(meter_mod), b.now);
  const std::uint8_t packet_out_up[] = {4, 13, 0, 8, 0, 0, 0, 57};  // a controller's message, from the switch
  (void)b.s->on_message(*of::next_message(packet_out_up), b.now);
  auto out = b.take();
  REQUIRE(out.size() == 8);
  CHECK(bench::type(out[0]) == 3);  // echo reply, same xid and body
  CHECK(bench::xid(out[0]) == 50);
  CHECK(out[0].size() == 9);
  const of::error_code expected[] = {{1, 3}, {1, 1}, {1, 6}, {1, 0}, {6, 3}, {12, 10}, {1, 1}};
  for (std::size_t i = 0; i < 7; ++i) {
    INFO("refusal " << i);
    CHECK(bench::type(out[i + 1]) == 1);
    CHECK(bench::xid(out[i + 1]) == 51 + i);
    CHECK(of::error_code{uni::wire::load_be16(out[i + 1].data() + 8), uni::wire::load_be16(out[i + 1].data() + 10)} ==
          expected[i]);
  }
  const auto& n = b.s->counters();
  CHECK(n.experimenter == 1);
  CHECK(n.bad_type == 2);
  CHECK(n.bad_length == 1);
  CHECK(n.bad_version == 1);
  CHECK(n.groups_meters == 2);
  CHECK(n.echo_answered == 1);
  CHECK(b.s->phase() == of::session_phase::ready);
}

TEST_CASE("openflow session: no common version ends in HELLO_FAILED, a silent switch is probed, then dropped",
          "[openflow][session]") {
  {
    bench b;
    b.s = std::make_unique<bench::session>(of::version_set{}.add(version::of13));
    b.s->start(b.now);
    (void)b.take();
    const auto ev = b.feed([](auto o) { return of::emit_simple(version::of10, of::kind::hello, 1, o); });
    CHECK(ev.what == of::session_event::type::close);
    auto out = b.take();
    REQUIRE(out.size() == 1);
    CHECK(bench::type(out[0]) == 1);
    CHECK(uni::wire::load_be16(out[0].data() + 8) == 0);  // HELLO_FAILED
    CHECK(uni::wire::load_be16(out[0].data() + 10) == 0);  // INCOMPATIBLE
  }
  {
    bench b;
    b.handshake(4, of::both_versions);
    (void)b.take();
    b.now += std::chrono::seconds(4);
    CHECK(b.s->tick(b.now).what == of::session_event::type::none);
    CHECK(b.take().empty());
    b.now += std::chrono::seconds(2);
    CHECK(b.s->tick(b.now).what == of::session_event::type::none);
    auto probe = b.take();
    REQUIRE(probe.size() == 1);
    CHECK(bench::type(probe[0]) == 2);  // echo request
    b.now += std::chrono::seconds(15);
    CHECK(b.s->tick(b.now).what == of::session_event::type::close);
  }
  {
    bench b;  // a switch that never says hello is dropped at the handshake timeout
    b.s->start(b.now);
    b.now += std::chrono::seconds(11);
    CHECK(b.s->tick(b.now).what == of::session_event::type::close);
  }
}

// ---- the switch ---------------------------------------------------------------------

namespace {

struct small_limits : of::switch_limits {
  static constexpr std::size_t max_ports = 3;
  static constexpr std::size_t tables = 3;
  static constexpr std::size_t table_size = 4;
  static constexpr std::size_t buffers = 4;
  static constexpr std::size_t connections = 2;
  static constexpr std::size_t output_capacity = 8192;
  static constexpr std::size_t mac_buckets = 64;
};

// A UDP/IPv4 frame of `size` bytes from mac_a/10.0.0.1:1000 to mac_b/10.0.0.2:2000, checksums valid.
std::vector<std::uint8_t> udp_frame(std::size_t size = 200, std::uint8_t ttl = 64) {
  std::vector<std::uint8_t> f(size, 0x5a);
  mac_b.store(f.data());
  mac_a.store(f.data() + 6);
  uni::wire::store_be16(&f[12], 0x0800);
  std::uint8_t* ip = &f[14];
  const std::uint8_t head[] = {0x45, 0, 0, 0, 0, 1, 0, 0, ttl, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
  std::memcpy(ip, head, 20);
  uni::wire::store_be16(ip + 2, static_cast<std::uint16_t>(size - 14));
  uni::wire::store_be16(ip + 10, uni::internet_checksum({ip, 20}));
  std::uint8_t* udp = ip + 20;
  uni::wire::store_be16(udp, 1000);
  uni::wire::store_be16(udp + 2, 2000);
  uni::wire::store_be16(udp + 4, static_cast<std::uint16_t>(size - 34));
  uni::wire::store_be16(udp + 6, 0);
  uni::checksum_accumulator acc;
  acc.add({ip + 12, 8});
  const std::uint8_t pseudo[] = {0, 17, static_cast<std::uint8_t>((size - 34) >> 8), static_cast<std::uint8_t>(size - 34)};
  acc.add(pseudo);
  acc.add({udp, size - 34});
  uni::wire::store_be16(udp + 6, acc.finish());
  return f;
}
bool checksums_valid(const std::vector<std::uint8_t>& f) {
  const std::uint8_t* ip = &f[14];
  if (uni::internet_checksum({ip, 20}) != 0) return false;
  uni::checksum_accumulator acc;
  acc.add({ip + 12, 8});
  const std::size_t n = f.size() - 34;
  const std::uint8_t pseudo[] = {0, 17, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
  acc.add(pseudo);
  acc.add({ip + 20, n});
  return acc.finish() == 0;
}

// A datapath with three recording ports, a clock and a controller on connection 0.
struct rig {
  std::unique_ptr<uni::static_page_pool<64>> pool = std::make_unique<uni::static_page_pool<64>>();
  std::unique_ptr<of::datapath<small_limits>> dp;
  struct port_log {
    std::vector<std::vector<std::uint8_t>> sent;
    uni::result<void> operator()(std::span<const uni::view> frame) {
      std::vector<std::uint8_t> f;
      for (const uni::view& v : frame) f.insert(f.end(), v.data(), v.data() + v.size());
      sent.push_back(std::move(f));
      return {};
    }
  };
  std::array<port_log, 3> ports;
  uni::time_point now{};
  version v = version::of10;

  explicit rig(of::fail_mode mode = of::fail_mode::secure) {
    of::switch_options o;
    o.datapath_id = 0x42;
    o.on_failure = mode;
    dp = std::make_unique<of::datapath<small_limits>>(*pool, o);
    for (std::size_t i = 0; i < 3; ++i) REQUIRE(dp->add_port("p", mac_a, ports[i]));
  }
  // Connects the controller in version `ver` (hello exchanged, output emptied).
  void connect(version ver, std::size_t conn = 0) {
    v = ver;
    dp->connected(conn, now);
    feed([&](auto o) { return of::hello::emit(of::version_set{}.add(ver), 1, o); }, conn);
    REQUIRE(dp->conn(conn).ready());
    REQUIRE(dp->conn(conn).negotiated() == ver);
    (void)take(conn);
  }
  template <class Emit>
  void feed(Emit emit, std::size_t conn = 0) {
    buffer b{};
    auto n = emit(std::span<std::uint8_t>(b));
    REQUIRE(n);
    auto m = of::next_message(std::span<const std::uint8_t>(b.data(), *n));
    REQUIRE(m);
    dp->on_message(conn, *m, now);
  }
  void feed_bytes(std::vector<std::uint8_t> bytes, std::size_t conn = 0) {
    auto m = of::next_message(std::span<const std::uint8_t>(bytes));
    REQUIRE(m);
    dp->on_message(conn, *m, now);
  }
  // Every message the switch queued on `conn`, each as bytes.
  std::vector<std::vector<std::uint8_t>> take(std::size_t conn = 0) {
    std::vector<std::vector<std::uint8_t>> out;
    auto bytes = dp->conn(conn).output();
    while (!bytes.empty()) {
      auto m = of::next_message(bytes);
      REQUIRE(m);
      out.emplace_back(m->bytes.begin(), m->bytes.end());
      bytes = bytes.subspan(m->h.length);
    }
    dp->conn(conn).sent(dp->conn(conn).output().size());
    return out;
  }
  void frame_in(std::uint32_t port, const std::vector<std::uint8_t>& f) {
    auto page = pool->allocate();
    REQUIRE(page);
    uni::view v = page->tail(64).head(f.size());
    std::memcpy(v.data(), f.data(), f.size());
    dp->receive(port, std::move(v), now);
  }
  void flow(of::flow_mod f) {
    feed([&](auto o) { return f.emit(v, 7, o); });
  }
  static of::message msg(const std::vector<std::uint8_t>& b) { return *of::next_message(std::span<const std::uint8_t>(b)); }
  static std::uint8_t type(const std::vector<std::uint8_t>& b) { return b[1]; }
  static of::error_code error_of(const std::vector<std::uint8_t>& b) {
    return {uni::wire::load_be16(&b[8]), uni::wire::load_be16(&b[10])};
  }
};

of::flow_mod forward(std::uint32_t in, std::uint32_t out, std::uint16_t priority = 10) {
  of::flow_mod f;
  f.what = of::match{}.with_in_port(in);
  f.priority = priority;
  (void)f.does.apply.push(of::action::output_to(out));
  return f;
}

}  // namespace

TEST_CASE("openflow switch: a frame's key, and which flows cover it (1.0 §3.4)", "[openflow][switch]") {
  const auto f = udp_frame();
  of::frame_layout at;
  const of::match k = of::packet_key(f, 2, at);
  CHECK(at.l3 == 14);
  CHECK(at.l4 == 34);
  CHECK(k.in_port_v == 2);
  CHECK(k.eth_src_v == mac_a);
  CHECK(k.eth_type_v == 0x0800);
  CHECK(k.vlan_vid_v == of::vlan_none);
  CHECK(k.ip_proto_v == 17);
  CHECK(k.ipv4_src_v == 0x0a000001);
  CHECK(k.tp_src_v == 1000);
  CHECK(k.tp_dst_v == 2000);
  of::match m = of::match{}.with_eth_type(0x0800).with_ip_proto(17).with_tp_dst(2000);
  CHECK(of::covers(m, k));
  m.fields |= of::match::ipv4_dst;
  m.ipv4_dst_v = 0x0a000000;
  m.ipv4_dst_mask = 0xffffff00;
  CHECK(of::covers(m, k));
  m.ipv4_dst_v = 0x0b000000;
  CHECK_FALSE(of::covers(m, k));
  CHECK(of::covers(of::match{}, k));  // everything wildcarded
  // within: an entry at least as specific as the request.
  const of::match wide = of::match{}.with_eth_type(0x0800);
  const of::match narrow = of::match{}.with_eth_type(0x0800).with_in_port(1);
  CHECK(of::within(narrow, wide));
  CHECK_FALSE(of::within(wide, narrow));
  CHECK(of::within(narrow, of::match{}));
  // A tagged ARP frame: VID and PCP from the tag, the opcode and addresses in the IP fields.
  std::vector<std::uint8_t> arp(46, 0);
  uni::mac_address::broadcast().store(arp.data());
  mac_a.store(arp.data() + 6);
  const std::uint8_t tag[] = {0x81, 0x00, 0xa0, 0x2a, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1};
  std::memcpy(&arp[12], tag, sizeof tag);
  uni::wire::store_be32(&arp[18 + 14], 0x0a000001);
  uni::wire::store_be32(&arp[18 + 24], 0x0a000002);
  const of::match a = of::packet_key(arp, 1, at);
  CHECK(at.vlan);
  CHECK(a.vlan_vid_v == 42);
  CHECK(a.vlan_pcp_v == 5);
  CHECK(a.eth_type_v == 0x0806);
  CHECK(a.ip_proto_v == 1);
  CHECK(a.ipv4_dst_v == 0x0a000002);
  // Short and odd frames have keys too, read within their bytes.
  for (std::size_t n = 0; n < f.size(); ++n) (void)of::packet_key(std::span<const std::uint8_t>(f.data(), n), 1, at);
}

TEST_CASE("openflow switch: flow tables rank by priority, modify and delete strictly or not, filter by out_port",
          "[openflow][switch]") {
  of::flow_table<8> t;
  of::refusal why{};
  const uni::time_point now{};
  CHECK(t.apply(forward(1, 2, 10), 10, 0, now, {}, why));
  CHECK(t.apply(forward(1, 3, 20), 20, 0, now, {}, why));
  of::flow_mod any = forward(0, 1, 5);
  any.what = of::match{};
  CHECK(t.apply(any, 5, 0, now, {}, why));
  REQUIRE(t.size() == 3);
  of::frame_layout at;
  const auto f = udp_frame();
  const of::flow_entry* e = t.lookup(of::packet_key(f, 1, at), f.size(), now);
  REQUIRE(e);
  CHECK(e->priority == 20);
  CHECK(t.lookup(of::packet_key(f, 2, at), f.size(), now)->priority == 5);
  CHECK(t.lookups() == 2);
  CHECK(t.matched() == 2);
  // The same match and priority replaces; counters stay.
  CHECK(t.apply(forward(1, 3, 20), 20, 0, now, {}, why));
  CHECK(t.size() == 3);
  CHECK(t.entries()[0].packets == 1);
  // check_overlap refuses an entry of one priority some frame would share.
  of::flow_mod overlap = forward(1, 2, 5);
  overlap.flags = of::flow_flag::check_overlap;
  CHECK_FALSE(t.apply(overlap, 5, 0, now, {}, why));
  CHECK(why == of::refusal::overlap);
  // Modify (non-strict) reaches every entry within its match; strict only the exact one.
  of::flow_mod mod = forward(1, 3);
  mod.command = of::flow_command::modify;
  mod.does.apply.items[0].port = 2;
  CHECK(t.apply(mod, 0, 0, now, {}, why));
  CHECK(t.entries()[0].does.apply.items[0].port == 2);
  CHECK(t.entries()[1].does.apply.items[0].port == 2);
  CHECK(t.entries()[2].does.apply.items[0].port == 1);  // wildcard entry: not within in_port=1
  // Delete with out_port: only entries that output there.
  of::flow_mod del;
  del.command = of::flow_command::remove;
  del.out_port = 1;
  CHECK(t.apply(del, 0, 0, now, {}, why));
  CHECK(t.size() == 2);
  del.command = of::flow_command::remove_strict;
  del.out_port = of::port::any;
  del.what = of::match{}.with_in_port(1);
  del.priority = 10;
  CHECK(t.apply(del, 10, 0, now, {}, why));
  REQUIRE(t.size() == 1);
  CHECK(t.entries()[0].priority == 20);
  // 1.0: a modify that reaches nothing adds; 1.3: nothing happens.
  of::flow_mod lone = forward(3, 1, 7);
  lone.command = of::flow_command::modify_strict;
  CHECK(t.apply(lone, 7, 0, now, {}, why, false));
  CHECK(t.size() == 1);
  CHECK(t.apply(lone, 7, 0, now, {}, why, true));
  CHECK(t.size() == 2);
}

TEST_CASE("openflow switch: a full table answers ALL_TABLES_FULL (1.0) and TABLE_FULL (1.3)", "[openflow][switch]") {
  for (version v : both) {
    rig r;
    r.connect(v);
    for (std::uint16_t i = 0; i < small_limits::table_size; ++i) r.flow(forward(1, 2, static_cast<std::uint16_t>(100 + i)));
    CHECK(r.take().empty());
    r.flow(forward(1, 2, 1));
    const auto out = r.take();
    REQUIRE(out.size() == 1);
    CHECK(rig::type(out[0]) == 1);
    CHECK(rig::error_of(out[0]) == (v == version::of10 ? of::error_code{3, 0} : of::error_code{5, 1}));
    CHECK(r.dp->flows(0).size() == small_limits::table_size);
    CHECK(r.dp->counters().flow_mods_refused == 1);
  }
}

TEST_CASE("openflow switch: flows forward and count, flow, aggregate, port and table statistics in both versions",
          "[openflow][switch]") {
  for (version v : both) {
    rig r;
    r.connect(v);
    r.feed([&](auto o) { return of::emit_simple(v, of::kind::features_request, 3, o); });
    auto out = r.take();
    REQUIRE(out.size() == 1);
    auto fr = of::features_reply::parse(rig::msg(out[0]));
    REQUIRE(fr);
    CHECK(fr->datapath_id == 0x42);
    CHECK(fr->n_tables == small_limits::tables);
    CHECK(fr->n_ports == (v == version::of10 ? 3u : 0u));
    r.flow(forward(1, 2));
    const auto f = udp_frame(150);
    for (int i = 0; i < 3; ++i) r.frame_in(1, f);
    REQUIRE(r.ports[1].sent.size() == 3);
    CHECK(r.ports[1].sent[0] == f);
    CHECK(r.ports[0].sent.empty());
    CHECK(r.ports[2].sent.empty());
    of::stats_request s;
    s.type = of::stats_type::flow;
    r.feed([&](auto o) { return s.emit(v, 9, o); });
    out = r.take();
    REQUIRE(out.size() == 1);
    auto rep = of::stats_reply::parse(rig::msg(out[0]));
    REQUIRE(rep);
    std::vector<of::flow_stats> flows;
    REQUIRE(rep->read_entries<of::flow_stats>(v, [&](const of::flow_stats& e) { flows.push_back(e); }));
    REQUIRE(flows.size() == 1);
    CHECK(flows[0].packet_count == 3);
    CHECK(flows[0].byte_count == 450);
    s.type = of::stats_type::aggregate;
    r.feed([&](auto o) { return s.emit(v, 10, o); });
    out = r.take();
    rep = of::stats_reply::parse(rig::msg(out[0]));
    REQUIRE(rep);
    REQUIRE(rep->read_entries<of::aggregate_stats>(v, [&](const of::aggregate_stats& a) {
      CHECK(a.flow_count == 1);
      CHECK(a.packet_count == 3);
    }));
    s.type = of::stats_type::port;
    r.feed([&](auto o) { return s.emit(v, 11, o); });
    out = r.take();
    rep = of::stats_reply::parse(rig::msg(out[0]));
    std::vector<of::port_stats> ports;
    REQUIRE(rep->read_entries<of::port_stats>(v, [&](const of::port_stats& p) { ports.push_back(p); }));
    REQUIRE(ports.size() == 3);
    CHECK(ports[0].rx_packets == 3);
    CHECK(ports[1].tx_packets == 3);
    CHECK(ports[1].tx_bytes == 450);
    s.type = of::stats_type::table;
    r.feed([&](auto o) { return s.emit(v, 12, o); });
    out = r.take();
    rep = of::stats_reply::parse(rig::msg(out[0]));
    std::size_t tables = 0;
    REQUIRE(rep->read_entries<of::table_stats>(v, [&](const of::table_stats& t) {
      if (t.table_id == 0) CHECK(t.active_count == 1);
      if (t.table_id == 0) CHECK(t.matched_count == 3);
      ++tables;
    }));
    CHECK(tables == small_limits::tables);
    r.feed([&](auto o) { return of::emit_simple(v, of::kind::barrier_request, 13, o); });
    out = r.take();
    REQUIRE(out.size() == 1);
    CHECK(uni::wire::load_be32(&out[0][4]) == 13);
  }
}

TEST_CASE("openflow switch: a miss is a packet_in with a buffer on 1.0, dropped on 1.3 until a table-miss entry",
          "[openflow][switch]") {
  {
    rig r;
    r.connect(version::of10);
    const auto f = udp_frame(300);
    r.frame_in(1, f);
    auto out = r.take();
    REQUIRE(out.size() == 1);
    auto pi = of::packet_in::parse(rig::msg(out[0]));
    REQUIRE(pi);
    CHECK(pi->reason == of::packet_in_reason::no_match);
    CHECK(pi->in_port == 1);
    CHECK(pi->total_len == 300);
    CHECK(pi->data.size() == 128);  // miss_send_len
    REQUIRE(pi->buffer_id != of::no_buffer);
    of::packet_out po;
    po.buffer_id = pi->buffer_id;
    po.in_port = 1;
    (void)po.actions.push(of::action::output_to(of::port::flood));
    r.feed([&](auto o) { return po.emit(version::of10, 5, o); });
    CHECK(r.take().empty());
    REQUIRE(r.ports[1].sent.size() == 1);
    REQUIRE(r.ports[2].sent.size() == 1);
    CHECK(r.ports[1].sent[0] == f);  // the whole frame, from the buffer
    CHECK(r.ports[0].sent.empty());
    r.feed([&](auto o) { return po.emit(version::of10, 6, o); });  // a buffer is used once
    out = r.take();
    REQUIRE(out.size() == 1);
    CHECK(rig::error_of(out[0]) == of::error_code{1, 8});  // BUFFER_UNKNOWN
    // set_config: whole frames from now on; packet_out with data goes out as given.
    const of::switch_config cfg{0, of::controller_no_buffer};
    r.feed([&](auto o) { return cfg.emit(version::of10, of::kind::set_config, 7, o); });
    r.frame_in(2, f);
    out = r.take();
    pi = of::packet_in::parse(rig::msg(out[0]));
    CHECK(pi->buffer_id == of::no_buffer);
    CHECK(pi->data.size() == 300);
    of::packet_out data;
    data.data = f;
    (void)data.actions.push(of::action::output_to(3));
    r.feed([&](auto o) { return data.emit(version::of10, 8, o); });
    REQUIRE(r.ports[2].sent.size() == 2);
    CHECK(r.ports[2].sent[1] == f);
  }
  {
    rig r;
    r.connect(version::of13);
    r.frame_in(1, udp_frame());
    CHECK(r.take().empty());
    CHECK(r.dp->counters().misses == 1);
    r.flow(of::table_miss());
    r.frame_in(1, udp_frame());
    auto out = r.take();
    REQUIRE(out.size() == 1);
    auto pi = of::packet_in::parse(rig::msg(out[0]));
    REQUIRE(pi);
    CHECK(pi->reason == of::packet_in_reason::no_match);
    CHECK(pi->buffer_id == of::no_buffer);
    CHECK(pi->data.size() == 200);
  }
}

TEST_CASE("openflow switch: 1.3's pipeline: goto_table, write_metadata, the action set", "[openflow][switch]") {
  rig r;
  r.connect(version::of13);
  of::flow_mod first = forward(1, 0);
  first.does.apply.count = 0;
  first.does.goto_table = 2;
  first.does.has_metadata = true;
  first.does.metadata = 0x5;
  first.does.metadata_mask = 0xff;
  first.does.has_write = true;
  (void)first.does.write.push(of::action::output_to(2));
  r.flow(first);
  of::flow_mod second;
  second.table_id = 2;
  second.what.fields = of::match::metadata;
  second.what.metadata_v = 0x5;
  second.what.metadata_mask = 0xff;
  (void)second.does.apply.push(of::action::output_to(3));
  r.flow(second);
  CHECK(r.take().empty());
  r.frame_in(1, udp_frame());
  CHECK(r.ports[2].sent.size() == 1);  // applied in table 2
  CHECK(r.ports[1].sent.size() == 1);  // the action set, at the end
  // goto an earlier (or the same) table, or one past the last, is refused.
  of::flow_mod back = forward(1, 2);
  back.table_id = 2;
  back.does.goto_table = 1;
  r.flow(back);
  auto out = r.take();
  REQUIRE(out.size() == 1);
  CHECK(rig::error_of(out[0]) == of::error_code{5, 2});
  back.table_id = 5;
  back.does.goto_table = -1;
  r.flow(back);
  out = r.take();
  REQUIRE(out.size() == 1);
  CHECK(rig::error_of(out[0]) == of::error_code{5, 2});
}

TEST_CASE("openflow switch: rewrites keep IPv4 and UDP checksums, tags are pushed and popped", "[openflow][switch]") {
  using T = of::action::type;
  for (version v : both) {
    rig r;
    r.connect(v);
    of::flow_mod f = forward(1, 2);
    auto act = [](T t, std::uint32_t value) {
      of::action a;
      a.t = t;
      a.value = value;
      a.ip_proto = 17;
      return a;
    };
    f.does.apply.count = 0;
    (void)f.does.apply.push(of::action::output_to(3));  // the original goes out first, unchanged
    (void)f.does.apply.push(act(T::set_ipv4_dst, 0xc0a80009));
    (void)f.does.apply.push(act(T::set_tp_dst, 53));
    (void)f.does.apply.push(act(T::set_ip_dscp, 46));
    (void)f.does.apply.push(act(T::set_vlan_vid, 7));
    (void)f.does.apply.push(of::action::output_to(2));
    r.flow(f);
    CHECK(r.take().empty());
    const auto in = udp_frame();
    r.frame_in(1, in);
    REQUIRE(r.ports[2].sent.size() == 1);
    CHECK(r.ports[2].sent[0] == in);
    REQUIRE(r.ports[1].sent.size() == 1);
    auto out = r.ports[1].sent[0];
    REQUIRE(out.size() == in.size() + 4);
    CHECK(uni::wire::load_be16(&out[12]) == 0x8100);
    CHECK((uni::wire::load_be16(&out[14]) & 0x0fff) == 7);
    out.erase(out.begin() + 12, out.begin() + 16);  // the frame under the tag
    CHECK(uni::wire::load_be32(&out[30]) == 0xc0a80009);
    CHECK(uni::wire::load_be16(&out[36]) == 53);
    CHECK(out[15] >> 2 == 46);
    CHECK(checksums_valid(out));
  }
  rig r;  // dec_nw_ttl drops a frame whose TTL runs out
  r.connect(version::of13);
  of::flow_mod f = forward(1, 2);
  f.does.apply.count = 0;
  of::action dec;
  dec.t = T::dec_nw_ttl;
  (void)f.does.apply.push(dec);
  (void)f.does.apply.push(of::action::output_to(2));
  r.flow(f);
  r.frame_in(1, udp_frame(200, 1));
  CHECK(r.ports[1].sent.empty());
  r.frame_in(1, udp_frame(200, 9));
  REQUIRE(r.ports[1].sent.size() == 1);
  CHECK(r.ports[1].sent[0][22] == 8);
  CHECK(checksums_valid(r.ports[1].sent[0]));
}

TEST_CASE("openflow switch: idle and hard timeouts expire flows, flow_removed when asked", "[openflow][switch]") {
  for (version v : both) {
    rig r;
    r.connect(v);
    of::flow_mod idle = forward(1, 2, 30);
    idle.idle_timeout = 5;
    idle.flags = of::flow_flag::send_flow_removed;
    of::flow_mod hard = forward(2, 1, 40);
    hard.hard_timeout = 8;
    hard.flags = of::flow_flag::send_flow_removed;
    r.flow(idle);
    r.flow(hard);
    r.flow(forward(3, 1, 50));  // no timeout, no message
    CHECK(r.dp->next_tick() <= r.now + std::chrono::seconds(5));
    r.now += std::chrono::seconds(4);
    r.frame_in(1, udp_frame());  // keeps the idle one alive
    r.dp->tick(r.now);
    CHECK(r.dp->flows(0).size() == 3);
    r.now += std::chrono::seconds(4);
    r.dp->tick(r.now);
    auto out = r.take();
    std::vector<of::flow_removed> gone;
    for (const auto& m : out)
      if (rig::type(m) == 11) gone.push_back(*of::flow_removed::parse(rig::msg(m)));
    REQUIRE(gone.size() == 1);
    CHECK(gone[0].reason == of::removed_reason::hard_timeout);
    CHECK(gone[0].priority == 40);
    r.now += std::chrono::seconds(5);
    r.dp->tick(r.now);
    gone.clear();
    for (const auto& m : r.take())
      if (rig::type(m) == 11) gone.push_back(*of::flow_removed::parse(rig::msg(m)));
    REQUIRE(gone.size() == 1);
    CHECK(gone[0].reason == of::removed_reason::idle_timeout);
    CHECK(gone[0].packet_count == 1);
    CHECK(r.dp->flows(0).size() == 1);
    // A delete tells too, with its reason.
    of::flow_mod keep = forward(2, 3, 60);
    keep.flags = of::flow_flag::send_flow_removed;
    r.flow(keep);
    of::flow_mod del;
    del.command = of::flow_command::remove;
    r.flow(del);
    out = r.take();
    REQUIRE(out.size() == 1);
    CHECK(of::flow_removed::parse(rig::msg(out[0]))->reason == of::removed_reason::remove);
    CHECK(r.dp->flows(0).size() == 0);
  }
}

TEST_CASE("openflow switch: hostile controllers get errors, bounds hold, and it is all counted", "[openflow][switch]") {
  for (version v : both) {
    rig r;
    r.connect(v);
    // A flow_mod cut short, an unknown type, an experimenter message, another version, groups.
    buffer b{};
    auto n = forward(1, 2).emit(v, 1, b);
    REQUIRE(n);
    std::vector<std::uint8_t> cut(b.begin(), b.begin() + 28);  // its fixed part cut short
    uni::wire::store_be16(&cut[2], static_cast<std::uint16_t>(cut.size()));
    r.feed_bytes(cut);
    r.feed_bytes({static_cast<std::uint8_t>(v), 99, 0, 8, 0, 0, 0, 2});
    r.feed([&](auto o) { return of::experimenter_msg{0x2320, 0, {}}.emit(v, 3, o); });
    r.feed_bytes({v == version::of10 ? std::uint8_t{4} : std::uint8_t{1}, 2, 0, 8, 0, 0, 0, 4});
    // 1.3: a match field of another OXM class (Nicira's); 1.0: a command past delete_strict.
    n = forward(1, 2).emit(v, 5, b);
    std::vector<std::uint8_t> odd(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(*n));
    if (v == version::of13) uni::wire::store_be16(&odd[52], 0x0001);
    else uni::wire::store_be16(&odd[56], 9);
    r.feed_bytes(odd);
    of::flow_mod nowhere = forward(1, 9);
    r.flow(nowhere);
    const auto out = r.take();
    REQUIRE(out.size() == 6);
    CHECK(rig::error_of(out[0]) == of::code_of(v, of::refusal::bad_len));
    CHECK(rig::error_of(out[1]) == of::code_of(v, of::refusal::bad_type));
    CHECK(rig::error_of(out[2]) == of::code_of(v, of::refusal::bad_experimenter));
    CHECK(rig::error_of(out[3]) == of::code_of(v, of::refusal::bad_version));
    CHECK(rig::error_of(out[4]) == of::code_of(v, v == version::of13 ? of::refusal::bad_match_field : of::refusal::bad_command));
    CHECK(rig::error_of(out[5]) == of::code_of(v, of::refusal::bad_out_port));
    CHECK(r.dp->conn(0).counters().refused == 6);
    CHECK(r.dp->flows(0).size() == 0);
    // A flood of misses: the controller's output never holds more than its bound; the rest is counted.
    const of::switch_config cfg{0, of::controller_no_buffer};
    r.feed([&](auto o) { return cfg.emit(v, of::kind::set_config, 7, o); });
    if (v == version::of13) r.flow(of::table_miss());
    for (int i = 0; i < 200; ++i) r.frame_in(1, udp_frame(1000));
    CHECK(r.dp->conn(0).output().size() <= small_limits::output_capacity);
    CHECK(r.dp->counters().packet_ins_lost > 0);
    CHECK(r.dp->counters().packet_ins + r.dp->counters().packet_ins_lost == 200);
    CHECK(r.dp->conn(0).counters().output_full == r.dp->counters().packet_ins_lost);
  }
  {
    rig r;  // no groups and no meters: 1.3 refuses each with its own error; 1.0 has neither message
    r.connect(version::of13);
    r.feed_bytes({4, 15, 0, 16, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0});  // group_mod
    r.feed_bytes({4, 29, 0, 16, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0});  // meter_mod
    auto out = r.take();
    REQUIRE(out.size() == 2);
    CHECK(rig::error_of(out[0]) == of::error_code{6, 3});    // GROUP_MOD_FAILED, OUT_OF_GROUPS
    CHECK(rig::error_of(out[1]) == of::error_code{12, 10});  // METER_MOD_FAILED, OUT_OF_METERS
    rig old;
    old.connect(version::of10);
    old.feed_bytes({1, 29, 0, 16, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0});
    out = old.take();
    REQUIRE(out.size() == 1);
    CHECK(rig::error_of(out[0]) == of::error_code{1, 1});  // BAD_REQUEST, BAD_TYPE
    CHECK(r.dp->flows(0).size() == 0);
  }
  {
    rig r;  // a first message that is not a hello closes; no common version is HELLO_FAILED
    r.dp->connected(0, r.now);
    (void)r.take();
    r.feed([](auto o) { return of::emit_simple(version::of10, of::kind::features_request, 1, o); });
    CHECK(r.dp->conn(0).phase() == of::connection_phase::closed);
    r.dp->connected(1, r.now);
    (void)r.take(1);
    r.feed([](auto o) { return of::hello::emit(of::version_set{}.add(static_cast<version>(2)), 1, o); }, 1);
    CHECK(r.dp->conn(1).phase() == of::connection_phase::closed);
    const auto out = r.take(1);
    REQUIRE(out.size() == 1);
    CHECK(rig::error_of(out[0]) == of::error_code{0, 0});
  }
  {
    rig r;  // a silent controller is probed, then given up
    r.connect(version::of13);
    r.now += std::chrono::seconds(6);
    r.dp->tick(r.now);
    const auto out = r.take();
    REQUIRE(out.size() == 1);
    CHECK(rig::type(out[0]) == 2);
    r.now += std::chrono::seconds(16);
    r.dp->tick(r.now);
    CHECK(r.dp->conn(0).phase() == of::connection_phase::closed);
  }
}

TEST_CASE("openflow switch: fail-standalone forwards as a learning bridge while no controller is connected",
          "[openflow][switch]") {
  rig r(of::fail_mode::standalone);
  auto to_b = udp_frame();
  r.frame_in(1, to_b);  // mac_b unknown: flooded
  CHECK(r.ports[1].sent.size() == 1);
  CHECK(r.ports[2].sent.size() == 1);
  auto to_a = udp_frame();
  mac_a.store(to_a.data());
  mac_b.store(to_a.data() + 6);
  r.frame_in(2, to_a);  // mac_a learned behind port 1
  CHECK(r.ports[0].sent.size() == 1);
  CHECK(r.ports[2].sent.size() == 1);
  r.frame_in(1, to_b);  // mac_b learned behind port 2
  CHECK(r.ports[1].sent.size() == 2);
  CHECK(r.ports[2].sent.size() == 1);
  CHECK(r.dp->counters().standalone == 3);
  r.connect(version::of10);  // a controller: the flow tables again (a miss goes up)
  r.frame_in(1, to_b);
  CHECK(r.dp->counters().standalone == 3);
  CHECK(r.take().size() == 1);
  rig secure;  // fail-secure: no controller, no flows, nothing forwarded
  secure.frame_in(1, to_b);
  CHECK(secure.ports[1].sent.empty());
  CHECK(secure.dp->counters().misses == 1);
}

TEST_CASE("openflow switch: the LOCAL port is listed, floods, matches in_port=LOCAL and counts, in both versions",
          "[openflow][switch]") {
  for (version v : both) {
    rig r;
    rig::port_log local;
    REQUIRE(r.dp->add_local("br0", mac_b, local));
    CHECK(r.dp->add_local("br0", mac_b, local).err() == uni::error::in_use);
    r.connect(v);
    // 1.0 lists ports in features_reply, 1.3 in port_desc: four, LOCAL last.
    std::vector<of::port_desc> listed;
    if (v == version::of10) {
      r.feed([&](auto o) { return of::emit_simple(v, of::kind::features_request, 3, o); });
      const auto out = r.take();
      auto fr = of::features_reply::parse(rig::msg(out[0]));
      REQUIRE(fr);
      for (std::size_t i = 0; i < fr->n_ports; ++i) listed.push_back(fr->ports[i]);
    } else {
      of::stats_request s;
      s.type = of::stats_type::port_desc;
      r.feed([&](auto o) { return s.emit(v, 4, o); });
      const auto out = r.take();
      auto rep = of::stats_reply::parse(rig::msg(out[0]));
      REQUIRE(rep);
      REQUIRE(rep->read_entries<of::port_desc_entry>(v, [&](const of::port_desc_entry& e) { listed.push_back(e.desc); }));
    }
    REQUIRE(listed.size() == 4);
    CHECK(listed[3].port_no == of::port::local);
    CHECK(listed[3].hw_addr == mac_b);
    CHECK(std::string_view(listed[3].name) == "br0");

    const auto f = udp_frame(120);
    r.flow(forward(1, of::port::local));
    r.flow(forward(of::port::local, 2));
    r.frame_in(1, f);
    REQUIRE(local.sent.size() == 1);
    CHECK(local.sent[0] == f);
    r.frame_in(of::port::local, f);  // what the switch's own stack sends
    REQUIRE(r.ports[1].sent.size() == 1);
    CHECK(r.ports[0].sent.empty());
    CHECK(r.dp->port_counters(of::port::local).tx_packets == 1);
    CHECK(r.dp->port_counters(of::port::local).rx_packets == 1);

    // FLOOD reaches LOCAL too, never the port it came in by.
    of::flow_mod flood = forward(3, of::port::flood);
    r.flow(flood);
    r.frame_in(3, f);
    CHECK(local.sent.size() == 2);
    CHECK(r.ports[0].sent.size() == 1);
    CHECK(r.ports[1].sent.size() == 2);
    CHECK(r.ports[2].sent.empty());

    // Port statistics for LOCAL alone.
    of::stats_request s;
    s.type = of::stats_type::port;
    s.out_port = of::port::local;
    r.feed([&](auto o) { return s.emit(v, 5, o); });
    const auto stats = r.take();  // kept: the reply views its bytes
    auto rep = of::stats_reply::parse(rig::msg(stats[0]));
    REQUIRE(rep);
    std::vector<of::port_stats> ps;
    REQUIRE(rep->read_entries<of::port_stats>(v, [&](const of::port_stats& p) { ps.push_back(p); }));
    REQUIRE(ps.size() == 1);
    CHECK(ps[0].port_no == of::port::local);
    CHECK(ps[0].tx_packets == 2);
  }
  rig no_local;  // without add_local, LOCAL is no port: flows naming it are refused
  no_local.connect(version::of13);
  no_local.flow(forward(1, of::port::local));
  auto out = no_local.take();
  REQUIRE(out.size() == 1);
  CHECK(rig::type(out[0]) == 1);  // OFPT_ERROR
}

TEST_CASE("openflow switch: local_port carries a stack's frames into the datapath and back, never re-entering the stack",
          "[openflow][switch]") {
  uni::static_page_pool<16> pool;
  of::local_port dev(pool, mac_a);
  std::vector<std::vector<std::uint8_t>> into_datapath;
  int in_stack = 0, deepest = 0, answers = 0;
  // A stack that answers every frame it receives (once per frame it sent first).
  auto stack = [&](uni::view frame) {
    deepest = std::max(deepest, ++in_stack);
    if (answers < 3) {
      ++answers;
      std::array<uni::view, 1> reply{frame};
      CHECK(dev.transmit(reply));
    }
    --in_stack;
  };
  uni::frame_receiver to_stack{stack};
  // A datapath whose flows send every frame back to LOCAL, headroom kept for rewrites.
  auto datapath = [&](uni::view frame) {
    CHECK(frame.headroom() >= of::working_frame::headroom_wanted);
    into_datapath.emplace_back(frame.data(), frame.data() + frame.size());
    std::array<uni::view, 1> back{frame};
    CHECK(dev.deliver(back));
  };
  uni::frame_handler into{datapath};
  std::array<uni::view, 1> none{};
  CHECK(dev.deliver(none).err() == uni::error::closed);  // no stack yet
  dev.set_receiver(to_stack);
  dev.attach(into);
  // The stack sends a frame in two fragments: the datapath gets it whole.
  auto a = pool.allocate(), b = pool.allocate();
  REQUIRE(a);
  REQUIRE(b);
  std::memset(a->data(), 0xaa, 14);
  std::memset(b->data(), 0xbb, 46);
  std::array<uni::view, 2> frags{a->head(14), b->head(46)};
  REQUIRE(dev.transmit(frags));
  // 1 sent, 3 answers, each back to the stack: 4 frames in, 4 out, one level deep.
  REQUIRE(into_datapath.size() == 4);
  CHECK(into_datapath[0].size() == 60);
  CHECK(into_datapath[0][13] == 0xaa);
  CHECK(into_datapath[0][14] == 0xbb);
  CHECK(deepest == 1);
  CHECK(dev.counters().to_datapath == 4);
  CHECK(dev.counters().to_stack == 4);
  CHECK(dev.counters().dropped == 1);
}

TEST_CASE("openflow switch: no port has queues: queue config lists none, queue stats are empty, enqueue forwards",
          "[openflow][switch]") {
  for (version v : both) {
    rig r;
    r.connect(v);
    const bool v10 = v == version::of10;
    const auto ask = [&](std::uint32_t port_no) {
      std::vector<std::uint8_t> b(v10 ? 12 : 16, 0);
      b[0] = static_cast<std::uint8_t>(v);
      b[1] = v10 ? 20 : 22;  // QUEUE_GET_CONFIG_REQUEST
      b[3] = static_cast<std::uint8_t>(b.size());
      b[7] = 6;
      if (v10) uni::wire::store_be16(&b[8], of::port_to_10(port_no));
      else uni::wire::store_be32(&b[8], port_no);
      r.feed_bytes(b);
      auto out = r.take();
      REQUIRE(out.size() == 1);
      return out[0];
    };
    auto reply = ask(2);
    CHECK(rig::type(reply) == (v10 ? 21 : 23));
    CHECK(reply.size() == 16);  // the port and padding: no queues follow
    CHECK((v10 ? uni::wire::load_be16(&reply[8]) : uni::wire::load_be32(&reply[8])) == 2);
    reply = ask(7);
    CHECK(rig::type(reply) == 1);
    CHECK(rig::error_of(reply) == (v10 ? of::error_code{5, 0} : of::error_code{9, 0}));

    of::stats_request s;
    s.type = of::stats_type::queue;
    r.feed([&](auto o) { return s.emit(v, 8, o); });
    const auto stats = r.take();
    REQUIRE(stats.size() == 1);
    auto rep = of::stats_reply::parse(rig::msg(stats[0]));
    REQUIRE(rep);
    std::size_t queues = 0;
    REQUIRE(rep->read_entries<of::queue_stats>(v, [&](const of::queue_stats&) { ++queues; }));
    CHECK(queues == 0);

    of::flow_mod f;
    f.what = of::match{}.with_in_port(1);
    f.priority = 10;
    of::action queued = of::action::output_to(2);  // 1.0: enqueue to the port's queue 0; 1.3: set_queue, output
    if (v10) queued.t = of::action::type::enqueue;
    else {
      of::action q;
      q.t = of::action::type::set_queue;
      (void)f.does.apply.push(q);
    }
    (void)f.does.apply.push(queued);
    r.flow(f);
    r.frame_in(1, udp_frame(100));
    CHECK(r.ports[1].sent.size() == 1);
  }
}
