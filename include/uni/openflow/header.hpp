// uni/openflow/header.hpp: the header every OpenFlow message starts with
// (OpenFlow 1.0 §5.1, 1.3 §A.1: version, type, length, xid) and the message
// kinds of the two versions uni speaks, 1.0 (wire 0x01) and 1.3 (wire 0x04).
// The two number their types differently from PORT_MOD on; `kind` names a
// message once, and type_code()/kind_of() translate per version.
//
// A message is framed by its header's length (at least 8, at most 65535):
// next_message() cuts one from the front of a byte stream, checking it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include <uni/openflow/cursor.hpp>

namespace uni::openflow {

enum class version : std::uint8_t { of10 = 0x01, of13 = 0x04 };

inline constexpr std::size_t header_size = 8;
inline constexpr std::size_t max_message = 65535;
inline constexpr std::uint16_t default_port = 6653;  // IANA's OpenFlow port

enum class kind : std::uint8_t {
  hello, error, echo_request, echo_reply, experimenter,  // experimenter: 1.0's vendor
  features_request, features_reply, get_config_request, get_config_reply, set_config,
  packet_in, flow_removed, port_status, packet_out, flow_mod, group_mod, port_mod, table_mod,
  stats_request, stats_reply,  // 1.3's multipart request and reply
  barrier_request, barrier_reply, queue_get_config_request, queue_get_config_reply,
  role_request, role_reply, get_async_request, get_async_reply, set_async, meter_mod,
};

// Wire type code of `k` in version `v`; nothing for a kind the version lacks.
constexpr std::optional<std::uint8_t> type_code(version v, kind k) noexcept {
  const auto n = static_cast<std::uint8_t>(k);
  if (k <= kind::flow_mod) return n;
  if (v == version::of13) return n;  // 1.3 numbers every kind in this order
  switch (k) {  // 1.0 has no group, table or meter mods, roles or async config
    case kind::port_mod: return 15;
    case kind::stats_request: return 16;
    case kind::stats_reply: return 17;
    case kind::barrier_request: return 18;
    case kind::barrier_reply: return 19;
    case kind::queue_get_config_request: return 20;
    case kind::queue_get_config_reply: return 21;
    default: return std::nullopt;
  }
}

constexpr std::optional<kind> kind_of(version v, std::uint8_t code) noexcept {
  if (v == version::of13) {
    if (code <= static_cast<std::uint8_t>(kind::meter_mod)) return static_cast<kind>(code);
    return std::nullopt;
  }
  if (code <= static_cast<std::uint8_t>(kind::flow_mod)) return static_cast<kind>(code);
  constexpr kind later[] = {kind::port_mod, kind::stats_request, kind::stats_reply, kind::barrier_request,
                            kind::barrier_reply, kind::queue_get_config_request, kind::queue_get_config_reply};
  if (code >= 15 && code < 15 + std::size(later)) return later[code - 15];
  return std::nullopt;
}

struct header {
  std::uint8_t wire_version = 0;  // as received: a peer may speak one uni does not
  std::uint8_t type = 0;
  std::uint16_t length = 0;
  std::uint32_t xid = 0;

  static constexpr result<header> parse(std::span<const std::uint8_t> b) noexcept {
    reader r(b);
    header h{r.u8(), r.u8(), r.u16(), r.u32()};
    if (!r.ok()) return fail(error::truncated);
    if (h.length < header_size) return fail(error::malformed);
    return h;
  }
};

constexpr bool known_version(std::uint8_t v) noexcept {
  return v == static_cast<std::uint8_t>(version::of10) || v == static_cast<std::uint8_t>(version::of13);
}

// One whole message: its header and its body (the bytes after the header).
struct message {
  header h;
  std::span<const std::uint8_t> bytes;  // the whole message, header included
  constexpr version v() const noexcept { return static_cast<version>(h.wire_version); }
  constexpr std::optional<kind> what() const noexcept {
    if (!known_version(h.wire_version)) return std::nullopt;
    return kind_of(v(), h.type);
  }
  constexpr std::span<const std::uint8_t> body() const noexcept { return bytes.subspan(header_size); }
};

// The message at the front of `stream`: error::truncated until all of it has
// come (read more), error::malformed for a length below the header's (the
// stream cannot be framed any more: close it).
constexpr result<message> next_message(std::span<const std::uint8_t> stream) noexcept {
  auto h = header::parse(stream);
  if (!h) return fail(h.err());
  if (stream.size() < h->length) return fail(error::truncated);
  return message{*h, stream.first(h->length)};
}

// Writes a header whose length finish() fills in once the body is written.
constexpr void begin(writer& w, version v, kind k, std::uint32_t xid) noexcept {
  const auto code = type_code(v, k);
  if (!code) w.fail();
  w.u8(static_cast<std::uint8_t>(v));
  w.u8(code.value_or(0));
  w.u16(0);
  w.u32(xid);
}
constexpr result<std::size_t> finish(writer& w) noexcept {
  if (!w.ok()) return fail(error::too_large);
  if (w.size() > max_message) return fail(error::too_large);
  w.patch16(2, static_cast<std::uint16_t>(w.size()));
  return w.size();
}

// A message with no body of its own (features, get_config and barrier requests,
// barrier replies), or with an opaque one (echo, hello without elements).
constexpr result<std::size_t> emit_simple(version v, kind k, std::uint32_t xid, std::span<std::uint8_t> out,
                                          std::span<const std::uint8_t> body = {}) noexcept {
  writer w(out);
  begin(w, v, k, xid);
  w.bytes(body);
  return finish(w);
}

}  // namespace uni::openflow
