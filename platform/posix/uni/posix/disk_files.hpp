// uni/posix/disk_files.hpp: static files served from a directory on disk (POSIX
// targets only), with the same entry type as the compiled-in file system
// (uni/http/static_fs.hpp), so the server sends them the same way: as unowned
// views, never copied. Each file is mapped read-only on first use and stays
// mapped for the rest of the run, since TCP may retransmit from it until the
// peer acknowledges; a file changed on disk (inode, size or mtime differ) is
// mapped again beside the old mapping. The number of mappings is bounded.
// The ETag is derived from inode, size and modification time.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <map>
#include <string>
#include <string_view>

#include <uni/core/log.hpp>
#include <uni/http/response.hpp>
#include <uni/http/static_fs.hpp>

namespace uni::posix {

class disk_files {
 public:
  static constexpr std::size_t max_mappings = 4096;

  explicit disk_files(std::string root) : root_(std::move(root)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  }
  disk_files(const disk_files&) = delete;
  disk_files& operator=(const disk_files&) = delete;
  // Mappings are not undone: views of them may still be queued in TCP when the
  // server stops, and the process ends soon after.

  // The file at a decoded, dot-free request path (the server checked it), or nullptr.
  const http::embedded_file* find(std::string_view path) {
    std::string full = root_;
    full.append(path);
    if (!path.empty() && path.back() == '/') full += "index.html";
    struct stat st {};
    if (::stat(full.c_str(), &st) != 0) return nullptr;
    if (S_ISDIR(st.st_mode)) return nullptr;
    if (!S_ISREG(st.st_mode)) return nullptr;
    auto it = by_path_.find(full);
    if (it != by_path_.end()) {
      const entry& e = *it->second;
      if (e.ino == st.st_ino && e.size == static_cast<std::uint64_t>(st.st_size) && e.mtime_ns == mtime_ns(st))
        return &e.file;
    }
    if (entries_.size() == max_mappings) {
      log_warn("www: ", max_mappings, " files mapped already; not serving ", full);
      return nullptr;
    }
    const int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nullptr;
    const auto size = static_cast<std::size_t>(st.st_size);
    const std::uint8_t* data = reinterpret_cast<const std::uint8_t*>("");
    if (size > 0) {
      void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (m == MAP_FAILED) {
        ::close(fd);
        return nullptr;
      }
      data = static_cast<const std::uint8_t*>(m);
    }
    ::close(fd);
    entry& e = entries_.emplace_back();
    e.path = full.substr(root_.size());
    e.ino = st.st_ino;
    e.size = size;
    e.mtime_ns = mtime_ns(st);
    char tag[64];
    const int n = std::snprintf(tag, sizeof tag, "\"%llx-%llx-%llx\"", static_cast<unsigned long long>(e.ino),
                                static_cast<unsigned long long>(e.size),
                                static_cast<unsigned long long>(e.mtime_ns));
    e.etag.assign(tag, static_cast<std::size_t>(n));
    e.file = http::embedded_file{e.path, data, data + size, e.etag, http::content_type_for(e.path)};
    by_path_[full] = &e;
    return &e.file;
  }

 private:
  struct entry {
    std::string path, etag;
    std::uint64_t ino = 0, size = 0, mtime_ns = 0;
    http::embedded_file file{};
  };
  static std::uint64_t mtime_ns(const struct stat& st) noexcept {
    return static_cast<std::uint64_t>(st.st_mtim.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(st.st_mtim.tv_nsec);
  }

  std::string root_;
  std::deque<entry> entries_;  // stable addresses
  std::map<std::string, entry*, std::less<>> by_path_;
};

}  // namespace uni::posix
