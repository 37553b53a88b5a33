// uni/trace/recorder.hpp: the trace recorder: a fixed ring of binary events,
// each written with a few stores (no allocation, no formatting, no clock read:
// the exporters, uni/trace/chrome_json.hpp, format at the end). When the ring is
// full the oldest event goes, counted as dropped.
//
// Stamps are the run loop's: reading a clock costs more than recording an event
// (~200 ns in a VM against a few), so an event carries the time its scheduler
// turn began (scheduler::advance, which the run loop feeds the clock once a
// turn). Events recorded while the platform waited for I/O (frames, device
// wake-ups) carry no stamp of their own (`waited`): the turn they woke begins
// with one `turn` event holding its time, which for_each gives them, so their
// time is known to within the handlers' run (one event a turn that waited costs
// less than stamping each event again). An event's place in the ring is its
// sequence number, so the order within a turn survives; chrome_json spreads
// the events of one turn 1 ns apart in that order.
//
// One recorder is active at a time (the appliance's, or a test's); with none,
// the hooks write to a one-event sink, so a hook never tests for a recorder.
// The hooks in the scheduler, tasks, Ethernet, TCP, DNS and HTTP write to it, and
// an application adds its own events with instant(), counter() and span. The
// hooks exist only when tracing is compiled in (uni/trace/hooks.hpp): an
// appliance whose Config leaves `trace` off holds none of this code.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace uni::trace {

enum class kind : std::uint8_t {
  task_spawn,      // id: the new task, a: the task that spawned it (0: none)
  task_resume,     // id: the task the scheduler resumes
  task_suspend,    // id: the task that went back to waiting
  task_finish,     // id: the task, a: 1 when cancelled rather than finished
  task_wake,       // id: the task (0: a timer or the device) that woke task `a`
  timer_arm,       // id: the task, a: its deadline (ns)
  timer_fire,      // id: the task the timer wakes
  frame_rx,        // device: which, a: frame length
  frame_tx,        // device: which, a: frame length
  tcp_state,       // id: connection, a: old state, b: new state (uni::tcp::state)
  tcp_window,      // id: connection, a: cwnd << 32 | ssthresh, b: bytes in flight << 32 | srtt (us)
  tcp_sequence,    // id: connection, a: SND.UNA << 32 | SND.NXT, b: bytes buffered << 32 | retransmits
  tcp_segment_out, // id: connection, a: seq << 32 | length, b: ack
  tcp_segment_in,  // id: connection, a: seq << 32 | length, b: ack
  tcp_retransmit,  // id: connection, a: seq << 32 | length
  tcp_recovery,    // id: connection, a: 1 fast retransmit (SACK or NewReno recovery), 2 timeout
  span_begin,      // id: span, a: task, b: name
  span_end,        // id: span, a: task, b: name
  span_whole,      // a span begun and ended in one turn (it never waited): id, a, b as span_begin
  instant,         // id: task, a: value, b: name
  counter,         // id: task, a: value, b: name
  turn,            // a turn that ended a wait began: the time of the events recorded while waiting (not written out)
};

// 32 bytes, aligned: two to a cache line, never across one.
struct alignas(32) event {
  std::int64_t ns = 0;  // the start of the scheduler turn it was recorded in (in the ring: -1 while waiting)
  kind what{};
  std::uint16_t device = 0;
  std::uint32_t id = 0;
  std::uint64_t a = 0, b = 0;

  // The name of a span, instant or counter (a string literal, read only when the trace is written out).
  const char* name() const noexcept { return reinterpret_cast<const char*>(static_cast<std::uintptr_t>(b)); }
};
static_assert(sizeof(event) == 32);

inline std::uint64_t named(const char* name) noexcept { return reinterpret_cast<std::uintptr_t>(name); }
constexpr std::uint64_t pack(std::uint64_t high, std::uint64_t low) noexcept { return high << 32 | (low & 0xffffffffu); }
constexpr std::uint32_t high_half(std::uint64_t v) noexcept { return static_cast<std::uint32_t>(v >> 32); }
constexpr std::uint32_t low_half(std::uint64_t v) noexcept { return static_cast<std::uint32_t>(v); }

// The task running now (0: none, the scheduler or a device callback), and the
// last task and span numbers handed out.
inline std::uint32_t current_task = 0;
inline std::uint32_t last_task = 0;
inline std::uint32_t last_span = 0;

// The ring the hooks write to: the events, the write cursor and the stamp.
// Trivially destructible, so the sink below is a constant with no destructor.
class ring {
 public:
  // A sink of one slot, overwritten: what the hooks write to when no recorder is active.
  constexpr explicit ring(event& slot) noexcept : events_(&slot) {}
  ring(const ring&) = delete;
  ring& operator=(const ring&) = delete;

  // The event write: stores into the ring, no branch (the wrap is a mask).
  void record(kind what, std::uint32_t id, std::uint64_t a, std::uint64_t b, std::uint16_t device) noexcept {
    events_[written_++ & mask_] = event{stamp_, what, device, id, a, b};
  }

  // A scheduler turn begins at `ns`, and what follows carries it. If events were
  // recorded since the last turn ended (while the platform waited: the newest
  // event is `waited`), a `turn` event first says when they took place.
  void begin_turn(std::int64_t ns) noexcept {
    const bool waited = events_[(written_ - 1) & mask_].ns == waited_stamp;
    stamp_ = ns;
    if (waited) record(kind::turn, 0, 0, 0, 0);
  }
  // The turn ran what was ready: the platform waits next.
  void end_turn() noexcept { stamp_ = waited_stamp; }

  std::int64_t stamp() const noexcept { return stamp_; }
  std::size_t capacity() const noexcept { return static_cast<std::size_t>(mask_ + 1); }
  std::uint64_t recorded() const noexcept { return written_; }
  std::uint64_t dropped() const noexcept { return written_ > mask_ ? written_ - mask_ - 1 : 0; }
  std::size_t size() const noexcept { return static_cast<std::size_t>(written_ - dropped()); }

  // Calls f(const event&) for each event held, oldest first (the sequence
  // number of the first is dropped()), each with its time: an event recorded
  // while waiting takes that of the `turn` after it (or, the ring ending in a
  // wait, of the turn before). The `turn` events themselves are left out.
  template <class F>
  void for_each(F&& f) const {
    std::int64_t before = 0, woke = 0;
    std::uint64_t turn = 0;  // the `turn` the waiting events up to it take their time from
    for (std::uint64_t i = dropped(); i < written_; ++i) {
      event e = events_[i & mask_];
      if (e.what == kind::turn) continue;
      if (e.ns != waited_stamp) {
        before = e.ns;
      } else {
        if (turn <= i) {
          for (turn = i; turn < written_ && events_[turn & mask_].what != kind::turn;) ++turn;
          woke = turn < written_ ? events_[turn & mask_].ns : before;
        }
        e.ns = woke;
      }
      f(static_cast<const event&>(e));
    }
  }

 protected:
  ring(event* events, std::size_t size, std::int64_t stamp) noexcept : events_(events), mask_(size - 1), stamp_(stamp) {}

 private:
  event* events_;
  std::uint64_t mask_ = 0;
  std::uint64_t written_ = 0;
  static constexpr std::int64_t waited_stamp = -1;  // the stamp while the platform waits (times are never negative)
  std::int64_t stamp_ = 0;
};

inline event sink_slot;
inline constinit ring sink(sink_slot);
// The ring the hooks write to: never null.
inline ring* active = &sink;

// A ring of its own, the active one while it lives.
class recorder : public ring {
 public:
  // Holds the most recent `capacity` events (rounded up to a power of two).
  explicit recorder(std::size_t capacity)
      : recorder(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity), active) {}
  recorder(const recorder&) = delete;
  recorder& operator=(const recorder&) = delete;
  ~recorder() {
    if (active == this) active = previous_;
  }

 private:
  recorder(std::size_t size, ring* previous)
      : recorder(std::make_unique<event[]>(size), size, previous) {}
  recorder(std::unique_ptr<event[]> events, std::size_t size, ring* previous) noexcept
      : ring(events.get(), size, previous->stamp()), owned_(std::move(events)), previous_(previous) {
    active = this;
  }

  std::unique_ptr<event[]> owned_;
  ring* previous_;
};

inline void note(kind what, std::uint32_t id, std::uint64_t a = 0, std::uint64_t b = 0, std::uint16_t device = 0) noexcept {
  active->record(what, id, a, b, device);
}

// The stamps (scheduler::advance, and the end of scheduler::run_ready): a turn
// begins at `ns`; the turn ran what was ready, and the platform waits.
inline void turn_begins(std::int64_t ns) noexcept { active->begin_turn(ns); }
inline void turn_ends() noexcept { active->end_turn(); }

// Whether a stack (uni::Stack, or any type with a `config`) traces: its Config's `trace`.
template <class Stack>
inline constexpr bool traces = [] {
  if constexpr (requires { Stack::config::trace; }) return Stack::config::trace;
  else return false;
}();

// A spawned task ended: returned, or cancelled (destroyed before it returned).
inline void finished(std::uint32_t task, bool cancelled) noexcept {
  note(kind::task_finish, task, cancelled ? 1 : 0);
  if (current_task == task) current_task = 0;
}

// ---- The application's own events ------------------------------------------------------

// A moment worth marking, with a value: trace::instant("cache miss", key_hash).
inline void instant(const char* name, std::uint64_t value = 0) noexcept { note(kind::instant, current_task, value, named(name)); }
// A value over time, drawn as a graph: trace::counter("queue depth", n).
inline void counter(const char* name, std::uint64_t value) noexcept { note(kind::counter, current_task, value, named(name)); }

// An operation that may suspend (a request), as a span: begin_span() returns its
// number (or takes one the caller keeps unique while it lasts), end_span() ends it.
inline void begin_span(std::uint32_t id, const char* name) noexcept { note(kind::span_begin, id, current_task, named(name)); }
inline std::uint32_t begin_span(const char* name) noexcept {
  begin_span(++last_span, name);
  return last_span;
}
inline void end_span(std::uint32_t id, const char* name) noexcept { note(kind::span_end, id, current_task, named(name)); }
// A span that begins and ends in one turn (it never waits), as one event.
inline void whole_span(std::uint32_t id, const char* name) noexcept { note(kind::span_whole, id, current_task, named(name)); }

// The same for a scope: begins when made, ends when it dies.
//   trace::span s("dns query");
class span {
 public:
  explicit span(const char* name) noexcept : name_(name), id_(begin_span(name)) {}
  span(const span&) = delete;
  span& operator=(const span&) = delete;
  ~span() { end_span(id_, name_); }

 private:
  const char* name_;
  std::uint32_t id_;
};

}  // namespace uni::trace
