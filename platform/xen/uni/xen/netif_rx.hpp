// uni/xen/netif_rx.hpp: netfront's receive chains, sans I/O: netback's RX
// responses, in ring order, become frames (xen/io/netif.h, "Guest receive").
//
// A frame is one data slot, or several linked by NETRXF_more_data (feature-sg);
// the first may be followed by extra-info slots (NETRXF_extra_info, each
// announcing the next with XEN_NETIF_EXTRA_FLAG_MORE), of which GSO matters
// here. An extra-info slot overlays the response in the slot of the request it
// used up, so a slot is known by its ring position, never by an id the backend
// writes. The first slot's bytes stay in its page (the frame's head, no copy);
// the others' are copied behind each other into a tail buffer, as TapNetif
// reads a merged frame's tail. The GSO extra and the checksum flags become an
// offload_info (uni/net/offload.hpp) that the driver acts on as TAP does.
//
// Every field is the backend's, and untrusted: an error status, bytes past the
// slot's page, a wrong id, an extra of no known type, a chain longer than
// max_slots or than the tail buffer: the frame is dropped (each reason counted)
// while its chain is still followed to its end, so the next frame starts in step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include <uni/core/buffer.hpp>
#include <uni/net/offload.hpp>
#include <uni/xen/public.hpp>

#include <xen/grant_table.h>
#include <xen/io/netif.h>

namespace uni::xen {

// Why a received chain was dropped.
struct netif_rx_drops {
  std::uint64_t status = 0;      // netback reported an error for a slot
  std::uint64_t slot_range = 0;  // offset + size past the slot's page
  std::uint64_t id = 0;          // a data slot's id is not its ring slot's
  std::uint64_t extra = 0;       // an extra-info slot of no known type, or too many
  std::uint64_t slots = 0;       // more data slots than max_slots
  std::uint64_t too_long = 0;    // more bytes than the tail buffer holds
  std::uint64_t total() const noexcept { return status + slot_range + id + extra + slots + too_long; }
};

template <std::size_t TailBytes>
class netif_rx_chain {
 public:
  // A frame's data slots at most: what every backend must accept (a 64 KiB GSO
  // frame in whole pages takes 17).
  static constexpr std::size_t max_slots = XEN_NETIF_NR_SLOTS_MIN;
  static constexpr std::size_t max_extras = XEN_NETIF_EXTRA_TYPE_MAX - 1;  // one of each type
  static_assert(sizeof(netif_extra_info_t) == sizeof(netif_rx_response_t));

  struct frame {
    view head;                           // the first slot's bytes, in its page
    std::span<const std::uint8_t> tail;  // the other slots', in order
    offload_info info;                   // from the flags and the GSO extra
    std::size_t slots = 0;
  };

  // The response found in ring slot `slot`, and the page that slot was given
  // (the frame keeps the first, the others go back to the pool). The frame
  // once its last response is taken, else null: the chain's own, until the
  // next take() (the caller moves its head out to keep it).
  frame* take(const netif_rx_response_t& rsp, std::uint16_t slot, view&& page) noexcept {
    if (want_extra_) {
      netif_extra_info_t x;
      std::memcpy(&x, &rsp, sizeof x);
      extra(x);
      want_extra_ = (x.flags & XEN_NETIF_EXTRA_FLAG_MORE) != 0;
    } else {
      data(rsp, slot, std::move(page));
    }
    if (!in_frame_ || want_extra_ || more_) return nullptr;
    return finish();
  }

  const netif_rx_drops& drops() const noexcept { return drops_; }
  std::size_t multi_slot_frames() const noexcept { return multi_slot_; }

 private:
  void data(const netif_rx_response_t& rsp, std::uint16_t slot, view&& page) noexcept {
    if (!in_frame_) {
      in_frame_ = true;
      dropping_ = false;
      first_flags_ = rsp.flags;
      want_extra_ = (rsp.flags & NETRXF_extra_info) != 0;
      frame_.slots = extras_ = tail_len_ = 0;
      frame_.info = offload_info{};
    }
    more_ = (rsp.flags & NETRXF_more_data) != 0;
    const bool first = ++frame_.slots == 1;
    if (frame_.slots > max_slots) return drop(drops_.slots);
    if (rsp.id != slot) return drop(drops_.id);
    if (rsp.status < 0) return drop(drops_.status);
    const std::size_t n = static_cast<std::size_t>(rsp.status);
    if (rsp.offset > page.size() || n > page.size() - rsp.offset) return drop(drops_.slot_range);
    if (first) {
      page.drop_front(rsp.offset);
      page.truncate(n);
      frame_.head = std::move(page);
    } else if (!dropping_) {
      if (n > TailBytes - tail_len_) return drop(drops_.too_long);
      std::memcpy(tail_ + tail_len_, page.data() + rsp.offset, n);
      tail_len_ += n;
    }
  }

  void extra(const netif_extra_info_t& x) noexcept {
    if (++extras_ > max_extras || x.type == XEN_NETIF_EXTRA_TYPE_NONE || x.type >= XEN_NETIF_EXTRA_TYPE_MAX)
      return drop(drops_.extra);
    if (x.type != XEN_NETIF_EXTRA_TYPE_GSO) return;  // multicast and hash: nothing we asked for, nothing we need
    // A kind other than TCPv4, or a size of 0, is classify()'s to refuse.
    frame_.info.gso = x.u.gso.type == XEN_NETIF_GSO_TYPE_TCPV4 ? gso_kind::tcpv4 : gso_kind::unknown;
    frame_.info.gso_size = x.u.gso.size;
  }

  // Counts the first reason a chain is dropped; the rest of it is only followed.
  void drop(std::uint64_t& reason) noexcept {
    if (!dropping_) ++reason;
    dropping_ = true;
    frame_.head = view{};
  }

  frame* finish() noexcept {
    in_frame_ = false;
    if (dropping_) return nullptr;
    if (frame_.slots > 1) ++multi_slot_;
    // data_validated: the checksums were checked (or the frame never left the
    // host); csum_blank: the transport checksum is partial, to be completed where
    // someone looks. Where it lies is found in the headers (netif.h does not say).
    offload_info& info = frame_.info;
    info.csum_valid = (first_flags_ & (NETRXF_data_validated | NETRXF_csum_blank)) != 0;
    if (first_flags_ & NETRXF_csum_blank) {
      info.csum_partial = true;
      if (!offload::locate_transport_checksum(frame_.head.bytes(), info)) info.csum_start = 0xffff;  // classify() refuses it
    }
    frame_.tail = {tail_, tail_len_};
    return &frame_;
  }

  bool in_frame_ = false, want_extra_ = false, more_ = false, dropping_ = false;
  std::uint16_t first_flags_ = 0;
  std::size_t extras_ = 0, tail_len_ = 0, multi_slot_ = 0;
  frame frame_;  // the frame being put together: its head, info and slots so far
  netif_rx_drops drops_;
  std::uint8_t tail_[TailBytes];
};

}  // namespace uni::xen
