// tests/fuzz/http_fuzz.cpp: libFuzzer target for the HTTP/1.1 request parser
// (uni/http/request.hpp, uni/http/body.hpp). The input is a byte stream a
// client sent on one connection; it is run through what a server connection
// does without I/O: head_reader, parse_head, then the body decoder, request
// after request, until an error or the end. Checked:
//   1. the outcome (statuses, methods, paths, body bytes) is the same whether
//      the stream arrives whole or cut into pieces of varying sizes (taken
//      from the input's first byte), so no state is lost across segments;
//   2. a parsed request's strings all lie inside its head, its path is an
//      origin-form path (or "*" or an authority for CONNECT), its Content-Length
//      is within the body bound, and no body exceeds it;
//   3. nothing reads outside its input (AddressSanitizer).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <uni/core/buffer.hpp>
#include <uni/http/body.hpp>
#include <uni/http/request.hpp>

using namespace uni;
using namespace uni::http;

namespace {

constexpr limits lim{512, 16, 4096};

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_fuzz: %s\n", what);
    std::abort();
  }
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// The connection's work over `data`, cut into pieces of `step(i)` bytes.
template <class Step>
std::string transcript(const std::vector<std::uint8_t>& data, Step step) {
  std::string out;
  head_reader<1024> reader(lim.max_request_line);
  request r;
  body_decoder body;
  bool in_body = false;
  std::size_t at = 0, piece = 0;
  while (at < data.size()) {
    const std::size_t n = std::min(step(piece++), data.size() - at);
    view in = view::unowned(std::span<const std::uint8_t>(data.data() + at, n));
    at += n;
    while (!in.empty()) {
      if (!in_body) {
        const head_status hs = reader.feed(in);
        if (hs == head_status::need_more) break;
        if (hs != head_status::complete) {
          out += hs == head_status::line_too_long ? "[414]" : "[431]";
          return out;
        }
        const std::string_view head = reader.head();
        check(head.size() <= 1024, "head longer than the reader's capacity");
        const int status = parse_head(head, r, lim);
        out += "[" + std::to_string(status) + " " + std::string(to_string(r.method)) + " ";
        if (status != 0) {
          out += "]";
          return out;
        }
        // (An absolute-form target without a path has the path "/", a literal.)
        check(inside(r.method_name, head) && inside(r.target, head) && (inside(r.path, head) || r.path == "/") &&
                  inside(r.query, head),
              "request strings outside the head");
        for (const field& f : r.fields()) check(inside(f.name, head) && inside(f.value, head), "field outside the head");
        check(r.content_length <= lim.max_body, "Content-Length over the bound accepted");
        check(r.method == method::connect || r.method == method::options || r.path.starts_with('/'),
              "path not in origin form");
        out += std::string(r.path) + "]";
        body.start(r, lim.max_body);
        in_body = true;
        reader.reset();
      }
      view part;
      const body_status bs = body.next(in, part);
      if (bs == body_status::data) {
        out.append(reinterpret_cast<const char*>(part.data()), part.size());
        check(body.received() <= lim.max_body, "body over the bound");
        continue;
      }
      if (bs == body_status::need_more) break;
      if (bs == body_status::done) {
        out += "[end]";
        in_body = false;
        continue;
      }
      out += bs == body_status::malformed ? "[400]" : "[413]";
      return out;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* d, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t seed = d[0];
  const std::vector<std::uint8_t> data(d + 1, d + size);
  const std::string whole = transcript(data, [](std::size_t) { return std::size_t(-1); });
  const std::string cut = transcript(data, [&](std::size_t i) { return std::size_t(1 + (seed + i * 7) % 23); });
  const std::string bytes = transcript(data, [](std::size_t) { return std::size_t(1); });
  check(whole == cut, "a cut stream parsed differently");
  check(whole == bytes, "a stream fed byte by byte parsed differently");
  return 0;
}
