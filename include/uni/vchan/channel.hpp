// uni/vchan/channel.hpp: a vchan as a ByteStream (uni/net/transport.hpp), over
// the shared page's rings (uni/vchan/ring.hpp) and a Signal the platform gives
// (Xen: the event channel's notify; a test: a flag). The platform sets the
// pages up (server: allocates and grants them; client: maps them), calls
// attach(), and calls on_event() whenever the peer signals.
//
//   read()   a page of received bytes; an empty view once the peer has gone
//            (its live byte 0) and the ring is drained
//   write()  every byte, waiting for room; error::closed once the peer has gone
//   close()  our live byte 0, the peer signalled; the platform then releases
//            the pages and the event channel
// vchan has no half-close: shutdown() only stops our writes; the peer learns of
// the end at close(). A peer that breaks the ring (uni/vchan/ring.hpp) closes
// the channel: every later call fails with error::malformed. Waits re-check
// the live byte every `poll` too, so a peer that died without a signal is noticed.
// A wait that goes on `stall_report` without a byte moving logs the page as this
// side sees it (debug level: an idle channel does the same), so a stalled pair
// shows whether bytes sat unseen, a signal never came, or the peer never wrote.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <utility>

#include <uni/core/buffer.hpp>
#include <uni/core/log.hpp>
#include <uni/core/result.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/net/transport.hpp>
#include <uni/vchan/ring.hpp>

namespace uni::vchan {

// Signal: `void operator()() noexcept` tells the peer to look at the page.
template <class Signal>
class channel {
 public:
  static constexpr duration poll = std::chrono::milliseconds(100);
  static constexpr duration stall_report = std::chrono::seconds(5);

  struct stats {
    std::uint64_t bytes_in = 0, bytes_out = 0;
    std::uint64_t signals = 0;  // events we sent
    std::uint64_t waits = 0;    // times we waited for the peer
  };

  channel(scheduler& s, page_pool& pool) noexcept : changed_(s), pool_(pool) {}
  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;

  void attach(control c, ring rx, ring tx, Signal signal) noexcept {
    ctl_ = c;
    rx_ = rx;
    tx_ = tx;
    signal_ = std::move(signal);
    failure_ = error::none;
    open_ = true;
    moved_ = changed_.sched().now();
    ctl_.set_live(live_connected);
  }

  // The peer signalled: wake whoever waits.
  void on_event() noexcept { changed_.notify_all(); }

  // Server side: waits until the client has come (its live byte leaves 2).
  task<result<void>> wait_for_peer(duration timeout) {
    const time_point deadline = changed_.sched().now() + timeout;
    while (ctl_.peer_live() == live_not_yet)
      if (co_await changed_.wait_until(deadline) == wake_reason::timed_out && ctl_.peer_live() == live_not_yet)
        co_return fail(error::timed_out);
    if (ctl_.peer_live() != live_connected) co_return fail(error::closed);
    co_return result<void>{};
  }

  task<result<view>> read() {
    for (;;) {
      if (!open_) co_return fail(failure_ == error::none ? error::closed : failure_);
      auto n = rx_.readable();
      if (!n) co_return fail(broken(n.err()));
      if (*n == 0) {
        const bool gone = ctl_.peer_live() == live_gone;  // read before the ring's last check
        ctl_.request(notify_write);
        n = rx_.readable();
        if (!n) co_return fail(broken(n.err()));
        if (*n == 0) {
          if (gone) co_return view{};
          note_wait("to read");
          co_await changed_.wait_for(poll);
          continue;
        }
      }
      auto page = pool_.allocate();
      if (!page) co_return fail(page.err());
      auto got = rx_.read(page->bytes());
      if (!got) co_return fail(broken(got.err()));
      page->truncate(*got);
      stats_.bytes_in += *got;
      moved_ = changed_.sched().now();
      if (ctl_.take_request(notify_read)) send_signal();
      co_return std::move(*page);
    }
  }

  task<result<void>> write(std::span<const view> views) {
    for (const view& v : views) {
      std::span<const std::uint8_t> rest{v.data(), v.size()};
      while (!rest.empty()) {
        if (!open_ || shut_) co_return fail(failure_ == error::none ? error::closed : failure_);
        if (ctl_.peer_live() == live_gone) co_return fail(error::closed);
        auto put = tx_.write(rest);
        if (!put) co_return fail(broken(put.err()));
        if (*put > 0) {
          rest = rest.subspan(*put);
          stats_.bytes_out += *put;
          moved_ = changed_.sched().now();
          if (ctl_.take_request(notify_write)) send_signal();
          continue;
        }
        ctl_.request(notify_read);
        auto room = tx_.writable();
        if (!room) co_return fail(broken(room.err()));
        if (*room == 0) {
          note_wait("for room");
          co_await changed_.wait_for(poll);
        }
      }
    }
    co_return result<void>{};
  }
  task<result<void>> write(const view& v) { co_return co_await write(std::span<const view>{&v, 1}); }

  result<void> shutdown() noexcept {
    if (!open_) return fail(error::closed);
    shut_ = true;
    return {};
  }

  // Our live byte 0 and the peer told; waiters end. The platform releases the rest.
  void close() noexcept {
    if (!open_) return;
    open_ = false;
    ctl_.set_live(live_gone);
    send_signal();
    changed_.notify_all();
  }

  bool open() const noexcept { return open_; }
  // Why the channel closed itself (error::none: it did not).
  error failure() const noexcept { return failure_; }
  const stats& statistics() const noexcept { return stats_; }

 private:
  error broken(error e) noexcept {
    failure_ = e;
    close();
    return e;
  }
  void send_signal() noexcept {
    ++stats_.signals;
    signal_();
  }
  // Counts a wait; once nothing has moved for stall_report (and each
  // stall_report after), logs both rings' indices, the notify and live bytes.
  void note_wait(const char* what) noexcept {
    ++stats_.waits;
    const time_point now = changed_.sched().now();
    if (now - moved_ < stall_report || now - reported_ < stall_report) return;
    reported_ = now;
    const ring_indices rx = rx_.shared(), tx = tx_.shared();
    const shared_header& h = *ctl_.header();
    log_debug("vchan: nothing moved for ", (now - moved_).count() / 1'000'000, " ms, waiting ", what, ": rx cons ",
              rx.cons, " prod ", rx.prod, ", tx cons ", tx.cons, " prod ", tx.prod, ", notify cli ",
              __atomic_load_n(&h.cli_notify, __ATOMIC_ACQUIRE), " srv ", __atomic_load_n(&h.srv_notify, __ATOMIC_ACQUIRE),
              ", live cli ", __atomic_load_n(&h.cli_live, __ATOMIC_ACQUIRE), " srv ",
              __atomic_load_n(&h.srv_live, __ATOMIC_ACQUIRE), "; ", stats_.signals, " signals sent, ", stats_.waits,
              " waits");
  }

  wait_queue changed_;
  page_pool& pool_;
  control ctl_;
  ring rx_, tx_;
  Signal signal_{};
  stats stats_;
  time_point moved_{}, reported_{};  // when a byte last moved; when a stall was last logged
  error failure_ = error::none;
  bool open_ = false;
  bool shut_ = false;
};

// The movable handle services hold: a ByteStream over a channel that outlives it.
template <class Channel>
class stream {
 public:
  stream() noexcept = default;
  explicit stream(Channel& c) noexcept : c_(&c) {}
  stream(stream&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  stream& operator=(stream&& o) noexcept {
    if (this != &o) {
      close();
      c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
  }
  ~stream() { close(); }

  task<result<view>> read() {
    if (!c_) co_return fail(error::closed);
    co_return co_await c_->read();
  }
  task<result<void>> write(std::span<const view> views) {
    if (!c_) co_return fail(error::closed);
    co_return co_await c_->write(views);
  }
  task<result<void>> write(const view& v) {
    if (!c_) co_return fail(error::closed);
    co_return co_await c_->write(v);
  }
  result<void> shutdown() noexcept { return c_ ? c_->shutdown() : fail(error::closed); }
  void close() noexcept {
    if (c_) std::exchange(c_, nullptr)->close();
  }

 private:
  Channel* c_ = nullptr;
};

}  // namespace uni::vchan
