// bench/tweets_load.cpp: the open-loop session load of bench/tweets.sh (the
// Mirage paper's Figure 12, in the manner of httperf's --wsess): sessions start
// at a fixed rate whatever the server's pace, each on a connection of its own
// (HTTP/1.1 keep-alive) carrying 1 POST of a tweet and then 9 GETs of that
// user's last 100 tweets, one request at a time. A session fails when its
// connection does, a reply is not 2xx, or a reply takes longer than the timeout;
// one due while max-open sessions are still open is not started (and counted).
// A session's connection ends with a reset once its last reply is in (no
// TIME_WAIT: thousands of sessions a second would use up the ports).
// Replies are counted as they complete within the run's window; sessions still
// open at its end are left unfinished (and reset).
// Usage: bench_tweets_load ADDR PORT --rate R --seconds S [--users 100]
//          [--timeout-ms 2000] [--max-open 4000]
// Prints one line: rate seconds started completed failed unstarted replies
// replies_per_s p50_ms p99_ms, then where the time went: connect_p99_ms (the
// handshake, from connect() to writable), post_p50_ms post_p99_ms (the POST,
// which waits for its commit), get_p50_ms get_p99_ms, and the generator's own
// CPU time over the run, cpu_s (so a saturated generator shows).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench_util.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
constexpr int requests_per_session = 10;  // 1 POST, 9 GETs

std::int64_t ns_since(clock_type::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - t0).count();
}

struct session {
  int fd = -1;
  int done = 0;              // replies received
  std::size_t sent = 0;      // bytes of the current request written
  std::string head;          // the current reply's header, until its blank line
  long body_left = -1;       // body bytes still to come (-1: header not complete)
  std::int64_t asked_ns = 0;  // when the current request was started
  bool connected = false;     // the handshake is done (the socket was writable once)
  const std::string* request = nullptr;  // the POST, then
  const std::string* get = nullptr;      // the GET of the same user
};

struct totals {
  long started = 0, completed = 0, failed = 0, unstarted = 0, replies = 0;
  std::vector<std::int64_t> latency_ns, connect_ns, post_ns, get_ns;
};

class load {
 public:
  load(const sockaddr_in& to, std::size_t users, std::size_t max_open, std::int64_t timeout_ns)
      : to_(to), timeout_ns_(timeout_ns), sessions_(max_open), epoll_(epoll_create1(0)) {
    for (std::size_t u = 0; u < users; ++u) {
      const std::string path = "/users/u" + std::to_string(u) + "/tweets";
      const std::string text = "a tweet of user u" + std::to_string(u) + ": roughly seventy bytes of text, give or take";
      posts_.push_back("POST " + path + " HTTP/1.1\r\nHost: tweets\r\nContent-Type: text/plain\r\nContent-Length: " +
                       std::to_string(text.size()) + "\r\n\r\n" + text);
      gets_.push_back("GET " + path + " HTTP/1.1\r\nHost: tweets\r\n\r\n");
    }
    for (std::size_t i = max_open; i > 0; --i) free_.push_back(i - 1);
  }
  ~load() {
    for (auto& s : sessions_)
      if (s.fd >= 0) close(s.fd);
    close(epoll_);
  }

  totals run(double rate, double seconds) {
    const auto t0 = clock_type::now();
    const auto window = static_cast<std::int64_t>(seconds * 1e9);
    const auto gap = static_cast<std::int64_t>(1e9 / rate);
    std::int64_t next = 0, next_sweep = 0;
    std::size_t user = 0;
    epoll_event events[256];
    while (true) {
      std::int64_t now = ns_since(t0);
      if (now >= window) break;
      for (; next <= now && next < window; next += gap) start(user++ % posts_.size(), t0);
      if (now >= next_sweep) {  // the timeouts, ten times a second
        for (std::size_t i = 0; i < sessions_.size(); ++i)
          if (sessions_[i].fd >= 0 && now - sessions_[i].asked_ns > timeout_ns_) fail(i);
        next_sweep = now + 100'000'000;
      }
      // To the nanosecond: epoll_wait's milliseconds round a wait under 1 ms to
      // none, and at 1,000 sessions/s and more the generator spun on its core.
      const std::int64_t wait_ns = std::max<std::int64_t>(0, std::min(next, window) - ns_since(t0));
      const timespec wait{static_cast<time_t>(wait_ns / 1'000'000'000), static_cast<long>(wait_ns % 1'000'000'000)};
      const int n = epoll_pwait2(epoll_, events, 256, &wait, nullptr);
      for (int k = 0; k < n; ++k) step(events[k].data.u32, t0, window);
    }
    for (std::size_t i = 0; i < sessions_.size(); ++i)  // unfinished: reset, so the next run starts clean
      if (sessions_[i].fd >= 0) end(i);
    return std::move(totals_);
  }

 private:
  void start(std::size_t user, clock_type::time_point t0) {
    if (free_.empty()) {
      ++totals_.unstarted;
      return;
    }
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      ++totals_.failed;
      return;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const std::size_t i = free_.back();
    free_.pop_back();
    session& s = sessions_[i];
    s = session{};
    s.fd = fd;
    s.request = &posts_[user];
    s.asked_ns = ns_since(t0);
    s.get = &gets_[user];
    ++totals_.started;
    epoll_event e{EPOLLOUT | EPOLLIN, {.u32 = static_cast<std::uint32_t>(i)}};
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &e);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&to_), sizeof to_) < 0 && errno != EINPROGRESS) fail(i);
  }

  // Writes what is left of the request; false if the connection failed.
  bool send_more(session& s) {
    while (s.sent < s.request->size()) {
      const ssize_t n = ::send(s.fd, s.request->data() + s.sent, s.request->size() - s.sent, MSG_NOSIGNAL);
      if (n < 0) return errno == EAGAIN;
      s.sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  void step(std::size_t i, clock_type::time_point t0, std::int64_t window) {
    session& s = sessions_[i];
    if (s.fd < 0) return;
    if (!s.connected) {  // the POST's time starts here, the handshake's ends
      s.connected = true;
      const std::int64_t now = ns_since(t0);
      totals_.connect_ns.push_back(now - s.asked_ns);
      s.asked_ns = now;
    }
    if (!send_more(s)) return fail(i);
    if (s.sent == s.request->size()) {
      epoll_event e{EPOLLIN, {.u32 = static_cast<std::uint32_t>(i)}};
      epoll_ctl(epoll_, EPOLL_CTL_MOD, s.fd, &e);
    }
    while (true) {
      const ssize_t n = recv(s.fd, buffer_, sizeof buffer_, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN)) return fail(i);
      if (n < 0) return;
      if (!take(s, static_cast<std::size_t>(n))) return fail(i);
      if (s.body_left != 0) continue;
      const std::int64_t now = ns_since(t0);
      if (now < window) {
        ++totals_.replies;
        totals_.latency_ns.push_back(now - s.asked_ns);
        (s.done == 0 ? totals_.post_ns : totals_.get_ns).push_back(now - s.asked_ns);
      }
      if (++s.done == requests_per_session) {
        ++totals_.completed;
        return end(i);
      }
      s.request = s.get;
      s.sent = 0;
      s.head.clear();
      s.body_left = -1;
      s.asked_ns = now;
      if (!send_more(s)) return fail(i);
      if (s.sent < s.request->size()) {
        epoll_event e{EPOLLOUT | EPOLLIN, {.u32 = static_cast<std::uint32_t>(i)}};
        epoll_ctl(epoll_, EPOLL_CTL_MOD, s.fd, &e);
        return;
      }
    }
  }

  // The reply's bytes in buffer_[0, n): false on a malformed or non-2xx reply,
  // or bytes past its end (one request at a time: there can be none).
  bool take(session& s, std::size_t n) {
    std::size_t at = 0;
    if (s.body_left < 0) {
      const std::size_t had = s.head.size();
      s.head.append(buffer_, n);
      const std::size_t end = s.head.find("\r\n\r\n");
      if (end == std::string::npos) return s.head.size() < 16384;
      if (s.head.compare(0, 9, "HTTP/1.1 ") != 0 || s.head[9] != '2') return false;
      std::string lower = s.head.substr(0, end);
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      const std::size_t cl = lower.find("\r\ncontent-length:");
      if (cl == std::string::npos) return false;
      s.body_left = std::strtol(lower.c_str() + cl + 17, nullptr, 10);
      at = end + 4 - had;
    }
    const auto body = static_cast<long>(n - at);
    if (body > s.body_left) return false;
    s.body_left -= body;
    return true;
  }

  void end(std::size_t i) {
    session& s = sessions_[i];
    const linger reset{1, 0};
    setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    close(s.fd);
    s.fd = -1;
    free_.push_back(i);
  }
  void fail(std::size_t i) {
    ++totals_.failed;
    end(i);
  }

  sockaddr_in to_;
  std::int64_t timeout_ns_;
  std::vector<session> sessions_;
  std::vector<std::size_t> free_;
  std::vector<std::string> posts_, gets_;
  int epoll_;
  totals totals_;
  char buffer_[65536];
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: %s ADDR PORT --rate R --seconds S [--users 100] [--timeout-ms 2000] [--max-open 4000]\n",
                 argv[0]);
    return 2;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(std::strtoul(argv[2], nullptr, 10)));
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) return std::fprintf(stderr, "bad address %s\n", argv[1]), 2;
  const double rate = static_cast<double>(bench::option(argc, argv, "--rate", 100));
  const double seconds = static_cast<double>(bench::option(argc, argv, "--seconds", 3));
  const std::size_t max_open = bench::option(argc, argv, "--max-open", 4000);
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = std::min<rlim_t>(files.rlim_max, max_open + 64);
  setrlimit(RLIMIT_NOFILE, &files);
  load l(to, bench::option(argc, argv, "--users", 100), max_open,
         static_cast<std::int64_t>(bench::option(argc, argv, "--timeout-ms", 2000)) * 1'000'000);
  totals t = l.run(rate, seconds);
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  const auto ms = [](std::vector<std::int64_t>& v, double q) {
    std::sort(v.begin(), v.end());
    return static_cast<double>(bench::percentile(v, q)) / 1e6;
  };
  std::printf("%.0f %.0f %ld %ld %ld %ld %ld %.1f %.3f %.3f %.3f %.3f %.3f %.3f %.3f %.2f\n", rate, seconds, t.started,
              t.completed, t.failed, t.unstarted, t.replies, static_cast<double>(t.replies) / seconds,
              ms(t.latency_ns, 0.5), ms(t.latency_ns, 0.99), ms(t.connect_ns, 0.99), ms(t.post_ns, 0.5),
              ms(t.post_ns, 0.99), ms(t.get_ns, 0.5), ms(t.get_ns, 0.99),
              static_cast<double>(self.ru_utime.tv_sec + self.ru_stime.tv_sec) +
                  static_cast<double>(self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e6);
  return 0;
}
