// tests/unit/btree_small_config.hpp: the B-tree configuration the unit tests and
// the fuzz target share: 512-byte nodes, so small workloads and small images
// build trees several levels deep; CompactBlocks is how much one compaction step
// cleans (the fuzz target's images are smaller).
#pragma once

#include <cstddef>

template <std::size_t CompactBlocks>
struct btree_small_config {
  static constexpr std::size_t node_size = 512;
  static constexpr std::size_t cache_nodes = 8;
  static constexpr std::size_t dirty_nodes = 40;
  static constexpr std::size_t max_height = 8;
  static constexpr std::size_t max_key = 24;
  static constexpr std::size_t max_value = 72;
  static constexpr std::size_t compact_blocks = CompactBlocks;
};
