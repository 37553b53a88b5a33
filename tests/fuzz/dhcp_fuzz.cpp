// tests/fuzz/dhcp_fuzz.cpp: libFuzzer target for the DHCP wire format and client
// (uni/net/dhcp_message.hpp, uni/net/dhcp_client.hpp).
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I include \
//       tests/fuzz/dhcp_fuzz.cpp -o dhcp_fuzz && ./dhcp_fuzz -max_total_time=30
//
// For each input:
//   1. dhcp_message::parse must not read out of bounds; when it succeeds, emit() must fit
//      in max_emit_size and parse back to the same value;
//   2. a dhcp_client is driven with valid server messages into SELECTING, REQUESTING,
//      BOUND, RENEWING and REBINDING, then given the input twice: as it is, and with the
//      fixed fields the client checks first (op, htype, hlen, xid, chaddr, magic cookie)
//      patched to match, so the fuzzer spends its time in the options and the state
//      machine rather than in the xid check. After every step the client's invariants
//      must hold and everything it sends must be a well-formed BOOTREQUEST.
// A broken invariant traps, which libFuzzer reports as a crash with the input.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <uni/net/dhcp_client.hpp>
#include <uni/net/dhcp_message.hpp>

namespace {

using namespace uni;

const mac_address client_mac{{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}};
const ipv4_address server = ipv4_address::from_octets(192, 168, 1, 1);
const ipv4_address offered = ipv4_address::from_octets(192, 168, 1, 57);

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void check_wire_format(const std::uint8_t* data, std::size_t size) {
  auto m = dhcp_message::parse({data, size});
  if (!m) {
    check(m.err() == error::truncated || m.err() == error::malformed);
    return;
  }
  check(size >= dhcp_message::min_size);
  const std::size_t n = m->emit_size();
  check(n >= dhcp_message::bootp_min_size && n <= dhcp_message::max_emit_size);
  std::array<std::uint8_t, dhcp_message::max_emit_size> out{};
  check(m->emit(out) == n);
  auto back = dhcp_message::parse({out.data(), n});
  check(back.ok());
  check(*back == *m);
}

// A server reply for the client's current transaction.
void reply(dhcp_client& c, dhcp_message_type type, time_point now) {
  dhcp_message m;
  m.op = dhcp_op::boot_reply;
  m.xid = c.xid();
  m.flags = dhcp_message::broadcast_flag;
  m.yiaddr = offered;
  m.chaddr = client_mac;
  m.message_type = type;
  m.server_identifier = server;
  m.lease_seconds = 3600;
  m.subnet_mask = ipv4_address{0xffffff00u};
  m.router = ipv4_address::from_octets(192, 168, 1, 254);
  m.dns[0] = server;
  m.dns_count = 1;
  std::array<std::uint8_t, dhcp_message::max_emit_size> out{};
  const std::size_t n = m.emit(out);
  c.on_message({out.data(), n}, now);
}

void check_client(dhcp_client& c, time_point now) {
  const dhcp_state s = c.state();
  const auto l = c.lease();
  const bool holds = s == dhcp_state::bound || s == dhcp_state::renewing || s == dhcp_state::rebinding;
  check(l.has_value() == holds);
  if (l) {
    check(l->t1 <= l->t2 && l->t2 <= l->lease_time);
    check(l->address.prefix <= 32 && l->dns_count <= 3);
    check(!l->address.address.is_any() && !l->server.is_any());
  }
  // Every state but BOUND (whose T1 may be infinite) and INIT has something to time.
  if (s != dhcp_state::bound && s != dhcp_state::init) check(c.next_deadline() != time_never);
  if (s == dhcp_state::bound) check(c.next_deadline() == l->renew_at());
  (void)now;

  if (auto o = c.take_outgoing()) {
    check(o->size >= dhcp_message::bootp_min_size && o->size <= dhcp_message::max_emit_size);
    auto m = dhcp_message::parse(o->payload());
    check(m.ok());
    check(m->op == dhcp_op::boot_request && m->xid == c.xid() && m->chaddr == client_mac);
    check(m->message_type == dhcp_message_type::discover || m->message_type == dhcp_message_type::request);
    check(o->from_unspecified == (m->ciaddr.is_any()));
    check(!o->destination.is_any());
  }
}

// A client in `target`, reached with valid messages.
dhcp_client client_in(dhcp_state target, std::uint64_t seed, time_point& now) {
  dhcp_client c{client_mac, seed};
  c.start(now);
  c.take_outgoing();
  if (target == dhcp_state::selecting) return c;
  reply(c, dhcp_message_type::offer, now);
  c.take_outgoing();
  if (target == dhcp_state::requesting) return c;
  now += std::chrono::milliseconds{10};
  reply(c, dhcp_message_type::ack, now);
  if (target == dhcp_state::bound) return c;
  now = c.next_deadline();  // T1
  c.on_timer(now);
  c.take_outgoing();
  if (target == dhcp_state::renewing) return c;
  now = c.lease()->rebind_at();
  c.on_timer(now);
  c.take_outgoing();
  return c;
}

void feed(dhcp_client& c, const std::uint8_t* data, std::size_t size, time_point& now) {
  c.on_message({data, size}, now);
  check_client(c, now);
  // Let time run through a few deadlines after whatever the input did.
  for (int i = 0; i < 3; ++i) {
    const time_point d = c.next_deadline();
    if (d == time_never) break;
    now = d;
    c.on_timer(now);
    check_client(c, now);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check_wire_format(data, size);

  static std::array<std::uint8_t, 4096> patched;
  const std::size_t n = size < patched.size() ? size : patched.size();
  const std::uint64_t seed = size >= 8 ? wire::load_be32(data) * 31ull + wire::load_be32(data + 4) : size;

  constexpr dhcp_state states[] = {dhcp_state::selecting, dhcp_state::requesting, dhcp_state::bound,
                                   dhcp_state::renewing, dhcp_state::rebinding};
  for (dhcp_state target : states) {
    time_point now = time_point{} + std::chrono::seconds{1000};
    dhcp_client c = client_in(target, seed, now);
    check(c.state() == target);
    check_client(c, now);
    feed(c, data, size, now);

    // The same bytes, made to pass the checks that come before the options.
    dhcp_client d = client_in(target, seed, now);
    if (n != 0) std::memcpy(patched.data(), data, n);
    if (n >= dhcp_message::min_size) {
      patched[0] = 2;  // BOOTREPLY
      patched[1] = 1;
      patched[2] = 6;
      wire::store_be32(patched.data() + 4, d.xid());
      std::memcpy(patched.data() + 28, client_mac.bytes.data(), client_mac.bytes.size());
      wire::store_be32(patched.data() + dhcp_message::fixed_size, dhcp_message::magic_cookie);
    }
    feed(d, patched.data(), n, now);
  }
  return 0;
}
