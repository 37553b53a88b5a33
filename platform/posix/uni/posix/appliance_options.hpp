// uni/posix/appliance_options.hpp: the command line of a POSIX appliance, parsed
// by uni/options.hpp against the target's flags (uni/target_options.hpp) and the
// appliance's. Here: what only a host has, files (path options are checked
// before anything starts) and stdout for --help.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <uni/options.hpp>
#include <uni/target_options.hpp>

namespace uni::posix {

using uni::appliance_options;

// A path option checked on the host: a readable regular file, a readable
// directory, or a file that can be written (its folder exists and is writable).
inline bool check_host_path(option_kind kind, std::string_view path, text_writer& why) {
  const std::string p(path);
  struct stat st {};
  const bool exists = ::stat(p.c_str(), &st) == 0;
  switch (kind) {
    case option_kind::input_file:
      if (!exists) return format_to(why, "cannot read ", path, ": ", std::strerror(errno)), false;
      if (!S_ISREG(st.st_mode)) return format_to(why, path, " is not a regular file"), false;
      if (::access(p.c_str(), R_OK) != 0) return format_to(why, "cannot read ", path, ": ", std::strerror(errno)), false;
      return true;
    case option_kind::directory:
      if (!exists) return format_to(why, "cannot open ", path, ": ", std::strerror(errno)), false;
      if (!S_ISDIR(st.st_mode)) return format_to(why, path, " is not a directory"), false;
      if (::access(p.c_str(), R_OK | X_OK) != 0)
        return format_to(why, "cannot read ", path, ": ", std::strerror(errno)), false;
      return true;
    case option_kind::output_file: {
      if (exists) {
        if (S_ISDIR(st.st_mode)) return format_to(why, path, " is a directory"), false;
        if (::access(p.c_str(), W_OK) != 0)
          return format_to(why, "cannot write ", path, ": ", std::strerror(errno)), false;
        return true;
      }
      const std::size_t slash = p.rfind('/');
      const std::string folder = slash == std::string::npos ? "." : slash == 0 ? "/" : p.substr(0, slash);
      struct stat fs {};
      if (::stat(folder.c_str(), &fs) != 0 || !S_ISDIR(fs.st_mode))
        return format_to(why, "cannot write ", path, ": no directory ", folder), false;
      if (::access(folder.c_str(), W_OK | X_OK) != 0)
        return format_to(why, "cannot write ", path, ": ", std::strerror(errno)), false;
      return true;
    }
    default:
      return true;
  }
}

// One line on stderr and exit status 2: a problem with the flags found after parsing.
template <class... Args>
int refuse(std::string_view name, const Args&... args) {
  fixed_text<320> line(name, ": ", args..., " (see --help)");
  std::fprintf(stderr, "%.*s\n", static_cast<int>(line.view().size()), line.view().data());
  return 2;
}

// Parses argv. Returns the options, or nothing with `status` the exit status to
// end with: 0 after --help (printed on stdout, then `more_help` lines), 2 after
// one line on stderr saying what is wrong.
inline std::optional<appliance_options> parse_command_line(std::string_view name, int argc, char** argv,
                                                           option_tables tables, std::string_view more_help,
                                                           int& status) {
  tables.check_path = &check_host_path;
  char buf[320];
  text_writer problem{buf, sizeof buf};
  const auto words = command_words::from_argv(argc, argv);
  if (words.overflowed()) {
    status = refuse(name, "more than ", command_words::capacity, " words");
    return std::nullopt;
  }
  auto parsed = parse_options(words.words(), tables, problem);
  if (!parsed) {
    std::fprintf(stderr, "%.*s: %.*s (see --help)\n", static_cast<int>(name.size()), name.data(),
                 static_cast<int>(problem.size()), problem.view().data());
    status = 2;
    return std::nullopt;
  }
  if (parsed->help_asked()) {
    const char* slash = std::strrchr(argv[0], '/');
    write_help(slash ? slash + 1 : argv[0], tables, name, [](std::string_view line) {
      std::printf("%.*s\n", static_cast<int>(line.size()), line.data());
    });
    if (!more_help.empty()) std::printf("%.*s\n", static_cast<int>(more_help.size()), more_help.data());
    status = 0;
    return std::nullopt;
  }
  return std::move(*parsed);
}

}  // namespace uni::posix
