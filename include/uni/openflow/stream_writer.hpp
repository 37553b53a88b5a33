// uni/openflow/stream_writer.hpp: writes what one side of an OpenFlow
// connection has queued (a session's or a switch connection's output) to its
// byte stream. The queue's bytes are reused as soon as they are marked sent,
// and a stream may hold a written view until it is acknowledged, so they go
// out copied into pool pages, up to 16 pages a write; when the pool is empty
// the writer waits a millisecond for pages to come back.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <span>

#include <uni/core/buffer.hpp>
#include <uni/core/task.hpp>

namespace uni::openflow {

// Writes all of `source.output()`, calling source.sent(n) and then `written()`
// after each write; false if the stream failed.
template <class Stack, class Stream, class Source, class Written>
task<bool> write_queued(Stack& stack, Stream& stream, Source& source, Written written) {
  constexpr std::size_t batch = 16;
  while (!source.output().empty()) {
    std::array<view, batch> pages;
    std::size_t n = 0, copied = 0;
    const auto out = source.output();
    while (copied < out.size() && n < batch) {
      auto p = stack.pool().allocate();
      if (!p) break;
      const std::size_t k = std::min(out.size() - copied, p->size());
      std::memcpy(p->data(), out.data() + copied, k);
      pages[n++] = p->head(k);
      copied += k;
    }
    if (n == 0) {
      co_await stack.sched().sleep_for(std::chrono::milliseconds(1));  // pages come back as writes complete
      continue;
    }
    if (!co_await stream.write(std::span<const view>(pages.data(), n))) co_return false;
    source.sent(copied);
    written();
  }
  co_return true;
}

}  // namespace uni::openflow
