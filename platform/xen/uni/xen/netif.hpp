// uni/xen/netif.hpp: XenNetif, the Netif policy of a Xen guest: a netfront.
//
// The frontend shares two rings with netback in the driver domain, one page
// each (xen/io/netif.h), and one event channel:
//   RX: we post requests (id, grant of an empty I/O page); netback copies a frame
//       into the page (request-rx-copy) and answers (id, offset, length). The
//       page goes up the stack as a view -- no copy -- and a fresh page is
//       granted into the slot.
//   TX: a frame is a list of fragments (scatter-gather, feature-sg): one slot
//       per piece of a fragment within one page (pieces that follow each other
//       in a page share one), the first slot's size is the whole frame,
//       NETTXF_more_data links them. The pages are granted
//       read-only and the views kept alive until netback answers.
// Offloads (BasicXenNetif<true>, an appliance with TCP), as TapNetif has them
// and with the same sans-I/O code (uni/net/offload.hpp):
//   RX: we take partial checksums (no feature-no-csum-offload) and merged TCP
//       frames (feature-gso-tcpv4). A frame over several slots (NETRXF_more_data,
//       with a GSO extra-info slot) is put together by uni/xen/netif_rx.hpp and
//       cut into segments that fill a page each (larger than the sender's,
//       as GRO); frames netback marks data_validated or csum_blank are marked
//       checksum-verified.
//   TX: TCP leaves its checksums partial (completes_tcp_checksums(): the
//       pseudo-header's sum) and every TCP frame goes NETTXF_csum_blank.
//       If netback takes them (its feature-gso-tcpv4), back-to-back TCP segments
//       of one flow are held and leave as one frame with NETTXF_csum_blank and a
//       GSO extra-info slot, at most XEN_NETIF_NR_SLOTS_MIN data slots, before
//       the clock's next wait (flush_before_waits) or the next other frame.
// Without TCP (BasicXenNetif<false>) none of this is offered or compiled;
// chains of slots are still put together (up to a page) rather than dropped.
// connect() runs the xenbus handshake (uni/xen/xenbus.hpp): ring references,
// event channel, features, state Connected, then waits for the backend to
// connect. close() walks the states down to Closed and revokes every grant.
// The rings are front_rings (uni/xen/shared_ring.hpp): a backend that answers
// more than we asked, or names a TX slot not in flight, breaks the device: it
// is counted (ring_errors), stops carrying frames, and is closed at close().
// What it writes in an RX response is checked by netif_rx.hpp: a bad one costs
// its frame (rx_drops), not the device.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>

#include <uni/concepts.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/format.hpp>
#include <uni/core/log.hpp>
#include <uni/net/mac_address.hpp>
#include <uni/net/offload.hpp>
#include <uni/xen/cpu.hpp>
#include <uni/xen/events.hpp>
#include <uni/xen/grant_table.hpp>
#include <uni/xen/clock.hpp>
#include <uni/xen/netif_rx.hpp>
#include <uni/xen/netif_tx.hpp>
#include <uni/xen/shared_ring.hpp>
#include <uni/xen/xenbus.hpp>
#include <uni/xen/xenstore.hpp>

#include <xen/io/netif.h>

namespace uni::xen {

// `Offload`: the TCP offloads above (the Config's tcp flag).
template <bool Offload = true>
class BasicXenNetif {
 public:
  using tx_ring = front_ring<netif_tx_sring>;
  using rx_ring = front_ring<netif_rx_sring>;
  static constexpr std::size_t ring_size = 256;  // __CONST_RING_SIZE for a 4 KiB page
  static_assert(__CONST_RING_SIZE(netif_tx, 4096) == ring_size && __CONST_RING_SIZE(netif_rx, 4096) == ring_size);
  static_assert(tx_ring::size == ring_size && rx_ring::size == ring_size);
  static constexpr std::size_t max_tx_slots = XEN_NETIF_NR_SLOTS_MIN;  // data slots of a frame netback must take
  static constexpr std::size_t gso_max_views = 64;                     // payload views held for one GSO frame
  // Past a received chain's first page: a merged frame's 64 KiB, or else a page.
  static constexpr std::size_t rx_tail_bytes = Offload ? 65536 : page_size;

  struct stats {
    std::uint64_t rx_frames = 0;
    std::uint64_t tx_frames = 0;
    std::uint64_t tx_slots = 0;
    std::uint64_t rx_errors = 0;       // frames dropped: rx_drops, rx_rejects
    std::uint64_t rx_multi_slot = 0;   // frames received over several slots
    std::uint64_t rx_gso_frames = 0;   // merged frames, cut into segments
    std::uint64_t rx_csum_offload = 0; // frames taken checksum-verified from netback's flags
    std::uint64_t tx_gso_frames = 0;   // frames sent merged (GSO), with a partial checksum
    std::uint64_t tx_gso_segments = 0; // the segments they carried
    netif_rx_drops rx_drops;           // chains netback got wrong
    offload::offload_rejects rx_rejects;  // frames whose offload fields or merged headers were wrong
    std::uint64_t rx_no_buffers = 0;   // a slot left empty: the pool was empty
    std::uint64_t tx_would_block = 0;  // not enough free TX slots
    std::uint64_t tx_errors = 0;
    std::uint64_t events = 0;
    std::uint64_t ring_errors = 0;     // the backend broke a ring's rules: the device stopped
  };

  BasicXenNetif(event_channels& ev, grant_table& gnt, xenstore& xs, page_pool& pool) noexcept
      : ev_(ev), gnt_(gnt), pool_(pool), bus_(xs) {}
  BasicXenNetif(const BasicXenNetif&) = delete;
  BasicXenNetif& operator=(const BasicXenNetif&) = delete;
  ~BasicXenNetif() { release_all(); }

  // The handshake with netback for the vif at `node` ("device/vif/0").
  result<void> connect(std::string_view node) noexcept {
    using namespace std::string_view_literals;  // (a literal's length known here, not a strlen call)
    if (auto r = bus_.attach(node); !r) return fail(r.err());
    xenstore::value mac;
    if (auto r = bus_.read(mac, "mac"sv); !r) return fail(error::no_device);
    auto m = mac_address::parse(mac.view());
    if (!m) return fail(error::malformed);
    mac_ = *m;
    backend_id_ = bus_.backend_id();

    if constexpr (Offload) {  // netback's own offer: GSO frames from us
      xenstore::value gso;
      tx_gso_ = bus_.read_backend(gso, "feature-gso-tcpv4"sv) && gso.view() == "1"sv;
    }

    if (auto r = set_up_rings(); !r) return fail(r.err());
    const xenbus_field fields[] = {{"tx-ring-ref"sv, tx_ring_page_.ref},
                                   {"rx-ring-ref"sv, rx_ring_page_.ref},
                                   {"event-channel"sv, port_}};
    static constexpr xenbus_field features[] = {{"request-rx-copy"sv, 1},
                                                {"feature-rx-notify"sv, 1},
                                                {"feature-sg"sv, 1},
                                                {"feature-no-csum-offload"sv, Offload ? 0 : 1},
                                                {"feature-gso-tcpv4"sv, Offload ? 1 : 0}};
    if (auto r = bus_.connect(fields, XenbusStateConnected, features); !r) return fail(r.err());
    connected_ = true;
    fill_rx();
    return {};
  }

  // Closing, then Closed once netback has let go; revokes every grant.
  result<void> close() noexcept {
    if (!connected_ && !broken_) return {};
    flush();
    connected_ = broken_ = false;
    (void)bus_.close();
    release_all();
    log_info("netfront: closed (rx ", stats_.rx_frames, " tx ", stats_.tx_frames, " frames)");
    return {};
  }

  // ---- the Netif policy ----
  mac_address mac() const noexcept { return mac_; }
  std::size_t mtu() const noexcept { return 1500; }
  void set_receiver(frame_receiver r) noexcept { receiver_ = r; }

  result<void> transmit(std::span<const view> frags) noexcept {
    if (!connected_) return fail(error::no_device);
    if constexpr (Offload) {
      if (tx_gso_ && flushed_) {  // (no flush before waits: nothing may be held)
        std::size_t total = 0;
        for (const view& f : frags) total += f.size();
        // What is held goes first: frames leave in order (add() flushes a flow it does not continue).
        const bool tcp = offload::may_be_tcp_ipv4(frags);
        if (!tcp || !fits_held(frags, total)) flush();
        if (tcp && gso_.add(frags, total, [this] { flush(); })) {
          held_slots_ = (gso_.segments() > 1 ? held_slots_ : 0) + slots_of(frags, gso_.header().size());
          ++stats_.tx_frames;
          return {};
        }
      }
    }
    offload_info info;
    if constexpr (Offload) (void)offload::partial_tcp_checksum(frags, info);  // its checksum is partial: TCP's is
    const result<void> r = send(frags, info);
    if (r) ++stats_.tx_frames;
    return r;
  }

  // Sends the held segments now: one frame, merged if there are several.
  void flush() noexcept {
    if constexpr (Offload) {
      if (gso_.empty()) return;
      const std::size_t segments = gso_.segments();
      const offload_info info = gso_.finish(true);  // merged or not: TCP left it partial
      // The headers in a page of their own: netback reads them after we return.
      auto page = pool_.allocate_reserved();
      if (page) {
        const auto header = gso_.header();
        std::memcpy(page->data(), header.data(), header.size());
        if (send(gso_.frame(page->head(header.size())), info) && info.gso != gso_kind::none) {
          ++stats_.tx_gso_frames;
          stats_.tx_gso_segments += segments;
        }
      } else {
        ++stats_.tx_would_block;  // lost segments: TCP sends them again
      }
      gso_.clear();
    }
  }

  // Held segments leave before each of the clock's waits.
  void flush_before_waits(XenClock& clock) noexcept {
    if constexpr (Offload)
      flushed_ = clock.before_each_wait([](void* self) { static_cast<BasicXenNetif*>(self)->flush(); }, this);
  }

  // TCP may leave its checksums partial: every TCP/IPv4 frame goes NETTXF_csum_blank
  // (netback completes it, or its peer does: Linux netfront sends them so).
  bool completes_tcp_checksums() const noexcept { return Offload && connected_; }

  const stats& statistics() const noexcept { return stats_; }
  bool connected() const noexcept { return connected_; }
  // The backend broke a ring's rules; close() still walks the states down.
  bool broken() const noexcept { return broken_; }

 private:
  static std::size_t slots_of(std::span<const view> frags, std::size_t skip) noexcept {
    netif_tx_slots walk(frags, skip);
    std::size_t n = 0;
    for (netif_tx_slots::piece p; walk.next(p);) ++n;
    return n;
  }

  // Whether `frags`' payload still fits the held GSO frame: its slots and its
  // 16-bit size (the first slot's size is the whole frame's).
  bool fits_held(std::span<const view> frags, std::size_t total) const noexcept {
    if constexpr (Offload) {
      const std::size_t h = gso_.header().size();
      if (gso_.empty() || total < h) return false;
      return h + gso_.bytes() + (total - h) <= 0xffff && 1 + held_slots_ + slots_of(frags, h) <= max_tx_slots;
    }
    return false;
  }

  // One frame on the TX ring: a slot per piece, the first slot's size the
  // whole frame's, NETTXF_more_data linking them; with `info` a partial
  // checksum (NETTXF_csum_blank) and GSO (an extra-info slot after the first).
  result<void> send(std::span<const view> frags, const offload_info& info) noexcept {
    reap_tx();
    if (!connected_) return fail(error::no_device);  // the ring broke
    std::size_t total = 0;
    for (const view& f : frags) total += f.size();
    const std::size_t need = slots_of(frags, 0);
    const bool gso = Offload && info.gso == gso_kind::tcpv4;  // (never asked of a device without offloads)
    if (need == 0 || total > 0xffff || need > max_tx_slots) return fail(error::too_large);
    if (need > tx_free_count_ || need + gso > tx_.free_requests()) {
      ++stats_.tx_would_block;
      return fail(error::would_block);
    }
    netif_tx_request_t* first = nullptr;
    netif_tx_request_t* last = nullptr;
    netif_tx_slots walk(frags, 0);
    for (netif_tx_slots::piece p; walk.next(p);) {
      const std::uint16_t id = tx_free_[--tx_free_count_];
      const grant_ref_t ref = lend(tx_slots_[id], view(*p.frag), p.address, true);  // the view keeps its page alive
      netif_tx_request_t* req = &tx_.next_request();
      req->gref = ref;
      req->offset = static_cast<std::uint16_t>(p.address & 4095);
      req->flags = NETTXF_more_data;
      req->id = id;
      req->size = static_cast<std::uint16_t>(p.size);
      if (!first) {
        first = req;
        if (Offload && info.csum_partial) req->flags |= NETTXF_csum_blank | NETTXF_data_validated;
        if (gso) {
          req->flags |= NETTXF_extra_info;
          auto* x = reinterpret_cast<netif_extra_info_t*>(&tx_.next_request());
          *x = netif_extra_info_t{};
          x->type = XEN_NETIF_EXTRA_TYPE_GSO;
          x->u.gso.size = info.gso_size;
          x->u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
        }
      }
      last = req;
      ++stats_.tx_slots;
    }
    first->size = static_cast<std::uint16_t>(total);
    last->flags &= static_cast<std::uint16_t>(~NETTXF_more_data);
    if (tx_.push()) ev_.notify(port_);
    return {};
  }

  // A ring slot: its grant reference and, while netback holds the slot (a TX
  // request in flight, an RX request posted), the page it is lent. The two
  // rings' own pages are lent as slots too, from set-up to release_all().
  struct slot {
    grant_ref_t ref = 0;
    view page;
    bool lent = false;
  };

  // Grants netback the page at `address` (read-only for TX, writable for RX),
  // `page` kept alive until it is taken back. Returns the slot's reference.
  grant_ref_t lend(slot& s, view&& page, std::uintptr_t address, bool readonly) noexcept {
    gnt_.regrant(s.ref, backend_id_, address >> 12, readonly);
    s.page = std::move(page);
    s.lent = true;
    return s.ref;
  }
  // Revokes the slot's grant and hands back the page it lent.
  view take_back(slot& s) noexcept {
    gnt_.revoke(s.ref);
    s.lent = false;
    return std::move(s.page);
  }

  result<void> set_up_rings() noexcept {
    auto txp = pool_.allocate_reserved();
    auto rxp = pool_.allocate_reserved();
    if (!txp || !rxp) return fail(error::no_buffers);
    view& tx_page = *txp;  // once: each -> checks the result again
    view& rx_page = *rxp;
    for (slot& s : slots_) {  // a reference per slot, granted as the slot is used
      auto r = gnt_.reserve();
      if (!r) return fail(error::table_full);
      s.ref = *r;
    }
    std::uint8_t* const tx_ring = tx_page.data();
    std::uint8_t* const rx_ring = rx_page.data();
    tx_.attach(tx_ring);
    rx_.attach(rx_ring);
    (void)lend(tx_ring_page_, std::move(tx_page), reinterpret_cast<std::uintptr_t>(tx_ring), false);
    (void)lend(rx_ring_page_, std::move(rx_page), reinterpret_cast<std::uintptr_t>(rx_ring), false);
    for (std::size_t i = 0; i < ring_size; ++i) tx_free_[i] = static_cast<std::uint16_t>(ring_size - 1 - i);
    tx_free_count_ = ring_size;
    evtchn_alloc_unbound_t op{};
    op.dom = DOMID_SELF;
    op.remote_dom = backend_id_;
    if (event_channel_op(EVTCHNOP_alloc_unbound, &op) != 0) return fail(error::io);
    port_ = op.port;
    if (auto r = ev_.attach(port_, &BasicXenNetif::on_event, this); !r) return fail(r.err());
    return {};
  }

  // Posts an empty page in every RX slot that lacks one.
  void fill_rx() noexcept {
    bool any = false;
    // At most half the pool waits in the RX ring: the stack needs pages to answer.
    const std::size_t want = pool_.statistics().capacity / 2 < ring_size ? pool_.statistics().capacity / 2 : ring_size;
    while (rx_.in_flight() < want) {
      const std::uint16_t id = static_cast<std::uint16_t>(rx_.next_index() & (ring_size - 1));
      slot& s = rx_slots_[id];
      if (s.lent) break;
      auto p = pool_.allocate_reserved();
      if (!p) {
        ++stats_.rx_no_buffers;
        break;
      }
      view& page = *p;  // once: each -> checks the result again
      const auto address = reinterpret_cast<std::uintptr_t>(page.data());
      netif_rx_request_t* req = &rx_.next_request();
      req->id = id;
      req->gref = lend(s, std::move(page), address, false);
      any = true;
    }
    if (any && rx_.push()) ev_.notify(port_);
  }

  static void on_event(void* self, evtchn_port_t) noexcept {
    auto& n = *static_cast<BasicXenNetif*>(self);
    ++n.stats_.events;
    n.reap_tx();
    n.receive();
  }

  // Frees the TX slots netback has answered: revoke, drop the held view.
  void reap_tx() noexcept {
    if (!tx_.attached() || broken_) return;
    bool bad_id = false;
    for (netif_tx_response_t rsp; tx_.next_response(rsp);) {
      if (rsp.status == NETIF_RSP_NULL) continue;
      slot& s = tx_slots_[rsp.id & (ring_size - 1)];
      if (rsp.id >= ring_size || !s.lent) {
        bad_id = true;  // a slot we did not send: never freed twice
        continue;
      }
      if (rsp.status != NETIF_RSP_OKAY) ++stats_.tx_errors;
      (void)take_back(s);
      tx_free_[tx_free_count_++] = rsp.id;
    }
    if (!tx_.attached() || bad_id) ring_broken("tx");
  }

  // Hands every received frame to the stack, then refills the ring. A
  // response is its ring slot's (netif.h: extra-info slots carry no id).
  void receive() noexcept {
    if (!rx_.attached() || broken_) return;
    bool lost = false;
    for (netif_rx_response_t rsp; rx_.next_response(rsp);) {
      const std::uint16_t id = static_cast<std::uint16_t>((rx_.consumed() - 1) & (ring_size - 1));  // its ring slot
      slot& s = rx_slots_[id];
      if (broken_ || !s.lent) {  // the TX ring broke as a frame went up; a slot we did not post
        lost = !broken_;
        continue;
      }
      if (auto* frame = rx_chain_.take(rsp, id, take_back(s))) take(*frame);
    }
    stats_.rx_drops = rx_chain_.drops();
    stats_.rx_multi_slot = rx_chain_.multi_slot_frames();
    if (!rx_.attached() || lost) ring_broken("rx");
    if (!broken_) fill_rx();
  }

  // A frame netback finished: checked against its offload fields, then up as
  // it is, joined into one page, or cut into segments (offload.hpp), as TAP does.
  void take(typename netif_rx_chain<rx_tail_bytes>::frame& f) noexcept {
    view frame = std::move(f.head);  // the page goes back to the pool when not delivered
    const std::size_t n = frame.size() + f.tail.size();
    offload::rx_reject why{};
    const auto classified = offload::classify(f.info, n, page_size, &why);
    const offload::rx_kind kind = classified ? *classified : offload::rx_kind::plain;  // (read once: * checks again)
    if (!classified || (!Offload && kind == offload::rx_kind::merged)) {
      if (classified) why = offload::rx_reject::gso_type;  // never asked for without TCP
      ++stats_.rx_errors;
      stats_.rx_rejects.count(why);
      return;
    }
    if constexpr (Offload) {
      if (kind == offload::rx_kind::merged) {
        ++stats_.rx_gso_frames;
        auto cut = offload::tcp_segmenter::parse_filling({frame.bytes(), f.tail}, f.info.gso_size, page_size, &why);
        if (!cut) {
          ++stats_.rx_errors;
          stats_.rx_rejects.count(why);
        } else if (!offload::deliver_segments(*cut, pool_, false, [this](view&& v) { deliver(std::move(v)); })) {
          ++stats_.rx_no_buffers;
        }
        return;
      }
    }
    if (!f.tail.empty()) {  // a frame of a page or less over several slots: into one page
      auto page = pool_.allocate_reserved();
      if (!page) {
        ++stats_.rx_no_buffers;
        return;
      }
      std::memcpy(page->data(), frame.data(), frame.size());
      std::memcpy(page->data() + frame.size(), f.tail.data(), f.tail.size());
      frame = page->head(n);
    }
    if (kind != offload::rx_kind::plain) {
      ++stats_.rx_csum_offload;
      frame.mark_checksum_verified();  // no capture here to complete a partial checksum for
    }
    deliver(std::move(frame));
  }

  void deliver(view&& frame) noexcept {
    ++stats_.rx_frames;
    if (receiver_) receiver_(std::move(frame));
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
    for (slot& s : slots_)  // the rings' pages last
      if (s.lent) (void)take_back(s);
    tx_.detach();
    rx_.detach();
  }

  // What each frame touches comes first, within 128 bytes of the object's start
  // (an access is then a 1-byte displacement, not a 4-byte one); the handshake's
  // state and the large tables follow.
  event_channels& ev_;
  grant_table& gnt_;
  page_pool& pool_;
  tx_ring tx_;
  rx_ring rx_;
  frame_receiver receiver_{};
  std::size_t held_slots_ = 0;
  std::size_t tx_free_count_ = 0;
  evtchn_port_t port_ = 0;
  bool connected_ = false;
  bool broken_ = false;
  bool tx_gso_ = false;   // netback takes GSO frames
  bool flushed_ = false;  // the clock flushes held segments before each wait
  domid_t backend_id_ = 0;
  mac_address mac_{};
  xenbus_frontend bus_;
  netif_rx_chain<rx_tail_bytes> rx_chain_{};  // {}: zeroed in one block (its tail too, once), not a store per field
  struct no_batch {
    bool empty() const noexcept { return true; }
  };
  [[no_unique_address]] std::conditional_t<Offload, offload::tcp_gso_batch<gso_max_views>, no_batch> gso_;
  slot slots_[2 * ring_size + 2];
  slot* const tx_slots_ = slots_;                  // by request id
  slot* const rx_slots_ = slots_ + ring_size;      // by ring position
  slot& tx_ring_page_ = slots_[2 * ring_size];     // the rings' own pages
  slot& rx_ring_page_ = slots_[2 * ring_size + 1];
  std::uint16_t tx_free_[ring_size];
  stats stats_{};  // {}: zeroed in one block, not a store per field
};

using XenNetif = BasicXenNetif<true>;
static_assert(Netif<XenNetif>);
static_assert(Netif<BasicXenNetif<false>>);

}  // namespace uni::xen
