// uni/fs/fat32/volume.hpp: a FAT-32 file system over any uni::BlockDevice
// (fatgen103), read and written: directories, VFAT long names (UTF-8 paths,
// UTF-16 on disk), create, write, append, truncate, remove, rename, mkdir.
//
// Memory is fixed when the volume is mounted: the FAT cache's pages
// (fat_cache.hpp), one page for directory sectors and one for file data, all
// taken from the I/O page pool. A file is read as a stream of views of pool
// pages (reader::next(), a page of sectors at a time), which a caller may keep
// or hand to TCP without a copy; nothing builds a list of clusters.
//
// Every write is direct: an operation writes what it changed (data, directory
// sector, FAT sectors, FSInfo) before it returns, then flushes the device.
//
// Nothing on the disk is trusted: a cluster number outside the volume, a chain
// that loops or ends early, a directory larger than FAT allows (65536 entries),
// a size larger than the volume, all are error::corrupt, found within a bounded
// number of steps. A full volume is error::no_space, and the clusters a failed
// write took are given back.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include <uni/block/concepts.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/function_ref.hpp>
#include <uni/core/result.hpp>
#include <uni/core/task.hpp>
#include <uni/fs/fat32/directory_entry.hpp>
#include <uni/fs/fat32/fat_cache.hpp>
#include <uni/fs/fat32/names.hpp>
#include <uni/fs/fat32/wire.hpp>

namespace uni::fs::fat32 {

// What a directory entry says of a file or directory.
struct entry_info {
  bool directory = false;
  std::uint32_t size = 0;
  std::uint32_t first_cluster = 0;
  std::uint32_t written = 0;  // the last write's DOS date << 16 | time
};

// Called once per entry by volume::list(): its name (UTF-8) and what it is.
using entry_visitor = function_ref<void(std::string_view name, const entry_info& info)>;

// A DOS date and time (fatgen103 §6.3): what the volume stamps on what it writes.
struct dos_stamp {
  std::uint16_t date = (46 << 9) | (1 << 5) | 1;  // 2026-01-01
  std::uint16_t time = 0;
};

template <BlockDevice D, std::size_t FatCachePages = 4>
class volume {
 public:
  static constexpr std::size_t pages_needed = FatCachePages + 2;  // + a directory page and a data page
  static constexpr std::uint32_t max_directory_bytes = 65536 * entry_size;  // §6: 65536 entries at most
  static constexpr std::uint32_t max_file_size = 0xFFFFFFFF;

  volume(D& dev, page_pool& pool) noexcept : dev_(dev), pool_(pool) {}
  volume(const volume&) = delete;
  volume& operator=(const volume&) = delete;

  // Reads and checks the boot sector and FSInfo, takes the pages.
  // error::corrupt for a volume that is not a sane FAT-32 one.
  task<result<void>> mount() {
    if (dev_.sector_size() < 512 || dev_.sector_size() > page_size) co_return fail(error::invalid_argument);
    for (view* p : {&dir_page_, &data_page_}) {
      auto page = pool_.allocate();
      if (!page) co_return fail(page.err());
      *p = std::move(*page);
    }
    auto rd = co_await read_sectors(0, 1, data_page_);
    if (!rd) co_return rd;
    auto bs = boot_sector::parse(data_page_.bytes().first(boot_sector_size));
    if (!bs) co_return fail(error::corrupt);
    auto g = geometry::parse(*bs, dev_.sector_size(), dev_.sectors());
    if (!g) co_return fail(g.err());
    g_ = *g;
    if (auto a = fat_.attach(dev_, pool_, g_); !a) co_return a;
    if (g_.fsinfo_sector != 0) {
      auto fi = co_await read_sectors(g_.fsinfo_sector, 1, data_page_);
      if (!fi) co_return fi;
      auto info = fsinfo_sector::parse(data_page_.bytes().first(512));
      if (info && info->signed_ok()) {
        if (info->free_count() <= g_.cluster_count) free_count_ = info->free_count();
        if (g_.valid_cluster(info->next_free())) next_free_ = info->next_free();
      } else {
        g_.fsinfo_sector = 0;  // no usable FSInfo: leave that sector alone
      }
    }
    mounted_ = true;
    co_return result<void>{};
  }

  const geometry& layout() const noexcept { return g_; }
  // Free clusters, if the FSInfo sector keeps the count (fsinfo_sector::unknown otherwise).
  std::uint32_t free_clusters() const noexcept { return free_count_; }
  void set_stamp(dos_stamp s) noexcept { stamp_ = s; }
  const typename fat_cache<D, FatCachePages>::stats& fat_statistics() const noexcept { return fat_.statistics(); }

  // ---- Reading ---------------------------------------------------------------

  // A file's bytes from an offset on, a page of sectors at a time.
  class reader {
   public:
    reader() noexcept = default;
    // The next bytes, as a view of a fresh pool page; an empty view at the end.
    task<result<view>> next() {
      view one;
      auto n = co_await next(std::span<view>(&one, 1));
      if (!n) co_return fail(n.err());
      co_return one;
    }
    // The next bytes into up to out.size() fresh pool pages, read in one
    // device request as far as the file's clusters follow each other on the
    // disk (small clusters would otherwise cost a request each): how many
    // pages were filled, 0 at the end. Fewer pages when the pool runs short;
    // error::no_buffers when it has none.
    task<result<std::size_t>> next(std::span<view> out) {
      if (pos_ >= size_ || out.empty()) co_return std::size_t{0};
      const std::uint32_t cb = v_->g_.cluster_bytes(), ss = v_->g_.sector_size;
      while (index_ < pos_ / cb) {
        auto n = co_await v_->next_cluster(cluster_);
        if (!n) co_return fail(n.err());
        if (*n == 0) co_return fail(error::corrupt);  // the chain ends before the file does
        cluster_ = *n;
        ++index_;
      }
      sector_run run = v_->run_at(cluster_, pos_, size_);
      std::size_t pages = 0;
      for (const std::uint64_t want = (size_ - run.aligned + page_size - 1) / page_size; pages < out.size() && pages < want;
           ++pages) {
        auto page = v_->pool_.allocate();
        if (!page) break;
        out[pages] = std::move(*page);
      }
      if (pages == 0) co_return fail(error::no_buffers);
      const std::uint64_t limit = std::min<std::uint64_t>(size_, run.aligned + pages * page_size);
      while (run.stop < limit) {
        if (run.stop % cb == 0) {  // at the end of cluster_: on if the next one follows it
          auto n = co_await v_->next_cluster(cluster_);
          if (!n) co_return fail(n.err());
          if (*n != cluster_ + 1) break;
          cluster_ = *n;
          ++index_;
        }
        run.stop = std::min<std::uint64_t>(limit, (run.stop / cb + 1) * cb);
      }
      // The pages the run covers, each cut to whole sectors; the rest go back.
      const std::uint64_t bytes = (run.stop - run.aligned + ss - 1) / ss * ss;
      const std::size_t used = static_cast<std::size_t>((bytes + page_size - 1) / page_size);
      for (std::size_t i = 0; i < pages; ++i) {
        if (i >= used) out[i] = view{};
        else out[i].truncate(static_cast<std::size_t>(std::min<std::uint64_t>(page_size, bytes - i * page_size)));
      }
      auto rd = co_await v_->dev_.read(run.sector, std::span<const view>(out.data(), used));
      if (!rd) co_return fail(rd.err());
      // Then the file's bytes only: from pos_ in the first page to stop in the last.
      for (std::size_t i = 0; i < used; ++i) {
        const std::uint64_t from = std::max(pos_, run.aligned + i * page_size) - run.aligned - i * page_size;
        const std::uint64_t to = std::min(run.stop, run.aligned + (i + 1) * page_size) - run.aligned - i * page_size;
        out[i] = out[i].slice(static_cast<std::size_t>(from), static_cast<std::size_t>(to - from)).value();
      }
      pos_ = run.stop;
      co_return used;
    }
    std::uint64_t size() const noexcept { return size_; }
    std::uint64_t position() const noexcept { return pos_; }
    // Moves forward to byte `offset` (the end at most) without reading what
    // is skipped; the next next() follows the chain there.
    void skip_to(std::uint64_t offset) noexcept {
      if (offset > pos_) pos_ = offset < size_ ? offset : size_;
    }

   private:
    friend class volume;
    reader(volume* v, std::uint32_t first, std::uint32_t size, std::uint64_t from) noexcept
        : v_(v), cluster_(first), size_(size), pos_(from < size ? from : size) {}
    volume* v_ = nullptr;
    std::uint32_t cluster_ = 0;  // the index_-th cluster of the chain
    std::uint32_t index_ = 0;
    std::uint64_t size_ = 0, pos_ = 0;
  };

  // What `path` names: error::not_found if nothing.
  task<result<entry_info>> stat(std::string_view path) {
    item it;
    auto w = co_await walk(path, it);
    if (!w) co_return fail(w.err());
    co_return it.info();
  }

  // A reader of the file at `path` from byte `offset` on.
  task<result<reader>> open(std::string_view path, std::uint64_t offset = 0) {
    item it;
    auto w = co_await walk(path, it);
    if (!w) co_return fail(w.err());
    auto f = checked_file(it);
    if (!f) co_return fail(f.err());
    co_return reader(this, it.first_cluster(), it.size(), offset);
  }

  // Copies the file's bytes from `offset` into `out`: how many were copied.
  task<result<std::size_t>> read(std::string_view path, std::uint64_t offset, std::span<std::uint8_t> out) {
    auto r = co_await open(path, offset);
    if (!r) co_return fail(r.err());
    std::size_t n = 0;
    while (n < out.size()) {
      auto chunk = co_await r->next();
      if (!chunk) co_return fail(chunk.err());
      if (chunk->empty()) break;
      const std::size_t k = std::min(chunk->size(), out.size() - n);
      std::memcpy(out.data() + n, chunk->data(), k);
      n += k;
    }
    co_return n;
  }

  // A directory entry's place: byte `offset` in directory cluster `cluster`.
  struct position {
    std::uint32_t cluster = 0, offset = 0;
    friend bool operator==(const position&, const position&) = default;
  };
  // A place in a directory's listing (open_directory(), next()), counting the
  // clusters walked so a looping directory ends.
  struct directory {
    position at;
    std::uint32_t clusters = 1;
    bool ended = false;
  };
  // One entry of a listing.
  struct listed {
    std::array<char, max_name_bytes> text{};
    std::size_t text_size = 0;
    entry_info info;
    std::string_view name() const noexcept { return {text.data(), text_size}; }
  };

  // The start of the listing of the directory at `path` ("" is the root).
  task<result<directory>> open_directory(std::string_view path) {
    item dir;
    auto w = co_await walk(path, dir);
    if (!w) co_return fail(w.err());
    if (!dir.is_directory()) co_return fail(error::invalid_argument);
    if (!g_.valid_cluster(dir.first_cluster())) co_return fail(error::corrupt);
    co_return cursor_at(dir.first_cluster());
  }

  // The next entry of a listing (never "." or ".."), or false at its end.
  task<result<bool>> next(directory& d, listed& out) {
    item it;
    while (true) {
      auto more = co_await next_item(d, it);
      if (!more || !*more) co_return more;
      if (it.dot()) continue;
      out.text = it.text;
      out.text_size = it.text_size;
      out.info = it.info();
      co_return true;
    }
  }

  // Calls `each` for every entry of the directory at `path`: how many.
  task<result<std::size_t>> list(std::string_view path, entry_visitor each) {
    auto d = co_await open_directory(path);
    if (!d) co_return fail(d.err());
    listed entry;
    std::size_t n = 0;
    while (true) {
      auto more = co_await next(*d, entry);
      if (!more) co_return fail(more.err());
      if (!*more) co_return n;
      each(entry.name(), entry.info);
      ++n;
    }
  }

  // ---- Writing: each call is one operation, on the disk when it returns -------

  // An empty file at `path`: error::in_use if something has that name.
  task<result<void>> create(std::string_view path) { co_return co_await operation(do_create(path, 0)); }
  // A directory at `path` (its parent must exist).
  task<result<void>> mkdir(std::string_view path) { co_return co_await operation(do_create(path, attr::directory)); }
  // Writes `data` at `offset`, zero-filling any gap after the end; the file grows as needed.
  task<result<void>> write(std::string_view path, std::uint64_t offset, std::span<const view> data) {
    co_return co_await operation(do_write(path, offset, data, false));
  }
  task<result<void>> append(std::string_view path, std::span<const view> data) {
    co_return co_await operation(do_write(path, 0, data, true));
  }
  // Cuts the file to `size` bytes, or extends it with zeros.
  task<result<void>> truncate(std::string_view path, std::uint64_t size) {
    co_return co_await operation(do_truncate(path, size));
  }
  // Removes a file, or an empty directory (error::in_use if not empty).
  task<result<void>> remove(std::string_view path) { co_return co_await operation(do_remove(path)); }
  // Renames or moves; a file at `to` is replaced, a directory there is error::in_use.
  task<result<void>> rename(std::string_view from, std::string_view to) {
    co_return co_await operation(do_rename(from, to));
  }

 private:
  using cursor = directory;

  // One directory entry with its long name, as found by next_item().
  struct item {
    std::array<std::uint8_t, entry_size> raw{};  // the short entry
    position first, at;                          // first entry (long or short), the short one
    std::uint32_t parent = 0;                    // the directory holding it (0 for the root itself)
    std::uint8_t count = 1;                      // entries in all
    bool root = false;
    std::array<char, max_name_bytes> text{};
    std::size_t text_size = 0;

    short_entry entry() noexcept { return *short_entry::parse(raw); }
    std::string_view name() const noexcept { return {text.data(), text_size}; }
    bool is_directory() noexcept { return root || entry().is_directory(); }
    std::uint32_t first_cluster() noexcept { return entry().first_cluster(); }
    std::uint32_t size() noexcept { return root ? 0 : entry().file_size(); }
    entry_info info() noexcept { return {is_directory(), size(), first_cluster(), root ? 0 : entry().written()}; }
    bool dot() const noexcept { return raw[0] == '.'; }
  };

  // ---- Sectors and clusters -----------------------------------------------------

  task<result<void>> read_sectors(std::uint64_t first, std::uint32_t count, const view& page) {
    const view into = page.head(std::size_t{count} * dev_.sector_size());
    co_return co_await dev_.read(first, std::span<const view>(&into, 1));
  }
  task<result<void>> write_sectors(std::uint64_t first, std::uint32_t count, const view& page) {
    const view from = page.head(std::size_t{count} * dev_.sector_size());
    co_return co_await dev_.write(first, std::span<const view>(&from, 1));
  }

  // The cluster after `c` in its chain, 0 at the end; error::corrupt for a link
  // outside the volume or to a free or bad cluster.
  task<result<std::uint32_t>> next_cluster(std::uint32_t c) {
    auto e = co_await fat_.get(c);
    if (!e) co_return fail(e.err());
    if (fat_entry::is_end(*e)) co_return std::uint32_t{0};
    if (!g_.valid_cluster(*e)) co_return fail(error::corrupt);
    co_return *e;
  }

  // A free cluster, marked as the end of a chain and linked after `prev` (if not 0).
  task<result<std::uint32_t>> allocate(std::uint32_t prev) {
    std::uint32_t c = g_.valid_cluster(next_free_) ? next_free_ : fat_entry::first_data_cluster;
    for (std::uint32_t tried = 0; tried < g_.cluster_count; ++tried) {
      auto e = co_await fat_.get(c);
      if (!e) co_return fail(e.err());
      if (*e == fat_entry::free) {
        if (auto s = co_await fat_.set(c, fat_entry::end); !s) co_return fail(s.err());
        if (prev != 0)
          if (auto s = co_await fat_.set(prev, c); !s) co_return fail(s.err());
        if (free_count_ != fsinfo_sector::unknown && free_count_ > 0) --free_count_;
        next_free_ = c + 1;
        fsinfo_changed_ = true;
        co_return c;
      }
      c = g_.valid_cluster(c + 1) ? c + 1 : fat_entry::first_data_cluster;
    }
    co_return fail(error::no_space);
  }

  // Frees the chain from `c` on.
  task<result<void>> free_chain(std::uint32_t c) {
    for (std::uint32_t steps = 0; c != 0; ++steps) {
      if (steps > g_.cluster_count || !g_.valid_cluster(c)) co_return fail(error::corrupt);
      auto n = co_await next_cluster(c);
      if (!n) co_return fail(n.err());
      if (auto s = co_await fat_.set(c, fat_entry::free); !s) co_return s;
      if (free_count_ != fsinfo_sector::unknown) ++free_count_;
      fsinfo_changed_ = true;
      c = *n;
    }
    co_return result<void>{};
  }

  // Data about to be written over sectors [first, first + count): a directory
  // sector cached there belonged to a freed cluster and is dropped.
  void forget_directory(std::uint64_t first, std::uint64_t count) noexcept {
    if (dir_loaded_ && dir_sector_ >= first && dir_sector_ - first < count) dir_loaded_ = dir_dirty_ = false;
  }

  task<result<void>> zero_cluster(std::uint32_t c) {
    forget_directory(g_.cluster_sector(c), g_.sectors_per_cluster);
    std::memset(data_page_.data(), 0, page_size);
    const std::uint32_t per_page = static_cast<std::uint32_t>(page_size / g_.sector_size);
    for (std::uint32_t s = 0; s < g_.sectors_per_cluster; s += per_page) {
      auto w = co_await write_sectors(g_.cluster_sector(c) + s, std::min(per_page, g_.sectors_per_cluster - s), data_page_);
      if (!w) co_return w;
    }
    co_return result<void>{};
  }

  // The sectors a transfer from byte `pos` of a file covers: from the sector
  // holding `pos` to `end`, within pos's cluster (`cluster`) and one page.
  struct sector_run {
    std::uint64_t aligned, stop, sector;  // file offsets of the first sector and the end; the device sector
    std::uint32_t sectors;
  };
  sector_run run_at(std::uint32_t cluster, std::uint64_t pos, std::uint64_t end) const noexcept {
    const std::uint32_t cb = g_.cluster_bytes(), ss = g_.sector_size;
    const std::uint64_t in_cluster = pos % cb;
    const std::uint64_t aligned = pos - in_cluster % ss;
    const std::uint64_t stop = std::min<std::uint64_t>({end, pos - in_cluster + cb, aligned + page_size});
    return {aligned, stop, g_.cluster_sector(cluster) + in_cluster / ss,
            static_cast<std::uint32_t>((stop - aligned + ss - 1) / ss)};
  }

  // ---- Directory sectors: one cached in dir_page_, written back when another is needed

  task<result<std::uint8_t*>> entry_at(position p) {
    const std::uint64_t sector = g_.cluster_sector(p.cluster) + p.offset / g_.sector_size;
    if (!dir_loaded_ || sector != dir_sector_) {
      if (auto s = co_await sync_directory(); !s) co_return fail(s.err());
      dir_loaded_ = false;
      auto rd = co_await read_sectors(sector, 1, dir_page_);
      if (!rd) co_return fail(rd.err());
      dir_sector_ = sector;
      dir_loaded_ = true;
    }
    co_return dir_page_.data() + p.offset % g_.sector_size;
  }
  // Marks the loaded directory sector changed.
  void touch_directory() noexcept { dir_dirty_ = true; }
  task<result<void>> sync_directory() {
    if (!dir_dirty_) co_return result<void>{};
    dir_dirty_ = false;
    co_return co_await write_sectors(dir_sector_, 1, dir_page_);
  }

  cursor cursor_at(std::uint32_t dir_cluster) const noexcept { return cursor{{dir_cluster, 0}, 1, false}; }

  // Moves to the next entry slot. With `grow`, a directory at its end gets a new,
  // zeroed cluster; otherwise the cursor ends. error::corrupt past §6's limit.
  task<result<void>> advance(cursor& c, bool grow = false) {
    c.at.offset += entry_size;
    if (c.at.offset < g_.cluster_bytes()) co_return result<void>{};
    auto n = co_await next_cluster(c.at.cluster);
    if (!n) co_return fail(n.err());
    std::uint32_t next = *n;
    // A directory holds at most 65536 entries, and never more clusters than the volume.
    if (std::uint64_t{c.clusters + 1} * g_.cluster_bytes() > max_directory_bytes || c.clusters >= g_.cluster_count)
      co_return fail(next == 0 && grow ? error::no_space : error::corrupt);
    if (next == 0) {
      if (!grow) {
        c.ended = true;
        co_return result<void>{};
      }
      auto fresh = co_await allocate(c.at.cluster);
      if (!fresh) co_return fail(fresh.err());
      if (auto z = co_await zero_cluster(*fresh); !z) co_return z;
      next = *fresh;
    }
    c.at = {next, 0};
    ++c.clusters;
    co_return result<void>{};
  }

  // The next entry with its name, or false at the end of the directory. Long
  // names whose order or checksum do not match their short entry are ignored
  // (the short name stands), as §7 says.
  task<result<bool>> next_item(cursor& c, item& out) {
    std::array<std::uint16_t, long_entry::max_entries * long_entry::units> units{};
    std::uint8_t expect = 0, sum = 0, total = 0;
    position start{};
    while (!c.ended) {
      auto e = co_await entry_at(c.at);
      if (!e) co_return fail(e.err());
      std::uint8_t* raw = *e;
      const std::uint8_t first = raw[0];
      const std::uint8_t attributes = raw[short_entry::layout::attributes::offset];
      if (first == name0::end) co_return false;
      if (first == name0::deleted) {
        expect = 0;
      } else if ((attributes & attr::long_name_mask) == attr::long_name) {
        auto le = *long_entry::parse({raw, entry_size});
        const std::uint8_t ord = le.order() & 0x1F;
        if (le.order() & long_entry::last_flag) {
          expect = ord >= 1 && ord <= long_entry::max_entries ? ord : 0;
          sum = le.checksum();
          total = expect;
          start = c.at;
          units.fill(0);
        } else if (!(expect > 1 && ord == expect - 1 && le.checksum() == sum)) {
          expect = 0;
        } else {
          expect = ord;
        }
        if (expect != 0)
          for (std::size_t i = 0; i < long_entry::units; ++i) units[(ord - 1) * long_entry::units + i] = le.unit(i);
      } else if ((attributes & (attr::volume_id | attr::directory)) == attr::volume_id) {
        expect = 0;  // the volume label
      } else {
        std::memcpy(out.raw.data(), raw, entry_size);
        out.at = c.at;
        out.parent = 0;
        out.root = false;
        auto se = out.entry();
        if (expect == 1 && short_name_checksum(se.name()) == sum) {
          std::size_t len = 0;
          while (len < std::size_t{total} * long_entry::units && units[len] != 0) ++len;
          out.text_size = utf16_to_utf8(std::span<const std::uint16_t>(units.data(), len), out.text);
          out.first = start;
          out.count = static_cast<std::uint8_t>(total + 1);
        } else {
          std::span<char, 12> text(out.text.data(), 12);
          out.text_size = short_name_text(se.name(), se.nt_reserved(), text);
          out.first = c.at;
          out.count = 1;
        }
        if (auto a = co_await advance(c); !a) co_return fail(a.err());
        co_return true;
      }
      if (auto a = co_await advance(c); !a) co_return fail(a.err());
    }
    co_return false;
  }

  // Finds `name` in the directory at `dir_cluster`, by long or short name.
  task<result<bool>> find(std::uint32_t dir_cluster, std::string_view name, item& out) {
    cursor c = cursor_at(dir_cluster);
    while (true) {
      auto more = co_await next_item(c, out);
      if (!more || !*more) co_return more;
      if (out.dot()) continue;
      std::array<char, 12> alias{};
      auto se = out.entry();
      const std::size_t n = short_name_text(se.name(), 0, alias);
      if (same_name(out.name(), name) || same_name({alias.data(), n}, name)) {
        out.parent = dir_cluster;
        co_return true;
      }
    }
  }

  item root_item() noexcept {
    item it;
    it.root = true;
    auto se = it.entry();
    se.set_attributes(attr::directory);
    se.set_first_cluster(g_.root_cluster);
    return it;
  }

  // What `path` names ("", "/" and "a/b/c", '/'-separated, leading '/' allowed).
  // With `forbidden`, error::invalid_argument if the walk passes through the
  // directory starting at that cluster (a directory moved into itself).
  task<result<void>> walk(std::string_view path, item& out, std::uint32_t forbidden = 0) {
    if (!mounted_) co_return fail(error::invalid_argument);
    out = root_item();
    while (!path.empty() && path.front() == '/') path.remove_prefix(1);
    while (!path.empty()) {
      const std::size_t slash = path.find('/');
      const std::string_view part = path.substr(0, slash);
      path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
      if (part.empty()) continue;
      if (!valid_long_name(part)) co_return fail(error::invalid_argument);
      if (!out.is_directory()) co_return fail(error::not_found);
      const std::uint32_t dir = out.first_cluster();
      if (!g_.valid_cluster(dir)) co_return fail(error::corrupt);
      if (forbidden != 0 && dir == forbidden) co_return fail(error::invalid_argument);
      auto found = co_await find(dir, part, out);
      if (!found) co_return fail(found.err());
      if (!*found) co_return fail(error::not_found);
      if (forbidden != 0 && out.is_directory() && out.first_cluster() == forbidden) co_return fail(error::invalid_argument);
    }
    co_return result<void>{};
  }

  // `path` split into its parent directory (walked into `parent`) and last name.
  task<result<std::string_view>> walk_parent(std::string_view path, item& parent, std::uint32_t forbidden = 0) {
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    const std::size_t slash = path.rfind('/');
    const std::string_view leaf = slash == std::string_view::npos ? path : path.substr(slash + 1);
    if (!valid_long_name(leaf)) co_return fail(error::invalid_argument);
    auto w = co_await walk(slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash), parent, forbidden);
    if (!w) co_return fail(w.err());
    if (!parent.is_directory()) co_return fail(error::not_found);
    if (!g_.valid_cluster(parent.first_cluster())) co_return fail(error::corrupt);
    co_return leaf;
  }

  // A file's entry, checked against the volume before its chain is followed.
  result<void> checked_file(item& it) noexcept {
    if (it.is_directory()) return fail(error::invalid_argument);
    const std::uint32_t first = it.first_cluster();
    if (it.size() == 0 && first == 0) return {};
    if (!g_.valid_cluster(first)) return fail(error::corrupt);
    if (std::uint64_t{it.size()} > std::uint64_t{g_.cluster_count} * g_.cluster_bytes()) return fail(error::corrupt);
    return {};
  }

  // ---- Making entries ---------------------------------------------------------------

  // Is short name `n` used in the directory?
  task<result<bool>> short_name_taken(std::uint32_t dir_cluster, const short_name& n) {
    cursor c = cursor_at(dir_cluster);
    item it;
    while (true) {
      auto more = co_await next_item(c, it);
      if (!more || !*more) co_return more;
      if (it.entry().name() == n) co_return true;
    }
  }

  // The short name for `name` in the directory: the name itself if it is a
  // valid 8.3 one, else the first free "BASE~N.EXT" (N = 1..4, then numbers from
  // a hash of the long name, as Windows does when the first tails are taken).
  task<result<short_name>> pick_short_name(std::uint32_t dir_cluster, std::string_view name, bool& needs_long) {
    if (auto exact = exact_short_name(name)) {
      needs_long = false;
      co_return *exact;
    }
    needs_long = true;
    std::uint32_t hash = 2166136261u;
    for (char ch : name) hash = (hash ^ static_cast<std::uint8_t>(ch)) * 16777619u;
    for (std::uint32_t attempt = 1; attempt <= 64; ++attempt) {
      const std::uint32_t tail = attempt <= 4 ? attempt : 5 + (hash + attempt) % 999990;
      const short_name candidate = short_name_for(name, tail);
      auto taken = co_await short_name_taken(dir_cluster, candidate);
      if (!taken) co_return fail(taken.err());
      if (!*taken) co_return candidate;
    }
    co_return fail(error::in_use);
  }

  // Finds room for `count` consecutive entries, growing the directory if needed.
  task<result<position>> find_room(std::uint32_t dir_cluster, std::size_t count) {
    cursor c = cursor_at(dir_cluster);
    position start{};
    std::size_t run = 0;
    bool past_end = false;  // after an end marker every slot is free
    while (true) {
      auto e = co_await entry_at(c.at);
      if (!e) co_return fail(e.err());
      const std::uint8_t first = (*e)[0];
      if (first == name0::end) past_end = true;
      if (past_end || first == name0::deleted) {
        if (run++ == 0) start = c.at;
        if (run == count) co_return start;
      } else {
        run = 0;
      }
      if (auto a = co_await advance(c, true); !a) co_return fail(a.err());
    }
  }

  // Writes the entries naming `name` (long-name entries, then `short_bytes`
  // with its name set) into directory `dir_cluster`.
  task<result<void>> place_entries(std::uint32_t dir_cluster, std::string_view name,
                                   std::array<std::uint8_t, entry_size> short_bytes) {
    std::array<std::uint16_t, max_name_units> units{};
    auto n_units = utf8_to_utf16(name, units);
    if (!n_units) co_return fail(n_units.err());
    bool needs_long = true;
    auto sn = co_await pick_short_name(dir_cluster, name, needs_long);
    if (!sn) co_return fail(sn.err());
    auto se = *short_entry::parse(short_bytes);
    se.set_name(*sn);
    const std::size_t longs = needs_long ? (*n_units + long_entry::units - 1) / long_entry::units : 0;
    auto room = co_await find_room(dir_cluster, longs + 1);
    if (!room) co_return fail(room.err());
    cursor c{*room, 1, false};
    const std::uint8_t sum = short_name_checksum(*sn);
    bool at_end = false;  // a slot written was the end marker: the next must become it
    for (std::size_t k = longs; k >= 1; --k) {
      auto e = co_await entry_at(c.at);
      if (!e) co_return fail(e.err());
      at_end = at_end || (*e)[0] == name0::end;
      std::memset(*e, 0, entry_size);
      auto le = *long_entry::parse({*e, entry_size});
      le.init();
      le.set_order(static_cast<std::uint8_t>(k | (k == longs ? long_entry::last_flag : 0)));
      le.set_checksum(sum);
      for (std::size_t i = 0; i < long_entry::units; ++i) {
        const std::size_t u = (k - 1) * long_entry::units + i;
        le.set_unit(i, u < *n_units ? units[u] : u == *n_units ? 0x0000 : 0xFFFF);
      }
      touch_directory();
      if (auto a = co_await advance(c); !a) co_return fail(a.err());
    }
    auto e = co_await entry_at(c.at);
    if (!e) co_return fail(e.err());
    at_end = at_end || (*e)[0] == name0::end;
    std::memcpy(*e, short_bytes.data(), entry_size);
    touch_directory();
    // FAT §6.1: the slots after an end marker are free whatever they hold, so
    // the marker moves past what was written; else stale entries after it would
    // reappear (a corrupt image's, beside the one just written).
    if (at_end) {
      if (auto a = co_await advance(c); !a) co_return fail(a.err());
      if (!c.ended) {
        auto next = co_await entry_at(c.at);
        if (!next) co_return fail(next.err());
        (*next)[0] = name0::end;
        touch_directory();
      }
    }
    co_return result<void>{};
  }

  // Marks an item's entries free.
  task<result<void>> erase_entries(const item& it) {
    cursor c{it.first, 1, false};
    for (std::uint8_t i = 0; i < it.count; ++i) {
      auto e = co_await entry_at(c.at);
      if (!e) co_return fail(e.err());
      (*e)[0] = name0::deleted;
      touch_directory();
      if (i + 1 < it.count)
        if (auto a = co_await advance(c); !a) co_return fail(a.err());
    }
    co_return result<void>{};
  }

  // Rewrites an item's short entry from `it.raw`.
  task<result<void>> update_entry(item& it) {
    auto e = co_await entry_at(it.at);
    if (!e) co_return fail(e.err());
    std::memcpy(*e, it.raw.data(), entry_size);
    touch_directory();
    co_return result<void>{};
  }

  // ---- Operations ---------------------------------------------------------------------

  // Runs one changing operation, then writes back what it left in memory and
  // flushes, whatever its result.
  task<result<void>> operation(task<result<void>> op) {
    if (!mounted_) co_return fail(error::invalid_argument);
    if (dev_.read_only()) co_return fail(error::read_only);
    auto r = co_await std::move(op);
    auto d = co_await sync_directory();
    auto f = co_await fat_.write_back();
    auto i = co_await write_fsinfo();
    auto s = co_await dev_.flush();
    if (!r) co_return r;
    if (!d) co_return d;
    if (!f) co_return f;
    if (!i) co_return i;
    co_return s;
  }

  task<result<void>> write_fsinfo() {
    if (!fsinfo_changed_ || g_.fsinfo_sector == 0) co_return result<void>{};
    fsinfo_changed_ = false;
    if (auto rd = co_await read_sectors(g_.fsinfo_sector, 1, data_page_); !rd) co_return rd;
    auto info = *fsinfo_sector::parse(data_page_.bytes().first(512));
    info.set_free_count(free_count_);
    info.set_next_free(g_.valid_cluster(next_free_) ? next_free_ : fsinfo_sector::unknown);
    co_return co_await write_sectors(g_.fsinfo_sector, 1, data_page_);
  }

  task<result<void>> do_create(std::string_view path, std::uint8_t attributes) {
    item parent, existing;
    auto leaf = co_await walk_parent(path, parent);
    if (!leaf) co_return fail(leaf.err());
    const std::uint32_t dir = parent.first_cluster();
    auto found = co_await find(dir, *leaf, existing);
    if (!found) co_return fail(found.err());
    if (*found) co_return fail(error::in_use);
    std::array<std::uint8_t, entry_size> bytes{};
    auto se = *short_entry::parse(bytes);
    se.set_attributes(attributes == attr::directory ? attr::directory : attr::archive);
    se.set_stamps(stamp_.date, stamp_.time);
    if (attributes == attr::directory) {
      auto c = co_await allocate(0);
      if (!c) co_return fail(c.err());
      if (auto z = co_await zero_cluster(*c); !z) co_return z;
      // "." and ".." (§6.7): ".." of a directory in the root names cluster 0.
      auto dots = co_await entry_at({*c, 0});
      if (!dots) co_return fail(dots.err());
      for (int k = 0; k < 2; ++k) {
        auto d = *short_entry::parse({*dots + k * entry_size, entry_size});
        short_name n;
        n.fill(' ');
        n[0] = '.';
        if (k == 1) n[1] = '.';
        d.set_name(n);
        d.set_attributes(attr::directory);
        d.set_stamps(stamp_.date, stamp_.time);
        d.set_first_cluster(k == 0 ? *c : parent.root ? 0 : dir);
      }
      touch_directory();
      se.set_first_cluster(*c);
    }
    co_return co_await place_entries(dir, *leaf, bytes);
  }

  // Bytes to write: `zeros` zero bytes, then the views' bytes.
  struct source {
    std::span<const view> views;
    std::uint64_t zeros = 0;
    std::size_t index = 0, offset = 0;
    void copy(std::uint8_t* to, std::size_t n) noexcept {
      while (n > 0 && zeros > 0) {
        const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, zeros));
        std::memset(to, 0, k);
        to += k, n -= k, zeros -= k;
      }
      while (n > 0 && index < views.size()) {
        const std::size_t k = std::min(n, views[index].size() - offset);
        std::memcpy(to, views[index].data() + offset, k);
        to += k, n -= k, offset += k;
        if (offset == views[index].size()) ++index, offset = 0;
      }
    }
  };

  task<result<void>> do_write(std::string_view path, std::uint64_t offset, std::span<const view> data, bool at_end) {
    item it;
    if (auto w = co_await walk(path, it); !w) co_return w;
    if (auto f = checked_file(it); !f) co_return f;
    std::uint64_t length = 0;
    for (const view& v : data) length += v.size();
    const std::uint64_t size = it.size();
    if (at_end) offset = size;
    // A gap after the end is written as zeros, from the old end on.
    source src{data, offset > size ? offset - size : 0};
    const std::uint64_t from = std::min(offset, size);
    co_return co_await write_range(it, from, offset + length - from, src);
  }

  task<result<void>> do_truncate(std::string_view path, std::uint64_t new_size) {
    item it;
    if (auto w = co_await walk(path, it); !w) co_return w;
    if (auto f = checked_file(it); !f) co_return f;
    const std::uint64_t size = it.size();
    if (new_size > size) {
      source zeros{{}, new_size - size};
      co_return co_await write_range(it, size, new_size - size, zeros);
    }
    const std::uint32_t cb = g_.cluster_bytes();
    const std::uint64_t keep = (new_size + cb - 1) / cb;
    auto se = it.entry();
    std::uint32_t first = se.first_cluster();
    if (first != 0) {
      if (keep == 0) {
        if (auto f = co_await free_chain(first); !f) co_return f;
        first = 0;
      } else {
        std::uint32_t c = first;
        for (std::uint64_t i = 1; i < keep; ++i) {
          auto n = co_await next_cluster(c);
          if (!n) co_return fail(n.err());
          if (*n == 0) co_return fail(error::corrupt);
          c = *n;
        }
        auto rest = co_await next_cluster(c);
        if (!rest) co_return fail(rest.err());
        if (auto s = co_await fat_.set(c, fat_entry::end); !s) co_return s;
        if (auto f = co_await free_chain(*rest); !f) co_return f;
      }
    }
    se.set_first_cluster(first);
    se.set_file_size(static_cast<std::uint32_t>(new_size));
    se.set_written(stamp_.date, stamp_.time);
    co_return co_await update_entry(it);
  }

  // Writes `length` bytes of `src` at `offset` (at most the file's size), growing
  // the chain first; on failure the clusters taken are given back.
  task<result<void>> write_range(item& it, std::uint64_t offset, std::uint64_t length, source& src) {
    const std::uint64_t end = offset + length;
    if (end > max_file_size) co_return fail(error::too_large);
    const std::uint64_t old_size = it.size();
    const std::uint32_t cb = g_.cluster_bytes();
    const std::uint32_t ss = g_.sector_size;
    auto se = it.entry();
    std::uint32_t first = se.first_cluster();
    // Walk the chain to its end (it may be longer than the size says), then grow it.
    std::uint64_t have = 0;
    std::uint32_t last = 0;
    for (std::uint32_t c = first; c != 0; ++have) {
      if (have > g_.cluster_count) co_return fail(error::corrupt);
      last = c;
      auto n = co_await next_cluster(c);
      if (!n) co_return fail(n.err());
      c = *n;
    }
    const std::uint64_t need = (end + cb - 1) / cb;
    const std::uint32_t grown_from = last;
    std::uint32_t first_new = 0;
    for (; have < need; ++have) {
      auto c = co_await allocate(last);
      if (!c) {
        // Give back what this write took, and leave the file as it was.
        if (first_new != 0) {
          if (grown_from != 0) (void)co_await fat_.set(grown_from, fat_entry::end);
          (void)co_await free_chain(first_new);
        }
        co_return fail(c.err());
      }
      if (first_new == 0) first_new = *c;
      if (first == 0) first = *c;
      last = *c;
    }
    // The data, a page of sectors at a time within a cluster.
    std::uint32_t cluster = first;
    std::uint64_t index = 0;
    for (std::uint64_t pos = offset; pos < end;) {
      while (index < pos / cb) {
        auto n = co_await next_cluster(cluster);
        if (!n) co_return fail(n.err());
        if (*n == 0) co_return fail(error::corrupt);
        cluster = *n;
        ++index;
      }
      const auto [aligned, stop, sector, sectors] = run_at(cluster, pos, end);
      // Partial sectors keep the bytes around the write that are the file's.
      const bool partial_head = aligned < pos;
      const bool partial_tail = stop % ss != 0 && stop < old_size;
      forget_directory(sector, sectors);
      if (partial_head || partial_tail) {
        if (auto rd = co_await read_sectors(sector, sectors, data_page_); !rd) co_return rd;
      } else {
        std::memset(data_page_.data(), 0, std::size_t{sectors} * ss);
      }
      src.copy(data_page_.data() + (pos - aligned), static_cast<std::size_t>(stop - pos));
      if (auto w = co_await write_sectors(sector, sectors, data_page_); !w) co_return w;
      pos = stop;
    }
    se.set_first_cluster(first);
    se.set_file_size(static_cast<std::uint32_t>(std::max(old_size, end)));
    se.set_written(stamp_.date, stamp_.time);
    co_return co_await update_entry(it);
  }

  task<result<void>> do_remove(std::string_view path) {
    item it;
    if (auto w = co_await walk(path, it); !w) co_return w;
    if (it.root) co_return fail(error::invalid_argument);
    if (it.is_directory()) {
      if (!g_.valid_cluster(it.first_cluster())) co_return fail(error::corrupt);
      cursor c = cursor_at(it.first_cluster());
      item inner;
      while (true) {
        auto more = co_await next_item(c, inner);
        if (!more) co_return fail(more.err());
        if (!*more) break;
        if (!inner.dot()) co_return fail(error::in_use);
      }
    } else if (auto f = checked_file(it); !f) {
      co_return f;
    }
    if (auto e = co_await erase_entries(it); !e) co_return e;
    co_return co_await free_chain(it.first_cluster());
  }

  task<result<void>> do_rename(std::string_view from, std::string_view to) {
    item src, parent, existing;
    if (auto w = co_await walk(from, src); !w) co_return w;
    if (src.root) co_return fail(error::invalid_argument);
    const bool moving_dir = src.is_directory();
    if (moving_dir && !g_.valid_cluster(src.first_cluster())) co_return fail(error::corrupt);
    auto leaf = co_await walk_parent(to, parent, moving_dir ? src.first_cluster() : 0);
    if (!leaf) co_return fail(leaf.err());
    const std::uint32_t dir = parent.first_cluster();
    auto found = co_await find(dir, *leaf, existing);
    if (!found) co_return fail(found.err());
    if (*found && !(existing.parent == src.parent && existing.at == src.at)) {
      if (existing.is_directory() || moving_dir) co_return fail(error::in_use);
      if (auto f = checked_file(existing); !f) co_return f;
      if (auto e = co_await erase_entries(existing); !e) co_return e;
      if (auto f = co_await free_chain(existing.first_cluster()); !f) co_return f;
    }
    if (auto e = co_await erase_entries(src); !e) co_return e;
    if (auto p = co_await place_entries(dir, *leaf, src.raw); !p) co_return p;
    if (moving_dir && dir != src.parent) {
      // The moved directory's ".." names its new parent.
      auto dots = co_await entry_at({src.first_cluster(), entry_size});
      if (!dots) co_return fail(dots.err());
      auto dotdot = *short_entry::parse({*dots, entry_size});
      if (dotdot.name()[0] == '.' && dotdot.name()[1] == '.') {
        dotdot.set_first_cluster(parent.root ? 0 : dir);
        touch_directory();
      }
    }
    co_return result<void>{};
  }

  D& dev_;
  page_pool& pool_;
  geometry g_;
  fat_cache<D, FatCachePages> fat_;
  view dir_page_, data_page_;
  std::uint64_t dir_sector_ = 0;
  bool dir_loaded_ = false, dir_dirty_ = false;
  std::uint32_t free_count_ = fsinfo_sector::unknown;
  std::uint32_t next_free_ = 0;
  bool fsinfo_changed_ = false;
  bool mounted_ = false;
  dos_stamp stamp_;
};

}  // namespace uni::fs::fat32
