// uni/net/tcp/segment.hpp: the TCP header (RFC 9293 §3.1) and its options:
// MSS (§3.7.1), window scale and timestamps (RFC 7323), SACK-permitted and SACK
// blocks (RFC 2018).
//
// parse() checks, in order: 20 bytes present, data offset >= 5 and within the
// segment, the checksum over the pseudo-header, and every option's length
// before reading it (a kind-1/kind-0 list, lengths >= 2, known kinds with
// their exact lengths; unknown kinds are skipped by their length). A bad option
// list makes the segment malformed. emit() writes header and options.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <optional>
#include <span>

#include <uni/core/buffer.hpp>
#include <uni/core/checksum.hpp>
#include <uni/core/wire.hpp>
#include <uni/net/ipv4.hpp>
#include <uni/net/tcp/offered.hpp>
#include <uni/net/tcp/seq.hpp>

namespace uni::tcp {

enum flag : std::uint8_t { fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10, urg = 0x20 };

struct sack_block {
  seq32 left, right;  // [left, right)
};

struct options {
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> window_scale;
  bool sack_permitted = false;
  std::optional<std::pair<std::uint32_t, std::uint32_t>> timestamps;  // TSval, TSecr
  std::array<sack_block, 4> sack{};
  std::uint8_t sack_count = 0;

  // Bytes these options take on the wire, padded to a multiple of 4. `Sent`:
  // the kinds the sender may send (header::emit writes no others).
  template <offered_options Sent = offered_options{}>
  std::size_t wire_size() const noexcept {
    const bool ws = Sent.window_scale && window_scale, ts = Sent.timestamps && timestamps;
    const bool sp = Sent.sack && sack_permitted;
    std::size_t n = 0;
    if (mss) n += 4;
    if (ws) n += 4;  // NOP + 3
    if (sp) n += ts ? 2 : 4;  // shares a word with timestamps when both
    if (ts) n += sp ? 10 : 12;  // NOP NOP + 10
    if (Sent.sack && sack_count) n += 4 + 8 * sack_count;  // NOP NOP + 2 + 8n
    return (n + 3) & ~std::size_t{3};
  }
};

struct header {
  static constexpr std::size_t min_size = 20;
  static constexpr std::size_t max_size = 60;

  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  seq32 seq{};
  seq32 ack_number{};
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  std::uint16_t urgent = 0;
  std::uint8_t header_length = 20;
  tcp::options opts{};

  bool has(flag f) const noexcept { return (flags & f) != 0; }

  enum class reject : std::uint8_t { truncated, bad_offset, bad_checksum, bad_options };

  // `segment` is the IP payload as fragments; the header must be in the first.
  static result<header> parse(std::span<const view> segment, ipv4_address src, ipv4_address dst,
                              reject* why = nullptr) noexcept {
    auto no = [&](reject r, error e) {
      if (why) *why = r;
      return result<header>(fail(e));
    };
    if (segment.empty() || segment[0].size() < min_size) return no(reject::truncated, error::truncated);
    const std::uint8_t* b = segment[0].data();
    header h;
    h.header_length = static_cast<std::uint8_t>((b[12] >> 4) * 4);
    if (h.header_length < min_size || h.header_length > segment[0].size())
      return no(reject::bad_offset, error::malformed);
    if (!(segment.size() == 1 && segment[0].checksum_verified())) {  // else the device checked it
      checksum_accumulator acc;
      add_pseudo_header(acc, src, dst, ip_protocol::tcp, total_size(segment));
      for (const view& v : segment) acc.add(v.bytes());
      if (acc.finish() != 0) return no(reject::bad_checksum, error::bad_checksum);
    }
    // Read as the words emit() writes.
    const std::uint32_t ports = wire::load_be32(b), offset_flags_window = wire::load_be32(b + 12);
    h.source_port = static_cast<std::uint16_t>(ports >> 16);
    h.destination_port = static_cast<std::uint16_t>(ports);
    h.seq = {wire::load_be32(b + 4)};
    h.ack_number = {wire::load_be32(b + 8)};
    h.flags = (offset_flags_window >> 16) & 0x3f;
    h.window = static_cast<std::uint16_t>(offset_flags_window);
    h.urgent = static_cast<std::uint16_t>(wire::load_be32(b + 16));
    if (!parse_options({b + min_size, h.header_length - min_size}, h.opts)) return no(reject::bad_options, error::malformed);
    return h;
  }

  // Writes header and options (header_length is computed) into `out`, which
  // must hold min_size + opts.wire_size() bytes; the checksum covers `payload`.
  // `partial`: the device completes the checksum (netfront's NETTXF_csum_blank),
  // so the field holds the pseudo-header's sum alone, not complemented.
  // `Sent`: the option kinds the sender may send; the others are not written
  // and cost no code (a Config's connections send only what it offers).
  template <offered_options Sent = offered_options{}>
  std::size_t emit(std::span<std::uint8_t> out, ipv4_address src, ipv4_address dst, std::span<const view> payload,
                   bool partial = false) const noexcept {
    const std::size_t hl = min_size + opts.wire_size<Sent>();
    const bool ts = Sent.timestamps && opts.timestamps, sp = Sent.sack && opts.sack_permitted;
    // Header and options are written as whole 32-bit words; each option is a
    // kind, a length and its value, NOPs in front where it is shorter, so no
    // padding follows them.
    std::uint8_t* const b = out.data();
    std::uint8_t* o = b;
    o = put_word(o, std::uint32_t{source_port} << 16 | destination_port);
    o = put_word(o, seq.value);
    o = put_word(o, ack_number.value);
    o = put_word(o, std::uint32_t(hl / 4) << 28 | std::uint32_t{flags} << 16 | window);  // data offset, flags, window
    o = put_word(o, urgent);  // the checksum (0 until it is computed) and the urgent pointer
    if (opts.mss) o = put_word(o, 0x02040000u | *opts.mss);
    if (ts) {
      o = put_word(o, sp ? 0x0402080au : 0x0101080au);  // SACK-permitted or two NOPs, then timestamps
      o = put_word(o, opts.timestamps->first);
      o = put_word(o, opts.timestamps->second);
    } else if (sp) {
      o = put_word(o, 0x01010402u);
    }
    if (Sent.window_scale && opts.window_scale) o = put_word(o, 0x01030300u | *opts.window_scale);
    if (Sent.sack && opts.sack_count) {
      o = put_word(o, 0x01010500u | (2u + 8u * opts.sack_count));
      for (std::size_t i = 0; i < opts.sack_count; ++i) {
        o = put_word(o, opts.sack[i].left.value);
        o = put_word(o, opts.sack[i].right.value);
      }
    }
    checksum_accumulator acc;
    add_pseudo_header(acc, src, dst, ip_protocol::tcp, hl + total_size(payload));
    if (partial) {
      wire::store_be16(b + 16, acc.folded());
      return hl;
    }
    acc.add(out.first(hl));
    for (const view& v : payload) acc.add(v.bytes());
    wire::store_be16(b + 16, acc.finish());
    return hl;
  }

 private:
  // The header's words are written in order (a constant word, such as an
  // option's kind and length with its NOPs, is one immediate store).
  static std::uint8_t* put_word(std::uint8_t* o, std::uint32_t w) noexcept {
    wire::store_be32(o, w);
    return o + 4;
  }

  static bool parse_options(std::span<const std::uint8_t> o, tcp::options& out) noexcept {
    std::size_t i = 0;
    while (i < o.size()) {
      const std::uint8_t kind = o[i];
      if (kind == 0) break;  // end of option list
      if (kind == 1) {       // no-operation
        ++i;
        continue;
      }
      if (i + 1 >= o.size()) return false;
      const std::uint8_t len = o[i + 1];
      if (len < 2 || i + len > o.size()) return false;
      const std::uint8_t* p = o.data() + i + 2;
      switch (kind) {
        case 2:
          if (len != 4) return false;
          out.mss = static_cast<std::uint16_t>(wire::load_be32(p - 2));  // kind, length, MSS
          break;
        case 3:
          if (len != 3) return false;
          out.window_scale = p[0] > 14 ? std::uint8_t{14} : p[0];  // RFC 7323 §2.3: cap at 14
          break;
        case 4:
          if (len != 2) return false;
          out.sack_permitted = true;
          break;
        case 5:
          if ((len - 2) % 8 != 0) return false;
          out.sack_count = 0;
          for (std::size_t n = 0; n < static_cast<std::size_t>(len - 2) / 8 && n < out.sack.size(); ++n) {
            out.sack[n] = {{wire::load_be32(p + 8 * n)}, {wire::load_be32(p + 8 * n + 4)}};
            ++out.sack_count;
          }
          break;
        case 8:
          if (len != 10) return false;
          out.timestamps = std::pair{wire::load_be32(p), wire::load_be32(p + 4)};
          break;
        default: break;  // unknown: skipped by its length
      }
      i += len;
    }
    return true;
  }
};

}  // namespace uni::tcp
