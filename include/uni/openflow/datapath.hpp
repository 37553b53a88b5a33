// uni/openflow/datapath.hpp: an OpenFlow switch, sans I/O (1.0 §3-4, 1.3 §5-6).
// Frames come in on numbered ports and leave by the flow tables' actions;
// controller messages come in on connections and are answered on them. The
// platform (switch_agent.hpp) carries bytes and frames and passes the time in.
//
//   pipeline   a frame's key (packet_key.hpp) is looked up in table 0; an entry
//              applies its actions at once (rewrites: rewrite.hpp; outputs to a
//              port, IN_PORT, FLOOD, ALL, CONTROLLER, NORMAL, LOCAL, or dropped when
//              none), and on 1.3 may write the action set, write metadata and go
//              on to a later table (§5.1). A miss sends a packet_in on 1.0 and
//              drops on 1.3 unless the controller installed a table-miss entry.
//   packet_in  the first miss_send_len bytes (or an output action's max_len)
//              and a buffer id naming the whole frame, kept in a bounded ring of
//              `buffers` (the oldest is reused), or the whole frame unbuffered.
//   messages   hello and negotiation (switch_connection.hpp), echo, features,
//              get/set config, flow_mod (flow_table.hpp), packet_out,
//              port_mod, barrier, statistics of every kind in both versions.
//              The rest is refused with the error the spec names, and counted.
//   failure    connection 0 is the controller; while it is not connected a
//              fail-secure switch keeps its flows and drops what misses, a
//              fail-standalone one forwards everything as a learning bridge
//              (§6.3.6 of 1.3). Other connections (a passive listener's, for
//              ovs-ofctl) are answered but get no asynchronous messages.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include <uni/core/buffer.hpp>
#include <uni/core/function_ref.hpp>
#include <uni/openflow/flow_table.hpp>
#include <uni/openflow/mac_learning.hpp>
#include <uni/openflow/openflow.hpp>
#include <uni/openflow/rewrite.hpp>
#include <uni/openflow/switch_connection.hpp>

namespace uni::openflow {

// Bounds, as a policy: `datapath<my_limits>` with any of these changed.
struct switch_limits {
  static constexpr std::size_t max_ports = 8;
  static constexpr std::size_t tables = 4;        // 1.3's pipeline; 1.0 uses table 0
  static constexpr std::size_t table_size = 256;  // entries per table
  static constexpr std::size_t buffers = 64;      // frames held for packet_in buffer ids
  static constexpr std::size_t connections = 4;   // the controller's, then passive ones
  static constexpr std::size_t output_capacity = 128 * 1024;  // bytes queued per connection
  static constexpr std::size_t mac_buckets = 1024;            // NORMAL and fail-standalone
};

enum class fail_mode : std::uint8_t { secure, standalone };

struct switch_options {
  std::uint64_t datapath_id = 1;
  version_set versions = both_versions;
  fail_mode on_failure = fail_mode::secure;
  connection_limits limits;
};

struct datapath_counters {
  std::uint64_t frames = 0;          // received on ports that take them
  std::uint64_t misses = 0;          // no entry took a frame
  std::uint64_t dropped = 0;         // no output, a port that refuses, TTL expired
  std::uint64_t no_page = 0;         // a rewrite or packet_out found no free page
  std::uint64_t packet_ins = 0;
  std::uint64_t packet_ins_lost = 0;  // no controller connected, or its output full
  std::uint64_t flow_mods = 0, flow_mods_refused = 0;
  std::uint64_t flows_removed = 0;   // flow_removed messages sent
  std::uint64_t packet_outs = 0;
  std::uint64_t standalone = 0;      // frames forwarded as a bridge, no controller
};

// Sends one frame out of a port: the platform's device.
using port_transmit = function_ref<result<void>(std::span<const view>)>;

inline constexpr std::uint32_t port_no_flood_10 = 1 << 4;  // 1.0's OFPPC_NO_FLOOD

template <class Limits = switch_limits>
class datapath {
 public:
  using connection = switch_connection<Limits::output_capacity>;
  using table = flow_table<Limits::table_size>;
  static constexpr std::size_t tables = Limits::tables;
  static_assert(tables >= 1 && tables < 255);

  datapath(page_pool& pool, const switch_options& o) noexcept : pool_(pool), opt_(o) {}
  datapath(const datapath&) = delete;
  datapath& operator=(const datapath&) = delete;

  const datapath_counters& counters() const noexcept { return n_; }
  const switch_options& options() const noexcept { return opt_; }
  const table& flows(std::size_t t) const noexcept { return tables_[t]; }
  std::size_t ports() const noexcept { return n_ports_; }
  const port_stats& port_counters(std::uint32_t port_no) const noexcept { return port_at(port_no)->stats; }

  // Port number n_ports + 1 (ports are numbered from 1), or error::table_full.
  result<std::uint32_t> add_port(std::string_view name, mac_address hw, port_transmit tx) noexcept {
    if (n_ports_ == Limits::max_ports) return fail(error::table_full);
    port_slot& p = ports_[n_ports_++];
    p.describe(static_cast<std::uint32_t>(n_ports_), name, hw, tx);
    p.desc.curr = p.desc.supported = 1 << 6 | 1 << 11;  // 10 Gb full duplex, copper: what a TAP says of itself
    p.desc.curr_speed = p.desc.max_speed = 10'000'000;
    return p.desc.port_no;
  }

  // The LOCAL port (OFPP_LOCAL): the switch's own network stack as a port, as
  // Open vSwitch's bridge-internal interface. Flows output to it and match
  // in_port=LOCAL; it floods and is listed with the others; error::in_use twice.
  result<void> add_local(std::string_view name, mac_address hw, port_transmit tx) noexcept {
    if (has_local_) return fail(error::in_use);
    has_local_ = true;
    local_.describe(port::local, name, hw, tx);
    return {};
  }

  // ---- connections: 0 is the controller's -------------------------------------------

  connection& conn(std::size_t i) noexcept { return conns_[i]; }
  static constexpr std::size_t connections() noexcept { return Limits::connections; }
  void connected(std::size_t i, time_point now) noexcept { conns_[i].start(opt_.versions, opt_.limits, now); }
  void disconnected(std::size_t i) noexcept { conns_[i].reset(); }
  bool controller_ready() const noexcept { return conns_[0].ready(); }
  bool standalone_now() const noexcept { return opt_.on_failure == fail_mode::standalone && !controller_ready(); }

  // One message framed by next_message() from connection `i`.
  void on_message(std::size_t i, const message& m, time_point now) noexcept {
    connection& c = conns_[i];
    c.heard(now);
    if (c.phase() == connection_phase::hello) {
      const bool hello_first = m.h.type == 0;  // HELLO is type 0 in every version
      if (!hello_first) return c.close();
      (void)c.on_hello(m);
      return;
    }
    if (!c.ready()) return;
    const version v = c.negotiated();
    if (m.h.wire_version != static_cast<std::uint8_t>(v)) return c.refuse(refusal::bad_version, m);
    const auto k = kind_of(v, m.h.type);
    if (!k) return c.refuse(refusal::bad_type, m);
    switch (*k) {
      case kind::hello: return;
      case kind::echo_request:
        (void)c.queue([&](std::span<std::uint8_t> o) { return emit_simple(v, kind::echo_reply, m.h.xid, o, m.body()); });
        return;
      case kind::echo_reply: return;
      case kind::error: ++c.counters().errors_received; return;
      case kind::experimenter:
        return c.refuse(experimenter_msg::parse(m) ? refusal::bad_experimenter : refusal::bad_len, m);
      case kind::features_request: return features(c, m.h.xid);
      case kind::get_config_request: {
        const switch_config cfg{config_flags_, miss_send_len_};
        (void)c.queue([&](std::span<std::uint8_t> o) { return cfg.emit(v, kind::get_config_reply, m.h.xid, o); });
        return;
      }
      case kind::set_config: {
        auto cfg = switch_config::parse(m);
        if (!cfg) return c.refuse(refusal::bad_len, m);
        config_flags_ = cfg->flags;
        miss_send_len_ = cfg->miss_send_len;
        return;
      }
      case kind::flow_mod: return on_flow_mod(c, m, now);
      case kind::packet_out: return on_packet_out(c, m, now);
      case kind::port_mod: return on_port_mod(c, m);
      case kind::stats_request: return on_stats(c, m, now);
      case kind::barrier_request:  // every message before it is done: they are handled in order, at once
        (void)c.queue([&](std::span<std::uint8_t> o) { return emit_simple(v, kind::barrier_reply, m.h.xid, o); });
        return;
      case kind::queue_get_config_request: return on_queue_config(c, m);
      case kind::group_mod: return c.refuse(refusal::no_groups, m);
      case kind::meter_mod: return c.refuse(refusal::no_meters, m);
      default: return c.refuse(refusal::bad_type, m);  // a switch's own messages, roles, async, tables
    }
  }

  // ---- frames ----------------------------------------------------------------------

  // A frame received on port `port_no`.
  void receive(std::uint32_t port_no, view frame, time_point now) noexcept {
    port_slot* p = port_at(port_no);
    if (!p) return;
    ++p->stats.rx_packets;
    p->stats.rx_bytes += frame.size();
    if (p->desc.config & (port_config::port_down | port_config::no_recv)) {
      ++p->stats.rx_dropped;
      return;
    }
    ++n_.frames;
    working_frame f{std::move(frame), {}, port_no, false};
    if (standalone_now()) {
      ++n_.standalone;
      return normal(f, now);
    }
    match key = key_of(f, 0);
    pipeline(f, key, now);
  }

  // Timeouts of flows and connections.
  void tick(time_point now) noexcept {
    for (std::size_t t = 0; t < tables; ++t) {
      auto tell = [&](const flow_removed& r) { removed(r); };
      tables_[t].expire(static_cast<std::uint8_t>(t), now, tell);
    }
    for (connection& c : conns_) c.tick(now);
  }
  time_point next_tick() const noexcept {
    time_point t = time_never;
    for (const table& tb : tables_) t = std::min(t, tb.next_expiry());
    for (const connection& c : conns_) t = std::min(t, c.next_tick());
    return t;
  }

 private:
  struct port_slot {
    port_desc desc;
    port_stats stats;
    port_transmit tx;

    void describe(std::uint32_t port_no, std::string_view name, mac_address hw, port_transmit to) noexcept {
      desc.port_no = stats.port_no = port_no;
      desc.hw_addr = hw;
      std::memcpy(desc.name, name.data(), std::min(name.size(), sizeof desc.name - 1));
      tx = to;
    }
  };

  port_slot* port_at(std::uint32_t port_no) noexcept {
    return const_cast<port_slot*>(std::as_const(*this).port_at(port_no));
  }
  const port_slot* port_at(std::uint32_t port_no) const noexcept {
    if (port_no == port::local) return has_local_ ? &local_ : nullptr;
    return port_no >= 1 && port_no <= n_ports_ ? &ports_[port_no - 1] : nullptr;
  }
  // Every port, the numbered ones in order, then LOCAL.
  template <class Each>
  void each_port(Each each) noexcept {
    for (std::size_t i = 0; i < n_ports_; ++i) each(ports_[i]);
    if (has_local_) each(local_);
  }
  match key_of(working_frame& f, std::uint64_t metadata) const noexcept {
    match key = packet_key(f.bytes.bytes(), f.in_port, f.layout);
    key.fields |= match::metadata;
    key.metadata_v = metadata;
    return key;
  }

  // ---- the pipeline (1.3 §5.1; 1.0 is its first table's apply list) -----------------

  void pipeline(working_frame& f, match& key, time_point now) noexcept {
    action_list set;
    std::size_t t = 0;
    while (true) {
      flow_entry* e = tables_[t].lookup(key, f.bytes.size(), now);
      if (!e) return miss(f, static_cast<std::uint8_t>(t));
      const instructions& in = e->does;
      const bool table_miss_entry = e->priority == 0 && (e->what.fields == 0);
      const hit at{static_cast<std::uint8_t>(t), e->cookie, table_miss_entry ? packet_in_reason::no_match
                                                                                : packet_in_reason::action};
      if (!execute(f, key, in.apply.view(), at, now)) return;
      if (in.clear) set.count = 0;
      if (in.has_write)
        for (const action& a : in.write.view()) write_action(set, a);
      if (in.has_metadata) key.metadata_v = (key.metadata_v & ~in.metadata_mask) | (in.metadata & in.metadata_mask);
      if (in.goto_table <= static_cast<std::int16_t>(t)) {
        for (std::size_t i = 1; i < set.count; ++i)  // in §5.10's order; an insertion sort (stable_sort allocates)
          for (std::size_t j = i; j > 0 && set_rank(set.items[j]) < set_rank(set.items[j - 1]); --j)
            std::swap(set.items[j], set.items[j - 1]);
        if (set.count) (void)execute(f, key, set.view(), at, now);
        return;
      }
      t = static_cast<std::size_t>(in.goto_table);
    }
  }

  // The action set keeps one action of each type (§5.10), output last.
  static int set_rank(const action& a) noexcept {
    switch (a.t) {
      case action::type::strip_vlan: return 0;
      case action::type::push_vlan: return 1;
      case action::type::dec_nw_ttl: return 2;
      case action::type::output:
      case action::type::enqueue: return 5;
      case action::type::set_queue: return 4;
      default: return 3;
    }
  }
  static void write_action(action_list& set, const action& a) noexcept {
    for (std::size_t i = 0; i < set.count; ++i)
      if (set.items[i].t == a.t) {
        set.items[i] = a;
        return;
      }
    (void)set.push(a);
  }

  struct hit {
    std::uint8_t table = 0;
    std::uint64_t cookie = 0;
    packet_in_reason reason = packet_in_reason::action;
  };

  // Runs `actions` on the frame; false if it is gone (TTL expired, no page).
  bool execute(working_frame& f, match& key, std::span<const action> actions, const hit& at, time_point now) noexcept {
    bool sent = false;
    for (const action& a : actions) {
      switch (a.t) {
        case action::type::output:
        case action::type::enqueue:  // no queues: the port itself
          output(f, key, a.port, a.max_len, at, now);
          sent = true;
          break;
        case action::type::set_queue: break;
        default: {
          const rewrite_result r = rewrite(f, a, pool_);
          if (r == rewrite_result::no_page) ++n_.no_page;
          if (r == rewrite_result::ttl_expired) ++n_.dropped;
          if (r == rewrite_result::no_page || r == rewrite_result::ttl_expired) return false;
          if (r == rewrite_result::done) key = key_of(f, key.metadata_v);
        }
      }
    }
    if (!sent && actions.size() == 0) ++n_.dropped;  // an entry without actions drops (§5.9)
    return true;
  }

  void output(working_frame& f, match& key, std::uint32_t to, std::uint16_t max_len, const hit& at,
              time_point now) noexcept {
    switch (to) {
      case port::in_port: return transmit(f, f.in_port);
      case port::flood:
      case port::all:
        each_port([&](const port_slot& p) {
          if (p.desc.port_no != f.in_port && !(to == port::flood && (p.desc.config & port_no_flood_10)))
            transmit(f, p.desc.port_no);
        });
        return;
      case port::controller: return to_controller(f, max_len, at);
      case port::normal: return normal(f, now);
      case port::table: return pipeline(f, key, now);  // packet_out only: flows are refused this port
      default:
        if (to == f.in_port) {  // §5.2.4: out of the port it came in by only as IN_PORT
          ++n_.dropped;
          return;
        }
        return transmit(f, to);
    }
  }

  void transmit(working_frame& f, std::uint32_t port_no) noexcept {
    port_slot* p = port_at(port_no);
    if (!p || (p->desc.config & (port_config::port_down | port_config::no_fwd))) {
      if (p) ++p->stats.tx_dropped;
      else ++n_.dropped;
      return;
    }
    f.shared = true;
    if (p->tx(std::span<const view>(&f.bytes, 1))) {
      ++p->stats.tx_packets;
      p->stats.tx_bytes += f.bytes.size();
    } else {
      ++p->stats.tx_dropped;
    }
  }

  // NORMAL: a learning bridge (mac_learning.hpp).
  void normal(working_frame& f, time_point now) noexcept {
    if (f.bytes.size() < 14) return;
    const mac_address dst = mac_address::load(f.bytes.data());
    if (f.in_port != port::controller) macs_.learn(mac_address::load(f.bytes.data() + 6), f.in_port, now);
    const auto out = dst.is_multicast() ? std::nullopt : macs_.find(dst, now);
    if (!out) {
      each_port([&](const port_slot& p) {
        if (p.desc.port_no != f.in_port) transmit(f, p.desc.port_no);
      });
      return;
    }
    if (*out == f.in_port) {
      ++n_.dropped;
      return;
    }
    transmit(f, *out);
  }

  void miss(working_frame& f, std::uint8_t table_id) noexcept {
    ++n_.misses;
    if (!controller_ready() || conns_[0].negotiated() == version::of13) {  // 1.3: no table-miss entry, dropped
      ++n_.dropped;
      return;
    }
    to_controller(f, miss_send_len_, {table_id, 0, packet_in_reason::no_match});
  }

  // PACKET_IN to the controller: `max_len` bytes and a buffer, or all of it.
  void to_controller(working_frame& f, std::uint16_t max_len, const hit& at) noexcept {
    port_slot* in = port_at(f.in_port);
    connection& c = conns_[0];
    if (!c.ready() || (in && (in->desc.config & port_config::no_packet_in))) {
      ++n_.packet_ins_lost;
      return;
    }
    packet_in p;
    p.total_len = static_cast<std::uint16_t>(f.bytes.size());
    p.in_port = f.in_port;
    p.reason = at.reason;
    p.table_id = at.table;
    p.cookie = at.reason == packet_in_reason::no_match && c.negotiated() == version::of10 ? 0 : at.cookie;
    p.data = f.bytes.bytes();
    if (max_len != controller_no_buffer && max_len < f.bytes.size()) {
      p.buffer_id = hold(f);
      p.data = p.data.first(max_len);
    }
    if (!c.queue([&](std::span<std::uint8_t> o) { return p.emit(c.negotiated(), c.next_xid(), o); })) {
      ++n_.packet_ins_lost;
      return;
    }
    ++n_.packet_ins;
  }

  // Keeps the frame for a packet_out or flow_mod naming it; the oldest goes.
  std::uint32_t hold(working_frame& f) noexcept {
    if (++next_buffer_ == no_buffer) next_buffer_ = 0;
    const std::size_t slot = next_buffer_ % Limits::buffers;
    held_[slot] = {f.bytes, next_buffer_, f.in_port};
    f.shared = true;
    return next_buffer_;
  }
  struct held_frame {
    view bytes;
    std::uint32_t id = no_buffer;
    std::uint32_t in_port = 0;
  };
  // The frame of buffer `id` (each is used once), or none.
  std::optional<held_frame> take(std::uint32_t id) noexcept {
    held_frame& h = held_[id % Limits::buffers];
    if (h.id != id || h.bytes.empty()) return std::nullopt;
    held_frame out = std::move(h);
    h = {};
    return out;
  }

  void removed(const flow_removed& r) noexcept {
    connection& c = conns_[0];
    if (!c.ready()) return;
    if (c.queue([&](std::span<std::uint8_t> o) { return r.emit(c.negotiated(), c.next_xid(), o); })) ++n_.flows_removed;
  }

  // ---- controller messages ---------------------------------------------------------

  void features(connection& c, std::uint32_t xid) noexcept {
    features_reply f;
    f.datapath_id = opt_.datapath_id;
    f.n_buffers = Limits::buffers;
    f.n_tables = static_cast<std::uint8_t>(tables);
    f.capabilities = capability::flow_stats | capability::table_stats | capability::port_stats | capability::arp_match_ip;
    f.actions = (1u << 12) - 1;  // 1.0's output to enqueue (enqueue: the port, there are no queues)
    each_port([&](const port_slot& p) {
      if (f.n_ports < max_ports_listed) f.ports[f.n_ports++] = p.desc;
    });
    (void)c.queue([&](std::span<std::uint8_t> o) { return f.emit(c.negotiated(), xid, o); });
  }

  // Output ports a flow or packet_out may name; `in_packet_out` allows TABLE.
  bool valid_outputs(std::span<const action> actions, bool in_packet_out) const noexcept {
    for (const action& a : actions) {
      if (a.t != action::type::output && a.t != action::type::enqueue) continue;
      const std::uint32_t p = a.port;
      const bool reserved = p == port::in_port || p == port::flood || p == port::all || p == port::controller ||
                            p == port::normal || (in_packet_out && p == port::table);
      if (!reserved && !port_at(p)) return false;
    }
    return true;
  }

  void on_flow_mod(connection& c, const message& m, time_point now) noexcept {
    refusal why{};
    auto parsed = flow_mod::parse(m, why);
    if (!parsed) return refuse_flow(c, why, m);
    flow_mod f = *parsed;
    const version v = c.negotiated();
    if (f.what.others) return refuse_flow(c, refusal::bad_match_field, m);
    if (v == version::of10) f.flags &= static_cast<std::uint16_t>(~flow_flag::emergency_10);  // no emergency cache
    const bool removal = f.command == flow_command::remove || f.command == flow_command::remove_strict;
    const bool every_table = v == version::of10 || f.table_id == all_tables;
    if (every_table && !removal && v == version::of13) return refuse_flow(c, refusal::bad_table, m);
    if (!every_table && f.table_id >= tables) return refuse_flow(c, refusal::bad_table, m);
    if (v == version::of10) f.table_id = 0;
    if (f.does.goto_table >= 0 && (f.does.goto_table <= f.table_id || f.does.goto_table >= static_cast<int>(tables)))
      return refuse_flow(c, refusal::bad_table, m);
    if (!valid_outputs(f.does.apply.view(), false) || !valid_outputs(f.does.write.view(), false))
      return refuse_flow(c, refusal::bad_out_port, m);
    const std::uint16_t priority = v == version::of10 && exact_10(f.what) ? 0xffff : f.priority;
    auto tell = [&](const flow_removed& r) { removed(r); };
    const std::size_t first = removal && every_table ? 0 : f.table_id;
    const std::size_t last = removal && every_table ? tables : f.table_id + 1u;
    for (std::size_t t = first; t < last; ++t) {
      auto r = tables_[t].apply(f, priority, static_cast<std::uint8_t>(t), now, tell, why, v == version::of10);
      if (!r) return refuse_flow(c, why, m);
    }
    ++n_.flow_mods;
    if (f.buffer_id == no_buffer || removal) return;
    auto held = take(f.buffer_id);
    if (!held) return c.refuse(refusal::buffer_unknown, m);
    working_frame frame{std::move(held->bytes), {}, held->in_port, false};
    match key = key_of(frame, 0);
    pipeline(frame, key, now);
  }
  void refuse_flow(connection& c, refusal why, const message& m) noexcept {
    ++n_.flow_mods_refused;
    c.refuse(why, m);
  }

  void on_packet_out(connection& c, const message& m, time_point now) noexcept {
    refusal why{};
    auto p = packet_out::parse(m, why);
    if (!p) return c.refuse(why, m);
    if (!valid_outputs(p->actions.view(), true)) return c.refuse(refusal::bad_out_port, m);
    if (p->in_port != port::controller && p->in_port != port::any && !port_at(p->in_port))
      return c.refuse(refusal::bad_port, m);
    working_frame f{{}, {}, p->in_port == port::any ? port::controller : p->in_port, false};
    if (p->buffer_id != no_buffer) {
      auto held = take(p->buffer_id);
      if (!held) return c.refuse(refusal::buffer_unknown, m);
      f.bytes = std::move(held->bytes);
    } else {
      auto page = pool_.allocate();  // the message's bytes are reused once it is handled: the frame gets a page
      if (!page) {
        ++n_.no_page;
        return;
      }
      if (p->data.size() + working_frame::headroom_wanted > page->size() || p->data.size() < 14)
        return c.refuse(refusal::bad_len, m);
      f.bytes = page->tail(working_frame::headroom_wanted).head(p->data.size());
      std::memcpy(f.bytes.data(), p->data.data(), p->data.size());
    }
    ++n_.packet_outs;
    match key = key_of(f, 0);
    (void)execute(f, key, p->actions.view(), {0, 0, packet_in_reason::action}, now);
  }

  void on_port_mod(connection& c, const message& m) noexcept {
    auto p = port_mod::parse(m);
    if (!p) return c.refuse(refusal::bad_len, m);
    port_slot* s = port_at(p->port_no);
    if (!s) return c.refuse(refusal::bad_port, m);
    if (s->desc.hw_addr != p->hw_addr) return c.refuse(refusal::bad_hw_addr, m);
    s->desc.config = (s->desc.config & ~p->mask) | (p->config & p->mask);
    connection& ctl = conns_[0];
    if (!ctl.ready()) return;
    const port_status st{port_reason::modify, s->desc};
    (void)ctl.queue([&](std::span<std::uint8_t> o) { return st.emit(ctl.negotiated(), ctl.next_xid(), o); });
  }

  // No port has queues (enqueue and set_queue output to the port itself), so a
  // port's queue configuration lists none (1.0 §5.3.4, 1.3 §A.3.6).
  void on_queue_config(connection& c, const message& m) noexcept {
    const version v = c.negotiated();
    reader r(m.body());
    const std::uint32_t port_no = v == version::of10 ? port_from_10(r.u16()) : r.u32();
    if (!r.ok()) return c.refuse(refusal::bad_len, m);
    if (!port_at(port_no) && !(v == version::of13 && port_no == port::any)) return c.refuse(refusal::bad_queue_port, m);
    (void)c.queue([&](std::span<std::uint8_t> o) -> result<std::size_t> {
      writer w(o);
      begin(w, v, kind::queue_get_config_reply, m.h.xid);
      if (v == version::of10) {
        w.u16(port_to_10(port_no));
        w.zeros(6);
      } else {
        w.u32(port_no);
        w.zeros(4);
      }
      return finish(w);
    });
  }

  // ---- statistics (1.0 §5.3.5, 1.3 §A.3.5) -------------------------------------------

  static constexpr std::size_t stats_body_max = max_message - 16;  // a reply's entries, per message

  // Sends the entries `fill(put)` puts, in as many replies as they need.
  template <class Entry, class Fill>
  void reply(connection& c, std::uint32_t xid, Fill fill) noexcept {
    const version v = c.negotiated();
    std::size_t len = 0;
    const auto flush = [&](bool more) {
      (void)c.queue([&](std::span<std::uint8_t> o) -> result<std::size_t> {
        writer w(o);
        begin(w, v, kind::stats_reply, xid);
        w.u16(static_cast<std::uint16_t>(Entry::type));
        w.u16(more ? stats_more : 0);
        if (v == version::of13) w.zeros(4);
        w.bytes({body_.data(), len});
        return finish(w);
      });
      len = 0;
    };
    const auto put = [&](const Entry& e) {
      writer w(entry_);
      e.write(v, w);
      if (!w.ok()) return;  // not expressible in this version (1.3 metadata on 1.0)
      if (len + w.size() > stats_body_max) flush(true);
      std::memcpy(body_.data() + len, entry_.data(), w.size());
      len += w.size();
    };
    fill(put);
    flush(false);
  }

  // The flows a flow or aggregate request selects.
  template <class Each>
  void selected_flows(const stats_request& s, Each each) const noexcept {
    for (std::size_t t = 0; t < tables; ++t) {
      if (s.table_id != all_tables && s.table_id != t) continue;
      for (const flow_entry& e : tables_[t].entries())
        if (within(e.what, s.what) && e.outputs_to(s.out_port) && e.cookie_in(s.cookie, s.cookie_mask))
          each(static_cast<std::uint8_t>(t), e);
    }
  }

  void on_stats(connection& c, const message& m, time_point now) noexcept {
    refusal why{};
    auto s = stats_request::parse(m, why);
    if (!s) return c.refuse(why, m);
    const std::uint32_t xid = m.h.xid;
    switch (s->type) {
      case stats_type::desc:
        return reply<desc_stats>(c, xid, [&](const auto& put) {
          desc_stats d;
          copy_text(d.mfr_desc, "uni");
          copy_text(d.hw_desc, "uni software switch");
          copy_text(d.sw_desc, "uni openflow datapath (1.0, 1.3)");
          copy_text(d.serial_num, "none");
          copy_text(d.dp_desc, "uni of-switch");
          put(d);
        });
      case stats_type::flow:
        return reply<flow_stats>(c, xid, [&](const auto& put) {
          selected_flows(*s, [&](std::uint8_t t, const flow_entry& e) {
            const flow_removed age = e.removal(removed_reason::remove, t, now);
            flow_stats f;
            f.table_id = t;
            f.what = e.what;
            f.duration_sec = age.duration_sec;
            f.duration_nsec = age.duration_nsec;
            f.priority = e.priority;
            f.idle_timeout = e.idle_timeout;
            f.hard_timeout = e.hard_timeout;
            f.flags = e.flags;
            f.cookie = e.cookie;
            f.packet_count = e.packets;
            f.byte_count = e.bytes;
            f.does = e.does;
            put(f);
          });
        });
      case stats_type::aggregate:
        return reply<aggregate_stats>(c, xid, [&](const auto& put) {
          aggregate_stats a;
          selected_flows(*s, [&](std::uint8_t, const flow_entry& e) {
            a.packet_count += e.packets;
            a.byte_count += e.bytes;
            ++a.flow_count;
          });
          put(a);
        });
      case stats_type::table:
        return reply<table_stats>(c, xid, [&](const auto& put) {
          for (std::size_t t = 0; t < tables; ++t) {
            table_stats ts;
            ts.table_id = static_cast<std::uint8_t>(t);
            copy_text(ts.name, t == 0 ? "classifier" : "pipeline");
            ts.wildcards = wildcard10::all;
            ts.max_entries = static_cast<std::uint32_t>(Limits::table_size);
            ts.active_count = static_cast<std::uint32_t>(tables_[t].size());
            ts.lookup_count = tables_[t].lookups();
            ts.matched_count = tables_[t].matched();
            put(ts);
          }
        });
      case stats_type::port:
        if (s->out_port != port::any && !port_at(s->out_port)) return c.refuse(refusal::bad_port, m);
        return reply<port_stats>(c, xid, [&](const auto& put) {
          each_port([&](const port_slot& p) {
            if (s->out_port == port::any || s->out_port == p.desc.port_no) put(p.stats);
          });
        });
      case stats_type::queue:  // no port has queues
        return reply<queue_stats>(c, xid, [](const auto&) {});
      case stats_type::table_features:
        return reply<table_features_entry>(c, xid, [&](const auto& put) {
          for (std::size_t t = 0; t < tables; ++t) {
            table_features_entry f;
            f.table_id = static_cast<std::uint8_t>(t);
            f.n_tables = static_cast<std::uint8_t>(tables);
            copy_text(f.name, t == 0 ? "classifier" : "pipeline");
            f.metadata_match = f.metadata_write = ~std::uint64_t{0};
            f.max_entries = static_cast<std::uint32_t>(Limits::table_size);
            put(f);
          }
        });
      case stats_type::port_desc:
        return reply<port_desc_entry>(c, xid, [&](const auto& put) {
          each_port([&](const port_slot& p) { put(port_desc_entry{p.desc}); });
        });
    }
  }

  template <std::size_t N>
  static void copy_text(char (&out)[N], std::string_view s) noexcept {
    const std::size_t n = std::min(s.size(), N - 1);
    std::memcpy(out, s.data(), n);
    out[n] = 0;
  }

  page_pool& pool_;
  switch_options opt_;
  datapath_counters n_;
  std::array<port_slot, Limits::max_ports> ports_{};
  std::size_t n_ports_ = 0;
  port_slot local_{};
  bool has_local_ = false;
  std::array<table, tables> tables_{};
  std::array<connection, Limits::connections> conns_{};
  std::array<held_frame, Limits::buffers> held_{};
  std::uint32_t next_buffer_ = 0;
  mac_learning<Limits::mac_buckets> macs_;
  std::uint16_t config_flags_ = config_flag::frag_normal;
  std::uint16_t miss_send_len_ = 128;  // OFP_DEFAULT_MISS_SEND_LEN
  std::array<std::uint8_t, stats_body_max> body_{};
  std::array<std::uint8_t, 4096> entry_{};
};

}  // namespace uni::openflow
