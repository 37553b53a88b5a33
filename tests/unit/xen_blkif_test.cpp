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

using queue = blkif_queue<fake_grants>;

struct alignas(4096) ring_page {
  std::uint8_t bytes[4096];
};

// blkback over a disk in memory: takes requests, answers when told to.
struct backend {
  blkif_sring* s;
  fake_grants& grants;
  std::vector<std::uint8_t> disk = std::vector<std::uint8_t>(64 * 512);
  RING_IDX req_cons = 0;
  RING_IDX rsp_prod_pvt = 0;

  std::vector<blkif_request_t> take_all() {
    std::vector<blkif_request_t> got;
    while (req_cons != s->req_prod) got.push_back(s->ring[req_cons++ & (queue::depth - 1)].req);
    return got;
  }
  // Does what the request asks, through its grants.
  void perform(const blkif_request_t& r) {
    std::uint64_t at = r.sector_number * 512;
    for (std::size_t i = 0; i < r.nr_segments; ++i) {
      const auto& g = grants.table.at(r.seg[i].gref);
      REQUIRE(g.active);
      auto* page = reinterpret_cast<std::uint8_t*>(g.gfn << 12);
      const std::size_t n = (r.seg[i].last_sect - r.seg[i].first_sect + 1) * 512u;
      if (r.operation == BLKIF_OP_READ) {
        REQUIRE_FALSE(g.readonly);
        std::memcpy(page + r.seg[i].first_sect * 512, disk.data() + at, n);
      } else {
        std::memcpy(disk.data() + at, page + r.seg[i].first_sect * 512, n);
      }
      at += n;
    }
  }
  void answer(std::uint64_t id, std::uint8_t op, std::int16_t status = BLKIF_RSP_OKAY) {
    blkif_response_t& rsp = s->ring[rsp_prod_pvt++ & (queue::depth - 1)].rsp;
    rsp.id = id;
    rsp.operation = op;
    rsp.status = status;
    s->rsp_prod = rsp_prod_pvt;
  }
  void answer(const blkif_request_t& r, std::int16_t status = BLKIF_RSP_OKAY) { answer(r.id, r.operation, status); }
};

struct fixture {
  std::unique_ptr<ring_page> page = std::make_unique<ring_page>();
  static_page_pool<32> pool;
  fake_grants grants;
  queue q{grants};
  backend back{reinterpret_cast<blkif_sring*>(page->bytes), grants};

  fixture() { REQUIRE(q.attach(page->bytes, 0)); }

  view fresh_page(std::uint8_t fill) {
    auto p = pool.allocate();
    REQUIRE(p);
    std::memset(p->data(), fill, p->size());
    return std::move(*p);
  }
  // Issues every part of a read or write of `pages` from 512-byte sector `sector`.
  void issue_all(std::uint8_t op, std::uint64_t sector, std::span<const view> pages, queue::batch& b) {
    std::size_t next = 0;
    while (next < pages.size()) {
      REQUIRE(q.free_slots() > 0);
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
  std::vector<view> pages;
  for (int i = 0; i < 13; ++i) pages.push_back(f.fresh_page(static_cast<std::uint8_t>('a' + i)).head(1024));
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
  CHECK(f.q.free_slots() == queue::depth - 2);
  CHECK(f.q.statistics().segments == 13);
}

TEST_CASE("blkif: answers out of order complete the batch when the last part is in", "[xen][blkif]") {
  fixture f;
  std::vector<view> out;
  for (int i = 0; i < 12; ++i) out.push_back(f.fresh_page(static_cast<std::uint8_t>(i + 1)).head(512));
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
  CHECK(f.q.free_slots() == queue::depth);
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
  for (std::size_t i = 0; i < queue::depth; ++i) {
    batches.push_back(std::make_unique<queue::batch>());
    f.issue_all(BLKIF_OP_READ, i, one, *batches.back());
  }
  CHECK(f.q.free_slots() == 0);
  auto reqs = f.back.take_all();
  REQUIRE(reqs.size() == queue::depth);
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
  CHECK(f.q.free_slots() == queue::depth);
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
  CHECK(f.q.free_slots() == queue::depth - 1);  // its slot is not reused
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
  CHECK(f.grants.released == queue::depth * queue::max_segments);
}
