// uni/trace/chrome_json.hpp: writes a recorder's ring as Chrome trace-event JSON
// (the "JSON Object Format" that Perfetto's UI and chrome://tracing open).
//
// Each task is a thread (tid = its number) whose resumptions are slices, with an
// arrow (a flow event) from the task that woke it; each device is a thread of rx
// and tx instants; each TCP connection a thread of its segments, state changes,
// retransmissions and recoveries, with counters (cwnd, ssthresh, bytes in flight,
// SRTT, SND.UNA/SND.NXT, bytes buffered); spans are async slices. Runs after the
// fact, off the hot path: formatting is done here, one event at a time, into a
// small buffer handed to `write` (a file on POSIX, the console on Xen).
//
// Times: an event is stamped with its scheduler turn (uni/trace/recorder.hpp),
// so the events of one turn share a stamp; here each event's "ts" is its stamp,
// or 1 ns after the event before it if that is later. The events of a turn are
// thus spread 1 ns apart in the order they were recorded, which every viewer
// keeps (they sort by ts), and "ts" never goes back.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <uni/core/format.hpp>
#include <uni/core/function_ref.hpp>
#include <uni/net/tcp/connection.hpp>
#include <uni/trace/recorder.hpp>

namespace uni::trace {

// Thread numbers: tasks are 1, 2, ...; 0 is the scheduler (timers, device callbacks).
constexpr std::uint64_t device_thread(std::uint16_t device) noexcept { return 0x1000000u | device; }
constexpr std::uint64_t tcp_thread(std::uint16_t device, std::uint32_t slot) noexcept {
  return 0x40000000u | static_cast<std::uint64_t>(device & 0x3fff) << 16 | (slot & 0xffff);
}

class chrome_json_writer {
 public:
  explicit chrome_json_writer(function_ref<void(std::string_view)> write) noexcept : write_(write) {}

  void write(const ring& r) {
    fixed_text<160> head("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"recorded\":", r.recorded(),
                         ",\"dropped\":", r.dropped(), ",\"capacity\":", r.capacity(), "},\"traceEvents\":[\n");
    write_(head.view());
    line("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":\"uni\"}}");
    line("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":\"scheduler\"}}");
    r.for_each([this](const event& e) { one(e); });
    write_("\n]}\n");
  }

 private:
  // An application's name for an event, escaped for JSON.
  struct text {
    const char* s;
  };
  friend void format_value(text_writer& w, text t) noexcept {
    for (const char* c = t.s; *c; ++c) {
      if (*c == '"' || *c == '\\') w.put('\\');
      if (static_cast<unsigned char>(*c) >= 0x20) w.put(*c);
    }
  }
  // The common fields: name, ph, ts (microseconds), pid, tid.
  struct stamp {
    std::uint64_t ns;
  };
  friend void format_value(text_writer& w, stamp s) noexcept {
    const std::uint64_t ns = s.ns;
    const std::uint64_t frac = ns % 1000;
    format_to(w, ns / 1000, '.', static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
              static_cast<char>('0' + frac % 10));
  }

  template <class Name, class... Args>
  void emit(const Name& name, char ph, std::uint64_t tid, const Args&... rest) {
    fixed_text<384> t("{\"name\":\"", name, "\",\"ph\":\"", ph, "\",\"ts\":", stamp{ts_}, ",\"pid\":1,\"tid\":", tid,
                      rest..., "}");
    line(t.view());
  }
  void line(std::string_view s) {
    if (!first_) write_(",\n");
    first_ = false;
    write_(s);
  }
  template <class... Args>
  void name_thread(std::uint64_t tid, const Args&... name) {
    fixed_text<200> t("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":", tid, ",\"args\":{\"name\":\"",
                      name..., "\"}}");
    line(t.view());
  }
  void seen_device(std::uint16_t d) {
    for (std::size_t i = 0; i < devices_; ++i)
      if (device_[i] == d) return;
    if (devices_ < device_.size()) device_[devices_++] = d;
    name_thread(device_thread(d), "device ", d);
  }
  static std::string_view state_name(std::uint64_t s) noexcept {
    return s <= static_cast<std::uint64_t>(tcp::state::time_wait) ? tcp::to_string(static_cast<tcp::state>(s)) : "?";
  }

  // The event's time: its stamp, kept after the event before it.
  void place(const event& e) noexcept {
    const std::uint64_t ns = e.ns < 0 ? 0 : static_cast<std::uint64_t>(e.ns);
    ts_ = placed_ && ns <= ts_ ? ts_ + 1 : ns;
    placed_ = true;
  }

  void one(const event& e) {
    place(e);
    const std::uint64_t tcp = tcp_thread(e.device, e.id);
    switch (e.what) {
      case kind::task_spawn:
        name_thread(e.id, "task ", e.id);
        return emit("spawn", 'i', e.a, ",\"s\":\"t\",\"args\":{\"task\":", e.id, "}");
      case kind::task_resume:
        running_ = e.id;
        return emit("run", 'B', e.id);
      case kind::task_suspend: return end_run(e.id);
      case kind::task_finish:
        if (e.a) return emit("cancelled", 'i', e.id, ",\"s\":\"t\"");
        emit("finished", 'i', e.id, ",\"s\":\"t\"");
        return end_run(e.id);
      case kind::task_wake:
        if (e.id == 0 || e.id == e.a) return;  // woken by a timer or the device, or by itself (a yield)
        ++flow_;
        emit("wake", 's', e.id, ",\"cat\":\"wake\",\"id\":", flow_);
        return emit("wake", 'f', e.a, ",\"cat\":\"wake\",\"id\":", flow_);
      case kind::timer_arm:
        return emit("timer armed", 'i', e.id, ",\"s\":\"t\",\"args\":{\"deadline_us\":",
                    static_cast<std::uint64_t>(e.a) / 1000, "}");
      case kind::timer_fire: return emit("timer fired", 'i', e.id, ",\"s\":\"t\"");
      case kind::frame_rx:
      case kind::frame_tx:
        seen_device(e.device);
        return emit(e.what == kind::frame_rx ? "rx" : "tx", 'i', device_thread(e.device),
                    ",\"s\":\"t\",\"args\":{\"bytes\":", e.a, ",\"task\":", e.id, "}");
      case kind::tcp_state:
        if (e.a == 0) name_thread(tcp, "tcp ", e.device, ":", e.id);
        return emit("state", 'i', tcp, ",\"s\":\"t\",\"args\":{\"from\":\"", state_name(e.a), "\",\"to\":\"",
                    state_name(e.b), "\"}");
      case kind::tcp_window:
        emit("cwnd", 'C', tcp, ",\"id\":", tcp, ",\"args\":{\"cwnd\":", high_half(e.a), ",\"ssthresh\":",
             low_half(e.a), ",\"in_flight\":", high_half(e.b), "}");
        return emit("srtt", 'C', tcp, ",\"id\":", tcp, ",\"args\":{\"srtt_us\":", low_half(e.b), "}");
      case kind::tcp_sequence:
        return emit("sequence", 'C', tcp, ",\"id\":", tcp, ",\"args\":{\"una\":", high_half(e.a), ",\"nxt\":",
                    low_half(e.a), ",\"buffered\":", high_half(e.b), ",\"retransmits\":", low_half(e.b), "}");
      case kind::tcp_segment_out:
      case kind::tcp_segment_in:
        return emit(e.what == kind::tcp_segment_out ? "segment out" : "segment in", 'i', tcp,
                    ",\"s\":\"t\",\"args\":{\"seq\":", high_half(e.a), ",\"len\":", low_half(e.a), ",\"ack\":", e.b,
                    "}");
      case kind::tcp_retransmit:
        return emit("retransmit", 'i', tcp, ",\"s\":\"t\",\"args\":{\"seq\":", high_half(e.a), ",\"len\":",
                    low_half(e.a), "}");
      case kind::tcp_recovery:
        return emit(e.a == 1 ? "fast retransmit" : "timeout", 'i', tcp, ",\"s\":\"t\",\"args\":{\"count\":", e.b,
                    "}");
      case kind::span_begin:
      case kind::span_end: return span(e, e.what == kind::span_begin ? 'b' : 'e');
      case kind::span_whole:  // its end 1 ns after its beginning, as the next event would be
        span(e, 'b');
        place(e);
        return span(e, 'e');
      case kind::instant: return emit(text{or_else(e.name(), "event")}, 'i', e.id, ",\"s\":\"t\",\"args\":{\"value\":", e.a, "}");
      case kind::counter: return emit(text{or_else(e.name(), "counter")}, 'C', e.id, ",\"args\":{\"value\":", e.a, "}");
      case kind::turn: return;  // for_each gives its time to the events before it, and leaves it out
    }
  }

  // The end of a task's run, if its beginning is in the trace: one task runs at
  // a time, and the ring may begin inside a run (recording started in a task, or
  // the run's beginning was dropped).
  void end_run(std::uint32_t task) {
    if (running_ != task) return;
    running_ = 0;
    emit("run", 'E', task);
  }
  static const char* or_else(const char* name, const char* otherwise) noexcept { return name ? name : otherwise; }
  void span(const event& e, char ph) {
    const text name{or_else(e.name(), "span")};
    emit(name, ph, e.a, ",\"cat\":\"", name, "\",\"id\":", e.id);
  }

  function_ref<void(std::string_view)> write_;
  bool first_ = true;
  bool placed_ = false;
  std::uint64_t ts_ = 0;  // the time of the event being written (ns)
  std::uint32_t running_ = 0;  // the task whose run ("B") is open
  std::uint64_t flow_ = 0;
  std::array<std::uint16_t, 16> device_{};
  std::size_t devices_ = 0;
};

// Writes `r` as Chrome trace-event JSON through `write`, piece by piece.
inline void write_chrome_json(const ring& r, function_ref<void(std::string_view)> write) {
  chrome_json_writer(write).write(r);
}

}  // namespace uni::trace
