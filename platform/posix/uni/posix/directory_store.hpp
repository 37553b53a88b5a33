// uni/posix/directory_store.hpp: a directory on the host as a read-only
// key-value store (uni/kv/concepts.hpp), POSIX targets only: the same concept
// as the files compiled into the image (uni/kv/embedded.hpp), so a service
// reads either the same way. A key is a path under the directory; a value is
// the file's bytes as an unowned view, never copied: each file is mapped
// read-only on first use and stays mapped for the rest of the run, since TCP may
// retransmit from it until the peer acknowledges; a file changed on disk
// (inode, size or mtime differ) is mapped again beside the old mapping. The
// number of mappings is bounded. The digest is made of inode, size and
// modification time.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <uni/core/buffer.hpp>
#include <uni/core/log.hpp>
#include <uni/core/result.hpp>
#include <uni/kv/concepts.hpp>

namespace uni::posix {

class directory_store {
 public:
  static constexpr std::size_t max_mappings = 4096;

  // The store of `root`: error::not_found if there is no such directory,
  // error::invalid_argument if it is not a directory.
  static result<directory_store> open(std::string_view root) {
    std::string r(root);
    while (r.size() > 1 && r.back() == '/') r.pop_back();
    struct stat st {};
    if (::stat(r.c_str(), &st) != 0) return fail(errno == ENOENT || errno == ENOTDIR ? error::not_found : error::io);
    if (!S_ISDIR(st.st_mode)) return fail(error::invalid_argument);
    return directory_store(std::move(r));
  }

  directory_store(directory_store&&) noexcept = default;
  directory_store& operator=(directory_store&&) noexcept = default;
  // Mappings are not undone: views of them may still be queued in TCP when the
  // server stops, and the process ends soon after.

  result<view> get(std::string_view key) {
    auto e = lookup(key);
    if (!e) return fail(e.err());
    return view::unowned(std::span<const std::uint8_t>((*e)->data, (*e)->size));
  }
  result<kv::digest> digest(std::string_view key) {
    auto e = lookup(key);
    if (!e) return fail(e.err());
    return (*e)->digest;
  }
  result<bool> exists(std::string_view key) {
    if (!kv::valid_key(key)) return fail(error::invalid_argument);
    struct stat st {};
    return ::stat(path_of(key).c_str(), &st) == 0 && S_ISREG(st.st_mode);
  }
  // The regular files under the directory whose keys start with `prefix`, in order.
  result<std::size_t> list(std::string_view prefix, kv::key_visitor each) {
    namespace fs = std::filesystem;
    std::error_code ec;
    std::vector<std::string> keys;
    for (fs::recursive_directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      std::string key = it->path().lexically_relative(root_).generic_string();
      if (key.starts_with(prefix) && kv::valid_key(key)) keys.push_back(std::move(key));
    }
    if (ec) return fail(error::io);
    std::sort(keys.begin(), keys.end());
    for (const std::string& k : keys) each(k);
    return keys.size();
  }

  std::string_view root() const noexcept { return root_; }

 private:
  struct entry {
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;
    std::uint64_t ino = 0, mtime_ns = 0;
    kv::digest digest;
  };

  explicit directory_store(std::string root) : root_(std::move(root)) {}

  std::string path_of(std::string_view key) const {
    std::string full = root_;
    full += '/';
    full.append(key);
    return full;
  }
  static std::uint64_t mtime_ns(const struct stat& st) noexcept {
    return static_cast<std::uint64_t>(st.st_mtim.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(st.st_mtim.tv_nsec);
  }

  // The mapping of the file at `key`, made (again) if the file is new or changed.
  result<const entry*> lookup(std::string_view key) {
    if (!kv::valid_key(key)) return fail(error::invalid_argument);
    const std::string full = path_of(key);
    struct stat st {};
    if (::stat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return fail(error::not_found);
    if (auto it = by_path_.find(full); it != by_path_.end()) {
      const entry& e = *it->second;
      if (e.ino == st.st_ino && e.size == static_cast<std::uint64_t>(st.st_size) && e.mtime_ns == mtime_ns(st))
        return &e;
    }
    if (entries_.size() == max_mappings) {
      log_warn("directory store: ", max_mappings, " files mapped already; not reading ", full);
      return fail(error::table_full);
    }
    const int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(error::not_found);
    const auto size = static_cast<std::size_t>(st.st_size);
    const std::uint8_t* data = reinterpret_cast<const std::uint8_t*>("");
    if (size > 0) {
      void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (m == MAP_FAILED) {
        ::close(fd);
        return fail(error::io);
      }
      data = static_cast<const std::uint8_t*>(m);
    }
    ::close(fd);
    entry& e = entries_.emplace_back();
    e.data = data;
    e.size = size;
    e.ino = st.st_ino;
    e.mtime_ns = mtime_ns(st);
    char text[kv::digest::capacity];
    const int n = std::snprintf(text, sizeof text, "%llx-%llx-%llx", static_cast<unsigned long long>(e.ino),
                                static_cast<unsigned long long>(e.size), static_cast<unsigned long long>(e.mtime_ns));
    e.digest = kv::digest(std::string_view(text, static_cast<std::size_t>(n)));
    by_path_[full] = &e;
    return &e;
  }

  std::string root_;
  std::deque<entry> entries_;  // stable addresses
  std::map<std::string, entry*, std::less<>> by_path_;
};

static_assert(kv::ReadOnlyStore<directory_store>,
              "posix::directory_store must be a ReadOnlyStore (uni/kv/concepts.hpp)");

}  // namespace uni::posix
