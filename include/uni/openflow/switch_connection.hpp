// uni/openflow/switch_connection.hpp: the switch's side of one OpenFlow
// connection, sans I/O (1.0 §4.3, 1.3 §6.3.1): the hello it sends first and
// the version it negotiates from the controller's, the bytes it has queued for
// the controller (bounded: a message that does not fit is counted, not sent),
// and the keep-alive: an idle controller is probed with an echo request and
// given up when it stays silent. What the messages mean is the switch's
// (datapath.hpp); this is the part every connection has once.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

#include <uni/core/time.hpp>
#include <uni/openflow/error.hpp>
#include <uni/openflow/hello.hpp>
#include <uni/openflow/output_queue.hpp>

namespace uni::openflow {

struct connection_limits {
  duration echo_interval = std::chrono::seconds(5);
  duration echo_timeout = std::chrono::seconds(15);
  duration hello_timeout = std::chrono::seconds(10);
};

struct connection_counters {
  std::uint64_t messages = 0;
  std::uint64_t refused = 0;      // errors sent back (bad lengths, types, versions, ...)
  std::uint64_t output_full = 0;  // messages dropped: no room in the output
  std::uint64_t echo_probes = 0;
  std::uint64_t errors_received = 0;
};

enum class connection_phase : std::uint8_t { idle, hello, ready, closed };

template <std::size_t OutCapacity>
class switch_connection {
 public:
  connection_phase phase() const noexcept { return phase_; }
  bool ready() const noexcept { return phase_ == connection_phase::ready; }
  version negotiated() const noexcept { return v_; }
  connection_counters& counters() noexcept { return n_; }
  const connection_counters& counters() const noexcept { return n_; }

  // A new connection: our hello goes first.
  void start(version_set ours, const connection_limits& l, time_point now) noexcept {
    ours_ = ours;
    limits_ = l;
    phase_ = connection_phase::hello;
    out_.clear();
    started_ = last_rx_ = now;
    echo_sent_ = time_never;
    (void)queue([&](std::span<std::uint8_t> o) { return hello::emit(ours_, next_xid_++, o); });
  }
  void close() noexcept { phase_ = connection_phase::closed; }
  void reset() noexcept {
    phase_ = connection_phase::idle;
    out_.clear();
  }

  // Bytes for the controller, oldest first; sent(n) once n of them are written.
  std::span<const std::uint8_t> output() const noexcept { return out_.pending(); }
  void sent(std::size_t n) noexcept { out_.sent(n); }

  // Any message: the peer is alive. False if the connection must close.
  void heard(time_point now) noexcept {
    ++n_.messages;
    last_rx_ = now;
    echo_sent_ = time_never;
  }

  // The controller's hello: negotiates, or refuses with HELLO_FAILED and closes.
  bool on_hello(const message& m) noexcept {
    auto h = hello::parse(m);
    const auto v = h ? negotiate(ours_, *h) : std::nullopt;
    if (!v) {
      static constexpr char why[] = "no common OpenFlow version";
      const error_msg e{code_of(version::of10, refusal::incompatible),
                        {reinterpret_cast<const std::uint8_t*>(why), sizeof why - 1}};
      (void)queue([&](std::span<std::uint8_t> o) { return e.emit(static_cast<version>(ours_.highest()), m.h.xid, o); });
      ++n_.refused;
      phase_ = connection_phase::closed;
      return false;
    }
    v_ = *v;
    phase_ = connection_phase::ready;
    return true;
  }

  // Keep-alive: probes an idle peer, closes on a silent one or a hello that never came.
  void tick(time_point now) noexcept {
    if (phase_ == connection_phase::hello && now - started_ >= limits_.hello_timeout) phase_ = connection_phase::closed;
    if (phase_ != connection_phase::ready) return;
    if (echo_sent_ != time_never) {
      if (now - echo_sent_ >= limits_.echo_timeout) phase_ = connection_phase::closed;
    } else if (now - last_rx_ >= limits_.echo_interval) {
      if (queue([&](std::span<std::uint8_t> o) { return emit_simple(v_, kind::echo_request, next_xid_++, o); })) {
        ++n_.echo_probes;
        echo_sent_ = now;
      }
    }
  }
  time_point next_tick() const noexcept {
    if (phase_ == connection_phase::hello) return started_ + limits_.hello_timeout;
    if (phase_ != connection_phase::ready) return time_never;
    if (echo_sent_ != time_never) return echo_sent_ + limits_.echo_timeout;
    return last_rx_ + limits_.echo_interval;
  }

  // The error refusing `m` for `why`.
  void refuse(refusal why, const message& m) noexcept {
    ++n_.refused;
    const version v = phase_ == connection_phase::ready ? v_ : static_cast<version>(ours_.highest());
    (void)queue([&](std::span<std::uint8_t> o) { return emit_refusal(v, why, m.bytes, m.h.xid, o); });
  }

  std::uint32_t next_xid() noexcept { return next_xid_++; }

  // Emits a message at the end of the output; false (counted) if it does not fit.
  template <class Emit>
  bool queue(Emit emit) noexcept {
    if (out_.push(emit)) return true;
    ++n_.output_full;
    return false;
  }

 private:
  connection_phase phase_ = connection_phase::idle;
  version_set ours_ = both_versions;
  version v_ = version::of10;
  connection_limits limits_;
  connection_counters n_;
  time_point started_{}, last_rx_{}, echo_sent_ = time_never;
  std::uint32_t next_xid_ = 1;
  output_queue<OutCapacity> out_;
};

}  // namespace uni::openflow
