// uni/fs/fat32/format.hpp: makes an empty FAT-32 volume on a block device (what
// mkfs.fat -F 32 does), laid out as fatgen103 §3 recommends: 32 reserved sectors
// with FSInfo in sector 1 and the boot sector's backup in sector 6, two FATs, the
// root directory in cluster 2, and the cluster size from the volume's size
// (§3.5's table: 512 bytes a sector up to 260 MiB, then 4 KiB up to 8 GiB, ...).
// The FAT is sized for every cluster the rest of the disk could hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include <uni/block/concepts.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/result.hpp>
#include <uni/core/task.hpp>
#include <uni/fs/fat32/wire.hpp>

namespace uni::fs::fat32 {

struct format_options {
  std::uint32_t cluster_bytes = 0;  // 0: from the volume's size
  std::uint32_t volume_id = 0x756e6921;
  std::uint32_t reserved_sectors = 32;
  std::uint32_t fat_count = 2;
};

template <BlockDevice D>
task<result<void>> format(D& dev, page_pool& pool, format_options o = {}) {
  if (dev.read_only()) co_return fail(error::read_only);
  const std::uint32_t ss = static_cast<std::uint32_t>(dev.sector_size());
  if (ss < 512 || ss > page_size) co_return fail(error::invalid_argument);
  const std::uint64_t total64 = dev.sectors() < 0xFFFFFFFF ? dev.sectors() : 0xFFFFFFFF;
  const auto total = static_cast<std::uint32_t>(total64);
  const std::uint64_t bytes = total64 * ss;
  std::uint32_t cb = o.cluster_bytes;
  if (cb == 0) cb = bytes <= (260ull << 20) ? 512 : bytes <= (8ull << 30) ? 4096 : bytes <= (16ull << 30) ? 8192
                    : bytes <= (32ull << 30) ? 16384 : 32768;
  const std::uint32_t spc = cb < ss ? 1 : cb / ss;
  if (spc > 128 || (spc & (spc - 1)) != 0 || o.fat_count == 0 || o.reserved_sectors < 8) co_return fail(error::invalid_argument);
  if (total <= o.reserved_sectors) co_return fail(error::no_space);
  const std::uint64_t most = (total - o.reserved_sectors) / spc;
  const auto fat_sectors = static_cast<std::uint32_t>(((most + 2) * 4 + ss - 1) / ss);
  const std::uint64_t meta = o.reserved_sectors + std::uint64_t{o.fat_count} * fat_sectors;
  if (meta + spc > total) co_return fail(error::no_space);
  const auto clusters = static_cast<std::uint32_t>((total - meta) / spc);

  auto page = pool.allocate();
  if (!page) co_return fail(page.err());
  const std::uint32_t per_page = static_cast<std::uint32_t>(page_size / ss);
  const auto write = [&](std::uint64_t first, std::uint32_t count) -> task<result<void>> {
    const view from = page->head(std::size_t{count} * ss);
    co_return co_await dev.write(first, std::span<const view>(&from, 1));
  };
  // Reserved sectors, FATs and the root cluster start as zeros.
  std::memset(page->data(), 0, page_size);
  const auto zero = [&](std::uint64_t first, std::uint64_t count) -> task<result<void>> {
    for (std::uint64_t s = 0; s < count; s += per_page) {
      auto w = co_await write(first + s, static_cast<std::uint32_t>(count - s < per_page ? count - s : per_page));
      if (!w) co_return w;
    }
    co_return result<void>{};
  };
  if (auto z = co_await zero(0, meta); !z) co_return z;
  if (auto z = co_await zero(meta, spc); !z) co_return z;

  // The boot sector, at 0 and at its backup.
  auto bs = *boot_sector::parse(page->bytes().first(boot_sector_size));
  const std::uint8_t jump[] = {0xEB, 0x58, 0x90};
  std::memcpy(bs.jump().data(), jump, sizeof jump);
  std::memcpy(bs.oem_name().data(), "uni     ", 8);
  bs.set_bytes_per_sector(static_cast<std::uint16_t>(ss));
  bs.set_sectors_per_cluster(static_cast<std::uint8_t>(spc));
  bs.set_reserved_sectors(static_cast<std::uint16_t>(o.reserved_sectors));
  bs.set_fat_count(static_cast<std::uint8_t>(o.fat_count));
  bs.set_media(0xF8);
  bs.set_sectors_per_track(32);
  bs.set_heads(64);
  bs.set_total_sectors32(total);
  bs.set_fat_size32(fat_sectors);
  bs.set_root_cluster(fat_entry::first_data_cluster);
  bs.set_fsinfo_sector(1);
  bs.set_backup_boot_sector(6);
  bs.set_drive_number(0x80);
  bs.set_boot_signature(0x29);
  bs.set_volume_id(o.volume_id);
  std::memcpy(bs.volume_label().data(), "NO NAME    ", 11);
  std::memcpy(bs.fs_type().data(), "FAT32   ", 8);
  bs.set_signature(boot_sector::signature_value);
  if (auto w = co_await write(0, 1); !w) co_return w;
  if (auto w = co_await write(6, 1); !w) co_return w;

  // FSInfo, at 1 and 7: every cluster but the root's is free.
  std::memset(page->data(), 0, page_size);
  auto info = *fsinfo_sector::parse(page->bytes().first(512));
  info.sign();
  info.set_free_count(clusters - 1);
  info.set_next_free(fat_entry::first_data_cluster + 1);
  if (ss > 512) store_le16(page->data() + ss - 2, boot_sector::signature_value);
  if (auto w = co_await write(1, 1); !w) co_return w;
  if (auto w = co_await write(7, 1); !w) co_return w;

  // The FATs' first sector: the media byte, the reserved entry, the root's chain.
  std::memset(page->data(), 0, page_size);
  store_le32(page->data(), 0x0FFFFF00 | 0xF8);
  store_le32(page->data() + 4, fat_entry::end);
  store_le32(page->data() + 8, fat_entry::end);
  for (std::uint32_t copy = 0; copy < o.fat_count; ++copy)
    if (auto w = co_await write(o.reserved_sectors + std::uint64_t{copy} * fat_sectors, 1); !w) co_return w;
  co_return co_await dev.flush();
}

}  // namespace uni::fs::fat32
