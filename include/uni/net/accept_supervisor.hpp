// uni/net/accept_supervisor.hpp: the accept loop every TCP service shares. One
// task accepts on a listener and starts one task per connection, up to a bound
// fixed at construction (the slots are allocated once, none per connection but
// the tasks' frames). At the bound a service either stops accepting until a
// connection ends (when_full::wait: new ones wait in the listener's backlog) or
// accepts and resets the new one (when_full::refuse), after asking the service
// for a connection to evict. The connection tasks are owned by the supervisor:
// destroying it (cancelling the service) cancels them, releasing their streams.
//
// A service may also give run() a duty done periodically beside accepting (HTTP
// reaps connections past their deadlines), in the same loop.
//
//   accept_supervisor<> sup(sched, "tcp-echo", 1000, when_full::wait, counters);
//   co_await sup.run(listener, [&](auto stream, auto&) { return echo(std::move(stream)); });
#pragma once

#include <chrono>
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

  // `n` is the caller's, so that it outlives the supervisor (a service's
  // report is printed after its tasks are gone).
  accept_supervisor(scheduler& s, std::string_view name, std::size_t bound, when_full policy, accept_counters& n)
      : sched_(s), name_(name), policy_(policy), n_(n), ended_(s), bound_(bound), children_(new child[bound]) {}
  accept_supervisor(const accept_supervisor&) = delete;
  accept_supervisor& operator=(const accept_supervisor&) = delete;

  std::span<child> children() noexcept { return {children_.get(), bound_}; }

  // Accepts until cancelled or the listener closes. For each connection,
  // `start(stream, info)` gives the task that serves it (`info` is its slot's,
  // for the service to fill); at the bound with when_full::refuse,
  // `make_room(children())` names a child to cancel (nullptr: none, the new
  // connection is reset). A supervisor given make_room refuses, whatever its
  // policy: it never waits for a connection to end, so its connections' tasks
  // do not notify ended_ when they finish. A periodic_duty, if given, runs
  // `every` after it last ran (after the start at first), accepting or waiting.
  template <TcpListener L, class Start, class MakeRoom = evict_none, class Duty = no_duty>
  task<void> run(L& listener, Start start, MakeRoom make_room = {}, Duty duty = {}) {
    static constexpr bool periodic = !std::is_same_v<Duty, no_duty>;
    if constexpr (periodic) duty_due_ = sched_.now() + duty.every;
    while (true) {
      // One that evicts accepts whatever its slots: admit() finds it one.
      child* slot = evicts<MakeRoom> ? nullptr : free_slot();
      wait_queue* idle = &ended_;  // what to wait on when there is nothing to accept
      if (slot || evicts<MakeRoom> || policy_ == when_full::refuse) {
        // A listener that can be polled is, in this frame: no accept() coroutine.
        if constexpr (PollingTcpListener<L>) {
          auto c = listener.try_accept();
          if (c) {
            admit(std::move(*c), slot, start, make_room);
            continue;
          }
          if (c.err() != error::would_block) co_return;  // closed: it fails for nothing else
          idle = &listener.accept_ready();
        } else {
          auto accepting = listener.accept();
          if constexpr (periodic) accepting = on_duty(std::move(accepting), duty);
          auto c = co_await std::move(accepting);
          if (c) {
            admit(std::move(*c), slot, start, make_room);
            continue;
          }
          if (c.err() == error::cancelled || c.err() == error::closed) co_return;
          // Out of descriptors or memory: the connection stays queued; pause, retry.
          ++n_.accept_errors;
          log_warn(name_, ": accept: ", to_string(c.err()));
          co_await sched_.sleep_for(std::chrono::milliseconds(10));
          continue;
        }
      }
      wake_reason why;
      if constexpr (periodic) {
        if (sched_.now() >= duty_due_) do_duty(duty);
        why = co_await idle->wait_until(duty_due_);  // timed out: the duty's turn, next time round
      } else {
        why = co_await idle->wait();
      }
      if (why == wake_reason::cancelled) co_return;
    }
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

  // accept() of a listener that cannot be polled (the host's sockets), doing the
  // duty while it waits.
  template <class R, class Duty>
  task<R> on_duty(task<R> accept, Duty& duty) {
    join_handle<R> accepting = spawn(sched_, std::move(accept));
    while (true) {
      auto c = co_await accepting.join_until(duty_due_);
      if (c || c.err() != error::timed_out || accepting.done()) co_return c;
      do_duty(duty);
    }
  }
  template <class Duty>
  void do_duty(Duty& duty) {
    duty.fn();
    duty_due_ = sched_.now() + duty.every;
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
  time_point duty_due_{};              // when a periodic_duty runs next
  std::unique_ptr<child[]> children_;  // last: destroyed (cancelled) first
};

}  // namespace uni
