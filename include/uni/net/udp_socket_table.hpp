// uni/net/udp_socket_table.hpp: the bounded table of bound UDP ports, each with
// a bounded queue of received datagrams and the coroutines waiting for them.
// Sans-IO: the stack delivers datagrams in; sockets take them out.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
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
    while (s.count) pop(i);
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
    s.queue[(s.head + s.count) % Queue] = std::move(d);
    ++s.count;
    s.ready->notify_one();
    return true;
  }

  bool has_datagram(std::size_t i) const noexcept { return slots_[i].count != 0; }
  datagram pop(std::size_t i) noexcept {
    slot& s = slots_[i];
    datagram d = std::move(s.queue[s.head]);
    s.queue[s.head] = datagram{};
    s.head = (s.head + 1) % Queue;
    --s.count;
    return d;
  }
  wait_queue& ready(std::size_t i) noexcept { return *slots_[i].ready; }
  std::uint16_t port(std::size_t i) const noexcept { return slots_[i].port; }

 private:
  struct slot {
    bool bound = false;
    std::uint16_t port = 0;
    std::size_t head = 0;
    std::size_t count = 0;
    std::array<datagram, Queue> queue{};
    std::optional<wait_queue> ready;
  };
  scheduler& sched_;
  std::array<slot, Sockets> slots_{};
};

}  // namespace uni
