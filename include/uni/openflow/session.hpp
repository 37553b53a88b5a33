// uni/openflow/session.hpp: the controller's side of one switch connection,
// sans I/O (OpenFlow 1.0 §4.3, 1.3 §6.3): messages in, answers and events
// out, the time passed in. It runs the handshake (hello and version
// negotiation, FEATURES_REQUEST, SET_CONFIG to get whole packets, and on 1.3
// the table-miss entry 1.3 switches start without), answers echo requests,
// probes an idle switch with its own and gives up on one that does not
// answer, numbers the requests it sends (xids) and matches replies to them in
// a bounded table (barriers among them).
//
// Hostile input is answered and counted, never trusted: a length that does not
// frame (close), a body whose lengths do not add up (BAD_REQUEST/BAD_LEN), an
// unknown type or one a switch does not send (BAD_TYPE), a message in another
// version (BAD_VERSION), vendor/experimenter extensions (BAD_VENDOR /
// BAD_EXPERIMENTER), group and meter mods (GROUP_MOD_FAILED / METER_MOD_FAILED),
// a reply to no request (counted, ignored).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

#include <uni/core/time.hpp>
#include <uni/openflow/openflow.hpp>
#include <uni/openflow/output_queue.hpp>

namespace uni::openflow {

struct session_limits {
  duration echo_interval = std::chrono::seconds(5);  // idle this long: probe with an echo request
  duration echo_timeout = std::chrono::seconds(15);  // no answer this long: the switch is gone
  duration handshake_timeout = std::chrono::seconds(10);
  std::uint16_t miss_send_len = 0xffff;  // bytes of a missed packet the switch sends (all of it)
};

struct session_counters {
  std::uint64_t messages = 0;
  std::uint64_t bad_length = 0;       // bodies whose lengths do not add up
  std::uint64_t bad_type = 0;         // unknown types, or ones a switch does not send
  std::uint64_t bad_version = 0;      // messages in another version than negotiated
  std::uint64_t experimenter = 0;     // vendor/experimenter messages refused
  std::uint64_t groups_meters = 0;    // group and meter mods refused
  std::uint64_t errors_received = 0;  // ERROR messages from the switch
  std::uint64_t unmatched_replies = 0;  // replies to no request of ours
  std::uint64_t packet_ins = 0;
  std::uint64_t echo_answered = 0;
  std::uint64_t echo_probes = 0;
  std::uint64_t output_full = 0;  // messages not queued: the output buffer was full
};

enum class session_phase : std::uint8_t { hello, features, ready, closed };

// What a message meant to the application.
struct session_event {
  enum class type : std::uint8_t {
    none, ready, packet_in, flow_removed, port_status, error, stats_reply, barrier_reply, close,
  } what = type::none;
  packet_in pin;          // packet_in (data: a view of the message)
  flow_removed removed;   // flow_removed
  port_status port;       // port_status
  error_code err;         // error
  stats_reply stats;      // stats_reply (body: a view of the message)
  std::uint32_t xid = 0;  // of the reply, error or barrier

  static constexpr session_event of(type t) noexcept {
    session_event e;
    e.what = t;
    return e;
  }
};

template <std::size_t OutCapacity = 16384, std::size_t MaxPending = 32>
class controller_session {
 public:
  explicit controller_session(version_set ours = both_versions, const session_limits& l = {}) noexcept
      : ours_(ours), limits_(l) {}

  session_phase phase() const noexcept { return phase_; }
  version negotiated() const noexcept { return v_; }
  std::uint64_t datapath_id() const noexcept { return dpid_; }
  std::uint8_t tables() const noexcept { return tables_; }
  const session_counters& counters() const noexcept { return n_; }

  // Bytes to send to the switch, oldest first; sent(n) after writing n of them.
  std::span<const std::uint8_t> output() const noexcept { return out_.pending(); }
  void sent(std::size_t n) noexcept { out_.sent(n); }
  std::size_t room() const noexcept { return out_.room(); }

  // Our hello, on connecting.
  void start(time_point now) noexcept {
    started_ = last_rx_ = now;
    (void)queue([&](std::span<std::uint8_t> o) { return hello::emit(ours_, next_xid_++, o); });
  }

  // One message framed by next_message(); the event says what it was for the application.
  session_event on_message(const message& m, time_point now) noexcept {
    ++n_.messages;
    last_rx_ = now;
    echo_sent_ = time_never;  // any message shows the switch is alive
    if (phase_ == session_phase::hello) return on_hello(m);
    if (m.h.wire_version != static_cast<std::uint8_t>(v_)) {
      ++n_.bad_version;
      refuse(refusal::bad_version, m);
      return {};
    }
    const auto k = kind_of(v_, m.h.type);
    if (!k) return refuse_type(m);
    switch (*k) {
      case kind::hello: return {};  // a second one: nothing to negotiate
      case kind::echo_request:
        ++n_.echo_answered;
        (void)queue([&](std::span<std::uint8_t> o) { return emit_simple(v_, kind::echo_reply, m.h.xid, o, m.body()); });
        return {};
      case kind::echo_reply: (void)settle(m.h.xid); return {};
      case kind::experimenter:
        if (!experimenter_msg::parse(m)) return bad_length(m);
        ++n_.experimenter;
        refuse(refusal::bad_experimenter, m);
        return {};
      case kind::features_reply: {
        auto f = features_reply::parse(m);
        if (!f) return bad_length(m);
        if (!settle(m.h.xid)) return {};
        dpid_ = f->datapath_id;
        tables_ = f->n_tables;
        if (phase_ == session_phase::features) return become_ready();
        return {};
      }
      case kind::get_config_reply:
        if (!switch_config::parse(m)) return bad_length(m);
        (void)settle(m.h.xid);
        return {};
      case kind::packet_in: {
        auto p = packet_in::parse(m);
        if (!p) return bad_length(m);
        ++n_.packet_ins;
        if (phase_ != session_phase::ready) return {};
        session_event e = session_event::of(session_event::type::packet_in);
        e.pin = *p;
        return e;
      }
      case kind::flow_removed: {
        auto f = flow_removed::parse(m);
        if (!f) return bad_length(m);
        session_event e = session_event::of(session_event::type::flow_removed);
        e.removed = *f;
        return e;
      }
      case kind::port_status: {
        auto p = port_status::parse(m);
        if (!p) return bad_length(m);
        session_event e = session_event::of(session_event::type::port_status);
        e.port = *p;
        return e;
      }
      case kind::error: {
        auto er = error_msg::parse(m);
        if (!er) return bad_length(m);
        ++n_.errors_received;
        (void)settle(m.h.xid);
        session_event e = session_event::of(session_event::type::error);
        e.err = er->what;
        e.xid = m.h.xid;
        return e;
      }
      case kind::stats_reply: {
        auto s = stats_reply::parse(m);
        if (!s) return bad_length(m);
        if (!s->more() && !settle(m.h.xid)) return {};
        session_event e = session_event::of(session_event::type::stats_reply);
        e.stats = *s;
        e.xid = m.h.xid;
        return e;
      }
      case kind::barrier_reply: {
        if (!settle(m.h.xid)) return {};
        session_event e = session_event::of(session_event::type::barrier_reply);
        e.xid = m.h.xid;
        return e;
      }
      case kind::group_mod: ++n_.groups_meters; refuse(refusal::no_groups, m); return {};
      case kind::meter_mod: ++n_.groups_meters; refuse(refusal::no_meters, m); return {};
      default: return refuse_type(m);  // a controller's message, or one uni does not handle
    }
  }

  // Keep-alive and handshake deadlines; a close event when the switch is gone.
  session_event tick(time_point now) noexcept {
    if (phase_ == session_phase::closed) return session_event::of(session_event::type::close);
    if (phase_ != session_phase::ready) {
      if (now - started_ >= limits_.handshake_timeout) return close();
      return {};
    }
    if (echo_sent_ != time_never) {
      if (now - echo_sent_ >= limits_.echo_timeout) return close();
    } else if (now - last_rx_ >= limits_.echo_interval) {
      const std::uint32_t xid = next_xid_;
      if (request(kind::echo_request, [&](std::span<std::uint8_t> o) { return emit_simple(v_, kind::echo_request, xid, o); })) {
        ++n_.echo_probes;
        echo_sent_ = now;
      }
    }
    return {};
  }
  // When tick() next has something to do.
  time_point next_tick() const noexcept {
    if (phase_ != session_phase::ready) return started_ + limits_.handshake_timeout;
    if (echo_sent_ != time_never) return echo_sent_ + limits_.echo_timeout;
    return last_rx_ + limits_.echo_interval;
  }

  // Messages from the application (ready sessions only); error::would_block
  // when the output has no room for it.
  result<void> send(const flow_mod& f) noexcept {
    return ready_queue([&](std::span<std::uint8_t> o) { return f.emit(v_, next_xid_++, o); });
  }
  result<void> send(const packet_out& p) noexcept {
    return ready_queue([&](std::span<std::uint8_t> o) { return p.emit(v_, next_xid_++, o); });
  }
  result<void> send(const port_mod& p) noexcept {
    return ready_queue([&](std::span<std::uint8_t> o) { return p.emit(v_, next_xid_++, o); });
  }
  // Requests answered by a reply: their xid, to wait for with answered().
  result<std::uint32_t> barrier() noexcept {
    return ready_request(kind::barrier_request, [&](std::uint32_t xid, std::span<std::uint8_t> o) {
      return emit_simple(v_, kind::barrier_request, xid, o);
    });
  }
  result<std::uint32_t> stats(const stats_request& s) noexcept {
    return ready_request(kind::stats_request, [&](std::uint32_t xid, std::span<std::uint8_t> o) { return s.emit(v_, xid, o); });
  }
  result<std::uint32_t> get_config() noexcept {
    return ready_request(kind::get_config_request, [&](std::uint32_t xid, std::span<std::uint8_t> o) {
      return emit_simple(v_, kind::get_config_request, xid, o);
    });
  }
  // True once the reply (or an error) to request `xid` has come.
  bool answered(std::uint32_t xid) const noexcept {
    for (const pending& p : pending_)
      if (p.live && p.xid == xid) return false;
    return true;
  }
  std::size_t outstanding() const noexcept {
    std::size_t n = 0;
    for (const pending& p : pending_) n += p.live;
    return n;
  }

 private:
  struct pending {
    std::uint32_t xid = 0;
    bool live = false;
  };

  session_event on_hello(const message& m) noexcept {
    const auto k = known_version(m.h.wire_version) ? kind_of(static_cast<version>(m.h.wire_version), m.h.type)
                                                    : std::optional<kind>{m.h.type == 0 ? kind::hello : kind::error};
    if (k != kind::hello) return close();  // the switch must speak first with a hello
    auto h = hello::parse(m);
    if (!h) return bad_length(m);
    const auto v = negotiate(ours_, *h);
    if (!v) {
      // HELLO_FAILED/INCOMPATIBLE in our highest version, with a reason as text (§A.4.4).
      static constexpr char why[] = "no common OpenFlow version";
      const error_msg e{code_of(version::of10, refusal::incompatible),
                        {reinterpret_cast<const std::uint8_t*>(why), sizeof why - 1}};
      (void)queue([&](std::span<std::uint8_t> o) { return e.emit(static_cast<version>(ours_.highest()), m.h.xid, o); });
      return close();
    }
    v_ = *v;
    phase_ = session_phase::features;
    const switch_config cfg{config_flag::frag_normal, limits_.miss_send_len};
    if (!request(kind::features_request,
                 [&](std::span<std::uint8_t> o) { return emit_simple(v_, kind::features_request, next_xid_, o); }) ||
        !queue([&](std::span<std::uint8_t> o) { return cfg.emit(v_, kind::set_config, next_xid_++, o); }))
      return close();
    return {};
  }

  // The switch is known: the 1.3 table-miss entry, then what a controller
  // reads of a new switch (its configuration, description and, on 1.3, ports),
  // and a barrier, whose reply says the switch has taken all of it.
  session_event become_ready() noexcept {
    phase_ = session_phase::ready;
    if (v_ == version::of13) {
      const flow_mod miss = table_miss();
      (void)queue([&](std::span<std::uint8_t> o) { return miss.emit(v_, next_xid_++, o); });
    }
    (void)get_config();
    stats_request desc;
    (void)stats(desc);
    if (v_ == version::of13) {
      stats_request ports;
      ports.type = stats_type::port_desc;
      (void)stats(ports);
    }
    (void)barrier();
    return session_event::of(session_event::type::ready);
  }

  session_event close() noexcept {
    phase_ = session_phase::closed;
    return session_event::of(session_event::type::close);
  }
  session_event bad_length(const message& m) noexcept {
    ++n_.bad_length;
    refuse(refusal::bad_len, m);
    return {};
  }
  session_event refuse_type(const message& m) noexcept {
    ++n_.bad_type;
    refuse(refusal::bad_type, m);
    return {};
  }
  void refuse(refusal why, const message& m) noexcept {
    const version v = phase_ == session_phase::hello ? static_cast<version>(ours_.highest()) : v_;
    (void)queue([&](std::span<std::uint8_t> o) { return emit_refusal(v, why, m.bytes, m.h.xid, o); });
  }

  // Emits a message at the end of the output; false if it did not fit.
  template <class Emit>
  bool queue(Emit emit) noexcept {
    if (out_.push(emit)) return true;
    ++n_.output_full;
    return false;
  }
  template <class Emit>
  result<void> ready_queue(Emit emit) noexcept {
    if (phase_ != session_phase::ready) return fail(error::closed);
    if (!queue(emit)) return fail(error::would_block);
    return {};
  }
  // Queues a request (with the next xid) and remembers it until its reply.
  template <class Emit>
  bool request(kind, Emit emit) noexcept {
    pending* slot = nullptr;
    for (pending& p : pending_)
      if (!p.live) {
        slot = &p;
        break;
      }
    if (!slot || !queue(emit)) return false;
    *slot = {next_xid_++, true};
    return true;
  }
  template <class Emit>
  result<std::uint32_t> ready_request(kind k, Emit emit) noexcept {
    if (phase_ != session_phase::ready) return fail(error::closed);
    const std::uint32_t xid = next_xid_;
    if (!request(k, [&](std::span<std::uint8_t> o) { return emit(xid, o); })) return fail(error::would_block);
    return xid;
  }
  // Forgets request `xid`, answered; false (counted) if it was not ours.
  bool settle(std::uint32_t xid) noexcept {
    for (pending& p : pending_)
      if (p.live && p.xid == xid) {
        p.live = false;
        return true;
      }
    ++n_.unmatched_replies;
    return false;
  }

  version_set ours_;
  session_limits limits_;
  session_phase phase_ = session_phase::hello;
  version v_ = version::of10;
  std::uint64_t dpid_ = 0;
  std::uint8_t tables_ = 0;
  std::uint32_t next_xid_ = 1;
  time_point started_{}, last_rx_{}, echo_sent_ = time_never;
  std::array<pending, MaxPending> pending_{};
  session_counters n_;
  output_queue<OutCapacity> out_;
};

}  // namespace uni::openflow
