#!/usr/bin/env bash
# bench/block.sh: random reads over a file of 1 GiB, the paper's Figure 9: uni's
# io_uring disk (bench_block: UringDisk behind a block::request_queue, into I/O
# pages) against fio (io_uring engine) on the same file, with direct I/O and
# with buffered I/O, block sizes from 4 KiB (512 B and 1 KiB too where the file
# system takes them directly) to 4 MiB, queue depth 1 and 32.
#
# A virtual disk's speed drifts from run to run (by 2x on this one), so one run
# per cell says little. Each direct cell (size x depth) is measured --rounds
# times, uni and fio back to back (uni first in odd rounds, fio first in even
# ones), the page cache dropped before every run. Per cell: the median MiB/s of
# each, the median of the rounds' uni/fio ratios and their range, and the median
# CPU per read. Buffered cells, the reference curve, run once. Writes the table
# to results/block.md (ready to paste), every run to results/block.runs, and the
# chart (medians) to results/block.png.
#
# Usage: bench/block.sh [--quick] [--rounds N] [--seconds S] [--cells "BS:QD ..."]
#                       [--no-buffered] [--file PATH] [--out DIR] [--build DIR]
#   full (default): 8 sizes x 2 depths, 5 rounds of 2 s: about 9 minutes (511 s);
#   --quick: 4 KiB, 64 KiB, 1 MiB, 4 MiB, 3 rounds of 1 s: about 2 minutes;
#   --cells "4096:1 65536:32": only those cells (size in bytes : depth);
#   --no-buffered: direct I/O only.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"

quick=0
no_buffered=0
rounds=
seconds=
cells=
file=/var/tmp/uni-block-bench.img
out=$root/bench/results
build=build/release
read_flags "[--quick] [--rounds N] [--seconds S] [--cells \"BS:QD ...\"] [--no-buffered] [--file PATH] [--out DIR] [--build DIR]" \
  "quick no-buffered" "rounds seconds cells file out build" "$@"
need_tools block fio gnuplot python3
out=$(results_dir "$out")
build_targets "$build" release bench_block
uni=$root/$build/bench/bench_block

# The file: 1 GiB of random bytes, written once (reads of holes would cost nothing).
if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" -lt $((1 << 30)) ]; then
  echo "block: writing $file (1 GiB)"
  head -c $((1 << 30)) /dev/urandom >"$file"
  sync
fi
can_drop=0
[ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ] && can_drop=1
drop() { if [ $can_drop = 1 ]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi; }

if [ "$quick" = 1 ]; then
  sizes="4096 65536 1048576 4194304"
  : "${rounds:=3}" "${seconds:=1}"
else
  sizes="4096 16384 65536 262144 1048576 4194304"
  : "${rounds:=5}" "${seconds:=2}"
  for small in 1024 512; do  # where direct I/O takes them
    "$uni" "$file" --bs $small --qd 1 --seconds 0.05 >/dev/null 2>&1 && sizes="$small $sizes"
  done
fi
if [ -z "$cells" ]; then
  for qd in 1 32; do for bs in $sizes; do cells="$cells $bs:$qd"; done; done
fi
runtime_ms=$(awk "BEGIN { print int($seconds * 1000) }")  # fio reads a bare runtime as whole seconds
buffered_runs=$((no_buffered ? 0 : 2))
ncells=$(wc -w <<<"$cells")
# Each run costs ~0.65 s beyond its own (fio's start, dropping the page cache).
echo "block: $ncells cells, $rounds rounds of ${seconds} s; about $(awk "BEGIN { printf \"%.1f\", $ncells * (2 * $rounds + $buffered_runs) * ($seconds + 0.65) / 60 }") minutes"

fio_run() {  # BS QD DIRECT -> "MiB/s cpu_us_per_read"
  fio --name=randread --filename="$file" --rw=randread --bs="$1" --iodepth="$2" --ioengine=io_uring \
    --direct="$3" --time_based --runtime="$runtime_ms"ms --norandommap --randrepeat=0 --output-format=json 2>/dev/null |
    python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
r = j["read"]
secs = j["job_runtime"] / 1000.0
cpu = (j["usr_cpu"] + j["sys_cpu"]) / 100.0 * secs
print("%.2f %.2f" % (r["bw"] / 1024.0, cpu * 1e6 / max(r["total_ios"], 1)))'
}
uni_run() {  # BS QD DIRECT -> "MiB/s cpu_us_per_read sqes_per_read"
  local flag=
  [ "$3" = 0 ] && flag=--buffered
  "$uni" "$file" --bs "$1" --qd "$2" --seconds "$seconds" $flag | awk '{print $2, $6, $14}'
}
# One run, page cache dropped first, appended to the runs file:
# bs qd direct round engine MiB/s cpu_us_per_read sqes_per_read
runs=$out/block.runs
measure() {  # ENGINE BS QD DIRECT ROUND
  local mib cpu sqes=1
  drop
  if [ "$1" = uni ]; then read -r mib cpu sqes < <(uni_run "$2" "$3" "$4")
  else read -r mib cpu < <(fio_run "$2" "$3" "$4"); fi
  echo "$2 $3 $4 $5 $1 $mib $cpu $sqes" >>"$runs"
  printf ' %s %s MiB/s %s us' "$1" "$mib" "$cpu"
}

load_before=$(uptime | sed 's/.*load average: //')
echo "# bs qd direct round engine mib_s cpu_us_per_read sqes_per_read" >"$runs"
started=$(date +%s)
for cell in $cells; do
  bs=${cell%%:*} qd=${cell##*:}
  for round in $(seq 1 "$rounds"); do
    printf 'block: bs=%s qd=%s direct round %s:' "$bs" "$qd" "$round"
    if [ $((round % 2)) = 1 ]; then measure uni "$bs" "$qd" 1 "$round"; measure fio "$bs" "$qd" 1 "$round"
    else measure fio "$bs" "$qd" 1 "$round"; measure uni "$bs" "$qd" 1 "$round"; fi
    echo
  done
  if [ "$no_buffered" = 0 ]; then
    printf 'block: bs=%s qd=%s buffered:' "$bs" "$qd"
    measure uni "$bs" "$qd" 0 1; measure fio "$bs" "$qd" 0 1
    echo
  fi
done
elapsed=$(($(date +%s) - started))
load_after=$(uptime | sed 's/.*load average: //')

python3 - "$runs" "$out" "$rounds" "$seconds" "$can_drop" "$elapsed" "$load_before" "$load_after" <<'PY'
import os, statistics, sys
runs, out, rounds, secs, dropped, elapsed, load0, load1 = sys.argv[1:]
cells = {}  # (bs, qd) -> {(direct, engine): [(round, mib, cpu, sqes)]}
for line in open(runs):
    if line.startswith("#"):
        continue
    bs, qd, direct, rnd, engine, mib, cpu, sqes = line.split()
    cells.setdefault((int(bs), int(qd)), {}).setdefault((direct, engine), []).append(
        (int(rnd), float(mib), float(cpu), float(sqes)))
def size(b):
    return f"{b >> 20} MiB" if b >= 1 << 20 else f"{b >> 10} KiB" if b >= 1024 else f"{b} B"
med = lambda xs: statistics.median(xs) if xs else float("nan")
col = lambda rs, i: [r[i] for r in rs]
rows, dat = [], []
met = 0
for (bs, qd) in sorted(cells, key=lambda c: (c[1], c[0])):
    c = cells[(bs, qd)]
    u, f = c.get(("1", "uni"), []), c.get(("1", "fio"), [])
    fio_of = {r[0]: r[1] for r in f}
    ratios = sorted(r[1] / fio_of[r[0]] for r in u if fio_of.get(r[0], 0) > 0)
    ratio = med(ratios)
    met += ratio >= 0.95
    ub, fb = c.get(("0", "uni"), []), c.get(("0", "fio"), [])
    buffered = f"{med(col(ub, 1)):.0f} / {med(col(fb, 1)):.0f}" if ub and fb else "-"
    rows.append(f"| {size(bs)} | {qd} | {med(col(u, 1)):.1f} | {med(col(f, 1)):.1f} | {ratio:.2f}x | "
                f"{ratios[0]:.2f}-{ratios[-1]:.2f} | {'yes' if ratio >= 0.95 else 'no'} | "
                f"{med(col(u, 2)):.1f} / {med(col(f, 2)):.1f} | {buffered} | {med(col(u, 3)):.2f} |")
    dat.append(" ".join([str(bs), str(qd)] + [f"{med(col(rs, 1)) if rs else 0:.2f}" for rs in (u, f, ub, fb)]))
with open(f"{out}/block.dat", "w") as o:
    o.write("# bs qd uni_direct fio_direct uni_buffered fio_buffered (median MiB/s, 0: not run)\n" + "\n".join(dat) + "\n")
loop = "Asio's epoll (UNI_URING=0)" if os.environ.get("UNI_URING") == "0" else "the run loop's io_uring"
with open(f"{out}/block.md", "w") as o:
    o.write("# Block devices: random reads (the paper's Figure 9)\n\n")
    o.write(f"bench/block.sh: a 1 GiB file; uni's io_uring disk (UringDisk behind block::request_queue, reads "
            f"into I/O pages), waiting on {loop}, against fio (io_uring engine). Direct I/O: {rounds} rounds of {secs} s per cell, uni "
            "and fio back to back; MiB/s and CPU are medians over the rounds, uni/fio is the median of the rounds' "
            "ratios, range its lowest and highest. CPU: microseconds (user + system) per read. SQEs: ring entries "
            "uni used per read (fio uses one). "
            + ("Buffered: one run each. " if any(("0", "uni") in c for c in cells.values()) else "")
            + ("Page cache dropped before every run." if dropped == "1" else "NOT root: the page cache was not dropped.")
            + f" {elapsed} s in all; load average {load0} before, {load1} after.\n\n")
    o.write("| size | depth | uni MiB/s | fio MiB/s | uni/fio | range | >= 0.95x | CPU/read uni / fio (us) "
            "| buffered uni / fio MiB/s | SQEs/read |\n")
    o.write("|---|---|---|---|---|---|---|---|---|---|\n")
    o.write("\n".join(rows) + "\n\n")
    o.write(f"Cells at or above 0.95x fio's direct MiB/s: {met} of {len(rows)}. Chart: block.png (medians).\n")
PY

timeout 60 gnuplot <<EOF
set terminal pngcairo size 1000,560 font ",11"
set output '$out/block.png'
set title "Random reads over a 1 GiB file (bench/block.sh, medians of $rounds rounds)"
set xlabel 'block size (bytes)'
set ylabel 'MiB/s'
set logscale xy
set grid
set key top left
plot '$out/block.dat' using 1:(\$2==1?\$3:1/0) with linespoints title 'uni direct, depth 1', \
     '' using 1:(\$2==1?\$4:1/0) with linespoints title 'fio direct, depth 1', \
     '' using 1:(\$2==1&&\$6>0?\$6:1/0) with linespoints title 'fio buffered, depth 1', \
     '' using 1:(\$2==32?\$3:1/0) with linespoints title 'uni direct, depth 32', \
     '' using 1:(\$2==32?\$4:1/0) with linespoints title 'fio direct, depth 32', \
     '' using 1:(\$2==32&&\$6>0?\$6:1/0) with linespoints title 'fio buffered, depth 32'
EOF
cat "$out/block.md"
