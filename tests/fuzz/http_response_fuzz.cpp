// tests/fuzz/http_response_fuzz.cpp: libFuzzer target for what the HTTP client
// reads from a server (uni/http/client.hpp, uni/http/body.hpp): a response head
// (parse_response_head) and then its body through the body decoder, the body
// arriving in pieces whose sizes come from the input's first byte. Checked:
// every field lies inside the head; the framing follows RFC 9112 §6.3 (no body
// for HEAD, 1xx, 204, 304; to the end of the connection without a length, which
// also ends keep-alive); a length-framed body yields exactly Content-Length
// bytes or fewer and then needs more; no body exceeds the client's bound; the
// decoder's count matches the bytes it handed out; nothing reads outside its
// input (AddressSanitizer).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <uni/core/buffer.hpp>
#include <uni/http/client.hpp>

using namespace uni;
using namespace uni::http;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_response_fuzz: %s\n", what);
    std::abort();
  }
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

constexpr std::uint64_t max_body = 8192;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const bool head_request = data[0] & 0x80;
  const std::size_t piece = 1 + (data[0] & 0x3f);
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t end = input.find("\r\n\r\n");
  if (end == std::string_view::npos) return 0;
  const std::string_view head = input.substr(0, end + 4);
  response r;
  if (!parse_response_head(head, r, head_request)) return 0;
  check(r.status >= 100 && r.status <= 599, "status out of range");
  for (const field& f : r.fields()) check(inside(f.name, head) && inside(f.value, head), "field outside the head");
  const bool no_body = head_request || r.status < 200 || r.status == 204 || r.status == 304;
  if (no_body) check(r.framing == body_framing::none, "a body where RFC 9112 allows none");
  const bool to_close = !no_body && r.framing == body_framing::none && r.content_length == ~std::uint64_t{0};
  if (to_close) check(!r.keep_alive, "a close-delimited body kept alive");

  // The body, in pieces, from a copy in one page (as the client's reads give it).
  const std::string_view rest = input.substr(end + 4);
  if (rest.size() > page_size) return 0;
  static_page_pool<1>* pool = new static_page_pool<1>;
  {
    view page = *pool->allocate();
    std::memcpy(page.data(), rest.data(), rest.size());
    body_decoder d;
    d.start(r.framing, r.content_length, max_body, to_close);
    std::uint64_t handed = 0;
    bool finished = false;
    for (std::size_t off = 0; off <= rest.size() && !finished;) {
      const std::size_t n = std::min(piece, rest.size() - off);
      view in = page.tail(off).head(n);
      off += n;
      while (true) {
        view out;
        const body_status s = d.next(in, out);
        if (s == body_status::data) {
          check(!out.empty(), "empty data");
          handed += out.size();
          check(handed <= max_body || r.framing == body_framing::length, "body past the bound");
          continue;
        }
        if (s == body_status::done || s == body_status::malformed || s == body_status::too_large) finished = true;
        break;
      }
      if (n == 0) break;
    }
    check(d.received() == handed, "the decoder's count differs from what it handed out");
    if (r.framing == body_framing::length) check(handed <= r.content_length, "more than Content-Length");
  }
  delete pool;
  return 0;
}
