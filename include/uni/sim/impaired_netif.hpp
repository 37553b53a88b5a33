// uni/sim/impaired_netif.hpp: a Netif decorator that impairs a real device the
// way sim_link impairs the simulated wire (the same seeded model, plan_frame):
// frames lost, duplicated, delayed and reordered, in both directions. It puts
// a TapNetif's traffic through the conditions `netem` would create, on kernels
// without netem. With no impairment it forwards every call directly.
//
// Delayed frames are held as views (no copy) in a bounded table; a frame that
// finds the table full is dropped and counted, like a full queue on a real link.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include <uni/concepts.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/core/view_chain.hpp>
#include <uni/sim/impairment.hpp>

namespace uni::sim {

struct impaired_stats {
  std::uint64_t lost = 0, duplicated = 0, delayed = 0, reordered = 0, overflow = 0;
};

// "loss=2,dup=1,reorder=2,delay=1-5" (percent, and milliseconds for the delay
// range), any subset in any order; std::nullopt if malformed.
inline std::optional<impairment> parse_impairment(std::string_view spec) noexcept {
  impairment imp;
  auto number = [](std::string_view s, double& out) {
    if (s.empty()) return false;
    double v = 0, scale = 0;
    for (char c : s) {
      if (c == '.' && scale == 0) {
        scale = 1;
      } else if (c >= '0' && c <= '9') {
        v = v * 10 + (c - '0');
        if (scale > 0) scale *= 10;
      } else {
        return false;
      }
    }
    out = scale > 0 ? v / scale : v;
    return true;
  };
  while (!spec.empty()) {
    const std::size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    double v = 0, w = 0;
    if (key == "delay") {
      const std::size_t dash = value.find('-');
      if (!number(value.substr(0, dash), v)) return std::nullopt;
      w = v;
      if (dash != std::string_view::npos && !number(value.substr(dash + 1), w)) return std::nullopt;
      if (w < v) return std::nullopt;
      imp.delay_min = duration(static_cast<duration::rep>(v * 1e6));
      imp.delay_max = duration(static_cast<duration::rep>(w * 1e6));
      continue;
    }
    if (!number(value, v) || v > 100) return std::nullopt;
    const auto ppm = static_cast<std::uint32_t>(v * 10'000);
    if (key == "loss") imp.loss_ppm = ppm;
    else if (key == "dup") imp.duplicate_ppm = ppm;
    else if (key == "reorder") imp.reorder_ppm = ppm;
    else return std::nullopt;
  }
  return imp;
}

template <Netif Inner, std::size_t Held = 512>
class ImpairedNetif {
 public:
  ImpairedNetif(Inner& inner, scheduler& sched, impairment imp, std::uint64_t seed) noexcept
      : inner_(inner), sched_(sched), imp_(imp), rng_(seed), wake_(sched) {
    if (imp_.impaired()) pump_ = spawn(sched_, pump());
  }
  ImpairedNetif(const ImpairedNetif&) = delete;
  ImpairedNetif& operator=(const ImpairedNetif&) = delete;
  ~ImpairedNetif() { inner_.set_receiver({}); }

  mac_address mac() const noexcept { return inner_.mac(); }
  std::size_t mtu() const noexcept { return inner_.mtu(); }
  // Frames pass whole (lost, late, twice), so a device that completes TCP checksums still does.
  bool completes_tcp_checksums() noexcept
    requires requires(Inner& i) { i.completes_tcp_checksums(); }
  {
    return inner_.completes_tcp_checksums();
  }
  const impaired_stats& statistics() const noexcept { return stats_; }
  const impairment& model() const noexcept { return imp_; }

  result<void> transmit(std::span<const view> frags) noexcept {
    if (!imp_.impaired()) return inner_.transmit(frags);
    pass(true, frags);
    return {};  // what the wire loses, the sender never learns about
  }

  void set_receiver(frame_receiver r) noexcept {
    receiver_ = r;
    if (!imp_.impaired()) return inner_.set_receiver(r);
    inner_.set_receiver(r ? frame_receiver(receive_) : frame_receiver{});
  }

 private:
  struct held_frame {
    bool used = false, outgoing = false;
    time_point due{};
    std::uint64_t order = 0;  // equal due times leave in arrival order
    basic_view_chain<16> frame;
  };
  struct receive_fn {
    ImpairedNetif* n;
    void operator()(view frame) const noexcept { n->pass(false, std::span<const view>(&frame, 1)); }
  };

  void pass(bool outgoing, std::span<const view> frame) noexcept {
    const frame_plan p = plan_frame(imp_, rng_);
    if (p.copies == 0) return void(++stats_.lost);
    if (p.copies == 2) ++stats_.duplicated;
    if (p.reordered) ++stats_.reordered;
    for (int i = 0; i < p.copies; ++i) {
      if (p.delay[i].count() == 0) deliver(outgoing, frame);
      else hold(outgoing, frame, sched_.now() + p.delay[i]);
    }
  }

  void deliver(bool outgoing, std::span<const view> frame) noexcept {
    if (outgoing) (void)inner_.transmit(frame);
    else if (receiver_ && !frame.empty()) receiver_(view(frame[0]));
  }

  void hold(bool outgoing, std::span<const view> frame, time_point due) noexcept {
    auto free = std::find_if(held_.begin(), held_.end(), [](const held_frame& h) { return !h.used; });
    if (free == held_.end()) return void(++stats_.overflow);
    held_frame h{true, outgoing, due, next_order_++, {}};
    for (const view& v : frame)
      if (!h.frame.push_back(v)) return void(++stats_.overflow);
    *free = std::move(h);
    ++stats_.delayed;
    if (due < next_due_) wake_.notify_one();
  }

  task<void> pump() {
    while (true) {
      next_due_ = time_never;
      for (const held_frame& h : held_) if (h.used) next_due_ = std::min(next_due_, h.due);
      // (the awaited value goes into a local first: GCC 12 miscompiles a
      // coroutine whose first co_await sits in an if condition)
      const wake_reason why = co_await wake_.wait_until(next_due_);
      if (why == wake_reason::cancelled) co_return;
      const time_point now = sched_.now();
      next_due_ = time_point{};  // running: nobody needs to wake us
      while (true) {  // everything due, oldest first
        held_frame* first = nullptr;
        for (held_frame& h : held_)
          if (h.used && h.due <= now && (!first || h.due < first->due || (h.due == first->due && h.order < first->order)))
            first = &h;
        if (!first) break;
        held_frame h = std::move(*first);
        *first = held_frame{};
        deliver(h.outgoing, h.frame.views());
      }
    }
  }

  Inner& inner_;
  scheduler& sched_;
  impairment imp_;
  random_generator rng_;
  frame_receiver receiver_{};
  receive_fn receive_fn_{this};
  frame_receiver receive_{receive_fn_};
  std::array<held_frame, Held> held_{};
  std::uint64_t next_order_ = 0;
  time_point next_due_ = time_point{};
  impaired_stats stats_{};
  wait_queue wake_;
  join_handle<void> pump_;
};

}  // namespace uni::sim
