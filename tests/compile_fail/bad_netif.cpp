// Must NOT compile: a type that is not a Netif used as a stack's device. The
// test checks that the compiler's message names the policy and what it needs.
#include <uni/sim/manual_clock.hpp>
#include <uni/stack.hpp>

struct not_a_device {
  int mtu() const { return 1500; }
};

int main() {
  uni::static_page_pool<1> pool;
  uni::scheduler sched;
  uni::sim::ManualClock clock;
  not_a_device dev;
  uni::Stack<not_a_device, uni::sim::ManualClock> stack(dev, clock, sched, pool);
  stack.start();
}
