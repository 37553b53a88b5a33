// uni/fs/fat32/wire.hpp: the FAT-32 volume's fixed structures, read and written
// in place (Microsoft's "FAT: General Overview of On-Disk Format", fatgen103):
// the boot sector with its BIOS parameter block (§3.1, §3.3), the FSInfo sector
// (§5) and the entries of the file allocation table (§4). FAT is little-endian,
// so the fields are `le_field`s, named once in each view's `layout` as
// uni/core/wire.hpp's rule asks; the views are wire::header_views, whose one
// length check covers every accessor.
//
// geometry::parse() is the validation every mount goes through: after it, every
// sector and cluster number the volume computes lies inside the device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include <uni/core/result.hpp>
#include <uni/core/wire.hpp>

namespace uni::fs::fat32 {

constexpr std::uint16_t load_le16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
constexpr std::uint32_t load_le32(const std::uint8_t* p) noexcept {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
}
constexpr void store_le16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}
constexpr void store_le32(std::uint8_t* p, std::uint32_t v) noexcept {
  store_le16(p, static_cast<std::uint16_t>(v));
  store_le16(p + 2, static_cast<std::uint16_t>(v >> 16));
}

// wire::field's little-endian twin: an 8-, 16- or 32-bit integer at Offset.
template <class T, std::size_t Offset>
struct le_field {
  static constexpr std::size_t size = sizeof(T);
  static_assert(size == 1 || size == 2 || size == 4, "8-, 16- or 32-bit fields");
  static constexpr std::size_t offset = Offset;
  static constexpr std::size_t end = Offset + size;

  static constexpr T get(const std::uint8_t* base) noexcept {
    if constexpr (size == 1) return static_cast<T>(base[Offset]);
    else if constexpr (size == 2) return static_cast<T>(load_le16(base + Offset));
    else return static_cast<T>(load_le32(base + Offset));
  }
  static constexpr void set(std::uint8_t* base, T v) noexcept {
    if constexpr (size == 1) base[Offset] = static_cast<std::uint8_t>(v);
    else if constexpr (size == 2) store_le16(base + Offset, static_cast<std::uint16_t>(v));
    else store_le32(base + Offset, static_cast<std::uint32_t>(v));
  }
};

// A run of bytes at a fixed offset (names, labels, signatures' text).
template <std::size_t Offset, std::size_t Size>
struct byte_field {
  static constexpr std::size_t offset = Offset;
  static constexpr std::size_t size = Size;
  static constexpr std::size_t end = Offset + Size;
};

inline constexpr std::size_t boot_sector_size = 512;  // the BPB's fields fit in the first 512 bytes

// The boot sector (sector 0) and its FAT-32 BPB (fatgen103 §3.1 and §3.3).
class boot_sector : public wire::header_view<boot_sector_size> {
 public:
  struct layout {
    using jump = byte_field<0, 3>;                   // BS_jmpBoot
    using oem_name = byte_field<3, 8>;               // BS_OEMName
    using bytes_per_sector = le_field<std::uint16_t, 11>;
    using sectors_per_cluster = le_field<std::uint8_t, 13>;
    using reserved_sectors = le_field<std::uint16_t, 14>;
    using fat_count = le_field<std::uint8_t, 16>;
    using root_entries = le_field<std::uint16_t, 17>;  // 0 on FAT-32
    using total_sectors16 = le_field<std::uint16_t, 19>;
    using media = le_field<std::uint8_t, 21>;
    using fat_size16 = le_field<std::uint16_t, 22>;    // 0 on FAT-32
    using sectors_per_track = le_field<std::uint16_t, 24>;
    using heads = le_field<std::uint16_t, 26>;
    using hidden_sectors = le_field<std::uint32_t, 28>;
    using total_sectors32 = le_field<std::uint32_t, 32>;
    using fat_size32 = le_field<std::uint32_t, 36>;
    using ext_flags = le_field<std::uint16_t, 40>;     // bit 7: only one FAT is active
    using fs_version = le_field<std::uint16_t, 42>;    // 0.0
    using root_cluster = le_field<std::uint32_t, 44>;
    using fsinfo_sector = le_field<std::uint16_t, 48>;
    using backup_boot_sector = le_field<std::uint16_t, 50>;
    using drive_number = le_field<std::uint8_t, 64>;
    using boot_signature = le_field<std::uint8_t, 66>;  // 0x29: the next three fields exist
    using volume_id = le_field<std::uint32_t, 67>;
    using volume_label = byte_field<71, 11>;
    using fs_type = byte_field<82, 8>;                 // "FAT32   ", informative only
    using signature = le_field<std::uint16_t, 510>;    // 0xAA55
  };
  static constexpr std::uint16_t signature_value = 0xAA55;

  static result<boot_sector> parse(std::span<std::uint8_t> bytes) noexcept { return checked<boot_sector>(bytes); }

  std::uint16_t bytes_per_sector() const noexcept { return get<layout::bytes_per_sector>(); }
  std::uint8_t sectors_per_cluster() const noexcept { return get<layout::sectors_per_cluster>(); }
  std::uint16_t reserved_sectors() const noexcept { return get<layout::reserved_sectors>(); }
  std::uint8_t fat_count() const noexcept { return get<layout::fat_count>(); }
  std::uint16_t root_entries() const noexcept { return get<layout::root_entries>(); }
  std::uint16_t total_sectors16() const noexcept { return get<layout::total_sectors16>(); }
  std::uint8_t media() const noexcept { return get<layout::media>(); }
  std::uint16_t fat_size16() const noexcept { return get<layout::fat_size16>(); }
  std::uint32_t total_sectors32() const noexcept { return get<layout::total_sectors32>(); }
  std::uint32_t fat_size32() const noexcept { return get<layout::fat_size32>(); }
  std::uint16_t ext_flags() const noexcept { return get<layout::ext_flags>(); }
  std::uint32_t root_cluster() const noexcept { return get<layout::root_cluster>(); }
  std::uint16_t fsinfo_sector() const noexcept { return get<layout::fsinfo_sector>(); }
  std::uint16_t backup_boot_sector() const noexcept { return get<layout::backup_boot_sector>(); }
  std::uint16_t signature() const noexcept { return get<layout::signature>(); }

  void set_bytes_per_sector(std::uint16_t v) const noexcept { set<layout::bytes_per_sector>(v); }
  void set_sectors_per_cluster(std::uint8_t v) const noexcept { set<layout::sectors_per_cluster>(v); }
  void set_reserved_sectors(std::uint16_t v) const noexcept { set<layout::reserved_sectors>(v); }
  void set_fat_count(std::uint8_t v) const noexcept { set<layout::fat_count>(v); }
  void set_media(std::uint8_t v) const noexcept { set<layout::media>(v); }
  void set_sectors_per_track(std::uint16_t v) const noexcept { set<layout::sectors_per_track>(v); }
  void set_heads(std::uint16_t v) const noexcept { set<layout::heads>(v); }
  void set_total_sectors32(std::uint32_t v) const noexcept { set<layout::total_sectors32>(v); }
  void set_fat_size32(std::uint32_t v) const noexcept { set<layout::fat_size32>(v); }
  void set_root_cluster(std::uint32_t v) const noexcept { set<layout::root_cluster>(v); }
  void set_fsinfo_sector(std::uint16_t v) const noexcept { set<layout::fsinfo_sector>(v); }
  void set_backup_boot_sector(std::uint16_t v) const noexcept { set<layout::backup_boot_sector>(v); }
  void set_drive_number(std::uint8_t v) const noexcept { set<layout::drive_number>(v); }
  void set_boot_signature(std::uint8_t v) const noexcept { set<layout::boot_signature>(v); }
  void set_volume_id(std::uint32_t v) const noexcept { set<layout::volume_id>(v); }
  void set_signature(std::uint16_t v) const noexcept { set<layout::signature>(v); }
  std::span<std::uint8_t> jump() const noexcept { return field_bytes<layout::jump>(); }
  std::span<std::uint8_t> oem_name() const noexcept { return field_bytes<layout::oem_name>(); }
  std::span<std::uint8_t> volume_label() const noexcept { return field_bytes<layout::volume_label>(); }
  std::span<std::uint8_t> fs_type() const noexcept { return field_bytes<layout::fs_type>(); }

 private:
  friend class wire::header_view<boot_sector_size>;
  explicit boot_sector(std::span<std::uint8_t> b) noexcept : header_view(b) {}
  template <class F>
  std::span<std::uint8_t> field_bytes() const noexcept {
    static_assert(F::end <= boot_sector_size);
    return bytes().subspan(F::offset, F::size);
  }
};

// The FSInfo sector (fatgen103 §5): a hint of the free cluster count and where
// to look for the next free cluster. Advisory, but fsck.fat checks the count.
class fsinfo_sector : public wire::header_view<512> {
 public:
  struct layout {
    using lead_signature = le_field<std::uint32_t, 0>;
    using struct_signature = le_field<std::uint32_t, 484>;
    using free_count = le_field<std::uint32_t, 488>;
    using next_free = le_field<std::uint32_t, 492>;
    using trail_signature = le_field<std::uint32_t, 508>;
  };
  static constexpr std::uint32_t lead_value = 0x41615252, struct_value = 0x61417272, trail_value = 0xAA550000;
  static constexpr std::uint32_t unknown = 0xFFFFFFFF;  // free count or hint not known

  static result<fsinfo_sector> parse(std::span<std::uint8_t> bytes) noexcept { return checked<fsinfo_sector>(bytes); }

  bool signed_ok() const noexcept {
    return get<layout::lead_signature>() == lead_value && get<layout::struct_signature>() == struct_value &&
           get<layout::trail_signature>() == trail_value;
  }
  std::uint32_t free_count() const noexcept { return get<layout::free_count>(); }
  std::uint32_t next_free() const noexcept { return get<layout::next_free>(); }
  void sign() const noexcept {
    set<layout::lead_signature>(lead_value);
    set<layout::struct_signature>(struct_value);
    set<layout::trail_signature>(trail_value);
  }
  void set_free_count(std::uint32_t v) const noexcept { set<layout::free_count>(v); }
  void set_next_free(std::uint32_t v) const noexcept { set<layout::next_free>(v); }

 private:
  friend class wire::header_view<512>;
  explicit fsinfo_sector(std::span<std::uint8_t> b) noexcept : header_view(b) {}
};

// FAT entries (fatgen103 §4): 28 bits of a 32-bit word; the top four are kept.
namespace fat_entry {
inline constexpr std::uint32_t mask = 0x0FFFFFFF;
inline constexpr std::uint32_t free = 0;
inline constexpr std::uint32_t bad = 0x0FFFFFF7;
inline constexpr std::uint32_t end_min = 0x0FFFFFF8;  // this value and above: end of chain
inline constexpr std::uint32_t end = 0x0FFFFFFF;      // what we write for end of chain
inline constexpr std::uint32_t first_data_cluster = 2;
inline constexpr std::uint32_t max_clusters = 0x0FFFFFF5;  // cluster numbers stay below `bad`
constexpr bool is_end(std::uint32_t v) noexcept { return (v & mask) >= end_min; }
}  // namespace fat_entry

// The numbers of a mounted volume, proved consistent with each other and with
// the device: every FAT sector and every cluster's sectors lie inside it.
struct geometry {
  std::uint32_t sector_size = 0;
  std::uint32_t sectors_per_cluster = 0;
  std::uint32_t reserved_sectors = 0;
  std::uint32_t fat_count = 0;
  std::uint32_t fat_sectors = 0;      // per FAT
  std::uint32_t total_sectors = 0;
  std::uint32_t root_cluster = 0;
  std::uint32_t fsinfo_sector = 0;    // 0: none
  std::uint32_t first_data_sector = 0;
  std::uint32_t cluster_count = 0;    // data clusters, numbered 2 .. cluster_count + 1
  std::uint32_t active_fat = 0;       // which FAT to read (ext_flags bit 7)
  bool mirrored = true;               // write every FAT, or only the active one

  std::uint32_t cluster_bytes() const noexcept { return sector_size * sectors_per_cluster; }
  bool valid_cluster(std::uint32_t c) const noexcept {
    return c >= fat_entry::first_data_cluster && c - fat_entry::first_data_cluster < cluster_count;
  }
  // The first sector of cluster `c` (a valid_cluster).
  std::uint64_t cluster_sector(std::uint32_t c) const noexcept {
    return first_data_sector + std::uint64_t{c - fat_entry::first_data_cluster} * sectors_per_cluster;
  }
  // The sector of FAT copy `copy` holding cluster `c`'s entry, and the entry's offset in it.
  std::uint64_t fat_sector(std::uint32_t copy, std::uint32_t c) const noexcept {
    return reserved_sectors + std::uint64_t{copy} * fat_sectors + std::uint64_t{c} * 4 / sector_size;
  }
  std::uint32_t fat_offset(std::uint32_t c) const noexcept { return c * 4 % sector_size; }

  // Checks a boot sector as Linux's FAT driver tells FAT-32 apart (no FAT-16
  // root area, a 32-bit FAT size) and against a device of `device_sectors`
  // sectors of `device_sector_size` bytes: error::corrupt for anything that does
  // not add up, error::invalid_argument for a valid FAT-12/16 volume.
  static result<geometry> parse(const boot_sector& bs, std::size_t device_sector_size,
                                std::uint64_t device_sectors) noexcept {
    if (bs.signature() != boot_sector::signature_value) return fail(error::corrupt);
    geometry g;
    g.sector_size = bs.bytes_per_sector();
    g.sectors_per_cluster = bs.sectors_per_cluster();
    const auto pow2 = [](std::uint32_t v) { return v != 0 && (v & (v - 1)) == 0; };
    if (!pow2(g.sector_size) || g.sector_size < 512 || g.sector_size > 4096) return fail(error::corrupt);
    if (g.sector_size != device_sector_size) return fail(error::corrupt);
    if (!pow2(g.sectors_per_cluster) || g.cluster_bytes() > 64 * 1024) return fail(error::corrupt);
    if (bs.root_entries() != 0 || bs.fat_size16() != 0) return fail(error::invalid_argument);
    g.reserved_sectors = bs.reserved_sectors();
    g.fat_count = bs.fat_count();
    g.fat_sectors = bs.fat_size32();
    g.total_sectors = bs.total_sectors16() != 0 ? bs.total_sectors16() : bs.total_sectors32();
    g.root_cluster = bs.root_cluster();
    g.fsinfo_sector = bs.fsinfo_sector();
    if (g.reserved_sectors == 0 || g.fat_count == 0 || g.fat_count > 4 || g.fat_sectors == 0) return fail(error::corrupt);
    if (g.total_sectors > device_sectors) return fail(error::corrupt);
    const std::uint64_t meta = std::uint64_t{g.reserved_sectors} + std::uint64_t{g.fat_count} * g.fat_sectors;
    if (meta >= g.total_sectors) return fail(error::corrupt);
    g.first_data_sector = static_cast<std::uint32_t>(meta);
    const std::uint64_t clusters = (g.total_sectors - meta) / g.sectors_per_cluster;
    if (clusters == 0 || clusters > fat_entry::max_clusters - 1) return fail(error::corrupt);
    // The FAT must have an entry for every cluster (and the two reserved ones).
    if ((clusters + 2) * 4 > std::uint64_t{g.fat_sectors} * g.sector_size) return fail(error::corrupt);
    g.cluster_count = static_cast<std::uint32_t>(clusters);
    if (!g.valid_cluster(g.root_cluster)) return fail(error::corrupt);
    if (g.fsinfo_sector == 0xFFFF || g.fsinfo_sector >= g.reserved_sectors) g.fsinfo_sector = 0;
    if (bs.ext_flags() & 0x80) {
      g.mirrored = false;
      g.active_fat = bs.ext_flags() & 0x0F;
      if (g.active_fat >= g.fat_count) return fail(error::corrupt);
    }
    return g;
  }
};

}  // namespace uni::fs::fat32
