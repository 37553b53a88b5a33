#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <uni/posix/pcap.hpp>
#include <vector>

using namespace uni;

TEST_CASE("pcap files have the libpcap header and one record per frame", "[pcap]") {
  const std::string path = "uni_pcap_test.pcap";
  static_page_pool<2> pool;
  {
    posix::pcap_writer w(path);
    REQUIRE(w.is_open());
    view a = pool.allocate()->head(14);
    view b = pool.allocate()->head(46);
    a[0] = 0xaa;
    b[45] = 0xbb;
    view frags[] = {a, b};
    w.record(frags, std::chrono::system_clock::time_point{std::chrono::seconds(1700000000)});
    w.record(a, std::chrono::system_clock::now());
    CHECK(w.frames() == 2);
  }
  std::ifstream in(path, std::ios::binary);
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), {});
  std::remove(path.c_str());
  REQUIRE(bytes.size() == 24 + 16 + 60 + 16 + 14);
  auto u32 = [&](std::size_t at) {
    return std::uint32_t(bytes[at]) | std::uint32_t(bytes[at + 1]) << 8 | std::uint32_t(bytes[at + 2]) << 16 |
           std::uint32_t(bytes[at + 3]) << 24;
  };
  CHECK(u32(0) == 0xa1b2c3d4);
  CHECK(u32(20) == 1);  // LINKTYPE_ETHERNET
  CHECK(u32(24) == 1700000000);
  CHECK(u32(32) == 60);  // captured length
  CHECK(bytes[40] == 0xaa);
  CHECK(bytes[40 + 59] == 0xbb);
}
