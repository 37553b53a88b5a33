#!/usr/bin/env bash
# bench/hostile.sh: the full hostile-input campaign (issue 8), outside CI: builds the
# TAP appliances and the injector in a build directory (default build/debug: the
# assertions stay on), runs tests/hostile/run.sh without --quick (floods of 300,000
# frames or 20 s each, twice, 1,100 idle connections, 600 slowloris connections,
# a peer that never ACKs, and a 31 s wait for the page pool to return to its
# baseline) and writes the table to bench/results/hostile.md.
# Usage: bench/hostile.sh [--build DIR] [--out FILE]. Needs root (exit 77 without).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
build=build/debug out=$root/bench/results/hostile.md
read_flags "[--build DIR] [--out FILE]" "" "build out" "$@"
need_root hostile
cd "$root"
build_targets "$build" debug tcp-echo-tap udp-echo-tap dns-tap www-tap uni_inject
mkdir -p "$(dirname "$out")"
exec timeout 3600 bash tests/hostile/run.sh --inject "$build/tests/hostile/uni_inject" --apps "$build/examples" \
  --site examples/www/site --out "$out"
