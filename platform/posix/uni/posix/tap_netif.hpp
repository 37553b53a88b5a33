// uni/posix/tap_netif.hpp: TapNetif, the Netif policy over a Linux TAP device.
//
// Frames are read from /dev/net/tun (IFF_TAP | IFF_NO_PI) straight into pages of
// the pool, without blocking the loop. One read is always outstanding with Asio
// (async_read_some into the next page): Asio tries it at once, and waits for the
// descriptor only if nothing is there, so waiting costs no epoll_ctl (an
// async_wait re-arms the descriptor with one each time). A frame read so is
// delivered; when the last such try had found a frame waiting (a burst), the
// frames behind it are read at once, a batch at most, until the device is empty.
// So a lone request costs one read and one empty read, as a reply costs one
// write. A frame given as fragments is written with one writev, so headers and
// payload are never joined by a copy.
//
// Segmentation offload on transmit (IFF_VNET_HDR): one system call per frame is
// what bounds a bulk sender on TAP, so back-to-back TCP data segments of one
// flow (same headers, consecutive sequence numbers, full-sized) are held, not
// written, and leave as one GSO frame of up to 64 KiB when the event loop comes
// round (before the clock's next wait, flush_before_waits(); or else an Asio
// handler posted at the first one), or as soon as any other frame must go out,
// which keeps the order of frames. The kernel delivers such a frame to its own
// TCP whole, or cuts it into the original segments if it forwards it.
// A segment that cannot be merged goes out as it is. Received frames carry a
// virtio header too. On receive, the device is told we take partial checksums
// and merged TCP frames (TUNSETOFFLOAD: TUN_F_CSUM, TUN_F_TSO4): a Linux sender
// then hands over up to 64 KiB per read() without cutting or checksumming it,
// and TapNetif cuts a merged frame into the sender's segments (one page each, as
// the stack expects them). Such frames come from the host's own stack, so they
// are marked checksum-verified (view::checksum_verified): nobody sums them, and
// their checksums are completed only when a capture (--pcap) records them.
// UNI_TAP_OFFLOAD=0 in the environment turns all this off, =tx keeps the
// transmit side only. What the offloads do to the bytes is uni/net/offload.hpp
// (sans I/O, shared with other drivers); here is only the device: the virtio
// header (uni/net/virtio_net_header.hpp), readv/writev, pages and counters.
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
#include <optional>
#include <string>
#include <type_traits>
#include <string_view>

#include <uni/concepts.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/log.hpp>
#include <uni/core/random.hpp>
#include <uni/net/offload.hpp>
#include <uni/net/virtio_net_header.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/pcap.hpp>

namespace uni::posix {

// `Offload`: the TCP segmentation offloads above. An appliance without TCP
// (Config::tcp false), or one that leaves the offloads out (Config::device_offloads
// false), takes BasicTapNetif<false>, which holds no TCP offload code.
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
    std::uint64_t rx_errors = 0;      // the device failed, or a frame was refused (below)
    offload::offload_rejects rx_rejects;  // frames whose virtio header or merged headers were wrong
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

  // Held segments leave before each of the clock's waits, not through a posted
  // handler (which costs the wait one more epoll_wait).
  void flush_before_waits(PosixClock& clock) noexcept {
    loop_flushes_ = clock.before_each_wait([](void* self) { static_cast<BasicTapNetif*>(self)->flush(); }, this);
  }

  void close() noexcept {
    flush();
    if constexpr (Offload) gso_.clear();
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
      const bool tcp = vnet_ && offload::may_be_tcp_ipv4(frags);
      if (tcp && gso_.merge(frags, total)) return {};
      flush();  // what is held goes first: frames leave in order
      if (tcp && gso_.start(frags, total)) {
        if (!flush_posted_ && !loop_flushes_) {
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
    std::uint8_t plain[virtio_net_header_view::header_size] = {};
    std::size_t n = 0;
    if (vnet_) iov[n++] = iovec{plain, sizeof plain};
    for (const view& f : frags) iov[n++] = iovec{f.data(), f.size()};
    return write(iov.data(), n);
  }

  // Writes the held segments now (one frame, merged if there are several).
  void flush() noexcept {
    if constexpr (Offload) {
      if (gso_.empty()) return;
      std::array<iovec, gso_max_views + 2> iov;
      std::uint8_t vh[virtio_net_header_view::header_size];
      const offload_info info = gso_.finish();
      virtio_net_header_view::emit(vh, info);
      if (info.gso != gso_kind::none) ++stats_.tx_gso_frames;
      std::size_t n = 0;
      iov[n++] = iovec{vh, sizeof vh};
      const auto header = gso_.header();
      iov[n++] = iovec{const_cast<std::uint8_t*>(header.data()), header.size()};
      for (const view& p : gso_.payload()) iov[n++] = iovec{p.data(), p.size()};
      (void)write(iov.data(), n);  // a lost frame is a lost segment: TCP sends it again
      gso_.clear();
    }
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

  // One read outstanding, into the next page (or, with the pool empty, a wait
  // for readiness, then a drain: read_ready()).
  void arm() {
    if (!fd_.is_open()) return;
    if (!next_) {
      result<view> page = pool_.allocate();
      if (!page) {
        fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
          if (ec) return;  // cancelled: the device is closing
          if (read_ready()) arm();
        });
        return;
      }
      next_ = std::move(*page);
    }
    const std::size_t hn = vnet_ ? sizeof next_vh_ : 0;
    next_vh_[0] = no_frame;  // the kernel writes flags below 8: changed, a frame was waiting
    const std::array<boost::asio::mutable_buffer, 3> into{
        boost::asio::buffer(next_vh_, hn), boost::asio::buffer(next_->data(), page_size),
        boost::asio::buffer(big_.get(), rx_offload_ ? big_size : 0)};
    fd_.async_read_some(into, [this](const boost::system::error_code& ec, std::size_t r) { frame_read(ec, r); });
    burst_ = !vnet_ || next_vh_[0] != no_frame;
  }

  void frame_read(const boost::system::error_code& ec, std::size_t r) noexcept {
    if (ec == boost::asio::error::operation_aborted) return;  // the device is closing
    if (ec) {
      // An empty read (Asio's eof) is nothing read, as read_ready() takes it.
      if (ec == boost::asio::error::eof || read_failed(ec.value())) arm();
      return;
    }
    const std::size_t hn = vnet_ ? sizeof next_vh_ : 0;
    view page = std::move(*next_);
    next_.reset();
    ++stats_.rx_reads;
    if (r > hn) take(std::move(page), next_vh_, r - hn);
    if (burst_ && !read_ready()) return;
    arm();
  }

  // Reads frames until the device is empty (a batch at most). False when the
  // device failed (deleted under us): stop waiting on it, or the descriptor
  // stays readable and poll() never returns.
  bool read_ready() noexcept {
    for (std::size_t i = 0; i < read_batch; ++i) {
      std::uint8_t vh[virtio_net_header_view::header_size] = {};
      const std::size_t hn = vnet_ ? sizeof vh : 0;
      // Every frame gets a page while there is one: an ACK or an ARP reply is what
      // frees pages, and holding them back at a reserve deadlocked 1,000 echo
      // connections whose unacknowledged data held the pool. A merged frame cut
      // into more segments than there are pages loses its tail (split()): TCP
      // sends it again.
      result<view> page = pool_.allocate();
      if (!page) {
        // Drain the frame anyway, or the device would stay readable forever.
        std::uint8_t scratch[page_size];
        const iovec iov[2] = {{vh, hn}, {scratch, sizeof scratch}};
        if (::readv(fd_.native_handle(), iov, 2) < 0) return read_failed(errno);
        ++stats_.rx_no_buffers;
        continue;
      }
      // With the receive offload, what does not fit the page (a merged frame) goes on in big_.
      const iovec iov[3] = {{vh, hn}, {page->data(), page_size}, {big_.get(), rx_offload_ ? big_size : 0}};
      const ssize_t r = ::readv(fd_.native_handle(), iov, rx_offload_ ? 3 : 2);
      if (r <= 0) return r == 0 || read_failed(errno);
      ++stats_.rx_reads;
      if (static_cast<std::size_t>(r) > hn) take(std::move(*page), vh, static_cast<std::size_t>(r) - hn);
    }
    return true;
  }

  // A frame of n bytes read into `page` (and big_ past it), behind the virtio header vh.
  void take(view page, std::span<std::uint8_t> vh, std::size_t n) noexcept {
    const offload_info info = virtio_net_header_view::parse(vh)->to_info();
    offload::rx_reject why{};
    const auto kind = offload::classify(info, n, page_size, &why);
    if (!kind || (!Offload && *kind == offload::rx_kind::merged)) {
      if (kind) why = offload::rx_reject::gso_type;  // no TCP here: merged frames were never asked for
      refuse(why);
      return;
    }
    if constexpr (Offload) {
      if (*kind == offload::rx_kind::merged) {
        ++stats_.rx_gso_frames;
        const std::size_t in_page = std::min(n, page_size);
        split({{page.data(), in_page}, {big_.get(), n - in_page}}, info.gso_size);
        return;
      }
    }
    view frame = page.head(n);
    // A partial checksum: the host's own stack sent it (TUN_F_CSUM), there is
    // nothing to verify, and it is completed only for a capture, which shows the wire.
    if (*kind == offload::rx_kind::partial && pcap_) (void)offload::complete_partial_checksum(frame.bytes(), info);
    if (*kind != offload::rx_kind::plain) frame.mark_checksum_verified();
    deliver(std::move(frame));
  }

  void refuse(offload::rx_reject why) noexcept {
    ++stats_.rx_errors;
    stats_.rx_rejects.count(why);
  }

  void deliver(view frame) noexcept {
    ++stats_.rx_frames;
    if (pcap_) pcap_->record(frame, std::chrono::system_clock::now());
    if (receiver_) receiver_(std::move(frame));
  }

  // Cuts a merged TCP/IPv4 frame (TUN_F_TSO4) into the segments of `mss` bytes
  // the sender would have sent, each in a page of its own, marked
  // checksum-verified (the host's stack made them); their TCP checksums are
  // filled in only for a capture.
  void split(offload::frame_parts f, std::size_t mss) noexcept {
    offload::rx_reject why{};
    auto cut = offload::tcp_segmenter::parse(f, mss, page_size, &why);
    if (!cut) {
      refuse(why);
      return;
    }
    if (!offload::deliver_segments(*cut, pool_, pcap_ != nullptr, [this](view segment) { deliver(std::move(segment)); }))
      ++stats_.rx_no_buffers;
  }

  bool read_failed(int e) noexcept {
    if (e == EAGAIN || e == EINTR) return true;  // nothing more for now
    ++stats_.rx_errors;
    log_error("tap ", name_.c_str(), ": read failed (", std::strerror(e), "); the device is gone");
    return false;
  }

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
  bool loop_flushes_ = false;  // the clock flushes before each wait
  // The read Asio holds: its page and virtio header, and whether the last try found a frame waiting.
  static constexpr std::uint8_t no_frame = 0xff;
  std::optional<view> next_;
  std::uint8_t next_vh_[virtio_net_header_view::header_size] = {};
  bool burst_ = false;
  // Only a device that offloads TCP holds segments to merge: an image without TCP
  // has no batching code at all (tests/scripts/symbols.sh).
  struct no_batch {};
  [[no_unique_address]] std::conditional_t<Offload, offload::tcp_gso_batch<gso_max_views>, no_batch> gso_;
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
