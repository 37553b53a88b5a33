// uni/btree/store.hpp: an append-only copy-on-write B-tree over any BlockDevice,
// offered as a read-write key-value store (kv::Store). The paper's dynamic web
// appliance keeps its data in one (it ported Baardskeerder); this is ours.
//
// The device is two metadata slots, then a circular log of node-sized blocks.
// Nothing in the log is ever written in place: a commit appends, in one write,
// a commit record and every node the batch changed (children before parents),
// then flushes. The record carries the generation, the root, and a hash over
// the checksums of the commit's nodes, so a torn or partly lost commit is seen
// as such. A slot is a hint where to start: once a commit lies a sixteenth of
// the log past the newer slot's commit, the older slot is pointed at it after
// its flush (that write is made durable by the next commit's flush). So most
// small commits are one write and one flush, and a slot never names a commit
// more than a sixteenth of the log (and one commit) behind.
//
// Opening reads both slots, takes the newest commit that checks (its record and
// every node of it), then follows the log forward while the next block is the
// next generation's complete commit. So a reopened store is at the last commit
// whose flush returned, or the one after it if that was written whole; never a
// mixture. No block that a slot or the live tree can reach is overwritten: the
// log only wraps over blocks older than both slots' commits and the oldest live
// node (`floor`).
//
// Old roots stay readable (snapshot(), get(snapshot, ...)) until the log wraps
// over them. compact() is one bounded step of cleaning: it copies the live nodes
// in the oldest `Config::compact_blocks` of the log (and their ancestors) to the
// tail and commits, so the oldest part can be reused; its time and memory are
// bounded by the dirty-node budget. When the log is more than half full, every
// commit (set(), remove(), commit(), and each part of a batch that outgrew the
// dirty-node budget) carries such a step in the same write, over as many of the
// oldest blocks as the commit before it appended if that is more.
//
// Memory is fixed at construction, in the object: `cache_nodes` clean nodes
// (a four-way set-associative cache keyed by position, where branches a lookup
// has found outrank leaves), `dirty_nodes` changed ones, a few scratch blocks.
// No request allocates (coroutine frames come from the frame cache); a lookup
// whose nodes are in memory, or which the device reads at once (ReadsAtOnce: a
// leaf in the host's page cache), runs no coroutine but its own. Errors are
// values: a block that fails its checks is error::corrupt, a full log
// error::no_space, a key or value past the limits error::invalid_argument /
// error::too_large. One call at a time: a call made while another waits on the
// device is error::would_block. After a failed commit the store refuses
// everything (error::io) until it is opened again.
//
// Limits: keys of at most Config::max_key bytes and values of at most
// Config::max_value bytes, inline in the leaves. Removal does not merge
// half-empty nodes (an emptied node leaves its parent; the tree only shrinks
// from the root).
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include <uni/block/concepts.hpp>
#include <uni/btree/hash.hpp>
#include <uni/btree/node.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/result.hpp>
#include <uni/core/task.hpp>
#include <uni/kv/concepts.hpp>

namespace uni::btree {

struct default_config {
  static constexpr std::size_t node_size = 4096;    // bytes per node and per log block
  static constexpr std::size_t cache_nodes = 256;   // clean nodes kept: 1 MiB
  static constexpr std::size_t dirty_nodes = 128;   // changed nodes a batch may hold: 512 KiB
  static constexpr std::size_t max_height = 10;     // levels, the root's included
  static constexpr std::size_t max_key = 200;       // bytes
  static constexpr std::size_t max_value = 800;     // bytes
  static constexpr std::size_t compact_blocks = 32; // log blocks one compact() step cleans
};

// For small records (keys up to 64 bytes, values up to 180: counters,
// sessions, index entries): 1 KiB nodes. A get that misses the node cache then
// reads and checks a quarter of the bytes, and the same 1 MiB cache holds four
// times the nodes. With more data than the cache's branches can cover (about
// 25 bytes of branch a leaf of six 100-byte records: some 250,000 such records
// a MiB of cache), default_config's 4 KiB nodes keep every branch cached instead.
struct small_records_config : default_config {
  static constexpr std::size_t node_size = 1024;
  static constexpr std::size_t cache_nodes = 1024;  // 1 MiB
  static constexpr std::size_t dirty_nodes = 512;   // 512 KiB
  static constexpr std::size_t max_key = 64;
  static constexpr std::size_t max_value = 180;
};

template <class C>
concept StoreConfig = requires {
  { C::node_size } -> std::convertible_to<std::size_t>;
  { C::cache_nodes } -> std::convertible_to<std::size_t>;
  { C::dirty_nodes } -> std::convertible_to<std::size_t>;
  { C::max_height } -> std::convertible_to<std::size_t>;
  { C::max_key } -> std::convertible_to<std::size_t>;
  { C::max_value } -> std::convertible_to<std::size_t>;
  { C::compact_blocks } -> std::convertible_to<std::size_t>;
} && C::node_size % 512 == 0 && C::node_size <= 32768 && C::cache_nodes >= 4 && C::cache_nodes % 4 == 0 &&
    C::max_height >= 2 && C::dirty_nodes >= 4 * C::max_height + 4 &&
    // any edit of a full node splits into two halves that fit
    4 * entry_cost(C::max_key, C::max_value) <= C::node_size - node_header &&
    4 * entry_cost(C::max_key, child_value) <= C::node_size - node_header;

// A committed root, readable until the log wraps over its oldest block.
struct snapshot {
  std::uint64_t generation = 0;
  std::uint64_t root = 0;    // position, or `none`
  std::uint64_t lowest = 0;  // the lowest position in its tree
};

template <BlockDevice Disk, StoreConfig Config = default_config>
class Store {
 public:
  static constexpr std::uint64_t none = ~std::uint64_t{0};

  struct stats {
    std::uint64_t commits = 0;
    std::uint64_t compactions = 0;
    std::uint64_t cache_hits = 0;
    std::uint64_t cache_misses = 0;
    std::uint64_t blocks_written = 0;
    std::uint64_t log_blocks = 0;  // the log's size
    std::uint64_t used_blocks = 0; // blocks the log may not reuse yet
  };
  static constexpr std::size_t cache_bytes = Config::cache_nodes * Config::node_size;

  explicit Store(Disk& disk) noexcept : disk_(disk) { forget(); }
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // An empty store on the device, replacing whatever it held. `id` tells this
  // store's blocks from those of any store the device held before: give one
  // the device has not seen (a time stamp will do).
  task<result<void>> format(std::uint64_t id) {
    busy_guard g(busy_);
    if (!g) co_return fail(error::would_block);
    if (auto r = geometry(); !r) co_return r;
    if (disk_.read_only()) co_return fail(error::read_only);
    forget();
    id_ = id;
    failed_ = false;
    tail_ = 0;
    if (auto r = co_await write_commit(1); !r) co_return r;  // the empty tree
    for (std::size_t s = 0; s < 2; ++s)
      if (auto r = co_await write_slot(s, generation_, commit_pos_); !r) co_return r;
    co_return co_await disk_.flush();
  }

  // The last valid commit on the device: error::not_found if it holds no store
  // (neither slot has been written), error::corrupt if none checks.
  task<result<void>> open() {
    busy_guard g(busy_);
    if (!g) co_return fail(error::would_block);
    if (auto r = geometry(); !r) co_return r;
    forget();
    failed_ = true;  // until a commit is found
    struct slot_value {
      bool valid = false;
      std::uint64_t id = 0, generation = 0, position = 0;
    } slots[2];
    bool written = false;
    for (std::size_t s = 0; s < 2; ++s) {
      if (auto r = co_await read_block(s * spn_, scratch_[0]); !r) co_return r;
      const std::uint8_t* b = scratch_[0];
      if (load64(b + 8) == slot_magic) written = true;
      if (load64(b) != hash_of({b + 8, slot_bytes - 8}) || load64(b + 8) != slot_magic ||
          load64(b + 40) != Config::node_size || load64(b + 48) != log_blocks_)
        continue;
      slots[s] = {true, load64(b + 16), load64(b + 24), load64(b + 32)};
    }
    if (!written) co_return fail(error::not_found);
    std::size_t order[2] = {0, 1};
    if (slots[1].valid && (!slots[0].valid || slots[1].generation > slots[0].generation)) std::swap(order[0], order[1]);
    bool found = false;
    for (std::size_t s : order) {
      if (!slots[s].valid || slots[s].position >= position_limit) continue;
      id_ = slots[s].id;
      tail_ = slots[s].position + log_blocks_;  // any position up to the slot's is readable while checking
      if (co_await read_commit(slots[s].position, slots[s].generation)) {
        found = true;
        break;
      }
    }
    if (!found) co_return fail(error::corrupt);
    for (std::size_t s = 0; s < 2; ++s)
      slot_durable_[s] = slots[s].valid && slots[s].id == id_ && slots[s].position <= commit_pos_ ? slots[s].position
                                                                                                : commit_pos_;
    // Commits written after the slot's: each must be the next generation, whole.
    for (std::size_t steps = 0; steps < log_blocks_; ++steps) {
      const std::uint64_t at = tail_;
      const snapshot before = last_;
      const std::uint64_t before_pos = commit_pos_, before_head = head_;
      tail_ = at + log_blocks_;
      if (!co_await read_commit(at, generation_ + 1)) {
        last_ = before;
        generation_ = before.generation;
        commit_pos_ = before_pos;
        head_ = before_head;
        tail_ = at;
        break;
      }
    }
    root_ = last_.root;
    root_lowest_ = last_.lowest;
    slot_pending_[0] = slot_durable_[0];
    slot_pending_[1] = slot_durable_[1];
    for (auto& p : cache_pos_)  // blocks of a commit that was read but not taken
      if (p != none && !readable(p)) p = none;
    failed_ = false;
    co_return result<void>{};
  }

  // kv::Store: each set and remove is its own durable commit.
  task<result<std::size_t>> get(std::string_view key, std::span<std::uint8_t> out) {
    return read_value(root_, key, out, nullptr);
  }
  task<result<void>> set(std::string_view key, std::span<const view> value) {
    busy_guard g(busy_);
    if (!g) co_return fail(error::would_block);
    if (auto r = co_await stage_put(key, value); !r) co_return r;
    co_return co_await commit_and_clean();
  }
  task<result<void>> remove(std::string_view key) {
    busy_guard g(busy_);
    if (!g) co_return fail(error::would_block);
    if (auto r = co_await stage_erase(key); !r) co_return r;
    co_return co_await commit_and_clean();
  }
  task<result<bool>> exists(std::string_view key) {
    auto r = co_await read_value(root_, key, {}, nullptr);
    if (!r && r.err() == error::not_found) co_return false;
    if (!r && r.err() != error::too_large) co_return fail(r.err());
    co_return true;
  }
  // The value's block_hash, in hex.
  task<result<kv::digest>> digest(std::string_view key) {
    std::uint64_t h = 0;
    auto r = co_await read_value(root_, key, {}, &h);
    if (!r && r.err() != error::too_large) co_return fail(r.err());
    char hex[16];
    for (int i = 15; i >= 0; --i, h >>= 4) hex[i] = "0123456789abcdef"[h & 15];
    co_return kv::digest(std::string_view(hex, 16));
  }
  task<result<std::size_t>> list(std::string_view prefix, kv::key_visitor each) {
    busy_guard g(busy_);
    if (!g) co_return fail(error::would_block);
    co_return co_await walk_keys(prefix, each);
  }

  // A batch: put and erase change the working tree, commit() makes it durable.
  // A batch that outgrows the dirty-node budget is committed in parts.
  task<result<void>> put(std::string_view key, std::span<const view> value) {
    busy_guard g(busy_);
    if (!g) co_return fail(error::would_block);
    co_return co_await stage_put(key, value);
  }
  task<result<void>> erase(std::string_view key) {
    busy_guard g(busy_);
    if (!g) co_return fail(error::would_block);
    co_return co_await stage_erase(key);
  }
  task<result<void>> commit() {
    busy_guard g(busy_);
    if (!g) co_return fail(error::would_block);
    co_return co_await commit_and_clean();
  }

  // The last commit, and reads from it (error::not_found once the log has
  // wrapped over its blocks, as for a missing key).
  snapshot last_commit() const noexcept { return last_; }
  task<result<std::size_t>> get(const snapshot& s, std::string_view key, std::span<std::uint8_t> out) {
    if (s.root != none && tail_ - s.lowest > log_blocks_) co_return fail(error::not_found);
    co_return co_await read_value(s.root, key, out, nullptr);
  }

  // One bounded cleaning step (see the top).
  task<result<void>> compact() {
    busy_guard g(busy_);
    if (!g) co_return fail(error::would_block);
    if (auto r = co_await clean_walk(); !r) co_return r;
    co_return co_await commit_dirty();
  }

  stats statistics() const noexcept {
    stats s = stats_;
    s.log_blocks = log_blocks_;
    s.used_blocks = tail_ - floor();
    return s;
  }

 private:
  static constexpr std::size_t node_size = Config::node_size;
  static constexpr std::uint64_t dirty_tag = std::uint64_t{1} << 62;
  static constexpr std::uint64_t position_limit = dirty_tag;
  static constexpr std::uint64_t slot_magic = 0x746f6c73'54426e75ull;    // "unBTslot"
  static constexpr std::uint64_t commit_magic = 0x74636d63'54426e75ull;  // "unBTcmct"
  static constexpr std::size_t slot_bytes = 56;
  static constexpr std::size_t record_bytes = 72;
  static constexpr std::size_t max_entries = 2 * ((node_size - node_header) / entry_cost(1, 0)) + 3;  // two nodes and an edit
  static constexpr std::size_t ways = 4;
  static constexpr std::size_t sets = Config::cache_nodes / ways;
  static constexpr std::size_t transit = Config::cache_nodes;  // cache_[transit]: a lookup's leaf kept out of the cache
  static constexpr std::size_t no_way = ~std::size_t{0};

  struct busy_guard {
    bool& busy;
    bool owner;
    explicit busy_guard(bool& b) noexcept : busy(b), owner(!b) { busy = true; }
    ~busy_guard() {
      if (owner) busy = false;
    }
    explicit operator bool() const noexcept { return owner; }
  };

  static bool is_dirty(std::uint64_t ref) noexcept { return ref != none && (ref & dirty_tag) != 0; }
  static std::uint64_t dirty_ref(std::size_t i) noexcept { return dirty_tag | i; }
  static std::size_t dirty_index(std::uint64_t ref) noexcept { return static_cast<std::size_t>(ref & ~dirty_tag); }

  result<void> geometry() noexcept {
    const std::size_t sector = disk_.sector_size();
    if (sector == 0 || sector > node_size || node_size % sector != 0) return fail(error::invalid_argument);
    spn_ = node_size / sector;
    const std::uint64_t blocks = disk_.sectors() / spn_;
    if (blocks < 2 + 4 * (Config::dirty_nodes + 1)) return fail(error::no_space);
    log_blocks_ = blocks - 2;
    return {};
  }

  void forget() noexcept {
    for (auto& p : cache_pos_) p = none;
    for (auto& u : used_) u = 0;
    tick_ = 0;
    for (auto& h : hit_in_) h = ~std::uint32_t{0};
    free_dirty();
    root_ = none;
    root_lowest_ = 0;
    last_ = {0, none, 0};
    generation_ = 0;
    commit_pos_ = head_ = tail_ = 0;
    slot_durable_[0] = slot_durable_[1] = slot_pending_[0] = slot_pending_[1] = 0;
  }
  void free_dirty() noexcept {
    dirty_count_ = 0;
    for (auto& u : dirty_used_) u = false;
  }

  // Positions the log may not reuse yet start here.
  std::uint64_t floor() const noexcept { return std::min({head_, slot_durable_[0], slot_durable_[1]}); }
  std::uint64_t sector_of(std::uint64_t position) const noexcept { return (2 + position % log_blocks_) * spn_; }

  task<result<void>> read_block(std::uint64_t sector, std::uint8_t* into) {
    const view v = view::unowned(std::span<std::uint8_t>(into, node_size));
    co_return co_await disk_.read(sector, std::span<const view>(&v, 1));
  }

  // --- the node cache ---------------------------------------------------------
  std::size_t set_of(std::uint64_t position) const noexcept {
    return static_cast<std::size_t>((position * 0x9e3779b97f4a7c15ull) >> 20) % sets;
  }
  // The way holding `position`, or no_way.
  std::size_t way_of(std::uint64_t position) const noexcept {
    for (std::size_t c = ways * set_of(position), end = c + ways; c < end; ++c)
      if (cache_pos_[c] == position) return c;
    return no_way;
  }
  std::uint8_t* cached(std::uint64_t position) noexcept {
    const std::size_t c = way_of(position);
    if (c == no_way) return nullptr;
    idle_ = tick_ - used_[c];
    used_[c] = ++tick_;
    hit_in_[c] = static_cast<std::uint32_t>(generation_);
    ++stats_.cache_hits;
    return cache_[c];
  }
  // Does way `c` hold a branch found here since the last commit? Every descent
  // passes through the live branches, while a random get rarely finds its leaf
  // again: a leaf evicting one would cost the next get through it a second
  // read. (A branch a commit replaced was last found before that commit.)
  bool guarded(std::size_t c) const noexcept {
    return hit_in_[c] == static_cast<std::uint32_t>(generation_) && holds_branch(c);
  }
  // The way a new block takes: an empty one, else the least recently used of
  // those not guarded, else the least recently used. Four ways, not two: a
  // store whose branches fill a good part of the cache (a million keys in
  // 4 MiB) then finds room for them all in nearly every set.
  std::size_t victim(std::uint64_t position) noexcept {
    std::size_t best = ways * set_of(position);
    bool best_guarded = true;
    for (std::size_t c = best, end = c + ways; c < end; ++c) {
      if (cache_pos_[c] == none) {
        best = c;
        break;
      }
      const bool g = guarded(c);
      if ((best_guarded && !g) || (g == best_guarded && used_[c] < used_[best])) best = c, best_guarded = g;
    }
    used_[best] = ++tick_;
    hit_in_[best] = static_cast<std::uint32_t>(generation_ - 1);
    return best;
  }
  bool set_guarded(std::uint64_t position) const noexcept {
    for (std::size_t c = ways * set_of(position), end = c + ways; c < end; ++c)
      if (!guarded(c)) return false;
    return true;
  }
  bool holds_branch(std::size_t c) const noexcept { return cache_pos_[c] != none && branch_[c]; }
  // Way `c` now holds `block`, the node at `position`.
  void fill(std::size_t c, std::uint64_t position, const std::uint8_t* block) noexcept {
    cache_pos_[c] = position;
    branch_[c] = node_view(block, node_size).kind() == node_kind::branch;
  }
  // A block just written or checked (replacing any older block of that position).
  void remember(std::uint64_t position, const std::uint8_t* block) noexcept {
    std::size_t c = way_of(position);
    if (c == no_way) c = victim(position);
    std::memcpy(cache_[c], block, node_size);
    fill(c, position, block);
  }

  // Is `position` a block the log still holds?
  bool readable(std::uint64_t position) const noexcept {
    return position < tail_ && tail_ - position <= log_blocks_;
  }

  // A node's block if it is in memory (dirty, or clean and cached), else null.
  const std::uint8_t* peek(std::uint64_t ref) noexcept {
    idle_ = 0;
    if (!is_dirty(ref)) return cached(ref);
    const std::size_t i = dirty_index(ref);
    return i < Config::dirty_nodes && dirty_used_[i] ? dirty_[i] : nullptr;
  }

  // A node's block: dirty ones from memory, clean ones through the cache.
  task<result<const std::uint8_t*>> load(std::uint64_t ref, bool lookup = false) {
    if (is_dirty(ref)) {
      const std::size_t i = dirty_index(ref);
      if (i >= Config::dirty_nodes || !dirty_used_[i]) co_return fail(error::corrupt);
      co_return static_cast<const std::uint8_t*>(dirty_[i]);
    }
    if (const std::uint8_t* p = cached(ref)) co_return p;
    if (!readable(ref)) co_return fail(error::corrupt);
    ++stats_.cache_misses;
    const std::size_t c = make_way(ref, lookup);
    const view into = view::unowned(std::span<std::uint8_t>(cache_[c], node_size));  // read_block() inline: a frame less per miss
    auto r = co_await disk_.read(sector_of(ref), std::span<const view>(&into, 1));
    if (!r) co_return fail(r.err());
    co_return took(c, ref);
  }

  // The block of `ref`, not in memory (peek() found none), if the device reads
  // it at once (ReadsAtOnce: a RAM disk, a page-cache hit): a descent's miss
  // then costs no coroutine. Null: load() it.
  result<const std::uint8_t*> load_at_once(std::uint64_t ref, bool lookup) noexcept {
    if constexpr (ReadsAtOnce<Disk>) {
      if (is_dirty(ref) || !readable(ref)) return static_cast<const std::uint8_t*>(nullptr);  // load() says what is wrong
      const std::size_t c = make_way(ref, lookup);
      const view into = view::unowned(std::span<std::uint8_t>(cache_[c], node_size));
      auto r = disk_.read_at_once(sector_of(ref), std::span<const view>(&into, 1));
      if (!r) return fail(r.err());
      if (!*r) return static_cast<const std::uint8_t*>(nullptr);  // the way stays empty, for load()
      ++stats_.cache_misses;
      return took(c, ref);
    } else {
      return static_cast<const std::uint8_t*>(nullptr);
    }
  }
  // The cache way a missed block goes to, emptied until took() fills it. A
  // lookup (a get's descent, whose block is used at once and not kept) that
  // finds every way of the set guarded reads into `transit` instead.
  std::size_t make_way(std::uint64_t ref, bool lookup) noexcept {
    if (lookup && set_guarded(ref)) return transit;
    const std::size_t c = victim(ref);
    cache_pos_[c] = none;
    return c;
  }
  // The block read into way `c` for `ref`, kept if it checks (a branch that
  // came through `transit` takes a way after all; a leaf stays there, out of
  // the cache, until the next lookup's read).
  result<const std::uint8_t*> took(std::size_t c, std::uint64_t ref) noexcept {
    const node_view v(cache_[c], node_size);
    if (!v.check(ref, id_)) return fail(error::corrupt);
    if (c == transit) {
      if (v.leaf()) return static_cast<const std::uint8_t*>(cache_[c]);
      const std::size_t way = victim(ref);
      std::memcpy(cache_[way], cache_[c], node_size);
      c = way;
    }
    fill(c, ref, cache_[c]);
    return static_cast<const std::uint8_t*>(cache_[c]);
  }

  // The child entry `i` of `parent` names, if it can be a child: a clean node
  // was written after all of its children, so positions fall on the way down
  // (no cycle can be followed).
  static result<std::uint64_t> child_of(std::uint64_t parent_ref, const node_view& v, std::size_t i) noexcept {
    const std::uint64_t c = v.child_at(i).position;
    if (is_dirty(parent_ref)) return c;
    if (c >= parent_ref) return fail(error::corrupt);
    return c;
  }

  // Down from `ref` at depth `d` while the nodes are in memory or the device
  // reads them at once (`block`, when given, is ref's): true once the leaf is
  // reached (leaf_ is its block, d its depth, path_[0..d] and at_[] the way
  // down), false when `ref` must be loaded first. The common cases, every node
  // cached or a leaf the host's page cache holds, need no coroutine at all.
  result<bool> descend_held(std::uint64_t& ref, std::size_t& d, std::string_view key, const std::uint8_t* block,
                            bool lookup) noexcept {
    for (; d < Config::max_height; ++d, block = nullptr) {
      if (!block) block = peek(ref);
      if (!block) {
        auto now = load_at_once(ref, lookup);
        if (!now) return fail(now.err());
        block = *now;
      }
      if (!block) return false;
      path_[d] = ref;
      const node_view v(block, node_size);
      if (v.leaf()) {
        leaf_ = block;
        return true;
      }
      // A branch the cache has not handed out for a while (other nodes enough
      // to fill the CPU's L2 since) has likely left the CPU's caches: its lines
      // are asked for at once, not missed one probe at a time.
      if (idle_ > cold_after) v.prefetch();
      at_[d] = v.child_for(key);
      auto c = child_of(ref, v, at_[d]);
      if (!c) return fail(c.err());
      ref = *c;
    }
    return fail(error::corrupt);  // deeper than any tree this store builds
  }

  // Down from `root` to the leaf that holds or would hold `key`: path_[0..depth]
  // and the entry taken at each branch in at_[]. Returns the depth of the leaf;
  // leaf_ is its block, until the next load.
  task<result<std::size_t>> descend(std::uint64_t root, std::string_view key) {
    std::uint64_t ref = root;
    std::size_t d = 0;
    const std::uint8_t* block = nullptr;
    while (true) {
      auto held = descend_held(ref, d, key, block, false);
      if (!held) co_return fail(held.err());
      if (*held) co_return d;
      auto p = co_await load(ref);
      if (!p) co_return fail(p.err());
      block = *p;
    }
  }

  // The value of `key` under `root` copied into `out` (too_large if it does not
  // fit, after hashing it into *hash if asked). One call at a time, like the
  // public calls that return it: get() hands this task out as its own.
  task<result<std::size_t>> read_value(std::uint64_t root, std::string_view key, std::span<std::uint8_t> out,
                                       std::uint64_t* hash) {
    busy_guard g(busy_);
    if (!g) co_return fail(error::would_block);
    if (failed_) co_return fail(error::io);
    if (!kv::valid_key(key)) co_return fail(error::invalid_argument);
    if (root == none || key.size() > Config::max_key) co_return fail(error::not_found);
    std::uint64_t ref = root;
    std::size_t d = 0;
    const std::uint8_t* block = nullptr;
    while (true) {  // descend(), inline: a path in memory (or read at once) costs this one coroutine frame
      auto held = descend_held(ref, d, key, block, true);
      if (!held) co_return fail(held.err());
      if (*held) break;
      auto p = co_await load(ref, true);
      if (!p) co_return fail(p.err());
      block = *p;
    }
    const node_view leaf(leaf_, node_size);
    const std::size_t i = leaf.lower_bound(key);
    if (i == leaf.count() || leaf.key(i) != key) co_return fail(error::not_found);
    const auto value = leaf.at(i).value;
    if (hash) *hash = hash_of(value);
    if (value.size() > out.size()) co_return fail(error::too_large);
    if (!value.empty()) std::memcpy(out.data(), value.data(), value.size());
    co_return value.size();
  }

  task<result<std::size_t>> walk_keys(std::string_view prefix, kv::key_visitor each) {
    if (failed_) co_return fail(error::io);
    if (root_ == none) co_return std::size_t{0};
    auto d0 = co_await descend(root_, prefix);
    if (!d0) co_return fail(d0.err());
    std::size_t depth = *d0, count = 0;
    std::size_t i = 0;
    bool first = true;
    // A tree has fewer leaves than the log has blocks; a scribbled one that
    // names a subtree many times over is caught here, not walked for ever.
    for (std::uint64_t leaves = 0;; ++leaves) {
      if (leaves > log_blocks_) co_return fail(error::corrupt);
      auto p = co_await load(path_[depth]);
      if (!p) co_return fail(p.err());
      const node_view leaf(*p, node_size);
      for (i = first ? leaf.lower_bound(prefix) : 0; i < leaf.count(); ++i) {
        const std::string_view k = leaf.key(i);
        if (k.substr(0, prefix.size()) != prefix) {
          if (k > prefix) co_return count;
          continue;
        }
        each(k);
        ++count;
      }
      first = false;
      // The next leaf: up to the first branch with an entry left, then leftmost down.
      std::size_t d = depth;
      bool next = false;
      while (d-- > 0) {
        auto b = co_await load(path_[d]);
        if (!b) co_return fail(b.err());
        const node_view v(*b, node_size);
        if (++at_[d] < v.count()) {
          next = true;
          break;
        }
      }
      if (!next) co_return count;
      for (;; ++d) {
        auto b = co_await load(path_[d]);
        if (!b) co_return fail(b.err());
        const node_view v(*b, node_size);
        if (v.leaf()) break;
        if (d + 1 >= Config::max_height) co_return fail(error::corrupt);
        auto c = child_of(path_[d], v, at_[d]);
        if (!c) co_return fail(c.err());
        path_[d + 1] = *c;
        at_[d + 1] = 0;
      }
      depth = d;
    }
  }

  // --- changes ---------------------------------------------------------------
  result<std::size_t> take_dirty() noexcept {
    for (std::size_t i = 0; i < Config::dirty_nodes; ++i)
      if (!dirty_used_[i]) {
        dirty_used_[i] = true;
        ++dirty_count_;
        return i;
      }
    return fail(error::table_full);
  }
  void give_dirty(std::uint64_t ref) noexcept {
    if (!is_dirty(ref)) return;
    dirty_used_[dirty_index(ref)] = false;
    --dirty_count_;
  }
  // Room for one more edit: at most two new nodes per level and a new root.
  // The part of the batch committed here cleans as any commit does (a long
  // batch of parts alone would otherwise fill the log).
  task<result<void>> make_room() {
    if (failed_) co_return fail(error::io);
    if (Config::dirty_nodes - dirty_count_ < 2 * Config::max_height + 2) co_return co_await commit_and_clean();
    co_return result<void>{};
  }

  // An edit of one node: entries [at, at + removed) are replaced by `added`.
  struct edit {
    std::size_t at = 0;
    std::size_t removed = 0;
    std::size_t added = 0;
    entry adds[3];
  };

  // list_[n...]: the entries of `src` with `e` applied; returns the new end.
  std::size_t gather(const node_view& src, const edit& e, std::size_t n) noexcept {
    for (std::size_t i = 0; i < e.at; ++i) list_[n++] = src.at(i);
    for (std::size_t i = 0; i < e.added; ++i) list_[n++] = e.adds[i];
    for (std::size_t i = e.at + e.removed; i < src.count(); ++i) list_[n++] = src.at(i);
    return n;
  }

  // Cuts list_[0, n) into the fewest nodes (three at most) of about equal
  // bytes that each fit: ends[k] is one past part k's last entry. 0 parts for
  // an empty list, or if no cut fits (which the config's limits rule out).
  std::size_t cut(std::size_t n, std::array<std::size_t, 3>& ends) const noexcept {
    std::size_t total = 0;
    for (std::size_t i = 0; i < n; ++i) total += entry_cost(list_[i].key.size(), list_[i].value.size());
    if (n == 0) return 0;
    for (std::size_t parts = 1; parts <= 3; ++parts) {
      bool fits = true;
      std::size_t i = 0, used = 0;
      for (std::size_t k = 0; k < parts && fits; ++k) {
        const std::size_t from = i, from_used = used, goal = total * (k + 1) / parts;
        while (i < n && (used < goal || k + 1 == parts))
          used += entry_cost(list_[i].key.size(), list_[i].value.size()), ++i;
        fits = i > from && used - from_used <= node_size - node_header;
        ends[k] = i;
      }
      if (fits) return parts;
    }
    return 0;
  }

  // Applies `e` to the node at path_[level], then the resulting change of its
  // parent, up to the root. A leaf that overflows is rebuilt together with a
  // sibling: as two nodes while the pair fits, as three once both are full.
  // Random inserts then leave leaves about four-fifths full instead of two
  // thirds: fewer leaves, so the node cache holds more of them.
  task<result<void>> apply(std::size_t level, edit e) {
    while (true) {
      // From the parent, before anything moves: the key naming this node and a
      // sibling (the next one, else the one before), with the sibling's key if
      // it comes first.
      auto& own_key = named_keys_[0];
      auto& sibling_key = named_keys_[1];
      std::size_t own_key_size = 0, sibling_key_size = 0, sibling_at = 0;
      std::uint64_t sibling = none;
      if (level > 0) {
        auto pp = co_await load(path_[level - 1]);
        if (!pp) co_return fail(pp.err());
        const node_view parent(*pp, node_size);
        const std::size_t at = at_[level - 1];
        auto copy_key = [&](std::size_t i, std::array<std::uint8_t, max_key_copy>& into, std::size_t& size) {
          const auto k = parent.at(i).key;
          if (k.size() > into.size()) return false;
          std::memcpy(into.data(), k.data(), k.size());
          size = k.size();
          return true;
        };
        if (!copy_key(at, own_key, own_key_size)) co_return fail(error::corrupt);
        if (parent.count() > 1) {
          sibling_at = at + 1 < parent.count() ? at + 1 : at - 1;
          auto c = child_of(path_[level - 1], parent, sibling_at);
          if (!c) co_return fail(c.err());
          sibling = *c;
          if (sibling_at < at && !copy_key(sibling_at, sibling_key, sibling_key_size)) co_return fail(error::corrupt);
        }
      }
      auto p = co_await load(path_[level]);
      if (!p) co_return fail(p.err());
      const node_kind kind = node_view(*p, node_size).kind();
      std::size_t n = gather(node_view(*p, node_size), e, 0);
      std::array<std::size_t, 3> ends{};
      std::size_t parts = cut(n, ends);
      const bool share = parts > 1 && kind == node_kind::leaf && sibling != none;
      if (share) {  // the sibling's block is copied: loading the node again may evict it
        auto sp = co_await load(sibling);
        if (!sp) co_return fail(sp.err());
        if (!node_view(*sp, node_size).leaf()) co_return fail(error::corrupt);  // leaves are all at one depth
        std::memcpy(sibling_, *sp, node_size);
        p = co_await load(path_[level]);
        if (!p) co_return fail(p.err());
        const node_view own(*p, node_size), other(sibling_, node_size);
        n = sibling_at < at_[level - 1] ? gather(own, e, gather(other, edit{}, 0)) : gather(other, edit{}, gather(own, e, 0));
        parts = cut(n, ends);
      }
      if (n > 0 && parts == 0) co_return fail(error::corrupt);
      // Build into scratch (the list points into the nodes' own blocks).
      for (std::size_t k = 0, from = 0; k < parts; from = ends[k++]) {
        node_builder b(scratch_[k], node_size, kind);
        for (std::size_t i = from; i < ends[k]; ++i) b.add(list_[i].key, list_[i].value);
      }
      // Place the new nodes: in the rebuilt nodes' own dirty blocks first, fresh ones after.
      std::uint64_t reuse[2] = {path_[level], share ? sibling : none};
      std::uint64_t refs[3] = {none, none, none};
      for (std::size_t k = 0; k < parts; ++k) {
        std::size_t slot;
        std::uint64_t* own = is_dirty(reuse[0]) ? &reuse[0] : is_dirty(reuse[1]) ? &reuse[1] : nullptr;
        if (own) {
          slot = dirty_index(*own);
          *own = none;
        } else {
          auto t = take_dirty();
          if (!t) co_return fail(t.err());
          slot = *t;
        }
        std::memcpy(dirty_[slot], scratch_[k], node_size);
        refs[k] = dirty_ref(slot);
      }
      give_dirty(reuse[0]);
      give_dirty(reuse[1]);

      // Each new node's entry in the parent: the first keeps the key that named
      // the leftmost node rebuilt (a branch's first entry covers everything below).
      const bool sibling_first = share && sibling_at < at_[level - 1];
      std::memcpy(key_copy_.data(), sibling_first ? sibling_key.data() : own_key.data(), max_key_copy);
      const std::size_t first_key_size = sibling_first ? sibling_key_size : own_key_size;
      // A later leaf's key is the shortest that parts it from the leaf before.
      auto child_entry = [&](std::size_t k, bool keep_key) {
        store64(child_bytes_[k].data(), refs[k]);
        store64(child_bytes_[k].data() + 8, 0);  // a dirty child's lowest is found when it is placed
        const node_view made(dirty_[dirty_index(refs[k])], node_size);
        if (keep_key) return entry{std::span<const std::uint8_t>(key_copy_.data(), first_key_size), child_bytes_[k]};
        if (k == 0 || kind != node_kind::leaf) return entry{made.at(0).key, child_bytes_[k]};
        const node_view before(dirty_[dirty_index(refs[k - 1])], node_size);
        return entry{separator(before.at(before.count() - 1).key, made.at(0).key), child_bytes_[k]};
      };
      if (level == 0) {
        if (parts == 0) {
          root_ = none;
        } else if (parts > 1) {  // the root split: a new root above the parts
          auto t = take_dirty();
          if (!t) co_return fail(t.err());
          node_builder b(dirty_[*t], node_size, node_kind::branch);
          for (std::size_t k = 0; k < parts; ++k) {
            const entry c = child_entry(k, false);
            b.add(c.key, c.value);
          }
          root_ = dirty_ref(*t);
        } else {
          const node_view only(dirty_[dirty_index(refs[0])], node_size);
          if (!only.leaf() && only.count() == 1) {  // a root with one child gives way to it
            root_ = only.child_at(0).position;
            root_lowest_ = only.child_at(0).lowest;
            give_dirty(refs[0]);
          } else {
            root_ = refs[0];
          }
        }
        co_return result<void>{};
      }
      // The parent's edit: the rebuilt nodes' entries replaced by what they became.
      e = edit{};
      e.at = sibling_first ? sibling_at : at_[level - 1];
      e.removed = share ? 2 : 1;
      for (std::size_t k = 0; k < parts; ++k) e.adds[k] = child_entry(k, k == 0);
      e.added = parts;
      --level;
    }
  }

  task<result<void>> stage_put(std::string_view key, std::span<const view> value) {
    if (!kv::valid_key(key) || key.size() > Config::max_key) co_return fail(error::invalid_argument);
    std::size_t size = 0;
    for (const view& v : value) {
      if (v.size() > Config::max_value - size) co_return fail(error::too_large);
      if (!v.empty()) std::memcpy(value_.data() + size, v.data(), v.size());
      size += v.size();
    }
    if (auto r = co_await make_room(); !r) co_return r;
    const entry added{{reinterpret_cast<const std::uint8_t*>(key.data()), key.size()}, {value_.data(), size}};
    if (root_ == none) {
      auto t = take_dirty();
      if (!t) co_return fail(t.err());
      node_builder b(dirty_[*t], node_size, node_kind::leaf);
      b.add(added.key, added.value);
      root_ = dirty_ref(*t);
      co_return result<void>{};
    }
    auto d = co_await descend(root_, key);
    if (!d) co_return fail(d.err());
    const node_view leaf(leaf_, node_size);
    edit e;
    e.at = leaf.lower_bound(key);
    e.removed = e.at < leaf.count() && leaf.key(e.at) == key ? 1 : 0;
    e.added = 1;
    e.adds[0] = added;
    co_return co_await apply(*d, e);
  }

  task<result<void>> stage_erase(std::string_view key) {
    if (!kv::valid_key(key)) co_return fail(error::invalid_argument);
    if (failed_) co_return fail(error::io);
    if (root_ == none || key.size() > Config::max_key) co_return fail(error::not_found);
    if (auto r = co_await make_room(); !r) co_return r;
    auto d = co_await descend(root_, key);
    if (!d) co_return fail(d.err());
    const node_view leaf(leaf_, node_size);
    edit e;
    e.at = leaf.lower_bound(key);
    if (e.at == leaf.count() || leaf.key(e.at) != key) co_return fail(error::not_found);
    e.removed = 1;
    co_return co_await apply(*d, e);
  }

  // --- commits ---------------------------------------------------------------
  // Gives the dirty subtree under `ref` positions from next_ on, children first,
  // and seals it; its position and the lowest position below it.
  child place(std::uint64_t ref) noexcept {
    std::uint8_t* block = dirty_[dirty_index(ref)];
    const node_view v(block, node_size);
    std::uint64_t lowest = none;
    if (!v.leaf())
      for (std::size_t i = 0; i < v.count(); ++i) {
        child c = v.child_at(i);
        if (is_dirty(c.position)) {
          c = place(c.position);
          set_child(block, i, c);
        }
        lowest = std::min(lowest, c.lowest);
      }
    const std::uint64_t position = next_++;
    order_[placed_++] = dirty_index(ref);
    seal({block, node_size}, position, id_);
    return {position, std::min(lowest, position)};
  }

  task<result<void>> commit_dirty() {
    if (failed_) co_return fail(error::io);
    if (dirty_count_ == 0) co_return result<void>{};
    co_return co_await write_commit(generation_ + 1);
  }

  // Appends the commit of generation `generation` (record, then the dirty tree)
  // at the tail and flushes; then points its slot at it.
  task<result<void>> write_commit(std::uint64_t generation) {
    const std::uint64_t at = tail_;
    if (generation > 1 && at + 1 + dirty_count_ > floor() + log_blocks_) co_return fail(error::no_space);
    next_ = at + 1;
    placed_ = 0;
    child root{none, at};
    if (root_ != none) root = is_dirty(root_) ? place(root_) : child{root_, root_lowest_};
    block_hash body(id_);
    for (std::size_t i = 0; i < placed_; ++i) body.add64(load64(dirty_[order_[i]]));
    std::uint8_t* r = record_;
    std::memset(r, 0, node_size);
    store64(r + 8, commit_magic);
    store64(r + 16, generation);
    store64(r + 24, at);
    store64(r + 32, 1 + placed_);
    store64(r + 40, root.position);
    store64(r + 48, root.lowest);
    store64(r + 56, body.finish());
    store64(r + 64, id_);
    store64(r, hash_of({r + 8, record_bytes - 8}, id_));
    // One gather write per run of the circular log that the commit covers.
    failed_ = true;
    const std::uint64_t blocks = 1 + placed_;
    for (std::uint64_t done = 0; done < blocks;) {
      const std::uint64_t first = (at + done) % log_blocks_;
      const std::uint64_t run = std::min(blocks - done, log_blocks_ - first);
      for (std::uint64_t i = 0; i < run; ++i) {
        std::uint8_t* b = done + i == 0 ? record_ : dirty_[order_[done + i - 1]];
        pages_[i] = view::unowned(std::span<std::uint8_t>(b, node_size));
      }
      if (auto w = co_await disk_.write(sector_of(at + done), std::span<const view>(pages_.data(), run)); !w)
        co_return w;
      done += run;
    }
    if (auto f = co_await disk_.flush(); !f) co_return f;
    failed_ = false;
    slot_durable_[0] = std::max(slot_durable_[0], slot_pending_[0]);
    slot_durable_[1] = std::max(slot_durable_[1], slot_pending_[1]);
    for (std::size_t i = 0; i < placed_; ++i) remember(at + 1 + i, dirty_[order_[i]]);
    free_dirty();
    stats_.blocks_written += blocks;
    ++stats_.commits;
    generation_ = generation;
    commit_pos_ = at;
    tail_ = at + blocks;
    root_ = root.position;
    root_lowest_ = root.lowest;
    head_ = std::min(root.lowest, at);
    last_ = {generation, root.position, root.lowest};
    if (generation > 1) {
      const std::size_t older = slot_pending_[0] <= slot_pending_[1] ? 0 : 1;
      if (at - slot_pending_[1 - older] >= slot_lag()) co_return co_await write_slot(older, generation, at);
    }
    co_return result<void>{};
  }

  // Blocks of log a commit may lie past the newer slot's commit before a slot is
  // written: open() follows the log forward that far (the blocks stay, floor()).
  std::uint64_t slot_lag() const noexcept { return std::max<std::uint64_t>(1, log_blocks_ / 16); }

  // Slot `s` names the commit at `position` (made durable by the next flush).
  task<result<void>> write_slot(std::size_t s, std::uint64_t generation, std::uint64_t position) {
    std::uint8_t* b = slot_;
    std::memset(b, 0, node_size);
    store64(b + 8, slot_magic);
    store64(b + 16, id_);
    store64(b + 24, generation);
    store64(b + 32, position);
    store64(b + 40, node_size);
    store64(b + 48, log_blocks_);
    store64(b, hash_of({b + 8, slot_bytes - 8}));
    slot_pending_[s] = position;
    const view v = view::unowned(std::span<std::uint8_t>(b, node_size));
    co_return co_await disk_.write(s * spn_, std::span<const view>(&v, 1));
  }

  // Reads and checks the commit at `at` of `generation`, and every node of it;
  // on success it is the store's last commit.
  task<bool> read_commit(std::uint64_t at, std::uint64_t generation) {
    if (at >= position_limit || !readable(at)) co_return false;
    if (!co_await read_block(sector_of(at), record_)) co_return false;
    const std::uint8_t* r = record_;
    if (load64(r) != hash_of({r + 8, record_bytes - 8}, id_) || load64(r + 8) != commit_magic ||
        load64(r + 16) != generation || load64(r + 24) != at || load64(r + 64) != id_)
      co_return false;
    const std::uint64_t blocks = load64(r + 32), root = load64(r + 40), lowest = load64(r + 48);
    if (blocks == 0 || blocks > Config::dirty_nodes + 1) co_return false;
    if (root != none && (root >= at + blocks || lowest > root || at + blocks - lowest > log_blocks_)) co_return false;
    if (root == none && lowest != at) co_return false;
    const std::uint64_t body_hash = load64(r + 56);
    block_hash body(id_);
    for (std::uint64_t i = 1; i < blocks; ++i) {
      if (!co_await read_block(sector_of(at + i), scratch_[0])) co_return false;
      if (!node_view(scratch_[0], node_size).check(at + i, id_)) co_return false;
      body.add64(load64(scratch_[0]));
      remember(at + i, scratch_[0]);
    }
    if (body.finish() != body_hash) co_return false;
    generation_ = generation;
    commit_pos_ = at;
    tail_ = at + blocks;
    head_ = std::min(lowest, at);
    last_ = {generation, root, lowest};
    co_return true;
  }

  // Past half full, the commit carries a cleaning step's copies too: one
  // write and one flush for both. The step cleans as many blocks as the last
  // commit took (its record and nodes, commit_pos_ up to tail_), if that is
  // more than compact_blocks: a fixed step falls behind commits that each
  // rewrite many leaves of a large tree, and the log fills while most of it is
  // dead.
  task<result<void>> commit_and_clean() {
    if (failed_) co_return fail(error::io);
    if (2 * (tail_ - floor()) > log_blocks_)
      if (auto r = co_await clean_walk(tail_ - commit_pos_); !r) co_return r;
    co_return co_await commit_dirty();
  }

  // Copies every live node below head_ + compact_blocks, or + `blocks` if more
  // (up to a commit's worth), and the path to each, into the batch, as far as
  // the dirty budget allows.
  task<result<void>> clean_walk(std::uint64_t blocks = 0) {
    if (failed_) co_return fail(error::io);
    if (root_ == none) co_return result<void>{};
    const std::uint64_t target =
        head_ + std::max<std::uint64_t>(Config::compact_blocks, std::min<std::uint64_t>(blocks, Config::dirty_nodes + 1));
    path_[0] = root_;
    at_[0] = 0;
    if (!is_dirty(root_) && root_ < target)
      if (auto r = co_await copy_path(0); !r) co_return r;
    std::size_t d = 0;
    std::uint64_t visited = 0;  // nodes entered: more than the log holds is a scribbled tree
    while (Config::dirty_nodes - dirty_count_ >= Config::max_height + 2) {
      auto p = co_await load(path_[d]);
      if (!p) co_return fail(p.err());
      const node_view v(*p, node_size);
      if (v.leaf() || at_[d] >= v.count()) {
        if (d == 0) break;
        ++at_[--d];
        continue;
      }
      const child c = v.child_at(at_[d]);
      auto checked = child_of(path_[d], v, at_[d]);
      if (!checked) co_return fail(checked.err());
      if (!is_dirty(c.position) && c.lowest >= target) {
        ++at_[d];
        continue;
      }
      if (d + 1 >= Config::max_height || ++visited > log_blocks_) co_return fail(error::corrupt);
      path_[d + 1] = c.position;
      at_[d + 1] = 0;
      ++d;
      if (!is_dirty(c.position) && c.position < target)
        if (auto r = co_await copy_path(d); !r) co_return r;
    }
    ++stats_.compactions;
    co_return result<void>{};
  }

  // Makes path_[0..d] dirty, top down, each parent naming its new child.
  task<result<void>> copy_path(std::size_t d) {
    for (std::size_t level = 0; level <= d; ++level) {
      if (is_dirty(path_[level])) continue;
      auto p = co_await load(path_[level]);
      if (!p) co_return fail(p.err());
      auto t = take_dirty();
      if (!t) co_return fail(t.err());
      std::memcpy(dirty_[*t], *p, node_size);
      const std::uint64_t ref = dirty_ref(*t);
      if (level == 0) {
        root_ = ref;
      } else {
        std::uint8_t* parent = dirty_[dirty_index(path_[level - 1])];
        const child old = node_view(parent, node_size).child_at(at_[level - 1]);
        set_child(parent, at_[level - 1], {ref, old.lowest});
      }
      path_[level] = ref;
    }
    co_return result<void>{};
  }

  static constexpr std::size_t max_key_copy = Config::max_key;

  Disk& disk_;
  std::size_t spn_ = 1;             // sectors per node
  std::uint64_t log_blocks_ = 0;
  std::uint64_t id_ = 0;
  bool busy_ = false;
  bool failed_ = false;
  std::uint64_t root_ = none;       // the working tree: a position, a dirty ref or none
  std::uint64_t root_lowest_ = 0;   // the lowest position under a clean root_
  snapshot last_{};                 // the last commit
  std::uint64_t generation_ = 0, commit_pos_ = 0, head_ = 0, tail_ = 0;
  std::uint64_t slot_durable_[2] = {0, 0}, slot_pending_[2] = {0, 0};
  std::uint64_t next_ = 0;
  std::size_t placed_ = 0;
  std::size_t dirty_count_ = 0;
  const std::uint8_t* leaf_ = nullptr;  // what descend() reached
  stats stats_{};

  std::array<std::uint64_t, Config::max_height> path_{};
  std::array<std::size_t, Config::max_height> at_{};
  std::array<entry, max_entries> list_{};
  std::array<std::size_t, Config::dirty_nodes> order_{};
  std::array<view, Config::dirty_nodes + 1> pages_{};
  std::array<std::array<std::uint8_t, child_value>, 3> child_bytes_{};
  std::array<std::uint8_t, Config::max_key> key_copy_{};
  std::array<std::array<std::uint8_t, max_key_copy>, 2> named_keys_{};  // apply(): the keys a parent names its rebuilt nodes by
  std::array<std::uint8_t, Config::max_value> value_{};
  std::array<bool, Config::dirty_nodes> dirty_used_{};
  std::array<std::uint64_t, Config::cache_nodes> cache_pos_{};
  std::array<std::uint32_t, Config::cache_nodes> used_{};  // the tick of its last use, for LRU
  std::array<bool, Config::cache_nodes> branch_{};        // holds a branch (the block's kind, kept here: no miss to ask)
  std::uint32_t tick_ = 0;
  std::uint32_t idle_ = 0;  // cached(): ticks since the node it found was last used
  static constexpr std::uint32_t cold_after = (1u << 20) / node_size;  // a 1 MiB L2's worth of nodes
  std::array<std::uint32_t, Config::cache_nodes> hit_in_{};  // the generation a lookup last found it in (low bits)

  alignas(4096) std::uint8_t cache_[Config::cache_nodes + 1][node_size];  // the ways, then `transit`
  alignas(4096) std::uint8_t dirty_[Config::dirty_nodes][node_size];
  alignas(4096) std::uint8_t scratch_[3][node_size];
  alignas(4096) std::uint8_t sibling_[node_size];
  alignas(4096) std::uint8_t record_[node_size];
  alignas(4096) std::uint8_t slot_[node_size];
};

}  // namespace uni::btree
