// uni/net/offload.hpp: TCP segmentation and checksum offload between uni and a
// device that speaks it (TAP's virtio header, Xen netif's csum_blank and GSO
// extra info), sans I/O: bytes and views in, bytes and decisions out.
//
//   transmit (GSO):  tcp_gso_batch holds back-to-back TCP/IPv4 data segments of
//     one flow (same headers, consecutive sequence numbers, full-sized) and
//     turns them into one frame of up to 64 KiB: the first segment's headers,
//     patched (IPv4 total length and checksum, the TCP checksum field holding
//     the pseudo-header's sum as a partial checksum does), then every payload
//     view; offload_info tells the device to cut it at the segment size.
//   receive:  classify() checks what a device's offload header asks of a frame
//     against the frame (a malformed header is a reason, never a crash);
//     complete_partial_checksum() finishes a checksum the sender left partial
//     (RFC 1071 sum from csum_start, the pseudo-header already in the field);
//     tcp_segmenter cuts a merged TCP/IPv4 frame into the segments of gso_size
//     bytes the sender would have sent (RFC 9293 §3.1: sequence numbers advance,
//     FIN and PSH stay on the last, CWR on the first; RFC 791: IP identification
//     advances, header checksum recomputed); parse_filling() cuts it into
//     page-filling segments instead, for a stack that takes them (GRO).
// Only IPv4 and TCP are offloaded. Fields are named below (wire::field) and read
// at the IPv4 and TCP headers' offsets within an Ethernet frame.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

#include <uni/core/buffer.hpp>
#include <uni/core/checksum.hpp>
#include <uni/core/result.hpp>
#include <uni/core/wire.hpp>
#include <uni/net/ethernet.hpp>
#include <uni/net/ipv4.hpp>

namespace uni {

enum class gso_kind : std::uint8_t { none, tcpv4, unknown };

// What a device's offload header says of one frame, whatever its layout.
struct offload_info {
  bool csum_partial = false;  // the transport checksum field holds the pseudo-header's sum only
  bool csum_valid = false;    // the sender verified (or made) the transport checksum
  gso_kind gso = gso_kind::none;
  std::uint16_t hdr_len = 0;   // Ethernet + IP + TCP headers of a merged frame
  std::uint16_t gso_size = 0;  // payload bytes per segment
  std::uint16_t csum_start = 0;
  std::uint16_t csum_offset = 0;
};

namespace offload {

// The header fields the offloads read and patch: Ethernet's and IPv4's are their
// headers' own layouts; TCP's are here (uni's TCP header parses fields, not views).
struct eth : ethernet_view::layout {
  static constexpr std::size_t size = ethernet_view::header_size;
};
struct ip : ipv4_header::layout {  // RFC 791 §3.1, from the IPv4 header's start
  static constexpr std::size_t min_size = ipv4_header::min_size;
  static constexpr std::uint8_t tcp = static_cast<std::uint8_t>(ip_protocol::tcp);
  static constexpr std::uint16_t more_fragments_and_offset = ipv4_header::flag_mf | ipv4_header::offset_mask;
  static constexpr std::size_t header_length(const std::uint8_t* h) noexcept { return std::size_t{version_ihl::get(h)} % 16 * 4; }
  static constexpr unsigned version(const std::uint8_t* h) noexcept { return version_ihl::get(h) / 16; }
};
namespace tcp {  // RFC 9293 §3.1, from the TCP header's start
inline constexpr std::size_t min_size = 20;
using ports = wire::field<std::uint32_t, 0>;
using seq = wire::field<std::uint32_t, 4>;
using ack = wire::field<std::uint32_t, 8>;
using data_offset = wire::field<std::uint8_t, 12>;
using flags = wire::field<std::uint8_t, 13>;
using window = wire::field<std::uint16_t, 14>;
using checksum = wire::field<std::uint16_t, 16>;
inline constexpr std::uint8_t fin = 0x01, psh = 0x08, ack_flag = 0x10, cwr = 0x80;
inline constexpr std::size_t header_length(const std::uint8_t* h) noexcept { return std::size_t{data_offset::get(h)} / 16 * 4; }
}  // namespace tcp

inline constexpr std::size_t ipv4_tcp_min = eth::size + ip::min_size + tcp::min_size;

// Marks `i` as a TCP checksum the device completes: the field holds the
// pseudo-header's sum, and the sum runs from the TCP header at `tcp_start`.
inline void partial_tcp(offload_info& i, std::size_t tcp_start) noexcept {
  i.csum_partial = true;
  i.csum_start = static_cast<std::uint16_t>(tcp_start);
  i.csum_offset = static_cast<std::uint16_t>(tcp::checksum::offset);
}

// The sum of the IPv4 pseudo-header (RFC 9293 §3.1) of a TCP segment of
// `tcp_length` bytes whose IPv4 header is at `iph`.
inline void add_tcp_pseudo_header(checksum_accumulator& acc, const std::uint8_t* iph, std::size_t tcp_length) noexcept {
  acc.add32(ip::source::get(iph).value);
  acc.add32(ip::destination::get(iph).value);
  acc.add16(ip::tcp);
  acc.add16(static_cast<std::uint16_t>(tcp_length));
}

inline void set_ipv4_checksum(std::uint8_t* iph, std::size_t ihl) noexcept {
  ip::checksum::set(iph, 0);
  ip::checksum::set(iph, internet_checksum({iph, ihl}));
}

// False for a frame that is surely not IPv4/TCP (a UDP answer, ARP): it goes out
// at once, without the merge checks' copy of its headers. True when unsure.
inline bool may_be_tcp_ipv4(std::span<const view> frags) noexcept {
  if (frags.empty() || frags[0].size() < eth::size + ip::min_size) return true;  // headers split oddly
  const std::uint8_t* d = frags[0].data();
  return eth::type::get(d) == 0x0800 && ip::protocol::get(d + eth::size) == ip::tcp;
}

// A TCP/IPv4 frame (not a fragment) given as fragments, whose checksum a stack
// with partial checksums left holding the pseudo-header's sum: `i` says so and
// where the device completes it (csum_start, csum_offset). False for any other frame.
inline bool partial_tcp_checksum(std::span<const view> frags, offload_info& i) noexcept {
  std::uint8_t h[eth::size + ip::min_size];
  std::size_t got = 0;
  for (const view& f : frags) {
    const std::size_t n = std::min(f.size(), sizeof h - got);
    std::memcpy(h + got, f.data(), n);
    if ((got += n) == sizeof h) break;
  }
  const std::uint8_t* iph = h + eth::size;
  if (got < sizeof h || eth::type::get(h) != 0x0800 || ip::version(iph) != 4 || ip::protocol::get(iph) != ip::tcp ||
      (ip::flags_fragment::get(iph) & ip::more_fragments_and_offset) != 0)
    return false;
  partial_tcp(i, eth::size + ip::header_length(iph));
  return true;
}

// ---- receive --------------------------------------------------------------

// Why a received frame was refused; offload_rejects counts each.
enum class rx_reject : std::uint8_t {
  gso_type,        // a GSO kind we did not ask for
  gso_size,        // a merged frame with gso_size 0
  hdr_len,         // hdr_len beyond the frame
  csum_range,      // csum_start/csum_offset beyond the frame
  too_long,        // a frame that is not merged but larger than one page
  headers,         // a merged frame that is not TCP/IPv4 as it must be
  segment_size,    // a merged frame whose segments would not fit a page
};
struct offload_rejects {
  std::array<std::uint64_t, 7> by_reason{};  // indexed by rx_reject
  void count(rx_reject r) noexcept { ++by_reason[static_cast<std::size_t>(r)]; }
  std::uint64_t of(rx_reject r) const noexcept { return by_reason[static_cast<std::size_t>(r)]; }
  std::uint64_t total() const noexcept {
    std::uint64_t n = 0;
    for (std::uint64_t c : by_reason) n += c;
    return n;
  }
};
static_assert(static_cast<std::size_t>(rx_reject::segment_size) + 1 == std::tuple_size_v<decltype(offload_rejects::by_reason)>);

// What to do with a received frame.
enum class rx_kind : std::uint8_t {
  plain,     // check it as usual
  verified,  // the sender vouches for its checksums (mark the view verified)
  partial,   // verified, but the transport checksum is partial: complete it if it will be seen
  merged,    // cut it with tcp_segmenter
};

inline bool partial_checksum_fits(const offload_info& i, std::size_t n) noexcept {
  return i.csum_start < n && std::size_t{i.csum_start} + i.csum_offset + 2 <= n;
}

// Checks `i` against a frame of `n` bytes; `max_plain` bounds a frame that is not merged.
inline result<rx_kind> classify(const offload_info& i, std::size_t n, std::size_t max_plain,
                                rx_reject* why = nullptr) noexcept {
  auto no = [&](rx_reject r) {
    if (why) *why = r;
    return result<rx_kind>(fail(error::malformed));
  };
  if (i.hdr_len > n) return no(rx_reject::hdr_len);
  if (i.gso == gso_kind::tcpv4) return i.gso_size == 0 ? no(rx_reject::gso_size) : result<rx_kind>(rx_kind::merged);
  if (i.gso != gso_kind::none) return no(rx_reject::gso_type);
  if (n > max_plain) return no(rx_reject::too_long);
  if (i.csum_partial) return partial_checksum_fits(i, n) ? result<rx_kind>(rx_kind::partial) : no(rx_reject::csum_range);
  return i.csum_valid ? rx_kind::verified : rx_kind::plain;
}

// Completes a partial checksum in place: the field holds the pseudo-header's
// sum; the sum from csum_start to the end finishes it. False if it does not fit.
inline bool complete_partial_checksum(std::span<std::uint8_t> frame, const offload_info& i) noexcept {
  if (!partial_checksum_fits(i, frame.size())) return false;
  checksum_accumulator acc;
  acc.add(frame.subspan(i.csum_start));
  std::uint16_t c = acc.finish();
  if (c == 0) c = 0xffff;  // 0 means "no checksum" to UDP; the same value to TCP
  wire::store_be16(frame.data() + i.csum_start + i.csum_offset, c);
  return true;
}

// Where the transport checksum of an IPv4 TCP or UDP frame lies, for a device
// that says a checksum is blank without saying where (Xen's NETRXF_csum_blank).
// False for any other frame.
inline bool locate_transport_checksum(std::span<const std::uint8_t> frame, offload_info& i) noexcept {
  if (frame.size() < eth::size + ip::min_size || eth::type::get(frame.data()) != 0x0800) return false;
  const std::uint8_t* iph = frame.data() + eth::size;
  const std::size_t ihl = ip::header_length(iph);
  if (ip::version(iph) != 4 || ihl < ip::min_size || eth::size + ihl > frame.size()) return false;
  const std::uint8_t proto = ip::protocol::get(iph);
  constexpr std::uint8_t udp = static_cast<std::uint8_t>(ip_protocol::udp);
  if (proto != ip::tcp && proto != udp) return false;
  i.csum_start = static_cast<std::uint16_t>(eth::size + ihl);
  i.csum_offset = proto == ip::tcp ? static_cast<std::uint16_t>(tcp::checksum::offset) : std::uint16_t{6};  // RFC 768
  return true;
}

// A received frame in two pieces: a device reads its first page into a pool
// page and the rest of a merged frame into a side buffer.
struct frame_parts {
  std::span<const std::uint8_t> head;
  std::span<const std::uint8_t> tail;

  std::size_t size() const noexcept { return head.size() + tail.size(); }
  // Copies bytes [off, off + len) of the whole frame to `dst`.
  void copy(std::uint8_t* dst, std::size_t off, std::size_t len) const noexcept {
    if (off < head.size()) {
      const std::size_t a = std::min(len, head.size() - off);
      std::memcpy(dst, head.data() + off, a);
      dst += a;
      off += a;
      len -= a;
    }
    if (len > 0) std::memcpy(dst, tail.data() + (off - head.size()), len);
  }
};

// Cuts a merged TCP/IPv4 frame (GSO TCPv4) into the segments of `mss` payload
// bytes the sender would have sent. The headers must lie in the frame's head.
class tcp_segmenter {
 public:
  // `max_segment`: no segment may exceed it (a page).
  static result<tcp_segmenter> parse(frame_parts f, std::size_t mss, std::size_t max_segment,
                                     rx_reject* why = nullptr) noexcept {
    return parse_headers(f, f.size(), mss, max_segment, why);
  }
  // A frame `n` bytes long of which only `head` (the headers at least) is at hand:
  // its segments' headers are written with write_headers() where the device left
  // room in front of each page's payload (deliver_paged_segments), no payload copied.
  static result<tcp_segmenter> parse_head(std::span<const std::uint8_t> head, std::size_t n, std::size_t mss,
                                          std::size_t max_segment, rx_reject* why = nullptr) noexcept {
    if (n < head.size()) return refused(rx_reject::headers, why);
    return parse_headers({head, {}}, n, mss, max_segment, why);
  }

  // The same frame cut into as few segments as there are pages, each filling
  // its page (up to `max_segment` bytes, headers included), not into the
  // sender's: what Linux's GRO hands its own TCP, so the stack takes a 64 KiB
  // frame in 17 segments, not 45, and a window's bytes hold 2.8x fewer pages.
  // TCP takes any segment within the window whatever its length (RFC 9293
  // §3.10.7.4), and the sequence space is the sender's, only cut elsewhere.
  static result<tcp_segmenter> parse_filling(frame_parts f, std::size_t mss, std::size_t max_segment,
                                             rx_reject* why = nullptr) noexcept {
    return parse_headers(f, f.size(), mss, max_segment, why, true);
  }

  std::size_t count() const noexcept { return (payload_ + mss_ - 1) / mss_; }
  std::size_t header_length() const noexcept { return hl_; }
  std::size_t payload_length() const noexcept { return payload_; }
  std::size_t segment_size(std::size_t i) const noexcept { return hl_ + payload_of(i); }

  // Writes segment `i` (< count()) into `out`, at least segment_size(i) bytes.
  // Its TCP checksum is the merged frame's unless `checksum` asks it computed:
  // the device vouches for these segments, so only a capture needs it.
  void write(std::size_t i, std::span<std::uint8_t> out, bool checksum) const noexcept {
    const std::size_t off = i * mss_, len = payload_of(i);
    frame_.copy(out.data() + hl_, hl_ + off, len);
    write_headers(i, out.data(), off, len, checksum);
  }

  // Writes the headers of segment `i` at `d` (header_length() bytes), for the
  // `len` payload bytes from payload offset `off`, which follow them there (a
  // TCP checksum, if asked, sums them). `d` may be the frame's own head.
  void write_headers(std::size_t i, std::uint8_t* d, std::size_t off, std::size_t len, bool checksum) const noexcept {
    std::uint8_t* iph = d + eth::size;
    std::uint8_t* th = iph + ihl_;
    if (d != frame_.head.data()) frame_.copy(d, 0, hl_);
    ip::total_length::set(iph, static_cast<std::uint16_t>(ihl_ + tcp_len_ + len));
    ip::identification::set(iph, static_cast<std::uint16_t>(id_ + i));
    set_ipv4_checksum(iph, ihl_);
    tcp::seq::set(th, seq_ + static_cast<std::uint32_t>(off));
    std::uint8_t fl = tcp::flags::get(th);
    if (off + len < payload_) fl &= static_cast<std::uint8_t>(~(tcp::fin | tcp::psh));  // the last only
    if (i > 0) fl &= static_cast<std::uint8_t>(~tcp::cwr);                             // the first only
    tcp::flags::set(th, fl);
    if (checksum) {
      tcp::checksum::set(th, 0);
      checksum_accumulator acc;
      add_tcp_pseudo_header(acc, iph, tcp_len_ + len);
      acc.add({th, tcp_len_ + len});
      tcp::checksum::set(th, acc.finish());
    }
  }

 private:
  tcp_segmenter(frame_parts f, std::size_t mss) noexcept : frame_(f), mss_(mss) {}
  static result<tcp_segmenter> refused(rx_reject r, rx_reject* why) noexcept {
    if (why) *why = r;
    return fail(error::malformed);
  }
  // `filling`: parse_filling's segments (each filling max_segment), else the sender's.
  static result<tcp_segmenter> parse_headers(const frame_parts& f, std::size_t n, std::size_t mss,
                                             std::size_t max_segment, rx_reject* why, bool filling = false) noexcept {
    auto no = [why](rx_reject r) { return refused(r, why); };
    if (mss == 0) return no(rx_reject::gso_size);
    if (n < ipv4_tcp_min || f.head.size() < ipv4_tcp_min) return no(rx_reject::headers);
    const std::uint8_t* d = f.head.data();
    const std::uint8_t* iph = d + eth::size;
    tcp_segmenter s{f, mss};
    s.ihl_ = ip::header_length(iph);
    const std::size_t t = eth::size + s.ihl_;
    if (eth::type::get(d) != 0x0800 || ip::version(iph) != 4 || s.ihl_ < ip::min_size || ip::protocol::get(iph) != ip::tcp ||
        t + tcp::min_size > f.head.size())
      return no(rx_reject::headers);
    s.tcp_len_ = tcp::header_length(d + t);
    s.hl_ = t + s.tcp_len_;
    if (s.tcp_len_ < tcp::min_size || s.hl_ >= n || s.hl_ > f.head.size()) return no(rx_reject::headers);
    if (s.hl_ + mss > max_segment) return no(rx_reject::segment_size);
    s.payload_ = n - s.hl_;
    s.id_ = ip::identification::get(iph);
    s.seq_ = tcp::seq::get(d + t);
    if (filling) s.mss_ = max_segment - s.hl_;
    return s;
  }

  std::size_t payload_of(std::size_t i) const noexcept { return std::min(mss_, payload_ - i * mss_); }

  frame_parts frame_;
  std::size_t mss_;
  std::size_t ihl_ = 0, tcp_len_ = 0, hl_ = 0, payload_ = 0;
  std::uint16_t id_ = 0;
  std::uint32_t seq_ = 0;
};

// Writes each segment of `cut` into a page of `pool`, marked checksum-verified
// (the device vouches for them; their TCP checksums are computed only if
// `checksum`, for a capture), and hands it to `deliver`. False when the pool ran
// dry: the rest is lost, and TCP sends it again. Inlined into its caller (one
// per driver), so that a `checksum` known there (netfront: none) costs no code.
template <class Deliver>
[[gnu::always_inline]] inline bool deliver_segments(const tcp_segmenter& cut, page_pool& pool, bool checksum,
                                                    Deliver&& deliver) noexcept {
  for (std::size_t i = 0; i < cut.count(); ++i) {
    auto seg = pool.allocate_reserved();
    if (!seg) return false;
    cut.write(i, seg->bytes(), checksum);
    view segment = seg->head(cut.segment_size(i));
    segment.mark_checksum_verified();
    deliver(std::move(segment));
  }
  return true;
}

// A merged frame a device read straight into pages (readv into page iovecs):
// the first page holds the frame's first page_size bytes, headers and the first
// payload; each further page `paged_room` bytes of nothing, then the next
// page_size - paged_room bytes of the frame. Cut where the pages end, each page
// is one segment, its headers written into the room in front of its payload: no
// payload byte is copied (deliver_segments copies them all). A 64 KiB frame
// takes 17 pages.
inline constexpr std::size_t paged_room = 192;
static_assert(paged_room >= eth::size + 60 + 60, "the longest headers (IPv4 and TCP options) fit the room");
inline constexpr std::size_t paged_pages(std::size_t n) noexcept {
  return n <= page_size ? 1 : 1 + (n - page_size + (page_size - paged_room) - 1) / (page_size - paged_room);
}

// Hands the segments of the paged frame of `n` bytes in `pages` (moved out of
// the first paged_pages(n)) to `deliver`, in order, marked checksum-verified;
// their TCP checksums computed only if `checksum` (a capture). False, with `why`,
// when the frame is not a merged TCP/IPv4 frame or `pages` too few.
template <class Deliver>
bool deliver_paged_segments(std::span<view> pages, std::size_t n, std::size_t mss, bool checksum, rx_reject* why,
                            Deliver&& deliver) noexcept {
  const std::size_t k = paged_pages(n);
  if (pages.empty() || k > pages.size()) {
    if (why) *why = rx_reject::too_long;
    return false;
  }
  const std::size_t first = std::min(n, page_size);
  auto cut = tcp_segmenter::parse_head(pages[0].bytes().first(first), n, mss, page_size, why);
  if (!cut) return false;
  const std::size_t hl = cut->header_length(), payload = cut->payload_length();
  // Segment i's payload: the first page's after the headers, then each page's after the room.
  auto offset_of = [&](std::size_t i) { return i == 0 ? 0 : (first - hl) + (i - 1) * (page_size - paged_room); };
  auto length_of = [&](std::size_t i) { return i == 0 ? first - hl : std::min(page_size - paged_room, payload - offset_of(i)); };
  // The further pages first: their headers are copied from the first page's,
  // which is then patched in place.
  for (std::size_t i = k; i-- > 1;)
    cut->write_headers(i, pages[i].data() + paged_room - hl, offset_of(i), length_of(i), checksum);
  cut->write_headers(0, pages[0].data(), 0, length_of(0), checksum);
  for (std::size_t i = 0; i < k; ++i) {
    view segment = i == 0 ? pages[0].head(hl + length_of(0)) : pages[i].tail(paged_room - hl).head(hl + length_of(i));
    pages[i] = view{};
    segment.mark_checksum_verified();
    deliver(std::move(segment));
  }
  return true;
}

// ---- transmit -------------------------------------------------------------

// Consecutive TCP segments of one flow, to leave as one GSO frame: the first
// one's headers (patched at the end) and every payload view, which the TCP
// send queue keeps valid until acknowledged. Merged only: IPv4 without options
// or fragmentation, ACK with or without PSH, same addresses, ports, TOS, DF,
// TTL, ACK number, window and options; no segment longer than the first, and
// none after a short one.
template <std::size_t MaxViews>
class tcp_gso_batch {
 public:
  static constexpr std::size_t max_header = eth::size + ip::min_size + 60;  // TCP with every option
  static constexpr std::size_t max_bytes = 65535 - 20 - 60;                  // payload of one IPv4 datagram at most
  static constexpr std::size_t t = eth::size + ip::min_size;                 // the TCP header's offset

  bool empty() const noexcept { return segments_ == 0; }
  std::size_t segments() const noexcept { return segments_; }
  std::size_t bytes() const noexcept { return bytes_; }  // payload held
  void clear() noexcept {
    keep_views(0);
    views_of_[0] = view{};  // the headers' view
    segments_ = bytes_ = 0;
    psh_ = last_short_ = false;
  }

  // Holds `frags` (`total` bytes) as the first segment if it is TCP data that may be merged.
  bool start(std::span<const view> frags, std::size_t total) noexcept {
    return begin(parse(frags, total, held()), frags, total);
  }

  // Appends `frags` if it continues the held flow exactly; else false (nothing held changes).
  bool merge(std::span<const view> frags, std::size_t total) noexcept {
    if (empty() || last_short_) return false;
    std::uint8_t hdr[max_header];
    return append(hdr, parse(frags, total, hdr), frags, total);
  }

  // merge(), or else start() after `send_held()` (which writes what is held and
  // clears the batch), parsing the segment's headers once: a server answering
  // many connections holds each answer and sends it when the next one, of
  // another flow, comes. False if the segment cannot be held (not TCP data):
  // the caller writes it as it is, after what was held.
  template <class SendHeld>
  bool add(std::span<const view> frags, std::size_t total, SendHeld&& send_held) noexcept {
    std::uint8_t* hdr = headers_[1 - cur_];  // parsed beside the held headers, which send_held() still writes
    const std::size_t h = parse(frags, total, hdr);
    if (!empty()) {
      if (!last_short_ && append(hdr, h, frags, total)) return true;
      send_held();
    }
    cur_ = 1 - cur_;
    return begin(h, frags, total);
  }

  // Patches the held headers into one datagram of every byte and returns what
  // the device must do with it (a single segment goes as it came: nothing, or
  // with `partial`, completing the partial checksum its stack left).
  offload_info finish(bool partial = false) noexcept {
    offload_info o;
    if (segments_ < 2) {
      if (partial && segments_ == 1) partial_tcp(o, t);
      return o;
    }
    std::uint8_t* iph = held() + eth::size;
    std::uint8_t* th = held() + t;
    ip::total_length::set(iph, static_cast<std::uint16_t>(header_len_ - eth::size + bytes_));
    set_ipv4_checksum(iph, ip::min_size);
    if (psh_) tcp::flags::set(th, static_cast<std::uint8_t>(tcp::flags::get(th) | tcp::psh));
    // A partial checksum holds the pseudo-header's sum, not complemented.
    checksum_accumulator pseudo;
    add_tcp_pseudo_header(pseudo, iph, header_len_ - t + bytes_);
    tcp::checksum::set(th, pseudo.folded());
    partial_tcp(o, t);
    o.gso = gso_kind::tcpv4;
    o.gso_size = static_cast<std::uint16_t>(segment_);
    o.hdr_len = static_cast<std::uint16_t>(header_len_);
    return o;
  }

  // The frame after finish(): these headers, then the payload views.
  std::span<const std::uint8_t> header() const noexcept { return {headers_[cur_], header_len_}; }
  std::span<const view> payload() const noexcept { return {views_of_.data() + 1, views_}; }
  // The frame as one list of views: `headers` (a view of header()'s bytes where
  // the device reads them, kept until clear()), then the payload's.
  std::span<const view> frame(view&& headers) noexcept {
    views_of_[0] = std::move(headers);
    return {views_of_.data(), views_ + 1};
  }

 private:
  // The header length of a TCP data segment we may merge (copied into `out`), or 0.
  static std::size_t parse(std::span<const view> frags, std::size_t total, std::uint8_t* out) noexcept {
    if (total < ipv4_tcp_min) return 0;
    std::size_t got = 0;
    for (const view& f : frags) {
      const std::size_t n = std::min(f.size(), max_header - got);
      std::memcpy(out + got, f.data(), n);
      got += n;
      if (got == max_header) break;
    }
    const std::uint8_t* iph = out + eth::size;
    if (got < ipv4_tcp_min || eth::type::get(out) != 0x0800 || ip::version_ihl::get(iph) != 0x45 ||
        ip::protocol::get(iph) != ip::tcp)
      return 0;
    if ((ip::flags_fragment::get(iph) & ip::more_fragments_and_offset) != 0) return 0;  // a fragment
    if (ip::total_length::get(iph) != total - eth::size) return 0;                      // padding or a short frame
    const std::size_t h = t + tcp::header_length(out + t);
    const std::uint8_t flags = tcp::flags::get(out + t);
    if (h < ipv4_tcp_min || h > got || h >= total || (flags & ~tcp::psh) != tcp::ack_flag) return 0;
    return h;
  }

  // Same MACs, TOS, DF, TTL, addresses, ports, ACK number, flags but PSH,
  // window and options: only the sequence number, IP length, ID and checksums
  // may differ. The runs of bytes between those are compared a word at a time,
  // not field by field nor byte by byte: this runs for every segment a driver
  // merges (a byte loop cost TAP's bulk send a fifth of its throughput). Both
  // passed parse(), so some bytes compared along are equal anyway: the
  // EtherType, IPv4's version, header length and protocol, the fragment offset
  // (0), and the TCP flags but PSH (ACK), which need no compare of their own.
  static bool same_flow(const std::uint8_t* a, const std::uint8_t* b, std::size_t h) noexcept {
    constexpr std::size_t i = eth::size;
    return same_bytes<0, i + ip::total_length::offset>(a, b) &&                           // MACs, EtherType, version, TOS
           same_bytes<i + ip::flags_fragment::offset, i + ip::checksum::offset>(a, b) &&  // DF, offset, TTL, protocol
           same_bytes<i + ip::source::offset, t + tcp::seq::offset>(a, b) &&              // addresses, ports
           same_bytes<t + tcp::ack::offset, t + tcp::flags::offset>(a, b) &&              // ACK number, data offset
           same_bytes<t + tcp::window::offset, t + tcp::checksum::offset>(a, b) &&        // window
           std::memcmp(a + t + tcp::min_size, b + t + tcp::min_size, h - t - tcp::min_size) == 0;  // options
  }

  // Whether bytes [From, To) of `a` and `b` are equal: 8, 4, 2, then 1 bytes at a
  // time, each load one move, not a memcmp call (the Xen image's is a byte loop).
  // __builtin_memcpy: where builtins are off (clang's freestanding Xen build)
  // std::memcpy is a call even for a word; the builtin stays one load.
  template <std::size_t From, std::size_t To>
  static bool same_bytes(const std::uint8_t* a, const std::uint8_t* b) noexcept {
    if constexpr (From == To) {
      return true;
    } else {
      constexpr std::size_t n = To - From >= 8 ? 8 : To - From >= 4 ? 4 : To - From >= 2 ? 2 : 1;
      using word = std::conditional_t<n == 8, std::uint64_t,
                                      std::conditional_t<n == 4, std::uint32_t, std::conditional_t<n == 2, std::uint16_t, std::uint8_t>>>;
      word x, y;
      __builtin_memcpy(&x, a + From, n);
      __builtin_memcpy(&y, b + From, n);
      return x == y && same_bytes<From + n, To>(a, b);
    }
  }

  std::uint8_t* held() noexcept { return headers_[cur_]; }

  // Holds the segment whose `h` bytes of headers parse() put in held() as the first one.
  bool begin(std::size_t h, std::span<const view> frags, std::size_t total) noexcept {
    if (h == 0 || !take_payload(frags, h)) {
      clear();
      return false;
    }
    header_len_ = h;
    segment_ = total - h;
    bytes_ = segment_;
    segments_ = 1;
    next_seq_ = tcp::seq::get(held() + t) + static_cast<std::uint32_t>(segment_);
    psh_ = (tcp::flags::get(held() + t) & tcp::psh) != 0;
    return true;
  }

  // Appends the segment whose `h` bytes of headers (0: not TCP data) are at `hdr`
  // if it continues the held flow exactly; else false (nothing held changes).
  bool append(const std::uint8_t* hdr, std::size_t h, std::span<const view> frags, std::size_t total) noexcept {
    const std::size_t len = total - h;
    if (h != header_len_ || len > segment_ || bytes_ + len > max_bytes || tcp::seq::get(hdr + t) != next_seq_) return false;
    if (!same_flow(hdr, held(), h)) return false;
    const std::size_t kept = views_;
    if (!take_payload(frags, h)) {
      keep_views(kept);
      return false;
    }
    psh_ = psh_ || (tcp::flags::get(hdr + t) & tcp::psh) != 0;
    bytes_ += len;
    next_seq_ += static_cast<std::uint32_t>(len);
    last_short_ = len < segment_;
    ++segments_;
    return true;
  }

  // Lets go of the payload views past the first `n`.
  void keep_views(std::size_t n) noexcept {
    while (views_ > n) views_of_[views_--] = view{};
  }

  // Keeps (shares) the views of the bytes after the first `h`.
  bool take_payload(std::span<const view> frags, std::size_t h) noexcept {
    std::size_t skip = h;
    for (const view& f : frags) {
      if (skip >= f.size()) {
        skip -= f.size();
        continue;
      }
      if (views_ == MaxViews) return false;
      views_of_[++views_] = f.tail(skip);
      skip = 0;
    }
    return true;
  }

  std::uint8_t headers_[2][max_header];  // the held segments' and the next one's (add())
  int cur_ = 0;                          // which is held
  std::size_t header_len_ = 0;
  std::array<view, MaxViews + 1> views_of_{};  // the headers' view (frame()), then the payload's
  std::size_t views_ = 0;
  std::size_t segments_ = 0;
  std::size_t segment_ = 0;  // the first segment's payload: the GSO size
  std::size_t bytes_ = 0;
  std::uint32_t next_seq_ = 0;
  bool psh_ = false;
  bool last_short_ = false;
};

}  // namespace offload
}  // namespace uni
