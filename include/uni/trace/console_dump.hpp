// uni/trace/console_dump.hpp: a recorder's ring dumped over a console (the Xen
// target's, or any line-oriented channel an appliance has): the Chrome JSON of
// uni/trace/chrome_json.hpp, one line per event, each line prefixed "uni-trace: "
// so it can be picked out of the log around it. scripts/trace-from-console turns
// a captured console back into the JSON file.
#pragma once

#include <cstddef>
#include <string_view>

#include <uni/core/function_ref.hpp>
#include <uni/trace/chrome_json.hpp>
#include <uni/trace/recorder.hpp>

namespace uni::trace {

inline constexpr std::string_view console_prefix = "uni-trace: ";

// Writes `r` through `write_line`, a whole line ("uni-trace: ...\n") per call.
inline void dump_to_console(const ring& r, function_ref<void(std::string_view)> write_line) {
  char line[640];  // an event is at most 384 characters (chrome_json.hpp)
  std::size_t used = 0;
  auto flush = [&] {
    line[used++] = '\n';
    write_line({line, used});
    used = 0;
  };
  auto put = [&](std::string_view s) {
    for (char c : s) {
      if (used == 0)
        for (char p : console_prefix) line[used++] = p;
      if (c == '\n') {
        flush();
        continue;
      }
      line[used++] = c;
      if (used == sizeof line - 1) flush();  // never for uni's own events
    }
  };
  write_chrome_json(r, put);
  if (used > 0) flush();
}

}  // namespace uni::trace
