#!/usr/bin/env bash
# bench/trace.sh: what tracing (uni/trace/) costs, in one run. The appliance's
# whole DNS packet path without a device (bench_dns_engine's "stack" figure:
# query frames in, answer frames out through uni::Stack and dns::serve_udp, 32
# a turn) built twice from one source: with tracing compiled in and recording
# every task, frame and query span into a ring that wraps, as --trace does
# (bench_dns_engine_traced), and without, whose code is that of every untraced
# appliance. The same for TCP bulk throughput: two uni::Stacks over a lossless
# simulated link in one process (bench_tcp_sim, MEGABYTES per transfer;
# bench_tcp_sim_traced). Events are stamped by the run loop's turns, so neither
# reads a clock per event (uni/trace/recorder.hpp).
#
# The machine may be shared: the runs alternate untraced/traced, REPEATS each,
# and the figure compared is CPU time (this thread's, per query, and megabytes
# per CPU second), which another process's time slice does not inflate; the
# wall-clock rates and the load average are shown beside. Goal: at most 5% more
# CPU per query (or less throughput per CPU second) traced.
#
# --instructions adds what no other process can disturb: instructions per DNS
# query and per TCP megabyte, and the D1 and last-level cache misses of its
# cache simulation, counted by valgrind's callgrind (perf's hardware counters
# are not there in a VM), each the difference of a short and a long run so the
# set-up cancels out (a few minutes).
#
# Writes bench/results/trace.md (or --out DIR).
# Usage: bench/trace.sh [--seconds S] [--repeats N] [--names N] [--megabytes N] [--instructions] [--build DIR] [--out DIR]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
out=$root/bench/results
build=$root/build/release
seconds=2
repeats=7
names=1000
megabytes=200
instructions=0
read_flags "[--seconds S] [--repeats N] [--names N] [--megabytes N] [--instructions] [--build DIR] [--out DIR]" "instructions" \
  "seconds repeats names megabytes build out" "$@"

[[ -f $build/build.ninja ]] || cmake --preset release >/dev/null
cmake --build "$build" -j2 --target bench_dns_engine bench_dns_engine_traced bench_tcp_sim bench_tcp_sim_traced >/dev/null
mkdir -p "$out"

dns_run() {  # "CPU-ns-per-query q/s events-per-query" of one bench_dns_engine run for $names
  local text
  text=$(timeout 300 "$1" --names "$names" --seconds "$seconds" 2>&1)
  awk -v n="$names" '/ns of CPU per query/ { cpu = $(NF-5) } /events recorded/ { gsub(/\(/, ""); ev = $(NF-2) }
    $1 == n { qps = $4 } END { print cpu, qps, (ev == "" ? 0 : ev) }' <<<"$text"
}
tcp_run() {  # "MB-per-CPU-second MB/s events-per-segment" of one bench_tcp_sim run
  timeout 300 "$1" --megabytes "$megabytes" --rounds 3 | awk '{ print $5, $1, $3 }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
column() { awk -v c="$1" '{ print $c }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# callgrind's counts of one run, with its cache simulation: "instructions D1-misses LL-misses".
counts() {
  local file
  file=$(mktemp)
  valgrind --tool=callgrind --cache-sim=yes --callgrind-out-file="$file" "$@" >/dev/null 2>&1
  awk '/^summary:/ { print $2, $6 + $7, $9 + $10 }' "$file"
  rm -f "$file"
}
# What run_stack executes per query (instructions, D1 and LL misses): the difference of a 2 s and a 6 s run.
dns_instructions() {
  local c=() n=() s file
  file=$(mktemp)
  for s in 2 6; do
    local text
    text=$(valgrind --tool=callgrind --cache-sim=yes --toggle-collect='*run_stack*' --callgrind-out-file="$file" \
      "$1" --names "$names" --seconds $s 2>&1)
    c+=("$(awk '/^summary:/ { print $2, $6 + $7, $9 + $10 }' "$file")")
    n+=("$(awk '/ns of CPU per query/ { print $3 }' <<<"$text")")
  done
  rm -f "$file"
  awk -v a="${c[0]}" -v b="${c[1]}" -v p="${n[0]}" -v q="${n[1]}" 'BEGIN {
    split(a, x, " "); split(b, y, " "); d = q - p
    printf "%.0f %.2f %.3f", (y[1] - x[1]) / d, (y[2] - x[2]) / d, (y[3] - x[3]) / d }'
}
# The same per megabyte of a TCP transfer: the difference of a 10 MB and a 30 MB run.
tcp_instructions() {
  local a b
  a=$(counts "$1" --megabytes 10 --rounds 1)
  b=$(counts "$1" --megabytes 30 --rounds 1)
  awk -v a="$a" -v b="$b" 'BEGIN {
    split(a, x, " "); split(b, y, " "); printf "%.0f %.0f %.1f", (y[1] - x[1]) / 20, (y[2] - x[2]) / 20, (y[3] - x[3]) / 20 }'
}

load_before=$(load)
dns_off=() dns_on=() tcp_off=() tcp_on=() loads=()
for ((i = 0; i < repeats; i++)); do
  loads+=("$(cut -d' ' -f1 /proc/loadavg)")
  dns_off+=("$(dns_run "$build/bench/bench_dns_engine")")
  dns_on+=("$(dns_run "$build/bench/bench_dns_engine_traced")")
  tcp_off+=("$(tcp_run "$build/bench/bench_tcp_sim")")
  tcp_on+=("$(tcp_run "$build/bench/bench_tcp_sim_traced")")
done
if ((instructions)); then
  command -v valgrind >/dev/null || { echo "bench/trace.sh: --instructions needs valgrind" >&2; exit 1; }
  ir_off=$(dns_instructions "$build/bench/bench_dns_engine")
  ir_on=$(dns_instructions "$build/bench/bench_dns_engine_traced")
  irt_off=$(tcp_instructions "$build/bench/bench_tcp_sim")
  irt_on=$(tcp_instructions "$build/bench/bench_tcp_sim_traced")
fi
load_after=$(load)
pick() { local c=$1; shift; printf '%s\n' "$@" | column "$c" | median; }
all() { local c=$1; shift; printf '%s\n' "$@" | column "$c" | paste -sd' '; }
spread() { local c=$1; shift; printf '%s\n' "$@" | column "$c" | sort -g | sed -n '1p;$p' | paste -sd'-'; }
cpu_off=$(pick 1 "${dns_off[@]}") cpu_on=$(pick 1 "${dns_on[@]}")
qps_off=$(pick 2 "${dns_off[@]}") qps_on=$(pick 2 "${dns_on[@]}")
events=$(pick 3 "${dns_on[@]}")
mbc_off=$(pick 1 "${tcp_off[@]}") mbc_on=$(pick 1 "${tcp_on[@]}")
mbs_off=$(pick 2 "${tcp_off[@]}") mbs_on=$(pick 2 "${tcp_on[@]}")
tcp_events=$(pick 3 "${tcp_on[@]}")
slower() {  # slower TRACED UNTRACED higher|lower: how much worse traced is, against the goal
  awk -v a="$1" -v b="$2" -v better="$3" 'BEGIN {
    if (a + 0 <= 0 || b + 0 <= 0) { printf "not measured (FAIL)"; exit }
    w = better == "lower" ? (a / b - 1) * 100 : (1 - a / b) * 100
    printf "%.1f%% %s (goal at most 5%%: %s)", (w < 0 ? -w : w), (w < 0 ? "better" : "worse"), (w <= 5 ? "PASS" : "FAIL") }'
}

{
  echo "# Tracing's cost: traced against untraced, DNS and TCP through uni's stack"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, load average $load_before before and $load_after after;"
  echo "$repeats alternating runs each (bench/trace.sh): DNS zone of $names names, ${seconds} s a run; TCP $megabytes MB x 3 a run;"
  echo "the traced twins record into a ring of ${UNI_TRACE_EVENTS:-Config::trace_events (uni/config.hpp)} events."
  echo "The 1-minute load average as each repetition began: ${loads[*]}."
  echo
  echo "| DNS (stack path) | CPU ns per query (median) | q/s, wall clock (median) | CPU ns per query, spread | each run |"
  echo "| --- | ---: | ---: | --- | --- |"
  echo "| untraced (every appliance's code) | $cpu_off | $qps_off | $(spread 1 "${dns_off[@]}") | $(all 1 "${dns_off[@]}") |"
  echo "| traced, $events events per query | $cpu_on | $qps_on | $(spread 1 "${dns_on[@]}") | $(all 1 "${dns_on[@]}") |"
  echo
  echo "DNS traced: CPU per query $(slower "$cpu_on" "$cpu_off" lower); q/s $(slower "$qps_on" "$qps_off" higher)."
  echo
  echo "| TCP, two stacks over a simulated link | MB per CPU second (median) | MB/s, wall clock (median) | MB per CPU second, spread | each run |"
  echo "| --- | ---: | ---: | --- | --- |"
  echo "| untraced | $mbc_off | $mbs_off | $(spread 1 "${tcp_off[@]}") | $(all 1 "${tcp_off[@]}") |"
  echo "| traced, $tcp_events events per segment sent | $mbc_on | $mbs_on | $(spread 1 "${tcp_on[@]}") | $(all 1 "${tcp_on[@]}") |"
  echo
  echo "TCP traced: throughput per CPU second $(slower "$mbc_on" "$mbc_off" higher); MB/s $(slower "$mbs_on" "$mbs_off" higher)."
  if ((instructions)); then
    echo
    read -r i_off d_off l_off <<<"$ir_off"
    read -r i_on d_on l_on <<<"$ir_on"
    read -r ti_off td_off tl_off <<<"$irt_off"
    read -r ti_on td_on tl_on <<<"$irt_on"
    echo "Instructions (callgrind): DNS $i_off per query untraced, $i_on traced: $(slower "$i_on" "$i_off" lower);"
    echo "TCP $ti_off per megabyte untraced, $ti_on traced: $(slower "$ti_on" "$ti_off" lower)."
    echo "Its cache simulation, D1 misses: DNS $d_off per query untraced, $d_on traced; TCP $td_off per megabyte"
    echo "untraced, $td_on traced. Last-level misses: DNS $l_off and $l_on per query; TCP $tl_off and $tl_on per megabyte."
  fi
} | tee "$out/trace.md"
