// examples/of-controller: an OpenFlow MAC-learning controller (uni/openflow/),
// one source for every target: host sockets (of-controller-socket), uni's
// stack on a TAP device (of-controller-tap) or Xen netfront (of-controller-xen).
//
// For each switch it learns which port each source MAC address is behind. A
// packet for an address it knows gets a flow (in_port, source, destination ->
// that port, idle timeout --idle-timeout) and is sent on; any other is flooded.
// Speaks OpenFlow 1.0 and 1.3 (--openflow picks one, or both: the switch's
// highest). Flags: --port N (6653), --max-switches N (64), --idle-timeout S (60),
// --openflow 1.0|1.3|both (both), --echo-interval S (5), plus the platform's (--help lists them).
#include <uni/appliance.hpp>
#include <uni/openflow/controller.hpp>

namespace {

namespace of = uni::openflow;

constexpr uni::option_spec flags[] = {
    uni::number_option("port", of::default_port, 1, 65535, "TCP port switches connect to"),
    uni::number_option("max-switches", 64, 1, 4096, "switches served at once"),
    uni::number_option("idle-timeout", 60, 0, 65535, "seconds a learned flow lives unused (0: until removed)"),
    uni::choice_option("openflow", "1.0|1.3|both", "both", "OpenFlow versions offered to switches"),
    uni::number_option("echo-interval", 5, 1, 3600, "seconds a switch may be idle before an echo request probes it"),
};

// OpenFlow messages are small and answered at once: a switch needs little
// window either way, and 16 switches flooding the default windows (256 KiB in,
// 512 KiB out) would hold every page of the pool (uni's stack on TAP or Xen).
struct controller_config : uni::default_config {
  static constexpr std::size_t tcp_receive_buffer = 32 * 1024;
  static constexpr std::size_t tcp_send_buffer = 64 * 1024;
};

constexpr std::uint64_t cookie = 0x756e69;  // "uni": the flows this controller installs
constexpr std::uint16_t flow_priority = 1;  // above the 1.3 table-miss entry (0)

// Where each MAC address was last seen, per switch: a direct-mapped table (a
// new address takes its bucket over), reset when the switch reconnects.
class mac_table {
 public:
  static constexpr std::size_t buckets = 1024;
  struct entry {
    uni::mac_address mac;
    std::uint32_t port = 0;
    bool used = false;
  };
  void reset(std::uint32_t generation) noexcept {
    if (generation == generation_) return;
    generation_ = generation;
    for (entry& e : entries_) e.used = false;
  }
  void learn(const uni::mac_address& m, std::uint32_t port) noexcept { entries_[bucket(m)] = {m, port, true}; }
  std::optional<std::uint32_t> find(const uni::mac_address& m) const noexcept {
    const entry& e = entries_[bucket(m)];
    if (e.used && e.mac == m) return e.port;
    return std::nullopt;
  }

 private:
  static std::size_t bucket(const uni::mac_address& m) noexcept {
    std::uint32_t h = 2166136261u;  // FNV-1a
    for (std::uint8_t b : m.bytes) h = (h ^ b) * 16777619u;
    return h % buckets;
  }
  std::uint32_t generation_ = 0;
  std::array<entry, buckets> entries_{};
};

struct learning {
  std::uint64_t flooded = 0, forwarded = 0, flows = 0, dropped = 0;
};

template <class Controller>
uni::task<void> handle(Controller& ctl, std::vector<mac_table>& tables, learning& n, std::uint16_t idle,
                       const of::packet_in_event& pi) {
  const auto frame = pi.data();
  if (frame.size() < 14) {
    ++n.dropped;
    co_return;
  }
  const auto dst = uni::mac_address::load(frame.data());
  const auto src = uni::mac_address::load(frame.data() + 6);
  mac_table& t = tables[pi.sw.slot];
  t.reset(pi.sw.generation);
  if (!src.is_multicast()) t.learn(src, pi.in_port);
  const auto out = dst.is_multicast() ? std::nullopt : t.find(dst);
  if (out && *out == pi.in_port) {  // it came from where it is going: the switch has no use for it
    ++n.dropped;
    co_return;
  }
  if (out) {
    of::flow_mod f;
    f.what = of::match{}.with_in_port(pi.in_port).with_eth_src(src).with_eth_dst(dst);
    f.cookie = cookie;
    f.priority = flow_priority;
    f.idle_timeout = idle;
    (void)f.does.apply.push(of::action::output_to(*out));
    if (co_await ctl.send_waiting(pi.sw, f)) ++n.flows;
    ++n.forwarded;
  } else {
    ++n.flooded;
  }
  of::packet_out p;
  p.buffer_id = pi.buffer_id;
  p.in_port = pi.in_port;
  (void)p.actions.push(of::action::output_to(out ? *out : of::port::flood, 0));
  if (pi.buffer_id == of::no_buffer) p.data = frame;
  (void)co_await ctl.send_waiting(pi.sw, p);
}

uni::task<int> serve(auto& stack, const uni::appliance_options& o) {
  of::controller_options opt;
  opt.max_switches = static_cast<std::size_t>(o.number("max-switches"));
  const std::string_view versions = o.text("openflow");
  opt.versions = versions == "1.0"   ? of::version_set{}.add(of::version::of10)
                 : versions == "1.3" ? of::version_set{}.add(of::version::of13)
                                     : of::both_versions;
  opt.limits.echo_interval = std::chrono::seconds(o.number("echo-interval"));
  opt.limits.echo_timeout = 3 * opt.limits.echo_interval;
  auto ctl = std::make_unique<of::controller<std::remove_reference_t<decltype(stack)>>>(stack, opt);
  std::vector<mac_table> tables(opt.max_switches);
  learning n;
  struct report {
    const decltype(*ctl)& c;
    const learning& n;
    ~report() {
      const auto& k = c.counters();
      uni::log_info("of-controller: ", k.switches_ready, " switches, ", k.sessions.packet_ins, " packet_in (",
                    k.packet_in_paused, " pauses on a full queue), ", n.flows, " flows installed, ", n.forwarded,
                    " forwarded, ", n.flooded, " flooded; refused: ", k.sessions.bad_length, " bad lengths, ", k.sessions.bad_type,
                    " bad types, ", k.sessions.experimenter, " experimenter, ", k.framing_errors, " unframed");
    }
  } r{*ctl, n};
  auto served = uni::spawn(stack.sched(), ctl->serve(static_cast<std::uint16_t>(o.number("port"))));
  const auto idle = static_cast<std::uint16_t>(o.number("idle-timeout"));
  while (true) {
    auto pi = co_await ctl->next_packet_in();
    if (!pi) break;
    co_await handle(*ctl, tables, n, idle, *pi);
  }
  auto status = co_await served.join();
  co_return status ? *status : 1;
}

}  // namespace

UNI_APPLIANCE("of-controller", controller_config, serve, flags)
