// uni/trace/recorder.hpp: the trace recorder: a fixed ring of binary events, each
// stamped with the stack's clock, written with a few stores (no allocation, no
// formatting: the exporters, uni/trace/chrome_json.hpp, format at the end).
// When the ring is full the oldest event goes, counted as dropped.
//
// One recorder is active at a time (the appliance's, or a test's); the hooks in
// the scheduler, tasks, Ethernet, TCP, DNS and HTTP write to it, and an
// application adds its own events with instant(), counter() and span. The hooks
// exist only when tracing is compiled in (uni/trace/hooks.hpp): an appliance
// whose Config leaves `trace` off holds none of this code.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <uni/core/time.hpp>

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
  span_begin,      // id: span, name: what
  span_end,        // id: span, name: what
  instant,         // name, a: value
  counter,         // name, a: value
};

struct event {
  std::int64_t ns = 0;  // the stack's clock
  kind what{};
  std::uint16_t device = 0;
  std::uint32_t id = 0;
  std::uint64_t a = 0, b = 0;
  const char* name = nullptr;  // a string literal, read only when the trace is written out
};

constexpr std::uint64_t pack(std::uint64_t high, std::uint64_t low) noexcept { return high << 32 | (low & 0xffffffffu); }
constexpr std::uint32_t high_half(std::uint64_t v) noexcept { return static_cast<std::uint32_t>(v >> 32); }
constexpr std::uint32_t low_half(std::uint64_t v) noexcept { return static_cast<std::uint32_t>(v); }

class recorder;
// The recorder the hooks write to (none: the hooks do nothing).
inline recorder* active = nullptr;
// The task running now (0: none, the scheduler or a device callback), and the
// last task and span numbers handed out.
inline std::uint32_t current_task = 0;
inline std::uint32_t last_task = 0;
inline std::uint32_t last_span = 0;

class recorder {
 public:
  // Holds the most recent `capacity` events (rounded up to a power of two),
  // stamped by `clock`, which must outlive the recorder. Becomes the active one.
  template <class C>
  recorder(std::size_t capacity, C& clock)
      : capacity_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity)),
        events_(new event[capacity_]),
        clock_(&clock),
        now_([](void* c) noexcept { return static_cast<C*>(c)->now(); }) {
    previous_ = active;
    active = this;
  }
  recorder(const recorder&) = delete;
  recorder& operator=(const recorder&) = delete;
  ~recorder() {
    if (active == this) active = previous_;
  }

  void record(kind what, std::uint32_t id, std::uint64_t a = 0, std::uint64_t b = 0, const char* name = nullptr,
              std::uint16_t device = 0) noexcept {
    event& e = events_[written_++ & (capacity_ - 1)];
    e.ns = now_(clock_).time_since_epoch().count();
    e.what = what;
    e.device = device;
    e.id = id;
    e.a = a;
    e.b = b;
    e.name = name;
  }

  std::size_t capacity() const noexcept { return capacity_; }
  std::uint64_t recorded() const noexcept { return written_; }
  std::uint64_t dropped() const noexcept { return written_ > capacity_ ? written_ - capacity_ : 0; }
  std::size_t size() const noexcept { return static_cast<std::size_t>(written_ - dropped()); }

  // Calls f(const event&) for each event held, oldest first.
  template <class F>
  void for_each(F&& f) const {
    for (std::uint64_t i = dropped(); i < written_; ++i) f(events_[i & (capacity_ - 1)]);
  }

 private:
  std::size_t capacity_;
  std::unique_ptr<event[]> events_;
  std::uint64_t written_ = 0;
  void* clock_;
  time_point (*now_)(void*) noexcept;
  recorder* previous_ = nullptr;
};

inline void note(kind what, std::uint32_t id, std::uint64_t a = 0, std::uint64_t b = 0, const char* name = nullptr,
                 std::uint16_t device = 0) noexcept {
  if (active) active->record(what, id, a, b, name, device);
}

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
inline void instant(const char* name, std::uint64_t value = 0) noexcept { note(kind::instant, current_task, value, 0, name); }
// A value over time, drawn as a graph: trace::counter("queue depth", n).
inline void counter(const char* name, std::uint64_t value) noexcept { note(kind::counter, current_task, value, 0, name); }

// An operation that may suspend (a request), as a span: begin_span() returns its
// number (or takes one the caller keeps unique while it lasts), end_span() ends it.
inline void begin_span(std::uint32_t id, const char* name) noexcept { note(kind::span_begin, id, current_task, 0, name); }
inline std::uint32_t begin_span(const char* name) noexcept {
  begin_span(++last_span, name);
  return last_span;
}
inline void end_span(std::uint32_t id, const char* name) noexcept { note(kind::span_end, id, current_task, 0, name); }

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
