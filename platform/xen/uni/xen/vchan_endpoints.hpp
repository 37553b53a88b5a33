// uni/xen/vchan_endpoints.hpp: the vchan endpoints an appliance declares
// (Config::vchan_endpoints, uni/devices.hpp) on Xen, set up by the start of day
// (net_appliance.hpp) over its grant table, xenstore and I/O pages. Each is
// offered as the vchan's server (uni/xen/vchan.hpp) at its --vchan PATH (the
// xenstore node, relative to our home: default data/vchan) to domain --peer
// (default 0, dom0) with rings of 2^--ring-order bytes (10 or 11: both rings in
// the shared page, 10 and 11 or 11 and 10; 12 to 16: two rings of 2^N bytes in
// pages of their own); with --connect it is the client instead, of the server
// that domain --peer offers at --vchan PATH, whose orders it takes. accept()
// gives the stream once the peer is there, and can be called again after it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include <uni/core/buffer.hpp>
#include <uni/core/log.hpp>
#include <uni/devices.hpp>
#include <uni/options.hpp>
#include <uni/target_options.hpp>
#include <uni/xen/domu_base.hpp>
#include <uni/xen/events.hpp>
#include <uni/xen/grant_table.hpp>
#include <uni/xen/vchan.hpp>
#include <uni/xen/xenstore.hpp>

namespace uni::xen {

using uni::appliance_options;

static_assert(target_flags::vchan_ring_order.max == vchan_server::max_order);

// One endpoint: the vchan the flags describe, offered again (or, with
// --connect, connected to again) at each accept().
class vchan_endpoint {
 public:
  static constexpr duration accept_timeout = std::chrono::seconds(60);

  vchan_endpoint(vchan_server& server, vchan_client& client, scheduler& sched, page_pool& pool,
                 const appliance_options& o, std::size_t i) noexcept
      : server_(server), client_(client), sched_(sched), pool_(pool), path_(o.text("vchan", i)),
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

// The appliance's endpoints, in the order of their --vchan flags.
template <class Config>
class xen_vchans {
 public:
  static constexpr std::size_t count = Config::vchan_endpoints;

  // False after a line saying why (the flags name too few endpoints).
  bool open(std::string_view name, event_channels& ev, grant_table& g, xenstore& xs, page_pool& pool,
            scheduler& sched, const appliance_options& o) {
    if (count > 1 && o.count("vchan") != count) {
      log_error(name, ": this appliance has ", count, " vchan endpoints: give --vchan PATH for each (got ",
                o.count("vchan"), ")");
      return false;
    }
    std::array<vchan_endpoint*, count> each{};
    for (std::size_t i = 0; i < count; ++i) {
      one& e = detail::emplace_once(each_[i], ev, g, xs, pool, sched);
      each[i] = &detail::emplace_once(e.endpoint, *e.server, *e.client, sched, pool, o, i);
    }
    detail::emplace_once(all_, each);
    return true;
  }
  uni::vchans<vchan_endpoint, count>& all() noexcept { return *all_; }

  // Reports each endpoint's last channel, then closes it.
  task<void> close() {
    for (auto& e : each_) {
      if (!e) continue;
      e->endpoint->report();
      co_await e->server->release();
      e->client->release();
    }
  }

 private:
  struct one {
    one(event_channels& ev, grant_table& g, xenstore& xs, page_pool& pool, scheduler& sched)
        : server(std::make_unique<vchan_server>(ev, g, xs, pool, sched)),
          client(std::make_unique<vchan_client>(ev, xs, pool, sched)) {}
    std::unique_ptr<vchan_server> server;
    std::unique_ptr<vchan_client> client;
    std::optional<vchan_endpoint> endpoint;
  };
  std::array<std::optional<one>, count> each_;
  std::optional<uni::vchans<vchan_endpoint, count>> all_;
};

// No vchans declared: no vchan code in the image (and nothing to close).
template <class Config>
  requires(Config::vchan_endpoints == 0)
class xen_vchans<Config> {
 public:
  bool open(std::string_view, event_channels&, grant_table&, xenstore&, page_pool&, scheduler&,
            const appliance_options&) noexcept {
    return true;
  }
};

}  // namespace uni::xen
