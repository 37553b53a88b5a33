#include <catch2/catch.hpp>

#include <uni/core/wire.hpp>

using namespace uni;

namespace {
// A toy 8-byte header: 16-bit port, 16-bit length, 32-bit sequence.
class toy_view : public wire::header_view<8> {
  using port = wire::field<std::uint16_t, 0>;
  using length = wire::field<std::uint16_t, 2>;
  using sequence = wire::field<std::uint32_t, 4>;

 public:
  static result<toy_view> check(std::span<std::uint8_t> b) { return checked<toy_view>(b); }
  std::uint16_t get_port() const { return get<port>(); }
  void set_port(std::uint16_t v) const { set<port>(v); }
  std::uint16_t get_length() const { return get<length>(); }
  std::uint32_t get_sequence() const { return get<sequence>(); }
  void set_sequence(std::uint32_t v) const { set<sequence>(v); }

 private:
  friend class wire::header_view<8>;
  using header_view::header_view;
};
}  // namespace

TEST_CASE("fields read and write big-endian in place", "[wire]") {
  std::uint8_t bytes[10] = {0x12, 0x34, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef, 0, 0};
  auto v = toy_view::check(bytes);
  REQUIRE(v.ok());
  CHECK(v->get_port() == 0x1234);
  CHECK(v->get_length() == 8);
  CHECK(v->get_sequence() == 0xdeadbeef);
  v->set_port(80);
  CHECK(bytes[0] == 0);
  CHECK(bytes[1] == 80);
  v->set_sequence(0x01020304);
  CHECK(bytes[4] == 1);
  CHECK(bytes[7] == 4);
}

TEST_CASE("a header view cannot be made over too few bytes", "[wire]") {
  std::uint8_t bytes[7]{};
  CHECK(toy_view::check(bytes).err() == error::truncated);
  CHECK(toy_view::check({}).err() == error::truncated);
}

TEST_CASE("load and store are inverse and constexpr", "[wire]") {
  constexpr auto roundtrip = [] {
    std::uint8_t b[4]{};
    wire::store_be32(b, 0xcafef00d);
    return wire::load_be32(b);
  }();
  STATIC_REQUIRE(roundtrip == 0xcafef00d);
}
