// uni/http/connection.hpp: one HTTP/1.1 connection's protocol (RFC 9110,
// RFC 9112), over any ByteStream: reading request heads (head_reader,
// parse_head), dispatching to a dynamic handler (router) or to the static files,
// and writing the head and the body's views in one scatter-gather write.
// Keep-alive and pipelining come from the loop itself: bytes after one request
// stay in the connection for the next, answers go out in order. The accept
// loop, the bound on connections and the deadlines' reaper are server.hpp's.
//
// Hostile clients meet bounds, each with a counter (server_counters):
// request line (414), head bytes and field count (431), body (413), malformed
// requests (400), unknown methods (501), known ones a path lacks (405). No
// exceptions; per request nothing is allocated on the heap beyond a handler's
// coroutine frame (and, over streams that do not poll, the frames of their reads
// and writes); response heads are written into I/O pages shared by successive
// responses.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include <uni/core/buffer.hpp>
#include <uni/core/counters.hpp>
#include <uni/core/function_ref.hpp>
#include <uni/core/log.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/http/body.hpp>
#include <uni/http/exchange.hpp>
#include <uni/http/request.hpp>
#include <uni/http/response.hpp>
#include <uni/http/router.hpp>
#include <uni/http/files.hpp>
#include <uni/net/accept_supervisor.hpp>
#include <uni/net/transport.hpp>

namespace uni::http {

// Bytes of one request head (request line + fields): more is a 431.
inline constexpr std::size_t max_head_bytes = 8192;
// A response body is written in pieces of at most this much, so the send
// deadline measures progress, not the whole transfer.
inline constexpr std::size_t send_piece = 256 * 1024;

// The clock for the Date field: a function giving seconds since 1970, set as
// `opt.unix_time = f`. The date's formatting is taken along when it is set, so
// that a server without a clock (on Xen) carries none of that code.
class unix_clock {
 public:
  constexpr unix_clock() noexcept = default;
  unix_clock& operator=(std::int64_t (*now)() noexcept) noexcept {
    now_ = now;
    format_ = &format_http_date;
    return *this;
  }
  explicit operator bool() const noexcept { return now_ != nullptr; }
  std::int64_t operator()() const noexcept { return now_(); }
  // The IMF-fixdate of `t` (response.hpp's format_http_date).
  void format(std::int64_t t, char (&out)[29]) const noexcept { format_(t, out); }

 private:
  std::int64_t (*now_)() noexcept = nullptr;
  std::size_t (*format_)(std::int64_t, char (&)[29]) noexcept = nullptr;
};

struct server_options {
  http::limits limits{};
  duration header_timeout = std::chrono::seconds(10);  // a whole head, from its first byte
  duration body_timeout = std::chrono::seconds(60);    // a whole request body
  duration idle_timeout = std::chrono::seconds(30);    // keep-alive with no request started
  duration send_timeout = std::chrono::seconds(30);    // no progress writing a response
  duration linger = std::chrono::seconds(2);           // reading after our FIN, before closing
  std::size_t max_connections = 512;
  // Seconds since 1970 for the Date field; none means no Date (RFC 9110
  // §6.6.1: a server without a clock must not send one).
  unix_clock unix_time;
  const routes* router = nullptr;
  // Static files: any read-only key-value store (uni/http/files.hpp).
  file_source files;
};

struct server_counters {
  accept_counters accepts;  // connections, refused at the bound, idle ones evicted
  std::uint64_t requests = 0;
  std::uint64_t responses = 0;
  std::uint64_t not_modified = 0;  // 304
  std::uint64_t partial = 0;       // 206
  // Rejections, one counter each.
  std::uint64_t bad_request = 0;         // 400
  std::uint64_t not_found = 0;           // 404
  std::uint64_t method_not_allowed = 0;  // 405
  std::uint64_t body_too_large = 0;      // 413
  std::uint64_t uri_too_long = 0;        // 414
  std::uint64_t range_not_satisfiable = 0;  // 416
  std::uint64_t expectation_failed = 0;  // 417
  std::uint64_t headers_too_large = 0;   // 431
  std::uint64_t not_implemented = 0;     // 501
  std::uint64_t version_not_supported = 0;  // 505
  std::uint64_t header_timeouts = 0;     // slowloris: a head too slow
  std::uint64_t body_timeouts = 0;
  std::uint64_t idle_timeouts = 0;
  std::uint64_t send_timeouts = 0;
  std::uint64_t stream_errors = 0;        // resets, write failures
  std::uint64_t out_of_pages = 0;         // waits for the I/O page pool
};

// Two log lines' worth: traffic, then rejections and timeouts (each a string and
// a table of counters, uni/core/counters.hpp's log_fields).
inline void log_counters(std::string_view who, const server_counters& n) noexcept {
  using c = server_counters;
  static constexpr count_field traffic[] = {
      {offsetof(c, accepts.accepted)}, {offsetof(c, requests)},      {offsetof(c, responses)},
      {offsetof(c, not_modified)},     {offsetof(c, partial)},       {offsetof(c, stream_errors)},
      {offsetof(c, out_of_pages)}};
  log_fields(log_level::info, who,
             ": \0 connections, \0 requests, \0 responses (\0 304, \0 206), \0 stream errors, \0 page waits", n,
             traffic);
  static constexpr count_field rejections[] = {
      {offsetof(c, bad_request)},     {offsetof(c, not_found)},       {offsetof(c, method_not_allowed)},
      {offsetof(c, body_too_large)},  {offsetof(c, uri_too_long)},    {offsetof(c, range_not_satisfiable)},
      {offsetof(c, headers_too_large)}, {offsetof(c, not_implemented)}, {offsetof(c, version_not_supported)},
      {offsetof(c, header_timeouts)}, {offsetof(c, body_timeouts)},   {offsetof(c, idle_timeouts)},
      {offsetof(c, send_timeouts)},   {offsetof(c, accepts.refused)}, {offsetof(c, accepts.evicted)}};
  log_fields(log_level::info, who,
             ": rejected \0 400, \0 404, \0 405, \0 413, \0 414, \0 416, \0 431, \0 501, \0 505; timeouts \0 head, "
             "\0 body, \0 idle, \0 send; \0 refused, \0 evicted",
             n, rejections);
}

enum class conn_state : std::uint8_t { idle, head, body, busy, closing };

// What the reaper needs of a connection: its state and when that state expires.
struct conn_watch {
  time_point deadline = time_never;
  conn_state state = conn_state::idle;
};

struct server_state {
  scheduler& sched;
  page_pool& pool;
  const server_options& opt;
  server_counters& n;
  char date[29] = {};
  std::int64_t date_second = -1;

  std::string_view http_date() noexcept {
    const std::int64_t t = opt.unix_time();
    if (t != date_second) {
      opt.unix_time.format(t, date);
      date_second = t;
    }
    return {date, sizeof date};
  }
};

namespace detail {
inline view static_view(std::string_view s) noexcept {
  return view::unowned(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}
// The statuses with a counter of their own, and where it is in server_counters
// (a table: no switch code for each).
inline constexpr std::uint16_t counted_statuses[] = {304, 206, 400, 404, 405, 413, 414, 416, 417, 431, 501, 505};
inline constexpr std::uint8_t status_counters[] = {
    offsetof(server_counters, not_modified),      offsetof(server_counters, partial),
    offsetof(server_counters, bad_request),       offsetof(server_counters, not_found),
    offsetof(server_counters, method_not_allowed), offsetof(server_counters, body_too_large),
    offsetof(server_counters, uri_too_long),      offsetof(server_counters, range_not_satisfiable),
    offsetof(server_counters, expectation_failed), offsetof(server_counters, headers_too_large),
    offsetof(server_counters, not_implemented),   offsetof(server_counters, version_not_supported)};
static_assert(std::size(counted_statuses) == std::size(status_counters));
inline void count_status(server_counters& n, int status) noexcept {
  for (std::size_t i = 0; i < std::size(counted_statuses); ++i)
    if (counted_statuses[i] == status) {
      ++*reinterpret_cast<std::uint64_t*>(reinterpret_cast<char*>(&n) + status_counters[i]);
      return;
    }
}

// A connection's state but its large buffers, a base of it: value-initialized
// as a whole (zeroed in blocks, then the few fields that do not start at zero
// stored), not member by member. (The members used most come first: their
// offsets fit a byte in the instructions that reach them.)
struct connection_fields {
  // The transfer set up: none left (outcomev_ is its result), more of a head's
  // bytes into in_ (an error at the stream's end), the body's next
  // piece, or a write of what cursor_ holds (each batch next_batch() gives).
  enum class io_op : std::uint8_t { none, head, body, write };
  struct send_cursor {
    std::array<std::span<const view>, 3> parts;
    std::size_t part = 0, next = 0;  // the next view: parts[part][next]
    view rest;                        // what is left of the one before
  };
  server_state* srv_ = nullptr;  // (pointers, set by the connection: no reference is value-initialized)
  conn_watch* slot_ = nullptr;
  std::size_t scratch_used_ = 0;
  int body_error_ = 0;
  bool keep_alive_ = true;
  bool streaming_ = false;
  bool continue_sent_ = false;
  bool failed_ = false;
  io_op op_ = io_op::none;
  bool continuing_ = false;  // the write is a 100 Continue, then the body's read
  bool waited_ = false;      // a body's read waited (body_piece)
  std::size_t batch_views_ = 0, at_ = 0, skip_ = 0;  // the batch written, and where write_some goes on in it
  send_cursor cursor_{};
  transfer_outcome outcomev_;  // the last transfer's, read through outcome_
  http::request reqv_;
  view in_;       // received bytes not yet consumed
  view scratch_;  // the page response heads are written into
  std::array<view, 3> out_;  // a response's head (and error body, chunk CRLF) while its send runs
  std::array<view, 8> batch_;  // a write's views while it runs
  view file_head_;  // a streamed file's head, until its first piece
  body_decoder body_;
  path_params paramsv_;
};
}  // namespace detail

// The protocol of one connection; the transport is reached through two
// virtual calls (a transfer's start, and the half-close, in stream_connection)
// so that this code is compiled once, whatever the stack.
class connection : public exchange, protected detail::connection_fields {
 public:
  connection(server_state& srv, conn_watch& slot) noexcept
      : connection_fields(), reader_(srv.opt.limits.max_request_line) {  // (the fields value-initialized)
    srv_ = &srv;
    slot_ = &slot;
    req_ = &reqv_;
    params_ = &paramsv_;
    outcome_ = &outcomev_;
  }

  std::uint32_t request_span() const noexcept {
    return static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(this) >> 4);
  }

  // Serves a connection over `s` until it ends: reads a head, answers it,
  // again while the connection is kept alive, then lingers. The stream and the
  // connection live in this one coroutine's frame (a template only for the
  // stream's type: the protocol's steps are the plain functions it calls; each
  // coroutine, and each await, is code of its own).
  template <class Stream>
  static task<void> run(server_state& srv, conn_watch& slot, Stream s);

  // exchange
  transfer<view> read_body() override {
    op_ = io_op::body;
    waited_ = false;
    if (continue_due()) {  // written first
      (void)send(std::span<const view>(out_.data(), 1));
      continuing_ = true;
    }
    return transfer<view>(*this);
  }

  result<view> scratch(std::size_t bytes) noexcept override {
    auto s = reserve(bytes);
    if (!s) return fail(s.err());
    return commit(bytes);
  }

  // The response calls set up a send (or done()'s outcome) and return it, to be
  // awaited. What they send beside the caller's views waits in out_ (the send
  // runs after they return).
  sending respond(int status, std::string_view content_type, std::span<const view> body,
                  std::span<const field> extra = {}) override {
    const std::uint64_t length = total_size(body);
    if (reqv_.method == method::head || status == 304 || status == 204) body = {};
    return head_then(status, content_type, &length, extra, body);
  }

  sending respond(int status, std::string_view content_type, view body) override {
    if (responded_) return done(fail(error::invalid_argument));
    out_[1] = std::move(body);  // released by drop_buffers() before the next read
    return respond(status, content_type, std::span<const view>(&out_[1], 1));
  }

  sending start_stream(int status, std::string_view content_type, std::span<const field> extra = {}) override {
    return head_then(status, content_type, nullptr, extra, {});
  }

  sending write_stream(std::span<const view> data) override {
    if (!streaming_) return done(result<void>{});  // HEAD: no body
    const std::size_t n = total_size(data);
    if (n == 0) return done(result<void>{});  // an empty chunk would end the body
    if (reqv_.minor == 0) return send(data);
    // A chunk (RFC 9112 §7.1): size line, data, CRLF, in one send.
    auto line = reserve(20);
    if (!line) return done(fail(line.err()));
    // The size's hex digits written from the last, straight into the page.
    std::uint8_t* p = line->data();
    std::size_t digits = 0;
    for (std::size_t v = n; v; v >>= 4) ++digits;
    for (std::size_t v = n, i = digits; i; v >>= 4) p[--i] = static_cast<std::uint8_t>("0123456789abcdef"[v & 15]);
    p[digits] = '\r';
    p[digits + 1] = '\n';
    out_[0] = commit(digits + 2);
    out_[1] = detail::static_view("\r\n"sv);
    return send(std::span<const view>(out_.data(), 1), data, std::span<const view>(out_.data() + 1, 1));
  }

  sending end_stream() override {
    if (!streaming_) return done(result<void>{});
    streaming_ = false;
    if (reqv_.minor == 0) return done(result<void>{});
    out_[0] = detail::static_view("0\r\n\r\n"sv);
    return send(std::span<const view>(out_.data(), 1));
  }

 protected:
  // The transport, in stream_connection<Stream> (a template): its
  // start_transfer does the transfer the last call set up (op_), on uni's
  // stack by polling the stream (poll) between waits on its events, with no
  // coroutine; over other streams in a coroutine awaiting their read() and
  // write(). What it needs of this class is private below.
  template <class>
  friend class stream_connection;
  virtual void transport_shutdown() noexcept = 0;
  ~connection() = default;

  // The transfer has its outcome.
  bool finish(error e, view bytes = {}) noexcept {
    outcomev_.err = e;
    outcomev_.bytes = std::move(bytes);
    op_ = io_op::none;
    return true;
  }
  // The transfer's steps on a stream that polls (PollingByteStream), between
  // waits on its events: true once it has its outcome, false while it must
  // wait (until `until`, a while when out of pages). `why`: how the last wait
  // ended, none before the first.
  template <class Stream>
  bool poll(Stream& s, wake_reason why, time_point& until) noexcept {
    if (op_ == io_op::none) return true;
    if (op_ == io_op::write) {  // (a body's read may write a 100 Continue first)
      error sent = error::none;
      while (true) {
        if (batch_views_ == 0) {
          batch_views_ = next_batch(cursor_, batch_);
          at_ = skip_ = 0;
          if (batch_views_ == 0) break;
        }
        auto all = why == wake_reason::cancelled
                       ? result<bool>(fail(error::cancelled))
                       : s.write_some(std::span<const view>(batch_.data(), batch_views_), at_, skip_);
        why = wake_reason::none;
        if (!all) {
          sent = write_failed(all.err()).err();
          break;
        }
        if (!*all) return false;
        batch_views_ = 0;
      }
      end_write();
      if (sent != error::none || !continuing_) return finish(sent);
      continuing_ = false;
      op_ = io_op::body;
    }
    while (true) {
      if (why == wake_reason::none) {  // a new read, not one woken
        if (op_ == io_op::body) {
          if (body_piece(waited_)) return true;
          waited_ = true;
        }
        drop_buffers();
      }
      result<view> d = why == wake_reason::cancelled ? result<view>(fail(error::cancelled)) : s.try_read();
      why = wake_reason::none;
      switch (took(std::move(d))) {
        case read_step::got:
          if (op_ == io_op::head) return finish(error::none);
          continue;
        case read_step::ended: return finish(read_ended(op_ == io_op::body));
        case read_step::no_pages: until = no_pages_until(); return false;
        case read_step::wait: return false;
      }
    }
  }
  // A write is over: its batch's views let go.
  void end_write() noexcept {
    batch_ = {};
    batch_views_ = 0;
  }

  // A read's outcome: bytes (now in_), the end (or an error,
  // counted), or a wait: for the stream, or a while when out of pages.
  enum class read_step : std::uint8_t { got, ended, wait, no_pages };
  read_step took(result<view> d) noexcept {
    if (d) {
      if (d->empty()) return read_step::ended;
      in_ = std::move(*d);
      return read_step::got;
    }
    if (d.err() == error::would_block) return read_step::wait;
    if (d.err() != error::no_buffers) {
      if (d.err() != error::closed) ++srv_->n.stream_errors;
      return read_step::ended;
    }
    ++srv_->n.out_of_pages;  // pages come back as other connections' data is acknowledged
    return read_step::no_pages;
  }
  // What a read yields when the stream ended where more was needed.
  error read_ended(bool body) noexcept {
    if (!body) return error::closed;
    body_error_ = 400;
    return error::truncated;
  }
  // True if a 100 Continue is due before the body's first read (RFC 9110
  // §10.1.1): it is then out_[0] while it is sent.
  bool continue_due() noexcept {
    if (!reqv_.expect_continue || continue_sent_ || body_.finished() || responded_) return false;
    continue_sent_ = true;
    out_[0] = detail::static_view("HTTP/1.1 100 Continue\r\n\r\n"sv);
    return true;
  }
  // The body's next piece from in_ as the read's outcome (true), or false
  // when it needs more bytes (which the body's deadline then bounds);
  // `waited`: an earlier read waited.
  bool body_piece(bool waited) noexcept {
    view out;
    switch (body_.next(in_, out)) {
      case body_status::data: return finish(error::none, std::move(out));
      case body_status::done:
        if (waited) set_state(conn_state::busy, srv_->opt.send_timeout);
        return finish(error::none);
      case body_status::malformed: body_error_ = 400; return finish(error::malformed);
      case body_status::too_large: body_error_ = 413; return finish(error::too_large);
      case body_status::need_more: break;
    }
    if (slot_->state != conn_state::body) set_state(conn_state::body, srv_->opt.body_timeout);
    return false;
  }
  // Before a read: a consumed view may still hold its page, nor does a
  // waiting connection keep a head page.
  void drop_buffers() noexcept {
    for (view* v : {&in_, &scratch_, &out_[0], &out_[1], &out_[2]}) *v = view{};
  }
  scheduler& sched() const noexcept { return srv_->sched; }
  time_point no_pages_until() const noexcept { return srv_->sched.now() + std::chrono::milliseconds(1); }

  // The next batch to write into `batch`: at most send_piece bytes and 8
  // views, with a fresh deadline (so it measures progress); 0 when all is written.
  std::size_t next_batch(send_cursor& c, std::array<view, 8>& batch) noexcept {
    std::size_t k = 0, bytes = 0;
    while (k < batch.size() && bytes < send_piece) {
      if (c.rest.empty()) {
        while (c.part < c.parts.size() && c.next == c.parts[c.part].size()) ++c.part, c.next = 0;
        if (c.part == c.parts.size()) break;
        c.rest = c.parts[c.part][c.next++];
        continue;
      }
      const std::size_t take = c.rest.size() < send_piece - bytes ? c.rest.size() : send_piece - bytes;
      batch[k++] = c.rest.head(take);
      c.rest.drop_front(take);
      bytes += take;
    }
    if (k) slot_->deadline = srv_->sched.now() + srv_->opt.send_timeout;
    return k;
  }
  // A failed write: the connection closes.
  result<void> write_failed(error e) noexcept {
    failed_ = true;
    ++srv_->n.stream_errors;
    return fail(e);
  }

 private:
  void set_state(conn_state s, duration d) noexcept {
    slot_->state = s;
    slot_->deadline = srv_->sched.now() + d;
  }
  // More of a head's bytes, read into in_ (an error at the stream's end).
  transfer<void> read_head() noexcept {
    op_ = io_op::head;
    return transfer<void>(*this);
  }
  // A head's next bytes from in_; once the idle connection has some, it has
  // the header timeout to send the rest.
  head_status feed_head() noexcept {
    const head_status hs = reader_.feed(in_);
    if (slot_->state == conn_state::idle && reader_.pending() > 0)
      set_state(conn_state::head, srv_->opt.header_timeout);
    return hs;
  }

  // A request whose head is read (or refused, `hs`): true if it parsed. Its
  // answer is `answer`, awaited in one place (each await is code of its own):
  // an error for a bad head or the server's own (a file, a 405, a 404); or
  // `work` is set, a route's handler or a StreamStore's file, which runs first
  // (see after_handler).
  bool start_request(head_status hs, sending& answer, task<void>& work) {
    ++srv_->n.requests;
    if (hs != head_status::complete) reqv_.method = method::other, reqv_.minor = 1;  // no earlier request's
    int status = hs == head_status::line_too_long ? 414
                 : hs == head_status::too_large   ? 431
                                                  : parse_head(reader_.head(), reqv_, srv_->opt.limits);
    if (status == 0 && reqv_.method == method::other) status = 501;
    paramsv_ = {};
    responded_ = false;
    streaming_ = false;
    continue_sent_ = false;
    body_error_ = 0;
    if (status != 0) {
      keep_alive_ = false;
      answer = send_error(status);
      return false;
    }
    // A span per request (uni/trace/): a connection's requests follow one another, so its address names them.
    if constexpr (trace::compiled) trace::begin_span(request_span(), "http request");
    keep_alive_ = reqv_.keep_alive;
    body_.start(reqv_, srv_->opt.limits.max_body);
    set_state(conn_state::busy, srv_->opt.send_timeout);
    answer = route_or_answer(work);
    return true;
  }

  // What a route's handler (or a StreamStore's file) leaves to send: the
  // server's answer when it gave none (its body's 400 or 413, else 500), or a
  // streamed body's last chunk. A streamed body cut short by a bad request
  // body must not look complete: no last chunk, the connection just closes
  // (request_ended).
  sending after_handler() {
    if (!responded_ && !failed_) return send_error(body_error_ ? body_error_ : 500);
    if (streaming_ && !failed_ && !body_error_) return end_stream();
    return {};
  }

  // A parsed request's answer is sent: false if the connection must close at
  // once (a failed write, a streamed body cut short).
  bool request_ended() noexcept {
    if constexpr (trace::compiled) trace::end_span(request_span(), "http request");
    return !failed_ && !(streaming_ && body_error_);
  }

  // After an answer: true, and an idle wait for the next request, if the
  // connection is kept alive; else false, and it half-closes, then lingers,
  // reading (and dropping) what the client still sends, so our last response
  // is not destroyed by a reset (RFC 9112 §9.6).
  bool next_request() noexcept {
    if (keep_alive_) {
      reader_.reset();
      set_state(conn_state::idle, srv_->opt.idle_timeout);
      return true;
    }
    transport_shutdown();
    set_state(conn_state::closing, srv_->opt.linger);
    return false;
  }

  // A response's head (made once) and `body`: a whole response's, `length`
  // bytes, or a stream's start (no length, no body yet).
  sending head_then(int status, std::string_view content_type, const std::uint64_t* length,
                    std::span<const field> extra, std::span<const view> body) {
    if (responded_) return done(fail(error::invalid_argument));
    if (!length && reqv_.minor == 0) keep_alive_ = false;  // HTTP/1.0: the end of a stream is our FIN
    auto head = build_head(status, content_type, length, extra, nullptr);
    if (!head) return done(fail(head.err()));
    responded_ = true;
    if (length) ++srv_->n.responses;
    else streaming_ = reqv_.method != method::head;
    out_[0] = std::move(*head);
    return send(std::span<const view>(out_.data(), 1), body);
  }

  // An answer that needs no write, yielding `r`.
  sending done(result<void> r) {
    finish(r ? error::none : r.err());
    return sending(*this);
  }

  // Writes `first`, then `then`, then `last`, in pieces of at most send_piece
  // bytes (and 8 views), each with a fresh deadline (or a failed write's error).
  sending send(std::span<const view> first, std::span<const view> then = {}, std::span<const view> last = {}) {
    cursor_ = send_cursor{{first, then, last}, 0, 0, view{}};
    op_ = io_op::write;
    continuing_ = false;
    return sending(*this);
  }
  // A response's head and body: the head goes in the body's first write.
  sending send_with_head(view head, std::span<const view> body) {
    ++srv_->n.responses;
    out_[0] = std::move(head);
    return send(std::span<const view>(out_.data(), 1), body);
  }

  // Room in the connection's scratch page (a fresh page when it is short).
  result<std::span<std::uint8_t>> reserve(std::size_t n) noexcept {
    if (n > page_size) return fail(error::too_large);
    if (scratch_.empty() || page_size - scratch_used_ < n) {
      auto p = srv_->pool.allocate();
      if (!p) {
        ++srv_->n.out_of_pages;
        return fail(p.err());
      }
      scratch_ = std::move(*p);
      scratch_used_ = 0;
    }
    return std::span<std::uint8_t>(scratch_.data() + scratch_used_, page_size - scratch_used_);
  }
  view commit(std::size_t n) noexcept {
    view v = scratch_.slice(scratch_used_, n).value();
    scratch_used_ += n;
    return v;
  }

  struct range_info {
    std::uint64_t first, last, size;
  };
  // A response head: status, Date, Content-Type, Content-Length (when
  // `length`; chunked when streaming HTTP/1.1), Connection, extra fields.
  result<view> build_head(int status, std::string_view content_type, const std::uint64_t* length,
                          std::span<const field> extra, const range_info* range) noexcept {
    if (!body_.finished() && !body_error_) keep_alive_ = false;  // the unread body is not worth reading
    if (body_error_) keep_alive_ = false;
    // Most heads fit in a few hundred bytes of the current scratch page; one
    // with large extra fields gets a page of its own.
    for (const std::size_t want : {std::size_t{1024}, page_size}) {
      auto room = reserve(want);
      if (!room) return fail(room.err());
      auto n = write_head(room->first(want), status, content_type, length, extra, range);
      if (n) {
        detail::count_status(srv_->n, status);
        return commit(*n);
      }
      scratch_ = view{};
    }
    return fail(error::too_large);
  }
  std::optional<std::size_t> write_head(std::span<std::uint8_t> room, int status, std::string_view content_type,
                                        const std::uint64_t* length, std::span<const field> extra,
                                        const range_info* range) noexcept {
    head_writer w(room);
    w.status(status, reqv_.minor);
    if (srv_->opt.unix_time) w.field("Date"sv, srv_->http_date());
    w.field("Server"sv, "uni"sv);
    for (const field& f : extra) w.field(f.name, f.value);
    if (range) w.content_range(range->first, range->last, range->size);
    if (status != 304 && status != 204) {
      if (!content_type.empty()) w.field("Content-Type"sv, content_type);
      if (length) w.field("Content-Length"sv, *length);
      else if (reqv_.minor >= 1) w.field("Transfer-Encoding"sv, "chunked"sv);
    }
    if (!keep_alive_) w.field("Connection"sv, "close"sv);
    else if (reqv_.minor == 0) w.field("Connection"sv, "keep-alive"sv);
    return w.finish();
  }

  // The server's own answer for `status`: its reason as text/plain, by
  // respond(). A head that cannot be made fails the connection. (What it
  // yields is only for awaiting: a failed write has marked the connection failed.)
  sending send_error(int status, std::span<const field> extra = {}) {
    out_[1] = detail::static_view(reason(status));
    out_[2] = detail::static_view("\n"sv);
    auto sent = respond(status, "text/plain; charset=utf-8"sv, std::span<const view>(out_.data() + 1, 2), extra);
    if (!responded_) failed_ = true;
    return sent;
  }

  // The server's own answer to the request (a file from memory, a 405, a
  // 404), or none and `work` set when a route's handler or a StreamStore's
  // file answers. (A plain function: run awaits what it returns.)
  sending route_or_answer(task<void>& work) {
    int status = 404;
    // A 405's Allow text (80 bytes at most) is written into path_: it serves no
    // file, and a buffer of the connection needs no stack guard here.
    constexpr std::size_t allow_room = 80;
    char* const allow_text = path_;
    field allow{"Allow"sv, {}};
    if (const routes* r = srv_->opt.router) {
      const routes::route* found = nullptr;
      std::array<method, 8> methods{};
      std::size_t allowed = 0;
      switch (r->find(reqv_.method, reqv_.path, paramsv_, found, methods, allowed)) {
        case routes::outcome::found:
          if (found->fn) {
            work = found->fn(*this);
            return {};
          }
          return respond_at_once(*found);
        case routes::outcome::wrong_method: {
          std::size_t len = 0;
          for (std::size_t i = 0; i < allowed; ++i) {
            const std::string_view m = to_string(methods[i]);
            if (len + m.size() + 2 > allow_room) break;
            if (len) allow_text[len++] = ',', allow_text[len++] = ' ';
            for (char c : m) allow_text[len++] = c;
          }
          allow.value = {allow_text, len};
          status = 405;
          break;
        }
        case routes::outcome::none: break;
      }
    }
    // (send_error writes the Allow field into the head before it returns.)
    if (status == 405 || !srv_->opt.files) return send_error(status, std::span<const field>(&allow, status == 405 ? 1 : 0));
    // A file from opt.files: what answer_for (uni/http/files.hpp) picks, its
    // bytes sent as an unowned view of the store's memory, or, from a
    // StreamStore, read a page at a time (uni/http/stream_files.hpp), which
    // reads the decoded path when it starts: it is kept in path_. A path
    // that does not decode is a 400 (a 414 when longer than path_).
    std::string_view path;
    if (!decode_path(reqv_.path, path_, path)) return send_error(reqv_.path.size() > sizeof path_ ? 414 : 400);
    if (srv_->opt.files.streams()) {
      work = srv_->opt.files.send(*this, path);
      return {};
    }
    return answer_file(path);
  }

  // A responder's send, or the server's 500 when it gave none.
  sending respond_at_once(const routes::route& r) {
    auto sent = r.respond(*this);
    if (!responded_) return send_error(500);
    return sent;
  }

  // A file's answer from a store in memory (or its error), as one send.
  sending answer_file(std::string_view path) {
    file f;
    if (srv_->opt.files.find(path, f) != error::none) return send_error(404);
    if (!file_method()) return refuse_file_method();
    const std::uint64_t size = f.bytes.size();
    const file_answer a = answer_for(reqv_, size, f.etag());
    std::uint64_t length = 0;
    auto head = file_head(a, size, f.etag(), f.content_type, length);
    if (!head) return send_error(500);
    responded_ = true;
    f.bytes.drop_front(a.first);  // (within the file: answer_for picked them)
    f.bytes.truncate(length);
    out_[1] = std::move(f.bytes);
    const bool no_body = reqv_.method == method::head || length == 0;
    return send_with_head(std::move(*head), std::span<const view>(out_.data() + 1, no_body ? 0 : 1));
  }

  bool file_method() const noexcept { return reqv_.method == method::get || reqv_.method == method::head; }
  sending refuse_file_method() {
    const field allow{"Allow"sv, "GET, HEAD"sv};
    return send_error(405, std::span<const field>(&allow, 1));
  }
  // The head of a file's answer `a`; `length` is set to the body's bytes.
  result<view> file_head(const file_answer& a, std::uint64_t size, std::string_view etag, std::string_view content_type,
                         std::uint64_t& length) noexcept {
    std::array<field, 2> extra{field{"ETag"sv, etag}, field{"Accept-Ranges"sv, "bytes"sv}};
    length = 0;
    switch (a.status) {
      case 304:  // with the validator, no body
        return build_head(304, {}, nullptr, std::span<const field>(extra.data(), 1), nullptr);
      case 416: {
        const range_info none{1, 0, size};
        return build_head(416, {}, &length, extra, &none);
      }
      default: {
        length = size == 0 ? 0 : a.last - a.first + 1;
        const range_info range{a.first, a.last, size};
        return build_head(a.status, content_type, &length, extra, a.status == 206 ? &range : nullptr);
      }
    }
  }

 public:
  // ---- A file from a StreamStore, driven by uni/http/stream_files.hpp. These are
  // compiled only into a server given such a store.

  // The file is found, `size` bytes: its head is made (sent with the first
  // piece, or by end_file) and the bytes the body carries are returned, none
  // for HEAD, 304 or 416. error::invalid_argument for a method files refuse.
  result<file_window> start_file(std::uint64_t size, std::string_view etag, std::string_view content_type) noexcept {
    if (!file_method()) return fail(error::invalid_argument);
    const file_answer a = answer_for(reqv_, size, etag);
    std::uint64_t length = 0;
    auto head = file_head(a, size, etag, content_type, length);
    if (!head) return fail(head.err());
    responded_ = true;
    file_head_ = std::move(*head);
    if (reqv_.method == method::head) length = 0;
    return file_window{a.first, length};
  }
  // The next bytes of the body (the head goes with the first).
  task<result<void>> send_file(std::span<const view> data) {
    if (file_head_.empty()) co_return co_await send(data);
    ++srv_->n.responses;
    std::array<view, 8> first{std::move(file_head_)};  // one write for the head and the first views
    const std::size_t k = data.size() < first.size() - 1 ? data.size() : first.size() - 1;
    for (std::size_t i = 0; i < k; ++i) first[i + 1] = data[i];
    if (auto w = co_await send(std::span<const view>(first.data(), k + 1)); !w) co_return w;
    co_return co_await send(data.subspan(k));
  }
  // The file's end, `r` saying how it went: a file not found (or a method
  // refused) before anything was sent is answered here; a body cut short
  // closes the connection, as its length promised more.
  task<void> end_file(result<void> r) {
    if (!r && !file_head_.empty()) {  // nothing sent yet: the error can still be answered
      file_head_ = view{};
      responded_ = false;
    }
    if (!r && !responded_) {
      if (r.err() == error::invalid_argument) (void)co_await refuse_file_method();
      else (void)co_await send_error(r.err() == error::not_found ? 404 : 500);
      co_return;
    }
    if (!r) {
      if (!failed_) ++srv_->n.stream_errors;  // (a failed write has counted itself)
      failed_ = true;
      co_return;
    }
    if (!file_head_.empty()) (void)co_await send_file({});
  }

 private:
  // (After the fields, its base: the large buffers.)
  head_reader<max_head_bytes> reader_;
  char path_[1024];  // a request's decoded path, while its file is answered (or a 405's Allow text)
};

// The connection over a concrete stream type.
template <class Stream>
class stream_connection final : public connection {
  static_assert(ByteStream<Stream>,
                "uni::http: a connection's Stream must be a ByteStream: read(), write(std::span<const view>), "
                "write(const view&), shutdown() noexcept, close() noexcept (see uni/net/transport.hpp)");

 public:
  stream_connection(server_state& srv, conn_watch& slot, Stream s) noexcept : connection(srv, slot), s_(std::move(s)) {}

 private:
  bool start_transfer(std::coroutine_handle<> h) noexcept override {
    if constexpr (PollingByteStream<Stream>) {
      time_point until = time_never;
      if (poll(s_, wake_reason::none, until)) return false;
      waiting_ = h;
      if constexpr (trace::compiled) trace::set_task(woken_, trace::current_task);
      s_.events().wait_until(woken_, until);
      return true;
    } else {
      pump_ = pump();
      return std::move(pump_).operator co_await().await_suspend(h);
    }
  }
  // On the stream's events (or at the deadline): the transfer's next step, and
  // the awaiting coroutine resumed once it has its outcome.
  void on_event(wake_reason why) noexcept {
    if constexpr (PollingByteStream<Stream>) {
      time_point until = time_never;
      if (!poll(s_, why, until)) return s_.events().wait_until(woken_, until);
      if constexpr (trace::compiled) trace::current_task = trace::task_of(woken_);  // the awaiting task's
      waiting_.resume();  // (then nothing of this: the connection may end in it)
      if constexpr (trace::compiled) trace::current_task = 0;
    }
  }
  struct event_fn {
    stream_connection* c;
    void operator()(wake_reason why) const noexcept { c->on_event(why); }
  };

  // The transfer over a stream that does not poll: its read() and write() awaited.
  task<void> pump() {
    if (op_ == io_op::write) {
      error sent = error::none;
      for (std::size_t k; (k = next_batch(cursor_, batch_)) != 0;)
        if (auto w = co_await s_.write(std::span<const view>(batch_.data(), k)); !w) {
          sent = write_failed(w.err()).err();
          break;
        }
      end_write();
      if (sent != error::none || !continuing_) {
        finish(sent);
        co_return;
      }
      continuing_ = false;
      op_ = io_op::body;
    }
    while (op_ != io_op::none) {
      if (op_ == io_op::body) {
        if (body_piece(waited_)) co_return;
        waited_ = true;
      }
      drop_buffers();
      read_step step;
      while ((step = took(co_await s_.read())) == read_step::no_pages) co_await sched().sleep_until(no_pages_until());
      if (step == read_step::ended) finish(read_ended(op_ == io_op::body));
      else if (op_ == io_op::head) finish(error::none);
    }
  }

  void transport_shutdown() noexcept override { (void)s_.shutdown(); }
  Stream s_;
  // (After the stream: they leave its queue, or end their wait on it, first.)
  std::coroutine_handle<> waiting_;  // the coroutine awaiting the transfer
  event_fn event_fn_{this};
  callback_waiter woken_{event_fn_};
  task<void> pump_;
};

template <class Stream>
task<void> connection::run(server_state& srv, conn_watch& slot, Stream s) {
  stream_connection<Stream> conn(srv, slot, std::move(s));
  connection& c = conn;
  bool open = c.next_request();
  while (true) {
    // One read for a head's bytes and for those dropped while closing (each
    // await is code of its own).
    if (!open || c.in_.empty()) {
      if (!co_await c.read_head()) co_return;  // (it drops the bytes read before)
      if (!open) continue;
    }
    const head_status hs = c.feed_head();
    if (hs == head_status::need_more) continue;
    sending answer;
    task<void> work;
    const bool parsed = c.start_request(hs, answer, work);
    if (work.valid()) {
      co_await std::move(work);
      answer = c.after_handler();
    }
    if (answer.valid()) (void)co_await answer;
    if (parsed && !c.request_ended()) co_return;
    open = c.next_request();
  }
}

namespace detail {
// The task serving one connection over `s`.
template <class Stream>
task<void> run_connection(server_state& srv, conn_watch& slot, Stream s) {
  return connection::run(srv, slot, std::move(s));
}
}  // namespace detail

}  // namespace uni::http
