#!/usr/bin/env bash
# bench/ping.sh: ping round trip and a bounded ping flood, the uni ping appliance
# against the Linux stack, on the same path, in one run.
#
# What is measured, and how:
#   A "client" network namespace pings two targets through one Linux bridge (in a
#   "switch" namespace); the path from the client (its veth, the bridge) is the
#   same and only who answers differs:
#
#     client 10.90.0.1 --veth-- [ bridge ] --tap0-- uni ping appliance 10.90.0.2
#                                          --veth-- Linux namespace    10.90.0.3
#
#   - latency: `ping -c N -i 0.001` (N = 2,000 with --quick, else 20,000); every
#     `time=` value is kept and gives avg, p50, p99, max (µs);
#   - flood: `ping -f -q -c C` (C = 20,000 with --quick, else 100,000): packets
#     transmitted/received/lost, elapsed time and the rtt summary; --full adds one
#     1,000,000-packet flood per target;
#   each measurement is repeated (3 times) alternating the targets (uni first,
#   then Linux first, ...) so machine noise hits both, and the median run is
#   reported, with uni's avg and p99 as a ratio to Linux's (< 1: uni is faster);
#   - memory: the appliance's VmRSS (/proc/PID/status) at start, before the
#     floods and after them, and the page pool's counters it prints on SIGTERM.
#     The script exits 1 if RSS grew by more than 1 MiB over the floods, if uni
#     lost a flood packet, or if the appliance failed.
# The uni side pays for the TAP device (one read and one write system call per
# frame, and a wake-up of a user process), the Linux side answers in the kernel on
# a veth: ping.md says so. The appliance is the release build (--build).
# On a virtual machine, a CPU with nothing to run halts, and waking it takes the
# host tens of microseconds: uni sleeps between pings and pays that on every one,
# the Linux side answers in the sender's own kernel path and does not. --awake
# keeps every CPU busy with a nice-19 busy loop, which any real work preempts, so
# that no CPU halts during the latency runs and floods: the round trips without
# the host's wake-up.
#
# Writes, under the results folder (default bench/results):
#   ping.md          the tables, the memory lines, date/commit/CPU
#   ping-cdf.png     CDF of the latency runs' round trips, uni vs Linux (gnuplot)
# --busy-poll "US ..." runs the appliance with that flag (it polls for I/O that long
# before sleeping, so it does not halt between pings); with several values (e.g.
# "0 50 200") the appliance is restarted for each and every value gets a uni row of
# its own in the latency runs (interleaved with Linux's, as above), with the CPU the
# appliance used over its own runs; the floods and memory checks use the first value.
# --pin same|split pins the appliance and the client's ping to one CPU (same) or to
# CPUs 0 and 1 (split), as bench/lib.sh's pin_cpus: on a virtual machine whether the
# two share a CPU decides whether a halted CPU must wake for every echo (default:
# unpinned, the scheduler's choice).
# Usage: bench/ping.sh [--quick | --full] [--awake] [--busy-poll "US ..."] [--pin same|split] [--repeats N] [--out DIR] [--keep DIR] [--build DIR]
#   --keep DIR: keep the raw ping outputs, appliance log and CDF data there.
#   --build DIR: the release build directory (default build/release, configured
#   with the release preset if it does not exist).
# Needs root (namespaces, TAP); exits 77 without it. Every step is bounded by
# `timeout`; the namespaces are removed on exit whatever happens.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
out=$root/bench/results repeats=3 keep="" build=build/release quick=0 full=0 awake=0 busy_poll=0 pin=""
read_flags "[--quick | --full] [--awake] [--busy-poll \"US ...\"] [--pin same|split] [--repeats N] [--out DIR] [--keep DIR] [--build DIR]" \
  "quick full awake" "busy-poll pin repeats out keep build" "$@"
read -r -a polls <<<"$busy_poll"
[ ${#polls[@]} -gt 0 ] || polls=(0)
for v in "${polls[@]}"; do [[ $v =~ ^[0-9]+$ ]] || { echo "bench/ping.sh: --busy-poll takes microseconds, not '$v'" >&2; exit 2; }; done
pin_cpus "$pin"
mode=default
[ "$quick" = 0 ] || mode=quick
[ "$full" = 0 ] || mode=full
need_root ping
need_tools ping ip ping gnuplot timeout awk
out=$(results_dir "$out")

if [ $mode = quick ]; then lat_n=2000; flood_n=20000; else lat_n=20000; flood_n=100000; fi
big_n=1000000  # --full only, once per target
limit_kib=1024 # allowed RSS growth over the floods

# ---- the release appliance ---------------------------------------------------
cd "$root"
build_targets "$build" release ping-tap
build=$(cd "$build" && pwd)
app=$build/examples/ping-tap
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt")
[ "$build_type" = Release ] || { echo "bench/ping.sh: $build is '$build_type', not Release" >&2; exit 1; }

# ---- topology ------------------------------------------------------------------
tag=${UNI_NETNS_TAG:+$UNI_NETNS_TAG-}ubp-$$-$RANDOM  # UNI_NETNS_TAG: whose namespaces they are (bench/lib.sh)
NS_C=$tag-client NS_S=$tag-switch NS_L=$tag-linux
UNI_IP=10.90.0.2 LINUX_IP=10.90.0.3 CLIENT_IP=10.90.0.1
UNI_MAC=02:00:0a:5a:00:02  # fixed: a restarted appliance (one per --busy-poll value) keeps the MAC the client has cached
APP_PID=""
spinners=()  # --awake's busy loops
stop_spinners() {
  if [ ${#spinners[@]} -gt 0 ]; then kill "${spinners[@]}" 2>/dev/null || true; fi
  spinners=()
}
work=$(mktemp -d /tmp/uni-bench-ping.XXXXXX)
app_log=$work/appliance.log
raw=$work/raw.txt
: >"$raw"

cleanup() {
  if [ -n "$APP_PID" ] && kill -0 "$APP_PID" 2>/dev/null; then kill -KILL "$APP_PID" 2>/dev/null || true; fi
  stop_spinners
  for ns in "$NS_C" "$NS_S" "$NS_L"; do ip netns del "$ns" 2>/dev/null || true; done
  if [ -n "$keep" ]; then mkdir -p "$keep" && cp -r "$work"/. "$keep"/ && echo "raw files kept in $keep" >&2; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "bench/ping.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT TERM

in_c() { ip netns exec "$NS_C" "$@"; }
for ns in "$NS_C" "$NS_S" "$NS_L"; do
  ip netns add "$ns"
  # IPv6 off before any interface exists, so no RS/MLD frames reach the TAP.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
# The switch: a bridge with no address that must not answer ARP for its ports.
ip netns exec "$NS_S" sysctl -qw net.ipv4.conf.all.arp_ignore=1
ip -n "$NS_S" link add br0 type bridge stp_state 0 forward_delay 0 \
  nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0
ip -n "$NS_S" link add c-port type veth peer name eth0 netns "$NS_C"
ip -n "$NS_S" link add l-port type veth peer name eth0 netns "$NS_L"
ip -n "$NS_S" tuntap add dev tap0 mode tap
for port in c-port l-port tap0; do ip -n "$NS_S" link set "$port" master br0 up; done
ip -n "$NS_S" link set br0 up
ip -n "$NS_C" addr add "$CLIENT_IP/24" dev eth0
ip -n "$NS_C" link set eth0 up
ip -n "$NS_L" addr add "$LINUX_IP/24" dev eth0
ip -n "$NS_L" link set eth0 up

# key_of US: the runs' target name for the appliance busy-polling US µs ("uni" for the first value).
key_of() { if [ "$1" = "${polls[0]}" ]; then echo uni; else echo "uni-bp$1"; fi; }
ip_of() { case $1 in uni*) echo $UNI_IP ;; *) echo $LINUX_IP ;; esac; }
uni_sent=0  # echo requests the client sent to the running appliance, to compare with its counters
app_poll="" # the running appliance's busy-poll value

# start_app US: (re)starts the appliance in the switch namespace, busy-polling US µs
# (ip execs it: $! is its PID), and warms the path up (ARP, the bridge's table).
start_app() {
  if [ -n "$APP_PID" ]; then
    kill -TERM "$APP_PID"
    for _ in $(seq 50); do kill -0 "$APP_PID" 2>/dev/null || break; sleep 0.1; done
    wait "$APP_PID" || { echo "bench/ping.sh: the appliance (--busy-poll $app_poll) failed:" >&2; cat "$app_log" >&2; exit 1; }
  fi
  ip netns exec "$NS_S" "${SERVER_PIN[@]}" "$app" --tap tap0 --ipv4 "$UNI_IP/24" --mac "$UNI_MAC" --gateway "$CLIENT_IP" --busy-poll "$1" \
    >"$app_log" 2>&1 &
  APP_PID=$! app_poll=$1 uni_sent=0
  for _ in $(seq 600); do  # 30 s: on a loaded VM opening the TAP has waited 5 s and more (synchronize_rcu_expedited)
    grep -q " on tap0 " "$app_log" && break
    kill -0 "$APP_PID" 2>/dev/null || break
    sleep 0.05
  done
  grep -q " on tap0 " "$app_log" || { echo "bench/ping.sh: the appliance did not start:" >&2; cat "$app_log" /proc/$APP_PID/stack >&2; cat /proc/$APP_PID/wchan >&2; exit 1; }
  [ "$(cat /proc/$APP_PID/comm)" = ping-tap ] || { echo "bench/ping.sh: PID $APP_PID is not the appliance" >&2; exit 1; }
  warm_up uni
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$APP_PID/status"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$APP_PID/status"; }
# summary FILE: "transmitted received time_ms" from a ping's statistics line.
summary() {
  sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.* time \([0-9]*\)ms.*/\1 \2 \3/p' "$1" | tail -1 | grep . || echo "0 0 0"
}
count_sent() { case $1 in uni*) uni_sent=$((uni_sent + $2)) ;; esac; }

# warm_up TARGET: ARP on both sides, the bridge's forwarding table, caches.
warm_up() {
  local f=$work/warmup-$1.out
  in_c timeout -s INT -k 5 20 ping -n -c 20 -i 0.01 -W 1 "$(ip_of "$1")" >"$f" 2>&1 || true
  read -r tx rx _ < <(summary "$f")
  count_sent "$1" "$tx"
  [ "$rx" -gt 0 ] || { echo "bench/ping.sh: no answer from $1 at $(ip_of "$1"):" >&2; cat "$f" "$app_log" >&2; exit 1; }
  if [ "$1" = uni ]; then rss_start=$(rss_kib); fi
}
start_app "${polls[0]}"
warm_up linux
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
if [ $awake = 1 ]; then
  for c in $(seq 0 $(($(nproc) - 1))); do
    nice -n 19 taskset -c "$c" sh -c 'while :; do :; done' &
    spinners+=($!)
  done
fi

# latency TARGET RUN: one `ping -i 0.001` run; its round trips (µs) go to lat-TARGET-RUN.us.
latency() {
  local t=$1 r=$2 f=$work/lat-$1-$2.out
  echo "+ latency $t run $r: ping -c $lat_n -i 0.001 $(ip_of "$t")" >&2
  in_c "${CLIENT_PIN[@]}" timeout -s INT -k 5 $((lat_n * 3 / 1000 + 30)) ping -n -c "$lat_n" -i 0.001 -W 1 "$(ip_of "$t")" >"$f" 2>&1 || true
  read -r tx rx ms < <(summary "$f")
  count_sent "$t" "$tx"
  sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' "$f" | awk '{ printf "%.3f\n", $1 * 1000 }' | sort -g >"$work/lat-$t-$r.us"
  sort -g "$work/lat-$t-$r.us" | awk -v t="$t" -v r="$r" -v tx="$tx" -v rx="$rx" -v dup="$(grep -c 'DUP!' "$f" || true)" '
    function pct(q,  i) { i = int(q * NR); if (i < q * NR) i++; if (i < 1) i = 1; return a[i] }
    { a[NR] = $1; s += $1 }
    END {
      if (NR == 0) { printf "latency target=%s run=%d transmitted=%d received=%d dup=%d n=0\n", t, r, tx, rx, dup; exit }
      printf "latency target=%s run=%d transmitted=%d received=%d dup=%d n=%d avg=%.1f min=%.1f p50=%.1f p90=%.1f p99=%.1f p999=%.1f max=%.1f\n",
        t, r, tx, rx, dup, NR, s / NR, a[1], pct(0.50), pct(0.90), pct(0.99), pct(0.999), a[NR] }' | tee -a "$raw"
}

# flood KIND TARGET RUN COUNT: one `ping -f` run.
flood() {
  local kind=$1 t=$2 r=$3 n=$4 f=$work/$1-$2-$3.out
  echo "+ $kind $t run $r: ping -f -c $n $(ip_of "$t")" >&2
  in_c "${CLIENT_PIN[@]}" timeout -s INT -k 5 $((n / 5000 + 30)) ping -n -f -q -c "$n" -W 1 "$(ip_of "$t")" >"$f" 2>&1 || true
  read -r tx rx ms < <(summary "$f")
  count_sent "$t" "$tx"
  # rtt min/avg/max/mdev = 0.007/0.011/0.293/0.006 ms[, pipe 2], ipg/ewma 0.021/0.017 ms
  local rtt
  rtt=$(sed -n 's|^rtt min/avg/max/mdev = \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\) ms,\( pipe [0-9]*,\)\{0,1\} ipg/ewma \([0-9.]*\)/.*|\1 \2 \3 \4 \6|p' "$f")
  [ -n "$rtt" ] || rtt="0 0 0 0 0"
  awk -v k="$kind" -v t="$t" -v r="$r" -v n="$n" -v tx="$tx" -v rx="$rx" -v ms="$ms" -v rtt="$rtt" 'BEGIN {
    split(rtt, x, " ")
    printf "%s target=%s run=%d count=%d transmitted=%d received=%d lost=%d complete=%d time_ms=%d rate=%.0f rtt_min=%.1f rtt_avg=%.1f rtt_max=%.1f rtt_mdev=%.1f ipg=%.1f\n",
      k, t, r, n, tx, rx, tx - rx, (tx == n), ms, (ms > 0 ? rx * 1000 / ms : 0), x[1] * 1000, x[2] * 1000, x[3] * 1000, x[4] * 1000, x[5] * 1000 }' | tee -a "$raw"
}

# order RUN: the targets in the order of this run (alternating who goes first).
order() { if [ $(($1 % 2)) = 1 ]; then echo uni linux; else echo linux uni; fi; }

# The latency runs; uni's once per busy-poll value, each adding the appliance's CPU
# time and the wall time of its runs to cpu_ticks / cpu_secs (its CPU use).
declare -A cpu_ticks=() cpu_secs=()
for r in $(seq "$repeats"); do for t in $(order "$r"); do
  if [ "$t" = linux ]; then latency linux "$r"; continue; fi
  for v in "${polls[@]}"; do
    [ "$app_poll" = "$v" ] || start_app "$v"
    k=$(key_of "$v") ticks0=$(ticks "$APP_PID") t0=$(date +%s.%N)
    latency "$k" "$r"
    cpu_ticks[$k]=$(( ${cpu_ticks[$k]:-0} + $(ticks "$APP_PID") - ticks0 ))
    cpu_secs[$k]=$(awk -v a="${cpu_secs[$k]:-0}" -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN { print a + e - s }')
  done
done; done
cpu_pct() { awk -v t="${cpu_ticks[$1]:-0}" -v s="${cpu_secs[$1]:-0}" -v hz="$(getconf CLK_TCK)" 'BEGIN { if (s > 0) printf "%.0f", 100 * t / hz / s; else print "—" }'; }
lat_cpu=$(cpu_pct uni)
[ "$app_poll" = "${polls[0]}" ] || start_app "${polls[0]}"  # the floods and memory checks: the first value
rss_before=$(rss_kib)
for r in $(seq "$repeats"); do for t in $(order "$r"); do flood flood "$t" "$r" "$flood_n"; done; done
if [ $mode = full ]; then for t in uni linux; do flood bigflood "$t" 1 "$big_n"; done; fi
stop_spinners
sleep 0.2  # let the last frames drain before reading memory
rss_after=$(rss_kib)
hwm=$(hwm_kib)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# Stop the appliance: SIGTERM, then its counters are in the log.
kill -TERM "$APP_PID"
for _ in $(seq 50); do kill -0 "$APP_PID" 2>/dev/null || break; sleep 0.1; done
app_status=0
wait "$APP_PID" || app_status=$?
APP_PID=""

# ---- results ---------------------------------------------------------------------
# field LINE KEY: the value of KEY=... in a raw line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
# med KIND TARGET KEY: the median over the runs of KIND for TARGET.
med() {
  { grep "^$1 target=$2 " "$raw" || true; } | sed -n "s/.* $3=\([^ ]*\).*/\1/p" | sort -g |
    awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print 0 }'
}
# total KIND TARGET KEY: the sum over the runs.
total() { { grep "^$1 target=$2 " "$raw" || true; } | sed -n "s/.* $3=\([^ ]*\).*/\1/p" | awk '{ s += $1 } END { print s + 0 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "—" }'; }
num() { LC_ALL=C printf "%.0f" "$1" | sed -E ':a;s/^([0-9]+)([0-9]{3})/\1,\2/;ta'; }
log_line() { sed -n "s/^[0-9:.]* \[info\] $1: //p" "$app_log" | tail -1; }

pages=$(log_line pages)                       # "1 in use of 1024, high water 3, exhausted 0"
pages_in_use=$(sed -n 's/^\([0-9]*\) in use.*/\1/p' <<<"$pages")
pages_cap=$(sed -n 's/.* of \([0-9]*\),.*/\1/p' <<<"$pages")
pages_high=$(sed -n 's/.*high water \([0-9]*\).*/\1/p' <<<"$pages")
pages_exhausted=$(sed -n 's/.*exhausted \([0-9]*\).*/\1/p' <<<"$pages")
icmp_rx=$(log_line icmp | awk '{ print $2 }')
icmp_tx=$(log_line icmp | awk '{ print $4 }')
growth=$((rss_after - rss_before))
uni_flood_lost=$(( $(total flood uni lost) + $(total bigflood uni lost) ))
uni_incomplete=$({ grep -E '^(big)?flood target=uni .* complete=0 ' "$raw" || true; } | wc -l)

failures=()
[ "$growth" -le "$limit_kib" ] || failures+=("the appliance's RSS grew by $growth KiB over the floods (limit $limit_kib KiB)")
[ "$uni_flood_lost" = 0 ] || failures+=("uni lost $uni_flood_lost flood packets")
[ "$uni_incomplete" = 0 ] || failures+=("$uni_incomplete uni flood(s) did not finish in time")
[ "$app_status" = 0 ] || failures+=("the appliance exited with status $app_status")
[ -n "$pages" ] || failures+=("the appliance printed no counters")

u_avg=$(med latency uni avg) l_avg=$(med latency linux avg)
u_p99=$(med latency uni p99) l_p99=$(med latency linux p99)
commit="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (with local changes)')"
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) CPUs, Linux $(uname -r)"
case $mode in quick) flag=' --quick' ;; full) flag=' --full' ;; *) flag='' ;; esac
[ $awake = 1 ] && flag="$flag --awake"
[ "$busy_poll" = 0 ] || flag="$flag --busy-poll \"${polls[*]}\""
[ -z "$pin" ] || flag="$flag --pin $pin"
if [ $awake = 1 ]; then
  cpus="In the latency runs and floods every CPU was kept from halting by a nice-19 busy loop (--awake): the host's wake-up of a halted virtual CPU is left out."
else
  cpus="CPUs idle between packets may halt; on a virtual machine waking one costs the host tens of µs, which uni, asleep between pings, pays and the Linux side does not (--awake leaves it out)."
fi
big_note=""
if [ $mode = full ]; then big_note=", and one \`ping -f -q -c $big_n\` per target"; fi

{
  echo "# Ping: the uni appliance against the Linux stack"
  echo
  echo "Written by \`bench/ping.sh$flag\` on $(date -u '+%Y-%m-%d %H:%M UTC'): commit $commit, $cpu;"
  echo "load average $load_start before the measurements, $load_end after (other work on the machine counts)."
  echo "Appliance: \`${app#$root/}\` (CMAKE_BUILD_TYPE=$build_type, $(stat -c %s "$app") bytes)."
  echo
  echo "A client namespace (10.90.0.1) pings through its veth and one Linux bridge: **uni** is the ping"
  echo "appliance on a TAP port of the bridge (10.90.0.2), **Linux** a namespace's kernel on a veth port"
  echo "(10.90.0.3). Latency: \`ping -c $lat_n -i 0.001\`, every \`time=\` value; flood: \`ping -f -q -c $flood_n\`$big_note."
  echo "$repeats runs of each, alternating which target goes first; each column is the median over the runs."
  echo "Ratios are uni / Linux: below 1.00 uni is faster (the goal: at or below Linux; Mirage measured 1.04–1.10)."
  echo "$cpus"
  echo
  echo "<!-- table -->"
  echo "| target | avg µs | p50 µs | p99 µs | max µs | avg ×Linux | p99 ×Linux | flood pkts | lost | flood time s | flood rtt avg µs | flood ×Linux (time) | appliance CPU % |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for t in $(for v in "${polls[@]}"; do key_of "$v"; done) linux; do
    case $t in
      uni) name="uni (TAP, userspace)"; [ "${polls[0]}" = 0 ] || name="$name, --busy-poll ${polls[0]}" ;;
      uni-bp*) name="uni, --busy-poll ${t#uni-bp}" ;;
      *) name="Linux (veth, kernel)" ;;
    esac
    lost=$(( $(total latency $t transmitted) - $(total latency $t received) + $(total flood $t lost) ))
    if [ "$(total flood $t transmitted)" = 0 ]; then
      flood_cells="— | $lost | — | — | —"  # a busy-poll value the floods did not use
    else
      flood_cells="$repeats × $(num $flood_n) | $lost | $(awk -v m="$(med flood $t time_ms)" 'BEGIN { printf "%.2f", m / 1000 }') | $(med flood $t rtt_avg) | $(ratio "$(med flood $t time_ms)" "$(med flood linux time_ms)")"
    fi
    cpu_cell=—
    [ "$t" = linux ] || cpu_cell=$(cpu_pct "$t")
    echo "| $name | $(med latency $t avg) | $(med latency $t p50) | $(med latency $t p99) | $(med latency $t max) |" \
      "$(ratio "$(med latency $t avg)" "$l_avg") | $(ratio "$(med latency $t p99)" "$l_p99") | $flood_cells | $cpu_cell |"
  done
  echo "<!-- end table -->"
  echo
  echo "*appliance CPU*: the appliance's CPU time over its own latency runs, as a share of one core. The appliance used $lat_cpu% of a core over its latency runs busy-polling ${polls[0]} µs before each sleep."
  echo
  echo "*lost*: echo requests without a reply, in the latency runs and the floods together."
  echo "*flood rtt avg*: ping's own average over a flood (\`ping -f\` sends the next request as soon as a reply comes back, or after 10 ms)."
  if [ $mode = full ]; then
    echo
    echo "### 1,000,000-packet flood (once per target)"
    echo
    echo "| target | transmitted | received | lost | time s | replies/s | rtt avg µs | rtt max µs | time ×Linux |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for t in uni linux; do
      l=$(grep -m1 "^bigflood target=$t " "$raw" || true)
      echo "| $t | $(num "$(field "$l" transmitted)") | $(num "$(field "$l" received)") | $(field "$l" lost) |" \
        "$(awk -v m="$(field "$l" time_ms)" 'BEGIN { printf "%.2f", m / 1000 }') | $(num "$(field "$l" rate)") |" \
        "$(field "$l" rtt_avg) | $(field "$l" rtt_max) | $(ratio "$(field "$l" time_ms)" "$(med bigflood linux time_ms)") |"
    done
  fi
  echo
  echo "### Every run"
  echo
  echo "| run | target | avg µs | p50 | p90 | p99 | p99.9 | max | lost / sent | flood time s | flood rtt avg/max µs | flood lost |"
  echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for r in $(seq "$repeats"); do for t in $(order "$r" | sed "s/\buni\b/$(for v in "${polls[@]}"; do key_of "$v"; done | tr '\n' ' ')/"); do
    l=$(grep -m1 "^latency target=$t run=$r " "$raw" || true); fl=$(grep -m1 "^flood target=$t run=$r " "$raw" || true)
    flood_cells="— | — | —"  # a busy-poll value the floods did not use
    [ -z "$fl" ] || flood_cells="$(awk -v m="$(field "$fl" time_ms)" 'BEGIN { printf "%.2f", m / 1000 }') | $(field "$fl" rtt_avg) / $(field "$fl" rtt_max) | $(field "$fl" lost)"
    echo "| $r | $t | $(field "$l" avg) | $(field "$l" p50) | $(field "$l" p90) | $(field "$l" p99) | $(field "$l" p999) | $(field "$l" max) |" \
      "$(( $(field "$l" transmitted) - $(field "$l" received) )) / $(num "$(field "$l" transmitted)") | $flood_cells |"
  done; done
  echo
  echo "## The appliance's memory"
  echo
  echo "- VmRSS: $(num "$rss_start") KiB after start and warm-up, $(num "$rss_before") KiB before the floods," \
    "$(num "$rss_after") KiB after them: growth $growth KiB (limit $limit_kib KiB):" \
    "$([ "$growth" -le "$limit_kib" ] && echo '**ok, no growth beyond the tolerance**' || echo '**GREW**')." \
    "Peak (VmHWM) $(num "$hwm") KiB."
  echo "- page pool at exit: $pages_in_use in use of $pages_cap (one is the header allocator's current page)," \
    "high water $pages_high pages ($((pages_high * 4)) KiB of frames at most), exhausted $pages_exhausted."
  echo "- echo requests the client sent to uni: $(num $uni_sent); the appliance counted $(num "${icmp_rx:-0}") received," \
    "$(num "${icmp_tx:-0}") replies sent."
  echo
  echo "The appliance's counters at exit (SIGTERM, exit status $app_status):"
  echo
  echo '```'
  sed 's/^[0-9:.]* \[info\] //' "$app_log"
  echo '```'
  echo
  echo "## What the comparison holds"
  echo
  echo "Both targets are reached through the same client veth and bridge; they differ in the last hop"
  echo "and in who answers. Linux answers in the kernel, in the softirq that received the request on the"
  echo "veth, without a context switch. uni answers in a user process: the bridge queues the frame on"
  echo "tap0, the appliance wakes up (epoll), read()s it, writes the reply with one writev(), and the"
  echo "kernel injects it back into the bridge. That TAP cost (two system calls and a wake-up per echo)"
  echo "is in every uni number above and cannot be isolated here: a Linux stack behind a TAP would"
  echo "need a userspace program to move its frames, and that program would be the thing measured."
  echo "For scale, testing-here.md measured ~30 µs for a minimal userspace TAP responder and ~7 µs"
  echo "for Linux on a veth (flood averages). Xen netfront (shared rings, no system call per frame)"
  echo "is the path where being at or below Linux is a fair target; on TAP it is a bound to approach."
  case $pin in
    same) echo "Pinned (--pin same): the client's ping and the appliance on CPU 0 (the Linux side answers on the pinging CPU anyway)." ;;
    split) echo "Pinned (--pin split): the appliance on CPU 0, the client's ping on CPU 1." ;;
    *) echo "No CPU pinning: the client's ping, the appliance and the kernel's softirqs share $(nproc) CPUs." ;;
  esac
  echo
  if [ ${#failures[@]} = 0 ]; then
    echo "Verdict: **pass** (no uni flood packet lost, RSS growth within $limit_kib KiB, appliance exited 0)."
  else
    echo "Verdict: **FAIL**: $(IFS=';'; echo "${failures[*]}")."
  fi
  echo
  echo "![CDF of ping round trips](ping-cdf.png)"
} >"$out/ping.md"

# CDF of all latency runs together, per target: "rtt_us cumulative_%", one point per distinct value.
plots=()
for t in $(for v in "${polls[@]}"; do key_of "$v"; done) linux; do
  cat "$work"/lat-$t-*.us | sort -g | awk '{ v[NR] = $1 } END { for (i = 1; i <= NR; i++) if (i == NR || v[i] != v[i + 1]) printf "%s %.4f\n", v[i], 100 * i / NR }' \
    >"$work/cdf-$t.dat"
  case $t in
    uni) title="uni ping appliance (TAP)"; [ "${polls[0]}" = 0 ] || title="$title, busy-poll ${polls[0]} µs" ;;
    uni-bp*) title="uni, busy-poll ${t#uni-bp} µs" ;;
    *) title="Linux namespace (veth)" ;;
  esac
  [ -s "$work/cdf-$t.dat" ] && plots+=("'$work/cdf-$t.dat' using 1:2 with lines lw 2 title '$title, $(cat "$work"/lat-$t-*.us | wc -l) pings'")
done
cdf_plot "$out/ping-cdf.png" "Ping round trip from a client namespace through one bridge (ping -i 0.001, $repeats × $lat_n per target)" \
  'round trip (µs, log scale)' "${plots[@]}"

echo "wrote $out/ping.md and $out/ping-cdf.png" >&2
sed -n '/^<!-- table -->/,/^<!-- end table -->/p' "$out/ping.md" | grep -v '^<!--' >&2
if [ ${#failures[@]} -gt 0 ]; then
  printf 'FAIL: %s\n' "${failures[@]}" >&2
  exit 1
fi
