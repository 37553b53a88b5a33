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
    return bad();
  }

  bool finished() const noexcept { return mode_ == mode::none; }
  std::uint64_t received() const noexcept { return total_; }

  // Takes the next piece of body from the front of `in`.
  body_status next(view& in, view& out) noexcept {
    out = view{};
    switch (mode_) {
      case mode::none: return body_status::done;
      case mode::failed: return body_status::malformed;
      case mode::length:
        if (remaining_ == 0) return end();
        break;
      case mode::chunked:
        if (st_ != st::data) {
          const body_status s = chunk_lines(in);
          if (s != body_status::data) return s;
        }
        break;
      case mode::to_close:
        if (in.empty()) return body_status::need_more;
        if (in.size() > max_ - total_) return fail(body_status::too_large);
        total_ += in.size();
        out = std::move(in);  // leaves `in` empty
        return body_status::data;
    }
    // A Content-Length body or a chunk's data: up to `remaining_` bytes, no
    // copy; once they are all out, the body ends or the chunk's CRLF follows.
    if (in.empty()) return body_status::need_more;
    const std::size_t n = in.size() < remaining_ ? in.size() : static_cast<std::size_t>(remaining_);
    out = in.head(n);
    in.drop_front(n);
    remaining_ -= n;
    total_ += n;
    if (remaining_ == 0) {
      if (mode_ == mode::length) mode_ = mode::none;
      else st_ = st::data_end;
    }
    return body_status::data;
  }

 private:
  enum class mode : std::uint8_t { none, length, chunked, to_close, failed };
  // The line being read (each ends in CRLF; `cr_` once its CR is seen), or data.
  // size: the chunk size's hex digits; ext: what follows them (chunk-ext, §7.1.1);
  // data_end: the empty line after a chunk's data; trailer: a trailer line, or
  // the empty line that ends the message.
  enum class st : std::uint8_t { size, ext, data, data_end, trailer };

  body_status end() noexcept {
    mode_ = mode::none;
    return body_status::done;
  }
  body_status fail(body_status s) noexcept {
    mode_ = mode::failed;
    return s;
  }
  body_status bad() noexcept { return fail(body_status::malformed); }

  static int hex(std::uint8_t c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;  // lower case
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  }

  // Reads the lines of a chunked body until a chunk's data begins (`data`),
  // the body ends, it fails, or `in` is used up (`need_more`).
  body_status chunk_lines(view& in) noexcept {
    body_status s = body_status::need_more;
    std::size_t used = 0;
    while (s == body_status::need_more && used < in.size()) s = line_byte(in[used++]);
    in.drop_front(used);
    return s;
  }

  // One byte of a chunk-size line, of the CRLF after a chunk's data or of the
  // trailer: `need_more` to go on.
  body_status line_byte(std::uint8_t c) noexcept {
    if (cr_) {  // the line's LF
      if (c != '\n') return bad();
      cr_ = false;
      const std::size_t length = line_;
      line_ = 0;
      if (st_ == st::data_end) {
        st_ = st::size;
      } else if (st_ == st::trailer) {
        if (length == 0) return end();  // the empty line ends the message
      } else {  // the chunk-size line
        if (remaining_ > max_ - total_) return fail(body_status::too_large);
        if (remaining_ != 0) {
          st_ = st::data;
          return body_status::data;
        }
        st_ = st::trailer;
      }
      return body_status::need_more;
    }
    // `line_` counts the size digits, then the extension bytes, or a trailer line's bytes.
    switch (st_) {
      case st::size: {
        const int h = hex(c);
        if (h >= 0) {
          if (++line_ > max_size_digits) return bad();
          remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(h);
        } else if (line_ == 0) {
          return bad();
        } else if (c == '\r') {
          cr_ = true;
        } else if (c == ';' || c == ' ' || c == '\t') {  // chunk-ext, ignored
          st_ = st::ext;
          line_ = 0;
        } else {
          return bad();
        }
        break;
      }
      case st::ext:
        if (c == '\r') cr_ = true;
        else if (++line_ > max_line_extra || c == '\n' || c == 0) return bad();
        break;
      case st::data_end:
        if (c != '\r') return bad();
        cr_ = true;
        break;
      case st::trailer:
        // Trailer fields are read and dropped (RFC 9112 §7.1.2); bounded.
        if (++trailer_bytes_ > max_trailer_bytes) return bad();
        if (c == '\r') cr_ = true;
        else if (c == '\n' || c == 0) return bad();
        else ++line_;
        break;
      case st::data: break;  // not reached: next() hands data out
    }
    return body_status::need_more;
  }

  mode mode_ = mode::none;
  st st_ = st::size;
  std::uint64_t remaining_ = 0;
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
  bool cr_ = false;
  std::size_t line_ = 0;
  std::size_t trailer_bytes_ = 0;
};

}  // namespace uni::http
