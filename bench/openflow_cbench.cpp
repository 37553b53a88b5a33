// bench/openflow_cbench.cpp: cbench's measurement (cbench is not packaged):
// emulated OpenFlow 1.0 switches connect to a controller, each with its own
// MAC addresses behind its ports, and send it packet_ins; the flow_mods and
// packet_outs it answers with are counted. One thread, epoll, kernel sockets:
// it drives any controller, uni's or another.
//
//   throughput  every switch keeps its socket full of packet_ins (cbench -t)
//   latency     one packet_in outstanding per switch: the next goes when the
//               packet_out answering it has come (cbench's default mode)
//
// Each packet_in is a 60-byte IPv4 frame, unbuffered, from one of a switch's
// addresses to the next one, each address behind port 1 + i % 16. Before the
// count starts every address sends a broadcast once (cbench's learning phase),
// so a learning controller answers each packet_in with a flow_mod and a packet_out.
//
//   bench_openflow_cbench ADDR PORT [--mode throughput|latency] [--switches 16]
//                         [--macs 100] [--seconds 8] [--warmup 2]
// Prints one line: flow_mods/s packet_outs/s mean-latency-µs switches-ready.
// The messages are emitted and parsed with uni's OpenFlow library.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include <uni/openflow/message_buffer.hpp>
#include <uni/openflow/openflow.hpp>

namespace {

namespace of = uni::openflow;
using clock_type = std::chrono::steady_clock;
constexpr of::version v10 = of::version::of10;
constexpr std::uint32_t ports_per_switch = 16;

struct options {
  const char* address = nullptr;
  std::uint16_t port = 0;
  bool latency = false;
  std::size_t switches = 16, macs = 100;
  double seconds = 8, warmup = 2;
};

struct totals {
  std::uint64_t flow_mods = 0, packet_outs = 0, answered = 0;
  double latency_sum_us = 0;
};

// One emulated switch: its connection, what it has queued to write, its addresses.
struct emulated_switch {
  int fd = -1;
  std::uint64_t datapath_id = 0;
  bool ready = false;     // features_reply sent, learning packet_ins queued
  bool waiting = false;   // latency mode: a packet_in is outstanding
  clock_type::time_point sent_at{};
  std::size_t next = 0;  // the next address to send from
  std::vector<std::vector<std::uint8_t>> packet_ins;  // one per address, emitted once
  std::vector<std::uint8_t> out;                      // bytes not written yet
  std::size_t out_head = 0;
  std::unique_ptr<of::message_buffer> in = std::make_unique<of::message_buffer>();
};

// The frame address `i` of switch `n` sends: to address i + 1, or broadcast while learning.
std::vector<std::uint8_t> frame(std::size_t n, std::size_t i, std::size_t macs, bool learning) {
  auto mac = [&](std::size_t k) {
    return std::array<std::uint8_t, 6>{0, 0, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n),
                                       static_cast<std::uint8_t>(k >> 8), static_cast<std::uint8_t>(k)};
  };
  const auto src = mac(i), dst = mac((i + 1) % macs);
  std::vector<std::uint8_t> f(60);
  if (learning) std::memset(f.data(), 0xff, 6);
  else std::memcpy(f.data(), dst.data(), 6);
  std::memcpy(f.data() + 6, src.data(), 6);
  f[12] = 0x08;  // IPv4
  f[14] = 0x45;  // a header, enough for a controller that parses it
  f[16] = 0;
  f[17] = 46;
  f[22] = 64;
  f[23] = 17;
  return f;
}

template <class Emit>
void queue(emulated_switch& s, Emit emit) {
  std::array<std::uint8_t, 4096> b;
  auto n = emit(std::span<std::uint8_t>(b));
  if (!n) {
    std::fprintf(stderr, "cbench: a message did not emit\n");
    std::exit(1);
  }
  s.out.insert(s.out.end(), b.begin(), b.begin() + *n);
}

std::vector<std::uint8_t> packet_in_bytes(std::size_t n, std::size_t i, std::size_t macs, bool learning) {
  const auto f = frame(n, i, macs, learning);
  of::packet_in p;
  p.total_len = static_cast<std::uint16_t>(f.size());
  p.in_port = 1 + static_cast<std::uint32_t>(i % ports_per_switch);
  p.data = f;
  std::array<std::uint8_t, 256> b;
  auto len = p.emit(v10, 0, b);
  return {b.begin(), b.begin() + *len};
}

// Writes what the switch has queued; false if the connection failed.
bool flush(emulated_switch& s) {
  while (s.out_head < s.out.size()) {
    const ssize_t k = ::send(s.fd, s.out.data() + s.out_head, s.out.size() - s.out_head, MSG_NOSIGNAL);
    if (k < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    s.out_head += static_cast<std::size_t>(k);
  }
  s.out.clear();
  s.out_head = 0;
  return true;
}

void send_next(emulated_switch& s) {
  s.out.insert(s.out.end(), s.packet_ins[s.next].begin(), s.packet_ins[s.next].end());
  s.next = (s.next + 1) % s.packet_ins.size();
}

// Throughput mode: fills the socket, packet_ins in batches, until it takes no more.
bool fill(emulated_switch& s) {
  while (true) {
    if (!flush(s)) return false;
    if (!s.out.empty()) return true;  // the socket is full
    for (int k = 0; k < 64; ++k) send_next(s);
  }
}

void answer(emulated_switch& s, const of::message& m, const options& o, bool counting, totals& t) {
  const auto k = m.what();
  if (!k) return;
  const std::uint32_t xid = m.h.xid;
  switch (*k) {
    case of::kind::echo_request:
      queue(s, [&](auto b) { return of::emit_simple(v10, of::kind::echo_reply, xid, b, m.body()); });
      break;
    case of::kind::features_request: {
      of::features_reply f;
      f.datapath_id = s.datapath_id;
      f.n_buffers = 256;
      f.n_tables = 1;
      f.capabilities = of::capability::flow_stats | of::capability::table_stats | of::capability::port_stats;
      f.actions = 0xfff;
      f.n_ports = ports_per_switch;
      for (std::uint32_t p = 0; p < ports_per_switch; ++p) {
        of::port_desc& d = f.ports[p];
        d.port_no = p + 1;
        d.hw_addr = uni::mac_address{{2, 0, static_cast<std::uint8_t>(s.datapath_id >> 8),
                                      static_cast<std::uint8_t>(s.datapath_id), 0, static_cast<std::uint8_t>(p + 1)}};
        std::snprintf(d.name, sizeof d.name, "p%u", p + 1);
      }
      queue(s, [&](auto b) { return f.emit(v10, xid, b); });
      if (!s.ready) {  // the learning phase: every address seen once
        for (std::size_t i = 0; i < o.macs; ++i) {
          const auto b = packet_in_bytes(s.datapath_id - 1, i, o.macs, true);
          s.out.insert(s.out.end(), b.begin(), b.end());
        }
        s.ready = true;
      }
      break;
    }
    case of::kind::get_config_request: {
      const of::switch_config c{};
      queue(s, [&](auto b) { return c.emit(v10, of::kind::get_config_reply, xid, b); });
      break;
    }
    case of::kind::stats_request: {
      of::refusal why{};
      auto r = of::stats_request::parse(m, why);
      if (r && r->type == of::stats_type::desc) {
        of::desc_stats d;
        std::snprintf(d.mfr_desc, sizeof d.mfr_desc, "uni");
        std::snprintf(d.hw_desc, sizeof d.hw_desc, "cbench emulated switch");
        std::snprintf(d.sw_desc, sizeof d.sw_desc, "bench_openflow_cbench");
        queue(s, [&](auto b) { return of::emit_stats_reply<of::desc_stats>(v10, xid, 0, std::span(&d, 1), b); });
      }
      break;
    }
    case of::kind::barrier_request:
      queue(s, [&](auto b) { return of::emit_simple(v10, of::kind::barrier_reply, xid, b); });
      break;
    case of::kind::flow_mod:
      if (counting) ++t.flow_mods;
      break;
    case of::kind::packet_out:
      if (counting) {
        ++t.packet_outs;
        if (o.latency && s.waiting) {
          ++t.answered;
          t.latency_sum_us += std::chrono::duration<double, std::micro>(clock_type::now() - s.sent_at).count();
        }
      }
      s.waiting = false;
      break;
    default: break;  // hello, set_config, and what else a controller sends
  }
}

int connect_to(const options& o) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(o.port);
  if (fd < 0 || ::inet_pton(AF_INET, o.address, &a.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    std::perror("cbench: connect");
    std::exit(1);
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

options parse(int argc, char** argv) {
  options o;
  if (argc < 3) {
    std::fprintf(stderr,
                 "usage: %s ADDR PORT [--mode throughput|latency] [--switches N] [--macs N] [--seconds S] [--warmup S]\n",
                 argv[0]);
    std::exit(2);
  }
  o.address = argv[1];
  o.port = static_cast<std::uint16_t>(std::atoi(argv[2]));
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string_view f = argv[i];
    if (f == "--mode") o.latency = std::string_view(argv[i + 1]) == "latency";
    else if (f == "--switches") o.switches = static_cast<std::size_t>(std::atoi(argv[i + 1]));
    else if (f == "--macs") o.macs = static_cast<std::size_t>(std::atoi(argv[i + 1]));
    else if (f == "--seconds") o.seconds = std::atof(argv[i + 1]);
    else if (f == "--warmup") o.warmup = std::atof(argv[i + 1]);
    else {
      std::fprintf(stderr, "cbench: unknown flag %s\n", argv[i]);
      std::exit(2);
    }
  }
  if (o.switches == 0 || o.switches > 256 || o.macs == 0 || o.macs > 65535) {
    std::fprintf(stderr, "cbench: 1-256 switches, 1-65535 addresses each\n");
    std::exit(2);
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  const int ep = ::epoll_create1(0);
  std::vector<emulated_switch> sw(o.switches);
  for (std::size_t n = 0; n < sw.size(); ++n) {
    emulated_switch& s = sw[n];
    s.datapath_id = n + 1;
    s.fd = connect_to(o);
    for (std::size_t i = 0; i < o.macs; ++i) s.packet_ins.push_back(packet_in_bytes(n, i, o.macs, false));
    queue(s, [](auto b) { return of::emit_simple(v10, of::kind::hello, 0, b); });
    (void)flush(s);
    epoll_event e{};
    e.events = EPOLLIN | EPOLLOUT | EPOLLET;
    e.data.u64 = n;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &e);
  }

  totals t;
  const auto start = clock_type::now();
  const auto count_from = start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.warmup));
  const auto end = count_from + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.seconds));
  std::array<epoll_event, 64> events;
  std::array<std::uint8_t, 65536> chunk;
  while (true) {
    const auto now = clock_type::now();
    if (now >= end) break;
    const bool counting = now >= count_from;
    const auto until = counting ? end : count_from;  // latency mode's first packet_ins go at count_from
    const int timeout = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count()) + 1;
    const int ready = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), timeout);
    for (int k = 0; k < ready; ++k) {
      emulated_switch& s = sw[events[k].data.u64];
      bool ok = true;
      if (events[k].events & EPOLLIN)
        while (ok) {  // edge-triggered: read until the socket is empty
          const ssize_t r = ::recv(s.fd, chunk.data(), chunk.size(), 0);
          if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) ok = false;
          if (r <= 0) break;
          std::span<const std::uint8_t> left(chunk.data(), static_cast<std::size_t>(r));
          while (ok && !left.empty()) {
            left = left.subspan(s.in->append(left));
            while (true) {
              auto m = s.in->next();
              if (!m) {
                ok = m.err() == uni::error::truncated;
                break;
              }
              answer(s, *m, o, counting, t);
            }
            s.in->compact();
          }
        }
      if (ok && s.ready) {
        if (!o.latency) ok = fill(s);
        else if (!s.waiting && counting) {
          send_next(s);
          s.waiting = true;
          s.sent_at = clock_type::now();
        }
      }
      if (ok) ok = flush(s);
      if (!ok) {
        std::fprintf(stderr, "cbench: switch %zu: the controller closed the connection\n", events[k].data.u64 + 1);
        ::epoll_ctl(ep, EPOLL_CTL_DEL, s.fd, nullptr);
      }
    }
    // Latency mode starts once counting does: a switch whose socket is quiet gets its first packet_in here.
    if (o.latency && clock_type::now() >= count_from)
      for (emulated_switch& s : sw)
        if (s.ready && !s.waiting && s.out.empty()) {
          send_next(s);
          s.waiting = true;
          s.sent_at = clock_type::now();
          (void)flush(s);
        }
  }
  std::size_t ready = 0;
  for (const emulated_switch& s : sw) ready += s.ready;
  std::printf("%.0f %.0f %.1f %zu\n", static_cast<double>(t.flow_mods) / o.seconds,
              static_cast<double>(t.packet_outs) / o.seconds, t.answered ? t.latency_sum_us / static_cast<double>(t.answered) : 0.0,
              ready);
  return 0;
}
