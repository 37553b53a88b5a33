// uni/posix/socket_stack.hpp: SocketStack, the same transport API as uni's own
// stack, carried by the host kernel's sockets through Boost.Asio. The paper's
// first development step: write the appliance against this on any Linux box,
// without privileges, then rebuild it over the unikernel stack.
//
// UDP:  auto s = stack.udp_bind(port);            result<udp_socket>
//       auto d = co_await s->receive();           result<datagram>
//       auto r = co_await s->send_to(ep, frags);  result<void>
#pragma once

#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <memory>
#include <span>

#include <uni/core/buffer.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/net/endpoint.hpp>

namespace uni::posix {

class SocketStack {
 public:
  SocketStack(scheduler& s, boost::asio::io_context& io, page_pool& pool, ipv4_address bind_address = ipv4_address::any())
      : sched_(s), io_(io), pool_(pool), address_(bind_address) {}

  class udp_socket {
   public:
    udp_socket(udp_socket&&) noexcept = default;
    udp_socket& operator=(udp_socket&&) noexcept = default;
    ~udp_socket() {
      if (st_) {
        boost::system::error_code ec;
        st_->sock.close(ec);  // pending waits complete as aborted and release st_
      }
    }

    endpoint local() const {
      boost::system::error_code ec;
      auto ep = st_->sock.local_endpoint(ec);
      return {ipv4_address{ep.address().to_v4().to_uint()}, ep.port()};
    }

    // The next datagram, its payload in a page of the pool (error::no_buffers if
    // the pool is empty: the datagram stays queued in the kernel).
    task<result<datagram>> receive() {
      while (true) {
        auto page = st_->pool.allocate();
        if (!page) co_return fail(error::no_buffers);
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const ssize_t n = ::recvfrom(st_->sock.native_handle(), page->data(), page->size(), MSG_DONTWAIT,
                                     reinterpret_cast<sockaddr*>(&from), &len);
        if (n >= 0) {
          co_return datagram{{ipv4_address{ntohl(from.sin_addr.s_addr)}, ntohs(from.sin_port)},
                             local(),
                             page->head(static_cast<std::size_t>(n))};
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) co_return fail(error::io);
        if (auto why = co_await wait(boost::asio::ip::udp::socket::wait_read); why != wake_reason::notified)
          co_return fail(error::cancelled);
      }
    }

    // Sends one datagram made of `frags` (gathered by the kernel, not by us).
    task<result<void>> send_to(endpoint to, std::span<const view> frags) {
      iovec iov[16];
      if (frags.size() > 16) co_return fail(error::too_large);
      for (std::size_t i = 0; i < frags.size(); ++i) iov[i] = iovec{frags[i].data(), frags[i].size()};
      sockaddr_in dst{};
      dst.sin_family = AF_INET;
      dst.sin_port = htons(to.port);
      dst.sin_addr.s_addr = htonl(to.address.value);
      msghdr msg{};
      msg.msg_name = &dst;
      msg.msg_namelen = sizeof dst;
      msg.msg_iov = iov;
      msg.msg_iovlen = frags.size();
      while (true) {
        if (::sendmsg(st_->sock.native_handle(), &msg, MSG_DONTWAIT) >= 0) co_return result<void>{};
        if (errno == EMSGSIZE) co_return fail(error::too_large);
        if (errno != EAGAIN && errno != EWOULDBLOCK) co_return fail(error::io);
        if (auto why = co_await wait(boost::asio::ip::udp::socket::wait_write); why != wake_reason::notified)
          co_return fail(error::cancelled);
      }
    }
    task<result<void>> send_to(endpoint to, const view& payload) { return send_to(to, std::span<const view>(&payload, 1)); }

   private:
    friend class SocketStack;
    // Shared with pending Asio waits, which may complete after the socket is gone.
    struct state {
      state(scheduler& s, boost::asio::io_context& io, page_pool& p) : sock(io), pool(p), ready(s) {}
      boost::asio::ip::udp::socket sock;
      page_pool& pool;
      wait_queue ready;
    };
    explicit udp_socket(std::shared_ptr<state> st) : st_(std::move(st)) {}

    wait_queue::wait_awaiter wait(boost::asio::ip::udp::socket::wait_type what) {
      st_->sock.async_wait(what, [st = st_](const boost::system::error_code&) { st->ready.notify_all(); });
      return st_->ready.wait();
    }

    std::shared_ptr<state> st_;
  };

  // Binds a UDP socket to `port` (0: any free port) on the stack's address.
  result<udp_socket> udp_bind(std::uint16_t port) {
    auto st = std::make_shared<udp_socket::state>(sched_, io_, pool_);
    boost::system::error_code ec;
    boost::asio::ip::udp::endpoint ep(boost::asio::ip::address_v4(address_.value), port);
    st->sock.open(ep.protocol(), ec);
    if (!ec) st->sock.bind(ep, ec);
    if (ec) return fail(ec == boost::asio::error::address_in_use ? error::in_use
                        : ec == boost::asio::error::access_denied ? error::permission
                                                                   : error::io);
    st->sock.non_blocking(true, ec);
    return udp_socket{std::move(st)};
  }

  scheduler& sched() noexcept { return sched_; }
  page_pool& pool() noexcept { return pool_; }

 private:
  scheduler& sched_;
  boost::asio::io_context& io_;
  page_pool& pool_;
  ipv4_address address_;
};

}  // namespace uni::posix
