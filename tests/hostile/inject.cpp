// tests/hostile/inject.cpp: the Linux side of the hostile-input campaign. Runs in
// the peer namespace of a TAP appliance (tests/integration/netns.sh) and writes
// crafted frames into the TAP device with a raw AF_PACKET socket, sniffing what the
// appliance sends back on the same socket. Built on its own headers and checksum
// code, not uni's: the oracle must not share the code it judges.
//
//   inject COMMON family NAME          one family of hostile frames; prints
//                                      "family NAME sent N answered A wrong W"
//   inject COMMON flood KIND           syn | udp | arp | frag, bounded by --count and --seconds
//   inject COMMON hold KIND            idle (TCP connections held open) | slowloris (HTTP heads, a byte a second)
//   inject COMMON probe                legitimate clients for --seconds: ping, and the services named
//
// COMMON: --if IFNAME --app-ip A --app-mac M [--tcp PORT] [--udp PORT] [--dns PORT] [--http PORT]
//         [--count N] [--seconds S] [--pps R] [--site FILE (the body GET / must return)]
// A "wrong" answer is any frame the appliance sends that is malformed (a bad
// checksum or length), or that answers a frame it must drop (those carry tags:
// ICMP id 0xBAD0, TCP/UDP source ports 20000-20999), or a service reply that
// differs from what the service must say. Exit status: 0, or 1 if anything was wrong.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using bytes = std::vector<std::uint8_t>;
using clk = std::chrono::steady_clock;

constexpr std::uint16_t tag_bad_icmp = 0xBAD0;  // echo requests that must not be answered
constexpr std::uint16_t tag_any_icmp = 0xA110;  // echo requests whose answer is optional (must be well formed)
constexpr std::uint16_t tag_ok_icmp = 0x600D;   // echo requests that must be answered with their data
constexpr std::uint16_t drop_ports_lo = 20000, drop_ports_hi = 20999;  // below Linux's ephemeral ports

// ---- options -------------------------------------------------------------------

struct options {
  std::string ifname = "tap0";
  std::uint32_t app_ip = 0, peer_ip = 0;  // network order
  std::uint8_t app_mac[6]{}, peer_mac[6]{};
  int tcp = 0, udp = 0, dns = 0, http = 0;
  long count = 1000;
  double seconds = 5;
  long pps = 20000;
  std::string site;
};

bool parse_mac(const char* s, std::uint8_t* m) {
  unsigned v[6];
  if (std::sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return false;
  for (int i = 0; i < 6; ++i) m[i] = static_cast<std::uint8_t>(v[i]);
  return true;
}

// ---- checksums and headers ---------------------------------------------------------

std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t s = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) s += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) s += static_cast<std::uint32_t>(p[n - 1] << 8);
  return s;
}
std::uint16_t fold(std::uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(~s & 0xffff);
}
void put16(std::uint8_t* p, std::uint16_t v) { p[0] = static_cast<std::uint8_t>(v >> 8), p[1] = static_cast<std::uint8_t>(v); }
void put32(std::uint8_t* p, std::uint32_t v) { put16(p, static_cast<std::uint16_t>(v >> 16)), put16(p + 2, static_cast<std::uint16_t>(v)); }
std::uint16_t get16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::uint32_t get32(const std::uint8_t* p) { return static_cast<std::uint32_t>(get16(p)) << 16 | get16(p + 2); }
std::uint32_t pseudo(std::uint32_t src, std::uint32_t dst, std::uint8_t proto, std::size_t len) {
  std::uint8_t ph[12];
  std::memcpy(ph, &src, 4), std::memcpy(ph + 4, &dst, 4);
  ph[8] = 0, ph[9] = proto;
  put16(ph + 10, static_cast<std::uint16_t>(len));
  return sum16(ph, 12);
}

struct context {
  options o;
  int raw = -1;
  std::mt19937 rng{12345};
  std::uint16_t ip_id = 1;

  bytes eth(std::uint16_t type, const std::uint8_t* dst = nullptr) const {
    bytes f(14);
    std::memcpy(f.data(), dst ? dst : o.app_mac, 6);
    std::memcpy(f.data() + 6, o.peer_mac, 6);
    put16(f.data() + 12, type);
    return f;
  }
  // An IPv4 frame; `options` is padded to 4 bytes; `frag` is the flags+offset field.
  bytes ipv4(std::uint8_t proto, const bytes& payload, const bytes& opts = {}, std::uint16_t frag = 0,
             std::uint32_t dst = 0, std::uint32_t src = 0) {
    bytes f = eth(0x0800);
    bytes ip(20 + (opts.size() + 3) / 4 * 4, 0);
    std::copy(opts.begin(), opts.end(), ip.begin() + 20);
    ip[0] = static_cast<std::uint8_t>(0x40 | ip.size() / 4);
    put16(&ip[2], static_cast<std::uint16_t>(ip.size() + payload.size()));
    put16(&ip[4], ip_id++);
    put16(&ip[6], frag);
    ip[8] = 64, ip[9] = proto;
    const std::uint32_t s = src ? src : o.peer_ip, d = dst ? dst : o.app_ip;
    std::memcpy(&ip[12], &s, 4), std::memcpy(&ip[16], &d, 4);
    put16(&ip[10], fold(sum16(ip.data(), ip.size())));
    f.insert(f.end(), ip.begin(), ip.end());
    f.insert(f.end(), payload.begin(), payload.end());
    return f;
  }
  // A zeroed header of `len` bytes followed by `data`, sized once: GCC 12 at -O3
  // warns (-Warray-bounds, a false positive) on the inlined memcpy of an insert()
  // that grows a small vector.
  static bytes header_then(std::size_t len, const bytes& data) {
    bytes b(len + data.size(), 0);
    std::copy(data.begin(), data.end(), b.begin() + static_cast<long>(len));
    return b;
  }
  static bytes icmp_echo(std::uint16_t id, std::uint16_t seq, const bytes& data) {
    bytes m = header_then(8, data);
    m[0] = 8;
    put16(&m[4], id), put16(&m[6], seq);
    put16(&m[2], fold(sum16(m.data(), m.size())));
    return m;
  }
  bytes udp(std::uint16_t sport, std::uint16_t dport, const bytes& data, std::uint32_t src = 0) const {
    bytes u = header_then(8, data);
    put16(&u[0], sport), put16(&u[2], dport), put16(&u[4], static_cast<std::uint16_t>(8 + data.size()));
    std::uint16_t c = fold(sum16(u.data(), u.size(), pseudo(src ? src : o.peer_ip, o.app_ip, 17, u.size())));
    put16(&u[6], c ? c : 0xffff);
    return u;
  }
  bytes tcp(std::uint16_t sport, std::uint16_t dport, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
            const bytes& opts = {}, const bytes& data = {}, std::uint32_t src = 0, std::uint16_t window = 65535) const {
    bytes t(20 + (opts.size() + 3) / 4 * 4, 0);
    std::copy(opts.begin(), opts.end(), t.begin() + 20);
    put16(&t[0], sport), put16(&t[2], dport), put32(&t[4], seq), put32(&t[8], ack);
    t[12] = static_cast<std::uint8_t>(t.size() / 4 << 4);
    t[13] = flags;
    put16(&t[14], window);
    t.insert(t.end(), data.begin(), data.end());
    put16(&t[16], fold(sum16(t.data(), t.size(), pseudo(src ? src : o.peer_ip, o.app_ip, 6, t.size()))));
    return t;
  }
  bytes random_bytes(std::size_t n) {
    bytes b(n);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return b;
  }

  long sent = 0;
  void send(const bytes& f) {
    if (::send(raw, f.data(), f.size(), 0) == static_cast<ssize_t>(f.size())) ++sent;
    else if (errno == ENOBUFS || errno == EAGAIN) {  // the TAP queue is full: let the appliance catch up
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (::send(raw, f.data(), f.size(), 0) == static_cast<ssize_t>(f.size())) ++sent;
    }
  }
};

// ---- the sniffer: judges every frame the appliance sends -------------------------------

struct verdicts {
  long frames = 0, answered = 0, wrong = 0;
  std::map<std::uint16_t, bytes> ok_replies;  // tag_ok echo replies: seq -> data
  std::vector<bytes> tcp_from_app;            // every TCP segment (IP packet) the appliance sent
  void bad(const char* why, const std::uint8_t* ip, std::size_t n) {
    ++wrong;
    std::printf("  wrong: %s (%zu bytes:", why, n);
    for (std::size_t i = 0; i < std::min<std::size_t>(n, 48); ++i) std::printf(" %02x", ip[i]);
    std::printf(")\n");
  }
};

// Judges one IPv4 packet from the appliance; `csum_ready` is false when the kernel
// has the transport checksum still to fill in (offload).
void judge_ip(const std::uint8_t* ip, std::size_t n, bool csum_ready, verdicts& v) {
  if (n < 20 || (ip[0] >> 4) != 4) return v.bad("not IPv4", ip, n);
  const std::size_t hl = (ip[0] & 15u) * 4u, total = get16(ip + 2);
  if (hl < 20 || hl > n || total < hl || total > n) return v.bad("bad IPv4 lengths", ip, n);
  if (fold(sum16(ip, hl)) != 0) return v.bad("bad IPv4 header checksum", ip, n);
  const std::uint8_t* l4 = ip + hl;
  const std::size_t ln = total - hl;
  std::uint32_t src, dst;
  std::memcpy(&src, ip + 12, 4), std::memcpy(&dst, ip + 16, 4);
  const bool fragment = (get16(ip + 6) & 0x3fff) != 0;
  if (fragment) return;
  if (ip[9] == 1) {
    if (ln < 8 || fold(sum16(l4, ln)) != 0) return v.bad("bad ICMP checksum or length", ip, n);
    if (l4[0] == 0) {
      const std::uint16_t id = get16(l4 + 4);
      if (id == tag_bad_icmp) return v.bad("answered an echo request it must drop", ip, n);
      if (id == tag_ok_icmp) v.ok_replies[get16(l4 + 6)] = bytes(l4 + 8, l4 + ln);
      if (id == tag_bad_icmp || id == tag_any_icmp || id == tag_ok_icmp) ++v.answered;
    } else if (l4[0] == 3 && ln >= 8 + 20 + 8) {  // an error quoting one of our frames
      const std::uint8_t* q = l4 + 8;
      const std::size_t qhl = (q[0] & 15u) * 4u;
      if (ln >= 8 + qhl + 4 && (q[9] == 17 || q[9] == 6)) {
        const std::uint16_t sport = get16(q + qhl);
        if (sport >= drop_ports_lo && sport <= drop_ports_hi) return v.bad("ICMP error about a frame it must drop", ip, n);
      }
      ++v.answered;
    }
  } else if (ip[9] == 17) {
    if (ln < 8 || get16(l4 + 4) != ln) return v.bad("bad UDP length", ip, n);
    if (csum_ready && get16(l4 + 6) != 0 && fold(sum16(l4, ln, pseudo(src, dst, 17, ln))) != 0)
      return v.bad("bad UDP checksum", ip, n);
    const std::uint16_t dport = get16(l4 + 2);
    if (dport >= drop_ports_lo && dport <= drop_ports_hi) return v.bad("UDP answer to a datagram it must drop", ip, n);
    ++v.answered;
  } else if (ip[9] == 6) {
    if (ln < 20 || (l4[12] >> 4) * 4u > ln) return v.bad("bad TCP header length", ip, n);
    if (csum_ready && fold(sum16(l4, ln, pseudo(src, dst, 6, ln))) != 0) return v.bad("bad TCP checksum", ip, n);
    const std::uint16_t dport = get16(l4 + 2);
    if (dport >= drop_ports_lo && dport <= drop_ports_hi) return v.bad("TCP answer to a segment it must drop", ip, n);
    v.tcp_from_app.emplace_back(ip, ip + total);
    ++v.answered;
  }
}

// Reads every frame waiting on the raw socket (for `ms` more milliseconds) and judges
// the appliance's.
void drain(context& c, verdicts& v, int ms) {
  const auto until = clk::now() + std::chrono::milliseconds(ms);
  std::uint8_t buf[70000];
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(tpacket_auxdata))];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clk::now()).count();
    pollfd p{c.raw, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::max<long>(left, 0))) <= 0) {
      if (left <= 0) return;
      continue;
    }
    sockaddr_ll from{};
    iovec iov{buf, sizeof buf};
    msghdr m{};
    m.msg_name = &from, m.msg_namelen = sizeof from, m.msg_iov = &iov, m.msg_iovlen = 1;
    m.msg_control = ctl, m.msg_controllen = sizeof ctl;
    const ssize_t n = ::recvmsg(c.raw, &m, MSG_DONTWAIT);
    if (n <= 0) continue;
    if (from.sll_pkttype == PACKET_OUTGOING) continue;  // ours (or Linux's)
    bool ready = true;
    for (cmsghdr* h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
      if (h->cmsg_level == SOL_PACKET && h->cmsg_type == PACKET_AUXDATA) {
        tpacket_auxdata aux;
        std::memcpy(&aux, CMSG_DATA(h), sizeof aux);
        ready = !(aux.tp_status & TP_STATUS_CSUMNOTREADY);
      }
    if (n < 14 || std::memcmp(buf + 6, c.o.app_mac, 6) != 0) continue;
    ++v.frames;
    if (get16(buf + 12) == 0x0800) judge_ip(buf + 14, static_cast<std::size_t>(n) - 14, ready, v);
  }
}

// ---- ordinary sockets (legitimate clients, DNS and HTTP families) ------------------------

int connect_to(const options& o, int port, int timeout_ms) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET, a.sin_port = htons(static_cast<std::uint16_t>(port)), a.sin_addr.s_addr = o.app_ip;
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 && errno != EINPROGRESS) return ::close(s), -1;
  pollfd p{s, POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof err;
  if (::poll(&p, 1, timeout_ms) != 1 || ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) return ::close(s), -1;
  return s;
}
bool send_all(int s, const std::string& d, int timeout_ms) {
  std::size_t off = 0;
  while (off < d.size()) {
    pollfd p{s, POLLOUT, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return false;
    const ssize_t n = ::send(s, d.data() + off, d.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}
// Reads until `want` bytes or EOF (want = 0) or the deadline; false on timeout.
bool recv_some(int s, std::string& out, std::size_t want, int timeout_ms) {
  const auto until = clk::now() + std::chrono::milliseconds(timeout_ms);
  char buf[65536];
  while (want == 0 || out.size() < want) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clk::now()).count();
    if (left <= 0) return false;
    pollfd p{s, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) != 1) return false;
    const ssize_t n = ::recv(s, buf, sizeof buf, 0);
    if (n < 0) return errno == ECONNRESET && want == 0;
    if (n == 0) return want == 0;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

// One DNS exchange over UDP: returns the response, or nothing on timeout.
std::optional<bytes> dns_udp(const options& o, const bytes& query, int timeout_ms) {
  int s = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET, a.sin_port = htons(static_cast<std::uint16_t>(o.dns)), a.sin_addr.s_addr = o.app_ip;
  ::sendto(s, query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  pollfd p{s, POLLIN, 0};
  std::optional<bytes> r;
  if (::poll(&p, 1, timeout_ms) == 1) {
    bytes b(65536);
    const ssize_t n = ::recv(s, b.data(), b.size(), 0);
    if (n >= 0) b.resize(static_cast<std::size_t>(n)), r = std::move(b);
  }
  ::close(s);
  return r;
}
bytes dns_query(std::uint16_t id, const std::string& name, std::uint16_t type) {
  bytes q(12);
  put16(&q[0], id), q[2] = 0x01, put16(&q[4], 1);
  std::size_t start = 0;
  while (start < name.size()) {
    const std::size_t dot = name.find('.', start);
    const std::string label = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    q.push_back(static_cast<std::uint8_t>(label.size()));
    q.insert(q.end(), label.begin(), label.end());
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  q.push_back(0);
  q.push_back(0), q.push_back(static_cast<std::uint8_t>(type)), q.push_back(0), q.push_back(1);
  return q;
}
// The two A records of www.example.com (examples/dns/example.zone) must be the answer.
bool dns_answer_right(const bytes& r, std::uint16_t id) {
  if (r.size() < 12 || get16(&r[0]) != id || (r[2] & 0x80) == 0 || (r[3] & 15) != 0 || get16(&r[6]) != 2) return false;
  std::vector<std::string> got;
  for (std::size_t i = 0; i + 4 <= r.size(); ++i)  // the two A rdatas, wherever the answers put them
    if (i >= 10 && get16(&r[i - 10]) == 1 && get16(&r[i - 2]) == 4 && r[i] == 192 && r[i + 1] == 0 && r[i + 2] == 2)
      got.push_back(std::to_string(r[i + 3]));
  return std::count(got.begin(), got.end(), "80") == 1 && std::count(got.begin(), got.end(), "81") == 1;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
// A legitimate client's outcome: answered right, not answered (refused, timed out), or answered wrongly.
enum verdict { answer_ok, answer_missing, answer_wrong };

// GET / must answer 200 with the site's index, byte for byte.
verdict http_get_right(const options& o, int timeout_ms) {
  int s = connect_to(o, o.http, timeout_ms);
  if (s < 0) return answer_missing;
  std::string resp;
  const bool sent = send_all(s, "GET / HTTP/1.1\r\nHost: hostile\r\nConnection: close\r\n\r\n", timeout_ms);
  const bool done = sent && recv_some(s, resp, 0, timeout_ms);
  ::close(s);
  if (!done || resp.empty()) return answer_missing;
  if (resp.compare(0, 12, "HTTP/1.1 200") != 0) return answer_wrong;
  const std::size_t body = resp.find("\r\n\r\n");
  static const std::string want = read_file(o.site);
  return body != std::string::npos && (o.site.empty() || resp.substr(body + 4) == want) ? answer_ok : answer_wrong;
}
verdict tcp_echo_right(const options& o, int timeout_ms, std::uint32_t n) {
  int s = connect_to(o, o.tcp, timeout_ms);
  if (s < 0) return answer_missing;
  const std::string msg = "legitimate " + std::to_string(n) + std::string(200, 'x');
  std::string got;
  const bool done = send_all(s, msg, timeout_ms) && recv_some(s, got, msg.size(), timeout_ms);
  ::close(s);
  if (got != msg.substr(0, std::min(got.size(), msg.size())) || got.size() > msg.size()) return answer_wrong;
  return done ? answer_ok : answer_missing;
}
verdict udp_echo_right(const options& o, int timeout_ms, std::uint32_t n) {
  int s = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET, a.sin_port = htons(static_cast<std::uint16_t>(o.udp)), a.sin_addr.s_addr = o.app_ip;
  const std::string msg = "datagram " + std::to_string(n);
  ::sendto(s, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  pollfd p{s, POLLIN, 0};
  char buf[2048];
  verdict v = answer_missing;
  if (::poll(&p, 1, timeout_ms) == 1) {
    const ssize_t r = ::recv(s, buf, sizeof buf, 0);
    if (r >= 0) v = r == static_cast<ssize_t>(msg.size()) && std::memcmp(buf, msg.data(), msg.size()) == 0 ? answer_ok : answer_wrong;
  }
  ::close(s);
  return v;
}
// One ping over a raw ICMP socket (its own id), answered with the same data.
verdict ping_right(const options& o, int timeout_ms, std::uint16_t seq) {
  static int s = ::socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  static const std::uint16_t id = static_cast<std::uint16_t>(::getpid());
  bytes data(56);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(seq + i);
  const bytes m = context::icmp_echo(id, seq, data);
  sockaddr_in a{};
  a.sin_family = AF_INET, a.sin_addr.s_addr = o.app_ip;
  ::sendto(s, m.data(), m.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  const auto until = clk::now() + std::chrono::milliseconds(timeout_ms);
  std::uint8_t buf[2048];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clk::now()).count();
    pollfd p{s, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) != 1) return answer_missing;
    const ssize_t n = ::recv(s, buf, sizeof buf, 0);
    if (n < 28) continue;
    const std::size_t hl = (buf[0] & 15u) * 4u;
    const std::uint8_t* icmp = buf + hl;
    std::uint32_t src;
    std::memcpy(&src, buf + 12, 4);
    if (src != o.app_ip || icmp[0] != 0 || get16(icmp + 4) != id || get16(icmp + 6) != seq) continue;
    return static_cast<std::size_t>(n) == hl + m.size() && std::equal(data.begin(), data.end(), icmp + 8) ? answer_ok
                                                                                                          : answer_wrong;
  }
}

// ---- families -------------------------------------------------------------------------

struct family_result {
  long extra_wrong = 0;  // wrong service answers found by the family itself
};

void fam_ethernet(context& c, family_result&) {
  for (std::size_t len = 0; len < 14; ++len) c.send(c.random_bytes(len));                    // shorter than a header
  for (std::uint16_t type : {0x86DD, 0x8100, 0x88B5, 0x0000, 0x05DC, 0xFFFF, 0x0806, 0x0800}) { // odd or empty payloads
    bytes f = c.eth(type);
    c.send(f);
    bytes g = f;
    auto junk = c.random_bytes(46 + c.rng() % 1400);
    g.insert(g.end(), junk.begin(), junk.end());
    c.send(g);
  }
  std::uint8_t other[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};  // a valid echo to someone else's MAC
  bytes f = c.eth(0x0800, other);
  bytes ip = c.ipv4(1, context::icmp_echo(tag_bad_icmp, 1, c.random_bytes(32)));
  f.insert(f.end(), ip.begin() + 14, ip.end());
  for (int i = 0; i < 20; ++i) c.send(f);
}

void fam_ipv4_header(context& c, family_result&) {
  const bytes echo = context::icmp_echo(tag_bad_icmp, 2, c.random_bytes(32));
  for (std::size_t len = 0; len < 20; ++len) {  // truncated headers
    bytes f = c.eth(0x0800);
    bytes ip = c.ipv4(1, echo);
    f.insert(f.end(), ip.begin() + 14, ip.begin() + 14 + static_cast<long>(len));
    c.send(f);
  }
  auto mutate = [&](auto change, bool fix_checksum) {
    bytes f = c.ipv4(1, echo);
    change(f.data() + 14, f);
    if (fix_checksum) {
      put16(f.data() + 24, 0);
      const std::size_t hl = std::min<std::size_t>((f[14] & 15u) * 4u, f.size() - 14);
      put16(f.data() + 24, fold(sum16(f.data() + 14, hl)));
    }
    c.send(f);
  };
  for (int v : {0, 5, 6, 15}) mutate([v](std::uint8_t* ip, bytes&) { ip[0] = static_cast<std::uint8_t>(v << 4 | 5); }, true);
  for (int ihl = 0; ihl < 5; ++ihl) mutate([ihl](std::uint8_t* ip, bytes&) { ip[0] = static_cast<std::uint8_t>(0x40 | ihl); }, true);
  mutate([](std::uint8_t* ip, bytes&) { ip[0] = 0x4f; }, true);                       // a 60-byte header swallowing the ICMP
  mutate([](std::uint8_t* ip, bytes& f) { ip[0] = 0x4f; f.resize(14 + 40); }, true);    // header past the frame's end
  for (std::uint16_t total : {0, 1, 19, 20, 27, 1500, 65535})                            // total length below the header or past the frame
    mutate([total](std::uint8_t* ip, bytes&) { put16(ip + 2, total); }, true);
  for (int i = 0; i < 10; ++i) mutate([i](std::uint8_t* ip, bytes&) { ip[10] ^= static_cast<std::uint8_t>(1 + i); }, false);  // bad checksum
  mutate([&c](std::uint8_t* ip, bytes&) {  // someone else's address
    std::uint32_t other = c.o.app_ip ^ htonl(0x40);
    std::memcpy(ip + 16, &other, 4);
  }, true);
  for (int proto : {2, 4, 41, 47, 50, 132, 255}) mutate([proto](std::uint8_t* ip, bytes&) { ip[9] = static_cast<std::uint8_t>(proto); }, true);
}

void fam_ip_options(context& c, family_result&) {
  const std::vector<bytes> opts = {
      {0x07, 0x00, 0x00, 0x00},                   // record route of length 0
      {0x07, 0x01, 0x00, 0x00},                   // length 1
      {0x07, 0xff, 0x04, 0x00},                   // length past the header
      {0x83, 0x02, 0x00, 0x00},                   // loose source route, no room
      {0x89, 0x27, 0x04},                         // strict source route claiming 39 bytes in an 8-byte area
      {0x44, 0x04, 0x00, 0x00},                   // timestamp with pointer 0
      {0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01}, // NOPs
      {0x00, 0xff, 0xff, 0xff},                   // end of list, then junk
      {0x94, 0x04, 0x00, 0x00},                   // router alert
      {0xff, 0x02, 0xde, 0xad, 0x7f, 0x28},       // unknown options
  };
  for (const auto& o : opts) c.send(c.ipv4(1, context::icmp_echo(tag_any_icmp, 3, c.random_bytes(32)), o));
  for (int i = 0; i < 40; ++i) {  // random option areas of every size
    bytes o = c.random_bytes(1 + c.rng() % 40);
    c.send(c.ipv4(1, context::icmp_echo(tag_any_icmp, 4, c.random_bytes(16)), o));
  }
}

void fam_icmp(context& c, family_result&) {
  for (int i = 0; i < 10; ++i) {  // bad checksums
    bytes m = context::icmp_echo(tag_bad_icmp, static_cast<std::uint16_t>(i), c.random_bytes(32));
    m[2] ^= static_cast<std::uint8_t>(1 + i);
    c.send(c.ipv4(1, m));
  }
  for (std::size_t len = 0; len < 8; ++len) {  // shorter than an ICMP header
    bytes m = context::icmp_echo(tag_bad_icmp, 9, {});
    m.resize(len);
    c.send(c.ipv4(1, m));
  }
  for (int type = 0; type < 256; ++type) {  // every type but echo, with a random body (checksum right)
    if (type == 8) continue;
    bytes m = c.random_bytes(8 + c.rng() % 64);
    m[0] = static_cast<std::uint8_t>(type);
    put16(&m[2], 0);
    put16(&m[4], tag_bad_icmp);
    put16(&m[2], fold(sum16(m.data(), m.size())));
    c.send(c.ipv4(1, m));
  }
  const std::uint32_t bcast = c.o.app_ip | htonl(0xff), all = 0xffffffff;
  for (std::uint32_t dst : {bcast, all}) {  // broadcast echo (RFC 1122 lets a host ignore it)
    bytes f = c.ipv4(1, context::icmp_echo(tag_bad_icmp, 10, c.random_bytes(16)), {}, 0, dst);
    std::memset(f.data(), 0xff, 6);
    c.send(f);
  }
  for (std::uint16_t seq = 0; seq < 5; ++seq)  // full-sized echoes: answered with their data
    c.send(c.ipv4(1, context::icmp_echo(tag_ok_icmp, seq, c.random_bytes(1472))));
}

void fam_udp(context& c, family_result&) {
  const auto port = static_cast<std::uint16_t>(c.o.udp ? c.o.udp : 7);
  std::uint16_t sport = drop_ports_lo;
  for (int i = 0; i < 10; ++i) {  // bad checksums
    bytes u = c.udp(sport++, port, c.random_bytes(20));
    u[6] ^= static_cast<std::uint8_t>(1 + i);
    c.send(c.ipv4(17, u));
  }
  for (std::uint16_t len : {0, 1, 7, 200, 65535}) {  // UDP length below its header or past the packet
    bytes u = c.udp(sport++, port, c.random_bytes(20));
    put16(&u[4], len);
    put16(&u[6], 0);  // no checksum: the length alone must decide
    c.send(c.ipv4(17, u));
  }
  for (std::size_t len = 0; len < 8; ++len) {  // shorter than a UDP header
    bytes u = c.udp(sport++, port, {});
    u.resize(len);
    c.send(c.ipv4(17, u));
  }
}

void fam_tcp_options(context& c, family_result&) {
  const auto port = static_cast<std::uint16_t>(c.o.tcp ? c.o.tcp : c.o.http ? c.o.http : c.o.dns ? c.o.dns : 7);
  std::uint16_t drop = drop_ports_lo, any = 21000;
  for (int i = 0; i < 5; ++i) {  // data offset below 5 or past the segment, and bad checksums
    bytes t = c.tcp(drop++, port, c.rng(), 0, 0x02);
    t[12] = static_cast<std::uint8_t>(i << 4);
    put16(&t[16], 0);
    put16(&t[16], fold(sum16(t.data(), t.size(), pseudo(c.o.peer_ip, c.o.app_ip, 6, t.size()))));
    c.send(c.ipv4(6, t));
    bytes u = c.tcp(drop++, port, c.rng(), 0, 0x02);
    u[12] = static_cast<std::uint8_t>((11 + i) << 4);
    put16(&u[16], 0);
    put16(&u[16], fold(sum16(u.data(), u.size(), pseudo(c.o.peer_ip, c.o.app_ip, 6, u.size()))));
    c.send(c.ipv4(6, u));
    bytes w = c.tcp(drop++, port, c.rng(), 0, 0x02);
    w[16] ^= static_cast<std::uint8_t>(1 + i);
    c.send(c.ipv4(6, w));
  }
  for (std::size_t len = 0; len < 20; ++len) {  // shorter than a TCP header
    bytes t = c.tcp(drop++, port, 1, 0, 0x02);
    t.resize(len);
    c.send(c.ipv4(6, t));
  }
  const std::vector<bytes> opts = {
      {0x02, 0x00, 0x05, 0xb4}, {0x02, 0x01, 0x05, 0xb4}, {0x02, 0x03, 0x05, 0xb4}, {0x02, 0xff, 0x05, 0xb4},
      {0x02, 0x04, 0x00, 0x00},  // MSS 0
      {0x03, 0x03, 0xc8, 0x00},  // window scale 200
      {0x03, 0x02, 0x07, 0x00}, {0x04, 0x05, 0x00, 0x00}, {0x08, 0x03, 0x00, 0x00},
      {0x08, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00},  // timestamps cut short by the header's end
      {0x05, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2},                    // SACK blocks on a SYN
      {0x63, 0x28}, {0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x00, 0x02, 0x04},
  };
  for (const auto& o : opts) c.send(c.ipv4(6, c.tcp(any++, port, c.rng(), 0, 0x02, o)));
  for (int i = 0; i < 40; ++i) c.send(c.ipv4(6, c.tcp(any++, port, c.rng(), 0, 0x02, c.random_bytes(1 + c.rng() % 40))));
  // Linux answers the appliance's SYN-ACKs to these with RSTs: the half-open connections go away.
}

// A fragment of an ICMP echo (id `tag`, IP id `id`): `offset` in bytes (multiple of 8).
bytes fragment(context& c, std::uint16_t id, const bytes& whole, std::size_t offset, std::size_t len, bool more) {
  bytes part(whole.begin() + static_cast<long>(offset), whole.begin() + static_cast<long>(std::min(whole.size(), offset + len)));
  c.ip_id = id;
  return c.ipv4(1, part, {}, static_cast<std::uint16_t>((more ? 0x2000 : 0) | offset / 8));
}

void fam_fragments(context& c, family_result&) {
  std::uint16_t id = 0x7000;
  // Overlaps with different contents (teardrop-style): RFC 5722 drops the datagram.
  for (int i = 0; i < 20; ++i) {
    const bytes a = context::icmp_echo(tag_bad_icmp, static_cast<std::uint16_t>(i), c.random_bytes(64));
    bytes b = a;
    for (std::size_t k = 24; k < b.size(); ++k) b[k] ^= 0x5a;
    c.send(fragment(c, id, a, 0, 32, true));
    c.send(fragment(c, id, b, 16, 32, true));
    c.send(fragment(c, id, a, 48, 64, false));
    ++id;
  }
  // Endless: first pieces that never complete, more datagrams than reassembly slots.
  for (int i = 0; i < 64; ++i, ++id)
    c.send(fragment(c, id, context::icmp_echo(tag_bad_icmp, 1, c.random_bytes(1400)), 0, 1024, true));
  // Bogus: a piece that would end past 65,535 bytes; an empty non-last piece; a last piece not at a multiple of 8 ...
  c.ip_id = id++;
  c.send(c.ipv4(1, c.random_bytes(64), {}, 0x2000 | 8189));
  c.ip_id = id++;
  c.send(c.ipv4(1, {}, {}, 0x2000 | 3));
  c.ip_id = id++;
  c.send(c.ipv4(1, c.random_bytes(13), {}, 0x2000 | 2));  // a middle piece of 13 bytes
  // Tiny: one datagram in 8-byte pieces (more than any sane fragment count).
  const bytes tiny = context::icmp_echo(tag_bad_icmp, 2, c.random_bytes(1600));
  for (std::size_t off = 0; off + 8 < tiny.size(); off += 8) c.send(fragment(c, id, tiny, off, 8, true));
  ++id;
  // The same first fragment over and over (duplicates).
  const bytes dup = context::icmp_echo(tag_bad_icmp, 3, c.random_bytes(200));
  for (int i = 0; i < 50; ++i) c.send(fragment(c, id, dup, 0, 64, true));
}

// The sequence numbers of the connection from `lport` to the appliance's port, as the
// last segments each way say: returns {app's SND.NXT, app's RCV.NXT, app's window}.
struct tcp_state {
  std::uint32_t app_next = 0, app_expects = 0;
  std::uint16_t window = 0;
  bool known = false;
};
tcp_state learn(const verdicts& v, std::uint16_t lport) {
  tcp_state s;
  for (const auto& ip : v.tcp_from_app) {
    const std::size_t hl = (ip[0] & 15u) * 4u;
    const std::uint8_t* t = ip.data() + hl;
    if (get16(t + 2) != lport) continue;
    const std::size_t len = ip.size() - hl - (t[12] >> 4) * 4u;
    s.app_next = get32(t + 4) + static_cast<std::uint32_t>(len) + ((t[13] & 0x03) ? 1 : 0);
    s.app_expects = get32(t + 8);
    s.window = get16(t + 14);
    s.known = true;
  }
  return s;
}

void fam_tcp_established(context& c, family_result& r, verdicts& v) {
  int s = connect_to(c.o, c.o.tcp, 2000);
  if (s < 0) {
    std::printf("  wrong: cannot connect to the echo port\n");
    ++r.extra_wrong;
    return;
  }
  sockaddr_in me{};
  socklen_t ml = sizeof me;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&me), &ml);
  const std::uint16_t lport = ntohs(me.sin_port), port = static_cast<std::uint16_t>(c.o.tcp);
  auto echo_ok = [&](const std::string& msg) {
    std::string got;
    return send_all(s, msg, 2000) && recv_some(s, got, msg.size(), 3000) && got == msg;
  };
  if (!echo_ok("before " + std::string(100, 'b'))) {
    std::printf("  wrong: the connection did not echo before the attack\n");
    ++r.extra_wrong;
  }
  drain(c, v, 200);
  const tcp_state st = learn(v, lport);
  if (!st.known) {
    std::printf("  (could not learn the connection's sequence numbers; skipped)\n");
    ::close(s);
    return;
  }
  const std::uint32_t rcv = st.app_expects, snd = st.app_next;
  const bytes marker = {'E', 'V', 'I', 'L', '!', 'E', 'V', 'I', 'L', '!'};
  for (int round = 0; round < 5; ++round) {
    // Data far outside the window: must not be taken (or echoed).
    for (std::uint32_t off : {0x40000000u, 0x80000000u, 0xC0000000u, 1u << 24})
      c.send(c.ipv4(6, c.tcp(lport, port, rcv + off, snd, 0x18, {}, marker)));
    // Data just before RCV.NXT (old): nothing new taken.
    c.send(c.ipv4(6, c.tcp(lport, port, rcv - 100, snd, 0x18, {}, marker)));
    // RST in the window but not at RCV.NXT: a challenge ACK (RFC 5961 §3), the connection lives.
    for (std::uint32_t off : {1u, 100u, 1000u}) c.send(c.ipv4(6, c.tcp(lport, port, rcv + off, 0, 0x04)));
    // RST outside the window: ignored.
    c.send(c.ipv4(6, c.tcp(lport, port, rcv + 0x20000000u, 0, 0x04)));
    c.send(c.ipv4(6, c.tcp(lport, port, rcv - 0x20000000u, 0, 0x14)));
    // SYN on an established connection: a challenge ACK (RFC 5961 §4).
    c.send(c.ipv4(6, c.tcp(lport, port, rcv + 7, 0, 0x02)));
    c.send(c.ipv4(6, c.tcp(lport, port, rcv, snd, 0x12)));
    // ACK of data never sent: dropped (RFC 5961 §5).
    c.send(c.ipv4(6, c.tcp(lport, port, rcv, snd + 0x10000000u, 0x10)));
    c.send(c.ipv4(6, c.tcp(lport, port, rcv, snd + 0x10000000u, 0x18, {}, marker)));
    // Zero window, then open again; URG and every flag at once with bad checksums.
    c.send(c.ipv4(6, c.tcp(lport, port, rcv, snd, 0x10, {}, {}, 0, 0)));
    c.send(c.ipv4(6, c.tcp(lport, port, rcv, snd, 0x10, {}, {}, 0, 65535)));
    bytes bad = c.tcp(lport, port, rcv, snd, 0xff, {}, marker);
    bad[16] ^= 0x55;
    c.send(c.ipv4(6, bad));
    // Bogus option lengths on an established connection.
    c.send(c.ipv4(6, c.tcp(lport, port, rcv, snd, 0x10, {0x08, 0x01, 0x00, 0x00})));
    c.send(c.ipv4(6, c.tcp(lport, port, rcv, snd, 0x10, {0x05, 0xff, 0x00, 0x00})));
    c.send(c.ipv4(6, c.tcp(lport, port, rcv, snd, 0x10, {0x05, 0x06, 0, 0, 0, 0, 0, 0})));
  }
  drain(c, v, 300);
  // Nothing of the marker may come back; the connection must still echo exactly.
  std::string stray;
  recv_some(s, stray, 1, 200);
  if (!stray.empty()) {
    std::printf("  wrong: %zu unexpected bytes on the connection after the attack\n", stray.size());
    ++r.extra_wrong;
  }
  if (!echo_ok("after " + std::string(1000, 'a'))) {
    std::printf("  wrong: the connection does not echo after the attack\n");
    ++r.extra_wrong;
  }
  ::close(s);
}

void fam_dns(context& c, family_result& r) {
  std::vector<bytes> qs;
  auto header = [](std::uint16_t id, std::uint16_t qd) {
    bytes q(12);
    put16(&q[0], id), q[2] = 0x01, put16(&q[4], qd);
    return q;
  };
  auto tail = [](bytes q) { q.insert(q.end(), {0, 1, 0, 1}); return q; };
  bytes q = header(1, 1);
  q.insert(q.end(), {0xc0, 12});  // a pointer to itself
  qs.push_back(tail(q));
  q = header(2, 1);
  q.insert(q.end(), {3, 'w', 'w', 'w', 0xc0, 12});  // a label, then a pointer back to it: a loop
  qs.push_back(tail(q));
  q = header(3, 1);
  q.insert(q.end(), {0xc0, 14, 0xc0, 12});  // two pointers to each other
  qs.push_back(tail(q));
  q = header(4, 1);
  q.insert(q.end(), {0xc0, 0xff});  // past the message
  qs.push_back(tail(q));
  q = header(5, 1);
  q.insert(q.end(), {0xc0, 0x00});  // into the header
  qs.push_back(tail(q));
  q = header(6, 1);
  q.push_back(64);  // a label longer than 63
  for (int i = 0; i < 64; ++i) q.push_back('a');
  q.push_back(0);
  qs.push_back(tail(q));
  q = header(7, 1);  // a name longer than 255 bytes
  for (int i = 0; i < 5; ++i) {
    q.push_back(63);
    for (int k = 0; k < 63; ++k) q.push_back('b');
  }
  q.push_back(0);
  qs.push_back(tail(q));
  q = header(8, 1);
  q.insert(q.end(), {0x40, 1, 'x', 0});  // extended label types 0x40 and 0x80
  qs.push_back(tail(q));
  q = header(9, 1);
  q.insert(q.end(), {0x80, 1, 'x', 0});
  qs.push_back(tail(q));
  qs.push_back(header(10, 65535));      // 65,535 questions announced, none there
  qs.push_back(bytes{0x12, 0x34, 0x01});  // shorter than a header
  qs.push_back(bytes{});
  q = dns_query(11, "www.example.com", 1);
  put16(&q[6], 0xffff), put16(&q[8], 0xffff), put16(&q[10], 0xffff);  // counts past the end
  qs.push_back(q);
  q = dns_query(12, "www.example.com", 1);  // an OPT record with a length past the end
  put16(&q[10], 1);
  q.insert(q.end(), {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 10});
  qs.push_back(q);
  q = dns_query(13, "www.example.com", 1);
  q[2] = 0x80;  // a response, not a query
  qs.push_back(q);
  for (int i = 0; i < 100; ++i) {  // random bytes after a plausible header
    bytes b = header(static_cast<std::uint16_t>(100 + i), static_cast<std::uint16_t>(1 + c.rng() % 3));
    auto junk = c.random_bytes(c.rng() % 300);
    b.insert(b.end(), junk.begin(), junk.end());
    qs.push_back(b);
  }
  int answered = 0;
  for (const auto& m : qs) {
    ++c.sent;
    auto resp = dns_udp(c.o, m, 100);
    if (!resp) continue;
    ++answered;
    const bytes& rb = *resp;
    // No malformed query may get a NOERROR answer with records.
    if (m.size() >= 2 && m != qs[12] && rb.size() >= 12 && (rb[3] & 15) == 0 && get16(&rb[6]) > 0 && m[2] != 0x80) {
      std::printf("  wrong: query id %u answered NOERROR with %u records\n", get16(m.data()), get16(&rb[6]));
      ++r.extra_wrong;
    }
    if (m.size() >= 2 && rb.size() >= 2 && get16(rb.data()) != get16(m.data())) {
      std::printf("  wrong: a response with another id (%u for %u)\n", get16(rb.data()), get16(m.data()));
      ++r.extra_wrong;
    }
  }
  // The same loops over TCP (length-prefixed), then the connection closes or answers.
  for (std::size_t i = 0; i < 10; ++i) {
    int s = connect_to(c.o, c.o.dns, 2000);
    if (s < 0) break;
    std::string msg(2, '\0');
    put16(reinterpret_cast<std::uint8_t*>(msg.data()), static_cast<std::uint16_t>(qs[i].size()));
    msg.append(qs[i].begin(), qs[i].end());
    ++c.sent;
    send_all(s, msg, 1000);
    std::string junk;
    recv_some(s, junk, 2, 300);
    ::close(s);
  }
  std::printf("  dns: %d of %zu hostile queries answered (FORMERR or similar)\n", answered, qs.size());
}

void fam_http(context& c, family_result& r) {
  std::vector<std::string> reqs = {
      "GET /" + std::string(100000, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n",                 // request line 100 KB
      "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(100000, 'b') + "\r\n\r\n",          // one header 100 KB
      "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
      "POST /api/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
      "POST /api/echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
      "POST /api/echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\nNoColonHere\r\n\r\n",
      "GET / HTTP/1.1\r\nHo\0st: h\r\n\r\n",
      "G\x01T / HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET / HTTP/9.9\r\nHost: h\r\n\r\n",
      "GET / HTTP/1.1\r\n Host: h\r\n\r\n",  // obsolete line folding at the start
      "GET /../../etc/passwd HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\nRange: bytes=99999999999999999999-\r\n\r\n",
  };
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 10000; ++i) many += "X-" + std::to_string(i) + ": y\r\n";
  reqs.push_back(many + "\r\n");
  reqs.push_back(std::string(70000, '\n'));  // blank lines forever
  for (const auto& q : reqs) {
    ++c.sent;
    int s = connect_to(c.o, c.o.http, 2000);
    if (s < 0) {
      std::printf("  wrong: cannot connect to HTTP\n");
      ++r.extra_wrong;
      continue;
    }
    send_all(s, q, 2000);
    ::shutdown(s, SHUT_WR);
    std::string resp;
    recv_some(s, resp, 0, 3000);
    ::close(s);
    const bool two = resp.compare(0, 10, "HTTP/1.1 2") == 0;
    const bool traversal = q.find("passwd") != std::string::npos;
    // Success is wrong for every one of these but the range past the end (416 or 200 are both fine) ...
    if (two && q.find("Range") == std::string::npos) {
      std::printf("  wrong: '%.40s...' answered %.12s\n", q.c_str(), resp.c_str());
      ++r.extra_wrong;
    }
    if (traversal && resp.find("root:") != std::string::npos) {
      std::printf("  wrong: path traversal served /etc/passwd\n");
      ++r.extra_wrong;
    }
  }
}

// ---- floods ---------------------------------------------------------------------------

// Sends what `make(i)` builds, at most --count frames, --pps per second, --seconds long.
template <class Make>
void paced(context& c, Make make) {
  const auto start = clk::now();
  const auto until = start + std::chrono::duration<double>(c.o.seconds);
  for (long i = 0; i < c.o.count && clk::now() < until; ++i) {
    c.send(make(i));
    if (c.o.pps > 0) {
      const auto due = start + std::chrono::duration<double>(static_cast<double>(i + 1) / static_cast<double>(c.o.pps));
      if (due > clk::now()) std::this_thread::sleep_until(due);
    }
  }
}

std::uint32_t spoofed(context& c) {  // an unused address of the appliance's /24 (.100 - .249)
  return (c.o.app_ip & htonl(0xffffff00)) | htonl(100 + c.rng() % 150);
}

void flood(context& c, const std::string& kind) {
  if (kind == "syn") {
    paced(c, [&](long) {
      const std::uint32_t src = spoofed(c);
      c.ip_id++;
      return c.ipv4(6, c.tcp(static_cast<std::uint16_t>(1024 + c.rng() % 60000), static_cast<std::uint16_t>(c.o.tcp),
                             c.rng(), 0, 0x02, {0x02, 0x04, 0x05, 0xb4}, {}, src), {}, 0, 0, src);
    });
  } else if (kind == "udp") {
    paced(c, [&](long) {
      std::uint16_t port = static_cast<std::uint16_t>(1 + c.rng() % 65535);
      if (port == c.o.udp || port == c.o.dns) port = 9;
      return c.ipv4(17, c.udp(static_cast<std::uint16_t>(1024 + c.rng() % 60000), port, c.random_bytes(64)));
    });
  } else if (kind == "arp") {
    paced(c, [&](long) {  // who-has the appliance, from ever-new neighbours
      std::uint8_t mac[6] = {0x02, 0x66, 0, 0, 0, 0};
      const std::uint32_t r = c.rng();
      std::memcpy(mac + 2, &r, 4);
      bytes f(14 + 28, 0);
      std::memset(f.data(), 0xff, 6);
      std::memcpy(f.data() + 6, mac, 6);
      put16(&f[12], 0x0806);
      std::uint8_t* a = f.data() + 14;
      put16(a, 1), put16(a + 2, 0x0800), a[4] = 6, a[5] = 4, put16(a + 6, 1);
      std::memcpy(a + 8, mac, 6);
      const std::uint32_t src = spoofed(c);
      std::memcpy(a + 14, &src, 4);
      std::memcpy(a + 24, &c.o.app_ip, 4);
      return f;
    });
  } else if (kind == "frag") {
    paced(c, [&](long i) {  // first pieces of datagrams that never complete
      const bytes whole = context::icmp_echo(tag_bad_icmp, static_cast<std::uint16_t>(i), c.random_bytes(1400));
      return fragment(c, static_cast<std::uint16_t>(c.rng()), whole, 0, 1200, true);
    });
  } else {
    std::fprintf(stderr, "inject: unknown flood %s\n", kind.c_str());
    std::exit(2);
  }
}

// Holds --count TCP connections for --seconds: "idle" says nothing, "slowloris" sends an
// HTTP head a byte a second. Prints how many opened and how many the appliance closed.
void hold(context& c, const std::string& kind) {
  const int port = kind == "slowloris" ? c.o.http : c.o.tcp;
  std::vector<int> socks;
  for (long i = 0; i < c.o.count; ++i) {
    int s = connect_to(c.o, port, 1000);
    if (s >= 0) socks.push_back(s);
  }
  const std::size_t opened = socks.size();
  std::printf("hold %s opened %zu of %ld\n", kind.c_str(), opened, c.o.count);
  std::fflush(stdout);
  const std::string head = "GET / HTTP/1.1\r\nHost: slow\r\nX-Slow: " + std::string(4096, 'z');
  const auto start = clk::now();
  std::size_t k = 0;
  while (clk::now() - start < std::chrono::duration<double>(c.o.seconds)) {
    if (kind == "slowloris")
      for (int s : socks) ::send(s, &head[k % head.size()], 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    ++k;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  std::size_t closed = 0;
  for (int s : socks) {
    char b[256];
    const ssize_t n = ::recv(s, b, sizeof b, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN)) ++closed;
    else if (n > 0 && kind == "slowloris") ++closed;  // an error status, then the close
    ::close(s);
  }
  std::printf("hold %s closed_by_appliance %zu of %zu\n", kind.c_str(), closed, opened);
}

// ---- legitimate clients ----------------------------------------------------------------

struct probe_stats {
  long ok = 0, missing = 0, wrong = 0;
  std::vector<double> ms;
};

void probe(context& c) {
  std::map<std::string, probe_stats> st;
  const auto start = clk::now();
  std::uint32_t n = 0;
  auto time = [&](const char* what, auto fn) {
    const auto t0 = clk::now();
    const verdict v = fn();
    auto& s = st[what];
    (v == answer_ok ? s.ok : v == answer_missing ? s.missing : s.wrong)++;
    if (v == answer_ok) s.ms.push_back(std::chrono::duration<double, std::milli>(clk::now() - t0).count());
  };
  do {
    ++n;
    time("ping", [&] { return ping_right(c.o, 1000, static_cast<std::uint16_t>(n)); });
    if (c.o.tcp) time("tcp-echo", [&] { return tcp_echo_right(c.o, 2000, n); });
    if (c.o.udp) time("udp-echo", [&] { return udp_echo_right(c.o, 1000, n); });
    if (c.o.dns) time("dns", [&] {
        const bytes q = dns_query(static_cast<std::uint16_t>(n), "www.example.com", 1);
        auto r = dns_udp(c.o, q, 1000);
        return !r ? answer_missing : dns_answer_right(*r, static_cast<std::uint16_t>(n)) ? answer_ok : answer_wrong;
      });
    if (c.o.http) time("http", [&] { return http_get_right(c.o, 3000); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (clk::now() - start < std::chrono::duration<double>(c.o.seconds));
  bool all = true;
  for (auto& [what, s] : st) {
    std::sort(s.ms.begin(), s.ms.end());
    auto pct = [&](double p) { return s.ms.empty() ? 0.0 : s.ms[std::min(s.ms.size() - 1, static_cast<std::size_t>(p * static_cast<double>(s.ms.size())))]; };
    std::printf("probe %s ok %ld missing %ld wrong %ld p50_ms %.2f p99_ms %.2f\n", what.c_str(), s.ok, s.missing,
                s.wrong, pct(0.5), pct(0.99));
    all = all && s.missing == 0 && s.wrong == 0;
  }
  std::exit(all ? 0 : 1);
}

}  // namespace

int main(int argc, char** argv) {
  context c;
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) std::exit((std::fprintf(stderr, "inject: %s needs a value\n", a.c_str()), 2));
      return argv[++i];
    };
    if (a == "--if") c.o.ifname = next();
    else if (a == "--app-ip") inet_pton(AF_INET, next(), &c.o.app_ip);
    else if (a == "--app-mac") { if (!parse_mac(next(), c.o.app_mac)) return 2; }
    else if (a == "--tcp") c.o.tcp = std::atoi(next());
    else if (a == "--udp") c.o.udp = std::atoi(next());
    else if (a == "--dns") c.o.dns = std::atoi(next());
    else if (a == "--http") c.o.http = std::atoi(next());
    else if (a == "--count") c.o.count = std::atol(next());
    else if (a == "--seconds") c.o.seconds = std::atof(next());
    else if (a == "--pps") c.o.pps = std::atol(next());
    else if (a == "--site") c.o.site = next();
    else words.push_back(a);
  }
  if (words.empty() || !c.o.app_ip) {
    std::fprintf(stderr, "usage: inject --if IF --app-ip A --app-mac M [...] family NAME | flood KIND | hold KIND | probe\n");
    return 2;
  }
  if (words[0] == "probe") probe(c);

  // The raw socket on the TAP device, and our own address and MAC there.
  c.raw = ::socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (c.raw < 0) return (std::perror("inject: AF_PACKET socket (root?)"), 1);
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", c.o.ifname.c_str());
  if (::ioctl(c.raw, SIOCGIFINDEX, &ifr) < 0) return (std::perror("inject: no such interface"), 1);
  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET, ll.sll_protocol = htons(ETH_P_ALL), ll.sll_ifindex = ifr.ifr_ifindex;
  if (::bind(c.raw, reinterpret_cast<sockaddr*>(&ll), sizeof ll) < 0) return (std::perror("inject: bind"), 1);
  int one = 1;
  ::setsockopt(c.raw, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one);
  ::ioctl(c.raw, SIOCGIFHWADDR, &ifr);
  std::memcpy(c.o.peer_mac, ifr.ifr_hwaddr.sa_data, 6);
  ifr.ifr_addr.sa_family = AF_INET;
  if (::ioctl(c.raw, SIOCGIFADDR, &ifr) < 0) return (std::perror("inject: the interface has no IPv4 address"), 1);
  c.o.peer_ip = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr)->sin_addr.s_addr;

  if (words[0] == "flood" && words.size() == 2) {
    const auto t0 = clk::now();
    flood(c, words[1]);
    std::printf("flood %s sent %ld in %.2f s\n", words[1].c_str(), c.sent,
                std::chrono::duration<double>(clk::now() - t0).count());
    return 0;
  }
  if (words[0] == "hold" && words.size() == 2) return hold(c, words[1]), 0;
  if (words[0] != "family" || words.size() != 2) return 2;

  verdicts v;
  family_result r;
  drain(c, v, 50);  // whatever was in flight before
  v = verdicts{};
  const std::string& name = words[1];
  if (name == "ethernet") fam_ethernet(c, r);
  else if (name == "ipv4-header") fam_ipv4_header(c, r);
  else if (name == "ip-options") fam_ip_options(c, r);
  else if (name == "icmp") fam_icmp(c, r);
  else if (name == "udp") fam_udp(c, r);
  else if (name == "tcp-options") fam_tcp_options(c, r);
  else if (name == "fragments") fam_fragments(c, r);
  else if (name == "tcp-established") fam_tcp_established(c, r, v);
  else if (name == "dns") fam_dns(c, r);
  else if (name == "http") fam_http(c, r);
  else return (std::fprintf(stderr, "inject: unknown family %s\n", name.c_str()), 2);
  drain(c, v, 500);
  if (name == "icmp")  // the full-sized echoes: each answered, with its own data
    for (auto& [seq, data] : v.ok_replies)
      if (data.size() != 1472) v.bad("a full-sized echo answered with other data", data.data(), data.size());
  const long wrong = v.wrong + r.extra_wrong;
  std::printf("family %s sent %ld answered %ld wrong %ld\n", name.c_str(), c.sent, v.answered, wrong);
  return wrong == 0 ? 0 : 1;
}
