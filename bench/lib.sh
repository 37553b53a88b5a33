# bench/lib.sh: what the bench scripts all do, done one way. Sourced, not run:
#   root=$(cd "$(dirname "$0")/.." && pwd); . "$root/bench/lib.sh"

# need_root NAME: the benchmarks on namespaces and TAP devices are skipped (77) without root.
need_root() {
  [ "$(id -u)" = 0 ] || { echo "SKIP: bench/$1.sh needs root (network namespaces, a TAP device)" >&2; exit 77; }
}

# need_tools NAME TOOL...: stops, naming the first tool that is missing.
need_tools() {
  local name=$1 tool
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "bench/$name.sh: $tool is missing (./scripts/setup.sh installs it)" >&2; exit 1; }
  done
}

# results_dir DIR: creates DIR and prints its absolute path.
results_dir() { mkdir -p "$1" && (cd "$1" && pwd); }

# build_targets DIR PRESET TARGET...: configures DIR (relative to the source tree)
# with PRESET if it is not yet, then builds the targets (incrementally), in bounded time.
build_targets() {
  local dir=$1 preset=$2
  shift 2
  (
    cd "$root"
    [ -f "$dir/build.ninja" ] || timeout 300 cmake --preset "$preset" -B "$dir" >/dev/null
    timeout 1800 cmake --build "$dir" -j2 --target "$@" >/dev/null
  )
}

# cdf_plot PNG TITLE XLABEL PLOT...: a cumulative distribution as the paper draws
# them (log x axis: tails span decades), one gnuplot plot clause per curve.
cdf_plot() {
  local png=$1 title=$2 xlabel=$3
  shift 3
  [ $# -gt 0 ] || return 0
  timeout 60 gnuplot <<EOF
set terminal pngcairo size 900,560 font ",11"
set output '$png'
set title "$title"
set xlabel '$xlabel'
set ylabel 'cumulative frequency (%)'
set logscale x
set grid
set key bottom right
set yrange [0:100]
plot $(IFS=,; echo "$*")
EOF
}
