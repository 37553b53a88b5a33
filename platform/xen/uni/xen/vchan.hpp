// uni/xen/vchan.hpp: the server role of a vchan (Xen's shared-memory channel,
// as Linux's libxenvchan speaks it) between this domain and `peer`.
//
// accept() lays the shared page out (uni/vchan/ring.hpp): rings of the orders
// asked for, 10 and 11 inside the page, 12 and up in pages of their own whose
// grant references follow the header; grants every page to the peer, allocates
// an unbound event channel for it, and writes `PATH/event-channel` then
// `PATH/ring-ref` in xenstore (a relative PATH is under our domain's home), so
// a client that finds ring-ref finds both. It then waits for the client's live
// byte and hands out the channel as a ByteStream (uni/vchan/channel.hpp).
// The next accept() (or the server's end) takes everything back: the event
// channel closed, each grant revoked once the peer has unmapped it (waited for,
// bounded; a page still mapped after that is kept out of the pool for good).
// Both nodes are ours and readable by the peer alone (XS_SET_PERMS), so a
// client in another domU finds them. The client role is vchan_client below.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include <uni/core/buffer.hpp>
#include <uni/core/format.hpp>
#include <uni/core/log.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/vchan/channel.hpp>
#include <uni/vchan/ring.hpp>
#include <uni/xen/events.hpp>
#include <uni/xen/grant_table.hpp>
#include <uni/xen/hypercall.hpp>
#include <uni/xen/xenstore.hpp>

#include <xen/io/libxenvchan.h>

namespace uni::xen {

static_assert(sizeof(vchan::shared_header) == sizeof(vchan_interface) &&
              offsetof(vchan::shared_header, srv_notify) == offsetof(vchan_interface, srv_notify) &&
              vchan::grants_offset == offsetof(vchan_interface, grants));

// The event channel's notify, for the channel.
struct vchan_signal {
  event_channels* ev = nullptr;
  evtchn_port_t port = 0;
  void operator()() const noexcept {
    if (ev && port) ev->notify(port);
  }
};

namespace detail {
// `dir`/`leaf`, NUL-terminated, in `buf` (160 bytes).
inline std::string_view vchan_node(char* buf, std::string_view dir, std::string_view leaf) noexcept {
  text_writer w{buf, 159};
  format_to(w, dir, "/", leaf);
  buf[w.size()] = '\0';
  return {buf, w.size()};
}
// A xenstore node's decimal value (at most 2^32 - 1).
inline bool parse_number(std::string_view s, std::uint64_t& n) noexcept {
  if (s.empty() || s.size() > 10) return false;
  n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n <= 0xffffffffu;
}
}  // namespace detail

class vchan_server {
 public:
  static constexpr unsigned max_order = 16;  // 64 KiB rings, 16 pages each
  static constexpr std::size_t max_ring_pages = vchan::pages_of(max_order);
  static constexpr duration unmap_wait = std::chrono::seconds(2);
  using channel = vchan::channel<vchan_signal>;
  using stream = vchan::stream<channel>;

  vchan_server(event_channels& ev, grant_table& gnt, xenstore& xs, page_pool& pool, scheduler& sched) noexcept
      : ev_(ev), gnt_(gnt), xs_(xs), pool_(pool), sched_(sched) {}
  vchan_server(const vchan_server&) = delete;
  vchan_server& operator=(const vchan_server&) = delete;
  ~vchan_server() { release_now(); }

  // Offers a channel at `path` to domain `peer` and waits (up to `timeout`) for it.
  task<result<stream>> accept(std::string_view path, domid_t peer, unsigned left_order, unsigned right_order,
                              duration timeout) {
    co_await release();
    if (kept_ + 1 + vchan::pages_of(left_order) + vchan::pages_of(right_order) > kept_pages_.size())
      co_return fail(error::in_use);  // too many pages a peer never gave back
    if (auto r = vchan::check_orders(left_order, right_order); !r || left_order > max_order || right_order > max_order)
      co_return fail(error::invalid_argument);
    if (auto r = lay_out(peer, left_order, right_order); !r) {
      release_now();
      co_return fail(r.err());
    }
    evtchn_alloc_unbound_t op{};
    op.dom = DOMID_SELF;
    op.remote_dom = peer;
    if (event_channel_op(EVTCHNOP_alloc_unbound, &op) != 0) {
      release_now();
      co_return fail(error::io);
    }
    port_ = op.port;
    channel& c = channel_.emplace(sched_, pool_);
    vchan::shared_header& h = header();
    const std::span<std::uint8_t* const> left{left_.data(), left_count_}, right{right_.data(), right_count_};
    c.attach(vchan::control(h, vchan::role::server), vchan::ring(h.left, left, left_order, false),
             vchan::ring(h.right, right, right_order, true), vchan_signal{&ev_, port_});
    if (auto r = ev_.attach(port_, &vchan_server::on_event, this); !r) {
      release_now();
      co_return fail(r.err());
    }
    if (auto r = publish(path, peer); !r) {
      log_warn("vchan: could not offer at ", path, ": ", to_string(r.err()));
      c.close();
      co_return fail(r.err());
    }
    log_info("vchan: offered at ", path, " to domain ", peer, ": rings of ", 1u << left_order, " and ",
             1u << right_order, " bytes, ring-ref ", refs_[0], ", event channel ", port_);
    if (auto r = co_await c.wait_for_peer(timeout); !r) {
      c.close();
      co_return fail(r.err());
    }
    log_info("vchan: domain ", peer, " connected at ", path);
    co_return stream(c);
  }

  // The channel of the last accept() (its counters), if any.
  const channel* current() const noexcept { return channel_ ? &*channel_ : nullptr; }

  // Takes back the event channel and the pages, waiting (bounded) for the peer to unmap.
  task<void> release() {
    if (channel_) channel_->close();
    close_port();
    const time_point deadline = sched_.now() + unmap_wait;
    while (!revoke_all() && sched_.now() < deadline) co_await sched_.sleep_for(std::chrono::milliseconds(20));
    release_now();
  }

 private:
  // Writes PATH/event-channel then PATH/ring-ref, each readable by `peer`
  // alone (owned by us, no access for others: what libxenvchan's server sets;
  // dom0 reads every node anyway).
  result<void> publish(std::string_view path, domid_t peer) noexcept {
    if (self_ < 0) {
      xenstore::value id;
      std::uint64_t n = 0;
      if (!xs_.read(id, "domid") || !detail::parse_number(id.view(), n) || n >= DOMID_FIRST_RESERVED)
        return fail(error::no_device);
      self_ = static_cast<int>(n);
    }
    xenstore::permissions perms;
    perms.add('n', static_cast<std::uint16_t>(self_)).add('r', peer);
    char node[160];
    for (auto [leaf, value] : {std::pair{std::string_view{"event-channel"}, number(port_)},
                               std::pair{std::string_view{"ring-ref"}, number(refs_[0])}}) {
      const std::string_view at = detail::vchan_node(node, path, leaf);
      if (auto r = xs_.write(at, value); !r) return fail(r.err());
      if (auto r = xs_.set_perms(at, perms); !r) return fail(r.err());
    }
    return {};
  }

  vchan::shared_header& header() noexcept { return *reinterpret_cast<vchan::shared_header*>(pages_[0].data()); }

  // The shared page and the rings' pages, granted to `peer`; refs_[0] is the shared page's.
  result<void> lay_out(domid_t peer, unsigned left_order, unsigned right_order) noexcept {
    const std::size_t extra = vchan::pages_of(left_order) + vchan::pages_of(right_order);
    for (std::size_t i = 0; i < 1 + extra; ++i) {
      auto p = pool_.allocate();
      if (!p) return fail(p.err());
      std::memset(p->data(), 0, page_size);
      auto ref = gnt_.grant(peer, reinterpret_cast<std::uintptr_t>(p->data()) >> 12, false);
      if (!ref) return fail(ref.err());
      pages_[count_] = std::move(*p);
      refs_[count_++] = *ref;
    }
    vchan::shared_header& h = header();
    std::uint8_t* shared = pages_[0].data();
    std::uint32_t* grants = vchan::grants(h);
    std::size_t next = 1;
    auto place = [&](unsigned order, std::array<std::uint8_t*, max_ring_pages>& chunks, std::size_t& n) {
      n = 0;
      if (order < 12) {
        chunks[n++] = shared + vchan::in_page_offset(order);
        return;
      }
      for (std::size_t i = 0; i < vchan::pages_of(order); ++i, ++next) {
        chunks[n++] = pages_[next].data();
        *grants++ = refs_[next];
      }
    };
    place(left_order, left_, left_count_);
    place(right_order, right_, right_count_);
    vchan::initialise(h, left_order, right_order);
    return {};
  }

  static void on_event(void* self, evtchn_port_t) noexcept {
    auto& s = *static_cast<vchan_server*>(self);
    if (s.channel_) s.channel_->on_event();
  }

  void close_port() noexcept {
    if (port_ == 0) return;
    evtchn_close_t c{};
    c.port = port_;
    event_channel_op(EVTCHNOP_close, &c);
    port_ = 0;
  }
  // Revokes what the peer no longer maps; true once every grant is revoked.
  bool revoke_all() noexcept {
    bool all = true;
    for (std::size_t i = 0; i < count_; ++i) {
      if (revoked_[i]) continue;
      revoked_[i] = gnt_.revoke(refs_[i]);
      all = all && revoked_[i];
    }
    return all;
  }
  // Revoked pages go back to the pool; a page still mapped by the peer is kept
  // out of it (accept() refuses once these could not hold another channel's).
  void release_now() noexcept {
    close_port();
    revoke_all();
    channel_.reset();
    for (std::size_t i = 0; i < count_; ++i) {
      if (revoked_[i]) {
        gnt_.release(refs_[i]);
        pages_[i] = view{};
      } else if (kept_ < kept_pages_.size()) {
        kept_pages_[kept_++] = std::move(pages_[i]);  // the peer may still write it: never reused
      }
      revoked_[i] = false;
    }
    count_ = 0;
  }

  struct number_text {
    char bytes[12];
    std::size_t size;
    operator std::string_view() const noexcept { return {bytes, size}; }
  };
  static number_text number(std::uint32_t n) noexcept {
    number_text t{};
    text_writer w{t.bytes, sizeof t.bytes};
    format_to(w, n);
    t.size = w.size();
    return t;
  }

  event_channels& ev_;
  grant_table& gnt_;
  xenstore& xs_;
  page_pool& pool_;
  scheduler& sched_;
  std::optional<channel> channel_;
  std::array<view, 1 + 2 * max_ring_pages> pages_;
  std::array<grant_ref_t, 1 + 2 * max_ring_pages> refs_{};
  std::array<bool, 1 + 2 * max_ring_pages> revoked_{};
  std::size_t count_ = 0;
  std::array<std::uint8_t*, max_ring_pages> left_{}, right_{};
  std::size_t left_count_ = 0, right_count_ = 0;
  evtchn_port_t port_ = 0;
  int self_ = -1;  // our domain id, read once
  std::array<view, 1 + 2 * max_ring_pages> kept_pages_;
  std::size_t kept_ = 0;
};

// The client role: maps the pages a server (a Linux domain's libxenvchan, or
// another uni) granted us and binds its event channel. Each page is mapped
// over a pool page whose own frame we first hand back to Xen
// (XENMEM_decrease_reservation), as a PVH guest must: the grant takes that
// guest frame; after the unmap the frame is populated again and the page goes
// back to the pool. Everything the server wrote is checked before use: the
// orders (vchan::check_orders), the grant list (copied once), each map's status.
class vchan_client {
 public:
  static constexpr unsigned max_order = vchan_server::max_order;
  static constexpr std::size_t max_ring_pages = vchan_server::max_ring_pages;
  using channel = vchan_server::channel;
  using stream = vchan_server::stream;

  vchan_client(event_channels& ev, xenstore& xs, page_pool& pool, scheduler& sched) noexcept
      : ev_(ev), xs_(xs), pool_(pool), sched_(sched) {}
  vchan_client(const vchan_client&) = delete;
  vchan_client& operator=(const vchan_client&) = delete;
  ~vchan_client() { release(); }

  // Connects to the server at `path` (waiting up to `timeout` for it to appear).
  task<result<stream>> connect(std::string_view path, domid_t server, duration timeout) {
    release();
    if (lost_ + pages_.size() > lost_pages_.size()) co_return fail(error::no_buffers);
    const time_point deadline = sched_.now() + timeout;
    std::uint64_t ref = 0, port = 0;
    for (;;) {
      xenstore::value r, e;
      const bool read_r = static_cast<bool>(xs_.read(r, path, "ring-ref"));
      const bool read_e = static_cast<bool>(xs_.read(e, path, "event-channel"));
      if (read_r && read_e && detail::parse_number(r.view(), ref) && detail::parse_number(e.view(), port)) break;
      if (sched_.now() >= deadline) co_return fail(error::timed_out);
      co_await sched_.sleep_for(std::chrono::milliseconds(50));
    }
    if (auto m = map(server, static_cast<grant_ref_t>(ref)); !m) {
      release();
      co_return fail(m.err());
    }
    vchan::shared_header& h = *reinterpret_cast<vchan::shared_header*>(pages_[0].data());
    const unsigned left_order = __atomic_load_n(&h.left_order, __ATOMIC_ACQUIRE);
    const unsigned right_order = __atomic_load_n(&h.right_order, __ATOMIC_ACQUIRE);
    if (!vchan::check_orders(left_order, right_order) || left_order > max_order || right_order > max_order) {
      log_warn("vchan: the server at ", path, " announces ring orders ", left_order, " and ", right_order);
      release();
      co_return fail(error::malformed);
    }
    // The grant list, read once: left's pages, then right's.
    std::array<grant_ref_t, 2 * max_ring_pages> refs{};
    const std::size_t extra = vchan::pages_of(left_order) + vchan::pages_of(right_order);
    for (std::size_t i = 0; i < extra; ++i) refs[i] = __atomic_load_n(vchan::grants(h) + i, __ATOMIC_ACQUIRE);
    std::size_t next = 0;
    auto place = [&](unsigned order, std::array<std::uint8_t*, max_ring_pages>& chunks, std::size_t& n) -> result<void> {
      n = 0;
      if (order < 12) {
        chunks[n++] = pages_[0].data() + vchan::in_page_offset(order);
        return {};
      }
      for (std::size_t i = 0; i < vchan::pages_of(order); ++i) {
        if (auto m = map(server, refs[next++]); !m) return m;
        chunks[n++] = pages_[count_ - 1].data();
      }
      return {};
    };
    if (auto a = place(left_order, left_, left_count_), b = a ? place(right_order, right_, right_count_) : a; !a || !b) {
      release();
      co_return fail(error::no_device);
    }
    evtchn_bind_interdomain_t op{};
    op.remote_dom = server;
    op.remote_port = static_cast<evtchn_port_t>(port);
    if (event_channel_op(EVTCHNOP_bind_interdomain, &op) != 0) {
      release();
      co_return fail(error::no_device);
    }
    port_ = op.local_port;
    channel& c = channel_.emplace(sched_, pool_);
    const std::span<std::uint8_t* const> left{left_.data(), left_count_}, right{right_.data(), right_count_};
    c.attach(vchan::control(h, vchan::role::client), vchan::ring(h.right, right, right_order, false),
             vchan::ring(h.left, left, left_order, true), vchan_signal{&ev_, port_});
    if (auto r = ev_.attach(port_, &vchan_client::on_event, this); !r) {
      release();
      co_return fail(r.err());
    }
    ev_.notify(port_);  // the server may wait for our live byte
    log_info("vchan: connected to domain ", server, " at ", path, ": rings of ", 1u << left_order, " and ",
             1u << right_order, " bytes");
    co_return stream(c);
  }

  const channel* current() const noexcept { return channel_ ? &*channel_ : nullptr; }

  // Our live byte 0, the event channel closed, every page unmapped and given
  // its own frame back, then returned to the pool.
  void release() noexcept {
    if (channel_) channel_->close();
    if (port_ != 0) {
      evtchn_close_t c{};
      c.port = port_;
      event_channel_op(EVTCHNOP_close, &c);
      port_ = 0;
    }
    channel_.reset();
    for (std::size_t i = count_; i-- > 0;) {
      gnttab_unmap_grant_ref_t u{};
      u.host_addr = frame(i) << 12;
      u.handle = handles_[i];
      hypercall(__HYPERVISOR_grant_table_op, GNTTABOP_unmap_grant_ref, arg(&u), 1);
      if (populate(frame(i))) pages_[i] = view{};
      else lose(std::move(pages_[i]));
    }
    count_ = 0;
  }

 private:
  std::uint64_t frame(std::size_t i) const noexcept { return reinterpret_cast<std::uintptr_t>(pages_[i].data()) >> 12; }

  // Maps `ref` of `server` over a pool page (its frame handed back first).
  result<void> map(domid_t server, grant_ref_t ref) noexcept {
    if (count_ == pages_.size()) return fail(error::table_full);
    auto p = pool_.allocate();
    if (!p) return fail(p.err());
    xen_pfn_t gfn = reinterpret_cast<std::uintptr_t>(p->data()) >> 12;
    xen_memory_reservation r{};
    set_xen_guest_handle(r.extent_start, &gfn);
    r.nr_extents = 1;
    r.domid = DOMID_SELF;
    if (memory_op(XENMEM_decrease_reservation, &r) != 1) return fail(error::no_buffers);
    gnttab_map_grant_ref_t m{};
    m.host_addr = gfn << 12;
    m.flags = GNTMAP_host_map;
    m.ref = ref;
    m.dom = server;
    if (hypercall(__HYPERVISOR_grant_table_op, GNTTABOP_map_grant_ref, arg(&m), 1) != 0 || m.status != GNTST_okay) {
      if (!populate(gfn)) lose(std::move(*p));
      return fail(error::no_device);
    }
    pages_[count_] = std::move(*p);
    handles_[count_++] = m.handle;
    return {};
  }
  // A page whose frame Xen did not give back: never returned to the pool
  // (connect() refuses once these could not hold another channel's).
  void lose(view&& v) noexcept {
    log_error("vchan: frame ", reinterpret_cast<std::uintptr_t>(v.data()) >> 12, " not given back: page kept");
    if (lost_ < lost_pages_.size()) lost_pages_[lost_++] = std::move(v);
  }
  static bool populate(xen_pfn_t gfn) noexcept {
    xen_memory_reservation r{};
    set_xen_guest_handle(r.extent_start, &gfn);
    r.nr_extents = 1;
    r.domid = DOMID_SELF;
    return memory_op(XENMEM_populate_physmap, &r) == 1;
  }
  static void on_event(void* self, evtchn_port_t) noexcept {
    auto& c = *static_cast<vchan_client*>(self);
    if (c.channel_) c.channel_->on_event();
  }

  event_channels& ev_;
  xenstore& xs_;
  page_pool& pool_;
  scheduler& sched_;
  std::optional<channel> channel_;
  std::array<view, 1 + 2 * max_ring_pages> pages_;
  std::array<grant_handle_t, 1 + 2 * max_ring_pages> handles_{};
  std::size_t count_ = 0;
  std::array<view, 2 * (1 + 2 * max_ring_pages)> lost_pages_;
  std::size_t lost_ = 0;
  std::array<std::uint8_t*, max_ring_pages> left_{}, right_{};
  std::size_t left_count_ = 0, right_count_ = 0;
  evtchn_port_t port_ = 0;
};

}  // namespace uni::xen
