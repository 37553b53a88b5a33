// uni/concepts.hpp: the policies a platform supplies, as C++20 concepts.
//
// A stack is instantiated over a Netif and a Clock; a type that does not fit
// fails at compile time with the name of the missing member, and the static
// assertions in the stack add a sentence saying what the policy is for.
//
// Names: the policies and the stacks, the types a user names as template
// arguments (Stack<XenNetif, XenClock>, SocketStack, NewReno, SimNetif,
// ManualClock), and the concepts they model (Netif, Clock, CongestionControl),
// are PascalCase; every other type, function and variable is snake_case.
#pragma once

#include <concepts>
#include <cstddef>
#include <span>

#include <uni/core/buffer.hpp>
#include <uni/core/function_ref.hpp>
#include <uni/core/result.hpp>
#include <uni/core/time.hpp>
#include <uni/net/mac_address.hpp>

namespace uni {

// Called by a device for every frame it receives; the view owns its page and is
// handed over (an rvalue: one view all the way up the stack, no move at each call).
using frame_receiver = function_ref<void(view&& frame)>;

// A network interface: an Ethernet device.
//   mac()            its hardware address
//   mtu()            the largest IP packet it carries (Ethernet payload, 1500)
//   transmit(frags)  sends one frame given as fragments (scatter-gather): the
//                    device copies or holds references, the caller may drop its
//                    views on return; a full queue is error::would_block
//   set_receiver(r)  where received frames go (called from the platform's wait)
template <class N>
concept Netif = requires(N& n, const N& cn, std::span<const view> frags, frame_receiver r) {
  { cn.mac() } noexcept -> std::same_as<mac_address>;
  { cn.mtu() } noexcept -> std::convertible_to<std::size_t>;
  { n.transmit(frags) } -> std::same_as<result<void>>;
  { n.set_receiver(r) } -> std::same_as<void>;
};

// A monotonic clock and the platform's single blocking call.
//   now()            monotonic time
//   wait_until(t)    blocks until I/O happens (devices deliver frames, signals)
//                    or t passes; with t in the past it only polls for I/O
template <class C>
concept Clock = requires(C& c, time_point t) {
  { c.now() } noexcept -> std::same_as<time_point>;
  { c.wait_until(t) } -> std::same_as<void>;
};

}  // namespace uni
