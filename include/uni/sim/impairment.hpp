// uni/sim/impairment.hpp: a seeded model of a bad link (loss, duplication, delay,
// reordering), shared by the simulated link and by the impairing decorator that
// wraps a real device. Each frame gets a plan: how many copies arrive and when.
#pragma once

#include <cstdint>

#include <uni/core/random.hpp>
#include <uni/core/time.hpp>

namespace uni::sim {

struct impairment {
  std::uint32_t loss_ppm = 0;       // frames lost, per million
  std::uint32_t duplicate_ppm = 0;  // frames delivered twice, per million
  std::uint32_t reorder_ppm = 0;    // frames held back behind later ones, per million
  duration delay_min{0};            // one-way delay, uniform in [delay_min, delay_max]
  duration delay_max{0};
  duration reorder_hold{std::chrono::milliseconds(1)};  // extra delay of a reordered frame

  bool impaired() const noexcept {
    return loss_ppm || duplicate_ppm || reorder_ppm || delay_max.count() > 0;
  }
};

struct frame_plan {
  int copies = 1;           // 0 = lost, 2 = duplicated
  duration delay[2]{};      // delay of each copy
  bool reordered = false;
};

inline frame_plan plan_frame(const impairment& imp, random_generator& rng) noexcept {
  frame_plan p;
  if (imp.loss_ppm && rng.chance(imp.loss_ppm)) {
    p.copies = 0;
    return p;
  }
  if (imp.duplicate_ppm && rng.chance(imp.duplicate_ppm)) p.copies = 2;
  const auto spread = static_cast<std::uint64_t>((imp.delay_max - imp.delay_min).count());
  for (int i = 0; i < p.copies; ++i) {
    p.delay[i] = imp.delay_min + duration(spread ? static_cast<duration::rep>(rng.below(spread + 1)) : 0);
  }
  if (imp.reorder_ppm && rng.chance(imp.reorder_ppm)) {
    p.reordered = true;
    p.delay[0] += imp.reorder_hold;
  }
  return p;
}

}  // namespace uni::sim
