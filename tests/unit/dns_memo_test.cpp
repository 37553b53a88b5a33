// The DNS memo table (uni/dns/memo.hpp): entries found by their exact key, sets
// that give up an entry when full, an arena that forgets everything when full.
#include <catch2/catch.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <uni/dns/memo.hpp>

using uni::dns::memo_table;

namespace {

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
std::string text(std::span<const std::uint8_t> b) { return {b.begin(), b.end()}; }

}  // namespace

TEST_CASE("dns memo: an answer is found by its exact key, not by its hash alone") {
  memo_table m(64, 4096);
  REQUIRE(m.enabled());
  CHECK(m.capacity() == 64);
  m.insert(bytes("key-one"), 7, bytes("answer one"));
  CHECK(text(m.find(bytes("key-one"), 7)) == "answer one");
  CHECK(m.find(bytes("key-two"), 7).empty());   // same hash, other key
  CHECK(m.find(bytes("key-one"), 8).empty());   // other hash
  CHECK(m.find(bytes("key-on"), 7).empty());    // a prefix is another key
  m.insert(bytes("key-two"), 7, bytes("answer two"));
  CHECK(text(m.find(bytes("key-one"), 7)) == "answer one");
  CHECK(text(m.find(bytes("key-two"), 7)) == "answer two");
  m.insert(bytes("key-one"), 7, bytes("answer one, again"));  // replaces, not a second way
  CHECK(text(m.find(bytes("key-one"), 7)) == "answer one, again");
  CHECK(text(m.find(bytes("key-two"), 7)) == "answer two");
}

TEST_CASE("dns memo: a full set gives up one entry, the others stay") {
  memo_table m(8, 1 << 16);  // one set of eight ways: every hash lands in it
  for (int i = 0; i < 8; ++i) m.insert(bytes("k" + std::to_string(i)), static_cast<std::uint32_t>(i), bytes("a" + std::to_string(i)));
  for (int i = 0; i < 8; ++i) CHECK(text(m.find(bytes("k" + std::to_string(i)), static_cast<std::uint32_t>(i))) == "a" + std::to_string(i));
  m.insert(bytes("k8"), 8, bytes("a8"));
  CHECK(text(m.find(bytes("k8"), 8)) == "a8");
  int kept = 0;
  for (int i = 0; i < 8; ++i) kept += !m.find(bytes("k" + std::to_string(i)), static_cast<std::uint32_t>(i)).empty();
  CHECK(kept == 7);
}

TEST_CASE("dns memo: a full arena is forgotten at once and fills again, bounds hold") {
  memo_table m(1024, 100);
  m.insert(bytes("a"), 1, bytes(std::string(40, 'x')));  // 45 bytes
  m.insert(bytes("b"), 2, bytes(std::string(40, 'y')));  // 90
  CHECK(m.flushes() == 0);
  CHECK(m.find(bytes("a"), 1).size() == 40);
  m.insert(bytes("c"), 3, bytes(std::string(40, 'z')));  // no room: everything goes, then c
  CHECK(m.flushes() == 1);
  CHECK(m.find(bytes("a"), 1).empty());
  CHECK(m.find(bytes("b"), 2).empty());
  CHECK(text(m.find(bytes("c"), 3)) == std::string(40, 'z'));
  m.insert(bytes("d"), 4, bytes(std::string(200, 'w')));  // bigger than the arena: not kept
  CHECK(m.find(bytes("d"), 4).empty());
  CHECK(text(m.find(bytes("c"), 3)) == std::string(40, 'z'));
  memo_table none(0, 100);
  CHECK_FALSE(none.enabled());
}
