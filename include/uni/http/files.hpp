// uni/http/files.hpp: static files for the HTTP server, from any read-only
// key-value store (uni/kv/concepts.hpp): the files compiled into the image
// (uni/kv/embedded.hpp) or, on POSIX, a directory (uni/posix/directory_store.hpp).
// The store holds bytes and digests; the HTTP names are made here: a request
// path becomes a key, the digest quoted is the ETag, the key's extension gives
// the Content-Type, and the request's conditional and range fields pick what
// is sent (RFC 9110 §13.1.2 If-None-Match, §14.2 Range, §13.1.5 If-Range).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <uni/core/buffer.hpp>
#include <uni/core/result.hpp>
#include <uni/core/task.hpp>
#include <uni/http/request.hpp>
#include <uni/http/response.hpp>
#include <uni/kv/concepts.hpp>
#include <uni/kv/embedded.hpp>

namespace uni::http {

// Percent-decodes a request path (RFC 3986 §2.1) into `out`; false if it is
// malformed, too long, decodes to a NUL, or has a "." or ".." segment or a
// backslash.
inline bool decode_path(std::string_view in, std::span<char> out, std::string_view& decoded) noexcept {
  auto hexval = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (in.empty() || in.front() != '/') return false;
  // Dot segments would climb out of a served directory: refused, not resolved.
  // They are seen in the decoded bytes as they are written: `seg` counts the
  // current segment's bytes, `dots` its dots.
  std::size_t n = 0, seg = 0, dots = 0;
  auto dot_segment = [&] { return seg == dots && (dots == 1 || dots == 2); };
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int h = hexval(in[i + 1]), l = hexval(in[i + 2]);
      if (h < 0 || l < 0) return false;
      c = static_cast<char>(h * 16 + l);
      if (c == '\0') return false;
      i += 2;
    }
    if (c == '/') {
      if (dot_segment()) return false;
      seg = dots = 0;
    } else {
      if (c == '\\') return false;
      ++seg;
      dots += c == '.' ? 1 : 0;
    }
    if (n == out.size()) return false;
    out[n++] = c;
  }
  if (dot_segment()) return false;
  decoded = {out.data(), n};
  return true;
}

// The key a decoded path names, written into `out`: the path without its
// leading '/', and a path ending in '/' means its index.html. False if it does
// not fit.
inline bool key_for_path(std::string_view path, std::span<char> out, std::string_view& key) noexcept {
  if (path.empty() || path.front() != '/') return false;
  path.remove_prefix(1);
  constexpr std::string_view index = "index.html";
  const bool directory = path.empty() || path.back() == '/';
  const std::size_t n = path.size() + (directory ? index.size() : 0);
  if (n > out.size()) return false;
  std::size_t k = 0;
  for (char c : path) out[k++] = c;
  if (directory)
    for (char c : index) out[k++] = c;
  key = {out.data(), n};
  return true;
}

class connection;
template <kv::StreamStore S>
class stream_files;

// The bytes of a file a response's body carries: [first, first + length).
struct file_window {
  std::uint64_t first = 0, length = 0;
};

// A file found: its bytes (unowned, valid for the run), ETag and Content-Type.
struct file {
  view bytes;
  std::string_view content_type;
  std::array<char, kv::digest::capacity + 2> etag_text{};
  std::size_t etag_size = 0;

  std::string_view etag() const noexcept { return {etag_text.data(), etag_size}; }
};

// The file at `key` of a store, into `f`: its bytes, its digest quoted as the
// ETag, the key's Content-Type.
inline void make_file(view bytes, std::string_view digest, std::string_view key, file& f) noexcept {
  f.bytes = std::move(bytes);
  f.content_type = content_type_for(key);
  const std::size_t n = digest.size() < kv::digest::capacity ? digest.size() : kv::digest::capacity;
  f.etag_text[0] = '"';
  for (std::size_t i = 0; i < n; ++i) f.etag_text[i + 1] = digest[i];
  f.etag_text[n + 1] = '"';
  f.etag_size = n + 2;
}

// Any ReadOnlyStore, reached through one function pointer so that the
// connection's code is compiled once, whatever holds the files; or a
// StreamStore behind stream_files (uni/http/stream_files.hpp), which then
// drives the connection itself.
class file_source {
 public:
  constexpr file_source() noexcept = default;
  template <kv::ReadOnlyStore S>
  file_source(S& store) noexcept : store_(&store), find_(&find_in<S>) {}
  // The files compiled in: bytes and digest from one lookup of the key.
  file_source(kv::embedded_store& store) noexcept : store_(&store), find_(&find_embedded) {}
  template <kv::StreamStore S>
  file_source(stream_files<S>& files) noexcept : store_(&files), send_(&stream_files<S>::send) {}

  explicit operator bool() const noexcept { return find_ != nullptr || send_ != nullptr; }
  bool streams() const noexcept { return send_ != nullptr; }

  // Answers the request on `c` with the file at a decoded request path (a
  // StreamStore's source only; `path` must outlive the wait).
  task<void> send(connection& c, std::string_view path) const { return send_(store_, c, path); }

  // The file at a decoded request path, into `out`: error::none, or
  // error::not_found when there is none (including for paths no key can name,
  // such as "//x"), or the store's error.
  error find(std::string_view path, file& out) const noexcept {
    char buf[kv::max_key];
    std::string_view key;
    if (!key_for_path(path, buf, key)) return error::not_found;
    return find_(store_, key, out);  // (a store refuses what is no key: not found)
  }

 private:
  template <class S>
  static error find_in(void* store, std::string_view key, file& out) noexcept {
    S& s = *static_cast<S*>(store);
    auto bytes = s.get(key);
    if (!bytes) return bytes.err() == error::invalid_argument ? error::not_found : bytes.err();
    auto d = s.digest(key);
    if (!d) return d.err();
    make_file(std::move(*bytes), d->text(), key, out);
    return error::none;
  }
  // (What is no key names no entry: the table holds only keys.)
  static error find_embedded(void* store, std::string_view key, file& out) noexcept {
    const kv::embedded_entry* e = static_cast<const kv::embedded_store*>(store)->entry(key);
    if (!e) return error::not_found;
    make_file(view::unowned(e->bytes()), e->digest, key, out);
    return error::none;
  }

  void* store_ = nullptr;
  error (*find_)(void*, std::string_view, file&) noexcept = nullptr;
  task<void> (*send_)(void*, connection&, std::string_view) = nullptr;
};

// What a GET or HEAD of a file of `size` bytes answers: 304 when If-None-Match
// names its ETag, 206 for one satisfiable range (GET only, unless If-Range names
// another version), 416 for an unsatisfiable one, else 200.
struct file_answer {
  int status = 200;
  std::uint64_t first = 0, last = 0;  // the bytes sent (inclusive) for 200 and 206
};
inline file_answer answer_for(const request& r, std::uint64_t size, std::string_view etag) noexcept {
  if (const std::string_view inm = r.header("if-none-match"sv); !inm.empty() && etag_matches(inm, etag)) return {304};
  file_answer a{200, 0, size == 0 ? 0 : size - 1};
  if (const std::string_view rh = r.header("range"sv); !rh.empty() && r.method == method::get) {
    const std::string_view if_range = r.header("if-range"sv);
    if (if_range.empty() || if_range == etag) {
      byte_range br;
      switch (parse_range(rh, size, br)) {
        case range_result::whole: break;
        case range_result::partial: a = {206, br.first, br.last}; break;
        case range_result::unsatisfiable: return {416};
      }
    }
  }
  return a;
}

}  // namespace uni::http
