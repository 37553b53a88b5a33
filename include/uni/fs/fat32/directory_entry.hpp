// uni/fs/fat32/directory_entry.hpp: the 32-byte entries a FAT directory is made
// of (fatgen103 §6): the short 8.3 entry, which holds a file's attributes, first
// cluster and size, and the VFAT long-name entries in front of it (§7), each
// carrying 13 UTF-16 units of the name and the checksum of the short name they
// belong to. Views over 32 bytes, read and written in place.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include <uni/fs/fat32/wire.hpp>

namespace uni::fs::fat32 {

inline constexpr std::size_t entry_size = 32;

namespace attr {
inline constexpr std::uint8_t read_only = 0x01, hidden = 0x02, system = 0x04, volume_id = 0x08, directory = 0x10,
                              archive = 0x20;
inline constexpr std::uint8_t long_name = read_only | hidden | system | volume_id;  // 0x0F
inline constexpr std::uint8_t long_name_mask = long_name | directory | archive;
}  // namespace attr

// The first name byte's special values (§6.1).
namespace name0 {
inline constexpr std::uint8_t end = 0x00;      // this entry and all after it are free
inline constexpr std::uint8_t deleted = 0xE5;  // this entry is free
inline constexpr std::uint8_t kanji_e5 = 0x05; // stands for a name starting with 0xE5
}  // namespace name0

// NT reserved byte bits Linux and Windows use for an 8.3 name in lower case.
namespace case_bits {
inline constexpr std::uint8_t lower_base = 0x08, lower_ext = 0x10;
}

using short_name = std::array<std::uint8_t, 11>;  // 8 + 3, space padded, no dot

// The checksum of a short name, stored in each of its long-name entries (§7.2).
constexpr std::uint8_t short_name_checksum(const short_name& n) noexcept {
  std::uint8_t sum = 0;
  for (std::uint8_t c : n) sum = static_cast<std::uint8_t>(((sum & 1) << 7) + (sum >> 1) + c);
  return sum;
}

// A short (8.3) directory entry.
class short_entry : public wire::header_view<entry_size> {
 public:
  struct layout {
    using name = byte_field<0, 11>;                          // DIR_Name
    using attributes = le_field<std::uint8_t, 11>;
    using nt_reserved = le_field<std::uint8_t, 12>;          // case bits
    using create_tenths = le_field<std::uint8_t, 13>;
    using create_time = le_field<std::uint16_t, 14>;
    using create_date = le_field<std::uint16_t, 16>;
    using access_date = le_field<std::uint16_t, 18>;
    using first_cluster_high = le_field<std::uint16_t, 20>;
    using write_time = le_field<std::uint16_t, 22>;
    using write_date = le_field<std::uint16_t, 24>;
    using first_cluster_low = le_field<std::uint16_t, 26>;
    using file_size = le_field<std::uint32_t, 28>;
  };

  static result<short_entry> parse(std::span<std::uint8_t> bytes) noexcept { return checked<short_entry>(bytes); }

  short_name name() const noexcept {
    short_name n;
    for (std::size_t i = 0; i < n.size(); ++i) n[i] = data()[layout::name::offset + i];
    return n;
  }
  std::uint8_t attributes() const noexcept { return get<layout::attributes>(); }
  std::uint8_t nt_reserved() const noexcept { return get<layout::nt_reserved>(); }
  std::uint32_t first_cluster() const noexcept {
    return (std::uint32_t{get<layout::first_cluster_high>()} << 16) | get<layout::first_cluster_low>();
  }
  std::uint32_t file_size() const noexcept { return get<layout::file_size>(); }
  // The last write's DOS date (high half) and time (low half).
  std::uint32_t written() const noexcept {
    return (std::uint32_t{get<layout::write_date>()} << 16) | get<layout::write_time>();
  }
  bool is_directory() const noexcept { return attributes() & attr::directory; }

  void set_name(const short_name& n) const noexcept {
    for (std::size_t i = 0; i < n.size(); ++i) data()[layout::name::offset + i] = n[i];
  }
  void set_attributes(std::uint8_t v) const noexcept { set<layout::attributes>(v); }
  void set_nt_reserved(std::uint8_t v) const noexcept { set<layout::nt_reserved>(v); }
  void set_first_cluster(std::uint32_t c) const noexcept {
    set<layout::first_cluster_high>(static_cast<std::uint16_t>(c >> 16));
    set<layout::first_cluster_low>(static_cast<std::uint16_t>(c));
  }
  void set_file_size(std::uint32_t v) const noexcept { set<layout::file_size>(v); }
  // Creation, write and access stamps all at once (DOS date and time, §6.3).
  void set_stamps(std::uint16_t date, std::uint16_t time) const noexcept {
    set<layout::create_tenths>(0);
    set<layout::create_time>(time);
    set<layout::create_date>(date);
    set<layout::access_date>(date);
    set<layout::write_time>(time);
    set<layout::write_date>(date);
  }
  void set_written(std::uint16_t date, std::uint16_t time) const noexcept {
    set<layout::write_time>(time);
    set<layout::write_date>(date);
    set<layout::access_date>(date);
  }

 private:
  friend class wire::header_view<entry_size>;
  explicit short_entry(std::span<std::uint8_t> b) noexcept : header_view(b) {}
};

// A VFAT long-name entry (§7): 13 UTF-16 units of the name, in three runs.
class long_entry : public wire::header_view<entry_size> {
 public:
  struct layout {
    using order = le_field<std::uint8_t, 0>;        // LDIR_Ord: 1-based, | last_flag on the last
    using name1 = byte_field<1, 10>;                // units 0..4
    using attributes = le_field<std::uint8_t, 11>;  // attr::long_name
    using type = le_field<std::uint8_t, 12>;        // 0
    using checksum = le_field<std::uint8_t, 13>;
    using name2 = byte_field<14, 12>;               // units 5..10
    using first_cluster_low = le_field<std::uint16_t, 26>;  // 0
    using name3 = byte_field<28, 4>;                // units 11..12
  };
  static constexpr std::uint8_t last_flag = 0x40;
  static constexpr std::size_t units = 13;
  static constexpr std::size_t max_entries = 20;  // 255 units

  static result<long_entry> parse(std::span<std::uint8_t> bytes) noexcept { return checked<long_entry>(bytes); }

  std::uint8_t order() const noexcept { return get<layout::order>(); }
  std::uint8_t checksum() const noexcept { return get<layout::checksum>(); }
  std::uint16_t unit(std::size_t i) const noexcept { return load_le16(data() + unit_offset(i)); }

  void set_order(std::uint8_t v) const noexcept { set<layout::order>(v); }
  void set_checksum(std::uint8_t v) const noexcept { set<layout::checksum>(v); }
  void set_unit(std::size_t i, std::uint16_t u) const noexcept { store_le16(data() + unit_offset(i), u); }
  // A fresh entry: attributes, type and cluster as §7 fixes them.
  void init() const noexcept {
    set<layout::attributes>(attr::long_name);
    set<layout::type>(0);
    set<layout::first_cluster_low>(0);
  }

 private:
  friend class wire::header_view<entry_size>;
  explicit long_entry(std::span<std::uint8_t> b) noexcept : header_view(b) {}
  static constexpr std::size_t unit_offset(std::size_t i) noexcept {
    if (i < 5) return layout::name1::offset + 2 * i;
    if (i < 11) return layout::name2::offset + 2 * (i - 5);
    return layout::name3::offset + 2 * (i - 11);
  }
};

}  // namespace uni::fs::fat32
