#!/usr/bin/env bash
# A wrong policy fails at compile time with a readable message: compiles each
# file, expects failure, and expects the message to contain the given text.
#   compile_fail.sh CXX INCLUDE_DIR FILE EXPECTED [FILE EXPECTED]...
set -uo pipefail
cxx=$1 inc=$2
shift 2
while (($#)); do
  file=$1 expected=$2
  shift 2
  if out=$("$cxx" -std=c++20 -fsyntax-only -I"$inc" "$file" 2>&1); then
    echo "FAIL: $file compiled, but must not"; exit 1
  fi
  if ! grep -qF "$expected" <<<"$out"; then
    echo "FAIL: $file: the error does not say '$expected':"; head -20 <<<"$out"; exit 1
  fi
  echo "ok: $(basename "$file") is refused with: $(grep -m1 -F "$expected" <<<"$out" | cut -c1-160)"
done
