// uni/openflow/local_port.hpp: the device under the switch's own network stack
// when that stack sits on the datapath's LOCAL port (datapath.hpp's add_local),
// as Open vSwitch's bridge-internal interface: what the stack transmits enters
// the datapath at LOCAL, and what the flows output to LOCAL the stack receives.
// uni::Stack runs on it unchanged (it is a Netif).
//
//   openflow::local_port dev(pool, mac);
//   openflow::scheduler_clock clock{sched};
//   Stack<openflow::local_port, openflow::scheduler_clock, Config> own(dev, clock, sched, pool, settings);
//   switch_agent.add_local(dev, "br0");  // now frames go both ways
//   own.start();
//
// Frames are copied into a page each way: the stack hands over fragments and the
// datapath keys and rewrites one contiguous frame with headroom, and the stack
// may keep (or answer in) a page the datapath still forwards elsewhere. LOCAL is
// the switch's control path, not its forwarding path. A frame the stack sends
// while it is receiving (its answer) waits in a short queue until it returns, so
// the stack is never entered twice and the datapath nests at most once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include <uni/concepts.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/net/frame_hooks.hpp>
#include <uni/openflow/rewrite.hpp>

namespace uni::openflow {

// The clock of a stack whose device is not the platform's: the scheduler's time,
// which the platform's loop keeps. uni::Stack reads its clock only to seed
// itself; the waiting is the platform's loop's, on the platform's clock, so
// wait_until has nothing to wait for and returns at once.
struct scheduler_clock {
  scheduler& sched;
  time_point now() const noexcept { return sched.now(); }
  void wait_until(time_point) const noexcept {}
};

struct local_port_counters {
  std::uint64_t to_datapath = 0;  // frames the stack sent
  std::uint64_t to_stack = 0;     // frames the flows output to LOCAL
  std::uint64_t dropped = 0;      // no page, the queue full, or no datapath attached
};

class local_port {
 public:
  static constexpr std::size_t queue_size = 16;
  static constexpr std::size_t mtu_bytes = 1500;

  local_port(page_pool& pool, mac_address mac) noexcept : pool_(pool), mac_(mac) {}
  local_port(const local_port&) = delete;
  local_port& operator=(const local_port&) = delete;

  // ---- Netif: the stack's side -------------------------------------------------------

  mac_address mac() const noexcept { return mac_; }
  std::size_t mtu() const noexcept { return mtu_bytes; }
  void set_receiver(frame_receiver r) noexcept { stack_ = r; }

  result<void> transmit(std::span<const view> frags) noexcept {
    auto f = copy(frags, working_frame::headroom_wanted);
    if (!f) return fail(f.err());
    if (queued_ == queue_size) {
      ++n_.dropped;
      return fail(error::would_block);
    }
    queue_[(first_ + queued_++) % queue_size] = std::move(*f);
    if (!busy_) drain();
    return {};
  }

  // ---- the datapath's side -----------------------------------------------------------

  // Where the stack's frames go: the datapath's receive at LOCAL.
  void attach(frame_handler into_datapath) noexcept { datapath_ = into_datapath; }

  // A frame the datapath outputs to LOCAL (a port_transmit).
  result<void> deliver(std::span<const view> frame) noexcept {
    if (!stack_) {
      ++n_.dropped;
      return fail(error::closed);
    }
    auto f = copy(frame, 0);
    if (!f) return fail(f.err());
    ++n_.to_stack;
    const bool outer = !busy_;
    busy_ = true;
    stack_(std::move(*f));
    if (outer) drain();  // its answers, now that it has returned
    return {};
  }

  const local_port_counters& counters() const noexcept { return n_; }

 private:
  result<view> copy(std::span<const view> frags, std::size_t headroom) noexcept {
    std::size_t size = 0;
    for (const view& v : frags) size += v.size();
    auto page = pool_.allocate();
    if (!page || size + headroom > page->size()) {
      ++n_.dropped;
      return fail(page ? error::too_large : error::no_buffers);
    }
    view f = page->tail(headroom).head(size);
    std::size_t at = 0;
    for (const view& v : frags) {
      std::memcpy(f.data() + at, v.data(), v.size());
      at += v.size();
    }
    return f;
  }

  // Hands the queued frames to the datapath, oldest first; what the stack answers
  // meanwhile joins the queue and goes in the same loop.
  void drain() noexcept {
    busy_ = true;
    while (queued_) {
      view f = std::move(queue_[first_]);
      first_ = (first_ + 1) % queue_size;
      --queued_;
      if (!datapath_) {
        ++n_.dropped;
        continue;
      }
      ++n_.to_datapath;
      datapath_(std::move(f));
    }
    busy_ = false;
  }

  page_pool& pool_;
  mac_address mac_;
  frame_receiver stack_;
  frame_handler datapath_;
  std::array<view, queue_size> queue_{};
  std::size_t first_ = 0, queued_ = 0;
  bool busy_ = false;
  local_port_counters n_;
};

}  // namespace uni::openflow
