// uni/net/udp_socket_table.hpp: the bounded table of bound UDP ports, each with
// a bounded queue of received datagrams and the coroutines waiting for them.
// Sans-IO: the stack delivers datagrams in; sockets take them out.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include <uni/core/scheduler.hpp>
#include <uni/net/endpoint.hpp>

namespace uni {

template <std::size_t Sockets, std::size_t Queue>
class udp_socket_table {
 public:
  static constexpr std::size_t none = Sockets;

  explicit udp_socket_table(scheduler& s) noexcept : sched_(s) {}

  // Claims `port`; error::in_use or error::table_full.
  result<std::size_t> bind(std::uint16_t port) noexcept {
    if (find(port) != none) return fail(error::in_use);
    for (std::size_t i = 0; i < Sockets; ++i) {
      if (!slots_[i].bound) {
        slots_[i].bound = true;
        slots_[i].port = port;
        slots_[i].ready.emplace(sched_);
        return i;
      }
    }
    return fail(error::table_full);
  }

  // Frees the slot: queued datagrams are dropped, waiters woken as cancelled.
  void unbind(std::size_t i) noexcept {
    slot& s = slots_[i];
    while (s.count) s.drop_front();
    s.ready.reset();
    s.bound = false;
  }

  std::size_t find(std::uint16_t port) const noexcept {
    for (std::size_t i = 0; i < Sockets; ++i)
      if (slots_[i].bound && slots_[i].port == port) return i;
    return none;
  }

  // Queues a datagram for socket `i`; false if its queue is full (a drop).
  bool deliver(std::size_t i, datagram&& d) noexcept {
    slot& s = slots_[i];
    if (s.count == Queue) return false;
    std::construct_at(&s.queue[(s.head + s.count) % Queue].d, std::move(d));
    ++s.count;
    s.ready->notify_one();
    return true;
  }

  bool has_datagram(std::size_t i) const noexcept { return slots_[i].count != 0; }
  datagram pop(std::size_t i) noexcept { return slots_[i].pop(); }
  wait_queue& ready(std::size_t i) noexcept { return *slots_[i].ready; }
  std::uint16_t port(std::size_t i) const noexcept { return slots_[i].port; }

 private:
  struct slot {
    // A union member per entry: a datagram exists only while it is queued (none
    // is made, moved over or destroyed for the free entries).
    union entry {
      entry() noexcept {}
      ~entry() {}
      datagram d;
    };

    bool bound = false;
    std::uint16_t port = 0;
    std::size_t head = 0;
    std::size_t count = 0;
    entry queue[Queue];
    std::optional<wait_queue> ready;

    ~slot() {
      while (count) drop_front();
    }
    datagram pop() noexcept {
      datagram d = std::move(queue[head].d);
      drop_front();
      return d;
    }
    void drop_front() noexcept {
      std::destroy_at(&queue[head].d);
      head = (head + 1) % Queue;
      --count;
    }
  };
  scheduler& sched_;
  std::array<slot, Sockets> slots_{};
};

}  // namespace uni
