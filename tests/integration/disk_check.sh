#!/usr/bin/env bash
# The disk-check appliance (disk_check.cpp) on the POSIX target: what start of
# day says about bad disks, then a pattern written, read back, and checked by
# the host (python3) byte for byte; then checked again by a second run.
set -euo pipefail
app=$1
work=$(mktemp -d /var/tmp/uni-diskcheck-XXXXXX)
trap 'rm -rf "$work"' EXIT

# expect STATUS PATTERN ARGS...: the appliance ends with STATUS and says PATTERN.
expect() {
  local want=$1 pattern=$2 got=0
  shift 2
  "$@" >"$work/out" 2>&1 || got=$?
  if [ "$got" != "$want" ] || ! grep -q -- "$pattern" "$work/out"; then
    echo "FAIL: $* -> status $got (want $want), output:"; cat "$work/out"; exit 1
  fi
  echo "ok: $(grep -m1 -- "$pattern" "$work/out")"
}

truncate -s 1M "$work/disk.img"
truncate -s 1000 "$work/odd.img"
expect 2 "has 1 block device: give --disk PATH" "$app"
expect 2 "has 1 block device: give --disk PATH for it (got 2)" "$app" --disk "$work/disk.img" --disk "$work/disk.img"
expect 1 "cannot open $work/missing.img: No such file or directory" "$app" --disk "$work/missing.img"
expect 1 "is not a whole number of 512-byte sectors" "$app" --disk "$work/odd.img"
expect 1 "is not a regular file or a block device" "$app" --disk "$work"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  chmod 600 "$work/disk.img"
  chmod 755 "$work"
  expect 1 "cannot open $work/disk.img: Permission denied" \
    setpriv --reuid=65534 --regid=65534 --clear-groups "$app" --disk "$work/disk.img"
  # ramfs takes no O_DIRECT: the message says so and names --disk-cache, which works.
  if unshare -m true 2>/dev/null; then
    expect 1 "refuses direct I/O (O_DIRECT); run with --disk-cache" \
      unshare -m sh -c "mount -t ramfs ramfs '$work' && truncate -s 64K '$work/r.img' && exec '$app' --disk '$work/r.img'"
    expect 0 "written and read back: all match" \
      unshare -m sh -c "mount -t ramfs ramfs '$work' && truncate -s 64K '$work/r.img' && exec '$app' --disk '$work/r.img' --disk-cache"
  fi
else
  echo "(not root: the permission and O_DIRECT cases need root)"
fi

expect 0 "2048 sectors of 512 bytes written and read back: all match the pattern (seed 7)" \
  "$app" --disk "$work/disk.img" --seed 7
python3 - "$work/disk.img" 7 <<'PY'
import sys
data, seed = open(sys.argv[1], 'rb').read(), int(sys.argv[2])
for s in range(len(data) // 512):
    want = bytes((s * 31 + i + seed) & 255 for i in range(512))
    want = s.to_bytes(8, 'little') + want[8:]
    if data[s * 512:(s + 1) * 512] != want:
        sys.exit(f"FAIL: sector {s} of the image is not the pattern")
print("ok: the host reads the pattern in every sector")
PY
expect 0 "read: all match the pattern" "$app" --disk "$work/disk.img" --seed 7 --check read
expect 1 "differs from the pattern" "$app" --disk "$work/disk.img" --seed 8 --check read
chmod 444 "$work/disk.img"
expect 0 "read: all match the pattern" "$app" --disk "$work/disk.img" --seed 7 --check read --disk-cache
echo PASS
