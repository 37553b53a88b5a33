// The blkif request queue of Xen blkfront (platform/xen/uni/xen/blkif_queue.hpp),
// on the host: the test plays blkback over the Xen public headers' own ring, with
// a grant table that records what was granted, and a disk in memory. The grant's
// frame number is the page's address here, so the backend reads and writes the
// caller's pages through it as blkback would through the grant.
#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include <uni/xen/blkif_queue.hpp>

using namespace uni;
using uni::xen::blkif_queue;

namespace {

struct fake_grants {
  struct entry {
    std::uint64_t gfn = 0;
    bool readonly = true;
    bool active = false;
    bool mapped = false;  // the backend still maps it: revoke fails
  };
  std::map<grant_ref_t, entry> table;
  grant_ref_t next = 8;
  std::size_t released = 0;

  result<grant_ref_t> grant(domid_t, std::uint64_t gfn, bool ro) {
    table[next] = {gfn, ro, true, false};
    return next++;
  }
  void regrant(grant_ref_t ref, domid_t, std::uint64_t gfn, bool ro) { table[ref] = {gfn, ro, true, false}; }
  bool revoke(grant_ref_t ref) {
    entry& e = table.at(ref);
    if (e.mapped) return false;
    e.active = false;
    return true;
  }
  void release(grant_ref_t) { ++released; }
  std::size_t active() const {
    std::size_t n = 0;
    for (const auto& [ref, e] : table) n += e.active;
    return n;
  }
};
static_assert(uni::xen::GrantTable<fake_grants>);

// Up to a two-page ring and 64-segment indirect requests; the fixture attaches
// one page and direct requests unless a test asks for more.
using queue = blkif_queue<fake_grants, 2, 64>;
constexpr std::size_t one_page_depth = 32;

struct alignas(4096) ring_page {
  std::uint8_t bytes[2 * 4096];
};

// blkback over a disk in memory: takes requests, answers when told to.
struct backend {
  blkif_sring* s;
  fake_grants& grants;
  std::vector<std::uint8_t> disk = std::vector<std::uint8_t>(256 * 512);
  RING_IDX entries = one_page_depth;
  RING_IDX req_cons = 0;
  RING_IDX rsp_prod_pvt = 0;

  std::vector<blkif_request_t> take_all() {
    std::vector<blkif_request_t> got;
    while (req_cons != s->req_prod) got.push_back(s->ring[req_cons++ & (entries - 1)].req);
    return got;
  }
  static blkif_request_indirect_t as_indirect(const blkif_request_t& r) {
    blkif_request_indirect_t ind;
    std::memcpy(&ind, &r, sizeof ind);
    return ind;
  }
  // The segments of a request: in its ring slot, or (indirect) in the page its
  // indirect_grefs[0] grants, read-only.
  std::vector<blkif_request_segment> segments_of(const blkif_request_t& r) {
    if (r.operation != BLKIF_OP_INDIRECT) return {r.seg, r.seg + r.nr_segments};
    const blkif_request_indirect_t ind = as_indirect(r);
    const auto& g = grants.table.at(ind.indirect_grefs[0]);
    REQUIRE(g.active);
    REQUIRE(g.readonly);
    const auto* page = reinterpret_cast<const blkif_request_segment*>(g.gfn << 12);
    return {page, page + ind.nr_segments};
  }
  // Does what the request asks, through its grants.
  void perform(const blkif_request_t& r) {
    const bool indirect = r.operation == BLKIF_OP_INDIRECT;
    const std::uint8_t op = indirect ? as_indirect(r).indirect_op : r.operation;
    std::uint64_t at = (indirect ? as_indirect(r).sector_number : r.sector_number) * 512;
    for (const blkif_request_segment& seg : segments_of(r)) {
      const auto& g = grants.table.at(seg.gref);
      REQUIRE(g.active);
      auto* page = reinterpret_cast<std::uint8_t*>(g.gfn << 12);
      const std::size_t n = (seg.last_sect - seg.first_sect + 1) * 512u;
      REQUIRE(at + n <= disk.size());
      if (op == BLKIF_OP_READ) {
        REQUIRE_FALSE(g.readonly);
        std::memcpy(page + seg.first_sect * 512, disk.data() + at, n);
      } else {
        std::memcpy(disk.data() + at, page + seg.first_sect * 512, n);
      }
      at += n;
    }
  }
  void answer(std::uint64_t id, std::uint8_t op, std::int16_t status = BLKIF_RSP_OKAY) {
    blkif_response_t& rsp = s->ring[rsp_prod_pvt++ & (entries - 1)].rsp;
    rsp.id = id;
    rsp.operation = op;
    rsp.status = status;
    s->rsp_prod = rsp_prod_pvt;
  }
  // As Linux blkback: an indirect request is answered with its indirect_op.
  void answer(const blkif_request_t& r, std::int16_t status = BLKIF_RSP_OKAY) {
    answer(r.id, r.operation == BLKIF_OP_INDIRECT ? as_indirect(r).indirect_op : r.operation, status);
  }
};

struct fixture {
  std::unique_ptr<ring_page> page = std::make_unique<ring_page>();
  std::unique_ptr<static_page_pool<160>> pool = std::make_unique<static_page_pool<160>>();
  fake_grants grants;
  std::unique_ptr<queue> owned = std::make_unique<queue>(grants);
  queue& q = *owned;
  backend back{reinterpret_cast<blkif_sring*>(page->bytes), grants};

  // `ring_pages` pages of ring; indirect requests of up to `indirect` segments (0: none).
  explicit fixture(std::size_t ring_pages = 1, std::uint64_t indirect = 0) {
    REQUIRE(q.attach(page->bytes, ring_pages, 0));
    back.entries = q.depth();
    if (indirect) q.use_indirect(indirect, *pool);
  }

  view fresh_page(std::uint8_t fill) {
    auto p = pool->allocate();
    REQUIRE(p);
    std::memset(p->data(), fill, p->size());
    return std::move(*p);
  }
  // n pages cut to `bytes` each, page i filled with first + i * step.
  std::vector<view> fresh_pages(int n, std::size_t bytes, std::uint8_t first = 0, std::uint8_t step = 0) {
    std::vector<view> pages;
    for (int i = 0; i < n; ++i) pages.push_back(fresh_page(static_cast<std::uint8_t>(first + i * step)).head(bytes));
    return pages;
  }
  // Issues every part of a read or write of `pages` from 512-byte sector `sector`.
  void issue_all(std::uint8_t op, std::uint64_t sector, std::span<const view> pages, queue::batch& b) {
    std::size_t next = 0;
    while (next < pages.size()) {
      REQUIRE(q.ready());
      const std::size_t taken = q.issue(op, sector, pages.subspan(next), b);
      for (std::size_t i = 0; i < taken; ++i) sector += pages[next + i].size() / 512;
      next += taken;
    }
    (void)q.push();
  }
  // One sector from 512-byte sector `sector`, in a page of its own; the request the backend gets.
  blkif_request_t one_sector(std::uint8_t op, std::uint64_t sector, queue::batch& b) {
    const view one[] = {fresh_page(static_cast<std::uint8_t>(sector)).head(512)};
    issue_all(op, sector, one, b);
    auto reqs = back.take_all();
    REQUIRE(reqs.size() == 1);
    return reqs[0];
  }
};

}  // namespace

TEST_CASE("blkif: a request holds up to 11 segments, and the rest go in the next", "[xen][blkif]") {
  fixture f;
  const std::vector<view> pages = f.fresh_pages(13, 1024, 'a', 1);
  queue::batch b;
  f.issue_all(BLKIF_OP_WRITE, 4, pages, b);
  auto reqs = f.back.take_all();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].nr_segments == 11);
  CHECK(reqs[1].nr_segments == 2);
  CHECK(reqs[0].sector_number == 4);
  CHECK(reqs[1].sector_number == 4 + 11 * 2);
  CHECK(reqs[0].seg[0].first_sect == 0);
  CHECK(reqs[0].seg[0].last_sect == 1);
  CHECK(f.grants.table.at(reqs[0].seg[0].gref).readonly);  // a write: the backend only reads
  CHECK(f.q.free_slots() == one_page_depth - 2);
  CHECK(f.q.statistics().segments == 13);
}

TEST_CASE("blkif: answers out of order complete the batch when the last part is in", "[xen][blkif]") {
  fixture f;
  const std::vector<view> out = f.fresh_pages(12, 512, 1, 1);
  queue::batch w;
  f.issue_all(BLKIF_OP_WRITE, 0, out, w);
  auto reqs = f.back.take_all();
  REQUIRE(reqs.size() == 2);
  f.back.perform(reqs[1]);
  f.back.answer(reqs[1]);
  REQUIRE(f.q.complete());
  CHECK_FALSE(w.done());
  f.back.perform(reqs[0]);
  f.back.answer(reqs[0]);
  REQUIRE(f.q.complete());
  REQUIRE(w.done());
  CHECK(w.outcome());
  CHECK(f.grants.active() == 0);  // every page taken back
  CHECK(f.q.free_slots() == f.q.depth());
  CHECK(f.back.disk[11 * 512] == 12);

  // Read it back into a page at an offset: the grants are writable this time.
  view in = f.fresh_page(0);
  auto part = in.slice(1024, 2048);
  REQUIRE(part);
  const view into[] = {*part};
  queue::batch r;
  f.issue_all(BLKIF_OP_READ, 2, into, r);
  auto rreq = f.back.take_all();
  REQUIRE(rreq.size() == 1);
  CHECK(rreq[0].seg[0].first_sect == 2);
  CHECK(rreq[0].seg[0].last_sect == 5);
  f.back.perform(rreq[0]);
  f.back.answer(rreq[0]);
  REQUIRE(f.q.complete());
  REQUIRE(r.done());
  CHECK(in[1024] == 3);
  CHECK(in[1024 + 3 * 512] == 6);
  CHECK(in[0] == 0);
}

TEST_CASE("blkif: two batches in flight, answered in reverse, each gets its own", "[xen][blkif]") {
  fixture f;
  const view a[] = {f.fresh_page(1).head(512)};
  const view c[] = {f.fresh_page(2).head(512)};
  queue::batch first, second;
  f.issue_all(BLKIF_OP_WRITE, 0, a, first);
  f.issue_all(BLKIF_OP_WRITE, 1, c, second);
  auto reqs = f.back.take_all();
  REQUIRE(reqs.size() == 2);
  f.back.answer(reqs[1], BLKIF_RSP_ERROR);
  REQUIRE(f.q.complete());
  CHECK_FALSE(first.done());
  REQUIRE(second.done());
  CHECK(second.outcome().err() == error::io);
  f.back.answer(reqs[0]);
  REQUIRE(f.q.complete());
  REQUIRE(first.done());
  CHECK(first.outcome());
  CHECK(f.q.statistics().io_errors == 1);
  CHECK_FALSE(f.q.stopped());  // an I/O error is the request's, not the ring's
}

TEST_CASE("blkif: bounds and alignment are checked before anything is sent", "[xen][blkif]") {
  fixture f;
  view p = f.fresh_page(0);
  const block::geometry disk{512, 2, false, 512};
  const block::geometry big{4096, 8, false, 4096};
  const block::geometry wide{512, 8, true, 512};
  constexpr auto rd = block::direction::read;
  const view whole[] = {p.head(1024)};
  CHECK(queue::check(disk, rd, 0, whole));
  CHECK(queue::check(disk, rd, 1, whole).err() == error::out_of_range);
  CHECK(queue::check(disk, rd, 3, whole).err() == error::out_of_range);
  CHECK(queue::check(disk, rd, ~std::uint64_t{0}, whole).err() == error::out_of_range);
  CHECK(queue::check(wide, block::direction::write, 0, whole).err() == error::read_only);
  const view odd[] = {p.head(700)};
  CHECK(queue::check(wide, rd, 0, odd).err() == error::misaligned);
  const view shifted[] = {*p.slice(100, 512)};
  CHECK(queue::check(wide, rd, 0, shifted).err() == error::misaligned);
  const view big_sectors[] = {*p.slice(512, 512)};
  CHECK(queue::check(big, rd, 0, big_sectors).err() == error::misaligned);
  const view across[] = {view::unowned(std::span<std::uint8_t>(p.data() + 3584, 1024))};  // into the next page
  CHECK(queue::check(wide, rd, 0, across).err() == error::misaligned);
  CHECK(f.back.take_all().empty());
}

TEST_CASE("blkif: a full ring takes no more until answers free slots", "[xen][blkif]") {
  fixture f;
  const view one[] = {f.fresh_page(0).head(512)};
  std::vector<std::unique_ptr<queue::batch>> batches;
  for (std::size_t i = 0; i < f.q.depth(); ++i) {
    batches.push_back(std::make_unique<queue::batch>());
    f.issue_all(BLKIF_OP_READ, i, one, *batches.back());
  }
  CHECK(f.q.free_slots() == 0);
  auto reqs = f.back.take_all();
  REQUIRE(reqs.size() == f.q.depth());
  f.back.answer(reqs[7]);
  REQUIRE(f.q.complete());
  CHECK(f.q.free_slots() == 1);
  CHECK(batches[7]->done());
}

TEST_CASE("blkif: flush is a request without segments", "[xen][blkif]") {
  fixture f;
  queue::batch b;
  f.q.issue(BLKIF_OP_FLUSH_DISKCACHE, 0, {}, b);
  CHECK(f.q.push());
  auto reqs = f.back.take_all();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].operation == BLKIF_OP_FLUSH_DISKCACHE);
  CHECK(reqs[0].nr_segments == 0);
  f.back.answer(reqs[0], BLKIF_RSP_EOPNOTSUPP);
  REQUIRE(f.q.complete());
  CHECK(b.outcome().err() == error::io);
}

TEST_CASE("blkif: a caller gone before the answer leaves its slot to the answer", "[xen][blkif]") {
  fixture f;
  blkif_request_t req;
  {
    queue::batch b;
    req = f.one_sector(BLKIF_OP_WRITE, 0, b);
  }
  CHECK(f.grants.active() == 1);  // the page stays granted while the backend may use it
  f.back.answer(req);
  REQUIRE(f.q.complete());
  CHECK(f.q.free_slots() == f.q.depth());
  CHECK(f.grants.active() == 0);
}

TEST_CASE("blkif: a page the backend still maps is never handed back as done", "[xen][blkif]") {
  fixture f;
  queue::batch b;
  const blkif_request_t req = f.one_sector(BLKIF_OP_READ, 0, b);
  f.grants.table.at(req.seg[0].gref).mapped = true;
  f.back.answer(req);
  REQUIRE(f.q.complete());
  REQUIRE(b.done());
  CHECK(b.outcome().err() == error::io);
  CHECK(f.q.statistics().stuck_grants == 1);
  CHECK(f.q.free_slots() == f.q.depth() - 1);  // its slot is not reused
}

TEST_CASE("blkif: a hostile backend stops the queue, never crashes it", "[xen][blkif]") {
  struct hostile {
    const char* what;
    void (*act)(backend&, const blkif_request_t&);
    error outcome = error::device_gone;  // the waiting batch's
  };
  const hostile cases[] = {
      {"an id past the table", [](backend& k, const blkif_request_t& r) { k.answer(r.id | 0xfff0, r.operation); }},
      {"an id not in flight", [](backend& k, const blkif_request_t& r) { k.answer((r.id & ~0xffffull) | 5, r.operation); }},
      {"a stale generation", [](backend& k, const blkif_request_t& r) { k.answer(r.id + (1u << 16), r.operation); }},
      {"the wrong operation", [](backend& k, const blkif_request_t& r) { k.answer(r.id, BLKIF_OP_WRITE); }},
      {"an unknown status", [](backend& k, const blkif_request_t& r) { k.answer(r, 7); }},
      {"the same answer twice",
       [](backend& k, const blkif_request_t& r) {
         k.answer(r);
         k.answer(r);
       },
       error::none},
      {"a producer past the requests", [](backend& k, const blkif_request_t&) { k.s->rsp_prod = 3; }},
      {"a producer behind the consumer", [](backend& k, const blkif_request_t&) { k.s->rsp_prod = ~RING_IDX{0}; }},
  };
  for (const hostile& h : cases) {
    SECTION(h.what) {
      fixture f;
      queue::batch b, other;
      const blkif_request_t req = f.one_sector(BLKIF_OP_READ, 0, b);
      (void)f.one_sector(BLKIF_OP_READ, 1, other);
      h.act(f.back, req);
      auto r = f.q.complete();
      CHECK(r.err() == error::malformed);
      CHECK(f.q.stopped());
      CHECK(f.q.free_slots() == 0);
      REQUIRE(b.done());
      REQUIRE(other.done());
      CHECK((b.outcome() ? error::none : b.outcome().err()) == h.outcome);
      CHECK(other.outcome().err() == error::device_gone);
      CHECK(f.q.statistics().ring_errors == 1);
      CHECK(f.q.complete().err() == error::device_gone);  // nothing read from the page again
      f.q.release_all();
      CHECK(f.grants.active() == 0);
    }
  }
}

TEST_CASE("blkif: release_all takes back every grant and reference", "[xen][blkif]") {
  fixture f;
  queue::batch b;
  (void)f.one_sector(BLKIF_OP_WRITE, 0, b);
  f.q.release_all();
  REQUIRE(b.done());
  CHECK(b.outcome().err() == error::device_gone);
  CHECK(f.grants.active() == 0);
  CHECK(f.grants.released == one_page_depth * queue::direct_segments);
}

TEST_CASE("blkif: what is used of what the backend offers", "[xen][blkif]") {
  CHECK(queue::ring_pages_for(0) == 1);  // no max-ring-page-order: one page
  CHECK(queue::ring_pages_for(1) == 2);
  CHECK(queue::ring_pages_for(4) == 2);  // Linux blkback's 16 pages: our bound
  CHECK(queue::ring_pages_for(~std::uint64_t{0}) == 2);
  CHECK(blkif_queue<fake_grants>::ring_pages_for(4) == 1);
  CHECK(queue::request_segments_for(0) == 11);  // no feature-max-indirect-segments
  CHECK(queue::request_segments_for(8) == 11);  // fewer than a direct request: no indirect ones
  CHECK(queue::request_segments_for(11) == 11);
  CHECK(queue::request_segments_for(12) == 12);
  CHECK(queue::request_segments_for(256) == 64);  // Linux blkback's 256: our bound
  CHECK(queue::request_segments_for(~std::uint64_t{0}) == 64);
  CHECK(blkif_queue<fake_grants>::request_segments_for(256) == 11);
  fixture f;
  CHECK(f.q.attach(f.page->bytes, 3, 0).err() == error::invalid_argument);
  CHECK(f.q.attach(f.page->bytes, 4, 0).err() == error::invalid_argument);
}

TEST_CASE("blkif: a two-page ring holds 64 requests, round after round", "[xen][blkif]") {
  fixture f(2);
  REQUIRE(f.q.depth() == 64);
  const view one[] = {f.fresh_page(0).head(512)};
  for (int round = 0; round < 5; ++round) {
    std::vector<std::unique_ptr<queue::batch>> batches;
    for (std::size_t i = 0; i < 64; ++i) {
      batches.push_back(std::make_unique<queue::batch>());
      f.issue_all(BLKIF_OP_READ, i, one, *batches.back());
    }
    CHECK(f.q.free_slots() == 0);
    auto reqs = f.back.take_all();
    REQUIRE(reqs.size() == 64);  // the second page's 32 too
    for (std::size_t i = 0; i < 64; ++i) CHECK(reqs[i].sector_number == i);
    for (std::size_t i = 64; i-- > 0;) f.back.answer(reqs[i]);
    REQUIRE(f.q.complete());
    for (auto& b : batches) CHECK(b->done());
    CHECK(f.q.free_slots() == 64);
  }
  CHECK(f.grants.active() == 0);
}

TEST_CASE("blkif: more than 11 pages go as one indirect request, its page reused", "[xen][blkif]") {
  fixture f(1, 256);
  REQUIRE(f.q.indirect());
  REQUIRE(f.q.request_segments() == 64);
  const std::vector<view> out = f.fresh_pages(40, 1024, 1, 1);
  queue::batch w;
  f.issue_all(BLKIF_OP_WRITE, 8, out, w);
  auto reqs = f.back.take_all();
  REQUIRE(reqs.size() == 1);
  REQUIRE(reqs[0].operation == BLKIF_OP_INDIRECT);
  const blkif_request_indirect_t ind = backend::as_indirect(reqs[0]);
  CHECK(ind.indirect_op == BLKIF_OP_WRITE);
  CHECK(ind.nr_segments == 40);
  CHECK(ind.sector_number == 8);
  CHECK(ind.id == reqs[0].id);
  const auto segs = f.back.segments_of(reqs[0]);
  CHECK(segs[39].first_sect == 0);
  CHECK(segs[39].last_sect == 1);
  CHECK(f.grants.table.at(segs[0].gref).readonly);
  CHECK(f.grants.active() == 41);  // the pages and the indirect page
  f.back.perform(reqs[0]);
  f.back.answer(reqs[0]);  // with BLKIF_OP_WRITE, as Linux blkback does
  REQUIRE(f.q.complete());
  REQUIRE(w.done());
  CHECK(w.outcome());
  CHECK(f.grants.active() == 0);
  CHECK(f.back.disk[8 * 512 + 39 * 1024] == 40);
  const std::size_t pool_used = f.pool->statistics().in_use;

  // Read back 70 pages: 64 in an indirect request (answered BLKIF_OP_INDIRECT, as
  // blkif.h reads), 6 in a direct one; the indirect page is the one kept.
  const std::vector<view> in = f.fresh_pages(70, 512);
  const std::size_t pool_after_pages = f.pool->statistics().in_use;
  queue::batch r;
  f.issue_all(BLKIF_OP_READ, 8, in, r);
  CHECK(f.pool->statistics().in_use == pool_after_pages);  // no new indirect page
  CHECK(pool_after_pages == pool_used + 70);
  reqs = f.back.take_all();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].operation == BLKIF_OP_INDIRECT);
  CHECK(backend::as_indirect(reqs[0]).nr_segments == 64);
  CHECK(reqs[1].operation == BLKIF_OP_READ);
  CHECK(reqs[1].nr_segments == 6);
  CHECK(reqs[1].sector_number == 8 + 64);
  CHECK_FALSE(f.grants.table.at(f.back.segments_of(reqs[0])[0].gref).readonly);  // a read: writable
  for (const auto& q : reqs) f.back.perform(q);
  f.back.answer(reqs[1]);
  f.back.answer(reqs[0].id, BLKIF_OP_INDIRECT);
  REQUIRE(f.q.complete());
  REQUIRE(r.done());
  CHECK(r.outcome());
  CHECK(in[0][0] == 1);
  CHECK(in[2][0] == 2);   // sector 10 is page 2's first 512 bytes
  CHECK(in[69][0] == 35);
  CHECK(f.q.statistics().indirect == 2);
  CHECK(f.grants.active() == 0);
}

TEST_CASE("blkif: without indirect requests, or their pages, the same call goes direct", "[xen][blkif]") {
  for (const bool offered : {false, true}) {
    fixture f(1, offered ? 32 : 0);
    const std::vector<view> out = f.fresh_pages(30, 512);
    std::vector<view> hoard;  // every page left: none for an indirect request
    for (auto p = f.pool->allocate(); p; p = f.pool->allocate()) hoard.push_back(std::move(*p));
    queue::batch b;
    f.issue_all(BLKIF_OP_WRITE, 0, out, b);
    auto reqs = f.back.take_all();
    REQUIRE(reqs.size() == 3);  // 11, 11, 8
    CHECK(reqs[0].operation == BLKIF_OP_WRITE);
    CHECK(reqs[2].nr_segments == 8);
    CHECK(f.q.statistics().indirect == 0);
  }
}

TEST_CASE("blkif: the grants bound what is in flight, a call waits for answers", "[xen][blkif]") {
  fixture f(1, 64);  // 32 requests, 352 grants
  const std::vector<view> pages = f.fresh_pages(64, 512);
  std::vector<std::unique_ptr<queue::batch>> batches;
  std::size_t requests = 0;
  while (f.q.ready()) {
    batches.push_back(std::make_unique<queue::batch>());
    f.q.issue(BLKIF_OP_READ, 0, pages, *batches.back());
    ++requests;
  }
  CHECK(requests == 6);  // five of 64 pages and their indirect pages (325 grants), then one of the 27 left
  CHECK(f.q.free_slots() == 32 - 6);
  (void)f.q.push();
  auto reqs = f.back.take_all();
  REQUIRE(reqs.size() == 6);
  CHECK(backend::as_indirect(reqs[5]).nr_segments == 26);
  f.back.answer(reqs[0]);
  REQUIRE(f.q.complete());
  CHECK(f.q.ready());
}

TEST_CASE("blkif: a hostile backend's answers to indirect requests", "[xen][blkif]") {
  fixture f(1, 64);
  const std::vector<view> pages = f.fresh_pages(20, 512);  // (after f: they go back to its pool first)

  SECTION("an indirect request answered with another operation stops the queue") {
    for (const std::uint8_t op : {std::uint8_t{BLKIF_OP_WRITE}, std::uint8_t{BLKIF_OP_FLUSH_DISKCACHE}}) {
      fixture g(1, 64);
      queue::batch b;
      g.issue_all(BLKIF_OP_READ, 0, std::span<const view>(pages).first(12), b);
      auto reqs = g.back.take_all();
      REQUIRE(reqs.size() == 1);
      g.back.answer(reqs[0].id, op);
      CHECK(g.q.complete().err() == error::malformed);
      REQUIRE(b.done());
      CHECK(b.outcome().err() == error::device_gone);
      g.q.release_all();
      CHECK(g.grants.active() == 0);
    }
  }
  SECTION("a direct request answered as indirect stops the queue") {
    queue::batch b;
    const blkif_request_t req = f.one_sector(BLKIF_OP_READ, 0, b);
    f.back.answer(req.id, BLKIF_OP_INDIRECT);
    CHECK(f.q.complete().err() == error::malformed);
    CHECK(b.outcome().err() == error::device_gone);
  }
  SECTION("an indirect request answered twice stops the queue after the first") {
    queue::batch b, other;
    f.issue_all(BLKIF_OP_WRITE, 0, pages, b);
    auto reqs = f.back.take_all();
    (void)f.one_sector(BLKIF_OP_READ, 1, other);  // (two requests out: two answers are not too many)
    f.back.answer(reqs[0]);
    f.back.answer(reqs[0]);
    CHECK(f.q.complete().err() == error::malformed);
    REQUIRE(b.done());
    CHECK(b.outcome());  // its answer had come
    CHECK(other.outcome().err() == error::device_gone);
  }
  SECTION("an indirect page the backend still maps is never written again") {
    queue::batch b;
    f.issue_all(BLKIF_OP_WRITE, 0, pages, b);
    auto reqs = f.back.take_all();
    const grant_ref_t page_ref = backend::as_indirect(reqs[0]).indirect_grefs[0];
    const std::uint64_t page_gfn = f.grants.table.at(page_ref).gfn;
    f.grants.table.at(page_ref).mapped = true;
    f.back.answer(reqs[0]);
    REQUIRE(f.q.complete());
    REQUIRE(b.done());
    CHECK(b.outcome().err() == error::io);
    CHECK(f.q.statistics().stuck_grants == 1);
    CHECK(f.q.free_slots() == one_page_depth - 1);
    queue::batch next;
    f.issue_all(BLKIF_OP_WRITE, 0, pages, next);
    auto more = f.back.take_all();
    REQUIRE(more.size() == 1);
    CHECK(f.grants.table.at(backend::as_indirect(more[0]).indirect_grefs[0]).gfn != page_gfn);  // a fresh page
    f.back.answer(more[0]);
    REQUIRE(f.q.complete());
    CHECK(next.outcome());
  }
}
