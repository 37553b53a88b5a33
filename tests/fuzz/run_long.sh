#!/usr/bin/env bash
# Runs every libFuzzer target for longer than CTest does and prints a table.
#   tests/fuzz/run_long.sh SECONDS_PER_TARGET [BUILD_DIR] [TARGET...]
# BUILD_DIR defaults to build/fuzz (cmake --preset fuzz && cmake --build --preset fuzz).
# Each target starts from its checked-in seeds (tests/fuzz/corpus/<target>) and the
# inputs earlier runs found (BUILD_DIR/tests/fuzz/work/<target>/corpus), and adds
# what it finds there. After a crash the target is started again until its time is
# used, so one bug does not hide the next; crashing inputs are kept in
# BUILD_DIR/tests/fuzz/work/<target>/artifacts/. Exits 1 if anything crashed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=${1:?usage: run_long.sh SECONDS_PER_TARGET [BUILD_DIR] [TARGET...]}
build=$(realpath "${2:-$here/../../build/fuzz}")
shift $(($# >= 2 ? 2 : 1))
targets=("$@")
if ((${#targets[@]} == 0)); then
  for f in "$here"/*_fuzz.cpp; do targets+=("$(basename "$f" _fuzz.cpp)"); done
fi

printf '%-10s %12s %10s %8s %8s %s\n' target runs execs/s crashes corpus seconds
total_crashes=0
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/${t}_fuzz"
  [[ -x "$bin" ]] || { echo "$t: $bin not built" >&2; exit 2; }
  work="$build/tests/fuzz/work/$t"
  mkdir -p "$work/corpus" "$work/artifacts"
  log=$(mktemp)
  runs=0 crashes=0 start=$SECONDS
  while ((SECONDS - start < seconds)); do
    left=$((seconds - (SECONDS - start)))
    if "$bin" -max_total_time="$left" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/" "$work/corpus" "$here/corpus/$t" >"$log" 2>&1; then
      status=0
    else
      status=$?
    fi
    n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    runs=$((runs + ${n:-0}))
    if ((status != 0)); then
      crashes=$((crashes + 1))
      grep -m1 -E "invariant broken|ERROR: (AddressSanitizer|libFuzzer|UndefinedBehaviorSanitizer)|runtime error" "$log" |
        sed "s/^/  $t crash: /" >&2 || true
      grep -m1 "Test unit written to" "$log" | sed "s/^.*written to /  input: /" >&2 || true
      ((crashes < 20)) || break
    fi
  done
  elapsed=$((SECONDS - start))
  corpus=$(($(find "$work/corpus" -type f | wc -l) + $(find "$here/corpus/$t" -type f | wc -l)))
  printf '%-10s %12d %10d %8d %8d %d\n' "$t" "$runs" $((runs / (elapsed > 0 ? elapsed : 1))) "$crashes" "$corpus" "$elapsed"
  total_crashes=$((total_crashes + crashes))
  rm -f "$log"
done
((total_crashes == 0))
