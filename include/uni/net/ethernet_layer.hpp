// uni/net/ethernet_layer.hpp: uni::Stack's Ethernet glue. Frames come in from the
// device's callback and go up to ARP or IPv4 when they are addressed to us (our MAC
// or broadcast); what the stack does not consume goes to a hook (frame_hooks.hpp)
// if one takes it, else it is dropped and counted. Frames go out to the device
// through transmit(), which counts them.
//
// `S` is the stack: the layer reaches the device, the counters, the hooks and the
// layers above through it (its friend), all resolved at compile time.
#pragma once

#include <span>

#include <uni/core/buffer.hpp>
#include <uni/core/result.hpp>
#include <uni/core/view_chain.hpp>
#include <uni/net/ethernet.hpp>
#include <uni/net/frame_hooks.hpp>
#include <uni/net/stack_counters.hpp>
#include <uni/trace/recorder.hpp>

namespace uni {

// A device in a trace (uni/trace/): the last two bytes of its MAC.
constexpr std::uint16_t trace_device(const mac_address& m) noexcept {
  return static_cast<std::uint16_t>(m.bytes[4] << 8 | m.bytes[5]);
}

template <class S>
class ethernet_layer {
 public:
  explicit ethernet_layer(S& s) noexcept : s_(s) {}

  void input(view&& frame) noexcept {  // the device's frame, taken
    auto& c = s_.counters_.ethernet;
    auto parsed = ethernet_view::parse(frame.bytes());
    if (!parsed) return c.drop(ethernet_drop::truncated);
    const ethernet_view& eth = *parsed;
    ++c.received;
    if (s_.hooks_.size() != 0)
      if (frame_handler fn = s_.hooks_.frame_taker(hook_kind::every_frame)) {  // a switch port: the stack stands aside
        ++s_.counters_.hooks.every_frame;
        return fn(std::move(frame));
      }
    if constexpr (S::config::trace)
      trace::note(trace::kind::frame_rx, trace::current_task, frame.size(), 0, trace_device(s_.netif_.mac()));
    const std::uint16_t type = eth.type();
    const bool ours = eth.destination_is(s_.netif_.mac()) || eth.destination_is(mac_address::broadcast());
    if (ours) {
      // Past the header in place: no second view of the frame's page made.
      switch (static_cast<ethertype>(type)) {
        case ethertype::arp: return s_.arp_.input(eth.payload());
        case ethertype::ipv4: frame.drop_front(ethernet_view::header_size); return s_.ipv4_.input(std::move(frame));
        default: break;
      }
    }
    if (s_.hooks_.size() != 0 && take(frame, ours, eth.destination_is_group(), type)) return;
    c.drop(ours ? ethernet_drop::unsupported_type : ethernet_drop::not_for_us);
  }

  // Sends one frame (given as fragments), counted as sent or as a failed transmit.
  result<void> transmit(std::span<const view> frame) noexcept {
    if constexpr (S::config::trace) return send(frame, total_size(frame));
    else return send(frame, 0);
  }
  // The same for a chain (IP's packets), whose length the trace takes as it is.
  template <std::size_t N>
  result<void> transmit(const basic_view_chain<N>& frame) noexcept {
    return send(frame.views(), frame.length());
  }

 private:
  // `length`: the frame's bytes, for the trace (unused untraced).
  result<void> send(std::span<const view> frame, [[maybe_unused]] std::size_t length) noexcept {
    auto r = s_.netif_.transmit(frame);
    if (r) ++s_.counters_.ethernet.sent;
    else s_.counters_.ethernet.drop(ethernet_drop::transmit_failed);
    if constexpr (S::config::trace)
      if (r) trace::note(trace::kind::frame_tx, trace::current_task, length, 0, trace_device(s_.netif_.mac()));
    return r;
  }

  // A frame the stack does not consume: to the taker of its EtherType if it is
  // addressed to us or to a group (LLDP goes to a multicast address), else, not
  // being for us, to the taker of other stations' frames.
  bool take(view& frame, bool ours, bool to_group, std::uint16_t type) noexcept {
    auto& hooks = s_.hooks_;
    if (ours || to_group) {
      if (frame_handler fn = hooks.frame_taker(hook_kind::ethertype, type)) {
        ++s_.counters_.hooks.by_ethertype;
        fn(std::move(frame));
        return true;
      }
    }
    if (ours) return false;
    if (frame_handler fn = hooks.frame_taker(hook_kind::other_macs)) {
      ++s_.counters_.hooks.other_macs;
      fn(std::move(frame));
      return true;
    }
    return false;
  }

  S& s_;
};

}  // namespace uni
