// uni/dns/stub.hpp: a stub resolver (RFC 1034 §5.3.1, RFC 1123 §6.1.3.1):
// asks one configured server for the A or AAAA records of a name, over UDP with
// retries and a timeout per attempt, and again over TCP when the answer comes
// back truncated (RFC 7766 §5). CNAMEs in the answer are followed to the
// addresses (RFC 1034 §3.6.2).
//
// The message work is sans-IO (make_stub_query, read_stub_answer); resolve()
// is the thin part that sends and waits, over any stack with the UDP API (and
// TCP where the stack has it). An answer is accepted only from the server
// asked, with our ID and our question (RFC 5452 §9.1).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <uni/core/buffer.hpp>
#include <uni/core/result.hpp>
#include <uni/core/task.hpp>
#include <uni/core/time.hpp>
#include <uni/core/wire.hpp>
#include <uni/dns/message.hpp>
#include <uni/dns/name.hpp>
#include <uni/dns/rdata.hpp>
#include <uni/dns/service.hpp>
#include <uni/net/transport.hpp>
#include <uni/net/endpoint.hpp>

namespace uni::dns {

struct stub_options {
  duration timeout = std::chrono::seconds(2);  // per attempt
  int attempts = 3;                            // over UDP, before giving up
  std::uint16_t edns_payload = 1232;           // 0: no EDNS (answers above 512 bytes truncate)
  bool tcp_fallback = true;
};

// The addresses found, or why there are none: rc NXDOMAIN, or NOERROR with
// none (NODATA). A and AAAA addresses are kept as their wire bytes.
struct stub_answer {
  static constexpr std::size_t max_addresses = 16;
  rcode rc = rcode::noerror;
  std::uint16_t type = rr_type::a;
  std::array<std::array<std::uint8_t, 16>, max_addresses> addresses{};
  std::size_t count = 0;
  std::uint32_t ttl = 0;  // the smallest TTL of the chain and the addresses
  name canonical;         // the name the addresses belong to (after CNAMEs)

  ipv4_address ipv4(std::size_t i) const noexcept {
    return ipv4_address{wire::load_be32(addresses[i].data())};
  }
};

// Writes a query (RD set: the server may be a recursive one) into `out`.
inline result<std::size_t> make_stub_query(std::span<std::uint8_t> out, std::uint16_t id, const name& qname,
                                           std::uint16_t qtype, std::uint16_t edns_payload) noexcept {
  message_writer w(out);
  header h;
  h.id = id;
  h.flags = header::rd;
  h.qdcount = 1;
  h.arcount = edns_payload ? 1 : 0;
  if (!w.header(h) || !w.write_name(qname.wire(), false) || !w.u16(qtype) || !w.u16(rr_class::in))
    return fail(error::too_large);
  if (edns_payload) {
    const std::uint8_t opt[11] = {0, 0, 41, static_cast<std::uint8_t>(edns_payload >> 8),
                                  static_cast<std::uint8_t>(edns_payload), 0, 0, 0, 0, 0, 0};
    if (!w.bytes(opt)) return fail(error::too_large);
  }
  return w.size();
}

// Reads the answer to our query: error::truncated (TC set: ask over TCP),
// error::malformed (not an answer to our question, or broken), error::refused
// (SERVFAIL, REFUSED, NOTIMP, FORMERR from the server).
inline result<stub_answer> read_stub_answer(std::span<const std::uint8_t> msg, std::uint16_t id, const name& qname,
                                            std::uint16_t qtype) noexcept {
  message_reader r(msg);
  auto h = r.read_header();
  if (!h) return fail(error::malformed);
  if (!h->is_response() || h->id != id || h->qdcount != 1) return fail(error::malformed);
  auto q = r.read_question();
  if (!q || !(q->qname == qname) || q->qtype != qtype || q->qclass != rr_class::in) return fail(error::malformed);
  if (h->flags & header::tc) return fail(error::truncated);
  stub_answer a;
  a.type = qtype;
  a.canonical = qname;
  const auto rc = static_cast<rcode>(h->rcode_bits());
  if (rc != rcode::noerror && rc != rcode::nxdomain) return fail(error::refused);
  a.rc = rc;
  // The answer section once, the chain followed within it (it is in order in
  // practice, but need not be: passes until nothing changes).
  a.ttl = 0xFFFFFFFF;
  for (int pass = 0; pass < 16; ++pass) {
    message_reader again(msg);
    (void)again.read_header();
    (void)again.read_question();
    bool moved = false;
    a.count = 0;
    for (std::uint16_t i = 0; i < h->ancount; ++i) {
      auto rr = again.read_record();
      if (!rr) return fail(error::malformed);
      if (rr->rclass != rr_class::in || !(rr->owner == a.canonical)) continue;
      if (rr->type == rr_type::cname) {
        std::uint8_t buf[max_name_length];
        auto n = expand_rdata(msg, *rr, buf);
        if (!n) return fail(error::malformed);
        auto target = name::from_wire(std::span<const std::uint8_t>(buf, *n));
        if (!target) return fail(error::malformed);
        a.canonical = *target;
        a.ttl = std::min(a.ttl, rr->ttl);
        moved = true;
        break;
      }
      if (rr->type != qtype) continue;
      const std::size_t size = qtype == rr_type::a ? 4 : 16;
      if (rr->rdata_length != size) return fail(error::malformed);
      if (a.count < stub_answer::max_addresses) {
        std::memcpy(a.addresses[a.count++].data(), msg.data() + rr->rdata_offset, size);
        a.ttl = std::min(a.ttl, rr->ttl);
      }
    }
    if (!moved) break;
  }
  if (a.count == 0 && a.ttl == 0xFFFFFFFF) a.ttl = 0;
  return a;
}

namespace stub_detail {
// A query ID and a source port that are hard to guess (RFC 5452 §9.2), from the clock.
inline std::uint32_t mix(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return static_cast<std::uint32_t>(x);
}
}  // namespace stub_detail

// Resolves `qname` (type A or AAAA) through `server`.
template <UdpTransport Stack>
task<result<stub_answer>> resolve(Stack& stack, endpoint server, name qname, std::uint16_t qtype,
                                  stub_options o = {}) {
  const std::uint32_t seed = stub_detail::mix(static_cast<std::uint64_t>(stack.sched().now().time_since_epoch().count()));
  const auto id = static_cast<std::uint16_t>(seed);
  std::array<std::uint8_t, 512> query{};
  auto qlen = make_stub_query(query, id, qname, qtype, o.edns_payload);
  if (!qlen) co_return fail(qlen.err());
  bool truncated = false;
  {
    // A random high port; another one if it is taken.
    auto sock = stack.udp_bind(static_cast<std::uint16_t>(49152 + (seed >> 16) % 16384));
    for (std::uint32_t k = 1; !sock && k < 8; ++k) sock = stack.udp_bind(static_cast<std::uint16_t>(49152 + (seed + k * 7919) % 16384));
    if (!sock) co_return fail(sock.err());
    for (int attempt = 0; attempt < o.attempts && !truncated; ++attempt) {
      auto page = stack.pool().allocate();
      if (!page) co_return fail(error::no_buffers);
      std::memcpy(page->data(), query.data(), *qlen);
      page->truncate(*qlen);
      if (auto sent = co_await sock->send_to(server, *page); !sent) co_return fail(sent.err());
      const auto deadline = stack.sched().now() + o.timeout;
      while (true) {
        const auto left = deadline - stack.sched().now();
        if (left <= duration::zero()) break;
        auto d = co_await with_timeout(stack.sched(), left, sock->receive());
        if (!d) {
          if (d.err() == error::timed_out) break;
          co_return fail(d.err());
        }
        if (!(d->source == server)) continue;  // not from the server asked: ignored
        std::array<std::uint8_t, page_size> buf;
        const std::size_t n = d->payload.copy_to(buf);
        auto a = read_stub_answer(std::span<const std::uint8_t>(buf.data(), n), id, qname, qtype);
        if (a) co_return a;
        if (a.err() == error::truncated) {
          truncated = true;
          break;
        }
        if (a.err() == error::refused) co_return fail(error::refused);
        // Malformed, or another query's answer: keep waiting for ours.
      }
    }
  }
  if (!truncated) co_return fail(error::timed_out);
  if constexpr (TcpTransport<Stack>) {
    if (!o.tcp_fallback) co_return fail(error::truncated);
    // RFC 7766 §5: the same question over TCP, with a two-byte length.
    auto c = co_await stack.tcp_connect(server, o.timeout);
    if (!c) co_return fail(c.err());
    auto page = stack.pool().allocate();
    if (!page) co_return fail(error::no_buffers);
    wire::store_be16(page->data(), static_cast<std::uint16_t>(*qlen));
    std::memcpy(page->data() + 2, query.data(), *qlen);
    page->truncate(*qlen + 2);
    if (auto w = co_await c->write(*page); !w) co_return fail(w.err());
    std::vector<std::uint8_t> in;
    const auto deadline = stack.sched().now() + o.timeout;
    while (in.size() < 2 || in.size() < 2u + wire::load_be16(in.data())) {
      const auto left = deadline - stack.sched().now();
      if (left <= duration::zero()) co_return fail(error::timed_out);
      auto d = co_await with_timeout(stack.sched(), left, c->read());
      if (!d) co_return fail(d.err());
      if (d->empty()) co_return fail(error::closed);
      in.insert(in.end(), d->data(), d->data() + d->size());
    }
    c->close();
    auto a = read_stub_answer(std::span<const std::uint8_t>(in.data() + 2, wire::load_be16(in.data())), id, qname,
                              qtype);
    co_return a;
  } else {
    co_return fail(error::truncated);
  }
}

}  // namespace uni::dns
