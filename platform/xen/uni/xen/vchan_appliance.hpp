// uni/xen/vchan_appliance.hpp: start of day of an appliance served over vchan
// instead of a network (the UNI_TARGET_XEN branch of <uni/vchan_appliance.hpp>).
// After the platform's start (uni/xen/appliance.hpp) it maps the grant table,
// starts the xenstore client, makes the I/O page pool, and runs
// `serve(vchans, options)`, where vchans.accept() offers a vchan as its server
// (uni/xen/vchan.hpp) and returns the stream once the peer has connected, or
// with --connect connects to one as its client.
//
// Flags (the kernel command line, xl's `extra=`): --vchan PATH (the xenstore
// node, relative to our home: default data/vchan), --peer DOMID (default 0,
// dom0), --ring-order N (10 or 11: both rings in the shared page, 10 and 11 or
// 11 and 10; 12 to 16: two rings of 2^N bytes in pages of their own), --connect
// (the client role instead: the server is domain --peer, at --vchan PATH, whose
// orders it takes), --log.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include <uni/boot/boot.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/log.hpp>
#include <uni/options.hpp>
#include <uni/target_options.hpp>
#include <uni/xen/appliance.hpp>
#include <uni/xen/domu_base.hpp>
#include <uni/xen/grant_table.hpp>
#include <uni/xen/vchan.hpp>
#include <uni/xen/xenstore.hpp>

namespace uni::xen {

using uni::appliance_options;

namespace vchan_flags {
inline constexpr option_spec path = text_option("vchan", "PATH", "data/vchan", "xenstore node the vchan is offered at");
inline constexpr option_spec peer = number_option("peer", 0, 0, 32767, "domain allowed to connect (0: dom0)");
inline constexpr option_spec order =
    number_option("ring-order", 10, 10, vchan_server::max_order, "rings of 2^N bytes (10, 11: inside the shared page)");
inline constexpr option_spec connect =
    flag_option("connect", "be the vchan's client: connect to the server at --vchan PATH of domain --peer");
inline constexpr option_spec table[] = {target_flags::log, path, peer, order, connect};
}  // namespace vchan_flags

// What `serve` is given: the vchan the flags describe, offered again (or, with
// --connect, connected to again) at each accept().
class vchan_endpoint {
 public:
  static constexpr duration accept_timeout = std::chrono::seconds(60);

  vchan_endpoint(vchan_server& server, vchan_client& client, scheduler& sched, page_pool& pool,
                 const appliance_options& o) noexcept
      : server_(server), client_(client), sched_(sched), pool_(pool), path_(o.text("vchan")),
        peer_(static_cast<domid_t>(o.number("peer"))), order_(static_cast<unsigned>(o.number("ring-order"))),
        connect_(o.flag("connect")) {}

  // What a service over the streams needs besides them.
  scheduler& sched() noexcept { return sched_; }
  page_pool& pool() noexcept { return pool_; }

  task<result<vchan_server::stream>> accept() {
    if (connect_) co_return co_await client_.connect(path_, peer_, accept_timeout);
    const unsigned left = order_, right = order_ == 10 ? 11 : order_ == 11 ? 10 : order_;
    co_return co_await server_.accept(path_, peer_, left, right, accept_timeout);
  }
  // Bytes and signals of the last channel.
  void report() const {
    if (const auto* c = connect_ ? client_.current() : server_.current()) {
      const auto& s = c->statistics();
      log_info("vchan: ", s.bytes_in, " bytes in, ", s.bytes_out, " bytes out, ", s.signals, " signals sent, ",
               s.waits, " waits");
      if (c->failure() != error::none) log_warn("vchan: the peer broke the channel: ", to_string(c->failure()));
    }
  }

 private:
  vchan_server& server_;
  vchan_client& client_;
  scheduler& sched_;
  page_pool& pool_;
  std::string_view path_;
  domid_t peer_;
  unsigned order_;
  bool connect_;
};

template <std::size_t IoPages, class Serve>
[[noreturn]] void run_vchan_appliance(std::string_view name, const boot::info& b, std::span<const option_spec> flags,
                                      Serve serve) noexcept {
  run_appliance(name, b, [name, flags, serve](platform& p) -> task<int> {
    const option_tables tables{"xen", vchan_flags::table, flags, target_flags::any, 1, nullptr, true};
    const auto words = command_words::from_text(p.boot.cmdline);
    char buf[200];
    text_writer problem{buf, sizeof buf};
    auto opts = parse_options(words.words(), tables, problem);
    if (!opts) {
      log_error(name, ": ", problem.view(), " (see --help)");
      co_return 2;
    }
    set_log_level(target_flags::log_level_of(opts->text("log")));
    static grant_table grants;  // page-aligned, 16 KiB: not on the stack
    xenstore store(p.events, p.sched);
    if (!start_grants_and_store(name, "a vchan appliance", grants, store)) co_return 3;
    io_page_pool io(p.boot.memory.io_pages, IoPages);
    page_pool& pool = io.pool();
    auto server = std::make_unique<vchan_server>(p.events, grants, store, pool, p.sched);
    auto client = std::make_unique<vchan_client>(p.events, store, pool, p.sched);
    vchan_endpoint vchans(*server, *client, p.sched, pool, *opts);
    const int status = co_await serve(vchans, *opts);
    vchans.report();
    co_await server->release();
    client->release();
    co_return status;
  });
}

}  // namespace uni::xen
