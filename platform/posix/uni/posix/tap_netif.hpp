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
// A segment that cannot be merged goes out as it is. TCP's checksums are left
// to the host (completes_tcp_checksums(): VIRTIO_NET_HDR_F_NEEDS_CSUM on each TCP
// frame, as netfront's csum_blank), which delivers such frames to its own
// sockets without summing them at all. Received frames carry a
// virtio header too. On receive, the device is told we take partial checksums
// and merged TCP frames (TUNSETOFFLOAD: TUN_F_CSUM, TUN_F_TSO4): a Linux sender
// then hands over up to 64 KiB per read() without cutting or checksumming it.
// The read puts such a frame straight into pages (the first page, then 16 more
// read from offload::paged_room on), and each page becomes one segment, its
// headers written in the room in front of its payload: the stack takes one page
// a segment, larger than the sender's, as GRO does, and no payload byte is
// copied (offload::deliver_paged_segments). When the pool cannot give the 16
// pages, the rest of the frame goes into a side buffer and is copied into pages
// (split()). Such frames come from the host's own stack, so they are marked
// checksum-verified (view::checksum_verified): nobody sums them, and their
// checksums are completed only when a capture (--pcap) records them.
// UNI_TAP_OFFLOAD=0 in the environment turns all this off, =tx keeps the
// transmit side only. What the offloads do to the bytes is uni/net/offload.hpp
// (sans I/O, shared with other drivers); here is only the device: the virtio
// header (uni/net/virtio_net_header.hpp), readv/writev, pages and counters.
//
// On a ring (use_ring: the clock waits on a uni/posix/uring_loop), one read
// stays posted into a page of the pool: it is the wake-up, and a lone frame
// (request-reply traffic, ping) costs no system call of the device's own. When
// it completes in a turn that follows one with frames (a burst), the frames
// behind it are read at once with plain reads, as on Asio's path (read_ready():
// a batch at most, until the device is empty; TCP acknowledges a turn's frames
// together: ten flows into uni, 5,270 ACKs a GB, 5,590 on Asio). Several
// posted reads cost more: the kernel polls each, wakes them all for every
// frame and completes each by task work (up to 32 of them: DNS at 50k q/s
// cost 8.1-8.7 us of CPU an answer, one read and the drain 6.7-7.9, Asio
// 6.9-8.8; HTTP at 10 connections 7.8-8.0 us a request, against 5.4-6.1 and
// Asio's 5.4-6.4).
// A write is an entry that goes with the turn's one io_uring_enter,
// its views held until it completes (tx_depth of them at once; past that, what
// the ring holds is submitted and the frame written at once, in order). The
// device is one of the ring's fixed files: no descriptor lookup per entry.
#pragma once

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
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
#include <uni/posix/uring_loop.hpp>

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
  static constexpr std::size_t tail_pages = offload::paged_pages(65535 + 14) - 1;  // the rest of the largest, paged
  static constexpr std::size_t max_read_iov = 2 + tail_pages;  // virtio header, first page, the rest
  static constexpr std::size_t rx_reserve = 64;       // free pages a pool needs for the receive offload
  static constexpr std::size_t tx_depth = 64;         // writes on a ring at once

  struct stats {
    std::uint64_t rx_frames = 0;
    std::uint64_t tx_frames = 0;      // frames given to transmit()
    std::uint64_t tx_writes = 0;      // system calls that wrote them
    std::uint64_t tx_gso_frames = 0;  // writes that merged segments (GSO)
    std::uint64_t rx_reads = 0;       // system calls that read rx_frames
    std::uint64_t rx_gso_frames = 0;  // reads of a merged frame, cut into segments
    std::uint64_t rx_gso_copied = 0;  // of them, copied through the side buffer (the pool was low)
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

  // Reads and writes through the clock's ring, if it has one (call before open()).
  void use_ring(PosixClock& clock) noexcept {
    ring_ = clock.ring();
    if (ring_) flush_before_waits(clock);  // which also re-posts the reads an empty pool left unposted
  }
  bool on_ring() const noexcept { return ring_ != nullptr; }

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
    if (ring_) start_ring();
    else arm();
    return {};
  }

  // Held segments leave before each of the clock's waits, not through a posted
  // handler (which costs the wait one more epoll_wait).
  void flush_before_waits(PosixClock& clock) noexcept {
    if (loop_flushes_) return;
    loop_flushes_ = clock.before_each_wait(
        [](void* self) {
          auto& t = *static_cast<BasicTapNetif*>(self);
          t.flush();
          if (t.ring_) t.refill();
        },
        this);
  }

  void close() noexcept {
    flush();
    if constexpr (Offload) gso_.clear();
    if (ring_ && fd_.is_open()) {  // the kernel gives back the pages and views it holds
      closing_ = true;
      ring_->retire(rx_);
      if (tx_)
        for (std::size_t i = 0; i < tx_depth; ++i) ring_->retire(tx_[i]);
      closing_ = false;
      if (ring_file_ >= 0) ring_->unregister_file(ring_file_);  // the table's reference would keep the device open
      ring_file_ = -1;
    }
    if (fd_.is_open()) {
      boost::system::error_code ec;
      fd_.cancel(ec);
      fd_.close(ec);
    }
    next_.reset();  // Asio's read was aborted with the descriptor: its page goes back
    for (auto& t : tail_) t.reset();
  }

  const std::string& error_message() const noexcept { return message_; }
  const std::string& name() const noexcept { return name_; }
  const stats& statistics() const noexcept { return stats_; }
  void record_to(pcap_writer* w) noexcept { pcap_ = w; }

  // Netif policy.
  mac_address mac() const noexcept { return mac_; }
  std::size_t mtu() const noexcept { return mtu_; }
  void set_receiver(frame_receiver r) noexcept { receiver_ = r; }
  // Asked once by the stack, after open() and record_to(): with virtio headers,
  // TCP leaves its checksums partial and each TCP frame goes VIRTIO_NET_HDR_F_NEEDS_CSUM.
  // The host's stack then neither needs nor verifies them for itself (CHECKSUM_PARTIAL),
  // and completes them only if it forwards the frame. Not with a capture, which
  // records the frames as they are written.
  bool completes_tcp_checksums() noexcept {
    partial_tx_ = Offload && vnet_ && !pcap_;
    return partial_tx_;
  }

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
      // What is held goes first (flush()): frames leave in order.
      bool held = false;
      if (vnet_ && offload::may_be_tcp_ipv4(frags)) held = gso_.add(frags, total, [this] { flush(); });
      else flush();
      if (held) {
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
    static constexpr std::uint8_t plain[virtio_net_header_view::header_size] = {};
    if constexpr (Offload) {
      offload_info partial;
      if (partial_tx_ && offload::partial_tcp_checksum(frags, partial)) {
        std::uint8_t vh[virtio_net_header_view::header_size];
        virtio_net_header_view::emit(vh, partial);
        return send(vh, {}, frags);
      }
    }
    return send({plain, vnet_ ? sizeof plain : 0}, {}, frags);
  }

  // Writes the held segments now (one frame, merged if there are several).
  void flush() noexcept {
    if constexpr (Offload) {
      if (gso_.empty()) return;
      std::uint8_t vh[virtio_net_header_view::header_size];
      const offload_info info = gso_.finish(partial_tx_);
      virtio_net_header_view::emit(vh, info);
      if (info.gso != gso_kind::none) ++stats_.tx_gso_frames;
      (void)send(vh, gso_.header(), gso_.payload());  // a lost frame is a lost segment: TCP sends it again
      gso_.clear();
    }
  }

 private:
  static constexpr std::size_t tx_views = Offload ? gso_max_views : max_fragments;
  static constexpr std::size_t max_header = 128;  // offload::tcp_gso_batch's
  using bytes = std::span<const std::uint8_t>;

  // The iovecs of a frame: the virtio header, the merged segments' headers, the views.
  template <std::size_t N>
  static std::size_t gather(std::array<iovec, N>& iov, bytes vh, bytes header, std::span<const view> views) noexcept {
    std::size_t n = 0;
    if (!vh.empty()) iov[n++] = iovec{const_cast<std::uint8_t*>(vh.data()), vh.size()};
    if (!header.empty()) iov[n++] = iovec{const_cast<std::uint8_t*>(header.data()), header.size()};
    for (const view& v : views) iov[n++] = iovec{v.data(), v.size()};
    return n;
  }

  // Writes a frame: on the ring, an entry that holds copies of what it writes;
  // else (or with every ring slot taken) a writev now.
  result<void> send(bytes vh, bytes header, std::span<const view> views) noexcept {
    if (ring_ && fd_.is_open()) {
      if (tx_slot* s = free_tx_) {
        free_tx_ = s->next_free;
        if (!vh.empty()) std::memcpy(s->vh, vh.data(), vh.size());
        if (!header.empty()) std::memcpy(s->header, header.data(), header.size());
        for (std::size_t i = 0; i < views.size(); ++i) s->held[i] = views[i];
        s->held_count = views.size();
        const std::size_t n = gather(s->iov, {s->vh, vh.size()}, {s->header, header.size()}, views);
        io_uring_sqe* sqe = ring_->entry(*s);
        ::io_uring_prep_writev(sqe, ring_fd(), s->iov.data(), static_cast<unsigned>(n), 0);
        name_fixed(sqe);
        return {};
      }
      ring_->submit();  // the frames queued before this one go first
    }
    std::array<iovec, tx_views + 2> iov;
    return write(iov.data(), gather(iov, vh, header, views));
  }

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
      result<view> page = pool_.allocate_reserved();
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
    // Whether Asio's try found a frame: the kernel writes a virtio header's flags
    // below 8, so no_frame changed means one was waiting; without headers, a frame's
    // destination MAC is never all zero (if one were, a burst would go undrained
    // for one turn: arm()'s own try still reads it).
    next_vh_[0] = no_frame;
    std::memset(next_->data(), 0, 6);
    std::array<iovec, max_read_iov> iov{};
    const std::size_t count = read_iovecs(iov, next_vh_, hn, next_->data(), next_paged_);
    std::array<boost::asio::mutable_buffer, max_read_iov> into;
    for (std::size_t i = 0; i < max_read_iov; ++i) into[i] = boost::asio::buffer(iov[i].iov_base, i < count ? iov[i].iov_len : 0);
    fd_.async_read_some(into, [this](const boost::system::error_code& ec, std::size_t r) { frame_read(ec, r); });
    burst_ = vnet_ ? next_vh_[0] != no_frame : std::memcmp(next_->data(), zero_mac, 6) != 0;
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
    if (r > hn) take(std::move(page), next_vh_, r - hn, next_paged_);
    if (burst_ && !read_ready()) return;
    arm();
  }

  // Reads frames until the device is empty (a batch at most). False when the
  // device failed (deleted under us): stop waiting on it, or the descriptor
  // stays readable and poll() never returns. The ring's drain too: big_ and the
  // tail pages are free then, as its posted read is not re-posted before the drain ends.
  bool read_ready() noexcept {
    for (std::size_t i = 0; i < read_batch; ++i) {
      std::uint8_t vh[virtio_net_header_view::header_size] = {};
      const std::size_t hn = vnet_ ? sizeof vh : 0;
      // Every frame gets a page while there is one: an ACK or an ARP reply is what
      // frees pages, and holding them back at a reserve deadlocked 1,000 echo
      // connections whose unacknowledged data held the pool. A merged frame cut
      // into more segments than there are pages loses its tail (split()): TCP
      // sends it again.
      result<view> page = pool_.allocate_reserved();
      if (!page) {
        // Drain the frame anyway, or the device would stay readable forever.
        std::uint8_t scratch[page_size];
        const iovec iov[2] = {{vh, hn}, {scratch, sizeof scratch}};
        if (::readv(fd_.native_handle(), iov, 2) < 0) return read_failed(errno);
        ++stats_.rx_no_buffers;
        continue;
      }
      // With the receive offload, what does not fit the page (a merged frame) goes on
      // in the tail pages (or big_, read_iovecs()).
      std::array<iovec, max_read_iov> iov;
      bool paged = false;
      const std::size_t count = read_iovecs(iov, vh, hn, page->data(), paged);
      const ssize_t r = ::readv(fd_.native_handle(), iov.data(), static_cast<int>(count));
      if (r <= 0) return r == 0 || read_failed(errno);
      ++stats_.rx_reads;
      if (static_cast<std::size_t>(r) > hn) take(std::move(*page), vh, static_cast<std::size_t>(r) - hn, paged);
    }
    return true;
  }

  // A frame of n bytes read into `page` and, past it, into the tail pages if
  // `paged`, else into big_ (read_iovecs()), behind the virtio header vh.
  // Without virtio headers (BasicTapNetif<false>, UNI_TAP_OFFLOAD=0) the kernel says
  // nothing of a frame and vh is not its word: on Asio's path it holds arm()'s
  // no_frame marker, whose bits read "checksum partial, data valid", which let a
  // UDP datagram with a bad checksum through to an ICMP port unreachable.
  void take(view page, std::span<std::uint8_t> vh, std::size_t n, bool paged) noexcept {
    const offload_info info = vnet_ ? virtio_net_header_view::parse(vh)->to_info() : offload_info{};
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
        if (paged) {
          split_paged(std::move(page), n, info.gso_size);
          return;
        }
        ++stats_.rx_gso_copied;
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

  // Cuts a merged TCP/IPv4 frame (TUN_F_TSO4, segments of `mss` bytes) into
  // segments that fill a page each (tcp_segmenter::parse_filling: the stack
  // takes 17 for 64 KiB, not 45), marked checksum-verified (the host's stack
  // made them); their TCP checksums are filled in only for a capture.
  void split(offload::frame_parts f, std::size_t mss) noexcept {
    offload::rx_reject why{};
    auto cut = offload::tcp_segmenter::parse_filling(f, mss, page_size, &why);
    if (!cut) {
      refuse(why);
      return;
    }
    if (!offload::deliver_segments(*cut, pool_, pcap_ != nullptr, [this](view segment) { deliver(std::move(segment)); }))
      ++stats_.rx_no_buffers;
  }

  // A merged frame read into the first page and the tail pages (read_iovecs()):
  // each page one segment, headers written in front of its payload, nothing
  // copied (offload::deliver_paged_segments). The tail pages it took are
  // allocated again for the next read.
  void split_paged(view first, std::size_t n, std::size_t mss) noexcept {
    std::array<view, 1 + tail_pages> pages;
    pages[0] = std::move(first);
    const std::size_t k = std::min(offload::paged_pages(n), pages.size());
    for (std::size_t i = 1; i < k; ++i) pages[i] = std::move(*tail_[i - 1]), tail_[i - 1].reset();
    offload::rx_reject why{};
    if (!offload::deliver_paged_segments(std::span<view>(pages.data(), k), n, mss, pcap_ != nullptr, &why,
                                         [this](view segment) { deliver(std::move(segment)); }))
      refuse(why);
  }

  // The iovecs of a read: the virtio header, the first page (`page`), and with
  // the receive offload where a merged frame goes on: tail pages, each from
  // offload::paged_room on (`paged`), or, when the pool cannot give them all,
  // big_ (the frame is then copied into pages, split()). Returns how many.
  std::size_t read_iovecs(std::array<iovec, max_read_iov>& iov, std::uint8_t* vh, std::size_t hn, std::uint8_t* page,
                          bool& paged) noexcept {
    iov[0] = {vh, hn};
    iov[1] = {page, page_size};
    paged = false;
    if (!rx_offload_) return 2;
    // The tail pages only from a pool with rx_reserve pages to spare after them:
    // a pool running low keeps its pages for the frames themselves.
    const auto missing = static_cast<std::size_t>(std::count(tail_.begin(), tail_.end(), std::nullopt));
    paged = missing == 0 || pool_.available() >= missing + rx_reserve;
    for (std::size_t i = 0; paged && i < tail_pages; ++i) {
      if (tail_[i]) continue;
      result<view> p = pool_.allocate_reserved();
      if (!p) paged = false;
      else tail_[i] = std::move(*p);
    }
    if (!paged) {
      iov[2] = {big_.get(), big_size};
      return 3;
    }
    for (std::size_t i = 0; i < tail_pages; ++i)
      iov[2 + i] = {tail_[i]->data() + offload::paged_room, page_size - offload::paged_room};
    return max_read_iov;
  }

  // The ring's reads and writes: each slot is the completion of its entry.
  struct rx_slot : uring_loop::completion {
    BasicTapNetif* tap = nullptr;
    std::optional<view> page;
    std::uint8_t vh[virtio_net_header_view::header_size] = {};
    std::array<iovec, max_read_iov> iov{};
    bool paged = false;  // the frame goes on in the tail pages, not big_
  };
  struct tx_slot : uring_loop::completion {
    BasicTapNetif* tap = nullptr;
    std::array<iovec, tx_views + 2> iov{};
    std::array<view, tx_views> held{};
    std::size_t held_count = 0;
    std::uint8_t vh[virtio_net_header_view::header_size] = {};
    std::uint8_t header[max_header] = {};
    tx_slot* next_free = nullptr;
  };

  void start_ring() {
    if (!tx_) tx_ = std::make_unique<tx_slot[]>(tx_depth);  // start of day: ~6 KiB a slot
    free_tx_ = nullptr;
    for (std::size_t i = 0; i < tx_depth; ++i) {
      tx_[i].tap = this;
      tx_[i].done = [](uring_loop::completion& c, int res) { static_cast<tx_slot&>(c).tap->written(static_cast<tx_slot&>(c), res); };
      tx_[i].next_free = free_tx_;
      free_tx_ = &tx_[i];
    }
    rx_.tap = this;
    rx_.done = [](uring_loop::completion& c, int res) { static_cast<rx_slot&>(c).tap->read(res); };
    rx_failed_ = false;
    if (ring_file_ < 0) ring_file_ = ring_->register_file(fd_.native_handle());
    refill();
  }

  // Before each wait: the posted read, if it is not at the kernel (an empty
  // pool left it unposted), and whether this turn read frames (read()).
  void refill() noexcept {
    rx_busy_ = rx_turn_;
    rx_turn_ = false;
    if (rx_.in_flight == 0) post();
  }
  void post() noexcept {
    if (closing_ || rx_failed_ || !fd_.is_open()) return;
    if (!rx_.page) {
      result<view> page = pool_.allocate_reserved();
      if (!page) return;
      rx_.page = std::move(*page);
    }
    const std::size_t hn = vnet_ ? sizeof rx_.vh : 0;
    const std::size_t count = read_iovecs(rx_.iov, rx_.vh, hn, rx_.page->data(), rx_.paged);
    io_uring_sqe* sqe = ring_->entry(rx_);
    ::io_uring_prep_readv(sqe, ring_fd(), rx_.iov.data(), static_cast<unsigned>(count), 0);
    name_fixed(sqe);
  }
  // The device in an entry: its index in the ring's fixed files, which spares
  // the kernel a descriptor lookup (fget, fput) per read and write; or, where
  // the kernel refused to register it, its descriptor.
  int ring_fd() noexcept { return ring_file_ >= 0 ? ring_file_ : fd_.native_handle(); }
  void name_fixed(io_uring_sqe* sqe) const noexcept {
    if (ring_file_ >= 0) sqe->flags |= IOSQE_FIXED_FILE;
  }
  // The posted read's frame; after a turn with frames, the ones behind it too
  // (a lone frame costs no read that finds the device empty).
  void read(int res) noexcept {
    if (closing_ || res == -ECANCELED) {
      rx_.page.reset();
      return;
    }
    if (res < 0) {
      if (read_failed(-res)) post();
      else rx_failed_ = true;  // the device is gone: stop reading it
      return;
    }
    ++stats_.rx_reads;
    rx_turn_ = true;
    const std::size_t hn = vnet_ ? sizeof rx_.vh : 0;
    if (static_cast<std::size_t>(res) > hn) {
      view page = std::move(*rx_.page);
      rx_.page.reset();
      take(std::move(page), rx_.vh, static_cast<std::size_t>(res) - hn, rx_.paged);
    }
    if (rx_busy_ && !read_ready()) {
      rx_failed_ = true;
      return;
    }
    post();
  }
  void written(tx_slot& s, int res) noexcept {
    for (std::size_t i = 0; i < s.held_count; ++i) s.held[i] = view{};
    s.held_count = 0;
    if (res >= 0) ++stats_.tx_writes;
    else if (res == -EAGAIN || res == -ENOBUFS) ++stats_.tx_would_block;
    else if (res != -ECANCELED) ++stats_.tx_errors;
    s.next_free = free_tx_;
    free_tx_ = &s;
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
  bool partial_tx_ = false;  // TCP's checksums are partial (completes_tcp_checksums())
  bool rx_offload_ = false;  // received frames may be merged or lack checksums
  std::unique_ptr<std::uint8_t[]> big_;
  std::array<std::optional<view>, tail_pages> tail_;  // where a merged frame read goes on past its first page
  bool flush_posted_ = false;
  bool loop_flushes_ = false;  // the clock flushes before each wait
  // The read Asio holds: its page and virtio header, and whether the last try found a frame waiting.
  static constexpr std::uint8_t no_frame = 0xff;
  static constexpr std::uint8_t zero_mac[6] = {};
  std::optional<view> next_;
  bool next_paged_ = false;
  std::uint8_t next_vh_[virtio_net_header_view::header_size] = {};
  bool burst_ = false;
  uring_loop* ring_ = nullptr;
  int ring_file_ = -1;  // the device's index in the ring's fixed files (-1: none)
  rx_slot rx_;  // the posted read
  bool rx_turn_ = false;  // this turn read a frame
  bool rx_busy_ = false;  // the last turn did (refill())
  std::unique_ptr<tx_slot[]> tx_;
  tx_slot* free_tx_ = nullptr;
  bool closing_ = false;    // close() is taking the ring's entries back
  bool rx_failed_ = false;  // a ring read failed: the device is gone
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
