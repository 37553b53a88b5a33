# bench/lib.sh: what the bench scripts all do, done one way. Sourced, not run:
#   root=$(cd "$(dirname "$0")/.." && pwd); . "$root/bench/lib.sh"

# need_root NAME: the benchmarks on namespaces and TAP devices are skipped (77) without root.
need_root() {
  [ "$(id -u)" = 0 ] || { echo "SKIP: bench/$1.sh needs root (network namespaces, a TAP device)" >&2; exit 77; }
}

# need_tools NAME TOOL...: stops, naming the first tool that is missing.
need_tools() {
  local name=$1 tool
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "bench/$name.sh: $tool is missing (./scripts/setup.sh installs it)" >&2; exit 1; }
  done
}

# results_dir DIR: creates DIR and prints its absolute path.
results_dir() { mkdir -p "$1" && (cd "$1" && pwd); }

# build_targets DIR PRESET TARGET...: configures DIR (relative to the source tree)
# with PRESET if it is not yet, then builds the targets (incrementally), in bounded time.
build_targets() {
  local dir=$1 preset=$2
  shift 2
  (
    cd "$root"
    [ -f "$dir/build.ninja" ] || timeout 300 cmake --preset "$preset" -B "$dir" >/dev/null
    timeout 1800 cmake --build "$dir" -j2 --target "$@" >/dev/null
  )
  take_bench_lock
}

# take_bench_lock: with UNI_BENCH_LOCK=FILE in the environment, waits (15 min at
# most) for an exclusive lock on FILE and holds it until the script exits, so
# benchmarks sharing a machine take turns. build_targets takes it after building:
# a compile never runs while the lock is held. The scripts a holder runs inherit
# the lock (UNI_BENCH_LOCK_HELD) instead of waiting for it.
take_bench_lock() {
  [ -n "${UNI_BENCH_LOCK:-}" ] && [ -z "${UNI_BENCH_LOCK_HELD:-}" ] || return 0
  exec {bench_lock_fd}>>"$UNI_BENCH_LOCK"
  flock -w 900 "$bench_lock_fd" || { echo "bench: no lock on $UNI_BENCH_LOCK after 15 min" >&2; exit 1; }
  export UNI_BENCH_LOCK_HELD=1
}

# cdf_plot PNG TITLE XLABEL PLOT...: a cumulative distribution as the paper draws
# them (log x axis: tails span decades), one gnuplot plot clause per curve.
cdf_plot() {
  local png=$1 title=$2 xlabel=$3
  shift 3
  [ $# -gt 0 ] || return 0
  timeout 60 gnuplot <<EOF
set terminal pngcairo size 900,560 font ",11"
set output '$png'
set title "$title"
set xlabel '$xlabel'
set ylabel 'cumulative frequency (%)'
set logscale x
set grid
set key bottom right
set yrange [0:100]
plot $(IFS=,; echo "$*")
EOF
}

# two_namespaces TAG: the layout http.sh and memcache.sh race on. Namespace $NS_C
# holds the load generator, a TAP device tap0 ($TAP_PEER) for uni's appliance at
# $UNI_IP, and a veth ($C_IP) to namespace $NS_N, where the Linux server listens at
# $N_IP. Sets `work` (a scratch folder) and `pids` (what the caller starts there);
# on exit those processes are killed and the namespaces and folder removed.
# UNI_NETNS_TAG in the environment goes into the names (whose namespaces they are),
# as in tests/integration/netns.sh.
two_namespaces() {
  NS_C="uni-${UNI_NETNS_TAG:+$UNI_NETNS_TAG-}$1-c-$$"
  NS_N="uni-${UNI_NETNS_TAG:+$UNI_NETNS_TAG-}$1-n-$$"
  TAP_PEER=10.95.0.1 UNI_IP=10.95.0.2 C_IP=10.96.0.1 N_IP=10.96.0.2
  work=$(mktemp -d)
  pids=()
  trap two_namespaces_cleanup EXIT
  new_namespace "$NS_C"
  new_namespace "$NS_N"
  add_tap "$NS_C" tap0 "$TAP_PEER"
  add_veth "$NS_C" "$C_IP" "$NS_N" "$N_IP"
}
# new_namespace NS: a network namespace with lo up and IPv6 off.
new_namespace() {
  ip netns add "$1"
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$1" link set lo up
}
# add_tap NS DEV ADDR: a TAP device in NS, at ADDR/24, up.
add_tap() {
  ip -n "$1" tuntap add dev "$2" mode tap
  ip -n "$1" addr add "$3/24" dev "$2"
  ip -n "$1" link set "$2" up
  steer_device "$1" "$2"
}
# add_veth NS_A ADDR_A NS_B ADDR_B [DEV]: a veth pair DEV (veth0) between the two, at ADDR/24 each, up.
add_veth() {
  local dev=${5:-veth0}
  ip -n "$1" link add "$dev" type veth peer name "$dev" netns "$3"
  ip -n "$1" addr add "$2/24" dev "$dev"
  ip -n "$3" addr add "$4/24" dev "$dev"
  ip -n "$1" link set "$dev" up
  ip -n "$3" link set "$dev" up
  steer_device "$1" "$dev"
  steer_device "$3" "$dev"
}
two_namespaces_cleanup() {
  local p ns
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for ns in "$NS_C" "$NS_N"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
  stop_steering
}

# Receive steering (--steer rfs): where the host processes what a device receives.
# By default the CPU that wrote a frame into a TAP device or a veth also runs the
# receiving end's TCP (the peer's ACK processing, the transmissions an ACK releases,
# the receiver's queueing): for uni, one thread, that is host work on its own core.
# With `rfs`, every device a script creates (uni's TAP and the Linux peer's veth
# alike) gets Linux's receive flow steering: a segment is processed on the CPU
# where its socket was last used, as a host with RFS configured does for every
# server. `none` (the default) leaves the host as it is.
start_steering() {
  case ${1:-none} in
    none) steer=none ;;
    rfs)
      steer=rfs
      steer_saved=$(sysctl -n net.core.rps_sock_flow_entries)
      sysctl -qw net.core.rps_sock_flow_entries=32768
      ;;
    *) echo "bench: --steer takes rfs or none, not '$1'" >&2; exit 2 ;;
  esac
}
# stop_steering: the host's global RFS table as it was (from the cleanup on exit).
stop_steering() {
  [ -z "${steer_saved:-}" ] || sysctl -qw net.core.rps_sock_flow_entries="$steer_saved"
  steer_saved=
}
# steer_device NS DEV: RFS on each receive queue of DEV, over all CPUs, with --steer rfs.
steer_device() {
  [ "${steer:-none}" = rfs ] || return 0
  local n cpus="" g
  # The CPU mask as the kernel reads it: 32-bit hex groups, commas between.
  for ((n = $(nproc); n > 0; n -= g)); do
    g=$((n < 32 ? n : 32))
    cpus=$(printf '%x' $(((1 << g) - 1)))${cpus:+,$cpus}
  done
  ip netns exec "$1" sh -c "for q in /sys/class/net/$2/queues/rx-*; do echo $cpus >\$q/rps_cpus; echo 32768 >\$q/rps_flow_cnt; done"
}
# steering_text: the report's line for it.
steering_text() {
  case ${steer:-none} in
    rfs) echo "host receive steering: RFS (rps_cpus all CPUs, rps_flow_cnt 32768) on the TAP device and on the veth pair alike (--steer rfs)" ;;
    *) echo "host receive steering: none (the host's default; --steer rfs sets RFS on every device)" ;;
  esac
}

# stop: ends the server a race script started ($SERVER_PID): SIGTERM, then SIGKILL
# after 10 s.
stop() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  timeout 10 tail --pid="$SERVER_PID" -f /dev/null || kill -KILL "$SERVER_PID" 2>/dev/null || true
}
# ticks PID [system]: CPU ticks of a process and its children: user + system, or
# with `system` the system part alone (the kernel's work in its system calls,
# where a TAP device's copies and the host's TCP for its frames are charged).
ticks() {
  local total=0 p sum='$14 + $15'
  [ "${2:-}" = system ] && sum='$15'
  for p in $1 $(pgrep -P "$1" || true); do
    [ -r "/proc/$p/stat" ] || continue
    total=$((total + $(awk "{ print $sum }" "/proc/$p/stat")))
  done
  echo "$total"
}

# steal_ticks: the host's steal time so far, all CPUs (ticks; /proc/stat). Time the
# hypervisor ran something else while this machine's CPUs had work: a host that
# pauses the guest shows here, and in every latency tail measured across it.
steal_ticks() { awk '$1 == "cpu" { print $9 }' /proc/stat; }

# pin_cpus MODE: SERVER_PIN and CLIENT_PIN, command prefixes for the server and the
# load generator (--pin): "split" puts the server on CPU 0 and its client on CPU 1,
# "same" both on CPU 0, none leaves them to the scheduler. Measured at one
# connection (www-tap, nginx, memcache-tap, memcached alike): a server spends ~4x
# the CPU per request when its client runs on the other CPU (every wake-up crosses
# CPUs: an IPI to a halted vCPU) than on its own, and the scheduler picks per run,
# so two servers compared in unpinned runs may not be in the same case.
pin_cpus() {
  SERVER_PIN=() CLIENT_PIN=()
  case $1 in
    "") ;;
    split) SERVER_PIN=(taskset -c 0) CLIENT_PIN=(taskset -c 1) ;;
    same) SERVER_PIN=(taskset -c 0) CLIENT_PIN=(taskset -c 0) ;;
    *) echo "bench: --pin takes split or same, not '$1'" >&2; exit 2 ;;
  esac
}

# read_flags USAGE SWITCHES VALUED "$@": the scripts' flags, one way. A switch
# (`--quick`) sets its variable to 1, a valued flag (`--out DIR`) to its value; the
# variable is the flag's name with dashes as underscores. Anything else prints
# "usage: SCRIPT USAGE" and exits 2.
read_flags() {
  local usage=$1 switches=" $2 " valued=" $3 " name
  shift 3
  while [ $# -gt 0 ]; do
    name=${1#--}
    if [[ $1 == --* && $switches == *" $name "* ]]; then
      printf -v "${name//-/_}" 1
    elif [[ $1 == --* && $valued == *" $name "* && $# -ge 2 ]]; then
      printf -v "${name//-/_}" '%s' "$2"
      shift
    else
      echo "usage: $0 $usage" >&2
      exit 2
    fi
    shift
  done
}
