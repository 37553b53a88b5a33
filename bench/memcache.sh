#!/usr/bin/env bash
# bench/memcache.sh: operations per second, the memcache appliance on uni's own
# stack against memcached with one thread (-t 1), each behind one link; and the
# appliance over host sockets (memcache-socket), on memcached's path.
#
#   namespace C (client: memcaslap)                    namespace N
#     tap0 10.95.0.1 ---- TAP ---- uni memcache-tap 10.95.0.2
#     veth 10.96.0.1 ---- veth pair -------------- veth 10.96.0.2 memcached -t 1
#                                                                 or memcache-socket
#
#   memcaslap (libmemcached-tools' memaslap): one thread, 64-byte keys, 1 KiB
#   values, get-heavy (90% get, 10% set) and set-heavy (50/50), 1 and 50
#   connections, DURATION seconds each, runs alternating uni, memcached and
#   uni over sockets.
#   Each server's CPU use over the run (user + system / wall) is measured:
#   with two cores shared by the load generator and the server, ops per server
#   CPU-second is the figure that compares the servers, as well as ops/s.
#   The client's CPU is measured too: over veth, the kernel's TCP receive of
#   memcached's requests runs in the sender's (the client's) time, while uni
#   receives in its own; ops per CPU-second of client and server together
#   counts that work on both sides. And a third figure charges that receive to
#   memcached: the client's CPU per operation against memcached over what it is
#   against uni, added to memcached's own (perf on the client: do_softirq ->
#   tcp_v4_rcv inside its sendmsg over veth, ~17% of its time at 1 connection;
#   against TAP its send only queues the frame for uni, who receives it itself).
#   Both servers pay alike for their answers: the client's receive of a reply
#   runs in the writer's time, TAP write or veth send.
#   A last table splits each server's CPU per operation into user and system
#   time; uni's system time is the floor of its cost on this path (the kernel's
#   work for its TAP frames, and at one connection the switches between server
#   and client), so memcached's cost over it bounds the per-CPU ratio any uni
#   code could reach here (the "ceiling").
#
# Writes RESULTS/memcache.md. Usage: bench/memcache.sh [--quick] [--duration S] [--out DIR] [--build DIR] [--pin split|same] [--steer rfs]
#   --pin: the servers on CPU 0, the load generator on CPU 1 (split) or CPU 0 too (same);
#   unpinned by default (bench/lib.sh, pin_cpus, says why it matters at one connection).
#   --steer rfs: Linux's receive flow steering on every device, uni's TAP and the
#   Linux peer's veth alike (bench/lib.sh, start_steering, says what it moves); none by default.
#   --quick: 3 s runs (default 8 s). --build: release build directory (default
#   build/release, configured with the release preset if missing).
# Needs root (namespaces, TAP); exits 77 without it. Every step is bounded by
# `timeout`; the namespaces and servers are removed on exit whatever happens.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
out=$root/bench/results build=build/release quick=0 duration="" pin="" steer=""
read_flags "[--quick] [--duration S] [--out DIR] [--build DIR] [--pin split|same] [--steer rfs]" "quick" "duration out build pin steer" "$@"
pin_cpus "$pin"
[ -n "$duration" ] || duration=$((quick ? 3 : 8))
need_root memcache
need_tools memcache memcached memcaslap
out=$(results_dir "$out")

cd "$root"
build_targets "$build" release memcache-tap memcache-socket
build=$(cd "$build" && pwd)

start_steering "$steer"
two_namespaces bm

# The two mixes memcaslap reads: 64-byte keys, 1 KiB values, set then get proportion.
mix() { printf 'key\n64 64 1\nvalue\n1024 1024 1\ncmd\n0 %s\n1 %s\n' "$2" "$3" >"$work/$1.cfg"; }
mix get90 0.1 0.9
mix set50 0.5 0.5

# start NAME NS ADDR CMD...: runs a server; SERVER_PID is its process; waits until it answers.
start() {
  local name=$1 ns=$2 addr=$3
  shift 3
  ip netns exec "$ns" "${SERVER_PIN[@]}" "$@" >"$work/$name.log" 2>&1 &
  SERVER_PID=$!
  pids+=("$SERVER_PID")
  for _ in $(seq 100); do
    ip netns exec "$NS_C" timeout 2 memcping --servers="$addr" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench/memcache.sh: $name did not start:"; cat "$work/$name.log"; exit 1
}
hz=$(getconf CLK_TCK)

# measure NAME ADDR MIX CONNS: one memcaslap run; appends "name mix conns ops cpu client-cpu system-cpu"
# to runs.txt (system-cpu: the server's system time alone).
measure() {
  local name=$1 addr=$2 m=$3 c=$4 t0 t1 s0 s1 w0 w1 raw ops cpu client system TIMEFORMAT='%U %S'
  t0=$(ticks "$SERVER_PID")
  s0=$(ticks "$SERVER_PID" system)
  w0=$(date +%s.%N)
  # (bash's time: the CPU memcaslap used, user and system, on stderr's last line)
  raw=$({ time ip netns exec "$NS_C" "${CLIENT_PIN[@]}" timeout $((duration + 30)) memcaslap -s "$addr" -T 1 -c "$c" -t "${duration}s" \
    -F "$work/$m.cfg"; } 2>"$work/client_time")
  w1=$(date +%s.%N)
  t1=$(ticks "$SERVER_PID")
  s1=$(ticks "$SERVER_PID" system)
  client=$(tail -1 "$work/client_time" | awk -v s="$w0" -v e="$w1" '{ printf "%.3f", ($1 + $2) / (e - s) }')
  printf '== %s %s c=%s\n%s\n' "$name" "$m" "$c" "$raw" >>"$work/memcaslap.txt"
  ops=$(awk '/^Run time:/ { for (i = 1; i <= NF; ++i) if ($i == "TPS:") print $(i + 1) }' <<<"$raw")
  [ -n "$ops" ] || { echo "bench/memcache.sh: no result from memcaslap against $name:"; echo "$raw"; exit 1; }
  cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$w0" -v e="$w1" 'BEGIN { printf "%.3f", (b - a) / hz / (e - s) }')
  system=$(awk -v a="$s0" -v b="$s1" -v hz="$hz" -v s="$w0" -v e="$w1" 'BEGIN { printf "%.3f", (b - a) / hz / (e - s) }')
  echo "$name $m $c $ops $cpu $client $system" >>"$work/runs.txt"
  printf '  %-10s %-6s c=%-3s %9.0f ops/s  cpu %.2f  client cpu %.2f\n' "$name" "$m" "$c" "$ops" "$cpu" "$client"
}

echo "bench/memcache.sh: ${duration} s per run"
for m in get90 set50; do
  for c in 1 50; do
    start uni "$NS_C" "$UNI_IP:11211" "$build/examples/memcache-tap" --tap tap0 --ipv4 "$UNI_IP/24" --log warn --memory 256
    measure uni "$UNI_IP:11211" "$m" "$c"
    stop
    start memcached "$NS_N" "$N_IP:11211" memcached -t 1 -U 0 -m 256 -c 4096 -l "$N_IP" -p 11211 -u root
    measure memcached "$N_IP:11211" "$m" "$c"
    stop
    start uni-socket "$NS_N" "$N_IP:11211" "$build/examples/memcache-socket" --bind "$N_IP" --log warn --memory 256
    measure uni-socket "$N_IP:11211" "$m" "$c"
    stop
  done
done

{
  echo "# memcache: uni (TAP; and over host sockets, veth) against memcached -t 1 (veth)"
  echo
  echo "memcaslap, one thread, 64-byte keys, 1 KiB values, ${duration} s per run; $(nproc) cores shared with the load generator."
  echo "CPUs: ${pin:-not pinned}${pin:+ (--pin: servers on CPU 0, memcaslap on CPU ${CLIENT_PIN[2]})}."
  echo "$(steering_text)."
  echo
  echo "| mix | connections | uni ops/s | uni CPU | uni ops per CPU-s | memcached ops/s | memcached CPU | memcached ops per CPU-s | ops ratio | per-CPU ratio | uni-socket ops/s | uni-socket CPU | uni-socket ops per CPU-s | uni-socket per-CPU ratio |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for m in get90 set50; do
    for c in 1 50; do
      read -r _ _ _ uo uc _ < <(awk -v m="$m" -v c="$c" '$1 == "uni" && $2 == m && $3 == c' "$work/runs.txt")
      read -r _ _ _ mo mc _ < <(awk -v m="$m" -v c="$c" '$1 == "memcached" && $2 == m && $3 == c' "$work/runs.txt")
      read -r _ _ _ so sc _ < <(awk -v m="$m" -v c="$c" '$1 == "uni-socket" && $2 == m && $3 == c' "$work/runs.txt")
      awk -v m="$m" -v c="$c" -v uo="$uo" -v uc="$uc" -v mo="$mo" -v mc="$mc" -v so="$so" -v sc="$sc" 'BEGIN {
        up = uc > 0 ? uo / uc : 0; mp = mc > 0 ? mo / mc : 0; sp = sc > 0 ? so / sc : 0
        r = mo > 0 ? uo / mo : 0; rp = mp > 0 ? up / mp : 0  # (a ">" among printf arguments would redirect)
        rs = mp > 0 ? sp / mp : 0
        printf "| %s | %d | %.0f | %.2f | %.0f | %.0f | %.2f | %.0f | %.2f | %.2f | %.0f | %.2f | %.0f | %.2f |\n", m, c, uo, uc, up, mo, mc, mp, r, rp, so, sc, sp, rs }'
    done
  done
  echo
  echo "uni over sockets (memcache-socket) runs on memcached's path (veth, the host's TCP); its per-CPU ratio is to memcached's. Load: $(uptime | sed 's/.*load/load/')."
  echo
  echo "Ops per CPU-second of client and server together (the kernel's work for a request is counted wherever it ran):"
  echo
  echo "| mix | connections | uni | memcached | uni-socket | uni / memcached | uni-socket / memcached |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for m in get90 set50; do
    for c in 1 50; do
      awk -v m="$m" -v c="$c" '$2 == m && $3 == c { both[$1] = ($5 + $6) > 0 ? $4 / ($5 + $6) : 0 }
        END { u = both["uni"]; d = both["memcached"]; s = both["uni-socket"]; ru = d ? u / d : 0; rs = d ? s / d : 0
              printf "| %s | %d | %.0f | %.0f | %.0f | %.2f | %.2f |\n", m, c, u, d, s, ru, rs }' "$work/runs.txt"
    done
  done
  echo
  echo "Server CPU per operation with the kernel's receive of memcached's requests charged to memcached (µs; the client's extra CPU per operation against memcached over against uni, see the script's head):"
  echo
  echo "| mix | connections | client vs uni | client vs memcached | memcached's receive in the client | uni | memcached + its receive | per-CPU ratio, receive charged |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for m in get90 set50; do
    for c in 1 50; do
      awk -v m="$m" -v c="$c" '$2 == m && $3 == c && $4 > 0 { srv[$1] = $5 * 1e6 / $4; cli[$1] = $6 * 1e6 / $4 }
        END { rx = cli["memcached"] - cli["uni"]; if (rx < 0) rx = 0
              d = srv["memcached"] + rx; r = srv["uni"] > 0 ? d / srv["uni"] : 0
              printf "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", m, c, cli["uni"], cli["memcached"], rx, srv["uni"], d, r }' "$work/runs.txt"
    done
  done
  echo
  echo "Where each server's CPU per operation goes (µs): its own code (user time) and the kernel's work in its system calls"
  echo "(system time: for uni the TAP reads and writes, in which the host delivers its answers into the client's TCP"
  echo "sockets and wakes it; for memcached its sockets). *Ceiling*: memcached's CPU per operation over uni's system"
  echo "time per operation, the per-CPU ratio uni would reach if its own code took no time at all; and the same"
  echo "with memcached charged the kernel's receive of its requests (the table above):"
  echo
  echo "| mix | connections | uni user | uni system | memcached user | memcached system | per-CPU ratio | ceiling | ceiling, receive charged |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for m in get90 set50; do
    for c in 1 50; do
      awk -v m="$m" -v c="$c" '$2 == m && $3 == c && $4 > 0 { sys[$1] = $7 * 1e6 / $4; usr[$1] = ($5 - $7) * 1e6 / $4; cli[$1] = $6 * 1e6 / $4 }
        END { u = usr["uni"] + sys["uni"]; d = usr["memcached"] + sys["memcached"]
              rx = cli["memcached"] - cli["uni"]; if (rx < 0) rx = 0
              r = u > 0 ? d / u : 0; ceiling = sys["uni"] > 0 ? d / sys["uni"] : 0  # (not among printf arguments)
              charged = sys["uni"] > 0 ? (d + rx) / sys["uni"] : 0
              printf "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", m, c, usr["uni"], sys["uni"],
                usr["memcached"], sys["memcached"], r, ceiling, charged }' "$work/runs.txt"
    done
  done
} >"$out/memcache.md"
cat "$out/memcache.md"
