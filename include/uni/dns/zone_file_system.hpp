// uni/dns/zone_file_system.hpp: a zone master file read from the file system,
// its $INCLUDEs named relative to its folder (as NSD reads them from its
// zonesdir). Hosted programs only (std::ifstream): the POSIX appliance's --zone,
// and the zone compiler uni_dns_zone runs at build time for the Xen image.
#pragma once

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <uni/dns/zone_file.hpp>

namespace uni::dns {

inline std::optional<std::string> read_text_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) return std::nullopt;
  std::stringstream text;
  text << f.rdbuf();
  return std::move(text).str();
}

// The zone in `file`, or the error in `problem` ("cannot read FILE", or the
// parser's "file:line: why"). `files_read`, if given, gets every file the zone
// was read from ($INCLUDEs too): the zone compiler's build dependencies.
inline std::optional<zone> load_zone_file(const std::string& file, const name& origin, std::string& problem,
                                          std::vector<std::string>* files_read = nullptr) {
  if (files_read) files_read->push_back(file);
  const auto text = read_text_file(file);
  if (!text) {
    problem = "cannot read " + file;
    return std::nullopt;
  }
  const std::string folder = file.substr(0, file.rfind('/') + 1);
  auto read_included = [&folder, files_read](const std::string& path) {
    const std::string full = path.starts_with('/') ? path : folder + path;
    if (files_read) files_read->push_back(full);
    return read_text_file(full);
  };
  const zone_include_reader include = read_included;
  return load_zone(*text, origin, file, problem, &include);
}

}  // namespace uni::dns
