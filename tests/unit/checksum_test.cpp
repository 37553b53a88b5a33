#include <catch2/catch.hpp>

#include <cstdint>
#include <uni/core/checksum.hpp>
#include <uni/core/random.hpp>
#include <vector>

using namespace uni;

TEST_CASE("RFC 1071 example sums to ddf2", "[checksum]") {
  // RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 have the sum ddf2.
  const std::uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  checksum_accumulator acc;
  acc.add(data);
  CHECK(acc.folded() == 0xddf2);
  CHECK(internet_checksum(data) == static_cast<std::uint16_t>(~0xddf2));
}

TEST_CASE("an IPv4 header with its checksum sums to zero", "[checksum]") {
  std::uint8_t hdr[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                        0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  const std::uint16_t c = internet_checksum(hdr);
  CHECK(c == 0xb861);  // the well-known example header
  hdr[10] = static_cast<std::uint8_t>(c >> 8);
  hdr[11] = static_cast<std::uint8_t>(c);
  CHECK(internet_checksum(hdr) == 0);
}

TEST_CASE("split spans sum as one buffer, odd lengths included", "[checksum]") {
  random_generator rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::uint8_t> buf(rng.below(300));
    for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
    const std::uint16_t whole = internet_checksum(buf);
    checksum_accumulator acc;
    std::size_t at = 0;
    while (at < buf.size()) {
      std::size_t n = 1 + rng.below(buf.size() - at);
      acc.add(std::span<const std::uint8_t>(buf).subspan(at, n));
      at += n;
    }
    REQUIRE(acc.finish() == whole);
  }
}

// RFC 1071 §4.1's loop: 16-bit big-endian words, one at a time.
static std::uint16_t reference_sum(std::span<const std::uint8_t> b) {
  std::uint64_t s = 0;
  for (std::size_t i = 0; i < b.size(); i += 2) s += (std::uint64_t{b[i]} << 8) + (i + 1 < b.size() ? b[i + 1] : 0);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}

TEST_CASE("the 64-bit word sum equals 16-bit words summed one at a time, at every alignment", "[checksum]") {
  random_generator rng(13);
  std::vector<std::uint8_t> buf(9000);
  for (int round = 0; round < 300; ++round) {
    // All-ones bytes make every word addition carry; random ones mix carries.
    for (auto& b : buf) b = round % 5 == 0 ? 0xff : static_cast<std::uint8_t>(rng());
    const std::size_t start = rng.below(16), len = rng.below(buf.size() - 16);
    const auto part = std::span<const std::uint8_t>(buf).subspan(start, len);
    checksum_accumulator acc;
    const std::size_t cut = len == 0 ? 0 : rng.below(len);  // an odd cut pairs a byte across spans
    acc.add(part.first(cut));
    acc.add(part.subspan(cut));
    REQUIRE(acc.folded() == reference_sum(part));
  }
}

TEST_CASE("short spans such as headers and small datagrams sum as 16-bit words do at every length and alignment and cut", "[checksum]") {
  random_generator rng(17);
  std::vector<std::uint8_t> buf(128);
  for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
  for (std::size_t len = 0; len <= 100; ++len)
    for (std::size_t start = 0; start < 8; ++start) {
      const auto part = std::span<const std::uint8_t>(buf).subspan(start, len);
      for (std::size_t cut = 0; cut <= len; ++cut) {
        checksum_accumulator acc;
        acc.add(part.first(cut));
        acc.add(part.subspan(cut));
        REQUIRE(acc.folded() == reference_sum(part));
      }
    }
}

TEST_CASE("one buffer's checksum equals the 16-bit word sum's at every length and alignment", "[checksum]") {
  random_generator rng(23);
  std::vector<std::uint8_t> buf(160);
  for (int round = 0; round < 4; ++round) {
    for (auto& b : buf) b = static_cast<std::uint8_t>(round == 3 ? 0xff : rng());  // all ones: the carries' worst case
    for (std::size_t len = 0; len <= 150; ++len)
      for (std::size_t start = 0; start < 8; ++start) {
        const auto part = std::span<const std::uint8_t>(buf).subspan(start, len);
        REQUIRE(internet_checksum(part) == static_cast<std::uint16_t>(~reference_sum(part)));
      }
  }
}

// The byte-at-a-time path of constant evaluation gives the same sum.
static_assert([] {
  const std::uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0x12, 0x34};
  checksum_accumulator acc;
  acc.add(data);
  return acc.folded() == 0xddf2 + 0x1234;
}());

TEST_CASE("RFC 1624 incremental update equals a full recomputation", "[checksum]") {
  random_generator rng(11);
  for (int round = 0; round < 500; ++round) {
    std::uint8_t buf[20];
    for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
    buf[10] = buf[11] = 0;
    const std::uint16_t before = internet_checksum(buf);
    const std::size_t at = 2 * rng.below(10);
    if (at == 10) continue;
    const std::uint16_t old_word = static_cast<std::uint16_t>((buf[at] << 8) | buf[at + 1]);
    const std::uint16_t new_word = static_cast<std::uint16_t>(rng());
    buf[at] = static_cast<std::uint8_t>(new_word >> 8);
    buf[at + 1] = static_cast<std::uint8_t>(new_word);
    const std::uint16_t full = internet_checksum(buf);
    const std::uint16_t incremental = checksum_update16(before, old_word, new_word);
    // One's complement has two zeros (0x0000 and 0xffff); both encode the same sum.
    REQUIRE((incremental == full || (incremental ^ full) == 0xffff));
  }
}

TEST_CASE("32-bit incremental update (an address rewrite)", "[checksum]") {
  std::uint8_t buf[8] = {1, 2, 3, 4, 10, 0, 0, 1};
  const std::uint16_t before = internet_checksum(buf);
  buf[4] = 192, buf[5] = 168, buf[6] = 1, buf[7] = 2;
  CHECK(checksum_update32(before, 0x0a000001u, 0xc0a80102u) == internet_checksum(buf));
}
