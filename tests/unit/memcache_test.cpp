// The memcache store and session (uni/memcache/): memcached's text protocol
// answered byte for byte (the expected strings were taken from memcached 1.6.18
// given the same input), with a manual clock and input split anywhere.
#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <uni/memcache/session.hpp>

namespace mc = uni::memcache;

namespace {

constexpr std::int64_t t0 = 1'700'000'000;  // "now" at the start of each test, Unix seconds

// A client over one session: sends text in pieces of `step` bytes, sends
// every answer out as the session asks, returns what came back.
template <std::size_t Out = 32 * 1024>
struct client {
  explicit client(mc::cache& c) : s(std::make_unique<mc::session<Out>>(c)) {}
  std::string say(const std::string& in, std::size_t step = 0) {
    std::string got;
    std::span<const std::uint8_t> rest(reinterpret_cast<const std::uint8_t*>(in.data()), in.size());
    if (step == 0) step = in.size() + 1;
    while (!rest.empty() && !s->closing()) {
      const auto piece = rest.first(std::min(step, rest.size()));
      auto left = piece;
      while (!left.empty() && !s->closing()) {
        left = left.subspan(s->receive(left, now));
        drain(got);
      }
      rest = rest.subspan(piece.size());
    }
    drain(got);
    return got;
  }
  void drain(std::string& got) {
    while (!s->output().empty()) {
      got.append(s->output().begin(), s->output().end());
      s->sent(now);
    }
  }
  std::unique_ptr<mc::session<Out>> s;
  std::int64_t now = t0;
};

struct fixture {
  explicit fixture(mc::store_limits l = {}) : cache(l, t0) {}
  mc::cache cache;
};

}  // namespace

TEST_CASE("memcache: storage commands: set, add, replace, append, prepend, cas", "[memcache]") {
  fixture f;
  client c(f.cache);
  CHECK(c.say("set a 5 0 3\r\nabc\r\nget a\r\n") == "STORED\r\nVALUE a 5 3\r\nabc\r\nEND\r\n");
  CHECK(c.say("add a 0 0 1\r\n2\r\nreplace zz 0 0 1\r\n1\r\n") == "NOT_STORED\r\nNOT_STORED\r\n");
  CHECK(c.say("append a 0 0 1\r\n5\r\nprepend a 0 0 1\r\n4\r\nget a\r\n") ==
        "STORED\r\nSTORED\r\nVALUE a 5 5\r\n4abc5\r\nEND\r\n");
  CHECK(c.say("append zz 0 0 1\r\n5\r\n") == "NOT_STORED\r\n");
  CHECK(c.say("gets a\r\n") == "VALUE a 5 5 3\r\n4abc5\r\nEND\r\n");
  CHECK(c.say("cas a 0 0 1 999\r\nx\r\ncas zz 0 0 1 1\r\nx\r\n") == "EXISTS\r\nNOT_FOUND\r\n");
  CHECK(c.say("cas a 7 0 1 3\r\nx\r\ngets a\r\n") == "STORED\r\nVALUE a 7 1 4\r\nx\r\nEND\r\n");
  CHECK(c.say("cas a 7 0 1 3\r\ny\r\n") == "EXISTS\r\n");  // the unique moved on
  CHECK(f.cache.n.cas_hits == 1);
  CHECK(f.cache.n.cas_badval == 2);
  CHECK(f.cache.n.cas_misses == 1);
}

TEST_CASE("memcache: retrieval: several keys, misses, gat and gats", "[memcache]") {
  fixture f;
  client c(f.cache);
  (void)c.say("set t 5 100 2\r\nab\r\nset u 0 0 0\r\n\r\n");
  CHECK(c.say("get t zz u\r\n") == "VALUE t 5 2\r\nab\r\nVALUE u 0 0\r\n\r\nEND\r\n");
  CHECK(c.say("gat 0 t zz\r\ngats 0 t\r\n") == "VALUE t 5 2\r\nab\r\nEND\r\nVALUE t 5 2 1\r\nab\r\nEND\r\n");
  CHECK(c.say("gat t\r\ngat 10\r\nget\r\ngets\r\n") == "CLIENT_ERROR invalid exptime argument\r\nEND\r\nERROR\r\nERROR\r\n");
  CHECK(f.cache.n.get_hits == 2);
  CHECK(f.cache.n.get_misses == 1);
  CHECK(f.cache.n.touch_hits == 2);
  CHECK(f.cache.n.touch_misses == 1);
}

TEST_CASE("memcache: errors: memcached's strings, and what is swallowed", "[memcache]") {
  fixture f;
  client c(f.cache);
  const std::string long_key(251, 'k');
  CHECK(c.say("foo\r\n\r\nversion extra\r\n") == "ERROR\r\nERROR\r\nVERSION " + std::string(mc::version_string) + "\r\n");
  CHECK(c.say("set d 0 0 -1\r\nset d 0 0 x\r\nset d x 0 1\r\n") ==
        "CLIENT_ERROR bad command line format\r\nCLIENT_ERROR bad command line format\r\n"
        "CLIENT_ERROR bad command line format\r\n");
  // A key too long is refused before its data, which is then read as a command.
  CHECK(c.say("set " + long_key + " 0 0 1\r\nx\r\nget " + long_key + "\r\n") ==
        "CLIENT_ERROR bad command line format\r\nERROR\r\nCLIENT_ERROR bad command line format\r\n");
  // A data block of the wrong length: its declared bytes are taken, the rest is a command.
  CHECK(c.say("set c 0 0 1\r\nabc\r\nget c\r\n") == "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n");
  CHECK(c.say("set c 0 0 1\r\nab\r\nget c\r\n") == "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n");
  CHECK(c.say("incr\r\nset x\r\ncas a 0 0 1\r\nverbosity\r\nset a 0 0 1 noreply extra\r\n") ==
        "ERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\n");
  CHECK(c.say("delete a 0\r\ndelete a 1\r\ndelete a 1 noreply\r\n") ==
        "NOT_FOUND\r\nCLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
  CHECK(c.say("flush_all x\r\nverbosity 1\r\nmn\r\n") == "CLIENT_ERROR invalid exptime argument\r\nOK\r\nMN\r\n");
}

TEST_CASE("memcache: noreply silences every answer of its command", "[memcache]") {
  fixture f;
  client c(f.cache);
  CHECK(c.say("set a 0 0 1 noreply\r\n1\r\nadd a 0 0 1 noreply\r\n2\r\nincr a x noreply\r\n"
              "set t 0 0 1 noreply\r\nx\r\nincr t 1 noreply\r\ntouch t x noreply\r\n"
              "cas t 0 0 1 1 noreply\r\n1\r\nflush_all x noreply\r\ndelete t 1 noreply\r\n"
              "incr a 4 noreply\r\nget a\r\n") == "VALUE a 0 1\r\n5\r\nEND\r\n");
  // The leftover of a bad chunk is still a command (with no noreply of its own).
  CHECK(c.say("set a 0 0 1 noreply\r\nabc\r\n") == "ERROR\r\n");
}

TEST_CASE("memcache: counters: 64 bits, incr wraps, decr stops at 0 and pads in place", "[memcache]") {
  fixture f;
  client c(f.cache);
  CHECK(c.say("set a 0 0 2\r\n10\r\ndecr a 5\r\nget a\r\nincr a 100\r\ngets a\r\n") ==
        "STORED\r\n5\r\nVALUE a 0 2\r\n5 \r\nEND\r\n105\r\nVALUE a 0 3 3\r\n105\r\nEND\r\n");
  CHECK(c.say("set n 0 0 20\r\n18446744073709551615\r\nincr n 2\r\nget n\r\ndecr n 5\r\n") ==
        "STORED\r\n1\r\nVALUE n 0 20\r\n1                   \r\nEND\r\n0\r\n");
  CHECK(c.say("set t 0 0 2\r\nab\r\nincr t 1\r\nincr n 18446744073709551616\r\nincr n -1\r\ndecr nn 1\r\n") ==
        "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
        "CLIENT_ERROR invalid numeric delta argument\r\nCLIENT_ERROR invalid numeric delta argument\r\nNOT_FOUND\r\n");
  CHECK(c.say("set big 0 0 20\r\n18446744073709551616\r\nincr big 1\r\n") ==
        "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
}

TEST_CASE("memcache: expiry: relative, absolute, negative, touch, with a clock that moves", "[memcache]") {
  fixture f;
  client c(f.cache);
  (void)c.say("set r 0 10 1\r\nr\r\nset abs 0 " + std::to_string(t0 + 20) + " 1\r\na\r\nset neg 0 -1 1\r\nn\r\n");
  CHECK(c.say("get neg\r\n") == "END\r\n");
  c.now = t0 + 9;
  CHECK(c.say("get r abs\r\n") == "VALUE r 0 1\r\nr\r\nVALUE abs 0 1\r\na\r\nEND\r\n");
  CHECK(c.say("touch r 100\r\ntouch zz 1\r\n") == "TOUCHED\r\nNOT_FOUND\r\n");
  c.now = t0 + 20;
  CHECK(c.say("get r abs\r\n") == "VALUE r 0 1\r\nr\r\nEND\r\n");
  c.now = t0 + 109;
  CHECK(c.say("get r\r\n") == "END\r\n");
  CHECK(f.cache.items.counters().expired == 3);  // neg, abs, r
  CHECK(f.cache.items.items() == 0);
}

TEST_CASE("memcache: periodic expiry reclaims items no one asks for", "[memcache]") {
  fixture f;
  client c(f.cache);
  for (int i = 0; i < 50; ++i) (void)c.say("set k" + std::to_string(i) + " 0 5 1 noreply\r\nx\r\n");
  (void)c.say("set keep 0 0 1 noreply\r\nx\r\n");
  CHECK(f.cache.items.reclaim(t0 + 4, 100) == 0);
  CHECK(f.cache.items.reclaim(t0 + 5, 100) == 50);
  CHECK(f.cache.items.items() == 1);
  CHECK(f.cache.items.counters().expired == 50);
}

TEST_CASE("memcache: flush_all: now, and with a delay", "[memcache]") {
  fixture f;
  client c(f.cache);
  CHECK(c.say("set a 0 0 1\r\n1\r\nflush_all\r\nget a\r\nset b 0 0 1\r\n2\r\nget b\r\n") ==
        "STORED\r\nOK\r\nEND\r\nSTORED\r\nVALUE b 0 1\r\n2\r\nEND\r\n");
  CHECK(c.say("flush_all 10\r\nget b\r\n") == "OK\r\nVALUE b 0 1\r\n2\r\nEND\r\n");
  c.now = t0 + 8;
  CHECK(c.say("get b\r\nset c 0 0 1\r\n3\r\n") == "VALUE b 0 1\r\n2\r\nEND\r\nSTORED\r\n");
  // As memcached: from the second before the flush time, items stored up to it go.
  c.now = t0 + 9;
  CHECK(c.say("get b c\r\nset d 0 0 1\r\n4\r\nget d\r\n") == "END\r\nSTORED\r\nEND\r\n");
  c.now = t0 + 10;
  CHECK(c.say("set e 0 0 1\r\n5\r\nget e\r\n") == "STORED\r\nVALUE e 0 1\r\n5\r\nEND\r\n");
  CHECK(f.cache.n.cmd_flush == 2);
}

TEST_CASE("memcache: commands split at every byte, and pipelined", "[memcache]") {
  fixture f;
  const std::string script =
      "set a 1 0 5\r\nhello\r\nget a b\r\nincr n 1\r\nset n 0 0 1\r\n7\r\nincr n 3\r\n"
      "gets a\r\ndelete a\r\nget a\r\nbogus\r\nappend n 0 0 2\r\n00\r\nget n\r\n";
  client whole(f.cache);
  const std::string expected = whole.say(script + "flush_all\r\n");
  CHECK(expected ==
        "STORED\r\nVALUE a 1 5\r\nhello\r\nEND\r\nNOT_FOUND\r\nSTORED\r\n10\r\nVALUE a 1 5 1\r\nhello\r\nEND\r\n"
        "DELETED\r\nEND\r\nERROR\r\nSTORED\r\nVALUE n 0 4\r\n1000\r\nEND\r\nOK\r\n");
  for (std::size_t step : {1u, 2u, 3u, 7u, 13u}) {
    client c(f.cache);
    // CAS uniques differ per run: compare everything else.
    std::string got = c.say(script + "flush_all\r\n", step);
    const auto cas_at = got.find("VALUE a 1 5 ") + 12;
    got.replace(cas_at, got.find("\r\n", cas_at) - cas_at, "1");
    CHECK(got == expected);
  }
}

TEST_CASE("memcache: values up to the limit, one past it swallowed, and a get larger than the output", "[memcache]") {
  fixture f({.memory = 8u << 20, .item_max = 1u << 20});
  client<16 * 1024> c(f.cache);
  // memcached's accounting: 48 + 8 + key + 1 + value + 2 bytes at most item_max.
  const std::size_t most = (1u << 20) - 48 - 8 - 1 - 1 - 2;
  const std::string big(most, 'v');
  CHECK(c.say("set k 0 0 " + std::to_string(most) + "\r\n" + big + "\r\n", 4096) == "STORED\r\n");
  CHECK(c.say("set k 0 0 " + std::to_string(most + 1) + "\r\n" + big + "v\r\nget k\r\n", 1000) ==
        "SERVER_ERROR object too large for cache\r\nEND\r\n");  // a failed set drops the old value
  (void)c.say("set k 0 0 " + std::to_string(most) + "\r\n" + big + "\r\nset s 0 0 1\r\ns\r\n");
  CHECK(c.say("get k s k\r\n") == "VALUE k 0 " + std::to_string(most) + "\r\n" + big + "\r\nVALUE s 0 1\r\ns\r\n" +
                                      "VALUE k 0 " + std::to_string(most) + "\r\n" + big + "\r\nEND\r\n");
  // Declared far past the limit: answered at once, the bytes swallowed as they come.
  CHECK(c.say("set h 0 0 2000000000\r\n") == "SERVER_ERROR object too large for cache\r\n");
}

TEST_CASE("memcache: a value pinned while sent survives its replacement", "[memcache]") {
  fixture f({.memory = 4u << 20, .item_max = 1u << 20});
  client<16 * 1024> reader(f.cache), writer(f.cache);
  const std::string v1(100000, '1');
  (void)writer.say("set k 0 0 100000\r\n" + v1 + "\r\n");
  const std::string get = "get k\r\n";
  std::span<const std::uint8_t> in(reinterpret_cast<const std::uint8_t*>(get.data()), get.size());
  CHECK(reader.s->receive(in, t0) == in.size());
  std::string got(reader.s->output().begin(), reader.s->output().end());
  // Replaced and deleted while the reader holds the first part of it.
  CHECK(writer.say("set k 0 0 3\r\nnew\r\ndelete k\r\n") == "STORED\r\nDELETED\r\n");
  reader.s->sent(t0);
  reader.drain(got);
  CHECK(got == "VALUE k 0 100000\r\n" + v1 + "\r\nEND\r\n");
  reader.s.reset();  // the last pin goes: the chunk is free again
  for (const auto& k : f.cache.items.classes()) CHECK(k.used == k.items);
}

TEST_CASE("memcache: LRU eviction within the byte budget, counted, a read item gets a second chance", "[memcache]") {
  fixture f({.memory = 2u << 20, .item_max = 1u << 20});
  client c(f.cache);
  const std::string v(1000, 'x');
  for (int i = 0; i < 3000; ++i) {
    if (i % 100 == 50) (void)c.say("get k0\r\nmg k1 u\r\n");  // k0 stays recently used; mg u leaves k1 as it was
    CHECK(c.say("set k" + std::to_string(i) + " 0 0 1000\r\n" + v + "\r\n") == "STORED\r\n");
  }
  CHECK(f.cache.items.counters().evictions > 0);
  CHECK(f.cache.items.items() + f.cache.items.counters().evictions == 3000);
  CHECK(f.cache.items.pages_used() * f.cache.items.page_size() <= f.cache.items.capacity());
  CHECK(c.say("get k0 k1\r\n") == "VALUE k0 0 1000\r\n" + v + "\r\nEND\r\n");
  CHECK(c.say("get k2999\r\n") == "VALUE k2999 0 1000\r\n" + v + "\r\nEND\r\n");
  CHECK(c.say("stats\r\n").find("STAT evictions " + std::to_string(f.cache.items.counters().evictions) + "\r\n") !=
        std::string::npos);
}

TEST_CASE("memcache: a command line past the bound closes the connection", "[memcache]") {
  fixture f;
  client c(f.cache);
  CHECK(c.say("get " + std::string(mc::session<>::line_capacity, 'k'), 1000) == "");
  CHECK(c.s->closing());
  CHECK(f.cache.n.lines_too_long == 1);
  client q(f.cache);
  CHECK(q.say("quit\r\nversion\r\n") == "");
  CHECK(q.s->closing());
}

TEST_CASE("memcache: stats: general, settings, items, slabs, reset", "[memcache]") {
  fixture f;
  client c(f.cache);
  (void)c.say("set a 0 0 1\r\n1\r\nget a b\r\n");
  const std::string general = c.say("stats\r\n");
  CHECK(general.find("STAT get_hits 1\r\nSTAT get_misses 1\r\n") != std::string::npos);
  CHECK(general.find("STAT curr_items 1\r\n") != std::string::npos);
  CHECK(general.ends_with("END\r\n"));
  CHECK(c.say("stats settings\r\n").find("STAT item_size_max 1048576\r\n") != std::string::npos);
  CHECK(c.say("stats items\r\n").find("STAT items:1:number 1\r\n") != std::string::npos);
  CHECK(c.say("stats slabs\r\n").find("STAT 1:used_chunks 1\r\n") != std::string::npos);
  CHECK(c.say("stats reset\r\nstats foo\r\n") == "RESET\r\nERROR\r\n");
  CHECK(f.cache.n.get_hits == 0);
}

TEST_CASE("memcache: output sent in parts keeps its order", "[memcache]") {
  fixture f;
  client c(f.cache);
  (void)c.say("set a 0 0 5\r\nhello\r\n");
  const std::string get = "get a a\r\nversion\r\n";
  std::span<const std::uint8_t> in(reinterpret_cast<const std::uint8_t*>(get.data()), get.size());
  CHECK(c.s->receive(in, t0) == in.size());
  std::string got;
  while (!c.s->output().empty()) {  // three bytes at a time, as a transport short of pages would
    const std::size_t n = std::min<std::size_t>(3, c.s->output().size());
    got.append(c.s->output().begin(), c.s->output().begin() + static_cast<std::ptrdiff_t>(n));
    if (n == c.s->output().size()) c.s->sent(t0); else c.s->sent_part(n);
  }
  CHECK(got == "VALUE a 0 5\r\nhello\r\nVALUE a 0 5\r\nhello\r\nEND\r\nVERSION " + std::string(mc::version_string) + "\r\n");
}

TEST_CASE("memcache: meta commands with a clock that moves (mg t l h, R, N, stale)", "[memcache]") {
  fixture f;
  client c(f.cache);
  CHECK(c.say("ms a 2 T100\r\nhi\r\nmg a t l h\r\n") == "HD\r\nHD t100 l0 h0\r\n");
  c.now += 70;  // past memcached's once-a-minute access update
  CHECK(c.say("mg a t l h\r\nmg a l h\r\n") == "HD t30 l70 h1\r\nHD l0 h1\r\n");
  CHECK(c.say("mg a R20 v\r\n") == "VA 2\r\nhi\r\n");  // 30 s left: not yet
  c.now += 15;
  CHECK(c.say("mg a R20 v\r\nmg a R20 v\r\n") == "VA 2 W\r\nhi\r\nVA 2 Z\r\nhi\r\n");
  CHECK(c.say("mg n N5 s\r\n") == "HD s0 W\r\n");
  c.now += 6;
  CHECK(c.say("mg n s\r\nma m N10 J7 t\r\n") == "EN\r\nHD t10\r\n");
  // A value larger than the output goes out across sends, as get's do.
  const std::string big(100'000, 'v');
  CHECK(c.say("ms big 100000\r\n" + big + "\r\nmg big v u k\r\n") ==
        "HD\r\nVA 100000 kbig\r\n" + big + "\r\n");
  // Quiet pipelines: only what is not nominal, then mn.
  CHECK(c.say("ms q 1 q\r\nx\r\nmg q q v\r\nmg none q v\r\nmd none q\r\nmd q q\r\nmn\r\n", 3) ==
        "VA 1\r\nx\r\nNF\r\nMN\r\n");
}

TEST_CASE("memcache: meta flags with arguments they do not take", "[memcache]") {
  fixture f;
  client c(f.cache);
  const std::string long_k(200, 'k');
  CHECK(c.say("ms a 1 c" + long_k + " k" + long_k + " Oop\r\nx\r\n") == "HD c1 ka Oop\r\n");
  CHECK(c.say("mg a k" + long_k + " v\r\n") == "VA 1 ka\r\nx\r\n");
}
