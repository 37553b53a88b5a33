// uni/posix/pcap.hpp: records frames to a pcap file (the classic libpcap format,
// LINKTYPE_ETHERNET) that tcpdump and Wireshark read. Enabled on any POSIX run by
// the UNI_PCAP environment variable (a file name) or the appliances' --pcap flag.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include <uni/core/buffer.hpp>
#include <uni/core/log.hpp>
#include <uni/core/time.hpp>

namespace uni::posix {

class pcap_writer {
 public:
  static constexpr std::uint32_t snaplen = 65535;

  pcap_writer() = default;
  explicit pcap_writer(const std::string& path) { open(path); }
  pcap_writer(const pcap_writer&) = delete;
  pcap_writer& operator=(const pcap_writer&) = delete;
  ~pcap_writer() { close(); }

  bool open(const std::string& path) {
    close();
    f_ = std::fopen(path.c_str(), "wb");
    if (!f_) {
      log_error("pcap: cannot open ", path.c_str());
      return false;
    }
    // Global header: magic, version 2.4, GMT offset, accuracy, snaplen, Ethernet.
    const std::uint32_t magic = 0xa1b2c3d4;
    const std::uint16_t major = 2, minor = 4;
    const std::int32_t zone = 0;
    const std::uint32_t sigfigs = 0, linktype = 1;
    write(&magic, 4);
    write(&major, 2);
    write(&minor, 2);
    write(&zone, 4);
    write(&sigfigs, 4);
    write(&snaplen, 4);
    write(&linktype, 4);
    std::fflush(f_);
    return true;
  }
  void close() {
    if (f_) std::fclose(f_);
    f_ = nullptr;
  }
  bool is_open() const noexcept { return f_ != nullptr; }

  // Records one frame given as fragments; `wall` is the wall-clock time.
  void record(std::span<const view> frags, std::chrono::system_clock::time_point wall) {
    if (!f_) return;
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(wall.time_since_epoch()).count();
    const std::uint32_t sec = static_cast<std::uint32_t>(us / 1'000'000);
    const std::uint32_t usec = static_cast<std::uint32_t>(us % 1'000'000);
    const std::uint32_t len = static_cast<std::uint32_t>(total_size(frags));
    const std::uint32_t caplen = len < snaplen ? len : snaplen;
    write(&sec, 4);
    write(&usec, 4);
    write(&caplen, 4);
    write(&len, 4);
    std::uint32_t left = caplen;
    for (const view& v : frags) {
      const std::uint32_t n = v.size() < left ? static_cast<std::uint32_t>(v.size()) : left;
      write(v.data(), n);
      left -= n;
    }
    std::fflush(f_);  // a killed appliance still leaves a readable capture
    ++frames_;
  }
  void record(const view& frame, std::chrono::system_clock::time_point wall) {
    record(std::span<const view>(&frame, 1), wall);
  }
  std::uint64_t frames() const noexcept { return frames_; }

 private:
  void write(const void* p, std::size_t n) { std::fwrite(p, 1, n, f_); }  // host order: the magic tells readers
  std::FILE* f_ = nullptr;
  std::uint64_t frames_ = 0;
};

}  // namespace uni::posix
