#!/usr/bin/env bash
# bench/run.sh: the core benchmarks, side by side with Linux threads (the Mirage
# paper's Figure 7). Builds the release preset if needed, runs bench_tasks
# (1 M and 10 M tasks; 100 k pthreads) and bench_timers (1 M sleepers; 10 k
# pthreads), and writes, under the results folder:
#   core.md            the tables (task cost in time and bytes; timer jitter)
#   timer-jitter.png   CDF of wake-up jitter, uni vs pthreads (gnuplot)
#   raw.txt            the benchmarks' own output lines, jitter-*.dat the CDFs
# then, as root, bench/ping.sh (ping latency and floods, the uni ping appliance
# against the Linux stack), which writes ping.md and ping-cdf.png, bench/tcp.sh
# (TCP bulk throughput, uni against Linux), which writes tcp.md, bench/http.sh and
# bench/tweets.sh (www against nginx; the tweets appliance), http.md and tweets.md,
# and bench/dns.sh (the DNS appliance against NSD, BIND and Knot), dns.md; their
# tables are appended to core.md. Without root those parts are skipped, with a note.
# Usage: bench/run.sh [--quick] [--out DIR] [--build DIR]   (--quick: 100 k tasks,
#   short sleeps, 2 k pings and 20 k-packet floods; without it ping.sh runs --full:
#   20 k pings, 100 k-packet floods and one 1 M-packet flood per target; tcp.sh
#   moves 256 MB per measurement with --quick, else 1 GB.
#   --build: the release build directory, default build/release)
# Every step is bounded in time (timeout); any failure stops the run.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
out=$root/bench/results build=build/release quick=0
read_flags "[--quick] [--out DIR] [--build DIR]" "quick" "out build" "$@"
out=$(results_dir "$out")

cd "$root"
build_targets "$build" release bench_tasks bench_timers
build=$(cd "$build" && pwd)
bin=$build/bench

if [ $quick = 1 ]; then
  task_sizes=(100000); threads=2000; sleepers=100000; sleeper_threads=1000; max_sleep_ms=400
else
  task_sizes=(1000000 10000000); threads=100000; sleepers=1000000; sleeper_threads=10000; max_sleep_ms=4000
fi

raw=$out/raw.txt
: >"$raw"
run() { echo "+ $*" >&2; timeout 300 "$@" | tee -a "$raw"; }
first=1
for n in "${task_sizes[@]}"; do
  if [ $first = 1 ]; then run "$bin/bench_tasks" "$n" --threads "$threads"; first=0
  else run "$bin/bench_tasks" "$n" --threads 0; fi
done
rm -f "$out"/jitter-*.dat
run "$bin/bench_timers" --tasks "$sleepers" --threads "$sleeper_threads" --max-sleep-ms "$max_sleep_ms" --out "$out"

# field LINE KEY: the value of KEY=... in a `record key=value ...` line.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
# num X: X rounded to an integer, with thousands separators.
num() { LC_ALL=C printf "%.0f" "$1" | sed -E ':a;s/^([0-9]+)([0-9]{3})/\1,\2/;ta'; }
# us X: microseconds, one decimal below 1000, else as num.
us() { if awk -v x="$1" 'BEGIN { exit !(x < 1000) }'; then echo "$1"; else num "$1"; fi; }
# The output lines of one record, uni first.
lines() { grep "^$1 impl=uni" "$raw" || true; grep "^$1 impl=" "$raw" | grep -v "^$1 impl=uni" || true; }

{
  echo "# uni core benchmarks"
  echo
  echo "Written by \`bench/run.sh$([ $quick = 1 ] && echo ' --quick')\` on $(date -u '+%Y-%m-%d %H:%M UTC'):" \
    "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (with local changes)')," \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) CPUs, Linux $(uname -r)," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end. Raw output: \`raw.txt\`."
  echo
  echo "## Tasks: create, run, park, wake, finish (Figure 7a)"
  echo
  echo "uni: N detached tasks are spawned, each runs until it parks on one wait_queue (all N alive at once),"
  echo "then all are woken and finish. *cold*: the heap grows (each new page of frames is a page fault);"
  echo "*warm*: the same again in memory freed by the first round, as in a long-running appliance."
  echo "pthread: std::thread create + join, 1000 threads alive at a time."
  echo
  echo "| implementation | N | wall s | tasks/s | ns/task | spawn / first run / wake+finish, ns |"
  echo "| --- | ---: | ---: | ---: | ---: | --- |"
  while read -r l; do
    case $l in
      "tasks impl=uni"*)
        echo "| uni ($(field "$l" heap) heap) | $(num "$(field "$l" n)") | $(field "$l" seconds) | $(num "$(field "$l" tasks_per_s)") |" \
          "$(num "$(field "$l" ns_per_task)") | $(field "$l" spawn_ns) / $(field "$l" start_ns) / $(field "$l" finish_ns) |" ;;
      "tasks impl=pthread"*)
        echo "| pthread (std::thread) | $(num "$(field "$l" n)") | $(field "$l" seconds) | $(num "$(field "$l" tasks_per_s)") |" \
          "$(num "$(field "$l" ns_per_task)") | create + join |" ;;
    esac
  done < <(lines tasks)
  echo
  echo "### Memory per live task"
  echo
  echo "frame: what the coroutine frame asks of operator new; malloc: what malloc holds for it (mallinfo2);"
  echo "RSS: growth of resident memory per task (first round). A pthread's figures are for 1000 threads parked: its stack is reserved (virtual) in full, touched (RSS) in part."
  echo
  echo "| implementation | N | frame B | malloc B | RSS B | virtual B |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  while read -r l; do
    case $l in
      "tasks impl=uni heap=cold"*)
        echo "| uni task | $(num "$(field "$l" n)") | $(field "$l" frame_bytes) | $(field "$l" heap_bytes) | $(field "$l" rss_bytes) | ≈ malloc |" ;;
      "tasks impl=pthread"*)
        echo "| pthread (std::thread) | 1,000 | — | — | $(num "$(field "$l" rss_bytes)") | $(num "$(field "$l" vsz_bytes)") |" ;;
    esac
  done < <(lines tasks)
  uw=$(grep -m1 '^tasks impl=uni heap=warm' "$raw" || true)
  uc=$(grep -m1 '^tasks impl=uni heap=cold' "$raw" || true)
  pt=$(grep -m1 '^tasks impl=pthread' "$raw" || true)
  if [ -n "$uw" ] && [ -n "$pt" ]; then
    echo
    awk -v p="$(field "$pt" ns_per_task)" -v w="$(field "$uw" ns_per_task)" -v c="$(field "$uc" ns_per_task)" \
      -v pr="$(field "$pt" rss_bytes)" -v ur="$(field "$uc" heap_bytes)" \
      'BEGIN { printf "Ratios: a pthread create+join costs %.0fx the time of a uni task (warm heap; %.0fx cold) and %.0fx its resident memory.\n", p / w, p / c, pr / ur }'
  fi
  echo
  echo "## Timer precision: wake-up jitter (Figure 7b)"
  echo
  echo "Every sleeper reads the clock, sleeps a uniformly random time (seeded), and records its real"
  echo "wake-up time minus the deadline it asked for. uni: all tasks at once under \`uni::run\` on"
  echo "\`PosixClock\`; pthread: one thread per sleeper, \`clock_nanosleep(TIMER_ABSTIME)\`."
  echo
  echo "| implementation | sleepers | sleep | p50 µs | p99 µs | p99.9 µs | max µs | mean µs |"
  echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
  while read -r l; do
    case $l in
      "timers "*)
        echo "| $(field "$l" impl) | $(num "$(field "$l" n)") | $(field "$l" min_sleep_ms)–$(field "$l" max_sleep_ms) ms |" \
          "$(us "$(field "$l" p50_us)") | $(us "$(field "$l" p99_us)") | $(us "$(field "$l" p999_us)") | $(us "$(field "$l" max_us)") | $(us "$(field "$l" mean_us)") |" ;;
    esac
  done < <(lines timers)
  echo
  echo "Timer slack of the process: $(field "$(grep -m1 '^timers ' "$raw")" slack_ns) ns (Linux default 50 µs)."
  echo
  echo "![CDF of wake-up jitter](timer-jitter.png)"
} >"$out/core.md"

# The CDF, as the paper plots it.
plots=()
for impl in uni pthread; do
  f=$out/jitter-$impl.dat
  [ -s "$f" ] && plots+=("'$f' using 1:2 with lines lw 2 title '$impl ($(sed -n 's/^# [a-z]*: wake-up jitter of \([0-9]*\).*/\1/p' "$f") sleepers)'")
done
cdf_plot "$out/timer-jitter.png" "Wake-up jitter of parallel sleepers, each sleeping $((max_sleep_ms / 4))–${max_sleep_ms} ms" \
  'jitter: wake-up time - deadline (µs, log scale)' "${plots[@]}"
echo "wrote $out/core.md and $out/timer-jitter.png" >&2

# The benchmarks against Linux and the daemons need root (namespaces, TAP devices):
# each writes NAME.md (and plots), and its table goes into core.md too. Without
# root they are skipped, with a note; a failure (lost packets, memory growth, a
# benchmark that did not finish) stops the run after its note.
# run_part NAME TITLE FOOTER [FLAGS...]: bench/NAME.sh; core.md gets what it wrote
# between its table markers under TITLE, followed by FOOTER, or, with no markers,
# all of it one heading level down.
run_part() {
  local name=$1 title=$2 footer=$3 status=0 stamp
  shift 3
  echo "+ bench/$name.sh $*" >&2
  stamp=$(mktemp)
  timeout 1800 "$root/bench/$name.sh" "$@" --build "$build" --out "$out" || status=$?
  {
    echo
    if [ ! "$out/$name.md" -nt "$stamp" ]; then
      echo "## $title"
      echo
    elif grep -q '^<!-- table -->' "$out/$name.md"; then
      echo "## $title"
      echo
      sed -n '/^<!-- table -->/,/^<!-- end table -->/p' "$out/$name.md" | grep -v '^<!--'
      echo
      echo "$footer Details: [$name.md]($name.md)."
    else
      sed -e '1s/^# /## /' -e '2,$s/^## /### /' "$out/$name.md" | sed '/^Every run/,$d'
      echo "Details: [$name.md]($name.md)."
    fi
    [ $status = 0 ] || echo "**bench/$name.sh failed (exit status $status)**: see its output."
  } >>"$out/core.md"
  rm -f "$stamp"
  [ $status = 0 ] || exit $status
}

if [ "$(id -u)" = 0 ]; then
  if [ $quick = 1 ]; then ping_mode=--quick; else ping_mode=--full; fi
  flags=()
  [ $quick = 1 ] && flags=(--quick)
  run_part ping "Ping: the uni appliance against the Linux stack" \
    "Median of 3 alternated runs; ratios are uni / Linux." $ping_mode
  run_part tcp "TCP bulk throughput: uni against Linux (Figure 8)" \
    "Median of 3 alternated runs; Linux is Linux → Linux over a veth pair." "${flags[@]}"
  run_part http "HTTP: www against nginx" "" "${flags[@]}"
  run_part tweets "The tweets appliance" "" "${flags[@]}"
  run_part dns "DNS: uni against NSD, BIND and Knot" "" "${flags[@]}"
else
  echo "skipping bench/ping.sh, tcp.sh, http.sh, tweets.sh and dns.sh: they need root (network namespaces, a TAP device)" >&2
  printf '\n## Against Linux, nginx and the DNS daemons\n\nNot run: bench/ping.sh, tcp.sh, http.sh, tweets.sh and dns.sh need root.\n' >>"$out/core.md"
fi
echo "wrote $out/core.md" >&2
