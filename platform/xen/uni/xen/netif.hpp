// uni/xen/netif.hpp: XenNetif, the Netif policy of a Xen guest: a netfront.
//
// The frontend shares two rings with netback in the driver domain, one page
// each (xen/io/netif.h), and one event channel:
//   RX: we post requests (id, grant of an empty I/O page); netback copies a frame
//       into the page (request-rx-copy) and answers (id, offset, length). The
//       page goes up the stack as a view -- no copy -- and a fresh page is
//       granted into the slot.
//   TX: a frame is a list of fragments (scatter-gather, feature-sg): one slot
//       per piece of a fragment within one page, the first slot's size is the
//       whole frame, NETTXF_more_data links them. The pages are granted
//       read-only and the views kept alive until netback answers.
// connect() runs the xenstore handshake: ring references, event channel,
// features, state Connected, then waits (watch) for the backend to connect.
// close() walks the states down to Closed and revokes every grant.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include <uni/concepts.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/format.hpp>
#include <uni/core/log.hpp>
#include <uni/core/task.hpp>
#include <uni/net/mac_address.hpp>
#include <uni/xen/cpu.hpp>
#include <uni/xen/events.hpp>
#include <uni/xen/grant_table.hpp>
#include <uni/xen/xenstore.hpp>

#include <xen/io/netif.h>
#include <xen/io/xenbus.h>

namespace uni::xen {

class XenNetif {
 public:
  static constexpr std::size_t ring_size = 256;  // __CONST_RING_SIZE for a 4 KiB page
  static_assert(__CONST_RING_SIZE(netif_tx, 4096) == ring_size && __CONST_RING_SIZE(netif_rx, 4096) == ring_size);

  struct stats {
    std::uint64_t rx_frames = 0;
    std::uint64_t tx_frames = 0;
    std::uint64_t tx_slots = 0;
    std::uint64_t rx_errors = 0;       // netback reported an error, or a multi-slot frame
    std::uint64_t rx_no_buffers = 0;   // a slot left empty: the pool was empty
    std::uint64_t tx_would_block = 0;  // not enough free TX slots
    std::uint64_t tx_errors = 0;
    std::uint64_t events = 0;
  };

  XenNetif(event_channels& ev, grant_table& gnt, xenstore& xs, page_pool& pool) noexcept
      : ev_(ev), gnt_(gnt), xs_(xs), pool_(pool) {}
  XenNetif(const XenNetif&) = delete;
  XenNetif& operator=(const XenNetif&) = delete;
  ~XenNetif() { release_all(); }

  // The handshake with netback for the vif at `node` ("device/vif/0").
  task<result<void>> connect(std::string_view node) {
    node_ = node;
    char path[128];
    auto backend = co_await xs_.read(at(path, "backend"));
    auto backend_id = co_await xs_.read(at(path, "backend-id"));
    auto mac = co_await xs_.read(at(path, "mac"));
    if (!backend || !backend_id || !mac) co_return fail(error::no_device);
    backend_.size = backend->size < sizeof backend_.bytes ? backend->size : sizeof backend_.bytes;
    std::memcpy(backend_.bytes, backend->bytes, backend_.size);
    backend_id_ = static_cast<domid_t>(number(backend_id->view()));
    auto m = mac_address::parse(mac->view());
    if (!m) co_return fail(error::malformed);
    mac_ = *m;

    if (auto r = set_up_rings(); !r) co_return fail(r.err());
    // Watch the backend's state before announcing ourselves, so no change is missed.
    char bstate[160];
    text_writer w{bstate, sizeof bstate};
    format_to(w, backend_.view(), "/state");
    if (auto r = co_await xs_.watch(w.view(), "uni-netfront"); !r) co_return fail(r.err());

    for (int attempt = 0;; ++attempt) {
      auto tx = co_await xs_.transaction_start();
      if (!tx) co_return fail(tx.err());
      auto r = co_await publish(*tx);
      if (!r) {
        (void)co_await xs_.transaction_end(*tx, false);
        co_return fail(r.err());
      }
      auto e = co_await xs_.transaction_end(*tx, true);
      if (e) break;
      if (e.err() != error::would_block || attempt == 8) co_return fail(e.err());
    }
    // Wait for netback to reach Connected.
    for (;;) {
      auto s = co_await xs_.read(w.view());
      if (s && number(s->view()) == XenbusStateConnected) break;
      if (s && number(s->view()) > XenbusStateConnected) co_return fail(error::refused);
      if (co_await xs_.watch_fired().wait_for(xenstore::timeout) != wake_reason::notified) co_return fail(error::timed_out);
    }
    (void)co_await xs_.unwatch(w.view(), "uni-netfront");
    connected_ = true;
    fill_rx();
    co_return result<void>{};
  }

  // Closing, then Closed once netback has let go; revokes every grant.
  task<result<void>> close() {
    if (!connected_) co_return result<void>{};
    connected_ = false;
    char path[128];
    (void)co_await xs_.write(at(path, "state"), state_text(XenbusStateClosing));
    char bstate[160];
    text_writer w{bstate, sizeof bstate};
    format_to(w, backend_.view(), "/state");
    const time_point deadline = xs_.watch_fired().sched().now() + xenstore::timeout;
    for (;;) {
      auto s = co_await xs_.read(w.view());
      if (!s || number(s->view()) >= XenbusStateClosing) break;
      if (xs_.watch_fired().sched().now() >= deadline) break;
      co_await xs_.watch_fired().sched().sleep_for(std::chrono::milliseconds(10));
    }
    (void)co_await xs_.write(at(path, "state"), state_text(XenbusStateClosed));
    release_all();
    log_info("netfront: closed (rx ", stats_.rx_frames, " tx ", stats_.tx_frames, " frames)");
    co_return result<void>{};
  }

  // ---- the Netif policy ----
  mac_address mac() const noexcept { return mac_; }
  std::size_t mtu() const noexcept { return 1500; }
  void set_receiver(frame_receiver r) noexcept { receiver_ = r; }

  result<void> transmit(std::span<const view> frags) noexcept {
    if (!connected_) return fail(error::no_device);
    reap_tx();
    // Slots needed: one per page each fragment touches.
    std::size_t need = 0, total = 0;
    for (const view& f : frags) {
      if (f.empty()) continue;
      const auto a = reinterpret_cast<std::uintptr_t>(f.data());
      need += ((a + f.size() - 1) >> 12) - (a >> 12) + 1;
      total += f.size();
    }
    if (need == 0 || total > 0xffff) return fail(error::too_large);
    if (need > tx_free_count_) {
      ++stats_.tx_would_block;
      return fail(error::would_block);
    }
    netif_tx_request_t* first = nullptr;
    netif_tx_request_t* last = nullptr;
    for (const view& f : frags) {
      auto a = reinterpret_cast<std::uintptr_t>(f.data());
      std::size_t left = f.size();
      while (left > 0) {
        const std::size_t in_page = 4096 - (a & 4095);
        const std::size_t n = left < in_page ? left : in_page;
        const std::uint16_t id = tx_free_[--tx_free_count_];
        tx_slot& s = tx_slots_[id];
        gnt_.regrant(s.ref, backend_id_, a >> 12, true);
        s.held = f;  // keeps the page alive until netback answers
        netif_tx_request_t* req = &tx_ring_->ring[tx_req_prod_++ & (ring_size - 1)].req;
        req->gref = s.ref;
        req->offset = static_cast<std::uint16_t>(a & 4095);
        req->flags = NETTXF_more_data;
        req->id = id;
        req->size = static_cast<std::uint16_t>(n);
        if (!first) first = req;
        last = req;
        ++stats_.tx_slots;
        a += n;
        left -= n;
      }
    }
    first->size = static_cast<std::uint16_t>(total);
    last->flags = 0;
    ++stats_.tx_frames;
    push_tx();
    return {};
  }

  const stats& statistics() const noexcept { return stats_; }
  bool connected() const noexcept { return connected_; }

 private:
  struct tx_slot {
    grant_ref_t ref = 0;
    view held;
  };
  struct rx_slot {
    grant_ref_t ref = 0;
    view page;
    bool posted = false;
  };
  struct small_text {
    char bytes[96];
    std::size_t size = 0;
    std::string_view view() const noexcept { return {bytes, size}; }
  };

  const char* at(char* buf, std::string_view leaf) const noexcept {
    text_writer w{buf, 127};
    format_to(w, node_, "/", leaf);
    buf[w.size()] = '\0';
    return buf;
  }
  static std::uint64_t number(std::string_view s) noexcept {
    std::uint64_t n = 0;
    for (char c : s) {
      if (c < '0' || c > '9') break;
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
  }
  static std::string_view state_text(XenbusState s) noexcept {
    static constexpr std::string_view names[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8"};
    return names[static_cast<unsigned>(s) < 9 ? s : 0];
  }

  result<void> set_up_rings() noexcept {
    auto txp = pool_.allocate();
    auto rxp = pool_.allocate();
    if (!txp || !rxp) return fail(error::no_buffers);
    tx_ring_page_ = std::move(*txp);
    rx_ring_page_ = std::move(*rxp);
    std::memset(tx_ring_page_.data(), 0, 4096);
    std::memset(rx_ring_page_.data(), 0, 4096);
    tx_ring_ = reinterpret_cast<netif_tx_sring_t*>(tx_ring_page_.data());
    rx_ring_ = reinterpret_cast<netif_rx_sring_t*>(rx_ring_page_.data());
    tx_ring_->req_event = tx_ring_->rsp_event = 1;
    rx_ring_->req_event = rx_ring_->rsp_event = 1;
    auto txr = gnt_.grant(backend_id_, gfn(tx_ring_page_), false);
    auto rxr = gnt_.grant(backend_id_, gfn(rx_ring_page_), false);
    if (!txr || !rxr) return fail(error::table_full);
    tx_ring_ref_ = *txr;
    rx_ring_ref_ = *rxr;
    for (std::size_t i = 0; i < ring_size; ++i) {
      auto t = gnt_.grant(backend_id_, 0, true);
      auto r = gnt_.grant(backend_id_, 0, false);
      if (!t || !r) return fail(error::table_full);
      gnt_.revoke(*t);
      gnt_.revoke(*r);
      tx_slots_[i].ref = *t;
      rx_slots_[i].ref = *r;
      tx_free_[i] = static_cast<std::uint16_t>(ring_size - 1 - i);
    }
    tx_free_count_ = ring_size;
    evtchn_alloc_unbound_t op{};
    op.dom = DOMID_SELF;
    op.remote_dom = backend_id_;
    if (event_channel_op(EVTCHNOP_alloc_unbound, &op) != 0) return fail(error::io);
    port_ = op.port;
    if (auto r = ev_.attach(port_, &XenNetif::on_event, this); !r) return fail(r.err());
    return {};
  }

  task<result<void>> publish(std::uint32_t tx) {
    struct field {
      std::string_view leaf;
      std::uint64_t value;
    };
    const field fields[] = {{"tx-ring-ref", tx_ring_ref_},  {"rx-ring-ref", rx_ring_ref_},
                            {"event-channel", port_},       {"request-rx-copy", 1},
                            {"feature-rx-notify", 1},       {"feature-sg", 1},
                            {"feature-no-csum-offload", 1}, {"state", XenbusStateConnected}};
    char path[128], num[24];
    for (const field& f : fields) {
      text_writer w{num, sizeof num};
      format_to(w, f.value);
      if (auto r = co_await xs_.write(at(path, f.leaf), w.view(), tx); !r) co_return fail(r.err());
    }
    co_return result<void>{};
  }

  static std::uint64_t gfn(const view& v) noexcept { return reinterpret_cast<std::uintptr_t>(v.data()) >> 12; }

  // Posts an empty page in every RX slot that lacks one.
  void fill_rx() noexcept {
    bool any = false;
    // At most half the pool waits in the RX ring: the stack needs pages to answer.
    const std::size_t want = pool_.statistics().capacity / 2 < ring_size ? pool_.statistics().capacity / 2 : ring_size;
    for (std::size_t n = 0; rx_req_prod_ - rx_rsp_cons_ < want; ++n) {
      const std::uint16_t id = static_cast<std::uint16_t>(rx_req_prod_ & (ring_size - 1));
      rx_slot& s = rx_slots_[id];
      if (s.posted) break;
      auto p = pool_.allocate();
      if (!p) {
        ++stats_.rx_no_buffers;
        break;
      }
      s.page = std::move(*p);
      s.posted = true;
      gnt_.regrant(s.ref, backend_id_, gfn(s.page), false);
      netif_rx_request_t* req = &rx_ring_->ring[rx_req_prod_++ & (ring_size - 1)].req;
      req->id = id;
      req->gref = s.ref;
      any = true;
    }
    if (!any) return;
    const RING_IDX old = rx_ring_->req_prod;
    cpu::wmb();
    rx_ring_->req_prod = rx_req_prod_;
    cpu::mb();
    if (static_cast<RING_IDX>(rx_req_prod_ - rx_ring_->req_event) < static_cast<RING_IDX>(rx_req_prod_ - old))
      ev_.notify(port_);
  }

  void push_tx() noexcept {
    const RING_IDX old = tx_ring_->req_prod;
    cpu::wmb();
    tx_ring_->req_prod = tx_req_prod_;
    cpu::mb();
    if (static_cast<RING_IDX>(tx_req_prod_ - tx_ring_->req_event) < static_cast<RING_IDX>(tx_req_prod_ - old))
      ev_.notify(port_);
  }

  static void on_event(void* self, evtchn_port_t) noexcept {
    auto& n = *static_cast<XenNetif*>(self);
    ++n.stats_.events;
    n.reap_tx();
    n.receive();
  }

  // Frees the TX slots netback has answered: revoke, drop the held view.
  void reap_tx() noexcept {
    if (!tx_ring_) return;
    for (;;) {
      const RING_IDX prod = __atomic_load_n(&tx_ring_->rsp_prod, __ATOMIC_ACQUIRE);
      while (tx_rsp_cons_ != prod) {
        const netif_tx_response_t& rsp = tx_ring_->ring[tx_rsp_cons_++ & (ring_size - 1)].rsp;
        if (rsp.status == NETIF_RSP_NULL) continue;
        if (rsp.status != NETIF_RSP_OKAY) ++stats_.tx_errors;
        tx_slot& s = tx_slots_[rsp.id & (ring_size - 1)];
        gnt_.revoke(s.ref);
        s.held = view{};
        tx_free_[tx_free_count_++] = rsp.id;
      }
      tx_ring_->rsp_event = tx_rsp_cons_ + 1;
      cpu::mb();
      if (__atomic_load_n(&tx_ring_->rsp_prod, __ATOMIC_ACQUIRE) == tx_rsp_cons_) return;
    }
  }

  // Hands every received frame to the stack, then refills the ring.
  void receive() noexcept {
    if (!rx_ring_) return;
    for (;;) {
      const RING_IDX prod = __atomic_load_n(&rx_ring_->rsp_prod, __ATOMIC_ACQUIRE);
      while (rx_rsp_cons_ != prod) {
        const netif_rx_response_t rsp = rx_ring_->ring[rx_rsp_cons_++ & (ring_size - 1)].rsp;
        rx_slot& s = rx_slots_[rsp.id & (ring_size - 1)];
        gnt_.revoke(s.ref);
        s.posted = false;
        view page = std::move(s.page);
        if (rsp.status <= 0 || (rsp.flags & (NETRXF_more_data | NETRXF_extra_info))) {
          ++stats_.rx_errors;  // errors, and frames over a page (we offer no GSO): dropped
          continue;
        }
        auto frame = page.slice(rsp.offset, static_cast<std::size_t>(rsp.status));
        if (!frame) {
          ++stats_.rx_errors;
          continue;
        }
        ++stats_.rx_frames;
        if (receiver_) receiver_(std::move(*frame));
      }
      rx_ring_->rsp_event = rx_rsp_cons_ + 1;
      cpu::mb();
      if (__atomic_load_n(&rx_ring_->rsp_prod, __ATOMIC_ACQUIRE) == rx_rsp_cons_) break;
    }
    fill_rx();
  }

  void release_all() noexcept {
    for (auto& s : tx_slots_) {
      if (s.held.page() || s.held.data()) gnt_.revoke(s.ref);
      s.held = view{};
    }
    for (auto& s : rx_slots_) {
      if (s.posted) gnt_.revoke(s.ref);
      s.posted = false;
      s.page = view{};
    }
    if (tx_ring_) {
      gnt_.revoke(tx_ring_ref_);
      gnt_.revoke(rx_ring_ref_);
    }
    tx_ring_ = nullptr;
    rx_ring_ = nullptr;
    tx_ring_page_ = view{};
    rx_ring_page_ = view{};
  }

  event_channels& ev_;
  grant_table& gnt_;
  xenstore& xs_;
  page_pool& pool_;
  std::string_view node_;
  small_text backend_;
  domid_t backend_id_ = 0;
  mac_address mac_{};
  evtchn_port_t port_ = 0;
  bool connected_ = false;
  frame_receiver receiver_{};

  view tx_ring_page_, rx_ring_page_;
  netif_tx_sring_t* tx_ring_ = nullptr;
  netif_rx_sring_t* rx_ring_ = nullptr;
  grant_ref_t tx_ring_ref_ = 0, rx_ring_ref_ = 0;
  RING_IDX tx_req_prod_ = 0, tx_rsp_cons_ = 0, rx_req_prod_ = 0, rx_rsp_cons_ = 0;
  tx_slot tx_slots_[ring_size];
  rx_slot rx_slots_[ring_size];
  std::uint16_t tx_free_[ring_size];
  std::size_t tx_free_count_ = 0;
  stats stats_;
};

static_assert(Netif<XenNetif>);

}  // namespace uni::xen
