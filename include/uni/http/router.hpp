// uni/http/router.hpp: dynamic handlers, chosen by method and path pattern.
// A handler that waits (for the body, for its writes) is a coroutine:
//
//   uni::http::router<8> r;
//   auto tweets = [&](uni::http::exchange& ex) -> uni::task<void> {
//     std::string_view user = ex.param("user");        // from "/users/:user/tweets"
//     std::string_view n = ex.query("limit");          // from "?limit=10", raw
//     while (auto piece = co_await ex.read_body()) { if (piece->empty()) break; ... }
//     co_await ex.respond(200, "application/json", body_views);
//   };
//   r.add(uni::http::method::get, "/users/:user/tweets", tweets);
//
// One whose answer is ready at once is a plain function returning the send
// that respond() gives (the server awaits it; no coroutine of its own), or an
// empty one (http::sending{}) when it cannot answer (the server answers 500). The send runs after the
// function has returned, so its body is static text or a scratch() page handed
// over as a view, never a span of the function's locals:
//
//   auto hi = [](uni::http::exchange& ex) { return ex.respond_static(200, "text/plain", "hi\n"); };
//   r.add(uni::http::method::get, "/hi", hi);
//
// A pattern is literal segments, ":name" segments (one non-empty segment each)
// and an optional final "*" (the rest of the path). The table is fixed-size;
// handlers are referenced (function_ref), not owned, so they must outlive the
// server. A path that matches with another method is a 405 with Allow.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string_view>

#include <uni/core/function_ref.hpp>
#include <uni/core/result.hpp>
#include <uni/core/task.hpp>
#include <uni/http/exchange.hpp>
#include <uni/http/request.hpp>

namespace uni::http {

using handler = function_ref<task<void>(exchange&)>;
using responder = function_ref<sending(exchange&)>;

namespace detail {
// The segment after the '/' that starts `s`, taken off `s` (which then starts
// at the next '/', or is empty).
constexpr std::string_view take_segment(std::string_view& s) noexcept {
  std::size_t n = 1;
  while (n < s.size() && s[n] != '/') ++n;
  const std::string_view segment(s.data() + 1, n - 1);
  s.remove_prefix(n);
  return segment;
}

// Matches `path` against `pattern`, filling `out` with the ":name" segments.
inline bool match_pattern(std::string_view pattern, std::string_view path, path_params& out) noexcept {
  out.count = 0;
  while (true) {
    if (pattern.empty() || path.empty()) return pattern.empty() && path.empty();
    if (pattern.front() != '/' || path.front() != '/') return false;
    if (pattern == "/*"sv) {
      if (out.count < out.items.size()) out.items[out.count++] = {"*"sv, {path.data() + 1, path.size() - 1}};
      return true;
    }
    const std::string_view pseg = take_segment(pattern), seg = take_segment(path);
    if (!pseg.empty() && pseg.front() == ':') {
      if (seg.empty() || out.count == out.items.size()) return false;
      out.items[out.count++] = {{pseg.data() + 1, pseg.size() - 1}, seg};
    } else if (pseg != seg) {
      return false;
    }
  }
}
}  // namespace detail

// What a router gives the server; the server knows no router size.
class routes {
 public:
  struct route {
    http::method method;
    std::string_view pattern;
    handler fn;         // a coroutine handler, or
    responder respond;  // one answering at once
  };
  enum class outcome : std::uint8_t { found, wrong_method, none };

  // The route for (m, path), and its parameters in `params` (which are
  // otherwise left unspecified: each pattern tried is matched into them);
  // `allow` lists the methods the path has when the outcome is wrong_method
  // (for the Allow field).
  outcome find(http::method m, std::string_view path, path_params& params, const route*& found,
               std::array<http::method, 8>& allow, std::size_t& allowed) const noexcept {
    allowed = 0;
    for (const route& r : table_) {
      if (!detail::match_pattern(r.pattern, path, params)) continue;
      if (r.method == m || (m == method::head && r.method == method::get)) {
        found = &r;
        return outcome::found;
      }
      if (allowed < allow.size()) allow[allowed++] = r.method;
    }
    return allowed ? outcome::wrong_method : outcome::none;
  }

 protected:
  std::span<const route> table_;
};

template <std::size_t N>
class router : public routes {
 public:
  router() noexcept { table_ = {items_.data(), 0}; }
  router(const router&) = delete;
  router& operator=(const router&) = delete;

  // error::table_full past N routes.
  result<void> add(http::method m, std::string_view pattern, handler fn) noexcept { return add({m, pattern, fn, {}}); }
  result<void> add(http::method m, std::string_view pattern, responder fn) noexcept {
    return add({m, pattern, {}, fn});
  }

 private:
  result<void> add(const route& r) noexcept {
    if (count_ == N) return fail(error::table_full);
    items_[count_++] = r;
    table_ = {items_.data(), count_};
    return {};
  }

  std::array<route, N> items_{};
  std::size_t count_ = 0;
};

}  // namespace uni::http
