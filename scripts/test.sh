#!/usr/bin/env bash
# Sets up the machine, builds every configuration the suite covers and runs every
# test: the debug build, then the whole suite again under ASan + UBSan, then the
# Xen guest images (freestanding build; booted by QEMU, and by Xen under QEMU), then
# the libFuzzer targets (clang), each for a few seconds over its seed corpus, then
# every target built in Release (-O3: what a user's plain configure builds, where
# GCC's flow-sensitive warnings differ), with only its unit tests run.
#   scripts/test.sh            everything
#   scripts/test.sh debug      one preset only
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
presets=("${@:-debug asan xen fuzz release}")
read -r -a presets <<<"${presets[*]}"
jobs=$(nproc)
for p in "${presets[@]}"; do
  echo "== $p: configure and build"
  start=$SECONDS
  cmake --preset "$p" >/dev/null
  cmake --build --preset "$p" -j "$jobs"
  # (CI's budget is mostly compile time; ctest prints the tests' own total.)
  echo "== $p: test (configured and built in $((SECONDS - start)) s)"
  if [[ $p == release ]]; then
    # The debug and asan runs cover the integration tests; here the build is the check.
    ctest --preset "$p" -j "$jobs" -L unit
  else
    ctest --preset "$p" -j "$jobs"
  fi
done
