// Builds against the installed headers and runs a task on the POSIX clock.
#include <boost/asio/io_context.hpp>
#include <cstdio>

#include <uni/core/run.hpp>
#include <uni/posix/clock.hpp>

int main() {
  boost::asio::io_context io;
  uni::scheduler sched;
  uni::posix::PosixClock clock(io);
  auto app = [&]() -> uni::task<int> {
    co_await sched.sleep_for(std::chrono::milliseconds(5));
    co_return 42;
  };
  auto r = uni::run(sched, clock, app());
  std::printf("consumer: task returned %d\n", r.ok() ? *r : -1);
  return r.ok() && *r == 42 ? 0 : 1;
}
