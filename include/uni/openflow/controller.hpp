// uni/openflow/controller.hpp: an OpenFlow controller serving many switches
// over the transport contract (host sockets or uni's own TCP), with a
// coroutine API for the application:
//
//   openflow::controller<Stack> ctl(stack, opts);
//   auto served = spawn(sched, ctl.serve(6653));
//   while (auto pi = co_await ctl.next_packet_in()) { ... ctl.send(pi->sw, flow_mod) ...; }
//
// Each switch is one task with its controller_session (session.hpp): a reader
// child frames messages into the session, the task itself writes the
// session's output and keeps it alive. Bounds: max_switches connections (more
// wait in the listen backlog), a packet_in queue of packet_in_queue entries
// shared by all switches (when it is full, a switch's reader stops at its next
// packet_in until the application takes one: a flood is held back by TCP's
// flow control, and counted; the handshakes and echo replies of switches not
// at a packet_in go on, so a flood from some does not starve the others),
// frames kept up to max_frame bytes each (longer ones are truncated and
// counted).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include <uni/core/format.hpp>
#include <uni/core/log.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/net/accept_supervisor.hpp>
#include <uni/net/transport.hpp>
#include <uni/openflow/message_buffer.hpp>
#include <uni/openflow/session.hpp>
#include <uni/openflow/stream_writer.hpp>

namespace uni::openflow {

struct controller_options {
  std::size_t max_switches = 64;
  std::size_t packet_in_queue = 256;
  version_set versions = both_versions;
  session_limits limits;
};

struct controller_counters {
  accept_counters accepts;
  std::uint64_t switches_ready = 0;
  std::uint64_t switches_gone = 0;
  std::uint64_t framing_errors = 0;     // a length below the header's: the connection is closed
  std::uint64_t packet_in_queued = 0;
  std::uint64_t packet_in_paused = 0;  // a switch's reading paused: the queue was full (a flood)
  std::uint64_t frames_truncated = 0;   // longer than max_frame
  std::uint64_t flow_mods = 0, packet_outs = 0, send_refused = 0;
  session_counters sessions;  // summed as each switch goes
};

// A connected switch; stale once it disconnects (its slot's generation moves on).
struct switch_ref {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  friend constexpr bool operator==(switch_ref, switch_ref) noexcept = default;
};

inline constexpr std::size_t max_frame = 2048;

struct packet_in_event {
  switch_ref sw;
  std::uint64_t datapath_id = 0;
  version v = version::of10;
  std::uint32_t buffer_id = no_buffer;
  std::uint32_t in_port = 0;
  std::uint16_t total_len = 0;
  packet_in_reason reason = packet_in_reason::no_match;
  std::uint8_t table_id = 0;
  std::size_t length = 0;
  std::array<std::uint8_t, max_frame> frame;
  std::span<const std::uint8_t> data() const noexcept { return {frame.data(), length}; }
};

template <TcpTransport Stack>
class controller {
 public:
  controller(Stack& stack, const controller_options& o = {})
      : stack_(stack), opt_(o), arrived_(stack.sched()), room_(stack.sched()), queue_(std::max<std::size_t>(o.packet_in_queue, 1)) {
    slots_.reserve(o.max_switches);
    for (std::size_t i = 0; i < o.max_switches; ++i) slots_.push_back(std::make_unique<slot>(stack.sched(), o));
  }
  controller(const controller&) = delete;
  controller& operator=(const controller&) = delete;

  const controller_counters& counters() const noexcept { return n_; }
  std::size_t connected() const noexcept {
    std::size_t k = 0;
    for (const auto& s : slots_) k += s->live && s->session->phase() == session_phase::ready;
    return k;
  }

  // Accepts switches on `port` until cancelled; 1 if it cannot listen.
  task<int> serve(std::uint16_t port) {
    struct stop {  // however serve ends, whoever waits for packets is told
      controller& c;
      ~stop() {
        c.stopped_ = true;
        c.arrived_.notify_all();
      }
    } stopped{*this};
    auto listener = stack_.tcp_listen(port);
    if (!listener) {
      log_error("openflow: cannot listen on port ", port, ": ", to_string(listener.err()));
      co_return 1;
    }
    log_info("openflow: controller listening on tcp ", listener->local());
    accept_supervisor<> sup(stack_.sched(), "openflow", slots_.size(), when_full::wait, n_.accepts);
    co_await sup.run(*listener, [this](auto stream, no_info&) { return this->run_switch(std::move(stream)); });
    co_return 0;
  }

  // The next packet a switch sent up; error::closed once serve() has ended.
  task<result<packet_in_event>> next_packet_in() {
    while (count_ == 0) {
      if (stopped_) co_return fail(error::closed);
      if (co_await arrived_.wait() == wake_reason::cancelled) co_return fail(error::cancelled);
    }
    packet_in_event e = queue_[head_];
    head_ = (head_ + 1) % queue_.size();
    --count_;
    room_.notify_all();
    co_return e;
  }
  std::size_t queued() const noexcept { return count_; }

  // Queued for the switch's task to write; error::closed for a switch gone,
  // error::would_block when its output is full.
  template <class Message>
  result<void> send(switch_ref sw, const Message& m) noexcept {
    slot* s = find(sw);
    if (!s) return fail(error::closed);
    auto r = s->session->send(m);
    if (!r) {
      if (r.err() != error::would_block) ++n_.send_refused;
      return r;
    }
    if constexpr (std::is_same_v<Message, flow_mod>) ++n_.flow_mods;
    if constexpr (std::is_same_v<Message, packet_out>) ++n_.packet_outs;
    s->wake.notify_one();
    return {};
  }

  // The same, waiting while the switch's output is full (until its task
  // has written some); error::closed if the switch goes meanwhile.
  template <class Message>
  task<result<void>> send_waiting(switch_ref sw, const Message& m) {
    while (true) {
      auto r = send(sw, m);
      if (r || r.err() != error::would_block) co_return r;
      slot* s = find(sw);
      if (!s) co_return fail(error::closed);
      if (co_await s->written.wait() == wake_reason::cancelled) co_return fail(error::cancelled);
    }
  }

  // Sends a barrier and waits for its reply: everything sent before it is done.
  task<result<void>> barrier(switch_ref sw) {
    slot* s = find(sw);
    if (!s) co_return fail(error::closed);
    auto xid = s->session->barrier();
    if (!xid) co_return fail(xid.err());
    s->wake.notify_one();
    while (!s->session->answered(*xid)) {
      if (co_await s->answered.wait() == wake_reason::cancelled) co_return fail(error::cancelled);
      if (!find(sw)) co_return fail(error::closed);
    }
    co_return result<void>{};
  }

  version version_of(switch_ref sw) const noexcept {
    const slot* s = find(sw);
    return s ? s->session->negotiated() : version::of10;
  }

 private:
  using session_t = controller_session<>;

  struct slot {
    slot(scheduler& sc, const controller_options& o)
        : session(std::make_unique<session_t>(o.versions, o.limits)), wake(sc), answered(sc), written(sc) {}
    std::unique_ptr<session_t> session;
    wait_queue wake;      // the switch's task: output to write, the reader ended, a tick
    wait_queue answered;  // barrier waiters
    wait_queue written;   // senders waiting for room in the output
    std::uint32_t generation = 0;
    bool live = false;
    bool reader_done = false;
    message_buffer in;
  };

  slot* find(switch_ref sw) const noexcept {
    if (sw.slot >= slots_.size()) return nullptr;
    slot* s = slots_[sw.slot].get();
    return s->live && s->generation == sw.generation ? s : nullptr;
  }

  void deliver(std::uint32_t index, const slot& s, const packet_in& p) noexcept {
    packet_in_event& e = queue_[(head_ + count_) % queue_.size()];
    e.sw = {index, s.generation};
    e.datapath_id = s.session->datapath_id();
    e.v = s.session->negotiated();
    e.buffer_id = p.buffer_id;
    e.in_port = p.in_port;
    e.total_len = p.total_len;
    e.reason = p.reason;
    e.table_id = p.table_id;
    e.length = std::min(p.data.size(), max_frame);
    if (e.length < p.data.size()) ++n_.frames_truncated;
    std::memcpy(e.frame.data(), p.data.data(), e.length);
    ++count_;
    ++n_.packet_in_queued;
    arrived_.notify_one();
  }

  enum class input : std::uint8_t { more, paused, end };

  // Frames and handles what has come, until a packet_in finds the queue full
  // (paused: it and the rest wait in the buffer) or more bytes are needed.
  input take_input(std::uint32_t index, slot& s) noexcept {
    bool ok = true, paused = false;
    while (ok) {
      auto m = s.in.peek();
      if (!m) {
        if (m.err() != error::truncated) {
          ++n_.framing_errors;
          ok = false;
        }
        break;
      }
      if (count_ == queue_.size() && m->what() == kind::packet_in) {
        paused = true;
        break;
      }
      (void)s.in.next();
      const session_event e = s.session->on_message(*m, stack_.sched().now());
      switch (e.what) {
        case session_event::type::ready:
          ++n_.switches_ready;
          log_info("openflow: switch ", hex(s.session->datapath_id(), 16), " ready (OpenFlow ",
                   s.session->negotiated() == version::of10 ? "1.0" : "1.3", ", ", static_cast<unsigned>(s.session->tables()), " tables)");
          break;
        case session_event::type::packet_in: deliver(index, s, e.pin); break;
        case session_event::type::error:
          log_warn("openflow: switch ", hex(s.session->datapath_id(), 16), " error type ", e.err.type, " code ",
                   e.err.code, " (xid ", e.xid, ")");
          s.answered.notify_all();
          break;
        case session_event::type::barrier_reply: s.answered.notify_all(); break;
        case session_event::type::stats_reply:
          if (e.stats.type == stats_type::desc)
            (void)e.stats.read_entries<desc_stats>(s.session->negotiated(), [&](const desc_stats& d) {
              log_info("openflow: switch ", hex(s.session->datapath_id(), 16), " is ", d.mfr_desc, " ", d.hw_desc,
                       " ", d.sw_desc);
            });
          if (e.stats.type == stats_type::port_desc)
            (void)e.stats.read_entries<port_desc_entry>(s.session->negotiated(), [&](const port_desc_entry& p) {
              log_info("openflow: switch ", hex(s.session->datapath_id(), 16), " port ", p.desc.port_no, " ",
                       p.desc.name);
            });
          break;
        case session_event::type::close: ok = false; break;
        default: break;
      }
    }
    s.in.compact();
    if (!ok || s.session->phase() == session_phase::closed) return input::end;
    return paused ? input::paused : input::more;
  }

  template <class Stream>
  task<void> read_switch(std::uint32_t index, slot& s, Stream& stream) {
    view pending;  // received bytes not yet in the slot's buffer
    while (true) {
      const input got = take_input(index, s);
      s.wake.notify_one();
      if (got == input::end) break;
      if (got == input::paused) {
        ++n_.packet_in_paused;
        while (count_ == queue_.size())
          if (co_await room_.wait() == wake_reason::cancelled) co_return;
        continue;
      }
      if (pending.empty()) {
        auto d = co_await stream.read();
        if (!d || d->empty()) break;
        pending = std::move(*d);
      }
      pending = pending.tail(s.in.append(pending.bytes()));
    }
    s.reader_done = true;
    s.wake.notify_one();
  }

  template <class Stream>
  task<bool> flush(slot& s, Stream& stream) {
    co_return co_await write_queued(stack_, stream, *s.session, [&] { s.written.notify_all(); });
  }

  template <class Stream>
  task<void> run_switch(Stream stream) {
    std::uint32_t index = 0;
    while (slots_[index]->live) ++index;  // the supervisor's bound keeps one free
    slot& s = *slots_[index];
    s.live = true;
    ++s.generation;
    s.reader_done = false;
    s.in.clear();
    s.session = std::make_unique<session_t>(opt_.versions, opt_.limits);
    struct release {
      controller& c;
      slot& s;
      ~release() {
        const session_counters& k = s.session->counters();
        session_counters& sum = c.n_.sessions;
        sum.messages += k.messages;
        sum.bad_length += k.bad_length;
        sum.bad_type += k.bad_type;
        sum.bad_version += k.bad_version;
        sum.experimenter += k.experimenter;
        sum.groups_meters += k.groups_meters;
        sum.errors_received += k.errors_received;
        sum.unmatched_replies += k.unmatched_replies;
        sum.packet_ins += k.packet_ins;
        sum.echo_answered += k.echo_answered;
        sum.echo_probes += k.echo_probes;
        sum.output_full += k.output_full;
        ++c.n_.switches_gone;
        s.live = false;
        s.answered.notify_all();
        s.written.notify_all();
      }
    } released{*this, s};
    stream.set_nodelay(true);
    s.session->start(stack_.sched().now());
    join_handle<void> reader = spawn(stack_.sched(), read_switch(index, s, stream));
    while (true) {
      if (!co_await flush(s, stream)) break;
      if (s.reader_done || s.session->phase() == session_phase::closed) break;
      const wake_reason why = co_await s.wake.wait_until(s.session->next_tick());
      if (why == wake_reason::cancelled) break;
      if (s.session->tick(stack_.sched().now()).what == session_event::type::close) {
        (void)co_await flush(s, stream);  // a HELLO_FAILED goes out before the close
        break;
      }
    }
    if (s.session->datapath_id()) log_info("openflow: switch ", hex(s.session->datapath_id(), 16), " gone");
    reader = {};  // cancels the reader before the stream goes
    stream.close();
  }

  Stack& stack_;
  controller_options opt_;
  controller_counters n_;
  std::vector<std::unique_ptr<slot>> slots_;
  wait_queue arrived_;
  wait_queue room_;  // readers paused on a full queue
  std::vector<packet_in_event> queue_;
  std::size_t head_ = 0, count_ = 0;
  bool stopped_ = false;
};

}  // namespace uni::openflow
