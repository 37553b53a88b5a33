// examples/vchan-echo: echoes a vchan (RFC 862's echo, over Xen's shared-memory
// channel instead of TCP): one connection, every byte sent back as it came,
// until the peer goes. On Xen a Linux domain connects with libxenvchan (e.g.
// `vchan-socket-proxy -m client DOMID /local/domain/DOMID/data/vchan -`); on
// POSIX any Unix-socket client does (`socat - UNIX-CONNECT:PATH`).
// Exit status 0 once the peer has gone, whether it closed or died; 1 if the
// channel broke (a peer that corrupted the ring) or nobody came.
#include <uni/vchan_appliance.hpp>

#include <uni/core/log.hpp>
#include <uni/net/transport.hpp>

namespace {

uni::task<int> serve(auto& vchans, const uni::appliance_options&) {
  auto s = co_await vchans.accept();
  if (!s) {
    uni::log_error("vchan-echo: no connection: ", uni::to_string(s.err()));
    co_return 1;
  }
  static_assert(uni::ByteStream<std::remove_cvref_t<decltype(*s)>>);
  std::uint64_t bytes = 0;
  uni::error ended = uni::error::none;
  for (;;) {
    auto d = co_await s->read();
    if (!d) {
      ended = d.err();
      break;
    }
    if (d->empty()) break;
    bytes += d->size();
    if (auto w = co_await s->write(*d); !w) {
      ended = w.err();
      break;
    }
  }
  s->close();
  // The peer going away mid-write (closed) ends the echo as its close does.
  const bool clean = ended == uni::error::none || ended == uni::error::closed;
  uni::log_info("vchan-echo: ", bytes, " bytes echoed; ended by ", clean ? "the peer going" : "an error: ",
                clean ? "" : uni::to_string(ended));
  co_return clean ? 0 : 1;
}

}  // namespace

UNI_VCHAN_APPLIANCE("vchan-echo", 64, serve)
