// bench/bench_util.hpp: what the core benchmarks share: `--name value` options,
// memory figures of this process from /proc/self/status, and percentiles.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

// The value after `--name`, or `def` when absent.
inline std::size_t option(int argc, char** argv, std::string_view name, std::size_t def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return std::strtoull(argv[i + 1], nullptr, 10);
  return def;
}
inline std::string option_str(int argc, char** argv, std::string_view name, const char* def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return argv[i + 1];
  return def;
}
// The first argument if it is not an option (a bare N), else `def`.
inline std::size_t positional(int argc, char** argv, std::size_t def) {
  if (argc > 1 && argv[1][0] != '-') return std::strtoull(argv[1], nullptr, 10);
  return def;
}

// A field of /proc/self/status in bytes ("VmRSS", "VmHWM", "VmSize"), or 0.
inline std::int64_t status_bytes(std::string_view key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':')
      return std::strtoll(line.c_str() + key.size() + 1, nullptr, 10) * 1024;
  return 0;
}

// Nearest-rank percentile (q in [0, 1]) of sorted values.
inline std::int64_t percentile(const std::vector<std::int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size()) + 0.999999);
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace bench
