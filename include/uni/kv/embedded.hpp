// uni/kv/embedded.hpp: files compiled into the image as a read-only key-value
// store (Mirage's crunch). uni_embed_files() in CMake (cmake/uniEmbed.cmake)
// turns a directory into a generated source: every file's bytes are assembled
// into .rodata with .incbin (no hex dump, so a 100 MB file costs nothing to
// build), and a table sorted by key gives each file's bytes and its digest (a
// prefix of the SHA-256 of its contents, computed at configure time). A value
// is a view of that memory: unowned, never copied, valid for the whole run.
//
//   uni::kv::embedded_store site(uni::kv::embedded_files());
//   auto page = site.get("index.html");          result<view>
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include <uni/core/buffer.hpp>
#include <uni/core/result.hpp>
#include <uni/kv/concepts.hpp>

namespace uni::kv {

struct embedded_entry {
  std::string_view key;  // "css/site.css"
  const std::uint8_t* begin;
  const std::uint8_t* end;
  std::string_view digest;  // 16 hex digits of the contents' SHA-256

  std::span<const std::uint8_t> bytes() const noexcept { return {begin, static_cast<std::size_t>(end - begin)}; }
};

// Defined by the source uni_embed_files(TARGET DIR) generates: the files, sorted
// by key. (With NAME n, the function is embedded_n(), declared in the generated
// header uni_embedded_n.hpp.)
std::span<const embedded_entry> embedded_files() noexcept;

class embedded_store {
 public:
  constexpr embedded_store() noexcept = default;
  // `entries` sorted by key, each a valid key, as the generated table is.
  constexpr explicit embedded_store(std::span<const embedded_entry> entries) noexcept : entries_(entries) {}

  result<view> get(std::string_view key) const noexcept {
    auto e = find(key);
    if (!e) return fail(e.err());
    return view::unowned((*e)->bytes());
  }
  result<bool> exists(std::string_view key) const noexcept {
    auto e = find(key);
    if (!e && e.err() != error::not_found) return fail(e.err());
    return e.ok();
  }
  result<kv::digest> digest(std::string_view key) const noexcept {
    auto e = find(key);
    if (!e) return fail(e.err());
    return kv::digest((*e)->digest);
  }
  result<std::size_t> list(std::string_view prefix, key_visitor each) const noexcept {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), prefix,
                               [](const embedded_entry& e, std::string_view p) { return e.key < p; });
    std::size_t n = 0;
    for (; it != entries_.end() && it->key.starts_with(prefix); ++it, ++n) each(it->key);
    return n;
  }

  std::span<const embedded_entry> entries() const noexcept { return entries_; }

  // The entry at `key` (its bytes and its digest at once), or null. The key
  // is not checked: what is no key names no entry.
  const embedded_entry* entry(std::string_view key) const noexcept {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), key,
                               [](const embedded_entry& e, std::string_view k) { return e.key < k; });
    return it == entries_.end() || it->key != key ? nullptr : &*it;
  }

 private:
  result<const embedded_entry*> find(std::string_view key) const noexcept {
    if (!valid_key(key)) return fail(error::invalid_argument);
    const embedded_entry* e = entry(key);
    if (!e) return fail(error::not_found);
    return e;
  }

  std::span<const embedded_entry> entries_;
};

static_assert(ReadOnlyStore<embedded_store>, "uni::kv::embedded_store must be a ReadOnlyStore (uni/kv/concepts.hpp)");

}  // namespace uni::kv
