// uni/xen/domu_base.hpp: what every domU appliance's devices (network, disks,
// vchans) stand on, set up once at start by the appliance's start of day
// (net_appliance.hpp): the grant table mapped, xenstore connected, and the I/O
// page pool over the region start of day set aside.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include <uni/boot/boot.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/log.hpp>
#include <uni/xen/grant_table.hpp>
#include <uni/xen/xenstore.hpp>

namespace uni::xen {

// Maps the grant table and connects xenstore; false after a log line saying
// which failed.
inline bool start_grants_and_store(std::string_view name, grant_table& grants, xenstore& store) noexcept {
  if (auto r = grants.start(); !r) {
    log_error(name, ": cannot map the grant table: ", to_string(r.err()));
    return false;
  }
  if (auto r = store.start(); !r) {
    log_error(name, ": no xenstore (", to_string(r.err()), "): an appliance runs as a domU");
    return false;
  }
  return true;
}

// The I/O page pool over the region start of day set aside, at most `limit` pages.
class io_page_pool {
 public:
  io_page_pool(const boot::region& io, std::size_t limit)
      : pages_(std::min(io.size() / page_size, limit)),
        meta_(new page_meta[pages_]),
        pool_{{reinterpret_cast<std::uint8_t*>(io.start), pages_ * page_size}, {meta_.get(), pages_}} {}
  page_pool& pool() noexcept { return pool_; }
  std::size_t pages() const noexcept { return pages_; }

 private:
  std::size_t pages_;
  std::unique_ptr<page_meta[]> meta_;
  page_pool pool_;
};

}  // namespace uni::xen
