// uni/posix/signals.hpp: SIGINT/SIGTERM as an event a coroutine can wait for, so
// an appliance's main task can stop its services, print its counters and return
// its exit status instead of dying mid-write. SIGUSR1 asks a running appliance
// for its counters (tests read drops and page-pool use live), on every POSIX target.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <string_view>

#include <uni/core/function_ref.hpp>
#include <uni/core/log.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/lifecycle.hpp>

namespace uni::posix {

class stop_signal {
 public:
  stop_signal(scheduler& s, boost::asio::io_context& io) : set_(io, SIGINT, SIGTERM), q_(s) {
    set_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      signal_ = sig;
      q_.notify_all();
    });
  }
  ~stop_signal() {
    boost::system::error_code ec;
    set_.cancel(ec);
  }

  bool stopped() const noexcept { return signal_ != 0; }
  int signal() const noexcept { return signal_; }

  // co_await stop.wait(): returns once a stop signal arrived.
  struct awaiter {
    stop_signal& s;
    wait_queue::wait_awaiter inner;
    bool await_ready() const noexcept { return s.stopped(); }
    void await_suspend(std::coroutine_handle<> h) noexcept { inner.await_suspend(h); }
    int await_resume() const noexcept { return s.signal_; }
  };
  awaiter wait() noexcept { return {*this, q_.wait()}; }
  // The platform's stop request for uni/lifecycle.hpp: says which signal.
  stop_request request() noexcept { return {q_, asked_}; }

 private:
  boost::asio::signal_set set_;
  wait_queue q_;
  int signal_ = 0;
  struct asked_fn {
    const stop_signal& s;
    bool operator()(std::string_view name) const {
      if (s.signal_ != 0) log_info(name, ": stopped by signal ", s.signal_);
      return s.signal_ != 0;
    }
  } asked_{*this};
};

// Calls `report` on every SIGUSR1, from the event loop (never inside a signal handler).
class report_signal {
 public:
  report_signal(boost::asio::io_context& io, function_ref<void()> report) : set_(io, SIGUSR1), report_(report) {
    arm();
  }
  ~report_signal() {
    boost::system::error_code ec;
    set_.cancel(ec);
  }

 private:
  void arm() {
    set_.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      report_();
      arm();
    });
  }
  boost::asio::signal_set set_;
  function_ref<void()> report_;
};

}  // namespace uni::posix
