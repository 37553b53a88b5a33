// uni/xen/shared_info.hpp: the shared info page: event-channel bits and the PV
// clock, written by Xen. A PVH guest chooses where it appears by asking Xen to
// place it over one of its own pages (XENMEM_add_to_physmap); ours is a page of
// the image's BSS (read + write, never execute).
#pragma once

#include <cstdint>

#include <uni/core/result.hpp>
#include <uni/xen/hypercall.hpp>

namespace uni::xen {

inline result<shared_info*> map_shared_info() noexcept {
  alignas(4096) static std::uint8_t page[4096];
  xen_add_to_physmap xatp{};
  xatp.domid = DOMID_SELF;
  xatp.space = XENMAPSPACE_shared_info;
  xatp.idx = 0;
  xatp.gpfn = reinterpret_cast<std::uintptr_t>(page) >> 12;
  if (memory_op(XENMEM_add_to_physmap, &xatp) != 0) return fail(error::io);
  return reinterpret_cast<shared_info*>(page);
}

}  // namespace uni::xen
