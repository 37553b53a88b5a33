// uni/net/tcp/layer.hpp: the TCP transport: a bounded table of connections
// found by their four-tuple, listening ports with a bounded accept queue and
// a bounded set of half-open connections (the oldest gives way under a SYN
// flood), RSTs for segments no connection wants (RFC 9293 §3.10.7.1), initial
// sequence numbers from a keyed hash (RFC 6528), ephemeral ports, and the
// timers of every connection, which the stack's housekeeping runs. The
// application's handles (`listener`, `stream`) are in uni/net/tcp/socket.hpp.
//
// The layer does no I/O of its own: segments come in through input(), and go
// out through the `ip_output` function the stack gives it; time comes in through
// on_timer(), called by the task that waits on the queue the stack gives it.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>

#include <uni/core/buffer.hpp>
#include <uni/core/counters.hpp>
#include <uni/core/header_allocator.hpp>
#include <uni/core/random.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/core/view_chain.hpp>
#include <uni/net/endpoint.hpp>
#include <uni/net/tcp/connection.hpp>
#include <uni/net/tcp/segment.hpp>
#include <uni/net/tcp/trace_probe.hpp>

namespace uni::tcp {

namespace detail {
struct no_probe {};  // a slot's probe when the Config does not trace
}  // namespace detail

// `Output` sends a segment (header and payload) in an IP datagram:
// result<void> operator()(ipv4_address dst, std::span<const view> segment).
template <class Config, class Output>
class layer {
 public:
  using connection_type = connection<Config>;
  static constexpr std::size_t none = static_cast<std::size_t>(-1);

  // `timer_wake` is notified when a connection's deadline comes nearer or an
  // ACK is owed: its waiter calls on_timer() by next_deadline().
  layer(scheduler& s, wait_queue& timer_wake, page_pool& pool, header_allocator& headers, Output out,
        std::uint16_t mss, std::uint64_t seed) noexcept
      : sched_(s),
        wake_(timer_wake),
        pool_(pool),
        headers_(headers),
        out_(out),
        mss_(mss),
        random_(seed) {
    secret_[0] = random_();
    secret_[1] = random_();
    for (auto& b : buckets_) b = none;
  }
  layer(const layer&) = delete;
  layer& operator=(const layer&) = delete;
  ~layer() {
    for (std::size_t i = 0; i < Config::tcp_connections; ++i) tables_->slots[i].conn.reset();
  }

  // Which device the trace names this layer's connections after (uni/trace/).
  void set_trace_device(std::uint16_t d) noexcept {
    if constexpr (Config::trace) trace_device_ = d;
  }

  // Segments leave with partial checksums (the pseudo-header's sum): the device completes them.
  void set_partial_checksums(bool on) noexcept { partial_checksums_ = on; }

  layer_counters<tcp_drop>& counters() noexcept { return counters_; }
  const layer_counters<tcp_drop>& counters() const noexcept { return counters_; }
  std::size_t connections() const noexcept { return in_use_; }

  // ---- Input ----------------------------------------------------------------------

  // Out of line, as is connection::on_segment: IPv4's deliver() is their one
  // caller, and inlined into it the input path costs ~150 bytes more.
  [[gnu::noinline]] void input(ipv4_address src, ipv4_address dst, view_chain&& segment) noexcept {
    header::reject why{};
    auto parsed = header::parse(segment.views(), src, dst, &why);
    if (!parsed) return counters_.drop(drop_reason(why));
    const header& h = *parsed;  // once: each -> checks the result again
    ++counters_.received;
    view_chain data = segment.subchain(h.header_length, segment.length() - h.header_length);
    const endpoints ep{dst, src, h.destination_port, h.source_port};
    const time_point t = now();
    if (std::size_t i = find(ep); i != none) {
      slot& s = tables_->slots[i];
      if (s.half_open && s.conn->current_state() == state::syn_received && h.has(ack) &&
          tables_->listeners[s.listener].queued == Config::tcp_backlog) {
        return counters_.drop(tcp_drop::backlog_full);  // the peer retransmits its ACK later
      }
      if constexpr (Config::trace) s.probe.segment_in(trace_device_, static_cast<std::uint32_t>(i), h, data.length());
      s.conn->on_segment(h, std::move(data), t);
      // Data for a connection its application has closed will never be read:
      // reset it (RFC 1122 §4.2.2.13, as Linux does) rather than take it for ever.
      if (!s.held && !s.queued && !s.half_open && s.conn->has_unread()) {
        counters_.drop(tcp_drop::data_after_close);
        s.conn->abort();
      }
      return settle(i);  // (which lists an ACK the segment owes)
    }
    if (h.has(rst)) return counters_.drop(tcp_drop::no_connection);  // never answer a RST
    const std::size_t li = find_listener(h.destination_port);
    if (li != none && h.has(syn) && !h.has(ack)) return accept_syn(li, ep, h, t);
    if (li != none && !h.has(ack)) return counters_.drop(tcp_drop::not_syn);
    counters_.drop(tcp_drop::no_connection);
    send_reset_for(ep, h, static_cast<std::uint32_t>(data.length()));
  }

  // ---- Application (through uni/net/tcp/socket.hpp) ---------------------------------

  result<std::size_t> listen(std::uint16_t port) noexcept {
    if (port == 0) return fail(error::invalid_argument);
    if (find_listener(port) != none) return fail(error::in_use);
    for (std::size_t i = 0; i < Config::tcp_listeners; ++i) {
      listener_state& l = tables_->listeners[i];
      if (l.used) continue;
      l.used = true;
      l.port = port;
      l.queued = l.half_open = 0;
      if (!l.ready) l.ready.emplace(sched_);
      return i;
    }
    return fail(error::table_full);
  }

  // Stops listening: connections not yet accepted are reset.
  void unlisten(std::size_t li) noexcept {
    listener_state& l = tables_->listeners[li];
    for (std::size_t i = 0; i < Config::tcp_connections; ++i) {
      slot& s = tables_->slots[i];
      if (!s.used || s.listener != li || (!s.half_open && !s.queued)) continue;
      s.conn->abort();
      s.half_open = s.queued = false;
      s.listener = none;
      settle(i);
    }
    l.used = false;
    l.queued = l.half_open = 0;
    l.ready->notify_all();
  }

  // The next established connection on listener `li` (its slot), taken off its
  // accept queue: `none` while there is none yet (wait on accept_ready(li)),
  // error::closed once the listener is closed.
  result<std::size_t> take_accepted(std::size_t li) noexcept {
    listener_state& l = tables_->listeners[li];
    if (!l.used) return fail(error::closed);
    if (l.queued == 0) return none;
    const std::size_t i = l.accept[l.head];
    l.head = (l.head + 1) % Config::tcp_backlog;
    --l.queued;
    slot& s = tables_->slots[i];
    s.queued = false;
    s.listener = none;
    s.held = true;
    return i;
  }
  // Notified when listener `li` queues a connection or closes.
  wait_queue& accept_ready(std::size_t li) noexcept { return *tables_->listeners[li].ready; }

  // Active open from `local` to `remote`; the caller waits on the connection.
  result<std::size_t> connect(ipv4_address local, endpoint remote) noexcept {
    auto port = ephemeral_port(local, remote);
    if (!port) return fail(port.err());
    const endpoints ep{local, remote.address, *port, remote.port};
    const std::size_t i = allocate(ep);
    if (i == none) return fail(error::table_full);
    slot& s = tables_->slots[i];
    s.held = true;
    s.conn->open_active(ep, initial_sequence(ep), mss_, ts_offset(ep), now());
    settle(i);
    return i;
  }

  connection_type& at(std::size_t i) noexcept { return *tables_->slots[i].conn; }
  const connection_type& at(std::size_t i) const noexcept { return *tables_->slots[i].conn; }

  // The application lets go of slot `i`: a graceful close, or a RST when
  // received data would go unread (RFC 2525 §2.17, as Linux does).
  void release(std::size_t i, bool reset) noexcept {
    slot& s = tables_->slots[i];
    connection_type& c = *s.conn;
    if (reset || c.has_unread()) c.abort();
    else c.shutdown(now());
    c.orphan(now());
    s.held = false;
    settle(i);
  }

  // Called after every application call on slot `i`: frees it when done, and
  // re-arms the timer task when the connection's next deadline moved earlier.
  void settle(std::size_t i) noexcept {
    if constexpr (Config::trace) tables_->slots[i].probe.observe(trace_device_, static_cast<std::uint32_t>(i), *tables_->slots[i].conn);
    settle_read(i);
  }
  // settle() after a read, which moves only the receiving side: nothing the
  // trace probe looks at (a window update it sends is recorded as a segment).
  void settle_read(std::size_t i) noexcept {
    slot& s = tables_->slots[i];
    connection_type& c = *s.conn;
    if (c.ack_owed()) owe_ack(i);  // a window update the read opened
    const state st = c.current_state();
    if (s.half_open && st != state::syn_received) {
      listener_state& l = tables_->listeners[s.listener];
      s.half_open = false;
      --l.half_open;
      if (st != state::closed) {
        if (l.queued == Config::tcp_backlog) {  // raced past the check in input()
          counters_.drop(tcp_drop::backlog_full);
          c.abort();
        } else {
          l.accept[(l.head + l.queued) % Config::tcp_backlog] = i;
          ++l.queued;
          s.queued = true;
          l.ready->notify_one();
        }
      }
    }
    if (c.current_state() == state::closed && !s.held && !s.queued && !s.half_open) return free(i);
    if (c.next_deadline() < wake_at_) wake_.notify_one();
  }

  time_point now() const noexcept { return sched_.now(); }

 private:
  struct slot;
  // The connection's output: builds the header in a header page and hands the
  // segment to IP. Lives in the slot, so the connection's function_ref stays valid.
  struct output_binding {
    layer* l = nullptr;
    std::size_t index = 0;
    void operator()(const header& h, std::span<const view> payload) const noexcept {
      l->transmit(l->tables_->slots[index].conn->ends(), h, payload, index);
    }
  };
  struct slot {  // the small fields first, within a one-byte offset; the connection after them
    bool used = false, held = false, queued = false, half_open = false, ack_listed = false;
    std::size_t listener = none;
    std::size_t next = none;  // in its hash bucket
    std::size_t at = 0;       // in tables_->live, while used
    time_point opened{};
    output_binding out;
    std::optional<connection_type> conn;  // constructed afresh each time the slot is given out, gone when freed
    [[no_unique_address]] std::conditional_t<Config::trace, trace_probe, detail::no_probe> probe;
  };
  struct listener_state {
    bool used = false;
    std::uint16_t port = 0;
    std::array<std::size_t, Config::tcp_backlog> accept{};
    std::size_t head = 0, queued = 0, half_open = 0;
    std::optional<wait_queue> ready;
  };

  static tcp_drop drop_reason(header::reject r) noexcept {
    switch (r) {
      case header::reject::truncated: return tcp_drop::truncated;
      case header::reject::bad_offset: return tcp_drop::bad_offset;
      case header::reject::bad_checksum: return tcp_drop::bad_checksum;
      case header::reject::bad_options: return tcp_drop::bad_options;
    }
    return tcp_drop::truncated;
  }

  // ---- Output -----------------------------------------------------------------------

  // `from`: the connection's slot, whose probe records the segment (none: a reset
  // for no connection; unused untraced).
  // `h` has its ports already (the connection's, or send_reset_for's).
  void transmit(const endpoints& ep, const header& h, std::span<const view> payload,
                [[maybe_unused]] std::size_t from = none) noexcept {
    const std::size_t header_size = header::min_size + h.opts.wire_size<connection_type::offered>();
    auto allocated = headers_.allocate(header_size);
    if (!allocated) return counters_.drop(tcp_drop::no_buffers);
    view& hdr = *allocated;
    h.emit<connection_type::offered>(hdr.bytes(), ep.local_ip, ep.remote_ip, payload, partial_checksums_);
    // The header and the payload's views: a view_chain, the type IP's path
    // already instantiates, unless the Config's segments carry more views.
    basic_view_chain<std::max(Config::tcp_segment_views + 1, max_chain_views)> segment(std::move(hdr));
    for (const view& v : payload) (void)segment.push_back(v);
    if constexpr (Config::trace)
      if (from != none)
        tables_->slots[from].probe.segment_out(trace_device_, static_cast<std::uint32_t>(from), h, segment.length() - header_size);
    if (out_(ep.remote_ip, segment.views())) ++counters_.sent;
  }

  // §3.10.7.1: the reset for a segment that belongs to no connection.
  void send_reset_for(const endpoints& ep, const header& in, std::uint32_t data_len) noexcept {
    header h;
    h.source_port = ep.local_port;
    h.destination_port = ep.remote_port;
    if (in.has(ack)) {
      h.seq = in.ack_number;
      h.flags = rst;
    } else {
      h.ack_number = in.seq + data_len + (in.has(syn) ? 1u : 0u) + (in.has(fin) ? 1u : 0u);
      h.flags = rst | ack;
    }
    transmit(ep, h, {});
  }

  // ---- Listening --------------------------------------------------------------------

  std::size_t find_listener(std::uint16_t port) const noexcept {
    for (std::size_t i = 0; i < Config::tcp_listeners; ++i)
      if (tables_->listeners[i].used && tables_->listeners[i].port == port) return i;
    return none;
  }

  void accept_syn(std::size_t li, const endpoints& ep, const header& syn, time_point t) noexcept {
    listener_state& l = tables_->listeners[li];
    if (l.half_open >= Config::tcp_half_open) evict_oldest_half_open(li);
    const std::size_t i = allocate(ep);
    if (i == none) return counters_.drop(tcp_drop::table_full);
    slot& s = tables_->slots[i];
    s.listener = li;
    s.half_open = true;
    ++l.half_open;
    s.conn->open_passive(ep, syn, initial_sequence(ep), mss_, ts_offset(ep), t);
    s.conn->set_passive();
    settle(i);
  }

  // Under a SYN flood the table holds the newest handshakes: a real client
  // completes its handshake within a round trip, a spoofed one never does.
  void evict_oldest_half_open(std::size_t li) noexcept {
    std::size_t oldest = none;
    for (std::size_t i = 0; i < Config::tcp_connections; ++i) {
      const slot& s = tables_->slots[i];
      if (s.used && s.half_open && s.listener == li && (oldest == none || s.opened < tables_->slots[oldest].opened)) oldest = i;
    }
    if (oldest == none) return;
    counters_.drop(tcp_drop::half_open_evicted);
    slot& s = tables_->slots[oldest];
    s.half_open = false;
    --tables_->listeners[li].half_open;
    s.conn->abort();
    free(oldest);
  }

  // ---- The table --------------------------------------------------------------------

  static constexpr std::size_t bucket_count = std::bit_ceil(Config::tcp_connections);

  std::size_t bucket(const endpoints& ep) const noexcept {
    std::uint64_t k = (std::uint64_t{ep.remote_ip.value} << 32) | (std::uint64_t{ep.remote_port} << 16) | ep.local_port;
    k ^= secret_[1];  // keyed, so a peer cannot aim its connections at one bucket
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return static_cast<std::size_t>(k) & (bucket_count - 1);
  }

  std::size_t find(const endpoints& ep) const noexcept {
    for (std::size_t i = buckets_[bucket(ep)]; i != none; i = tables_->slots[i].next)
      if (tables_->slots[i].conn->ends() == ep) return i;
    return none;
  }

  // A free slot for `ep`, or the oldest TIME-WAIT one when the table is full.
  std::size_t allocate(const endpoints& ep) noexcept {
    std::size_t i = none;
    for (std::size_t n = 0; n < Config::tcp_connections; ++n) {
      const std::size_t k = (next_free_ + n) % Config::tcp_connections;
      if (!tables_->slots[k].used) {
        i = k;
        break;
      }
    }
    if (i == none) i = reuse_time_wait();
    if (i == none) return none;
    next_free_ = (i + 1) % Config::tcp_connections;
    slot& s = tables_->slots[i];
    s.conn.emplace();  // fresh (value-initialized): its fields start from their initializers, none reset one by one
    s.conn->attach(sched_);
    s.out = output_binding{this, i};
    s.conn->set_output(s.out);
    s.conn->set_drop_counter(&counters_);
    s.conn->set_pool(&pool_);
    s.used = true;
    s.held = s.queued = s.half_open = false;
    s.listener = none;
    s.opened = now();
    // The four-tuple is set by open_*; link into the bucket for `ep` now.
    const std::size_t b = bucket(ep);
    s.next = buckets_[b];
    buckets_[b] = i;
    s.at = in_use_;
    tables_->live[in_use_++] = i;
    return i;
  }

  std::size_t reuse_time_wait() noexcept {
    for (std::size_t i = 0; i < Config::tcp_connections; ++i) {
      slot& s = tables_->slots[i];
      if (s.used && !s.held && s.conn->current_state() == state::time_wait) {
        s.conn->abort();
        free(i);
        return i;
      }
    }
    return none;
  }

  void free(std::size_t i) noexcept {
    slot& s = tables_->slots[i];
    std::size_t* link = &buckets_[bucket(s.conn->ends())];
    while (*link != none && *link != i) link = &tables_->slots[*link].next;
    if (*link == i) *link = s.next;
    s.conn.reset();  // its pages go back now; the next use constructs a fresh one
    s.used = s.held = s.queued = s.half_open = false;
    s.listener = s.next = none;
    const std::size_t last = tables_->live[--in_use_];  // the last live slot takes i's place
    tables_->live[s.at] = last;
    tables_->slots[last].at = s.at;
  }

  result<std::uint16_t> ephemeral_port(ipv4_address local, endpoint remote) noexcept {
    constexpr std::uint32_t first = 49152, count = 65536 - first;  // RFC 6335 §6
    const std::uint32_t start = static_cast<std::uint32_t>(random_.below(count));
    for (std::uint32_t n = 0; n < count; ++n) {
      const auto port = static_cast<std::uint16_t>(first + (start + n) % count);
      if (find_listener(port) == none && find({local, remote.address, port, remote.port}) == none) return port;
    }
    return fail(error::in_use);
  }

  // RFC 6528: ISN = M + F(four-tuple, secret), M a 4 µs clock. F is a keyed
  // 64-bit mix of the tuple with a boot-time secret.
  seq32 initial_sequence(const endpoints& ep) const noexcept {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now().time_since_epoch()).count();
    return {static_cast<std::uint32_t>(us / 4) + static_cast<std::uint32_t>(keyed(ep, secret_[0]))};
  }
  // RFC 7323 §5.4: a per-connection offset for timestamps.
  std::uint32_t ts_offset(const endpoints& ep) const noexcept { return static_cast<std::uint32_t>(keyed(ep, secret_[1]) >> 32); }

  static std::uint64_t keyed(const endpoints& ep, std::uint64_t key) noexcept {
    std::uint64_t x = key ^ ((std::uint64_t{ep.local_ip.value} << 32) | ep.remote_ip.value);
    for (int round = 0; round < 2; ++round) {
      x ^= x >> 30;
      x *= 0xbf58476d1ce4e5b9ull;
      x ^= x >> 27;
      x *= 0x94d049bb133111ebull;
      x ^= x >> 31;
      if (round == 0) x ^= (std::uint64_t{ep.local_port} << 16 | ep.remote_port) + key;
    }
    return x;
  }

  // ---- ACKs owed ------------------------------------------------------------------

  // Connections owing an ACK are listed once; on_timer() sends them when the
  // scheduler next turns, after the device's whole batch of frames.
  void owe_ack(std::size_t i) noexcept {
    slot& s = tables_->slots[i];
    if (s.ack_listed) return;
    s.ack_listed = true;
    tables_->owing[owing_count_++] = i;
    wake_.notify_one();
  }
  void send_owed_acks(time_point t) noexcept {
    for (std::size_t k = 0; k < owing_count_; ++k) {
      slot& s = tables_->slots[tables_->owing[k]];
      s.ack_listed = false;
      if (s.used) s.conn->flush_ack(t);
    }
    owing_count_ = 0;
  }

  // ---- Timers -----------------------------------------------------------------------

 public:
  // The earliest deadline of the live connections (only those: the table is
  // sized for the most connections, and this is asked whenever a connection's
  // deadline comes nearer, i.e. on most segments). The waiter sleeps until
  // then, so settle() wakes it only for an earlier one.
  time_point next_deadline() noexcept {
    time_point next = time_never;
    for (std::size_t k = 0; k < in_use_; ++k) next = std::min(next, tables_->slots[tables_->live[k]].conn->next_deadline());
    wake_at_ = next;
    return next;
  }
  // Runs the connections' timers that are due at `t`, then sends the ACKs owed.
  void on_timer(time_point t) noexcept {
    wake_at_ = time_point{};  // while we run, nobody needs to wake us
    // Backwards: a slot freed by settle() takes the last one, already seen, in its place.
    for (std::size_t k = in_use_; k-- > 0;) {
      const std::size_t i = tables_->live[k];
      slot& s = tables_->slots[i];
      if (s.conn->next_deadline() > t) continue;
      s.conn->on_timer(t);
      settle(i);
    }
    send_owed_acks(t);  // after the timers: a segment they sent carries the ACK
  }

 private:
  scheduler& sched_;
  wait_queue& wake_;
  page_pool& pool_;
  header_allocator& headers_;
  Output out_;
  std::uint16_t mss_;
  random_generator random_;
  std::array<std::uint64_t, 2> secret_{};
  // The connection and listener tables in one allocation (made once, at construction).
  struct tables {
    std::array<slot, Config::tcp_connections> slots{};
    std::array<listener_state, Config::tcp_listeners> listeners{};
    std::array<std::size_t, Config::tcp_connections> live;   // the used slots, in_use_ of them
    std::array<std::size_t, Config::tcp_connections> owing;  // the slots that owe an ACK, owing_count_ of them
  };
  std::unique_ptr<tables> tables_{new tables};
  std::size_t next_free_ = 0, in_use_ = 0;
  bool partial_checksums_ = false;
  time_point wake_at_ = time_point{};
  std::size_t owing_count_ = 0;
  [[no_unique_address]] std::conditional_t<Config::trace, std::uint16_t, detail::no_probe> trace_device_{};
  layer_counters<tcp_drop> counters_{};
  std::array<std::size_t, bucket_count> buckets_{};  // last: the fields above stay near the layer's start
};

}  // namespace uni::tcp
