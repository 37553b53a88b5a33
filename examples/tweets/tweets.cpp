// examples/tweets: the Mirage paper's dynamic web appliance (Section 4.4): a
// "Twitter-like" service kept in memory.
//
//   POST /users/:user/tweets     the body (at most 280 bytes) is a new tweet: 201 {"id":N}
//   GET  /users/:user/tweets     the user's last 100 tweets, newest first, as JSON
//
// The store is bounded: max_users users (a fixed open-addressing table; a new
// user past that is a 503), each with a ring of the last 100 tweets. A reply is
// built into I/O pages in one go (a consistent snapshot, since a POST may
// overwrite a ring slot while the reply is still in flight) and sent with its
// Content-Length. One source for every target, like examples/www.
// Flags: --port N (default 8080 over host sockets, 80 otherwise).
#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include <uni/appliance.hpp>
#include <uni/http/server.hpp>

#if defined(UNI_TARGET_POSIX_SOCKET) || defined(UNI_TARGET_POSIX_TAP)
#include <ctime>
#define TWEETS_POSIX 1
#endif

namespace {

struct tweets_config : uni::default_config {
  static constexpr std::size_t io_pages = 2048;  // 8 MiB of I/O pages
};

#if defined(UNI_TARGET_POSIX_SOCKET)
constexpr long default_port = 8080;
#else
constexpr long default_port = 80;
#endif

constexpr uni::option_spec flags[] = {
    uni::number_option("port", default_port, 1, 65535, "TCP port to listen on"),
};

constexpr std::size_t max_users = 128;
constexpr std::size_t tweets_kept = 100;
constexpr std::size_t max_tweet = 280;
constexpr std::size_t max_name = 32;

struct tweet {
  std::uint64_t id = 0;
  std::uint16_t length = 0;
  char text[max_tweet];
};

struct user {
  std::uint8_t name_length = 0;  // 0: a free slot
  char name[max_name];
  std::uint64_t posted = 0;  // tweets ever posted; the ring holds the last tweets_kept
  std::array<tweet, tweets_kept> ring;
  std::string_view name_view() const noexcept { return {name, name_length}; }
};

// A valid user name: 1 to 32 of [A-Za-z0-9_-].
bool valid_name(std::string_view n) noexcept {
  if (n.empty() || n.size() > max_name) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

class store {
 public:
  store() : users_(max_users) {}

  // The user's record; created when `create` (nullptr when the table is full).
  user* find(std::string_view name, bool create) noexcept {
    std::size_t h = 14695981039346656037ull;
    for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    for (std::size_t i = 0; i < max_users; ++i) {
      user& u = users_[(h + i) % max_users];
      if (u.name_length == 0) {
        if (!create) return nullptr;
        u.name_length = static_cast<std::uint8_t>(name.size());
        std::memcpy(u.name, name.data(), name.size());
        ++count_;
        return &u;
      }
      if (u.name_view() == name) return &u;
    }
    return nullptr;
  }

  std::uint64_t post(user& u, std::string_view text) noexcept {
    tweet& t = u.ring[u.posted % tweets_kept];
    t.id = ++next_id_;
    t.length = static_cast<std::uint16_t>(text.size());
    std::memcpy(t.text, text.data(), text.size());
    ++u.posted;
    return t.id;
  }

  std::size_t users() const noexcept { return count_; }
  std::uint64_t tweets() const noexcept { return next_id_; }

 private:
  std::vector<user> users_;
  std::size_t count_ = 0;
  std::uint64_t next_id_ = 0;
};

// Builds JSON into I/O pages taken from the exchange's scratch memory.
class json_pages {
 public:
  static constexpr std::size_t max_pages = 48;  // 100 tweets of 280 bytes, every byte escaped

  explicit json_pages(uni::http::exchange& ex) noexcept : ex_(ex) {}

  bool put(std::string_view s) noexcept {
    for (char c : s)
      if (!put_char(c)) return false;
    return true;
  }
  // A JSON string's contents (RFC 8259 §7): quote, backslash and controls escaped.
  bool put_escaped(std::string_view s) noexcept {
    for (char c : s) {
      const auto b = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        if (!put_char('\\') || !put_char(c)) return false;
      } else if (b < 0x20) {
        char esc[7] = {'\\', 'u', '0', '0', "0123456789abcdef"[b >> 4], "0123456789abcdef"[b & 15], 0};
        if (!put(esc)) return false;
      } else if (!put_char(c)) {
        return false;
      }
    }
    return true;
  }
  bool put_number(std::uint64_t v) noexcept {
    char d[20];
    std::size_t n = 0;
    do d[n++] = static_cast<char>('0' + v % 10); while (v /= 10);
    while (n)
      if (!put_char(d[--n])) return false;
    return true;
  }
  std::span<const uni::view> views() noexcept {
    if (count_ && used_ < uni::page_size) pages_[count_ - 1].truncate(used_);
    return {pages_.data(), count_};
  }

 private:
  bool put_char(char c) noexcept {
    if (count_ == 0 || used_ == uni::page_size) {
      if (count_ == max_pages) return false;
      auto p = ex_.scratch(uni::page_size);
      if (!p) return false;
      pages_[count_++] = std::move(*p);
      used_ = 0;
    }
    pages_[count_ - 1][used_++] = static_cast<std::uint8_t>(c);
    return true;
  }

  uni::http::exchange& ex_;
  std::array<uni::view, max_pages> pages_;
  std::size_t count_ = 0;
  std::size_t used_ = 0;
};

struct report {
  uni::http::server_counters n;
  const store* s = nullptr;
  ~report() {
    uni::http::log_counters("tweets", n);
    if (s) uni::log_info("tweets: ", s->users(), " users, ", s->tweets(), " tweets posted");
  }
};

uni::task<int> serve(auto& stack, const uni::appliance_options& o) {
  const auto port = static_cast<std::uint16_t>(o.number("port"));
  store st;
  report r;
  r.s = &st;

  auto post = [&st](uni::http::exchange& ex) -> uni::task<void> {
    const std::string_view name = ex.param("user");
    if (!valid_name(name)) {
      co_await ex.respond_static(400, "text/plain", "bad user name\n");
      co_return;
    }
    char text[max_tweet];
    std::size_t length = 0;
    while (true) {
      auto piece = co_await ex.read_body();
      if (!piece) co_return;  // a malformed or oversized body: the server answers 400/413
      if (piece->empty()) break;
      if (piece->size() > max_tweet - length) {
        co_await ex.respond_static(413, "text/plain", "a tweet is at most 280 bytes\n");
        co_return;
      }
      std::memcpy(text + length, piece->data(), piece->size());
      length += piece->size();
    }
    if (length == 0) {
      co_await ex.respond_static(400, "text/plain", "empty tweet\n");
      co_return;
    }
    user* u = st.find(name, true);
    if (!u) {
      co_await ex.respond_static(503, "text/plain", "no room for another user\n");
      co_return;
    }
    const std::uint64_t id = st.post(*u, {text, length});
    json_pages j(ex);
    if (!(j.put("{\"id\":") && j.put_number(id) && j.put("}\n"))) co_return;  // out of pages: 500
    co_await ex.respond(201, "application/json", j.views());
  };

  auto get = [&st](uni::http::exchange& ex) -> uni::task<void> {
    const std::string_view name = ex.param("user");
    if (!valid_name(name)) {
      co_await ex.respond_static(400, "text/plain", "bad user name\n");
      co_return;
    }
    const user* u = st.find(name, false);
    json_pages j(ex);
    bool ok = j.put("{\"user\":\"") && j.put(name) && j.put("\",\"tweets\":[");
    if (u) {
      const std::uint64_t n = u->posted < tweets_kept ? u->posted : tweets_kept;
      for (std::uint64_t k = 0; ok && k < n; ++k) {
        const tweet& t = u->ring[(u->posted - 1 - k) % tweets_kept];
        ok = (k == 0 || j.put(",")) && j.put("{\"id\":") && j.put_number(t.id) && j.put(",\"text\":\"") &&
             j.put_escaped({t.text, t.length}) && j.put("\"}");
      }
    }
    if (!(ok && j.put("]}\n"))) co_return;  // out of pages: 500
    co_await ex.respond(200, "application/json", j.views());
  };

  uni::http::router<2> routes;
  (void)routes.add(uni::http::method::post, "/users/:user/tweets", post);
  (void)routes.add(uni::http::method::get, "/users/:user/tweets", get);
  uni::http::server_options opt;
  opt.router = &routes;
  opt.limits.max_body = 64 * 1024;
#if TWEETS_POSIX
  opt.unix_time = []() noexcept -> std::int64_t { return static_cast<std::int64_t>(std::time(nullptr)); };
#endif
  uni::log_info("tweets: up to ", max_users, " users, the last ", tweets_kept, " tweets of each");
  co_return co_await uni::http::serve(stack, port, opt, r.n);
}

}  // namespace

UNI_APPLIANCE("tweets", tweets_config, serve, flags)
