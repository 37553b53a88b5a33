// uni/posix/child_process.hpp: a child process (the Xen toolstack's `xl`, say)
// that a coroutine starts and waits for without stopping the others. Its exit
// arrives on a pidfd (Linux 5.3) and its output (stdout and stderr together) on
// a pipe; both join the platform's one wait, the Asio io_context of PosixClock,
// as the TAP device and the io_uring eventfd do. The output's last bytes are
// kept (a bounded tail) for the log line that says why a command failed.
//
//   auto c = child_process::start(io, sched, {"xl", "create", "www.cfg"});
//   auto status = co_await c->wait_until(deadline);  // exit code, or timed_out
//   if (!status) c->kill();                          // reaped by the next wait
//
// The child gets /dev/null as stdin and none of our other descriptors. A child
// still running when its handle goes is killed and reaped there.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <array>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <uni/core/result.hpp>
#include <uni/core/scheduler.hpp>
#include <uni/core/task.hpp>
#include <uni/posix/socket_stack.hpp>

extern char** environ;

namespace uni::posix {

class child_process {
 public:
  // Bytes of output kept: the end of it, where a failing command says why.
  static constexpr std::size_t kept_output = 512;

  child_process(child_process&&) noexcept = default;
  child_process& operator=(child_process&&) noexcept = default;
  ~child_process() {
    if (!st_) return;
    if (!st_->exited) {
      ::kill(st_->pid, SIGKILL);
      int status = 0;
      ::waitpid(st_->pid, &status, 0);  // a killed process goes at once
      st_->exited = true;
    }
    st_->close();
  }

  // Starts `words[0]` (searched on PATH) with the rest as its arguments.
  static result<child_process> start(boost::asio::io_context& io, scheduler& s, std::vector<std::string> words) {
    if (words.empty()) return fail(error::invalid_argument);
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return fail(detail::socket_error(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);  // our sockets stay ours
    pid_t pid = 0;
    const int e = ::posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(out[1]);
    if (e != 0) {
      ::close(out[0]);
      return fail(e == ENOENT ? error::not_found : detail::socket_error(e));
    }
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) {
      ::kill(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
      ::close(out[0]);
      return fail(error::io);
    }
    ::fcntl(out[0], F_SETFL, O_NONBLOCK);
    return child_process(std::make_shared<state>(io, s, pid, pidfd, out[0]));
  }

  // Runs `words` to its end outside the event loop (a program's last clean-up,
  // once the loop has stopped): its output goes to ours; past `limit` it is
  // killed. Its exit status, or -1 if it could not run or was killed.
  static int run_blocking(std::vector<std::string> words, duration limit) {
    if (words.empty()) return -1;
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (::posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
    const auto give_up = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= give_up) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return -1;
      }
      ::usleep(10'000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Waits until the child has exited and returns its status (its exit code, or
  // 128 + the signal that ended it), or error::timed_out at `deadline` (it runs on).
  task<result<int>> wait_until(time_point deadline) {
    std::shared_ptr<state> st = st_;
    while (!st->exited) {
      st->arm(st);
      const wake_reason why = co_await st->changed.wait_until(deadline);
      st->drain();
      st->reap();
      if (st->exited) break;
      if (why == wake_reason::timed_out) co_return fail(error::timed_out);
      if (why == wake_reason::cancelled) co_return fail(error::cancelled);
    }
    st->drain();
    co_return st->status;
  }

  // Ends it now (SIGKILL); the next wait_until reaps it.
  void kill() noexcept {
    if (st_ && !st_->exited) ::kill(st_->pid, SIGKILL);
  }
  bool exited() const noexcept { return st_->exited; }
  pid_t pid() const noexcept { return st_->pid; }
  // The last kept_output bytes it wrote, so far.
  std::string_view output() const noexcept { return {st_->tail.data(), st_->tail_size}; }

 private:
  // Shared with the Asio waits in flight: one may complete after the handle is gone.
  struct state {
    state(boost::asio::io_context& io, scheduler& s, pid_t p, int pidfd, int out)
        : pid(p), exit_fd(io, pidfd), output(io, out), changed(s) {}
    pid_t pid;
    boost::asio::posix::stream_descriptor exit_fd, output;
    wait_queue changed;
    bool exit_armed = false, output_armed = false, exited = false;
    int status = 0;
    std::array<char, kept_output> tail{};
    std::size_t tail_size = 0;

    void arm(const std::shared_ptr<state>& keep) {
      arm_one(keep, exit_fd, &state::exit_armed);
      arm_one(keep, output, &state::output_armed);
    }
    static void arm_one(const std::shared_ptr<state>& keep, boost::asio::posix::stream_descriptor& fd,
                        bool state::*armed) {
      if ((*keep).*armed || !fd.is_open()) return;
      (*keep).*armed = true;
      fd.async_wait(boost::asio::posix::stream_descriptor::wait_read, [keep, armed](const boost::system::error_code&) {
        (*keep).*armed = false;
        keep->changed.notify_all();
      });
    }
    // Reads what the pipe holds, keeping the tail; closes it at its end.
    void drain() {
      if (!output.is_open()) return;
      char buf[4096];
      while (true) {
        const ssize_t n = ::read(output.native_handle(), buf, sizeof buf);
        if (n > 0) {
          keep_tail(std::string_view(buf, static_cast<std::size_t>(n)));
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        // The end (its writers are gone), or a failure: nothing more to read.
        if (n == 0 || errno != EAGAIN) close_output();
        return;
      }
    }
    void keep_tail(std::string_view s) {
      if (s.size() >= tail.size()) {
        std::memcpy(tail.data(), s.data() + s.size() - tail.size(), tail.size());
        tail_size = tail.size();
        return;
      }
      const std::size_t keep = std::min(tail_size, tail.size() - s.size());
      std::memmove(tail.data(), tail.data() + tail_size - keep, keep);
      std::memcpy(tail.data() + keep, s.data(), s.size());
      tail_size = keep + s.size();
    }
    void reap() {
      if (exited) return;
      int s = 0;
      if (::waitpid(pid, &s, WNOHANG) != pid) return;
      exited = true;
      status = WIFEXITED(s) ? WEXITSTATUS(s) : 128 + WTERMSIG(s);
      boost::system::error_code ec;
      exit_fd.close(ec);
      // What it left in the pipe is read now; a grandchild keeping the pipe open
      // (a daemon that did not let go of it) does not keep us waiting.
      drain();
      close_output();
    }
    void close_output() {
      boost::system::error_code ec;
      output.close(ec);
    }
    void close() {
      boost::system::error_code ec;
      exit_fd.close(ec);
      output.close(ec);
    }
  };

  explicit child_process(std::shared_ptr<state> st) noexcept : st_(std::move(st)) {}
  std::shared_ptr<state> st_;
};

}  // namespace uni::posix
