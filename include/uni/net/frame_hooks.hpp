// uni/net/frame_hooks.hpp: the frames uni::Stack does not consume, taken by the
// application: by EtherType (LLDP 0x88cc, IPv6), by IP protocol number (GRE 47,
// OSPF 89, or a protocol the Config switches off), and frames addressed to other
// stations (promiscuous), or every frame before the stack sees it (a switch port,
// whose stack then consumes nothing: broadcasts included). So a switch, LLDP or a
// new transport is written beside the stack, not inside it.
//
// The table is bounded (Config::frame_hooks) and filled at run time; each key has at
// most one taker, so every frame goes to one hook or to none. A handler is called
// on the receive path with views of the page the frame arrived in (nothing is
// copied; keeping a view keeps the page) and must not block; it may send
// (Stack::send_frame) and may close hooks, its own included.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <uni/core/buffer.hpp>
#include <uni/core/format.hpp>
#include <uni/core/function_ref.hpp>
#include <uni/core/result.hpp>
#include <uni/core/view_chain.hpp>
#include <uni/net/ipv4.hpp>

namespace uni {

// Takes a whole Ethernet frame, its header included, handed over (as a device's
// frame_receiver does).
using frame_handler = function_ref<void(view&& frame)>;
// Takes an IPv4 datagram for us: its header, and its payload (reassembled if it came
// in fragments), handed over as it is (an rvalue: a handler taking it by value
// moves it once, no chain is moved on the way).
using datagram_handler = function_ref<void(const ipv4_header& header, view_chain&& payload)>;

// Frames given to hooks, by kind, and raw frames the application sent.
struct hook_counters {
  std::uint64_t by_ethertype = 0;
  std::uint64_t by_ip_protocol = 0;
  std::uint64_t other_macs = 0;
  std::uint64_t every_frame = 0;
  std::uint64_t sent = 0;

  std::uint64_t taken() const noexcept { return by_ethertype + by_ip_protocol + other_macs + every_frame; }
};

inline void format_value(text_writer& w, const hook_counters& c) noexcept {
  format_to(w, "rx ", c.taken(), " (ethertype ", c.by_ethertype, ", ip protocol ", c.by_ip_protocol, ", other macs ",
            c.other_macs, ", every frame ", c.every_frame, ") tx ", c.sent);
}

enum class hook_kind : std::uint8_t { free, ethertype, ip_protocol, other_macs, every_frame };

template <std::size_t Capacity>
class frame_hooks {
 public:
  static constexpr std::size_t capacity = Capacity;

  // A slot for `fn`: error::in_use if the key has a taker already, error::table_full
  // past Capacity.
  result<std::size_t> add(hook_kind kind, std::uint16_t key, frame_handler fn) noexcept {
    return add({kind, key, fn, {}});
  }
  result<std::size_t> add(std::uint8_t protocol, datagram_handler fn) noexcept {
    return add({hook_kind::ip_protocol, protocol, {}, fn});
  }
  void remove(std::size_t slot) noexcept {
    entries_[slot] = {};
    --used_;
  }

  // The taker of `key` (empty if none). `key` is ignored for other_macs and every_frame.
  frame_handler frame_taker(hook_kind kind, std::uint16_t key = 0) const noexcept {
    if (const entry* e = find(kind, key)) return e->frame;
    return {};
  }
  datagram_handler datagram_taker(std::uint8_t protocol) const noexcept {
    if (const entry* e = find(hook_kind::ip_protocol, protocol)) return e->datagram;
    return {};
  }
  std::size_t size() const noexcept { return used_; }

 private:
  struct entry {
    hook_kind kind = hook_kind::free;
    std::uint16_t key = 0;
    frame_handler frame{};
    datagram_handler datagram{};
  };

  result<std::size_t> add(const entry& e) noexcept {
    if (find(e.kind, e.key)) return fail(error::in_use);
    for (std::size_t i = 0; i < Capacity; ++i) {
      if (entries_[i].kind != hook_kind::free) continue;
      entries_[i] = e;
      ++used_;
      return i;
    }
    return fail(error::table_full);
  }

  const entry* find(hook_kind kind, std::uint16_t key) const noexcept {
    if (used_ == 0) return nullptr;  // the usual case: one test on the drop path
    for (const entry& e : entries_)
      if (e.kind == kind && e.key == key) return &e;
    return nullptr;
  }

  std::array<entry, Capacity> entries_{};
  std::size_t used_ = 0;
};

}  // namespace uni
