// uni/posix/socket_stack.hpp: SocketStack, the same transport API as uni's own
// stack, carried by the host kernel's sockets through Boost.Asio. The paper's
// first development step: write the appliance against this on any Linux box,
// without privileges, then rebuild it over the unikernel stack.
//
// Both stacks meet the transport contract (uni/net/transport.hpp), checked below.
//
// UDP:  auto s = stack.udp_bind(port);            result<udp_socket>
//       auto d = co_await s->receive();           result<datagram>
//       auto r = co_await s->send_to(ep, frags);  result<void>
//       s->try_receive(), s->try_send_to(ep, frags): now or error::would_block
//       (datagrams cross the kernel in batches: recvmmsg, sendmmsg; one
//       past a page arrives in several, up to what a view_chain holds)
//
// TCP:  auto l = stack.tcp_listen(port);                 result<tcp_listener>
//       auto c = co_await l->accept();                   result<tcp_stream>
//       auto c = co_await stack.tcp_connect(ep, 2s);     result<tcp_stream>
//       auto d = co_await c->read();                     result<view>, empty at end of stream
//       auto r = co_await c->write(frags);               result<void>, waits while the send buffer is full
//       c->shutdown(); c->close(); c->abort();           FIN after queued data / release / RST
//       c->set_nodelay(true); c->set_keepalive(true);
// Errors are uni::error values mapped from errno (detail::socket_error); Asio is
// used only for readiness, through its error_code overloads: nothing throws.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <utility>

#include <uni/core/buffer.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/core/view_chain.hpp>
#include <uni/net/endpoint.hpp>
#include <uni/net/transport.hpp>
#include <uni/net/udp.hpp>
#include <uni/posix/socket_readiness.hpp>

namespace uni::posix {

namespace detail {

inline endpoint to_endpoint(const boost::asio::ip::tcp::endpoint& ep) noexcept {
  return {ipv4_address{ep.address().to_v4().to_uint()}, ep.port()};
}

}  // namespace detail

class SocketStack {
 public:
  SocketStack(scheduler& s, boost::asio::io_context& io, page_pool& pool, ipv4_address bind_address = ipv4_address::any())
      : sched_(s), io_(io), pool_(pool), address_(bind_address) {}

  // Datagrams cross the kernel in batches, as NSD and Knot move them: one
  // recvmmsg takes up to `batch` queued datagrams, and sends are gathered for one
  // sendmmsg, made when the batch is full or when the event loop next polls (a
  // handler posted at the first send). A service answering a burst makes two
  // system calls for it, not two per datagram.
  class udp_socket {
   public:
    static constexpr std::size_t batch = 32;
    static constexpr std::size_t max_fragments = 16;  // views in one datagram

    udp_socket(udp_socket&&) noexcept = default;
    udp_socket& operator=(udp_socket&& o) noexcept {
      if (this != &o) {
        close();
        st_ = std::move(o.st_);
      }
      return *this;
    }
    ~udp_socket() { close(); }

    endpoint local() const noexcept { return st_ ? st_->local : endpoint{}; }
    // Datagrams this socket could not send: refused by try_send_to (too large),
    // or accepted and then refused by the kernel (and dropped).
    std::uint64_t send_failures() const noexcept { return st_ ? st_->send_failures : 0; }
    // Datagrams received cut short (past what a slot holds, or no pages for
    // their rest) and dropped.
    std::uint64_t receive_drops() const noexcept { return st_ ? st_->receive_drops : 0; }

    // Sends what is queued and unbinds; pending waits complete as aborted.
    void close() noexcept {
      if (!st_) return;
      auto st = std::exchange(st_, nullptr);
      st->flush();
      boost::system::error_code ec;
      st->sock.close(ec);
    }

    // The next datagram if one is queued (error::would_block if none), its payload
    // in a page of the pool (error::no_buffers if the pool is empty: the datagram
    // stays queued in the kernel). No task, no wait: the loop of a busy server.
    result<datagram> try_receive() {
      state& st = *st_;
      while (true) {
        if (st.rx_next == st.rx_count) {
          if (auto e = st.receive_batch(); e != error::none) return fail(e);
        }
        const std::size_t i = st.rx_next++;
        const sockaddr_in& from = st.rx_from[i];
        const std::size_t length = st.rx_msgs[i].msg_len;
        view_chain payload(st.rx[i].head(std::min(length, page_size)));
        st.rx[i] = view{};
        // Past a page: the rest went to the slot's spill, and goes on in more pages.
        bool whole = (st.rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) == 0;
        for (std::size_t at = page_size; whole && at < length; at += page_size) {
          const std::uint8_t* spill = st.spill.get() + i * state::spill_size;
          auto page = st.pool.allocate_reserved();
          whole = page.ok();
          if (!whole) break;
          const std::size_t k = std::min(page_size, length - at);
          std::memcpy(page->data(), spill + (at - page_size), k);
          (void)payload.push_back(page->head(k));
        }
        // A datagram cut short (longer than a slot holds, or the pool ran dry)
        // is dropped and counted, never handed on as if it were whole.
        if (!whole) {
          ++st.receive_drops;
          continue;
        }
        return datagram{{ipv4_address{ntohl(from.sin_addr.s_addr)}, ntohs(from.sin_port)}, st.local, std::move(payload)};
      }
    }

    // The next datagram, waiting for one.
    task<result<datagram>> receive() {
      while (true) {
        auto d = try_receive();
        if (d || d.err() != error::would_block) co_return d;
        if (auto why = co_await wait(boost::asio::ip::udp::socket::wait_read); why != wake_reason::notified)
          co_return fail(error::cancelled);
      }
    }

    // Queues one datagram made of `frags` (gathered by the kernel, not by us; the
    // views keep their pages until it is sent). error::would_block when the batch
    // is full and the socket's buffer has no room to take it now; error::too_large
    // for more than a UDP datagram over IPv4 holds.
    result<void> try_send_to(endpoint to, std::span<const view> frags) {
      std::size_t bytes = 0;
      for (const view& f : frags) bytes += f.size();
      state& st = *st_;
      if (frags.size() > max_fragments || bytes > udp_header::max_payload) {
        ++st.send_failures;
        return fail(error::too_large);
      }
      if (!st.has_room(frags.size())) {
        st.flush();
        if (!st.has_room(frags.size())) return fail(error::would_block);
      }
      sockaddr_in& dst = st.tx_to[st.tx_count];
      dst = sockaddr_in{};
      dst.sin_family = AF_INET;
      dst.sin_port = htons(to.port);
      dst.sin_addr.s_addr = htonl(to.address.value);
      st.tx_first[st.tx_count] = st.tx_views_used;
      st.tx_size[st.tx_count] = frags.size();
      for (const view& f : frags) st.tx_views[st.tx_views_used++] = f;
      ++st.tx_count;
      if (!st.flush_posted) {
        st.flush_posted = true;
        boost::asio::post(st.sock.get_executor(), [keep = st_] {
          keep->flush_posted = false;
          keep->flush();
        });
      }
      return {};
    }
    result<void> try_send_to(endpoint to, const view& payload) { return try_send_to(to, std::span<const view>(&payload, 1)); }

    // Sends one datagram, waiting for room in the socket's buffer.
    task<result<void>> send_to(endpoint to, std::span<const view> frags) {
      while (true) {
        auto r = try_send_to(to, frags);
        if (r || r.err() != error::would_block) co_return r;
        if (auto why = co_await wait(boost::asio::ip::udp::socket::wait_write); why != wake_reason::notified)
          co_return fail(error::cancelled);
      }
    }
    task<result<void>> send_to(endpoint to, const view& payload) { return send_to(to, std::span<const view>(&payload, 1)); }

   private:
    friend class SocketStack;
    // Shared with pending Asio waits and the posted flush, which may run after the
    // socket is gone.
    struct state : std::enable_shared_from_this<state> {
      static constexpr std::size_t max_views = batch * 2;  // a header and a payload each, typically

      state(scheduler& s, boost::asio::io_context& io, page_pool& p) : sock(io), pool(p), ready(s) {}
      boost::asio::ip::udp::socket sock;
      page_pool& pool;
      wait_queue ready;
      endpoint local{};  // asked once at bind: a getsockname per datagram costs a system call

      // Received by the last recvmmsg, from rx_next on not yet taken.
      std::array<view, batch> rx{};
      std::array<sockaddr_in, batch> rx_from{};
      std::array<std::array<iovec, 2>, batch> rx_iov{};  // the slot's page, then its spill
      // What a datagram holds past its page (up to what a view_chain carries),
      // one slot each; untouched, so not resident, until a datagram needs it.
      static constexpr std::size_t spill_size = (max_chain_views - 1) * page_size;
      std::unique_ptr<std::uint8_t[]> spill{new (std::nothrow) std::uint8_t[batch * spill_size]};
      std::array<mmsghdr, batch> rx_msgs{};
      std::size_t rx_next = 0;
      std::size_t rx_count = 0;

      // Queued for the next sendmmsg: datagram i is tx_size[i] views from tx_first[i].
      std::array<sockaddr_in, batch> tx_to{};
      std::array<std::size_t, batch> tx_first{};
      std::array<std::size_t, batch> tx_size{};
      std::array<view, max_views> tx_views{};
      std::size_t tx_count = 0;
      std::size_t tx_views_used = 0;
      bool flush_posted = false;
      bool flush_armed = false;  // waiting for room in the socket's buffer
      std::uint64_t send_failures = 0;
      std::uint64_t receive_drops = 0;

      // Reads what is queued, up to `batch` datagrams, each into a page of its own.
      error receive_batch() noexcept {
        std::size_t pages = 0;
        while (pages < batch) {
          auto page = pool.allocate_reserved();
          if (!page) break;
          rx_iov[pages][0] = iovec{page->data(), page->size()};
          if (spill) rx_iov[pages][1] = iovec{spill.get() + pages * spill_size, spill_size};
          rx[pages++] = std::move(*page);
        }
        if (pages == 0) return error::no_buffers;
        for (std::size_t i = 0; i < pages; ++i) {
          rx_msgs[i] = mmsghdr{};
          rx_msgs[i].msg_hdr.msg_name = &rx_from[i];
          rx_msgs[i].msg_hdr.msg_namelen = sizeof rx_from[i];
          rx_msgs[i].msg_hdr.msg_iov = rx_iov[i].data();
          rx_msgs[i].msg_hdr.msg_iovlen = spill ? 2 : 1;
        }
        const int n = ::recvmmsg(sock.native_handle(), rx_msgs.data(), static_cast<unsigned>(pages), MSG_DONTWAIT,
                                 nullptr);
        const int e = errno;
        rx_next = 0;
        rx_count = n > 0 ? static_cast<std::size_t>(n) : 0;
        for (std::size_t i = rx_count; i < pages; ++i) rx[i] = view{};  // unused pages go back now
        if (n > 0) return error::none;
        return e == EAGAIN || e == EWOULDBLOCK ? error::would_block : error::io;
      }

      bool has_room(std::size_t views) const noexcept {
        return tx_count < batch && tx_views_used + views <= max_views;
      }

      // Sends what is queued, in as few sendmmsg calls as the kernel takes. A
      // datagram the kernel refuses is dropped and counted (UDP may lose it); when
      // the buffer is full, the rest stay queued and go when it drains.
      void flush() noexcept {
        if (tx_count == 0) return;
        std::array<iovec, max_views> iov;
        std::array<mmsghdr, batch> msgs{};
        for (std::size_t v = 0; v < tx_views_used; ++v) iov[v] = iovec{tx_views[v].data(), tx_views[v].size()};
        for (std::size_t i = 0; i < tx_count; ++i) {
          msgs[i].msg_hdr.msg_name = &tx_to[i];
          msgs[i].msg_hdr.msg_namelen = sizeof tx_to[i];
          msgs[i].msg_hdr.msg_iov = &iov[tx_first[i]];
          msgs[i].msg_hdr.msg_iovlen = tx_size[i];
        }
        std::size_t done = 0;
        while (done < tx_count) {
          const int n = ::sendmmsg(sock.native_handle(), &msgs[done], static_cast<unsigned>(tx_count - done), MSG_DONTWAIT);
          if (n > 0) {
            done += static_cast<std::size_t>(n);
            continue;
          }
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) break;
          ++send_failures;  // this one datagram: the others may go
          ++done;
        }
        drop_sent(done);
        if (tx_count != 0 && !flush_armed && sock.is_open()) wait_for_room();
      }

      // Forgets the first `n` queued datagrams, moving the rest to the front.
      void drop_sent(std::size_t n) noexcept {
        const std::size_t first_kept = n < tx_count ? tx_first[n] : tx_views_used;
        for (std::size_t v = 0; v < first_kept; ++v) tx_views[v] = view{};
        for (std::size_t i = n; i < tx_count; ++i) {
          tx_to[i - n] = tx_to[i];
          tx_first[i - n] = tx_first[i] - first_kept;
          tx_size[i - n] = tx_size[i];
        }
        for (std::size_t v = first_kept; v < tx_views_used; ++v) tx_views[v - first_kept] = std::move(tx_views[v]);
        tx_count -= n;
        tx_views_used -= first_kept;
      }

      // Flushes again once the socket's buffer has room; senders waiting in
      // send_to are woken then too.
      void wait_for_room() {
        flush_armed = true;
        sock.async_wait(boost::asio::ip::udp::socket::wait_write,
                        [keep = shared_from_this()](const boost::system::error_code& ec) {
                          keep->flush_armed = false;
                          if (!ec) keep->flush();
                          keep->ready.notify_all();
                        });
      }
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
    const auto bound = st->sock.local_endpoint(ec);
    st->local = {ipv4_address{bound.address().to_v4().to_uint()}, bound.port()};
    return udp_socket{std::move(st)};
  }

  // A TCP connection. Move-only; closing (or destroying) the handle releases the
  // socket, and a coroutine still waiting in read() or write() on it (through
  // another path) wakes with error::closed. After close(), abort() or a move,
  // every call fails with error::closed.
  class tcp_stream {
   public:
    tcp_stream(tcp_stream&&) noexcept = default;
    tcp_stream& operator=(tcp_stream&& o) noexcept {
      if (this != &o) {
        close();
        st_ = std::move(o.st_);
      }
      return *this;
    }
    ~tcp_stream() { close(); }

    // Both ends, as they were when the connection was established.
    endpoint local() const noexcept { return st_ ? st_->local : endpoint{}; }
    endpoint remote() const noexcept { return st_ ? st_->remote : endpoint{}; }

    // The next bytes received (at most a page), in a page of the pool; an empty
    // view once the peer has closed its side (and on every read after that).
    // error::no_buffers if the pool is empty: the bytes stay in the kernel.
    task<result<view>> read() {
      auto st = st_;  // this handle may move or close while we wait
      if (!st) co_return fail(error::closed);
      while (true) {
        if (!st->sock.is_open()) co_return fail(error::closed);
        {
          auto page = st->pool.allocate_reserved();
          if (!page) co_return fail(error::no_buffers);
          const ssize_t n = ::recv(st->sock.native_handle(), page->data(), page->size(), MSG_DONTWAIT);
          if (n > 0) {
            view got = page->head(static_cast<std::size_t>(n));
            if (detail::take_turn(st->streak)) co_await st->in.waiters.sched().yield();
            co_return got;
          }
          if (n == 0) co_return view{};
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) co_return fail(detail::socket_error(errno));
        }  // no page is held while waiting
        st->streak = 0;
        if (co_await detail::await_ready(st, st->sock, st->in, tcp::socket::wait_read) == wake_reason::cancelled)
          co_return fail(error::cancelled);
      }
    }

    // Sends every byte of `data` (gathered by the kernel, not copied by us),
    // waiting while the send buffer is full. The views must live until it returns.
    task<result<void>> write(std::span<const view> data) {
      auto st = st_;
      if (!st) co_return fail(error::closed);
      std::size_t i = 0, offset = 0;  // the first unsent byte: data[i][offset]
      while (true) {
        while (i < data.size() && offset == data[i].size()) ++i, offset = 0;
        if (i == data.size()) {
          if (detail::take_turn(st->streak)) co_await st->out.waiters.sched().yield();
          co_return result<void>{};
        }
        if (!st->sock.is_open()) co_return fail(error::closed);
        iovec iov[max_iov];
        std::size_t k = 0;
        for (std::size_t j = i; j < data.size() && k < max_iov; ++j) {
          const std::size_t skip = j == i ? offset : 0;
          if (data[j].size() > skip) iov[k++] = iovec{data[j].data() + skip, data[j].size() - skip};
        }
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = k;
        const ssize_t n = ::sendmsg(st->sock.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
          for (auto left = static_cast<std::size_t>(n); left > 0;) {
            const std::size_t step = std::min(left, data[i].size() - offset);
            offset += step;
            left -= step;
            if (offset == data[i].size()) ++i, offset = 0;
          }
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) co_return fail(detail::socket_error(errno));
        st->streak = 0;
        if (co_await detail::await_ready(st, st->sock, st->out, tcp::socket::wait_write) == wake_reason::cancelled)
          co_return fail(error::cancelled);
      }
    }
    task<result<void>> write(const view& data) { return write(std::span<const view>(&data, 1)); }

    // Half-close: the kernel sends a FIN after the bytes already written;
    // reading goes on. A write still waiting for room fails with error::closed.
    result<void> shutdown() noexcept {
      if (!st_ || !st_->sock.is_open()) return fail(error::closed);
      if (::shutdown(st_->sock.native_handle(), SHUT_WR) != 0) return fail(detail::socket_error(errno));
      return {};
    }

    // Releases the connection; the kernel finishes sending and closes with a
    // FIN. (Bytes received but never read make Linux reset the connection
    // instead, as RFC 1122 §4.2.2.13 allows.)
    void close() noexcept {
      if (!st_) return;
      boost::system::error_code ec;
      std::exchange(st_, nullptr)->sock.close(ec);  // pending waits complete and wake their coroutines
    }

    // Resets the connection (RST) and releases it: SO_LINGER with a zero time.
    void abort() noexcept {
      if (!st_) return;
      auto st = std::exchange(st_, nullptr);
      boost::system::error_code ec;
      st->sock.set_option(boost::asio::socket_base::linger(true, 0), ec);
      st->sock.close(ec);
    }

    // Nagle's algorithm off (true) or on (false, the default).
    void set_nodelay(bool on) noexcept {
      if (!st_) return;
      boost::system::error_code ec;
      st_->sock.set_option(tcp::no_delay(on), ec);
    }

    // Keep-alive probes on an idle connection (SO_KEEPALIVE; Linux's default
    // times are RFC 1122 §4.2.3.6's, as uni's own stack uses).
    void set_keepalive(bool on) noexcept {
      if (!st_) return;
      boost::system::error_code ec;
      st_->sock.set_option(boost::asio::socket_base::keep_alive(on), ec);
    }

   private:
    friend class SocketStack;
    using tcp = boost::asio::ip::tcp;
    static constexpr std::size_t max_iov = 64;  // views handed to one sendmsg

    // Shared with pending Asio waits, which may complete after the handle is gone.
    struct state {
      state(scheduler& s, boost::asio::io_context& io, page_pool& p) : sock(io), pool(p), in(s), out(s) {}
      tcp::socket sock;
      page_pool& pool;
      detail::readiness in, out;
      endpoint local, remote;
      unsigned streak = 0;  // calls completed without waiting, in a row
    };
    explicit tcp_stream(std::shared_ptr<state> st) noexcept : st_(std::move(st)) {}

    void learn_endpoints() noexcept {
      boost::system::error_code ec;
      if (auto ep = st_->sock.local_endpoint(ec); !ec) st_->local = detail::to_endpoint(ep);
      if (auto ep = st_->sock.remote_endpoint(ec); !ec) st_->remote = detail::to_endpoint(ep);
    }

    std::shared_ptr<state> st_;
  };

  // A listening TCP port. Move-only; destroying or closing it stops listening
  // (connections not yet accepted are reset by the kernel).
  class tcp_listener {
   public:
    tcp_listener(tcp_listener&&) noexcept = default;
    tcp_listener& operator=(tcp_listener&& o) noexcept {
      if (this != &o) {
        close();
        st_ = std::move(o.st_);
      }
      return *this;
    }
    ~tcp_listener() { close(); }

    endpoint local() const noexcept { return st_ ? st_->local : endpoint{}; }

    // The next established connection. error::table_full when the process is
    // out of file descriptors, error::no_buffers when the kernel is out of
    // memory: the connection stays queued, and the listener stays readable, so
    // the caller should pause before trying again.
    task<result<tcp_stream>> accept() {
      auto st = st_;
      if (!st) co_return fail(error::closed);
      while (true) {
        if (!st->acceptor.is_open()) co_return fail(error::closed);
        const int fd = ::accept4(st->acceptor.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
          auto cs = std::make_shared<tcp_stream::state>(st->sched, st->io, st->pool);
          boost::system::error_code ec;
          cs->sock.assign(boost::asio::ip::tcp::v4(), fd, ec);  // registers it with Asio's reactor
          if (ec) {
            ::close(fd);
            co_return fail(error::io);
          }
          cs->sock.non_blocking(true, ec);
          tcp_stream c{std::move(cs)};
          c.learn_endpoints();
          if (detail::take_turn(st->streak)) co_await st->sched.yield();
          co_return std::move(c);
        }
        switch (errno) {
          case EAGAIN:
#if EWOULDBLOCK != EAGAIN
          case EWOULDBLOCK:
#endif
            break;
          // A connection that died in the queue, or a signal: take the next one
          // (accept(2) asks for the network errors to be treated like EAGAIN).
          case EINTR:
          case ECONNABORTED:
          case EPROTO:
          case ENETDOWN:
          case ENOPROTOOPT:
          case EHOSTDOWN:
          case ENONET:
          case EHOSTUNREACH:
          case EOPNOTSUPP:
          case ENETUNREACH: continue;
          default: co_return fail(detail::socket_error(errno));
        }
        st->streak = 0;
        if (co_await detail::await_ready(st, st->acceptor, st->ready, boost::asio::ip::tcp::acceptor::wait_read) ==
            wake_reason::cancelled)
          co_return fail(error::cancelled);
      }
    }

    // Stops listening; a coroutine waiting in accept() wakes with error::closed.
    void close() noexcept {
      if (!st_) return;
      boost::system::error_code ec;
      std::exchange(st_, nullptr)->acceptor.close(ec);
    }

   private:
    friend class SocketStack;
    struct state {
      state(scheduler& s, boost::asio::io_context& i, page_pool& p) : acceptor(i), sched(s), io(i), pool(p), ready(s) {}
      boost::asio::ip::tcp::acceptor acceptor;
      scheduler& sched;
      boost::asio::io_context& io;
      page_pool& pool;
      detail::readiness ready;
      endpoint local;
      unsigned streak = 0;  // accepts completed without waiting, in a row
    };
    explicit tcp_listener(std::shared_ptr<state> st) noexcept : st_(std::move(st)) {}
    std::shared_ptr<state> st_;
  };

  // Listens on `port` (0: any free port) of the stack's address: error::in_use
  // if another socket listens there. SO_REUSEADDR is set, so a restarted
  // server binds despite its old connections in TIME-WAIT.
  result<tcp_listener> tcp_listen(std::uint16_t port) {
    namespace ip = boost::asio::ip;
    auto st = std::make_shared<tcp_listener::state>(sched_, io_, pool_);
    boost::system::error_code ec;
    ip::tcp::endpoint ep(ip::address_v4(address_.value), port);
    st->acceptor.open(ep.protocol(), ec);
    if (!ec) st->acceptor.set_option(ip::tcp::acceptor::reuse_address(true), ec);
    if (!ec) st->acceptor.bind(ep, ec);
    if (!ec) st->acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
    if (!ec) st->acceptor.non_blocking(true, ec);
    if (ec) return fail(detail::socket_error(ec.value()));
    if (auto bound = st->acceptor.local_endpoint(ec); !ec) st->local = detail::to_endpoint(bound);
    return tcp_listener{std::move(st)};
  }

  // Connects to `to`, giving up with error::timed_out after `timeout`;
  // error::refused (RST), error::unreachable (no route, or ICMP says so). The
  // kernel picks the source address and port by its routes: the stack's bind
  // address is for services, and a loopback one could reach nothing else.
  task<result<tcp_stream>> tcp_connect(endpoint to, duration timeout) {
    const time_point deadline = sched_.now() + timeout;
    auto st = std::make_shared<tcp_stream::state>(sched_, io_, pool_);
    boost::system::error_code ec;
    st->sock.open(boost::asio::ip::tcp::v4(), ec);
    if (ec) co_return fail(detail::socket_error(ec.value()));
    st->sock.non_blocking(true, ec);
    tcp_stream c{st};  // closes the socket on every way out but success, cancellation included
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(to.port);
    dst.sin_addr.s_addr = htonl(to.address.value);
    const int fd = st->sock.native_handle();
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst) != 0) {
      if (errno != EINPROGRESS && errno != EINTR) co_return fail(detail::socket_error(errno));
      while (true) {  // the handshake runs in the kernel; writable means done, either way
        const auto why = co_await detail::await_ready(st, st->sock, st->out, boost::asio::ip::tcp::socket::wait_write,
                                                      deadline);
        if (why == wake_reason::timed_out) co_return fail(error::timed_out);
        if (why == wake_reason::cancelled) co_return fail(error::cancelled);
        if (!st->sock.is_open()) co_return fail(error::closed);
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err != 0) co_return fail(detail::socket_error(err));
        sockaddr_in peer{};
        len = sizeof peer;
        if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0) break;
      }
    }
    c.learn_endpoints();
    co_return std::move(c);
  }

  scheduler& sched() noexcept { return sched_; }
  page_pool& pool() noexcept { return pool_; }

 private:
  scheduler& sched_;
  boost::asio::io_context& io_;
  page_pool& pool_;
  ipv4_address address_;
};

static_assert(UdpTransport<SocketStack>, "posix::SocketStack: its UDP must meet uni/net/transport.hpp");
static_assert(TcpTransport<SocketStack>, "posix::SocketStack: its TCP must meet uni/net/transport.hpp");

}  // namespace uni::posix
