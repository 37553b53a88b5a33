#!/usr/bin/env bash
# bench/trace.sh: what tracing (uni/trace/) costs, in one run. The appliance's
# whole DNS packet path without a device (bench_dns_engine's "stack q/s": query
# frames in, answer frames out through uni::Stack and dns::serve_udp) built twice
# from one source: with tracing compiled in and recording every task, frame and
# query span into a ring that wraps, stamped with the host's clock as --trace
# does (bench_dns_engine_traced), and without tracing, whose code is that of
# every untraced appliance; and traced again with stamps from the stack's manual
# clock, which costs nothing to read: what recording alone costs, apart from the
# host clock's price (which a VM may make high). The same three for TCP bulk
# throughput: two uni::Stacks over a lossless simulated link in one process
# (bench_tcp_sim, MEGABYTES per transfer; bench_tcp_sim_traced). Runs alternate,
# REPEATS each; the median of each is reported with their ratio. Goal: at most
# 5% slower traced.
#
# Writes bench/results/trace.md (or --out DIR).
# Usage: bench/trace.sh [--seconds S] [--repeats N] [--names N] [--megabytes N] [--build DIR] [--out DIR]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
out=$root/bench/results
build=$root/build/release
seconds=2
repeats=5
names=1000
megabytes=200
read_flags "[--seconds S] [--repeats N] [--names N] [--megabytes N] [--build DIR] [--out DIR]" "" \
  "seconds repeats names megabytes build out" "$@"

[[ -f $build/build.ninja ]] || cmake --preset release >/dev/null
cmake --build "$build" -j2 --target bench_dns_engine bench_dns_engine_traced bench_tcp_sim bench_tcp_sim_traced >/dev/null
mkdir -p "$out"

stack_qps() {  # the "stack q/s" column of bench_dns_engine's one line for $names
  timeout $((seconds * 4 + 60)) "$1" --names "$names" --seconds "$seconds" 2>/dev/null | awk -v n="$names" '$1 == n { print $4 }'
}
tcp_rate() {  # MB/s of one bench_tcp_sim run (the median of its 3 transfers)
  timeout 300 "$1" --megabytes "$megabytes" --rounds 3 | awk '{ print $1 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The cost of one read of the host's monotonic clock here (each event takes one).
clock_ns=$(python3 -c 'import time; n = 200000; t = time.perf_counter_ns(); [time.monotonic_ns() for _ in range(n)]; print(round((time.perf_counter_ns() - t) / n))')

off=() on=() free=() tcp_off=() tcp_on=() tcp_free=()
for ((i = 0; i < repeats; i++)); do
  off+=("$(stack_qps "$build/bench/bench_dns_engine")")
  on+=("$(stack_qps "$build/bench/bench_dns_engine_traced")")
  free+=("$(UNI_TRACE_CLOCK=stack stack_qps "$build/bench/bench_dns_engine_traced")")
  tcp_off+=("$(tcp_rate "$build/bench/bench_tcp_sim")")
  tcp_on+=("$(tcp_rate "$build/bench/bench_tcp_sim_traced")")
  tcp_free+=("$(UNI_TRACE_CLOCK=stack tcp_rate "$build/bench/bench_tcp_sim_traced")")
done
m_off=$(printf '%s\n' "${off[@]}" | median)
m_on=$(printf '%s\n' "${on[@]}" | median)
m_free=$(printf '%s\n' "${free[@]}" | median)
t_off=$(printf '%s\n' "${tcp_off[@]}" | median)
t_on=$(printf '%s\n' "${tcp_on[@]}" | median)
t_free=$(printf '%s\n' "${tcp_free[@]}" | median)
events=$("$build/bench/bench_dns_engine_traced" --names "$names" --seconds 0.2 2>&1 >/dev/null | awk '/traced/ { gsub(/\(/, ""); print $(NF-2) }')
tcp_events=$("$build/bench/bench_tcp_sim_traced" --megabytes 10 --rounds 1 | awk '{ print $3 }')
ratio() {  # ratio VALUE [BASE]
  awk -v a="$1" -v b="${2:-$m_off}" 'BEGIN { printf "%.3f (%.1f%% slower; goal at most 5%%: %s)", a / b, (1 - a / b) * 100, (1 - a / b) * 100 <= 5 ? "PASS" : "FAIL" }'
}

{
  echo "# Tracing's cost: DNS through uni's stack, traced against untraced"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, zone of $names names, $repeats alternating runs of ${seconds} s each (bench/trace.sh)."
  echo
  echo "| build | stack q/s (median) | runs |"
  echo "| --- | ---: | --- |"
  echo "| untraced (every appliance's code) | $m_off | ${off[*]} |"
  echo "| traced, $events events per query, stamped by the host's clock | $m_on | ${on[*]} |"
  echo "| traced, the same stamped by the stack's manual clock (no clock read) | $m_free | ${free[*]} |"
  echo
  echo "Traced/untraced, host clock: $(ratio "$m_on")."
  echo "Traced/untraced, recording alone: $(ratio "$m_free")."
  echo
  echo "| TCP, two stacks over a simulated link, $megabytes MB per transfer | MB/s (median) | runs |"
  echo "| --- | ---: | --- |"
  echo "| untraced | $t_off | ${tcp_off[*]} |"
  echo "| traced, $tcp_events events per segment sent, host clock | $t_on | ${tcp_on[*]} |"
  echo "| traced, stack's manual clock | $t_free | ${tcp_free[*]} |"
  echo
  echo "TCP traced/untraced, host clock: $(ratio "$t_on" "$t_off")."
  echo "TCP traced/untraced, recording alone: $(ratio "$t_free" "$t_off")."
  echo "A read of the host's monotonic clock costs ~${clock_ns} ns here (Python's, an upper bound), once per event."
} | tee "$out/trace.md"
