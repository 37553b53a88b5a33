// uni/fs/fat32/store.hpp: a FAT-32 volume as a read-write key-value store
// (uni::kv::Store): a key is a file's path ("css/site.css"), its value the
// file's bytes. set() makes the missing directories on the way, then writes
// the file (emptied first if it existed); remove() removes the file only.
// Keys name files only: a directory is not a key. Names compare without regard
// to ASCII case, as FAT's do, so "A.txt" and "a.txt" are one key.
//
// list() gives the keys in byte order, as the concept asks. FAT keeps no sorted
// index, and sorting would need memory for every key; instead the tree is
// walked once, depth first (at most max_depth deep), taking each directory's
// entries in byte order of their names, a directory's with its '/' (the order
// of the keys under them): each step scans one directory for the least name
// after the one it took last. Memory stays a few names; time grows with the
// square of a directory's size, not of the tree's (it was a walk of the whole
// tree per key). The digest
// is the value's size and the FNV-1a hash of its bytes (FAT's timestamps have
// two-second steps and no clock is passed in), so computing it reads the file.
//
// open() is the streaming read (kv::StreamStore): a file's size and version
// from its directory entry, then its bytes a few pages at a time, as many as
// the caller gives room for, so a file of any size is served with that much.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <uni/block/concepts.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/format.hpp>
#include <uni/core/result.hpp>
#include <uni/core/task.hpp>
#include <uni/fs/fat32/volume.hpp>
#include <uni/kv/concepts.hpp>

namespace uni::fs::fat32 {

template <class Volume>
class store {
 public:
  static constexpr std::size_t max_depth = 16;

  explicit store(Volume& v) noexcept : v_(v) {}

  task<result<std::size_t>> get(std::string_view key, std::span<std::uint8_t> out) {
    auto info = co_await file(key);
    if (!info) co_return fail(info.err());
    if (info->size > out.size()) co_return fail(error::too_large);
    co_return co_await v_.read(key, 0, out.first(info->size));
  }

  task<result<void>> set(std::string_view key, std::span<const view> value) {
    if (!kv::valid_key(key)) co_return fail(error::invalid_argument);
    for (std::size_t slash = key.find('/'); slash != std::string_view::npos; slash = key.find('/', slash + 1)) {
      auto dir = co_await v_.stat(key.substr(0, slash));
      if (dir && !dir->directory) co_return fail(error::invalid_argument);
      if (!dir && dir.err() != error::not_found) co_return fail(dir.err());
      if (!dir)
        if (auto m = co_await v_.mkdir(key.substr(0, slash)); !m) co_return m;
    }
    auto info = co_await v_.stat(key);
    if (info && info->directory) co_return fail(error::invalid_argument);
    if (!info && info.err() != error::not_found) co_return fail(info.err());
    auto made = info ? co_await v_.truncate(key, 0) : co_await v_.create(key);
    if (!made) co_return made;
    co_return co_await v_.write(key, 0, value);
  }

  task<result<void>> remove(std::string_view key) {
    auto info = co_await file(key);
    if (!info) co_return fail(info.err());
    co_return co_await v_.remove(key);
  }

  task<result<bool>> exists(std::string_view key) {
    auto info = co_await file(key);
    if (!info && info.err() != error::not_found) co_return fail(info.err());
    co_return info.ok();
  }

  task<result<kv::digest>> digest(std::string_view key) {
    auto info = co_await file(key);
    if (!info) co_return fail(info.err());
    auto r = co_await v_.open(key);
    if (!r) co_return fail(r.err());
    std::uint64_t hash = 14695981039346656037ull;
    while (true) {
      auto chunk = co_await r->next();
      if (!chunk) co_return fail(chunk.err());
      if (chunk->empty()) break;
      for (std::uint8_t b : chunk->bytes()) hash = (hash ^ b) * 1099511628211ull;
    }
    char text[kv::digest::capacity];
    text_writer w(text, sizeof text);
    format_to(w, hex(info->size), '-', hex(hash, 16));
    co_return kv::digest(w.view());
  }

  // A file as a stream (kv::StreamStore): the volume's reader, with a version
  // made of the size, first cluster and last write's stamp.
  class stream {
   public:
    stream() noexcept = default;
    std::uint64_t size() const noexcept { return r_.size(); }
    kv::digest version() const noexcept { return version_; }
    void skip_to(std::uint64_t offset) noexcept { r_.skip_to(offset); }
    task<result<std::size_t>> next(std::span<view> out) { return r_.next(out); }

   private:
    friend class store;
    stream(typename Volume::reader r, kv::digest v) noexcept : r_(r), version_(v) {}
    typename Volume::reader r_;
    kv::digest version_;
  };

  task<result<stream>> open(std::string_view key) {
    auto info = co_await file(key);
    if (!info) co_return fail(info.err());
    auto r = co_await v_.open(key);
    if (!r) co_return fail(r.err());
    char text[kv::digest::capacity];
    text_writer w(text, sizeof text);
    format_to(w, hex(info->size), '-', hex(info->first_cluster), '-', hex(info->written, 8));
    co_return stream(*r, kv::digest(w.view()));
  }

  task<result<std::size_t>> list(std::string_view prefix, kv::key_visitor each) {
    using directory = typename Volume::directory;
    std::array<directory, max_depth> start;             // each open level's listing, from its beginning
    std::array<std::size_t, max_depth> base{}, taken{};  // where a level's names start in `key`; the
                                                         // length of the one it took last (0: none yet)
    std::array<char, kv::max_key> key{}, last{}, best{};
    typename Volume::listed entry;
    auto root = co_await v_.open_directory("");
    if (!root) co_return fail(root.err());
    start[0] = *root;
    std::size_t depth = 1, count = 0;
    while (depth > 0) {
      const std::size_t d = depth - 1, at = base[d];
      std::copy_n(key.begin() + static_cast<std::ptrdiff_t>(at), taken[d], last.begin());
      const std::string_view after(last.data(), taken[d]);
      std::size_t best_size = 0;
      bool best_is_directory = false;
      directory scan = start[d];
      while (true) {  // the least name after `after` that can lead to a key under the prefix
        auto more = co_await v_.next(scan, entry);
        if (!more) co_return fail(more.err());
        if (!*more) break;
        const std::string_view name = entry.name();
        const bool is_directory = entry.info.directory;
        if (at + name.size() + 1 > key.size()) continue;  // longer than any key
        std::copy(name.begin(), name.end(), key.begin() + static_cast<std::ptrdiff_t>(at));
        if (is_directory) key[at + name.size()] = '/';
        const std::size_t size = name.size() + (is_directory ? 1 : 0);
        const std::string_view candidate(key.data() + at, size), path(key.data(), at + size);
        const bool wanted = is_directory ? prefix.starts_with(path) || path.starts_with(prefix)
                                         : path.starts_with(prefix) && kv::valid_key(path);
        if (!wanted || (taken[d] > 0 && candidate <= after) ||
            (best_size > 0 && candidate >= std::string_view(best.data(), best_size)))
          continue;
        std::copy(candidate.begin(), candidate.end(), best.begin());
        best_size = size;
        best_is_directory = is_directory;
      }
      if (best_size == 0) {  // this directory is done
        --depth;
        continue;
      }
      std::copy_n(best.begin(), best_size, key.begin() + static_cast<std::ptrdiff_t>(at));
      taken[d] = best_size;
      if (!best_is_directory) {
        each(std::string_view(key.data(), at + best_size));
        ++count;
        continue;
      }
      if (depth == max_depth) co_return fail(error::table_full);
      auto sub = co_await v_.open_directory(std::string_view(key.data(), at + best_size - 1));
      if (!sub) co_return fail(sub.err());
      start[depth] = *sub;
      base[depth] = at + best_size;
      taken[depth] = 0;
      ++depth;
    }
    co_return count;
  }

 private:
  // The file `key` names: error::not_found for a directory.
  task<result<entry_info>> file(std::string_view key) {
    if (!kv::valid_key(key)) co_return fail(error::invalid_argument);
    auto info = co_await v_.stat(key);
    if (!info) co_return fail(info.err());
    if (info->directory) co_return fail(error::not_found);
    co_return *info;
  }

  Volume& v_;
};

}  // namespace uni::fs::fat32
