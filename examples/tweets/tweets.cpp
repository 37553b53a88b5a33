// examples/tweets: the Mirage paper's dynamic web appliance (Section 4.4): a
// "Twitter-like" service that keeps its tweets in a copy-on-write B-tree on its
// block device (uni/btree/store.hpp), as the paper's kept them in Baardskeerder.
//
//   POST /users/:user/tweets     the body (at most 280 bytes) is a new tweet: 201 {"id":N}
//   GET  /users/:user/tweets     the user's last 100 tweets, newest first, as JSON
//
// Memory is bounded: max_users users (a fixed open-addressing table; a new user
// past that is a 503), each with a ring of the last 100 tweets, from which GETs
// are answered. Each POST is first made durable in the B-tree (key
// t/USER/SLOT, the ring slot it fills, so the device holds the rings and no
// more), then goes into the ring; 201 means the tweet survives a restart, which
// reads the rings back from the B-tree. POSTs that arrive together share one
// commit (group commit: one flush for the batch). A reply is built into I/O pages in one go (a consistent
// snapshot, since a POST may overwrite a ring slot while the reply is still in
// flight) and sent with its Content-Length. One source for every target, like
// examples/www.
// Flags: --port N (default 8080 over host sockets, 80 otherwise); the disk is
// --disk PATH on POSIX (io_uring), the first vbd on Xen (blkfront). A disk that
// holds no store yet is formatted; one whose store does not open is refused.
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <type_traits>
#include <vector>

#include <uni/appliance.hpp>
#include <uni/btree/store.hpp>
#include <uni/http/server.hpp>

#if defined(UNI_TARGET_POSIX_SOCKET) || defined(UNI_TARGET_POSIX_TAP)
#include <ctime>
#define TWEETS_POSIX 1
#endif

namespace {

struct tweets_config : uni::default_config {
  static constexpr std::size_t io_pages = 2048;  // 8 MiB of I/O pages
  static constexpr std::size_t block_devices = 1;
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
  std::uint64_t posted = 0;    // tweets ever posted; the ring holds the last tweets_kept
  std::uint64_t reserved = 0;  // sequence numbers handed out (posted, and those waiting for their commit)
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

  std::uint64_t new_id() noexcept { return ++issued_; }
  // The tweet numbered `sequence` of the user (its ring slot is sequence % tweets_kept).
  void put(user& u, std::uint64_t sequence, std::uint64_t id, std::string_view text) noexcept {
    tweet& t = u.ring[sequence % tweets_kept];
    t.id = id;
    t.length = static_cast<std::uint16_t>(text.size());
    std::memcpy(t.text, text.data(), text.size());
    if (sequence >= u.posted) u.posted = sequence + 1;
    if (u.posted > u.reserved) u.reserved = u.posted;
    if (id > next_id_) next_id_ = id;
    if (id > issued_) issued_ = id;
  }

  std::size_t users() const noexcept { return count_; }
  std::uint64_t tweets() const noexcept { return next_id_; }
  std::vector<user>& all() noexcept { return users_; }

 private:
  std::vector<user> users_;
  std::size_t count_ = 0;
  std::uint64_t next_id_ = 0;  // the highest id stored
  std::uint64_t issued_ = 0;   // the highest id handed out
};

// A tweet as the B-tree holds it: key t/USER/SLOT; value u64 id, u64 the user's
// tweet number, the text (integers little-endian).
constexpr std::size_t record_header = 16;
constexpr std::size_t max_key = 2 + max_name + 1 + 2;
struct tweet_key {
  char text[max_key];
  std::size_t length = 0;
  tweet_key(std::string_view user, std::uint64_t sequence) noexcept {
    const auto slot = static_cast<unsigned>(sequence % tweets_kept);
    text[0] = 't';
    text[1] = '/';
    std::memcpy(text + 2, user.data(), user.size());
    length = 2 + user.size();
    text[length++] = '/';
    text[length++] = static_cast<char>('0' + slot / 10);
    text[length++] = static_cast<char>('0' + slot % 10);
  }
  std::string_view view() const noexcept { return {text, length}; }
};
// The user and slot a key names, if it is a tweet's.
bool parse_key(std::string_view k, std::string_view& user, unsigned& slot) noexcept {
  if (k.size() < 6 || k.substr(0, 2) != "t/" || k[k.size() - 3] != '/') return false;
  const char a = k[k.size() - 2], b = k[k.size() - 1];
  if (a < '0' || a > '9' || b < '0' || b > '9') return false;
  user = k.substr(2, k.size() - 5);
  slot = static_cast<unsigned>((a - '0') * 10 + (b - '0'));
  return valid_name(user);
}

// The B-tree's node cache. A POST's put descends to a leaf, and every node it
// misses is a device read before the commit can go (with O_DIRECT, a real
// one): with the default 1 MiB, bench/tweets.sh's warm store (100 users of
// 100 tweets) cost ~0.7 reads per POST, one after the other in the committer,
// holding every POST of the batch. On POSIX the cache holds a full table's
// tree (128 users x 100 tweets of 280 bytes: ~1,400 nodes), so puts read only
// what a restart has not touched yet; Xen keeps the default within its 32 MiB.
struct tree_config : uni::btree::default_config {
#if TWEETS_POSIX
  static constexpr std::size_t cache_nodes = 2048;  // 8 MiB
#endif
};
template <class Disk>
using tweet_tree = uni::btree::Store<Disk, tree_config>;

// Opens the B-tree on the disk (formatting one that holds none) and reads every
// tweet it keeps back into the rings. False, after logging why, if it cannot.
template <class Disk>
uni::task<bool> restore(tweet_tree<Disk>& tree, store& st, std::uint64_t format_id) {
  auto opened = co_await tree.open();
  if (!opened && opened.err() == uni::error::not_found) {
    uni::log_info("tweets: the disk holds no store: formatting it");
    opened = co_await tree.format(format_id);
  }
  if (!opened) {
    uni::log_error("tweets: the store on the disk: ", uni::to_string(opened.err()));
    co_return false;
  }
  // One walk of the keys marks the slots that hold a tweet (id ~0 until read).
  std::size_t unknown = 0;
  auto mark = [&](std::string_view k) {
    std::string_view name;
    unsigned slot;
    user* u = parse_key(k, name, slot) ? st.find(name, true) : nullptr;
    if (u)
      u->ring[slot].id = ~std::uint64_t{0};
    else
      ++unknown;
  };
  auto listed = co_await tree.list("t/", mark);
  if (!listed) {
    uni::log_error("tweets: listing the store: ", uni::to_string(listed.err()));
    co_return false;
  }
  std::size_t read = 0;
  std::uint8_t value[record_header + max_tweet];
  for (user& u : st.all())
    for (std::size_t slot = 0; u.name_length != 0 && slot < tweets_kept; ++slot) {
      if (u.ring[slot].id != ~std::uint64_t{0}) continue;
      u.ring[slot].id = 0;
      const tweet_key k(u.name_view(), slot);
      auto got = co_await tree.get(k.view(), value);
      if (!got || *got < record_header || *got > sizeof value || uni::btree::load64(value + 8) % tweets_kept != slot) {
        uni::log_error("tweets: tweet ", k.view(), " cannot be read back");
        co_return false;
      }
      st.put(u, uni::btree::load64(value + 8), uni::btree::load64(value),
             {reinterpret_cast<const char*>(value + record_header), *got - record_header});
      ++read;
    }
  if (unknown) uni::log_warn("tweets: ", unknown, " keys in the store are not tweets this table can hold");
  uni::log_info("tweets: ", read, " tweets of ", st.users(), " users read back from the disk");
  co_return true;
}

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

// The B-tree's figures when the appliance stops (a destructor: serve() ends
// by cancellation): how many commits the POSTs shared, and how often a put
// found its nodes in the cache.
template <class Tree>
struct tree_report {
  const Tree& tree;
  ~tree_report() {
    const auto s = tree.statistics();
    uni::log_info("tweets: B-tree: ", s.commits, " commits, cache ", s.cache_hits, " hits ", s.cache_misses,
                  " misses, ", s.blocks_written, " blocks written");
  }
};

// Group commit. A POST queues its tweet and waits; one committer task puts
// every queued tweet into the B-tree and makes them all durable with one commit
// (one flush), then shows them in the rings and wakes their POSTs. Tweets that
// come while a commit waits on the device fill the next batch, so under load a
// flush is paid once per batch, not once per POST (the B-tree takes one call at
// a time, so POSTs could not overlap their commits otherwise). After a failed
// commit the B-tree refuses everything until reopened, and so does this (503).
template <class Tree>
class committer {
 public:
  static constexpr std::size_t max_batch = 32;

  committer(uni::scheduler& s, Tree& tree, store& st) noexcept
      : tree_(tree), st_(st), queued_(s), committed_(s), room_(s) {}

  // Queues `text` as u's next tweet and waits for its commit: its id, or 0 if
  // it was not stored (or the server is going away).
  uni::task<std::uint64_t> post(user& u, std::string_view text) {
    while (batches_[filling_].count == max_batch && !broken()) {
      const uni::wake_reason why = co_await room_.wait();
      if (why == uni::wake_reason::cancelled) co_return 0;
    }
    if (broken()) co_return 0;
    batch& b = batches_[filling_];
    pending& p = b.tweets[b.count++];
    p.u = &u;
    p.sequence = u.reserved++;
    p.id = st_.new_id();
    p.length = static_cast<std::uint16_t>(text.size());
    std::memcpy(p.text, text.data(), text.size());
    const std::uint64_t id = p.id, mine = number_;
    queued_.notify_one();
    while (committed_through_ < mine) {
      const uni::wake_reason why = co_await committed_.wait();
      if (why == uni::wake_reason::cancelled) co_return 0;
    }
    co_return mine < first_failed_ ? id : 0;
  }

  // The committer: one batch at a time, until cancelled.
  uni::task<void> run() {
    while (true) {
      while (batches_[filling_].count == 0) {
        const uni::wake_reason why = co_await queued_.wait();
        if (why == uni::wake_reason::cancelled) co_return;
      }
      batch& b = batches_[filling_];
      const std::uint64_t n = number_++;
      filling_ ^= 1;  // the other batch is empty: new tweets go there meanwhile
      room_.notify_all();
      bool ok = !broken();
      for (std::size_t i = 0; ok && i < b.count; ++i) {
        const pending& p = b.tweets[i];
        uni::btree::store64(record_, p.id);
        uni::btree::store64(record_ + 8, p.sequence);
        std::memcpy(record_ + record_header, p.text, p.length);
        const uni::view value = uni::view::unowned(std::span<const std::uint8_t>(record_, record_header + p.length));
        const tweet_key key(p.u->name_view(), p.sequence);
        auto staged = co_await tree_.put(key.view(), std::span<const uni::view>(&value, 1));
        ok = staged.ok();
        if (!ok) uni::log_error("tweets: storing a tweet: ", uni::to_string(staged.err()));
      }
      if (ok) {
        auto durable = co_await tree_.commit();
        ok = durable.ok();
        if (!ok) uni::log_error("tweets: committing ", b.count, " tweets: ", uni::to_string(durable.err()));
      }
      for (std::size_t i = 0; ok && i < b.count; ++i) {  // durable first: the rings only show what a restart reads back
        const pending& p = b.tweets[i];
        st_.put(*p.u, p.sequence, p.id, {p.text, p.length});
      }
      if (!ok && first_failed_ > n) first_failed_ = n;
      b.count = 0;
      committed_through_ = n;
      committed_.notify_all();
      room_.notify_all();  // (a failure: POSTs waiting for room hear it)
    }
  }

 private:
  struct pending {
    user* u = nullptr;
    std::uint64_t sequence = 0, id = 0;
    std::uint16_t length = 0;
    char text[max_tweet];
  };
  struct batch {
    std::array<pending, max_batch> tweets;
    std::size_t count = 0;
  };
  bool broken() const noexcept { return first_failed_ != never; }
  static constexpr std::uint64_t never = ~std::uint64_t{0};

  Tree& tree_;
  store& st_;
  std::array<batch, 2> batches_;
  std::size_t filling_ = 0;               // the batch new tweets join
  std::uint64_t number_ = 1;              // ...and its number
  std::uint64_t committed_through_ = 0;   // batches up to this one are done
  std::uint64_t first_failed_ = never;
  std::uint8_t record_[record_header + max_tweet];
  uni::wait_queue queued_, committed_, room_;
};

uni::task<int> serve(auto& stack, auto& disks, const uni::appliance_options& o) {
  const auto port = static_cast<std::uint16_t>(o.number("port"));
  using disk = std::remove_reference_t<decltype(disks[0])>;
  auto tree = std::make_unique<tweet_tree<disk>>(disks[0]);  // its node cache and dirty nodes (8.7 MiB on POSIX)
  store st;
  report r;
  r.s = &st;
  const tree_report<tweet_tree<disk>> tree_figures{*tree};
  const bool restored = co_await restore(*tree, st, static_cast<std::uint64_t>(stack.sched().now().time_since_epoch().count()));
  if (!restored) co_return 1;
  auto commits = std::make_unique<committer<tweet_tree<disk>>>(stack.sched(), *tree, st);  // 20 KiB: two batches
  auto committing = uni::spawn(stack.sched(), commits->run());

  auto post = [&st, &commits](uni::http::exchange& ex) -> uni::task<void> {
    const std::string_view name = ex.param("user");
    if (!valid_name(name)) {
      (void)co_await ex.respond_static(400, "text/plain", "bad user name\n");
      co_return;
    }
    char text[max_tweet];
    std::size_t length = 0;
    while (true) {
      auto piece = co_await ex.read_body();
      if (!piece) co_return;  // a malformed or oversized body: the server answers 400/413
      if (piece->empty()) break;
      if (piece->size() > max_tweet - length) {
        (void)co_await ex.respond_static(413, "text/plain", "a tweet is at most 280 bytes\n");
        co_return;
      }
      std::memcpy(text + length, piece->data(), piece->size());
      length += piece->size();
    }
    if (length == 0) {
      (void)co_await ex.respond_static(400, "text/plain", "empty tweet\n");
      co_return;
    }
    user* u = st.find(name, true);
    if (!u) {
      (void)co_await ex.respond_static(503, "text/plain", "no room for another user\n");
      co_return;
    }
    const std::uint64_t id = co_await commits->post(*u, {text, length});
    if (id == 0) {
      (void)co_await ex.respond_static(503, "text/plain", "the store failed\n");
      co_return;
    }
    json_pages j(ex);
    if (!(j.put("{\"id\":") && j.put_number(id) && j.put("}\n"))) co_return;  // out of pages: 500
    (void)co_await ex.respond(201, "application/json", j.views());
  };

  auto get = [&st](uni::http::exchange& ex) -> uni::task<void> {
    const std::string_view name = ex.param("user");
    if (!valid_name(name)) {
      (void)co_await ex.respond_static(400, "text/plain", "bad user name\n");
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
    (void)co_await ex.respond(200, "application/json", j.views());
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
