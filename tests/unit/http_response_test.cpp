// HTTP responses and the helpers a file server and router need: dates, content
// types, validators (If-None-Match), ranges, paths, route patterns.
#include <catch2/catch.hpp>

#include <string>

#include <uni/http/response.hpp>
#include <uni/http/router.hpp>
#include <uni/http/files.hpp>
#include <uni/kv/embedded.hpp>

using namespace uni::http;

TEST_CASE("RFC 9110 §5.6.7: IMF-fixdate", "[http]") {
  char d[29];
  format_http_date(784111777, d);
  CHECK(std::string_view(d, 29) == "Sun, 06 Nov 1994 08:49:37 GMT");
  format_http_date(0, d);
  CHECK(std::string_view(d, 29) == "Thu, 01 Jan 1970 00:00:00 GMT");
  format_http_date(951782400, d);  // a leap day
  CHECK(std::string_view(d, 29) == "Tue, 29 Feb 2000 00:00:00 GMT");
  format_http_date(4102444799, d);
  CHECK(std::string_view(d, 29) == "Thu, 31 Dec 2099 23:59:59 GMT");
}

TEST_CASE("Content-Type by file extension", "[http]") {
  CHECK(content_type_for("/index.html") == "text/html; charset=utf-8");
  CHECK(content_type_for("/a/STYLE.CSS") == "text/css; charset=utf-8");
  CHECK(content_type_for("/logo.svg") == "image/svg+xml");
  CHECK(content_type_for("/blob") == "application/octet-stream");
  CHECK(content_type_for("/dir.d/blob") == "application/octet-stream");
}

TEST_CASE("RFC 9110 §13.1.2: If-None-Match compares weakly", "[http]") {
  CHECK(etag_matches("\"abc\"", "\"abc\""));
  CHECK(etag_matches("W/\"abc\"", "\"abc\""));
  CHECK(etag_matches("\"x\", \"abc\"", "\"abc\""));
  CHECK(etag_matches("*", "\"abc\""));
  CHECK_FALSE(etag_matches("\"abd\"", "\"abc\""));
  CHECK_FALSE(etag_matches("abc", "\"abc\""));
}

TEST_CASE("RFC 9110 §14.1.2: byte ranges", "[http]") {
  byte_range r;
  CHECK(parse_range("bytes=0-9", 100, r) == range_result::partial);
  CHECK((r.first == 0 && r.last == 9));
  CHECK(parse_range("bytes=90-", 100, r) == range_result::partial);
  CHECK((r.first == 90 && r.last == 99));
  CHECK(parse_range("bytes=-10", 100, r) == range_result::partial);
  CHECK((r.first == 90 && r.last == 99));
  CHECK(parse_range("bytes=-1000", 100, r) == range_result::partial);
  CHECK((r.first == 0 && r.last == 99));
  CHECK(parse_range("bytes=50-1000", 100, r) == range_result::partial);
  CHECK((r.first == 50 && r.last == 99));
  CHECK(parse_range("bytes=100-", 100, r) == range_result::unsatisfiable);
  CHECK(parse_range("bytes=-0", 100, r) == range_result::unsatisfiable);
  CHECK(parse_range("bytes=9-0", 100, r) == range_result::whole);   // invalid: ignored
  CHECK(parse_range("bytes=0-1,5-6", 100, r) == range_result::whole);  // several: the whole
  CHECK(parse_range("items=0-1", 100, r) == range_result::whole);
  CHECK(parse_range("bytes=a-b", 100, r) == range_result::whole);
}

TEST_CASE("response heads", "[http]") {
  std::uint8_t buf[256];
  head_writer w(buf);
  w.status(206).field("Content-Length", std::uint64_t{10}).content_range(0, 9, 100);
  auto n = w.finish();
  REQUIRE(n);
  CHECK(std::string_view(reinterpret_cast<const char*>(buf), *n) ==
        "HTTP/1.1 206 Partial Content\r\nContent-Length: 10\r\nContent-Range: bytes 0-9/100\r\n\r\n");
  std::uint8_t small[20];
  head_writer s(small);
  s.status(200).field("X", "a long value that does not fit");
  CHECK_FALSE(s.finish());
}

TEST_CASE("request paths: percent-decoding, dot segments refused", "[http]") {
  char buf[64];
  std::string_view out;
  CHECK(decode_path("/a%20b/c.html", buf, out));
  CHECK(out == "/a b/c.html");
  CHECK_FALSE(decode_path("/../etc/passwd", buf, out));
  CHECK_FALSE(decode_path("/a/%2e%2e/b", buf, out));
  CHECK_FALSE(decode_path("/a/..", buf, out));
  CHECK_FALSE(decode_path("/a/./b", buf, out));
  CHECK_FALSE(decode_path("/a%00", buf, out));
  CHECK_FALSE(decode_path("/a%2", buf, out));
  CHECK_FALSE(decode_path("relative", buf, out));
  CHECK_FALSE(decode_path("/" + std::string(100, 'a'), buf, out));
  CHECK(decode_path("/..a/b..", buf, out));
}

TEST_CASE("files: a path names a key, index.html for directories, the digest quoted is the ETag", "[http]") {
  static const std::uint8_t bytes[] = "abc";
  static const uni::kv::embedded_entry entries[] = {
      {"a/index.html", bytes, bytes + 3, "1"},
      {"b.css", bytes, bytes + 1, "2"},
      {"index.html", bytes, bytes + 2, "3"},
  };
  uni::kv::embedded_store store(entries);
  const file_source files(store);
  file f;
  REQUIRE(files.find("/", f) == uni::error::none);
  CHECK(f.etag() == "\"3\"");
  CHECK(f.content_type == "text/html; charset=utf-8");
  REQUIRE(files.find("/a/", f) == uni::error::none);
  CHECK(f.etag() == "\"1\"");
  REQUIRE(files.find("/b.css", f) == uni::error::none);
  CHECK(f.bytes.size() == 1);
  CHECK(f.content_type == "text/css; charset=utf-8");
  CHECK(files.find("/a", f) == uni::error::not_found);
  CHECK(files.find("/c", f) == uni::error::not_found);
  CHECK(files.find("//b.css", f) == uni::error::not_found);  // no key has an empty segment
  CHECK_FALSE(file_source{});
}

TEST_CASE("files: RFC 9110 conditional and range answers", "[http]") {
  request r;
  r.method = method::get;
  auto with = [&](std::initializer_list<field> f) {
    r.field_count = 0;
    for (const field& x : f) r.fields_storage[r.field_count++] = x;
  };
  with({});
  CHECK(answer_for(r, 10, "\"e\"").status == 200);
  CHECK(answer_for(r, 10, "\"e\"").last == 9);
  with({{"if-none-match", "\"e\""}});
  CHECK(answer_for(r, 10, "\"e\"").status == 304);
  with({{"range", "bytes=2-4"}});
  auto a = answer_for(r, 10, "\"e\"");
  CHECK(a.status == 206);
  CHECK(a.first == 2);
  CHECK(a.last == 4);
  with({{"range", "bytes=20-"}});
  CHECK(answer_for(r, 10, "\"e\"").status == 416);
  with({{"range", "bytes=2-4"}, {"if-range", "\"old\""}});  // another version: the whole
  CHECK(answer_for(r, 10, "\"e\"").status == 200);
  r.method = method::head;
  with({{"range", "bytes=2-4"}});
  CHECK(answer_for(r, 10, "\"e\"").status == 200);  // Range is for GET
}

TEST_CASE("router: literal and :param segments, trailing *, 405 with Allow", "[http]") {
  router<4> r;
  auto h = [](exchange&) -> uni::task<void> { co_return; };
  REQUIRE(r.add(method::get, "/users/:user/tweets", h).ok());
  REQUIRE(r.add(method::post, "/users/:user/tweets", h).ok());
  REQUIRE(r.add(method::get, "/static/*", h).ok());
  REQUIRE(r.add(method::get, "/", h).ok());
  CHECK_FALSE(r.add(method::get, "/full", h).ok());
  path_params p;
  const routes::route* found = nullptr;
  std::array<method, 8> allow{};
  std::size_t allowed = 0;
  CHECK(r.find(method::get, "/users/ann/tweets", p, found, allow, allowed) == routes::outcome::found);
  CHECK(p.get("user") == "ann");
  CHECK(found->method == method::get);
  CHECK(r.find(method::head, "/users/ann/tweets", p, found, allow, allowed) == routes::outcome::found);
  CHECK(r.find(method::post, "/users/bob/tweets", p, found, allow, allowed) == routes::outcome::found);
  CHECK(found->method == method::post);
  CHECK(r.find(method::del, "/users/bob/tweets", p, found, allow, allowed) == routes::outcome::wrong_method);
  CHECK(allowed == 2);
  CHECK(r.find(method::get, "/users//tweets", p, found, allow, allowed) == routes::outcome::none);
  CHECK(r.find(method::get, "/users/ann", p, found, allow, allowed) == routes::outcome::none);
  CHECK(r.find(method::get, "/static/css/a.css", p, found, allow, allowed) == routes::outcome::found);
  CHECK(p.get("*") == "css/a.css");
  CHECK(r.find(method::get, "/", p, found, allow, allowed) == routes::outcome::found);
  CHECK(query_value("a=1&b=two&c", "b") == "two");
  CHECK(query_value("a=1&b=two&c", "c").empty());
  CHECK(query_value("a=1", "z").empty());
}
