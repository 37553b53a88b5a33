#!/usr/bin/env bash
# An image stays under its ceiling: the bytes a Xen image loads (its code up to the
# last function, its read-only data and its data, without the page padding between
# them, so that the figure moves with every change and not by whole pages) are at
# most MAX. The ceilings in tests/xen/CMakeLists.txt sit a little above the sizes
# measured, so that growth fails here and is looked at; lower them when an image
# shrinks. The stripped file's size is printed too.
#   image_size.sh DEBUG_IMAGE STRIPPED_IMAGE MAX
set -euo pipefail
image=$1 stripped=$2 max=$3
text=$(nm -S -t d "$image" | awk '
  $NF == "__text_start" { start = $1 }
  NF == 4 && $3 ~ /^[tTwW]$/ && $1 + $2 > end { end = $1 + $2 }
  END { print end - start }')
data=$(size -A "$image" | awk '$1 == ".rodata" || $1 == ".note.Xen" || $1 == ".data" { s += $2 } END { print s }')
loaded=$((text + data))
echo "$(basename "$stripped"): $loaded bytes loaded (code $text, data $data), ceiling $max;" \
  "the stripped image is $(stat -c %s "$stripped") bytes"
[[ "$loaded" -le "$max" ]] || { echo "FAIL: $(basename "$stripped") is $((loaded - max)) bytes over its ceiling"; exit 1; }
