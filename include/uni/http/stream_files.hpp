// uni/http/stream_files.hpp: static files from a store that is read as a
// stream (kv::StreamStore), such as a FAT-32 volume on a block device
// (uni/fs/fat32/store.hpp). The answer's length comes from the file's size
// before any byte is read; then the store's page views go straight into the
// response, `pieces` pages at a time (one device request when the file lies
// in one run), so a file of any size costs a connection at most `pieces`
// pages beyond what the transport holds, and no copy.
//
// The store's calls are taken one at a time: a FAT volume keeps one directory
// sector and one set of FAT windows for all its callers, and a device read in
// the middle of one caller's walk must not be overtaken by another's. The turn
// is held for an open() or one next(), never while a client takes the bytes.
//
// A server given no such store compiles none of this (uni/http/files.hpp's
// file_source calls it through a pointer set only here).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <uni/core/buffer.hpp>
#include <uni/core/result.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/http/connection.hpp>
#include <uni/http/files.hpp>
#include <uni/kv/concepts.hpp>

namespace uni::http {

template <kv::StreamStore S>
class stream_files {
 public:
  static constexpr std::size_t pieces = 8;  // pages gathered into one write

  stream_files(S& store, scheduler& sched) noexcept : store_(store), waiting_(sched) {}
  stream_files(const stream_files&) = delete;
  stream_files& operator=(const stream_files&) = delete;

  // file_source's entry: answers the request on `c` with the file at `path`
  // (end_file handles any error).
  static task<void> send(void* self, connection& c, std::string_view path) {
    auto& f = *static_cast<stream_files*>(self);
    co_await c.end_file(co_await f.stream_to(c, path));
  }

 private:
  // The caller's turn at the store, given back when it goes out of scope.
  class turn {
   public:
    explicit turn(stream_files* f) noexcept : f_(f) {}
    turn(const turn&) = delete;
    turn& operator=(const turn&) = delete;
    ~turn() {
      f_->busy_ = false;
      f_->waiting_.notify_one();
    }

   private:
    stream_files* f_;
  };
  // Waits for the store to be free and takes it; false if the server is going away.
  // (No co_await in a condition: GCC 12 mis-compiles it.)
  task<bool> take_turn() {
    while (busy_) {
      const wake_reason why = co_await waiting_.wait();
      if (why == wake_reason::cancelled) co_return false;
    }
    busy_ = true;
    co_return true;
  }

  task<result<typename S::stream>> open(std::string_view key) {
    const bool mine = co_await take_turn();
    if (!mine) co_return fail(error::cancelled);
    turn t(this);
    co_return co_await store_.open(key);
  }
  // The stream's next pages, waiting for the page pool when it is empty.
  task<result<std::size_t>> next(typename S::stream& s, std::span<view> out) {
    while (true) {
      const bool mine = co_await take_turn();
      if (!mine) co_return fail(error::cancelled);
      result<std::size_t> n = fail(error::no_buffers);
      {
        turn t(this);
        n = co_await s.next(out);
      }
      if (n || n.err() != error::no_buffers) co_return n;
      co_await waiting_.sched().sleep_for(std::chrono::milliseconds(1));  // pages return as clients acknowledge
    }
  }

  task<result<void>> stream_to(connection& c, std::string_view path) {
    char buf[kv::max_key];
    std::string_view key;
    if (!key_for_path(path, buf, key) || !kv::valid_key(key)) co_return fail(error::not_found);
    auto s = co_await open(key);
    if (!s) co_return fail(s.err() == error::invalid_argument ? error::not_found : s.err());
    // A weak ETag (kv::StreamStore's version): W/"..."
    const kv::digest tag = s->version();
    const std::string_view version = tag.text();
    std::array<char, kv::digest::capacity + 4> etag{'W', '/', '"'};
    for (std::size_t i = 0; i < version.size(); ++i) etag[i + 3] = version[i];
    etag[version.size() + 3] = '"';
    auto window = c.start_file(s->size(), {etag.data(), version.size() + 4}, content_type_for(key));
    if (!window) co_return fail(window.err());
    s->skip_to(window->first);
    std::uint64_t left = window->length;
    std::array<view, pieces> batch;
    while (left > 0) {
      auto n = co_await next(*s, batch);
      if (!n) co_return fail(n.err());
      if (*n == 0) co_return fail(error::corrupt);  // the file ended before its size
      std::size_t k = 0;
      for (; k < *n && left > 0; ++k) {
        if (batch[k].size() > left) batch[k].truncate(static_cast<std::size_t>(left));
        left -= batch[k].size();
      }
      if (auto w = co_await c.send_file(std::span<const view>(batch.data(), k)); !w) co_return w;
      batch = {};  // the pages go back as the transport lets them go
    }
    co_return result<void>{};
  }

  S& store_;
  wait_queue waiting_;
  bool busy_ = false;
};

}  // namespace uni::http
