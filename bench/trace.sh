#!/usr/bin/env bash
# bench/trace.sh: what tracing (uni/trace/) costs, in one run. The appliance's
# whole DNS packet path without a device (bench_dns_engine's "stack q/s": query
# frames in, answer frames out through uni::Stack and dns::serve_udp) built twice
# from one source: with tracing compiled in and recording every task, frame and
# query span into a ring that wraps, stamped with the host's clock as --trace
# does (bench_dns_engine_traced), and without tracing, whose code is that of
# every untraced appliance. Runs alternate, REPEATS each; the median of each is
# reported with their ratio. Goal: at most 5% slower traced.
#
# Writes bench/results/trace.md (or --out DIR).
# Usage: bench/trace.sh [--seconds S] [--repeats N] [--names N] [--build DIR] [--out DIR]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
out=$root/bench/results
build=$root/build/release
seconds=2
repeats=5
names=1000
read_flags "[--seconds S] [--repeats N] [--names N] [--build DIR] [--out DIR]" "" \
  "seconds repeats names build out" "$@"

if [[ ! -x $build/bench/bench_dns_engine || ! -x $build/bench/bench_dns_engine_traced ]]; then
  [[ -f $build/build.ninja ]] || cmake --preset release >/dev/null
  cmake --build "$build" -j2 --target bench_dns_engine bench_dns_engine_traced
fi
mkdir -p "$out"

stack_qps() {  # the "stack q/s" column of bench_dns_engine's one line for $names
  timeout $((seconds * 4 + 60)) "$1" --names "$names" --seconds "$seconds" 2>/dev/null | awk -v n="$names" '$1 == n { print $4 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

off=() on=()
for ((i = 0; i < repeats; i++)); do
  off+=("$(stack_qps "$build/bench/bench_dns_engine")")
  on+=("$(stack_qps "$build/bench/bench_dns_engine_traced")")
done
m_off=$(printf '%s\n' "${off[@]}" | median)
m_on=$(printf '%s\n' "${on[@]}" | median)
events=$("$build/bench/bench_dns_engine_traced" --names "$names" --seconds 0.2 2>&1 >/dev/null | awk '/traced/ { print $(NF-2), $(NF-1) }' | tr -d '(')
ratio=$(awk -v a="$m_on" -v b="$m_off" 'BEGIN { printf "%.3f", a / b }')
slower=$(awk -v a="$m_on" -v b="$m_off" 'BEGIN { printf "%.1f", (1 - a / b) * 100 }')
verdict=$(awk -v s="$slower" 'BEGIN { print (s <= 5) ? "PASS" : "FAIL" }')

{
  echo "# Tracing's cost: DNS through uni's stack, traced against untraced"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, zone of $names names, $repeats alternating runs of ${seconds} s each (bench/trace.sh)."
  echo
  echo "| build | stack q/s (median) | runs |"
  echo "| --- | ---: | --- |"
  echo "| untraced (every appliance's code) | $m_off | ${off[*]} |"
  echo "| traced, recording ($events per query) | $m_on | ${on[*]} |"
  echo
  echo "Traced/untraced: $ratio ($slower% slower; goal at most 5%: $verdict)."
} | tee "$out/trace.md"
