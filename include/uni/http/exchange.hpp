// uni/http/exchange.hpp: one request and its response, as a dynamic handler
// sees them (uni/http/router.hpp). The server's connection implements it over
// whichever TCP stream it runs on, so a handler is compiled once for every stack.
//
// Body bytes come as views of received pages (read_body; an empty view at the
// end). A response is either whole (respond: head and body views in one write)
// or streamed (start_stream, write_stream..., end_stream: chunked for HTTP/1.1,
// delimited by closing the connection for HTTP/1.0; a handler that returns
// without end_stream has it sent by the server). Views sent must stay valid
// until the peer acknowledges them: static memory, or pool pages from scratch().
//
// Each read or write is a transfer, awaited once (co_await yields its result)
// before the next call: the connection does it itself when awaited, polling its
// stream between waits, with no coroutine of its own.
#pragma once

#include <array>
#include <coroutine>
#include <cstddef>
#include <span>
#include <string_view>
#include <type_traits>

#include <uni/core/buffer.hpp>
#include <uni/core/result.hpp>
#include <uni/core/task.hpp>
#include <uni/http/request.hpp>

namespace uni::http {

struct path_params {
  std::array<field, 8> items{};  // name: the pattern's ":name" (or "*"), value: the segment
  std::size_t count = 0;
  std::string_view get(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < count; ++i)
      if (items[i].name == name) return items[i].value;
    return {};
  }
};

// The raw value of `name` in a query string "a=1&b=2" (not percent-decoded),
// empty if absent.
constexpr std::string_view query_value(std::string_view query, std::string_view name) noexcept {
  while (!query.empty()) {
    std::string_view value = detail::take_until(query, '&');  // name=value (or a bare name)
    if (detail::take_until(value, '=') == name) return value;
  }
  return {};
}

class exchange;

// How a transfer ended: an error, or none and (a read's) the bytes.
struct transfer_outcome {
  view bytes;
  error err = error::none;
};

// A read or write of an exchange, as its call left it: co_await does it and
// yields its result (result<view> for read_body, result<void> for the writes).
// An empty one (made by default) is none: a responder that cannot answer
// returns it.
template <class T>
class [[nodiscard]] transfer {
 public:
  transfer() noexcept = default;
  explicit transfer(exchange& ex) noexcept : ex_(&ex) {}
  bool valid() const noexcept { return ex_ != nullptr; }

  bool await_ready() const noexcept { return false; }
  inline bool await_suspend(std::coroutine_handle<> h) noexcept;
  inline result<T> await_resume() noexcept;

 private:
  exchange* ex_ = nullptr;
};
using sending = transfer<void>;

class exchange {
 public:
  const http::request& request() const noexcept { return *req_; }
  std::string_view param(std::string_view name) const noexcept { return params_->get(name); }
  std::string_view query(std::string_view name) const noexcept { return query_value(req_->query, name); }
  bool responded() const noexcept { return responded_; }

  // The next piece of the request body; an empty view at its end. Errors:
  // error::malformed (bad chunked framing: the server answers 400),
  // error::too_large (past limits::max_body: 413), or the stream's.
  virtual transfer<view> read_body() = 0;

  // Writable pool memory (at most a page) for building a body; send it as is
  // or a head() of it.
  virtual result<view> scratch(std::size_t bytes) noexcept = 0;

  virtual sending respond(int status, std::string_view content_type, std::span<const view> body,
                          std::span<const field> extra = {}) = 0;
  // A body of one view (a scratch() page, or static memory) that the
  // connection keeps until it is sent: what a responder answers with, whose
  // locals are gone when the send runs.
  virtual sending respond(int status, std::string_view content_type, view body) = 0;
  // A body of static text (a literal: it outlives the send).
  sending respond_static(int status, std::string_view content_type, std::string_view text) {
    return respond(status, content_type,
                   view::unowned(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()),
                                                               text.size())));
  }

  virtual sending start_stream(int status, std::string_view content_type, std::span<const field> extra = {}) = 0;
  virtual sending write_stream(std::span<const view> data) = 0;
  virtual sending end_stream() = 0;

 protected:
  exchange() noexcept = default;
  ~exchange() = default;

  template <class>
  friend class transfer;
  // Starts the transfer the last call set up, to resume `h` when it has its
  // outcome: false if it has it already (h goes on at once).
  virtual bool start_transfer(std::coroutine_handle<> h) noexcept = 0;

  // (Pointers to the implementation's: the members after them stay near the
  // start of the object, at short offsets.)
  const http::request* req_ = nullptr;
  const path_params* params_ = nullptr;
  transfer_outcome* outcome_ = nullptr;  // the last transfer's
  bool responded_ = false;
};

template <class T>
bool transfer<T>::await_suspend(std::coroutine_handle<> h) noexcept {
  return ex_->start_transfer(h);
}
template <class T>
result<T> transfer<T>::await_resume() noexcept {
  transfer_outcome& o = *ex_->outcome_;
  if (o.err != error::none) return fail(o.err);
  if constexpr (std::is_void_v<T>) return {};
  else return std::move(o.bytes);
}

}  // namespace uni::http
