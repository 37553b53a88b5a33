// uni/posix/tap_netif.hpp: TapNetif, the Netif policy over a Linux TAP device.
//
// Frames are read from /dev/net/tun (IFF_TAP | IFF_NO_PI) straight into pages of
// the pool, without blocking the loop: Asio reports the descriptor readable and
// a batch of frames is read. A frame given as fragments is written with one
// writev, so headers and payload are never joined by a copy.
#pragma once

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include <uni/concepts.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/log.hpp>
#include <uni/core/random.hpp>
#include <uni/posix/pcap.hpp>

namespace uni::posix {

class TapNetif {
 public:
  static constexpr std::size_t max_fragments = 16;
  static constexpr std::size_t read_batch = 64;  // frames per readiness event

  struct stats {
    std::uint64_t rx_frames = 0;
    std::uint64_t tx_frames = 0;
    std::uint64_t rx_no_buffers = 0;  // frames dropped: the pool was empty
    std::uint64_t tx_would_block = 0; // frames dropped: the device queue was full
    std::uint64_t tx_errors = 0;
    std::uint64_t tx_oversize = 0;
    std::uint64_t rx_errors = 0;      // the device failed; reception stopped
  };

  // `mac` is the appliance's own address (the TAP device's is the kernel's side).
  TapNetif(boost::asio::io_context& io, page_pool& pool, mac_address mac, std::size_t mtu = 1500) noexcept
      : pool_(pool), fd_(io), mac_(mac), mtu_(mtu) {}
  TapNetif(const TapNetif&) = delete;
  TapNetif& operator=(const TapNetif&) = delete;
  ~TapNetif() { close(); }

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
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
    if (::ioctl(fd, TUNSETIFF, &ifr) < 0) {
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
    std::array<iovec, max_fragments> iov;
    std::size_t total = 0;
    for (std::size_t i = 0; i < frags.size(); ++i) {
      iov[i] = iovec{frags[i].data(), frags[i].size()};
      total += frags[i].size();
    }
    if (total > mtu_ + 14) {
      ++stats_.tx_oversize;
      return fail(error::too_large);
    }
    const ssize_t n = ::writev(fd_.native_handle(), iov.data(), static_cast<int>(frags.size()));
    if (n < 0) {
      if (errno == EAGAIN || errno == ENOBUFS) {
        ++stats_.tx_would_block;
        return fail(error::would_block);
      }
      ++stats_.tx_errors;
      return fail(error::io);
    }
    ++stats_.tx_frames;
    if (pcap_) pcap_->record(frags, std::chrono::system_clock::now());
    return {};
  }

 private:
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
      auto page = pool_.allocate();
      if (!page) {
        // Drain the frame anyway, or the device would stay readable forever.
        std::uint8_t scratch[page_size];
        if (::read(fd_.native_handle(), scratch, sizeof scratch) < 0) return read_failed(errno);
        ++stats_.rx_no_buffers;
        continue;
      }
      const ssize_t n = ::read(fd_.native_handle(), page->data(), page_size);
      if (n <= 0) return n == 0 || read_failed(errno);
      view frame = page->head(static_cast<std::size_t>(n));
      ++stats_.rx_frames;
      if (pcap_) pcap_->record(frame, std::chrono::system_clock::now());
      if (receiver_) receiver_(std::move(frame));
    }
    return true;
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
};

static_assert(Netif<TapNetif>);

// A locally administered unicast MAC, random per process unless seeded.
inline mac_address random_local_mac(std::uint64_t seed) noexcept {
  random_generator rng(seed);
  mac_address m;
  for (auto& b : m.bytes) b = static_cast<std::uint8_t>(rng());
  m.bytes[0] = static_cast<std::uint8_t>((m.bytes[0] & 0xfe) | 0x02);
  return m;
}

}  // namespace uni::posix
