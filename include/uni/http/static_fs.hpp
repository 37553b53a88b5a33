// uni/http/static_fs.hpp: a read-only file system compiled into the appliance
// (Mirage's crunch). uni_embed_files() in CMake (cmake/uniEmbed.cmake) turns a
// directory into a generated source: every file's bytes are assembled into
// .rodata with .incbin (no hex dump, so a 100 MB file costs nothing to build),
// and a table sorted by path gives each file's bytes, its strong ETag (a prefix
// of the SHA-256 of its contents, computed at configure time) and Content-Type.
// Serving a file is a view of that memory: unowned, never copied, valid for the
// whole run, which is what TCP needs of bytes it may retransmit.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace uni::http {

struct embedded_file {
  std::string_view path;  // "/index.html"
  const std::uint8_t* begin;
  const std::uint8_t* end;
  std::string_view etag;  // quoted, e.g. "\"3a7bd3e2360a3d29\""
  std::string_view content_type;

  std::span<const std::uint8_t> bytes() const noexcept {
    return {begin, static_cast<std::size_t>(end - begin)};
  }
};

// Defined by the source uni_embed_files() generates: the files, sorted by path.
std::span<const embedded_file> embedded_files() noexcept;

// Percent-decodes a request path (RFC 3986 §2.1) into `out`; false if it is
// malformed, too long, decodes to a NUL, or has a "." or ".." segment.
inline bool decode_path(std::string_view in, std::span<char> out, std::string_view& decoded) noexcept {
  auto hexval = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (in.empty() || in.front() != '/') return false;
  std::size_t n = 0;
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
    if (n == out.size()) return false;
    out[n++] = c;
  }
  decoded = {out.data(), n};
  // Dot segments would climb out of a served directory: refused, not resolved.
  std::string_view rest = decoded;
  while (!rest.empty()) {
    rest.remove_prefix(1);  // the '/'
    const std::size_t slash = rest.find('/');
    const std::string_view seg = rest.substr(0, slash);
    if (seg == "." || seg == ".." || seg.find('\\') != std::string_view::npos) return false;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash);
  }
  return true;
}

class static_fs {
 public:
  constexpr static_fs() noexcept = default;
  constexpr explicit static_fs(std::span<const embedded_file> files) noexcept : files_(files) {}

  // The file at a decoded path; a path ending in '/' means its index.html.
  const embedded_file* find(std::string_view path) const noexcept {
    if (!path.empty() && path.back() == '/') {
      char buf[1024];
      if (path.size() + 10 > sizeof buf) return nullptr;
      std::copy(path.begin(), path.end(), buf);
      std::copy_n("index.html", 10, buf + path.size());
      return exact({buf, path.size() + 10});
    }
    return exact(path);
  }
  // Is there an index.html under `path` + '/' (for a redirect from a directory name)?
  bool is_directory(std::string_view path) const noexcept {
    char buf[1024];
    if (path.size() + 11 > sizeof buf) return false;
    std::copy(path.begin(), path.end(), buf);
    std::copy_n("/index.html", 11, buf + path.size());
    return exact({buf, path.size() + 11}) != nullptr;
  }

  std::span<const embedded_file> files() const noexcept { return files_; }

 private:
  const embedded_file* exact(std::string_view path) const noexcept {
    auto it = std::lower_bound(files_.begin(), files_.end(), path,
                               [](const embedded_file& f, std::string_view p) { return f.path < p; });
    return it != files_.end() && it->path == path ? &*it : nullptr;
  }
  std::span<const embedded_file> files_;
};

}  // namespace uni::http
