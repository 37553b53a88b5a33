// uni/net/transport.hpp: the transport contract, what a service may call on a
// stack. Services (DNS, HTTP, the echo examples) are written against these
// concepts once and run over every stack that satisfies them: uni::Stack (its own
// TCP/IP), posix::SocketStack (host sockets), and later vchan's byte stream.
//
//   ByteStream    reliable, ordered bytes both ways, whatever carries them
//   TryWriteStream  a ByteStream that can also write without waiting
//   PollingByteStream  a ByteStream that can also read and write without waiting
//   TcpStream     a ByteStream with TCP's ends and options
//   TcpListener   accepts TcpStreams
//   PollingTcpListener  a TcpListener that can also accept without waiting
//   UdpSocket     datagrams to and from endpoints
//   PollingUdpSocket  a UdpSocket that can also wait for a datagram or a next hop
//                     without receive()'s and send_to()'s coroutines
//   UdpTransport  a stack that binds UdpSockets
//   TcpTransport  a stack that listens and connects
//
// Every call reports failure as a value (uni::error); buffers travel as views,
// never copied on the way: what a written view points at must stay put until the
// call returns (pool pages, or memory valid for the whole run).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>

#include <uni/core/buffer.hpp>
#include <uni/core/result.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/core/time.hpp>
#include <uni/net/endpoint.hpp>
#include <uni/net/udp.hpp>

namespace uni {

namespace detail {
// T of a task<result<T>> or a result<T>; nothing for anything else, so a
// requirement naming it fails as unsatisfied instead of as a hard error.
template <class R>
struct outcome_of {};
template <class T>
struct outcome_of<result<T>> {
  using type = T;
};
template <class T>
struct outcome_of<task<result<T>>> {
  using type = T;
};
template <class R>
using outcome_t = typename outcome_of<std::remove_cvref_t<R>>::type;
}  // namespace detail

// Bytes both ways, in order, until each side ends its half.
//   read()         the next bytes received (as much as came, as a view of the
//                  page they are in); an empty view at the end of the stream
//   write(views)   queues every byte of the views, waiting while there is no room
//   shutdown()     half-close: nothing more is written, reading goes on
//   close()        lets go of the stream (dropping the handle does too)
// Nothing here names an address: those are the carrier's (see TcpStream).
template <class S>
concept ByteStream = std::movable<S> && requires(S& s, const view& v, std::span<const view> views) {
  { s.read() } -> std::same_as<task<result<view>>>;
  { s.write(views) } -> std::same_as<task<result<void>>>;
  { s.write(v) } -> std::same_as<task<result<void>>>;
  { s.shutdown() } noexcept -> std::same_as<result<void>>;
  { s.close() } noexcept -> std::same_as<void>;
};

// A ByteStream that can also write without waiting (uni's TCP; not host sockets):
//   try_write(views)   queues every byte now if there is room for all of them,
//                      else error::would_block with nothing queued
// A server whose answers nearly always fit skips write()'s coroutine frame.
template <class S>
concept TryWriteStream = ByteStream<S> && requires(S& s, std::span<const view> views) {
  { s.try_write(views) } noexcept -> std::same_as<result<void>>;
};

// A ByteStream a loop can drive without read()'s and write()'s coroutines
// (uni's TCP; not host sockets):
//   try_read()                  what read() would give now, else error::would_block
//   write_some(views, at, skip) queues from views[at], byte `skip`, as far as
//                               there is room: true once all is queued, false to wait
//   events()                    notified when either may do more: wait, then try again
template <class S>
concept PollingByteStream =
    ByteStream<S> && requires(S& s, std::span<const view> views, std::size_t& at, std::size_t& skip) {
      { s.try_read() } noexcept -> std::same_as<result<view>>;
      { s.write_some(views, at, skip) } noexcept -> std::same_as<result<bool>>;
      { s.events() } noexcept -> std::same_as<wait_queue&>;
    };

// A TCP connection: both ends, a reset, and the two per-connection options.
//   local(), remote()   the ends as they were when the connection was established
//   abort()             resets (RST) and lets go
//   set_nodelay(on)     Nagle's algorithm off (RFC 9293 §3.7.4)
//   set_keepalive(on)   probes an idle connection (RFC 1122 §4.2.3.6)
template <class S>
concept TcpStream = ByteStream<S> && requires(S& s, const S& cs, bool on) {
  { cs.local() } noexcept -> std::same_as<endpoint>;
  { cs.remote() } noexcept -> std::same_as<endpoint>;
  { s.abort() } noexcept -> std::same_as<void>;
  { s.set_nodelay(on) } noexcept -> std::same_as<void>;
  { s.set_keepalive(on) } noexcept -> std::same_as<void>;
};

// A listening TCP port: accept() waits for the next established connection.
template <class L>
concept TcpListener = std::movable<L> && requires(L& l, const L& cl) {
  { cl.local() } noexcept -> std::same_as<endpoint>;
  { l.accept() } -> std::same_as<task<result<detail::outcome_t<decltype(l.accept())>>>>;
  { l.close() } noexcept -> std::same_as<void>;
} && TcpStream<detail::outcome_t<decltype(std::declval<L&>().accept())>>;

// A TcpListener that can also accept without waiting (uni's TCP; not host sockets):
//   try_accept()     the next established connection if one is queued, else
//                    error::would_block; error::closed once the listener is, and
//                    no other error (a queued connection holds what it needs)
//   accept_ready()   notified when one may be: wait on it, then try again
// An accept loop polls it in its own frame, without accept()'s coroutine.
template <class L>
concept PollingTcpListener = TcpListener<L> && requires(L& l) {
  { l.try_accept() } noexcept -> std::same_as<result<detail::outcome_t<decltype(l.accept())>>>;
  { l.accept_ready() } noexcept -> std::same_as<wait_queue&>;
};

// A bound UDP port.
//   receive()              the next datagram, waiting for one
//   try_receive()          the next datagram if one is queued, else error::would_block
//   send_to(to, views)     one datagram, waiting for what it needs (a next hop, room)
//   try_send_to(to, views) one datagram now, else error::would_block
//   send_failures()        datagrams this socket could not send: refused by a
//                          send call (would_block aside), or dropped after one
//                          accepted it
//   close()                unbinds (dropping the handle does too)
template <class U>
concept UdpSocket = std::movable<U> &&
                    requires(U& u, const U& cu, endpoint to, const view& v, std::span<const view> views) {
                      { cu.local() } noexcept -> std::same_as<endpoint>;
                      { u.receive() } -> std::same_as<task<result<datagram>>>;
                      { u.try_receive() } -> std::same_as<result<datagram>>;
                      { u.send_to(to, views) } -> std::same_as<task<result<void>>>;
                      { u.send_to(to, v) } -> std::same_as<task<result<void>>>;
                      { u.try_send_to(to, views) } -> std::same_as<result<void>>;
                      { u.try_send_to(to, v) } -> std::same_as<result<void>>;
                      { cu.send_failures() } noexcept -> std::same_as<std::uint64_t>;
                      { u.close() } noexcept -> std::same_as<void>;
                    };

// A UdpSocket a loop can drive without receive()'s and send_to()'s coroutines
// (uni's stack; not host sockets):
//   readable()                 awaits a datagram queued (notified) or the socket
//                              closed (cancelled); then try_receive()
//   send_step(to, v, started)  send_to() between its waits: the datagram's outcome,
//                              or nothing while its next hop is resolved (`started`
//                              false at first, kept from call to call)
//   next_hop_resolved()        awaits the end of a resolution: then step again
template <class U>
concept PollingUdpSocket = UdpSocket<U> && requires(U& u, endpoint to, const view& v, bool& started) {
  u.readable();
  { u.send_step(to, v, started) } -> std::same_as<std::optional<result<void>>>;
  u.next_hop_resolved();
};

// What every transport gives its services: the scheduler their tasks run on and
// the pool of I/O pages their buffers come from.
template <class S>
concept Transport = requires(S& s) {
  { s.sched() } noexcept -> std::same_as<scheduler&>;
  { s.pool() } noexcept -> std::same_as<page_pool&>;
};

// A stack with UDP: udp_bind(port) -> result<UdpSocket> (port 0: any free one).
template <class S>
concept UdpTransport = Transport<S> && requires(S& s, std::uint16_t port) {
  { s.udp_bind(port) } -> std::same_as<result<detail::outcome_t<decltype(s.udp_bind(port))>>>;
} && UdpSocket<detail::outcome_t<decltype(std::declval<S&>().udp_bind(std::uint16_t{}))>>;

// A stack with TCP: tcp_listen(port) -> result<TcpListener>, and
// tcp_connect(to, timeout) -> task<result<TcpStream>>.
template <class S>
concept TcpTransport = Transport<S> && requires(S& s, std::uint16_t port, endpoint to, duration timeout) {
  { s.tcp_listen(port) } -> std::same_as<result<detail::outcome_t<decltype(s.tcp_listen(port))>>>;
  { s.tcp_connect(to, timeout) } -> std::same_as<task<result<detail::outcome_t<decltype(s.tcp_connect(to, timeout))>>>>;
} && TcpListener<detail::outcome_t<decltype(std::declval<S&>().tcp_listen(std::uint16_t{}))>> &&
                       TcpStream<detail::outcome_t<decltype(std::declval<S&>().tcp_connect(endpoint{}, duration{}))>>;

// The types a transport hands out.
template <TcpTransport S>
using tcp_listener_t = detail::outcome_t<decltype(std::declval<S&>().tcp_listen(std::uint16_t{}))>;
template <TcpTransport S>
using tcp_stream_t = detail::outcome_t<decltype(std::declval<S&>().tcp_connect(endpoint{}, duration{}))>;
template <TcpListener L>
using accepted_t = detail::outcome_t<decltype(std::declval<L&>().accept())>;
template <UdpTransport S>
using udp_socket_t = detail::outcome_t<decltype(std::declval<S&>().udp_bind(std::uint16_t{}))>;

}  // namespace uni
