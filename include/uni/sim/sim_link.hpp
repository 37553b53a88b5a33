// uni/sim/sim_link.hpp: two simulated network interfaces joined by a wire.
//
// Each end is a Netif. A transmitted frame is copied into a page of the link's
// pool (the wire), given an impairment plan from the seeded generator, and
// delivered to the other end's receiver when the manual clock reaches its
// arrival time. With the manual clock this lets two whole stacks talk in one
// process, deterministically, as fast as the CPU allows.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include <uni/concepts.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/random.hpp>
#include <uni/sim/impairment.hpp>
#include <uni/sim/manual_clock.hpp>

namespace uni::sim {

class sim_link;

class SimNetif {
 public:
  mac_address mac() const noexcept { return mac_; }
  std::size_t mtu() const noexcept { return mtu_; }
  inline result<void> transmit(std::span<const view> frags) noexcept;
  void set_receiver(frame_receiver r) noexcept { receiver_ = r; }

 private:
  friend class sim_link;
  sim_link* link_ = nullptr;
  int side_ = 0;
  mac_address mac_{};
  std::size_t mtu_ = 1500;
  frame_receiver receiver_{};
};

static_assert(Netif<SimNetif>);

class sim_link {
 public:
  static constexpr std::size_t max_in_flight = 512;
  static constexpr std::size_t ethernet_header = 14;

  struct stats {
    std::uint64_t sent = 0;        // frames handed to transmit()
    std::uint64_t delivered = 0;   // copies handed to a receiver
    std::uint64_t lost = 0;        // dropped by the impairment model
    std::uint64_t duplicated = 0;
    std::uint64_t reordered = 0;
    std::uint64_t queue_full = 0;  // dropped: too many frames in flight
    std::uint64_t no_buffers = 0;  // dropped: the pool was empty
    std::uint64_t oversize = 0;    // refused: larger than the MTU
  };

  sim_link(page_pool& pool, ManualClock& clock, std::uint64_t seed, impairment imp = {}) noexcept
      : pool_(pool), clock_(clock), rng_(seed), imp_(imp) {
    for (int i = 0; i < 2; ++i) {
      ends_[i].link_ = this;
      ends_[i].side_ = i;
      ends_[i].mac_ = mac_address{{0x02, 0, 0, 0, 0, static_cast<std::uint8_t>(i + 1)}};
    }
    clock.attach({next_fn_, run_fn_});
  }
  sim_link(const sim_link&) = delete;
  sim_link& operator=(const sim_link&) = delete;

  SimNetif& a() noexcept { return ends_[0]; }
  SimNetif& b() noexcept { return ends_[1]; }
  void set_impairment(const impairment& imp) noexcept { imp_ = imp; }
  const stats& statistics() const noexcept { return stats_; }
  std::size_t in_flight() const noexcept { return count_; }

  // Time of the next arrival, or time_never.
  time_point next_arrival() const noexcept { return count_ ? queue_[0].at : time_never; }

  // Delivers every frame due by `now`, in arrival order.
  void deliver_due(time_point now) noexcept {
    while (count_ && queue_[0].at <= now) {
      std::pop_heap(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(count_), later);
      entry e = std::move(queue_[--count_]);
      queue_[count_] = entry{};
      ++stats_.delivered;
      if (auto& r = ends_[e.to].receiver_) r(std::move(e.frame));
    }
  }

 private:
  friend class SimNetif;
  struct entry {
    time_point at{};
    std::uint64_t sequence = 0;
    int to = 0;
    view frame;
  };
  static bool later(const entry& x, const entry& y) noexcept {
    return x.at > y.at || (x.at == y.at && x.sequence > y.sequence);
  }

  result<void> send(int from, std::span<const view> frags) noexcept {
    ++stats_.sent;
    const std::size_t len = total_size(frags);
    if (len > ends_[from].mtu_ + ethernet_header || len > page_size) {
      ++stats_.oversize;
      return fail(error::too_large);
    }
    frame_plan plan = plan_frame(imp_, rng_);
    if (plan.copies == 0) {
      ++stats_.lost;
      return {};  // a lossy wire: the sender cannot tell
    }
    if (plan.copies == 2) ++stats_.duplicated;
    if (plan.reordered) ++stats_.reordered;
    auto page = pool_.allocate_reserved();
    if (!page) {
      ++stats_.no_buffers;
      return {};
    }
    view frame = page->head(gather(frags, page->bytes()));
    for (int i = 0; i < plan.copies; ++i) {
      if (count_ == max_in_flight) {
        ++stats_.queue_full;
        break;
      }
      queue_[count_++] = entry{clock_.now() + plan.delay[i], sequence_++, 1 - from, frame};
      std::push_heap(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(count_), later);
    }
    return {};
  }

  page_pool& pool_;
  ManualClock& clock_;
  random_generator rng_;
  impairment imp_;
  stats stats_;
  SimNetif ends_[2];
  std::array<entry, max_in_flight> queue_{};
  std::size_t count_ = 0;
  std::uint64_t sequence_ = 0;

  struct next_event_fn {
    sim_link* l;
    time_point operator()() const noexcept { return l->next_arrival(); }
  } next_fn_{this};
  struct run_due_fn {
    sim_link* l;
    void operator()(time_point now) const noexcept { l->deliver_due(now); }
  } run_fn_{this};
};

inline result<void> SimNetif::transmit(std::span<const view> frags) noexcept { return link_->send(side_, frags); }

}  // namespace uni::sim
