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
# The machine may be shared, and even alone this VM's speed drifts by a third
# from one minute to the next (its host's other tenants: the same binary's runs
# went 2,450-3,750 MB per CPU second minutes apart, the single runs "bimodal"),
# so figures from separate times cannot be compared. Each repetition is a pair
# of short runs back to back, untraced and traced (in ABBA order: the first of a
# pair alternates), pinned to one core (--cpu; taskset); what is compared is each
# pair's ratio, traced cost over untraced, and the median of the ratios with
# their range is the figure. Cost is CPU time (this thread's, which another
# process's time slice does not inflate) of the median lap of each run (4,096
# queries, or 1 MB: bench/trace_stamps.hpp's cpu_laps, so that the laps a context
# switch left with a cold cache do not count either); the whole runs' CPU, the
# wall-clock rates, the context switches and the load are shown beside. Goal: the
# median ratio at most 1.05 (at most 5% more CPU per query, or per megabyte,
# traced). perf's cycle and instruction counters are not there in a VM: see
# --instructions.
#
# --instructions adds what no other process can disturb: instructions per DNS
# query and per TCP megabyte, and the D1 and last-level cache misses of its
# cache simulation, counted by valgrind's callgrind (perf's hardware counters
# are not there in a VM), each the difference of a short and a long run so the
# set-up cancels out (a few minutes).
#
# Writes bench/results/trace.md (or --out DIR).
# Usage: bench/trace.sh [--seconds S] [--pairs N] [--names N] [--megabytes N] [--cpu C] [--instructions] [--build DIR] [--out DIR]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
out=$root/bench/results
build=$root/build/release
seconds=1
pairs=31
names=1000
megabytes=50
cpu=$(($(nproc) - 1))
instructions=0
read_flags "[--seconds S] [--pairs N] [--names N] [--megabytes N] [--cpu C] [--instructions] [--build DIR] [--out DIR]" "instructions" \
  "seconds pairs names megabytes cpu build out" "$@"

[[ -f $build/build.ninja ]] || cmake --preset release >/dev/null
cmake --build "$build" -j2 --target bench_dns_engine bench_dns_engine_traced bench_tcp_sim bench_tcp_sim_traced >/dev/null
mkdir -p "$out"

dns_run() {  # "median-lap-CPU-ns-per-query whole-run-CPU-ns q/s events-per-query context-switches" of one run for $names
  local text
  text=$(timeout 300 taskset -c "$cpu" "$1" --names "$names" --seconds "$seconds" --only stack 2>&1)
  awk -v n="$names" '/ns of CPU per query$/ { cpu = $(NF-5) } /laps of/ { lap = $(NF-8); sw = $(NF-2) }
    /events recorded/ { gsub(/\(/, ""); ev = $(NF-2) }
    $1 == n { qps = $4 } END { print lap, cpu, qps, (ev == "" ? 0 : ev), sw }' <<<"$text"
}
tcp_run() {  # "median-lap-MB-per-CPU-second whole-run-MB-per-CPU-second MB/s events-per-segment context-switches" of one run
  timeout 300 taskset -c "$cpu" "$1" --megabytes "$megabytes" --rounds 3 | awk '{ print $7, $5, $1, $3, $9 }'
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
      "$1" --names "$names" --seconds $s --only stack 2>&1)
    c+=("$(awk '/^summary:/ { print $2, $6 + $7, $9 + $10 }' "$file")")
    n+=("$(awk '/ns of CPU per query$/ { print $3 }' <<<"$text")")
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

# pair ARRAY RUN UNTRACED TRACED: one pair of runs, in ABBA order (by $i); appends "untraced-record|traced-record".
pair() {
  local -n into=$1
  local off on
  if ((i % 2 == 0)); then off=$("$2" "$3"); on=$("$2" "$4"); else on=$("$2" "$4"); off=$("$2" "$3"); fi
  into+=("$off|$on")
}
load_before=$(load)
dns=() tcp=() loads=()
for ((i = 0; i < pairs; i++)); do
  loads+=("$(cut -d' ' -f1 /proc/loadavg)")
  pair dns dns_run "$build/bench/bench_dns_engine" "$build/bench/bench_dns_engine_traced"
  pair tcp tcp_run "$build/bench/bench_tcp_sim" "$build/bench/bench_tcp_sim_traced"
done
if ((instructions)); then
  command -v valgrind >/dev/null || { echo "bench/trace.sh: --instructions needs valgrind" >&2; exit 1; }
  ir_off=$(dns_instructions "$build/bench/bench_dns_engine")
  ir_on=$(dns_instructions "$build/bench/bench_dns_engine_traced")
  irt_off=$(tcp_instructions "$build/bench/bench_tcp_sim")
  irt_on=$(tcp_instructions "$build/bench/bench_tcp_sim_traced")
fi
load_after=$(load)
half() { printf '%s\n' "${@:2}" | cut -d'|' -f"$1"; }  # half 1|2 PAIRS...: the untraced or traced records
# ratios COLUMN cost|rate PAIRS...: each pair's traced cost over its untraced cost
ratios() {
  local c=$1 how=$2
  shift 2
  printf '%s\n' "$@" | awk -F'|' -v c="$c" -v how="$how" '{
    split($1, u, " "); split($2, t, " ")
    if (u[c] + 0 > 0 && t[c] + 0 > 0) printf "%.4f\n", how == "cost" ? t[c] / u[c] : u[c] / t[c] }'
}
# summary < RATIOS: "median [lo-hi] (min-max)", [lo-hi] the median's 95% confidence
# interval (distribution-free: the order statistics a sign test gives; 6 ratios or more)
summary() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "not measured"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    k = int((NR - 1.96 * sqrt(NR)) / 2); if (k < 1) k = 1
    printf "%.3f [%.3f-%.3f] (%.3f-%.3f)", m, v[k], v[NR + 1 - k], v[1], v[NR] }'
}
verdict() {  # verdict SUMMARY: a summary's median and interval against the goal
  awk -v s="$1" 'BEGIN { split(s, f, " "); m = f[1]; gsub(/[][]/, "", f[2]); split(f[2], ci, "-"); hi = ci[2]
    if (m + 0 <= 0) { print "not measured (FAIL)"; exit }
    w = (m - 1) * 100; printf "%.1f%% %s: %s", (w < 0 ? -w : w), (w < 0 ? "less" : "more"),
      (hi + 0 <= 1.05 ? "PASS, shown (the interval is within 5%)" : m + 0 <= 1.05 ? "PASS by the median, not shown (the interval reaches past 5%)" : "FAIL") }'
}
# row LABEL < RECORDS: one build's medians, spread and each run
row() {
  local r
  r=$(cat)
  echo "| $1 | $(column 1 <<<"$r" | median) | $(column 2 <<<"$r" | median) | $(column 3 <<<"$r" | median) |" \
    "$(column 5 <<<"$r" | median) | $(column 1 <<<"$r" | sort -g | sed -n '1p;$p' | paste -sd'-') | $(column 1 <<<"$r" | paste -sd' ') |"
}
slower() {  # slower TRACED UNTRACED higher|lower: how much worse traced is, against the goal
  awk -v a="$1" -v b="$2" -v better="$3" 'BEGIN {
    if (a + 0 <= 0 || b + 0 <= 0) { printf "not measured (FAIL)"; exit }
    w = better == "lower" ? (a / b - 1) * 100 : (1 - a / b) * 100
    printf "%.1f%% %s (goal at most 5%%: %s)", (w < 0 ? -w : w), (w < 0 ? "better" : "worse"), (w <= 5 ? "PASS" : "FAIL") }'
}

dns_lap=$(ratios 1 cost "${dns[@]}" | summary) dns_whole=$(ratios 2 cost "${dns[@]}" | summary)
tcp_lap=$(ratios 1 rate "${tcp[@]}" | summary) tcp_whole=$(ratios 2 rate "${tcp[@]}" | summary)
{
  echo "# Tracing's cost: traced against untraced, DNS and TCP through uni's stack"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, pinned to core $cpu, load average $load_before before and $load_after after;"
  echo "$pairs pairs of runs back to back, untraced and traced in ABBA order (bench/trace.sh): DNS zone of $names names, ${seconds} s a run;"
  echo "TCP $megabytes MB x 3 a run; the traced twins record into a ring of ${UNI_TRACE_EVENTS:-Config::trace_events (uni/config.hpp)} events."
  echo "The 1-minute load average as each pair began: ${loads[*]}."
  echo
  echo "Each pair's traced cost over its untraced cost: the median [its 95% confidence interval] (the range). Goal: at most 1.05."
  echo
  echo "| traced / untraced | median lap's CPU | whole runs' CPU | traced, by the median lap |"
  echo "| --- | ---: | ---: | --- |"
  echo "| DNS, CPU per query | $dns_lap | $dns_whole | $(verdict "$dns_lap") |"
  echo "| TCP, CPU per megabyte | $tcp_lap | $tcp_whole | $(verdict "$tcp_lap") |"
  echo
  echo "| DNS (stack path) | CPU ns per query, median lap | the same, whole run | q/s, wall clock | context switches a run | median lap, spread | each run's median lap |"
  echo "| --- | ---: | ---: | ---: | ---: | --- | --- |"
  half 1 "${dns[@]}" | row "untraced (every appliance's code)"
  half 2 "${dns[@]}" | row "traced, $(half 2 "${dns[@]}" | column 4 | median) events per query"
  echo
  echo "| TCP, two stacks over a simulated link | MB per CPU second, median lap | the same, whole run | MB/s, wall clock | context switches a run | median lap, spread | each run's median lap |"
  echo "| --- | ---: | ---: | ---: | ---: | --- | --- |"
  half 1 "${tcp[@]}" | row "untraced"
  half 2 "${tcp[@]}" | row "traced, $(half 2 "${tcp[@]}" | column 4 | median) events per segment sent"
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
