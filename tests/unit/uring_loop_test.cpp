// uni::posix::uring_loop: entries complete through their `done`, a wait costs
// one io_uring_enter and ends at its timeout, entries queued between busy turns
// wait for the turn that waits, retire() takes a pending entry back, a
// forwarded signal ends a wait, and entries name registered files and buffers
// by their index in the ring's tables.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>

#include <uni/core/format.hpp>
#include <uni/posix/uring_loop.hpp>

namespace {

using namespace std::chrono_literals;
using uni::posix::uring_loop;

struct read_entry : uring_loop::completion {
  int result = 0;
  int calls = 0;
  char bytes[16] = {};
  read_entry() {
    done = [](uring_loop::completion& c, int res) {
      auto& r = static_cast<read_entry&>(c);
      r.result = res;
      ++r.calls;
    };
  }
};

struct a_pipe {
  int fd[2] = {-1, -1};
  a_pipe() { REQUIRE(::pipe2(fd, O_CLOEXEC) == 0); }
  ~a_pipe() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
};

bool open_loop(uring_loop& l) {
  char buf[120];
  uni::text_writer why{buf, sizeof buf};
  const bool ok = l.open(why);
  if (!ok) WARN("io_uring refused here: " << why.view());
  return ok;
}

}  // namespace

TEST_CASE("uring_loop: a read posted and its data come back through done, in one io_uring_enter", "[uring]") {
  uring_loop loop;
  if (!open_loop(loop)) return;
  a_pipe p;
  read_entry r;
  ::io_uring_prep_read(loop.entry(r), p.fd[0], r.bytes, sizeof r.bytes, 0);
  CHECK(r.in_flight == 1);
  REQUIRE(::write(p.fd[1], "frame", 5) == 5);
  CHECK(loop.wait(1s) == 1);
  CHECK(loop.statistics().enters == 1);  // the submit and the wait together
  CHECK(r.calls == 1);
  CHECK(r.result == 5);
  CHECK(std::memcmp(r.bytes, "frame", 5) == 0);
  CHECK(r.in_flight == 0);
}

TEST_CASE("uring_loop: a wait with nothing to complete ends at its timeout", "[uring]") {
  uring_loop loop;
  if (!open_loop(loop)) return;
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(loop.wait(20ms) == 0);
  CHECK(std::chrono::steady_clock::now() - t0 >= 20ms);
  CHECK(loop.statistics().enters == 1);
}

TEST_CASE("uring_loop: entries queued between busy turns wait for the turn that waits, a few turns at most", "[uring]") {
  uring_loop loop;
  if (!open_loop(loop)) return;
  a_pipe p;
  read_entry r;
  REQUIRE(::write(p.fd[1], "x", 1) == 1);
  ::io_uring_prep_read(loop.entry(r), p.fd[0], r.bytes, sizeof r.bytes, 0);
  for (unsigned i = 1; i < uring_loop::patience; ++i) {
    CHECK(loop.step() == 0);
    CHECK(loop.statistics().enters == 0);
  }
  CHECK(loop.has_unsubmitted());
  loop.step();  // the last turn it waits: submitted (the pipe read completes as it is taken)
  CHECK(loop.statistics().enters == 1);
  CHECK_FALSE(loop.has_unsubmitted());
  loop.wait(1s);
  CHECK(r.calls == 1);
  CHECK(r.result == 1);
}

TEST_CASE("uring_loop: retire takes back a read that would never complete", "[uring]") {
  uring_loop loop;
  if (!open_loop(loop)) return;
  a_pipe p;
  read_entry r;
  ::io_uring_prep_read(loop.entry(r), p.fd[0], r.bytes, sizeof r.bytes, 0);
  CHECK(loop.wait(1ms) == 0);  // submitted, nothing to read
  CHECK(r.in_flight == 1);
  loop.retire(r);
  CHECK(r.in_flight == 0);
  CHECK(r.calls == 1);
  CHECK(r.result == -ECANCELED);
}

TEST_CASE("uring_loop: entries name registered files and buffers by index, and a freed index is taken again",
          "[uring]") {
  uring_loop loop;
  if (!open_loop(loop)) return;
  a_pipe p;
  const int file = loop.register_file(p.fd[0]);
  REQUIRE(file == 0);
  alignas(64) static std::uint8_t memory[4096];
  const int buffer = loop.register_buffer(memory);
  REQUIRE(buffer == 0);

  read_entry r;  // READ_FIXED from the fixed file into the fixed buffer
  io_uring_sqe* sqe = loop.entry(r);
  ::io_uring_prep_read_fixed(sqe, file, memory + 100, 16, 0, static_cast<int>(buffer));
  sqe->flags |= IOSQE_FIXED_FILE;
  REQUIRE(::write(p.fd[1], "frame", 5) == 5);
  CHECK(loop.wait(1s) == 1);
  CHECK(r.result == 5);
  CHECK(std::memcmp(memory + 100, "frame", 5) == 0);

  // A table holds fixed_files; a freed index is the next one taken.
  int taken = 1;
  while (loop.register_file(p.fd[1]) >= 0) ++taken;
  CHECK(taken == static_cast<int>(uring_loop::fixed_files));
  loop.unregister_file(3);
  CHECK(loop.register_file(p.fd[1]) == 3);
  loop.unregister_buffer(buffer);
  CHECK(loop.register_buffer(memory) == buffer);
}

namespace {
volatile sig_atomic_t handled = 0;
int afters = 0;
}  // namespace

TEST_CASE("uring_loop: a forwarded signal ends the wait, its handler runs, then the callback", "[uring]") {
  uring_loop loop;
  if (!open_loop(loop)) return;
  struct sigaction sa {};
  struct sigaction old {};
  sa.sa_handler = [](int) { handled = 1; };
  REQUIRE(::sigaction(SIGUSR2, &sa, &old) == 0);
  handled = 0;
  afters = 0;
  REQUIRE(loop.forward_signals({SIGUSR2}, [](void*) { ++afters; }, nullptr));
  REQUIRE(::raise(SIGUSR2) == 0);  // blocked: pending until the loop lets it in
  CHECK(handled == 0);
  const auto t0 = std::chrono::steady_clock::now();
  loop.wait(5s);
  CHECK(std::chrono::steady_clock::now() - t0 < 4s);
  CHECK(handled == 1);
  CHECK(afters == 1);
  CHECK(loop.statistics().signals == 1);
  loop.close();  // unblocks it again
  sigset_t now;
  ::sigprocmask(SIG_BLOCK, nullptr, &now);
  CHECK_FALSE(sigismember(&now, SIGUSR2));
  ::sigaction(SIGUSR2, &old, nullptr);
}
