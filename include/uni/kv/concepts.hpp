// uni/kv/concepts.hpp: key-value stores, as C++20 concepts. The paper's stores
// (§3.5) are libraries with one interface whatever holds the bytes: the files
// compiled into the image (uni/kv/embedded.hpp), a directory on the host
// (uni/posix/directory_store.hpp), and later stores over a block device.
//
// A key is a relative, '/'-separated path ("index.html", "css/site.css"): no
// leading '/', no empty, "." or ".." segment, no NUL or backslash, at most
// max_key bytes (valid_key). A store refuses any other key with
// error::invalid_argument, so no key can climb out of what the store holds.
// A missing key is error::not_found. Errors are values; no call allocates.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>

#include <uni/core/buffer.hpp>
#include <uni/core/function_ref.hpp>
#include <uni/core/result.hpp>
#include <uni/core/task.hpp>

namespace uni::kv {

inline constexpr std::size_t max_key = 1024;

namespace detail {
// Whether no byte of `key` is '/', '.', '\\' or NUL, eight bytes a step (the
// usual key: then it is valid as it is, with no per-byte walk).
inline bool plain_key(std::string_view key) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  const auto has = [](std::uint64_t w, char c) {
    const std::uint64_t x = w ^ (ones * static_cast<unsigned char>(c));
    return ((x - ones) & ~x & highs) != 0;
  };
  for (std::size_t i = 0; i < key.size(); i += 8) {
    std::uint64_t w = ones * 'a';  // a short last word is padded with a plain byte
    std::memcpy(&w, key.data() + i, key.size() - i < 8 ? key.size() - i : 8);
    if (has(w, '/') || has(w, '.') || has(w, '\\') || has(w, '\0')) return false;
  }
  return true;
}
}  // namespace detail

// Is `key` a key (see above)? One pass: it runs on every store lookup.
constexpr bool valid_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > max_key) return false;
  if (!std::is_constant_evaluated() && detail::plain_key(key)) return true;
  std::size_t length = 0, dots = 0;  // of the segment so far
  auto segment_ok = [&] { return length > 0 && !(dots == length && length <= 2); };  // not "", "." or ".."
  for (char c : key) {
    if (c == '\0' || c == '\\') return false;
    if (c == '/') {
      if (!segment_ok()) return false;
      length = dots = 0;
      continue;
    }
    ++length;
    if (c == '.') ++dots;
  }
  return segment_ok();
}

// What identifies a value's version, as text (hex digits and '-'): equal
// digests mean equal bytes. HTTP quotes it for an ETag.
class digest {
 public:
  static constexpr std::size_t capacity = 64;
  constexpr digest() noexcept = default;
  // The first `capacity` characters of `text`.
  constexpr explicit digest(std::string_view text) noexcept : size_(text.size() < capacity ? text.size() : capacity) {
    for (std::size_t i = 0; i < size_; ++i) text_[i] = text[i];
  }
  constexpr std::string_view text() const noexcept { return {text_.data(), size_}; }
  friend constexpr bool operator==(const digest& a, const digest& b) noexcept { return a.text() == b.text(); }

 private:
  std::array<char, capacity> text_{};
  std::size_t size_ = 0;
};

// Called once per key by list().
using key_visitor = function_ref<void(std::string_view key)>;

// A read-only store whose values stay in memory for the whole run.
//   get(key)           the value, as an unowned view valid for the run (what TCP
//                      needs of bytes it may retransmit: they are never copied)
//   exists(key)        whether the key has a value
//   digest(key)        the value's digest
//   list(prefix, f)    calls f with every key starting with `prefix`, in order;
//                      the count of keys
template <class S>
concept ReadOnlyStore = requires(S& s, std::string_view key, key_visitor each) {
  { s.get(key) } -> std::same_as<result<view>>;
  { s.exists(key) } -> std::same_as<result<bool>>;
  { s.digest(key) } -> std::same_as<result<kv::digest>>;
  { s.list(key, each) } -> std::same_as<result<std::size_t>>;
};

// A read-write store, whose values may live on a device: every call may wait.
//   get(key, out)      copies the value into `out`: its size, error::too_large
//                      if it does not fit (nothing is allocated for the caller)
//   set(key, value)    stores the bytes of `value` (views gathered, not kept)
//   remove(key)        error::not_found if it had no value
//   exists, digest, list as in ReadOnlyStore
template <class S>
concept Store = requires(S& s, std::string_view key, std::span<std::uint8_t> out, std::span<const view> value,
                         key_visitor each) {
  { s.get(key, out) } -> std::same_as<task<result<std::size_t>>>;
  { s.set(key, value) } -> std::same_as<task<result<void>>>;
  { s.remove(key) } -> std::same_as<task<result<void>>>;
  { s.exists(key) } -> std::same_as<task<result<bool>>>;
  { s.digest(key) } -> std::same_as<task<result<kv::digest>>>;
  { s.list(key, each) } -> std::same_as<task<result<std::size_t>>>;
};

// A store whose values are read as streams, so a value of any size costs a
// page at a time (a file system on a block device: uni/fs/fat32/store.hpp).
// open(key) waits, then gives a stream with
//   size()        the value's size in bytes
//   version()     a weak digest: it changes when the value is rewritten, but two
//                 equal ones do not prove equal bytes (HTTP sends it as W/"...")
//   skip_to(n)    moves forward to byte n without reading what is skipped
//   next(out)     the next bytes, as up to out.size() views each owning its
//                 page: how many, 0 at the end; error::no_buffers if no page
//                 could be had
template <class S>
concept StreamStore = requires(S& s, std::string_view key) {
  { s.open(key) } -> std::same_as<task<result<typename S::stream>>>;
} && requires(typename S::stream& r, std::uint64_t n, std::span<view> out) {
  { r.size() } -> std::same_as<std::uint64_t>;
  { r.version() } -> std::same_as<kv::digest>;
  r.skip_to(n);
  { r.next(out) } -> std::same_as<task<result<std::size_t>>>;
};

}  // namespace uni::kv
