#!/usr/bin/env bash
# bench/block.sh: random reads over a file of 1 GiB, the paper's Figure 9: uni's
# io_uring disk (bench_block: UringDisk behind a block::request_queue, into I/O
# pages) against fio (io_uring engine) on the same file, with direct I/O and
# with buffered I/O (the page cache dropped before every run), block sizes from
# 4 KiB (512 B and 1 KiB too where the file system takes them directly) to
# 4 MiB, queue depth 1 and 32, in one run. Writes MiB/s, ratios and CPU per
# read to results/block.md and the chart to results/block.png.
#
# Usage: bench/block.sh [--quick] [--file PATH] [--out DIR] [--build DIR]
#   --quick: 4 KiB, 64 KiB, 1 MiB, 4 MiB for 1 s each (about a minute);
#   otherwise 512 B to 4 MiB for 3 s each.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"

quick=0
file=/var/tmp/uni-block-bench.img
out=$root/bench/results
build=build/release
read_flags "[--quick] [--file PATH] [--out DIR] [--build DIR]" "quick" "file out build" "$@"
mode=default
[ "$quick" = 1 ] && mode=quick
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

if [ $mode = quick ]; then
  sizes="4096 65536 1048576 4194304"; secs=1
else
  sizes="4096 16384 65536 262144 1048576 4194304"; secs=3
  for small in 1024 512; do  # where direct I/O takes them
    "$uni" "$file" --bs $small --qd 1 --seconds 0.05 >/dev/null 2>&1 && sizes="$small $sizes"
  done
fi

fio_run() {  # BS QD DIRECT -> "MiB/s cpu_us_per_read"
  fio --name=randread --filename="$file" --rw=randread --bs="$1" --iodepth="$2" --ioengine=io_uring \
    --direct="$3" --time_based --runtime="$secs" --norandommap --randrepeat=0 --output-format=json 2>/dev/null |
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
  "$uni" "$file" --bs "$1" --qd "$2" --seconds "$secs" $flag | awk '{print $2, $6, $14}'
}

data=$out/block.dat
echo "# bs qd uni_direct fio_direct uni_buffered fio_buffered uni_cpu_direct fio_cpu_direct uni_cpu_buf fio_cpu_buf uni_sqes_direct" >"$data"
for qd in 1 32; do
  for bs in $sizes; do
    row="$bs $qd"
    cpus=
    sqes=
    for direct in 1 0; do
      drop; read -r u ucpu usqe < <(uni_run "$bs" "$qd" "$direct")
      [ "$direct" = 1 ] && sqes=$usqe
      drop; read -r f fcpu < <(fio_run "$bs" "$qd" "$direct")
      row="$row $u $f"
      cpus="$cpus $ucpu $fcpu"
      echo "block: bs=$bs qd=$qd direct=$direct uni $u MiB/s ($ucpu us CPU/read), fio $f MiB/s ($fcpu us CPU/read)"
    done
    echo "$row$cpus $sqes" >>"$data"
  done
done

python3 - "$data" "$out/block.md" "$mode" "$can_drop" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if not l.startswith("#")]
def size(b):
    b = int(b)
    return f"{b >> 20} MiB" if b >= 1 << 20 else f"{b >> 10} KiB" if b >= 1024 else f"{b} B"
with open(sys.argv[2], "w") as o:
    o.write("# Block devices: random reads (the paper's Figure 9)\n\n")
    o.write(f"bench/block.sh{' --quick' if sys.argv[3] == 'quick' else ''}: a 1 GiB file, uni's io_uring disk "
            "(UringDisk behind block::request_queue, reads into I/O pages) against fio (io_uring engine), "
            "MiB/s; CPU in microseconds (user + system) per read; the ring entries (SQEs) uni used per "
            "direct read (fio uses one per read). "
            + ("Page cache dropped before every run." if sys.argv[4] == "1" else "NOT root: the page cache was not dropped.")
            + "\n\n")
    o.write("| size | depth | uni direct | fio direct | uni/fio | uni buffered | fio buffered | uni/fio | CPU/read direct uni / fio | buffered uni / fio | SQEs/read |\n")
    o.write("|---|---|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        bs, qd, ud, fd, ub, fb, ucd, fcd, ucb, fcb, sqes = r
        ratio = lambda a, b: f"{float(a) / float(b):.2f}x" if float(b) > 0 else "-"
        o.write(f"| {size(bs)} | {qd} | {ud} | {fd} | {ratio(ud, fd)} | {ub} | {fb} | {ratio(ub, fb)} | "
                f"{ucd} / {fcd} | {ucb} / {fcb} | {sqes} |\n")
    o.write("\nChart: block.png (MiB/s against block size, log scales).\n")
PY

timeout 60 gnuplot <<EOF
set terminal pngcairo size 1000,560 font ",11"
set output '$out/block.png'
set title "Random reads over a 1 GiB file (bench/block.sh)"
set xlabel 'block size (bytes)'
set ylabel 'MiB/s'
set logscale xy
set grid
set key top left
plot '$data' using 1:(\$2==1?\$3:1/0) with linespoints title 'uni direct, depth 1', \
     '' using 1:(\$2==1?\$4:1/0) with linespoints title 'fio direct, depth 1', \
     '' using 1:(\$2==1?\$6:1/0) with linespoints title 'fio buffered, depth 1', \
     '' using 1:(\$2==32?\$3:1/0) with linespoints title 'uni direct, depth 32', \
     '' using 1:(\$2==32?\$4:1/0) with linespoints title 'fio direct, depth 32', \
     '' using 1:(\$2==32?\$6:1/0) with linespoints title 'fio buffered, depth 32'
EOF
cat "$out/block.md"
