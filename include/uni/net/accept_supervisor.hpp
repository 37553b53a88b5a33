// uni/net/accept_supervisor.hpp: the accept loop every TCP service shares. One
// loop accepts on a listener and starts one task per connection, up to a bound
// fixed at construction (the slots are allocated once, none per connection but
// the tasks' frames). At the bound a service either stops accepting until a
// connection ends (when_full::wait: new ones wait in the listener's backlog) or
// accepts and resets the new one (when_full::refuse), after asking the service
// for a connection to evict. The connection tasks are owned by the supervisor:
// destroying it (cancelling the service) cancels them, releasing their streams.
//
// A service may also give run() a duty done periodically beside accepting (HTTP
// reaps connections past their deadlines), in the same loop. The loop is no
// coroutine: the scheduler calls it when what it waits for happens.
//
//   accept_supervisor<> sup(sched, "tcp-echo", 1000, when_full::wait, counters);
//   co_await sup.run(listener, [&](auto stream, auto&) { return echo(std::move(stream)); });
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>

#include <uni/core/log.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/net/transport.hpp>

namespace uni {

enum class when_full : std::uint8_t { wait, refuse };

struct accept_counters {
  std::uint64_t accepted = 0;       // connections accept() returned, refused ones included
  std::uint64_t refused = 0;        // reset at the bound (when_full::refuse)
  std::uint64_t evicted = 0;        // cancelled to make room for a new one
  std::uint64_t accept_errors = 0;  // accept() failed (out of descriptors or memory): paused, retried
};

// One connection's task and what the service keeps beside it (a deadline, a state).
template <class Info>
struct supervised {
  join_handle<void> task;
  Info info{};
  bool free() const noexcept { return !task.valid() || task.done(); }
};

struct no_info {};

// The default for when_full::wait, or for a service that never evicts.
struct evict_none {
  template <class Child>
  Child* operator()(std::span<Child>) const noexcept {
    return nullptr;
  }
};
// Whether a supervisor given this make_room evicts (and so never waits for room).
template <class MakeRoom>
inline constexpr bool evicts = !std::is_same_v<MakeRoom, evict_none>;

// A duty run() does every `every` beside accepting, in its own loop:
//   sup.run(listener, start, make_room, periodic_duty{200ms, [&] { reap(sup); }});
template <class Fn>
struct periodic_duty {
  duration every;
  Fn fn;
};
template <class Fn>
periodic_duty(duration, Fn) -> periodic_duty<Fn>;  // (clang before 17 deduces no aggregate's arguments)
struct no_duty {};  // the default

template <class Info = no_info>
class accept_supervisor {
 public:
  using child = supervised<Info>;
  template <TcpListener L, class Start, class MakeRoom, class Duty>
  class loop;

  // `n` is the caller's, so that it outlives the supervisor (a service's
  // report is printed after its tasks are gone).
  accept_supervisor(scheduler& s, std::string_view name, std::size_t bound, when_full policy, accept_counters& n)
      : sched_(s), name_(name), policy_(policy), n_(n), ended_(s), bound_(bound), children_(new child[bound]) {}
  accept_supervisor(const accept_supervisor&) = delete;
  accept_supervisor& operator=(const accept_supervisor&) = delete;

  std::span<child> children() noexcept { return {children_.get(), bound_}; }

  // The loop that accepts on `listener` until the listener closes: `co_await`
  // it, or start() it and keep it (destroying it, or the coroutine awaiting
  // it, stops it; the supervisor and the listener must outlive it). For each connection, `start(stream, info)` gives the task
  // that serves it (`info` is its slot's, for the service to fill); at the
  // bound with when_full::refuse, `make_room(children())` names a child to
  // cancel (nullptr: none, the new connection is reset). A supervisor given
  // make_room refuses, whatever its policy: it never waits for a connection to
  // end, so its connections' tasks do not notify ended_ when they finish. A
  // periodic_duty, if given, runs `every` after it last ran (after the start at
  // first), accepting or waiting.
  template <TcpListener L, class Start, class MakeRoom = evict_none, class Duty = no_duty>
  loop<L, Start, MakeRoom, Duty> run(L& listener, Start start, MakeRoom make_room = {}, Duty duty = {}) noexcept {
    return {*this, listener, std::move(start), std::move(make_room), std::move(duty)};
  }

 private:
  // Serves an accepted connection in `slot`, or one that ended since, or one
  // make_room empties; with none, resets it.
  template <class S, class Start, class MakeRoom>
  void admit(S&& c, child* slot, Start& start, MakeRoom& make_room) {
    ++n_.accepted;
    if (!slot) slot = free_slot();  // one may have ended during accept
    if (!slot) {
      slot = make_room(children());
      if (slot) {
        slot->task.cancel();
        ++n_.evicted;
      }
    }
    if (!slot) {
      ++n_.refused;
      c.abort();
      return;
    }
    slot->task.cancel();  // the ended task's frame, freed before the new one is made
    slot->info = Info{};
    if constexpr (evicts<MakeRoom>) slot->task = spawn(sched_, start(std::move(c), slot->info));
    else slot->task = spawn(sched_, start(std::move(c), slot->info), ended_);  // its end notifies ended_
  }

  // The next free slot from the cursor on, round the ring (the cursor then
  // follows it); a full turn leaves the cursor where it was.
  child* free_slot() noexcept {
    for (std::size_t left = bound_; left != 0; --left) {
      child& s = children_[cursor_];
      if (++cursor_ == bound_) cursor_ = 0;
      if (s.free()) return &s;
    }
    return nullptr;
  }

  scheduler& sched_;
  std::string_view name_;
  when_full policy_;
  accept_counters& n_;
  wait_queue ended_;
  std::size_t cursor_ = 0;
  std::size_t bound_;
  std::unique_ptr<child[]> children_;  // last: destroyed (cancelled) first
};

namespace detail {
// accept() of a listener that cannot be polled (the host's sockets) runs as a
// task of its own, which notifies `finished` when it has a connection or failed.
template <class L>
struct pending_accept {
  explicit pending_accept(scheduler& s) noexcept : finished(s) {}
  join_handle<result<accepted_t<L>>> task;
  wait_queue finished;
};
struct no_pending_accept {
  explicit no_pending_accept(scheduler&) noexcept {}
};
}  // namespace detail

// run()'s loop: no coroutine, but a callback the scheduler calls when what it
// waits for happens (a connection queued, a connection ended, the duty due).
// Each call accepts what it can, then waits again or ends.
template <class Info>
template <TcpListener L, class Start, class MakeRoom, class Duty>
class accept_supervisor<Info>::loop {
 public:
  loop(accept_supervisor& sup, L& listener, Start start, MakeRoom make_room, Duty duty) noexcept
      : sup_(sup),
        listener_(listener),
        start_(std::move(start)),
        make_room_(std::move(make_room)),
        duty_(std::move(duty)),
        pending_(sup.sched_) {}
  loop(const loop&) = delete;
  loop& operator=(const loop&) = delete;

  // Starts accepting, from the scheduler's next turn.
  void start() noexcept {
    if constexpr (periodic) duty_due_ = sup_.sched_.now() + duty_.every;
    sup_.sched_.schedule(waiter_);
  }
  // It has ended: the listener closed.
  bool done() const noexcept { return done_; }

  // co_await: starts it, and resumes the awaiting coroutine once it has ended.
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    awaiting_.handle = h;
    start();
  }
  void await_resume() const noexcept {}

 private:
  static constexpr bool periodic = !std::is_same_v<Duty, no_duty>;

  void step(wake_reason why) noexcept {
    if (why == wake_reason::cancelled) return end();
    accept_supervisor& s = sup_;
    while (true) {
      if constexpr (periodic) {
        if (s.sched_.now() >= duty_due_) {
          duty_.fn();
          duty_due_ = s.sched_.now() + duty_.every;
        }
      }
      // One that evicts accepts whatever its slots: admit() finds it one.
      child* slot = evicts<MakeRoom> ? nullptr : s.free_slot();
      wait_queue* idle = &s.ended_;  // what to wait on when there is nothing to accept
      if (slot || evicts<MakeRoom> || s.policy_ == when_full::refuse) {
        if constexpr (PollingTcpListener<L>) {
          auto c = listener_.try_accept();
          if (c) {
            s.admit(std::move(*c), slot, start_, make_room_);
            continue;
          }
          if (c.err() != error::would_block) return end();  // closed: it fails for nothing else
          idle = &listener_.accept_ready();
        } else {
          auto& accepting = pending_.task;
          if (!accepting.valid()) accepting = spawn(s.sched_, listener_.accept(), pending_.finished);
          if (accepting.done()) {
            auto c = accepting.value();
            accepting.cancel();  // its frame
            if (c) {
              s.admit(std::move(*c), slot, start_, make_room_);
              continue;
            }
            if (c.err() == error::cancelled || c.err() == error::closed) return end();
            // Out of descriptors or memory: the connection stays queued; pause, retry.
            ++s.n_.accept_errors;
            log_warn(s.name_, ": accept: ", to_string(c.err()));
            return s.sched_.add_timer(waiter_, s.sched_.now() + std::chrono::milliseconds(10));
          }
          idle = &pending_.finished;
        }
      }
      // Timed out: the duty's turn, next time round.
      return idle->wait_until(waiter_, periodic ? duty_due_ : time_never);
    }
  }
  void end() noexcept {
    done_ = true;
    if (awaiting_.handle) sup_.sched_.schedule(awaiting_);
  }
  struct wake_fn {
    loop* self;
    void operator()(wake_reason why) const noexcept { self->step(why); }
  };

  accept_supervisor& sup_;
  L& listener_;
  [[no_unique_address]] Start start_;
  [[no_unique_address]] MakeRoom make_room_;
  [[no_unique_address]] Duty duty_;
  time_point duty_due_{};  // when a periodic_duty runs next
  bool done_ = false;
  [[no_unique_address]] std::conditional_t<PollingTcpListener<L>, detail::no_pending_accept, detail::pending_accept<L>>
      pending_;
  waiter awaiting_;  // the coroutine awaiting it, if one is: scheduled when it ends
  wake_fn wake_{this};
  callback_waiter waiter_{wake_};  // last: leaves its queue and the timer heap before they go
};

}  // namespace uni
