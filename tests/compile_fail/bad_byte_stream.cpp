// Must NOT compile: a stream that cannot be shut down (no shutdown(), no close())
// given to the HTTP server's connection. The test checks that the message names
// the ByteStream concept and the calls it needs.
#include <uni/http/connection.hpp>

struct half_a_stream {
  uni::task<uni::result<uni::view>> read();
  uni::task<uni::result<void>> write(std::span<const uni::view>);
  uni::task<uni::result<void>> write(const uni::view&);
};

int main() { return sizeof(uni::http::stream_connection<half_a_stream>) > 0; }
