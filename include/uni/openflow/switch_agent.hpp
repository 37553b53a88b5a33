// uni/openflow/switch_agent.hpp: an OpenFlow switch on uni's stacks: the
// datapath (datapath.hpp) given its ports and its connections.
//
//   openflow::switch_agent<ControlStack, PortStack> sw(control, pool, opts);
//   sw.add_port(port_stack, "tap1");            // port 1, 2, ... in this order
//   co_await sw.run(controller_endpoint, 6634);  // until cancelled
//
// Ports: each is a uni::Stack whose every frame the switch takes before the
// stack sees it (Stack::hook_every_frame: that stack consumes nothing) and on
// which it sends with send_frame; frames are views of the pages they came in,
// forwarded without a copy. The control connection goes over another stack (a
// management interface, out of band as OVS's is): connected to the controller
// and connected again after a loss, with a backoff from 1 to 8 seconds doubling
// at each failure; a passive listener (OVS's ptcp:6634) lets `ovs-ofctl` in as
// well. Each connection is one task that writes what the datapath queued for it
// and a reader child that frames the bytes it receives; one more task runs the
// flows' and connections' timers. The switch's own stack may sit on the LOCAL
// port (add_local, over local_port.hpp's device), as OVS's bridge interface.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

#include <uni/core/log.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/net/accept_supervisor.hpp>
#include <uni/net/transport.hpp>
#include <uni/openflow/datapath.hpp>
#include <uni/openflow/local_port.hpp>
#include <uni/openflow/message_buffer.hpp>
#include <uni/openflow/stream_writer.hpp>

namespace uni::openflow {

struct agent_counters {
  accept_counters accepts;
  std::uint64_t connects = 0, connect_failures = 0, disconnects = 0;
  std::uint64_t framing_errors = 0;  // a length below the header's: the connection is closed
};

template <TcpTransport Control, class Port, class Limits = switch_limits>
class switch_agent {
 public:
  using datapath_t = datapath<Limits>;

  static constexpr duration backoff_min = std::chrono::seconds(1);
  static constexpr duration backoff_max = std::chrono::seconds(8);
  static constexpr duration connect_timeout = std::chrono::seconds(5);

  switch_agent(Control& control, page_pool& pool, const switch_options& o) noexcept
      : control_(control), dp_(pool, o), timers_(control.sched()) {
    for (auto& w : wake_) w.emplace(control.sched());
  }
  switch_agent(const switch_agent&) = delete;
  switch_agent& operator=(const switch_agent&) = delete;

  const datapath_t& core() const noexcept { return dp_; }
  const agent_counters& counters() const noexcept { return n_; }

  // Takes `p`'s frames as the next port's: error::table_full past max_ports.
  result<std::uint32_t> add_port(Port& p, std::string_view name) noexcept {
    const std::size_t i = dp_.ports();
    if (i == Limits::max_ports) return fail(error::table_full);
    ports_[i] = {this, &p, static_cast<std::uint32_t>(i + 1)};
    auto no = dp_.add_port(name, p.mac(), ports_[i].tx);
    if (!no) return no;
    auto h = p.hook_every_frame(ports_[i].rx);
    if (!h) return fail(h.err());
    hooks_[i].emplace(std::move(*h));
    return no;
  }

  // Puts the switch's own stack, the one on `dev`, on the LOCAL port.
  result<void> add_local(local_port& dev, std::string_view name) noexcept {
    local_dev_ = &dev;
    if (auto r = dp_.add_local(name, dev.mac(), local_tx_); !r) return r;
    dev.attach(local_rx_);
    return {};
  }

  // Runs the switch: connected to `controller` (none if its port is 0), listening
  // on `listen_port` (none if 0), until cancelled.
  task<void> run(endpoint controller, std::uint16_t listen_port) {
    join_handle<void> active, passive;
    if (controller.port != 0) active = spawn(control_.sched(), keep_connected(controller));
    if (listen_port != 0) passive = spawn(control_.sched(), listen(listen_port));
    while (true) {
      const wake_reason why = co_await timers_.wait_until(dp_.next_tick());
      if (why == wake_reason::cancelled) co_return;
      dp_.tick(control_.sched().now());
      wake_writers();
    }
  }

 private:
  struct port_glue {
    switch_agent* agent = nullptr;
    Port* stack = nullptr;
    std::uint32_t number = 0;
    struct receive_fn {
      port_glue* g;
      void operator()(view frame) const noexcept {
        switch_agent& a = *g->agent;
        a.dp_.receive(g->number, std::move(frame), a.control_.sched().now());
        a.wake_writers();
      }
    } on_frame{this};
    struct transmit_fn {
      port_glue* g;
      result<void> operator()(std::span<const view> frame) const noexcept { return g->stack->send_frame(frame); }
    } on_send{this};
    frame_handler rx{on_frame};
    port_transmit tx{on_send};

    port_glue() noexcept = default;
    port_glue(switch_agent* a, Port* s, std::uint32_t n) noexcept : agent(a), stack(s), number(n) {}
    port_glue& operator=(const port_glue& o) noexcept {  // the callables keep pointing at this slot
      agent = o.agent;
      stack = o.stack;
      number = o.number;
      return *this;
    }
  };

  struct local_receive_fn {
    switch_agent* a;
    void operator()(view frame) const noexcept {
      a->dp_.receive(port::local, std::move(frame), a->control_.sched().now());
      a->wake_writers();
    }
  };
  struct local_transmit_fn {
    switch_agent* a;
    result<void> operator()(std::span<const view> frame) const noexcept { return a->local_dev_->deliver(frame); }
  };

  void wake_writers() noexcept {
    for (std::size_t i = 0; i < Limits::connections; ++i)
      if (!dp_.conn(i).output().empty()) wake_[i]->notify_one();
  }

  task<void> keep_connected(endpoint to) {
    duration backoff = backoff_min;
    bool told = false;
    while (true) {
      auto s = co_await control_.tcp_connect(to, connect_timeout);
      if (s) {
        ++n_.connects;
        told = false;
        backoff = backoff_min;
        log_info("openflow switch: connected to controller ", to);
        co_await serve(0, *s);
        ++n_.disconnects;
        log_info("openflow switch: controller ", to, " gone", dp_.options().on_failure == fail_mode::standalone
                                                                  ? "; standalone: forwarding as a learning switch"
                                                                  : "; fail-secure: flows kept, misses dropped");
      } else {
        ++n_.connect_failures;
        if (!told) log_warn("openflow switch: cannot connect to controller ", to, ": ", to_string(s.err()), "; retrying");
        told = true;
      }
      co_await control_.sched().sleep_for(backoff);
      backoff = std::min(backoff * 2, backoff_max);
    }
  }

  task<void> listen(std::uint16_t port) {
    auto listener = control_.tcp_listen(port);
    if (!listener) {
      log_error("openflow switch: cannot listen on port ", port, ": ", to_string(listener.err()));
      co_return;
    }
    log_info("openflow switch: listening for OpenFlow connections on tcp ", listener->local());
    accept_supervisor<> sup(control_.sched(), "openflow switch", Limits::connections - 1, when_full::wait, n_.accepts);
    co_await sup.run(*listener, [this](auto stream, no_info&) { return this->serve_passive(std::move(stream)); });
  }

  template <class Stream>
  task<void> serve_passive(Stream stream) {
    std::size_t i = 1;
    while (dp_.conn(i).phase() != connection_phase::idle) ++i;  // the supervisor's bound keeps one free
    co_await serve(i, stream);
  }

  template <class Stream>
  task<void> serve(std::size_t i, Stream& stream) {
    dp_.connected(i, control_.sched().now());
    reader_done_[i] = false;
    inputs_[i].clear();
    stream.set_nodelay(true);
    timers_.notify_one();  // the hello's deadline
    join_handle<void> reader = spawn(control_.sched(), read(i, stream));
    while (true) {
      if (!co_await flush(i, stream)) break;
      if (reader_done_[i] || dp_.conn(i).phase() == connection_phase::closed) break;
      if (co_await wake_[i]->wait() == wake_reason::cancelled) break;
    }
    (void)co_await flush(i, stream);  // a HELLO_FAILED goes out before the close
    reader = {};
    stream.close();
    dp_.disconnected(i);
  }

  template <class Stream>
  task<void> read(std::size_t i, Stream& stream) {
    message_buffer& in = inputs_[i];
    while (true) {
      auto d = co_await stream.read();
      if (!d || d->empty()) break;
      view pending = std::move(*d);
      bool ok = true;
      while (ok && !pending.empty()) {
        pending = pending.tail(in.append(pending.bytes()));
        ok = take_input(i);
      }
      wake_writers();
      timers_.notify_one();  // flows with timeouts may have come
      if (!ok) break;
    }
    reader_done_[i] = true;
    wake_[i]->notify_one();
  }

  // Hands every whole message in connection i's buffer to the datapath.
  bool take_input(std::size_t i) noexcept {
    message_buffer& in = inputs_[i];
    bool ok = true;
    while (true) {
      auto m = in.next();
      if (!m) {
        if (m.err() != error::truncated) {
          ++n_.framing_errors;
          ok = false;
        }
        break;
      }
      dp_.on_message(i, *m, control_.sched().now());
      if (dp_.conn(i).phase() == connection_phase::closed) {
        ok = false;
        break;
      }
    }
    in.compact();
    return ok;
  }

  // Writes what the datapath queued for connection i.
  template <class Stream>
  task<bool> flush(std::size_t i, Stream& stream) {
    co_return co_await write_queued(control_, stream, dp_.conn(i), [] {});
  }

  Control& control_;
  datapath_t dp_;
  agent_counters n_;
  wait_queue timers_;
  std::array<std::optional<wait_queue>, Limits::connections> wake_;
  std::array<bool, Limits::connections> reader_done_{};
  std::array<message_buffer, Limits::connections> inputs_{};
  std::array<port_glue, Limits::max_ports> ports_{};
  std::array<std::optional<typename Port::hook>, Limits::max_ports> hooks_;
  local_port* local_dev_ = nullptr;
  local_receive_fn on_local_frame_{this};
  local_transmit_fn on_local_send_{this};
  frame_handler local_rx_{on_local_frame_};
  port_transmit local_tx_{on_local_send_};
};

}  // namespace uni::openflow
