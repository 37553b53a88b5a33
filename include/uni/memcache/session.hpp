// uni/memcache/session.hpp: one connection's side of memcached's text protocol
// (doc/protocol.txt of memcached 1.6), sans-I/O: received bytes and the time
// come in, answers accumulate in a bounded output buffer.
//
//   memcache::session<> s(cache);
//   std::size_t used = s.receive(bytes, now);   // a prefix of bytes: stops when answers fill the output
//   send(s.output()); s.sent(now);              // frees the output and goes on with a value or get not finished
//   s.closing()                                 // quit, or a command line past the bound: close once sent
//
// Bytes may be split anywhere: a partial line waits in a bounded line buffer,
// a value is copied straight into its item as it arrives, a value too large is
// swallowed. A get whose values do not fit is finished across several sent()
// calls, the item pinned meanwhile. Answers match memcached's byte for byte
// (error strings included), apart from `version` and `stats` values.
//
// Commands: get gets gat gats set add replace append prepend cas delete incr
// decr touch flush_all version verbosity stats (general, settings, items,
// slabs, reset) quit, with noreply; the meta commands mg ms md ma mn with
// memcached 1.6.18's flags (meta.hpp's notes: base64 keys, opaque tokens,
// quiet mode, vivify on miss, early recache, stale items and win tokens).
#pragma once

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include <uni/memcache/cache.hpp>
#include <uni/memcache/meta.hpp>

namespace uni::memcache {

template <std::size_t OutCapacity = 32 * 1024, std::size_t LineCapacity = 16 * 1024>
class session {
  // Room kept free before a command runs: its whole answer fits (a line, a
  // VALUE line, or stats: a few lines per size class).
  static constexpr std::size_t answer_reserve = 8 * 1024;
  static_assert(OutCapacity >= 2 * answer_reserve, "room for a command's answer and some values");

 public:
  static constexpr std::size_t line_capacity = LineCapacity;

  explicit session(cache& c) noexcept : c_(c) {}
  session(const session&) = delete;
  session& operator=(const session&) = delete;
  ~session() {
    if (filling_) c_.items.release(filling_);
    if (sending_) c_.items.release(sending_);
  }

  // Consumes a prefix of `in` (all of it unless blocked()); `now` in Unix seconds.
  std::size_t receive(std::span<const std::uint8_t> in, std::int64_t now) noexcept {
    now_ = now;
    std::size_t pos = 0;
    while (pos < in.size() && !blocked() && !closing_) {
      const std::size_t left = in.size() - pos;
      if (mode_ == mode::data) {
        const std::size_t n = std::min(left, filling_->nbytes - filled_);
        std::memcpy(filling_->data() + filled_, in.data() + pos, n);
        filled_ += n;
        pos += n;
        if (filled_ == filling_->nbytes) finish_store();
      } else if (mode_ == mode::swallow) {
        const std::size_t n = std::min<std::size_t>(left, swallow_);
        swallow_ -= n;
        pos += n;
        if (swallow_ == 0) mode_ = mode::line;
      } else {
        const auto* start = in.data() + pos;
        const auto* nl = static_cast<const std::uint8_t*>(std::memchr(start, '\n', left));
        const std::size_t piece = nl ? static_cast<std::size_t>(nl - start) : left;
        if (line_len_ + piece > LineCapacity) {
          ++c_.n.lines_too_long;  // memcached too closes the connection here
          closing_ = true;
          break;
        }
        pos += nl ? piece + 1 : piece;
        if (!nl) {
          std::memcpy(line_ + line_len_, start, piece);
          line_len_ += piece;
        } else if (line_len_ == 0) {
          command(reinterpret_cast<const char*>(start), piece);
        } else {
          std::memcpy(line_ + line_len_, start, piece);
          const std::size_t n = line_len_ + piece;
          line_len_ = 0;
          command(line_, n);
        }
      }
    }
    c_.n.bytes_read += pos;
    return pos;
  }

  std::span<const std::uint8_t> output() const noexcept { return {out_, out_len_}; }

  // The output was sent: free it and go on with what did not fit.
  void sent(std::int64_t now) noexcept {
    now_ = now;
    c_.n.bytes_written += out_len_;
    out_len_ = 0;
    marks_n_ = 0;
    empty_messages_ = 0;
    flush_point_ = 0;
    if (sending_) continue_value();
    if (!sending_ && get_pending_) {
      get_pending_ = false;
      run_get(get_line_len_, get_cursor_);
    }
  }

  // UDP: memcached sends each command's answer, and each value of a get after
  // the first, as a message of its own. With tracking on, messages() are the
  // offsets in output() where they begin (up to max_messages; later answers
  // join the last); sent() clears them. An empty message is not sent, unless
  // memcached sends it (a datagram of no bytes): a get whose first key missed
  // and that has more keys.
  static constexpr std::size_t max_messages = 64;
  void track_messages(bool on) noexcept { track_ = on; }
  std::span<const std::size_t> messages() const noexcept { return {marks_, marks_n_}; }
  bool sent_when_empty(std::size_t message) const noexcept { return empty_messages_ >> message & 1; }
  // While a value is still coming, memcached sends the answers only up to the
  // end of the last get (or mn, which asks for that); the rest wait for the value.
  std::size_t flush_point() const noexcept { return flush_point_; }
  // A datagram ends what memcached reads: a partial line does not carry over.
  void drop_partial_line() noexcept {
    if (mode_ == mode::line) line_len_ = 0;
  }

  // Bytes of a value still expected (stored or swallowed); 0 between commands.
  std::size_t value_wanted() const noexcept {
    if (mode_ == mode::data) return filling_->nbytes - filled_;
    return mode_ == mode::swallow ? swallow_ : 0;
  }

  // Only the first n bytes of the output were sent: the rest stays.
  void sent_part(std::size_t n) noexcept {
    c_.n.bytes_written += n;
    std::memmove(out_, out_ + n, out_len_ - n);
    out_len_ -= n;
  }

  // More input must wait until the output is sent.
  bool blocked() const noexcept { return sending_ || get_pending_ || out_len_ > OutCapacity - answer_reserve; }
  bool closing() const noexcept { return closing_; }
  // Part of a command received: a line, or a value still coming.
  bool partial() const noexcept { return line_len_ != 0 || mode_ != mode::line; }

 private:
  enum class mode : std::uint8_t { line, data, swallow };
  enum class store_op : std::uint8_t { set, add, replace, append, prepend, cas };

  static constexpr std::size_t max_tokens = 9;
  template <std::size_t N>
  struct token_list {
    std::string_view t[N];
    std::size_t n = 0;
    bool overflow = false;
  };
  using tokens = token_list<max_tokens>;
  using meta_tokens = token_list<meta_max_tokens>;
  template <std::size_t N = max_tokens>
  static token_list<N> split(std::string_view line) noexcept {
    token_list<N> r;
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && line[i] == ' ') ++i;
      if (i == line.size()) break;
      const std::size_t j = std::min(line.find(' ', i), line.size());  // memchr: a key is up to 250 bytes
      if (r.n == N) {
        r.overflow = true;
        break;
      }
      r.t[r.n++] = line.substr(i, j - i);
      i = j;
    }
    return r;
  }

  template <class T>
  static bool number(std::string_view s, T& v) noexcept {
    if (s.empty()) return false;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc{} && p == s.data() + s.size();
  }

  // Appends to the output; false (nothing written) if it does not fit.
  bool put(std::string_view s) noexcept {
    if (OutCapacity - out_len_ < s.size()) return false;
    std::memcpy(out_ + out_len_, s.data(), s.size());
    out_len_ += s.size();
    return true;
  }
  void put_u64(std::uint64_t v) noexcept {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    put({buf, static_cast<std::size_t>(r.ptr - buf)});
  }
  void put_i64(std::int64_t v) noexcept {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    put({buf, static_cast<std::size_t>(r.ptr - buf)});
  }
  void reply(std::string_view s) noexcept {
    if (!noreply_) {
      put(s);
      put("\r\n");
    }
  }

  // Relative (up to 30 days), absolute, zero or negative, as memcached reads exptime.
  std::int64_t expiry(std::int64_t e) const noexcept {
    if (e < 0) return 1;  // long past (the caller's clock starts after 1970)
    if (e == 0) return 0;
    if (e > relative_expiry_limit) return e <= c_.started_at ? 1 : e;
    return now_ + e;
  }

  void new_message() noexcept {
    if (track_ && marks_n_ < max_messages) marks_[marks_n_++] = out_len_;
  }

  void command(const char* p, std::size_t n) noexcept {
    new_message();
    if (n > 0 && p[n - 1] == '\r') --n;
    const std::string_view line(p, n);
    noreply_ = false;
    std::string_view name = line.substr(0, line.find(' '));
    if (name == "get" || name == "gets" || name == "gat" || name == "gats") return start_get(line, name);
    if (name.size() == 2 && name[0] == 'm') ++c_.n.cmd_meta;
    if (name == "mg") return meta_get(split<meta_max_tokens>(line));
    if (name == "ms") return meta_set(split<meta_max_tokens>(line));
    if (name == "md") return meta_delete(split<meta_max_tokens>(line));
    if (name == "ma") return meta_arithmetic(split<meta_max_tokens>(line));
    const tokens tk = split(line);
    if (tk.n > 1 && tk.t[tk.n - 1] == "noreply") noreply_ = true;
    const std::size_t nt = tk.overflow ? max_tokens + 1 : tk.n;
    if (name == "set" && (nt == 5 || nt == 6)) return storage(tk, store_op::set);
    if (name == "add" && (nt == 5 || nt == 6)) return storage(tk, store_op::add);
    if (name == "replace" && (nt == 5 || nt == 6)) return storage(tk, store_op::replace);
    if (name == "append" && (nt == 5 || nt == 6)) return storage(tk, store_op::append);
    if (name == "prepend" && (nt == 5 || nt == 6)) return storage(tk, store_op::prepend);
    if (name == "cas" && (nt == 6 || nt == 7)) return storage(tk, store_op::cas);
    if ((name == "incr" || name == "decr") && (nt == 3 || nt == 4)) return arithmetic(tk, name == "incr");
    if (name == "delete" && nt >= 2 && nt <= 4) return remove(tk);
    if (name == "touch" && (nt == 3 || nt == 4)) return touch(tk);
    if (name == "flush_all" && nt >= 1 && nt <= 3) return flush(tk);
    if (name == "version") return reply_version();
    if (name == "verbosity" && (nt == 2 || nt == 3)) return verbosity(tk);
    if (name == "stats") return stats(tk);
    if (name == "quit") {
      closing_ = true;
      return;
    }
    if (name == "mn") {
      put("MN\r\n");
      flush_point_ = out_len_;
      return;
    }
    noreply_ = false;
    reply("ERROR");
  }

  // --- retrieval ---------------------------------------------------------

  void start_get(std::string_view line, std::string_view name) noexcept {
    get_hit_ = false;
    get_keys_ = 0;
    get_cas_ = name == "gets" || name == "gats";
    get_touch_ = name == "gat" || name == "gats";
    std::size_t cursor = name.size();
    while (cursor < line.size() && line[cursor] == ' ') ++cursor;
    if (cursor == line.size()) return reply("ERROR");
    if (get_touch_) {
      std::size_t end = line.find(' ', cursor);
      if (end == std::string_view::npos) end = line.size();
      std::int64_t e = 0;
      if (!number(line.substr(cursor, end - cursor), e)) return reply("CLIENT_ERROR invalid exptime argument");
      while (end < line.size() && line[end] == ' ') ++end;
      get_exptime_ = expiry(e);
      cursor = end;
    }
    // The get may pause: keep its line where it survives the caller's buffer.
    if (line.data() != line_) std::memmove(line_, line.data(), line.size());
    run_get(line.size(), cursor);
  }

  // Answers the keys of the get line in line_ from `cursor` on; pauses when the
  // output is full, to go on from sent().
  void run_get(std::size_t len, std::size_t cursor) noexcept {
    const std::string_view line(line_, len);
    while (true) {
      while (cursor < len && line[cursor] == ' ') ++cursor;
      if (OutCapacity - out_len_ < answer_reserve) return pause_get(len, cursor);
      if (cursor == len) break;
      std::size_t end = line.find(' ', cursor);
      if (end == std::string_view::npos) end = len;
      const std::string_view key = line.substr(cursor, end - cursor);
      if (key.size() > max_key_length) return put("CLIENT_ERROR bad command line format\r\n"), void();
      cursor = end;
      if (get_keys_++ == 1 && !get_hit_ && track_ && marks_n_ != 0 && marks_n_ < max_messages) {
        empty_messages_ |= std::uint64_t{1} << (marks_n_ - 1);  // the first key's, empty
        new_message();
      }
      if (get_touch_) ++c_.n.cmd_touch; else ++c_.n.cmd_get;
      item* it = c_.items.find(key, now_);
      if (!it) {
        if (get_touch_) ++c_.n.touch_misses; else ++c_.n.get_misses;
        continue;
      }
      if (get_touch_) {
        ++c_.n.touch_hits;
        it->exptime = get_exptime_;
      } else {
        ++c_.n.get_hits;
      }
      if (get_hit_) new_message();
      get_hit_ = true;
      put("VALUE ");
      put(it->key_view());
      put(" ");
      put_u64(it->flags);
      put(" ");
      put_u64(it->value_size());
      if (get_cas_) {
        put(" ");
        put_u64(it->cas);
      }
      put("\r\n");
      c_.items.pin(it);
      sending_ = it;
      sending_off_ = 0;
      continue_value();
      if (sending_) return pause_get(len, cursor);
    }
    put("END\r\n");
    flush_point_ = out_len_;
  }
  void pause_get(std::size_t len, std::size_t cursor) noexcept {
    get_pending_ = true;
    get_line_len_ = len;
    get_cursor_ = cursor;
  }

  // Copies what fits of the pinned value being sent.
  void continue_value() noexcept {
    const std::size_t n = std::min<std::size_t>(sending_->nbytes - sending_off_, OutCapacity - out_len_);
    std::memcpy(out_ + out_len_, sending_->data() + sending_off_, n);
    out_len_ += n;
    sending_off_ += n;
    if (sending_off_ == sending_->nbytes) {
      c_.items.release(sending_);
      sending_ = nullptr;
    }
  }

  // --- storage -----------------------------------------------------------

  void storage(const tokens& tk, store_op op) noexcept {
    const std::string_view key = tk.t[1];
    std::uint32_t flags = 0;
    std::int64_t exptime = 0, length = 0;
    std::uint64_t cas = 0;
    if (key.size() > max_key_length || !number(tk.t[2], flags) || !number(tk.t[3], exptime) ||
        !number(tk.t[4], length) || (op == store_op::cas && !number(tk.t[5], cas)) || length < 0 ||
        length > static_cast<std::int64_t>(1) << 40)
      return reply("CLIENT_ERROR bad command line format");
    begin_value(key, flags, expiry(exptime), static_cast<std::size_t>(length), op, cas, false);
  }

  // The item the value will fill, or (too large, no memory) the error told
  // and the value swallowed.
  item* begin_value(std::string_view key, std::uint32_t flags, std::int64_t exptime, std::size_t size, store_op op,
                    std::uint64_t cas, bool meta) noexcept {
    ++c_.n.cmd_set;
    item* it = c_.items.allocate(key, flags, exptime, size, now_);
    meta_store_ = meta && it;
    if (!it) {
      const bool large = c_.items.too_large(key.size(), size);
      ++(large ? c_.n.store_too_large : c_.n.store_no_memory);
      reply(large ? "SERVER_ERROR object too large for cache" : "SERVER_ERROR out of memory storing object");
      // memcached: a set that fails removes what the key held (ms whatever its mode).
      if (op == store_op::set || meta)
        if (item* old = c_.items.find(key, now_, false)) c_.items.unlink(old);
      swallow(size + 2);
      return nullptr;
    }
    filling_ = it;
    filled_ = 0;
    op_ = op;
    cas_ = cas;
    mode_ = mode::data;
    return it;
  }
  void swallow(std::size_t n) noexcept {
    swallow_ = n;
    mode_ = mode::swallow;
  }

  enum class outcome : std::uint8_t { stored, not_stored, exists, not_found, told };

  void finish_store() noexcept {
    item* it = filling_;
    filling_ = nullptr;
    mode_ = mode::line;
    const std::uint8_t* end = it->data() + it->nbytes - 2;
    if (end[0] != '\r' || end[1] != '\n') {
      c_.items.release(it);
      meta_store_ = false;
      return reply("CLIENT_ERROR bad data chunk");
    }
    std::uint64_t cas = 0;
    if (meta_store_) {
      c_.items.pin(it);  // its key, for the answer
      const outcome r = store_item(it, cas);
      meta_stored(r, it, cas);
      return c_.items.release(it);
    }
    const outcome r = store_item(it, cas);
    switch (r) {
      case outcome::stored: return reply("STORED");
      case outcome::not_stored: return reply("NOT_STORED");
      case outcome::exists: return reply("EXISTS");
      case outcome::not_found: return reply("NOT_FOUND");
      case outcome::told: return;
    }
  }

  // Links the filled item as op_ asks (releasing the caller's pin); `cas` is
  // the unique of what was stored.
  outcome store_item(item* it, std::uint64_t& cas) noexcept {
    item* old = c_.items.find(it->key_view(), now_, false);
    switch (op_) {
      case store_op::set: break;
      case store_op::add:
        if (old) return c_.items.release(it), outcome::not_stored;
        break;
      case store_op::replace:
        if (!old) return c_.items.release(it), outcome::not_stored;
        break;
      case store_op::cas:
        if (!old) {
          ++c_.n.cas_misses;
          return c_.items.release(it), outcome::not_found;
        }
        if (old->cas != cas_) {
          // ms I: a client with an older unique stores, and the item stays stale.
          if (!(meta_stale_ && cas_ < old->cas)) {
            ++c_.n.cas_badval;
            return c_.items.release(it), outcome::exists;
          }
          it->state |= item_state::stale | (old->state & item_state::token_sent);
          it->exptime = old->exptime;
        }
        ++c_.n.cas_hits;
        break;
      case store_op::append:
      case store_op::prepend: {
        if (!old) return c_.items.release(it), outcome::not_stored;
        if (cas_ != 0 && old->cas != cas_) return c_.items.release(it), outcome::exists;  // ms C
        item* both = concatenate(it, old);
        c_.items.release(it);
        if (!both) return outcome::told;
        cas = both->cas;
        return outcome::stored;
      }
    }
    c_.items.link(it, now_);
    cas = it->cas;
    c_.items.release(it);
    return outcome::stored;
  }

  // append/prepend: a new item holding both values, with the old one's flags
  // and expiry; nullptr (the error told) if it cannot be had.
  item* concatenate(item* add, item* old) noexcept {
    const std::size_t size = old->value_size() + add->value_size();
    item* both = c_.items.allocate(old->key_view(), old->flags, old->exptime, size, now_);
    if (!both) {
      meta_store_ = false;
      reply(c_.items.too_large(old->nkey, size) ? "SERVER_ERROR object too large for cache"
                                                : "SERVER_ERROR out of memory storing object");
      return nullptr;
    }
    both->state = old->state & item_state::binary_key;
    item* first = op_ == store_op::append ? old : add;
    item* second = op_ == store_op::append ? add : old;
    std::memcpy(both->data(), first->data(), first->value_size());
    std::memcpy(both->data() + first->value_size(), second->data(), second->nbytes);
    c_.items.link(both, now_);
    c_.items.release(both);
    return both;
  }

  // --- meta commands ----------------------------------------------------

  // The checks every meta command makes before its flags; false if one failed (told).
  bool meta_start(const meta_tokens& tk, const char* too_many) noexcept {
    if (tk.n < 2) return reply("ERROR"), false;
    if (tk.t[1].size() > max_key_length) return reply("CLIENT_ERROR bad command line format"), false;
    if (tk.overflow) return reply(too_many), false;
    return true;
  }
  static std::span<const std::string_view> meta_flag_tokens(const meta_tokens& tk, std::size_t from) noexcept {
    return {tk.t + from, tk.n - from};
  }
  static bool opaque_too_long(std::span<const std::string_view> flags) noexcept {
    for (const std::string_view t : flags)
      if (t[0] == 'O' && t.size() > meta_max_opaque) return true;
    return false;
  }
  // " k<key>", base64 and " b" for a binary key.
  void meta_key(std::string_view key, bool binary) noexcept {
    put(" k");
    if (!binary) return put(key), void();
    char buf[(max_key_length + 2) / 3 * 4];
    put({buf, meta::base64_encode(key, buf)});
    put(" b");
  }
  // What every answer carries back: opaque tokens and the key.
  void meta_echo(std::string_view t, std::string_view key, bool binary) noexcept {
    if (t[0] == 'O') {
      put(" ");
      put(t);
    } else if (t[0] == 'k') {
      meta_key(key, binary);
    }
  }
  void put_ttl(const item* it) noexcept {
    if (it->exptime == 0) return put("-1"), void();
    put_u64(static_cast<std::uint32_t>(it->exptime - now_));  // memcached's 32-bit relative time
  }

  void meta_get(const meta_tokens& tk) noexcept {
    if (!meta_start(tk, "CLIENT_ERROR options flags are too long")) return;
    meta_flags f;
    std::string_view key = tk.t[1];
    const auto flags = meta_flag_tokens(tk, 2);
    if (const char* e = meta::parse(flags, f, key, meta_key_)) return reply(e);
    item* it = c_.items.find(key, now_, !f.no_update);
    bool created = false, won = false, ttl_set = false;
    if (!it && f.vivify) {  // N: a miss creates an empty item, and this client wins its recache
      it = c_.items.allocate(key, 0, 0, 0, now_);
      if (it) {
        std::memcpy(it->data(), "\r\n", 2);
        c_.items.link(it, now_);
        c_.items.release(it);
        created = true;
      }
    }
    const std::size_t mark = out_len_;
    if (!it) {
      ++c_.n.cmd_get;
      ++c_.n.get_misses;
      if (opaque_too_long(flags)) return reply("CLIENT_ERROR opaque token too long");
      if (f.quiet) return;
      put("EN");
      for (const std::string_view t : flags) meta_echo(t, key, f.binary);
      return put("\r\n"), void();
    }
    if (f.value) {
      put("VA ");
      put_u64(it->value_size());
    } else {
      put("HD");
    }
    for (const std::string_view t : flags) {
      switch (t[0]) {
        case 'T':
          ttl_set = true;
          it->exptime = expiry(f.exptime);
          break;
        case 'N':
          if (created) {
            it->exptime = expiry(f.vivify_exptime);
            won = true;
          }
          break;
        case 'R':  // early recache: the first client to see the TTL below the mark wins
          if (!(it->state & item_state::token_sent) && !created && it->exptime != 0 &&
              it->exptime < expiry(f.recache_time))
            won = true;
          break;
        case 's': put(" s"), put_u64(it->value_size()); break;
        case 't': put(" t"), put_ttl(it); break;
        case 'c': put(" c"), put_u64(it->cas); break;
        case 'f': put(" f"), put_u64(it->flags); break;
        case 'l': put(" l"), put_u64(static_cast<std::uint32_t>(now_ - it->time)); break;
        case 'h': put(it->state & item_state::fetched ? " h1" : " h0"); break;
        case 'O':
          if (t.size() > meta_max_opaque) {
            out_len_ = mark;
            return reply("CLIENT_ERROR opaque token too long");
          }
          meta_echo(t, key, false);
          break;
        case 'k': meta_key(it->key_view(), it->state & item_state::binary_key); break;
      }
    }
    if (it->state & item_state::token_sent) put(" Z");
    if (it->state & item_state::stale) {
      put(" X");
      if (!(it->state & item_state::token_sent)) won = true;  // a stale item's first reader recaches it
    }
    if (won) {
      put(" W");
      it->state |= item_state::token_sent;
    }
    put("\r\n");
    if (!f.no_update) c_.items.fetched(it, now_);
    if (ttl_set) {
      ++c_.n.cmd_touch;
      ++c_.n.touch_hits;
    } else {
      ++c_.n.cmd_get;
      ++c_.n.get_hits;
    }
    if (f.value) {
      c_.items.pin(it);
      sending_ = it;
      sending_off_ = 0;
      continue_value();
    }
  }

  void meta_set(const meta_tokens& tk) noexcept {
    if (!meta_start(tk, "CLIENT_ERROR options flags too long")) return;
    std::int32_t length = 0;
    if (tk.n == 2 || !number(tk.t[2], length) || length < 0 || length > 0x7fffffff - 2)
      return reply("CLIENT_ERROR bad command line format");
    const std::size_t size = static_cast<std::size_t>(length);
    meta_flags f;
    std::string_view key = tk.t[1];
    const auto flags = meta_flag_tokens(tk, 3);
    const char* e = meta::parse(flags, f, key, meta_key_);
    store_op op = store_op::set;
    if (!e) {
      switch (f.mode) {
        case 0: case 'S': break;
        case 'E': op = store_op::add; break;
        case 'A': op = store_op::append; break;
        case 'P': op = store_op::prepend; break;
        case 'R': op = store_op::replace; break;
        default: e = "CLIENT_ERROR invalid mode for ms M token";
      }
      if (!e && opaque_too_long(flags)) e = "CLIENT_ERROR opaque token too long";
    }
    if (e) return reply(e), swallow(size + 2);
    if (f.has_cas && (op == store_op::set || op == store_op::replace)) op = store_op::cas;
    // What the answer echoes, kept past the line (the value comes after it).
    meta_echo_len_ = 0;
    for (const std::string_view t : flags) {
      if (t[0] != 'O' && t[0] != 'k' && t[0] != 'c') continue;
      const std::size_t n = t[0] == 'O' ? t.size() : 1;  // k and c echo no argument (each once: duplicates refused)
      meta_echo_[meta_echo_len_++] = ' ';
      std::memcpy(meta_echo_ + meta_echo_len_, t.data(), n);
      meta_echo_len_ += n;
    }
    item* it = begin_value(key, f.client_flags, expiry(f.exptime), size, op, f.cas, true);
    if (!it) return;
    if (f.binary) it->state |= item_state::binary_key;
    meta_quiet_ = f.quiet;
    meta_stale_ = f.stale && op == store_op::cas;
  }

  // ms's answer once its value is in: HD NS EX NF and the echoed flags.
  void meta_stored(outcome r, item* it, std::uint64_t cas) noexcept {
    meta_store_ = meta_stale_ = false;
    const char* code = "HD";
    switch (r) {
      case outcome::stored:
        if (meta_quiet_) return;
        break;
      case outcome::not_stored: code = "NS"; break;
      case outcome::exists: code = "EX"; break;
      case outcome::not_found: code = "NF"; break;
      case outcome::told: return;
    }
    put(code);
    const std::string_view echo(meta_echo_, meta_echo_len_);
    for (std::size_t i = 1; i < echo.size();) {
      std::size_t end = echo.find(' ', i);
      if (end == std::string_view::npos) end = echo.size();
      const std::string_view t = echo.substr(i, end - i);
      if (t[0] == 'c') put(" c"), put_u64(cas);
      else meta_echo(t, it->key_view(), it->state & item_state::binary_key);
      i = end + 1;
    }
    put("\r\n");
  }

  // md and ma: the checks, the flags, and memcached's one message for any flag error.
  bool meta_keyed_begin(const meta_tokens& tk, meta_flags& f, std::string_view& key) noexcept {
    if (!meta_start(tk, "CLIENT_ERROR options flags too long")) return false;
    key = tk.t[1];
    if (meta::parse(meta_flag_tokens(tk, 2), f, key, meta_key_))
      return reply("CLIENT_ERROR invalid or duplicate flag"), false;
    return true;
  }

  void meta_delete(const meta_tokens& tk) noexcept {
    meta_flags f;
    std::string_view key;
    if (!meta_keyed_begin(tk, f, key)) return;
    const auto flags = meta_flag_tokens(tk, 2);
    if (opaque_too_long(flags)) return reply("CLIENT_ERROR opaque token too long");
    item* it = c_.items.find(key, now_, false);
    const char* code = "HD";
    if (!it) {
      ++c_.n.delete_misses;
      code = "NF";
    } else if (f.has_cas && it->cas != f.cas) {
      ++c_.n.delete_misses;
      code = "EX";
    } else if (f.stale) {  // I: kept, marked stale, a new unique; the next reader wins its recache
      if (f.new_ttl) it->exptime = expiry(f.exptime);
      it->state = static_cast<std::uint8_t>((it->state | item_state::stale) & ~item_state::token_sent);
      c_.items.touch_cas(it);
    } else {
      ++c_.n.delete_hits;
      c_.items.unlink(it);
    }
    if (code[0] == 'H' && f.quiet) return;
    put(code);
    for (const std::string_view t : flags) meta_echo(t, key, f.binary);
    put("\r\n");
  }

  void meta_arithmetic(const meta_tokens& tk) noexcept {
    meta_flags f;
    std::string_view key;
    if (!meta_keyed_begin(tk, f, key)) return;
    const auto flags = meta_flag_tokens(tk, 2);
    bool incr = true;
    switch (f.mode) {
      case 0: case 'I': case '+': break;
      case 'D': case '-': incr = false; break;
      default: return reply("CLIENT_ERROR invalid mode for ma M token");
    }
    char buf[24];
    std::size_t len = 0;
    item* it = nullptr;
    bool created = false;
    const char* code = nullptr;
    switch (apply_delta(key, incr, f.delta, f.cas, buf, len, it)) {
      case delta_result::ok: break;
      case delta_result::non_numeric: return reply("CLIENT_ERROR cannot increment or decrement non-numeric value");
      case delta_result::no_memory: return reply("SERVER_ERROR out of memory");
      case delta_result::exists: code = "EX"; break;
      case delta_result::not_found:
        if (!f.vivify) {
          ++(incr ? c_.n.incr_misses : c_.n.decr_misses);
          code = "NF";
          break;
        }
        // N: a miss creates the counter at J's value.
        len = static_cast<std::size_t>(std::to_chars(buf, buf + sizeof buf, f.initial).ptr - buf);
        it = c_.items.allocate(key, 0, 0, len, now_);
        if (!it) return reply("SERVER_ERROR Out of memory allocating new item");
        std::memcpy(it->data(), buf, len);
        std::memcpy(it->data() + len, "\r\n", 2);
        c_.items.link(it, now_);
        c_.items.release(it);
        created = true;
        break;
    }
    const std::size_t mark = out_len_;
    if (code) {
      put(code);
    } else if (f.value) {
      put("VA ");
      put_u64(len);
    } else {
      put("HD");
    }
    for (const std::string_view t : flags) {
      if (t[0] == 'O' && t.size() > meta_max_opaque) {
        out_len_ = mark;
        return reply("CLIENT_ERROR opaque token too long");
      }
      if (it) {
        switch (t[0]) {
          case 'c': put(" c"), put_u64(it->cas); continue;
          case 't': put(" t"), put_ttl(it); continue;
          case 'T': it->exptime = expiry(f.exptime); continue;
          case 'N':
            if (created) it->exptime = expiry(f.vivify_exptime);
            continue;
        }
      }
      meta_echo(t, key, f.binary);
    }
    if (it && f.value) {
      put("\r\n");
      put({buf, len});
    }
    put("\r\n");
    if (it && !created && f.quiet) out_len_ = mark;  // q: only a plain success is not told
  }

  // --- the others --------------------------------------------------------

  void arithmetic(const tokens& tk, bool incr) noexcept {
    const std::string_view key = tk.t[1];
    std::uint64_t delta = 0;
    if (key.size() > max_key_length) return reply("CLIENT_ERROR bad command line format");
    if (!number(tk.t[2], delta)) return reply("CLIENT_ERROR invalid numeric delta argument");
    char buf[24];
    std::size_t len = 0;
    item* it = nullptr;
    switch (apply_delta(key, incr, delta, 0, buf, len, it)) {
      case delta_result::ok:
        if (!noreply_) {
          put({buf, len});
          put("\r\n");
        }
        return;
      case delta_result::not_found:
        ++(incr ? c_.n.incr_misses : c_.n.decr_misses);
        return reply("NOT_FOUND");
      case delta_result::exists: return reply("EXISTS");
      case delta_result::non_numeric: return reply("CLIENT_ERROR cannot increment or decrement non-numeric value");
      case delta_result::no_memory: return reply("SERVER_ERROR out of memory");
    }
  }

  enum class delta_result : std::uint8_t { ok, not_found, exists, non_numeric, no_memory };

  // incr or decr of the key's counter (if cas is not 0, only at that unique):
  // the new value's digits in buf (24 bytes), `out` the item now holding them.
  delta_result apply_delta(std::string_view key, bool incr, std::uint64_t delta, std::uint64_t cas, char* buf,
                           std::size_t& len, item*& out) noexcept {
    item* it = c_.items.find(key, now_, false);
    if (!it) return delta_result::not_found;
    if (cas != 0 && it->cas != cas) return delta_result::exists;
    // The value: digits, then (after an in-place decr) spaces.
    std::string_view text(reinterpret_cast<const char*>(it->data()), it->value_size());
    const std::size_t digits = text.find_first_not_of("0123456789");
    if (digits != std::string_view::npos && text.find_first_not_of(' ', digits) != std::string_view::npos)
      return delta_result::non_numeric;
    std::uint64_t value = 0;
    if (!number(text.substr(0, digits), value)) return delta_result::non_numeric;
    ++(incr ? c_.n.incr_hits : c_.n.decr_hits);
    value = incr ? value + delta : (delta > value ? 0 : value - delta);  // incr wraps at 2^64, decr stops at 0
    len = static_cast<std::size_t>(std::to_chars(buf, buf + 24, value).ptr - buf);
    if (len <= it->value_size() && it->pins == 0) {
      // In place, as memcached: the rest padded with spaces, a new CAS.
      std::memcpy(it->data(), buf, len);
      std::memset(it->data() + len, ' ', it->value_size() - len);
      c_.items.touch_cas(it);
      out = it;
      return delta_result::ok;
    }
    item* fresh = c_.items.allocate(key, it->flags, it->exptime, len, now_);
    if (!fresh) return delta_result::no_memory;
    fresh->state = it->state & item_state::binary_key;
    std::memcpy(fresh->data(), buf, len);
    std::memcpy(fresh->data() + len, "\r\n", 2);
    c_.items.link(fresh, now_);
    c_.items.release(fresh);
    out = fresh;
    return delta_result::ok;
  }

  void remove(const tokens& tk) noexcept {
    const std::size_t nt = tk.n;
    if (nt > 2) {
      const bool ok = (nt == 3 && (tk.t[2] == "0" || noreply_)) || (nt == 4 && tk.t[2] == "0" && noreply_);
      if (!ok) return reply("CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]");
    }
    if (tk.t[1].size() > max_key_length) return reply("CLIENT_ERROR bad command line format");
    item* it = c_.items.find(tk.t[1], now_);
    if (!it) {
      ++c_.n.delete_misses;
      return reply("NOT_FOUND");
    }
    ++c_.n.delete_hits;
    c_.items.unlink(it);
    reply("DELETED");
  }

  void touch(const tokens& tk) noexcept {
    std::int64_t e = 0;
    if (tk.t[1].size() > max_key_length) return reply("CLIENT_ERROR bad command line format");
    if (!number(tk.t[2], e)) return reply("CLIENT_ERROR invalid exptime argument");
    ++c_.n.cmd_touch;
    item* it = c_.items.find(tk.t[1], now_);
    if (!it) {
      ++c_.n.touch_misses;
      return reply("NOT_FOUND");
    }
    ++c_.n.touch_hits;
    it->exptime = expiry(e);
    reply("TOUCHED");
  }

  void flush(const tokens& tk) noexcept {
    std::int64_t delay = 0;
    const std::size_t args = tk.n - 1 - (noreply_ ? 1 : 0);
    if (args > 1 || (args == 1 && !number(tk.t[1], delay))) return reply("CLIENT_ERROR invalid exptime argument");
    ++c_.n.cmd_flush;
    c_.items.flush(delay > 0 ? expiry(delay) : now_, now_);
    reply("OK");
  }

  void verbosity(const tokens& tk) noexcept {
    unsigned level = 0;
    if (number(tk.t[1], level)) c_.verbosity = level;
    reply("OK");
  }

  void reply_version() noexcept {
    put("VERSION ");
    put(version_string);
    put("\r\n");
  }

  void stat(std::string_view name, std::uint64_t v) noexcept {
    put("STAT ");
    put(name);
    put(" ");
    put_u64(v);
    put("\r\n");
  }
  void class_stat(std::size_t c, std::string_view prefix, std::string_view name, std::uint64_t v) noexcept {
    put("STAT ");
    put(prefix);
    put_u64(c + 1);
    put(":");
    put(name);
    put(" ");
    put_u64(v);
    put("\r\n");
  }

  void stat_text(std::string_view name, std::string_view v) noexcept {
    put("STAT ");
    put(name);
    put(" ");
    put(v);
    put("\r\n");
  }

  // memcached's keys, in its order, where they apply (no process or threads
  // to report: no pid, rusage or libevent), then uni's own.
  void stats(const tokens& tk) noexcept {
    noreply_ = false;
    const store& s = c_.items;
    const std::string_view what = tk.n > 1 ? tk.t[1] : std::string_view{};
    if (what.empty()) {
      const command_counters& n = c_.n;
      const store_counters& sc = s.counters();
      stat("uptime", static_cast<std::uint64_t>(now_ - c_.started_at));
      put("STAT time ");
      put_i64(now_);
      put("\r\n");
      stat_text("version", version_string);
      stat("pointer_size", sizeof(void*) * 8);
      stat("max_connections", static_cast<std::uint64_t>(c_.max_connections));
      stat("curr_connections", c_.connections.current);
      stat("total_connections", c_.connections.total);
      stat("rejected_connections", c_.connections.rejected);
      stat("connection_structures", c_.connections.current);
      stat("cmd_get", n.cmd_get);
      stat("cmd_set", n.cmd_set);
      stat("cmd_flush", n.cmd_flush);
      stat("cmd_touch", n.cmd_touch);
      stat("cmd_meta", n.cmd_meta);
      stat("get_hits", n.get_hits);
      stat("get_misses", n.get_misses);
      stat("get_expired", sc.expired);
      stat("get_flushed", sc.flushed);
      stat("delete_misses", n.delete_misses);
      stat("delete_hits", n.delete_hits);
      stat("incr_misses", n.incr_misses);
      stat("incr_hits", n.incr_hits);
      stat("decr_misses", n.decr_misses);
      stat("decr_hits", n.decr_hits);
      stat("cas_misses", n.cas_misses);
      stat("cas_hits", n.cas_hits);
      stat("cas_badval", n.cas_badval);
      stat("touch_hits", n.touch_hits);
      stat("touch_misses", n.touch_misses);
      stat("store_too_large", n.store_too_large);
      stat("store_no_memory", n.store_no_memory);
      stat("auth_cmds", 0);  // memcache has no authentication here
      stat("auth_errors", 0);
      stat("idle_kicks", c_.connections.idle_closed);
      stat("bytes_read", n.bytes_read);
      stat("bytes_written", n.bytes_written);
      stat("limit_maxbytes", s.limits().memory);
      stat("accepting_conns", 1);
      stat("threads", 1);
      std::uint64_t power = 0;
      while ((std::size_t{1} << power) < s.buckets()) ++power;
      stat("hash_power_level", power);
      stat("hash_bytes", s.buckets() * sizeof(item*));
      stat("hash_is_expanding", 0);
      stat("bytes", s.bytes());
      stat("curr_items", s.items());
      stat("total_items", sc.total_items);
      stat("expired_unfetched", sc.expired_unfetched);
      stat("evicted_unfetched", sc.evicted_unfetched);
      stat("evictions", sc.evictions);
      stat("reclaimed", sc.expired);
      stat("total_malloced", s.pages_used() * s.page_size());
      stat("lines_too_long", n.lines_too_long);
      stat("udp_requests", c_.udp.requests);
      stat("udp_dropped", c_.udp.dropped);
      stat("udp_too_large", c_.udp.too_large);
    } else if (what == "settings") {
      stat("maxbytes", s.limits().memory);
      stat("maxconns", static_cast<std::uint64_t>(c_.max_connections));
      stat("tcpport", c_.tcp_port);
      stat("udpport", c_.udp_port);
      stat("verbosity", c_.verbosity);
      stat_text("evictions", "on");
      stat_text("growth_factor", "1.25");
      stat("chunk_size", store::smallest_chunk - sizeof(item));
      stat("num_threads", 1);
      stat_text("stat_key_prefix", ":");
      stat_text("detail_enabled", "no");
      stat_text("cas_enabled", "yes");
      stat_text("binding_protocol", "ascii");
      stat_text("auth_enabled_sasl", "no");
      stat_text("auth_enabled_ascii", "no");
      stat("item_size_max", s.limits().item_max);
      stat_text("maxconns_fast", "yes");
      stat_text("slab_reassign", "no");
      stat("slab_automove", 0);
      stat("slab_chunk_max", s.page_size());
      stat_text("lru_crawler", "yes");  // reclaim(): expired items freed from the LRU tails
      stat_text("flush_enabled", "yes");
      stat_text("hash_algorithm", "multiply-fold");
      stat_text("lru_maintainer_thread", "no");
      stat_text("lru_segmented", "no");
      stat_text("temp_lru", "no");
      stat("idle_timeout", 0);
    } else if (what == "items") {
      for (std::size_t c = 0; c < s.classes().size(); ++c) {
        const auto& k = s.classes()[c];
        if (k.items == 0) continue;
        class_stat(c, "items:", "number", k.items);
        class_stat(c, "items:", "age", k.tail ? static_cast<std::uint64_t>(now_ - k.tail->time) : 0);
        class_stat(c, "items:", "mem_requested", k.requested);
        class_stat(c, "items:", "evicted", k.evicted);
        class_stat(c, "items:", "evicted_nonzero", k.evicted_nonzero);
        class_stat(c, "items:", "evicted_time", static_cast<std::uint64_t>(k.evicted_time));
        class_stat(c, "items:", "outofmemory", k.out_of_memory);
        class_stat(c, "items:", "reclaimed", k.reclaimed);
      }
    } else if (what == "slabs") {
      for (std::size_t c = 0; c < s.classes().size(); ++c) {
        const auto& k = s.classes()[c];
        if (k.pages == 0) continue;
        const std::size_t per_page = s.page_size() / k.chunk;
        class_stat(c, "", "chunk_size", k.chunk);
        class_stat(c, "", "chunks_per_page", per_page);
        class_stat(c, "", "total_pages", k.pages);
        class_stat(c, "", "total_chunks", k.pages * per_page);
        class_stat(c, "", "used_chunks", k.used);
        class_stat(c, "", "free_chunks", k.pages * per_page - k.used);
        class_stat(c, "", "free_chunks_end", per_page - k.carved);
      }
      stat("active_slabs", static_cast<std::uint64_t>(std::count_if(
                               s.classes().begin(), s.classes().end(), [](const auto& k) { return k.pages != 0; })));
      stat("total_malloced", s.pages_used() * s.page_size());
    } else if (what == "reset") {
      c_.n = command_counters{};
      return put("RESET\r\n"), void();
    } else {
      return put("ERROR\r\n"), void();
    }
    put("END\r\n");
  }

  cache& c_;
  std::int64_t now_ = 0;
  mode mode_ = mode::line;
  bool noreply_ = false;
  bool closing_ = false;
  // A storage command's value arriving.
  item* filling_ = nullptr;
  std::size_t filled_ = 0;
  store_op op_ = store_op::set;
  std::uint64_t cas_ = 0;
  std::size_t swallow_ = 0;
  // An ms whose value is arriving: its answer's flags and modes.
  bool meta_store_ = false, meta_quiet_ = false, meta_stale_ = false;
  char meta_echo_[6 + 2 + meta_max_opaque];  // " k", " c", " O<opaque>"
  std::size_t meta_echo_len_ = 0;
  char meta_key_[max_key_length];  // a b flag's decoded key
  // A get paused on a full output.
  item* sending_ = nullptr;
  std::size_t sending_off_ = 0;
  bool get_pending_ = false, get_cas_ = false, get_touch_ = false, get_hit_ = false;
  bool track_ = false;
  std::size_t marks_[max_messages];
  std::size_t marks_n_ = 0;
  std::uint64_t empty_messages_ = 0;  // bit i: message i is sent even if empty
  std::size_t flush_point_ = 0;
  std::size_t get_keys_ = 0;  // keys of the current get looked up so far
  std::int64_t get_exptime_ = 0;
  std::size_t get_line_len_ = 0, get_cursor_ = 0;
  std::size_t line_len_ = 0;
  std::size_t out_len_ = 0;
  char line_[LineCapacity];
  std::uint8_t out_[OutCapacity];
};

}  // namespace uni::memcache
