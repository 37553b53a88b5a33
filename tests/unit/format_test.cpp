#include <catch2/catch.hpp>

#include <climits>
#include <string>
#include <uni/core/counters.hpp>
#include <uni/core/format.hpp>
#include <uni/core/result.hpp>
#include <uni/net/mac_address.hpp>
#include <uni/net/stack_counters.hpp>  // detail::nth_name

using namespace uni;

namespace {
enum class toy_drop { bad_checksum, too_short, count_ };
constexpr char toy_drop_names[] = "bad checksum\0too short";  // one string, as layer_counters wants
constexpr std::string_view to_string(toy_drop d) { return detail::nth_name(toy_drop_names, static_cast<std::size_t>(d)); }
template <class... A>
std::string written(const A&... a) {
  return std::string(fixed_text<128>(a...).view());
}
}  // namespace

TEST_CASE("the formatter writes strings, integers and hex", "[format]") {
  CHECK(written("port ", 80, " seq ", 4294967295u) == "port 80 seq 4294967295");
  CHECK(written(-42, ' ', LLONG_MIN) == "-42 -9223372036854775808");
  CHECK(written(hex(0xbeefu), " ", hex(std::uint8_t{5}, 2)) == "beef 05");
  CHECK(written(true, false) == "truefalse");
  // A data pointer is its address in hex (not a bool: "operator delete: 1000 is not a heap block").
  const void* p = reinterpret_cast<const void*>(std::uintptr_t{0x1000});
  int* q = reinterpret_cast<int*>(std::uintptr_t{0xbeef0});
  CHECK(written(p, " ", q, " ", static_cast<const void*>(nullptr)) == "1000 beef0 0");
}

TEST_CASE("the formatter writes C strings, views, characters and values with a format_value", "[format]") {
  const char* none = nullptr;
  char word[] = "mutable";
  const std::string owned = "owned";
  const auto m = *mac_address::parse("02:00:00:00:00:01");
  CHECK(written("a ", none, ' ', word, ' ', std::string_view{"xyz", 2}, ' ', owned) == "a (null) mutable xy owned");
  CHECK(written(hex(std::uint64_t{0xabc}, 16), ' ', short{-7}, ' ', std::uint8_t{200}) == "0000000000000abc -7 200");
  CHECK(written("mac ", m, ", ", m, " (", 1, ")") == "mac 02:00:00:00:00:01, 02:00:00:00:00:01 (1)");
}

TEST_CASE("the formatter truncates instead of overflowing", "[format]") {
  fixed_text<4> t("abcdefgh");
  CHECK(t.view() == "abcd");
}

TEST_CASE("a text_writer takes back what was written after a point", "[format]") {
  char buf[16];
  text_writer w{buf, sizeof buf};
  format_to(w, "--port", ": ");
  const std::size_t mark = w.size();
  format_to(w, "a reason");
  w.truncate(mark);
  CHECK(w.view() == "--port: ");
  w.truncate(100);  // past the end: nothing changes
  CHECK(w.view() == "--port: ");
  w.truncate(0);
  CHECK(w.view().empty());
}

TEST_CASE("counters print non-zero drop reasons", "[counters]") {
  layer_counters<toy_drop> c;
  c.received = 10;
  c.sent = 3;
  c.drop(toy_drop::too_short);
  c.drop(toy_drop::too_short);
  CHECK(c.dropped_total() == 2);
  CHECK(written(c) == "rx 10 tx 3 dropped 2 (too short 2)");
}

TEST_CASE("MAC addresses parse and print", "[format]") {
  auto m = mac_address::parse("02:00:5e:10:AB:ff");
  REQUIRE(m.ok());
  CHECK(written(*m) == "02:00:5e:10:ab:ff");
  CHECK_FALSE(mac_address::parse("02:00:5e:10:ab").ok());
  CHECK_FALSE(mac_address::parse("02:00:5e:10:ab:fg").ok());
  CHECK(mac_address::broadcast().is_broadcast());
  CHECK(m->is_multicast() == false);
}

TEST_CASE("result holds a value or an error", "[result]") {
  result<std::string> ok = std::string("x");
  result<std::string> bad = fail(error::timed_out);
  CHECK(ok.ok());
  CHECK(*ok == "x");
  CHECK_FALSE(bad.ok());
  CHECK(bad.err() == error::timed_out);
  result<std::string> copy = ok;
  CHECK(*copy == "x");
  bad = copy;
  CHECK(*bad == "x");
  CHECK(to_string(error::reset) == "reset");
  CHECK(to_string(error::none) == "none");
  CHECK(to_string(error::permission) == "permission denied");
  CHECK(to_string(error::corrupt) == "corrupt");
  CHECK(to_string(static_cast<error>(200)) == "unknown");
  static_assert(to_string(error::io) == "I/O error");
}

TEST_CASE("fmt<> writes its text around the values, a hole each", "[format]") {
  CHECK(written(fmt<"rx {} of {} slots">, 3, 8u) == "rx 3 of 8 slots");
  CHECK(written(fmt<"{} and {}">, "a", std::string_view{"b"}) == "a and b");
  CHECK(written(fmt<"{}{}">, 'x', hex(0xffu)) == "xff");
  CHECK(written(fmt<"no values">) == "no values");
  CHECK(written(fmt<"mac {}.">, *mac_address::parse("02:00:00:00:00:01")) == "mac 02:00:00:00:00:01.");
  CHECK(written(fmt<"{} pages walked{}">, 12, "; no NX") == "12 pages walked; no NX");
  // One NUL-separated constant holds the texts between the holes.
  STATIC_REQUIRE(decltype(fmt<"a {} b {}">)::holes == 2);
  STATIC_REQUIRE(std::string_view(decltype(fmt<"a {} b {}">)::pieces(), 7) == std::string_view("a \0 b \0", 7));
  STATIC_REQUIRE(!detail::holes_match<decltype(fmt<"{} {}">), int>());
  STATIC_REQUIRE(detail::holes_match<decltype(fmt<"{} {}">), int, int>());
  STATIC_REQUIRE(!detail::holes_match<int, decltype(fmt<"{}">)>());
}
