#!/usr/bin/env bash
# bench/dns.sh: authoritative DNS throughput (the Mirage paper's Figure 10), the
# uni DNS appliance beside NSD, BIND 9 and Knot serving the same zone, in one run.
#
# What is measured, and how:
#   dnsperf (by default one thread, pinned to CPU 0) runs in a "client" namespace
#   and asks for random existing names of a zone of N names (N = 100, 1,000,
#   10,000), for a fixed time per server; each server is pinned to CPU 1 (by
#   default), one worker each:
#
#     client 10.94.0.1 --veth-- server namespace 10.94.0.2: uni dns-socket, NSD,
#                                                           BIND, Knot (one at a time)
#     client 10.93.0.1 --tap0-- uni dns-tap 10.93.0.2 (uni's own stack)
#
#   dns-socket runs the same engine over the host's UDP sockets, on the very
#   path the daemons use (veth + kernel UDP): engine against engine. dns-tap is
#   the appliance on uni's own stack, paying a TAP read and write per query.
#   The engine alone (bench_dns_engine: query bytes in, answer out, no I/O, and
#   the same through uni's stack without a device) is measured too, and the
#   appliance's image sizes are reported beside the paper's 184 KB (the Xen
#   image if a xen build exists). The server CPU's busy time per answer is reported for
#   each server: what an answer costs on the server's core, load generator aside; and
#   the server processes' own CPU time per answer, which on a shared machine leaves
#   out the other jobs that land on that core.
# The machine has 2 cores and is shared: dnsperf and the server get one each,
# so a fast server is bounded by the load generator; the figures are q/s as
# dnsperf counts them (answers received), with queries lost shown. How far each
# path lets dnsperf go is measured too: bench_dns_reflector answers every query
# without DNS work, on the TAP device (ceiling-tap) and on a kernel UDP socket
# in the server namespace (ceiling-socket); each server's rate is also given as
# a share of its path's ceiling.
#
# Writes bench/results/dns.md (or --out DIR). Every step is bounded by `timeout`;
# namespaces and daemons are removed on exit whatever happens.
# Usage: bench/dns.sh [--quick] [--seconds S] [--repeats N] [--sizes "N ..."] [--servers "uni-tap nsd ..."]
#                     [--client-cpus LIST] [--server-cpu N] [--build DIR] [--xen-build DIR] [--out DIR]
#   --build: the release build (default build/release; configured with the
#   release preset and the DNS targets built if missing).
#   --client-cpus, --server-cpu: where dnsperf runs (comma-separated CPU numbers,
#   one thread on each; default 0) and where each server runs (default 1). On a machine with more
#   cores, giving dnsperf more of them (e.g. --client-cpus 0,2) lifts the ceilings
#   until the server's own core is the bound.
# Needs root (namespaces, TAP); exits 77 without it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
out=$root/bench/results
build=$root/build/release
xen_build=$root/build/xen
seconds=4
repeats=3
sizes="100 1000 10000"
servers="uni-tap uni-socket nsd bind knot ceiling-tap ceiling-socket"
client_cpus=0
server_cpu=1
while [ $# -gt 0 ]; do
  case $1 in
    --quick) sizes="1000"; seconds=3; repeats=1 ;;
    --seconds) seconds=$2; shift ;;
    --repeats) repeats=$2; shift ;;
    --build) build=$(realpath "$2"); shift ;;
    --xen-build) xen_build=$(realpath "$2"); shift ;;
    --out) out=$2; shift ;;
    --sizes) sizes=$2; shift ;;
    --servers) servers=$2; shift ;;
    --client-cpus) client_cpus=$2; shift ;;
    --server-cpu) server_cpu=$2; shift ;;
    *) echo "usage: $0 [--quick] [--seconds S] [--repeats N] [--sizes \"N ...\"] [--servers \"uni-tap nsd ...\"] [--client-cpus LIST] [--server-cpu N] [--build DIR] [--xen-build DIR] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
need_root dns
client_threads=$(tr ',' '\n' <<<"$client_cpus" | grep -c .)
for c in ${client_cpus//,/ } $server_cpu; do
  [[ $c =~ ^[0-9]+$ ]] && [ "$c" -lt "$(nproc)" ] || { echo "bench/dns.sh: no CPU $c here ($(nproc) CPUs)" >&2; exit 2; }
done
[[ ",$client_cpus," != *",$server_cpu,"* ]] || { echo "bench/dns.sh: the server's CPU $server_cpu is one of dnsperf's ($client_cpus)" >&2; exit 2; }
need_tools dns ip tc dnsperf dig nsd named knotd taskset timeout awk
build_targets "$build" release dns-tap dns-socket bench_dns_engine bench_dns_reflector

work=$(mktemp -d)
# UNI_NETNS_TAG in the environment goes into the names (whose namespaces they are), as in bench/lib.sh.
NC="uni-${UNI_NETNS_TAG:+$UNI_NETNS_TAG-}dnsb-c-$$"
NSV="uni-${UNI_NETNS_TAG:+$UNI_NETNS_TAG-}dnsb-s-$$"
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
cleanup() {
  stop_server
  ip netns del "$NC" 2>/dev/null || true
  ip netns del "$NSV" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$NC"
ip netns add "$NSV"
ip link add dnsb-c$$ type veth peer name dnsb-s$$
ip link set dnsb-c$$ netns "$NC"
ip link set dnsb-s$$ netns "$NSV"
ip -n "$NC" link set lo up
ip -n "$NSV" link set lo up
ip -n "$NC" addr add 10.94.0.1/24 dev dnsb-c$$
ip -n "$NSV" addr add 10.94.0.2/24 dev dnsb-s$$
ip -n "$NC" link set dnsb-c$$ up
ip -n "$NSV" link set dnsb-s$$ up
ip netns exec "$NC" ip tuntap add dev tap0 mode tap
# No queueing discipline on the TAP device, as on veth (noqueue): the same path
# for every server. A TAP device gets pfifo_fast by default, which costs the
# load generator's core an enqueue and a dequeue per query, and holds nothing
# back anyway: the TAP driver drops when its own ring is full.
ip netns exec "$NC" tc qdisc replace dev tap0 root noqueue
ip -n "$NC" addr add 10.93.0.1/24 dev tap0
ip -n "$NC" link set tap0 up

make_zone() {  # make_zone N FILE: a zone of N names under bench.test
  awk -v n="$1" 'BEGIN {
    print "$ORIGIN bench.test.\n$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n  NS ns1\nns1 A 10.94.0.2"
    for (i = 0; i < n; i++) printf "host-%d A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
  }' >"$2"
}
make_queries() {  # make_queries N FILE: 20,000 queries for random existing names
  awk -v n="$1" 'BEGIN { srand(7); for (k = 0; k < 20000; k++) printf "host-%d.bench.test A\n", int(rand() * n) }' >"$2"
}

start_server() {  # start_server KIND ZONE -> SERVER_PID, SERVER_IP
  local kind=$1 zone=$2
  SERVER_IP=10.94.0.2
  case $kind in
    uni-tap)
      SERVER_IP=10.93.0.2
      ip netns exec "$NC" taskset -c "$server_cpu" "$build/examples/dns-tap" --tap tap0 --ipv4 10.93.0.2/24 --port 53 \
        --zone "$zone" --memo 16384 >"$work/$kind.log" 2>&1 &
      ;;
    ceiling-tap)
      SERVER_IP=10.93.0.2
      ip netns exec "$NC" taskset -c "$server_cpu" "$build/bench/bench_dns_reflector" --tap tap0 --ipv4 10.93.0.2 >"$work/$kind.log" 2>&1 &
      ;;
    ceiling-socket)
      ip netns exec "$NSV" taskset -c "$server_cpu" "$build/bench/bench_dns_reflector" --udp 10.94.0.2 >"$work/$kind.log" 2>&1 &
      ;;
    uni-socket)
      ip netns exec "$NSV" taskset -c "$server_cpu" "$build/examples/dns-socket" --bind 10.94.0.2 --port 53 --zone "$zone" --memo 16384 \
        >"$work/$kind.log" 2>&1 &
      ;;
    nsd)
      cat >"$work/nsd.conf" <<EOF
server:
  ip-address: 10.94.0.2
  port: 53
  username: ""
  chroot: ""
  zonesdir: "$work"
  pidfile: "$work/nsd.pid"
  database: ""
  zonelistfile: "$work/nsd.zonelist"
  xfrdfile: "$work/nsd.xfrd"
  xfrdir: "$work"
  logfile: "$work/nsd.log"
  server-count: 1
  rrl-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: bench.test
  zonefile: "$zone"
EOF
      rm -f "$work/nsd.zonelist"
      ip netns exec "$NSV" taskset -c "$server_cpu" nsd -d -c "$work/nsd.conf" >"$work/$kind.log" 2>&1 &
      ;;
    bind)
      mkdir -p "$work/bind"
      cat >"$work/named.conf" <<EOF
options {
  directory "$work/bind";
  pid-file "$work/bind/named.pid";
  listen-on port 53 { 10.94.0.2; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  minimal-responses no;
};
controls { };
zone "bench.test" { type primary; file "$zone"; };
EOF
      ip netns exec "$NSV" taskset -c "$server_cpu" named -g -n 1 -c "$work/named.conf" >"$work/$kind.log" 2>&1 &
      ;;
    knot)
      mkdir -p "$work/knot"
      cat >"$work/knot.conf" <<EOF
server:
  rundir: "$work/knot"
  listen: 10.94.0.2@53
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
database:
  storage: "$work/knot"
log:
  - target: stderr
    any: warning
zone:
  - domain: bench.test
    file: "$zone"
    journal-content: none
    zonefile-sync: -1
EOF
      ip netns exec "$NSV" taskset -c "$server_cpu" knotd -c "$work/knot.conf" >"$work/$kind.log" 2>&1 &
      ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 200); do
    if ip netns exec "$NC" dig +tries=1 +time=1 @"$SERVER_IP" host-0.bench.test A 2>/dev/null | grep -q 'status: NOERROR'; then
      # Every thread on the server's CPU: Knot pins its UDP worker to CPU 0
      # (the load generator's) itself, after taskset's start-up affinity.
      taskset -a -p -c "$server_cpu" "$SERVER_PID" >/dev/null
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench/dns.sh: $kind did not start:" >&2
  cat "$work/$kind.log" >&2
  return 1
}

# busy_ticks CPU: the CPU's non-idle time so far (user, nice, system, irq, softirq), in ticks
busy_ticks() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

# server_ticks PID: the CPU time so far of the server's processes (PID and its
# children, every thread), user and system, in ticks. The kernel work done in their
# name is in it (their system calls, and the softirqs that ran while they were
# current); other work landing on the server's core, on a shared machine, is not.
server_ticks() {
  local p procs=$1 kids=$1
  while kids=$(for p in $kids; do cat "/proc/$p/task/"*/children 2>/dev/null; done) && [ -n "${kids// /}" ]; do
    procs="$procs $kids"
  done
  for p in $procs; do sed 's/.*) //' "/proc/$p/stat" 2>/dev/null; done | awk '{ t += $12 + $13 } END { print t + 0 }'
}

# run_dnsperf QUERIES -> "qps lost us own" (us: the server CPU's busy time per answer, in
# microseconds: the server and the kernel work done on its core, whoever asked for it;
# own: the server processes' own CPU time per answer, server_ticks)
run_dnsperf() {
  local before after own_before own_after
  before=$(busy_ticks "$server_cpu")
  own_before=$(server_ticks "$SERVER_PID")
  ip netns exec "$NC" timeout $((seconds + 30)) taskset -c "$client_cpus" dnsperf -s "$SERVER_IP" -d "$1" -l "$seconds" \
    -T "$client_threads" -c "$client_threads" \
    -q 256 >"$work/dnsperf.out" 2>&1 || true
  after=$(busy_ticks "$server_cpu")
  own_after=$(server_ticks "$SERVER_PID")
  awk -v ticks=$((after - before)) -v own=$((own_after - own_before)) -v hz="$(getconf CLK_TCK)" -v secs="$seconds" '
    function per_answer(t) { return q > 0 ? sprintf("%.2f", t / hz * 1e6 / (q * secs)) : "-" }
    /Queries per second:/ { q = $4 } /Queries lost:/ { l = $3 }
    END { printf "%.0f %s %s %s\n", q, (l == "" ? "?" : l), per_answer(ticks), per_answer(own) }' \
    "$work/dnsperf.out"
}

reversed=$(echo $servers | tr ' ' '\n' | tac | tr '\n' ' ')
declare -A qps lost cpu own runs
for n in $sizes; do
  make_zone "$n" "$work/bench.test.zone"
  make_queries "$n" "$work/queries"
  # Each server $repeats times, the order reversed every other round so that
  # machine noise falls on all; the median run is reported.
  for r in $(seq "$repeats"); do
    order=$servers
    [ $((r % 2)) -eq 0 ] && order=$reversed
    for s in $order; do
      q=0 l="-" c="-" o="-"
      if start_server "$s" "$work/bench.test.zone"; then
        read -r q l c o < <(run_dnsperf "$work/queries")
      fi
      stop_server
      runs[$s,$n]="${runs[$s,$n]:-} $q:$l:$c:$o"
      echo "zone of $n names, round $r: $s $q q/s (lost $l), CPU $server_cpu $c us per answer, the server's own $o us" >&2
    done
  done
  for s in $servers; do
    median=$(echo ${runs[$s,$n]} | tr ' ' '\n' | sort -t: -k1,1n | awk '{ v[NR] = $0 } END { print v[int((NR + 1) / 2)] }')
    IFS=: read -r "qps[$s,$n]" "lost[$s,$n]" "cpu[$s,$n]" "own[$s,$n]" <<<"$median"
  done
done

engine=$(taskset -c "$server_cpu" "$build/bench/bench_dns_engine" --names "$(echo $sizes | tr ' ' ',')" --seconds 1)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "-" }'; }
size_of() { [ -f "$1" ] && stat -c %s "$1" || echo 0; }
stripped() {
  [ -f "$1" ] || { echo 0; return; }
  strip -o "$work/stripped" "$1" && stat -c %s "$work/stripped"
}
kb() { awk -v b="$1" 'BEGIN { printf "%.0f KB", b / 1024 }'; }
# per_answer_table ARRAY: the table of a CPU time per answer (cpu or own), every server, NSD's over uni's.
per_answer_table() {
  local -n us=$1
  local n s row
  echo "| names | uni dns-tap | uni dns-socket | NSD | BIND | Knot | TAP ceiling | socket ceiling | NSD / dns-tap | NSD / dns-socket |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for n in $sizes; do
    row="| $n"
    for s in uni-tap uni-socket nsd bind knot ceiling-tap ceiling-socket; do row="$row | ${us[$s,$n]:--}"; done
    row="$row | $(ratio "${us[nsd,$n]:-0}" "${us[uni-tap,$n]:-0}") | $(ratio "${us[nsd,$n]:-0}" "${us[uni-socket,$n]:-0}") |"
    echo "$row"
  done
}

mkdir -p "$out"
{
  echo "# DNS: uni against NSD, BIND and Knot"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'),"
  echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs (shared with other work)."
  echo "dnsperf: $client_threads thread(s) on CPU(s) $client_cpus, 256 queries outstanding, ${seconds} s per run, median of $repeats runs;"
  echo "each server on CPU $server_cpu with one worker (NSD's response rate limiting off). NSD $(nsd -v 2>&1 | head -1 | awk '{print $3}'),"
  echo "BIND $(named -v | awk '{print $2}'), Knot $(knotd --version | awk '{print $NF}')."
  echo
  echo "## Queries per second (answers received by dnsperf; queries lost in parentheses)"
  echo
  echo "| names | uni dns-tap (own stack) | uni dns-socket | NSD | BIND | Knot | dns-socket / NSD | dns-tap / NSD | dns-socket / BIND |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for n in $sizes; do
    row="| $n"
    for s in uni-tap uni-socket nsd bind knot; do
      if [ -n "${qps[$s,$n]:-}" ]; then row="$row | ${qps[$s,$n]} (${lost[$s,$n]})"; else row="$row | -"; fi
    done
    row="$row | $(ratio "${qps[uni-socket,$n]:-0}" "${qps[nsd,$n]:-0}") | $(ratio "${qps[uni-tap,$n]:-0}" "${qps[nsd,$n]:-0}")"
    row="$row | $(ratio "${qps[uni-socket,$n]:-0}" "${qps[bind,$n]:-0}") |"
    echo "$row"
  done
  echo
  echo "The paper (ASPLOS'13, Figure 10): Mirage 75-80k q/s with memoization (40k without), NSD 70k, BIND 55k."
  echo
  echo "## Each path's ceiling"
  echo
  echo "What dnsperf on CPU(s) $client_cpus gets from bench_dns_reflector, which answers every query with"
  echo "no DNS work (with CPU $server_cpu to spare): about the most any server can show on that path here."
  echo "A share near 1 means the load generator's core, not the server, set the rate. The"
  echo "last column, the TAP ceiling over the socket one, bounds what dns-tap / NSD can show."
  echo
  echo "| names | TAP ceiling | uni dns-tap share | socket ceiling | NSD share | uni dns-socket share | TAP / socket ceiling |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for n in $sizes; do
    row="| $n | ${qps[ceiling-tap,$n]:--} | $(ratio "${qps[uni-tap,$n]:-0}" "${qps[ceiling-tap,$n]:-0}")"
    row="$row | ${qps[ceiling-socket,$n]:--} | $(ratio "${qps[nsd,$n]:-0}" "${qps[ceiling-socket,$n]:-0}")"
    row="$row | $(ratio "${qps[uni-socket,$n]:-0}" "${qps[ceiling-socket,$n]:-0}")"
    row="$row | $(ratio "${qps[ceiling-tap,$n]:-0}" "${qps[ceiling-socket,$n]:-0}") |"
    echo "$row"
  done
  echo
  echo "## CPU $server_cpu time per answer (microseconds, in the median run)"
  echo
  echo "All the work on the server's core: the server, its system calls, and the kernel's"
  echo "network processing that lands there (for dns-tap the TAP read and write, and the"
  echo "write's delivery into dnsperf's socket). Lower is better; the ratio is NSD's over uni's."
  echo "The ceilings' figures are each path's kernel cost with no server work around it."
  echo
  per_answer_table cpu
  echo
  echo "## The server processes' own CPU time per answer (microseconds, in the median run)"
  echo
  echo "Their user and system time (every process and thread of the server): the same work as"
  echo "above without what else ran on CPU $server_cpu (other jobs on a shared machine, the"
  echo "interrupts taken while it was idle). Where nothing else ran, the two agree to within"
  echo "those interrupts (the reflector on TAP, in a run on 2026-12-04: 3.65 against 3.48)."
  echo
  per_answer_table own
  echo
  echo "## The engine alone (bench_dns_engine: no I/O, one core)"
  echo
  echo "memoized: answers from the memo table; built: every answer built from the zone;"
  echo "stack: memoized, the query handed to uni's whole stack as an Ethernet frame in a page"
  echo "and the answer frame counted (the packet path without a device's system calls)."
  echo
  echo '```'
  echo "$engine"
  echo '```'
  echo
  echo "## Image sizes"
  echo
  echo "| image | file | stripped |"
  echo "| --- | ---: | ---: |"
  for f in "$build/examples/dns-socket" "$build/examples/dns-tap" "$xen_build/examples/dns-xen" \
    "$xen_build/examples/dns-udp-xen"; do
    [ -f "$f" ] && echo "| ${f#$root/} | $(kb "$(size_of "$f")") | $(kb "$(stripped "$f")") |"
  done
  echo
  echo "The paper's DNS appliance: 184 KB (Xen image). dns-udp-xen is the same appliance without TCP."
  echo "dns-socket and dns-tap are dynamically linked"
  echo "POSIX programs (libstdc++ not counted); the Xen image is the whole kernel."
} >"$out/dns.md"
cat "$out/dns.md"
