#!/usr/bin/env bash
# Sets up the machine, builds every configuration the suite covers and runs every
# test: the whole suite under ASan + UBSan (the debug build with sanitizers: every
# test the debug preset runs, so CI does not build and run it a second time without
# them; `scripts/test.sh debug` does), then the Xen guest images (freestanding build; booted by QEMU, and by Xen under QEMU), then
# the libFuzzer targets (clang), each for a few seconds over its seed corpus, then
# every target built in Release (-O3: what a user's plain configure builds, where
# GCC's flow-sensitive warnings differ), with only its unit tests run, then the Xen
# images again by clang with full LTO (the xen-clang preset): its quick checks
# (sizes, xl configurations, tiers 1 and 2) and the two sized images on Xen (tier 3).
#   scripts/test.sh            everything CI runs: asan xen fuzz release xen-clang
#   scripts/test.sh debug      one preset only (the development loop's)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
presets=("${@:-asan xen fuzz release xen-clang}")
read -r -a presets <<<"${presets[*]}"
jobs=$(nproc)
for p in "${presets[@]}"; do
  echo "== $p: configure and build"
  start=$SECONDS
  # Release: the examples' TAP appliances are left out (examples/CMakeLists.txt
  # says what still covers them); nothing here runs them.
  extra=()
  [[ $p == release ]] && extra=(-DUNI_EXAMPLES_TAP_IN_ALL=OFF)
  cmake --preset "$p" "${extra[@]}" >/dev/null
  cmake --build --preset "$p" -j "$jobs"
  # (CI's budget is mostly compile time; ctest prints the tests' own total.)
  echo "== $p: test (configured and built in $((SECONDS - start)) s)"
  if [[ $p == release ]]; then
    # The asan run covers the integration tests; here the build is the check.
    ctest --preset "$p" -j "$jobs" -L unit
  elif [[ $p == xen-clang ]]; then
    # The xen preset's run boots every image on Xen; the same code by clang needs
    # its quick checks and the two images whose sizes are goals.
    ctest --preset "$p" -j "$jobs" -LE xen-tier3
    ctest --preset "$p" -j "$jobs" -R "tier 3: (dns answers|www serves)"
  else
    ctest --preset "$p" -j "$jobs"
  fi
done
