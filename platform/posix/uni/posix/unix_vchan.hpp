// uni/posix/unix_vchan.hpp: the POSIX twin of a vchan endpoint (uni/devices.hpp):
// the same service source, its byte streams carried by a Unix domain socket
// instead of shared pages, so it runs in the development loop. Each endpoint the
// Config declares listens at its --vchan PATH (made afresh; removed at the end);
// accept() returns the next connection as a ByteStream. The socket and TAP
// targets alike serve them (socket_appliance.hpp, tap_appliance.hpp).
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <uni/core/log.hpp>
#include <uni/devices.hpp>
#include <uni/net/transport.hpp>
#include <uni/options.hpp>
#include <uni/posix/appliance_options.hpp>
#include <uni/posix/socket_readiness.hpp>

namespace uni::posix {

// One connection of the Unix socket, as a ByteStream.
class unix_stream {
 public:
  using socket = boost::asio::local::stream_protocol::socket;

  unix_stream(std::shared_ptr<void> keep, socket* sock, detail::readiness* in, detail::readiness* out,
              page_pool& pool) noexcept
      : keep_(std::move(keep)), sock_(sock), in_(in), out_(out), pool_(&pool) {}
  unix_stream(unix_stream&& o) noexcept = default;
  unix_stream& operator=(unix_stream&& o) noexcept {
    if (this != &o) {
      close();
      keep_ = std::move(o.keep_);
      sock_ = o.sock_;
      in_ = o.in_;
      out_ = o.out_;
      pool_ = o.pool_;
    }
    return *this;
  }
  ~unix_stream() { close(); }

  task<result<view>> read() {
    auto keep = keep_;
    if (!keep) co_return fail(error::closed);
    for (;;) {
      if (!sock_->is_open()) co_return fail(error::closed);
      {
        auto page = pool_->allocate();
        if (!page) co_return fail(error::no_buffers);
        const ssize_t n = ::recv(sock_->native_handle(), page->data(), page->size(), MSG_DONTWAIT);
        if (n > 0) co_return page->head(static_cast<std::size_t>(n));
        if (n == 0) co_return view{};
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) co_return fail(detail::socket_error(errno));
      }
      if (co_await detail::await_ready(keep, *sock_, *in_, socket::wait_read) == wake_reason::cancelled)
        co_return fail(error::cancelled);
    }
  }

  task<result<void>> write(std::span<const view> data) {
    auto keep = keep_;
    if (!keep) co_return fail(error::closed);
    for (const view& v : data) {
      for (std::size_t done = 0; done < v.size();) {
        if (!sock_->is_open()) co_return fail(error::closed);
        const ssize_t n = ::send(sock_->native_handle(), v.data() + done, v.size() - done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
          done += static_cast<std::size_t>(n);
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) co_return fail(detail::socket_error(errno));
        if (co_await detail::await_ready(keep, *sock_, *out_, socket::wait_write) == wake_reason::cancelled)
          co_return fail(error::cancelled);
      }
    }
    co_return result<void>{};
  }
  task<result<void>> write(const view& v) { return write(std::span<const view>(&v, 1)); }

  result<void> shutdown() noexcept {
    if (!keep_ || ::shutdown(sock_->native_handle(), SHUT_WR) != 0) return fail(error::closed);
    return {};
  }
  void close() noexcept {
    if (!keep_) return;
    boost::system::error_code ec;
    sock_->close(ec);  // pending waits complete and wake their coroutines
    keep_.reset();
  }

 private:
  std::shared_ptr<void> keep_;  // owns the socket and its readiness (Asio waits may outlive us)
  socket* sock_ = nullptr;
  detail::readiness* in_ = nullptr;
  detail::readiness* out_ = nullptr;
  page_pool* pool_ = nullptr;
};
static_assert(ByteStream<unix_stream>);

// One endpoint: accept() waits for the next connection to its --vchan PATH.
class unix_vchan_endpoint {
 public:
  using protocol = boost::asio::local::stream_protocol;

  unix_vchan_endpoint(scheduler& s, boost::asio::io_context& io, page_pool& pool) : st_(std::make_shared<state>(s, io)), pool_(pool) {}
  ~unix_vchan_endpoint() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }

  result<void> listen(std::string_view path) {
    path_.assign(path);
    ::unlink(path_.c_str());
    boost::system::error_code ec;
    st_->acceptor.open(protocol(), ec);
    if (!ec) st_->acceptor.bind(protocol::endpoint(path_), ec);
    if (!ec) st_->acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
    if (!ec) st_->acceptor.non_blocking(true, ec);
    if (ec) return fail(detail::socket_error(ec.value()));
    return {};
  }

  // What a service over the streams needs besides them.
  scheduler& sched() noexcept { return st_->ready.waiters.sched(); }
  page_pool& pool() noexcept { return pool_; }

  task<result<unix_stream>> accept() {
    auto st = st_;
    for (;;) {
      const int fd = ::accept4(st->acceptor.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        auto c = std::make_shared<connection>(st->ready.waiters.sched(), st->io);
        boost::system::error_code ec;
        c->sock.assign(protocol(), fd, ec);
        if (ec) {
          ::close(fd);
          co_return fail(error::io);
        }
        co_return unix_stream(c, &c->sock, &c->in, &c->out, pool_);
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        co_return fail(detail::socket_error(errno));
      if (co_await detail::await_ready(st, st->acceptor, st->ready, protocol::acceptor::wait_read) ==
          wake_reason::cancelled)
        co_return fail(error::cancelled);
    }
  }

 private:
  struct state {
    state(scheduler& s, boost::asio::io_context& i) : acceptor(i), io(i), ready(s) {}
    protocol::acceptor acceptor;
    boost::asio::io_context& io;
    detail::readiness ready;
  };
  struct connection {
    connection(scheduler& s, boost::asio::io_context& io) : sock(io), in(s), out(s) {}
    protocol::socket sock;
    detail::readiness in, out;
  };
  std::shared_ptr<state> st_;
  page_pool& pool_;
  std::string path_;
};

// The appliance's endpoints, one per --vchan PATH, in order.
template <class Config>
class posix_vchans {
 public:
  static constexpr std::size_t count = Config::vchan_endpoints;

  posix_vchans(scheduler& sched, boost::asio::io_context& io, page_pool& pool) noexcept
      : sched_(sched), io_(io), pool_(pool) {}

  // Listens at each --vchan PATH. Returns the exit status to end with (2: the
  // flags, 1: a socket cannot be made), or 0.
  int open(std::string_view name, const appliance_options& o) {
    if constexpr (count > 0) {
      if (o.count("vchan") != count)
        return refuse(name, "this appliance has ", count, " vchan endpoint", count == 1 ? "" : "s",
                      ": give --vchan PATH (the Unix socket to serve on) for ", count == 1 ? "it" : "each", " (got ",
                      o.count("vchan"), ")");
      std::array<unix_vchan_endpoint*, count> each{};
      for (std::size_t i = 0; i < count; ++i) {
        auto& e = each_[i].emplace(sched_, io_, pool_);
        if (auto r = e.listen(o.text("vchan", i)); !r) {
          log_error(name, ": --vchan ", o.text("vchan", i), ": ", to_string(r.err()));
          return 1;
        }
        log_info(name, ": listening on ", o.text("vchan", i));
        each[i] = &e;
      }
      all_.emplace(each);
    }
    return 0;
  }
  uni::vchans<unix_vchan_endpoint, count>& all() noexcept { return *all_; }

 private:
  scheduler& sched_;
  boost::asio::io_context& io_;
  page_pool& pool_;
  std::array<std::optional<unix_vchan_endpoint>, count> each_;
  std::optional<uni::vchans<unix_vchan_endpoint, count>> all_;
};

}  // namespace uni::posix
