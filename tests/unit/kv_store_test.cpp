// The key-value stores: the files embedded into this binary (tests/unit/kv_data,
// through uni_embed_files as the appliances' files are) and a directory on disk,
// both read through the ReadOnlyStore concept: get, exists, digest, list,
// missing keys, and keys that try to climb out of the store.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <uni/kv/concepts.hpp>
#include <uni/kv/embedded.hpp>
#include <uni/posix/directory_store.hpp>

#include "uni_embedded_kv_test_data.hpp"  // generated from tests/unit/kv_data

using namespace uni;

namespace {

std::string_view text(const view& v) { return {reinterpret_cast<const char*>(v.data()), v.size()}; }

template <kv::ReadOnlyStore S>
std::vector<std::string> keys(S& s, std::string_view prefix, std::size_t* count = nullptr) {
  std::vector<std::string> out;
  auto add = [&](std::string_view k) { out.emplace_back(k); };
  auto n = s.list(prefix, add);
  REQUIRE(n.ok());
  if (count) *count = *n;
  return out;
}

// Keys no store may answer: each climbs out, or is not relative.
template <kv::ReadOnlyStore S>
void refuses_traversal(S& s) {
  for (std::string_view bad : {"../secret", "docs/../../secret", "./hello.txt", "/hello.txt", "docs//index.html",
                               "docs/", "", "a\\..\\secret"}) {
    INFO(bad);
    CHECK(s.get(bad).err() == error::invalid_argument);
    CHECK(s.digest(bad).err() == error::invalid_argument);
    CHECK(s.exists(bad).err() == error::invalid_argument);
  }
}

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char name[] = "/tmp/uni-kv-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    path = name;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  void write(const std::string& rel, std::string_view contents) const {
    std::filesystem::create_directories((path / rel).parent_path());
    std::ofstream(path / rel, std::ios::binary) << contents;
  }
};

}  // namespace

TEST_CASE("kv keys: relative '/'-separated paths, no empty or dot segment", "[kv]") {
  CHECK(kv::valid_key("a"));
  CHECK(kv::valid_key("css/site.css"));
  CHECK(kv::valid_key("..a/b.."));
  CHECK_FALSE(kv::valid_key(""));
  CHECK_FALSE(kv::valid_key("/a"));
  CHECK_FALSE(kv::valid_key("a/"));
  CHECK_FALSE(kv::valid_key("a//b"));
  CHECK_FALSE(kv::valid_key("a/./b"));
  CHECK_FALSE(kv::valid_key("../a"));
  CHECK_FALSE(kv::valid_key("a\\b"));
  CHECK_FALSE(kv::valid_key(std::string_view("a\0b", 3)));
  CHECK_FALSE(kv::valid_key(std::string(kv::max_key + 1, 'a')));
}

// The rules spelled out, segment by segment: valid_key's word-at-a-time path for
// plain keys must agree with them on every length, the special byte anywhere.
bool key_by_rules(std::string_view key) {
  if (key.empty() || key.size() > kv::max_key) return false;
  if (key.find('\0') != std::string_view::npos || key.find('\\') != std::string_view::npos) return false;
  for (std::size_t start = 0;;) {
    const std::size_t end = std::min(key.find('/', start), key.size());
    const std::string_view segment = key.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    if (end == key.size()) return true;
    start = end + 1;
  }
}

TEST_CASE("kv keys: the fast path for plain keys agrees with the rules, at every length and position", "[kv]") {
  const char specials[] = {'/', '.', '\\', '\0', 'a'};
  std::size_t checked = 0;
  for (std::size_t length = 1; length <= 20; ++length)
    for (std::size_t at = 0; at < length; ++at)
      for (char c : specials)
        for (char d : specials) {
          std::string key(length, 'k');
          key[at] = c;
          key[length - 1 - at] = d;
          INFO("length " << length << " at " << at);
          CHECK(kv::valid_key(key) == key_by_rules(key));
          ++checked;
        }
  CHECK(checked > 4000);
}

TEST_CASE("embedded store: the files compiled in, by key, with their SHA-256 digests", "[kv]") {
  kv::embedded_store s(kv::embedded_kv_test_data());
  REQUIRE(s.entries().size() == 4);

  auto hello = s.get("hello.txt");
  REQUIRE(hello.ok());
  CHECK(text(*hello) == "hello, store\n");
  // `sha256sum hello.txt`: 7b78d8e7e5025a44...
  CHECK(s.digest("hello.txt")->text() == "7b78d8e7e5025a44");
  CHECK(s.digest("b.bin")->text() == "3e23e8160039594a");
  CHECK(text(*s.get("docs/index.html")) == "<p>docs</p>\n");
  CHECK(s.get("docs/empty")->size() == 0);
  CHECK(*s.exists("docs/index.html"));

  CHECK(s.get("missing.txt").err() == error::not_found);
  CHECK(s.digest("docs").err() == error::not_found);  // a directory is no key
  CHECK_FALSE(*s.exists("missing.txt"));
  refuses_traversal(s);

  std::size_t n = 0;
  CHECK(keys(s, "", &n) == std::vector<std::string>{"b.bin", "docs/empty", "docs/index.html", "hello.txt"});
  CHECK(n == 4);
  CHECK(keys(s, "docs/") == std::vector<std::string>{"docs/empty", "docs/index.html"});
  CHECK(keys(s, "zzz").empty());

  // The bytes are the image's, not a copy: the same address every time.
  CHECK(s.get("hello.txt")->data() == hello->data());
}

TEST_CASE("directory store: a directory's files by key, the digest follows a change", "[kv]") {
  temp_dir t;
  t.write("secret", "outside the root");
  t.write("root/hello.txt", "hello, disk\n");
  t.write("root/docs/index.html", "<p>disk</p>\n");
  t.write("root/docs/empty", "");

  auto opened = posix::directory_store::open((t.path / "root").string() + "/");
  REQUIRE(opened.ok());
  posix::directory_store& s = *opened;

  CHECK(text(*s.get("hello.txt")) == "hello, disk\n");
  CHECK(s.get("docs/empty")->size() == 0);
  CHECK(*s.exists("docs/index.html"));
  CHECK_FALSE(*s.exists("docs"));
  CHECK(s.get("missing").err() == error::not_found);
  CHECK(s.get("docs").err() == error::not_found);  // a directory is no key
  refuses_traversal(s);

  CHECK(keys(s, "") == std::vector<std::string>{"docs/empty", "docs/index.html", "hello.txt"});
  CHECK(keys(s, "docs/") == std::vector<std::string>{"docs/empty", "docs/index.html"});

  // Same file, same digest; rewritten, a new digest and the new bytes, while a
  // view of the old ones stays valid (TCP may still be sending it).
  const view before = *s.get("hello.txt");
  const kv::digest d1 = *s.digest("hello.txt");
  CHECK(*s.digest("hello.txt") == d1);
  std::filesystem::remove(t.path / "root/hello.txt");  // a new inode
  t.write("root/hello.txt", "hello again, disk\n");
  CHECK_FALSE(*s.digest("hello.txt") == d1);
  CHECK(text(*s.get("hello.txt")) == "hello again, disk\n");
  CHECK(text(before) == "hello, disk\n");
}

TEST_CASE("directory store: opening a missing directory or a regular file is an error", "[kv]") {
  temp_dir t;
  t.write("file", "x");
  CHECK(posix::directory_store::open((t.path / "missing").string()).err() == error::not_found);
  CHECK(posix::directory_store::open((t.path / "file").string()).err() == error::invalid_argument);
  CHECK(posix::directory_store::open((t.path / "file/below").string()).err() == error::not_found);
  CHECK(posix::directory_store::open(t.path.string()).ok());
}
