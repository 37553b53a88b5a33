// uni/net/virtio_net_header.hpp: struct virtio_net_hdr (virtio 1.x §5.1.6), the
// header a TAP device with IFF_VNET_HDR puts before every frame.
//
// Contract (see uni/core/wire.hpp): a virtio_net_header_view exists only over at
// least 10 bytes; its accessors then cannot fail. Unlike the network's headers
// its fields are in the host's byte order (the legacy header TAP speaks unless
// told TUNSETVNETLE/BE), so they are `host_field`s, not big-endian ones. What
// the fields mean is uni/net/offload.hpp's offload_info: to_info() and
// emit() convert, and the offload module never sees this layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include <uni/core/wire.hpp>
#include <uni/net/offload.hpp>

namespace uni {

// A field stored in the host's byte order, with wire::field's shape.
template <class T, std::size_t Offset>
struct host_field {
  static constexpr std::size_t offset = Offset;
  static constexpr std::size_t end = Offset + sizeof(T);
  static T get(const std::uint8_t* base) noexcept {
    T v;
    std::memcpy(&v, base + Offset, sizeof v);
    return v;
  }
  static void set(std::uint8_t* base, T v) noexcept { std::memcpy(base + Offset, &v, sizeof v); }
};

class virtio_net_header_view : public wire::header_view<10> {
  using flags_f = host_field<std::uint8_t, 0>;
  using gso_type_f = host_field<std::uint8_t, 1>;
  using hdr_len_f = host_field<std::uint16_t, 2>;
  using gso_size_f = host_field<std::uint16_t, 4>;
  using csum_start_f = host_field<std::uint16_t, 6>;
  using csum_offset_f = host_field<std::uint16_t, 8>;

 public:
  static constexpr std::size_t header_size = 10;
  // flags
  static constexpr std::uint8_t needs_csum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
  static constexpr std::uint8_t data_valid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID: the host verified it
  // gso_type
  static constexpr std::uint8_t gso_none = 0;   // VIRTIO_NET_HDR_GSO_NONE
  static constexpr std::uint8_t gso_tcpv4 = 1;  // VIRTIO_NET_HDR_GSO_TCPV4

  static result<virtio_net_header_view> parse(std::span<std::uint8_t> b) noexcept {
    return checked<virtio_net_header_view>(b);
  }

  std::uint8_t flags() const noexcept { return get<flags_f>(); }
  std::uint8_t gso_type() const noexcept { return get<gso_type_f>(); }
  std::uint16_t hdr_len() const noexcept { return get<hdr_len_f>(); }          // Ethernet + IP + TCP headers
  std::uint16_t gso_size() const noexcept { return get<gso_size_f>(); }        // payload bytes per segment
  std::uint16_t csum_start() const noexcept { return get<csum_start_f>(); }    // where the summed bytes start
  std::uint16_t csum_offset() const noexcept { return get<csum_offset_f>(); }  // the checksum field, from csum_start

  void set_flags(std::uint8_t v) const noexcept { set<flags_f>(v); }
  void set_gso_type(std::uint8_t v) const noexcept { set<gso_type_f>(v); }
  void set_hdr_len(std::uint16_t v) const noexcept { set<hdr_len_f>(v); }
  void set_gso_size(std::uint16_t v) const noexcept { set<gso_size_f>(v); }
  void set_csum_start(std::uint16_t v) const noexcept { set<csum_start_f>(v); }
  void set_csum_offset(std::uint16_t v) const noexcept { set<csum_offset_f>(v); }

  // What the header asks, in the offload module's terms.
  offload_info to_info() const noexcept {
    offload_info i;
    i.csum_partial = (flags() & needs_csum) != 0;
    i.csum_valid = (flags() & data_valid) != 0;
    i.gso = gso_type() == gso_none ? gso_kind::none : gso_type() == gso_tcpv4 ? gso_kind::tcpv4 : gso_kind::unknown;
    i.hdr_len = hdr_len();
    i.gso_size = gso_size();
    i.csum_start = csum_start();
    i.csum_offset = csum_offset();
    return i;
  }

  // Writes all 10 bytes of `out` from `i` (a plain frame is all zeros).
  static void emit(std::span<std::uint8_t> out, const offload_info& i) noexcept {
    virtio_net_header_view v{out};
    v.set_flags(static_cast<std::uint8_t>((i.csum_partial ? needs_csum : 0) | (i.csum_valid ? data_valid : 0)));
    v.set_gso_type(i.gso == gso_kind::tcpv4 ? gso_tcpv4 : gso_none);
    v.set_hdr_len(i.hdr_len);
    v.set_gso_size(i.gso_size);
    v.set_csum_start(i.csum_start);
    v.set_csum_offset(i.csum_offset);
  }

 private:
  friend class wire::header_view<10>;
  using header_view::header_view;
};

}  // namespace uni
