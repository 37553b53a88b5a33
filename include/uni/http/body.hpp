// uni/http/body.hpp: message bodies (RFC 9112 §6, §7.1): Content-Length,
// chunked, and (responses only) delimited by the end of the connection, decoded
// incrementally from received views. The data handed out is
// a slice of the received view (no copy); only chunk-size lines and trailers
// are read, byte by byte, through a small state machine with bounds on the
// chunk-size digits, the extension bytes and the trailer bytes. The total is
// bounded by limits::max_body (413).
#pragma once

#include <cstddef>
#include <cstdint>

#include <uni/core/buffer.hpp>
#include <uni/http/request.hpp>

namespace uni::http {

enum class body_status : std::uint8_t {
  data,       // `out` holds the next bytes of the body
  need_more,  // `in` is used up; read more
  done,       // the body is complete (bytes after it in `in` are the next request's)
  malformed,  // 400
  too_large,  // 413
};

class body_decoder {
 public:
  static constexpr std::size_t max_size_digits = 16;   // 64-bit hex
  static constexpr std::size_t max_line_extra = 256;   // chunk extensions, whitespace
  static constexpr std::size_t max_trailer_bytes = 4096;

  void start(const request& r, std::uint64_t max_body) noexcept { start(r.framing, r.content_length, max_body); }
  // `to_close`: a response body that ends with the connection (RFC 9112 §6.3 item 8).
  void start(body_framing f, std::uint64_t content_length, std::uint64_t max_body, bool to_close = false) noexcept {
    *this = body_decoder{};
    max_ = max_body;
    if (f == body_framing::length) {
      mode_ = mode::length;
      remaining_ = content_length;
    } else if (f == body_framing::chunked) {
      mode_ = mode::chunked;
      st_ = st::size;
    } else if (to_close) {
      mode_ = mode::to_close;
    }
  }
  // The connection ended: complete for a body delimited by it, else truncated.
  body_status at_end_of_stream() noexcept {
    if (mode_ == mode::to_close || mode_ == mode::none) return end();
    mode_ = mode::failed;
    return body_status::malformed;
  }

  bool finished() const noexcept { return mode_ == mode::none; }
  std::uint64_t received() const noexcept { return total_; }

  // Takes the next piece of body from the front of `in`.
  body_status next(view& in, view& out) noexcept {
    out = view{};
    switch (mode_) {
      case mode::none: return body_status::done;
      case mode::failed: return body_status::malformed;
      case mode::length: {
        if (remaining_ == 0) return end();
        if (in.empty()) return body_status::need_more;
        const std::size_t n = in.size() < remaining_ ? in.size() : static_cast<std::size_t>(remaining_);
        out = in.head(n);
        in.drop_front(n);
        remaining_ -= n;
        total_ += n;
        if (remaining_ == 0) mode_ = mode::none;
        return body_status::data;
      }
      case mode::chunked: return chunked(in, out);
      case mode::to_close: {
        if (in.empty()) return body_status::need_more;
        if (in.size() > max_ - total_) {
          mode_ = mode::failed;
          return body_status::too_large;
        }
        total_ += in.size();
        out = std::move(in);
        in = view{};
        return body_status::data;
      }
    }
    return body_status::malformed;
  }

 private:
  enum class mode : std::uint8_t { none, length, chunked, to_close, failed };
  // size: hex digits; ext: after the digits up to CR; size_lf: LF of the size
  // line; data; data_cr/data_lf: CRLF after the data; trailer: a trailer line
  // (or the final empty line) from its first byte; trailer_lf: LF ending it.
  enum class st : std::uint8_t { size, ext, size_lf, data, data_cr, data_lf, trailer, trailer_lf };

  body_status end() noexcept {
    mode_ = mode::none;
    return body_status::done;
  }
  body_status bad() noexcept {
    mode_ = mode::failed;
    return body_status::malformed;
  }

  static int hex(std::uint8_t c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  body_status chunked(view& in, view& out) noexcept {
    while (!in.empty()) {
      if (st_ == st::data) {
        const std::size_t n = in.size() < remaining_ ? in.size() : static_cast<std::size_t>(remaining_);
        out = in.head(n);
        in.drop_front(n);
        remaining_ -= n;
        total_ += n;
        if (remaining_ == 0) st_ = st::data_cr;
        return body_status::data;
      }
      const std::uint8_t c = in[0];
      in.drop_front(1);
      switch (st_) {
        case st::size: {
          const int h = hex(c);
          if (h >= 0) {
            if (++digits_ > max_size_digits) return bad();
            remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(h);
            break;
          }
          if (digits_ == 0) return bad();
          if (c == '\r') st_ = st::size_lf;
          else if (c == ';' || c == ' ' || c == '\t') st_ = st::ext;  // chunk-ext (§7.1.1), ignored
          else return bad();
          break;
        }
        case st::ext:
          if (c == '\r') st_ = st::size_lf;
          else if (++extra_ > max_line_extra || c == '\n' || c == 0) return bad();
          break;
        case st::size_lf:
          if (c != '\n') return bad();
          if (remaining_ > max_ - total_) {
            mode_ = mode::failed;
            return body_status::too_large;
          }
          digits_ = 0;
          extra_ = 0;
          st_ = remaining_ == 0 ? st::trailer : st::data;
          line_ = 0;
          break;
        case st::data_cr:
          if (c != '\r') return bad();
          st_ = st::data_lf;
          break;
        case st::data_lf:
          if (c != '\n') return bad();
          st_ = st::size;
          break;
        case st::trailer:
          // Trailer fields are read and dropped (RFC 9112 §7.1.2); bounded.
          if (++trailer_bytes_ > max_trailer_bytes) return bad();
          if (c == '\r') st_ = st::trailer_lf;
          else if (c == '\n' || c == 0) return bad();
          else ++line_;
          break;
        case st::trailer_lf:
          if (c != '\n') return bad();
          if (line_ == 0) return end();  // the empty line ends the message
          line_ = 0;
          st_ = st::trailer;
          break;
        case st::data: break;
      }
    }
    return body_status::need_more;
  }

  mode mode_ = mode::none;
  st st_ = st::size;
  std::uint64_t remaining_ = 0;
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
  std::size_t digits_ = 0;
  std::size_t extra_ = 0;
  std::size_t line_ = 0;
  std::size_t trailer_bytes_ = 0;
};

}  // namespace uni::http
