// uni/net/tcp/connection.hpp: one TCP connection (the TCB and its state
// machine, RFC 9293 §3.3.2 and §3.10), sans-IO: segments and the time come in
// (on_segment, on_timer); segments go out through the `output` function the
// transport layer installs; the application's calls (write, read, shutdown,
// abort) act on bounded buffers of views, and every change is announced on one
// wait queue that the application's coroutines wait on.
//
// Implemented: the whole life cycle including simultaneous open and close,
// half-close and TIME_WAIT; RFC 5961 (RST must hit RCV.NXT exactly, else a
// challenge ACK; SYN in a synchronized state draws a challenge ACK; ACK range
// check); MSS, window scaling, timestamps with PAWS (RFC 7323); SACK blocks for
// out-of-order data (RFC 2018, receiver side); RFC 6298 retransmission timer with
// Karn's rule and back-off; fast retransmit and NewReno fast recovery (RFC 5681,
// RFC 6582) through a CongestionControl policy; delayed ACKs; Nagle (per
// connection); zero-window probing; keep-alive; a retry limit that fails the
// connection with error::timed_out.
// With SACK, loss recovery follows RFC 6675 (the scoreboard, the pipe, holes
// sent again before new data); without it, NewReno's. An option the Config
// does not offer is never agreed, and its code folds away (offered.hpp).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>

#include <uni/core/counters.hpp>
#include <uni/core/function_ref.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/view_chain.hpp>
#include <uni/net/ipv4_address.hpp>
#include <uni/net/tcp/congestion.hpp>
#include <uni/net/tcp/drop.hpp>
#include <uni/net/tcp/offered.hpp>
#include <uni/net/tcp/rtt.hpp>
#include <uni/net/tcp/scoreboard.hpp>
#include <uni/net/tcp/segment.hpp>
#include <uni/net/tcp/seq.hpp>
#include <uni/net/tcp/view_ring.hpp>

namespace uni::tcp {

enum class state : std::uint8_t {
  closed, syn_sent, syn_received, established, fin_wait_1, fin_wait_2, close_wait, closing, last_ack, time_wait
};

constexpr std::string_view to_string(state s) noexcept {
  constexpr std::string_view names[] = {"CLOSED",     "SYN-SENT",   "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
                                        "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING",      "LAST-ACK",    "TIME-WAIT"};
  return names[static_cast<std::size_t>(s)];
}

struct connection_stats {
  std::uint64_t segments_in = 0, segments_out = 0, retransmits = 0, fast_retransmits = 0, timeouts = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0;
};

struct endpoints {
  ipv4_address local_ip{}, remote_ip{};
  std::uint16_t local_port = 0, remote_port = 0;
  friend constexpr bool operator==(const endpoints&, const endpoints&) noexcept = default;
};

template <class Config, CongestionControl CC = NewReno>
class connection {
 public:
  // What goes out: a whole header (its ports from ends()) and the payload.
  using output_fn = function_ref<void(const header&, std::span<const view> payload)>;
  // Views of application data one segment may carry (each a writev fragment).
  static constexpr std::size_t segment_views = Config::tcp_segment_views;
  static constexpr std::uint32_t mss_default = 536;       // RFC 9293 §3.7.1 when the peer sends none
  static constexpr std::uint32_t timestamp_option = 12;  // padded, as every segment carries it
  // The options our SYNs offer: the only ones a peer may use, so the only ones
  // whose code is in the image (uni/net/tcp/offered.hpp).
  static constexpr offered_options offered = offered_options::of<Config>();

  // The layer value-initializes its connections (emplace() with no argument):
  // the object is zeroed in one go, then only what starts non-zero is stored,
  // where a constructor of its own would store every field one by one. The
  // scheduler comes after, through attach().
  connection() noexcept = default;
  explicit connection(scheduler& s) noexcept { attach(s); }
  void attach(scheduler& s) noexcept { events_.emplace(s); }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // ---- Opening ----------------------------------------------------------------------

  // Each opens a fresh connection (one life per connection: see begin()).
  // Active open (RFC 9293 §3.10.1): sends SYN.
  void open_active(const endpoints& ep, seq32 iss, std::uint16_t local_mss, std::uint32_t ts_offset,
                   time_point now) noexcept {
    begin(ep, iss, local_mss, ts_offset);
    state_ = state::syn_sent;
    send_syn(now);
  }

  // Passive open from a SYN that reached a listener (§3.10.7.2): sends SYN-ACK.
  void open_passive(const endpoints& ep, const header& syn, seq32 iss, std::uint16_t local_mss,
                    std::uint32_t ts_offset, time_point now) noexcept {
    begin(ep, iss, local_mss, ts_offset);
    state_ = state::syn_received;
    irs_ = syn.seq;
    rcv_nxt_ = rcv_adv_ = syn.seq + 1;
    take_syn_options(syn);
    snd_wnd_ = syn.window;  // never scaled in a SYN (RFC 7323 §2.2)
    snd_wl1_ = syn.seq;
    send_syn(now);
  }

  // ---- Input --------------------------------------------------------------------------

  // Out of line: see layer::input.
  [[gnu::noinline]] void on_segment(const header& h, view_chain&& data, time_point now) noexcept {
    ++stats_.segments_in;
    if (state_ == state::closed) return;
    if (state_ == state::syn_sent) return syn_sent_input(h, now);
    const std::uint32_t seg_len =
        static_cast<std::uint32_t>(data.length()) + (h.has(syn) ? 1u : 0u) + (h.has(fin) ? 1u : 0u);

    // RFC 7323 §5.3 PAWS: a timestamp older than TS.Recent is a segment from an old incarnation.
    if (ts_ok_ && h.opts.timestamps && !h.has(rst) &&
        static_cast<std::int32_t>(h.opts.timestamps->first - ts_recent_) < 0) {
      drop(tcp_drop::paws);
      return send_ack(now);
    }
    // §3.10.7.4 first: is the segment in the window?
    if (!acceptable(h.seq, seg_len)) {
#ifdef UNI_TCP_TRACE
      std::fprintf(stderr, "%p oow seq %u len %u flags %x ack %u rcv_nxt %u rcv_adv %u st %d\n", (void*)this, h.seq.value, seg_len, h.flags, h.ack_number.value, rcv_nxt_.value, rcv_adv_.value, (int)state_);
#endif
      drop(h.has(rst) ? tcp_drop::rst_out_of_window : tcp_drop::out_of_window);
      if (!h.has(rst)) send_ack(now);
      return;
    }
    // RFC 7323 §4.3: record the timestamp of the segment that covers the last ACK we sent.
    if (ts_ok_ && h.opts.timestamps && h.seq <= last_ack_sent_) ts_recent_ = h.opts.timestamps->first;

    // Second: RST. RFC 5961 §3.2: only an exact hit resets; in-window draws a challenge.
    if (h.has(rst)) {
      if (h.seq != rcv_nxt_) return challenge_ack(now);
      return fail(state_ == state::syn_received && passive_ ? error::refused : error::reset);
    }
    // Fourth: SYN in a synchronized state. RFC 5961 §4.2: challenge ACK, drop.
    if (h.has(syn)) {
      if (state_ == state::syn_received && h.seq == irs_) return send_syn(now);  // our SYN-ACK was lost
      return challenge_ack(now);
    }
    // Fifth: ACK.
    if (!h.has(ack)) return drop(tcp_drop::no_ack);
    if (state_ == state::syn_received) {
      if (!(snd_una_ < h.ack_number && h.ack_number <= snd_nxt_)) return send_reset(h.ack_number);
      become_established(h);
    }
    // RFC 5961 §5.2: ACK of something never sent is answered; one too old is challenged.
    if (h.ack_number > snd_max_) {
      drop(tcp_drop::ack_unsent);
      return send_ack(now);
    }
    if (h.ack_number < snd_una_ - max_snd_wnd_) return challenge_ack(now);
    process_ack(h, seg_len, now);
    if (state_ == state::closed || state_ == state::time_wait) return;

    // Seventh: the segment's data (only where the peer may still send).
    if (data.length() > 0 && can_receive()) receive_data(h.seq + (h.has(syn) ? 1u : 0u), std::move(data), h.has(fin), now);
    else if (h.has(fin) && can_receive()) receive_fin(h.seq + static_cast<std::uint32_t>(data.length()), now);
    output(now);
  }

  // ---- Time ---------------------------------------------------------------------------

  time_point next_deadline() const noexcept {  // pairwise: std::min of a list copies and walks it
    return std::min(std::min(std::min(rto_at_, delack_at_), std::min(persist_at_, keepalive_at_)), time_wait_at_);
  }

  void on_timer(time_point now) noexcept {
    if (time_wait_at_ <= now) {
      time_wait_at_ = time_never;
      return close_now();
    }
    if (rto_at_ <= now) retransmission_timeout(now);
    if (state_ == state::closed) return;
    if (delack_at_ <= now) send_ack(now);
    if (persist_at_ <= now) {
      // A peer that answers no probe is gone (RFC 1122 §4.2.2.17 probes while it
      // answers); one that keeps an orphaned connection's window shut for ever
      // is not served for ever either.
      if (++probes_ > Config::tcp_max_retries) return fail(error::timed_out);
      persist_at_ = time_never;
      if (snd_wnd_ == 0) {
        send_probe(now);  // an old sequence number, to elicit an ACK with the window
      } else {
        sws_override_ = true;  // RFC 1122 §4.2.3.4: the override timeout sends what fits
        output(now);
      }
      if (persist_at_ == time_never) {  // still held back: again, later
        persist_backoff_ = std::min(persist_backoff_ + 1, 6u);
        persist_at_ = now + std::min(rtt_.rto() * (1 << persist_backoff_), duration(std::chrono::seconds(60)));
      }
    }
    if (keepalive_at_ <= now) keepalive(now);
  }

  // ---- Application --------------------------------------------------------------------

  state current_state() const noexcept { return state_; }
  error failure() const noexcept { return error_; }
  bool established() const noexcept { return state_ != state::syn_sent && state_ != state::syn_received && state_ != state::closed; }
  bool readable() const noexcept { return !recv_.empty() || peer_closed_ || error_ != error::none; }
  bool peer_closed() const noexcept { return peer_closed_; }
  std::size_t send_space() const noexcept {
    const std::size_t used = send_.bytes();
    return used >= Config::tcp_send_buffer || send_.full() ? 0 : Config::tcp_send_buffer - used;
  }
  bool can_write() const noexcept {
    return !fin_queued_ && (state_ == state::established || state_ == state::close_wait);
  }
  wait_queue& events() noexcept { return *events_; }
  const endpoints& ends() const noexcept { return ep_; }
  const connection_stats& statistics() const noexcept { return stats_; }
  const rtt_estimator& rtt() const noexcept { return rtt_; }
  const CC& congestion() const noexcept { return cc_; }
  std::uint32_t send_mss() const noexcept { return smss_; }
  bool timestamps_enabled() const noexcept { return ts_ok_; }
  bool sack_enabled() const noexcept { return sack_ok_; }
  std::uint8_t send_window_scale() const noexcept { return snd_wscale_; }
  // The send sequence space, for traces (uni/net/tcp/trace_probe.hpp).
  seq32 send_unacknowledged() const noexcept { return snd_una_; }
  seq32 send_next() const noexcept { return snd_nxt_; }
  std::size_t send_buffered() const noexcept { return send_.bytes(); }

  void set_output(output_fn out) noexcept { out_ = out; }
  void set_pool(const page_pool* p) noexcept { pool_ = p; }
  void set_drop_counter(layer_counters<tcp_drop>* c) noexcept { drops_ = c; }
  void set_nodelay(bool on) noexcept { nodelay_ = on; }
  void set_keepalive(bool on, time_point now) noexcept {
    keepalive_on_ = on;
    keepalive_at_ = on && established() ? now + Config::tcp_keepalive_idle : time_never;
  }

  // Queues `v` (not copied) and sends what the windows allow; false when the buffer is full.
  bool write(view v, time_point now) noexcept {
    if (!queue(std::move(v))) return false;
    output(now);
    return true;
  }
  // Queues `v` without sending, for a writer with more views to come: push()
  // then sends them together, so views that fit one segment leave as one.
  bool queue(view v) noexcept { return can_write() && v.size() <= send_space() && send_.push(std::move(v)); }
  // Whether queue() would take all of `bytes` bytes in `views` views now.
  bool can_queue(std::size_t bytes, std::size_t views) const noexcept {
    return can_write() && bytes <= send_space() && send_.count() + views <= Config::tcp_send_views;
  }
  void push(time_point now) noexcept { output(now); }
  // Takes the next received view, whole (as its segment brought it); the
  // window reopens as space frees.
  view read(time_point now) noexcept {
    view v = recv_.take_front();
    // RFC 1122 §4.2.3.3 (receiver SWS avoidance): a window update of its own
    // only when the offered window was nearly shut or can grow by half the buffer;
    // otherwise the next ACK carries the larger window anyway. A nearly shut
    // window's update goes at once (the sender is stalled). Growth by half the
    // buffer is owed, not sent: the layer flushes owed ACKs once the turn's
    // frames and reads are through, so an application reading a burst page by
    // page sends no update of its own every half buffer beside the ACK the burst
    // owes (on TAP each is a write that also runs the sender's ACK processing).
    const std::uint32_t offered = rcv_adv_ > rcv_nxt_ ? rcv_adv_ - rcv_nxt_ : 0;
    const std::uint32_t now_open = receive_window();
    if (!can_receive() || now_open <= offered) return v;
    if (offered < smss_) send_ack(now);
    else if (now_open - offered >= Config::tcp_receive_buffer / 2) ack_owed_ = true;
    return v;
  }
  // Half-close: a FIN goes after the queued data (§3.10.4).
  void shutdown(time_point now) noexcept {
    if (fin_queued_) return;
    switch (state_) {
      case state::syn_sent:
      case state::syn_received: return close_now();  // no application holds these yet
      case state::established: state_ = state::fin_wait_1; break;
      case state::close_wait: state_ = state::last_ack; break;
      default: return;
    }
    fin_queued_ = true;
    fin_seq_ = snd_una_ + static_cast<std::uint32_t>(send_.bytes());
    output(now);
  }
  // §3.10.5: RST and forget.
  void abort() noexcept {
    if (state_ != state::closed && state_ != state::syn_sent && state_ != state::time_wait && state_ != state::syn_received)
      send_reset(snd_nxt_);
    fail(error::reset);
    error_ = error::closed;
  }

 private:
  // ---- Helpers ------------------------------------------------------------------------

  // A connection serves one life: it is opened once, freshly constructed (the
  // layer constructs one each time it gives a slot out), so what is not set
  // here starts from its member's initializer.
  void begin(const endpoints& ep, seq32 iss, std::uint16_t local_mss, std::uint32_t ts_offset) noexcept {
    ep_ = ep;
    iss_ = snd_una_ = snd_nxt_ = snd_max_ = recover_ = high_rxt_ = iss;
    local_mss_ = local_mss;
    ts_offset_ = ts_offset;
  }

  bool can_receive() const noexcept {
    return state_ == state::established || state_ == state::fin_wait_1 || state_ == state::fin_wait_2;
  }

  void drop(tcp_drop d) noexcept {
    if (drops_) drops_->drop(d);
  }

  // What we can still take: the byte budget, the views left (a segment each),
  // and the global budget, the pool's free pages above half its reserve. Data
  // may dig into the reserve that applications cannot take (page_pool::reserve):
  // when their writes have taken the rest, received data must still arrive, to
  // be read and free pages; the other half is left for headers and ACKs.
  std::uint32_t receive_window() const noexcept {
    std::size_t held = recv_.bytes();
    for (std::size_t i = 0; i < ooo_count_; ++i) held += ooo_[i].data.size();
    std::size_t room = held >= Config::tcp_receive_buffer ? 0 : Config::tcp_receive_buffer - held;
    room = std::min(room, (Config::tcp_receive_views - recv_.count()) * std::size_t{smss_});
    if (pool_) {
      const std::size_t free = pool_->available(), floor = pool_->reserved() / 2;
      room = std::min(room, free > floor ? (free - floor) * std::size_t{smss_} : 0);
    }
    return static_cast<std::uint32_t>(room);
  }

  // §3.10.7.4: the four cases of segment acceptability.
  bool acceptable(seq32 seq, std::uint32_t len) const noexcept {
    const std::uint32_t wnd = rcv_adv_ > rcv_nxt_ ? rcv_adv_ - rcv_nxt_ : 0;
    // An empty segment may sit on the right edge (a bare ACK from a sender that filled our window).
    if (len == 0) return wnd == 0 ? seq == rcv_nxt_ : in_window(seq, rcv_nxt_, rcv_nxt_ + wnd + 1);
    if (wnd == 0) return false;
    return in_window(seq, rcv_nxt_, rcv_nxt_ + wnd) || in_window(seq + (len - 1), rcv_nxt_, rcv_nxt_ + wnd);
  }

  void take_syn_options(const header& syn) noexcept {
    smss_ = std::min<std::uint32_t>(syn.opts.mss ? *syn.opts.mss : mss_default, local_mss_);
    if (smss_ < 64) smss_ = 64;  // absurd MSS values are clamped, not trusted
    // RFC 7323 §2.2: both sides scale only if both offered it.
    ws_ok_ = Config::tcp_window_scaling && syn.opts.window_scale.has_value();
    snd_wscale_ = ws_ok_ ? *syn.opts.window_scale : 0;
    rcv_wscale_ = ws_ok_ ? our_window_scale() : 0;
    ts_ok_ = Config::tcp_timestamps && syn.opts.timestamps.has_value();
    if (ts_ok_) ts_recent_ = syn.opts.timestamps->first;
    sack_ok_ = Config::tcp_sack && syn.opts.sack_permitted;
    // RFC 6691: the MSS counts no options, so data shrinks by what every segment carries.
    if (ts_ok_) smss_ -= timestamp_option;
    cc_.init(smss_);
  }
  static constexpr std::uint8_t our_window_scale() noexcept {
    std::uint8_t s = 0;
    while (s < 14 && (std::size_t{65535} << s) < Config::tcp_receive_buffer) ++s;
    return s;
  }

  void set_send_window(const header& h) noexcept {
    snd_wnd_ = static_cast<std::uint32_t>(h.window) << snd_wscale_;
    snd_wl1_ = h.seq;
    snd_wl2_ = h.ack_number;
    max_snd_wnd_ = std::max(max_snd_wnd_, snd_wnd_);
  }

  std::uint32_t ts_now(time_point now) const noexcept {
    return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count()) +
           ts_offset_;
  }

  // ---- Output -------------------------------------------------------------------------

  // Sends one segment; returns the payload bytes it could carry (fewer than
  // `data_len` when the data is spread over more views than a segment holds).
  std::size_t emit(seq32 seq, std::uint8_t flags, std::size_t data_offset, std::size_t data_len, time_point now) noexcept {
    header h = fresh_header(seq, flags);
    if (flags & ack) h.ack_number = rcv_nxt_;
    const bool syn_segment = flags & syn;
    // The window: never shrink the right edge we already offered (§3.8.6.2.2).
    std::uint32_t wnd = receive_window();
    if (rcv_nxt_ + wnd < rcv_adv_) wnd = rcv_adv_ - rcv_nxt_;
    const std::uint8_t scale = syn_segment ? 0 : rcv_wscale_;
    h.window = static_cast<std::uint16_t>(std::min<std::uint32_t>(wnd >> scale, 65535));
    rcv_adv_ = max(rcv_adv_, rcv_nxt_ + (static_cast<std::uint32_t>(h.window) << scale));
    // A SYN offers every option the Config offers; a SYN-ACK and every later
    // segment carry only those agreed (TS.Recent is 0 until a SYN set it).
    const bool offer = syn_segment && state_ != state::syn_received;
    if (offer ? offered.timestamps : ts_ok_) h.opts.timestamps = std::pair{ts_now(now), std::uint32_t{ts_recent_}};
    if (syn_segment) {
      h.opts.mss = local_mss_;
      if (offer ? offered.window_scale : ws_ok_) h.opts.window_scale = offer ? our_window_scale() : rcv_wscale_;
      h.opts.sack_permitted = offer ? offered.sack : sack_ok_;
    } else if (sack_ok_ && ooo_count_ > 0) {
      add_sack_blocks(h.opts);
    }
    basic_view_chain<segment_views> payload;
    // SACK blocks take room from the data (the timestamps are already counted in smss_).
    const std::size_t room = smss_ + (ts_ok_ ? timestamp_option : 0) - h.opts.wire_size<offered>();
    if (data_len > room) {
      data_len = room;
      h.flags &= static_cast<std::uint8_t>(~(fin | psh));
    }
    if (data_len > 0) {
      send_.copy_range(data_offset, data_len, payload);
      if (payload.length() < data_len) h.flags &= static_cast<std::uint8_t>(~(fin | psh));  // the rest follows
    }
    if (flags & ack) {
      last_ack_sent_ = rcv_nxt_;
      delack_at_ = time_never;
      unacked_segments_ = 0;
      ack_owed_ = false;
    }
    ++stats_.segments_out;
    stats_.bytes_out += payload.length();
    if (out_) out_(h, payload.views());
    return payload.length();
  }

  // RFC 2018 §4: the first block holds the most recent segment; up to 3 with timestamps.
  void add_sack_blocks(options& o) const noexcept {
    const std::size_t room = ts_ok_ ? 3 : 4;
    for (std::size_t i = 0; i < ooo_count_; ++i) {
      const seq32 left = ooo_[i].seq, right = left + static_cast<std::uint32_t>(ooo_[i].data.size());
      if (o.sack_count > 0 && o.sack[o.sack_count - 1].right == left) o.sack[o.sack_count - 1].right = right;  // contiguous
      else if (o.sack_count < room) o.sack[o.sack_count++] = {left, right};
      else break;
    }
  }

  void send_syn(time_point now) noexcept {
    (void)emit(iss_, state_ == state::syn_received ? (syn | ack) : syn, 0, 0, now);
    snd_nxt_ = iss_ + 1;
    snd_max_ = max(snd_max_, snd_nxt_);
    if (rto_at_ == time_never) rto_at_ = now + rtt_.rto();
    if (!ts_ok_ && !rtt_timing_) start_rtt(iss_, now);
  }
  // A bare ACK carries SND.MAX, not SND.NXT (as BSD does): after a timeout
  // pulls SND.NXT back, an older sequence number would fall left of the peer's
  // window and the peer would drop the very ACK it is waiting for.
  void send_ack(time_point now) noexcept { (void)emit(snd_max_, ack, 0, 0, now); }
  void send_probe(time_point now) noexcept { (void)emit(snd_una_ - 1, ack, 0, 0, now); }
  // RFC 5961 §7: challenge ACKs are rate limited (per connection here).
  void challenge_ack(time_point now) noexcept {
    drop(tcp_drop::challenge_ack);
    if (now - last_challenge_ < std::chrono::milliseconds(10)) return;
    last_challenge_ = now;
    send_ack(now);
  }
  // A header of ours: our ports, `seq` and `flags`.
  header fresh_header(seq32 seq, std::uint8_t flags) const noexcept {
    header h;
    h.source_port = ep_.local_port;
    h.destination_port = ep_.remote_port;
    h.seq = seq;
    h.flags = flags;
    return h;
  }
  void send_reset(seq32 seq) noexcept {
    const header h = fresh_header(seq, rst);
    ++stats_.segments_out;
    if (out_) out_(h, {});
  }

  // Sends what the windows allow (§3.8.6, RFC 5681, Nagle's RFC 896 rule).
  void output(time_point now) noexcept {
    if (state_ == state::closed || state_ == state::syn_sent || state_ == state::time_wait) return;
    if (state_ == state::syn_received) {
      if (unacked_segments_ > 0) send_ack(now);  // never happens before the handshake ends
      return;
    }
    if (in_recovery_ && sack_ok_) {
      sack_output(now);
      if (ack_now_) send_ack(now);
      ack_now_ = false;
      return;
    }
    bool sent_any = false;
    while (true) {
      const std::size_t queued = send_.bytes();
      const std::size_t sent = std::min<std::size_t>(snd_nxt_ - snd_una_, queued);
      const std::size_t unsent = queued - sent;
      const std::uint32_t flight = snd_nxt_ - snd_una_;
      const std::uint32_t wnd = std::min(snd_wnd_, cc_.window());
      const std::uint32_t usable = wnd > flight ? wnd - flight : 0;
      const std::size_t len = std::min<std::size_t>({unsent, smss_, usable});
      // The FIN rides on the segment that carries the last queued byte.
      const bool fin_now = fin_queued_ && snd_nxt_ <= fin_seq_ && len == unsent;
      if (len == 0 && !fin_now) break;
      // Sender SWS avoidance (RFC 1122 §4.2.3.4) with Nagle's rule (RFC 896):
      // a short segment goes only if it is all there is and nothing is in
      // flight (or Nagle is off), or it fills half the largest window seen.
      const bool all_of_it = len == unsent && (nodelay_ || flight == 0 || fin_now);
      if (len > 0 && len < smss_ && !all_of_it && !sws_override_ && !(max_snd_wnd_ > 0 && len >= max_snd_wnd_ / 2))
        break;
      std::uint8_t flags = ack;
      if (len > 0 && len == unsent) flags |= psh;
      if (fin_now) flags |= fin;
      const std::size_t carried = emit(snd_nxt_, flags, sent, len, now);
      const bool fin_sent = fin_now && carried == len;
      sent_any = true;
      if (!ts_ok_ && !rtt_timing_ && carried > 0 && snd_nxt_ == snd_max_) start_rtt(snd_nxt_, now);
      snd_nxt_ += static_cast<std::uint32_t>(carried) + (fin_sent ? 1u : 0u);
      snd_max_ = max(snd_max_, snd_nxt_);
      if (rto_at_ == time_never) rto_at_ = now + rtt_.rto();
      if (fin_sent) break;
    }
    sws_override_ = false;
    // Data waiting with nothing in flight (a shut window, or one too small to
    // use): no ACK will come to clock it out, so the persist timer must.
    const bool blocked = send_.bytes() > static_cast<std::size_t>(snd_nxt_ - snd_una_) && snd_nxt_ == snd_una_;
    if (blocked && persist_at_ == time_never) {
      persist_backoff_ = 0;
      persist_at_ = now + rtt_.rto();
    } else if (!blocked) {
      persist_at_ = time_never;
    }
    if (!sent_any && ack_now_) send_ack(now);
    ack_now_ = false;
  }

  // RFC 6675 §5 (C): while the pipe leaves a segment's room under cwnd (ssthresh
  // in recovery), send the next hole below the highest SACK, else new data.
  // `first`: the fast retransmit itself goes whatever the pipe (§5 step 4.3).
  void sack_output(time_point now, bool first = false) noexcept {
    while (true) {
      if (!first && sacked_.pipe(snd_una_, snd_max_, high_rxt_) + smss_ > cc_.ssthresh()) break;
      first = false;
      seq32 left, right;
      if (sacked_.next_hole(max(high_rxt_, snd_una_), left, right)) {
        const std::size_t offset = left - snd_una_;
        const std::size_t len = std::min<std::size_t>({right - left, smss_, send_.bytes() - std::min(send_.bytes(), offset)});
        if (len == 0) break;
        const std::size_t carried = emit(left, ack, offset, len, now);
        high_rxt_ = left + static_cast<std::uint32_t>(carried);
        ++stats_.retransmits;
        rtt_timing_ = false;  // Karn
        continue;
      }
      const std::size_t offset = snd_nxt_ - snd_una_;
      const std::uint32_t usable = snd_una_ + snd_wnd_ > snd_nxt_ ? (snd_una_ + snd_wnd_) - snd_nxt_ : 0;
      const std::size_t len = std::min<std::size_t>({send_.bytes() - std::min(send_.bytes(), offset), smss_, usable});
      if (len == 0) break;
      snd_nxt_ += static_cast<std::uint32_t>(emit(snd_nxt_, ack, offset, len, now));
      snd_max_ = max(snd_max_, snd_nxt_);
    }
    if (rto_at_ == time_never && snd_una_ != snd_max_) rto_at_ = now + rtt_.rto();
  }

  // Sends again the first unacknowledged segment (fast retransmit, partial ACK).
  void retransmit_first(time_point now) noexcept {
    const std::size_t len = std::min<std::size_t>(send_.bytes(), smss_);
    const bool with_fin = fin_queued_ && snd_una_ + static_cast<std::uint32_t>(len) == fin_seq_;
    if (len == 0 && !with_fin) return;
    (void)emit(snd_una_, static_cast<std::uint8_t>(ack | (with_fin ? fin : 0)), 0, len, now);
    ++stats_.retransmits;
    rtt_timing_ = false;  // Karn: never time a retransmitted segment
  }

  // The handshake's ACK came (SYN-RECEIVED, or SYN-SENT's SYN-ACK).
  void become_established(const header& h) noexcept {
    state_ = state::established;
    snd_una_ = h.ack_number;
    set_send_window(h);
    rto_at_ = time_never;
    retries_ = 0;
    events_->notify_all();
  }

  // An RTT sample from the echoed timestamp (RFC 7323 §4.1), else from the one
  // timed segment if `h` acknowledges it.
  void sample_rtt(const header& h, time_point now) noexcept {
    if (ts_ok_ && h.opts.timestamps && h.opts.timestamps->second != 0) {
      rtt_.sample(std::chrono::milliseconds(ts_now(now) - h.opts.timestamps->second));
    } else if (rtt_timing_ && h.ack_number > rtt_seq_) {
      rtt_.sample(now - rtt_start_);
      rtt_timing_ = false;
    }
  }

  void start_rtt(seq32 seq, time_point now) noexcept {
    rtt_timing_ = true;
    rtt_seq_ = seq;
    rtt_start_ = now;
  }

  // ---- ACK processing (§3.10.7.4 fifth, RFC 5681 §3.2, RFC 6582 §3.2) ----------------

  void process_ack(const header& h, std::uint32_t seg_len, time_point now) noexcept {
    const seq32 a = h.ack_number;
    const std::uint32_t flight_before = snd_nxt_ - snd_una_;
    const std::uint32_t old_wnd = snd_wnd_;
    // RFC 6675 §2: an ACK whose SACK blocks report new data counts as a duplicate.
    bool new_sack = false;
    if (sack_ok_)
      for (std::size_t i = 0; i < h.opts.sack_count; ++i) new_sack |= sacked_.add(h.opts.sack[i], max(a, snd_una_), snd_max_);
    if (a > snd_una_) {
      std::uint32_t acked = a - snd_una_;
      sample_rtt(h, now);
      if (snd_una_ == iss_) --acked;  // the SYN's sequence number
      const bool fin_acked = fin_queued_ && snd_una_ <= fin_seq_ && a > fin_seq_;
      const std::uint32_t data_acked = acked - (fin_acked ? 1u : 0u);
      send_.drop_front(data_acked);
      snd_una_ = a;
      if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;
      if (sack_ok_) sacked_.advance(snd_una_);  // (the scoreboard holds nothing without SACK)
      retries_ = 0;
      if (in_recovery_) {
        if (a >= recover_) {
          in_recovery_ = false;
          cc_.exit_recovery(snd_nxt_ - snd_una_);
        } else {
          if (!sack_ok_) retransmit_first(now);  // with SACK, output() sends the next holes
          cc_.on_partial_ack(acked);
        }
      } else {
        cc_.on_ack(acked, flight_before);
      }
      dupacks_ = 0;
      rto_at_ = snd_una_ == snd_max_ ? time_never : now + rtt_.rto();
      if (fin_acked) our_fin_acked(now);
      events_->notify_all();  // room to write, or a state change
    } else if (a == snd_una_ && seg_len == 0 && flight_before > 0 &&
               (new_sack || (!sack_ok_ && h.window == (old_wnd >> snd_wscale_)))) {
      // A duplicate ACK (RFC 5681 §2; with SACK, RFC 6675 §2).
      ++dupacks_;
      if (in_recovery_) cc_.on_dup_ack();
    }
    // Loss: the third duplicate (RFC 5681 §3.2), or three segments' worth
    // SACKed above SND.UNA (RFC 6675 §5 IsLost), unless it belongs to a
    // recovery already under way (RFC 6582 §3.2 step 1).
    if (!in_recovery_ && flight_before > 0 && a > recover_ - 1 &&
        (dupacks_ >= 3 || (sack_ok_ && sacked_.sacked_bytes() >= 3 * smss_))) {
      in_recovery_ = true;
      recover_ = snd_max_;
      high_rxt_ = snd_una_;
      cc_.enter_recovery(flight_before);
      ++stats_.fast_retransmits;
      if (sack_ok_) sack_output(now, true);
      else retransmit_first(now);
    }
    // Window update, if the segment is newer than the last one that set it.
    if (snd_wl1_ < h.seq || (snd_wl1_ == h.seq && snd_wl2_ <= a)) {
      set_send_window(h);
      if (snd_wnd_ > old_wnd) events_->notify_all();
    }
    if (keepalive_on_) {
      keepalive_at_ = now + Config::tcp_keepalive_idle;
      keepalive_probes_ = 0;
    }
    if (!orphaned_) probes_ = 0;  // an answer: the peer is alive (orphans get a fixed number)
  }

  void our_fin_acked(time_point now) noexcept {
    switch (state_) {
      case state::fin_wait_1:
        state_ = state::fin_wait_2;
        if (orphaned_) time_wait_at_ = now + Config::tcp_fin_wait_2;
        break;
      case state::closing: enter_time_wait(now); break;
      case state::last_ack: close_now(); break;
      default: break;
    }
  }

  // ---- Receiving data (§3.10.7.4 seventh and eighth) ---------------------------------

  void receive_data(seq32 seq, view_chain&& data, bool with_fin, time_point now) noexcept {
    // Trim what we already have and what lies beyond the window (one subchain for both).
    std::size_t old = 0;
    if (seq < rcv_nxt_) {
      old = rcv_nxt_ - seq;
      seq = rcv_nxt_;
    }
    const std::uint32_t wnd = rcv_adv_ > rcv_nxt_ ? rcv_adv_ - rcv_nxt_ : 0;
    std::size_t len = data.length() - std::min(old, data.length());
    if (len > wnd - (seq - rcv_nxt_)) {
      len = wnd - (seq - rcv_nxt_);
      with_fin = false;
    }
    if (len < data.length()) data = data.subchain(old, len);
    stats_.bytes_in += data.length();
    if (seq == rcv_nxt_) {
      for (view& v : data) {
        if (!recv_.push(v)) {  // out of slots: what did not fit is not acknowledged
          drop(tcp_drop::buffer_full);
          with_fin = false;
          break;
        }
        rcv_nxt_ += static_cast<std::uint32_t>(v.size());
      }
      const bool had_ooo = ooo_count_ > 0;
      pull_in_order(now);
      if (with_fin) receive_fin(rcv_nxt_, now);
      // Every second full segment is acknowledged at once (RFC 5681 §4.2), gaps
      // being filled too (§4.2: immediately when the out-of-order queue shrinks).
      // The every-second-segment ACK is owed, not sent here: the layer sends it
      // once the device's batch of frames is through (flush_ack), so a burst of
      // segments draws one ACK, as with Linux's receive offloads. The delayed
      // ACK timer stays armed behind it in case nobody flushes.
      if (had_ooo || peer_closed_) ack_now_ = true;
      else if (++unacked_segments_ >= 2) ack_owed_ = true;
      if (!ack_now_ && delack_at_ == time_never) delack_at_ = now + Config::tcp_delayed_ack;
      events_->notify_all();
    } else {
      // Out of order: keep it (bounded) and send a duplicate ACK at once (RFC 5681 §4.2).
      store_out_of_order(seq, data, with_fin);
      ack_now_ = true;
    }
  }

  void store_out_of_order(seq32 seq, const view_chain& data, bool with_fin) noexcept {
    seq32 s = seq;
    for (const view& v : data) {
      if (ooo_count_ == ooo_.size()) {
        drop(tcp_drop::ooo_full);
        return;
      }
      std::size_t at = 0;
      while (at < ooo_count_ && ooo_[at].seq < s) ++at;
      if (at < ooo_count_ && ooo_[at].seq == s) {  // a retransmission of what we hold
        s += static_cast<std::uint32_t>(v.size());
        continue;
      }
      for (std::size_t i = ooo_count_; i > at; --i) ooo_[i] = std::move(ooo_[i - 1]);
      ooo_[at] = ooo_segment{s, v, false};
      ++ooo_count_;
      s += static_cast<std::uint32_t>(v.size());
    }
    if (with_fin && ooo_count_ > 0) {
      for (std::size_t i = 0; i < ooo_count_; ++i)
        if (ooo_[i].seq + static_cast<std::uint32_t>(ooo_[i].data.size()) == s) ooo_[i].fin = true;
    }
  }

  // Moves queued out-of-order data that now continues the stream into the buffer.
  void pull_in_order(time_point now) noexcept {
    std::size_t used = 0;
    bool fin_after = false;
    for (; used < ooo_count_; ++used) {
      ooo_segment& o = ooo_[used];
      const seq32 end = o.seq + static_cast<std::uint32_t>(o.data.size());
      if (o.seq > rcv_nxt_) break;
      if (end > rcv_nxt_) {
        view part = o.data.tail(rcv_nxt_ - o.seq);
        if (!recv_.push(part)) break;
        rcv_nxt_ = end;
      }
      if (o.fin && end == rcv_nxt_) fin_after = true;
    }
    for (std::size_t i = 0; i + used < ooo_count_; ++i) ooo_[i] = std::move(ooo_[i + used]);
    for (std::size_t i = ooo_count_ - used; i < ooo_count_; ++i) ooo_[i] = ooo_segment{};
    ooo_count_ -= used;
    if (fin_after) peer_fin(now);
  }

  void receive_fin(seq32 fin_seq, time_point now) noexcept {
    if (fin_seq != rcv_nxt_) return;  // data before it is missing: it will come again
    peer_fin(now);
  }

  void peer_fin(time_point now) noexcept {
    if (peer_closed_) return;
    rcv_nxt_ += 1;
    peer_closed_ = true;
    ack_now_ = true;
    switch (state_) {
      case state::established: state_ = state::close_wait; break;
      case state::fin_wait_1: state_ = state::closing; break;  // simultaneous close
      case state::fin_wait_2: enter_time_wait(now); break;
      default: break;
    }
    events_->notify_all();
  }

  // One copy, not inlined: FIN-WAIT-2 (the peer's FIN) and CLOSING (our FIN's ACK) both come here.
  [[gnu::noinline]] void enter_time_wait(time_point now) noexcept {
    state_ = state::time_wait;
    time_wait_at_ = now + Config::tcp_time_wait;
    rto_at_ = persist_at_ = keepalive_at_ = time_never;
    send_ack(now);
    events_->notify_all();
  }

  // ---- SYN-SENT (§3.10.7.3) ----------------------------------------------------------

  void syn_sent_input(const header& h, time_point now) noexcept {
    if (h.has(ack) && (h.ack_number <= iss_ || h.ack_number > snd_max_)) {
      if (!h.has(rst)) send_reset(h.ack_number);
      return;
    }
    if (h.has(rst)) {
      if (h.has(ack)) fail(error::refused);  // an acceptable ACK with RST: refused
      return;
    }
    if (!h.has(syn)) return;
    irs_ = h.seq;
    rcv_nxt_ = rcv_adv_ = h.seq + 1;
    take_syn_options(h);
    if (h.has(ack)) {
      sample_rtt(h, now);  // (the SYN, timed or stamped: the ACK is past it)
      rtt_timing_ = false;
      become_established(h);
      if (keepalive_on_) keepalive_at_ = now + Config::tcp_keepalive_idle;
      send_ack(now);
      output(now);
    } else {  // simultaneous open
      state_ = state::syn_received;
      snd_wnd_ = h.window;
      snd_wl1_ = h.seq;
      (void)emit(iss_, syn | ack, 0, 0, now);
    }
  }

  // ---- Timers ---------------------------------------------------------------------------

  void retransmission_timeout(time_point now) noexcept {
    const bool handshake = state_ == state::syn_sent || state_ == state::syn_received;
    if (++retries_ > (handshake ? Config::tcp_syn_retries : Config::tcp_max_retries)) {
      return fail(error::timed_out);
    }
    ++stats_.timeouts;
    rtt_.back_off();
    cc_.on_timeout(snd_nxt_ - snd_una_);
    in_recovery_ = false;
    recover_ = snd_max_;
    if (sack_ok_) sacked_.clear();  // RFC 6675 §5.1: after a timeout, start afresh
    dupacks_ = 0;
    rtt_timing_ = false;  // Karn
    rto_at_ = now + rtt_.rto();
    if (handshake) return send_syn_again(now);
    // Go back N: everything after SND.UNA is sent again as the window allows.
    snd_nxt_ = snd_una_;
    ++stats_.retransmits;
    output(now);
    if (snd_nxt_ == snd_una_) retransmit_first(now);  // e.g. a lone FIN, or a closed window
  }
  void send_syn_again(time_point now) noexcept {
    ++stats_.retransmits;
    (void)emit(iss_, state_ == state::syn_received ? (syn | ack) : syn, 0, 0, now);
  }

  void keepalive(time_point now) noexcept {
    if (!established() || ++keepalive_probes_ > Config::tcp_keepalive_probes) {
      keepalive_at_ = time_never;
      if (established()) fail(error::timed_out);
      return;
    }
    send_probe(now);
    keepalive_at_ = now + Config::tcp_keepalive_interval;
  }

  void fail(error e) noexcept {
    error_ = e;
    recv_.clear();  // RFC 9293 §3.10.7.4: a reset flushes the queues
    close_now();
  }
  void close_now() noexcept {
    state_ = state::closed;
    rto_at_ = delack_at_ = persist_at_ = keepalive_at_ = time_wait_at_ = time_never;
    for (std::size_t i = 0; i < ooo_count_; ++i) ooo_[i] = ooo_segment{};
    ooo_count_ = 0;
    send_.clear();
    events_->notify_all();
  }

 public:
  // The passive side marks itself (a RST in SYN-RECEIVED then just frees it).
  void set_passive() noexcept { passive_ = true; }
  // No application holds the connection any more: a peer that never sends its
  // FIN cannot keep it in FIN-WAIT-2 for ever (Linux's tcp_fin_timeout).
  void orphan(time_point now) noexcept {
    orphaned_ = true;
    if (state_ == state::fin_wait_2) time_wait_at_ = now + Config::tcp_fin_wait_2;
  }
  bool has_unread() const noexcept { return !recv_.empty(); }
  // An ACK for in-order data is owed (see receive_data); flush_ack sends it.
  bool ack_owed() const noexcept { return ack_owed_; }
  void flush_ack(time_point now) noexcept {
    if (ack_owed_ && state_ != state::closed) send_ack(now);
  }

 private:
  struct ooo_segment {
    seq32 seq{};
    view data;
    bool fin = false;
  };

  // The fields most code reads come first: x86 reaches the first 128 bytes
  // of an object with a one-byte offset, the rest with four.
  state state_ = state::closed;
  error error_ = error::none;
  bool passive_ = false, orphaned_ = false, fin_queued_ = false, peer_closed_ = false;
  bool in_recovery_ = false, ack_now_ = false, ack_owed_ = false, nodelay_ = false, keepalive_on_ = false,
       sws_override_ = false, rtt_timing_ = false;
  std::uint16_t local_mss_ = 1460;
  // Send sequence space (§3.3.1).
  seq32 iss_{}, snd_una_{}, snd_nxt_{}, snd_max_{}, snd_wl1_{}, snd_wl2_{}, recover_{}, fin_seq_{};
  seq32 high_rxt_{};  // RFC 6675 HighRxt: the highest byte sent again in this recovery
  std::uint32_t snd_wnd_ = 0, max_snd_wnd_ = 0, smss_ = mss_default;
  // Receive sequence space.
  seq32 irs_{}, rcv_nxt_{}, rcv_adv_{}, last_ack_sent_{};
  time_point rto_at_ = time_never, delack_at_ = time_never, persist_at_ = time_never, keepalive_at_ = time_never,
             time_wait_at_ = time_never;
  std::size_t ooo_count_ = 0;
  // Loss recovery and timing.
  unsigned dupacks_ = 0, retries_ = 0, persist_backoff_ = 0, keepalive_probes_ = 0, unacked_segments_ = 0, probes_ = 0;
  CC cc_{};
  rtt_estimator rtt_{};
  seq32 rtt_seq_{};
  time_point rtt_start_{}, last_challenge_{};
  std::optional<wait_queue> events_;  // set by attach()
  output_fn out_{};
  const page_pool* pool_ = nullptr;
  layer_counters<tcp_drop>* drops_ = nullptr;
  endpoints ep_{};
  connection_stats stats_{};
  // Options agreed in the handshake: constants, and no code or room, for those not offered.
  [[no_unique_address]] option_state<std::uint8_t, offered.window_scale> snd_wscale_{}, rcv_wscale_{};
  [[no_unique_address]] option_state<bool, offered.window_scale> ws_ok_{};
  [[no_unique_address]] option_state<bool, offered.timestamps> ts_ok_{};
  [[no_unique_address]] option_state<bool, offered.sack> sack_ok_{};
  [[no_unique_address]] option_state<std::uint32_t, offered.timestamps> ts_recent_{}, ts_offset_{};
  scoreboard<> sacked_{};
  // Buffers.
  view_ring<Config::tcp_send_views> send_;
  view_ring<Config::tcp_receive_views> recv_;
  std::array<ooo_segment, Config::tcp_out_of_order> ooo_{};
};

}  // namespace uni::tcp
