// uni/xen/domu_base.hpp: what every domU appliance's devices (network, disks,
// vchans) stand on, set up once at start by the appliance's start of day
// (net_appliance.hpp): the grant table mapped, xenstore connected, and the I/O
// page pool over the region start of day set aside; and detail::emplace_once,
// how their devices are made.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include <uni/boot/boot.hpp>
#include <uni/core/buffer.hpp>
#include <uni/core/log.hpp>
#include <uni/xen/grant_table.hpp>
#include <uni/xen/xenstore.hpp>

namespace uni::xen {

// Maps the grant table and connects xenstore; false after a log line saying
// which failed.
inline bool start_grants_and_store(std::string_view name, grant_table& grants, xenstore& store) noexcept {
  // (One error line for both: the text around the error says which.)
  const char* before = ": cannot map the grant table: ";
  const char* after = "";
  auto r = grants.start();
  if (r) {
    r = store.start();
    before = ": no xenstore (";
    after = "): an appliance runs as a domU";
  }
  if (!r) log_error(name, before, to_string(r.err()), after);
  return r.ok();
}

namespace detail {
// Makes the value of an optional that is empty (a device or a stack made once,
// at start of day): the destructor emplace() would call for a value already
// there is no code of the image.
template <class T, class... Args>
T& emplace_once(std::optional<T>& o, Args&&... args) {
  if (o) __builtin_unreachable();
  return o.emplace(std::forward<Args>(args)...);
}
}  // namespace detail

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
