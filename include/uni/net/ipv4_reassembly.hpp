// uni/net/ipv4_reassembly.hpp: reassembly of IPv4 fragments (RFC 791 §3.2,
// RFC 815), bounded and defensive.
//
// Bounds: at most `Slots` datagrams in progress, each of at most
// view_chain::capacity fragments, and at most `MaxBytes` bytes held over all of
// them; a datagram not complete within the timeout is discarded. Fragments are
// kept as views of the pages they arrived in (no copy); the complete datagram is
// handed over as a chain of those views, in order.
// Hostile input: a fragment that overlaps another (other than an exact
// duplicate, which is ignored) discards the whole datagram, as does a length
// that is not a multiple of 8 before the last fragment, an end beyond 65535, or
// a last fragment that contradicts the data seen. When the table is full, the
// oldest datagram is evicted. Every outcome is counted by the caller.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <uni/core/time.hpp>
#include <uni/core/view_chain.hpp>
#include <uni/net/ipv4.hpp>

namespace uni {

enum class reassembly_status : std::uint8_t {
  incomplete,        // held, waiting for more
  complete,          // add()'s `whole` is the datagram
  duplicate,         // an exact copy of a fragment already held: ignored
  overlap,           // discarded the datagram
  bogus,             // bad length/offset: discarded the datagram
  too_many_fragments,
  over_budget,       // byte budget exhausted: the fragment is dropped
};

template <std::size_t Slots, std::size_t MaxBytes>
class ipv4_reassembly {
 public:
  static constexpr std::size_t max_datagram = 65535 - 20;
  static constexpr std::size_t max_fragments = view_chain::capacity;

  explicit ipv4_reassembly(duration timeout = std::chrono::seconds(30)) noexcept : timeout_(timeout) {}

  // Adds one fragment: `h` is its parsed header, `data` its payload. When the
  // datagram is complete, its payload is appended to `whole` (empty before).
  reassembly_status add(const ipv4_header& h, view data, time_point now, view_chain& whole) noexcept {
    slot& s = find_or_make(h, now);
    const reassembly_status r = place(s, h, data);
    if (r == reassembly_status::complete)
      for (std::size_t i = 0; i < s.count; ++i) (void)whole.push_back(std::move(s.frags[i].data));
    // What proves the datagram bad discards it, as does completion (handed
    // over) and a refused first fragment (nothing of it is held).
    const bool bad = r == reassembly_status::overlap || r == reassembly_status::bogus ||
                     r == reassembly_status::too_many_fragments;
    if (bad || r == reassembly_status::complete || s.count == 0) discard(s);
    return r;
  }

  // Discards datagrams whose time is up; returns how many.
  std::size_t expire(time_point now) noexcept {
    std::size_t n = 0;
    for (slot& s : slots_)
      if (s.used && s.expires <= now) {
        discard(s);
        ++n;
      }
    return n;
  }
  time_point next_deadline() const noexcept {
    time_point t = time_never;
    for (const slot& s : slots_)
      if (s.used && s.expires < t) t = s.expires;
    return t;
  }

  std::size_t in_progress() const noexcept {
    std::size_t n = 0;
    for (const slot& s : slots_) n += s.used;
    return n;
  }
  std::size_t bytes_held() const noexcept { return bytes_; }
  std::uint64_t evictions() const noexcept { return evictions_; }

 private:
  struct fragment {
    std::size_t offset = 0;
    view data;
  };
  struct slot {
    bool used = false;
    ipv4_address source{}, destination{};
    std::uint16_t identification = 0;
    std::uint8_t protocol = 0;
    time_point expires{};
    std::size_t total = 0;     // datagram length once the last fragment is seen
    std::size_t received = 0;  // payload bytes held
    std::size_t highest = 0;   // end of the furthest fragment
    std::size_t count = 0;
    std::array<fragment, max_fragments> frags{};
  };

  // RFC 791: fragments belong together by source, destination, protocol and id.
  slot& find_or_make(const ipv4_header& h, time_point now) noexcept {
    slot* oldest = nullptr;
    for (slot& s : slots_) {
      if (s.used && s.source == h.source && s.destination == h.destination && s.protocol == h.protocol &&
          s.identification == h.identification)
        return s;
    }
    for (slot& s : slots_) {
      if (!s.used) {
        oldest = &s;
        break;
      }
      if (!oldest || s.expires < oldest->expires) oldest = &s;
    }
    if (oldest->used) {
      ++evictions_;
      discard(*oldest);
    }
    oldest->used = true;
    oldest->source = h.source;
    oldest->destination = h.destination;
    oldest->protocol = h.protocol;
    oldest->identification = h.identification;
    oldest->expires = now + timeout_;
    return *oldest;
  }

  // Puts the fragment in its place in `s`, or says why not (add() discards).
  reassembly_status place(slot& s, const ipv4_header& h, view& data) noexcept {
    const std::size_t offset = h.fragment_offset();
    const std::size_t len = data.size();
    const std::size_t end = offset + len;
    const bool last = !h.more_fragments();
    if ((!last && (len % 8 != 0 || len == 0)) || end > max_datagram) return reassembly_status::bogus;
    if (bytes_ + len > MaxBytes) return reassembly_status::over_budget;
    // Known end: a last fragment fixes it, and nothing may lie beyond it.
    if (last ? (s.total && s.total != end) || s.highest > end : s.total && end > s.total)
      return reassembly_status::bogus;
    if (last) s.total = end;
    // Insert sorted by offset; exact duplicates are ignored, any overlap kills.
    std::size_t at = 0;
    while (at < s.count && s.frags[at].offset < offset) ++at;
    if (at < s.count && s.frags[at].offset == offset && s.frags[at].data.size() == len)
      return reassembly_status::duplicate;
    const bool overlaps_previous = at > 0 && s.frags[at - 1].offset + s.frags[at - 1].data.size() > offset;
    const bool overlaps_next = at < s.count && end > s.frags[at].offset;
    if (overlaps_previous || overlaps_next) return reassembly_status::overlap;
    if (s.count == max_fragments) return reassembly_status::too_many_fragments;
    for (std::size_t i = s.count; i > at; --i) s.frags[i] = std::move(s.frags[i - 1]);
    s.frags[at] = fragment{offset, std::move(data)};
    ++s.count;
    s.received += len;
    bytes_ += len;
    if (end > s.highest) s.highest = end;
    // No overlaps and the byte count matches the end: the datagram is whole.
    return s.total && s.received == s.total ? reassembly_status::complete : reassembly_status::incomplete;
  }

  void discard(slot& s) noexcept {
    for (std::size_t i = 0; i < s.count; ++i) s.frags[i] = fragment{};
    bytes_ -= s.received;
    // The rest is set again when the slot is next used (find_or_make, add).
    s.used = false;
    s.total = s.received = s.highest = s.count = 0;
  }

  duration timeout_;
  std::array<slot, Slots> slots_{};
  std::size_t bytes_ = 0;
  std::uint64_t evictions_ = 0;
};

}  // namespace uni
