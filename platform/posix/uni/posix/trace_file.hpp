// uni/posix/trace_file.hpp: --trace FILE on the POSIX targets: an appliance whose
// Config has `trace` records into a ring of Config::trace_events (uni/trace/) and
// writes it to FILE as Chrome trace-event JSON when it exits and on SIGUSR1 (with
// the counters), so a running appliance can be looked at in Perfetto's UI or
// chrome://tracing. An appliance built without tracing refuses the flag, and
// holds none of this: trace_file<false> is empty.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <uni/core/log.hpp>
#include <uni/options.hpp>
#include <uni/trace/chrome_json.hpp>

namespace uni::posix {

template <bool Traced>
class trace_file {
 public:
  // Why --trace cannot be taken, or empty.
  static std::string_view refusal(const appliance_options& o) noexcept {
    return o.given("trace") ? "--trace: built without tracing (its Config has trace = false)" : "";
  }
  trace_file(const appliance_options&, std::size_t) noexcept {}
  void write() noexcept {}
};

template <>
class trace_file<true> {
 public:
  static std::string_view refusal(const appliance_options&) noexcept { return {}; }
  // Records from now on when --trace was given (stamped by the run loop's turns).
  trace_file(const appliance_options& o, std::size_t events) {
    if (!o.given("trace")) return;
    path_ = std::string(o.text("trace"));
    recorder_.emplace(events);
  }

  // Writes the ring as it is now (a new file each time: written aside, then renamed).
  void write() noexcept {
    if (!recorder_) return;
    const std::string aside = path_ + ".part";
    std::FILE* f = std::fopen(aside.c_str(), "w");
    if (!f) return log_error("--trace: cannot write ", aside.c_str());
    auto put = [f](std::string_view s) { std::fwrite(s.data(), 1, s.size(), f); };
    trace::write_chrome_json(*recorder_, put);
    const bool ok = std::fclose(f) == 0 && std::rename(aside.c_str(), path_.c_str()) == 0;
    if (!ok) return log_error("--trace: cannot write ", path_.c_str());
    log_info("trace: ", recorder_->size(), " events (", recorder_->dropped(), " dropped) written to ", path_.c_str());
  }

 private:
  std::string path_;
  std::optional<trace::recorder> recorder_;
};

}  // namespace uni::posix
