#!/usr/bin/env bash
# Installs uni from a build tree into a scratch prefix, then configures, builds and
# runs a separate project that finds it with find_package(uni).
#   consumer.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
test -f "$scratch/prefix/include/uni/core/task.hpp"
test -f "$scratch/prefix/include/uni/posix/clock.hpp"
cmake -S "$src/tests/consumer" -B "$scratch/build" -G Ninja -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
cmake --build "$scratch/build" >/dev/null
"$scratch/build/consumer"
