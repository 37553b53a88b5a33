// examples/summon: uni-summon, appliances started as their names are looked up
// (the Jitsu idea from the MirageOS project: a unikernel boots in the time a
// client waits for its DNS answer). It runs in a Linux dom0 on host sockets
// and answers a zone with uni's DNS engine (uni/dns/server.hpp); a query for an
// appliance's name that is not running starts it through the Xen toolstack
// (`xl create`, a child process the event loop waits for: uni/posix/child_process.hpp)
// and is answered once the appliance is up; queries for it meanwhile wait with
// it. A running appliance is answered at once; one idle (no query for its name)
// longer than its timeout is stopped (`xl shutdown -w`, then `xl destroy` past
// the stop deadline).
//
// Bounded: at most max-starts appliances start at once (the others wait for a
// turn within their deadline), a start has a deadline, each appliance holds at
// most max_held queries. A missing image, a toolstack error or a start past
// its deadline answers SERVFAIL to the queries held, logs why, and removes
// what `xl create` may have left (`xl destroy`). The configuration
// (summon_config.hpp) is one file; --check reads it and says what is wrong.
//
// uni-summon --config FILE [--port N] [--bind ADDR] [--check] [--log LEVEL]
// UDP only (the clients that summon an appliance ask over UDP). The process
// owns the domains its configuration names: it adopts those the toolstack
// already runs (`xl domid`), notices one that crashed or was destroyed
// elsewhere (checked every check-every) and starts it again when asked, and at
// its end destroys what a start it cut short left, and leaves the rest running.
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <array>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <uni/config.hpp>
#include <uni/core/log.hpp>
#include <uni/core/run.hpp>
#include <uni/dns/server.hpp>
#include <uni/lifecycle.hpp>
#include <uni/posix/appliance_options.hpp>
#include <uni/posix/child_process.hpp>
#include <uni/posix/clock.hpp>
#include <uni/posix/console.hpp>
#include <uni/dns/zone_file_system.hpp>
#include <uni/posix/signals.hpp>
#include <uni/posix/socket_stack.hpp>

#include "summon_config.hpp"

namespace {

using namespace std::chrono_literals;
using uni::posix::child_process;

constexpr std::string_view program = "uni-summon";

constexpr uni::option_spec flags[] = {
    uni::path_option("config", uni::option_kind::input_file, "FILE", "the configuration: zone, appliances, limits"),
    uni::number_option("port", 53, 1, 65535, "UDP port to answer on"),
    uni::flag_option("check", "read the configuration, say what is wrong (exit 1) or nothing (exit 0), and stop"),
};

// Queries held for an appliance that is starting (more are dropped: the client
// asks again), and the bytes of one kept (a query is a header, a name and OPT).
constexpr std::size_t max_held = 16;
constexpr std::size_t max_query = 512;
// How long one readiness probe (a TCP connect) may take, and the pause between two.
constexpr auto probe_timeout = 250ms;
constexpr auto probe_pause = 50ms;

struct counters {
  std::uint64_t queries = 0, at_once = 0, held = 0, held_dropped = 0, starts = 0, start_failures = 0,
                servfails = 0, stops = 0, destroys = 0, adopted = 0, vanished = 0;
};

struct held_query {
  uni::endpoint from;
  std::uint16_t size = 0;
  std::uint16_t question_end = 0;  // the header and question: what SERVFAIL echoes
  std::array<std::uint8_t, max_query> bytes;
};

enum class phase : std::uint8_t { stopped, starting, running, stopping };

struct appliance {
  explicit appliance(const summon::appliance_config& c, uni::scheduler& s) : cfg(c), wake(s) {}
  const summon::appliance_config& cfg;
  phase state = phase::stopped;
  uni::time_point last_query{};
  uni::wait_queue wake;  // a query came for it while stopped
  std::array<held_query, max_held> held;
  std::size_t held_count = 0;
  std::string why;  // the last start's failure
};

bool is_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The line of a failed command's output that says why: its first error (xl
// goes on to report the clean-up it did), else its last line.
std::string telling_line(std::string_view out) {
  std::string_view last;
  for (std::size_t at = 0; at < out.size();) {
    const std::size_t end = std::min(out.find('\n', at), out.size());
    const std::string_view line = out.substr(at, end - at);
    if (line.find("error") != std::string_view::npos) return std::string(line);
    if (!line.empty()) last = line;
    at = end + 1;
  }
  return std::string(last);
}

// A SERVFAIL for `q`: its header and question, nothing else.
std::size_t servfail(const held_query& q, std::span<std::uint8_t> out) {
  std::memcpy(out.data(), q.bytes.data(), q.question_end);
  auto h = *uni::dns::header::parse(out);
  h.flags = static_cast<std::uint16_t>(uni::dns::header::qr | (h.flags & (0x7800 | uni::dns::header::rd)) |
                                       static_cast<std::uint16_t>(uni::dns::rcode::servfail));
  h.qdcount = 1;
  h.ancount = h.nscount = h.arcount = 0;
  h.emit(out.data());
  return q.question_end;
}

class summoner {
 public:
  summoner(uni::posix::SocketStack& stack, boost::asio::io_context& io, const summon::config& c,
           uni::dns::server& srv)
      : stack_(stack), io_(io), cfg_(c), srv_(srv), turns_(stack.sched()) {
    for (const auto& a : c.appliances) apps_.push_back(std::make_unique<appliance>(a, stack.sched()));
  }

  uni::task<int> serve(std::uint16_t port) {
    auto sock = stack_.udp_bind(port);
    if (!sock) {
      uni::log_error(program, ": cannot bind udp port ", port, ": ", uni::to_string(sock.err()));
      co_return 1;
    }
    sock_ = &*sock;
    uni::log_info(program, ": zone ", cfg_.origin.to_string(), ", ", apps_.size(), " appliance(s), on udp ",
                  sock->local());
    std::vector<uni::join_handle<void>> keepers;
    for (auto& a : apps_) keepers.push_back(uni::spawn(stack_.sched(), keep(*a)));
    while (true) {
      auto d = sock->try_receive();
      if (!d && d.err() == uni::error::would_block) d = co_await sock->receive();
      if (!d) {
        if (d.err() == uni::error::cancelled) co_return 0;
        co_await stack_.sched().sleep_for(1ms);  // no pages: the datagram waits in the kernel
        continue;
      }
      ++n_.queries;
      std::array<std::uint8_t, uni::page_size> bytes;
      const std::size_t size = d->payload.copy_to(bytes);
      const std::span<const std::uint8_t> query(bytes.data(), size);
      std::uint16_t question_end = 0;
      if (appliance* a = appliance_asked(query, question_end); a && a->state != phase::running) {
        hold(*a, d->source, query, question_end);
        continue;
      }
      ++n_.at_once;
      answer(d->source, query, nullptr);
    }
  }

  void report() const {
    uni::log_info(program, ": ", n_.queries, " queries: ", n_.at_once, " answered at once, ", n_.held, " held (",
                  n_.held_dropped, " dropped), ", n_.servfails, " SERVFAIL; ", n_.starts, " starts, ",
                  n_.start_failures, " failed; ", n_.stops, " stops, ", n_.destroys, " destroys; ", n_.adopted,
                  " adopted, ", n_.vanished, " vanished");
  }

  // At exit: a start the stop cut short (its `xl create` was killed with the
  // event loop) may have left a half-made domain; it goes, as after a failed start.
  void destroy_unfinished_starts() {
    for (auto& a : apps_) {
      if (a->state != phase::starting) continue;
      uni::log_warn(program, ": ", a->cfg.name.to_string(), ": stopped while starting: destroying domain ",
                    a->cfg.domain);
      ++n_.destroys;
      child_process::run_blocking(xl_command("destroy", a->cfg.domain), cfg_.stop_deadline);
    }
  }

 private:
  // The appliance a query asks for (its question's name), if it is one of ours;
  // `question_end` is where its question ends.
  appliance* appliance_asked(std::span<const std::uint8_t> query, std::uint16_t& question_end) {
    auto h = uni::dns::header::parse(query);
    if (!h || h->is_response() || h->op() != uni::dns::opcode::query || h->qdcount != 1) return nullptr;
    uni::dns::message_reader in(query);
    (void)in.read_header();
    auto q = in.read_question();
    if (!q || q->qclass != uni::dns::rr_class::in) return nullptr;
    for (auto& a : apps_)
      if (a->cfg.name == q->qname) {
        a->last_query = stack_.sched().now();
        question_end = static_cast<std::uint16_t>(in.offset());
        return a.get();
      }
    return nullptr;
  }

  void hold(appliance& a, uni::endpoint from, std::span<const std::uint8_t> query, std::uint16_t question_end) {
    if (a.held_count == max_held || query.size() > max_query) {
      ++n_.held_dropped;
      return;
    }
    held_query& q = a.held[a.held_count++];
    q.from = from;
    q.size = static_cast<std::uint16_t>(query.size());
    q.question_end = question_end;
    std::memcpy(q.bytes.data(), query.data(), query.size());
    ++n_.held;
    a.wake.notify_all();
  }

  // Answers `query` from the zone, or SERVFAIL for the held query `failed`.
  void answer(uni::endpoint to, std::span<const std::uint8_t> query, const held_query* failed) {
    auto page = stack_.pool().allocate();
    if (!page) return;
    const std::size_t size =
        failed ? servfail(*failed, page->bytes()) : srv_.answer(query, page->bytes(), uni::dns::transport::udp);
    if (size == 0) return;
    page->truncate(size);
    (void)sock_->try_send_to(to, *page);  // a full socket buffer drops it: the client asks again
  }

  void release_held(appliance& a, bool up) {
    for (std::size_t i = 0; i < a.held_count; ++i) {
      const held_query& q = a.held[i];
      if (!up) ++n_.servfails;
      answer(q.from, {q.bytes.data(), q.size}, up ? nullptr : &q);
    }
    a.held_count = 0;
  }

  // One appliance's life: stopped until asked, started, running until idle, stopped.
  // A domain of ours the toolstack already runs (left by an earlier uni-summon)
  // is adopted as running, not created a second time.
  uni::task<void> keep(appliance& a) {
    auto& sched = stack_.sched();
    const bool running = co_await domain_exists(a);
    if (running) {
      ++n_.adopted;
      uni::log_info(program, ": ", a.cfg.name.to_string(), ": domain ", a.cfg.domain, " is already running: adopted");
      a.state = phase::running;
      a.last_query = sched.now();
      co_await run_until_idle(a);
    }
    while (true) {
      while (a.held_count == 0) co_await a.wake.wait();
      a.state = phase::starting;
      const uni::time_point asked = sched.now();
      ++n_.starts;
      const bool started = co_await start(a);
      if (!started) {
        ++n_.start_failures;
        uni::log_error(program, ": ", a.cfg.name.to_string(), ": start failed: ", a.why, "; SERVFAIL to ",
                       a.held_count, " queries");
        release_held(a, false);  // the clients need not wait for the clean-up
        co_await destroy(a);
        a.state = phase::stopped;
        continue;
      }
      a.state = phase::running;
      uni::log_info(program, ": ", a.cfg.name.to_string(), ": domain ", a.cfg.domain, " up ",
                    (sched.now() - asked) / 1ms, " ms after the query; answering ", a.held_count);
      a.last_query = std::max(a.last_query, sched.now());
      release_held(a, true);
      co_await run_until_idle(a);
    }
  }

  // A running appliance until it is idle (then stopped), or until its domain
  // is gone (it crashed, or someone destroyed it): checked every check-every,
  // and gone when two checks in a row do not find it (one failed `xl` is not
  // proof). Either way it is stopped after, and the next query starts it.
  uni::task<void> run_until_idle(appliance& a) {
    auto& sched = stack_.sched();
    int missed = 0;
    while (sched.now() < a.last_query + a.cfg.idle) {
      co_await sched.sleep_until(std::min(a.last_query + a.cfg.idle, sched.now() + cfg_.check_every));
      if (sched.now() >= a.last_query + a.cfg.idle) break;
      const bool there = co_await domain_exists(a);
      missed = there ? 0 : missed + 1;
      if (missed == 2) {
        ++n_.vanished;
        uni::log_warn(program, ": ", a.cfg.name.to_string(), ": domain ", a.cfg.domain,
                      " is gone (it crashed or was destroyed elsewhere); the next query starts it");
        a.state = phase::stopped;
        co_return;
      }
    }
    a.state = phase::stopping;
    uni::log_info(program, ": ", a.cfg.name.to_string(), ": idle for ", a.cfg.idle / 1ms, " ms: stopping domain ",
                  a.cfg.domain);
    ++n_.stops;
    co_await stop(a);
    a.state = phase::stopped;
  }

  // A start's turn: at most max-starts at once; waits for one within `deadline`.
  struct turn {
    summoner& s;
    ~turn() {
      --s.starting_;
      s.turns_.notify_one();
    }
  };

  uni::task<bool> start(appliance& a) {
    auto& sched = stack_.sched();
    const uni::time_point deadline = sched.now() + a.cfg.deadline;
    while (starting_ >= cfg_.max_starts)
      if (co_await turns_.wait_until(deadline) == uni::wake_reason::timed_out) {
        a.why = "no turn to start within the deadline (max-starts " + std::to_string(cfg_.max_starts) + ")";
        co_return false;
      }
    ++starting_;
    turn held{*this};
    if (!is_file(a.cfg.image)) {
      a.why = "image " + a.cfg.image + " is missing";
      co_return false;
    }
    auto create = xl_command("create", a.cfg.xl_config, "name=\"" + a.cfg.domain + "\"", "kernel=\"" + a.cfg.image + "\"");
    if (!co_await run(std::move(create), deadline, a.why)) co_return false;
    if (!a.cfg.ready_port) co_return true;
    // Up once it accepts a connection: the client's own connection will not wait.
    const uni::endpoint probe{a.cfg.address, a.cfg.ready_port};
    while (true) {
      auto c = co_await stack_.tcp_connect(probe, std::min<uni::duration>(probe_timeout, deadline - sched.now()));
      if (c) {
        c->close();
        co_return true;
      }
      if (sched.now() + probe_pause >= deadline) {
        a.why = "no answer on tcp port " + std::to_string(a.cfg.ready_port) + " within the deadline";
        co_return false;
      }
      co_await sched.sleep_for(probe_pause);
    }
  }

  // The toolstack's command line: `xl VERB ARGS...`.
  template <class... Args>
  std::vector<std::string> xl_command(const Args&... args) const {
    return {cfg_.xl, std::string(args)...};
  }

  // Runs a toolstack command to its end or `deadline` (then kills it); true if
  // it exited 0, else false with `reason` saying how.
  uni::task<bool> run(std::vector<std::string> words, uni::time_point deadline, std::string& reason) {
    std::string command;
    for (const auto& w : words) command += (command.empty() ? "" : " ") + w;
    auto c = child_process::start(io_, stack_.sched(), std::move(words));
    if (!c) {
      reason = "cannot run " + command + ": " + std::string(uni::to_string(c.err()));
      co_return false;
    }
    auto status = co_await c->wait_until(deadline);
    if (!status) {
      c->kill();
      (void)co_await c->wait_until(uni::time_never);
      reason = command + " did not finish within the deadline";
      co_return false;
    }
    if (*status != 0) {
      const std::string line = telling_line(c->output());
      reason = command + " exited with status " + std::to_string(*status) + (line.empty() ? "" : ": " + line);
      co_return false;
    }
    co_return true;
  }

  // Whether the toolstack has the domain (`xl domid D` exits 0).
  uni::task<bool> domain_exists(const appliance& a) {
    std::string ignored;
    const bool found =
        co_await run(xl_command("domid", a.cfg.domain), stack_.sched().now() + cfg_.stop_deadline, ignored);
    co_return found;
  }

  // After a failed start: whatever `xl create` left goes (its absence is fine).
  uni::task<void> destroy(appliance& a) {
    ++n_.destroys;
    std::string ignored;
    (void)co_await run(xl_command("destroy", a.cfg.domain), stack_.sched().now() + cfg_.stop_deadline, ignored);
  }

  uni::task<void> stop(appliance& a) {
    std::string why;
    if (co_await run(xl_command("shutdown", "-w", a.cfg.domain), stack_.sched().now() + cfg_.stop_deadline, why))
      co_return;
    uni::log_warn(program, ": ", a.cfg.name.to_string(), ": ", why, ": destroying domain ", a.cfg.domain);
    co_await destroy(a);
  }

  uni::posix::SocketStack& stack_;
  boost::asio::io_context& io_;
  const summon::config& cfg_;
  uni::dns::server& srv_;
  std::vector<std::unique_ptr<appliance>> apps_;
  uni::posix::SocketStack::udp_socket* sock_ = nullptr;
  uni::wait_queue turns_;
  std::size_t starting_ = 0;
  counters n_;
};

}  // namespace

int main(int argc, char** argv) {
  int status = 0;
  const auto opts = uni::posix::parse_command_line(
      program, argc, argv, {"posix-socket", uni::target_flags::posix_socket, flags, uni::target_flags::any}, {},
      status);
  if (!opts) return status;
  uni::posix::install_console(uni::target_flags::log_level_of(opts->text("log")));
  if (!opts->given("config")) return uni::posix::refuse(program, "--config FILE is required");
  const std::string file(opts->text("config"));
  std::string problem;
  std::optional<summon::config> cfg;
  if (auto text = uni::dns::read_text_file(file)) {
    auto reader = [](const std::string& path) { return uni::dns::read_text_file(path); };
    cfg = summon::read_config(*text, file, problem, reader);
  } else {
    problem = "cannot read " + file;
  }
  if (!cfg) {
    std::fprintf(stderr, "%s: %s\n", program.data(), problem.c_str());
    return 1;
  }
  if (opts->flag("check")) return 0;
  std::signal(SIGPIPE, SIG_IGN);

  uni::dns::server srv(std::move(cfg->zones));
  boost::asio::io_context io;
  uni::scheduler sched;
  uni::posix::PosixClock clock(io);
  clock.set_busy_poll(std::chrono::microseconds(opts->number("busy-poll")));
  auto pool = std::make_unique<uni::static_page_pool<512>>();
  uni::posix::SocketStack stack(sched, io, *pool, *uni::ipv4_address::parse(opts->text("bind")));
  uni::posix::stop_signal stop(sched, io);
  summoner s(stack, io, *cfg, srv);
  auto report = [&] { s.report(); };
  uni::posix::report_signal on_usr1(io, report);
  const auto outcome = uni::run(sched, clock,
                                uni::serve_until_stopped(sched, program, s.serve(static_cast<std::uint16_t>(
                                                                             opts->number("port"))),
                                                         stop.request(), report));
  s.destroy_unfinished_starts();
  return outcome.ok() ? *outcome : 1;
}
