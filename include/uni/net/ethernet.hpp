// uni/net/ethernet.hpp: Ethernet II frames (IEEE 802.3 with an EtherType).
//
// Contract (see uni/core/wire.hpp): an ethernet_view exists only over at least
// 14 bytes; its accessors then cannot fail. 802.1Q tags and 802.3 length
// fields (EtherType < 0x0600) are not spoken: the stack drops them, counted.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

#include <uni/core/wire.hpp>
#include <uni/net/mac_address.hpp>

namespace uni {

enum class ethertype : std::uint16_t { ipv4 = 0x0800, arp = 0x0806, vlan = 0x8100, ipv6 = 0x86dd };

class ethernet_view : public wire::header_view<14> {
 public:
  static constexpr std::size_t header_size = 14;
  struct layout {
    using destination = wire::field<mac_address, 0>;
    using source = wire::field<mac_address, 6>;
    using type = wire::field<std::uint16_t, 12>;
  };

  static result<ethernet_view> parse(std::span<std::uint8_t> frame) noexcept { return checked<ethernet_view>(frame); }

  mac_address destination() const noexcept { return get<layout::destination>(); }
  // Whether the destination is `m`: compared where it is, not copied out first.
  bool destination_is(const mac_address& m) const noexcept {
    return std::memcmp(data() + layout::destination::offset, m.bytes.data(), mac_address::wire_size) == 0;
  }
  // A group (multicast or broadcast) destination: its first byte's low bit.
  bool destination_is_group() const noexcept { return (data()[layout::destination::offset] & 1) != 0; }
  mac_address source() const noexcept { return get<layout::source>(); }
  std::uint16_t type() const noexcept { return get<layout::type>(); }
  std::span<std::uint8_t> payload() const noexcept { return bytes().subspan(header_size); }

  void set_destination(const mac_address& m) const noexcept { set<layout::destination>(m); }
  void set_source(const mac_address& m) const noexcept { set<layout::source>(m); }
  void set_type(ethertype t) const noexcept { set<layout::type>(static_cast<std::uint16_t>(t)); }

  // Writes a whole header into the first 14 bytes of `out` (at least 14 long).
  // (The addresses are stored from where they are: field::set takes a copy.)
  static void emit(std::span<std::uint8_t> out, const mac_address& dst, const mac_address& src, ethertype t) noexcept {
    dst.store(out.data() + layout::destination::offset);
    src.store(out.data() + layout::source::offset);
    layout::type::set(out.data(), static_cast<std::uint16_t>(t));
  }

 private:
  friend class wire::header_view<14>;
  using header_view::header_view;
};

}  // namespace uni
