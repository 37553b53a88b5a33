#!/usr/bin/env bash
# bench/tcp.sh: TCP bulk throughput, uni's stack against the Linux kernel's, in
# one run (the Mirage paper's Figure 8 method).
#
#   namespace A (the Linux peer)                         namespace B
#     tap0 10.93.0.1 ---- TAP ---- uni tcp-bulk-tap 10.93.0.2
#     tap1 10.95.0.1 ---- TAP ---- the same, UNI_TAP_OFFLOAD=0 10.95.0.2
#     tap2 10.96.0.1 ---- TAP ---- the same, UNI_TAP_OFFLOAD=tx 10.96.0.2
#     veth 10.94.0.1 ---- veth pair ----------------- veth 10.94.0.2 (Linux)
#     veth1 10.97.0.1 --- veth pair, offloads off ---- veth1 10.97.0.2 (Linux)
#
#   - Linux -> uni:   bench_tcp_peer client send (A)  ->  tcp-bulk-tap --mode sink
#   - uni -> Linux:   bench_tcp_peer client recv (A)  <-  tcp-bulk-tap --mode source
#   - Linux -> Linux: the same clients in A against bench_tcp_peer server sink /
#     source in B, over the veth pair;
#   - the paper's Figure 8 configuration, every offload off on both sides: uni
#     with TapNetif's offloads off ("no offload", below) against Linux over a
#     second veth pair whose ends have TSO, GSO, GRO, checksum offload and
#     scatter-gather off (ethtool -K);
#   - "no offload": the same appliance with TapNetif's offloads off (one read or
#     write per frame), and "tx offload only": merged frames on transmit only;
#     what each step gives;
#   each with 1 flow and with 10 flows at once, the bytes split between them.
#   The client in A times every transfer the same way: from its first connect to
#   the end of the last flow (the receiver has read every byte and closed). Runs
#   rotate the order of the targets (uni first, then the next first, ...) so the
#   machine's noise hits all; the median of the runs is reported, and uni / Linux.
#   uni's CPU use (user + system time of the appliance over the run's wall time)
#   is given beside its figures: 100% means one core saturated; its system part
#   (the host kernel's work in its TAP reads and writes) gives the ceiling any
#   change to uni alone could reach where that core is saturated.
#
# Writes, under the results folder (default bench/results), tcp.md: the table,
# every run, the appliance's counters. Exits 1 if a transfer failed or was short.
# Usage: bench/tcp.sh [--quick | --full] [--repeats N] [--out DIR] [--build DIR] [--keep DIR] [--steer rfs]
#   bytes per measurement: 256 MB with --quick, 1 GB by default, 4 GB with --full.
#   --build DIR: the release build directory (default build/release, configured
#   with the release preset if missing); --keep DIR: keep the raw outputs there.
#   --steer rfs: Linux's receive flow steering on every device, uni's TAP and the
#   Linux peer's veth alike (bench/lib.sh, start_steering, says what it moves); none by default.
# Needs root (namespaces, TAP); exits 77 without it. Every step is bounded by
# `timeout`; the namespaces are removed on exit whatever happens.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
out=$root/bench/results repeats=3 keep="" build=build/release quick=0 full=0 steer=""
read_flags "[--quick | --full] [--repeats N] [--out DIR] [--build DIR] [--keep DIR] [--steer rfs]" "quick full" "repeats out build keep steer" "$@"
mode=default
[ "$quick" = 0 ] || mode=quick
[ "$full" = 0 ] || mode=full
need_root tcp
need_tools tcp ethtool
out=$(results_dir "$out")
case $mode in quick) bytes=256000000 ;; full) bytes=4000000000 ;; *) bytes=1000000000 ;; esac
flow_counts=(1 10)
run_timeout=120  # seconds, any single transfer

cd "$root"
build_targets "$build" release tcp-bulk-tap bench_tcp_peer
build=$(cd "$build" && pwd)
app=$build/bench/tcp-bulk-tap
peer=$build/bench/bench_tcp_peer
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt")
[ "$build_type" = Release ] || { echo "bench/tcp.sh: $build is '$build_type', not Release" >&2; exit 1; }

# ---- topology ------------------------------------------------------------------
tag=ubt-$$-$RANDOM
NS_A=$tag-a NS_B=$tag-b
PEER_IP=10.93.0.1 UNI_IP=10.93.0.2 A_IP=10.94.0.1 B_IP=10.94.0.2 PEER0_IP=10.95.0.1 UNI0_IP=10.95.0.2
PEERTX_IP=10.96.0.1 UNITX_IP=10.96.0.2 A0_IP=10.97.0.1 B0_IP=10.97.0.2
APP_PID="" APP0_PID="" APPTX_PID="" SRV_PID=""
work=$(mktemp -d /tmp/uni-bench-tcp.XXXXXX)
raw=$work/raw.txt
: >"$raw"

cleanup() {
  for p in "$APP_PID" "$APP0_PID" "$APPTX_PID" "$SRV_PID"; do
    if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  for ns in "$NS_A" "$NS_B"; do ip netns del "$ns" 2>/dev/null || true; done
  if [ -n "$keep" ]; then mkdir -p "$keep" && cp -r "$work"/. "$keep"/ && echo "raw files kept in $keep" >&2; fi
  rm -rf "$work"
  stop_steering
}
trap cleanup EXIT
start_steering "$steer"
trap 'echo "bench/tcp.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT TERM

new_namespace "$NS_A"
new_namespace "$NS_B"
add_tap "$NS_A" tap0 "$PEER_IP"
add_tap "$NS_A" tap1 "$PEER0_IP"
add_tap "$NS_A" tap2 "$PEERTX_IP"
add_veth "$NS_A" "$A_IP" "$NS_B" "$B_IP"
add_veth "$NS_A" "$A0_IP" "$NS_B" "$B0_IP" veth1
for ns in "$NS_A" "$NS_B"; do
  ip netns exec "$ns" ethtool -K veth1 tso off gso off gro off tx off rx off sg off >/dev/null
done

hz=$(getconf CLK_TCK)
# percent T0 T1 SECONDS: the ticks from T0 to T1 as a share of one core over SECONDS.
percent() { awk -v a="$1" -v b="$2" -v hz="$hz" -v s="$3" 'BEGIN { if (s > 0) printf "%.0f", 100 * (b - a) / hz / s; else print 0 }'; }

# launch LOG TAP IP PEER MODE BYTES [ENV...]: one appliance (ip execs it: $! is its PID).
launch() {
  local log=$1 tap=$2 ip=$3 gw=$4 m=$5 n=$6
  shift 6
  ip netns exec "$NS_A" env "$@" "$app" --tap "$tap" --ipv4 "$ip/24" --gateway "$gw" --mode "$m" --bytes "$n" >"$log" 2>&1 &
  launched=$!
  for _ in $(seq 100); do
    grep -q "listening on tcp" "$log" && return 0
    kill -0 "$launched" 2>/dev/null || break
    sleep 0.05
  done
  echo "bench/tcp.sh: the appliance did not start:" >&2; cat "$log" >&2; exit 1
}
# start_app MODE BYTES: the appliances for one direction: offloads on, off, transmit only.
start_app() {
  app_log=$work/appliance-$1-$2.log
  launch "$app_log" tap0 "$UNI_IP" "$PEER_IP" "$1" "$2" UNI_TAP_OFFLOAD=1
  APP_PID=$launched
  launch "$work/appliance-nooffload-$1-$2.log" tap1 "$UNI0_IP" "$PEER0_IP" "$1" "$2" UNI_TAP_OFFLOAD=0
  APP0_PID=$launched
  launch "$work/appliance-txonly-$1-$2.log" tap2 "$UNITX_IP" "$PEERTX_IP" "$1" "$2" UNI_TAP_OFFLOAD=tx
  APPTX_PID=$launched
}
app_status=0
stop_one() {
  kill -TERM "$1"
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  local s=0
  wait "$1" || s=$?
  [ $s = 0 ] || app_status=$s
}
stop_app() {
  stop_one "$APP_PID"
  APP_PID=""
  stop_one "$APP0_PID"
  APP0_PID=""
  stop_one "$APPTX_PID"
  APPTX_PID=""
}

# measure TARGET DIR FLOWS RUN: one transfer; DIR is send (to the target) or recv.
# The uni appliance must be running in the matching mode; Linux gets a server per run.
measure() {
  local t=$1 dir=$2 flows=$3 r=$4 per=$(( bytes / $3 )) ip f=$work/$1-$2-$3-$4.out t0 t1 s0 s1 status=0
  local pid=""
  case $t in
    uni) pid=$APP_PID ip=$UNI_IP ;;
    uni0) pid=$APP0_PID ip=$UNI0_IP ;;
    unitx) pid=$APPTX_PID ip=$UNITX_IP ;;
  esac
  if [ -n "$pid" ]; then
    t0=$(ticks "$pid") s0=$(ticks "$pid" system)
  else
    if [ "$t" = linux0 ]; then ip=$B0_IP; else ip=$B_IP; fi
    local srv_log=$work/server.log
    if [ "$dir" = send ]; then sdir=sink; else sdir=source; fi
    ip netns exec "$NS_B" "$peer" server "$sdir" --port 5001 --flows "$flows" --bytes "$per" \
      --timeout $run_timeout >"$srv_log" 2>&1 &
    SRV_PID=$!
    for _ in $(seq 100); do grep -q listening "$srv_log" && break; sleep 0.02; done
  fi
  echo "+ $t $dir, $flows flow(s), run $r: $(( per * flows )) bytes" >&2
  ip netns exec "$NS_A" timeout -k 5 $((run_timeout + 10)) "$peer" client "$dir" --host "$ip" --port 5001 \
    --flows "$flows" --bytes "$per" --timeout $run_timeout >"$f" 2>&1 || status=$?
  local cpu="" sys="" secs
  if [ -n "$pid" ]; then
    t1=$(ticks "$pid") s1=$(ticks "$pid" system)
    secs=$(sed -n 's/.* seconds=\([0-9.]*\).*/\1/p' "$f")
    cpu=$(percent "$t0" "$t1" "$secs") sys=$(percent "$s0" "$s1" "$secs")
  else
    wait "$SRV_PID" || status=$?
    SRV_PID=""
  fi
  local line
  line=$(grep -m1 '^tcp-peer ' "$f" || echo "tcp-peer gbit_s=0 seconds=0 ok=0")
  echo "run target=$t dir=$dir flows=$flows run=$r status=$status cpu=${cpu:-0} sys=${sys:-0} ${line#tcp-peer }" | tee -a "$raw"
}

# order RUN: the targets, rotated by the run number.
order() { local t=(uni linux uni0 unitx linux0) i; for i in 0 1 2 3 4; do echo "${t[$(( (i + $1 - 1) % 5 ))]}"; done; }

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for dir in send recv; do
  for flows in "${flow_counts[@]}"; do
    # A source serves the same count on every connection: one appliance per flow count.
    if [ $dir = send ]; then start_app sink $((bytes / flows)); else start_app source $((bytes / flows)); fi
    # Warm-up: ARP on both paths.
    for ip in "$UNI_IP" "$UNI0_IP" "$UNITX_IP" "$B_IP" "$B0_IP"; do
      ip netns exec "$NS_A" timeout 10 ping -n -q -c 3 -i 0.1 -W 1 "$ip" >/dev/null ||
        { echo "bench/tcp.sh: no answer from $ip" >&2; cat "$app_log" >&2; exit 1; }
    done
    for r in $(seq "$repeats"); do for t in $(order "$r"); do measure "$t" "$dir" "$flows" "$r"; done; done
    rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$APP_PID/status")
    stop_app
    echo "appliance dir=$dir flows=$flows vmhwm_kib=$rss" >>"$raw"
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- results ---------------------------------------------------------------------
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
# med TARGET DIR FLOWS KEY: median over the runs.
med() {
  { grep "^run target=$1 dir=$2 flows=$3 " "$raw" || true; } | sed -n "s/.* $4=\([^ ]*\).*/\1/p" | sort -g |
    awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print 0 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "—" }'; }
# each_row ROW: ROW NAME DIR FLOWS for every table row, the receive rows first.
each_row() {
  local dir flows name
  for dir in send recv; do
    if [ $dir = send ]; then name="Linux → uni (uni receives)"; else name="uni → Linux (uni sends)"; fi
    for flows in "${flow_counts[@]}"; do "$1" "$name" "$dir" "$flows"; done
  done
}
bad=$({ grep '^run ' "$raw" | grep -v ' status=0 .* ok=1' || true; } | wc -l)
commit="$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (with local changes)')"
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) CPUs, Linux $(uname -r)"
case $mode in quick) flag=' --quick' ;; full) flag=' --full' ;; *) flag='' ;; esac

{
  echo "# TCP bulk throughput: uni against Linux"
  echo
  echo "Written by \`bench/tcp.sh$flag\` on $(date -u '+%Y-%m-%d %H:%M UTC'): commit $commit, $cpu;"
  echo "load average $load_start before, $load_end after (other work on the machine counts); $(steering_text)."
  echo "Appliance: \`${app#$root/}\` (CMAKE_BUILD_TYPE=$build_type); Linux side: \`bench_tcp_peer\` (one thread and one socket per flow)."
  echo
  echo "$(LC_ALL=C printf "%'d" "$bytes") bytes per measurement (split between the flows); the client in namespace A times it,"
  echo "from its first connect until the receiver has read the last byte and closed. uni is reached over a TAP"
  echo "device, Linux over a veth pair between two namespaces. $repeats runs each, alternating which goes first;"
  echo "medians. *uni CPU*: the appliance's user + system time over the transfer (100% = one core)."
  echo
  echo "<!-- table -->"
  echo "| direction | flows | uni Gbit/s | Linux Gbit/s | uni / Linux | uni CPU | of it, host kernel | ceiling | uni, tx offload only: Gbit/s (CPU) | uni, no offload: Gbit/s (CPU) |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  main_row() {  # main_row NAME DIR FLOWS
    local u l c k
    u=$(med uni "$2" "$3" gbit_s) l=$(med linux "$2" "$3" gbit_s)
    c=$(med uni "$2" "$3" cpu) k=$(med uni "$2" "$3" sys)
    echo "| $1 | $3 | $(printf %.2f "$u") | $(printf %.2f "$l") | $(ratio "$u" "$l") | $c% | $k% |" \
      "$(awk -v u="$u" -v l="$l" -v c="$c" -v k="$k" 'BEGIN { if (c >= 90 && k > 0 && l > 0) printf "%.2f", u * 100 / k / l; else print "—" }') |" \
      "$(printf %.2f "$(med unitx "$2" "$3" gbit_s)") ($(med unitx "$2" "$3" cpu)%) |" \
      "$(printf %.2f "$(med uni0 "$2" "$3" gbit_s)") ($(med uni0 "$2" "$3" cpu)%) |"
  }
  each_row main_row
  echo "<!-- end table -->"
  echo
  echo "*of it, host kernel*: the appliance's system time, the kernel's work inside its TAP reads and writes (the"
  echo "copies, and the Linux peer's TCP that runs in them: its ACK processing and the transmissions they release)."
  echo "*ceiling*: where uni's core is saturated (CPU ≥ 90%), uni / Linux if uni's own code took no time at all and"
  echo "the host's work filled the whole core (Gbit/s × 100% / host kernel): what any change to uni alone could reach."
  echo
  echo "The Mirage paper (ASPLOS 2013, Figure 8) measured Mirage receiving at 1.1× Linux and sending at 0.6×,"
  echo "every offload off on both sides. That configuration here: uni with TapNetif's offloads off against Linux"
  echo "over a veth pair with TSO, GSO, GRO, checksum offload and scatter-gather off at both ends:"
  echo
  echo "| direction | flows | uni, no offload: Gbit/s | Linux, no offload: Gbit/s | uni / Linux |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  paper_row() {  # paper_row NAME DIR FLOWS
    local u l
    u=$(med uni0 "$2" "$3" gbit_s) l=$(med linux0 "$2" "$3" gbit_s)
    echo "| $1 | $3 | $(printf %.2f "$u") | $(printf %.2f "$l") | $(ratio "$u" "$l") |"
  }
  each_row paper_row
  echo
  echo "### Every run"
  echo
  echo "| run | target | direction | flows | Gbit/s | seconds | uni CPU | ok |"
  echo "| ---: | --- | --- | ---: | ---: | ---: | ---: | :---: |"
  while read -r l; do
    echo "| $(field "$l" run) | $(field "$l" target) | $([ "$(field "$l" dir)" = send ] && echo 'to the target' || echo 'from the target') |" \
      "$(field "$l" flows) | $(field "$l" gbit_s) | $(field "$l" seconds) |" \
      "$([[ "$(field "$l" target)" == linux* ]] && echo — || echo "$(field "$l" cpu)%") | $([ "$(field "$l" ok)" = 1 ] && [ "$(field "$l" status)" = 0 ] && echo yes || echo '**no**') |"
  done < <(grep '^run ' "$raw")
  echo
  echo "## What the comparison holds"
  echo
  echo "Linux → Linux is the kernel on both ends of a veth: segmentation and checksum offloads (TSO/GSO, no"
  echo "checksums on a veth) let it move 64 KB super-segments through one stack traversal. TapNetif uses the"
  echo "TAP device's offloads (IFF_VNET_HDR): towards uni the kernel hands over merged TCP frames of up to"
  echo "64 KiB, one read() each, which TapNetif cuts into segments that fill a page each (copying them;"
  echo "larger than the sender's, as Linux's GRO hands its TCP), verified by the host, so never summed;"
  echo "from uni it merges back-to-back segments of a flow into one GSO frame (one writev) that the Linux"
  echo "receiver takes whole. uni acknowledges a flow once per batch of frames read (every second segment"
  echo "at most), each ACK a writev() in which the kernel runs the Linux sender's ACK processing and next"
  echo "transmissions, charged to uni's CPU; TCP checksums of what uni sends are left to the host."
  echo "*tx offload only* (UNI_TAP_OFFLOAD=tx) and *no offload* (UNI_TAP_OFFLOAD=0:"
  echo "one read or writev per frame) are the same appliance with less: what each step gives."
  echo "uni, the Linux peers and other work on the machine share its $(nproc) CPUs."
  echo
  for dir in send recv; do for flows in "${flow_counts[@]}"; do
    echo "The appliance's counters after the $([ $dir = send ] && echo 'receive (sink)' || echo 'send (source)') runs" \
      "with $flows flow(s) (peak RSS $(sed -n "s/^appliance dir=$dir flows=$flows vmhwm_kib=//p" "$raw") KiB):"
    echo
    echo '```'
    sed 's/^[0-9:.]* \[info\] //' "$work/appliance-$([ $dir = send ] && echo sink || echo source)-$((bytes / flows)).log"
    echo '```'
    echo
    echo "Transmit offload only: $(sed -n 's/^[0-9:.]* \[info\] tap: //p' "$work/appliance-txonly-$([ $dir = send ] && echo sink || echo source)-$((bytes / flows)).log")."
    echo
    echo "No offload: $(sed -n 's/^[0-9:.]* \[info\] tap: //p' "$work/appliance-nooffload-$([ $dir = send ] && echo sink || echo source)-$((bytes / flows)).log")."
    echo
  done; done
  if [ "$bad" = 0 ] && [ "$app_status" = 0 ]; then echo "Verdict: **pass** (every transfer complete, the appliance exited 0)."
  else echo "Verdict: **FAIL**: $bad transfer(s) failed or short; appliance exit status $app_status."; fi
} >"$out/tcp.md"

echo "wrote $out/tcp.md" >&2
sed -n '/^<!-- table -->/,/^<!-- end table -->/p' "$out/tcp.md" | grep -v '^<!--' >&2
[ "$bad" = 0 ] && [ "$app_status" = 0 ] || exit 1
