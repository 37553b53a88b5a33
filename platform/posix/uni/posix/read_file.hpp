// uni/posix/read_file.hpp: a whole file's text, for what a program reads once
// at start (zone files, configuration files); nothing if it cannot be read.
#pragma once

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace uni::posix {

inline std::optional<std::string> read_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) return std::nullopt;
  std::stringstream text;
  text << f.rdbuf();
  return std::move(text).str();
}

}  // namespace uni::posix
