// uni/openflow/flow_table.hpp: one flow table of a switch (OpenFlow 1.0
// §3.4-3.5, 1.3 §5.2-5.5): a bounded array of entries kept in lookup order
// (priority high to low, older first among equals), so a lookup stops at the
// first entry that covers the frame. It applies FLOW_MOD's five commands
// (§4.6 / §6.4): add replaces an entry of the same match and priority (and
// with check_overlap refuses one that could match the same frames); modify and
// delete reach every entry within the request's match, their strict forms the
// one of the same match and priority; delete filters by output port; 1.3
// filters both by cookie under cookie_mask. Idle and hard timeouts expire
// entries; each entry counts its packets and bytes, the table its lookups and
// matches. Removals the controller asked to hear of are handed to a callback.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include <uni/core/function_ref.hpp>
#include <uni/core/time.hpp>
#include <uni/openflow/flow_mod.hpp>
#include <uni/openflow/flow_removed.hpp>
#include <uni/openflow/packet_key.hpp>

namespace uni::openflow {

struct flow_entry {
  match what;
  std::uint16_t priority = 0;
  std::uint64_t cookie = 0;
  std::uint16_t idle_timeout = 0, hard_timeout = 0, flags = 0;
  instructions does;
  time_point created{}, last_used{};
  std::uint64_t packets = 0, bytes = 0;

  // True if the entry's actions output to `port` (any: every entry).
  constexpr bool outputs_to(std::uint32_t port) const noexcept {
    if (port == port::any) return true;
    for (const action_list* l : {&does.apply, &does.write})
      for (const action& a : l->view())
        if ((a.t == action::type::output || a.t == action::type::enqueue) && a.port == port) return true;
    return false;
  }
  constexpr bool cookie_in(std::uint64_t cookie_v, std::uint64_t mask) const noexcept {
    return (cookie & mask) == (cookie_v & mask);
  }
  constexpr flow_removed removal(removed_reason why, std::uint8_t table, time_point now) const noexcept {
    const auto lived = now - created;
    const auto sec = std::chrono::duration_cast<std::chrono::seconds>(lived);
    flow_removed r;
    r.what = what;
    r.cookie = cookie;
    r.priority = priority;
    r.reason = why;
    r.table_id = table;
    r.duration_sec = static_cast<std::uint32_t>(sec.count());
    r.duration_nsec = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(lived - sec).count());
    r.idle_timeout = idle_timeout;
    r.hard_timeout = hard_timeout;
    r.packet_count = packets;
    r.byte_count = bytes;
    return r;
  }
};

// Told of each entry removed with send_flow_removed set.
using removal_handler = function_ref<void(const flow_removed&)>;

template <std::size_t Capacity>
class flow_table {
 public:
  static constexpr std::size_t capacity = Capacity;

  std::size_t size() const noexcept { return used_; }
  std::span<const flow_entry> entries() const noexcept { return {entries_.data(), used_}; }
  std::uint64_t lookups() const noexcept { return lookups_; }
  std::uint64_t matched() const noexcept { return matched_; }

  // The entry that takes a frame of key `key` and `bytes` bytes, counted; null on a miss.
  flow_entry* lookup(const match& key, std::size_t bytes, time_point now) noexcept {
    ++lookups_;
    for (std::size_t i = 0; i < used_; ++i) {
      flow_entry& e = entries_[i];
      if (!covers(e.what, key)) continue;
      ++matched_;
      ++e.packets;
      e.bytes += bytes;
      e.last_used = now;
      return &e;
    }
    return nullptr;
  }

  // Applies flow_mod `f` (its table is this one); a refusal for what fails
  // (table_full, overlap). `priority` is f's, or 1.0's exact-match rank. A
  // modify that reaches no entry adds one when `modify_adds` (1.0 §4.6; 1.3
  // §6.4 changed that: nothing happens).
  result<void> apply(const flow_mod& f, std::uint16_t priority, std::uint8_t table_id, time_point now,
                     removal_handler removed, refusal& why, bool modify_adds = false) noexcept {
    switch (f.command) {
      case flow_command::add: return add(f, priority, now, why);
      case flow_command::modify:
      case flow_command::modify_strict: {
        const bool strict = f.command == flow_command::modify_strict;
        std::size_t touched = 0;
        for (std::size_t i = 0; i < used_; ++i) {
          flow_entry& e = entries_[i];
          if (!selected(e, f, priority, strict, port::any)) continue;
          e.does = f.does;
          if (f.flags & flow_flag::reset_counts_13) e.packets = e.bytes = 0;
          ++touched;
        }
        if (touched == 0 && modify_adds) return add(f, priority, now, why);
        return {};
      }
      case flow_command::remove:
      case flow_command::remove_strict: {
        const bool strict = f.command == flow_command::remove_strict;
        remove_if([&](const flow_entry& e) { return selected(e, f, priority, strict, f.out_port); }, removed_reason::remove,
                  table_id, now, removed);
        return {};
      }
    }
    why = refusal::bad_command;
    return fail(error::invalid_argument);
  }

  // Removes the entries whose idle or hard timeout has passed.
  void expire(std::uint8_t table_id, time_point now, removal_handler removed) noexcept {
    for (removed_reason why : {removed_reason::hard_timeout, removed_reason::idle_timeout})
      remove_if([&](const flow_entry& e) { return timed_out(e, why, now); }, why, table_id, now, removed);
  }
  // The earliest time an entry may time out (time_never with no timeouts).
  time_point next_expiry() const noexcept {
    time_point t = time_never;
    for (std::size_t i = 0; i < used_; ++i) {
      const flow_entry& e = entries_[i];
      if (e.hard_timeout) t = std::min(t, e.created + std::chrono::seconds(e.hard_timeout));
      if (e.idle_timeout) t = std::min(t, e.last_used + std::chrono::seconds(e.idle_timeout));
    }
    return t;
  }

  // Empties the table without telling anyone (a switch starting over).
  void clear() noexcept { used_ = 0; }

 private:
  static bool timed_out(const flow_entry& e, removed_reason why, time_point now) noexcept {
    if (why == removed_reason::hard_timeout)
      return e.hard_timeout && now - e.created >= std::chrono::seconds(e.hard_timeout);
    return e.idle_timeout && now - e.last_used >= std::chrono::seconds(e.idle_timeout);
  }

  static bool selected(const flow_entry& e, const flow_mod& f, std::uint16_t priority, bool strict,
                       std::uint32_t out_port) noexcept {
    if (strict ? !(e.what == f.what && e.priority == priority) : !within(e.what, f.what)) return false;
    return e.cookie_in(f.cookie, f.cookie_mask) && e.outputs_to(out_port);
  }

  // Two entries of one priority that some frame would match both (§6.4 check_overlap).
  static bool overlap(const match& a, const match& b) noexcept {
    const std::uint16_t both = a.fields & b.fields;
    const auto same = [&](match::field x, auto av, auto bv) { return !(both & x) || av == bv; };
    const auto masked = [&](match::field x, std::uint64_t av, std::uint64_t am, std::uint64_t bv, std::uint64_t bm) {
      return !(both & x) || (av & am & bm) == (bv & am & bm);
    };
    return same(match::in_port, a.in_port_v, b.in_port_v) && same(match::eth_src, a.eth_src_v, b.eth_src_v) &&
           same(match::eth_dst, a.eth_dst_v, b.eth_dst_v) && same(match::vlan_vid, a.vlan_vid_v, b.vlan_vid_v) &&
           same(match::vlan_pcp, a.vlan_pcp_v, b.vlan_pcp_v) && same(match::eth_type, a.eth_type_v, b.eth_type_v) &&
           same(match::ip_dscp, a.ip_dscp_v, b.ip_dscp_v) && same(match::ip_proto, a.ip_proto_v, b.ip_proto_v) &&
           masked(match::ipv4_src, a.ipv4_src_v, a.ipv4_src_mask, b.ipv4_src_v, b.ipv4_src_mask) &&
           masked(match::ipv4_dst, a.ipv4_dst_v, a.ipv4_dst_mask, b.ipv4_dst_v, b.ipv4_dst_mask) &&
           same(match::tp_src, a.tp_src_v, b.tp_src_v) && same(match::tp_dst, a.tp_dst_v, b.tp_dst_v) &&
           masked(match::metadata, a.metadata_v, a.metadata_mask, b.metadata_v, b.metadata_mask);
  }

  result<void> add(const flow_mod& f, std::uint16_t priority, time_point now, refusal& why) noexcept {
    std::size_t at = used_;  // where it goes: after every entry of its priority or above
    for (std::size_t i = 0; i < used_; ++i) {
      flow_entry& e = entries_[i];
      if (e.priority == priority && e.what == f.what) {  // the same entry: replaced, counters kept unless asked
        const bool reset = (f.flags & flow_flag::reset_counts_13) != 0;
        fill(e, f, priority, now, reset);
        return {};
      }
      if ((f.flags & flow_flag::check_overlap) && e.priority == priority && overlap(e.what, f.what)) {
        why = refusal::overlap;
        return fail(error::in_use);
      }
      if (at == used_ && e.priority < priority) at = i;
    }
    if (used_ == Capacity) {
      why = refusal::table_full;
      return fail(error::table_full);
    }
    for (std::size_t i = used_; i > at; --i) entries_[i] = entries_[i - 1];
    ++used_;
    fill(entries_[at], f, priority, now, true);
    return {};
  }

  static void fill(flow_entry& e, const flow_mod& f, std::uint16_t priority, time_point now, bool fresh) noexcept {
    e.what = f.what;
    e.priority = priority;
    e.cookie = f.cookie;
    e.idle_timeout = f.idle_timeout;
    e.hard_timeout = f.hard_timeout;
    e.flags = f.flags;
    e.does = f.does;
    if (fresh) {
      e.created = e.last_used = now;
      e.packets = e.bytes = 0;
    }
  }

  template <class Pred>
  void remove_if(Pred pred, removed_reason why, std::uint8_t table_id, time_point now, removal_handler removed) noexcept {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < used_; ++i) {
      if (pred(entries_[i])) {
        if ((entries_[i].flags & flow_flag::send_flow_removed) && removed) removed(entries_[i].removal(why, table_id, now));
        continue;
      }
      if (kept != i) entries_[kept] = entries_[i];
      ++kept;
    }
    used_ = kept;
  }

  std::array<flow_entry, Capacity> entries_{};
  std::size_t used_ = 0;
  std::uint64_t lookups_ = 0, matched_ = 0;
};

}  // namespace uni::openflow
