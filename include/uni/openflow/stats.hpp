// uni/openflow/stats.hpp: statistics, 1.0's STATS_REQUEST/REPLY (§5.3.5) and
// 1.3's MULTIPART_REQUEST/REPLY (§A.3.5): the switch's description, flows, the
// aggregate of flows, tables, ports, queues, and (1.3) port descriptions. A
// reply's body is a list of entries, read one at a time with read_entries();
// a reply too long for one message comes in several, all but the last with
// the `more` flag. Group, meter, table-features and experimenter kinds are
// refused with BAD_REQUEST/BAD_STAT (1.3: BAD_MULTIPART).
#pragma once

#include <cstdint>

#include <uni/openflow/header.hpp>
#include <uni/openflow/instruction.hpp>
#include <uni/openflow/port.hpp>

namespace uni::openflow {

enum class stats_type : std::uint16_t {
  desc = 0, flow = 1, aggregate = 2, table = 3, port = 4, queue = 5, table_features = 12, port_desc = 13
};

inline constexpr std::uint16_t stats_more = 1;  // OFPSF_REPLY_MORE / OFPMPF_REPLY_MORE
inline constexpr std::uint32_t all_queues = 0xffffffff;
inline constexpr std::uint8_t all_tables = 0xff;

constexpr bool served(version v, std::uint16_t t) noexcept {
  return t <= 5 || (v == version::of13 && (t == static_cast<std::uint16_t>(stats_type::port_desc) ||
                                           t == static_cast<std::uint16_t>(stats_type::table_features)));
}

// A request: its kind and what it selects.
struct stats_request {
  stats_type type = stats_type::desc;
  std::uint16_t flags = 0;
  match what;                            // flow, aggregate
  std::uint8_t table_id = all_tables;    // flow, aggregate
  std::uint32_t out_port = port::any;    // flow, aggregate; port, queue: the port (any: all)
  std::uint32_t out_group = 0xffffffff;  // 1.3
  std::uint64_t cookie = 0, cookie_mask = 0;  // 1.3
  std::uint32_t queue_id = all_queues;   // queue
  friend constexpr bool operator==(const stats_request&, const stats_request&) noexcept = default;

  static constexpr result<stats_request> parse(const message& m, refusal& why) noexcept {
    reader r(m.body());
    stats_request s;
    const std::uint16_t t = r.u16();
    s.flags = r.u16();
    if (m.v() == version::of13) r.skip(4);
    why = refusal::bad_len;
    if (!r.ok()) return fail(error::truncated);
    if (!served(m.v(), t)) {
      why = t == 0xffff ? refusal::bad_experimenter : refusal::bad_stat;
      return fail(error::malformed);
    }
    s.type = static_cast<stats_type>(t);
    const bool v10 = m.v() == version::of10;
    switch (s.type) {
      case stats_type::flow:
      case stats_type::aggregate:
        if (v10) {
          auto mt = parse_match10(r);
          if (!mt) return fail(mt.err());
          s.what = *mt;
          s.table_id = r.u8();
          r.skip(1);
          s.out_port = port_from_10(r.u16());
        } else {
          s.table_id = r.u8();
          r.skip(3);
          s.out_port = r.u32();
          s.out_group = r.u32();
          r.skip(4);
          s.cookie = r.u64();
          s.cookie_mask = r.u64();
          auto mt = parse_match13(r, why);
          if (!mt) return fail(mt.err());
          s.what = *mt;
        }
        break;
      case stats_type::port:
        s.out_port = v10 ? port_from_10(r.u16()) : r.u32();
        r.skip(v10 ? 6 : 4);
        break;
      case stats_type::queue:
        s.out_port = v10 ? port_from_10(r.u16()) : r.u32();
        if (v10) r.skip(2);
        s.queue_id = r.u32();
        break;
      default: break;  // desc, table, port_desc: no body
    }
    if (!r.ok()) return fail(error::truncated);
    if (r.left() != 0) return fail(error::malformed);
    return s;
  }

  constexpr result<std::size_t> emit(version v, std::uint32_t xid, std::span<std::uint8_t> out) const noexcept {
    if (!served(v, static_cast<std::uint16_t>(type))) return fail(error::invalid_argument);
    writer w(out);
    begin(w, v, kind::stats_request, xid);
    w.u16(static_cast<std::uint16_t>(type));
    w.u16(flags);
    const bool v10 = v == version::of10;
    if (!v10) w.zeros(4);
    switch (type) {
      case stats_type::flow:
      case stats_type::aggregate:
        if (v10) {
          if (auto e = emit_match10(w, what); !e) return fail(e.err());
          w.u8(table_id);
          w.zeros(1);
          w.u16(port_to_10(out_port));
        } else {
          w.u8(table_id);
          w.zeros(3);
          w.u32(out_port);
          w.u32(out_group);
          w.zeros(4);
          w.u64(cookie);
          w.u64(cookie_mask);
          if (auto e = emit_match13(w, what); !e) return fail(e.err());
        }
        break;
      case stats_type::port:
        if (v10) w.u16(port_to_10(out_port));
        else w.u32(out_port);
        w.zeros(v10 ? 6 : 4);
        break;
      case stats_type::queue:
        if (v10) {
          w.u16(port_to_10(out_port));
          w.zeros(2);
        } else {
          w.u32(out_port);
        }
        w.u32(queue_id);
        break;
      default: break;
    }
    return finish(w);
  }
};

// ---- reply entries: each with read(version, reader&, refusal&) and write ----

struct desc_stats {
  char mfr_desc[256] = {}, hw_desc[256] = {}, sw_desc[256] = {}, serial_num[32] = {}, dp_desc[256] = {};
  static constexpr stats_type type = stats_type::desc;
  static constexpr result<desc_stats> read(version, reader& r, refusal&) noexcept {
    desc_stats d;
    r.text(d.mfr_desc);
    r.text(d.hw_desc);
    r.text(d.sw_desc);
    r.text(d.serial_num);
    r.text(d.dp_desc);
    if (!r.ok()) return fail(error::truncated);
    return d;
  }
  constexpr void write(version, writer& w) const noexcept {
    w.text(mfr_desc);
    w.text(hw_desc);
    w.text(sw_desc);
    w.text(serial_num);
    w.text(dp_desc);
  }
};

struct flow_stats {
  std::uint8_t table_id = 0;
  match what;
  std::uint32_t duration_sec = 0, duration_nsec = 0;
  std::uint16_t priority = 0, idle_timeout = 0, hard_timeout = 0;
  std::uint16_t flags = 0;  // 1.3
  std::uint64_t cookie = 0, packet_count = 0, byte_count = 0;
  instructions does;
  static constexpr stats_type type = stats_type::flow;
  friend constexpr bool operator==(const flow_stats&, const flow_stats&) noexcept = default;

  static constexpr result<flow_stats> read(version v, reader& outer, refusal& why) noexcept {
    reader peek = outer;
    const std::uint16_t len = peek.u16();
    why = refusal::bad_len;
    if (!peek.ok() || len < 4 || len > outer.left()) return fail(error::malformed);
    reader r(outer.bytes(len));
    r.skip(2);
    flow_stats f;
    f.table_id = r.u8();
    r.skip(1);
    if (v == version::of10) {
      auto mt = parse_match10(r);
      if (!mt) return fail(mt.err());
      f.what = *mt;
    }
    f.duration_sec = r.u32();
    f.duration_nsec = r.u32();
    f.priority = r.u16();
    f.idle_timeout = r.u16();
    f.hard_timeout = r.u16();
    if (v == version::of10) {
      r.skip(6);
    } else {
      f.flags = r.u16();
      r.skip(4);
    }
    f.cookie = r.u64();
    f.packet_count = r.u64();
    f.byte_count = r.u64();
    if (!r.ok()) return fail(error::truncated);
    if (v == version::of10) {
      auto l = parse_actions(v, r.rest(), why);
      if (!l) return fail(l.err());
      f.does.apply = *l;
    } else {
      auto mt = parse_match13(r, why);
      if (!mt) return fail(mt.err());
      f.what = *mt;
      auto in = parse_instructions13(r.rest(), why);
      if (!in) return fail(in.err());
      f.does = *in;
    }
    return f;
  }
  constexpr void write(version v, writer& w) const noexcept {
    const std::size_t start = w.size();
    w.u16(0);
    w.u8(table_id);
    w.zeros(1);
    if (v == version::of10 && !emit_match10(w, what)) w.fail();
    w.u32(duration_sec);
    w.u32(duration_nsec);
    w.u16(priority);
    w.u16(idle_timeout);
    w.u16(hard_timeout);
    if (v == version::of10) {
      w.zeros(6);
    } else {
      w.u16(flags);
      w.zeros(4);
    }
    w.u64(cookie);
    w.u64(packet_count);
    w.u64(byte_count);
    if (v == version::of10) {
      if (!does.fits_10() || !emit_actions(v, w, does.apply.view())) w.fail();
    } else if (!emit_match13(w, what) || !emit_instructions13(w, does)) {
      w.fail();
    }
    w.patch16(start, static_cast<std::uint16_t>(w.size() - start));
  }
};

struct aggregate_stats {
  std::uint64_t packet_count = 0, byte_count = 0;
  std::uint32_t flow_count = 0;
  static constexpr stats_type type = stats_type::aggregate;
  friend constexpr bool operator==(const aggregate_stats&, const aggregate_stats&) noexcept = default;
  static constexpr result<aggregate_stats> read(version, reader& r, refusal&) noexcept {
    aggregate_stats a{r.u64(), r.u64(), r.u32()};
    r.skip(4);
    if (!r.ok()) return fail(error::truncated);
    return a;
  }
  constexpr void write(version, writer& w) const noexcept {
    w.u64(packet_count);
    w.u64(byte_count);
    w.u32(flow_count);
    w.zeros(4);
  }
};

struct table_stats {
  std::uint8_t table_id = 0;
  char name[32] = {};             // 1.0
  std::uint32_t wildcards = 0;    // 1.0
  std::uint32_t max_entries = 0;  // 1.0
  std::uint32_t active_count = 0;
  std::uint64_t lookup_count = 0, matched_count = 0;
  static constexpr stats_type type = stats_type::table;
  static constexpr result<table_stats> read(version v, reader& r, refusal&) noexcept {
    table_stats t;
    t.table_id = r.u8();
    r.skip(3);
    if (v == version::of10) {
      r.text(t.name);
      t.wildcards = r.u32();
      t.max_entries = r.u32();
    }
    t.active_count = r.u32();
    t.lookup_count = r.u64();
    t.matched_count = r.u64();
    if (!r.ok()) return fail(error::truncated);
    return t;
  }
  constexpr void write(version v, writer& w) const noexcept {
    w.u8(table_id);
    w.zeros(3);
    if (v == version::of10) {
      w.text(name);
      w.u32(wildcards);
      w.u32(max_entries);
    }
    w.u32(active_count);
    w.u64(lookup_count);
    w.u64(matched_count);
  }
};

struct port_stats {
  std::uint32_t port_no = 0;
  // rx/tx packets, rx/tx bytes, rx/tx dropped, rx/tx errors, frame, overrun and CRC errors, collisions
  std::uint64_t rx_packets = 0, tx_packets = 0, rx_bytes = 0, tx_bytes = 0, rx_dropped = 0, tx_dropped = 0,
                rx_errors = 0, tx_errors = 0, rx_frame_err = 0, rx_over_err = 0, rx_crc_err = 0, collisions = 0;
  std::uint32_t duration_sec = 0, duration_nsec = 0;  // 1.3
  static constexpr stats_type type = stats_type::port;
  friend constexpr bool operator==(const port_stats&, const port_stats&) noexcept = default;

  static constexpr result<port_stats> read(version v, reader& r, refusal&) noexcept {
    port_stats p;
    p.port_no = v == version::of10 ? port_from_10(r.u16()) : r.u32();
    r.skip(v == version::of10 ? 6 : 4);
    for (std::uint64_t* c : p.counters()) *c = r.u64();
    if (v == version::of13) {
      p.duration_sec = r.u32();
      p.duration_nsec = r.u32();
    }
    if (!r.ok()) return fail(error::truncated);
    return p;
  }
  constexpr void write(version v, writer& w) const noexcept {
    if (v == version::of10) w.u16(port_to_10(port_no));
    else w.u32(port_no);
    w.zeros(v == version::of10 ? 6 : 4);
    for (const std::uint64_t* c : const_cast<port_stats*>(this)->counters()) w.u64(*c);
    if (v == version::of13) {
      w.u32(duration_sec);
      w.u32(duration_nsec);
    }
  }

 private:
  constexpr std::array<std::uint64_t*, 12> counters() noexcept {
    return {&rx_packets, &tx_packets, &rx_bytes, &tx_bytes, &rx_dropped, &tx_dropped,
            &rx_errors, &tx_errors, &rx_frame_err, &rx_over_err, &rx_crc_err, &collisions};
  }
};

struct queue_stats {
  std::uint32_t port_no = 0, queue_id = 0;
  std::uint64_t tx_bytes = 0, tx_packets = 0, tx_errors = 0;
  std::uint32_t duration_sec = 0, duration_nsec = 0;  // 1.3
  static constexpr stats_type type = stats_type::queue;
  friend constexpr bool operator==(const queue_stats&, const queue_stats&) noexcept = default;
  static constexpr result<queue_stats> read(version v, reader& r, refusal&) noexcept {
    queue_stats q;
    q.port_no = v == version::of10 ? port_from_10(r.u16()) : r.u32();
    if (v == version::of10) r.skip(2);
    q.queue_id = r.u32();
    q.tx_bytes = r.u64();
    q.tx_packets = r.u64();
    q.tx_errors = r.u64();
    if (v == version::of13) {
      q.duration_sec = r.u32();
      q.duration_nsec = r.u32();
    }
    if (!r.ok()) return fail(error::truncated);
    return q;
  }
  constexpr void write(version v, writer& w) const noexcept {
    if (v == version::of10) {
      w.u16(port_to_10(port_no));
      w.zeros(2);
    } else {
      w.u32(port_no);
    }
    w.u32(queue_id);
    w.u64(tx_bytes);
    w.u64(tx_packets);
    w.u64(tx_errors);
    if (v == version::of13) {
      w.u32(duration_sec);
      w.u32(duration_nsec);
    }
  }
};

// 1.3's table features (§A.3.5.5), as a uni switch has them: a table's name,
// size and metadata bits, and the properties every table shares (the
// instructions, actions and OXM fields uni parses, the later tables it may go
// to). Read back without its properties. A request with a body (to change
// them) is refused: its length does not add up for uni.
struct table_features_entry {
  std::uint8_t table_id = 0;
  std::uint8_t n_tables = 1;  // the tables after this one are its next tables
  char name[32] = {};
  std::uint64_t metadata_match = 0, metadata_write = 0;
  std::uint32_t max_entries = 0;
  static constexpr stats_type type = stats_type::table_features;
  static constexpr std::size_t fixed_size = 64;

  static constexpr result<table_features_entry> read(version, reader& outer, refusal& why) noexcept {
    reader peek = outer;
    const std::uint16_t len = peek.u16();
    why = refusal::bad_len;
    if (!peek.ok() || len < fixed_size || len > outer.left()) return fail(error::malformed);
    reader r(outer.bytes(len));
    table_features_entry t;
    r.skip(2);
    t.table_id = r.u8();
    r.skip(5);
    r.text(t.name);
    t.metadata_match = r.u64();
    t.metadata_write = r.u64();
    r.skip(4);  // config: deprecated
    t.max_entries = r.u32();
    if (!r.ok()) return fail(error::truncated);
    return t;
  }

  constexpr void write(version, writer& w) const noexcept {
    const std::size_t start = w.size();
    w.u16(0);
    w.u8(table_id);
    w.zeros(5);
    w.text(name);
    w.u64(metadata_match);
    w.u64(metadata_write);
    w.u32(0);
    w.u32(max_entries);
    constexpr std::uint16_t instructions[] = {1, 2, 3, 4, 5};         // goto .. clear_actions
    constexpr std::uint16_t actions[] = {0, 17, 18, 21, 24, 25};      // output .. set_field
    constexpr std::uint8_t fields[] = {0, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23};
    constexpr std::uint8_t settable[] = {3, 4, 6, 7, 8, 11, 12, 13, 14, 15, 16, 17, 18};
    constexpr std::uint8_t widths[] = {4, 4, 8, 6, 6, 2, 2, 1, 1, 1, 1, 4, 4, 2, 2, 2, 2, 2, 2, 1, 1, 2, 4, 4};
    const auto property = [&](std::uint16_t type, auto each) {
      const std::size_t at = w.size();
      w.u16(type);
      w.u16(0);
      each();
      w.patch16(at + 2, static_cast<std::uint16_t>(w.size() - at));
      w.pad_to(8);
    };
    const auto headers = [&](std::span<const std::uint16_t> types) {
      for (std::uint16_t t : types) {
        w.u16(t);
        w.u16(4);
      }
    };
    const auto oxms = [&](std::span<const std::uint8_t> list, bool masks) {
      for (std::uint8_t f : list) {
        const bool maskable = masks && (f == oxm::metadata || f == oxm::ipv4_src || f == oxm::ipv4_dst ||
                                        f == oxm::arp_spa || f == oxm::arp_tpa);
        w.u16(oxm::basic);
        w.u8(static_cast<std::uint8_t>(f << 1 | (maskable ? 1 : 0)));
        w.u8(static_cast<std::uint8_t>(maskable ? 2 * widths[f] : widths[f]));
      }
    };
    property(0, [&] { headers(instructions); });  // INSTRUCTIONS
    property(2, [&] {                              // NEXT_TABLES
      for (unsigned t = table_id + 1u; t < n_tables; ++t) w.u8(static_cast<std::uint8_t>(t));
    });
    property(4, [&] { headers(actions); });  // WRITE_ACTIONS
    property(6, [&] { headers(actions); });  // APPLY_ACTIONS
    property(8, [&] { oxms(fields, true); });  // MATCH
    property(10, [&] { oxms(fields, false); });  // WILDCARDS
    property(12, [&] { oxms(settable, false); });  // WRITE_SETFIELD
    property(14, [&] { oxms(settable, false); });  // APPLY_SETFIELD
    w.patch16(start, static_cast<std::uint16_t>(w.size() - start));
  }
};

// 1.3's port descriptions, as 1.0 lists them in its features reply.
struct port_desc_entry {
  port_desc desc;
  static constexpr stats_type type = stats_type::port_desc;
  static constexpr result<port_desc_entry> read(version v, reader& r, refusal&) noexcept {
    port_desc_entry e{port_desc::read(v, r)};
    if (!r.ok()) return fail(error::truncated);
    return e;
  }
  constexpr void write(version v, writer& w) const noexcept { desc.write(v, w); }
};

// A reply's kind, flags and entries' bytes.
struct stats_reply {
  stats_type type = stats_type::desc;
  std::uint16_t flags = 0;
  std::span<const std::uint8_t> body;
  constexpr bool more() const noexcept { return (flags & stats_more) != 0; }

  static constexpr result<stats_reply> parse(const message& m) noexcept {
    reader r(m.body());
    const std::uint16_t t = r.u16();
    stats_reply s;
    s.flags = r.u16();
    if (m.v() == version::of13) r.skip(4);
    if (!r.ok()) return fail(error::truncated);
    if (!served(m.v(), t)) return fail(error::malformed);
    s.type = static_cast<stats_type>(t);
    s.body = r.rest();
    return s;
  }

  // Calls each(entry) for every entry; fails on the first that does not parse.
  template <class Entry, class Each>
  constexpr result<std::size_t> read_entries(version v, Each each) const noexcept {
    if (type != Entry::type) return fail(error::invalid_argument);
    reader r(body);
    std::size_t n = 0;
    refusal why{};
    while (r.left() > 0) {
      auto e = Entry::read(v, r, why);
      if (!e) return fail(e.err());
      each(*e);
      ++n;
    }
    return n;
  }
};

// A reply message holding `entries` (which all fit: the caller splits long lists).
template <class Entry>
constexpr result<std::size_t> emit_stats_reply(version v, std::uint32_t xid, std::uint16_t flags,
                                               std::span<const Entry> entries, std::span<std::uint8_t> out) noexcept {
  if (!served(v, static_cast<std::uint16_t>(Entry::type))) return fail(error::invalid_argument);
  writer w(out);
  begin(w, v, kind::stats_reply, xid);
  w.u16(static_cast<std::uint16_t>(Entry::type));
  w.u16(flags);
  if (v == version::of13) w.zeros(4);
  for (const Entry& e : entries) e.write(v, w);
  return finish(w);
}

}  // namespace uni::openflow
