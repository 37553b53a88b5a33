// uni/posix/tap_netif.hpp: TapNetif, the Netif policy over a Linux TAP device.
//
// Frames are read from /dev/net/tun (IFF_TAP | IFF_NO_PI) straight into pages of
// the pool, without blocking the loop: Asio reports the descriptor readable and
// a batch of frames is read. A frame given as fragments is written with one
// writev, so headers and payload are never joined by a copy.
//
// Segmentation offload on transmit (IFF_VNET_HDR): one system call per frame is
// what bounds a bulk sender on TAP, so back-to-back TCP data segments of one
// flow (same headers, consecutive sequence numbers, full-sized) are held, not
// written, and leave as one GSO frame of up to 64 KiB when the event loop comes
// round (an Asio handler posted at the first one), or as soon as any other frame
// must go out, which keeps the order of frames. The kernel delivers such a frame
// to its own TCP whole, or cuts it into the original segments if it forwards it.
// A segment that cannot be merged goes out as it is. Received frames carry a
// virtio header too. On receive, the device is told we take partial checksums
// and merged TCP frames (TUNSETOFFLOAD: TUN_F_CSUM, TUN_F_TSO4): a Linux sender
// then hands over up to 64 KiB per read() without cutting or checksumming it,
// and TapNetif cuts a merged frame into the sender's segments (one page each, as
// the stack expects them). Such frames come from the host's own stack, so they
// are marked checksum-verified (view::checksum_verified): nobody sums them, and
// their checksums are completed only when a capture (--pcap) records them.
// UNI_TAP_OFFLOAD=0 in the environment turns all this off, =tx keeps the
// transmit side only.
#pragma once

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>

#include <uni/concepts.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/checksum.hpp>
#include <uni/core/log.hpp>
#include <uni/core/random.hpp>
#include <uni/posix/pcap.hpp>

namespace uni::posix {

// The header before every frame with IFF_VNET_HDR: struct virtio_net_hdr of
// <linux/virtio_net.h> (a C header C++ cannot include), in host byte order.
struct vnet_header {
  std::uint8_t flags;
  std::uint8_t gso_type;
  std::uint16_t hdr_len;      // Ethernet + IP + TCP headers
  std::uint16_t gso_size;     // payload bytes per segment
  std::uint16_t csum_start;   // where the checksummed bytes start
  std::uint16_t csum_offset;  // the checksum field, from csum_start
};
static_assert(sizeof(vnet_header) == 10);
inline constexpr std::uint8_t vnet_needs_csum = 1;
inline constexpr std::uint8_t vnet_data_valid = 2;  // the host verified the transport checksum
inline constexpr std::uint8_t vnet_gso_none = 0;
inline constexpr std::uint8_t vnet_gso_tcpv4 = 1;

// `Offload`: the TCP segmentation offloads above. An appliance without TCP
// (Config::tcp false) takes BasicTapNetif<false>, which holds no TCP code.
template <bool Offload = true>
class BasicTapNetif {
 public:
  static constexpr std::size_t max_fragments = 16;
  static constexpr std::size_t read_batch = 64;  // frames per readiness event
  static constexpr std::size_t gso_max_views = 128;  // payload views held for one GSO frame
  static constexpr std::size_t big_size = 65536;      // a merged received frame past its first page
  static constexpr std::size_t rx_reserve = 64;       // free pages a pool needs for the receive offload

  struct stats {
    std::uint64_t rx_frames = 0;
    std::uint64_t tx_frames = 0;      // frames given to transmit()
    std::uint64_t tx_writes = 0;      // system calls that wrote them
    std::uint64_t tx_gso_frames = 0;  // writes that merged segments (GSO)
    std::uint64_t rx_reads = 0;       // system calls that read rx_frames
    std::uint64_t rx_gso_frames = 0;  // reads of a merged frame, cut into segments
    std::uint64_t rx_no_buffers = 0;  // frames dropped: the pool was empty
    std::uint64_t tx_would_block = 0; // frames dropped: the device queue was full
    std::uint64_t tx_errors = 0;
    std::uint64_t tx_oversize = 0;
    std::uint64_t rx_errors = 0;      // the device failed; reception stopped
  };

  // `mac` is the appliance's own address (the TAP device's is the kernel's side).
  BasicTapNetif(boost::asio::io_context& io, page_pool& pool, mac_address mac, std::size_t mtu = 1500) noexcept
      : pool_(pool), fd_(io), mac_(mac), mtu_(mtu) {}
  BasicTapNetif(const BasicTapNetif&) = delete;
  BasicTapNetif& operator=(const BasicTapNetif&) = delete;
  ~BasicTapNetif() { close(); }

  // Attaches to the TAP device `ifname` (created if the caller may). On failure
  // error_message() says what to do.
  result<void> open(const std::string& ifname) {
    close();
    if (ifname.empty() || ifname.size() >= IFNAMSIZ) {
      message_ = "TAP device name '" + ifname + "' must be 1 to 15 characters";
      return fail(error::invalid_argument);
    }
    int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      const int e = errno;
      message_ = e == ENOENT ? "/dev/net/tun does not exist: load the tun module (modprobe tun) or create the node"
                             : "cannot open /dev/net/tun: " + std::string(std::strerror(e)) +
                                   " (run as root or with CAP_NET_ADMIN)";
      return fail(e == ENOENT ? error::no_device : error::permission);
    }
    ifreq ifr{};
    // UNI_TAP_OFFLOAD=0 turns the offloads off (one read or write per frame), =tx
    // keeps the transmit one only: for comparisons.
    const char* offload = std::getenv("UNI_TAP_OFFLOAD");
    const std::string_view want = offload ? offload : "";
    const bool want_vnet = Offload && want != "0";
    ifr.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI | (want_vnet ? IFF_VNET_HDR : 0));
    std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    int set = ::ioctl(fd, TUNSETIFF, &ifr);
    vnet_ = set == 0 && want_vnet;
    if (set < 0 && want_vnet && errno == EINVAL) {  // a kernel without virtio headers on TAP: no offload
      ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
      set = ::ioctl(fd, TUNSETIFF, &ifr);
    }
    // Receive offload: the kernel may hand us unchecksummed and merged TCP frames
    // (we complete and cut them), if the pool can hold a merged frame's pages.
    rx_offload_ = false;
    if (set == 0 && vnet_ && want != "tx" && pool_.available() >= 4 * rx_reserve) {
      if (!big_) big_.reset(new (std::nothrow) std::uint8_t[big_size]);
      rx_offload_ = big_ && ::ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) == 0;
    }
    if (set == 0 && !rx_offload_) (void)::ioctl(fd, TUNSETOFFLOAD, 0);  // a persistent device keeps the last setting
    if (set < 0) {
      const int e = errno;
      ::close(fd);
      message_ = "cannot attach to TAP device '" + ifname + "': " + std::strerror(e) +
                 (e == EPERM || e == EBUSY
                      ? ". Run as root or with CAP_NET_ADMIN, or create it for your user first: "
                        "ip tuntap add dev " + ifname + " mode tap user $USER"
                      : "");
      return fail(e == EPERM ? error::permission : error::no_device);
    }
    name_ = ifr.ifr_name;
    fd_.assign(fd);
    arm();
    return {};
  }

  void close() noexcept {
    flush();
    gso_.clear();
    if (fd_.is_open()) {
      boost::system::error_code ec;
      fd_.cancel(ec);
      fd_.close(ec);
    }
  }

  const std::string& error_message() const noexcept { return message_; }
  const std::string& name() const noexcept { return name_; }
  const stats& statistics() const noexcept { return stats_; }
  void record_to(pcap_writer* w) noexcept { pcap_ = w; }

  // Netif policy.
  mac_address mac() const noexcept { return mac_; }
  std::size_t mtu() const noexcept { return mtu_; }
  void set_receiver(frame_receiver r) noexcept { receiver_ = r; }

  result<void> transmit(std::span<const view> frags) noexcept {
    if (frags.size() > max_fragments) return fail(error::too_large);
    std::size_t total = 0;
    for (const view& f : frags) total += f.size();
    if (total > mtu_ + 14) {
      ++stats_.tx_oversize;
      return fail(error::too_large);
    }
    ++stats_.tx_frames;
    if (pcap_) pcap_->record(frags, std::chrono::system_clock::now());
    if constexpr (Offload) {
      const bool tcp = vnet_ && may_be_tcp(frags);
      if (tcp && gso_.merge(frags, total)) return {};
      flush();  // what is held goes first: frames leave in order
      if (tcp && gso_.start(frags, total)) {
        if (!flush_posted_) {
          flush_posted_ = true;
          boost::asio::post(fd_.get_executor(), [this] {
            flush_posted_ = false;
            flush();
          });
        }
        return {};
      }
    }
    std::array<iovec, max_fragments + 1> iov;
    vnet_header plain{};
    std::size_t n = 0;
    if (vnet_) iov[n++] = iovec{&plain, sizeof plain};
    for (const view& f : frags) iov[n++] = iovec{f.data(), f.size()};
    return write(iov.data(), n);
  }

  // False for a frame that is surely not IPv4/TCP (a UDP answer, ARP): it is
  // written at once without the merge checks' copy of its headers.
  static bool may_be_tcp(std::span<const view> frags) noexcept {
    if (frags.empty() || frags[0].size() < 24) return true;  // headers split oddly: let parse() decide
    const std::uint8_t* d = frags[0].data();
    return d[12] == 0x08 && d[13] == 0x00 && d[23] == 6;
  }

  // Writes the held segments now (one frame, merged if there are several).
  void flush() noexcept {
    if constexpr (!Offload) return;
    if (gso_.empty()) return;
    std::array<iovec, gso_max_views + 2> iov;
    vnet_header h{};
    const std::size_t n = gso_.finish(h, iov.data());
    iov[0] = iovec{&h, sizeof h};
    if (h.gso_type != vnet_gso_none) ++stats_.tx_gso_frames;
    (void)write(iov.data(), n);  // a lost frame is a lost segment: TCP sends it again
    gso_.clear();
  }

 private:
  result<void> write(const iovec* iov, std::size_t n) noexcept {
    if (!fd_.is_open()) return fail(error::io);
    const ssize_t r = ::writev(fd_.native_handle(), iov, static_cast<int>(n));
    if (r < 0) {
      if (errno == EAGAIN || errno == ENOBUFS) {
        ++stats_.tx_would_block;
        return fail(error::would_block);
      }
      ++stats_.tx_errors;
      return fail(error::io);
    }
    ++stats_.tx_writes;
    return {};
  }

  void arm() {
    fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled: the device is closing
      if (read_ready()) arm();
    });
  }

  // False when the device failed (deleted under us): stop waiting on it, or the
  // descriptor stays readable and poll() never returns.
  bool read_ready() noexcept {
    for (std::size_t i = 0; i < read_batch; ++i) {
      vnet_header h{};
      const std::size_t hn = vnet_ ? sizeof h : 0;
      // Every frame gets a page while there is one: an ACK or an ARP reply is what
      // frees pages, and holding them back at a reserve deadlocked 1,000 echo
      // connections whose unacknowledged data held the pool. A merged frame cut
      // into more segments than there are pages loses its tail (split()): TCP
      // sends it again.
      result<view> page = pool_.allocate();
      if (!page) {
        // Drain the frame anyway, or the device would stay readable forever.
        std::uint8_t scratch[page_size];
        const iovec iov[2] = {{&h, hn}, {scratch, sizeof scratch}};
        if (::readv(fd_.native_handle(), iov, 2) < 0) return read_failed(errno);
        ++stats_.rx_no_buffers;
        continue;
      }
      // With the receive offload, what does not fit the page (a merged frame) goes on in big_.
      const iovec iov[3] = {{&h, hn}, {page->data(), page_size}, {big_.get(), rx_offload_ ? big_size : 0}};
      const ssize_t r = ::readv(fd_.native_handle(), iov, rx_offload_ ? 3 : 2);
      if (r <= 0) return r == 0 || read_failed(errno);
      ++stats_.rx_reads;
      if (static_cast<std::size_t>(r) <= hn) continue;
      const std::size_t n = static_cast<std::size_t>(r) - hn;
      if constexpr (Offload) {
        if (h.gso_type == vnet_gso_tcpv4) {
          ++stats_.rx_gso_frames;
          split(page->data(), n, h.gso_size);
          continue;
        }
      }
      if (h.gso_type != vnet_gso_none || n > page_size) {
        ++stats_.rx_errors;
        continue;
      }
      view frame = page->head(n);
      if ((h.flags & vnet_needs_csum) != 0) {
        // The host's own stack sent it (TUN_F_CSUM): there is nothing to verify,
        // and the checksum is completed only for a capture, which shows the wire.
        if (!partial_checksum_fits(n, h) || (pcap_ && !complete_checksum(page->data(), n, h))) {
          ++stats_.rx_errors;
          continue;
        }
        frame.mark_checksum_verified();
      } else if ((h.flags & vnet_data_valid) != 0) {
        frame.mark_checksum_verified();
      }
      deliver(std::move(frame));
    }
    return true;
  }

  void deliver(view frame) noexcept {
    ++stats_.rx_frames;
    if (pcap_) pcap_->record(frame, std::chrono::system_clock::now());
    if (receiver_) receiver_(std::move(frame));
  }

  // A frame the kernel left to us to checksum (TUN_F_CSUM): the field holds the
  // pseudo-header's sum; the sum from csum_start to the end completes it.
  static bool partial_checksum_fits(std::size_t n, const vnet_header& h) noexcept {
    return h.csum_start < n && std::size_t{h.csum_start} + h.csum_offset + 2 <= n;
  }
  static bool complete_checksum(std::uint8_t* d, std::size_t n, const vnet_header& h) noexcept {
    const std::size_t at = std::size_t{h.csum_start} + h.csum_offset;
    if (!partial_checksum_fits(n, h)) return false;
    checksum_accumulator acc;
    acc.add({d + h.csum_start, n - h.csum_start});
    std::uint16_t c = acc.finish();
    if (c == 0) c = 0xffff;  // 0 means "no checksum" to UDP; the same value to TCP
    d[at] = static_cast<std::uint8_t>(c >> 8);
    d[at + 1] = static_cast<std::uint8_t>(c);
    return true;
  }

  // Cuts a merged TCP/IPv4 frame (TUN_F_TSO4) of `n` bytes, its first page_size in
  // `first` and the rest in big_, into the segments of `mss` bytes the sender
  // would have sent, each in a page of its own, marked checksum-verified (the
  // host's stack made them); their TCP checksums are filled in only for a capture.
  void split(const std::uint8_t* first, std::size_t n, std::size_t mss) noexcept {
    const auto at = [&](std::size_t off) { return off < page_size ? first + off : big_.get() + (off - page_size); };
    const auto copy = [&](std::uint8_t* dst, std::size_t off, std::size_t len) {
      if (off < page_size) {
        const std::size_t a = std::min(len, page_size - off);
        std::memcpy(dst, first + off, a);
        dst += a;
        off += a;
        len -= a;
      }
      if (len > 0) std::memcpy(dst, at(off), len);
    };
    if (n < 14 + 20 + 20 || n > page_size + big_size || mss == 0) {
      ++stats_.rx_errors;
      return;
    }
    const std::size_t ihl = std::size_t{first[14]} % 16 * 4;
    const std::size_t t = 14 + ihl;
    if (first[12] != 0x08 || first[13] != 0 || first[14] / 16 != 4 || ihl < 20 || first[23] != 6 || t + 20 > n) {
      ++stats_.rx_errors;
      return;
    }
    const std::size_t tcp_len = std::size_t{first[t + 12]} / 16 * 4;
    const std::size_t hl = t + tcp_len;
    if (tcp_len < 20 || hl >= n || hl + mss > page_size) {
      ++stats_.rx_errors;
      return;
    }
    const std::size_t payload = n - hl;
    const std::uint16_t id = static_cast<std::uint16_t>((first[18] << 8) | first[19]);
    const std::uint32_t seq = (std::uint32_t{first[t + 4]} << 24) | (std::uint32_t{first[t + 5]} << 16) |
                              (std::uint32_t{first[t + 6]} << 8) | first[t + 7];
    for (std::size_t o = 0, i = 0; o < payload; o += mss, ++i) {
      const std::size_t len = std::min(mss, payload - o);
      auto seg = pool_.allocate();
      if (!seg) {
        ++stats_.rx_no_buffers;
        return;
      }
      std::uint8_t* d = seg->data();
      copy(d, 0, hl);
      copy(d + hl, hl + o, len);
      const std::size_t ip_len = ihl + tcp_len + len;
      const auto id_i = static_cast<std::uint16_t>(id + i);
      const std::uint32_t seq_i = seq + static_cast<std::uint32_t>(o);
      d[16] = static_cast<std::uint8_t>(ip_len >> 8);
      d[17] = static_cast<std::uint8_t>(ip_len);
      d[18] = static_cast<std::uint8_t>(id_i >> 8);
      d[19] = static_cast<std::uint8_t>(id_i);
      d[24] = d[25] = 0;
      const std::uint16_t ip_sum = internet_checksum({d + 14, ihl});
      d[24] = static_cast<std::uint8_t>(ip_sum >> 8);
      d[25] = static_cast<std::uint8_t>(ip_sum);
      for (int b = 0; b < 4; ++b) d[t + 4 + b] = static_cast<std::uint8_t>(seq_i >> (24 - 8 * b));
      if (o + len < payload) d[t + 13] &= static_cast<std::uint8_t>(~0x09);  // FIN and PSH: the last only
      if (i > 0) d[t + 13] &= static_cast<std::uint8_t>(~0x80);                // CWR: the first only
      if (pcap_) {
        d[t + 16] = d[t + 17] = 0;
        checksum_accumulator acc;
        acc.add({d + 26, 8});
        acc.add16(6);
        acc.add16(static_cast<std::uint16_t>(tcp_len + len));
        acc.add({d + t, tcp_len + len});
        const std::uint16_t c = acc.finish();
        d[t + 16] = static_cast<std::uint8_t>(c >> 8);
        d[t + 17] = static_cast<std::uint8_t>(c);
      }
      view segment = seg->head(hl + len);
      segment.mark_checksum_verified();
      deliver(std::move(segment));
    }
  }

  bool read_failed(int e) noexcept {
    if (e == EAGAIN || e == EINTR) return true;  // nothing more for now
    ++stats_.rx_errors;
    log_error("tap ", name_.c_str(), ": read failed (", std::strerror(e), "); the device is gone");
    return false;
  }

  // Consecutive TCP segments of one flow, to leave as one GSO frame: the first
  // one's headers (patched at the end) and every payload view, which the TCP
  // send queue keeps valid until acknowledged.
  class gso_batch {
   public:
    static constexpr std::size_t max_header = 14 + 20 + 60;  // Ethernet, IPv4 without options, TCP
    static constexpr std::size_t max_bytes = 65535 - 20 - 60;  // payload of one IPv4 datagram at most

    bool empty() const noexcept { return segments_ == 0; }
    void clear() noexcept {
      for (std::size_t i = 0; i < views_; ++i) payload_[i] = view{};
      segments_ = views_ = bytes_ = 0;
      psh_ = last_short_ = false;
    }

    // Holds `frags` as the first segment if it is TCP data that may be merged.
    bool start(std::span<const view> frags, std::size_t total) noexcept {
      const std::size_t h = parse(frags, total, header_);
      if (h == 0 || !take_payload(frags, h)) {
        clear();
        return false;
      }
      header_len_ = h;
      segment_ = total - h;
      bytes_ = segment_;
      segments_ = 1;
      next_seq_ = seq(header_) + static_cast<std::uint32_t>(segment_);
      psh_ = (header_[tcp_at(header_) + 13] & 0x08) != 0;
      return true;
    }

    // Appends `frags` if it continues the held flow exactly; else false (nothing held changes).
    bool merge(std::span<const view> frags, std::size_t total) noexcept {
      if (empty() || last_short_) return false;
      std::uint8_t hdr[max_header];
      const std::size_t h = parse(frags, total, hdr);
      const std::size_t len = total - h;
      if (h != header_len_ || len > segment_ || bytes_ + len > max_bytes || seq(hdr) != next_seq_) return false;
      const std::size_t t = tcp_at(hdr);
      // Same addresses and ports (MACs, IPs at 26..33, ports), TOS, DF, TTL, ACK,
      // flags but PSH, window and options; only the sequence number, IP length,
      // ID and checksums may differ.
      if (std::memcmp(hdr, header_, 12) != 0 || std::memcmp(hdr + 26, header_ + 26, 8) != 0 || hdr[15] != header_[15] ||
          hdr[20] != header_[20] || hdr[22] != header_[22] ||
          std::memcmp(hdr + t + 8, header_ + t + 8, 5) != 0 || ((hdr[t + 13] ^ header_[t + 13]) & ~0x08) != 0 ||
          std::memcmp(hdr + t + 14, header_ + t + 14, 2) != 0 ||
          std::memcmp(hdr + t + 20, header_ + t + 20, h - t - 20) != 0)
        return false;
      const std::size_t held = views_;
      if (!take_payload(frags, h)) {
        while (views_ > held) payload_[--views_] = view{};
        return false;
      }
      psh_ = psh_ || (hdr[t + 13] & 0x08) != 0;
      bytes_ += len;
      next_seq_ += static_cast<std::uint32_t>(len);
      last_short_ = len < segment_;
      ++segments_;
      return true;
    }

    // Fills `vh` and iov[1..] (iov[0] is the virtio header's); returns the iovec count.
    std::size_t finish(vnet_header& vh, iovec* iov) noexcept {
      const std::size_t t = tcp_at(header_);
      if (segments_ > 1) {
        // One datagram of every byte; the kernel checksums or segments it.
        const std::size_t ip_len = header_len_ - 14 + bytes_;
        header_[16] = static_cast<std::uint8_t>(ip_len >> 8);
        header_[17] = static_cast<std::uint8_t>(ip_len);
        header_[24] = header_[25] = 0;
        const std::uint16_t ip_sum = internet_checksum({header_ + 14, t - 14});
        header_[24] = static_cast<std::uint8_t>(ip_sum >> 8);
        header_[25] = static_cast<std::uint8_t>(ip_sum);
        if (psh_) header_[t + 13] |= 0x08;
        // A partial checksum holds the pseudo-header's sum, not complemented.
        checksum_accumulator pseudo;
        pseudo.add({header_ + 26, 8});
        pseudo.add16(6);
        pseudo.add16(static_cast<std::uint16_t>(header_len_ - t + bytes_));
        const std::uint16_t p = pseudo.folded();
        header_[t + 16] = static_cast<std::uint8_t>(p >> 8);
        header_[t + 17] = static_cast<std::uint8_t>(p);
        vh.flags = vnet_needs_csum;
        vh.gso_type = vnet_gso_tcpv4;
        vh.gso_size = static_cast<std::uint16_t>(segment_);
        vh.hdr_len = static_cast<std::uint16_t>(header_len_);
        vh.csum_start = static_cast<std::uint16_t>(t);
        vh.csum_offset = 16;
      }
      std::size_t n = 1;
      iov[n++] = iovec{header_, header_len_};
      for (std::size_t i = 0; i < views_; ++i) iov[n++] = iovec{payload_[i].data(), payload_[i].size()};
      return n;
    }

   private:
    // The header length of a TCP data segment we may merge (copied into `out`),
    // or 0: IPv4 without options or fragmentation, ACK with or without PSH only.
    static std::size_t parse(std::span<const view> frags, std::size_t total, std::uint8_t* out) noexcept {
      if (total < 14 + 20 + 20) return 0;
      std::size_t got = 0;
      for (const view& f : frags) {
        const std::size_t n = std::min(f.size(), max_header - got);
        std::memcpy(out + got, f.data(), n);
        got += n;
        if (got == max_header) break;
      }
      if (got < 14 + 20 + 20 || out[12] != 0x08 || out[13] != 0x00 || out[14] != 0x45 || out[23] != 6) return 0;
      if ((out[20] & 0x3f) != 0 || out[21] != 0) return 0;                      // MF or an offset: a fragment
      if (((std::size_t{out[16]} << 8) | out[17]) != total - 14) return 0;       // padding or a short frame
      const std::size_t h = 14 + 20 + std::size_t{out[14 + 20 + 12]} / 16 * 4;
      const std::uint8_t flags = out[14 + 20 + 13];
      if (h < 14 + 20 + 20 || h > got || h >= total || (flags & ~0x08) != 0x10) return 0;
      return h;
    }
    static std::size_t tcp_at(const std::uint8_t*) noexcept { return 14 + 20; }
    static std::uint32_t seq(const std::uint8_t* hdr) noexcept {
      const std::uint8_t* s = hdr + 14 + 20 + 4;
      return (std::uint32_t{s[0]} << 24) | (std::uint32_t{s[1]} << 16) | (std::uint32_t{s[2]} << 8) | s[3];
    }
    // Keeps (shares) the views of the bytes after the first `h`.
    bool take_payload(std::span<const view> frags, std::size_t h) noexcept {
      std::size_t skip = h;
      for (const view& f : frags) {
        if (skip >= f.size()) {
          skip -= f.size();
          continue;
        }
        if (views_ == gso_max_views) return false;
        payload_[views_++] = f.tail(skip);
        skip = 0;
      }
      return true;
    }

    std::uint8_t header_[max_header];
    std::size_t header_len_ = 0;
    std::array<view, gso_max_views> payload_{};
    std::size_t views_ = 0;
    std::size_t segments_ = 0;
    std::size_t segment_ = 0;  // the first segment's payload: the GSO size
    std::size_t bytes_ = 0;
    std::uint32_t next_seq_ = 0;
    bool psh_ = false;
    bool last_short_ = false;
  };

  page_pool& pool_;
  boost::asio::posix::stream_descriptor fd_;
  mac_address mac_;
  std::size_t mtu_;
  frame_receiver receiver_{};
  pcap_writer* pcap_ = nullptr;
  std::string name_;
  std::string message_;
  stats stats_;
  bool vnet_ = false;        // frames carry a virtio_net_hdr (IFF_VNET_HDR)
  bool rx_offload_ = false;  // received frames may be merged or lack checksums
  std::unique_ptr<std::uint8_t[]> big_;
  bool flush_posted_ = false;
  gso_batch gso_;
};

using TapNetif = BasicTapNetif<true>;
static_assert(Netif<TapNetif>);
static_assert(Netif<BasicTapNetif<false>>);

// A locally administered unicast MAC, random per process unless seeded.
inline mac_address random_local_mac(std::uint64_t seed) noexcept {
  random_generator rng(seed);
  mac_address m;
  for (auto& b : m.bytes) b = static_cast<std::uint8_t>(rng());
  m.bytes[0] = static_cast<std::uint8_t>((m.bytes[0] & 0xfe) | 0x02);
  return m;
}

}  // namespace uni::posix
