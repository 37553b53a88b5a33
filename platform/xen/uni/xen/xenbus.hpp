// uni/xen/xenbus.hpp: the frontend's half of the xenbus handshake
// (xen/io/xenbus.h), shared by every split driver: netfront, blkfront.
//
// A device is a frontend node ("device/vif/0") naming its backend's node and
// domain. The frontend publishes what the backend needs (ring references, event
// channel, features) and its own state in one xenstore transaction (retried
// while xenstored says EAGAIN), then waits, watching the backend's `state`, for
// Connected: Initialising -> InitWait (backend) -> Initialised or Connected
// (us) -> Connected (backend). close() walks down: Closing, the backend's
// Closing (bounded), Closed. Every wait is bounded by xenstore::timeout. Like
// xenstore's calls, these block the domain until done (the control plane's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <span>
#include <string_view>

#include <uni/core/format.hpp>
#include <uni/core/result.hpp>
#include <uni/xen/public.hpp>
#include <uni/xen/xenstore.hpp>

#include <xen/io/xenbus.h>

namespace uni::xen {

// One key the frontend publishes under its node: a number or a text.
struct xenbus_field {
  std::string_view leaf;
  std::uint64_t number = 0;
  std::string_view text{};
  constexpr xenbus_field(std::string_view l, std::uint64_t n) noexcept : leaf(l), number(n) {}
  constexpr xenbus_field(std::string_view l, std::string_view t) noexcept : leaf(l), text(t) {}
};

class xenbus_frontend {
 public:
  explicit xenbus_frontend(xenstore& xs) noexcept : xs_(xs) {}

  // Reads the backend's node and domain from `node` (kept: a literal or longer-lived).
  result<void> attach(std::string_view node) noexcept {
    using namespace std::string_view_literals;  // (a literal's length known here, not a strlen call)
    node_ = node;
    xenstore::value v;
    if (auto r = xs_.read(v, node_, "backend-id"sv); !r) return fail(error::no_device);
    backend_id_ = static_cast<domid_t>(xenstore::number(v.view()));
    if (auto r = xs_.read(v, node_, "backend"sv); !r) return fail(error::no_device);
    if (v.size >= sizeof backend_.bytes) return fail(error::too_large);
    backend_.size = v.size;
    std::memcpy(backend_.bytes, v.bytes, backend_.size);
    return {};
  }

  std::string_view node() const noexcept { return node_; }
  std::string_view backend() const noexcept { return backend_.view(); }
  domid_t backend_id() const noexcept { return backend_id_; }

  // A key under our node, or under the backend's ("mac", "sectors", ...), into
  // `v`.
  result<std::size_t> read(xenstore::value& v, std::string_view leaf) noexcept { return xs_.read(v, node_, leaf); }
  result<std::size_t> read_backend(xenstore::value& v, std::string_view leaf) noexcept {
    return xs_.read(v, backend_.view(), leaf);
  }

  // Publishes `fields`, then `more` (a driver's constant features: a static
  // table, not copied into each call's), and our `state` at once, then waits
  // for the backend to be Connected. A backend past Connected (closing) refuses us.
  result<void> connect(std::span<const xenbus_field> fields, XenbusState state,
                       std::span<const xenbus_field> more = {}) noexcept {
    const std::string_view backend = backend_.view();  // its state is backend/state
    // Watch the backend's state before announcing ourselves, so no change is missed.
    if (auto r = xs_.watch(backend, state_key, watch_token); !r) return fail(r.err());
    // The fields, then our state, in one transaction, run again while xenstored
    // says EAGAIN (at most 8 more times).
    result<void> r{};
    for (int attempt = 0;; ++attempt) {
      auto started = xs_.transaction_start();
      if (!started) {
        r = fail(started.err());
        break;
      }
      const std::uint32_t tx = *started;
      result<std::size_t> written = 0;
      char num[24];
      const std::size_t n = fields.size() + more.size();
      for (std::size_t i = 0; written && i <= n; ++i) {
        std::string_view leaf = state_key, value = state_text(state);
        if (i < n) {
          const xenbus_field& f = i < fields.size() ? fields[i] : more[i - fields.size()];
          leaf = f.leaf;
          value = f.text;
          if (value.empty()) {
            text_writer w{num, sizeof num};
            format_to(w, f.number);
            value = w.view();
          }
        }
        written = xs_.write(node_, leaf, value, tx);
      }
      auto ended = xs_.transaction_end(tx, written.ok());  // aborted if a write failed
      if (!written) r = fail(written.err());
      else if (!ended && (ended.err() != error::would_block || attempt == 8)) r = fail(ended.err());
      if (!r || ended) break;
    }
    // The backend's state, re-read at every watch event, until Connected (an
    // event that arrives while the read runs counts: read again at once).
    for (bool waiting = r.ok(); waiting;) {
      const std::uint64_t events = xs_.statistics().watch_events;
      xenstore::value s;
      auto read = xs_.read(s, backend, state_key);
      const std::uint64_t now = read ? xenstore::number(s.view()) : 0;
      if (now == static_cast<std::uint64_t>(XenbusStateConnected)) break;
      if (now > static_cast<std::uint64_t>(XenbusStateConnected)) r = fail(error::refused);
      else if (!xs_.wait_for_watch(events, xs_.deadline())) r = fail(error::timed_out);
      waiting = r.ok();
    }
    (void)xs_.unwatch(backend, state_key, watch_token);
    if (r) state_ = state;
    return r;
  }

  // Our state alone (blkfront: Connected once the disk's size is read).
  result<void> switch_state(XenbusState s) noexcept {
    if (auto r = xs_.write(node_, state_key, state_text(s), 0); !r) return fail(r.err());
    state_ = s;
    return {};
  }

  XenbusState state() const noexcept { return state_; }

  // Closing, the backend's Closing or more (or the deadline), then Closed: the
  // backend's state re-read at each watch event (ours or the toolstack's) or
  // every 10 ms.
  result<void> close() noexcept {
    for (XenbusState next = XenbusStateClosing;; next = XenbusStateClosed) {
      auto w = xs_.write(node_, state_key, state_text(next), 0);
      if (w) state_ = next;
      if (next == XenbusStateClosed) return w ? result<void>{} : fail(w.err());
      const time_point deadline = xs_.deadline();
      for (;;) {
        const std::uint64_t events = xs_.statistics().watch_events;
        xenstore::value s;
        auto read = xs_.read(s, backend_.view(), state_key);
        if (!read || xenstore::number(s.view()) >= XenbusStateClosing) break;
        if (xs_.now() >= deadline) break;
        (void)xs_.wait_for_watch(events, std::min(deadline, xs_.now() + std::chrono::milliseconds(10)));
      }
    }
  }

 private:
  static constexpr std::string_view watch_token = "uni-xenbus";
  // (string_view constants and literals: their lengths known, no strlen call each)
  static constexpr std::string_view state_key = "state";

  struct small_text {
    char bytes[96];
    std::size_t size = 0;
    std::string_view view() const noexcept { return {bytes, size}; }
  };

  // A state as xenstore holds it: its number, one digit (a table of string_views
  // would be 16 bytes a state).
  static std::string_view state_text(XenbusState s) noexcept {
    static constexpr char digits[] = "012345678";
    return {digits + (static_cast<unsigned>(s) < 9 ? s : 0), 1};
  }

  xenstore& xs_;
  std::string_view node_;
  small_text backend_;
  domid_t backend_id_ = 0;
  XenbusState state_ = XenbusStateInitialising;
};

}  // namespace uni::xen
