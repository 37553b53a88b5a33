// uni/xen/xenstore.hpp: a xenstore client: read, write, permissions, watch,
// transactions.
//
// xenstore is dom0's configuration tree, reached through a shared page of two
// byte rings (requests, responses; xen/io/xs_wire.h) and an event channel,
// both named by HVM params. Messages are a xsd_sockmsg header and a payload.
//
// Calls are synchronous: a call sends its request and blocks the domain in the
// clock's wait (which dispatches event channels, so the response ring is
// drained) until the reply or the deadline. Xenstore is the control plane's:
// start of day, a device's handshake, the stop; blocking for one round trip to
// xenstored there costs less than a coroutine per call, whose code every image
// would carry (the Xen images' size goal). So one request is in flight at a
// time, and no queue is needed. Watch events are counted, and wake
// `watch_fired()` waiters (tasks, which re-read the nodes they care about), or
// a caller of wait_for_watch(). Every wait is bounded by a deadline.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <uni/core/result.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/xen/clock.hpp>
#include <uni/xen/cpu.hpp>
#include <uni/xen/events.hpp>
#include <uni/xen/hypercall.hpp>

#include <xen/io/xs_wire.h>

namespace uni::xen {

class xenstore {
 public:
  static constexpr std::size_t max_value = 256;  // our nodes hold short values
  static constexpr duration timeout = std::chrono::seconds(10);

  struct value {
    char bytes[max_value];
    std::size_t size = 0;
    std::string_view view() const noexcept { return {bytes, size}; }
  };

  struct stats {
    std::uint64_t requests = 0;
    std::uint64_t errors = 0;         // XS_ERROR replies
    std::uint64_t watch_events = 0;
    std::uint64_t discarded = 0;      // replies nobody waited for, or too long
  };

  xenstore(event_channels& ev, XenClock& clock, scheduler& s) noexcept : ev_(ev), clock_(clock), watch_(s) {}
  xenstore(const xenstore&) = delete;
  xenstore& operator=(const xenstore&) = delete;

  result<void> start() noexcept {
    std::uint64_t pfn = 0, port = 0;
    if (get_hvm_param(HVM_PARAM_STORE_PFN, pfn) != 0 || pfn == 0) return fail(error::no_device);
    if (get_hvm_param(HVM_PARAM_STORE_EVTCHN, port) != 0) return fail(error::no_device);
    ring_ = reinterpret_cast<xenstore_domain_interface*>(pfn << 12);
    port_ = static_cast<evtchn_port_t>(port);
    if (auto r = ev_.attach(port_, &xenstore::on_event, this); !r) return fail(r.err());
    pump();
    return {};
  }

  // The node `path`, or `dir`/`leaf` (the path sent in pieces: no buffer to build
  // it in), into `v`: its length, or the error.
  // (A path is a dir with no leaf: one function for both, not two.)
  result<std::size_t> read(value& v, std::string_view path) { return read(v, path, {}); }
  result<std::size_t> read(value& v, std::string_view dir, std::string_view leaf) {
    return request({XS_READ, 0, dir, leaf, {}, &v});
  }

  // The requests whose reply is an acknowledgement ("OK") give its length, or
  // the error.
  result<std::size_t> write(std::string_view path, std::string_view data, std::uint32_t tx = 0) {
    return write(path, {}, data, tx);
  }
  result<std::size_t> write(std::string_view dir, std::string_view leaf, std::string_view data, std::uint32_t tx) {
    return request({XS_WRITE, tx, dir, leaf, data});
  }

  // A new transaction's id (xenstored sends it as text), or the error.
  result<std::uint32_t> transaction_start() {
    value id;
    auto r = request({XS_TRANSACTION_START, 0, {}, {}, {}, &id});
    if (!r) return fail(r.err());
    return static_cast<std::uint32_t>(number(id.view()));
  }

  // The decimal number a node's value begins with (0 if none): a state, a domain id.
  static std::uint64_t number(std::string_view s) noexcept {
    std::uint64_t n = 0;
    for (char c : s) {
      if (c < '0' || c > '9') break;
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
  }

  // Commits (or aborts) `tx`; error::would_block (EAGAIN) means: run it again.
  // (Its payload, "T" or "F", is sent as the path part: the NUL follows it.)
  result<std::size_t> transaction_end(std::uint32_t tx, bool commit) {
    return request({XS_TRANSACTION_END, tx, commit ? std::string_view{"T", 1} : std::string_view{"F", 1}});
  }

  // Who may do what to `path` (XS_SET_PERMS, allowed on the nodes we own):
  // `perms` as built by permissions below.
  result<std::size_t> set_perms(std::string_view path, std::string_view perms) {
    return request({XS_SET_PERMS, 0, path, {}, perms});
  }

  // An XS_SET_PERMS list: entries of a letter (n none, r read, w write, b
  // both) and a domain id, each NUL-terminated; the first names the node's
  // owner and what the domains not listed may do.
  class permissions {
   public:
    permissions& add(char what, std::uint16_t domain) noexcept {
      char digits[5];
      std::size_t n = 0;
      do digits[n++] = static_cast<char>('0' + domain % 10);
      while ((domain /= 10) != 0);
      if (size_ + 2 + n > sizeof bytes_) return *this;  // 4 entries fit; more are dropped
      bytes_[size_++] = what;
      while (n > 0) bytes_[size_++] = digits[--n];
      bytes_[size_++] = '\0';
      return *this;
    }
    operator std::string_view() const noexcept { return {bytes_, size_}; }

   private:
    char bytes_[32];
    std::size_t size_ = 0;
  };

  // Xen fires a watch once at registration, then on every change under `path`
  // (or `dir`/`leaf`).
  result<std::size_t> watch(std::string_view path, std::string_view token) { return watching(XS_WATCH, path, {}, token); }
  result<std::size_t> watch(std::string_view dir, std::string_view leaf, std::string_view token) {
    return watching(XS_WATCH, dir, leaf, token);
  }
  result<std::size_t> unwatch(std::string_view dir, std::string_view leaf, std::string_view token) {
    return watching(XS_UNWATCH, dir, leaf, token);
  }

  // The clock's time, and the deadline of a wait that begins now.
  time_point now() const noexcept { return clock_.now(); }
  time_point deadline() const noexcept { return now() + timeout; }

  // Tasks waiting here are woken (notified) by every watch event.
  wait_queue& watch_fired() noexcept { return watch_; }

  // Blocks until a watch event after the `seen`th (statistics().watch_events
  // noted before the read it follows: one that came during the read counts), or
  // the deadline; false at the deadline.
  bool wait_for_watch(std::uint64_t seen, time_point until) noexcept {
    while (stats_.watch_events == seen)
      if (!wait(until)) return false;
    return true;
  }
  const stats& statistics() const noexcept { return stats_; }

 private:
  static constexpr std::string_view nul{"\0", 1}, slash{"/", 1};

  // XS_WATCH or XS_UNWATCH (the same message: one body).
  [[gnu::noinline]] result<std::size_t> watching(std::uint32_t type, std::string_view dir, std::string_view leaf,
                                                 std::string_view token) {
    return request({type, 0, dir, leaf, token});
  }

  // One request. Every payload is one form: `dir`, then "/" and `leaf` if there
  // is a leaf, a NUL, then `data` as it is (a write's value, a permissions list
  // whose entries end in NULs) -- or NUL-terminated, a watch's token. The reply's
  // payload goes to `reply` (none: a few bytes in the request's frame, enough
  // for an acknowledgement or an error's name). Callers fill in three views and
  // a pointer, not the payload's pieces.
  struct message {
    std::uint32_t type;
    std::uint32_t tx;
    std::string_view dir;
    std::string_view leaf{};
    std::string_view data{};
    value* reply = nullptr;
  };

  struct pending {
    std::uint32_t req_id;
    char* out;
    std::size_t cap;
    std::size_t len = 0;
    std::uint32_t type = 0;
    bool done = false;
    bool truncated = false;
  };

  // Sends `m` and waits for its reply. (By reference: a message passed by
  // value is copied again at each of the calls above.)
  result<std::size_t> request(const message& m) noexcept {
    const time_point until = deadline();
    char ack[16];
    char* const out = m.reply ? m.reply->bytes : ack;
    const std::size_t cap = m.reply ? sizeof m.reply->bytes : sizeof ack;
    const bool token = m.type == XS_WATCH || m.type == XS_UNWATCH;
    const std::string_view parts[] = {m.dir, m.leaf.empty() ? m.leaf : slash, m.leaf, nul, m.data,
                                      token ? nul : std::string_view{}};
    std::size_t len = 0;
    for (auto part : parts) len += part.size();
    if (len > XENSTORE_PAYLOAD_MAX) return fail(error::too_large);
    pending p{++next_req_id_, out, cap};
    const xsd_sockmsg h{m.type, p.req_id, m.tx, static_cast<std::uint32_t>(len)};
    current_ = &p;
    ++stats_.requests;
    bool ok = true;
    for (std::size_t i = 0; ok && i <= std::size(parts); ++i) {
      std::string_view rest = i == 0 ? std::string_view{reinterpret_cast<const char*>(&h), sizeof h} : parts[i - 1];
      while (ok && !rest.empty()) {
        const std::size_t sent = put(rest);
        rest.remove_prefix(sent);
        if (sent == 0) ok = wait(until);  // the ring is full: xenstored takes some and signals
      }
    }
    while (ok && !p.done) ok = wait(until);
    current_ = nullptr;  // (a late reply is discarded)
    if (!ok) return fail(error::timed_out);
    if (p.type == XS_ERROR) {
      ++stats_.errors;
      using namespace std::string_view_literals;  // (a literal's length known here, not a strlen call)
      const std::string_view e{out, p.len < cap ? p.len : cap};
      if (e.starts_with("ENOENT"sv)) return fail(error::no_device);
      if (e.starts_with("EAGAIN"sv)) return fail(error::would_block);
      if (e.starts_with("EACCES"sv)) return fail(error::permission);
      return fail(error::io);
    }
    if (p.truncated) return fail(error::too_large);
    if (m.reply) m.reply->size = p.len;
    return p.len;
  }

  // One wait for an event channel (ours or any other: their handlers run) or the
  // deadline; false once the deadline has passed.
  bool wait(time_point until) noexcept {
    if (clock_.now() >= until) return false;
    clock_.wait_until(until);
    return true;
  }

  // Copies what fits of `s` into the request ring; the bytes copied (0: full).
  std::size_t put(std::string_view s) noexcept {
    const XENSTORE_RING_IDX cons = __atomic_load_n(&ring_->req_cons, __ATOMIC_ACQUIRE);
    XENSTORE_RING_IDX prod = ring_->req_prod;
    const std::size_t room = XENSTORE_RING_SIZE - (prod - cons);
    const std::size_t n = s.size() < room ? s.size() : room;
    if (n == 0) return 0;
    for (std::size_t i = 0; i < n; ++i) ring_->req[MASK_XENSTORE_IDX(prod++)] = s[i];
    cpu::wmb();
    ring_->req_prod = prod;
    ev_.notify(port_);
    return n;
  }

  static void on_event(void* self, evtchn_port_t) noexcept { static_cast<xenstore*>(self)->pump(); }

  // Takes every complete message off the response ring.
  void pump() noexcept {
    for (;;) {
      const XENSTORE_RING_IDX prod = __atomic_load_n(&ring_->rsp_prod, __ATOMIC_ACQUIRE);
      XENSTORE_RING_IDX cons = ring_->rsp_cons;
      if (prod - cons < sizeof(xsd_sockmsg)) return;
      xsd_sockmsg h;
      copy_out(cons, reinterpret_cast<char*>(&h), sizeof h);
      if (prod - cons < sizeof h + h.len) return;  // the rest is still coming
      cons += sizeof h;
      if (h.type == XS_WATCH_EVENT) {
        ++stats_.watch_events;
        watch_.notify_all();
      } else if (current_ && h.req_id == current_->req_id) {
        pending& p = *current_;
        const std::size_t n = h.len < p.cap ? h.len : p.cap;
        copy_out(cons, p.out, n);
        p.len = n;
        p.truncated = h.len > p.cap && h.type != XS_ERROR;
        p.type = h.type;
        p.done = true;
      } else {
        ++stats_.discarded;
      }
      cons += h.len;
      cpu::mb();
      ring_->rsp_cons = cons;
      ev_.notify(port_);
    }
  }

  void copy_out(XENSTORE_RING_IDX from, char* to, std::size_t n) const noexcept {
    for (std::size_t i = 0; i < n; ++i) to[i] = ring_->rsp[MASK_XENSTORE_IDX(from + i)];
  }

  event_channels& ev_;
  XenClock& clock_;
  xenstore_domain_interface* ring_ = nullptr;
  evtchn_port_t port_ = 0;
  std::uint32_t next_req_id_ = 0;
  pending* current_ = nullptr;
  wait_queue watch_;
  stats stats_;
};

}  // namespace uni::xen
