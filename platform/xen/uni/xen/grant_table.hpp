// uni/xen/grant_table.hpp: grant tables (v1): how a guest lets another domain
// (netback in dom0) read or write one of its pages.
//
// The table lives in frames Xen maps over pages of our BSS (XENMEM_add_to_physmap,
// XENMAPSPACE_grant_table). Granting writes (domid, frame) and then the flags,
// in that order; revoking clears the flags only if the other side is not using
// the page (GTF_reading/GTF_writing), atomically. References come from a free
// list bounded by the table size; the first eight are reserved by convention
// (console, xenstore).
#pragma once

#include <cstddef>
#include <cstdint>

#include <uni/core/result.hpp>
#include <uni/xen/cpu.hpp>
#include <uni/xen/hypercall.hpp>

#include <xen/grant_table.h>

namespace uni::xen {

class grant_table {
 public:
  static constexpr std::size_t frames = 4;
  static constexpr std::size_t entries = frames * 4096 / sizeof(grant_entry_v1_t);  // 2048
  static constexpr grant_ref_t first_free = 8;  // GNTTAB_NR_RESERVED_ENTRIES

  grant_table() noexcept = default;
  grant_table(const grant_table&) = delete;
  grant_table& operator=(const grant_table&) = delete;

  result<void> start() noexcept {
    for (std::size_t i = 0; i < frames; ++i) {
      xen_add_to_physmap xatp{};
      xatp.domid = DOMID_SELF;
      xatp.space = XENMAPSPACE_grant_table;
      xatp.idx = static_cast<xen_ulong_t>(i);
      xatp.gpfn = (reinterpret_cast<std::uintptr_t>(table_) >> 12) + i;
      if (memory_op(XENMEM_add_to_physmap, &xatp) != 0) return fail(error::io);
    }
    free_count_ = 0;
    for (grant_ref_t r = entries; r-- > first_free;) free_[free_count_++] = r;
    return {};
  }

  // A new reference giving `domid` access to guest frame `gfn`.
  result<grant_ref_t> grant(domid_t domid, std::uint64_t gfn, bool readonly) noexcept {
    auto ref = reserve();
    if (ref) regrant(*ref, domid, gfn, readonly);
    return ref;
  }

  // A new reference that grants nothing yet (its flags are clear): regrant()
  // points it at a frame when there is one to lend.
  result<grant_ref_t> reserve() noexcept {
    if (free_count_ == 0) return fail(error::table_full);
    return free_[--free_count_];
  }

  // Points a reference we hold (and have revoked) at another frame.
  void regrant(grant_ref_t ref, domid_t domid, std::uint64_t gfn, bool readonly) noexcept {
    grant_entry_v1_t& e = table_[ref];
    e.domid = domid;
    e.frame = static_cast<std::uint32_t>(gfn);
    cpu::wmb();  // the other side must see the frame before the permission
    e.flags = static_cast<std::uint16_t>(GTF_permit_access | (readonly ? GTF_readonly : 0));
  }

  // Revokes access; false while the other domain still has the page mapped.
  bool revoke(grant_ref_t ref) noexcept {
    std::uint16_t flags = __atomic_load_n(&table_[ref].flags, __ATOMIC_ACQUIRE);
    do {
      if (flags & (GTF_reading | GTF_writing)) return false;
    } while (!__atomic_compare_exchange_n(&table_[ref].flags, &flags, std::uint16_t{0}, false, __ATOMIC_SEQ_CST,
                                          __ATOMIC_ACQUIRE));
    return true;
  }

  // Returns a revoked reference to the free list.
  void release(grant_ref_t ref) noexcept {
    if (ref >= first_free && ref < entries && free_count_ < entries) free_[free_count_++] = ref;
  }

  std::size_t available() const noexcept { return free_count_; }

 private:
  alignas(4096) grant_entry_v1_t table_[entries] = {};
  grant_ref_t free_[entries] = {};
  std::size_t free_count_ = 0;
};

}  // namespace uni::xen
