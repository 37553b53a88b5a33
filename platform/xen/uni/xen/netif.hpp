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
// connect() runs the xenbus handshake (uni/xen/xenbus.hpp): ring references,
// event channel, features, state Connected, then waits for the backend to
// connect. close() walks the states down to Closed and revokes every grant.
// The rings are front_rings (uni/xen/shared_ring.hpp): a backend that answers
// more than we asked, or names a slot not in flight, breaks the device: it is
// counted (ring_errors), stops carrying frames, and is closed at close().
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
#include <uni/xen/shared_ring.hpp>
#include <uni/xen/xenbus.hpp>
#include <uni/xen/xenstore.hpp>

#include <xen/io/netif.h>

namespace uni::xen {

class XenNetif {
 public:
  using tx_ring = front_ring<netif_tx_sring>;
  using rx_ring = front_ring<netif_rx_sring>;
  static constexpr std::size_t ring_size = 256;  // __CONST_RING_SIZE for a 4 KiB page
  static_assert(__CONST_RING_SIZE(netif_tx, 4096) == ring_size && __CONST_RING_SIZE(netif_rx, 4096) == ring_size);
  static_assert(tx_ring::size == ring_size && rx_ring::size == ring_size);

  struct stats {
    std::uint64_t rx_frames = 0;
    std::uint64_t tx_frames = 0;
    std::uint64_t tx_slots = 0;
    std::uint64_t rx_errors = 0;       // netback reported an error, or a multi-slot frame
    std::uint64_t rx_no_buffers = 0;   // a slot left empty: the pool was empty
    std::uint64_t tx_would_block = 0;  // not enough free TX slots
    std::uint64_t tx_errors = 0;
    std::uint64_t events = 0;
    std::uint64_t ring_errors = 0;     // the backend broke a ring's rules: the device stopped
  };

  XenNetif(event_channels& ev, grant_table& gnt, xenstore& xs, page_pool& pool) noexcept
      : ev_(ev), gnt_(gnt), pool_(pool), bus_(xs) {}
  XenNetif(const XenNetif&) = delete;
  XenNetif& operator=(const XenNetif&) = delete;
  ~XenNetif() { release_all(); }

  // The handshake with netback for the vif at `node` ("device/vif/0").
  task<result<void>> connect(std::string_view node) {
    if (auto r = co_await bus_.attach(node); !r) co_return fail(r.err());
    xenstore::value mac;
    if (auto r = co_await bus_.read(mac, "mac"); !r) co_return fail(error::no_device);
    auto m = mac_address::parse(mac.view());
    if (!m) co_return fail(error::malformed);
    mac_ = *m;
    backend_id_ = bus_.backend_id();

    if (auto r = set_up_rings(); !r) co_return fail(r.err());
    const xenbus_field fields[] = {{"tx-ring-ref", tx_ring_ref_},  {"rx-ring-ref", rx_ring_ref_},
                                   {"event-channel", port_},       {"request-rx-copy", 1},
                                   {"feature-rx-notify", 1},       {"feature-sg", 1},
                                   {"feature-no-csum-offload", 1}};
    if (auto r = co_await bus_.connect(fields, XenbusStateConnected); !r) co_return fail(r.err());
    connected_ = true;
    fill_rx();
    co_return result<void>{};
  }

  // Closing, then Closed once netback has let go; revokes every grant.
  task<result<void>> close() {
    if (!connected_ && !broken_) co_return result<void>{};
    connected_ = broken_ = false;
    (void)co_await bus_.close();
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
    if (!connected_) return fail(error::no_device);  // the ring broke
    // Slots needed: one per page each fragment touches.
    std::size_t need = 0, total = 0;
    for (const view& f : frags) {
      if (f.empty()) continue;
      const auto a = reinterpret_cast<std::uintptr_t>(f.data());
      need += ((a + f.size() - 1) >> 12) - (a >> 12) + 1;
      total += f.size();
    }
    if (need == 0 || total > 0xffff) return fail(error::too_large);
    if (need > tx_free_count_ || need > tx_.free_requests()) {
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
        s.in_flight = true;
        netif_tx_request_t* req = &tx_.next_request();
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
    if (tx_.push()) ev_.notify(port_);
    return {};
  }

  const stats& statistics() const noexcept { return stats_; }
  bool connected() const noexcept { return connected_; }
  // The backend broke a ring's rules; close() still walks the states down.
  bool broken() const noexcept { return broken_; }

 private:
  struct tx_slot {
    grant_ref_t ref = 0;
    view held;
    bool in_flight = false;
  };
  struct rx_slot {
    grant_ref_t ref = 0;
    view page;
    bool posted = false;
  };
  result<void> set_up_rings() noexcept {
    auto txp = pool_.allocate();
    auto rxp = pool_.allocate();
    if (!txp || !rxp) return fail(error::no_buffers);
    tx_ring_page_ = std::move(*txp);
    rx_ring_page_ = std::move(*rxp);
    tx_.attach(tx_ring_page_.data());
    rx_.attach(rx_ring_page_.data());
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

  static std::uint64_t gfn(const view& v) noexcept { return reinterpret_cast<std::uintptr_t>(v.data()) >> 12; }

  // Posts an empty page in every RX slot that lacks one.
  void fill_rx() noexcept {
    bool any = false;
    // At most half the pool waits in the RX ring: the stack needs pages to answer.
    const std::size_t want = pool_.statistics().capacity / 2 < ring_size ? pool_.statistics().capacity / 2 : ring_size;
    while (rx_.in_flight() < want) {
      const std::uint16_t id = static_cast<std::uint16_t>(rx_.next_index() & (ring_size - 1));
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
      netif_rx_request_t* req = &rx_.next_request();
      req->id = id;
      req->gref = s.ref;
      any = true;
    }
    if (any && rx_.push()) ev_.notify(port_);
  }

  static void on_event(void* self, evtchn_port_t) noexcept {
    auto& n = *static_cast<XenNetif*>(self);
    ++n.stats_.events;
    n.reap_tx();
    n.receive();
  }

  // Frees the TX slots netback has answered: revoke, drop the held view.
  void reap_tx() noexcept {
    if (!tx_.attached() || broken_) return;
    bool bad_id = false;
    auto r = tx_.consume([&](const netif_tx_response_t& rsp) {
      if (rsp.status == NETIF_RSP_NULL) return;
      tx_slot& s = tx_slots_[rsp.id & (ring_size - 1)];
      if (rsp.id >= ring_size || !s.in_flight) {
        bad_id = true;  // a slot we did not send: never freed twice
        return;
      }
      if (rsp.status != NETIF_RSP_OKAY) ++stats_.tx_errors;
      gnt_.revoke(s.ref);
      s.held = view{};
      s.in_flight = false;
      tx_free_[tx_free_count_++] = rsp.id;
    });
    if (!r || bad_id) ring_broken("tx");
  }

  // Hands every received frame to the stack, then refills the ring.
  void receive() noexcept {
    if (!rx_.attached() || broken_) return;
    bool bad_id = false;
    auto r = rx_.consume([&](const netif_rx_response_t& rsp) {
      if (broken_) return;  // a frame delivered just now made us send, and the TX ring broke
      rx_slot& s = rx_slots_[rsp.id & (ring_size - 1)];
      if (rsp.id >= ring_size || !s.posted) {
        bad_id = true;
        return;
      }
      gnt_.revoke(s.ref);
      s.posted = false;
      view page = std::move(s.page);
      if (rsp.status <= 0 || (rsp.flags & (NETRXF_more_data | NETRXF_extra_info))) {
        ++stats_.rx_errors;  // errors, and frames over a page (we offer no GSO): dropped
        return;
      }
      auto frame = page.slice(rsp.offset, static_cast<std::size_t>(rsp.status));
      if (!frame) {
        ++stats_.rx_errors;
        return;
      }
      ++stats_.rx_frames;
      if (receiver_) receiver_(std::move(*frame));
    });
    if (!r || bad_id) ring_broken("rx");
    if (!broken_) fill_rx();
  }

  // The backend wrote what no backend may: the rings are not used again (close() ends the rest).
  void ring_broken(const char* which) noexcept {
    ++stats_.ring_errors;
    if (broken_) return;
    connected_ = false;
    broken_ = true;
    log_error("netfront: the backend broke the ", which, " ring; the device is stopped");
  }

  void release_all() noexcept {
    for (auto& s : tx_slots_) {
      if (s.in_flight) gnt_.revoke(s.ref);
      s.held = view{};
      s.in_flight = false;
    }
    for (auto& s : rx_slots_) {
      if (s.posted) gnt_.revoke(s.ref);
      s.posted = false;
      s.page = view{};
    }
    if (tx_ring_page_.data()) {
      gnt_.revoke(tx_ring_ref_);
      gnt_.revoke(rx_ring_ref_);
    }
    tx_.detach();
    rx_.detach();
    tx_ring_page_ = view{};
    rx_ring_page_ = view{};
  }

  event_channels& ev_;
  grant_table& gnt_;
  page_pool& pool_;
  xenbus_frontend bus_;
  domid_t backend_id_ = 0;
  mac_address mac_{};
  evtchn_port_t port_ = 0;
  bool connected_ = false;
  bool broken_ = false;
  frame_receiver receiver_{};

  view tx_ring_page_, rx_ring_page_;
  tx_ring tx_;
  rx_ring rx_;
  grant_ref_t tx_ring_ref_ = 0, rx_ring_ref_ = 0;
  tx_slot tx_slots_[ring_size];
  rx_slot rx_slots_[ring_size];
  std::uint16_t tx_free_[ring_size];
  std::size_t tx_free_count_ = 0;
  stats stats_;
};

static_assert(Netif<XenNetif>);

}  // namespace uni::xen
