// An appliance's declared devices (uni/devices.hpp) on the posix-socket target:
// a Config with a network interface and a vchan endpoint starts, and its service
// is given the stack and the vchans, in that order, through the one start of day
// (run_socket_appliance). Both are judged by Linux: TCP through the stack over
// 127.0.0.1, and a Unix-socket client of the vchan's twin.
#include <catch2/catch.hpp>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include <uni/net/transport.hpp>
#include <uni/posix/socket_appliance.hpp>

using namespace uni;

namespace {

struct net_and_vchan_config : default_config {
  static constexpr std::size_t vchan_endpoints = 1;
  static constexpr std::size_t io_pages = 64;
};

std::string_view text_of(const view& v) { return {reinterpret_cast<const char*>(v.data()), v.size()}; }

// Which step failed (0: none); the coroutine reports, the test checks.
struct findings {
  int step = -1;
  std::string tcp, vchan, back;
};

task<int> serve_both(posix::SocketStack& stack, auto& vchans, const std::string& path, findings& f) {
  static_assert(std::remove_cvref_t<decltype(vchans)>::size() == 1);
  f.step = 1;
  auto l = stack.tcp_listen(0);
  if (!l) co_return 1;
  auto c = co_await stack.tcp_connect(l->local(), std::chrono::seconds(2));
  if (!c) co_return 1;
  auto a = co_await l->accept();
  if (!a) co_return 1;
  static const std::uint8_t hello[] = {'n', 'e', 't'};
  if (!co_await c->write(view::unowned(std::span<const std::uint8_t>(hello)))) co_return 1;
  auto got = co_await a->read();
  if (!got) co_return 1;
  f.tcp = text_of(*got);

  f.step = 2;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  std::memcpy(to.sun_path, path.c_str(), std::min(path.size() + 1, sizeof to.sun_path));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0 && ::send(fd, "vchan", 5, 0) == 5) {
    auto s = co_await vchans[0].accept();
    static_assert(ByteStream<std::remove_cvref_t<decltype(*s)>>);
    if (s) {
      auto in = co_await s->read();
      if (in) f.vchan = text_of(*in);
      static const std::uint8_t reply[] = {'b', 'a', 'c', 'k'};
      auto wrote = co_await s->write(view::unowned(std::span<const std::uint8_t>(reply)));
      char buf[8] = {};
      if (const ssize_t n = wrote ? ::recv(fd, buf, sizeof buf, 0) : -1; n > 0)
        f.back.assign(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  if (f.back.empty()) co_return 2;
  f.step = 0;
  co_return 0;
}

}  // namespace

TEST_CASE("appliance: a Config with a stack and a vchan endpoint starts on posix-socket, its service gets both",
          "[appliance][vchan]") {
  const std::string path = "/tmp/uni-devices-test-" + std::to_string(::getpid()) + ".sock";
  findings f;
  std::string name = "devices", vchan = "--vchan", log = "--log", warn = "warn";
  char* argv[] = {name.data(), vchan.data(), const_cast<char*>(path.c_str()), log.data(), warn.data(), nullptr};
  const int status = posix::run_socket_appliance<net_and_vchan_config>(
      "devices", 5, argv, {}, [&](posix::SocketStack& stack, auto& vchans, const appliance_options&) {
        return serve_both(stack, vchans, path, f);
      });
  CHECK(status == 0);
  CHECK(f.step == 0);
  CHECK(f.tcp == "net");
  CHECK(f.vchan == "vchan");
  CHECK(f.back == "back");
  CHECK(::access(path.c_str(), F_OK) != 0);  // the socket is removed at the end

  // Without --vchan it refuses to start, as an appliance without its disk does.
  char* bare[] = {name.data(), log.data(), warn.data(), nullptr};
  bool served = false;
  CHECK(posix::run_socket_appliance<net_and_vchan_config>("devices", 3, bare, {},
                                                          [&](auto&, auto&, const appliance_options&) -> task<int> {
                                                            served = true;
                                                            co_return 0;
                                                          }) == 2);
  CHECK_FALSE(served);
}
